# METADATA
# title: Role or ClusterRole grants every verb on every resource
# description: |
#   A rule with `*` in `apiGroups`, `resources` and `verbs` grants everything: in a
#   ClusterRole it is cluster-admin wherever it is bound cluster-wide (every secret, every
#   pod, RBAC itself), and full control of the namespace when bound with a RoleBinding; in a
#   Role it is full control of the namespace, including its secrets, the service account
#   tokens in them, and the namespace's RBAC. It is rarely what a workload needs, and it
#   grows with every API added to the cluster.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles
# custom:
#   id: KG203
#   name: full-wildcard-rule
#   severity: error
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Replace the rule with the API groups, resources and verbs the subjects use. If full
#     control is really intended, bind the built-in `cluster-admin` or `admin` ClusterRole
#     explicitly, so the grant is visible and reviewed as such.
#   equivalents:
#     trivy: [KSV044]
package kubegate.rules.rbac.full_wildcard_rule

import rego.v1

import data.kubegate.lib.rbac

violation contains v if {
	"*" in data.kubegate.lib.rbac.all_verbs
	"*" in data.kubegate.lib.rbac.all_resources
	"*" in data.kubegate.lib.rbac.all_groups
	some x in data.kubegate.lib.rbac.resource_rules
	"*" in rbac.list(x.rule, "apiGroups")
	"*" in rbac.list(x.rule, "resources")
	"*" in rbac.list(x.rule, "verbs")
	v := {
		"msg": sprintf("%s grants every verb on every resource of every API group (%s)", [data.kubegate.lib.rbac.display, scope]),
		"path": ["rules", x.i],
	}
}

scope := "cluster-admin wherever it is bound cluster-wide" if {
	input.kind == "ClusterRole"
} else := sprintf("full control of namespace `%s`", [data.kubegate.lib.rbac.namespace]) if {
	data.kubegate.lib.rbac.namespace != ""
} else := "full control of its namespace"
