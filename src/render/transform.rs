//! kustomize's builtin transformers that set fields by field spec: `namespace`,
//! `namePrefix`/`nameSuffix`, `labels`/`commonLabels`, `commonAnnotations`, `replicas`,
//! `images`. Each value they set carries the origin of the kustomization entry that set
//! it, so a finding on it lands on that line.
//!
//! The field specs are kustomize v5.7.1's builtin configuration
//! (`api/internal/konfig/builtinpluginconsts`); the parity suite (`tests/kustomize`)
//! checks the result against `kubectl kustomize`.

use super::fieldpath::{FieldSpec, Leaf, OwnedSpec, segments, set_entry, visit};
use super::node::{Kind, Node, Origin};
use super::resource::{Gvk, Resource};
use super::{Error, Result};

const fn fs(path: &'static str, create: bool) -> FieldSpec {
    FieldSpec::new(path, create)
}

/// `metadata/labels` and the pod templates' labels (kustomize's `templateLabels`).
pub const TEMPLATE_LABELS: &[FieldSpec] = &[
    fs("metadata/labels", true),
    fs("spec/template/metadata/labels", true)
        .version("v1")
        .kind("ReplicationController"),
    fs("spec/template/metadata/labels", true).kind("Deployment"),
    fs("spec/template/metadata/labels", true).kind("ReplicaSet"),
    fs("spec/template/metadata/labels", true).kind("DaemonSet"),
    fs("spec/template/metadata/labels", true)
        .group("apps")
        .kind("StatefulSet"),
    fs("spec/volumeClaimTemplates[]/metadata/labels", true)
        .group("apps")
        .kind("StatefulSet"),
    fs("spec/template/metadata/labels", true)
        .group("batch")
        .kind("Job"),
    fs("spec/jobTemplate/metadata/labels", true)
        .group("batch")
        .kind("CronJob"),
    fs("spec/jobTemplate/spec/template/metadata/labels", true)
        .group("batch")
        .kind("CronJob"),
];

/// The selectors `commonLabels` (and `labels` with `includeSelectors`) also set, before
/// [`TEMPLATE_LABELS`].
pub const SELECTOR_LABELS: &[FieldSpec] = &[
    fs("spec/selector", true).version("v1").kind("Service"),
    fs("spec/selector", true)
        .version("v1")
        .kind("ReplicationController"),
    fs("spec/selector/matchLabels", true).kind("Deployment"),
    fs("spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false).group("apps").kind("Deployment"),
    fs("spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false).group("apps").kind("Deployment"),
    fs("spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false).group("apps").kind("Deployment"),
    fs("spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false).group("apps").kind("Deployment"),
    fs("spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false).group("apps").kind("Deployment"),
    fs("spec/selector/matchLabels", true).kind("ReplicaSet"),
    fs("spec/selector/matchLabels", true).kind("DaemonSet"),
    fs("spec/selector/matchLabels", true)
        .group("apps")
        .kind("StatefulSet"),
    fs("spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false).group("apps").kind("StatefulSet"),
    fs("spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false).group("apps").kind("StatefulSet"),
    fs("spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false).group("apps").kind("StatefulSet"),
    fs("spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false).group("apps").kind("StatefulSet"),
    fs("spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false).group("apps").kind("StatefulSet"),
    fs("spec/selector/matchLabels", false)
        .group("batch")
        .kind("Job"),
    fs("spec/jobTemplate/spec/selector/matchLabels", false)
        .group("batch")
        .kind("CronJob"),
    fs("spec/selector/matchLabels", false)
        .group("policy")
        .kind("PodDisruptionBudget"),
    fs("spec/podSelector/matchLabels", false)
        .group("networking.k8s.io")
        .kind("NetworkPolicy"),
    fs("spec/ingress/from/podSelector/matchLabels", false)
        .group("networking.k8s.io")
        .kind("NetworkPolicy"),
    fs("spec/egress/to/podSelector/matchLabels", false)
        .group("networking.k8s.io")
        .kind("NetworkPolicy"),
];

/// Where `commonAnnotations` go.
pub const ANNOTATIONS: &[FieldSpec] = &[
    fs("metadata/annotations", true),
    fs("spec/template/metadata/annotations", true)
        .version("v1")
        .kind("ReplicationController"),
    fs("spec/template/metadata/annotations", true).kind("Deployment"),
    fs("spec/template/metadata/annotations", true).kind("ReplicaSet"),
    fs("spec/template/metadata/annotations", true).kind("DaemonSet"),
    fs("spec/template/metadata/annotations", true).kind("StatefulSet"),
    fs("spec/template/metadata/annotations", true)
        .group("batch")
        .kind("Job"),
    fs("spec/jobTemplate/metadata/annotations", true)
        .group("batch")
        .kind("CronJob"),
    fs("spec/jobTemplate/spec/template/metadata/annotations", true)
        .group("batch")
        .kind("CronJob"),
];

/// Where `replicas` go.
pub const REPLICAS: &[FieldSpec] = &[
    fs("spec/replicas", true).kind("Deployment"),
    fs("spec/replicas", true).kind("ReplicationController"),
    fs("spec/replicas", true).kind("ReplicaSet"),
    fs("spec/replicas", true).kind("StatefulSet"),
];

/// Where `images` look, besides any `containers`/`initContainers` list at any depth.
pub const IMAGES: &[FieldSpec] = &[
    fs("spec/containers[]/image", true),
    fs("spec/initContainers[]/image", true),
    fs("spec/volumes[]/image/reference", true),
    fs("spec/template/spec/containers[]/image", true),
    fs("spec/template/spec/initContainers[]/image", true),
    fs("spec/template/spec/volumes[]/image/reference", true),
];

/// Where `namespace` goes besides `metadata/namespace` (which every namespaced object gets).
pub const NAMESPACE: &[FieldSpec] = &[
    fs("metadata/name", true).kind("Namespace"),
    fs("spec/service/namespace", true)
        .group("apiregistration.k8s.io")
        .kind("APIService"),
    fs(
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    )
    .group("apiextensions.k8s.io")
    .kind("CustomResourceDefinition"),
];

/// Kinds whose names `namePrefix`/`nameSuffix` leave alone.
const NAME_SKIP: &[(&str, &str)] = &[
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("", "Namespace"),
];

/// `labels`/`commonLabels`: each pair at each field spec, a mapping created where the spec
/// says so.
pub fn labels(
    resources: &mut [Resource],
    pairs: &[(&str, &Node)],
    specs: &[OwnedSpec],
) -> Result<()> {
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for spec in specs.iter().filter(|s| s.selects(&gvk)) {
            for (key, value) in pairs {
                let text = value.as_str().unwrap_or_default().to_owned();
                visit(
                    &mut r.node,
                    &segments(&spec.path),
                    spec.create.then_some((Leaf::Map, value.origin)),
                    &mut |m| {
                        if !matches!(m.kind, Kind::Map(_) | Kind::Null) {
                            return Err(Error::new(
                                format!(
                                    "`{}` of a {} is not a mapping: kustomize cannot add the \
                                     label `{key}`",
                                    spec.path, gvk.kind
                                ),
                                value.origin,
                            ));
                        }
                        set_entry(m, key, &text, value.origin);
                        Ok(())
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// `commonAnnotations`, at `specs` (the configuration's `commonAnnotations`).
pub fn annotations(
    resources: &mut [Resource],
    pairs: &[(&str, &Node)],
    specs: &[OwnedSpec],
) -> Result<()> {
    labels(resources, pairs, specs)
}

/// `namespace`: every object not known to be cluster-scoped gets it (kustomize overwrites
/// what is there), a `Namespace` object is renamed to it, binding subjects named `default`
/// follow it, and so do the fields of `specs` (the configuration's `namespace`: by default
/// the service references of APIService and CRD webhooks).
pub fn namespace(
    resources: &mut [Resource],
    ns: &str,
    origin: Origin,
    specs: &[OwnedSpec],
) -> Result<()> {
    let mut set = |n: &mut Node| -> Result<()> {
        if matches!(n.kind, Kind::Map(_) | Kind::Seq(_)) {
            return Err(Error::new(
                format!(
                    "namespace field specs must target scalar nodes: kustomize cannot set the \
                     namespace `{ns}` on {}",
                    super::kustomization::describe(&n.kind)
                ),
                origin,
            ));
        }
        n.kind = Kind::String(ns.to_owned());
        n.origin = n.origin.replaced_by(origin);
        Ok(())
    };
    for r in resources.iter_mut() {
        if r.node.as_map().is_none_or(|m| m.is_empty()) {
            continue;
        }
        r.store_previous_id();
        let gvk = r.gvk();
        if !gvk.is_cluster_scoped() {
            visit(
                &mut r.node,
                &segments("metadata/namespace"),
                Some((Leaf::Scalar, origin)),
                &mut set,
            )?;
        }
        let binding = matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding");
        if binding && let Some(subjects) = r.node.get_mut("subjects").and_then(Node::as_seq_mut) {
            for s in subjects {
                if s.get("name").and_then(Node::as_str) == Some("default") {
                    visit(
                        s,
                        &segments("namespace"),
                        Some((Leaf::Scalar, origin)),
                        &mut set,
                    )?;
                }
            }
        }
        for spec in specs.iter().filter(|s| s.selects(&gvk)) {
            // kustomize's filter drops these specs: `metadata/namespace` is set above (never
            // on cluster-scoped objects), `metadata/name` only on `v1` objects, and binding
            // subjects only as above.
            if spec.path == "metadata/namespace"
                || (spec.path == "metadata/name" && r.api_version() != "v1")
                || (binding
                    && matches!(spec.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
                    && spec.path == "subjects/namespace")
            {
                continue;
            }
            visit(
                &mut r.node,
                &segments(&spec.path),
                spec.create.then_some((Leaf::Scalar, origin)),
                &mut set,
            )?;
        }
    }
    // Two objects may now share an id (only objects of the same name can: compared by name
    // first, so that a root of thousands of objects is not compared pair by pair).
    let mut by_name: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let id = r.id();
        let same_name = by_name.entry(r.name()).or_default();
        let taken = same_name.iter().any(|&j| resources[j].has_id(&id));
        same_name.push(i);
        if taken {
            return Err(Error::new(
                format!(
                    "the namespace transformation makes two objects {}: kustomize refuses it",
                    id.show()
                ),
                origin,
            ));
        }
    }
    Ok(())
}

/// `namePrefix` (`suffix` false) or `nameSuffix` (true), at `specs` (the configuration's
/// `namePrefix`/`nameSuffix`: by default `metadata/name`), selected by each object's
/// original kind. The name itself is tracked for name references; other fields (custom
/// specs) just get the affix, created empty first where the spec says `create`.
pub fn name_affix(
    resources: &mut [Resource],
    affix: &str,
    suffix: bool,
    origin: Origin,
    specs: &[OwnedSpec],
) -> Result<()> {
    let with_affix = |value: &str| {
        if suffix {
            format!("{value}{affix}")
        } else {
            format!("{affix}{value}")
        }
    };
    for r in resources.iter_mut() {
        let id = r.original_id();
        if NAME_SKIP.iter().any(|(g, k)| id.gvk.selected_by(g, "", k)) {
            continue;
        }
        for spec in specs.iter().filter(|s| s.selects(&id.gvk)) {
            if spec.path == "metadata/name" {
                if !affix.is_empty() {
                    if suffix {
                        r.suffixes.push(affix.to_owned());
                    } else {
                        r.prefixes.push(affix.to_owned());
                    }
                    r.store_previous_id();
                }
                let name = r.name().to_owned();
                let new = with_affix(&name);
                if new != name {
                    r.set_name(new, origin);
                }
                continue;
            }
            if !r.gvk().selected_by(&spec.group, &spec.version, &spec.kind) {
                continue;
            }
            let kind = r.kind().to_owned();
            visit(
                &mut r.node,
                &segments(&spec.path),
                spec.create.then_some((Leaf::Scalar, origin)),
                &mut |n| {
                    let value = match &n.kind {
                        Kind::String(s) => s.clone(),
                        Kind::Number(x) => x.to_string(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Null => String::new(),
                        other => {
                            return Err(Error::new(
                                format!(
                                    "`{}` of a {kind} is {}: kustomize cannot add the name {} \
                                     `{affix}` to it",
                                    spec.path,
                                    super::kustomization::describe(other),
                                    if suffix { "suffix" } else { "prefix" }
                                ),
                                origin,
                            ));
                        }
                    };
                    n.kind = Kind::String(with_affix(&value));
                    n.origin = n.origin.replaced_by(origin);
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// `replicas`: one entry, `{name, count}`, matched by current or previous name, set at
/// `specs` (the configuration's `replicas`).
pub fn replicas(resources: &mut [Resource], entry: &Node, specs: &[OwnedSpec]) -> Result<()> {
    super::kustomization::check_keys(entry, "replicas", &["name", "count"])?;
    let name = entry.get("name").and_then(Node::as_str).unwrap_or("");
    let Some(count_node) = entry.get("count") else {
        return Err(Error::new(
            "invalid kustomization: a `replicas` entry needs a `count`",
            entry.origin,
        ));
    };
    let Kind::Number(count) = &count_node.kind else {
        return Err(Error::new(
            "invalid kustomization: `replicas[].count` must be an integer",
            count_node.origin,
        ));
    };
    let count = count.clone();
    let mut found = false;
    for spec in specs {
        for r in resources.iter_mut() {
            let matches = |id: &super::resource::ResId| id.name == name && spec.selects(&id.gvk);
            if !(matches(&r.id()) || r.previous_ids().iter().any(matches)) {
                continue;
            }
            found = true;
            visit(
                &mut r.node,
                &segments(&spec.path),
                spec.create.then_some((Leaf::Scalar, count_node.origin)),
                &mut |n| {
                    n.kind = Kind::Number(count.clone());
                    n.origin = n.origin.replaced_by(count_node.origin);
                    Ok(())
                },
            )?;
        }
    }
    if !found {
        let gvks: Vec<String> = specs
            .iter()
            .map(|s| Gvk::new(&s.version, &s.kind).id_string())
            .collect();
        return Err(Error::new(
            format!(
                "resource with name {name} does not match a config with the following GVK [{}]",
                gvks.join(" ")
            ),
            entry.get("name").map_or(entry.origin, |n| n.origin),
        ));
    }
    Ok(())
}

/// One `images` entry.
#[derive(Debug)]
pub struct Image<'a> {
    pub name: &'a str,
    pub new_name: Option<&'a Node>,
    pub new_tag: Option<&'a Node>,
    pub digest: Option<&'a Node>,
    pub tag_suffix: Option<&'a Node>,
    pub origin: Origin,
    /// What the name matches ([`image_matcher`]), compiled once for every image the
    /// entry is tried on.
    matcher: Option<regex::Regex>,
}

impl<'a> Image<'a> {
    pub fn from_node(entry: &'a Node) -> Result<Self> {
        super::kustomization::check_keys(
            entry,
            "images",
            &["name", "newName", "newTag", "digest", "tagSuffix"],
        )?;
        let string = |k: &str| -> Result<Option<&'a Node>> {
            match entry.get(k) {
                None => Ok(None),
                Some(n) if n.as_str().is_some() => Ok(Some(n)),
                Some(n) if n.kind == Kind::Null => Ok(None),
                Some(n) => Err(Error::new(
                    format!(
                        "invalid kustomization: `images[].{k}` is {}, not a string (quote it)",
                        super::kustomization::describe(&n.kind)
                    ),
                    n.origin,
                )),
            }
        };
        let name = string("name")?.and_then(Node::as_str).unwrap_or("");
        Ok(Self {
            name,
            matcher: image_matcher(name),
            new_name: string("newName")?,
            new_tag: string("newTag")?,
            digest: string("digest")?,
            tag_suffix: string("tagSuffix")?,
            origin: entry.origin,
        })
    }

    /// The image reference `value` becomes, and the origin of the field that changed it
    /// the most (the new tag or digest, else the new name); `None` when it does not match.
    fn apply(&self, value: &str) -> Option<(String, Origin)> {
        if !self.matcher.as_ref().is_some_and(|m| m.is_match(value)) {
            return None;
        }
        let (mut name, mut tag, mut digest) = split_image(value);
        fn s(n: Option<&Node>) -> Option<&str> {
            n.and_then(Node::as_str).filter(|s| !s.is_empty())
        }
        let mut origin = self.origin;
        if let Some(n) = s(self.new_name) {
            name = n.to_owned();
            origin = self.new_name.map_or(origin, |n| n.origin);
        }
        match (s(self.new_tag), s(self.digest), s(self.tag_suffix)) {
            (Some(t), Some(d), _) => {
                tag = t.to_owned();
                digest = d.to_owned();
                origin = self.digest.map_or(origin, |n| n.origin);
            }
            (Some(t), None, _) => {
                tag = t.to_owned();
                digest.clear();
                origin = self.new_tag.map_or(origin, |n| n.origin);
            }
            (None, Some(d), _) => {
                tag.clear();
                digest = d.to_owned();
                origin = self.digest.map_or(origin, |n| n.origin);
            }
            (None, None, Some(suffix)) => {
                tag.push_str(suffix);
                digest.clear();
                origin = self.tag_suffix.map_or(origin, |n| n.origin);
            }
            (None, None, None) => {}
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        Some((name, origin))
    }
}

/// kustomize's image match: `^<name>(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$`
/// with `<name>` taken as a regular expression, as kustomize does (a name that is not one
/// matches nothing).
fn image_matcher(name: &str) -> Option<regex::Regex> {
    let pattern = format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$");
    regex::Regex::new(&pattern).ok()
}

/// kustomize's `image.Split`: name, tag and digest of an image reference, the name keeping
/// a registry's port (`host:5000/app:1` is `host:5000/app`, `1`).
fn split_image(image: &str) -> (String, String, String) {
    let slash = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (colon, at) {
        (None, None) => (image.to_owned(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => {
            let a = a + slash;
            (
                image[..a].to_owned(),
                String::new(),
                image[a + 1..].to_owned(),
            )
        }
        (Some(c), Some(a)) => {
            let (c, a) = (c + slash, a + slash);
            (
                image[..c].to_owned(),
                image[c + 1..a].to_owned(),
                image[a + 1..].to_owned(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (
                image[..c].to_owned(),
                image[c + 1..].to_owned(),
                String::new(),
            )
        }
        (None, Some(_)) => unreachable!("handled above"),
    }
}

/// `images`: one entry, applied first to every `image` of every `containers` and
/// `initContainers` list at any depth (kustomize's legacy pass), then at the field specs —
/// both passes, as kustomize runs them; the field specs are the configuration's `images`.
pub fn images(resources: &mut [Resource], entry: &Node, specs: &[OwnedSpec]) -> Result<()> {
    let image = Image::from_node(entry)?;
    let mut set = |n: &mut Node| -> Result<()> {
        if let Some(value) = n.as_str()
            && let Some((new, origin)) = image.apply(value)
        {
            n.kind = Kind::String(new);
            n.origin = n.origin.replaced_by(origin);
        }
        Ok(())
    };
    for r in resources.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        legacy_images(&mut r.node, &mut set)?;
        let gvk = r.gvk();
        for spec in specs.iter().filter(|s| s.selects(&gvk)) {
            // Created only where the path leads to a container without an image.
            visit(&mut r.node, &segments(&spec.path), None, &mut set)?;
        }
    }
    Ok(())
}

/// The `image` of every item of every `containers`/`initContainers` list, at any depth.
fn legacy_images(node: &mut Node, set: &mut dyn FnMut(&mut Node) -> Result<()>) -> Result<()> {
    match &mut node.kind {
        Kind::Map(m) => {
            for (key, value) in m.iter_mut() {
                legacy_images(value, set)?;
                if (key == "containers" || key == "initContainers")
                    && let Kind::Seq(items) = &mut value.kind
                {
                    for item in items {
                        if let Some(image) = item.get_mut("image") {
                            set(image)?;
                        }
                    }
                }
            }
        }
        Kind::Seq(items) => {
            for item in items {
                legacy_images(item, set)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_as_kustomize_splits_them() {
        let s = |i: &str| {
            let (a, b, c) = split_image(i);
            (a, b, c)
        };
        assert_eq!(s("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(s("nginx:1.2"), ("nginx".into(), "1.2".into(), "".into()));
        assert_eq!(
            s("host:5000/app:1"),
            ("host:5000/app".into(), "1".into(), "".into())
        );
        assert_eq!(
            s("app@sha256:abc"),
            ("app".into(), "".into(), "sha256:abc".into())
        );
        assert_eq!(
            s("app:1@sha256:abc"),
            ("app".into(), "1".into(), "sha256:abc".into())
        );
        let image_matches =
            |value: &str, name: &str| image_matcher(name).is_some_and(|m| m.is_match(value));
        assert!(image_matches("nginx:1.2", "nginx"));
        assert!(!image_matches("nginx2", "nginx"));
        assert!(image_matches("docker.io/nginx@sha256:x", "docker.io/nginx"));
    }
}
