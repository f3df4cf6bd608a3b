# METADATA
# title: PersistentVolumeClaim's class, access modes, selector, volume mode or volume change (immutable)
# description: |
#   A PersistentVolumeClaim's spec cannot change after creation but for its storage request
#   (to grow) and its volume attributes class: a change of `storageClassName`,
#   `accessModes`, `selector`, `volumeMode` or (once set) `volumeName` is rejected by the API
#   server, so the sync fails after the merge and nothing in the cluster changes. Applying
#   it means deleting the claim, and with it, under reclaim policy `Delete`, its volume and
#   data. A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#persistentvolumeclaims
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims
# custom:
#   id: KG715
#   name: pvc-immutable-field
#   severity: error
#   category: change
#   kinds: [PersistentVolumeClaim]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Revert the field. To move data to another class or access mode, create a new claim,
#     copy the data (or restore a VolumeSnapshot into it) and switch the workload over.
package kubegate.rules.change.pvc_immutable_field

import rego.v1

import data.kubegate.lib.change

consequence := "and with it, under reclaim policy Delete, its volume and data"

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolumeClaim"
	some f in ["storageClassName", "accessModes", "selector"]
	path := ["spec", f]
	change.differs(path)
	v := {"msg": change.rejected(change.immutable(path), consequence), "path": change.head_path(path)}
}

# An absent volumeMode is Filesystem: writing the default out is no change.
violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolumeClaim"
	path := ["spec", "volumeMode"]
	change.differs_or(path, "Filesystem")
	v := {
		"msg": change.rejected(sprintf("`spec.volumeMode` is immutable (from %s to %s)", [
			change.at(data.kubegate.lib.change.old, path, "Filesystem"),
			change.at(data.kubegate.lib.change.new, path, "Filesystem"),
		]), consequence),
		"path": change.head_path(path),
	}
}

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolumeClaim"
	path := ["spec", "volumeName"]
	change.differs_both(path)
	v := {"msg": change.rejected(change.immutable(path), consequence), "path": path}
}
