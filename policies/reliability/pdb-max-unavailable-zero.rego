# METADATA
# title: PodDisruptionBudget allows no voluntary disruption (maxUnavailable 0)
# description: |
#   With `maxUnavailable: 0` (or `"0%"`) a PodDisruptionBudget never lets the eviction API
#   take down one of its pods. Every voluntary disruption is refused: `kubectl drain` and
#   cluster autoscaler scale-downs hang on the node, and node upgrades stall until someone
#   deletes the budget or the pods by hand. A budget is meant to limit disruptions, not to
#   forbid them.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/disruptions/
# custom:
#   id: KG411
#   name: pdb-max-unavailable-zero
#   severity: warning
#   category: reliability
#   kinds: [PodDisruptionBudget]
#   remediation: |
#     Set `maxUnavailable` to at least 1 (or a percentage that rounds up to at least one pod),
#     and run enough replicas that losing one is acceptable.
#   equivalents:
#     kube-linter: [pdb-max-unavailable]
package kubegate.rules.reliability.pdb_max_unavailable_zero

import rego.v1

import data.kubegate.lib.workload

zero(v) if {
	is_number(v)
	v == 0
}

zero(v) if {
	is_string(v)
	regex.match(`^0+%$`, v)
}

violation contains v if {
	input.kind == "PodDisruptionBudget"
	m := input.spec.maxUnavailable
	zero(m)
	v := {
		"msg": sprintf("PodDisruptionBudget `%s` sets maxUnavailable to %v: no pod may ever be evicted, so node drains hang", [data.kubegate.lib.workload.object_name, m]),
		"path": ["spec", "maxUnavailable"],
	}
}
