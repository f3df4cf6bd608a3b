# METADATA
# title: Pod uses the node's IPC namespace
# description: |
#   With `hostIPC: true` the pod shares the node's System V IPC and POSIX message queues and
#   shared memory, so it can read and write memory that other processes on the node share.
#   The Pod Security Standards "baseline" profile forbids it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KG107
#   name: host-ipc
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `hostIPC: true`. Containers of the same pod already share an IPC namespace;
#     use an `emptyDir` with `medium: Memory` for shared memory between them.
#   equivalents:
#     checkov: [CKV_K8S_18]
#     kube-linter: [host-ipc]
#     pss: "baseline: Host Namespaces"
#     trivy: [KSV008]
package kubegate.rules.security.host_ipc

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	ps.spec.hostIPC == true
	v := {
		"msg": "pod sets `hostIPC: true`: it shares the node's IPC namespace",
		"path": array.concat(ps.path, ["hostIPC"]),
	}
}
