# METADATA
# title: Container has no memory limit
# description: |
#   Memory is not compressible. A container without a memory limit can grow until the node
#   runs out, and then the kernel OOM killer or kubelet eviction picks victims among every pod
#   on the node, not just the leaking one. With a limit, only the offending container is
#   OOM-killed and restarted. Regular and init containers are checked.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/
# custom:
#   id: KG404
#   name: missing-memory-limit
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Set `resources.limits.memory`, usually equal to or somewhat above the memory request
#     (for example `512Mi`).
#   equivalents:
#     checkov: [CKV_K8S_13]
#     kube-linter:
#       - {id: unset-memory-requirements, match: partial, note: "kube-linter also flags a memory limit of 0"}
#     trivy: [KSV018]
package kubegate.rules.reliability.missing_memory_limit

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.resourced_containers
	not workload.present(c.c, ["resources", "limits", "memory"])
	v := {
		"msg": sprintf("container `%s` has no memory limit (`resources.limits.memory`)", [k8s.name(c)]),
		"path": workload.nearest(c.path, c.c, ["resources", "limits", "memory"]),
	}
}
