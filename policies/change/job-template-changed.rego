# METADATA
# title: Job's pod template or failure handling changes (immutable)
# description: |
#   A Job's `spec.template` (but for the scheduling fields of a suspended Job),
#   `spec.completionMode`, `spec.podFailurePolicy` and `spec.backoffLimitPerIndex` cannot
#   change after creation: the API server rejects the update, so the sync fails after the
#   merge and nothing in the cluster changes. Applying the change means deleting the Job and
#   running it again; a revert of the merge restores the sync. Image bumps of a Job kept in
#   a GitOps repository hit this on every release.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/job/#mutable-scheduling-directives
#   - ref: https://fluxcd.io/flux/components/kustomize/kustomizations/#force
# custom:
#   id: KG713
#   name: job-template-changed
#   severity: error
#   category: change
#   kinds: [Job]
#   scope: change
#   effect: fails-sync
#   remediation: |
#     Give the Job a new name for every change (a suffix such as the image tag or a hash), or
#     let the controller replace it: Flux `kustomize.toolkit.fluxcd.io/force: enabled`, Argo
#     CD `argocd.argoproj.io/sync-options: Replace=true` or a `ttlSecondsAfterFinished` that
#     removes finished Jobs.
package kubegate.rules.change.job_template_changed

import rego.v1

import data.kubegate.lib.change

fields := [
	{"f": "template", "unset": data.kubegate.lib.change.absent},
	{"f": "completionMode", "unset": "NonIndexed"},
	{"f": "podFailurePolicy", "unset": data.kubegate.lib.change.absent},
	{"f": "backoffLimitPerIndex", "unset": data.kubegate.lib.change.absent},
]

violation contains v if {
	data.kubegate.lib.change.kind == "Job"
	some x in fields
	path := ["spec", x.f]
	change.differs_or(path, x.unset)
	v := {"msg": change.rejected(what(path, x), "the Job is run again from the start"), "path": change.first_change(path)}
}

what(path, x) := sprintf("`%s` is immutable and changes%s", [change.field(path), change.changed_where(path)]) if x.f in {"template", "podFailurePolicy"}

what(path, x) := sprintf("`%s` is immutable (from %s to %s)", [
	change.field(path),
	change.show(change.at(data.kubegate.lib.change.old, path, x.unset)),
	change.show(change.at(data.kubegate.lib.change.new, path, x.unset)),
]) if {
	not x.f in {"template", "podFailurePolicy"}
}
