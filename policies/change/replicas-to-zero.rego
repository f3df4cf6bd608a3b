# METADATA
# title: Workload scaled to zero replicas
# description: |
#   Setting `spec.replicas: 0` on a running Deployment, StatefulSet or ReplicaSet stops all
#   its pods after the merge: whatever it serves is down. Sometimes intended (a retired
#   service, a maintenance), often a leftover of a test or a templating mistake. A revert of
#   the merge scales it back up.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#scaling-a-deployment
# custom:
#   id: KG731
#   name: replicas-to-zero
#   severity: warning
#   category: change
#   kinds: [Deployment, StatefulSet, ReplicaSet]
#   scope: change
#   effect: risky
#   remediation: |
#     Make sure stopping the workload is intended. To retire it, delete it (and what it
#     owns) instead of keeping it at zero.
package kubegate.rules.change.replicas_to_zero

import rego.v1

import data.kubegate.lib.change

path := ["spec", "replicas"]

violation contains v if {
	data.kubegate.lib.change.kind in {"Deployment", "StatefulSet", "ReplicaSet"}
	data.kubegate.lib.change.updated
	before := change.at(data.kubegate.lib.change.old, path, 1)
	is_number(before)
	before > 0
	change.new_at(path) == 0
	v := {
		"msg": sprintf("%s scales from %v %s to 0: all its pods stop after the merge; a revert scales it back up", [data.kubegate.lib.change.subject, before, noun(before)]),
		"path": path,
	}
}

noun(n) := "replica" if n == 1

noun(n) := "replicas" if n != 1
