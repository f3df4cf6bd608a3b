# METADATA
# title: Binding's roleRef changes (immutable)
# description: |
#   A RoleBinding's or ClusterRoleBinding's `roleRef` cannot change: the API server rejects
#   the update ("cannot change roleRef"), so the sync fails after the merge and nothing in the
#   cluster changes. Applying the change means deleting and recreating the binding, and its
#   subjects lose the access it grants in between. A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#clusterrolebinding-example
# custom:
#   id: KG720
#   name: roleref-changed
#   severity: error
#   category: change
#   kinds: [RoleBinding, ClusterRoleBinding]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Create a binding under a new name for the new role and delete the old one once it is
#     in place (or use `kubectl auth reconcile`, which recreates bindings).
package kubegate.rules.change.roleref_changed

import rego.v1

import data.kubegate.lib.change

ref_text(o) := sprintf("%s `%s`", [
	change.at(o, ["roleRef", "kind"], "(no kind)"),
	change.at(o, ["roleRef", "name"], "(no name)"),
])

# The first differing key of roleRef the head object has, else roleRef.
keys := [["roleRef", k] | some k in ["name", "kind", "apiGroup"]; change.differs(["roleRef", k]); change.new_at(["roleRef", k]) != data.kubegate.lib.change.absent]

path := keys[0] if count(keys) > 0

path := ["roleRef"] if count(keys) == 0

violation contains v if {
	data.kubegate.lib.change.kind in {"RoleBinding", "ClusterRoleBinding"}
	change.differs(["roleRef"])
	v := {
		"msg": change.rejected(
			sprintf("`roleRef` cannot change (from %s to %s)", [ref_text(data.kubegate.lib.change.old), ref_text(data.kubegate.lib.change.new)]),
			"its subjects lose the access it grants in between",
		),
		"path": change.head_path(path),
	}
}
