# METADATA
# title: ClusterRole can approve certificate signing requests for Kubernetes signers
# description: |
#   Approving a CertificateSigningRequest takes `update` (or `patch`) on
#   `certificatesigningrequests/approval` plus `approve` on the `signers` resource of the
#   CSR's signer (both in `certificates.k8s.io`). With both, a subject that can create CSRs
#   approves its own: for the `kubernetes.io/kube-apiserver-client` signer that is a client
#   certificate for any user or group it likes, `system:masters` included, which no RBAC
#   change can revoke before it expires; `kubernetes.io/kube-apiserver-client-kubelet` makes
#   it any node, and `kubernetes.io/kubelet-serving` lets it pose as any node's kubelet to
#   the API server and to clients. The rule fires on a ClusterRole
#   granting both, when `approve` is not limited with `resourceNames` or the names include a
#   `kubernetes.io/` signer (approving only for your own signer, such as
#   `example.com/my-signer`, is how custom signers are meant to work). A `*` verb, a `*` or
#   `*/approval` resource, or `*` API group counts. CSRs are cluster-scoped, so Roles are not
#   checked.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#csrs-and-certificate-issuing
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization
# custom:
#   id: KG212
#   name: csr-approval
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Leave CSR approval to the control plane and to dedicated approvers you trust (such as
#     a kubelet-serving approver that checks node identity). If the subject approves
#     certificates for its own signer, limit `approve` with `resourceNames` to that signer.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_156, match: partial, note: "checkov does not exempt approve limited with resourceNames to a custom signer"}
package kubegate.rules.rbac.csr_approval

import rego.v1

import data.kubegate.lib.rbac

group := "certificates.k8s.io"

approval_forms := rbac.resource_forms({"certificatesigningrequests/approval"})

signer_forms := rbac.resource_forms({"signers"})

violation contains v if {
	rbac.may_grant({"approve"}, {"signers"})
	data.kubegate.lib.rbac.is_cluster_role
	some a in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[a.i].resources & approval_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[a.i].verbs & {"*", "update", "patch"}) > 0
	rbac.has_group(a.rule, group)
	count(rbac.verb_items(a.rule, {"update", "patch"})) > 0
	count(rbac.resource_items(a.rule, {"certificatesigningrequests/approval"})) > 0
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & signer_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & {"*", "approve"}) > 0
	kubernetes_signers(x.rule)
	rbac.has_group(x.rule, group)
	count(rbac.resource_items(x.rule, {"signers"})) > 0
	verbs := rbac.verb_items(x.rule, {"approve"})
	count(verbs) > 0
	j := rbac.pick(x.rule, "verbs", verbs)
	v := {
		"msg": sprintf("%s lets its subjects approve certificate signing requests %s", [data.kubegate.lib.rbac.display, signers(x.rule)]),
		"path": ["rules", x.i, "verbs", j],
	}
}

kubernetes_signers(r) if not rbac.named(r)

kubernetes_signers(r) if {
	some n in rbac.texts(r, "resourceNames")
	startswith(n, "kubernetes.io/")
}

signers(r) := sprintf("for signers %s", [concat(", ", {n | some n in rbac.texts(r, "resourceNames"); startswith(n, "kubernetes.io/")})]) if {
	rbac.named(r)
} else := "for any signer, `kubernetes.io/kube-apiserver-client` (client certificates for any user) included"
