# METADATA
# title: PersistentVolumeClaim is deleted with its volume
# description: |
#   Deleting a PersistentVolumeClaim releases its PersistentVolume, and under reclaim policy
#   `Delete`, the default of dynamically provisioned volumes, the volume and its data are
#   deleted with it. Renaming the claim deletes the old one too: the new claim gets a new,
#   empty volume. Reverting the merge creates an empty PVC, not the data.
#
#   Deletions kept in the cluster by a prune setting are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reclaiming
#   - ref: https://kubernetes.io/docs/concepts/storage/persistent-volumes/#storage-object-in-use-protection
# custom:
#   id: KG703
#   name: pvc-deleted
#   severity: error
#   category: change
#   kinds: [PersistentVolumeClaim]
#   scope: change
#   effect: destroys
#   remediation: |
#     Back up the data first. To keep the volume, set its PersistentVolume's
#     `persistentVolumeReclaimPolicy` to `Retain` before deleting the claim. To stop managing
#     the claim without deleting it, annotate it with `kustomize.toolkit.fluxcd.io/prune:
#     disabled` (Flux), `argocd.argoproj.io/sync-options: Prune=false` (Argo CD) or
#     `helm.sh/resource-policy: keep` (Helm) and sync before removing it.
package kubegate.rules.change.pvc_deleted

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "PersistentVolumeClaim"
	data.kubegate.lib.change.destroyed
	v := {
		"msg": sprintf("%s%s: its volume and data are deleted with it under reclaim policy Delete (the default of dynamically provisioned volumes); a revert creates an empty PVC", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how]),
		"path": [],
	}
}
