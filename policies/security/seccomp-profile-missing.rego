# METADATA
# title: Container has no seccomp profile
# description: |
#   Unless a seccomp profile is set, Kubernetes runs containers `Unconfined` (no system call
#   filtering) on nodes where the kubelet's `--seccomp-default` is off, which is the default.
#   The Pod Security Standards "restricted" profile requires `seccompProfile.type` to be
#   `RuntimeDefault` or `Localhost` on the pod (inherited by every container) or on each
#   container. Pods declaring `spec.os.name: windows` are exempt. A profile explicitly set
#   to `Unconfined` is reported by seccomp-unconfined instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: KG115
#   name: seccomp-profile-missing
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod; it applies to
#     every container that does not set its own.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_31, match: partial, note: "checkov accepts only RuntimeDefault (not Localhost) and does not check CronJobs"}
#     pss: "restricted: Seccomp"
#     trivy:
#       - {id: KSV030, match: partial, note: "trivy also accepts the deprecated seccomp.security.alpha.kubernetes.io/pod annotation, which Kubernetes no longer reads"}
package kubegate.rules.security.seccomp_profile_missing

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.windows(c.pod)
	not is_object(object.get(sec.container_sc(c), "seccompProfile", null))
	not is_object(object.get(sec.pod_sc(c.pod), "seccompProfile", null))
	v := {
		"msg": sprintf("neither container `%s` nor its pod sets a seccomp profile (`seccompProfile.type: RuntimeDefault`)", [k8s.name(c)]),
		"path": sec.container_sc_path(c),
	}
}
