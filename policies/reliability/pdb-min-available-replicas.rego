# METADATA
# title: PodDisruptionBudget's minAvailable leaves no pod of a workload evictable
# description: |
#   The eviction API refuses to evict a pod when that would leave fewer than `minAvailable`
#   of the budget's pods running. When `minAvailable` is at least the `replicas` of the
#   workload whose pods the budget selects (a percentage is rounded up, as the disruption
#   controller does), no pod may ever be evicted: `kubectl drain`, cluster autoscaler
#   scale-downs and node upgrades hang on every node that runs one of them.
#
#   The rule compares each budget with the Deployments, StatefulSets, ReplicaSets and
#   ReplicationControllers of the same run whose pod template labels its `selector`
#   selects and that set `replicas` (a workload scaled by an autoscaler usually does not).
#   A budget of `100%` is reported by pdb-min-available-all (KG412) instead. An object
#   without `metadata.namespace` is taken to share the namespace of any other object.
#   (kube-linter's pdb-min-available matches workloads whose selector equals the budget's
#   and rounds percentages down, so it is a partial equivalent.)
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/disruptions/
# custom:
#   id: KG415
#   name: pdb-min-available-replicas
#   severity: warning
#   category: reliability
#   kinds: [PodDisruptionBudget, Deployment, StatefulSet, ReplicaSet, ReplicationController]
#   scope: inventory
#   remediation: |
#     Set `minAvailable` below the workload's replicas (or use `maxUnavailable: 1`), or run
#     more replicas.
#   equivalents:
#     kube-linter:
#       - {id: pdb-min-available, match: partial, note: "kube-linter matches workloads whose selector equals the budget's, rounds percentages down and also flags 100% (pdb-min-available-all here)"}
package kubegate.rules.reliability.pdb_min_available_replicas

import rego.v1

import data.kubegate.lib.inventory

scaled_kinds := {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}

violation contains v if {
	some i, pdb in input.objects
	pdb.kind == "PodDisruptionBudget"
	selector := pdb.spec.selector
	is_object(selector)
	some t in data.kubegate.lib.inventory.pod_templates
	workload := input.objects[t.object]
	workload.kind in scaled_kinds
	replicas := workload.spec.replicas
	is_number(replicas)
	replicas > 0
	inventory.same_namespace(pdb, workload)
	inventory.selector_matches(selector, t.labels)
	required := min_available(pdb.spec.minAvailable, replicas)
	required >= replicas
	v := {
		"msg": sprintf("PodDisruptionBudget `%s` keeps %d of the %d pods of %s `%s` available: none of them can ever be evicted, so node drains hang", [object.get(pdb, ["metadata", "name"], "?"), required, replicas, workload.kind, object.get(workload, ["metadata", "name"], "?")]),
		"object": i,
		"path": ["spec", "minAvailable"],
	}
}

min_available(m, _) := m if is_number(m)

# A percentage is rounded up; 100% is KG412's finding.
min_available(m, replicas) := ceil((replicas * p) / 100) if {
	is_string(m)
	regex.match(`^[0-9]+%$`, m)
	p := to_number(trim_suffix(m, "%"))
	p < 100
}
