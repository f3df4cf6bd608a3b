//! `behavior: merge` and `behavior: replace`: a generated object folded into the object of
//! the same id the build already has (KZ:`api/resmap/reswrangler.go` `appendReplaceOrMerge`,
//! `api/resource/resource.go` `CopyMergeMetaDataFieldsFrom`, `MergeDataMapFrom`).

use crate::render::node::{Kind, Map, Node};

use super::{Behavior, GenerateError, scalar_text};

/// Annotations kustomize keeps for itself through a merge: the base's value or none,
/// never the overlay's (KZ:`api/resource/resource.go` `BuildAnnotations`).
const BUILD_ANNOTATIONS: &[&str] = &[
    "internal.config.kubernetes.io/previousKinds",
    "internal.config.kubernetes.io/previousNames",
    "internal.config.kubernetes.io/prefixes",
    "internal.config.kubernetes.io/suffixes",
    "internal.config.kubernetes.io/previousNamespaces",
    "internal.config.kubernetes.io/allowNameChange",
    "internal.config.kubernetes.io/allowKindChange",
    "internal.config.kubernetes.io/refBy",
    "internal.config.kubernetes.io/generatorBehavior",
    "internal.config.kubernetes.io/needsHashSuffix",
    "internal.config.kubernetes.io/path",
    "internal.config.kubernetes.io/index",
    "internal.config.kubernetes.io/seqindent",
    "internal.config.kubernetes.io/id",
    "internal.config.kubernetes.io/annotations-migration-resource-id",
    "config.kubernetes.io/path",
    "config.kubernetes.io/index",
    "config.k8s.io/id",
];

/// Folds `overlay`, generated with `behavior`, into `base`, the object with its id.
///
/// The result is the overlay's object (its `kind`, `type`, `immutable`, ... — a base's
/// `type: kubernetes.io/tls` or `immutable: true` does not survive), with:
///
/// - the base's `metadata.name` and `metadata.namespace` (none if the base has none);
/// - labels and annotations: the base's, overlaid with the overlay's, all as strings;
/// - `merge` only: `data` and `binaryData` are the base's keys overlaid with the overlay's,
///   as strings, dropped when empty (even a Secret's `data`); `replace` keeps the overlay's.
///
/// Nodes keep the origin of the side they come from; the object's own origin stays the
/// base's for `merge` (kustomize keeps its origin annotation) and is the overlay's for
/// `replace`.
///
/// The merged object gets a name suffix only when **both** had one
/// (`base_hash && overlay.hash`): kustomize keeps its `needsHashSuffix` mark from the base,
/// and drops it when the overlay lacks it. A base from `resources:` never has one.
///
/// `Behavior::Create` is the error kustomize gives for an id that already exists.
pub fn merge_generated(
    base: &mut Node,
    overlay: &Node,
    behavior: Behavior,
) -> Result<(), GenerateError> {
    if behavior == Behavior::Create {
        let kind = overlay.get("kind").map(scalar_text).unwrap_or_default();
        let name = base
            .path(&["metadata", "name"])
            .map(scalar_text)
            .unwrap_or_default();
        return Err(GenerateError::new(
            format!(
                "{kind} `{name}` already exists: a generator making it again needs \
                 `behavior: merge` or `behavior: replace`"
            ),
            overlay.origin,
        ));
    }
    let mut result = overlay.clone();
    if result.as_map().is_none() {
        result.kind = Kind::Map(Map::new());
    }
    let root = result.as_map_mut().expect("a mapping");
    let metadata = root
        .entry("metadata".into())
        .or_insert_with(|| Node::new(Kind::Map(Map::new()), overlay.origin));
    if metadata.as_map().is_none() {
        metadata.kind = Kind::Map(Map::new());
    }
    let meta = metadata.as_map_mut().expect("a mapping");
    let base_meta = base.get("metadata");
    for field in ["labels", "annotations"] {
        let merged = union(
            base_meta.and_then(|m| m.get(field)),
            meta.get(field),
            field == "annotations",
        );
        set(meta, field, merged);
    }
    let name = match base_meta.and_then(|m| m.get("name")) {
        Some(n) => Node::new(Kind::String(scalar_text(n)), n.origin),
        None => Node::new(Kind::String(String::new()), base.origin),
    };
    meta.insert("name".into(), name);
    match base_meta.and_then(|m| m.get("namespace")) {
        Some(ns) if !scalar_text(ns).is_empty() => {
            meta.insert(
                "namespace".into(),
                Node::new(Kind::String(scalar_text(ns)), ns.origin),
            );
        }
        _ => {
            meta.remove("namespace");
        }
    }
    if behavior == Behavior::Merge {
        for field in ["data", "binaryData"] {
            let merged = union(base.get(field), root.get(field), false);
            set(root, field, merged);
        }
        result.origin = base.origin;
    }
    *base = result;
    Ok(())
}

/// The string map `base` overlaid with `overlay` (kyaml's `GetValue` strings), with the
/// origin of the overlay's mapping if it has one; `None` when empty. `build`: kustomize's
/// own annotations come from the base only.
fn union(base: Option<&Node>, overlay: Option<&Node>, build: bool) -> Option<Node> {
    let mut out = Map::new();
    for (side, node) in [(0, base), (1, overlay)] {
        for (k, v) in node.and_then(Node::as_map).into_iter().flatten() {
            if build && side == 1 && BUILD_ANNOTATIONS.contains(&k.as_str()) {
                continue;
            }
            out.insert(k.clone(), Node::new(Kind::String(scalar_text(v)), v.origin));
        }
    }
    if out.is_empty() {
        return None;
    }
    let origin = overlay
        .filter(|n| n.as_map().is_some())
        .or(base)
        .map(|n| n.origin)?;
    Some(Node::new(Kind::Map(out), origin))
}

fn set(map: &mut Map, field: &str, value: Option<Node>) {
    match value {
        Some(v) => {
            map.insert(field.into(), v);
        }
        None => {
            map.remove(field);
        }
    }
}
