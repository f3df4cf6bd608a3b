//! kustomize's `configMapGenerator` and `secretGenerator`, as kustomize v5.7.1 runs them, with
//! the provenance of every node of the objects they make.
//!
//! # What others build on
//!
//! - [`generate`] turns one generator item (with the kustomization's `generatorOptions`) into
//!   a [`Generated`]: the object before its name suffix, its [`Behavior`], and whether it
//!   gets a suffix.
//! - [`merge_generated`] folds a `behavior: merge|replace` object into the object it
//!   targets; finding that object (by kind, name and namespace) is the builder's job.
//! - [`hash_suffix`] computes the suffix from the final object: the builder appends
//!   `-<suffix>` to the name of every object whose `hash` is true at the end of the root
//!   build, after every transformer and patch (so the data the hash covers is final).
//!
//! # What the objects are
//!
//! - ConfigMap: `apiVersion: v1`, `metadata.name`, `metadata.namespace` (if set), labels and
//!   annotations from the options, `data` (UTF-8 values) and `binaryData` (base64 of values
//!   that are not UTF-8) when non-empty, `immutable: true` when asked.
//! - Secret: the same, `type` (default `Opaque`), every value base64 in `data` (present even
//!   when empty). Base64 longer than 69 characters is cut into 70-character lines, each
//!   ending with `\n`, as kustomize writes it.
//! - Keys are taken from `envs` (then the deprecated `env`), then `literals`, then `files`,
//!   in that order; a key seen twice is an error. Keys are not validated: kustomize v5.7.1
//!   accepts `a b` or `x/y` (its validator is a stub) and only the API server refuses them.
//! - Options: the generator's `options` win per key over `generatorOptions` for labels and
//!   annotations; `disableNameSuffixHash` and `immutable` are true if either says so.
//! - `behavior` other than `merge` or `replace` (misspelt included) is `create`, as in
//!   kustomize.
//!
//! # Provenance
//!
//! Every node carries the origin of what produced it:
//!
//! | node | origin |
//! |---|---|
//! | the object, `apiVersion`, `kind`, `metadata`, `data`, `binaryData` | the generator item |
//! | `metadata.name`, `metadata.namespace`, `type` | the item's `name:`, `namespace:`, `type:` (`type` defaults to the item) |
//! | a value from `literals` | that literal: key span on the key, value span on the value when the literal is plain text in the file, else the whole item |
//! | a value from an env file | that line of the env file: key and value spans |
//! | a value from `files` | the file read, at its first line (the value is the whole file; a file that is not UTF-8 at byte 0) |
//! | a label or annotation | its entry in `options` or `generatorOptions`, whichever won |
//! | `immutable` | the `immutable: true` that set it |
//!
//! Errors ([`GenerateError`]) carry the origin of the field at fault: the `files:` or `envs:`
//! item of a file that cannot be read, the literal without `=`, the env file line that is
//! not UTF-8, the repeated key.
//!
//! # Offline
//!
//! kubegate renders without the network or the environment:
//!
//! - a `files:` or `envs:` item that is an `http(s)://` URL (kustomize downloads it) is an
//!   error: the merge request's render cannot depend on what a server returns today;
//! - an env file line without `=` is a key with an empty value, as in kustomize v5 (older
//!   kustomize and `kubectl create configmap --from-env-file` read the variable from the
//!   environment; v5.7.1 does not, so nothing here does).
//!
//! Files are read only through the builder's `files` function, which gives each a
//! [`FileId`] and enforces kustomize's load restrictions and kubegate's safe reads
//! (`crate::read`: regular files only, bounded).

mod args;
mod hash;
mod merge;
mod sources;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use self::args::{Args, Options, StringMap, Text};
use crate::render::node::{FileId, Kind, Map, Node, Origin, Span};

pub use self::hash::hash_suffix;
pub use self::merge::merge_generated;

/// Which generator an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeneratorKind {
    /// `configMapGenerator`.
    ConfigMap,
    /// `secretGenerator`.
    Secret,
}

impl GeneratorKind {
    /// The kustomization field that lists these generators.
    pub fn field(self) -> &'static str {
        match self {
            GeneratorKind::ConfigMap => "configMapGenerator",
            GeneratorKind::Secret => "secretGenerator",
        }
    }

    /// The kind of the objects it makes.
    pub fn kind(self) -> &'static str {
        match self {
            GeneratorKind::ConfigMap => "ConfigMap",
            GeneratorKind::Secret => "Secret",
        }
    }
}

/// What to do with a generated object whose id (kind, name, namespace) the build already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Behavior {
    /// The default: a new object; an existing id is an error.
    #[default]
    Create,
    /// Keep the existing object's name, namespace, labels, annotations and data, overlaid
    /// with the generated ones ([`merge_generated`]).
    Merge,
    /// The generated object, with the existing one's name, namespace, labels and
    /// annotations ([`merge_generated`]).
    Replace,
}

/// One generated object, before its name suffix.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The ConfigMap or Secret, named `name` (no suffix yet).
    pub object: Node,
    pub behavior: Behavior,
    /// Whether the root build appends `-` and [`hash_suffix`] of the final object to its name
    /// (`disableNameSuffixHash` not set).
    pub hash: bool,
}

/// Why a generator item produced nothing, and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateError {
    pub message: String,
    pub origin: Origin,
}

impl GenerateError {
    fn new(message: impl Into<String>, origin: Origin) -> Self {
        Self {
            message: message.into(),
            origin,
        }
    }
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GenerateError {}

/// How the builder reads a file a generator names: its id for provenance and its bytes, or
/// why it cannot be read (missing, not a regular file, outside the kustomization's root,
/// too large).
pub type ReadFile<'a> = dyn FnMut(&Path) -> Result<(FileId, Arc<[u8]>), String> + 'a;

/// Runs one generator item.
///
/// `entry` is one item of `configMapGenerator` or `secretGenerator` as parsed from
/// `kustomization.yaml`; `options` is the kustomization's `generatorOptions`; `dir` is the
/// kustomization's directory, against which `files` and `envs` paths are joined (and
/// cleaned lexically, as Go's `filepath.Join` does) before being passed to `files`.
///
/// Parse `kustomization.yaml` with [`crate::parse::Reader::Kubectl`]: kustomize decodes it
/// with `sigs.k8s.io/yaml` (YAML 1.1: `disableNameSuffixHash: yes` is true), not with kyaml.
pub fn generate(
    kind: GeneratorKind,
    entry: &Node,
    options: Option<&Node>,
    dir: &Path,
    files: &mut ReadFile<'_>,
) -> Result<Generated, GenerateError> {
    let args = Args::read(kind, entry)?;
    let global = Options::read(options, "generatorOptions")?;
    let what = kind.field();
    let labels = merge_options(&args.options.labels, &global.labels);
    let annotations = merge_options(&args.options.annotations, &global.annotations);
    refuse_control_characters(&args, [&labels, &annotations], entry)?;
    let Some(name_node) = args.name.node.filter(|_| !args.name.value.is_empty()) else {
        return Err(GenerateError::new(
            format!("a `{what}` item has no `name` (kustomize refuses it)"),
            entry.origin,
        ));
    };
    let name = &args.name.value;
    let label = format!("{what} `{name}`");

    let mut pairs = Vec::new();
    for env in &args.envs {
        let (file, bytes) = read(env, text_origin(env, entry), dir, &label, "env file", files)?;
        let lines = sources::env_lines(&bytes).map_err(|(e, span)| {
            GenerateError::new(
                format!("{label}: env file `{}`: {e}", env.value),
                Origin::new(file, span),
            )
        })?;
        for p in lines {
            pairs.push(Pair {
                key: p.key,
                value: p.value.into_bytes(),
                key_at: Origin::new(file, p.key_span),
                origin: Origin {
                    file,
                    key: Some(p.key_span),
                    value: p.value_span,
                },
            });
        }
    }
    for lit in &args.literals {
        let at = text_origin(lit, entry);
        let parsed = sources::literal(&lit.value)
            .map_err(|e| GenerateError::new(format!("{label}: {e}"), at))?;
        // The literal's parts, when its text stands verbatim in the file (a plain scalar:
        // its span is exactly as long as its value).
        let verbatim = (at.value.end - at.value.start) as usize == lit.value.len();
        let part = |from: usize, len: usize| {
            let start = at.value.start as usize + from;
            Span::new(start, start + len)
        };
        let (key_span, value_span) = if verbatim {
            (
                part(0, parsed.key.len()),
                part(parsed.value_at, parsed.value.len()),
            )
        } else {
            (at.value, at.value)
        };
        pairs.push(Pair {
            key: parsed.key.to_owned(),
            value: parsed.value.as_bytes().to_vec(),
            key_at: at,
            origin: Origin {
                file: at.file,
                key: Some(key_span),
                value: value_span,
            },
        });
    }
    for source in &args.files {
        let at = text_origin(source, entry);
        let (key, path) = sources::file_source(&source.value)
            .map_err(|e| GenerateError::new(format!("{label}: {e}"), at))?;
        let key = key.to_owned();
        let path_text = Text {
            value: path.to_owned(),
            node: source.node,
        };
        let (file, bytes) = read(&path_text, at, dir, &label, "file", files)?;
        let head = match std::str::from_utf8(&bytes) {
            Ok(text) => text.find(['\n', '\r']).unwrap_or(text.len()),
            Err(_) => 0,
        };
        pairs.push(Pair {
            key,
            value: bytes.to_vec(),
            key_at: at,
            origin: Origin::new(file, Span::new(0, head)),
        });
    }

    let mut data = Map::new();
    let mut binary = Map::new();
    for p in pairs {
        if data.contains_key(&p.key) || binary.contains_key(&p.key) {
            return Err(GenerateError::new(
                format!(
                    "{label} has the key `{}` twice (kustomize refuses a repeated key)",
                    p.key
                ),
                p.key_at,
            ));
        }
        match (kind, String::from_utf8(p.value)) {
            (GeneratorKind::ConfigMap, Ok(text)) => {
                data.insert(p.key, Node::new(Kind::String(text), p.origin));
            }
            (GeneratorKind::ConfigMap, Err(e)) => {
                let b64 = sources::base64(e.as_bytes());
                binary.insert(p.key, Node::new(Kind::String(b64), p.origin));
            }
            (GeneratorKind::Secret, value) => {
                let bytes = value.map_or_else(|e| e.into_bytes(), String::into_bytes);
                let b64 = sources::base64(&bytes);
                data.insert(p.key, Node::new(Kind::String(b64), p.origin));
            }
        }
    }

    let at = entry.origin;
    let string = |s: &str, origin: Origin| Node::new(Kind::String(s.to_owned()), origin);
    let mut metadata = Map::new();
    metadata.insert("name".into(), string(name, name_node.origin));
    if let (false, Some(node)) = (args.namespace.value.is_empty(), args.namespace.node) {
        metadata.insert(
            "namespace".into(),
            string(&args.namespace.value, node.origin),
        );
    }
    for (field, map) in [("labels", labels), ("annotations", annotations)] {
        if let Some(map) = map {
            metadata.insert(field.into(), map);
        }
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), string("v1", at));
    object.insert("kind".into(), string(kind.kind(), at));
    object.insert("metadata".into(), Node::new(Kind::Map(metadata), at));
    if kind == GeneratorKind::Secret {
        let t = match args.secret_type.node {
            Some(node) if !args.secret_type.value.is_empty() => {
                string(&args.secret_type.value, node.origin)
            }
            _ => string("Opaque", at),
        };
        object.insert("type".into(), t);
    }
    if !data.is_empty() || kind == GeneratorKind::Secret {
        object.insert("data".into(), Node::new(Kind::Map(data), at));
    }
    if !binary.is_empty() {
        object.insert("binaryData".into(), Node::new(Kind::Map(binary), at));
    }
    if let Some(node) = args.options.immutable.or(global.immutable) {
        object.insert("immutable".into(), Node::new(Kind::Bool(true), node.origin));
    }
    let hash = args.options.disable_hash.is_none() && global.disable_hash.is_none();
    Ok(Generated {
        object: Node::new(Kind::Map(object), at),
        behavior: match args.behavior.value.as_str() {
            "merge" => Behavior::Merge,
            "replace" => Behavior::Replace,
            _ => Behavior::Create,
        },
        hash,
    })
}

/// kustomize hands a generator its arguments as YAML written by go-yaml v2 from JSON, and
/// go-yaml refuses to read DEL and the C1 controls but NEL, which JSON does not escape
/// (`yaml: control characters are not allowed`); the other controls are escaped and pass.
fn refuse_control_characters(
    args: &Args<'_>,
    maps: [&Option<Node>; 2],
    entry: &Node,
) -> Result<(), GenerateError> {
    let refused = |s: &str| {
        s.chars().find(
            |&c| matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}'),
        )
    };
    let strings = [
        &args.name,
        &args.namespace,
        &args.behavior,
        &args.secret_type,
    ]
    .into_iter()
    .chain(&args.literals)
    .chain(&args.files)
    .chain(&args.envs)
    .map(|t| (t.value.as_str(), text_origin(t, entry)));
    let options = maps
        .into_iter()
        .flatten()
        .filter_map(Node::as_map)
        .flatten()
        .flat_map(|(k, v)| {
            let key_at = Origin::new(v.origin.file, v.origin.key.unwrap_or(v.origin.value));
            [(k.as_str(), key_at), (v.as_str().unwrap_or(""), v.origin)]
        });
    for (s, at) in strings.chain(options) {
        if let Some(c) = refused(s) {
            return Err(GenerateError::new(
                format!(
                    "`{}` contains the control character U+{:04X}: kustomize refuses it \
                     (`yaml: control characters are not allowed`)",
                    s.escape_debug(),
                    c as u32
                ),
                at,
            ));
        }
    }
    Ok(())
}

/// One key and value before it goes to `data` or `binaryData`.
struct Pair {
    key: String,
    value: Vec<u8>,
    /// Where the key was chosen, for a repeated key.
    key_at: Origin,
    /// The value node's origin.
    origin: Origin,
}

/// The origin of a string field (its item, or the generator item when it has no node).
fn text_origin(text: &Text<'_>, entry: &Node) -> Origin {
    text.node.map_or(entry.origin, |n| n.origin)
}

/// Reads a file a generator names, through the builder.
fn read(
    source: &Text<'_>,
    at: Origin,
    dir: &Path,
    label: &str,
    what: &str,
    files: &mut ReadFile<'_>,
) -> Result<(FileId, Arc<[u8]>), GenerateError> {
    if sources::is_remote(&source.value) {
        return Err(GenerateError::new(
            format!(
                "{label}: {what} `{}` is a URL: kustomize downloads it, kubegate renders \
                 offline and does not (vendor the file into the repository)",
                source.value
            ),
            at,
        ));
    }
    let path = clean(&dir.join(&source.value));
    files(&path)
        .map_err(|e| GenerateError::new(format!("{label}: {what} `{}`: {e}", source.value), at))
}

/// `path` with `.` and `a/..` removed lexically, as Go's `filepath.Join` cleans it.
fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Labels or annotations from the item's options over the kustomization's: each key from
/// the options that has it locally, else globally; `None` when there are none.
fn merge_options(
    local: &Option<(StringMap<'_>, &Node)>,
    global: &Option<(StringMap<'_>, &Node)>,
) -> Option<Node> {
    let mut out = Map::new();
    for (k, v, node) in local.iter().chain(global).flat_map(|(m, _)| m) {
        if !out.contains_key(k) {
            out.insert(k.clone(), Node::new(Kind::String(v.clone()), node.origin));
        }
    }
    if out.is_empty() {
        return None;
    }
    // The mapping itself comes from the options that have one with entries.
    let origin = [local, global]
        .into_iter()
        .flatten()
        .find(|(m, _)| !m.is_empty())
        .map(|(_, n)| n.origin)?;
    Some(Node::new(Kind::Map(out), origin))
}

/// The string value of a scalar as kyaml's `GetValue` gives it (`null` is empty).
fn scalar_text(node: &Node) -> String {
    match &node.kind {
        Kind::String(s) => s.clone(),
        Kind::Number(n) => n.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Null | Kind::Seq(_) | Kind::Map(_) => String::new(),
    }
}

#[cfg(test)]
mod tests;
