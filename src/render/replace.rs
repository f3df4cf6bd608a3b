//! kustomize's `replacements` (kustomize v5.7.1, `api/filters/replacement/replacement.go`,
//! `api/types/replacement.go`, `plugin/builtin/replacementtransformer`): a value read from
//! one object (or given as `sourceValue`) is copied into fields of other objects.
//!
//! - The source is selected by group, version, kind, name and namespace, against each
//!   object's current id and every id it had before a rename; exactly one object must match.
//!   Its `fieldPath` (default `metadata.name`) is looked up as kyaml's `PathGetter` does
//!   (`a.b`, `list.0`, `list.-`, `list.[name=x]`), and `options.delimiter`/`index` pick one
//!   part of a scalar.
//! - Targets are selected the same way, plus label and annotation selectors, minus
//!   `reject`; each `fieldPaths` entry is followed as kyaml's `PathMatcher` does (`*` over
//!   every item, `[name=regex]` matching list items by an unanchored regular expression,
//!   numeric indexes), creating what is missing with `options.create`.
//! - A scalar target keeps its type and takes only the text of the value (a string field
//!   stays a string, an integer field must get an integer); a created scalar has no type
//!   and is read again as YAML (`"2.0"` becomes the number 2, as kustomize prints it); a
//!   mapping or sequence target is replaced by the source node itself.
//!
//! Provenance: a value set by a replacement carries the origin of the source node it was
//! copied from (or of `sourceValue`), so a finding on it points at the line to edit; the
//! mappings and list items created on the way carry the origin of the `fieldPaths` entry
//! that asked for them.

use regex::Regex;

use super::node::{Kind, Map, Node, Origin};
use super::patch::Selector as LabelSelector;
use super::resource::{Gvk, ResId, Resource};
use super::{Error, Result};
use crate::parse::Reader;
use crate::parse::scalar::{self, Scalar};

/// kustomize's `types.DefaultReplacementFieldPath`.
pub const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// A group, version, kind, name and namespace to select objects by (kustomize's `ResId`
/// as a selector: an empty field matches anything, the rest compare exactly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSelector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl IdSelector {
    fn is_empty(&self) -> bool {
        *self == IdSelector::default()
    }

    /// kustomize's `ResId.IsSelectedBy`, with both ids built from literal GVKs (as
    /// `MakeResIds` does): an empty namespace is `default`.
    fn selects(&self, id: &ResId) -> bool {
        let eff = |ns: &str| if ns.is_empty() { "default" } else { ns }.to_owned();
        (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty() || eff(&self.namespace) == eff(&id.namespace))
            && id.gvk.selected_by(&self.group, &self.version, &self.kind)
    }

    /// kustomize's `ResId.String()`: `Kind.version.group/name.namespace`.
    pub fn show(&self) -> String {
        ResId {
            gvk: Gvk {
                group: self.group.clone(),
                version: self.version.clone(),
                kind: self.kind.clone(),
            },
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
        .show()
    }
}

/// `options` of a source or a target.
#[derive(Debug, Clone, Default)]
pub struct FieldOptions {
    pub delimiter: String,
    pub index: i64,
    pub create: bool,
}

/// Where a replacement's value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `sourceValue`: a scalar without a type (kyaml's `NewScalarRNode`).
    Value(Node),
    Object {
        selector: IdSelector,
        /// The `fieldPath` as written (empty: `metadata.name`) and its node.
        field_path: String,
        options: Option<FieldOptions>,
        origin: Origin,
    },
}

/// One entry of `targets`.
#[derive(Debug, Clone)]
pub struct Target {
    select: IdSelector,
    select_labels: Option<LabelSelector>,
    reject: Vec<(IdSelector, Option<LabelSelector>)>,
    /// Each path with the node that wrote it (the target entry when defaulted).
    field_paths: Vec<(String, Origin)>,
    options: FieldOptions,
}

/// One replacement.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub source: Source,
    targets: Vec<Target>,
}

/// Reads a file named by a `replacements[].path` entry: its documents (the first one is
/// read, as `sigs.k8s.io/yaml` does).
pub type LoadFile<'a> = dyn FnMut(&str, Origin) -> Result<Vec<Node>> + 'a;

/// The replacements of a kustomization's `replacements` field, files read through `load`.
pub fn load(field: &Node, load: &mut LoadFile<'_>) -> Result<Vec<Replacement>> {
    let Some(entries) = field.as_seq() else {
        return Err(Error::new(
            "invalid kustomization: `replacements` must be a list",
            field.origin,
        ));
    };
    let mut out = Vec::new();
    for entry in entries {
        let fields = Fields::read(
            entry,
            "replacements",
            &["source", "targets", "sourceValue", "path"],
            true,
        )?;
        let path = fields.string("path")?;
        if let Some((path, path_node)) = path.filter(|(p, _)| !p.is_empty()) {
            let inline = fields.get("source").is_some()
                || fields
                    .get("targets")
                    .and_then(Node::as_seq)
                    .is_some_and(|t| !t.is_empty());
            if inline {
                return Err(Error::new(
                    "cannot specify both path and inline replacement",
                    entry.origin,
                ));
            }
            let docs = load(path, path_node.origin)?;
            match docs.first().map(|d| &d.kind) {
                Some(Kind::Seq(items)) => {
                    for item in items {
                        out.push(Replacement::read(item, false)?);
                    }
                }
                Some(Kind::Map(_)) => out.push(Replacement::read(&docs[0], false)?),
                other => {
                    let what = match other {
                        None | Some(Kind::Null) => "invalid",
                        Some(Kind::Bool(_)) => "bool",
                        Some(Kind::Number(_)) => "float64",
                        _ => "string",
                    };
                    return Err(Error::new(
                        format!(
                            "unsupported replacement type encountered within replacement \
                             path: {what}"
                        ),
                        path_node.origin,
                    ));
                }
            }
        } else {
            out.push(Replacement::read(entry, true)?);
        }
    }
    Ok(out)
}

impl Replacement {
    /// One replacement (`strict`: in the kustomization, where kustomize refuses unknown
    /// fields; a replacement file is read leniently).
    fn read(node: &Node, strict: bool) -> Result<Self> {
        let allowed: &[&str] = if strict {
            &["source", "targets", "sourceValue", "path"]
        } else {
            &["source", "targets", "sourceValue"]
        };
        let f = Fields::read(node, "replacements", allowed, strict)?;
        let source_value = f.string("sourceValue")?.map(|(_, n)| n.clone());
        let source = f.get("source");
        let missing = || {
            Error::new(
                "replacements must specify a source and at least one target",
                node.origin,
            )
        };
        let Some(targets) = f.get("targets") else {
            return Err(missing());
        };
        let source = match (source_value, source) {
            (Some(_), Some(s)) => {
                return Err(Error::new(
                    "value and resource selectors are mutually exclusive",
                    s.origin,
                ));
            }
            (Some(v), None) => Source::Value(v),
            (None, Some(s)) => {
                let sf = Fields::read(
                    s,
                    "replacements[].source",
                    &[
                        "group",
                        "version",
                        "kind",
                        "name",
                        "namespace",
                        "fieldPath",
                        "options",
                    ],
                    strict,
                )?;
                Source::Object {
                    selector: sf.id_selector()?,
                    field_path: sf
                        .string("fieldPath")?
                        .map(|(p, _)| p.to_owned())
                        .unwrap_or_default(),
                    options: sf
                        .get("options")
                        .map(|o| read_options(o, strict))
                        .transpose()?,
                    origin: s.origin,
                }
            }
            (None, None) => return Err(missing()),
        };
        let mut out = Vec::new();
        let Some(items) = targets.as_seq() else {
            return Err(Error::new(
                "invalid kustomization: `replacements[].targets` must be a list",
                targets.origin,
            ));
        };
        for t in items {
            out.push(Target::read(t, strict)?);
        }
        Ok(Replacement {
            source,
            targets: out,
        })
    }
}

impl Target {
    fn read(node: &Node, strict: bool) -> Result<Self> {
        let f = Fields::read(
            node,
            "replacements[].targets",
            &["select", "reject", "fieldPaths", "options"],
            strict,
        )?;
        let Some(select) = f.get("select") else {
            return Err(Error::new(
                "target must specify resources to select",
                node.origin,
            ));
        };
        let (select, select_labels) = read_selector(select, strict)?;
        let mut reject = Vec::new();
        if let Some(r) = f.get("reject") {
            let Some(items) = r.as_seq() else {
                return Err(Error::new(
                    "invalid kustomization: `reject` must be a list of selectors",
                    r.origin,
                ));
            };
            for item in items {
                if item.kind == Kind::Null {
                    continue;
                }
                reject.push(read_selector(item, strict)?);
            }
        }
        let mut field_paths = Vec::new();
        if let Some(p) = f.get("fieldPaths") {
            let Some(items) = p.as_seq() else {
                return Err(Error::new(
                    "invalid kustomization: `fieldPaths` must be a list of strings",
                    p.origin,
                ));
            };
            for item in items {
                let Some(s) = item.as_str() else {
                    return Err(Error::new(
                        "invalid kustomization: `fieldPaths` must be a list of strings",
                        item.origin,
                    ));
                };
                field_paths.push((s.to_owned(), item.origin));
            }
        }
        if field_paths.is_empty() {
            field_paths.push((DEFAULT_FIELD_PATH.to_owned(), node.origin));
        }
        let options = f
            .get("options")
            .map(|o| read_options(o, strict))
            .transpose()?
            .unwrap_or_default();
        Ok(Target {
            select,
            select_labels,
            reject,
            field_paths,
            options,
        })
    }

    /// Whether the target selects `r` (kustomize's `applyReplacement` filters).
    fn selects(&self, r: &Resource) -> bool {
        let labels_ok =
            |s: &Option<LabelSelector>| s.as_ref().is_none_or(|s| s.matches(&r.node, &[], &[]));
        if !labels_ok(&self.select_labels) {
            return false;
        }
        for (_, l) in &self.reject {
            if l.is_some() && labels_ok(l) {
                return false;
            }
        }
        let ids = ids(r);
        let rejected = self
            .reject
            .iter()
            .any(|(id, _)| !id.is_empty() && ids.iter().any(|i| id.selects(i)));
        !rejected && ids.iter().any(|i| self.select.selects(i))
    }
}

/// A `select` or `reject` selector: an id selector and, when given, label and annotation
/// selectors.
fn read_selector(node: &Node, strict: bool) -> Result<(IdSelector, Option<LabelSelector>)> {
    let f = Fields::read(
        node,
        "replacements[].targets[].select",
        &[
            "group",
            "version",
            "kind",
            "name",
            "namespace",
            "labelSelector",
            "annotationSelector",
        ],
        strict,
    )?;
    let id = f.id_selector()?;
    let mut m = Map::new();
    for key in ["labelSelector", "annotationSelector"] {
        if let Some((text, n)) = f.string(key)?
            && !text.is_empty()
        {
            m.insert(key.to_owned(), n.clone());
        }
    }
    let labels = if m.is_empty() {
        None
    } else {
        let sel = LabelSelector::from_node(&Node::new(Kind::Map(m), node.origin))
            .map_err(|e| Error::new(e.message, e.origin))?;
        Some(sel)
    };
    Ok((id, labels))
}

fn read_options(node: &Node, strict: bool) -> Result<FieldOptions> {
    let f = Fields::read(
        node,
        "replacements[].options",
        &["delimiter", "index", "encoding", "create"],
        strict,
    )?;
    f.string("encoding")?;
    let index = match f.get("index") {
        None => 0,
        Some(n) => match &n.kind {
            Kind::Number(x) if x.as_i64().is_some() => x.as_i64().unwrap_or(0),
            _ => {
                return Err(Error::new(
                    format!(
                        "invalid kustomization: `options.index` must be an integer, not {}",
                        super::kustomization::describe(&n.kind)
                    ),
                    n.origin,
                ));
            }
        },
    };
    let create = match f.get("create") {
        None => false,
        Some(n) => match n.kind {
            Kind::Bool(b) => b,
            _ => {
                return Err(Error::new(
                    format!(
                        "invalid kustomization: `options.create` must be true or false, not {}",
                        super::kustomization::describe(&n.kind)
                    ),
                    n.origin,
                ));
            }
        },
    };
    Ok(FieldOptions {
        delimiter: f
            .string("delimiter")?
            .map(|(s, _)| s.to_owned())
            .unwrap_or_default(),
        index,
        create,
    })
}

/// The fields of a mapping, matched to their names as Go's `encoding/json` does (exact,
/// else ignoring case); a null field is absent.
struct Fields<'a> {
    what: &'a str,
    found: Vec<(&'static str, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn read(node: &'a Node, what: &'a str, allowed: &[&'static str], strict: bool) -> Result<Self> {
        let Some(map) = node.as_map() else {
            return Err(Error::new(
                format!(
                    "invalid kustomization: each `{what}` entry must be a mapping, not {}",
                    super::kustomization::describe(&node.kind)
                ),
                node.origin,
            ));
        };
        let mut found = Vec::new();
        for (key, value) in map {
            let name = allowed
                .iter()
                .find(|a| **a == key)
                .or_else(|| allowed.iter().find(|a| a.eq_ignore_ascii_case(key)));
            match name {
                Some(name) if value.kind != Kind::Null => found.push((*name, value)),
                Some(_) => {}
                None if strict => {
                    return Err(Error::at_key(
                        format!("invalid kustomization: json: unknown field \"{key}\" in `{what}`"),
                        value.origin,
                    ));
                }
                None => {}
            }
        }
        Ok(Self { what, found })
    }

    fn get(&self, name: &str) -> Option<&'a Node> {
        self.found.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn string(&self, name: &str) -> Result<Option<(&'a str, &'a Node)>> {
        match self.get(name) {
            None => Ok(None),
            Some(n) => match n.as_str() {
                Some(s) => Ok(Some((s, n))),
                None => Err(Error::new(
                    format!(
                        "invalid kustomization: `{}.{name}` must be a string, not {}",
                        self.what,
                        super::kustomization::describe(&n.kind)
                    ),
                    n.origin,
                )),
            },
        }
    }

    fn id_selector(&self) -> Result<IdSelector> {
        let text = |k: &str| -> Result<String> {
            Ok(self
                .string(k)?
                .map(|(s, _)| s.to_owned())
                .unwrap_or_default())
        };
        Ok(IdSelector {
            group: text("group")?,
            version: text("version")?,
            kind: text("kind")?,
            name: text("name")?,
            namespace: text("namespace")?,
        })
    }
}

/// An object's current id and the ids it had before (kustomize's `MakeResIds`).
fn ids(r: &Resource) -> Vec<ResId> {
    let mut out = vec![r.id()];
    out.extend(r.previous_ids().iter().cloned());
    out
}

/// Applies `replacements` in order to the objects of an accumulation.
pub fn apply(acc: &mut [Resource], replacements: &[Replacement]) -> Result<()> {
    for r in replacements {
        let value = source_value(acc, &r.source)?;
        for t in &r.targets {
            for res in acc.iter_mut() {
                if t.selects(res) {
                    copy_to_target(&mut res.node, &value, t)?;
                }
            }
        }
    }
    Ok(())
}

/// A replacement's value: a node, and whether it has no YAML type yet (`sourceValue`).
#[derive(Debug, Clone)]
struct Value {
    node: Node,
    untyped: bool,
}

/// `SourceSelector.String()`: the id, the field path and the options, `:`-joined.
fn show_source(selector: &IdSelector, field_path: &str, options: &Option<FieldOptions>) -> String {
    let mut parts = vec![selector.show()];
    if !field_path.is_empty() {
        parts.push(field_path.to_owned());
    }
    if let Some(o) = options
        && (!o.delimiter.is_empty() || o.create)
    {
        parts.push(format!("{}({}), create={}", o.delimiter, o.index, o.create));
    }
    parts.join(":")
}

fn source_value(acc: &[Resource], source: &Source) -> Result<Value> {
    let (selector, field_path, options, origin) = match source {
        Source::Value(n) => {
            return Ok(Value {
                node: n.clone(),
                untyped: true,
            });
        }
        Source::Object {
            selector,
            field_path,
            options,
            origin,
        } => (selector, field_path, options, *origin),
    };
    let shown = || show_source(selector, field_path, options);
    let mut matched: Option<&Resource> = None;
    for r in acc {
        if ids(r).iter().any(|id| selector.selects(id)) {
            if matched.is_some() {
                return Err(Error::new(
                    format!("multiple matches for selector {}", shown()),
                    origin,
                ));
            }
            matched = Some(r);
        }
    }
    let Some(object) = matched else {
        return Err(Error::new(
            format!("nothing selected by {}", shown()),
            origin,
        ));
    };
    let path = if field_path.is_empty() {
        DEFAULT_FIELD_PATH
    } else {
        field_path
    };
    let found = lookup_field(&object.node, &split_path(path))
        .map_err(|e| Error::new(format!("error looking up replacement source: {e}"), origin))?;
    let node = match found {
        Some(n) if !Node::is_nil_or_empty(n) => n,
        _ => {
            return Err(Error::new(
                format!(
                    "fieldPath `{path}` is missing for replacement source {}",
                    selector.show()
                ),
                origin,
            ));
        }
    };
    let mut node = node.clone();
    if let Some(o) = options
        && !o.delimiter.is_empty()
    {
        let Some(text) = scalar_text(&node) else {
            return Err(Error::new(
                "delimiter option can only be used with scalar nodes",
                origin,
            ));
        };
        let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
        let Some(part) = usize::try_from(o.index).ok().and_then(|i| parts.get(i)) else {
            return Err(Error::new(
                format!(
                    "options.index {} is out of bounds for value {text}",
                    o.index
                ),
                origin,
            ));
        };
        node.kind = retyped(&node.kind, part).map_err(|e| Error::new(e, origin))?;
    }
    Ok(Value {
        node,
        untyped: false,
    })
}

/// The text of a scalar node, as its YAML value (`None` for a mapping or sequence).
pub fn scalar_text(n: &Node) -> Option<String> {
    match &n.kind {
        Kind::Null => Some(String::new()),
        Kind::Bool(b) => Some(b.to_string()),
        Kind::Number(x) => Some(x.to_string()),
        Kind::String(s) => Some(s.clone()),
        Kind::Seq(_) | Kind::Map(_) => None,
    }
}

/// A node of the same YAML type as `like` holding `text`, as go-yaml decodes a node whose
/// value changed but whose tag did not: `Err` when the text is not of that type.
fn retyped(like: &Kind, text: &str) -> std::result::Result<Kind, String> {
    let tag = match like {
        Kind::String(_) => return Ok(Kind::String(text.to_owned())),
        Kind::Null => "null",
        Kind::Bool(_) => "bool",
        // A float with no fraction reads as an integer here: take the wider type.
        Kind::Number(x) if x.is_f64() => "float",
        Kind::Number(_) => "int",
        Kind::Seq(_) | Kind::Map(_) => return Ok(Kind::String(text.to_owned())),
    };
    let resolved = match scalar::resolve_tagged(text, tag, Reader::Kyaml) {
        Ok(s) => s,
        Err(e) if tag == "int" => match scalar::resolve_tagged(text, "float", Reader::Kyaml) {
            Ok(Scalar::Float(f)) if f.fract() != 0.0 => return Err(e),
            Ok(s) => s,
            Err(_) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    scalar_kind(resolved)
}

/// A scalar without a tag, read as kyaml reads a plain scalar (`2.0` is a number).
fn untyped(text: &str) -> std::result::Result<Kind, String> {
    scalar_kind(scalar::resolve_plain(text, Reader::Kyaml))
}

fn scalar_kind(s: Scalar) -> std::result::Result<Kind, String> {
    let v = s
        .into_json()
        .map_err(|e| format!("json: unsupported value: {e}"))?;
    Ok(match v {
        serde_json::Value::Null => Kind::Null,
        serde_json::Value::Bool(b) => Kind::Bool(b),
        serde_json::Value::Number(n) => Kind::Number(n),
        serde_json::Value::String(s) => Kind::String(s),
        // A scalar never resolves to a container.
        other => Kind::String(other.to_string()),
    })
}

/// kustomize's `SmarterPathSplitter(path, ".")`: `.`-separated, `\.` a literal dot, and a
/// bracketed part (`[name=a.b]`) kept whole; `[a.b]` without `=` is the key `a.b`.
pub fn split_path(path: &str) -> Vec<String> {
    // PathSplitter: split on the delimiter, rejoining parts that end in `\`.
    let mut ps: Vec<&str> = path.split('.').collect();
    if ps.len() > 1 && ps[0].is_empty() {
        ps.remove(0);
    }
    let mut split: Vec<String> = Vec::new();
    for p in ps {
        match split.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(p);
            }
            _ => split.push(p.to_owned()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let elem = &split[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_owned());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// Go's `strconv.Atoi` for a path part: an optional sign and decimal digits.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn is_list_index(p: &str) -> bool {
    p.starts_with('[') && p.ends_with(']') && p.len() >= 2
}

/// `[name=value]` split at its first `=`.
fn split_index_name_value(p: &str) -> std::result::Result<(&str, &str), String> {
    let inner = p.strip_suffix(']').unwrap_or(p);
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    inner.split_once('=').ok_or_else(|| {
        "list path element must contain fieldName=fieldValue for element to match".to_owned()
    })
}

fn kind_name(n: &Node) -> &'static str {
    match n.kind {
        Kind::Seq(_) => "SequenceNode",
        Kind::Map(_) => "MappingNode",
        _ => "ScalarNode",
    }
}

/// kyaml's `PathGetter` (the source side): the node at `path`, `None` when missing.
pub fn lookup_field<'a>(
    node: &'a Node,
    path: &[String],
) -> std::result::Result<Option<&'a Node>, String> {
    let mut cur = node;
    for part in path.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let next = if let Some(i) = atoi(part) {
            if i < 0 {
                return Err(format!("array index {i} cannot be negative"));
            }
            let Some(items) = cur.as_seq() else {
                return Err(format!(
                    "wrong node kind: expected SequenceNode but got {}",
                    kind_name(cur)
                ));
            };
            usize::try_from(i).ok().and_then(|i| items.get(i))
        } else if part == "-" {
            let Some(items) = cur.as_seq() else {
                return Err(format!(
                    "wrong node kind: expected SequenceNode but got {}",
                    kind_name(cur)
                ));
            };
            items.last()
        } else if part == "*" {
            return Err("wildcard is not supported in PathGetter".to_owned());
        } else if is_list_index(part) {
            let (name, value) = split_index_name_value(part)?;
            let Some(items) = cur.as_seq() else {
                return Err(format!(
                    "wrong node kind: expected SequenceNode but got {}",
                    kind_name(cur)
                ));
            };
            if name.is_empty() {
                items
                    .iter()
                    .find(|i| scalar_text(i).is_some_and(|t| t == value))
            } else {
                items.iter().find(|i| {
                    i.get(name).is_some_and(|f| {
                        f.kind != Kind::Null
                            && (value.is_empty() || scalar_text(f).is_some_and(|t| t == value))
                    })
                })
            }
        } else {
            match &cur.kind {
                Kind::Map(m) => m.get(part),
                _ => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// What a created leaf is, as kyaml's `PathMatcher.Create` (the kind of the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Create {
    Scalar,
    Map,
    Seq,
}

impl Create {
    fn empty(self, origin: Origin) -> Node {
        let kind = match self {
            Create::Scalar => Kind::Null,
            Create::Map => Kind::Map(Map::new()),
            Create::Seq => Kind::Seq(Vec::new()),
        };
        Node::new(kind, origin)
    }
}

/// kyaml's `getPathPartKind`: what to create for a part, from the part after it.
fn part_kind(next: Option<&String>, leaf: Create) -> Create {
    match next {
        None => leaf,
        Some(n) if n.is_empty() => leaf,
        Some(n) if is_list_index(n) || atoi(n).is_some_and(|i| i >= 0) => Create::Seq,
        Some(_) => Create::Map,
    }
}

/// Walks a target path as kyaml's `PathMatcher` does, calling `set` on every node found
/// (with whether it was just created). Returns how many were found.
fn walk(
    node: &mut Node,
    path: &[String],
    create: Option<(Create, Origin)>,
    set: &mut dyn FnMut(&mut Node, bool) -> Result<()>,
    created: bool,
    at: Origin,
) -> Result<usize> {
    let Some((part, rest)) = path.split_first() else {
        set(node, created)?;
        return Ok(1);
    };
    let fail = |m: String| -> Error { Error::new(m, at) };
    if let Some(idx) = atoi(part).filter(|i| *i >= 0) {
        let Kind::Seq(items) = &mut node.kind else {
            return Err(fail(format!(
                "wrong node kind: expected SequenceNode but got {}",
                kind_name(node)
            )));
        };
        let idx = usize::try_from(idx).unwrap_or(usize::MAX);
        let mut made = false;
        if items.len() == idx
            && let Some((leaf, origin)) = create
        {
            items.push(part_kind(rest.first(), leaf).empty(origin));
            made = true;
        }
        let len = items.len();
        let Some(item) = items.get_mut(idx) else {
            return Err(fail(format!(
                "index {idx} specified but only {len} elements found"
            )));
        };
        return walk(item, rest, create, set, made, at);
    }
    if is_list_index(part) {
        let (field, pattern) = split_index_name_value(part).map_err(fail)?;
        let re = Regex::new(pattern).map_err(|e| fail(format!("error parsing regexp: {e}")))?;
        let Kind::Seq(items) = &mut node.kind else {
            return Err(fail(format!(
                "wrong node kind: expected SequenceNode but got {}",
                kind_name(node)
            )));
        };
        let matches = |item: &Node| -> bool {
            if field.is_empty() {
                scalar_text(item).is_some_and(|t| re.is_match(t.trim()))
            } else {
                item.get(field)
                    .and_then(scalar_text)
                    .is_some_and(|t| re.is_match(t.trim()))
            }
        };
        if !items.iter().any(matches)
            && let Some((_, origin)) = create
        {
            let value = Node::new(
                untyped(pattern).unwrap_or(Kind::String(pattern.to_owned())),
                origin,
            );
            let elem = if field.is_empty() {
                value
            } else {
                let mut m = Map::new();
                m.insert(field.to_owned(), value);
                Node::new(Kind::Map(m), origin)
            };
            items.push(elem);
        }
        let mut n = 0;
        for item in items.iter_mut() {
            if matches(item) {
                n += walk(item, rest, create, set, false, at)?;
            }
        }
        return Ok(n);
    }
    if part == "*" {
        let Kind::Seq(items) = &mut node.kind else {
            return Err(fail(format!(
                "wrong node kind: expected SequenceNode but got {}",
                kind_name(node)
            )));
        };
        let mut n = 0;
        for item in items.iter_mut() {
            n += walk(item, rest, create, set, false, at)?;
        }
        return Ok(n);
    }
    if node.kind == Kind::Null
        && let Some((_, at_origin)) = create
    {
        // A null on the way becomes the mapping kustomize expects there.
        node.kind = Kind::Map(Map::new());
        node.origin = at_origin;
    }
    match &mut node.kind {
        Kind::Map(m) => {
            let mut made = false;
            if !m.contains_key(part.as_str()) {
                let Some((leaf, at_origin)) = create else {
                    return Ok(0);
                };
                m.insert(part.clone(), part_kind(rest.first(), leaf).empty(at_origin));
                made = true;
            }
            match m.get_mut(part.as_str()) {
                Some(child) => walk(child, rest, create, set, made, at),
                None => Ok(0),
            }
        }
        _ => {
            if create.is_some() {
                return Err(fail(format!(
                    "wrong node kind: expected MappingNode but got {}",
                    kind_name(node)
                )));
            }
            Ok(0)
        }
    }
}

/// kustomize's `copyValueToTarget` for one selected object.
fn copy_to_target(object: &mut Node, value: &Value, target: &Target) -> Result<()> {
    for (fp, at) in &target.field_paths {
        let leaf = match value.node.kind {
            Kind::Map(_) => Create::Map,
            Kind::Seq(_) => Create::Seq,
            _ => Create::Scalar,
        };
        let create = target.options.create.then_some((leaf, *at));
        let not_found = || {
            if create.is_some() {
                format!("unable to find or create field {fp:?} in replacement target")
            } else {
                format!("unable to find field {fp:?} in replacement target")
            }
        };
        let path = split_path(fp);
        // kustomize rewrites an object's annotations from their text at the end of the
        // build: a scalar set there stays the text it was given (`"007"`, not 7).
        let annotation = path.len() == 3 && path[0] == "metadata" && path[1] == "annotations";
        let mut set = |node: &mut Node, created: bool| -> Result<()> {
            set_field(node, value, &target.options, created, annotation)
                .map_err(|e| Error::new(e, *at))
        };
        let found = walk(object, &path, create, &mut set, false, *at)
            .map_err(|e| Error::new(format!("{}: {}", not_found(), e.message), e.origin))?;
        if found == 0 {
            return Err(Error::new(not_found(), *at));
        }
    }
    Ok(())
}

/// kustomize's `setFieldValue`: a scalar target takes the value's text and keeps its
/// type (a created one has none); any other target becomes the value.
fn set_field(
    target: &mut Node,
    value: &Value,
    options: &FieldOptions,
    created: bool,
    annotation: bool,
) -> std::result::Result<(), String> {
    let target_is_scalar = !target.is_container();
    let mut text = scalar_text(&value.node);
    if !options.delimiter.is_empty() {
        if !target_is_scalar {
            return Err("delimiter option can only be used with scalar nodes".to_owned());
        }
        let current = if created {
            String::new()
        } else {
            scalar_text(target).unwrap_or_default()
        };
        let mut parts: Vec<String> = current
            .split(options.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        let v = text.clone().unwrap_or_default();
        match usize::try_from(options.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        text = Some(parts.join(options.delimiter.as_str()));
    }
    if target_is_scalar {
        let text = text.unwrap_or_default();
        let kind = if annotation {
            Kind::String(text)
        } else if created {
            untyped(&text)?
        } else {
            retyped(&target.kind, &text).map_err(|e| format!("yaml: {e}"))?
        };
        target.kind = kind;
        target.origin = value.node.origin;
        return Ok(());
    }
    let mut node = value.node.clone();
    if value.untyped
        && let Some(t) = scalar_text(&node)
    {
        node.kind = untyped(&t)?;
    }
    *target = node;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::node::Span;

    use crate::render::node::testing::{doc, text_at};

    const OBJECTS: &str = "\
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: src
  data:
    tag: app:2.5
    port: \"8080\"
    map:
      a: b
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    labels:
      app: web
  spec:
    replicas: 1
    template:
      spec:
        containers:
        - name: app
          image: nginx:1
        - name: apple
          image: nginx:1
";

    fn objects() -> (Vec<Resource>, &'static str) {
        let list = doc(OBJECTS, 1);
        let items = list.as_seq().unwrap().to_vec();
        (items.into_iter().map(Resource::new).collect(), OBJECTS)
    }

    fn replacements(k: &str) -> Vec<Replacement> {
        let node = doc(k, 2);
        load(node.get("replacements").unwrap(), &mut |_, at| {
            Err(Error::new("no files here", at))
        })
        .unwrap()
    }

    #[test]
    fn a_copied_value_carries_the_origin_of_its_source() {
        let (mut acc, text) = objects();
        let k = "\
replacements:
- source:
    kind: ConfigMap
    fieldPath: data.port
  targets:
  - select:
      kind: Deployment
    fieldPaths:
    - spec.template.metadata.annotations.port
    - spec.template.spec.containers.[name=app].image
    - metadata.annotations.port
    options:
      create: true
";
        let r = replacements(k);
        apply(&mut acc, &r).unwrap();
        let d = &acc[1].node;
        let port = d
            .pointer("/spec/template/metadata/annotations/port")
            .unwrap();
        // Created: no string tag, read again as YAML.
        assert_eq!(port.kind, Kind::Number(8080.into()));
        assert_eq!(port.origin.file, 1);
        assert_eq!(text_at(text, port.origin), "\"8080\"");
        // The object's own annotations keep the text (kustomize rewrites them from it).
        let own = d.pointer("/metadata/annotations/port").unwrap();
        assert_eq!(own.kind, Kind::String("8080".into()));
        // The mappings created on the way point at the fieldPaths entry.
        let created = d.pointer("/spec/template/metadata").unwrap();
        assert_eq!(created.origin.file, 2);
        assert_eq!(
            text_at(k, created.origin),
            "spec.template.metadata.annotations.port"
        );
        // `[name=app]` is an unanchored regular expression: `apple` matches too; both
        // were strings and stay strings.
        for i in 0..2 {
            let image = d
                .pointer(&format!("/spec/template/spec/containers/{i}/image"))
                .unwrap();
            assert_eq!(image.kind, Kind::String("8080".into()));
            assert_eq!(text_at(text, image.origin), "\"8080\"");
        }
    }

    #[test]
    fn source_options_pick_a_part_and_target_options_replace_one() {
        let (mut acc, _) = objects();
        let r = replacements(
            "\
replacements:
- source:
    kind: ConfigMap
    fieldPath: data.tag
    options: {delimiter: ':', index: 1}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.template.spec.containers.0.image]
    options: {delimiter: ':', index: 1}
  - select: {kind: Deployment}
    fieldPaths: [spec.replicas]
",
        );
        // `2.5` into an integer field: go-yaml refuses a float for an !!int.
        let err = apply(&mut acc, &r).unwrap_err();
        assert!(err.message.contains("as a !!int"), "{}", err.message);
        assert_eq!(
            acc[1]
                .node
                .pointer("/spec/template/spec/containers/0/image")
                .unwrap()
                .kind,
            Kind::String("nginx:2.5".into())
        );
    }

    #[test]
    fn a_whole_mapping_is_copied_and_errors_name_the_selector() {
        let (mut acc, text) = objects();
        let r = replacements(
            "\
replacements:
- source: {kind: ConfigMap, fieldPath: data.map}
  targets:
  - select: {name: web}
    fieldPaths: [metadata.labels]
",
        );
        apply(&mut acc, &r).unwrap();
        let labels = acc[1].node.pointer("/metadata/labels").unwrap();
        assert_eq!(labels.to_value(), serde_json::json!({"a": "b"}));
        let a = labels.get("a").unwrap();
        assert_eq!(text_at(text, a.origin), "b");

        let r = replacements(
            "\
replacements:
- source: {kind: Secret, name: x}
  targets:
  - select: {kind: Deployment}
",
        );
        let err = apply(&mut acc, &r).unwrap_err();
        assert_eq!(
            err.message,
            "nothing selected by Secret.[noVer].[noGrp]/x.[noNs]"
        );
        assert_eq!(err.origin.file, 2);
        let r = replacements(
            "\
replacements:
- source: {version: v1}
  targets:
  - select: {kind: Deployment}
",
        );
        let err = apply(&mut acc, &r).unwrap_err();
        assert!(err.message.starts_with("multiple matches for selector"));
    }

    #[test]
    fn reject_label_selectors_and_source_value() {
        let (mut acc, _) = objects();
        let k = "\
replacements:
- sourceValue: \"3\"
  targets:
  - select: {labelSelector: app=web}
    fieldPaths: [spec.replicas]
  - select: {kind: Deployment}
    reject: [{labelSelector: app=web}]
    fieldPaths: [metadata.name]
";
        apply(&mut acc, &replacements(k)).unwrap();
        let replicas = acc[1].node.pointer("/spec/replicas").unwrap();
        assert_eq!(replicas.kind, Kind::Number(3.into()));
        assert_eq!(text_at(k, replicas.origin), "\"3\"");
        assert_eq!(acc[1].name(), "web");
    }

    #[test]
    fn malformed_entries_are_errors_at_their_node() {
        for (k, want) in [
            (
                "replacements:\n- targets: []\n",
                "replacements must specify a source and at least one target",
            ),
            (
                "replacements:\n- source: {kind: A}\n  sourceValue: x\n  targets: []\n",
                "value and resource selectors are mutually exclusive",
            ),
            (
                "replacements:\n- source: {kind: A}\n  targets:\n  - fieldPaths: [a]\n",
                "target must specify resources to select",
            ),
            (
                "replacements:\n- source: {kind: A, bogus: 1}\n  targets: []\n",
                "unknown field \"bogus\"",
            ),
            (
                "replacements:\n- source: {kind: A, options: {index: x}}\n  targets: []\n",
                "must be an integer",
            ),
            ("replacements:\n- 3\n", "must be a mapping"),
            (
                "replacements:\n- path: r.yaml\n  source: {kind: A}\n",
                "cannot specify both path and inline replacement",
            ),
        ] {
            let node = doc(k, 2);
            let err = load(node.get("replacements").unwrap(), &mut |_, at| {
                Err(Error::new("no files here", at))
            })
            .unwrap_err();
            assert!(err.message.contains(want), "{k}: {}", err.message);
            assert_eq!(err.origin.file, 2);
        }
        // Field names match as Go's encoding/json matches them: ignoring case.
        let node = doc(
            "replacements:\n- Source: {Kind: A, FIELDPATH: data.x}\n  targets: []\n",
            2,
        );
        let r = load(node.get("replacements").unwrap(), &mut |_, at| {
            Err(Error::new("none", at))
        })
        .unwrap();
        match &r[0].source {
            Source::Object {
                selector,
                field_path,
                ..
            } => {
                assert_eq!(selector.kind, "A");
                assert_eq!(field_path, "data.x");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_split_as_kustomize_splits_them() {
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split_path("metadata.annotations.[a.io/b.c]"),
            ["metadata", "annotations", "a.io/b.c"]
        );
        assert_eq!(
            split_path(r"metadata.labels.a\.b"),
            ["metadata", "labels", "a.b"]
        );
        let o = Origin::new(0, Span::default());
        let n = Node::from_value(
            &serde_json::json!({"a": [{"n": "x", "v": 1}, {"n": "y"}]}),
            o,
        );
        let found = lookup_field(&n, &split_path("a.[n=x].v")).unwrap().unwrap();
        assert_eq!(found.kind, Kind::Number(1.into()));
        assert!(lookup_field(&n, &split_path("a.-.n")).unwrap().is_some());
        assert!(lookup_field(&n, &split_path("a.*")).is_err());
        assert!(lookup_field(&n, &split_path("a.5")).unwrap().is_none());
    }
}
