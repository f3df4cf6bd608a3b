# METADATA
# title: Container adds a capability other than NET_BIND_SERVICE
# description: |
#   The Pod Security Standards "restricted" profile allows a container to add back only
#   NET_BIND_SERVICE (binding ports below 1024) after dropping ALL. This rule reports the
#   capabilities the "baseline" profile still tolerates (CHOWN, DAC_OVERRIDE, FOWNER, SETUID,
#   SETGID, KILL, ...): each widens what a compromised process can do, e.g. DAC_OVERRIDE
#   bypasses file permissions and SETUID/SETGID allow switching to any user. Capabilities
#   outside the baseline set are reported by dangerous-capabilities instead. Pods declaring
#   `spec.os.name: windows` are exempt, as in Pod Security admission.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://man7.org/linux/man-pages/man7/capabilities.7.html
# custom:
#   id: KG113
#   name: restricted-capabilities-added
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove the capability from `securityContext.capabilities.add` and make the image work
#     without it: fix file ownership at build time instead of CHOWN/FOWNER, start as the
#     right user instead of SETUID/SETGID.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_25, match: partial, note: "checkov flags any added capability, NET_BIND_SERVICE included; kubegate here only the baseline ones other than NET_BIND_SERVICE"}
#     pss: "restricted: Capabilities"
#     trivy:
#       - {id: KSV022, match: partial, note: "trivy flags any added capability, NET_BIND_SERVICE included; kubegate here only the baseline ones other than NET_BIND_SERVICE"}
#       - {id: KSV106, match: partial, note: "trivy also flags containers that do not drop ALL (capabilities-not-dropped here)"}
package kubegate.rules.security.restricted_capabilities_added

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some a in data.kubegate.lib.security.added_capabilities
	not sec.windows(a.c.pod)
	a.cap in data.kubegate.lib.security.baseline_capabilities
	a.cap != "NET_BIND_SERVICE"
	v := {
		"msg": sprintf("container `%s` adds `%s`; the restricted profile allows only NET_BIND_SERVICE", [k8s.name(a.c), a.cap]),
		"path": a.path,
	}
}
