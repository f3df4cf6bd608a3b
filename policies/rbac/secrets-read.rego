# METADATA
# title: Role or ClusterRole can read secrets
# description: |
#   `get`, `list` or `watch` on `secrets` reveals every Secret in reach: database passwords,
#   API keys, TLS keys, registry credentials and service account tokens (long-lived ones, and
#   any a controller stores), which often belong to subjects far more privileged than this
#   one. `list` and `watch` return the contents of every secret at once; `get` reads any
#   secret whose name is known or guessed. In a ClusterRole bound cluster-wide this covers all
#   namespaces, `kube-system` included. CIS Kubernetes Benchmark 5.1.2: minimize access to
#   secrets. A `*` verb or a `*` resource in the core API group (`""` or `*`) counts. Rules
#   limited with `resourceNames` are not flagged: reading named secrets is the least-privilege
#   way to give a workload the secrets it needs.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/rbac-good-practices/#listing-secrets
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/#least-privilege-secrets
# custom:
#   id: KG204
#   name: secrets-read
#   severity: warning
#   category: rbac
#   kinds: [Role, ClusterRole]
#   remediation: |
#     Remove the read verbs on `secrets`, or limit the rule to the secrets the subject needs
#     with `resourceNames` (and only `get`). Prefer mounting secrets into the pods that use
#     them over reading them through the API. Replace `*` resources with the resources the
#     subject uses.
#   equivalents:
#     checkov:
#       - {id: CKV2_K8S_5, match: partial, note: "checkov reports the binding that grants it to a ServiceAccount or Node; kubegate the role"}
#     kube-linter:
#       - {id: access-to-secrets, match: partial, note: "kube-linter reports the subjects that get it through bindings, and also flags create and delete"}
#     trivy:
#       - {id: KSV041, match: partial, note: "trivy flags any verb on secrets in a ClusterRole, write verbs and resourceNames included"}
#       - {id: KSV113, match: partial, note: "trivy flags any verb on secrets in a Role, write verbs and resourceNames included"}
package kubegate.rules.rbac.secrets_read

import rego.v1

import data.kubegate.lib.rbac

read_verbs := {"get", "list", "watch"}

resource_forms := rbac.resource_forms({"secrets"})

verb_forms := {"*"} | read_verbs

violation contains v if {
	rbac.may_grant(read_verbs, {"secrets"})
	some x in data.kubegate.lib.rbac.resource_rules
	# The cheapest test first: most rules name none of these resources or verbs.
	count(data.kubegate.lib.rbac.item_sets[x.i].resources & resource_forms) > 0
	count(data.kubegate.lib.rbac.item_sets[x.i].verbs & verb_forms) > 0
	not rbac.named(x.rule)
	rbac.has_group(x.rule, "")
	count(rbac.verb_items(x.rule, read_verbs)) > 0
	items := rbac.resource_items(x.rule, {"secrets"})
	count(items) > 0
	j := rbac.pick(x.rule, "resources", items)
	v := {
		"msg": sprintf("%s lets its subjects read secrets (%s%s)", [
			data.kubegate.lib.rbac.display,
			rbac.verbs_text(x.rule, read_verbs),
			on(rbac.list(x.rule, "resources")[j]),
		]),
		"path": ["rules", x.i, "resources", j],
	}
}

on(res) := " on every resource (`*`) of the core API group" if res == "*"

on(res) := "" if res != "*"
