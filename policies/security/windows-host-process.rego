# METADATA
# title: Windows pod or container runs as a HostProcess
# description: |
#   A Windows HostProcess container runs directly on the node, in the node's network
#   namespace, with access to its filesystem and the privileges of the chosen Windows user
#   (often SYSTEM): the Windows counterpart of a privileged container. The Pod Security
#   Standards "baseline" profile forbids `windowsOptions.hostProcess: true` on the pod and
#   on every container.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/create-hostprocess-pod/
# custom:
#   id: KG120
#   name: windows-host-process
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: |
#     Remove `windowsOptions.hostProcess: true` and run the workload as a regular Windows
#     container; keep HostProcess pods to node-management components in a namespace with a
#     privileged Pod Security level.
#   equivalents:
#     pss: "baseline: HostProcess"
#     trivy: [KSV103]
package kubegate.rules.security.windows_host_process

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.security as sec

violation contains v if {
	some ps in data.kubegate.lib.k8s.pod_specs
	sec.pod_sc(ps).windowsOptions.hostProcess == true
	v := {
		"msg": "pod sets `windowsOptions.hostProcess: true`: its containers run directly on the Windows node",
		"path": array.concat(sec.pod_sc_path(ps), ["windowsOptions", "hostProcess"]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	sec.container_sc(c).windowsOptions.hostProcess == true
	v := {
		"msg": sprintf("container `%s` sets `windowsOptions.hostProcess: true` and runs directly on the Windows node", [k8s.name(c)]),
		"path": array.concat(c.path, ["securityContext", "windowsOptions", "hostProcess"]),
	}
}
