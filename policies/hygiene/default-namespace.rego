# METADATA
# title: Object explicitly placed in the `default` namespace
# description: |
#   The `default` namespace is where everything lands that nobody placed deliberately. Objects
#   there share RBAC, ResourceQuotas, LimitRanges and NetworkPolicies with whatever else ends
#   up there, and cannot be cleaned up or access-controlled as a unit. CIS Kubernetes
#   Benchmark 5.7.4: the default namespace should not be used.
#
#   Only an explicit `metadata.namespace: default` is flagged. A manifest without a namespace
#   goes wherever it is applied (`kubectl -n`, Kustomize, Helm or Argo CD set it), which
#   kubegate cannot know; that is why checkov CKV_K8S_21, trivy KSV110 and kube-linter's
#   use-namespace, which also flag a missing namespace, are partial equivalents. Cluster-scoped
#   kinds, the `default` ServiceAccount and the `kubernetes` Service are not flagged.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
# custom:
#   id: KG601
#   name: default-namespace
#   severity: warning
#   category: hygiene
#   kinds: [namespaced]
#   remediation: |
#     Create a namespace for the application and set `metadata.namespace` to it (or remove the
#     field and let your deployment tool set the namespace).
#   equivalents:
#     checkov:
#       - {id: CKV_K8S_21, match: partial, note: "checkov also flags an object without a namespace"}
#     kube-linter:
#       - {id: use-namespace, match: partial, note: "kube-linter also flags an object without a namespace"}
#     trivy:
#       - {id: KSV110, match: partial, note: "trivy checks workloads only, and also flags one without a namespace"}
package kubegate.rules.hygiene.default_namespace

import rego.v1

import data.kubegate.lib.workload

# Built-in cluster-scoped kinds (and common cluster-scoped custom kinds): a namespace on them
# is ignored.
cluster_scoped := {
	"APIService", "CertificateSigningRequest", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding",
	"ClusterSecretStore", "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition",
	"FlowSchema", "IngressClass", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
	"MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PodSecurityPolicy",
	"PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
	"ValidatingWebhookConfiguration", "VolumeAttachment", "GatewayClass", "DeviceClass",
}

# Objects that belong in `default` by design.
exempt if {
	input.kind == "ServiceAccount"
	data.kubegate.lib.workload.object_name == "default"
}

exempt if {
	input.kind in {"Service", "Endpoints", "EndpointSlice"}
	data.kubegate.lib.workload.object_name == "kubernetes"
}

violation contains v if {
	input.metadata.namespace == "default"
	not input.kind in cluster_scoped
	not exempt
	v := {
		"msg": sprintf("%s `%s` is placed in the `default` namespace", [input.kind, data.kubegate.lib.workload.object_name]),
		"path": ["metadata", "namespace"],
	}
}
