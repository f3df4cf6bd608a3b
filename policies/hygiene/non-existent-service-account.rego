# METADATA
# title: Pod runs as a ServiceAccount that no manifest in the run creates
# description: |
#   A pod whose `serviceAccountName` names a ServiceAccount that does not exist is never
#   created: the ReplicaSet, StatefulSet or Job controller keeps failing with
#   `serviceaccount "x" not found`, and the workload silently runs no pods. The API server
#   accepts the workload itself, so the error only shows in events after the sync.
#
#   The rule sees the objects of one run: run kubegate over the whole repository (or the
#   directory of one application) so that the ServiceAccounts are included. The `default`
#   ServiceAccount, which every namespace has, is not checked. An object without
#   `metadata.namespace` is taken to share the namespace of any other object, since a
#   kustomization or the GitOps application usually sets it.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
#   - ref: https://docs.kubelinter.io/#/generated/checks?id=non-existent-service-account
# custom:
#   id: KG606
#   name: non-existent-service-account
#   severity: warning
#   category: hygiene
#   kinds: [ServiceAccount, workloads]
#   scope: inventory
#   remediation: |
#     Add the ServiceAccount to the manifests (in the workload's namespace), or fix the
#     name in `serviceAccountName`.
#   equivalents:
#     kube-linter: [non-existent-service-account]
package kubegate.rules.hygiene.non_existent_service_account

import rego.v1

import data.kubegate.lib.inventory

violation contains v if {
	some t in data.kubegate.lib.inventory.pod_templates
	[field, name] := account(t.spec)
	name != "default"
	workload := input.objects[t.object]
	not exists(workload, name)
	v := {
		"msg": sprintf("%s `%s` runs as ServiceAccount `%s`, which no manifest in the run creates", [workload.kind, object.get(workload, ["metadata", "name"], "?"), name]),
		"object": t.object,
		"path": array.concat(t.path, [field]),
	}
}

# The field that names the pod's ServiceAccount and its value; `serviceAccount` is the
# deprecated alias, read only when `serviceAccountName` is unset.
account(spec) := ["serviceAccountName", spec.serviceAccountName] if named(spec, "serviceAccountName")

account(spec) := ["serviceAccount", spec.serviceAccount] if {
	not named(spec, "serviceAccountName")
	named(spec, "serviceAccount")
}

named(spec, field) if {
	is_string(spec[field])
	spec[field] != ""
}

# The namespaces of the ServiceAccounts of the run, by name ("" where none is set).
account_namespaces[name] contains ns if {
	some sa in input.objects
	sa.kind == "ServiceAccount"
	name := sa.metadata.name
	is_string(name)
	ns := object.get(sa, ["metadata", "namespace"], "")
}

exists(workload, name) if {
	namespaces := account_namespaces[name]
	matches(workload, namespaces)
}

matches(workload, _) if not inventory.namespace(workload)

matches(_, namespaces) if "" in namespaces

matches(workload, namespaces) if inventory.namespace(workload) in namespaces
