# METADATA
# title: StatefulSet's volume claim templates, service name or pod management policy change (immutable)
# description: |
#   A StatefulSet's `spec.volumeClaimTemplates`, `spec.serviceName` and
#   `spec.podManagementPolicy` cannot change after creation: the API server rejects the
#   update ("updates to statefulset spec for fields other than ... are forbidden"), so the
#   sync fails after the merge and nothing in the cluster changes. Applying the change means
#   deleting and recreating the StatefulSet; a revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#limitations
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#volume-claim-templates
# custom:
#   id: KG712
#   name: statefulset-immutable-field
#   severity: error
#   category: change
#   kinds: [StatefulSet]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Revert the field. To change it, delete the StatefulSet with `--cascade=orphan` (its pods
#     and PersistentVolumeClaims stay) and let GitOps recreate it; to grow a volume, resize
#     each PersistentVolumeClaim instead of the template.
package kubegate.rules.change.statefulset_immutable_field

import rego.v1

import data.kubegate.lib.change

# Field, its value when absent, and what recreating the StatefulSet does.
fields := [
	{"f": "volumeClaimTemplates", "unset": [], "then": "delete it with --cascade=orphan to keep its pods and PersistentVolumeClaims; existing claims keep their old size and class"},
	{"f": "serviceName", "unset": "", "then": "its pods are recreated with DNS names under the new service"},
	{"f": "podManagementPolicy", "unset": "OrderedReady", "then": "its pods are recreated"},
]

violation contains v if {
	data.kubegate.lib.change.kind == "StatefulSet"
	some x in fields
	path := ["spec", x.f]
	change.differs_or(path, x.unset)
	v := {"msg": change.rejected(what(path, x), x.then), "path": change.first_change(path)}
}

# volumeClaimTemplates are too long to show.
what(path, x) := sprintf("`%s` is immutable and changes%s", [change.field(path), change.changed_where(path)]) if x.f == "volumeClaimTemplates"

what(path, x) := sprintf("`%s` is immutable (from %s to %s)", [
	change.field(path),
	change.show(change.at(data.kubegate.lib.change.old, path, x.unset)),
	change.show(change.at(data.kubegate.lib.change.new, path, x.unset)),
]) if {
	x.f != "volumeClaimTemplates"
}
