# METADATA
# title: Role or ClusterRole rule uses `*` for API groups
# description: |
#   `apiGroups: ["*"]` makes the rule's resources match in every API group, present and
#   future: a rule meant for `deployments` in `apps` also grants any CRD whose plural is
#   `deployments`, in any group installed later. The grant is wider than it reads, and it
#   widens as CRDs are added. Rules whose resources are also `*` are reported by KG201 (and
#   KG203 when the verbs are `*` too), so they are not repeated here.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#role-and-clusterrole
# custom:
#   id: KG202
#   name: wildcard-api-groups
#   severity: info
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Name the API groups of the resources: `""` for core resources (pods, services,
#     configmaps), `apps` for deployments, `batch` for jobs, and the group of each CRD.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_49, match: partial, note: "checkov reads only the first rule of the role, and also flags * in verbs and resources (wildcard-in-rules here)"}
package kubegate.rules.rbac.wildcard_api_groups

import rego.v1

import data.kubegate.lib.rbac

violation contains v if {
	"*" in data.kubegate.lib.rbac.all_groups
	some x in data.kubegate.lib.rbac.resource_rules
	not "*" in rbac.list(x.rule, "resources")
	some j, g in rbac.list(x.rule, "apiGroups")
	g == "*"
	v := {
		"msg": sprintf("%s grants %s on %s in every API group (`*`)", [
			data.kubegate.lib.rbac.display,
			verbs(x.rule),
			concat(", ", rbac.texts(x.rule, "resources")),
		]),
		"path": ["rules", x.i, "apiGroups", j],
	}
}

verbs(r) := "every verb (`*`)" if {
	rbac.has_wildcard_verb(r)
} else := concat(", ", rbac.texts(r, "verbs"))
