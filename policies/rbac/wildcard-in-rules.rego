# METADATA
# title: Role or ClusterRole rule uses `*` for verbs or resources
# description: |
#   `verbs: ["*"]` grants every verb, including `escalate`, `bind`, `impersonate` and
#   `deletecollection`, and any verb added later; `resources: ["*"]` grants every resource and
#   subresource of the rule's API groups, including `secrets`, `pods/exec` and resources that
#   only appear later (new Kubernetes versions, CRDs installed afterwards). A wildcard rule
#   silently widens as the cluster changes, and its real reach is hard to review. CIS
#   Kubernetes Benchmark 5.1.3: minimize wildcard use in Roles and ClusterRoles. Each `*` item is
#   reported on its own line; `*` in `apiGroups` is KG202, a rule that is `*` in all three is
#   also KG203.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege
#   - ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
# custom:
#   id: KG201
#   name: wildcard-in-rules
#   severity: warning
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     List the verbs and resources the subjects need, for example
#     `verbs: ["get", "list", "watch"]` and `resources: ["pods", "services"]`.
#     `kubectl auth can-i --list --as=system:serviceaccount:<ns>:<sa>` and the audit log show
#     what a workload actually uses.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_49, match: partial, note: "checkov reads only the first rule of the role, and also flags * in apiGroups (wildcard-api-groups here)"}
#     kube-linter: [wildcard-in-rules]
#     trivy:
#       - {id: KSV045, match: partial, note: "trivy flags a * verb only on some resources (secrets, pods, workloads, RBAC, users, groups)"}
#       - {id: KSV046, match: partial, note: "trivy flags * resources in ClusterRoles with common verbs only"}
#       - {id: KSV112, match: partial, note: "trivy flags * resources in Roles with common verbs only"}
package kubegate.rules.rbac.wildcard_in_rules

import rego.v1

import data.kubegate.lib.rbac

# `*` in verbs: on the rule's resources, or on its nonResourceURLs.
violation contains v if {
	"*" in data.kubegate.lib.rbac.all_verbs
	some x in data.kubegate.lib.rbac.rules
	some j, verb in rbac.list(x.rule, "verbs")
	verb == "*"
	v := {
		"msg": sprintf("%s grants every verb (`*`) on %s", [data.kubegate.lib.rbac.display, targets(x.rule)]),
		"path": ["rules", x.i, "verbs", j],
	}
}

violation contains v if {
	"*" in data.kubegate.lib.rbac.all_resources
	some x in data.kubegate.lib.rbac.resource_rules
	some j, res in rbac.list(x.rule, "resources")
	res == "*"
	v := {
		"msg": sprintf("%s grants %s on every resource (`*`) of %s", [data.kubegate.lib.rbac.display, verbs(x.rule), rbac.groups_text(x.rule)]),
		"path": ["rules", x.i, "resources", j],
	}
}

targets(r) := sprintf("every resource of %s", [rbac.groups_text(r)]) if {
	"*" in rbac.list(r, "resources")
} else := sprintf("%s of %s", [concat(", ", rbac.texts(r, "resources")), rbac.groups_text(r)]) if {
	count(rbac.list(r, "resources")) > 0
} else := sprintf("non-resource URLs %s", [concat(", ", [sprintf("`%s`", [u]) | some u in rbac.texts(r, "nonResourceURLs")])])

verbs(r) := "every verb (`*`)" if {
	rbac.has_wildcard_verb(r)
} else := concat(", ", rbac.texts(r, "verbs"))
