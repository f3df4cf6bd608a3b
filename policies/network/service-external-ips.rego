# METADATA
# title: Service sets `externalIPs`
# description: |
#   `spec.externalIPs` makes kube-proxy on every node route traffic for those addresses to
#   the Service's pods. Nothing checks that the addresses belong to the Service's owner: anyone
#   who can create or update a Service in any namespace can claim an external address, or
#   the address of another service inside or outside the cluster, and intercept the traffic
#   that pods and nodes send to it (CVE-2020-8554, never fixed in Kubernetes itself; the
#   `DenyServiceExternalIPs` admission plugin or a policy engine is the mitigation).
#   Legitimate uses are rare and better served by a LoadBalancer Service or an Ingress.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#external-ips
#   - ref: https://github.com/kubernetes/kubernetes/issues/97076
# custom:
#   id: KG508
#   name: service-external-ips
#   severity: warning
#   category: network
#   kinds: [Service]
#   remediation: |
#     Remove `externalIPs`, and expose the Service through a LoadBalancer Service, an Ingress
#     or a Gateway. Enable the `DenyServiceExternalIPs` admission plugin so no Service can
#     claim an address.
#   equivalents:
#     trivy:
#       - {id: KSV108, match: partial, note: "trivy also flags ExternalName Services"}
package kubegate.rules.network.service_external_ips

import rego.v1

import data.kubegate.lib.workload

violation contains v if {
	input.kind == "Service"
	ips := input.spec.externalIPs
	is_array(ips)
	some i, ip in ips
	v := {
		"msg": sprintf("Service `%s` claims the external IP %v: it receives the traffic any pod or node sends to that address", [data.kubegate.lib.workload.object_name, ip]),
		"path": ["spec", "externalIPs", i],
	}
}
