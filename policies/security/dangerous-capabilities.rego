# METADATA
# title: Container adds a capability beyond the baseline set
# description: |
#   Linux capabilities split root's powers; adding one back grants that power to the
#   container. The Pod Security Standards "baseline" profile allows adding only AUDIT_WRITE,
#   CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID,
#   SETPCAP, SETUID and SYS_CHROOT (the container runtime's defaults). Anything else, such as
#   SYS_ADMIN (close to privileged: mounts, namespaces, BPF), NET_ADMIN, NET_RAW, SYS_PTRACE,
#   SYS_MODULE or ALL, breaks the isolation the profile guarantees. Names are compared exactly
#   as Pod Security admission does: `CAP_SYS_ADMIN` or `sys_admin` is also outside the set.
#   Adding one of the baseline capabilities other than NET_BIND_SERVICE is reported by
#   restricted-capabilities-added instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://man7.org/linux/man-pages/man7/capabilities.7.html
# custom:
#   id: KG111
#   name: dangerous-capabilities
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove the capability from `securityContext.capabilities.add`; if the workload needs a
#     privileged operation, do it in a separate, tightly scoped component (a CSI driver, a
#     device plugin, a node agent) rather than in the application container.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_25, match: partial, note: "checkov flags any added capability; kubegate here those outside the baseline set (restricted-capabilities-added the others)"}
#       - {id: CKV_K8S_39, match: partial, note: "checkov flags only SYS_ADMIN; kubegate every capability outside the baseline set"}
#     pss: "baseline: Capabilities"
#     trivy:
#       - {id: KSV005, match: partial, note: "trivy flags only SYS_ADMIN; kubegate every capability outside the baseline set"}
#       - {id: KSV022, match: partial, note: "trivy flags any added capability; kubegate here those outside the baseline set (restricted-capabilities-added the others)"}
#       - {id: KSV119, match: partial, note: "trivy flags only NET_RAW; kubegate every capability outside the baseline set"}
#       - {id: KSV120, match: partial, note: "trivy flags only SYS_MODULE; kubegate every capability outside the baseline set"}
package kubegate.rules.security.dangerous_capabilities

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some a in data.kubegate.lib.security.added_capabilities
	not a.cap in data.kubegate.lib.security.baseline_capabilities
	v := {
		"msg": sprintf("container `%s` adds %s", [k8s.name(a.c), describe(a.cap)]),
		"path": a.path,
	}
}

describe(cap) := "ALL capabilities" if {
	sec.canonical_capability(cap) == "ALL"
} else := sprintf("`%s`, which is nearly as powerful as running privileged", [cap]) if {
	sec.canonical_capability(cap) == "SYS_ADMIN"
} else := sprintf("`%s`; write it as `%s` (the baseline set is matched exactly)", [cap, sec.canonical_capability(cap)]) if {
	sec.canonical_capability(cap) in data.kubegate.lib.security.baseline_capabilities
} else := sprintf("`%v`, which is not in the baseline set", [cap])
