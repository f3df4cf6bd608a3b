# METADATA
# title: Port name is not a valid IANA service name
# description: |
#   A container port's `name` and a Service's string `targetPort` must be an IANA_SVC_NAME
#   (RFC 6335): 1 to 15 characters, lowercase letters, digits and `-`, at least one letter,
#   no `-` at the start or the end and no `--`. The API server rejects the Pod (or the
#   workload) and the Service otherwise, so the apply fails. A common case is a number in
#   quotes (`targetPort: "8080"`): quoted, it is a name, and a name needs a letter.
#
#   kube-linter's invalid-target-ports also checks that a numeric `targetPort` is between
#   1 and 65535, so it is a partial equivalent.
# related_resources:
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#ports
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec
#   - ref: https://www.rfc-editor.org/rfc/rfc6335.html#section-5.1
# custom:
#   id: KG506
#   name: invalid-port-name
#   severity: error
#   category: network
#   kinds: [workloads, Service]
#   remediation: |
#     Rename the port: at most 15 lowercase letters, digits and single dashes, with at least
#     one letter (`http`, `metrics`, `grpc-web`), and use the same name in the Service's
#     `targetPort` and in probes. For a port number, write it unquoted.
#   equivalents:
#     kube-linter:
#       - {id: invalid-target-ports, match: partial, note: "kube-linter also checks that a numeric targetPort is between 1 and 65535"}
package kubegate.rules.network.invalid_port_name

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

# Why `n` is not a valid IANA_SVC_NAME: [] when it is.
problems(n) := [msg |
	some check in [
		[count(n) <= 15, "is longer than 15 characters"],
		[regex.match(`^[a-z0-9-]*$`, n), "may contain only lowercase letters, digits and '-'"],
		[regex.match(`[a-z]`, n), "must contain at least one letter"],
		[regex.match(`^-|-$`, n) == false, "must not start or end with '-'"],
		[contains(n, "--") == false, "must not contain '--'"],
	]
	check[0] == false
	msg := check[1]
]

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	ports := object.get(c.c, "ports", [])
	is_array(ports)
	some i, p in ports
	is_object(p)
	n := p.name
	is_string(n)
	n != ""
	ps := problems(n)
	count(ps) > 0
	v := {
		"msg": sprintf("port name `%s` of container `%s` is not a valid IANA service name: it %s", [n, k8s.name(c), concat(", and ", ps)]),
		"path": array.concat(c.path, ["ports", i, "name"]),
	}
}

violation contains v if {
	input.kind == "Service"
	ports := input.spec.ports
	is_array(ports)
	some i, p in ports
	is_object(p)
	n := p.targetPort
	is_string(n)
	n != ""
	ps := problems(n)
	count(ps) > 0
	v := {
		"msg": sprintf("targetPort `%s` of Service `%s` is not a valid port name: it %s%s", [n, data.kubegate.lib.workload.object_name, concat(", and ", ps), number_hint(n)]),
		"path": ["spec", "ports", i, "targetPort"],
	}
}

# A hint for a port number written as a string.
number_hint(n) := " (write a port number unquoted)" if regex.match(`^[0-9]+$`, n)

number_hint(n) := "" if not regex.match(`^[0-9]+$`, n)
