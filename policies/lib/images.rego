# Container image references: `[registry[:port]/]path[:tag][@digest]`.
#
# The tag is the part after the last `:` of the last path component, so a registry port
# (`localhost:5000/app`) is not mistaken for a tag; everything after the first `@` is the
# digest. Only syntactically valid references are considered: placeholders such as
# `IMAGE_URL`, `<your-image>`, `${IMAGE}` or `ko://...` are replaced by a build or
# deployment tool (Kustomize `images:`, envsubst, ko) before anything pulls them.
package kubegate.lib.images

import rego.v1

import data.kubegate.lib.k8s

# Every container whose image is a valid reference: {"container", "image", "tag", "digest", "path"}.
# `tag` and `digest` are "" when absent.
refs contains {
	"container": c,
	"image": img,
	"tag": tag(img),
	"digest": digest(img),
	"path": array.concat(c.path, ["image"]),
} if {
	some c in data.kubegate.lib.k8s.containers
	img := c.c.image
	is_string(img)
	valid(img)
}

# The grammar of github.com/distribution/reference: [domain[:port]/]path[:tag][@digest].
domain_component := `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`

domain := sprintf(`%s(?:\.%s)*(?::[0-9]+)?`, [domain_component, domain_component])

path_component := `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`

reference := sprintf(
	`^(?:%s/)?%s(?:/%s)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
	[domain, path_component, path_component],
)

valid(img) if regex.match(reference, img)

# The digest of an image reference (`sha256:...`), or "".
digest(img) := d if {
	parts := split(img, "@")
	count(parts) > 1
	d := concat("@", array.slice(parts, 1, count(parts)))
} else := ""

# The tag of an image reference, or "".
tag(img) := t if {
	name := split(img, "@")[0]
	components := split(name, "/")
	last := components[count(components) - 1]
	pieces := split(last, ":")
	count(pieces) > 1
	t := pieces[count(pieces) - 1]
} else := ""
