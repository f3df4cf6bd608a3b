# METADATA
# title: Container image is not pinned by digest
# description: |
#   A tag, even a version tag, is a mutable pointer: whoever can push to the repository can
#   move it, so the same manifest may run different bytes tomorrow. A digest
#   (`image@sha256:...`) names exactly one image. This is a supply-chain hardening step, not
#   a defect, so the rule is informational by default; `app:1.2@sha256:...` (tag kept for
#   readability) is pinned. Placeholders that are not image references yet (`IMAGE_URL`,
#   `ko://...`) are skipped.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   id: KG302
#   name: image-not-pinned-by-digest
#   severity: info
#   category: images
#   kinds: [workloads]
#   remediation: |
#     Reference the image by digest, keeping the tag for humans if you like:
#     `nginx:1.27.2@sha256:<digest>`. Tools such as Renovate, `crane digest` or
#     `docker buildx imagetools inspect` give the digest.
#   equivalents:
#     checkov: [CKV_K8S_43]
package kubegate.rules.images.image_not_pinned_by_digest

import rego.v1

import data.kubegate.lib.images
import data.kubegate.lib.k8s

violation contains v if {
	some r in data.kubegate.lib.images.refs
	r.digest == ""
	v := {
		"msg": sprintf("container `%s` uses image `%s`, not pinned by digest", [k8s.name(r.container), r.image]),
		"path": r.path,
	}
}
