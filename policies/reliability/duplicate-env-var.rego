# METADATA
# title: Container defines the same environment variable twice
# description: |
#   When a container's `env` lists a name twice, the last entry silently wins. The earlier
#   one is dead configuration that misleads readers, and a later edit of the "wrong" entry
#   has no effect. (Strategic merge patches and `kubectl apply` also handle duplicate keys in
#   this list badly.) Every repeated occurrence is reported, not the first.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/
# custom:
#   id: KG409
#   name: duplicate-env-var
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Keep one entry per variable name and delete the others.
#   equivalents:
#     kube-linter: [duplicate-env-var]
package kubegate.rules.reliability.duplicate_env_var

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	vars := workload.env_vars(c)
	some later in vars
	first := min({e.index | some e in vars; e.name == later.name})
	later.index > first
	v := {
		"msg": sprintf("container `%s` sets environment variable `%s` again (first at env[%d]); the last one wins", [k8s.name(c), later.name, first]),
		"path": array.concat(later.path, ["name"]),
	}
}
