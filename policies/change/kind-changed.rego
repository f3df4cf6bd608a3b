# METADATA
# title: Object replaced by another kind
# description: |
#   Changing an object's kind (a Deployment turned into a StatefulSet) or its API group does
#   not convert it: the controller deletes the old object and creates a new one. Its pods
#   restart, and what the old one owned goes with it (ReplicaSets and pods, a StatefulSet's
#   claims under its retention policy). A revert recreates the old kind, not what it owned.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/
# custom:
#   id: KG734
#   name: kind-changed
#   severity: warning
#   category: change
#   kinds: ["*"]
#   scope: change
#   effect: risky
#   remediation: |
#     Plan the replacement: create the new object under a new name next to the old one, move
#     traffic and data over, then delete the old one.
package kubegate.rules.change.kind_changed

import rego.v1

import data.kubegate.lib.change

# Point at `kind`, or at `apiVersion` when only the API group changed.
path := ["apiVersion"] if data.kubegate.lib.change.counterpart.kind == data.kubegate.lib.change.kind

path := ["kind"] if data.kubegate.lib.change.counterpart.kind != data.kubegate.lib.change.kind

violation contains v if {
	data.kubegate.lib.change.created
	data.kubegate.lib.change.how == "kind"
	c := data.kubegate.lib.change.counterpart
	v := {
		"msg": sprintf("%s replaces the %s `%s` (%s): the old %s is deleted and a new %s created, its pods restart and the objects it owned go; a revert recreates the %s, not what it owned", [data.kubegate.lib.change.subject, c.kind, c.name, c.apiVersion, c.kind, data.kubegate.lib.change.kind, c.kind]),
		"path": change.head_path(path),
	}
}
