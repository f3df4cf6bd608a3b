# METADATA
# title: Object removed from the repository but kept in the cluster
# description: |
#   The merge request removes an object whose prune setting keeps it in the cluster: Flux's
#   `kustomize.toolkit.fluxcd.io/prune: disabled` annotation or label, Argo CD's
#   `argocd.argoproj.io/sync-options: Prune=false`, or Helm's `helm.sh/resource-policy: keep`.
#   Nothing is deleted, so the destructive deletion rules (KG701 to KG705) stay silent;
#   but the object is no longer managed: later changes to it in the repository do not reach
#   it, and it stays until someone deletes it by hand.
# related_resources:
#   - ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#garbage-collection
#   - ref: https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-prune-resources
#   - ref: https://helm.sh/docs/howto/charts_tips_and_tricks/#tell-helm-not-to-uninstall-a-resource
# custom:
#   id: KG706
#   name: deletion-not-pruned
#   severity: info
#   category: change
#   kinds: [Namespace, CustomResourceDefinition, PersistentVolumeClaim, PersistentVolume, StatefulSet]
#   scope: change
#   effect: risky
#   remediation: |
#     Nothing to fix if leaving the object unmanaged is the intent. To delete it, delete it in
#     the cluster on purpose (after backing up its data); to keep managing it, keep it in the
#     repository.
package kubegate.rules.change.deletion_not_pruned

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.deleted
	k := data.kubegate.lib.change.kept
	v := {
		"msg": sprintf("%s is removed from the repository, but %s keeps it in the cluster: nothing is deleted; it is no longer managed, and a revert manages it again", [data.kubegate.lib.change.subject, k]),
		"path": [],
	}
}
