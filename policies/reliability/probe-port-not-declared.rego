# METADATA
# title: Probe targets a port number the container does not declare
# description: |
#   A probe's `httpGet.port`, `tcpSocket.port` or `grpc.port` given as a number should be
#   one of the container's `ports[].containerPort`. A probe on an undeclared port is most
#   often a typo or a port changed on one side only: the probe then fails every time, and
#   a liveness or startup probe restarts the container in a loop while a readiness probe
#   keeps the pod out of its Services. Declaring the port also documents it for Services,
#   NetworkPolicies and the people reading the manifest.
#
#   A process may listen on a port it does not declare (`containerPort` is informational),
#   so this is a warning. Named ports are checked by probe-port-name-undefined (KG407);
#   together the two rules cover kube-linter's liveness-port, readiness-port and
#   startup-port (which check `httpGet` probes only), so each is their partial
#   equivalent.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
#   - ref: https://docs.kubelinter.io/#/generated/checks?id=liveness-port
# custom:
#   id: KG414
#   name: probe-port-not-declared
#   severity: warning
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Add the port to the container's `ports` (`containerPort`, with a `name`), or point the
#     probe at a port the container declares.
#   equivalents:
#     kube-linter:
#       - {id: liveness-port, match: partial, note: "kube-linter checks only httpGet probes, and named ports too (probe-port-name-undefined here)"}
#       - {id: readiness-port, match: partial, note: "kube-linter checks only httpGet probes, and named ports too (probe-port-name-undefined here)"}
#       - {id: startup-port, match: partial, note: "kube-linter checks only httpGet probes, and named ports too (probe-port-name-undefined here)"}
package kubegate.rules.reliability.probe_port_not_declared

import rego.v1

import data.kubegate.lib.k8s

probes := ["startupProbe", "livenessProbe", "readinessProbe"]

handlers := ["httpGet", "tcpSocket", "grpc"]

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some probe in probes
	some handler in handlers
	port := c.c[probe][handler].port
	is_number(port)
	not port in declared(c)
	v := {
		"msg": sprintf("%s of container `%s` targets port %d, which the container does not declare in `ports`", [probe, k8s.name(c), port]),
		"path": array.concat(c.path, [probe, handler, "port"]),
	}
}

declared(c) := {p.containerPort |
	ports := object.get(c.c, "ports", [])
	is_array(ports)
	some p in ports
	is_object(p)
}
