# Helpers for the reliability, network and hygiene rules: which list a container comes from,
# whether a pod runs to completion, where a missing field should go, and a container's
# environment variables with their paths.
#
# regorus stops the whole evaluation on a builtin called with the wrong type, so every helper
# checks the type of manifest values before handing them to a builtin.
package kubegate.lib.workload

import rego.v1

import data.kubegate.lib.k8s

# The list a container of `k8s.containers` comes from: "initContainers", "containers" or
# "ephemeralContainers".
list(c) := c.path[count(c.path) - 2]

# Regular containers: not init or ephemeral containers.
app_containers contains c if {
	some c in data.kubegate.lib.k8s.containers
	list(c) == "containers"
}

# Containers that can declare resources: regular and init containers (the API rejects
# resources on ephemeral containers).
resourced_containers contains c if {
	some c in data.kubegate.lib.k8s.containers
	list(c) in {"containers", "initContainers"}
}

# A pod spec whose pods run to completion rather than serve: a Job's or a CronJob's, a Pod
# owned by a Job, or a Pod with restartPolicy Never or OnFailure.
completes(_) if input.kind in {"Job", "CronJob"}

completes(_) if {
	input.kind == "Pod"
	refs := input.metadata.ownerReferences
	is_array(refs)
	some ref in refs
	is_object(ref)
	ref.kind == "Job"
}

completes(ps) if {
	input.kind == "Pod"
	ps.spec.restartPolicy in {"Never", "OnFailure"}
}

# True when the value at `keys` under `obj` exists and is not null.
present(obj, keys) if {
	is_object(obj)
	object.get(obj, keys, null) != null
}

# True when the key path exists under `obj`, even with a null value (`resources:` alone).
exists(obj, keys) if {
	is_object(obj)
	object.get(obj, keys, {"kubegate": "missing"}) != {"kubegate": "missing"}
}

# `base` followed by the longest prefix of `keys` that exists under `obj`: the path of a
# missing field's nearest existing parent (or of the field itself when it exists).
nearest(base, obj, keys) := array.concat(base, array.slice(keys, 0, n)) if {
	n := count([i | some i, _ in keys; exists(obj, array.slice(keys, 0, i + 1))])
}

# Every `env` entry of a container with a string name: {"name", "entry", "index", "path"}.
env_vars(c) := {{"name": e.name, "entry": e, "index": i, "path": array.concat(c.path, ["env", i])} |
	env := object.get(c.c, "env", [])
	is_array(env)
	some i, e in env
	is_object(e)
	is_string(e.name)
}

# The ports a container declares by name.
port_names(c) := {p.name |
	ports := object.get(c.c, "ports", [])
	is_array(ports)
	some p in ports
	is_object(p)
	is_string(p.name)
}

# The object's name for messages, or "" when it has none.
object_name := n if {
	n := input.metadata.name
	is_string(n)
} else := ""

# The object's annotations, or {} when it has none.
annotations := a if {
	a := input.metadata.annotations
	is_object(a)
} else := {}
