# METADATA
# title: Pod or container runs with the root group (GID 0)
# description: |
#   `runAsGroup: 0` makes GID 0 the primary group of the container's processes, and
#   `supplementalGroups` or `fsGroup` containing 0 adds it to every process of the pod (and
#   makes the pod's volumes group-owned by root). Files and devices that images and nodes
#   leave writable or readable to the root group (`/etc/shadow` copies, sockets, host
#   mounts) are then open to the container, even when it runs with a non-root UID, and a
#   process running as root group is one `setuid` away from more. Pods with
#   `hostUsers: false` run in a user namespace, where GID 0 maps to an unprivileged group on
#   the node; they are not flagged, as run-as-root-user does not flag UID 0 there. Images
#   built for OpenShift's arbitrary UIDs rely on root-group file permissions, but they do
#   not need the pod to set GID 0 explicitly, hence the info severity.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
# custom:
#   id: KG125
#   name: run-as-root-group
#   severity: info
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `runAsGroup`, `fsGroup` and the `supplementalGroups` to non-zero GIDs (or leave
#     them out). If the workload really needs GID 0, run it in a user namespace with
#     `spec.hostUsers: false`.
#   equivalents:
#     kube-linter:
#       - {id: run-as-non-root, match: partial, note: "kube-linter flags only runAsGroup 0, not supplementalGroups or fsGroup, and also a missing runAsNonRoot (run-as-non-root-missing here)"}
#     trivy:
#       - {id: KSV116, match: partial, note: "trivy does not exempt pods with hostUsers: false, which run in a user namespace"}
package kubegate.rules.security.run_as_root_group

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	not sec.user_namespaced(ps)
	some field in ["runAsGroup", "fsGroup"]
	sec.pod_sc(ps)[field] == 0
	v := {
		"msg": sprintf("pod sets `%s: 0`: its containers run with the root group", [field]),
		"path": array.concat(sec.pod_sc_path(ps), [field]),
	}
}

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	not sec.user_namespaced(ps)
	groups := sec.pod_sc(ps).supplementalGroups
	is_array(groups)
	some i, gid in groups
	gid == 0
	v := {
		"msg": "pod adds the root group (GID 0) to `supplementalGroups` of its containers",
		"path": array.concat(sec.pod_sc_path(ps), ["supplementalGroups", i]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.user_namespaced(c.pod)
	sec.container_sc(c).runAsGroup == 0
	v := {
		"msg": sprintf("container `%s` sets `runAsGroup: 0` and runs with the root group", [k8s.name(c)]),
		"path": array.concat(c.path, ["securityContext", "runAsGroup"]),
	}
}
