# METADATA
# title: Ingress serves hosts without TLS
# description: |
#   An Ingress without `spec.tls` serves its hosts over plain HTTP: credentials, cookies and
#   data cross the network in clear text and can be altered on the way. When `spec.tls` is
#   present, each host of `spec.rules` must also be listed in some `tls[].hosts` (a wildcard
#   `*.example.com` covers one label, `api.example.com`), otherwise that host gets no
#   certificate of its own. A `tls` entry without `hosts` applies to every host.
#
#   Ingresses whose controller terminates TLS from an annotation are not flagged: AWS Load
#   Balancer Controller (`alb.ingress.kubernetes.io/certificate-arn`, or an HTTPS listener in
#   `listen-ports`), GKE (`ingress.gcp.kubernetes.io/pre-shared-cert`,
#   `networking.gke.io/managed-certificates`), Azure Application Gateway
#   (`appgw.ingress.kubernetes.io/appgw-ssl-certificate`) and Traefik
#   (`traefik.ingress.kubernetes.io/router.tls: "true"`).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   id: KG503
#   name: ingress-without-tls
#   severity: warning
#   category: network
#   kinds: [Ingress]
#   remediation: |
#     Add a `spec.tls` entry listing the hosts and the Secret holding their certificate (for
#     example issued by cert-manager through its `cert-manager.io/cluster-issuer`
#     annotation), and redirect HTTP to HTTPS in the controller.
package kubegate.rules.network.ingress_without_tls

import rego.v1

import data.kubegate.lib.workload

tls_annotations := {
	"alb.ingress.kubernetes.io/certificate-arn",
	"ingress.gcp.kubernetes.io/pre-shared-cert",
	"networking.gke.io/managed-certificates",
	"appgw.ingress.kubernetes.io/appgw-ssl-certificate",
}

tls_by_annotation if {
	some k in tls_annotations
	data.kubegate.lib.workload.annotations[k]
}

tls_by_annotation if {
	ports := data.kubegate.lib.workload.annotations["alb.ingress.kubernetes.io/listen-ports"]
	is_string(ports)
	contains(ports, "HTTPS")
}

tls_by_annotation if data.kubegate.lib.workload.annotations["traefik.ingress.kubernetes.io/router.tls"] == "true"

tls_entries := [t |
	is_array(input.spec.tls)
	some t in input.spec.tls
	is_object(t)
]

# Hosts with a certificate; "*" when an entry applies to every host.
tls_hosts contains h if {
	some t in tls_entries
	is_array(t.hosts)
	some h in t.hosts
	is_string(h)
}

tls_hosts contains "*" if {
	some t in tls_entries
	not is_array(t.hosts)
}

tls_hosts contains "*" if {
	some t in tls_entries
	t.hosts == []
}

covered(_) if "*" in tls_hosts

covered(host) if host in tls_hosts

# `*.example.com` covers `api.example.com` but not `example.com` or `a.b.example.com`.
covered(host) if {
	some w in tls_hosts
	startswith(w, "*.")
	suffix := substring(w, 1, -1)
	endswith(host, suffix)
	label := substring(host, 0, count(host) - count(suffix))
	label != ""
	not contains(label, ".")
}

violation contains v if {
	input.kind == "Ingress"
	is_object(input.spec)
	count(tls_entries) == 0
	not tls_by_annotation
	v := {
		"msg": sprintf("Ingress `%s` has no `spec.tls`: it serves plain HTTP", [data.kubegate.lib.workload.object_name]),
		"path": workload.nearest([], input, ["spec", "tls"]),
	}
}

violation contains v if {
	input.kind == "Ingress"
	count(tls_entries) > 0
	is_array(input.spec.rules)
	some i, rule in input.spec.rules
	host := rule.host
	is_string(host)
	host != ""
	not covered(host)
	v := {
		"msg": sprintf("host `%s` of Ingress `%s` is not listed in any `spec.tls[].hosts`", [host, data.kubegate.lib.workload.object_name]),
		"path": ["spec", "rules", i, "host"],
	}
}
