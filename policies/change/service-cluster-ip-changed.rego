# METADATA
# title: Service's cluster IP changes (immutable)
# description: |
#   A Service's `spec.clusterIP` and `spec.clusterIPs` cannot change once allocated (but when
#   the Service moves to or from `type: ExternalName`): the API server rejects the update, so
#   the sync fails after the merge and nothing in the cluster changes. Applying the change
#   means deleting and recreating the Service, which gives it a new IP: clients and caches
#   holding the old one break. A revert of the merge restores the sync. Omitting the field
#   (or leaving it empty) is fine: the API server keeps the allocated address.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#choosing-your-own-ip-address
#   - ref: https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec
# custom:
#   id: KG714
#   name: service-cluster-ip-changed
#   severity: error
#   category: change
#   kinds: [Service]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Keep the allocated `clusterIP` or leave it out of the manifest. To move a Service to
#     another address, create a new Service and move the clients over.
package kubegate.rules.change.service_cluster_ip_changed

import rego.v1

import data.kubegate.lib.change

consequence := "it gets a new cluster IP, and clients holding the old one break"

external_name if change.at(data.kubegate.lib.change.old, ["spec", "type"], "ClusterIP") == "ExternalName"

external_name if change.at(data.kubegate.lib.change.new, ["spec", "type"], "ClusterIP") == "ExternalName"

ip(v) if {
	is_string(v)
	v != ""
}

violation contains v if {
	data.kubegate.lib.change.kind == "Service"
	data.kubegate.lib.change.updated
	not external_name
	path := ["spec", "clusterIP"]
	ip(change.old_at(path))
	ip(change.new_at(path))
	change.differs(path)
	v := {"msg": change.rejected(change.immutable(path), consequence), "path": path}
}

violation contains v if {
	data.kubegate.lib.change.kind == "Service"
	data.kubegate.lib.change.updated
	not external_name
	o := change.old_at(["spec", "clusterIPs"])
	n := change.new_at(["spec", "clusterIPs"])
	is_array(o)
	is_array(n)
	some i, x in n
	i < count(o)
	ip(x)
	o[i] != x
	path := ["spec", "clusterIPs", i]
	v := {"msg": change.rejected(change.immutable(path), consequence), "path": path}
}
