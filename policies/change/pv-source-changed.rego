# METADATA
# title: PersistentVolume's volume source changes (immutable)
# description: |
#   A PersistentVolume's volume source (`csi`, `nfs`, `hostPath`, `local` and the other
#   in-tree sources) cannot change after creation: the API server rejects the update, so the
#   sync fails after the merge and nothing in the cluster changes. Applying the change means
#   deleting the PersistentVolume, which under reclaim policy `Delete` deletes its storage,
#   and rebinding its claim by hand. A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#persistent-volumes
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/persistent-volume-v1/
# custom:
#   id: KG717
#   name: pv-source-changed
#   severity: error
#   category: change
#   kinds: [PersistentVolume]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Revert the source. To point a claim at other storage, create a new PersistentVolume
#     (with reclaim policy `Retain`), bind a new claim to it and move the workload over.
package kubegate.rules.change.pv_source_changed

import rego.v1

import data.kubegate.lib.change

sources := [
	"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
	"flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local",
	"nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos",
	"vsphereVolume",
]

changed := [s | some s in sources; change.differs(["spec", s])]

# The first changed source the head object has, else spec.
at_head := [["spec", s] | some s in changed; change.new_at(["spec", s]) != data.kubegate.lib.change.absent]

path := at_head[0] if count(at_head) > 0

path := ["spec"] if count(at_head) == 0

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolume"
	data.kubegate.lib.change.updated
	count(changed) > 0
	v := {
		"msg": change.rejected(
			sprintf("the volume source is immutable and changes (%s)", [concat(", ", [sprintf("`spec.%s`", [s]) | some s in changed])]),
			"and under reclaim policy Delete its storage with it; its claim must be rebound by hand",
		),
		"path": change.head_path(path),
	}
}
