# METADATA
# title: Pod mounts a directory or file of the node (hostPath volume)
# description: |
#   A hostPath volume gives the pod the node's filesystem: reading other pods' data, kubelet
#   credentials or secrets on the node, and, when writable, planting binaries or
#   configuration the node will run. It also ties the pod to what is on one node. The Pod
#   Security Standards "baseline" profile forbids hostPath volumes. A hostPath that exposes a
#   container runtime socket is reported by container-runtime-socket instead (an error) and
#   not again here.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
# custom:
#   id: KG108
#   name: host-path-volume
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Use a volume type that does not expose the node: `emptyDir` for scratch space, a
#     `persistentVolumeClaim` for data, `configMap`/`secret`/`projected` for configuration,
#     or a CSI driver. Node agents that must read host files should mount the narrowest path,
#     with `readOnly: true` on the volumeMount.
#   equivalents:
#     kube-linter:
#       - {id: sensitive-host-mounts, match: partial, note: "kube-linter flags only hostPaths of /, /boot, /dev, /etc, /lib, /proc, /sys and /usr; kubegate every hostPath"}
#       - {id: writable-host-mount, match: partial, note: "kube-linter flags only hostPath mounts without readOnly: true; kubegate every hostPath"}
#     pss: "baseline: HostPath Volumes"
#     trivy:
#       - {id: KSV023, match: partial, note: "trivy also flags runtime sockets, which container-runtime-socket reports here"}
#       - {id: KSV121, match: partial, note: "trivy flags only hostPaths of /, /boot, /dev, /etc, /lib, /proc, /sys, /usr and /var/lib/docker; kubegate every hostPath"}
package kubegate.rules.security.host_path_volume

import rego.v1

import data.kubegate.lib.security as sec

violation contains v if {
	some h in data.kubegate.lib.security.host_path_volumes
	not sec.runtime_socket(h.hp.path)
	v := {
		"msg": sprintf("volume `%v` mounts the host path `%v`", [object.get(h.vol, "name", "?"), object.get(h.hp, "path", "")]),
		"path": h.path,
	}
}
