# METADATA
# title: Role or ClusterRole can create pods or workloads
# description: |
#   Whoever can create a pod chooses what runs in it: any image and command, any service
#   account of the namespace (and so its API permissions and token), any Secret, ConfigMap or
#   PersistentVolumeClaim of the namespace as a volume, and, unless Pod Security admission
#   enforces `baseline` or `restricted`, a privileged pod or a `hostPath` mount that takes the
#   node. Creating a workload resource (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job,
#   CronJob, ReplicationController) creates pods just the same, and so does `update` or
#   `patch` on one whose pod template can change (all of them but Jobs). CIS Kubernetes
#   Benchmark 5.1.4: minimize access to create pods. A `*` verb, a `*` resource or `*` API
#   group counts. Rules limited with `resourceNames` are not flagged: RBAC never allows
#   `create` through them, and updating named workloads is the least-privilege way for a
#   controller to manage its own.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
# custom:
#   id: KG210
#   name: pod-creation
#   severity: warning
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Grant workload creation only to the subjects that deploy (people, CD pipelines,
#     operators), in the namespaces they manage, and enforce the `baseline` or `restricted`
#     Pod Security Standard there (label the namespace
#     `pod-security.kubernetes.io/enforce`) so created pods cannot take the node.
#   equivalents:
#     kube-linter:
#       - {id: access-to-create-pods, match: partial, note: "kube-linter reports the subjects that get it through bindings, and flags only create"}
#     trivy:
#       - {id: KSV048, match: partial, note: "trivy also flags delete and deletecollection, and rules limited with resourceNames"}
package kubegate.rules.rbac.pod_creation

import rego.v1

import data.kubegate.lib.rbac

template_verbs := {"create", "update", "patch"}

# The resources items and verbs items that may grant one of `grants` (none of its resources
# is a subresource).
resource_forms := {"*"} | {g.resource | some g in grants}

verb_forms := {"*"} | template_verbs

grants := [
	{"group": "", "resource": "pods", "verbs": {"create"}},
	{"group": "", "resource": "replicationcontrollers", "verbs": template_verbs},
	{"group": "apps", "resource": "deployments", "verbs": template_verbs},
	{"group": "apps", "resource": "daemonsets", "verbs": template_verbs},
	{"group": "apps", "resource": "statefulsets", "verbs": template_verbs},
	{"group": "apps", "resource": "replicasets", "verbs": template_verbs},
	{"group": "batch", "resource": "jobs", "verbs": {"create"}},
	{"group": "batch", "resource": "cronjobs", "verbs": template_verbs},
]

violation contains v if {
	rbac.may_grant(template_verbs, {g.resource | some g in grants})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	not rbac.named(x.rule)
	items := data.kubegate.lib.rbac.item_sets[x.i]
	# None of the resources of `grants` is a subresource: `*` or the resource grants it.
	found := [g |
		some g in grants
		count(items.groups & {"*", g.group}) > 0
		count(items.verbs & ({"*"} | g.verbs)) > 0
		count(items.resources & {"*", g.resource}) > 0
	]
	count(found) > 0
	granting := {j | some g in found; some j in rbac.resource_items(x.rule, {g.resource})}
	j := rbac.pick(x.rule, "resources", granting)
	v := {
		"msg": sprintf("%s lets its subjects run pods of their choice (%s)", [data.kubegate.lib.rbac.display, what(x.rule, found)]),
		"path": ["rules", x.i, "resources", j],
	}
}

what(r, found) := sprintf("%s on every resource (`*`) of %s", [rbac.verbs_text(r, template_verbs), rbac.groups_text(r)]) if {
	"*" in rbac.list(r, "resources")
} else := concat("; ", {sprintf("%s on %s", [vt, concat(", ", {p[1] | some p in pairs; p[0] == vt})]) |
	some q in pairs
	vt := q[0]
}) if {
	pairs := {[rbac.verbs_text(r, g.verbs), g.resource] | some g in found}
}
