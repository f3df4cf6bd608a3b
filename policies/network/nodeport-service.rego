# METADATA
# title: Service of type NodePort
# description: |
#   A NodePort Service opens the same port (30000-32767 by default) on every node of the
#   cluster, on every node address, next to the ingress layer rather than behind its TLS,
#   authentication and rate limiting. With the default `externalTrafficPolicy: Cluster`,
#   traffic forwarded to a pod on another node has its source address replaced by the node's,
#   so NetworkPolicy `ipBlock` rules and application logs do not see who connects. Nodes
#   come and go, so clients that target a node address break on node replacement. An
#   Ingress, a Gateway or a LoadBalancer Service is almost always the better way to expose a
#   workload.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport
# custom:
#   id: KG501
#   name: nodeport-service
#   severity: warning
#   category: network
#   kinds: [Service]
#   remediation: |
#     Use `type: ClusterIP` behind an Ingress or Gateway, or `type: LoadBalancer`. If a
#     NodePort is really required (bare-metal without a load balancer), restrict which node
#     addresses accept it with the kube-proxy `--nodeport-addresses` flag and firewall rules.
#   equivalents:
#     kube-linter:
#       - {id: exposed-services, match: partial, note: "kube-linter flags NodePort and LoadBalancer Services in one check (loadbalancer-service here)"}
package kubegate.rules.network.nodeport_service

import rego.v1

import data.kubegate.lib.workload

violation contains v if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	v := {
		"msg": sprintf("Service `%s` is of type NodePort: it opens a port on every node", [data.kubegate.lib.workload.object_name]),
		"path": ["spec", "type"],
	}
}
