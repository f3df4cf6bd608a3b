# METADATA
# title: Object moves to another namespace
# description: |
#   Changing an object's `metadata.namespace` does not move it: the controller deletes the
#   object in the old namespace and creates a new one in the new namespace. What it held
#   there does not follow: a workload's pods restart, a claim's volume stays behind (or is
#   deleted with it), a ServiceAccount's RoleBindings and the NetworkPolicies selecting its
#   pods by namespace no longer apply. A revert recreates it in the old namespace, without
#   what was deleted.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
# custom:
#   id: KG733
#   name: namespace-moved
#   severity: warning
#   category: change
#   kinds: [namespaced]
#   scope: change
#   effect: risky
#   remediation: |
#     Make sure the object and what depends on it (RoleBindings, NetworkPolicies, Services,
#     volumes, Secrets it mounts) are recreated in the new namespace, and that its data is
#     migrated if it holds any.
package kubegate.rules.change.namespace_moved

import rego.v1

import data.kubegate.lib.change

violation contains v if {
	data.kubegate.lib.change.created
	data.kubegate.lib.change.how == "moved"
	from := change.ns_text(object.get(data.kubegate.lib.change.counterpart, "namespace", null))
	to := change.ns_text(object.get(input.review, "namespace", null))
	v := {
		"msg": sprintf("%s moves from %s to %s: the object in %s is deleted and a new one created; what it held there (its pods, volumes, its identity for RBAC and NetworkPolicy) does not follow; a revert recreates it in %s, without what was deleted", [data.kubegate.lib.change.subject, from, to, from, from]),
		"path": change.head_path(["metadata", "namespace"]),
	}
}
