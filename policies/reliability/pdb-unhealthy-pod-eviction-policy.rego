# METADATA
# title: PodDisruptionBudget does not let unhealthy pods be evicted
# description: |
#   By default (`unhealthyPodEvictionPolicy: IfHealthyBudget`) a running pod that is not
#   Ready may be evicted only while the budget is satisfied. When an application is already
#   disrupted (pods crash-looping or stuck not Ready), the budget is not satisfied, so the
#   broken pods cannot be evicted either: `kubectl drain` hangs on them even though evicting
#   them would cost no availability. `AlwaysAllow` lets the eviction API remove pods that
#   are not Ready, and is the recommended setting for most workloads (stable since
#   Kubernetes 1.31, on by default since 1.27).
#
#   kube-linter's pdb-unhealthy-pod-eviction-policy flags only a budget that does not set
#   the field; this rule also flags an explicit `IfHealthyBudget`, so it is a partial
#   equivalent. Only `policy/v1` budgets are checked: the removed `policy/v1beta1` has no
#   such field.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/#unhealthy-pod-eviction-policy
# custom:
#   id: KG413
#   name: pdb-unhealthy-pod-eviction-policy
#   severity: info
#   category: reliability
#   kinds: [PodDisruptionBudget]
#   remediation: |
#     Set `spec.unhealthyPodEvictionPolicy: AlwaysAllow`, unless the application must keep
#     unready pods running (for example, one that needs them to recover quorum).
#   equivalents:
#     kube-linter:
#       - {id: pdb-unhealthy-pod-eviction-policy, match: partial, note: "kube-linter flags only a budget without the field; kubegate also an explicit IfHealthyBudget"}
package kubegate.rules.reliability.pdb_unhealthy_pod_eviction_policy

import rego.v1

import data.kubegate.lib.workload

violation contains v if {
	input.kind == "PodDisruptionBudget"
	input.apiVersion == "policy/v1"
	is_object(input.spec)
	not workload.present(input.spec, ["unhealthyPodEvictionPolicy"])
	v := {
		"msg": sprintf("PodDisruptionBudget `%s` does not set unhealthyPodEvictionPolicy: unready pods cannot be evicted while the application is disrupted", [data.kubegate.lib.workload.object_name]),
		"path": ["spec"],
	}
}

violation contains v if {
	input.kind == "PodDisruptionBudget"
	input.apiVersion == "policy/v1"
	p := input.spec.unhealthyPodEvictionPolicy
	p != null
	p != "AlwaysAllow"
	v := {
		"msg": sprintf("PodDisruptionBudget `%s` sets unhealthyPodEvictionPolicy to %v, not AlwaysAllow: unready pods cannot be evicted while the application is disrupted", [data.kubegate.lib.workload.object_name, p]),
		"path": ["spec", "unhealthyPodEvictionPolicy"],
	}
}
