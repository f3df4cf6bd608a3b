# METADATA
# title: Replicated workload does not spread its pods
# description: |
#   A Deployment or StatefulSet with more than one replica is replicated for availability,
#   but without inter-pod anti-affinity or a topology spread constraint the scheduler is
#   free to put every replica on the same node (or in the same zone). One node drain,
#   kernel panic or zone outage then takes all of them down at once, and the replicas buy
#   nothing.
#
#   The rule accepts a `podAntiAffinity` term (preferred or required) or a
#   `topologySpreadConstraints` entry only when its `labelSelector` selects the pod's own
#   labels (`matchLabels` and `matchExpressions`): a term that selects other pods does not
#   keep the replicas apart. Any topology key counts, and `namespaces` / `namespaceSelector`
#   are not checked. A missing `replicas` means 1 and does not fire; an autoscaled workload
#   usually omits it, so this rule does not see it.
#
#   kube-linter's no-anti-affinity is close but not the same check: it ignores
#   `topologySpreadConstraints`, and by default accepts only the topology key
#   `kubernetes.io/hostname`, so it is a partial equivalent.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
# custom:
#   id: KG410
#   name: no-anti-affinity
#   severity: info
#   category: reliability
#   kinds: [Deployment, StatefulSet]
#   remediation: |
#     Spread the replicas: add a `topologySpreadConstraints` entry (for example
#     `topologyKey: kubernetes.io/hostname`, `whenUnsatisfiable: ScheduleAnyway`) or a
#     `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution` term, with a
#     `labelSelector` that matches the pod template's own labels.
#   equivalents:
#     kube-linter:
#       - {id: no-anti-affinity, match: partial, note: "kube-linter ignores topologySpreadConstraints and by default accepts only the kubernetes.io/hostname topology key"}
package kubegate.rules.reliability.no_anti_affinity

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

# The pod template's labels, or {} when it has none.
own_labels(ps) := object.get(ps.meta, "labels", {})

# True when the LabelSelector `sel` selects the label set `labels` (a null or missing
# selector selects nothing, an empty one everything).
selects(sel, labels) if {
	is_object(sel)
	is_object(labels)
	ml := object.get(sel, "matchLabels", {})
	is_object(ml)
	every k, v in ml {
		k in object.keys(labels)
		labels[k] == v
	}
	exprs := object.get(sel, "matchExpressions", [])
	is_array(exprs)
	every e in exprs {
		expr_matches(e, labels)
	}
}

expr_matches(e, labels) if {
	e.operator == "In"
	is_array(e.values)
	e.key in object.keys(labels)
	labels[e.key] in e.values
}

expr_matches(e, labels) if {
	e.operator == "NotIn"
	is_array(e.values)
	not e.key in object.keys(labels)
}

expr_matches(e, labels) if {
	e.operator == "NotIn"
	is_array(e.values)
	e.key in object.keys(labels)
	not labels[e.key] in e.values
}

expr_matches(e, labels) if {
	e.operator == "Exists"
	e.key in object.keys(labels)
}

expr_matches(e, labels) if {
	e.operator == "DoesNotExist"
	is_string(e.key)
	not e.key in object.keys(labels)
}

# The anti-affinity terms of a pod spec, required and preferred.
anti_affinity_terms(ps) := array.concat(
	[t | ts := object.get(ps.spec, ["affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], []); is_array(ts); some t in ts],
	[t.podAffinityTerm | ts := object.get(ps.spec, ["affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"], []); is_array(ts); some t in ts; is_object(t)],
)

spread_constraints(ps) := [c | cs := object.get(ps.spec, "topologySpreadConstraints", []); is_array(cs); some c in cs]

# True when a term or constraint of the pod spec keeps the replicas apart.
spreads(ps) if {
	some t in array.concat(anti_affinity_terms(ps), spread_constraints(ps))
	is_object(t)
	selects(object.get(t, "labelSelector", null), own_labels(ps))
}

replicas := r if {
	r := input.spec.replicas
	is_number(r)
}

violation contains v if {
	input.kind in {"Deployment", "StatefulSet"}
	replicas > 1
	some ps in data.kubegate.lib.k8s.pod_specs
	count(anti_affinity_terms(ps)) + count(spread_constraints(ps)) == 0
	v := {
		"msg": sprintf("%s `%s` has %d replicas but sets neither podAntiAffinity nor topologySpreadConstraints: all replicas may land on one node", [input.kind, data.kubegate.lib.workload.object_name, replicas]),
		"path": ps.path,
	}
}

violation contains v if {
	input.kind in {"Deployment", "StatefulSet"}
	replicas > 1
	some ps in data.kubegate.lib.k8s.pod_specs
	count(anti_affinity_terms(ps)) + count(spread_constraints(ps)) > 0
	not spreads(ps)
	v := {
		"msg": sprintf("%s `%s` has %d replicas but no podAntiAffinity term or topology spread constraint selects its own pod labels: the replicas are not kept apart", [input.kind, data.kubegate.lib.workload.object_name, replicas]),
		"path": unspread_path(ps),
	}
}

# Where an unspread finding lands: the podAntiAffinity when it has terms, else the spread
# constraints.
unspread_path(ps) := array.concat(ps.path, ["affinity", "podAntiAffinity"]) if count(anti_affinity_terms(ps)) > 0

unspread_path(ps) := array.concat(ps.path, ["topologySpreadConstraints"]) if count(anti_affinity_terms(ps)) == 0
