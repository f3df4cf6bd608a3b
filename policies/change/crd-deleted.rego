# METADATA
# title: CustomResourceDefinition is deleted with all its custom resources
# description: |
#   Deleting a CustomResourceDefinition deletes every custom resource of its kind in the
#   whole cluster, in every namespace, including those that other teams or operators
#   created. Controllers that own those resources (certificates, databases, monitors) see
#   them deleted and tear down what they manage. Reverting the merge restores the definition,
#   not the resources: only those still in a GitOps repository come back.
#
#   Deletions kept in the cluster by a prune setting are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#delete-a-customresourcedefinition
# custom:
#   id: KG702
#   name: crd-deleted
#   severity: error
#   category: change
#   kinds: [CustomResourceDefinition]
#   scope: change
#   effect: destroys
#   remediation: |
#     Keep the definition until no custom resource of its kind is needed. To stop managing
#     it without deleting it, annotate it with `kustomize.toolkit.fluxcd.io/prune: disabled`
#     (Flux), `argocd.argoproj.io/sync-options: Prune=false` (Argo CD) or
#     `helm.sh/resource-policy: keep` (Helm) and sync before removing it.
package kubegate.rules.change.crd_deleted

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.destroyed
	v := {
		"msg": sprintf("%s%s: every %s (%s) in the cluster is deleted with it; a revert restores the definition, not the resources", [
			data.kubegate.lib.change.subject,
			data.kubegate.lib.change.deleted_how,
			text(change.at(data.kubegate.lib.change.old, ["spec", "names", "kind"], "custom resource")),
			text(change.at(data.kubegate.lib.change.old, ["spec", "group"], "its group")),
		]),
		"path": [],
	}
}

text(s) := s if is_string(s)

text(s) := json.marshal(s) if not is_string(s)
