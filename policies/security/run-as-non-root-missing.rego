# METADATA
# title: Container may run as root (runAsNonRoot is not true)
# description: |
#   Without `runAsNonRoot: true`, whether the container runs as root depends on the image's
#   `USER` (root by default) or on `runAsUser`; with it, the kubelet refuses to start a
#   container that would run as UID 0. The Pod Security Standards "restricted" profile
#   requires `runAsNonRoot: true` on the pod (inherited by containers that do not set it) or
#   on every container, and forbids `false` anywhere; a container's own setting overrides the
#   pod's. A non-zero `runAsUser` alone does not satisfy the profile. Pods with
#   `hostUsers: false` run in a user namespace and are exempt, as in Pod Security admission
#   (policy v1.35+). An explicit `runAsUser: 0` is reported separately (run-as-root-user).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: KG104
#   name: run-as-non-root-missing
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `securityContext.runAsNonRoot: true` on the pod (it applies to every container that
#     does not override it), use an image whose `USER` is a numeric non-zero UID or set
#     `runAsUser`, and remove any `runAsNonRoot: false`.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_23, match: partial, note: "checkov also accepts a non-zero runAsUser instead of runAsNonRoot: true"}
#     kube-linter:
#       - {id: run-as-non-root, match: partial, note: "kube-linter accepts a non-zero runAsUser instead of runAsNonRoot: true, and also flags runAsGroup 0 (run-as-root-group here)"}
#     pss: "restricted: Running as Non-root"
#     trivy:
#       - {id: KSV012, match: partial, note: "trivy accepts a container runAsNonRoot: false under a pod-level true, and does not exempt pods with hostUsers: false"}
package kubegate.rules.security.run_as_non_root_missing

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

# The pod explicitly opts out: one finding at the pod, covering containers that inherit it.
violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	not sec.user_namespaced(ps)
	sec.pod_sc(ps).runAsNonRoot == false
	v := {
		"msg": "pod sets `runAsNonRoot: false`",
		"path": array.concat(sec.pod_sc_path(ps), ["runAsNonRoot"]),
	}
}

# A container explicitly opts out, whatever the pod says.
violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.user_namespaced(c.pod)
	sec.container_sc(c).runAsNonRoot == false
	v := {
		"msg": sprintf("container `%s` sets `runAsNonRoot: false`", [k8s.name(c)]),
		"path": array.concat(c.path, ["securityContext", "runAsNonRoot"]),
	}
}

# Neither the container nor its pod sets it.
violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.user_namespaced(c.pod)
	not is_boolean(object.get(sec.container_sc(c), "runAsNonRoot", null))
	not is_boolean(object.get(sec.pod_sc(c.pod), "runAsNonRoot", null))
	v := {
		"msg": sprintf("neither container `%s` nor its pod sets `runAsNonRoot: true`", [k8s.name(c)]),
		"path": sec.container_sc_path(c),
	}
}
