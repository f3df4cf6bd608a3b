# METADATA
# title: Pod or container runs as UID 0 (root)
# description: |
#   `runAsUser: 0` runs the container's processes as root. Root in a container is root on
#   the node for everything the container can reach (host mounts, the kernel's attack
#   surface, a runtime escape), so the Pod Security Standards "restricted" profile forbids
#   `runAsUser: 0` at the pod level and on every container. Pods with `hostUsers: false` run
#   in a user namespace, where UID 0 maps to an unprivileged user on the node; Pod Security
#   admission (policy v1.35+) skips this check for them, and so does this rule.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
# custom:
#   id: KG103
#   name: run-as-root-user
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `runAsUser` to a non-zero UID (or remove it and build the image with a non-root
#     `USER`), and set `runAsNonRoot: true`. If the workload really needs root inside the
#     container, run it in a user namespace with `spec.hostUsers: false`.
#   equivalents:
#     pss: "restricted: Running as Non-root user"
#     trivy:
#       - {id: KSV105, match: partial, note: "trivy also flags pods with hostUsers: false, which run in a user namespace and are exempt here"}
package kubegate.rules.security.run_as_root_user

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	not sec.user_namespaced(ps)
	sec.pod_sc(ps).runAsUser == 0
	v := {
		"msg": "pod sets `runAsUser: 0`: its containers run as root unless they override it",
		"path": array.concat(sec.pod_sc_path(ps), ["runAsUser"]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.user_namespaced(c.pod)
	sec.container_sc(c).runAsUser == 0
	v := {
		"msg": sprintf("container `%s` sets `runAsUser: 0` and runs as root", [k8s.name(c)]),
		"path": array.concat(c.path, ["securityContext", "runAsUser"]),
	}
}
