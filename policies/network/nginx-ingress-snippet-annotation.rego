# METADATA
# title: Ingress uses an ingress-nginx snippet annotation
# description: |
#   ingress-nginx copies `nginx.ingress.kubernetes.io/*-snippet` annotations
#   (`configuration-snippet`, `server-snippet`, `stream-snippet`, `auth-snippet`,
#   `modsecurity-snippet`) verbatim into the controller's nginx configuration. Anyone who can
#   write an Ingress can then read files of the controller pod, including its service account
#   token, which can read every Secret in the cluster (CVE-2021-25742). Since controller 1.9,
#   snippets are disabled unless the cluster operator sets `allow-snippet-annotations:
#   "true"`, so on most clusters the annotation is ignored or rejected anyway. (checkov
#   CKV_K8S_153 flags every annotation whose key contains `snippet`, whatever the
#   controller, so it is a partial equivalent.)
# related_resources:
#   - ref: https://github.com/kubernetes/ingress-nginx/issues/7837
#   - ref: https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/
# custom:
#   id: KG505
#   name: nginx-ingress-snippet-annotation
#   severity: warning
#   category: network
#   kinds: [Ingress]
#   remediation: |
#     Replace the snippet with the dedicated annotation or ConfigMap option for what it does
#     (headers, redirects, timeouts, rate limits), or move the logic into the application or a
#     Gateway API filter.
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_152, match: partial, note: "checkov flags only snippets containing Lua code; kubegate every snippet annotation"}
#       - {id: CKV_K8S_153, match: partial, note: "checkov flags every annotation whose key contains snippet, whatever the controller"}
#       - {id: CKV_K8S_154, match: partial, note: "checkov flags only snippets containing an alias directive; kubegate every snippet annotation"}
package kubegate.rules.network.nginx_ingress_snippet_annotation

import rego.v1

import data.kubegate.lib.workload

violation contains v if {
	input.kind == "Ingress"
	some k, _ in data.kubegate.lib.workload.annotations
	startswith(k, "nginx.ingress.kubernetes.io/")
	endswith(k, "-snippet")
	v := {
		"msg": sprintf("Ingress `%s` uses the ingress-nginx snippet annotation `%s`", [data.kubegate.lib.workload.object_name, k]),
		"path": ["metadata", "annotations", k],
	}
}
