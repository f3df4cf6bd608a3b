//! An object being rendered, with what kustomize keeps beside it while it builds: the ids
//! it had before renames (for name references), the prefixes and suffixes applied to it,
//! and how a generated object is named and merged.

use super::node::{Kind, Node, Origin};

/// A group, version and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// From an `apiVersion` (`apps/v1`, `v1`) and a kind.
    pub fn new(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// kustomize's `Gvk.String()`: `Kind.version.group`, with `[noGrp]` for the core group.
    pub fn id_string(&self) -> String {
        let or = |s: &str, d: &'static str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "{}.{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]")
        )
    }

    /// Whether a selector (fields left empty match anything) selects this GVK.
    pub fn selected_by(&self, group: &str, version: &str, kind: &str) -> bool {
        (group.is_empty() || group == self.group)
            && (version.is_empty() || version == self.version)
            && (kind.is_empty() || kind == self.kind)
    }

    /// Whether the kind is known to be cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        super::scope::is_cluster_scoped(&self.group, &self.version, &self.kind)
    }
}

/// A resource id: its GVK, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    /// The namespace as kustomize compares it: `default` when empty for a namespaced kind,
    /// none at all for a cluster-scoped one.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// kustomize's id equality: same GVK and name, namespaces equal once `""` means
    /// `default`.
    pub fn same(&self, other: &ResId) -> bool {
        self.gvk == other.gvk
            && self.name == other.name
            && self.effective_namespace() == other.effective_namespace()
    }

    /// As kustomize prints ids in messages (`ResId.String()`):
    /// `Deployment.v1.apps/web.[noNs]`.
    pub fn show(&self) -> String {
        let or = |s: &'_ str, d: &'static str| if s.is_empty() { d } else { s }.to_owned();
        format!(
            "{}/{}.{}",
            self.gvk.id_string(),
            or(&self.name, "[noName]"),
            or(&self.namespace, "[noNs]")
        )
    }
}

/// What kustomize remembers of a generated ConfigMap or Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Whether its name gets the content hash at the end of the build.
    pub hash: bool,
}

/// One object of an accumulation.
#[derive(Debug, Clone)]
pub struct Resource {
    pub node: Node,
    /// Its ids before each rename, oldest first (kustomize's previous names, namespaces
    /// and kinds): name references are resolved against them.
    pub previous: Vec<ResId>,
    /// Name prefixes and suffixes applied to it, innermost first.
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    pub generated: Option<Generated>,
}

impl Resource {
    pub fn new(node: Node) -> Self {
        Self {
            node,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            generated: None,
        }
    }

    fn meta(&self, key: &str) -> &str {
        self.node
            .path(&["metadata", key])
            .and_then(Node::as_str)
            .unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.node
            .get("apiVersion")
            .and_then(Node::as_str)
            .unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.node.get("kind").and_then(Node::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.meta("name")
    }

    pub fn namespace(&self) -> &str {
        self.meta("namespace")
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.api_version(), self.kind())
    }

    /// Its current id.
    pub fn id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name().to_owned(),
            namespace: self.namespace().to_owned(),
        }
    }

    /// Whether its current id is `id` (kustomize's id equality, [`ResId::same`]): name and
    /// kind are compared first, which tells nearly every pair apart without building an id.
    pub fn has_id(&self, id: &ResId) -> bool {
        self.name() == id.name && self.kind() == id.gvk.kind && self.id().same(id)
    }

    /// Its first id (before any rename).
    pub fn original_id(&self) -> ResId {
        self.previous.first().cloned().unwrap_or_else(|| self.id())
    }

    /// The ids it had, or its current one when it never changed (kustomize's `PrevIds`
    /// only holds ids once something renamed it).
    pub fn previous_ids(&self) -> &[ResId] {
        &self.previous
    }

    /// Remembers the current id before a transformer renames the object.
    pub fn store_previous_id(&mut self) {
        let id = self.id();
        let namespace = id.effective_namespace().to_owned();
        self.previous.push(ResId { namespace, ..id });
    }

    /// Sets `metadata.name`, with the origin of the field that asked for it.
    pub fn set_name(&mut self, name: String, origin: Origin) {
        if let Some(n) = self
            .node
            .get_mut("metadata")
            .and_then(|m| m.get_mut("name"))
        {
            n.kind = Kind::String(name);
            n.origin = n.origin.replaced_by(origin);
        }
    }

    /// Whether kustomize drops it from the output (`config.kubernetes.io/local-config`).
    pub fn is_local_config(&self) -> bool {
        self.node
            .path(&[
                "metadata",
                "annotations",
                "config.kubernetes.io/local-config",
            ])
            .and_then(Node::as_str)
            == Some("true")
    }
}
