# METADATA
# title: Container does not drop ALL capabilities
# description: |
#   Container runtimes grant a default set of capabilities (CHOWN, DAC_OVERRIDE, FOWNER,
#   SETUID, SETGID, NET_RAW on many runtimes, ...) that most applications never use; NET_RAW
#   alone allows ARP and DNS spoofing on the pod network. The Pod Security Standards
#   "restricted" profile requires every container, init container and ephemeral container
#   to list `ALL` in `securityContext.capabilities.drop` (add back NET_BIND_SERVICE if
#   needed). The value is matched exactly, as Pod Security admission does: `all` is not
#   accepted. Pods declaring `spec.os.name: windows` are exempt.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container
# custom:
#   id: KG112
#   name: capabilities-not-dropped
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Add `securityContext.capabilities.drop: ["ALL"]` to the container, and add back only
#     what it needs (normally nothing, or NET_BIND_SERVICE to bind ports below 1024).
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_28, match: partial, note: "checkov passes a container that drops only NET_RAW; kubegate wants ALL dropped"}
#       - {id: CKV_K8S_37, match: partial, note: "checkov accepts any drop entry containing ALL or all; Pod Security admission and kubegate only ALL"}
#     kube-linter:
#       - {id: drop-net-raw-capability, match: partial, note: "kube-linter passes a container that drops only NET_RAW; kubegate wants ALL dropped"}
#     pss: "restricted: Capabilities"
#     trivy:
#       - {id: KSV003, match: partial, note: "trivy also accepts all in lower case, which Pod Security admission refuses"}
#       - {id: KSV004, match: partial, note: "trivy passes a container that drops any one capability; kubegate wants ALL dropped"}
#       - {id: KSV106, match: partial, note: "trivy also flags added capabilities other than NET_BIND_SERVICE (restricted-capabilities-added and dangerous-capabilities here)"}
package kubegate.rules.security.capabilities_not_dropped

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.windows(c.pod)
	caps := sec.obj(object.get(sec.container_sc(c), "capabilities", {}))
	drop := object.get(caps, "drop", null)
	not "ALL" in sec.arr(drop)
	v := finding(c, drop)
}

finding(c, drop) := {
	"msg": sprintf("container `%s` drops `%s`; Pod Security admission accepts only `ALL`", [k8s.name(c), spelled]),
	"path": array.concat(c.path, ["securityContext", "capabilities", "drop"]),
} if {
	# A defined `false` (count), not an undefined index, must end this body: regorus's VM
	# does not fall through to `else` after an undefined result (see BENCHMARKS.md).
	alls := [d | some d in sec.arr(drop); is_string(d); upper(d) == "ALL"]
	count(alls) > 0
	spelled := alls[0]
} else := {
	"msg": sprintf("container `%s` does not drop `ALL` capabilities", [k8s.name(c)]),
	"path": array.concat(c.path, ["securityContext", "capabilities", "drop"]),
} if {
	is_array(drop)
} else := {
	"msg": sprintf("container `%s` does not drop capabilities (`capabilities.drop: [\"ALL\"]`)", [k8s.name(c)]),
	"path": array.concat(c.path, ["securityContext", "capabilities"]),
} if {
	is_object(object.get(sec.container_sc(c), "capabilities", null))
} else := {
	"msg": sprintf("container `%s` does not drop capabilities (`capabilities.drop: [\"ALL\"]`)", [k8s.name(c)]),
	"path": sec.container_sc_path(c),
}
