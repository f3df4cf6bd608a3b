# METADATA
# title: Pod or container sets a custom SELinux user, role or type
# description: |
#   On SELinux nodes, the container runtime labels each container `container_t` (with a
#   per-pod MCS level), which confines it even if it escapes its namespaces. A custom type
#   such as `spc_t` (super-privileged container) or `unconfined_t`, or a custom SELinux user or
#   role, removes that confinement. The Pod Security Standards "baseline" profile allows
#   only the types `container_t`, `container_init_t`, `container_kvm_t` and
#   `container_engine_t` and forbids setting `user` or `role`; `level` is free.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#assign-selinux-labels-to-a-container
# custom:
#   id: KG117
#   name: unsafe-selinux-options
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `seLinuxOptions.type`, `user` and `role` (keep `level` if you need a fixed MCS
#     level), or use one of the allowed container types.
#   equivalents:
#     pss: "baseline: SELinux"
#     trivy:
#       - {id: KSV025, match: partial, note: "trivy does not allow the type container_engine_t, which Pod Security admission allows"}
package kubegate.rules.security.unsafe_selinux_options

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# Every seLinuxOptions of the pods and containers: {"who": ..., "opts": ..., "path": [...]}.
options contains {"who": "pod", "opts": opts, "path": array.concat(sec.pod_sc_path(ps), ["seLinuxOptions"])} if {
	some ps in data.kubegate.lib.k8s.pod_specs
	opts := sec.pod_sc(ps).seLinuxOptions
	is_object(opts)
}

options contains {"who": sprintf("container `%s`", [k8s.name(c)]), "opts": opts, "path": array.concat(c.path, ["securityContext", "seLinuxOptions"])} if {
	some c in data.kubegate.lib.k8s.containers
	opts := sec.container_sc(c).seLinuxOptions
	is_object(opts)
}

violation contains v if {
	some o in options
	t := o.opts.type
	t != null
	not t in allowed_types
	v := {
		"msg": sprintf("%s sets SELinux type `%v`", [o.who, t]),
		"path": array.concat(o.path, ["type"]),
	}
}

violation contains v if {
	some o in options
	some field in ["user", "role"]
	value := o.opts[field]
	not value in {"", null}
	v := {
		"msg": sprintf("%s sets SELinux %s `%v`", [o.who, field, value]),
		"path": array.concat(o.path, [field]),
	}
}
