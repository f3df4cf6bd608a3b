# METADATA
# title: Pod uses a volume type outside the restricted set
# description: |
#   The Pod Security Standards "restricted" profile allows only the volume types that do not
#   let a pod reach storage or the node on its own terms: configMap, csi, downwardAPI,
#   emptyDir, ephemeral, image (Kubernetes 1.33+), persistentVolumeClaim, projected and
#   secret. Other in-tree types (nfs, iscsi, rbd, cephfs, awsElasticBlockStore, ...) mount
#   storage directly from the pod spec, bypassing PersistentVolume access control, and
#   `gitRepo` is deprecated and has allowed code execution on the node (CVE-2024-10220).
#   hostPath is reported by host-path-volume and container-runtime-socket, not here.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
#   - ref: https://kubernetes.io/docs/concepts/storage/volumes/
# custom:
#   id: KG121
#   name: disallowed-volume-type
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Define the storage as a PersistentVolume (or a CSI driver with a StorageClass) and
#     reference it through a `persistentVolumeClaim`; replace `gitRepo` with an init
#     container that clones into an `emptyDir`.
#   equivalents:
#     pss: "restricted: Volume Types"
#     trivy:
#       - {id: KSV028, match: partial, note: "trivy flags a fixed list of in-tree volume types; kubegate every type outside the restricted allow-list"}
package kubegate.rules.security.disallowed_volume_type

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

allowed := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

# Not volume sources, or reported by other rules.
ignored := {"name", "hostPath"}

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	some i, vol in sec.arr(object.get(ps.spec, "volumes", []))
	some kind, source in sec.obj(vol)
	not kind in allowed
	not kind in ignored
	source != null
	v := {
		"msg": sprintf("volume `%v` is of type `%s`, which the restricted profile does not allow%s", [object.get(vol, "name", "?"), kind, note(kind)]),
		"path": array.concat(ps.path, ["volumes", i, kind]),
	}
}

note(kind) := " (deprecated, and the kubelet runs git on the node to fill it)" if {
	kind == "gitRepo"
} else := ""
