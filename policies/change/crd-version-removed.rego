# METADATA
# title: CustomResourceDefinition stops serving a version
# description: |
#   When a version a CustomResourceDefinition served is removed from `spec.versions` or
#   marked `served: false`, the API server stops serving it after the merge: clients,
#   controllers and manifests that use it fail (404), objects stored in it are only reachable
#   through the other versions. If the version is (or was) a storage version, listed in the
#   CRD's `status.storedVersions`, removing it is refused: the sync fails until the stored
#   objects are migrated and `storedVersions` is trimmed. A revert of the merge serves the
#   version again.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#version-removal
#   - ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#upgrade-existing-objects-to-a-new-stored-version
# custom:
#   id: KG721
#   name: crd-version-removed
#   severity: error
#   category: change
#   kinds: [CustomResourceDefinition]
#   scope: change
#   effect: destroys
#   remediation: |
#     Keep serving the version (mark it `deprecated: true` with a `deprecationWarning`) until
#     no client uses it, migrate stored objects to the storage version and remove the old
#     version from `status.storedVersions` before removing it.
package kubegate.rules.change.crd_version_removed

import rego.v1

import data.kubegate.lib.change

was_storage(ov) := " (it was the storage version: the API server refuses the update while it is in status.storedVersions, so the sync fails)" if {
	object.get(ov, "storage", false) == true
}

was_storage(ov) := "" if object.get(ov, "storage", false) != true

# Removed from spec.versions.
violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.updated
	some ov in change.versions(data.kubegate.lib.change.old)
	is_object(ov)
	change.served(ov)
	n := ov.name
	count({i | i := change.version_index(data.kubegate.lib.change.new, n)}) == 0
	v := {
		"msg": sprintf("%s stops serving version `%s` (removed from spec.versions): clients and manifests using it fail after the merge, and objects stored in it are only reachable through other versions%s; a revert serves it again", [data.kubegate.lib.change.subject, n, was_storage(ov)]),
		"path": change.head_path(["spec", "versions"]),
	}
}

# Still listed, no longer served.
violation contains v if {
	data.kubegate.lib.change.kind == "CustomResourceDefinition"
	data.kubegate.lib.change.updated
	some ov in change.versions(data.kubegate.lib.change.old)
	is_object(ov)
	change.served(ov)
	n := ov.name
	i := change.version_index(data.kubegate.lib.change.new, n)
	nv := change.versions(data.kubegate.lib.change.new)[i]
	not change.served(nv)
	v := {
		"msg": sprintf("%s stops serving version `%s` (served: false): clients and manifests using it fail after the merge, and objects stored in it are only reachable through other versions; a revert serves it again", [data.kubegate.lib.change.subject, n]),
		"path": change.head_path(["spec", "versions", i, "served"]),
	}
}
