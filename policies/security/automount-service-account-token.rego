# METADATA
# title: Pod mounts a service account token by default
# description: |
#   Unless told otherwise, Kubernetes mounts an API token of the pod's service account into
#   every container. Most applications never call the Kubernetes API, and a token they do not
#   need is a credential an attacker can use after a compromise, with whatever RBAC the
#   service account has. This rule reports pod specs that leave `automountServiceAccountToken`
#   unset; an explicit `true` is taken as a deliberate choice and not reported. The
#   ServiceAccount object itself can also disable automounting, which a check of one object
#   at a time cannot see, hence the info severity.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
#   - ref: https://kubernetes.io/docs/concepts/security/service-accounts/
# custom:
#   id: KG123
#   name: automount-service-account-token
#   severity: info
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `automountServiceAccountToken: false` in the pod spec (or on its ServiceAccount) if
#     the workload does not call the Kubernetes API. If it does, set it to `true` explicitly
#     and give the service account only the permissions it needs.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_38, match: partial, note: "checkov also flags an explicit automountServiceAccountToken: true"}
#     trivy:
#       - {id: KSV036, match: partial, note: "trivy flags an explicit true, and an unset field only when a container mounts the token path itself"}
package kubegate.rules.security.automount_service_account_token

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	not is_boolean(object.get(ps.spec, "automountServiceAccountToken", null))
	v := {
		"msg": "pod spec does not set `automountServiceAccountToken`, so a service account token is mounted into its containers",
		"path": ps.path,
	}
}
