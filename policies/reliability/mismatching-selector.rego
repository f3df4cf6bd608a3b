# METADATA
# title: Selector does not match the pod template's labels
# description: |
#   A Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController or Job manages the
#   pods its selector matches, and the pods it creates carry the template's labels. When the
#   template's labels do not satisfy the selector, the API server rejects the object
#   ("selector does not match template labels"), and an empty selector is rejected too. Both
#   `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist) are evaluated
#   against `spec.template.metadata.labels`.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements
# custom:
#   id: KG408
#   name: mismatching-selector
#   severity: error
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Make `spec.template.metadata.labels` carry every label the selector requires (usually
#     by copying `spec.selector.matchLabels` into them). Remember that the selector of an
#     existing Deployment, StatefulSet or DaemonSet is immutable.
#   equivalents:
#     kube-linter: [mismatching-selector]
package kubegate.rules.reliability.mismatching_selector

import rego.v1

label_selector_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

template_labels := l if {
	l := input.spec.template.metadata.labels
	is_object(l)
} else := {}

selector := s if {
	s := input.spec.selector
	is_object(s)
} else := {}

match_labels := m if {
	m := selector.matchLabels
	is_object(m)
} else := {}

match_expressions := m if {
	m := selector.matchExpressions
	is_array(m)
} else := []

has_label(k) if template_labels[k] != null

# matchLabels (and a ReplicationController's map selector): every pair must be a label.
required_labels contains [["spec", "selector", "matchLabels", k], k, val] if {
	input.kind in label_selector_kinds
	some k, val in match_labels
}

required_labels contains [["spec", "selector", k], k, val] if {
	input.kind == "ReplicationController"
	some k, val in selector
}

violation contains v if {
	is_object(input.spec.template)
	some [path, k, val] in required_labels
	has_label(k)
	template_labels[k] != val
	v := {
		"msg": sprintf("selector requires label `%s: %v` but the pod template has `%s: %v`", [k, val, k, template_labels[k]]),
		"path": path,
	}
}

violation contains v if {
	is_object(input.spec.template)
	some [path, k, val] in required_labels
	not has_label(k)
	v := {
		"msg": sprintf("selector requires label `%s: %v` but the pod template has no `%s` label", [k, val, k]),
		"path": path,
	}
}

expressions contains [i, e] if {
	input.kind in label_selector_kinds
	some i, e in match_expressions
	is_object(e)
	is_string(e.key)
}

values(e) := vs if {
	vs := e.values
	is_array(vs)
} else := []

unmatched(e) if {
	e.operator == "In"
	not template_labels[e.key] in values(e)
}

unmatched(e) if {
	e.operator == "NotIn"
	template_labels[e.key] in values(e)
}

unmatched(e) if {
	e.operator == "Exists"
	not has_label(e.key)
}

unmatched(e) if {
	e.operator == "DoesNotExist"
	has_label(e.key)
}

violation contains v if {
	is_object(input.spec.template)
	some [i, e] in expressions
	unmatched(e)
	v := {
		"msg": sprintf("the pod template's labels do not satisfy selector expression `%s %s %v`", [e.key, e.operator, values(e)]),
		"path": ["spec", "selector", "matchExpressions", i],
	}
}

violation contains v if {
	input.kind in (label_selector_kinds - {"Job"})
	is_object(input.spec.selector)
	count(match_labels) == 0
	count(match_expressions) == 0
	v := {
		"msg": sprintf("%s has an empty selector, which the API server rejects", [input.kind]),
		"path": ["spec", "selector"],
	}
}
