# METADATA
# title: Container has no CPU limit
# description: |
#   Without a CPU limit a container may use every idle core of its node. That is often what
#   you want: CPU is compressible, a busy neighbour is throttled back to its request rather
#   than killed, and CPU limits cause CFS throttling and latency spikes even when the node is
#   idle. Many platform teams therefore deliberately set CPU requests but no CPU limits. The
#   rule is informational; raise it if your clusters require CPU limits (for example to get
#   the Guaranteed QoS class, or under a ResourceQuota on `limits.cpu`, which rejects pods
#   without one). Regular and init containers are checked.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/quality-service-pod/
# custom:
#   id: KG403
#   name: missing-cpu-limit
#   severity: info
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     If your platform requires it, set `resources.limits.cpu` (for example equal to the
#     request for the Guaranteed QoS class); otherwise ignore this rule.
#   equivalents:
#     checkov: [CKV_K8S_11]
#     trivy: [KSV011]
package kubegate.rules.reliability.missing_cpu_limit

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.resourced_containers
	not workload.present(c.c, ["resources", "limits", "cpu"])
	v := {
		"msg": sprintf("container `%s` has no CPU limit (`resources.limits.cpu`)", [k8s.name(c)]),
		"path": workload.nearest(c.path, c.c, ["resources", "limits", "cpu"]),
	}
}
