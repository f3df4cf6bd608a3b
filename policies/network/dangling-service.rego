# METADATA
# title: Service selects no pod of any workload in the run
# description: |
#   A Service with a `selector` sends traffic to the pods whose labels carry every key and
#   value of it. When no workload checked in the same run has a pod template with those
#   labels, the Service has no endpoints: clients get connection refused or time out, and
#   the usual cause is a typo or a label renamed on one side only. The API server accepts
#   such a Service, so only a check across objects catches it.
#
#   The rule sees the objects of one run: run kubegate over the whole repository (or the
#   directory of one application) so that the workloads are included. Services without a
#   `selector` (endpoints managed by hand or by a controller) and `ExternalName` Services
#   are not checked. An object without `metadata.namespace` is taken to share the namespace
#   of any other object, since a kustomization or the GitOps application usually sets it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#services-without-selectors
#   - ref: https://docs.kubelinter.io/#/generated/checks?id=dangling-service
# custom:
#   id: KG507
#   name: dangling-service
#   severity: warning
#   category: network
#   kinds: [Service, workloads]
#   scope: inventory
#   remediation: |
#     Make the Service's `selector` match the labels of the workload's pod template
#     (`spec.template.metadata.labels`), or add that workload to the manifests checked.
#   equivalents:
#     kube-linter: [dangling-service]
package kubegate.rules.network.dangling_service

import rego.v1

import data.kubegate.lib.inventory

violation contains v if {
	some i, svc in input.objects
	svc.kind == "Service"
	not svc.spec.type == "ExternalName"
	selector := svc.spec.selector
	is_object(selector)
	count(selector) > 0
	not selected(svc, selector)
	v := {
		"msg": sprintf("Service `%s` selects %s, which no pod template in the checked manifests carries; it has no endpoints", [svc.metadata.name, describe(selector)]),
		"object": i,
		"path": ["spec", "selector"],
	}
}

selected(svc, selector) if {
	some k, v in selector
	is_string(v)
	some n in data.kubegate.lib.inventory.templates_by_label[concat("=", [k, v])]
	t := data.kubegate.lib.inventory.pod_template_of[n]
	inventory.same_namespace(svc, input.objects[n])
	inventory.labels_match(selector, t.labels)
}

describe(selector) := concat(", ", sort([sprintf("`%s=%v`", [k, v]) | some k, v in selector]))
