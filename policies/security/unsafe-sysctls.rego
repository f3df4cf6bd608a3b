# METADATA
# title: Pod sets a sysctl outside the safe set
# description: |
#   Sysctls set in `spec.securityContext.sysctls` are applied to the pod's kernel
#   namespaces; only a few are both namespaced and isolated from other pods. The others can
#   change the behaviour of the whole node or other pods, and the kubelet refuses them unless
#   they are explicitly allowed on the node. The Pod Security Standards "baseline" profile
#   allows only the safe set: kernel.shm_rmid_forced, net.ipv4.ip_local_port_range,
#   net.ipv4.ip_local_reserved_ports, net.ipv4.ip_unprivileged_port_start,
#   net.ipv4.ping_group_range, net.ipv4.tcp_syncookies, net.ipv4.tcp_keepalive_time,
#   net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes, net.ipv4.tcp_fin_timeout,
#   net.ipv4.tcp_rmem and net.ipv4.tcp_wmem (Kubernetes 1.32+), and
#   net.ipv4.tcp_slow_start_after_idle and net.ipv4.tcp_notsent_lowat (1.37+). Names written
#   with `/` separators are compared in their `.` form.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/
# custom:
#   id: KG119
#   name: unsafe-sysctls
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove the sysctl from the pod. If the node really needs the setting, configure it on
#     the node (or in a node-level DaemonSet run by the cluster operator), not in the
#     application's pod.
#   equivalents:
#     kube-linter:
#       - {id: unsafe-sysctls, match: partial, note: "kube-linter flags sysctls by prefix (kernel.msg, kernel.sem, kernel.shm, fs.mqueue., net.), so also the safe net.ipv4 ones"}
#     pss: "baseline: Sysctls"
#     trivy:
#       - {id: KSV026, match: partial, note: "trivy compares with the safe set of the Kubernetes version it targets, up to 1.32"}
package kubegate.rules.security.unsafe_sysctls

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

safe := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ping_group_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_notsent_lowat",
}

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	some i, sysctl in sec.arr(object.get(sec.pod_sc(ps), "sysctls", []))
	name := sysctl.name
	is_string(name)
	not replace(name, "/", ".") in safe
	v := {
		"msg": sprintf("pod sets sysctl `%s`, which is not in the safe set", [name]),
		"path": array.concat(sec.pod_sc_path(ps), ["sysctls", i]),
	}
}
