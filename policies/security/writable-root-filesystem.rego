# METADATA
# title: Container's root filesystem is writable
# description: |
#   With a writable root filesystem, an attacker who gets code execution in the container
#   can modify its binaries and configuration, drop tools and persist until the container is
#   replaced. `readOnlyRootFilesystem: true` makes the image immutable at run time; the
#   application writes only to the volumes it mounts. Not part of the Pod Security
#   Standards, but checked by default by kube-linter, checkov and trivy. Pods declaring
#   `spec.os.name: windows` are skipped: Windows does not support the field.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: KG122
#   name: writable-root-filesystem
#   severity: warning
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Set `securityContext.readOnlyRootFilesystem: true` on the container and mount an
#     `emptyDir` at each path the application writes to (/tmp, caches, pid files).
#   equivalents:
#     checkov: [CKV_K8S_22]
#     kube-linter: [no-read-only-root-fs]
#     trivy: [KSV014]
package kubegate.rules.security.writable_root_filesystem

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	not sec.windows(c.pod)
	sc := sec.container_sc(c)
	not sc.readOnlyRootFilesystem == true
	v := finding(c, sc)
}

finding(c, sc) := {
	"msg": sprintf("container `%s` sets `readOnlyRootFilesystem: false`", [k8s.name(c)]),
	"path": array.concat(c.path, ["securityContext", "readOnlyRootFilesystem"]),
} if {
	sc.readOnlyRootFilesystem == false
} else := {
	"msg": sprintf("container `%s` does not set `readOnlyRootFilesystem: true`", [k8s.name(c)]),
	"path": sec.container_sc_path(c),
}
