# METADATA
# title: ClusterRole grants access to the kubelet API through `nodes/proxy`
# description: |
#   `nodes/proxy` reaches the kubelet API of every node, directly on port 10250 or through
#   the API server's node proxy. The kubelet API runs commands in any container of the node
#   (`/exec`, `/run`, `/attach`), reads every pod's logs and environment, and bypasses
#   admission control and the API server's audit of pod exec. `create` runs commands, and
#   `get` is enough too: a WebSocket upgrade is a GET request, so `get` on `nodes/proxy` runs
#   commands through `/exec` on current kubelets. A `*` verb, a `*` or `*/proxy` resource, or
#   `*` API group counts; `resourceNames` (specific nodes) still gives every pod on those
#   nodes, so it is flagged either way. Nodes are cluster-scoped, so only ClusterRoles are
#   checked.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#access-to-proxy-subresource-of-nodes
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/#get-nodes-proxy-warning
# custom:
#   id: KG209
#   name: node-proxy-access
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove `nodes/proxy` and grant the dedicated kubelet subresources the subject uses:
#     `nodes/metrics` (`/metrics`, `/metrics/cadvisor`), `nodes/stats` (summary API),
#     `nodes/log`, and from Kubernetes 1.36 `nodes/healthz`, `nodes/pods` and
#     `nodes/configz`. None of them reaches the exec endpoints.
#   equivalents:
#     checkov:
#       - {id: CKV2_K8S_2, match: partial, note: "checkov flags create on nodes/proxy (and pods/exec) only in roles bound to a ServiceAccount or Node, on the binding"}
#     trivy:
#       - {id: KSV047, match: partial, note: "trivy also checks Roles, where nodes/proxy grants nothing, and does not count * verbs"}
package kubegate.rules.rbac.node_proxy_access

import rego.v1

import data.kubegate.lib.rbac

proxy_verbs := {"get", "create"}

resource_forms := rbac.resource_forms({"nodes/proxy"})

verb_forms := {"*"} | proxy_verbs

violation contains v if {
	rbac.may_grant(proxy_verbs, {"nodes/proxy"})
	data.kubegate.lib.rbac.is_cluster_role
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	rbac.has_group(x.rule, "")
	count(rbac.verb_items(x.rule, proxy_verbs)) > 0
	items := rbac.resource_items(x.rule, {"nodes/proxy"})
	count(items) > 0
	j := rbac.pick(x.rule, "resources", items)
	v := {
		"msg": sprintf("%s grants %s on %s: its subjects can run commands in every pod of the nodes through the kubelet API", [
			data.kubegate.lib.rbac.display,
			rbac.verbs_text(x.rule, proxy_verbs),
			res_text(rbac.list(x.rule, "resources")[j]),
		]),
		"path": ["rules", x.i, "resources", j],
	}
}

res_text(r) := "nodes/proxy (`*`)" if r == "*"

res_text(r) := "nodes/proxy" if r == "nodes/proxy"

res_text(r) := "nodes/proxy (`*/proxy`)" if r == "*/proxy"
