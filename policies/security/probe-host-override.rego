# METADATA
# title: Probe or lifecycle hook targets another host
# description: |
#   The kubelet runs httpGet and tcpSocket probes and lifecycle hooks from the node, not from
#   the pod. Setting their `host` makes the kubelet connect to an arbitrary address with the
#   node's network identity, which can reach services only the node should reach (cloud
#   metadata endpoints, the node's localhost) and be used to probe the network. The Pod
#   Security Standards "baseline" profile (policy v1.34+) forbids a non-empty `host` in the
#   liveness, readiness and startup probes and the postStart and preStop hooks of every
#   container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: KG124
#   name: probe-host-override
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `host`: the kubelet then targets the pod's IP. To probe through a virtual host
#     name, set an HTTP `Host` header in `httpGet.httpHeaders` instead.
#   equivalents:
#     pss: "baseline: Host Probes / Lifecycle Hooks"
package kubegate.rules.security.probe_host_override

import rego.v1

import data.kubegate.lib.k8s

handlers := [
	["livenessProbe"], ["readinessProbe"], ["startupProbe"],
	["lifecycle", "postStart"], ["lifecycle", "preStop"],
]

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some handler in handlers
	h := object.get(c.c, handler, null)
	is_object(h)
	some action in ["httpGet", "tcpSocket"]
	host := h[action].host
	is_string(host)
	host != ""
	v := {
		"msg": sprintf("container `%s` %s targets host `%s` instead of the pod", [k8s.name(c), concat(".", handler), host]),
		"path": array.concat(c.path, array.concat(handler, [action, "host"])),
	}
}
