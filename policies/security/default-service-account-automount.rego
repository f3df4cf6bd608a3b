# METADATA
# title: The `default` ServiceAccount lets pods mount its token
# description: |
#   Every namespace has a `default` ServiceAccount, and every pod that names no other runs
#   as it. Unless the ServiceAccount sets `automountServiceAccountToken: false`, each of
#   those pods gets an API token mounted, though most of them never call the API: a
#   credential for whoever compromises any of them, with whatever a binding ever grants the
#   `default` account. Declaring the `default` ServiceAccount in the repository is the
#   place to switch this off once for the namespace (a pod that needs a token then sets
#   `automountServiceAccountToken: true` itself, or better uses its own ServiceAccount). CIS
#   Kubernetes Benchmark 5.1.5: ensure that default service accounts are not actively used.
#   Only a ServiceAccount named `default` in the manifests is checked: kubegate cannot see
#   the ones Kubernetes creates.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
#   - ref: https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts
# custom:
#   id: KG126
#   name: default-service-account-automount
#   severity: info
#   category: security
#   kinds: [ServiceAccount]
#   remediation: |
#     Set `automountServiceAccountToken: false` on the `default` ServiceAccount, and give
#     the workloads that call the API a ServiceAccount of their own.
#   equivalents:
#     checkov: [CKV_K8S_41]
package kubegate.rules.security.default_service_account_automount

import rego.v1

violation contains v if {
	input.kind == "ServiceAccount"
	input.metadata.name == "default"
	not input.automountServiceAccountToken == false
	v := {
		"msg": "the `default` ServiceAccount does not set `automountServiceAccountToken: false`, so every pod that runs as it gets an API token",
		"path": path,
	}
}

path := ["automountServiceAccountToken"] if {
	"automountServiceAccountToken" in object.keys(input)
} else := ["metadata", "name"]
