# METADATA
# title: CustomResourceDefinition makes a field required
# description: |
#   A name added to a `required` list of a served version's schema applies to objects
#   already stored: those without the field fail validation on their next update (a
#   controller's status write, a label change, a sync), which then needs the field set by
#   hand. A revert of the merge makes the field optional again.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-ratcheting
# custom:
#   id: KG724
#   name: crd-field-required
#   severity: error
#   category: change
#   kinds: [CustomResourceDefinition]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Give the field a `default` instead (applied when objects are read), or set it on every
#     stored object before making it required, or require it only in a new version.
package kubegate.rules.change.crd_field_required

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.updated
	some nv in change.versions(data.kubegate.lib.change.new)
	is_object(nv)
	n := nv.name
	i := change.version_index(data.kubegate.lib.change.old, n)
	ov := change.versions(data.kubegate.lib.change.old)[i]
	j := change.version_index(data.kubegate.lib.change.new, n)
	os := change.schema_of(ov)
	ns := change.schema_of(nv)
	count(os) > 0
	walk(ns, [q, node])
	change.schema_node_path(q)
	is_object(node)
	required := object.get(node, "required", [])
	is_array(required)
	base_node := change.at(os, q, data.kubegate.lib.change.absent)
	base_node != data.kubegate.lib.change.absent
	is_object(base_node)
	before := {x | some x in change.at(base_node, ["required"], [])}
	some k, r in required
	not r in before
	root := ["spec", "versions", j, "schema", "openAPIV3Schema"]
	f := field_text(q, r)
	v := {
		"msg": sprintf("%s makes `%s` required in version `%s`: stored objects without `%s` fail validation on their next update; a revert makes it optional again", [data.kubegate.lib.change.subject, f, n, f]),
		"path": change.head_path(array.concat(root, array.concat(q, ["required", k]))),
	}
}

field_text(q, r) := sprintf("%v", [r]) if count(q) == 0

field_text(q, r) := sprintf("%s.%v", [change.schema_field(q), r]) if count(q) > 0
