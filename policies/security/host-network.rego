# METADATA
# title: Pod uses the node's network namespace
# description: |
#   With `hostNetwork: true` the pod shares the node's network stack: it can bind any port
#   on the node's interfaces, reach services listening on localhost (the kubelet's read-only
#   ports, node-local daemons), sniff traffic with NET_RAW, and bypasses NetworkPolicy. The
#   Pod Security Standards "baseline" profile forbids it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KG105
#   name: host-network
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `hostNetwork: true` and expose the workload through a Service (or a
#     `containerPort` with a Service of type NodePort or LoadBalancer). Only node-level
#     agents (CNI plugins, some ingress or monitoring daemons) should need the node network.
#   equivalents:
#     checkov: [CKV_K8S_19]
#     kube-linter: [host-network]
#     pss: "baseline: Host Namespaces"
#     trivy: [KSV009]
package kubegate.rules.security.host_network

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	ps.spec.hostNetwork == true
	v := {
		"msg": "pod sets `hostNetwork: true`: it shares the node's network namespace",
		"path": array.concat(ps.path, ["hostNetwork"]),
	}
}
