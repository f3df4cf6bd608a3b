# METADATA
# title: Container unmasks /proc (procMount other than Default)
# description: |
#   By default the container runtime masks and makes read-only parts of /proc (such as
#   /proc/kcore, /proc/sys, /proc/sysrq-trigger) that expose the node's kernel.
#   `procMount: Unmasked` removes those masks. The Pod Security Standards "baseline" profile
#   allows only `Default`; from policy v1.35 baseline tolerates `Unmasked` in pods with
#   `hostUsers: false` (which the API requires for it), but "restricted" still forbids it,
#   and this rule reports it in every pod.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
# custom:
#   id: KG118
#   name: unsafe-proc-mount
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `securityContext.procMount` (or set it to `Default`). Nested container runtimes
#     that need an unmasked /proc belong in a dedicated, isolated node pool.
#   equivalents:
#     kube-linter: [unsafe-proc-mount]
#     pss: "baseline: /proc Mount Type"
#     trivy:
#       - {id: KSV027, match: partial, note: "trivy flags any procMount, Default included"}
package kubegate.rules.security.unsafe_proc_mount

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	mount := sec.container_sc(c).procMount
	is_string(mount)
	mount != "Default"
	v := {
		"msg": sprintf("container `%s` sets `procMount: %s`: the sensitive parts of /proc are no longer masked", [k8s.name(c), mount]),
		"path": array.concat(c.path, ["securityContext", "procMount"]),
	}
}
