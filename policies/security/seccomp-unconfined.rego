# METADATA
# title: Pod or container disables seccomp (Unconfined)
# description: |
#   Seccomp filters the system calls a container may make; the runtime's default profile
#   blocks dozens of rarely needed calls that are common in kernel exploits and container
#   escapes. `seccompProfile.type: Unconfined` turns the filter off. The Pod Security
#   Standards "baseline" profile allows only `RuntimeDefault` or `Localhost` when a profile
#   is set, on the pod or on any container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tutorials/security/seccomp/
# custom:
#   id: KG114
#   name: seccomp-unconfined
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `seccompProfile.type: RuntimeDefault`, or `Localhost` with a profile that allows
#     the extra system calls the workload needs, instead of `Unconfined`.
#   equivalents:
#     pss: "baseline: Seccomp"
#     trivy:
#       - {id: KSV104, match: partial, note: "trivy looks only at containers carrying the deprecated container.seccomp.security.alpha.kubernetes.io annotation"}
package kubegate.rules.security.seccomp_unconfined

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

allowed := {"RuntimeDefault", "Localhost"}

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	profile := sec.pod_sc(ps).seccompProfile
	is_object(profile)
	not profile.type in allowed
	v := {
		"msg": sprintf("pod sets seccomp profile `%v`, which disables system call filtering for its containers", [object.get(profile, "type", "")]),
		"path": array.concat(sec.pod_sc_path(ps), ["seccompProfile", "type"]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	profile := sec.container_sc(c).seccompProfile
	is_object(profile)
	not profile.type in allowed
	v := {
		"msg": sprintf("container `%s` sets seccomp profile `%v`, which disables system call filtering", [k8s.name(c), object.get(profile, "type", "")]),
		"path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]),
	}
}
