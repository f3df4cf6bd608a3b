# METADATA
# title: Role or ClusterRole grants `bind` on roles
# description: |
#   RBAC stops a subject from creating a RoleBinding or ClusterRoleBinding to a role with
#   permissions it does not hold itself, unless it has the `bind` verb on that role. With
#   `bind` on `roles` or `clusterroles` (and the right to create bindings) a subject can grant
#   itself or anyone any role, `cluster-admin` included. A `*` verb, a `*` resource or `*` API
#   group counts. A rule limited with `resourceNames` is the documented way to let a subject
#   hand out specific roles, so it is only flagged when the names include `cluster-admin`.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-binding-creation-or-update
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#bind-verb
# custom:
#   id: KG206
#   name: bind-verb
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `bind` (and `*`) from the verbs on `roles` and `clusterroles`, so the subject
#     can only bind roles whose permissions it holds itself. If it must hand out roles it does
#     not hold, list them in `resourceNames`.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_157, match: partial, note: "checkov looks for bind on rolebindings and clusterrolebindings, kubegate on roles and clusterroles; both flag *"}
#     trivy:
#       - {id: KSV050, match: partial, note: "trivy flags escalate, bind, impersonate or * on roles and rolebindings in one check"}
#       - {id: KSV051, match: partial, note: "trivy flags only bind with resourceNames * together with create on rolebindings"}
#       - {id: KSV052, match: partial, note: "trivy flags only bind with resourceNames * together with create on clusterrolebindings"}
package kubegate.rules.rbac.bind_verb

import rego.v1

import data.kubegate.lib.rbac

resource_forms := rbac.resource_forms({"roles", "clusterroles"})

verb_forms := {"*", "bind"}

violation contains v if {
	rbac.may_grant({"bind"}, {"roles", "clusterroles"})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	unbounded(x.rule)
	rbac.has_group(x.rule, data.kubegate.lib.rbac.rbac_group)
	count(rbac.resource_items(x.rule, {"roles", "clusterroles"})) > 0
	verbs := rbac.verb_items(x.rule, {"bind"})
	count(verbs) > 0
	j := rbac.pick(x.rule, "verbs", verbs)
	v := {
		"msg": sprintf("%s grants %s on %s%s: its subjects can grant roles with permissions they do not hold", [
			data.kubegate.lib.rbac.display,
			verb_text(rbac.list(x.rule, "verbs")[j]),
			rbac.resources_text(x.rule, {"roles", "clusterroles"}),
			names(x.rule),
		]),
		"path": ["rules", x.i, "verbs", j],
	}
}

unbounded(r) if not rbac.named(r)

unbounded(r) if "cluster-admin" in rbac.list(r, "resourceNames")

names(r) := sprintf(" named %s", [concat(", ", rbac.texts(r, "resourceNames"))]) if rbac.named(r)

names(r) := "" if not rbac.named(r)

verb_text(verb) := "every verb (`*`), `bind` included," if verb == "*"

verb_text(verb) := "`bind`" if verb != "*"
