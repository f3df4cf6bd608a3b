# METADATA
# title: Container has no CPU request
# description: |
#   The scheduler places pods by their requests. A container without a CPU request counts as
#   needing nothing: pods get packed onto nodes that cannot serve them, the container gets
#   the smallest CPU share under contention, and the pod falls into the BestEffort or
#   Burstable QoS class. Regular and init containers are checked (init containers' requests
#   count towards scheduling too).
#
#   A container that sets `resources.limits.cpu` but no request is not flagged: the API server
#   defaults the request to the limit. (checkov CKV_K8S_10 and trivy KSV015 flag that case
#   too, so they are partial equivalents, as is kube-linter's unset-cpu-requirements, which
#   also flags a request of 0.)
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
# custom:
#   id: KG401
#   name: missing-cpu-request
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Set `resources.requests.cpu` to what the container uses under normal load (for example
#     `250m`), measured from metrics or a load test.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_10, match: partial, note: "checkov also flags a container that sets only a CPU limit, to which the request defaults"}
#     kube-linter:
#       - {id: unset-cpu-requirements, match: partial, note: "kube-linter also flags a container that sets only a CPU limit, and a request of 0"}
#     trivy:
#       - {id: KSV015, match: partial, note: "trivy also flags a container that sets only a CPU limit, to which the request defaults"}
package kubegate.rules.reliability.missing_cpu_request

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.resourced_containers
	not workload.present(c.c, ["resources", "requests", "cpu"])
	not workload.present(c.c, ["resources", "limits", "cpu"])
	v := {
		"msg": sprintf("container `%s` has no CPU request (`resources.requests.cpu`)", [k8s.name(c)]),
		"path": workload.nearest(c.path, c.c, ["resources", "requests", "cpu"]),
	}
}
