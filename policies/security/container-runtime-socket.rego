# METADATA
# title: Pod mounts the container runtime socket of the node
# description: |
#   The container runtime's API socket (Docker's `docker.sock`, containerd's
#   `containerd.sock`, CRI-O's `crio.sock`, and the like) accepts requests to start
#   privileged containers, mount the node's root filesystem and exec into any container on
#   the node. A pod that mounts it through a hostPath volume (the socket itself, or the
#   runtime's state directory such as `/run/containerd` that holds it) effectively has root on
#   the node and control over every other pod there. This is a hostPath volume, forbidden by
#   the Pod Security Standards "baseline" profile, singled out as an error; host-path-volume
#   does not report it again.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: KG109
#   name: container-runtime-socket
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Do not mount the runtime socket. Build images with a daemonless builder (BuildKit
#     rootless, kaniko, buildah), read container metadata from the Kubernetes API or the
#     kubelet, and use the CRI only from components that are part of the node.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_27, match: partial, note: "checkov flags only the path /var/run/docker.sock; kubegate also the other runtimes' sockets and state directories"}
#     kube-linter:
#       - {id: docker-sock, match: partial, note: "kube-linter flags hostPaths ending in docker.sock; kubegate also containerd, CRI-O and other runtimes' sockets"}
#     pss: "baseline: HostPath Volumes"
#     trivy:
#       - {id: KSV006, match: partial, note: "trivy flags only the path /var/run/docker.sock; kubegate also the other runtimes' sockets and state directories"}
package kubegate.rules.security.container_runtime_socket

import rego.v1

import data.kubegate.lib.security as sec

violation contains v if {
	some h in data.kubegate.lib.security.host_path_volumes
	s := sec.runtime_socket(h.hp.path)
	v := {
		"msg": sprintf("volume `%v` %s", [object.get(h.vol, "name", "?"), what(h.hp.path, s)]),
		"path": array.concat(h.path, ["path"]),
	}
}

what(p, s) := sprintf("mounts the %s socket `%s` from the node", [s.runtime, s.socket]) if {
	sec.clean_path(p) == s.socket
} else := sprintf("mounts `%s` from the node, which holds the %s socket `%s`", [p, s.runtime, s.socket]) if {
	sec.clean_path(p) != s.socket
} else := sprintf("mounts the %s pipe `%s` from the node", [s.runtime, s.socket])
