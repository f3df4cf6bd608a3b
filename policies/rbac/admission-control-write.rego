# METADATA
# title: ClusterRole can change or delete admission webhooks and policies
# description: |
#   Admission webhooks and policies see, and can reject or rewrite, every object written to
#   the cluster. Whoever can create or update a MutatingWebhookConfiguration can send every
#   new pod to a server of its choice and inject containers, volumes or privileges into it;
#   whoever can update or delete a ValidatingWebhookConfiguration or a
#   ValidatingAdmissionPolicy (or its binding) can switch off the policy enforcement that
#   protects the cluster (Kyverno, Gatekeeper, Pod Security extensions). The same goes for
#   MutatingAdmissionPolicies. Flagged: `create`, `update`, `patch`, `delete` or
#   `deletecollection` on those resources in `admissionregistration.k8s.io`; a `*` verb, a `*`
#   resource or `*` API group counts. Rules limited with `resourceNames` (an operator updating
#   the `caBundle` of its own webhook configuration) are not flagged. These resources are
#   cluster-scoped, so Roles are not checked.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#control-admission-webhooks
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/
# custom:
#   id: KG213
#   name: admission-control-write
#   severity: warning
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Keep admission configuration with cluster administrators. An operator that only injects
#     the CA bundle of its own webhook needs `get`, `update` and `patch` limited with
#     `resourceNames` to its configurations.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_155, match: partial, note: "checkov flags only create, update and patch on webhook configurations, not delete nor admission policies"}
#     trivy:
#       - {id: KSV114, match: partial, note: "trivy also checks Roles and rules limited with resourceNames, and not admission policies"}
package kubegate.rules.rbac.admission_control_write

import rego.v1

import data.kubegate.lib.rbac

write_verbs := {"create", "update", "patch", "delete", "deletecollection"}

admission_resources := {
	"mutatingwebhookconfigurations",
	"validatingwebhookconfigurations",
	"validatingadmissionpolicies",
	"validatingadmissionpolicybindings",
	"mutatingadmissionpolicies",
	"mutatingadmissionpolicybindings",
}

resource_forms := rbac.resource_forms(admission_resources)

verb_forms := {"*"} | write_verbs

violation contains v if {
	rbac.may_grant(write_verbs, admission_resources)
	data.kubegate.lib.rbac.is_cluster_role
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	not rbac.named(x.rule)
	rbac.has_group(x.rule, "admissionregistration.k8s.io")
	count(rbac.verb_items(x.rule, write_verbs)) > 0
	items := rbac.resource_items(x.rule, admission_resources)
	count(items) > 0
	j := rbac.pick(x.rule, "resources", items)
	v := {
		"msg": sprintf("%s lets its subjects change admission control (%s on %s)", [
			data.kubegate.lib.rbac.display,
			rbac.verbs_text(x.rule, write_verbs),
			res_text(x.rule),
		]),
		"path": ["rules", x.i, "resources", j],
	}
}

res_text(r) := sprintf("every resource (`*`) of %s", [rbac.groups_text(r)]) if {
	"*" in rbac.list(r, "resources")
} else := rbac.resources_text(r, admission_resources)
