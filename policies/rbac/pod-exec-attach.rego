# METADATA
# title: Role or ClusterRole can run commands in running pods
# description: |
#   `pods/exec` runs any command in a container, `pods/attach` takes over its main process,
#   and `pods/ephemeralcontainers` adds a container of any image to a running pod
#   (`kubectl debug`). Each gives the subject everything the pod has: its service account
#   token, mounted secrets, network position and, for a privileged pod, the node. With the
#   right to exec into a controller's pod, the subject holds that controller's permissions.
#   `kubectl exec` and `attach` need `create` on the subresource over SPDY, but over
#   WebSockets (the default since kubectl 1.30) `get` is enough on API servers before 1.35
#   (or with the `AuthorizePodWebsocketUpgradeCreatePermission` feature gate off), so both
#   verbs are flagged; `update` and `patch` on `pods/ephemeralcontainers` add a debug
#   container. A `*` verb, a `*` or `*/exec` resource, or `*` API group counts. Rules limited
#   with `resourceNames` (specific pods) are not flagged.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
#   - ref: https://github.com/kubernetes/kubernetes/pull/134577
#   - ref: https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/
# custom:
#   id: KG208
#   name: pod-exec-attach
#   severity: warning
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `pods/exec`, `pods/attach` and `pods/ephemeralcontainers` from roles that
#     workloads use; give interactive debugging rights to people through a separate,
#     time-limited binding, in the namespaces they need. Replace `*` resources and verbs with
#     the ones the subject uses.
#   equivalents:
#     checkov:
#       - {id: CKV2_K8S_2, match: partial, note: "checkov flags create on pods/exec (and nodes/proxy) only in roles bound to a ServiceAccount or Node, on the binding"}
#     trivy:
#       - {id: KSV053, match: partial, note: "trivy flags write verbs on pods/exec, not get"}
#       - {id: KSV054, match: partial, note: "trivy flags only create on pods/attach with get on pods, both with apiGroups *"}
package kubegate.rules.rbac.pod_exec_attach

import rego.v1

import data.kubegate.lib.rbac

grants := [
	{"resource": "pods/exec", "verbs": {"create", "get"}},
	{"resource": "pods/attach", "verbs": {"create", "get"}},
	{"resource": "pods/ephemeralcontainers", "verbs": {"update", "patch"}},
]

# The resources items that grant each resource of `grants` (`*/exec` grants `pods/exec`).
forms := {g.resource: rbac.resource_forms({g.resource}) | some g in grants}

# Every resources item and verbs item that may grant one of `grants`.
resource_forms := rbac.resource_forms({g.resource | some g in grants})

verb_forms := {"*", "create", "get", "update", "patch"}

violation contains v if {
	rbac.may_grant({"create", "get", "update", "patch"}, {g.resource | some g in grants})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	not rbac.named(x.rule)
	rbac.has_group(x.rule, "")
	items := data.kubegate.lib.rbac.item_sets[x.i]
	found := [g |
		some g in grants
		count(items.verbs & ({"*"} | g.verbs)) > 0
		count(items.resources & forms[g.resource]) > 0
	]
	count(found) > 0
	granting := {j | some g in found; some j in rbac.resource_items(x.rule, {g.resource})}
	j := rbac.pick(x.rule, "resources", granting)
	v := {
		"msg": sprintf("%s lets its subjects run commands in pods (%s)%s", [
			data.kubegate.lib.rbac.display,
			what(x.rule, found),
			websocket_note(x.rule, found),
		]),
		"path": ["rules", x.i, "resources", j],
	}
}

what(r, found) := concat("; ", {sprintf("%s on %s", [vt, concat(", ", {p[1] | some p in pairs; p[0] == vt})]) |
	some q in pairs
	vt := q[0]
}) if {
	pairs := {[rbac.verbs_text(r, g.verbs), res_text(r, g.resource)] | some g in found}
}

# "pods/exec", or "pods/exec (`*`)" when a wildcard grants it.
res_text(r, res) := res if {
	res in rbac.list(r, "resources")
} else := sprintf("%s (`%s`)", [res, rbac.list(r, "resources")[min(rbac.resource_items(r, {res}))]])

# Only `get` on exec/attach: say why it is enough.
# The body ends on defined comparisons, not on an exhausted `some`: regorus's VM does not
# fall through to `else` after an undefined result (see BENCHMARKS.md).
websocket_note(r, found) := ": `get` is enough for a WebSocket exec before Kubernetes 1.35" if {
	exec := [g | some g in found; g.resource in {"pods/exec", "pods/attach"}]
	count(exec) > 0
	count(rbac.verb_items(r, {"create"})) == 0
} else := ""
