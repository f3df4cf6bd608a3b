# METADATA
# title: Binding grants a role to every authenticated user
# description: |
#   The `system:authenticated` group holds every identity the API server accepts: every
#   user of every identity provider configured, and every service account token of every
#   pod in the cluster. A binding to it gives the role to all of them, so any compromised
#   pod or low-privilege account has it. (With some managed identity providers, any account
#   of the provider can authenticate.) The default bindings of the built-in
#   `system:basic-user`, `system:discovery` and `system:public-info-viewer` ClusterRoles are
#   exempt.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
# custom:
#   id: KG217
#   name: authenticated-group-binding
#   severity: warning
#   category: rbac
#   kinds: [RoleBinding, ClusterRoleBinding]
#   remediation: |
#     Bind the role to the users, groups or service accounts that need it instead of
#     `system:authenticated`.
#   equivalents:
#     trivy:
#       - {id: KSV01011, match: partial, note: "trivy reports it only when scanning a GKE cluster"}
package kubegate.rules.rbac.authenticated_group_binding

import rego.v1

import data.kubegate.lib.rbac

default_roles := {"system:basic-user", "system:discovery", "system:public-info-viewer"}

violation contains v if {
	not default_role
	some x in data.kubegate.lib.rbac.subjects
	x.s.kind == "Group"
	x.s.name == "system:authenticated"
	v := {
		"msg": sprintf("%s grants %s to every authenticated user and service account (group `system:authenticated`)", [
			data.kubegate.lib.rbac.display,
			data.kubegate.lib.rbac.role_ref_text,
		]),
		"path": ["subjects", x.i, "name"],
	}
}

default_role if {
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name in default_roles
}
