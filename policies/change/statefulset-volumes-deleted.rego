# METADATA
# title: StatefulSet with volume claim templates is deleted
# description: |
#   Deleting a StatefulSet deletes its pods. What happens to the PersistentVolumeClaims its
#   `volumeClaimTemplates` created depends on
#   `spec.persistentVolumeClaimRetentionPolicy.whenDeleted`: under `Delete` the claims are
#   deleted, and with them their dynamically provisioned volumes and data; a revert creates
#   empty volumes. Under `Retain` (the default) the claims stay and a revert of the merge
#   re-attaches them to the recreated pods, but the application is down until then. Renaming
#   the StatefulSet deletes the old one too, and the new one claims new, empty volumes (its
#   claims are named after it).
#
#   Deletions kept in the cluster by a prune setting are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#persistentvolumeclaim-retention
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-storage
# custom:
#   id: KG705
#   name: statefulset-volumes-deleted
#   severity: error
#   category: change
#   kinds: [StatefulSet]
#   scope: change
#   effect: destroys
#   remediation: |
#     Back up the volumes first and keep `persistentVolumeClaimRetentionPolicy.whenDeleted:
#     Retain` (the default) unless losing the data is intended. To stop managing the
#     StatefulSet without deleting it, annotate it with `kustomize.toolkit.fluxcd.io/prune:
#     disabled` (Flux) or `argocd.argoproj.io/sync-options: Prune=false` (Argo CD) and sync
#     before removing it.
package kubegate.rules.change.statefulset_volumes_deleted

import rego.v1

import data.kubegate.lib.change

templates := change.at(data.kubegate.lib.change.old, ["spec", "volumeClaimTemplates"], [])

# The claims' names: `<template>-<statefulset>-<ordinal>`.
claims := concat(", ", sort([sprintf("`%s-%s-N`", [n, data.kubegate.lib.change.name]) |
	some t in templates
	n := change.at(t, ["metadata", "name"], "(unnamed)")
]))

when_deleted := change.at(data.kubegate.lib.change.old, ["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], "Retain")

violation contains v if {
	data.kubegate.lib.change.kind == "StatefulSet"
	data.kubegate.lib.change.destroyed
	is_array(templates)
	count(templates) > 0
	when_deleted == "Delete"
	v := {
		"msg": sprintf("%s%s and its persistentVolumeClaimRetentionPolicy.whenDeleted is Delete: its pods and the PersistentVolumeClaims of its volume claim templates (%s) are deleted with their data; a revert creates empty volumes", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how, claims]),
		"path": [],
	}
}

violation contains v if {
	data.kubegate.lib.change.kind == "StatefulSet"
	data.kubegate.lib.change.destroyed
	is_array(templates)
	count(templates) > 0
	when_deleted != "Delete"
	v := {
		"msg": sprintf("%s%s: its pods are deleted and the PersistentVolumeClaims of its volume claim templates (%s) are kept (whenDeleted %v), so the application is down until a revert recreates it and re-attaches them", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how, claims, when_deleted]),
		"path": [],
	}
}
