# METADATA
# title: Immutable ConfigMap or Secret changes, or a Secret's type changes
# description: |
#   A ConfigMap or Secret with `immutable: true` cannot change its data, nor become mutable
#   again; a Secret's `type` cannot change at all. The API server rejects the update, so the
#   sync fails after the merge and nothing in the cluster changes. Applying the change means
#   deleting and recreating the object (pods that mount it keep the old content until they
#   restart). A revert of the merge restores the sync.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable
#   - ref: https://kubernetes.io/docs/concepts/configuration/secret/#secret-immutable
#   - ref: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types
# custom:
#   id: KG719
#   name: immutable-data-changed
#   severity: error
#   category: change
#   kinds: [ConfigMap, Secret]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Create the new content under a new name (kustomize's configMapGenerator and
#     secretGenerator add a content hash to the name) and point the workloads at it.
package kubegate.rules.change.immutable_data_changed

import rego.v1

import data.kubegate.lib.change

consequence := "pods that mount it keep the old content until they restart"

data_fields contains "data"

data_fields contains "binaryData"

data_fields contains "stringData" if data.kubegate.lib.change.kind == "Secret"

was_immutable if change.at(data.kubegate.lib.change.old, ["immutable"], false) == true

violation contains v if {
	data.kubegate.lib.change.kind in {"ConfigMap", "Secret"}
	was_immutable
	some f in sort(data_fields)
	change.differs_or([f], {})
	v := {
		"msg": change.rejected(sprintf("it is immutable (`immutable: true`) and its `%s` changes%s", [f, keys_text(f)]), consequence),
		"path": change.first_change([f]),
	}
}

violation contains v if {
	data.kubegate.lib.change.kind in {"ConfigMap", "Secret"}
	was_immutable
	data.kubegate.lib.change.updated
	change.at(data.kubegate.lib.change.new, ["immutable"], false) != true
	v := {
		"msg": change.rejected(sprintf("`immutable` may not be unset once true (%s)", [change.from_to(["immutable"])]), consequence),
		"path": change.head_path(["immutable"]),
	}
}

violation contains v if {
	data.kubegate.lib.change.kind == "Secret"
	change.differs_or(["type"], "Opaque")
	v := {
		"msg": change.rejected(sprintf("a Secret's `type` is immutable (from %s to %s)", [
			change.at(data.kubegate.lib.change.old, ["type"], "Opaque"),
			change.at(data.kubegate.lib.change.new, ["type"], "Opaque"),
		]), consequence),
		"path": change.head_path(["type"]),
	}
}

# The keys of `data` (or `binaryData`, `stringData`) that differ: " (`LOG_LEVEL`, `MODE`)".
keys_text(f) := sprintf(" (%s)", [concat(", ", [sprintf("`%s`", [k]) | some k in changed_keys(f)])]) if {
	count(changed_keys(f)) > 0
} else := ""

changed_keys(f) := sort([k |
	o := change.at(data.kubegate.lib.change.old, [f], {})
	n := change.at(data.kubegate.lib.change.new, [f], {})
	is_object(o)
	is_object(n)
	some k in object.keys(o) | object.keys(n)
	object.get(o, k, data.kubegate.lib.change.absent) != object.get(n, k, data.kubegate.lib.change.absent)
])
