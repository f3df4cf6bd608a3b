# METADATA
# title: Container runs privileged
# description: |
#   A privileged container gets every Linux capability and access to all of the host's
#   devices; a compromise of the container is a compromise of the node. The Pod Security
#   Standards "baseline" profile forbids it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KG101
#   name: privileged-container
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `securityContext.privileged: true`; grant only the capabilities the workload
#     needs with `securityContext.capabilities.add`.
#   equivalents:
#     checkov: [CKV_K8S_16]
#     kube-linter: [privileged-container]
#     pss: "baseline: Privileged Containers"
#     trivy: [KSV017]
package kubegate.rules.security.privileged_container

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	c.c.securityContext.privileged == true
	v := {
		"msg": sprintf("container `%s` runs privileged", [k8s.name(c)]),
		"path": array.concat(c.path, ["securityContext", "privileged"]),
	}
}
