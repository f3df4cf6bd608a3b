# METADATA
# title: Pod uses the node's PID namespace
# description: |
#   With `hostPID: true` the pod's processes see every process on the node and, as root or
#   with ptrace capabilities, can signal, trace and read the memory and environment (secrets
#   included) of processes of other pods and of the node. The Pod Security Standards
#   "baseline" profile forbids it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KG106
#   name: host-pid
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `hostPID: true`. To share processes between the containers of one pod, use
#     `shareProcessNamespace: true` instead.
#   equivalents:
#     checkov: [CKV_K8S_17]
#     kube-linter: [host-pid]
#     pss: "baseline: Host Namespaces"
#     trivy: [KSV010]
package kubegate.rules.security.host_pid

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	ps.spec.hostPID == true
	v := {
		"msg": "pod sets `hostPID: true`: it sees and can signal every process on the node",
		"path": array.concat(ps.path, ["hostPID"]),
	}
}
