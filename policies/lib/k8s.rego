# Shared helpers for the built-in rules: where the pod spec and the containers of every
# workload kind are, with the path to each, so a rule can point at the exact field.
package kubegate.lib.k8s

import rego.v1

# Kinds whose pod template is at spec.template.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# Every pod spec in the input: {"spec": <PodSpec>, "path": [...], "meta": <pod metadata>}.
pod_specs contains ps if {
	ps := pod_spec_of(input)
}

# The pod spec of the object `o` (a Pod, a workload's template, a CronJob's job template or
# a PodTemplate), with its path and pod metadata; undefined for other kinds.
pod_spec_of(o) := {"spec": o.spec, "path": ["spec"], "meta": object.get(o, "metadata", {})} if {
	o.kind == "Pod"
	is_object(o.spec)
}

pod_spec_of(o) := {"spec": t.spec, "path": ["spec", "template", "spec"], "meta": object.get(t, "metadata", {})} if {
	o.kind in template_kinds
	t := o.spec.template
	is_object(t.spec)
}

pod_spec_of(o) := {"spec": t.spec, "path": ["spec", "jobTemplate", "spec", "template", "spec"], "meta": object.get(t, "metadata", {})} if {
	o.kind == "CronJob"
	t := o.spec.jobTemplate.spec.template
	is_object(t.spec)
}

pod_spec_of(o) := {"spec": t.spec, "path": ["template", "spec"], "meta": object.get(t, "metadata", {})} if {
	o.kind == "PodTemplate"
	t := o.template
	is_object(t.spec)
}

container_fields := ["initContainers", "containers", "ephemeralContainers"]

# Every container of every pod spec: {"c": <Container>, "path": [... , "containers", i], "pod": <pod spec entry>}.
containers contains {"c": c, "path": array.concat(ps.path, [field, i]), "pod": ps} if {
	some ps in pod_specs
	some field in container_fields
	cs := object.get(ps.spec, field, [])
	is_array(cs)
	some i, c in cs
	is_object(c)
}

# A display name for a container in messages.
name(c) := n if {
	n := c.c.name
	is_string(n)
} else := sprintf("#%d", [c.path[count(c.path) - 1]])
