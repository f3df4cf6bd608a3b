# METADATA
# title: Pod or container disables AppArmor (unconfined)
# description: |
#   On nodes with AppArmor, the container runtime confines containers with its default
#   profile, which blocks writes to sensitive parts of /proc and /sys, mounts and other
#   escape paths. Setting the profile to unconfined removes that layer. The Pod Security
#   Standards "baseline" profile allows only the runtime default or a localhost profile, both
#   in `securityContext.appArmorProfile.type` (pod or container) and in the deprecated
#   `container.apparmor.security.beta.kubernetes.io/<container>` annotation of the pod, which
#   Pod Security admission still checks.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tutorials/security/apparmor/
# custom:
#   id: KG116
#   name: apparmor-unconfined
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove the override, or set `securityContext.appArmorProfile.type: RuntimeDefault` (or
#     `Localhost` with a profile loaded on the nodes). Replace the deprecated annotation with
#     the `appArmorProfile` field.
#   equivalents:
#     pss: "baseline: AppArmor"
#     trivy:
#       - {id: KSV002, match: partial, note: "trivy flags any AppArmor annotation but runtime/default (localhost profiles too) and ignores the appArmorProfile field"}
package kubegate.rules.security.apparmor_unconfined

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

allowed_types := {"RuntimeDefault", "Localhost"}

annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	some key, value in sec.obj(object.get(ps.meta, "annotations", {}))
	startswith(key, annotation_prefix)
	not allowed_annotation(value)
	v := {
		"msg": sprintf("annotation sets the AppArmor profile of container `%s` to `%v`", [trim_prefix(key, annotation_prefix), value]),
		"path": array.concat(sec.meta_path(ps), ["annotations", key]),
	}
}

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	profile := sec.pod_sc(ps).appArmorProfile
	is_object(profile)
	not profile.type in allowed_types
	v := {
		"msg": sprintf("pod sets AppArmor profile `%v` for its containers", [object.get(profile, "type", "")]),
		"path": array.concat(sec.pod_sc_path(ps), ["appArmorProfile", "type"]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	profile := sec.container_sc(c).appArmorProfile
	is_object(profile)
	not profile.type in allowed_types
	v := {
		"msg": sprintf("container `%s` sets AppArmor profile `%v`", [k8s.name(c), object.get(profile, "type", "")]),
		"path": array.concat(c.path, ["securityContext", "appArmorProfile", "type"]),
	}
}

allowed_annotation(value) if value == ""

allowed_annotation(value) if value == "runtime/default"

allowed_annotation(value) if {
	is_string(value)
	startswith(value, "localhost/")
}
