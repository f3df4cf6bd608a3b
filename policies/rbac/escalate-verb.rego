# METADATA
# title: Role or ClusterRole grants `escalate` on roles
# description: |
#   RBAC stops a subject from creating or updating a Role or ClusterRole with permissions it
#   does not hold itself, unless it has the `escalate` verb on `roles` or `clusterroles`. With
#   it, the subject can write any permission into a role it can edit, up to cluster-admin, and
#   use it through any binding that already references that role. A `*` verb, a `*` resource
#   or `*` API group counts. `resourceNames` does not make it safe (a named role can still be
#   given any permission), so it is flagged either way.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-creation-or-update
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#escalate-verb
# custom:
#   id: KG205
#   name: escalate-verb
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `escalate` (and `*`) from the verbs on `roles` and `clusterroles`. A subject that
#     manages roles needs `create`, `update` and `patch`; RBAC then lets it grant only the
#     permissions it holds itself.
#   equivalents:
#     checkov: [CKV_K8S_158]
#     trivy:
#       - {id: KSV050, match: partial, note: "trivy flags escalate, bind, impersonate or * on roles and rolebindings in one check"}
package kubegate.rules.rbac.escalate_verb

import rego.v1

import data.kubegate.lib.rbac

resource_forms := rbac.resource_forms({"roles", "clusterroles"})

verb_forms := {"*", "escalate"}

violation contains v if {
	rbac.may_grant({"escalate"}, {"roles", "clusterroles"})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	rbac.has_group(x.rule, data.kubegate.lib.rbac.rbac_group)
	count(rbac.resource_items(x.rule, {"roles", "clusterroles"})) > 0
	verbs := rbac.verb_items(x.rule, {"escalate"})
	count(verbs) > 0
	j := rbac.pick(x.rule, "verbs", verbs)
	v := {
		"msg": sprintf("%s grants %s on %s%s: its subjects can write roles with permissions they do not hold", [
			data.kubegate.lib.rbac.display,
			verb_text(rbac.list(x.rule, "verbs")[j]),
			rbac.resources_text(x.rule, {"roles", "clusterroles"}),
			names(x.rule),
		]),
		"path": ["rules", x.i, "verbs", j],
	}
}

verb_text(verb) := "every verb (`*`), `escalate` included," if verb == "*"

verb_text(verb) := "`escalate`" if verb != "*"

names(r) := sprintf(" named %s", [concat(", ", rbac.texts(r, "resourceNames"))]) if rbac.named(r)

names(r) := "" if not rbac.named(r)
