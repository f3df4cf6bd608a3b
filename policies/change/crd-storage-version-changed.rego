# METADATA
# title: CustomResourceDefinition moves its storage version and stops serving the old one
# description: |
#   Objects are stored in the version that was the storage version when they were last
#   written; moving the storage version does not rewrite them. When the old storage version
#   is also no longer served (removed or `served: false`), clients cannot read or write those
#   objects in the version they were written in, and removing it from `spec.versions` is
#   refused while it is in `status.storedVersions`. A revert of the merge serves the old
#   version again.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#upgrade-existing-objects-to-a-new-stored-version
# custom:
#   id: KG722
#   name: crd-storage-version-changed
#   severity: error
#   category: change
#   kinds: [CustomResourceDefinition]
#   scope: change
#   effect: destroys
#   remediation: |
#     Move the storage version in one change and keep serving the old version; migrate the
#     stored objects (rewrite every object, or run the storage version migrator), trim
#     `status.storedVersions`, and stop serving the old version in a later change.
package kubegate.rules.change.crd_storage_version_changed

import rego.v1

import data.kubegate.lib.change

storage_names(o) := sort([v.name |
	some v in change.versions(o)
	is_object(v)
	object.get(v, "storage", false) == true
])

old_served_in_head(n) if {
	i := change.version_index(data.kubegate.lib.change.new, n)
	change.served(change.versions(data.kubegate.lib.change.new)[i])
}

violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.updated
	olds := storage_names(data.kubegate.lib.change.old)
	news := storage_names(data.kubegate.lib.change.new)
	count(olds) == 1
	count(news) == 1
	olds[0] != news[0]
	not old_served_in_head(olds[0])
	j := change.version_index(data.kubegate.lib.change.new, news[0])
	v := {
		"msg": sprintf("%s moves its storage version from `%s` to `%s` and no longer serves `%s`: objects stored as `%s` (every object not rewritten since) can no longer be read in the version they were written in; a revert serves `%s` again", [data.kubegate.lib.change.subject, olds[0], news[0], olds[0], olds[0], olds[0]]),
		"path": change.head_path(["spec", "versions", j, "storage"]),
	}
}
