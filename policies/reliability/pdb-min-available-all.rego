# METADATA
# title: PodDisruptionBudget requires all pods available (minAvailable 100%)
# description: |
#   With `minAvailable: "100%"` a PodDisruptionBudget never lets the eviction API take down
#   one of its pods, whatever the replica count. Every voluntary disruption is refused:
#   `kubectl drain` and cluster autoscaler scale-downs hang on the node, and node upgrades
#   stall until someone deletes the budget or the pods by hand.
#
#   An integer (or a smaller percentage) that is at least the replicas of the selected
#   workload blocks evictions the same way; pdb-min-available-replicas (KG415) compares the
#   budget with the workloads of the run for that. kube-linter's pdb-min-available does both
#   in one check, so it is a partial equivalent of either.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/disruptions/
# custom:
#   id: KG412
#   name: pdb-min-available-all
#   severity: warning
#   category: reliability
#   kinds: [PodDisruptionBudget]
#   remediation: |
#     Lower `minAvailable` below 100% (or use `maxUnavailable: 1`), and run enough replicas
#     that losing one is acceptable.
#   equivalents:
#     kube-linter:
#       - {id: pdb-min-available, match: partial, note: "kube-linter also compares an integer minAvailable with the replicas (pdb-min-available-replicas here)"}
package kubegate.rules.reliability.pdb_min_available_all

import rego.v1

import data.kubegate.lib.workload

violation contains v if {
	input.kind == "PodDisruptionBudget"
	m := input.spec.minAvailable
	is_string(m)
	regex.match(`^0*100%$`, m)
	v := {
		"msg": sprintf("PodDisruptionBudget `%s` sets minAvailable to %s: no pod may ever be evicted, so node drains hang", [data.kubegate.lib.workload.object_name, m]),
		"path": ["spec", "minAvailable"],
	}
}
