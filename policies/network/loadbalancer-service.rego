# METADATA
# title: Service of type LoadBalancer exposed outside the cluster
# description: |
#   A LoadBalancer Service asks the cloud provider for a load balancer, by default with a
#   public address reachable from the internet, and it is billed. Exposing a workload is
#   sometimes the point, so this rule is informational: it makes every new external entry
#   point visible in review. Services annotated as internal load balancers (AWS, GKE, Azure,
#   OpenStack, OCI, IBM Cloud) are not flagged.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#internal-load-balancer
# custom:
#   id: KG502
#   name: loadbalancer-service
#   severity: info
#   category: network
#   kinds: [Service]
#   remediation: |
#     Prefer a shared Ingress or Gateway for HTTP(S) traffic. If the Service must have its own
#     load balancer, restrict its clients with `spec.loadBalancerSourceRanges` or make it an
#     internal load balancer with your provider's annotation.
#   equivalents:
#     kube-linter:
#       - {id: exposed-services, match: partial, note: "kube-linter flags every LoadBalancer Service, internal ones too, and NodePort ones (nodeport-service here)"}
package kubegate.rules.network.loadbalancer_service

import rego.v1

import data.kubegate.lib.workload

# Provider annotations that make the load balancer internal, with the values that do so.
internal_annotations := {
	"service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
	"service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
	"networking.gke.io/load-balancer-type": {"Internal"},
	"cloud.google.com/load-balancer-type": {"Internal", "internal"},
	"service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
	"service.beta.kubernetes.io/openstack-internal-load-balancer": {"true"},
	"service.beta.kubernetes.io/oci-load-balancer-internal": {"true"},
	"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": {"private"},
}

internal if {
	some k, values in internal_annotations
	data.kubegate.lib.workload.annotations[k] in values
}

violation contains v if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	not internal
	v := {
		"msg": sprintf("Service `%s` is of type LoadBalancer: it gets an external load balancer", [data.kubegate.lib.workload.object_name]),
		"path": ["spec", "type"],
	}
}
