//! Stage 2: file text to documents, each a `serde_json::Value` with a [`SourceMap`], and the
//! Kubernetes objects inside them.

pub mod scalar;
pub mod source_map;
pub mod yaml;

use serde_json::Value;

pub use source_map::{Located, NodeKind, SourceMap};

/// Resource budgets that keep hostile input bounded in time and memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of mappings and sequences accepted.
    pub max_depth: usize,
    /// Nodes a document may hold once aliases are expanded.
    pub max_alias_nodes: usize,
    /// Files larger than this are not parsed.
    pub max_file_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 256,
            max_alias_nodes: 1_000_000,
            max_file_size: 64 * 1024 * 1024,
        }
    }
}

/// One YAML document of a file.
#[derive(Debug)]
pub struct Document {
    /// 0-based index of the document in its file.
    pub index: usize,
    pub value: Value,
    pub source_map: SourceMap,
    /// Byte offset where the document starts.
    pub start: u32,
}

/// A problem found while reading a file, at a byte range of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub rule: &'static str,
    pub message: String,
    pub start: u32,
    pub end: u32,
    pub document: usize,
}

/// Why a document, or a whole file, was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// An empty document (only comments, or nothing between `---` markers).
    Empty,
    /// YAML that is not a Kubernetes object: no `apiVersion`/`kind` (values files, CI config).
    NotKubernetes,
    /// A kustomize `kustomization.yaml` or kustomize config object.
    Kustomization,
    /// A Helm chart template (`{{ ... }}` under a chart's `templates/`).
    HelmTemplate,
    /// A kustomize patch: a file a kustomization lists as a patch, or a document with a
    /// `$patch` directive. Patches are partial objects, valid only once kustomize applies them.
    KustomizePatch,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Empty => "empty",
            Skip::NotKubernetes => "not_kubernetes",
            Skip::Kustomization => "kustomization",
            Skip::HelmTemplate => "helm_template",
            Skip::KustomizePatch => "kustomize_patch",
        }
    }
}

/// A Kubernetes object: a whole document, or one item of a `kind: List` / `*List`.
#[derive(Debug, Clone, Copy)]
pub struct Object<'d> {
    pub value: &'d Value,
    /// JSON pointer of the object within its document (`""`, or `/items/3`).
    pub pointer_index: Option<usize>,
    pub api_version: &'d str,
    pub kind: &'d str,
}

impl Object<'_> {
    /// The object's pointer prefix within the document.
    pub fn prefix(&self) -> String {
        match self.pointer_index {
            None => String::new(),
            Some(i) => format!("/items/{i}"),
        }
    }

    pub fn namespace(&self) -> Option<&str> {
        self.value.pointer("/metadata/namespace")?.as_str()
    }

    pub fn name(&self) -> Option<&str> {
        let meta = self.value.get("metadata")?;
        meta.get("name")
            .or_else(|| meta.get("generateName"))?
            .as_str()
    }
}

/// What a document holds.
pub enum Contents<'d> {
    Skipped(Skip),
    Objects(Vec<Object<'d>>),
}

/// Classifies a document: skipped, one object, or the items of a list.
pub fn objects(doc: &Document) -> Contents<'_> {
    let Some((api_version, kind)) = type_meta(&doc.value) else {
        return Contents::Skipped(if doc.value.is_null() {
            Skip::Empty
        } else {
            Skip::NotKubernetes
        });
    };
    if api_version.starts_with("kustomize.config.k8s.io/") {
        return Contents::Skipped(Skip::Kustomization);
    }
    if doc.value.get("$patch").is_some() {
        return Contents::Skipped(Skip::KustomizePatch);
    }
    if kind.ends_with("List")
        && let Some(items) = doc.value.get("items").and_then(Value::as_array)
    {
        let objects = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let (api_version, kind) = type_meta(item)?;
                Some(Object {
                    value: item,
                    pointer_index: Some(i),
                    api_version,
                    kind,
                })
            })
            .collect();
        return Contents::Objects(objects);
    }
    Contents::Objects(vec![Object {
        value: &doc.value,
        pointer_index: None,
        api_version,
        kind,
    }])
}

fn type_meta(v: &Value) -> Option<(&str, &str)> {
    let api_version = v.get("apiVersion")?.as_str()?;
    let kind = v.get("kind")?.as_str()?;
    Some((api_version, kind))
}

/// Decides from its path and text whether a whole file is skipped before parsing.
pub fn skip_file(path: &str, text: &str) -> Option<Skip> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    ) {
        return Some(Skip::Kustomization);
    }
    if path.split('/').any(|c| c == "templates") && text.contains("{{") {
        return Some(Skip::HelmTemplate);
    }
    None
}

/// Reads raw bytes as UTF-8 text, without a byte-order mark; an [`Issue`] otherwise.
pub fn decode(bytes: &[u8]) -> Result<&str, Issue> {
    let sample = &bytes[..bytes.len().min(8192)];
    if let Some(nul) = sample.iter().position(|&b| b == 0) {
        return Err(Issue {
            rule: "yaml-syntax",
            message: "binary file (contains a NUL byte); not a YAML or JSON manifest".into(),
            start: nul as u32,
            end: nul as u32,
            document: 0,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        Issue {
            rule: "yaml-syntax",
            message: format!(
                "invalid UTF-8 (byte 0x{:02X}); manifests must be UTF-8",
                bytes[at]
            ),
            // The text up to the bad byte is valid, so positions before it stay meaningful.
            start: at as u32,
            end: at as u32,
            document: 0,
        }
    })
}

/// The files a kustomization lists as patches (`patchesStrategicMerge`, `patches[].path`,
/// `patchesJson6902[].path`), as paths relative to the kustomization's directory.
pub fn kustomize_patches(kustomization: &str) -> Vec<String> {
    let (docs, _) = yaml::parse(kustomization, &Limits::default());
    let mut out = Vec::new();
    for doc in docs {
        let v = &doc.value;
        for p in v
            .get("patchesStrategicMerge")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Entries may also be inline patches; only single-line strings are paths.
            if let Some(s) = p.as_str().filter(|s| !s.contains('\n')) {
                out.push(s.to_owned());
            }
        }
        for key in ["patches", "patchesJson6902"] {
            for p in v.get(key).and_then(Value::as_array).into_iter().flatten() {
                if let Some(s) = p.get("path").and_then(Value::as_str) {
                    out.push(s.to_owned());
                }
            }
        }
    }
    out
}
