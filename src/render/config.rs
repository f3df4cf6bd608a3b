//! kustomize's transformer configuration (`api/internal/plugins/builtinconfig`): the field
//! specs each builtin transformer works on, and the name references fixed at the end of a
//! build. The builtin ones ([`TransformerConfig::defaults`]) are transcribed in
//! [`super::transform`], [`super::nameref`] and [`super::vars`]; a kustomization's
//! `configurations` files add field specs of their own, for custom kinds.
//!
//! kustomize v5.7.1's semantics, followed here:
//! - each `configurations` file is read strictly (`yaml.UnmarshalStrict`: an unknown key or
//!   a value of the wrong type is an error); the files are merged in order, then merged into
//!   the defaults (`MakeTransformerConfig`);
//! - merging adds a field spec unless one already there names the same field (same path,
//!   its kind selected by the incoming one's), and a spec that differs only in `create` is a
//!   conflict; name references merge their referrers by target GVK (exactly equal);
//! - every accumulation carries one configuration (`ResAccumulator.tConfig`): a base's
//!   configuration, once the base is built, joins its parent's (`MergeAccumulator`) before
//!   the parent merges its own, so a base's configurations apply to its overlays'
//!   transformers but an overlay's never reach back into a base; a component shares its
//!   parent's accumulation, so it sees the parent's configuration and adds to it; the name
//!   references and vars resolved at the root use the root's merged configuration, which
//!   holds every configuration of the tree.
//!
//! kustomize sorts each merged list by GVK (unstable); kubegate keeps the builtin order and
//! appends custom specs. The order only shows where two specs rewrite the same field.

use std::sync::OnceLock;

use super::fieldpath::{FieldSpec, OwnedSpec, merge_one};
use super::node::{Kind, Node, Origin};
use super::resource::Gvk;
use super::{Error, Result};

/// The fields of referrers that name objects of `target` (kustomize's
/// `NameBackReferences`).
#[derive(Debug, Clone, PartialEq)]
pub struct NameBackRefs {
    pub target: Gvk,
    pub referrers: Vec<OwnedSpec>,
}

/// kustomize's `TransformerConfig`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformerConfig {
    pub name_prefix: Vec<OwnedSpec>,
    pub name_suffix: Vec<OwnedSpec>,
    pub namespace: Vec<OwnedSpec>,
    pub common_labels: Vec<OwnedSpec>,
    pub labels: Vec<OwnedSpec>,
    pub template_labels: Vec<OwnedSpec>,
    pub common_annotations: Vec<OwnedSpec>,
    pub name_reference: Vec<NameBackRefs>,
    pub var_reference: Vec<OwnedSpec>,
    pub images: Vec<OwnedSpec>,
    pub replicas: Vec<OwnedSpec>,
}

/// The keys of a configuration file, its field in [`TransformerConfig`], and the name
/// kustomize gives it in merge errors.
type Field = fn(&mut TransformerConfig) -> &mut Vec<OwnedSpec>;
const FIELDS: &[(&str, &str, Field)] = &[
    ("namePrefix", "NamePrefix", |t| &mut t.name_prefix),
    ("nameSuffix", "NameSuffix", |t| &mut t.name_suffix),
    ("namespace", "NameSpace", |t| &mut t.namespace),
    ("commonAnnotations", "CommonAnnotations", |t| {
        &mut t.common_annotations
    }),
    ("commonLabels", "CommonLabels", |t| &mut t.common_labels),
    ("labels", "Labels", |t| &mut t.labels),
    ("templateLabels", "TemplateLabels", |t| {
        &mut t.template_labels
    }),
    ("varReference", "VarReference", |t| &mut t.var_reference),
    ("images", "Images", |t| &mut t.images),
    ("replicas", "Replicas", |t| &mut t.replicas),
];

const NAME_REFERENCE: &str = "nameReference";

impl TransformerConfig {
    /// kustomize's `MakeDefaultConfig`.
    pub fn defaults() -> &'static TransformerConfig {
        static DEFAULTS: OnceLock<TransformerConfig> = OnceLock::new();
        DEFAULTS.get_or_init(|| {
            let owned = |specs: &[FieldSpec]| specs.iter().map(OwnedSpec::from).collect();
            let plain = |path: &str, kind: &str| OwnedSpec {
                group: String::new(),
                version: String::new(),
                kind: kind.to_owned(),
                path: path.to_owned(),
                create: false,
                origin: None,
            };
            let mut common_labels: Vec<OwnedSpec> = owned(super::transform::SELECTOR_LABELS);
            common_labels.extend(owned(super::transform::TEMPLATE_LABELS));
            TransformerConfig {
                name_prefix: vec![plain("metadata/name", "")],
                name_suffix: vec![plain("metadata/name", "")],
                namespace: owned(super::transform::NAMESPACE),
                common_labels,
                labels: Vec::new(),
                template_labels: owned(super::transform::TEMPLATE_LABELS),
                common_annotations: owned(super::transform::ANNOTATIONS),
                name_reference: super::nameref::BACKREFS
                    .iter()
                    .map(|b| NameBackRefs {
                        target: Gvk {
                            group: b.target.0.to_owned(),
                            version: b.target.1.to_owned(),
                            kind: b.target.2.to_owned(),
                        },
                        referrers: b
                            .referrers
                            .iter()
                            .map(|(g, v, k, path)| OwnedSpec {
                                group: (*g).to_owned(),
                                version: (*v).to_owned(),
                                ..plain(path, k)
                            })
                            .collect(),
                    })
                    .collect(),
                var_reference: super::vars::VAR_REFERENCE
                    .iter()
                    .map(|(kind, path)| plain(path, kind))
                    .collect(),
                images: owned(super::transform::IMAGES),
                replicas: owned(super::transform::REPLICAS),
            }
        })
    }

    /// kustomize's `TransformerConfig.Merge`: `other`'s specs added to this one's. A
    /// conflict is an error at the conflicting spec, or at `at` for a builtin one.
    pub fn merge(&mut self, other: &TransformerConfig, at: Origin) -> Result<()> {
        let mut other = other.clone();
        for (_, name, field) in FIELDS {
            for spec in std::mem::take(field(&mut other)) {
                merge_one(field(self), spec).map_err(|s| conflict(name, &s, at))?;
            }
        }
        for incoming in other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|n| n.target == incoming.target)
            {
                Some(existing) => {
                    for spec in incoming.referrers {
                        merge_one(&mut existing.referrers, spec)
                            .map_err(|s| conflict("NameReference", &s, at))?;
                    }
                }
                None => self.name_reference.push(incoming),
            }
        }
        Ok(())
    }

    /// One configuration file (its first document), read as kustomize reads it: strictly.
    pub fn from_node(node: &Node) -> Result<TransformerConfig> {
        let mut t = TransformerConfig::default();
        let map = match &node.kind {
            Kind::Null => return Ok(t),
            Kind::Map(map) => map,
            other => {
                return Err(Error::new(
                    format!(
                        "invalid transformer configuration: {}, not a mapping of field specs",
                        super::kustomization::describe(other)
                    ),
                    node.origin,
                ));
            }
        };
        for (key, value) in map {
            if key == NAME_REFERENCE {
                for entry in list(value, key)? {
                    let refs = name_back_refs(entry)?;
                    // Merged as the file's own `Merge` into an empty config would.
                    let mut one = TransformerConfig::default();
                    one.name_reference.push(refs);
                    t.merge(&one, entry.origin)?;
                }
                continue;
            }
            let Some((_, name, field)) = FIELDS.iter().find(|(k, _, _)| k == key) else {
                return Err(Error::at_key(
                    format!(
                        "invalid transformer configuration: unknown field \"{key}\" (known: \
                         {}, {NAME_REFERENCE})",
                        FIELDS
                            .iter()
                            .map(|(k, _, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    value.origin,
                ));
            };
            for entry in list(value, key)? {
                let spec = field_spec(entry, key)?;
                merge_one(field(&mut t), spec).map_err(|s| conflict(name, &s, entry.origin))?;
            }
        }
        Ok(t)
    }
}

fn conflict(name: &str, spec: &OwnedSpec, at: Origin) -> Error {
    Error::new(
        format!(
            "failed to merge {name} fieldSpec: conflicting fieldspecs (`{}` of {} is there \
             with a different `create`)",
            spec.path,
            if spec.kind.is_empty() {
                "every kind"
            } else {
                &spec.kind
            }
        ),
        spec.origin.unwrap_or(at),
    )
}

/// The items of a list field (`null` is an empty list).
fn list<'a>(node: &'a Node, key: &str) -> Result<&'a [Node]> {
    match &node.kind {
        Kind::Null => Ok(&[]),
        Kind::Seq(items) => Ok(items),
        other => Err(Error::new(
            format!(
                "invalid transformer configuration: `{key}` is {}, not a list",
                super::kustomization::describe(other)
            ),
            node.origin,
        )),
    }
}

/// A string field of an entry (`null` or absent: empty).
fn text(entry: &Node, key: &str, field: &str) -> Result<String> {
    match entry.get(key).map(|n| (n, &n.kind)) {
        None | Some((_, Kind::Null)) => Ok(String::new()),
        Some((_, Kind::String(s))) => Ok(s.clone()),
        Some((n, other)) => Err(Error::new(
            format!(
                "invalid transformer configuration: `{field}[].{key}` is {}, not a string",
                super::kustomization::describe(other)
            ),
            n.origin,
        )),
    }
}

/// Checks an entry is a mapping with only `allowed` keys.
fn keys(entry: &Node, field: &str, allowed: &[&str]) -> Result<()> {
    let Some(map) = entry.as_map() else {
        return Err(Error::new(
            format!(
                "invalid transformer configuration: a `{field}` entry is {}, not a mapping",
                super::kustomization::describe(&entry.kind)
            ),
            entry.origin,
        ));
    };
    if let Some((k, v)) = map.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(Error::at_key(
            format!("invalid transformer configuration: unknown field \"{k}\" in `{field}`"),
            v.origin,
        ));
    }
    Ok(())
}

/// `{group, version, kind, path, create}`.
fn field_spec(entry: &Node, field: &str) -> Result<OwnedSpec> {
    keys(
        entry,
        field,
        &["group", "version", "kind", "path", "create"],
    )?;
    let create = match entry.get("create").map(|n| (n, &n.kind)) {
        None | Some((_, Kind::Null)) => false,
        Some((_, Kind::Bool(b))) => *b,
        Some((n, other)) => {
            return Err(Error::new(
                format!(
                    "invalid transformer configuration: `{field}[].create` is {}, not a \
                     boolean",
                    super::kustomization::describe(other)
                ),
                n.origin,
            ));
        }
    };
    Ok(OwnedSpec {
        group: text(entry, "group", field)?,
        version: text(entry, "version", field)?,
        kind: text(entry, "kind", field)?,
        path: text(entry, "path", field)?,
        create,
        origin: Some(entry.origin),
    })
}

/// `{group, version, kind, fieldSpecs}` of `nameReference`.
fn name_back_refs(entry: &Node) -> Result<NameBackRefs> {
    keys(
        entry,
        NAME_REFERENCE,
        &["group", "version", "kind", "fieldSpecs"],
    )?;
    let mut referrers = Vec::new();
    if let Some(specs) = entry.get("fieldSpecs") {
        for spec in list(specs, "nameReference[].fieldSpecs")? {
            let spec = field_spec(spec, "nameReference[].fieldSpecs")?;
            let at = spec.origin.unwrap_or(entry.origin);
            merge_one(&mut referrers, spec).map_err(|s| conflict("NameReference", &s, at))?;
        }
    }
    Ok(NameBackRefs {
        target: Gvk {
            group: text(entry, "group", NAME_REFERENCE)?,
            version: text(entry, "version", NAME_REFERENCE)?,
            kind: text(entry, "kind", NAME_REFERENCE)?,
        },
        referrers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::node::Span;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        Node::from_value(&v, Origin::new(0, Span::default()))
    }

    #[test]
    fn custom_specs_merge_into_the_defaults() {
        let custom = TransformerConfig::from_node(&node(json!({
            "nameReference": [{"kind": "ConfigMap", "version": "v1",
                "fieldSpecs": [{"kind": "Shop", "path": "spec/configRef/name"}]}],
            "commonLabels": [{"kind": "Shop", "path": "spec/podSelector", "create": true},
                // Already there for every kind.
                {"path": "metadata/labels", "create": true}],
        })))
        .unwrap();
        let mut t = TransformerConfig::defaults().clone();
        let before = t.common_labels.len();
        t.merge(&custom, Origin::new(0, Span::default())).unwrap();
        assert_eq!(t.common_labels.len(), before + 1);
        let cm = t
            .name_reference
            .iter()
            .filter(|n| n.target.kind == "ConfigMap" && n.target.version == "v1")
            .collect::<Vec<_>>();
        assert_eq!(cm.len(), 1);
        assert!(cm[0].referrers.iter().any(|s| s.kind == "Shop"));
        // Merging again changes nothing.
        let merged = t.clone();
        t.merge(&custom, Origin::new(0, Span::default())).unwrap();
        assert_eq!(t, merged);
    }

    #[test]
    fn bad_configurations_are_errors() {
        let bad = [
            json!({"nameprefix": []}),
            json!({"images": {"path": "x"}}),
            json!({"images": [{"path": "x", "create": "yes"}]}),
            json!({"images": [{"path": "x", "extra": 1}]}),
            json!({"nameReference": [{"kind": "Secret", "fieldSpecs": [{"path": 3}]}]}),
            json!(["images"]),
        ];
        for b in bad {
            assert!(
                TransformerConfig::from_node(&node(b.clone())).is_err(),
                "{b}"
            );
        }
        // A spec that differs from a default only in `create` conflicts with it.
        let custom = TransformerConfig::from_node(&node(
            json!({"namePrefix": [{"path": "metadata/name", "create": true}]}),
        ))
        .unwrap();
        let mut t = TransformerConfig::defaults().clone();
        assert!(t.merge(&custom, Origin::new(0, Span::default())).is_err());
    }
}
