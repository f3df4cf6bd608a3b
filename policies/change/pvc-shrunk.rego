# METADATA
# title: PersistentVolumeClaim's storage request shrinks
# description: |
#   A PersistentVolumeClaim's `spec.resources.requests.storage` may grow (when its storage
#   class allows expansion) but never shrink: the API server rejects the update, so the sync
#   fails after the merge and nothing in the cluster changes. A smaller volume means a new
#   claim and a copy of the data. A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims
# custom:
#   id: KG716
#   name: pvc-shrunk
#   severity: error
#   category: change
#   kinds: [PersistentVolumeClaim]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Keep the request at least as large as the current one. To move to a smaller volume,
#     create a new claim, copy the data and switch the workload over.
package kubegate.rules.change.pvc_shrunk

import rego.v1

import data.kubegate.lib.change

path := ["spec", "resources", "requests", "storage"]

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolumeClaim"
	data.kubegate.lib.change.updated
	o := change.old_at(path)
	n := change.new_at(path)
	change.quantity(n) < change.quantity(o)
	v := {
		"msg": change.rejected(
			sprintf("`%s` shrinks from %v to %v, and storage may not shrink", [change.field(path), o, n]),
			"and its data copied to the new claim first",
		),
		"path": path,
	}
}
