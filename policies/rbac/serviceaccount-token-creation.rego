# METADATA
# title: Role or ClusterRole can create tokens for any service account
# description: |
#   `create` on `serviceaccounts/token` issues a TokenRequest: a fresh, valid token for any
#   service account in reach, so the subject can act as every one of them, including the
#   controllers and operators of the namespace (or, in a ClusterRole bound cluster-wide, of
#   `kube-system`). It is the permission set of the most privileged service account in scope.
#   A `*` verb, a `*` or `*/token` resource, or `*` API group counts. Rules limited with
#   `resourceNames` (tokens for named service accounts only) are not flagged.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#token-request
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/
# custom:
#   id: KG211
#   name: serviceaccount-token-creation
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `create` on `serviceaccounts/token`, or list in `resourceNames` the service
#     accounts the subject may issue tokens for. Pods get their own token through a projected
#     volume and need no such permission.
package kubegate.rules.rbac.serviceaccount_token_creation

import rego.v1

import data.kubegate.lib.rbac

resource_forms := rbac.resource_forms({"serviceaccounts/token"})

violation contains v if {
	rbac.may_grant({"create"}, {"serviceaccounts/token"})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & {"*", "create"}) > 0
	not rbac.named(x.rule)
	rbac.has_group(x.rule, "")
	count(rbac.verb_items(x.rule, {"create"})) > 0
	items := rbac.resource_items(x.rule, {"serviceaccounts/token"})
	count(items) > 0
	j := rbac.pick(x.rule, "resources", items)
	v := {
		"msg": sprintf("%s lets its subjects create tokens for any service account (%s on %s)", [
			data.kubegate.lib.rbac.display,
			rbac.verbs_text(x.rule, {"create"}),
			res_text(rbac.list(x.rule, "resources")[j]),
		]),
		"path": ["rules", x.i, "resources", j],
	}
}

res_text(r) := sprintf("serviceaccounts/token (`%s`)", [r]) if r != "serviceaccounts/token"

res_text(r) := r if r == "serviceaccounts/token"
