# METADATA
# title: Namespace is deleted with everything in it
# description: |
#   When a merge request removes a Namespace (or renames it, which deletes the old one), the
#   GitOps controller prunes it, and Kubernetes deletes every object in it: workloads,
#   Secrets, ConfigMaps, Services and PersistentVolumeClaims, whose dynamically provisioned
#   volumes are deleted with them. Objects managed from other files, other applications or
#   by hand go too. Reverting the merge creates an empty namespace: its objects come back only
#   if GitOps still manages them, and the data of its volumes is gone.
#
#   Deletions kept in the cluster by a prune setting (Flux's
#   `kustomize.toolkit.fluxcd.io/prune: disabled`, Argo CD's `Prune=false` sync option,
#   Helm's `helm.sh/resource-policy: keep`) are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
#   - ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#garbage-collection
# custom:
#   id: KG701
#   name: namespace-deleted
#   severity: error
#   category: change
#   kinds: [Namespace]
#   scope: change
#   effect: destroys
#   remediation: |
#     Make sure nothing in the namespace is still needed and its data is backed up, then
#     delete it on purpose. To stop managing it without deleting it, first annotate it with
#     `kustomize.toolkit.fluxcd.io/prune: disabled` (Flux) or
#     `argocd.argoproj.io/sync-options: Prune=false` (Argo CD) and sync, then remove it.
package kubegate.rules.change.namespace_deleted

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "Namespace"
	data.kubegate.lib.change.destroyed
	v := {
		"msg": sprintf("%s%s with every object in it, PersistentVolumeClaims and their data included; a revert creates an empty namespace: its objects come back only if GitOps still manages them, their data does not", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how]),
		"path": [],
	}
}
