# METADATA
# title: Container has no liveness probe
# description: |
#   Without a liveness probe the kubelet restarts a container only when its process exits. A
#   server that deadlocks, leaks into an unrecoverable state or stops accepting connections
#   keeps running, and keeps receiving traffic, until someone notices.
#
#   Only regular containers of long-running pods are checked: init containers run to
#   completion (and ephemeral containers cannot have probes), and so do the pods of Jobs,
#   CronJobs, Pods owned by a Job and Pods with `restartPolicy` Never or OnFailure. (checkov
#   CKV_K8S_8 also skips Jobs and CronJobs but flags the last two kinds of Pod, and
#   kube-linter's no-liveness-probe flags Jobs too.)
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
#   - ref: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
# custom:
#   id: KG405
#   name: missing-liveness-probe
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Add a `livenessProbe` that fails only when restarting the container is the right fix
#     (for example an `httpGet` on a cheap health endpoint that does not check downstream
#     dependencies). Give slow-starting containers a `startupProbe` instead of a long
#     `initialDelaySeconds`.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_8, match: partial, note: "checkov also flags Pods of Jobs and Pods with restartPolicy Never or OnFailure"}
#     kube-linter:
#       - {id: no-liveness-probe, match: partial, note: "kube-linter also flags Jobs and CronJobs"}
package kubegate.rules.reliability.missing_liveness_probe

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.app_containers
	not workload.completes(c.pod)
	not workload.present(c.c, ["livenessProbe"])
	v := {
		"msg": sprintf("container `%s` has no liveness probe", [k8s.name(c)]),
		"path": c.path,
	}
}
