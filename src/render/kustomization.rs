//! A `kustomization.yaml`: found, read as kustomize reads it (`sigs.k8s.io/yaml`, so
//! YAML 1.1 scalars), checked field by field like kustomize's strict decoder, and kept as a
//! [`Node`] so every value it sets remembers its line.

use std::path::{Path, PathBuf};

use super::files::Files;
use super::node::{FileId, Kind, Node, Origin, Span};
use super::{Error, Result};
use crate::parse::Reader;

/// The file names kustomize looks for in a directory, in its order.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The fields of kustomize v5.7's `Kustomization` type.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "inventory",
    "buildMetadata",
];

/// A loaded kustomization.
#[derive(Debug, Clone)]
pub struct Kustomization {
    /// Its directory (canonical).
    pub dir: PathBuf,
    pub file: FileId,
    /// The whole document.
    pub node: Node,
    /// `kind: Component`.
    pub component: bool,
}

impl Kustomization {
    /// Loads the kustomization of `dir`; `from` is where it was asked for (the
    /// `resources` entry), for errors about a directory without one.
    pub fn load(files: &Files, dir: &Path, from: Origin) -> Result<Self> {
        let found: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| crate::canonical::found(p).is_file())
            .collect();
        let path = match found.as_slice() {
            [one] => one,
            [] => {
                return Err(Error::new(
                    format!(
                        "no kustomization file ({}) in {}",
                        FILE_NAMES.join(", "),
                        files.display(
                            &crate::canonical::canonicalize(dir)
                                .unwrap_or_else(|_| dir.to_path_buf())
                        )
                    ),
                    from,
                ));
            }
            _ => {
                return Err(Error::new(
                    format!(
                        "more than one kustomization file in {}: kustomize refuses the directory",
                        files.display(dir)
                    ),
                    from,
                ));
            }
        };
        let file = files.load(path).map_err(|e| Error::new(e, from))?;
        let source = files.get(file);
        let at_start = Origin::new(file, Span::default());
        let parsed = source.parsed(Reader::Kubectl, &files.limits);
        if let Some(issue) = parsed.issues.first() {
            return Err(Error::new(
                format!("invalid kustomization: {}", issue.message),
                Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
            ));
        }
        let docs: Vec<_> = parsed
            .documents
            .iter()
            .filter(|d| !d.value.is_null())
            .collect();
        let doc = match docs.as_slice() {
            [] => return Err(Error::new("the kustomization is empty", at_start)),
            [d] => *d,
            [_, second, ..] => {
                return Err(Error::new(
                    "a kustomization file holds one document; kustomize reads no other",
                    Origin::new(
                        file,
                        Span::new(second.start as usize, second.start as usize),
                    ),
                ));
            }
        };
        let node = Node::of_document(doc, &source.text(), file);
        let Some(map) = node.as_map() else {
            return Err(Error::new(
                "invalid kustomization: not a mapping",
                node.origin,
            ));
        };
        for (key, value) in map {
            if !FIELDS.contains(&key.as_str()) {
                let hint = FIELDS
                    .iter()
                    .map(|f| (strsim::jaro_winkler(key, f), f))
                    .filter(|(s, _)| *s > 0.85)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, f)| format!(" (did you mean `{f}`?)"))
                    .unwrap_or_default();
                return Err(Error::at_key(
                    format!("invalid kustomization: unknown field `{key}`{hint}"),
                    value.origin,
                ));
            }
        }
        let kind = node
            .get("kind")
            .and_then(Node::as_str)
            .unwrap_or("Kustomization");
        let component = match kind {
            "Kustomization" => false,
            "Component" => true,
            other => {
                return Err(Error::new(
                    format!("kind should be Kustomization or Component, not `{other}`"),
                    node.get("kind").map_or(at_start, |n| n.origin),
                ));
            }
        };
        let want = if component {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        if let Some(v) = node.get("apiVersion")
            && v.as_str() != Some(want)
        {
            return Err(Error::new(
                format!("apiVersion for {kind} should be {want}"),
                v.origin,
            ));
        }
        let k = Kustomization {
            dir: crate::canonical::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
            file,
            node,
            component,
        };
        if k.is_empty() {
            return Err(Error::new("the kustomization is empty", at_start));
        }
        Ok(k)
    }

    /// A field's node, if set (and not null).
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.node.get(name).filter(|n| n.kind != Kind::Null)
    }

    /// The strings of a list field (`resources`, `components`, ...), with their nodes.
    pub fn strings(&self, name: &str) -> Result<Vec<(&str, &Node)>> {
        let Some(field) = self.field(name) else {
            return Ok(Vec::new());
        };
        let Some(items) = field.as_seq() else {
            return Err(Error::new(
                format!("invalid kustomization: `{name}` must be a list of strings"),
                field.origin,
            ));
        };
        items
            .iter()
            .map(|n| match n.as_str() {
                Some(s) => Ok((s, n)),
                None => Err(Error::new(
                    format!("invalid kustomization: `{name}` must be a list of strings"),
                    n.origin,
                )),
            })
            .collect()
    }

    /// A string field (`namespace`, `namePrefix`, ...).
    pub fn string(&self, name: &str) -> Result<Option<(&str, &Node)>> {
        match self.field(name) {
            None => Ok(None),
            Some(n) => match n.as_str() {
                Some(s) => Ok(Some((s, n))),
                None => Err(Error::new(
                    format!("invalid kustomization: `{name}` must be a string"),
                    n.origin,
                )),
            },
        }
    }

    /// A map-of-strings field (`commonLabels`, `commonAnnotations`): kustomize's decoder
    /// refuses any value that is not a string (`x: yes` is a boolean in YAML 1.1).
    pub fn string_map(&self, name: &str) -> Result<Vec<(&str, &Node)>> {
        let Some(field) = self.field(name) else {
            return Ok(Vec::new());
        };
        string_map(field, name)
    }

    /// Whether nothing in it does anything (kustomize: `kustomization.yaml is empty`).
    fn is_empty(&self) -> bool {
        self.node.as_map().is_none_or(|m| {
            m.iter()
                .all(|(k, v)| k == "apiVersion" || k == "kind" || is_blank(v))
        })
    }
}

fn is_blank(n: &Node) -> bool {
    match &n.kind {
        Kind::Null => true,
        Kind::String(s) => s.is_empty(),
        Kind::Seq(s) => s.is_empty(),
        Kind::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// The entries of a mapping whose values must all be strings.
pub fn string_map<'a>(field: &'a Node, name: &str) -> Result<Vec<(&'a str, &'a Node)>> {
    let Some(map) = field.as_map() else {
        return Err(Error::new(
            format!("invalid kustomization: `{name}` must be a map of strings"),
            field.origin,
        ));
    };
    map.iter()
        .map(|(k, v)| match &v.kind {
            Kind::String(_) => Ok((k.as_str(), v)),
            other => Err(Error::new(
                format!(
                    "invalid kustomization: `{name}.{k}` is {}, not a string (kustomize reads \
                     YAML 1.1: quote it)",
                    describe(other)
                ),
                v.origin,
            )),
        })
        .collect()
}

/// "a boolean", "a number", ... for messages.
pub fn describe(kind: &Kind) -> &'static str {
    match kind {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Number(_) => "a number",
        Kind::String(_) => "a string",
        Kind::Seq(_) => "a list",
        Kind::Map(_) => "a mapping",
    }
}

/// Checks that a mapping (an entry of `images`, `replicas`, ...) has only `allowed` keys,
/// as kustomize's strict decoder does.
pub fn check_keys(entry: &Node, field: &str, allowed: &[&str]) -> Result<()> {
    let Some(map) = entry.as_map() else {
        return Err(Error::new(
            format!("invalid kustomization: each `{field}` entry must be a mapping"),
            entry.origin,
        ));
    };
    for (k, v) in map {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::at_key(
                format!("invalid kustomization: unknown field `{k}` in `{field}`"),
                v.origin,
            ));
        }
    }
    Ok(())
}
