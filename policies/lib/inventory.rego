# Helpers for the inventory-scope rules, which see every object of their kinds in the run at
# once (`input.objects`) to check references between objects.
#
# A namespace left unset in a GitOps repository is usually set at deploy time (by a
# kustomization or the Argo CD / Flux application), so an object without one is taken to
# share the namespace of any object it is compared with: these rules only fire when no
# object could possibly match.
package kubegate.lib.inventory

import rego.v1

import data.kubegate.lib.k8s

namespace(o) := ns if {
	ns := o.metadata.namespace
	is_string(ns)
	ns != ""
}

same_namespace(a, b) if not namespace(a)

same_namespace(a, b) if not namespace(b)

same_namespace(a, b) if namespace(a) == namespace(b)

# The pod template of each workload in the run, by the index of its object:
# {"object": i, "labels": {...}, "spec": <PodSpec>, "path": [...]}.
pod_template_of[i] := {"object": i, "labels": labels, "spec": ps.spec, "path": ps.path} if {
	some i, o in input.objects
	is_object(o)
	ps := k8s.pod_spec_of(o)
	labels := object.get(ps.meta, "labels", {})
	is_object(labels)
}

# Every pod template of `pod_template_of`.
pod_templates contains t if some t in pod_template_of

# The index of every workload whose pod template carries the label `key=value`, for
# finding the templates a selector may match without comparing it with every template.
templates_by_label[pair] contains t.object if {
	some t in pod_templates
	some k, v in t.labels
	is_string(v)
	pair := concat("=", [k, v])
}

# `labels` carries every key and value of the `matchLabels`-style map `selector`.
labels_match(selector, labels) if {
	is_object(selector)
	is_object(labels)
	every k, v in selector {
		labels[k] == v
	}
}

# A metav1.LabelSelector (`matchLabels` and `matchExpressions`) selects `labels`. An empty
# selector selects everything.
selector_matches(selector, labels) if {
	is_object(selector)
	labels_match(object.get(selector, "matchLabels", {}), labels)
	exprs := object.get(selector, "matchExpressions", [])
	is_array(exprs)
	every e in exprs {
		expression_matches(e, labels)
	}
}

expression_matches(e, labels) if {
	e.operator == "In"
	is_array(e.values)
	labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "NotIn"
	is_array(e.values)
	not labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "Exists"
	is_string(labels[e.key])
}

expression_matches(e, labels) if {
	e.operator == "DoesNotExist"
	is_object(labels)
	not labels[e.key]
}
