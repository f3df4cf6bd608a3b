# METADATA
# title: Binding grants a role to a `default` service account
# description: |
#   Every namespace has a `default` service account, and every pod that does not set
#   `serviceAccountName` runs as it. A role bound to it goes to all those pods, present and
#   future, including ones deployed by people who never meant to use it, and the binding
#   reads as if it were for no one in particular. CIS Kubernetes Benchmark 5.1.5: ensure that
#   default service accounts are not actively used.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
# custom:
#   id: KG218
#   name: default-service-account-binding
#   severity: warning
#   category: rbac
#   kinds: [RoleBinding, ClusterRoleBinding]
#   remediation: |
#     Create a dedicated service account for the workload that needs the role, bind the role
#     to it, and set `serviceAccountName` in the workload's pod template.
#   equivalents:
#     checkov: [CKV_K8S_42]
package kubegate.rules.rbac.default_service_account_binding

import rego.v1

import data.kubegate.lib.rbac

violation contains v if {
	some x in data.kubegate.lib.rbac.subjects
	x.s.kind == "ServiceAccount"
	x.s.name == "default"
	v := {
		"msg": sprintf("%s grants %s to the `default` service account of namespace `%s`: every pod there without `serviceAccountName` gets it", [
			data.kubegate.lib.rbac.display,
			data.kubegate.lib.rbac.role_ref_text,
			sa_namespace(x.s),
		]),
		"path": ["subjects", x.i, "name"],
	}
}

sa_namespace(s) := s.namespace if is_string(s.namespace)

sa_namespace(s) := data.kubegate.lib.rbac.namespace if {
	not is_string(s.namespace)
	data.kubegate.lib.rbac.namespace != ""
}

sa_namespace(s) := "?" if {
	not is_string(s.namespace)
	data.kubegate.lib.rbac.namespace == ""
}
