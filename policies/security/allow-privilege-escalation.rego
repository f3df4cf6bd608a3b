# METADATA
# title: Container allows privilege escalation
# description: |
#   Unless `allowPrivilegeEscalation` is `false`, a process in the container can gain more
#   privileges than its parent (setuid binaries, file capabilities): the kernel's
#   `no_new_privs` flag is not set. Leaving the field out and setting it to `true` behave
#   the same, so both are reported by this one rule. The Pod Security Standards "restricted"
#   profile requires `false` on every container, init container and ephemeral container.
#   Pods declaring `spec.os.name: windows` are exempt, as in Pod Security admission.
#   Privileged containers and containers adding SYS_ADMIN always allow escalation; the API
#   server rejects `allowPrivilegeEscalation: false` on them.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: KG102
#   name: allow-privilege-escalation
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `securityContext.allowPrivilegeEscalation: false` on the container.
#   equivalents:
#     checkov: [CKV_K8S_20]
#     kube-linter:
#       - {id: privilege-escalation-container, match: partial, note: "kube-linter flags only an explicit allowPrivilegeEscalation: true (and privileged or SYS_ADMIN containers), not a missing field"}
#     pss: "restricted: Privilege Escalation"
#     trivy: [KSV001]
package kubegate.rules.security.allow_privilege_escalation

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.windows(c.pod)
	sc := sec.container_sc(c)
	not sc.allowPrivilegeEscalation == false
	v := finding(c, sc)
}

finding(c, sc) := {
	"msg": sprintf("container `%s` sets `allowPrivilegeEscalation: true`", [k8s.name(c)]),
	"path": array.concat(c.path, ["securityContext", "allowPrivilegeEscalation"]),
} if {
	sc.allowPrivilegeEscalation == true
} else := {
	"msg": sprintf("container `%s` runs privileged, which always allows privilege escalation", [k8s.name(c)]),
	"path": sec.container_sc_path(c),
} if {
	sc.privileged == true
} else := {
	"msg": sprintf("container `%s` does not set `allowPrivilegeEscalation: false`", [k8s.name(c)]),
	"path": sec.container_sc_path(c),
}
