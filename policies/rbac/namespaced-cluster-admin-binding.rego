# METADATA
# title: RoleBinding grants cluster-admin in a namespace
# description: |
#   A RoleBinding to the `cluster-admin` ClusterRole gives its subjects every verb on every
#   namespaced resource of the namespace: all its secrets (and the service account tokens
#   they hold), pod creation with any service account, and the namespace's own Roles and
#   RoleBindings, so they can hand the same rights to anyone. It is wider than the built-in
#   `admin` role, which is the one meant for namespace administrators.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
# custom:
#   id: KG215
#   name: namespaced-cluster-admin-binding
#   severity: warning
#   category: rbac
#   kinds: [RoleBinding, ClusterRoleBinding]
#   remediation: |
#     Bind the `admin` or `edit` ClusterRole (or a Role with the permissions the subjects use)
#     instead of `cluster-admin`.
#   equivalents:
#     trivy:
#       - {id: KSV111, match: partial, note: "trivy flags any binding to cluster-admin, admin or edit"}
package kubegate.rules.rbac.namespaced_cluster_admin_binding

import rego.v1

import data.kubegate.lib.rbac

violation contains v if {
	data.kubegate.lib.rbac.is_binding
	input.kind == "RoleBinding"
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name == "cluster-admin"
	v := {
		"msg": sprintf("%s grants cluster-admin in namespace `%s` to %s", [data.kubegate.lib.rbac.display, ns, data.kubegate.lib.rbac.subjects_text]),
		"path": ["roleRef", "name"],
	}
}

ns := data.kubegate.lib.rbac.namespace if data.kubegate.lib.rbac.namespace != ""

ns := "default" if data.kubegate.lib.rbac.namespace == ""
