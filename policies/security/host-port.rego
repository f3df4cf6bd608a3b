# METADATA
# title: Container binds a port on the node (hostPort)
# description: |
#   A `hostPort` opens the port on the node's own addresses and forwards it to the pod,
#   bypassing the Service abstraction and, with many network plugins, NetworkPolicy. It also
#   limits scheduling to nodes where the port is free. The Pod Security Standards "baseline"
#   profile requires `hostPort` to be unset or 0 on every container, init container and
#   ephemeral container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/concepts/configuration/overview/#services
# custom:
#   id: KG110
#   name: host-port
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `hostPort` and expose the port with a Service (type NodePort or LoadBalancer if
#     it must be reachable from outside the cluster).
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_26, match: partial, note: "checkov also flags an explicit hostPort: 0, which opens no port"}
#     pss: "baseline: Host Ports"
#     trivy:
#       - {id: KSV024, match: partial, note: "trivy also flags an explicit hostPort: 0, which opens no port"}
package kubegate.rules.security.host_port

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some i, port in sec.arr(object.get(c.c, "ports", []))
	hp := port.hostPort
	is_number(hp)
	hp != 0
	v := {
		"msg": sprintf("container `%s` binds port %v on the node (`hostPort: %v`)", [k8s.name(c), hp, hp]),
		"path": array.concat(c.path, ["ports", i, "hostPort"]),
	}
}
