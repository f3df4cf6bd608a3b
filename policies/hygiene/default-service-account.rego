# METADATA
# title: Pod runs as the namespace's `default` service account
# description: |
#   Pods that set no `serviceAccountName` (or set `default`) all share the namespace's
#   `default` ServiceAccount: a Role bound to it for one workload, or a cloud workload
#   identity attached to it, is granted to every such pod, and audit logs cannot tell them
#   apart. Pods that disable `automountServiceAccountToken` get no API credentials and are
#   not flagged. The rule is informational: many workloads never call the API.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
#   - ref: https://kubernetes.io/docs/concepts/security/service-accounts/
# custom:
#   id: KG605
#   name: default-service-account
#   severity: info
#   category: hygiene
#   kinds: [workloads]
#   remediation: |
#     Create a ServiceAccount for the workload and set `serviceAccountName` to it, or set
#     `automountServiceAccountToken: false` if it does not talk to the API server.
#   equivalents:
#     kube-linter: [default-service-account]
package kubegate.rules.hygiene.default_service_account

import rego.v1

import data.kubegate.lib.k8s

account(spec) := sa if {
	sa := spec.serviceAccountName
	is_string(sa)
	sa != ""
} else := sa if {
	sa := spec.serviceAccount
	is_string(sa)
	sa != ""
} else := ""

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	account(ps.spec) in {"", "default"}
	not ps.spec.automountServiceAccountToken == false
	v := {
		"msg": message(account(ps.spec)),
		"path": path(ps),
	}
}

message("") := "no `serviceAccountName`: the pod runs as the namespace's `default` service account"

message("default") := "the pod runs as the namespace's `default` service account"

path(ps) := array.concat(ps.path, ["serviceAccountName"]) if {
	is_string(ps.spec.serviceAccountName)
	ps.spec.serviceAccountName != ""
} else := array.concat(ps.path, ["serviceAccount"]) if {
	is_string(ps.spec.serviceAccount)
	ps.spec.serviceAccount != ""
} else := ps.path
