# METADATA
# title: CustomResourceDefinition drops a field from a version's schema
# description: |
#   The API server prunes fields a structural schema does not declare. When a property of a
#   served version's `schema.openAPIV3Schema` is removed, stored objects keep the value in
#   etcd until their next write, which silently drops it: a controller's configuration or
#   state is lost. A revert of the merge restores the field for objects not written since;
#   values pruned in between are gone. Fields under `x-kubernetes-preserve-unknown-fields`
#   or an `additionalProperties` schema are kept and not reported.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#field-pruning
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/
# custom:
#   id: KG723
#   name: crd-field-removed
#   severity: error
#   category: change
#   kinds: [CustomResourceDefinition]
#   scope: change
#   effect: destroys
#   remediation: |
#     Keep the field (mark it deprecated in its description) until no stored object uses it,
#     or serve the schema change under a new version with a conversion that carries the
#     value over.
package kubegate.rules.change.crd_field_removed

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.updated
	some ov in change.versions(data.kubegate.lib.change.old)
	is_object(ov)
	n := ov.name
	j := change.version_index(data.kubegate.lib.change.new, n)
	nv := change.versions(data.kubegate.lib.change.new)[j]
	os := change.schema_of(ov)
	ns := change.schema_of(nv)
	count(ns) > 0
	walk(os, [p, _])
	change.property_path(p)
	change.at(ns, p, data.kubegate.lib.change.absent) == data.kubegate.lib.change.absent
	parent := array.slice(p, 0, count(p) - 2)
	node := change.at(ns, parent, data.kubegate.lib.change.absent)
	node != data.kubegate.lib.change.absent
	is_object(node)
	not keeps_unknown(node)
	root := ["spec", "versions", j, "schema", "openAPIV3Schema"]
	v := {
		"msg": sprintf("%s drops `%s` from version `%s`'s schema: stored values of `%s` are pruned on the next write of each object; a revert keeps them only for objects not written since", [data.kubegate.lib.change.subject, change.schema_field(p), n, change.schema_field(p)]),
		"path": change.head_path(array.concat(root, array.slice(p, 0, count(p) - 1))),
	}
}

# A schema node that keeps fields it does not declare.
keeps_unknown(node) if object.get(node, "x-kubernetes-preserve-unknown-fields", false) == true

keeps_unknown(node) if is_object(object.get(node, "additionalProperties", false))

keeps_unknown(node) if object.get(node, "additionalProperties", false) == true
