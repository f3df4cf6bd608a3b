# Helpers for the security rules: security contexts of pods and containers (a missing or
# null securityContext reads as {}), where a finding about a missing field should land, and
# the Pod Security Standards exemptions (Windows pods, user-namespaced pods).
package kubegate.lib.security

import rego.v1

import data.kubegate.lib.k8s

# x if it is an object, else {} (so a missing or `null` field reads as empty).
obj(x) := x if {
	is_object(x)
} else := {}

# x if it is an array, else [] (so iterating a missing or malformed list yields nothing).
arr(x) := x if {
	is_array(x)
} else := []

# The container's securityContext ({} when missing or null).
container_sc(c) := obj(object.get(c.c, "securityContext", {}))

# The pod's securityContext ({} when missing or null).
pod_sc(ps) := obj(object.get(ps.spec, "securityContext", {}))

# Where a finding about a field missing from the container's securityContext lands: the
# securityContext when the container has one, else the container itself.
container_sc_path(c) := array.concat(c.path, ["securityContext"]) if {
	is_object(object.get(c.c, "securityContext", null))
} else := c.path

# The path of the pod's securityContext.
pod_sc_path(ps) := array.concat(ps.path, ["securityContext"])

# The path of the pod template's metadata, the sibling of its spec.
meta_path(ps) := array.concat(array.slice(ps.path, 0, count(ps.path) - 1), ["metadata"])

# Pods declaring `spec.os.name: windows` are exempt from the Linux-only restricted controls
# (privilege escalation, seccomp, capabilities) and cannot set Linux-only fields.
windows(ps) if ps.spec.os.name == "windows"

# Pods in a user namespace (`hostUsers: false`): root in the container is not root on the
# node, and Pod Security (policy v1.35+) skips the runAsNonRoot and runAsUser checks.
user_namespaced(ps) if ps.spec.hostUsers == false

# The capabilities the baseline profile lets a container add.
baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

# Every `capabilities.add` entry of every container: {"c": <container>, "cap": <value>, "path": [...]}.
added_capabilities contains {"c": c, "cap": cap, "path": array.concat(c.path, ["securityContext", "capabilities", "add", i])} if {
	some c in data.kubegate.lib.k8s.containers
	caps := obj(object.get(container_sc(c), "capabilities", {}))
	some i, cap in arr(object.get(caps, "add", []))
	is_string(cap)
}

# A capability as written, without a CAP_ prefix and in upper case, to tell a misspelling of
# an allowed capability from a different one in messages.
canonical_capability(cap) := trim_prefix(upper(cap), "CAP_")

# Every hostPath volume of every pod spec: {"ps": <pod spec entry>, "vol": <volume>, "hp": <hostPath>, "path": [..., "volumes", i, "hostPath"]}.
host_path_volumes contains {"ps": ps, "vol": vol, "hp": vol.hostPath, "path": array.concat(ps.path, ["volumes", i, "hostPath"])} if {
	some ps in data.kubegate.lib.k8s.pod_specs
	some i, vol in arr(object.get(ps.spec, "volumes", []))
	is_object(vol.hostPath)
}

# A host path without repeated or trailing slashes: `/var/run//docker.sock/` -> `/var/run/docker.sock`.
clean_path(p) := concat("", ["/", concat("/", [s | some s in split(p, "/"); s != ""])]) if {
	is_string(p)
	startswith(p, "/")
}

# Container runtime API sockets (file names) and the runtime each belongs to.
runtime_socket_files := {
	"docker.sock": "Docker",
	"containerd.sock": "containerd",
	"crio.sock": "CRI-O",
	"cri-dockerd.sock": "cri-dockerd",
	"dockershim.sock": "dockershim",
	"podman.sock": "Podman",
}

# Runtime state directories whose mount exposes the runtime socket inside them.
runtime_socket_dirs := {
	"/run/containerd": "/run/containerd/containerd.sock",
	"/var/run/containerd": "/var/run/containerd/containerd.sock",
	"/run/k3s/containerd": "/run/k3s/containerd/containerd.sock",
	"/run/crio": "/run/crio/crio.sock",
	"/var/run/crio": "/var/run/crio/crio.sock",
	"/run/podman": "/run/podman/podman.sock",
	"/var/run/podman": "/var/run/podman/podman.sock",
}

# Windows named pipes of the Docker engine and containerd.
runtime_pipes := {"docker_engine": "Docker", "containerd-containerd": "containerd"}

# The runtime socket a host path exposes, as {"socket": <what to name>, "runtime": <runtime>}; undefined otherwise.
# Each body ends on a defined `false` (`in`, `is_string`), never on an undefined lookup:
# regorus's VM does not fall through to `else` after an undefined result (BENCHMARKS.md).
runtime_socket(p) := r if {
	is_string(p)
	startswith(p, "/")
	cp := clean_path(p)
	base := basename(cp)
	base in object.keys(runtime_socket_files)
	r := {"socket": cp, "runtime": runtime_socket_files[base]}
} else := r if {
	is_string(p)
	startswith(p, "/")
	cp := clean_path(p)
	cp in object.keys(runtime_socket_dirs)
	sock := runtime_socket_dirs[cp]
	r := {"socket": sock, "runtime": runtime_socket_files[basename(sock)]}
} else := r if {
	is_string(p)
	rts := [rt | some pipe, rt in runtime_pipes; endswith(lower(p), concat("", ["pipe\\", pipe]))]
	count(rts) > 0
	r := {"socket": p, "runtime": rts[0]}
}

basename(p) := b if {
	parts := split(p, "/")
	b := parts[count(parts) - 1]
}
