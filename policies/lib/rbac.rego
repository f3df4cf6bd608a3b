# RBAC helpers: which PolicyRules of a Role/ClusterRole grant a verb on a resource, matched the
# way the Kubernetes RBAC authorizer matches them (k8s.io/kubernetes
# pkg/apis/rbac/v1/evaluation_helpers.go):
#
# - a verb item grants a verb when it is equal to it or is `*`;
# - an apiGroups item grants a group when it is equal to it or is `*` (`""` is the core group);
# - a resources item grants a resource when it is `*` (every resource and subresource), equal to
#   it (`pods/exec`), or `*/<sub>` for a subresource `<sub>` of any resource (`*/exec`).
#   `pods/*` is NOT a wildcard: it only matches a subresource literally named `*`.
#
# Rules with `nonResourceURLs` and no `resources` grant no resource and are not resource rules.
package kubegate.lib.rbac

import rego.v1

rbac_group := "rbac.authorization.k8s.io"

# The API group of the input object ("" for the core group).
api_group := g if {
	is_string(input.apiVersion)
	parts := split(input.apiVersion, "/")
	count(parts) == 2
	g := parts[0]
} else := ""

is_role if {
	input.kind in {"Role", "ClusterRole"}
	api_group == rbac_group
}

is_cluster_role if {
	input.kind == "ClusterRole"
	api_group == rbac_group
}

is_binding if {
	input.kind in {"RoleBinding", "ClusterRoleBinding"}
	api_group == rbac_group
}

# The object's name, for messages: `metadata.name`, else `metadata.generateName` and `…`.
name := n if {
	n := input.metadata.name
	is_string(n)
} else := sprintf("%s…", [n]) if {
	n := input.metadata.generateName
	is_string(n)
} else := "?"

# The object's namespace, or "".
namespace := ns if {
	ns := input.metadata.namespace
	is_string(ns)
} else := ""

# "ClusterRole `ci`", for messages.
display := sprintf("%s `%s`", [input.kind, name])

# x[key] when it is an array, else [] (absent, null or malformed lists grant nothing).
list(x, key) := v if {
	v := x[key]
	is_array(v)
} else := []

# Every PolicyRule of a Role or ClusterRole: {"i": index, "rule": rule}. An aggregated
# ClusterRole may have no `rules` at all (or `rules: null`): it yields nothing.
rules contains {"i": i, "rule": r} if {
	is_role
	some i, r in list(input, "rules")
	is_object(r)
}

# The PolicyRules that grant access to resources (not only to nonResourceURLs).
resource_rules contains x if {
	some x in rules
	count(list(x.rule, "resources")) > 0
}

# Every verbs, resources and apiGroups item of the role's rules, gathered once per object:
# a rule first asks `may_grant` (or looks for `*` here) and so skips at once the roles, most
# of them, whose rules name nothing it looks for. Only a shortcut: each rule's own test
# decides, rule by rule.
all_verbs := {v | some x in rules; some v in list(x.rule, "verbs")}

all_resources := {r | some x in rules; some r in list(x.rule, "resources")}

all_groups := {g | some x in rules; some g in list(x.rule, "apiGroups")}

# Some rule of the role may grant one of `verbs` on one of `resources` (a resources item
# that is `*`, the resource, or `*/<sub>` for a subresource, as `grants_resource` matches).
may_grant(verbs, resources) if {
	count(all_resources & resource_forms(resources)) > 0
	count(all_verbs & ({"*"} | verbs)) > 0
}

# The verbs, resources and apiGroups items of each resource rule as sets, by the rule's
# index, built once per object for the rules that test it against many grants.
item_sets[i] := {
	"groups": {g | some g in list(x.rule, "apiGroups")},
	"verbs": {v | some v in list(x.rule, "verbs")},
	"resources": {r | some r in list(x.rule, "resources")},
} if {
	some x in resource_rules
	i := x.i
}

# The resources items that grant one of `wanted`.
resource_forms(wanted) := ({"*"} | wanted) | {concat("", ["*/", substring(w, indexof(w, "/") + 1, -1)]) |
	some w in wanted
	contains(w, "/")
}

# True when the rule is limited to named objects (`resourceNames` not empty).
named(r) if count(list(r, "resourceNames")) > 0

# --- verbs ---

# A verbs item grants one of the verbs of the set `wanted`.
grants_verb(item, wanted) if item == "*"

grants_verb(item, wanted) if item in wanted

# Indices of the verbs items of rule r that grant one of `wanted`.
verb_items(r, wanted) := {j | some j, v in list(r, "verbs"); grants_verb(v, wanted)}

has_wildcard_verb(r) if "*" in list(r, "verbs")

# "get, list", or "every verb (`*`)" when the rule has `*`.
verbs_text(r, wanted) := "every verb (`*`)" if {
	has_wildcard_verb(r)
} else := concat(", ", {v | some v in wanted; v in list(r, "verbs")})

# --- API groups ---

# Rule r covers API group g.
has_group(r, g) if {
	some item in list(r, "apiGroups")
	item in {"*", g}
}

# --- resources ---

# A resources item grants the resource `want` ("secrets", "pods/exec").
grants_resource(item, want) if item == "*"

grants_resource(item, want) if item == want

grants_resource(item, want) if {
	contains(want, "/")
	sub := substring(want, indexof(want, "/") + 1, -1)
	item == concat("", ["*/", sub])
}

# Indices of the resources items of rule r that grant one of the resources of `wanted`.
resource_items(r, wanted) := {j |
	some j, item in list(r, "resources")
	some want in wanted
	grants_resource(item, want)
}

# The index among `idx` of the rule's `key` ("verbs", "resources") item to point a finding at:
# the first one naming a verb or resource explicitly, else the first `*`.
pick(r, key, idx) := min(explicit) if {
	explicit := {j | some j in idx; list(r, key)[j] != "*"}
	count(explicit) > 0
} else := min(idx)

# The resources of `wanted` rule r grants, for messages: "secrets", or "every resource (`*`)".
resources_text(r, wanted) := "every resource (`*`)" if {
	"*" in list(r, "resources")
} else := concat(", ", {item | some item in list(r, "resources"); some want in wanted; grants_resource(item, want)})

# "the core API group", "API group apps", "API groups core, apps", "every API group", for messages.
groups_text(r) := "every API group" if {
	"*" in list(r, "apiGroups")
} else := "the core API group" if {
	texts(r, "apiGroups") == [""]
} else := sprintf("API group %s", [concat(", ", {group_name(g) | some g in texts(r, "apiGroups")})]) if {
	count({g | some g in texts(r, "apiGroups")}) == 1
} else := sprintf("API groups %s", [concat(", ", {group_name(g) | some g in texts(r, "apiGroups")})])

group_name(g) := "core" if g == ""

group_name(g) := g if g != ""

# The string items of x[key] (for messages: concat fails on anything else).
texts(x, key) := [s | some s in list(x, key); is_string(s)]

# --- bindings ---

# Every subject of a RoleBinding or ClusterRoleBinding: {"i": index, "s": subject}.
subjects contains {"i": i, "s": s} if {
	is_binding
	some i, s in list(input, "subjects")
	is_object(s)
}

# "ClusterRole `view`" for the roleRef of a binding.
role_ref_text := sprintf("%s `%s`", [object.get(input.roleRef, "kind", "?"), object.get(input.roleRef, "name", "?")]) if {
	is_object(input.roleRef)
} else := "its role"

# "ServiceAccount `ns/name`, Group `ops`" for the subjects of a binding.
subjects_text := concat(", ", [subject_text(x.s) | some x in subjects]) if {
	count(subjects) > 0
} else := "no subjects"

subject_text(s) := sprintf("ServiceAccount `%s/%s`", [s.namespace, s.name]) if {
	s.kind == "ServiceAccount"
	is_string(s.namespace)
	is_string(s.name)
} else := sprintf("%s `%s`", [object.get(s, "kind", "?"), object.get(s, "name", "?")])
