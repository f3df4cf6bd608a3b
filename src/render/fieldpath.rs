//! kustomize's field specs: "at this path of objects of this kind", the way its builtin
//! transformers (labels, namespace, images, name references) find the fields they change.
//!
//! A path is `/`-separated (`\/` is a literal slash, for annotation keys); a segment that
//! lands on a sequence applies the rest of the path to every element (kustomize does this
//! for any segment; `containers[]` says so explicitly). With `create`, missing mappings on
//! the way are created, with the origin of the field that asked for them.

use super::node::{Kind, Map, Node, Origin};
use super::resource::Gvk;

/// One field spec.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub path: &'static str,
    pub create: bool,
}

impl FieldSpec {
    pub const fn new(path: &'static str, create: bool) -> Self {
        Self {
            group: "",
            version: "",
            kind: "",
            path,
            create,
        }
    }

    pub const fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub const fn group(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }

    pub const fn version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    pub fn selects(&self, gvk: &Gvk) -> bool {
        gvk.selected_by(self.group, self.version, self.kind)
    }
}

/// A field spec written in a kustomization (`labels[].fields`, `configurations`), or a
/// builtin one ([`FieldSpec`]) made owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    pub create: bool,
    /// Where it was written (a kustomization or a configurations file); `None` for a
    /// builtin one.
    pub origin: Option<Origin>,
}

impl OwnedSpec {
    pub fn selects(&self, gvk: &Gvk) -> bool {
        gvk.selected_by(&self.group, &self.version, &self.kind)
    }

    /// kustomize's `effectivelyEquals`, as `FsSlice.MergeOne` calls it on a spec already
    /// in a list (`self`) with the one being added (`incoming`): the same path, and
    /// `self`'s kind selected by `incoming`'s (whose empty group, version or kind match
    /// anything), whatever their `create`.
    pub fn same_target(&self, incoming: &Self) -> bool {
        self.path == incoming.path
            && (incoming.group.is_empty() || incoming.group == self.group)
            && (incoming.version.is_empty() || incoming.version == self.version)
            && (incoming.kind.is_empty() || incoming.kind == self.kind)
    }

    /// `{group, version, kind, path, create}` as a kustomization writes it.
    pub fn from_node(node: &Node, field: &str) -> super::Result<Self> {
        super::kustomization::check_keys(
            node,
            field,
            &["group", "version", "kind", "path", "create"],
        )?;
        let text = |k: &str| node.get(k).and_then(Node::as_str).unwrap_or("").to_owned();
        Ok(Self {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            path: text("path"),
            create: matches!(node.get("create").map(|n| &n.kind), Some(Kind::Bool(true))),
            origin: Some(node.origin),
        })
    }
}

/// kustomize's `FsSlice.MergeOne`: `incoming` is added unless a spec already there names
/// the same field ([`OwnedSpec::same_target`]); one that differs only in `create` is a
/// conflict (`Err`).
pub fn merge_one(
    specs: &mut Vec<OwnedSpec>,
    incoming: OwnedSpec,
) -> std::result::Result<(), Box<OwnedSpec>> {
    match specs.iter().find(|s| s.same_target(&incoming)) {
        Some(s) if s.create != incoming.create => Err(Box::new(incoming)),
        Some(_) => Ok(()),
        None => {
            specs.push(incoming);
            Ok(())
        }
    }
}

impl From<&FieldSpec> for OwnedSpec {
    fn from(s: &FieldSpec) -> Self {
        Self {
            group: s.group.to_owned(),
            version: s.version.to_owned(),
            kind: s.kind.to_owned(),
            path: s.path.to_owned(),
            create: s.create,
            origin: None,
        }
    }
}

/// The segments of a path: names, and whether the segment is an explicit list (`x[]`).
pub fn segments(path: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_suffix("[]") {
            Some(name) => (name.to_owned(), true),
            None => (s, false),
        })
        .collect()
}

/// What to create at the end of the path when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// A mapping (labels, annotations, selectors).
    Map,
    /// A scalar (a namespace, a name): created empty, for `set` to fill.
    Scalar,
}

/// Calls `set` on every node at `path` under `node`; with `create`, missing mappings on
/// the way (and a missing leaf, as `leaf`) are created with `origin`. Returns whether a
/// node was visited.
pub fn visit(
    node: &mut Node,
    path: &[(String, bool)],
    create: Option<(Leaf, Origin)>,
    set: &mut dyn FnMut(&mut Node) -> super::Result<()>,
) -> super::Result<bool> {
    let Some(((name, _list), rest)) = path.split_first() else {
        set(node)?;
        return Ok(true);
    };
    match &mut node.kind {
        Kind::Seq(items) => {
            let mut any = false;
            for item in items {
                any |= visit(item, path, create, set)?;
            }
            Ok(any)
        }
        Kind::Map(map) => {
            if map.get(name.as_str()).is_none_or(|n| n.kind == Kind::Null) {
                let Some((leaf, origin)) = create else {
                    return Ok(false);
                };
                let kind = if rest.is_empty() && leaf == Leaf::Scalar {
                    Kind::String(String::new())
                } else {
                    Kind::Map(Map::new())
                };
                map.insert(name.clone(), Node::new(kind, origin));
            }
            let child = map
                .get_mut(name.as_str())
                .expect("just checked or inserted");
            visit(child, rest, create, set)
        }
        _ => Ok(false),
    }
}

/// Sets `key` of a mapping node to the string `value`, with `origin`.
pub fn set_entry(map: &mut Node, key: &str, value: &str, origin: Origin) {
    if map.kind == Kind::Null {
        map.kind = Kind::Map(Map::new());
    }
    if let Kind::Map(m) = &mut map.kind {
        m.insert(
            key.to_owned(),
            Node::new(Kind::String(value.to_owned()), origin),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::node::Span;
    use serde_json::json;

    #[test]
    fn paths_cross_sequences_and_create_mappings() {
        let o = Origin::new(0, Span::default());
        let mut n = Node::from_value(
            &json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "env": []}]}}),
            o,
        );
        let mut seen = Vec::new();
        visit(
            &mut n,
            &segments("spec/containers[]/name"),
            None,
            &mut |n| {
                seen.push(n.as_str().unwrap().to_owned());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, ["a", "b"]);
        let set = Origin::new(1, Span::new(3, 4));
        visit(
            &mut n,
            &segments("metadata/labels"),
            Some((Leaf::Map, set)),
            &mut |m| {
                set_entry(m, "app", "x", set);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n.to_value()["metadata"], json!({"labels": {"app": "x"}}));
        assert_eq!(n.pointer("/metadata/labels/app").unwrap().origin, set);
        assert_eq!(
            segments(r"metadata/annotations/a.io\/b"),
            [
                ("metadata".to_owned(), false),
                ("annotations".to_owned(), false),
                ("a.io/b".to_owned(), false)
            ]
        );
    }
}
