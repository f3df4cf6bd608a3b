# METADATA
# title: Container has no readiness probe
# description: |
#   Without a readiness probe a pod counts as ready as soon as its containers start: Services
#   send it traffic before the application listens, and a rolling update moves on (and
#   removes old pods) before the new ones can serve. A readiness probe also takes an
#   overloaded pod out of rotation without restarting it.
#
#   Only regular containers of long-running pods are checked: init containers run to
#   completion (and ephemeral containers cannot have probes), and so do the pods of Jobs,
#   CronJobs, Pods owned by a Job and Pods with `restartPolicy` Never or OnFailure. (checkov
#   CKV_K8S_9 also skips Jobs, CronJobs and Pods owned by a Job but flags Pods that do not
#   restart, and kube-linter's no-readiness-probe flags Jobs too.)
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
#   - ref: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
# custom:
#   id: KG406
#   name: missing-readiness-probe
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Add a `readinessProbe` that succeeds only when the container can serve requests (for
#     example an `httpGet` on a readiness endpoint).
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_9, match: partial, note: "checkov also flags Pods of Jobs and Pods with restartPolicy Never or OnFailure"}
#     kube-linter:
#       - {id: no-readiness-probe, match: partial, note: "kube-linter also flags Jobs and CronJobs"}
package kubegate.rules.reliability.missing_readiness_probe

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.workload.app_containers
	not workload.completes(c.pod)
	not workload.present(c.c, ["readinessProbe"])
	v := {
		"msg": sprintf("container `%s` has no readiness probe", [k8s.name(c)]),
		"path": c.path,
	}
}
