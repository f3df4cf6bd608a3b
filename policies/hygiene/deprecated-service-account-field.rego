# METADATA
# title: Pod spec uses the deprecated `serviceAccount` field
# description: |
#   `serviceAccount` is a deprecated alias of `serviceAccountName`. When both are set and
#   differ, `serviceAccountName` wins and the other value is silently ignored; tools, policies
#   and readers that look only at `serviceAccountName` miss an identity set through the old
#   field.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security
# custom:
#   id: KG604
#   name: deprecated-service-account-field
#   severity: warning
#   category: hygiene
#   kinds: [workloads]
#   remediation: |
#     Rename `serviceAccount` to `serviceAccountName` (remove it if `serviceAccountName` is
#     already set).
#   equivalents:
#     kube-linter: [deprecated-service-account-field]
package kubegate.rules.hygiene.deprecated_service_account_field

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	sa := ps.spec.serviceAccount
	is_string(sa)
	sa != ""
	v := {
		"msg": sprintf("`serviceAccount: %s` is deprecated; use `serviceAccountName`", [sa]),
		"path": array.concat(ps.path, ["serviceAccount"]),
	}
}
