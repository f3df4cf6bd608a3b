# METADATA
# title: Container exposes port 22 (SSH)
# description: |
#   Port 22/TCP is the SSH port. An SSH server in a container is a second, usually
#   unaudited, way into the workload with its own credentials to leak; `kubectl exec` and
#   ephemeral debug containers give access through the API server's authentication, RBAC and
#   audit log instead. A non-SSH service on port 22 confuses scanners and firewalls.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/#ephemeral-container
# custom:
#   id: KG504
#   name: ssh-port
#   severity: warning
#   category: network
#   kinds: [workloads]
#   remediation: |
#     Remove the SSH server and use `kubectl exec` or `kubectl debug`; if the service is not
#     SSH, move it to another port.
#   equivalents:
#     kube-linter: [ssh-port]
package kubegate.rules.network.ssh_port

import rego.v1

import data.kubegate.lib.k8s

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	ports := c.c.ports
	is_array(ports)
	some i, p in ports
	p.containerPort == 22
	object.get(p, "protocol", "TCP") == "TCP"
	v := {
		"msg": sprintf("container `%s` exposes port 22/TCP (SSH)", [k8s.name(c)]),
		"path": array.concat(c.path, ["ports", i, "containerPort"]),
	}
}
