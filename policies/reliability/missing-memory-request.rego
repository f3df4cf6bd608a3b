# METADATA
# title: Container has no memory request
# description: |
#   The scheduler places pods by their requests. A container without a memory request counts
#   as needing none: nodes get overcommitted, and under memory pressure the kubelet evicts
#   pods that use more than they requested first. Regular and init containers are checked.
#
#   A container that sets `resources.limits.memory` but no request is not flagged: the API
#   server defaults the request to the limit. (checkov CKV_K8S_12 and trivy KSV016 flag that
#   case too, so they are partial equivalents; kube-linter's unset-memory-requirements
#   checks the limit, as missing-memory-limit does.)
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
# custom:
#   id: KG402
#   name: missing-memory-request
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Set `resources.requests.memory` to the container's steady-state working set (for
#     example `256Mi`), measured from metrics or a load test.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_12, match: partial, note: "checkov also flags a container that sets only a memory limit, to which the request defaults"}
#     trivy:
#       - {id: KSV016, match: partial, note: "trivy also flags a container that sets only a memory limit, to which the request defaults"}
package kubegate.rules.reliability.missing_memory_request

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.resourced_containers
	not workload.present(c.c, ["resources", "requests", "memory"])
	not workload.present(c.c, ["resources", "limits", "memory"])
	v := {
		"msg": sprintf("container `%s` has no memory request (`resources.requests.memory`)", [k8s.name(c)]),
		"path": workload.nearest(c.path, c.c, ["resources", "requests", "memory"]),
	}
}
