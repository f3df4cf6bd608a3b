# METADATA
# title: ClusterRoleBinding grants cluster-admin
# description: |
#   The `cluster-admin` ClusterRole allows every verb on every resource. Bound with a
#   ClusterRoleBinding, its subjects control the whole cluster: every secret, every node
#   through privileged pods, and RBAC itself. A compromised workload or credential holding it
#   is a compromised cluster. CIS Kubernetes Benchmark 5.1.1: ensure that the cluster-admin
#   role is only used where required.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
# custom:
#   id: KG214
#   name: cluster-admin-binding
#   severity: error
#   category: rbac
#   kinds: [RoleBinding, ClusterRoleBinding]
#   remediation: |
#     Bind a ClusterRole with the permissions the subjects use instead. For people, prefer
#     namespaced `admin` or `edit` RoleBindings, and reserve cluster-admin for a break-glass
#     identity.
#   equivalents:
#     kube-linter: [cluster-admin-role-binding]
#     trivy:
#       - {id: KSV111, match: partial, note: "trivy flags any binding to cluster-admin, admin or edit"}
package kubegate.rules.rbac.cluster_admin_binding

import rego.v1

import data.kubegate.lib.rbac

violation contains v if {
	data.kubegate.lib.rbac.is_binding
	input.kind == "ClusterRoleBinding"
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name == "cluster-admin"
	v := {
		"msg": sprintf("%s grants cluster-admin on the whole cluster to %s", [data.kubegate.lib.rbac.display, data.kubegate.lib.rbac.subjects_text]),
		"path": ["roleRef", "name"],
	}
}
