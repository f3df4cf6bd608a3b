# Shared helpers for the rules about the change a merge request makes (`scope: change`):
# the operation, the object at base (`old`) and at head (`new`), whether a deletion reaches
# the cluster (`kept`: a prune setting keeps it), value comparison with paths into the head
# object, Kubernetes quantities, CRD schema walks and the texts messages share.
#
# Reads only `input.review` and `input.counterpart`: on an object-scope input every rule
# here is undefined, so the library is safe to load for every rule.
package kubegate.lib.change

import rego.v1

# --- The change under review -------------------------------------------------------------

# "CREATE", "UPDATE" or "DELETE".
op := o if {
	o := input.review.operation
	is_string(o)
}

# The object at the merge request's base (undefined on CREATE).
old := o if {
	o := input.review.oldObject
	is_object(o)
}

# The object at head (undefined on DELETE).
new := o if {
	o := input.review.object
	is_object(o)
}

# The kind under review, e.g. "StatefulSet".
kind := k if {
	k := input.review.kind.kind
	is_string(k)
}

# The object's name, or "(unnamed)".
name := n if {
	n := object.get(input.review, "name", null)
	is_string(n)
} else := "(unnamed)"

# The object as messages name it: "StatefulSet `db`".
subject := sprintf("%s `%s`", [kind, name])

# The counterpart the engine paired with this DELETE or CREATE (undefined without one).
counterpart := c if {
	c := input.counterpart
	is_object(c)
}

# "renamed", "moved" or "kind" (undefined without a counterpart).
how := h if {
	h := counterpart.how
	is_string(h)
}

# The object is deleted (at base, not at head).
deleted if {
	op == "DELETE"
	is_object(old)
}

# The object is created (at head, not at base).
created if {
	op == "CREATE"
	is_object(new)
}

# The object is changed (at base and at head, with another content).
updated if {
	op == "UPDATE"
	is_object(old)
	is_object(new)
}

# A deletion that reaches the cluster: no prune setting on the base object keeps it.
destroyed if {
	deleted
	count(kept_by) == 0
}

# --- Prune settings ----------------------------------------------------------------------

flux_prune := "kustomize.toolkit.fluxcd.io/prune"

argo_sync_options := "argocd.argoproj.io/sync-options"

helm_resource_policy := "helm.sh/resource-policy"

# The annotations and labels of the base object ({} when it has none).
old_annotations := strings_of(at(old, ["metadata", "annotations"], {}))

old_labels := strings_of(at(old, ["metadata", "labels"], {}))

strings_of(m) := m if is_object(m)

strings_of(m) := {} if not is_object(m)

# Every setting of the base object that keeps it in the cluster when it leaves the repository.
kept_by contains sprintf("Flux's `%s: disabled` annotation", [flux_prune]) if {
	object.get(old_annotations, flux_prune, "") == "disabled"
}

kept_by contains sprintf("Flux's `%s: disabled` label", [flux_prune]) if {
	object.get(old_labels, flux_prune, "") == "disabled"
}

kept_by contains sprintf("Argo CD's `%s: Prune=false`", [argo_sync_options]) if {
	opts := object.get(old_annotations, argo_sync_options, "")
	is_string(opts)
	items := {trim_space(item) | some item in split(opts, ",")}
	"Prune=false" in items
}

kept_by contains sprintf("Helm's `%s: keep`", [helm_resource_policy]) if {
	p := object.get(old_annotations, helm_resource_policy, "")
	is_string(p)
	lower(trim_space(p)) == "keep"
}

# The settings that keep the deleted object in the cluster, as one text (undefined when none
# does): "Argo CD's `argocd.argoproj.io/sync-options: Prune=false`".
kept := concat(" and ", sort(kept_by)) if {
	deleted
	count(kept_by) > 0
}

# --- Values and paths --------------------------------------------------------------------

# Stands for a field an object does not have (a null counts as absent).
absent := {"kubegate.absent": true}

# The value at `path` (keys and indices) in `o`, or `dflt` when `o` has none there.
at(o, path, dflt) := v if {
	is_object(o)
	x := object.get(o, path, dflt)
	v := null_to(x, dflt)
} else := dflt

null_to(x, dflt) := dflt if x == null

null_to(x, _) := x if x != null

# The value at `path` in the base and the head object, `absent` when missing.
old_at(path) := at(old, path, absent)

new_at(path) := at(new, path, absent)

# The field at `path` differs between base and head (absent on one side counts).
differs(path) if {
	updated
	old_at(path) != new_at(path)
}

# The same with defaults for an absent field: `differs_or(["spec", "serviceName"], "")`.
differs_or(path, dflt) if {
	updated
	at(old, path, dflt) != at(new, path, dflt)
}

# The field at `path` is set on both sides and differs.
differs_both(path) if {
	updated
	o := old_at(path)
	n := new_at(path)
	o != absent
	n != absent
	o != n
}

# The value at `path` in `v`, an object or an array ({} or [] at the root works too).
within(v, path, dflt) := at({"v": v}, array.concat(["v"], path), dflt)

# Where, under `path`, the head value first differs from the base one (in sorted path
# order), as a path from the root of the head object: a scalar that changed or was added, or
# the nearest existing parent of one that was removed. `path` itself when nothing more
# precise is found (scalars, a side absent, only empty containers added). Points a finding
# about a large field (a pod template) at the line that changed.
first_change(path) := head_path(array.concat(path, sort(changes_under(path))[0])) if {
	count(changes_under(path)) > 0
} else := head_path(path)

changes_under(path) := added | removed if {
	o := old_at(path)
	n := new_at(path)
	o != absent
	n != absent
	added := {q |
		walk(n, [q, v])
		not is_object(v)
		not is_array(v)
		within(o, q, absent) != v
	}
	removed := {nearest_within(n, q) |
		walk(o, [q, v])
		not is_object(v)
		not is_array(v)
		within(n, q, absent) == absent
	}
} else := set()

# " (at `spec.template.spec.containers[0].image`)" when `first_change(path)` is more
# precise than `path`, else "".
changed_where(path) := sprintf(" (at `%s`)", [field(p)]) if {
	p := first_change(path)
	count(p) > count(path)
} else := ""

# The longest prefix of `path` that exists in `v` (an object or an array).
nearest_within(v, path) := array.slice(path, 0, max(lengths)) if {
	lengths := {n |
		some n in numbers.range(0, count(path))
		within(v, array.slice(path, 0, n), absent) != absent
	}
}

# `path` in `o` if it is there, else its longest prefix that is (the nearest existing parent).
nearest(o, path) := array.slice(path, 0, max(lengths)) if {
	lengths := {n |
		some n in numbers.range(0, count(path))
		at(o, array.slice(path, 0, n), absent) != absent
	}
}

# `path` in the head object, or its nearest existing parent there.
head_path(path) := nearest(new, path)

# A field path for messages: ["spec", "versions", 0, "served"] -> `spec.versions[0].served`.
field(path) := trim_prefix(concat("", [segment(s) | some s in path]), ".")

segment(s) := sprintf(".%s", [s]) if is_string(s)

segment(s) := sprintf("[%v]", [s]) if not is_string(s)

# A value for messages: strings as they are, `unset` for an absent field, mappings and lists
# as YAML flow text with sorted keys ({matchLabels: {app: web}}), two levels deep.
show(v) := "unset" if v == absent

show(v) := v if {
	v != absent
	is_string(v)
}

show(v) := flow1(v) if {
	v != absent
	not is_string(v)
}

flow1(v) := sprintf("{%s}", [concat(", ", [sprintf("%s: %s", [k, flow2(v[k])]) | some k in sort(object.keys(v))])]) if is_object(v)

flow1(v) := sprintf("[%s]", [concat(", ", [flow2(x) | some x in v])]) if is_array(v)

flow1(v) := flow2(v) if {
	not is_object(v)
	not is_array(v)
}

flow2(v) := sprintf("{%s}", [concat(", ", [sprintf("%s: %s", [k, flat(v[k])]) | some k in sort(object.keys(v))])]) if is_object(v)

flow2(v) := sprintf("[%s]", [concat(", ", [flat(x) | some x in v])]) if is_array(v)

flow2(v) := flat(v) if {
	not is_object(v)
	not is_array(v)
}

flat(v) := v if is_string(v)

flat(v) := json.marshal(v) if not is_string(v)

# "from <old> to <new>" for the field at `path`.
from_to(path) := sprintf("from %s to %s", [show(old_at(path)), show(new_at(path))])

# --- Messages ------------------------------------------------------------------------------

ns_text(ns) := sprintf("namespace `%s`", [ns]) if is_string(ns)

ns_text(ns) := "no namespace" if not is_string(ns)

# The counterpart for messages: on a DELETE the object created in its place, on a CREATE
# the object deleted in its place. Undefined without a counterpart.
counterpart_text := sprintf("renamed to `%s`", [counterpart.name]) if {
	deleted
	how == "renamed"
}

counterpart_text := sprintf("moved to %s", [ns_text(object.get(counterpart, "namespace", null))]) if {
	deleted
	how == "moved"
}

counterpart_text := sprintf("replaced by a %s (%s)", [counterpart.kind, counterpart.apiVersion]) if {
	deleted
	how == "kind"
}

counterpart_text := sprintf("renamed from `%s`", [counterpart.name]) if {
	created
	how == "renamed"
}

counterpart_text := sprintf("moved from %s", [ns_text(object.get(counterpart, "namespace", null))]) if {
	created
	how == "moved"
}

counterpart_text := sprintf("replacing a %s (%s)", [counterpart.kind, counterpart.apiVersion]) if {
	created
	how == "kind"
}

# How a deleted object goes, after its subject: " is deleted", or with a counterpart
# " is renamed to `data-v2`, so the old one is deleted".
deleted_how := sprintf(" is %s, so the old one is deleted", [counterpart_text]) if {
	deleted
	count({1 | counterpart_text}) > 0
} else := " is deleted"

# The message of a change the API server rejects: the sync fails, nothing changes in the
# cluster, a revert restores the sync.
rejected(what, consequence) := sprintf(
	"%s: the sync fails after the merge: %s; the object must be deleted and recreated (%s); reverting the merge restores the sync",
	[subject, what, consequence],
)

# "`spec.selector` is immutable (from X to Y)".
immutable(path) := sprintf("`%s` is immutable (%s)", [field(path), from_to(path)])

# --- Quantities ----------------------------------------------------------------------------

quantity_pattern := `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$`

# A Kubernetes quantity as a number ("10Gi", "500Mi", "1G", "1.5Gi", "1e3", "100m", 5);
# undefined when it is not one.
quantity(q) := q if is_number(q)

quantity(q) := units.parse(replace(trim_prefix(q, "+"), "u", "μ")) if {
	is_string(q)
	regex.match(quantity_pattern, q)
}

# --- CustomResourceDefinition versions and schemas -----------------------------------------

# The versions of a CRD (spec.versions, [] when it has none).
versions(o) := vs if {
	vs := at(o, ["spec", "versions"], [])
	is_array(vs)
} else := []

# Whether version `v` of a CRD is served.
served(v) if object.get(v, "served", false) == true

# The index in `o`'s spec.versions of the version named `n` (undefined when absent).
version_index(o, n) := i if {
	some i, v in versions(o)
	is_object(v)
	v.name == n
}

# The schema of version `v` ({} without one).
schema_of(v) := at(v, ["schema", "openAPIV3Schema"], {})

# A schema path as tokens: "P" properties, "I" items, "A" additionalProperties, "N" other.
token(s) := "P" if s == "properties"

token(s) := "I" if s == "items"

token(s) := "A" if s == "additionalProperties"

token(s) := "N" if not s in {"properties", "items", "additionalProperties"}

tokens(path) := concat("", [token(s) | some s in path])

# Schema walks are bounded: 64 levels of schema.
max_schema_path := 128

# `path` (from the root schema) leads to a schema node.
schema_node_path(path) if {
	count(path) <= max_schema_path
	regex.match(`^(P.|I|A)*$`, tokens(path))
}

# `path` leads to a property's schema (its last key is the property's name).
property_path(path) if {
	count(path) <= max_schema_path
	regex.match(`^(P.|I|A)*P.$`, tokens(path))
}

# The field a schema path stands for: ["properties", "spec", "properties", "x"] -> `spec.x`,
# `items` as `[*]`, `additionalProperties` as `*`.
schema_field(path) := trim_prefix(concat("", [schema_segment(path, i) | some i in numbers.range(0, count(path) - 1)]), ".") if {
	count(path) > 0
} else := "(root)"

schema_segment(path, i) := "" if keyword_at(path, i, "P")

schema_segment(path, i) := "[*]" if keyword_at(path, i, "I")

schema_segment(path, i) := ".*" if keyword_at(path, i, "A")

schema_segment(path, i) := sprintf(".%v", [path[i]]) if not keyword_position(path, i)

# Position `i` of a schema path is the keyword `t` (not a property name).
keyword_at(path, i, t) if {
	regex.match(`^(P.|I|A)*$`, tokens(array.slice(path, 0, i)))
	token(path[i]) == t
}

# Position `i` of a schema path is a keyword (not a property name).
keyword_position(path, i) if {
	regex.match(`^(P.|I|A)*$`, tokens(array.slice(path, 0, i)))
	token(path[i]) in {"P", "I", "A"}
}
