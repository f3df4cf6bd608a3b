# METADATA
# title: PersistentVolume is deleted
# description: |
#   Deleting a PersistentVolume does what its `spec.persistentVolumeReclaimPolicy` says.
#   Under `Delete` the storage on the backend (the cloud disk, the CSI volume) is deleted with
#   it and a revert cannot bring the data back. Under `Retain` (the default of a PersistentVolume
#   created from a manifest) the data stays on the backend, but the PersistentVolume object
#   is gone: its claim is left `Lost`, and a revert creates a new PersistentVolume that does not
#   rebind to the claim by itself.
#
#   Deletions kept in the cluster by a prune setting are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reclaim-policy
#   - ref: https://kubernetes.io/docs/tasks/administer-cluster/change-pv-reclaim-policy/
# custom:
#   id: KG704
#   name: pv-deleted
#   severity: error
#   category: change
#   kinds: [PersistentVolume]
#   scope: change
#   effect: destroys
#   remediation: |
#     Delete the claim that uses the volume first, and set `persistentVolumeReclaimPolicy:
#     Retain` if the data must survive. To stop managing the volume without deleting it,
#     annotate it with `kustomize.toolkit.fluxcd.io/prune: disabled` (Flux) or
#     `argocd.argoproj.io/sync-options: Prune=false` (Argo CD) and sync before removing it.
package kubegate.rules.change.pv_deleted

import rego.v1

import data.kubegate.lib.change

policy := change.at(data.kubegate.lib.change.old, ["spec", "persistentVolumeReclaimPolicy"], "Retain")

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolume"
	data.kubegate.lib.change.destroyed
	policy == "Delete"
	v := {
		"msg": sprintf("%s%s and its reclaim policy is Delete: the storage on the backend is deleted with it; a revert creates a PersistentVolume without the data", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how]),
		"path": [],
	}
}

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolume"
	data.kubegate.lib.change.destroyed
	policy != "Delete"
	v := {
		"msg": sprintf("%s%s with reclaim policy %v: the data stays on the backend, but the PersistentVolume object is gone and its claim is left Lost; a revert recreates it, which does not rebind to the claim automatically", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how, policy]),
		"path": [],
	}
}
