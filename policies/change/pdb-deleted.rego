# METADATA
# title: PodDisruptionBudget is deleted
# description: |
#   Without its PodDisruptionBudget, voluntary disruptions are no longer limited: a node
#   drain, a cluster upgrade or an autoscaler scale-down may evict all the pods it protected
#   at once. Reverting the merge restores the budget (and the protection from then on).
#
#   Deletions kept in the cluster by a prune setting are reported by KG706 instead.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/disruptions/
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/
# custom:
#   id: KG732
#   name: pdb-deleted
#   severity: warning
#   category: change
#   kinds: [PodDisruptionBudget]
#   scope: change
#   effect: risky
#   remediation: |
#     Keep a budget for every workload that must stay available during node maintenance, or
#     delete it together with the workload it protects.
package kubegate.rules.change.pdb_deleted

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "PodDisruptionBudget"
	data.kubegate.lib.change.destroyed
	v := {
		"msg": sprintf("%s%s: voluntary disruptions (node drains, upgrades) may take down all the pods it protected at once; a revert restores it", [data.kubegate.lib.change.subject, data.kubegate.lib.change.deleted_how]),
		"path": [],
	}
}
