# METADATA
# title: Binding grants a role to anonymous or unauthenticated users
# description: |
#   `system:anonymous` (user) and `system:unauthenticated` (group) are whoever reaches the API
#   server without credentials: anyone with network access to it, from inside the cluster or,
#   for an exposed control plane, from the internet. A binding to them makes the role's
#   permissions public; exposed clusters with such bindings are found and abused by scanners
#   within hours. The built-in `system:public-info-viewer` ClusterRole (health and version
#   endpoints only) is exempt, as Kubernetes binds it to `system:unauthenticated` by default.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#hardening
# custom:
#   id: KG216
#   name: anonymous-binding
#   severity: error
#   category: rbac
#   kinds: [RoleBinding, ClusterRoleBinding]
#   remediation: |
#     Remove `system:anonymous` and `system:unauthenticated` from the subjects and bind the
#     identities that need the role. Consider `--anonymous-auth=false` on the API server, or
#     an `AuthenticationConfiguration` limiting anonymous access to health endpoints.
#   equivalents:
#     trivy:
#       - {id: KSV122, match: partial, note: "trivy matches subject names only and does not exempt system:public-info-viewer"}
package kubegate.rules.rbac.anonymous_binding

import rego.v1

import data.kubegate.lib.rbac

anonymous := {"system:anonymous", "system:unauthenticated"}

violation contains v if {
	not public_info_viewer
	some x in data.kubegate.lib.rbac.subjects
	x.s.kind in {"User", "Group"}
	x.s.name in anonymous
	v := {
		"msg": sprintf("%s grants %s to %s `%s`: anyone who can reach the API server without credentials", [
			data.kubegate.lib.rbac.display,
			data.kubegate.lib.rbac.role_ref_text,
			x.s.kind,
			x.s.name,
		]),
		"path": ["subjects", x.i, "name"],
	}
}

public_info_viewer if {
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name == "system:public-info-viewer"
}
