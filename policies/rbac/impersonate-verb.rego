# METADATA
# title: Role or ClusterRole grants `impersonate` on users, groups or service accounts
# description: |
#   `impersonate` lets a subject send requests as another user, group or service account
#   (`kubectl --as`, `--as-group`). Without `resourceNames` that includes the group
#   `system:masters`, which bypasses RBAC entirely, and every service account: it is
#   cluster-admin with extra steps. A `*` verb, a `*` resource or `*` API group counts. A rule
#   limited with `resourceNames` is flagged only when it names `system:masters`; in a Role,
#   only service accounts count (users and groups are not namespaced, so a Role cannot grant
#   impersonating them). `uids` and `userextras` are not flagged: they only add attributes to
#   an identity the subject must already be allowed to impersonate.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#impersonate-verb
# custom:
#   id: KG207
#   name: impersonate-verb
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `impersonate`, or limit it with `resourceNames` to the identities the subject
#     needs to act as (never `system:masters`).
#   equivalents:
#     checkov:
#       - {id: CKV2_K8S_3, match: partial, note: "checkov reports the binding that grants it to a ServiceAccount or Node; kubegate the role"}
#     trivy:
#       - {id: KSV043, match: partial, note: "trivy flags only impersonate on groups with apiGroups *"}
#       - {id: KSV050, match: partial, note: "trivy flags escalate, bind, impersonate or * on roles and rolebindings in one check"}
package kubegate.rules.rbac.impersonate_verb

import rego.v1

import data.kubegate.lib.rbac

resource_forms := rbac.resource_forms(targets)

violation contains v if {
	rbac.may_grant({"impersonate"}, {"users", "groups", "serviceaccounts"})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & {"*", "impersonate"}) > 0
	unbounded(x.rule)
	rbac.has_group(x.rule, "")
	count(rbac.resource_items(x.rule, targets)) > 0
	verbs := rbac.verb_items(x.rule, {"impersonate"})
	count(verbs) > 0
	j := rbac.pick(x.rule, "verbs", verbs)
	v := {
		"msg": sprintf("%s lets its subjects impersonate %s%s", [
			data.kubegate.lib.rbac.display,
			who(x.rule),
			names(x.rule),
		]),
		"path": ["rules", x.i, "verbs", j],
	}
}

# Users and groups are cluster-scoped: only a ClusterRole can grant impersonating them.
targets := {"users", "groups", "serviceaccounts"} if input.kind == "ClusterRole"

targets := {"serviceaccounts"} if input.kind == "Role"

unbounded(r) if not rbac.named(r)

unbounded(r) if "system:masters" in rbac.list(r, "resourceNames")

who(r) := sprintf("any service account of namespace `%s`", [data.kubegate.lib.rbac.namespace]) if {
	input.kind == "Role"
	not rbac.named(r)
} else := concat(", ", [sprintf("any %s", [label[res]]) |
	some res in ["users", "groups", "serviceaccounts"]
	count(rbac.resource_items(r, {res})) > 0
]) if {
	not rbac.named(r)
} else := concat(", ", [res |
	some res in ["users", "groups", "serviceaccounts"]
	res in targets
	count(rbac.resource_items(r, {res})) > 0
])

label := {"users": "user", "groups": "group", "serviceaccounts": "service account"}

names(r) := sprintf(" named %s", [concat(", ", rbac.texts(r, "resourceNames"))]) if rbac.named(r)

names(r) := "" if not rbac.named(r)
