//! Stage 2: file text to documents, each a `serde_json::Value` with a [`SourceMap`], and the
//! Kubernetes objects inside them.

pub mod scalar;
pub mod source_map;
pub mod yaml;

use std::borrow::Cow;

use serde_json::Value;

pub use source_map::{Located, NodeKind, SourceMap};

/// The YAML reader that deploys a file, whose rules decide the object built from its text.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reader {
    /// `kubectl apply -f`, the API server, Argo CD directory applications:
    /// `sigs.k8s.io/yaml` on go-yaml v2 (YAML 1.1 scalars, merges in document order,
    /// duplicate keys last-wins).
    #[default]
    Kubectl,
    /// kustomize (`kubectl kustomize`, Flux, Argo CD kustomize applications): kyaml on
    /// go-yaml v3 (YAML 1.2 scalars, timestamps normalised, explicit keys beat merges,
    /// duplicate keys and non-string nested keys are errors).
    Kyaml,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::Kubectl => "kubectl",
            Reader::Kyaml => "kustomize",
        }
    }
}

/// Resource budgets that keep hostile input bounded in time and memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of mappings and sequences accepted.
    pub max_depth: usize,
    /// Nodes a document may hold once aliases are expanded.
    pub max_alias_nodes: usize,
    /// Bytes of scalar text that aliases may add to a document (a large anchored string
    /// aliased many times costs its size each time, not one node).
    pub max_alias_bytes: usize,
    /// Files larger than this are not parsed.
    pub max_file_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 256,
            max_alias_nodes: 1_000_000,
            max_alias_bytes: 32 << 20,
            max_file_size: 64 * 1024 * 1024,
        }
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
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

/// The indices of the items of a `kind: List` (or `*List`) that lack a string `apiVersion`
/// or `kind`: kubectl refuses the whole list for them.
pub fn untyped_items(doc: &Document) -> Vec<usize> {
    let Some((_, kind)) = type_meta(&doc.value) else {
        return Vec::new();
    };
    if !kind.ends_with("List") {
        return Vec::new();
    }
    let Some(items) = doc.value.get("items").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| type_meta(item).is_none())
        .map(|(i, _)| i)
        .collect()
}

/// Why a document without a string `apiVersion` and `kind` is not a Kubernetes object
/// that kubectl could apply, with the pointer of the key to show (`""`: the document):
/// `None` when it is not shaped like one. `among_objects`: the file holds Kubernetes
/// objects, so anything else in it is a broken object, not some other YAML.
pub fn not_an_object(value: &Value, among_objects: bool) -> Option<(String, String)> {
    let map = match value {
        Value::Null => return None,
        Value::Object(m) => m,
        Value::Array(_) if among_objects => {
            return Some((
                "a top-level sequence in a file of Kubernetes objects: kubectl refuses the \
                 file (only `kind: List` may hold objects)"
                    .into(),
                String::new(),
            ));
        }
        _ if among_objects => {
            return Some((
                "a scalar document in a file of Kubernetes objects: kubectl refuses the file"
                    .into(),
                String::new(),
            ));
        }
        _ => return None,
    };
    // A key that is `apiVersion` or `kind` but for its spelling.
    let near = |want: &str| {
        map.keys()
            .find(|k| *k != want && k.replace(['_', '-'], "").eq_ignore_ascii_case(want))
    };
    let lower: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
    let has = |k: &str| lower.iter().any(|l| l == k);
    let shaped = has("kind") && (has("apiversion") || has("metadata"));
    if !among_objects && !shaped {
        return None;
    }
    let missing = |want: &str| match map.get(want) {
        Some(Value::String(_)) => None,
        Some(_) => Some(format!("`{want}` is not a string")),
        None => Some(match near(want) {
            Some(k) => format!("`{want}` is spelt `{k}` (keys are case-sensitive)"),
            None => format!("it has no `{want}`"),
        }),
    };
    let problems: Vec<String> = ["apiVersion", "kind"]
        .iter()
        .filter_map(|w| missing(w))
        .collect();
    if problems.is_empty() {
        return None;
    }
    let pointer = ["apiVersion", "kind"]
        .iter()
        .find_map(|w| near(w))
        .map(|k| format!("/{}", source_map::escape(k)))
        .unwrap_or_default();
    Some((
        format!(
            "not a Kubernetes object: {}; kubectl and the GitOps controller refuse to apply \
             it, and kubegate cannot check it",
            problems.join(", ")
        ),
        pointer,
    ))
}

/// Decides from its path and text whether a whole file is skipped before parsing.
///
/// A Helm template is a file under the `templates/` folder of a chart, with `{{` in it:
/// `is_chart(dir)` says whether `dir` holds a `Chart.yaml`. Anything else is a manifest,
/// whatever its folder is called and whatever its comments hold.
pub fn skip_file(path: &str, text: &str, is_chart: &dyn Fn(&str) -> bool) -> Option<Skip> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    ) {
        return Some(Skip::Kustomization);
    }
    if path.split('/').any(|c| c == "templates") && text.contains("{{") {
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate().take(parts.len().saturating_sub(1)) {
            if *part == "templates" && is_chart(&parts[..i].join("/")) {
                return Some(Skip::HelmTemplate);
            }
        }
    }
    None
}

/// The documents of `text` that may be of one of the `wanted` kinds, cut where kubectl
/// cuts a file (at lines starting with `---`). A document is left out only when it has a
/// top-level `kind:` line (at column 0) and none of them mentions a wanted kind (a
/// CustomResourceDefinition or a Role that merely names the kind further in): a document
/// written any other way (JSON, a flow mapping) is kept. A pre-filter that spares parsing
/// a large file for the few objects a caller looks for, never a reader.
pub fn documents_maybe_of_kind<'t>(text: &'t str, wanted: &[&str]) -> Vec<&'t str> {
    use memchr::memmem;
    // Every line that starts with `---` cuts (but not at the very start): the scan finds
    // line feeds followed by it, rather than splitting a large file into lines.
    let bytes = text.as_bytes();
    let mut bounds = vec![0];
    bounds.extend(memmem::find_iter(bytes, b"\n---").map(|i| i + 1));
    bounds.push(text.len());
    bounds.dedup();
    let kinds = |piece: &'t str| {
        let at_start = piece.starts_with("kind:").then_some(0);
        at_start
            .into_iter()
            .chain(memmem::find_iter(piece.as_bytes(), b"\nkind:").map(|i| i + 1))
            .map(move |i| {
                let rest = &piece[i + "kind:".len()..];
                &rest[..rest.find('\n').unwrap_or(rest.len())]
            })
    };
    bounds
        .windows(2)
        .map(|w| &text[w[0]..w[1]])
        .filter(|piece| {
            let mut found = kinds(piece).peekable();
            found.peek().is_none() || found.any(|k| wanted.iter().any(|w| k.contains(w)))
        })
        .collect()
}

/// Whether the folder `dir` (a display path, `""` for the working directory) holds a
/// chart, on the file system.
pub fn chart_on_disk(dir: &str) -> bool {
    let dir = if dir.is_empty() { "." } else { dir };
    std::path::Path::new(dir).join("Chart.yaml").is_file()
}

/// A file's bytes as text, decoded as kubectl decodes them.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The text to parse: without a byte-order mark, UTF-16 transcoded, invalid UTF-8
    /// replaced by U+FFFD (as kubectl does). Empty for a binary file.
    pub text: Cow<'a, str>,
    /// Why the file is not clean UTF-8 text, if it is not.
    pub issue: Option<Issue>,
    /// A binary file (a NUL byte in UTF-8): not parsed at all.
    pub binary: bool,
}

/// Reads raw bytes as text, as kubectl's reader does: a UTF-8 byte-order mark is dropped,
/// a UTF-16 one selects UTF-16; a NUL byte otherwise means a binary file; invalid UTF-8 is
/// an issue (kustomize refuses it) and is read with U+FFFD in its place (as kubectl reads
/// it, so what kubectl would apply is still checked).
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes);
    }
    let sample = &bytes[..bytes.len().min(8192)];
    if sample.contains(&0) {
        return Decoded {
            text: Cow::Borrowed(""),
            issue: Some(Issue {
                rule: "yaml-syntax",
                message: "binary file (contains a NUL byte); not a YAML or JSON manifest".into(),
                start: 0,
                end: 0,
                document: 0,
            }),
            binary: true,
        };
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded {
            text: without_inner_boms(text),
            issue: None,
            binary: false,
        },
        Err(e) => {
            let at = e.valid_up_to();
            Decoded {
                text: String::from_utf8_lossy(bytes),
                issue: Some(Issue {
                    rule: "yaml-syntax",
                    message: format!(
                        "invalid UTF-8 (byte 0x{:02X}): kubectl reads it as U+FFFD, kustomize \
                         refuses the file; save it as UTF-8",
                        bytes[at]
                    ),
                    // The text up to the bad byte is unchanged, so this offset holds.
                    start: at as u32,
                    end: at as u32,
                    document: 0,
                }),
                binary: false,
            }
        }
    }
}

/// Both readers accept a byte-order mark at the start of any document, not only of the
/// file; YAML allows it only there, so the ones after a line break are dropped before
/// parsing. (Positions on those lines move by one column; there are no others.)
fn without_inner_boms(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{FEFF}') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\n\u{FEFF}", "\n").replace("\r\u{FEFF}", "\r"))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Decoded<'_> {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Decoded {
        text: Cow::Owned(text),
        issue: None,
        binary: false,
    }
}

/// What a kustomization reads: the files it lists as patches (`patchesStrategicMerge`,
/// `patches[].path`, `patchesJson6902[].path`) and as resources (`resources`, `bases`,
/// `crds`), as paths relative to the kustomization's directory.
#[derive(Debug, Default)]
pub struct KustomizeRefs {
    pub patches: Vec<String>,
    pub resources: Vec<String>,
}

/// The files a kustomization's text refers to (see [`KustomizeRefs`]).
pub fn kustomize_refs(kustomization: &str) -> KustomizeRefs {
    let (docs, _) = yaml::parse(kustomization, &Limits::default());
    let mut out = KustomizeRefs::default();
    for doc in docs {
        let v = &doc.value;
        let strings = |key: &str| {
            v.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                // Entries may also be inline patches; only single-line strings are paths.
                .filter(|s| !s.contains('\n') && !s.contains("://"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        out.patches.extend(strings("patchesStrategicMerge"));
        for key in ["resources", "bases", "crds"] {
            out.resources.extend(strings(key));
        }
        for key in ["patches", "patchesJson6902"] {
            for p in v.get(key).and_then(Value::as_array).into_iter().flatten() {
                if let Some(s) = p.get("path").and_then(Value::as_str) {
                    out.patches.push(s.to_owned());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_documents_that_may_be_of_a_wanted_kind_are_kept() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                   spec:\n  names:\n    kind: Application\n";
        let role = "kind: ClusterRole\nrules:\n- apiGroups: [argoproj.io]\n";
        let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\n";
        let quoted = "kind: \"Kustomization\" # flux\n";
        let json = "{\"kind\": \"Application\"}\n";
        let flow = "{\nkind: Application,\n}\n";
        let text = format!("{crd}---\n{role}--- # next\n{app}---\n{quoted}---\n{json}---\n{flow}");
        let kept = documents_maybe_of_kind(&text, &["Application", "Kustomization"]);
        assert_eq!(
            kept,
            [
                format!("--- # next\n{app}"),
                format!("---\n{quoted}"),
                format!("---\n{json}"),
                format!("---\n{flow}"),
            ]
        );
        assert_eq!(
            documents_maybe_of_kind(role, &["Application"]),
            Vec::<&str>::new()
        );
        // No kind line at all: kept, whatever it holds.
        assert_eq!(
            documents_maybe_of_kind("a: 1\n", &["Application"]),
            ["a: 1\n"]
        );
    }
}
