# METADATA
# title: Container image uses the `latest` tag or no tag
# description: |
#   An image without a tag means `image:latest`. `latest` moves: two nodes can run different
#   code for the same manifest, a restart can silently upgrade the workload, and a rollback to
#   the previous manifest does not bring the previous image back. An image pinned by digest
#   (`app@sha256:...`) is immutable whatever its tag, so it is not flagged. A registry port is
#   not a tag: `localhost:5000/app` has no tag. Values that are not image references yet
#   (`IMAGE_URL`, `<your-image>`, `${IMAGE}`, `ko://...`, replaced by Kustomize, envsubst or
#   ko before anything pulls them) are skipped.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
#   - ref: https://kubernetes.io/docs/concepts/configuration/overview/#container-images
# custom:
#   id: KG301
#   name: latest-tag
#   severity: warning
#   category: images
#   kinds: [workloads]
#   remediation: |
#     Use an immutable version tag (`nginx:1.27.2`) or pin the image by digest
#     (`nginx@sha256:...`), and update it deliberately (for example with Renovate or
#     Dependabot).
#   equivalents:
#     checkov: [CKV_K8S_14]
#     kube-linter: [latest-tag]
#     trivy: [KSV013]
package kubegate.rules.images.latest_tag

import rego.v1

import data.kubegate.lib.images
import data.kubegate.lib.k8s

violation contains v if {
	some r in data.kubegate.lib.images.refs
	r.digest == ""
	r.tag == "latest"
	v := {
		"msg": sprintf("container `%s` uses image `%s` (tag `latest`)", [k8s.name(r.container), r.image]),
		"path": r.path,
	}
}

violation contains v if {
	some r in data.kubegate.lib.images.refs
	r.digest == ""
	r.tag == ""
	v := {
		"msg": sprintf("container `%s` uses image `%s` with no tag, which means `latest`", [k8s.name(r.container), r.image]),
		"path": r.path,
	}
}
