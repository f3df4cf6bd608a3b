# METADATA
# title: StorageClass's provisioner, parameters, reclaim policy or binding mode change (immutable)
# description: |
#   A StorageClass's `provisioner`, `parameters`, `reclaimPolicy` and `volumeBindingMode`
#   cannot change after creation: the API server rejects the update, so the sync fails after
#   the merge and nothing in the cluster changes. Applying the change means deleting and
#   recreating the StorageClass; existing volumes keep the settings they were provisioned
#   with, only new ones get the new settings. A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/storage-classes/
# custom:
#   id: KG718
#   name: storageclass-immutable-field
#   severity: error
#   category: change
#   kinds: [StorageClass]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Create a StorageClass under a new name with the new settings and point new claims at
#     it, or delete and recreate the class (existing volumes are not affected).
package kubegate.rules.change.storageclass_immutable_field

import rego.v1

import data.kubegate.lib.change

fields := [
	{"f": "provisioner", "unset": data.kubegate.lib.change.absent},
	{"f": "parameters", "unset": {}},
	{"f": "reclaimPolicy", "unset": "Delete"},
	{"f": "volumeBindingMode", "unset": "Immediate"},
]

violation contains v if {
	data.kubegate.lib.change.kind == "StorageClass"
	some x in fields
	path := [x.f]
	change.differs_or(path, x.unset)
	v := {
		"msg": change.rejected(
			sprintf("`%s` is immutable (from %s to %s)", [
				x.f,
				change.show(change.at(data.kubegate.lib.change.old, path, x.unset)),
				change.show(change.at(data.kubegate.lib.change.new, path, x.unset)),
			]),
			"existing volumes keep the old settings, only new volumes get the new ones",
		),
		"path": change.head_path(path),
	}
}
