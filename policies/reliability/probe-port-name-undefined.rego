# METADATA
# title: Probe targets a named port the container does not declare
# description: |
#   A probe's `httpGet.port` or `tcpSocket.port` may name a port instead of giving its number;
#   the kubelet resolves the name against the same container's `ports[].name`. When no port
#   of the container has that name, the probe fails every time: a liveness or startup probe
#   restarts the container in a loop, and a readiness probe keeps the pod out of its Services
#   forever. The API server accepts the manifest, so only a check like this one catches it.
#
#   Numeric ports are checked by probe-port-not-declared (KG414), as a warning:
#   `containerPort` is informational and a process may listen on a port it does not
#   declare. (kube-linter's liveness-port, readiness-port and startup-port check numeric
#   `httpGet` ports too, so they are partial equivalents of this rule alone.)
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#use-a-named-port
# custom:
#   id: KG407
#   name: probe-port-name-undefined
#   severity: error
#   category: reliability
#   kinds: [workloads]
#   remediation: |
#     Add the port to the container's `ports` with that `name` (and its `containerPort`), or
#     use the port number in the probe.
#   equivalents:
#     kube-linter:
#       - {id: liveness-port, match: partial, note: "kube-linter checks named and numeric httpGet ports in one check (probe-port-not-declared here for numbers)"}
#       - {id: readiness-port, match: partial, note: "kube-linter checks named and numeric httpGet ports in one check (probe-port-not-declared here for numbers)"}
#       - {id: startup-port, match: partial, note: "kube-linter checks named and numeric httpGet ports in one check (probe-port-not-declared here for numbers)"}
package kubegate.rules.reliability.probe_port_name_undefined

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

probes := ["startupProbe", "livenessProbe", "readinessProbe"]

handlers := ["httpGet", "tcpSocket"]

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some probe in probes
	some handler in handlers
	port := c.c[probe][handler].port
	is_string(port)
	not regex.match(`^[0-9]+$`, port)
	not port in workload.port_names(c)
	v := {
		"msg": sprintf("%s of container `%s` targets port `%s`, which the container does not declare in `ports`", [probe, k8s.name(c), port]),
		"path": array.concat(c.path, [probe, handler, "port"]),
	}
}
