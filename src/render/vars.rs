//! kustomize's legacy `vars` (kustomize v5.7.1: `api/types/var.go`,
//! `api/internal/accumulator/resaccumulator.go` `MergeVars`/`ResolveVars`,
//! `api/filters/refvar/`): `$(NAME)` in a fixed set of fields is replaced by a field of a
//! named object, read at the very end of the build.
//!
//! - Each kustomization's `vars` are bound, after its transformers ran, to the one object
//!   of its accumulation whose current or any previous id matches `objref` (by group,
//!   version, kind and name; by namespace too when `objref` gives one). Vars join one set
//!   over the whole tree: a name declared twice is an error.
//! - At the root, after name references are fixed and before local-config objects are
//!   dropped, each var's `fieldref.fieldpath` (default `metadata.name`) is read from the
//!   object it is bound to (an unbound var is an error) and `$(NAME)` is replaced in the
//!   var reference fields ([`VAR_REFERENCE`]): string scalars, the string values of a
//!   mapping, the items of a sequence (which must all be strings). A string that is
//!   exactly `$(NAME)` takes the value's type; `$$` is a literal `$`; an unknown
//!   `$(OTHER)` stays as it is.
//!
//! kustomize remembers a var on the object itself; kubegate identifies the object by the
//! ids it had when the var was bound (its history of renames only grows) and the origin
//! of its document.
//!
//! Provenance: a string in which a var was substituted takes the origin of the var's value
//! (the field the var reads), where the author changes what it becomes.

use super::node::{Kind, Node, Origin};
use super::replace::{lookup_field, split_path};
use super::resource::{Gvk, Resource};
use super::{Error, Result};

/// kustomize's default var reference field specs, `(kind, path)`, transcribed from
/// `api/internal/konfig/builtinpluginconsts/varreference.go` at tag `kustomize/v5.7.1`
/// (including its CronJob `spec/jobTemplate/spec/template/volumes/nfs/server`, which lacks
/// a `spec`). An empty kind applies to every object.
pub const VAR_REFERENCE: &[(&str, &str)] = &[
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/volumes/nfs/server",
    ),
    ("DaemonSet", "spec/template/spec/containers/args"),
    ("DaemonSet", "spec/template/spec/containers/command"),
    ("DaemonSet", "spec/template/spec/containers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/initContainers/args"),
    ("DaemonSet", "spec/template/spec/initContainers/command"),
    ("DaemonSet", "spec/template/spec/initContainers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/spec/containers/args"),
    ("Deployment", "spec/template/spec/containers/command"),
    ("Deployment", "spec/template/spec/containers/env/value"),
    (
        "Deployment",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/initContainers/args"),
    ("Deployment", "spec/template/spec/initContainers/command"),
    ("Deployment", "spec/template/spec/initContainers/env/value"),
    (
        "Deployment",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/metadata/annotations"),
    ("Ingress", "spec/rules/host"),
    ("Ingress", "spec/tls/hosts"),
    ("Ingress", "spec/tls/secretName"),
    ("Job", "spec/template/spec/containers/args"),
    ("Job", "spec/template/spec/containers/command"),
    ("Job", "spec/template/spec/containers/env/value"),
    (
        "Job",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/initContainers/args"),
    ("Job", "spec/template/spec/initContainers/command"),
    ("Job", "spec/template/spec/initContainers/env/value"),
    (
        "Job",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/volumes/nfs/server"),
    ("Pod", "spec/containers/args"),
    ("Pod", "spec/containers/command"),
    ("Pod", "spec/containers/env/value"),
    ("Pod", "spec/containers/volumeMounts/mountPath"),
    ("Pod", "spec/initContainers/args"),
    ("Pod", "spec/initContainers/command"),
    ("Pod", "spec/initContainers/env/value"),
    ("Pod", "spec/initContainers/volumeMounts/mountPath"),
    ("Pod", "spec/volumes/nfs/server"),
    ("ReplicaSet", "spec/template/spec/containers/args"),
    ("ReplicaSet", "spec/template/spec/containers/command"),
    ("ReplicaSet", "spec/template/spec/containers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/initContainers/args"),
    ("ReplicaSet", "spec/template/spec/initContainers/command"),
    ("ReplicaSet", "spec/template/spec/initContainers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/volumes/nfs/server"),
    ("Service", "spec/ports/port"),
    ("Service", "spec/ports/targetPort"),
    ("StatefulSet", "spec/template/spec/containers/args"),
    ("StatefulSet", "spec/template/spec/containers/command"),
    ("StatefulSet", "spec/template/spec/containers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/template/spec/initContainers/args"),
    ("StatefulSet", "spec/template/spec/initContainers/command"),
    ("StatefulSet", "spec/template/spec/initContainers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
    ("PersistentVolume", "spec/nfs/server"),
    ("", "metadata/labels"),
    ("", "metadata/annotations"),
];

/// kubectl's warning for a kustomization that declares vars.
pub const DEPRECATED: &str = "'vars' is deprecated. Please use 'replacements' instead. \
                              [EXPERIMENTAL] Run 'kustomize edit fix' to update your \
                              Kustomization automatically.";

/// An id as it is compared along an object's history: GVK, name, effective namespace.
type HistId = (Gvk, String, String);

/// The object a var was bound to: the ids it had then, and the origin of its document.
#[derive(Debug, Clone)]
struct Binding {
    history: Vec<HistId>,
    origin: Origin,
}

/// One var.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    name_origin: Origin,
    objref_origin: Origin,
    fieldref_origin: Origin,
    /// `objref` as written (`group`/`version`/`kind` fields, `apiVersion` apart).
    written: Gvk,
    api_version: String,
    object_name: String,
    object_namespace: String,
    field_path: String,
    bound: Option<Binding>,
}

impl Var {
    /// kustomize's `Target.GVK()`: `apiVersion`, when given, sets group and version.
    fn gvk(&self) -> Gvk {
        let mut g = self.written.clone();
        if !self.api_version.is_empty() {
            let parts: Vec<&str> = self.api_version.split('/').collect();
            match parts.as_slice() {
                [group, version] => {
                    g.group = (*group).to_owned();
                    g.version = (*version).to_owned();
                }
                [version] => g.version = (*version).to_owned(),
                _ => {}
            }
        }
        g
    }

    fn field_path(&self) -> &str {
        if self.field_path.is_empty() {
            super::replace::DEFAULT_FIELD_PATH
        } else {
            &self.field_path
        }
    }

    /// As kustomize prints a `Var` (`%v`) once defaulted:
    /// `{NAME Kind.version.group {fieldpath}}`.
    fn show(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            self.gvk().id_string(),
            self.field_path()
        )
    }

    /// As kustomize prints a `Var` as written (before defaulting).
    fn show_written(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            self.written.id_string(),
            self.field_path
        )
    }

    /// Whether an object's id (current, or previous with `previous`) is the one `objref`
    /// names (kustomize's `GvknEquals`, or `Equals` when `objref` has a namespace).
    fn names(&self, gvk: &Gvk, name: &str, effective_ns: &str) -> bool {
        let own = self.gvk();
        own == *gvk
            && self.object_name == name
            && (self.object_namespace.is_empty() || self.object_namespace == effective_ns)
    }
}

/// The vars of a build: one set over the whole tree of kustomizations.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    vars: Vec<Var>,
}

/// An object's ids oldest first, current last, with effective namespaces.
fn history(r: &Resource) -> Vec<HistId> {
    let mut out: Vec<HistId> = r
        .previous_ids()
        .iter()
        .map(|id| (id.gvk.clone(), id.name.clone(), id.namespace.clone()))
        .collect();
    let id = r.id();
    let ns = id.effective_namespace().to_owned();
    out.push((id.gvk, id.name, ns));
    out
}

impl Vars {
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// kustomize's `MergeVars`: binds a kustomization's `vars` to the objects of its
    /// accumulation `acc` and adds them to the set.
    pub fn merge(&mut self, field: &Node, acc: &[Resource]) -> Result<()> {
        let Some(entries) = field.as_seq() else {
            return Err(Error::new(
                "invalid kustomization: `vars` must be a list",
                field.origin,
            ));
        };
        let mut incoming = Vec::new();
        for entry in entries {
            incoming.push(read_var(entry)?);
        }
        for v in &mut incoming {
            let matched: Vec<&Resource> = acc
                .iter()
                .filter(|r| {
                    let id = r.id();
                    r.previous_ids()
                        .iter()
                        .any(|p| v.names(&p.gvk, &p.name, &p.namespace))
                        || v.names(&id.gvk, &id.name, id.effective_namespace())
                })
                .collect();
            match matched.as_slice() {
                [] => {}
                [r] => {
                    v.bound = Some(Binding {
                        history: history(r),
                        origin: r.node.origin,
                    });
                }
                many => {
                    return Err(Error::new(
                        format!(
                            "found {} resId matches for var {} (unable to disambiguate)",
                            many.len(),
                            v.show()
                        ),
                        v.objref_origin,
                    ));
                }
            }
        }
        let shown = incoming
            .iter()
            .map(Var::show_written)
            .collect::<Vec<_>>()
            .join(" ");
        for v in incoming {
            if self.vars.iter().any(|o| o.name == v.name) {
                return Err(Error::new(
                    format!(
                        "merging vars [{shown}]: var '{}' already encountered",
                        v.name
                    ),
                    v.name_origin,
                ));
            }
            self.vars.push(v);
        }
        Ok(())
    }

    /// The index of the object a var is bound to, among the root's objects.
    fn find(&self, v: &Var, resources: &[Resource]) -> Option<usize> {
        let b = v.bound.as_ref()?;
        let hist: Vec<Vec<HistId>> = resources.iter().map(history).collect();
        let grown = |h: &Vec<HistId>| h.starts_with(&b.history);
        // Renamed without a record (a replacement on `metadata.name`): the ids before.
        let before = &b.history[..b.history.len().saturating_sub(1)];
        let classes: [&dyn Fn(usize) -> bool; 3] = [
            &|i| grown(&hist[i]) && resources[i].node.origin == b.origin,
            &|i| grown(&hist[i]),
            &|i| resources[i].node.origin == b.origin && hist[i].starts_with(before),
        ];
        classes
            .iter()
            .find_map(|c| (0..resources.len()).find(|&i| c(i)))
    }

    /// kustomize's `ResolveVars`: each var's value read from its object, then `$(NAME)`
    /// replaced in the var reference fields of every object (`var_reference`: the root's
    /// configuration's, [`VAR_REFERENCE`] and any `configurations` of the tree).
    pub fn resolve(
        &self,
        resources: &mut [Resource],
        var_reference: &[super::fieldpath::OwnedSpec],
    ) -> Result<()> {
        if self.vars.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<&Var> = self.vars.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut values: Vec<(String, VarValue, Origin)> = Vec::new();
        for v in sorted {
            let Some(i) = self.find(v, resources) else {
                return Err(Error::new(
                    format!(
                        "var '{}' cannot be mapped to a field in the set of known resources",
                        v.show()
                    ),
                    v.objref_origin,
                ));
            };
            let path = convert_slice_index(split_path(v.field_path()));
            let node = match lookup_field(&resources[i].node, &path) {
                Ok(Some(n)) => n,
                _ => {
                    return Err(Error::new(
                        format!(
                            "field specified in var '{}' not found in corresponding resource",
                            v.show()
                        ),
                        v.fieldref_origin,
                    ));
                }
            };
            values.push((v.name.clone(), VarValue::of(node), node.origin));
        }
        let lookup = |name: &str| -> Option<(&VarValue, Origin)> {
            values
                .iter()
                .find(|(n, _, _)| n == name)
                .filter(|(_, v, _)| !matches!(v, VarValue::Other))
                .map(|(_, v, o)| (v, *o))
        };
        for r in resources.iter_mut() {
            let gvk = r.gvk();
            let id = r.id();
            for spec in var_reference.iter().filter(|s| s.selects(&gvk)) {
                let path = &spec.path;
                let segments = super::fieldpath::segments(path);
                walk(&mut r.node, &segments, &lookup).map_err(|e| {
                    Error::new(
                        format!(
                            "considering field '{path}' of object {}: {}",
                            id.show(),
                            e.message
                        ),
                        e.origin,
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// A var's value as kustomize's `GetFieldValue` gives it.
#[derive(Debug, Clone, PartialEq)]
enum VarValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A mapping or sequence: not substituted.
    Other,
}

impl VarValue {
    fn of(n: &Node) -> Self {
        match &n.kind {
            Kind::String(s) => VarValue::Str(s.clone()),
            Kind::Number(x) => match x.as_i64() {
                Some(i) => VarValue::Int(i),
                None => VarValue::Float(x.as_f64().unwrap_or(0.0)),
            },
            Kind::Bool(b) => VarValue::Bool(*b),
            Kind::Null => VarValue::Str(String::new()),
            Kind::Map(_) | Kind::Seq(_) => VarValue::Other,
        }
    }

    /// Go's `%v`.
    fn text(&self) -> String {
        match self {
            VarValue::Str(s) => s.clone(),
            VarValue::Int(i) => i.to_string(),
            VarValue::Float(f) => go_format_g(*f),
            VarValue::Bool(b) => b.to_string(),
            VarValue::Other => String::new(),
        }
    }

    /// kustomize's `updateNodeValue` for a string that was exactly `$(NAME)`.
    fn kind(&self) -> Kind {
        match self {
            VarValue::Str(s) => Kind::String(s.clone()),
            VarValue::Int(i) => Kind::Number((*i).into()),
            VarValue::Float(f) => match crate::parse::scalar::Scalar::Float(*f).into_json() {
                Ok(serde_json::Value::Number(n)) => Kind::Number(n),
                _ => Kind::String(self.text()),
            },
            VarValue::Bool(b) => Kind::Bool(*b),
            VarValue::Other => Kind::Null,
        }
    }
}

/// Go's `%v` of a float64: `strconv.FormatFloat(f, 'g', -1, 64)` with an exponent from
/// 1e6 (or below 1e-4).
fn go_format_g(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// kyaml's `convertSliceIndex`: `ports[0]` is `ports`, `0`.
fn convert_slice_index(parts: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in parts {
        if let Some(open) = p.rfind('[')
            && p.ends_with(']')
            && p.len() > open + 2
            && p[open + 1..p.len() - 1].bytes().all(|b| b.is_ascii_digit())
        {
            if open > 0 {
                out.push(p[..open].to_owned());
            }
            out.push(p[open + 1..p.len() - 1].to_owned());
            continue;
        }
        out.push(p);
    }
    out
}

type Lookup<'a> = dyn Fn(&str) -> Option<(&'a VarValue, Origin)> + 'a;

/// kustomize's field spec filter (`api/filters/fieldspec`) without creation: the path
/// applies to every item of a sequence on the way; a scalar on the way is an error.
fn walk(node: &mut Node, path: &[(String, bool)], lookup: &Lookup<'_>) -> Result<()> {
    let Some(((name, _), rest)) = path.split_first() else {
        return set(node, lookup);
    };
    match &mut node.kind {
        Kind::Null => Ok(()),
        Kind::Seq(items) => {
            for item in items {
                walk(item, path, lookup)?;
            }
            Ok(())
        }
        Kind::Map(m) => match m.get_mut(name.as_str()) {
            Some(child) => walk(child, rest, lookup),
            None => Ok(()),
        },
        _ => Err(Error::new("expected sequence or mapping node", node.origin)),
    }
}

/// kustomize's refvar `set`: strings of a scalar, a mapping's values, a sequence's items.
fn set(node: &mut Node, lookup: &Lookup<'_>) -> Result<()> {
    match &mut node.kind {
        Kind::String(_) => substitute(node, lookup),
        Kind::Map(m) => {
            for (_, v) in m.iter_mut() {
                if matches!(v.kind, Kind::String(_)) {
                    substitute(v, lookup);
                }
            }
        }
        Kind::Seq(items) => {
            for item in items {
                if !matches!(item.kind, Kind::String(_)) {
                    return Err(Error::new(
                        "invalid value type expect a string",
                        item.origin,
                    ));
                }
                substitute(item, lookup);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces the vars in a string node, giving it the origin of the first var's value.
fn substitute(node: &mut Node, lookup: &Lookup<'_>) {
    let Kind::String(s) = &node.kind else {
        return;
    };
    let (result, origin) = expand(s, lookup);
    node.kind = result;
    if let Some(o) = origin {
        node.origin = o;
    }
}

/// kustomize's `DoReplacements`: the expanded string (or, for exactly `$(NAME)`, the
/// value with its type) and the origin of the first var substituted.
fn expand(input: &str, lookup: &Lookup<'_>) -> (Kind, Option<Origin>) {
    let bytes = input.as_bytes();
    let mut buf = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    let mut first: Option<Origin> = None;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            buf.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let (read, is_var, advance) = try_read_variable_name(rest);
            if is_var {
                match lookup(&read) {
                    Some((value, origin)) => {
                        first.get_or_insert(origin);
                        if input.len() == read.len() + 3 {
                            return (value.kind(), first);
                        }
                        buf.push_str(&value.text());
                    }
                    None => {
                        buf.push_str("$(");
                        buf.push_str(&read);
                        buf.push(')');
                    }
                }
            } else {
                buf.push_str(&read);
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        buf.push_str(&input[checkpoint..]);
    }
    (Kind::String(buf), first)
}

/// kustomize's `tryReadVariableName` on the text after a `$`: what was read, whether it is
/// a var name, and the bytes consumed. (Go reads one byte after a lone `$`; a whole
/// character is read here, so text stays UTF-8.)
fn try_read_variable_name(input: &str) -> (String, bool, usize) {
    match input.as_bytes().first() {
        Some(b'$') => ("$".to_owned(), false, 1),
        Some(b'(') => match input[1..].find(')') {
            Some(i) => (input[1..1 + i].to_owned(), true, i + 2),
            None => ("$(".to_owned(), false, 1),
        },
        _ => {
            let c = input.chars().next();
            let len = c.map_or(1, char::len_utf8);
            (
                format!("${}", c.map(String::from).unwrap_or_default()),
                false,
                len,
            )
        }
    }
}

/// One `vars` entry, read as kustomize's strict decoder reads it.
fn read_var(entry: &Node) -> Result<Var> {
    let Some(map) = entry.as_map() else {
        return Err(Error::new(
            "invalid kustomization: each `vars` entry must be a mapping",
            entry.origin,
        ));
    };
    let field = |allowed: &[&'static str], key: &str| -> Option<&'static str> {
        allowed
            .iter()
            .find(|a| **a == key)
            .or_else(|| allowed.iter().find(|a| a.eq_ignore_ascii_case(key)))
            .copied()
    };
    let string = |n: &Node, what: &str| -> Result<String> {
        match &n.kind {
            Kind::Null => Ok(String::new()),
            Kind::String(s) => Ok(s.clone()),
            other => Err(Error::new(
                format!(
                    "invalid kustomization: `vars[].{what}` must be a string, not {}",
                    super::kustomization::describe(other)
                ),
                n.origin,
            )),
        }
    };
    let unknown = |key: &str, n: &Node, what: &str| {
        Error::at_key(
            format!("invalid kustomization: json: unknown field \"{key}\" in `{what}`"),
            n.origin,
        )
    };
    let mut v = Var {
        name: String::new(),
        name_origin: entry.origin,
        objref_origin: entry.origin,
        fieldref_origin: entry.origin,
        written: Gvk::default(),
        api_version: String::new(),
        object_name: String::new(),
        object_namespace: String::new(),
        field_path: String::new(),
        bound: None,
    };
    for (key, value) in map {
        match field(&["name", "objref", "fieldref"], key) {
            Some("name") => {
                v.name = string(value, "name")?;
                v.name_origin = value.origin;
            }
            Some("objref") => {
                v.objref_origin = value.origin;
                let Some(m) = value.as_map() else {
                    if value.kind == Kind::Null {
                        continue;
                    }
                    return Err(Error::new(
                        "invalid kustomization: `vars[].objref` must be a mapping",
                        value.origin,
                    ));
                };
                for (k, n) in m {
                    let allowed = [
                        "apiVersion",
                        "group",
                        "version",
                        "kind",
                        "name",
                        "namespace",
                    ];
                    match field(&allowed, k) {
                        Some("apiVersion") => v.api_version = string(n, "objref.apiVersion")?,
                        Some("group") => v.written.group = string(n, "objref.group")?,
                        Some("version") => v.written.version = string(n, "objref.version")?,
                        Some("kind") => v.written.kind = string(n, "objref.kind")?,
                        Some("name") => v.object_name = string(n, "objref.name")?,
                        Some("namespace") => v.object_namespace = string(n, "objref.namespace")?,
                        _ => return Err(unknown(k, n, "vars[].objref")),
                    }
                }
            }
            Some("fieldref") => {
                v.fieldref_origin = value.origin;
                let Some(m) = value.as_map() else {
                    if value.kind == Kind::Null {
                        continue;
                    }
                    return Err(Error::new(
                        "invalid kustomization: `vars[].fieldref` must be a mapping",
                        value.origin,
                    ));
                };
                for (k, n) in m {
                    match field(&["fieldPath"], k) {
                        Some(_) => {
                            v.field_path = string(n, "fieldref.fieldPath")?;
                            v.fieldref_origin = n.origin;
                        }
                        None => return Err(unknown(k, n, "vars[].fieldref")),
                    }
                }
            }
            _ => return Err(unknown(key, value, "vars")),
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::render::node::testing::{doc, text_at};

    const OBJECTS: &str = "\
- apiVersion: v1
  kind: Service
  metadata:
    name: db
  spec:
    ports:
    - port: 5432
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app
  spec:
    template:
      spec:
        containers:
        - name: app
          args: [\"--db=$(DB):$(PORT)\", \"$(PORT)\", \"$$(DB)\", \"$(NOPE)\", \"$\", \"$x€\"]
          env:
          - name: $(DB)
            value: $(DB)
";

    fn setup() -> (Vec<Resource>, Vars, &'static str) {
        let list = doc(OBJECTS, 1);
        let acc: Vec<Resource> = list
            .as_seq()
            .unwrap()
            .iter()
            .cloned()
            .map(Resource::new)
            .collect();
        let k = "\
vars:
- name: DB
  objref: {apiVersion: v1, kind: Service, name: db}
- name: PORT
  objref: {apiVersion: v1, kind: Service, name: db}
  fieldref: {fieldpath: 'spec.ports[0].port'}
";
        let mut vars = Vars::default();
        vars.merge(doc(k, 2).get("vars").unwrap(), &acc).unwrap();
        (acc, vars, k)
    }

    #[test]
    fn vars_are_substituted_with_the_origin_of_their_value() {
        let (mut acc, vars, _) = setup();
        // The Service is renamed after the var was bound: the var follows it.
        acc[0].store_previous_id();
        let o = acc[0].node.origin;
        acc[0].set_name("prod-db".into(), o);
        vars.resolve(
            &mut acc,
            &crate::render::config::TransformerConfig::defaults().var_reference,
        )
        .unwrap();
        let c = acc[1]
            .node
            .pointer("/spec/template/spec/containers/0")
            .unwrap();
        let args: Vec<serde_json::Value> = c
            .get("args")
            .unwrap()
            .to_value()
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            args,
            serde_json::json!(["--db=prod-db:5432", 5432, "$(DB)", "$(NOPE)", "$", "$x€"])
                .as_array()
                .unwrap()
                .clone()
        );
        let arg0 = c.pointer("/args/0").unwrap();
        assert_eq!(
            arg0.origin,
            acc[0].node.pointer("/metadata/name").unwrap().origin
        );
        let port = c.pointer("/args/1").unwrap();
        assert_eq!(text_at(OBJECTS, port.origin), "5432");
        // Env names are not var reference fields.
        assert_eq!(c.pointer("/env/0/name").unwrap().as_str(), Some("$(DB)"));
        assert_eq!(c.pointer("/env/0/value").unwrap().as_str(), Some("prod-db"));
    }

    #[test]
    fn duplicate_and_unbound_vars_are_errors_at_their_entry() {
        let (acc, mut vars, _) = setup();
        let k = "vars:\n- name: DB\n  objref: {kind: ConfigMap, name: x}\n";
        let err = vars
            .merge(doc(k, 3).get("vars").unwrap(), &acc)
            .unwrap_err();
        assert_eq!(
            err.message,
            "merging vars [{DB ConfigMap.[noVer].[noGrp] {}}]: var 'DB' already encountered"
        );
        assert_eq!(text_at(k, err.origin), "DB");
        let k = "vars:\n- name: X\n  objref: {apiVersion: v1, kind: Secret, name: nothere}\n";
        let mut vars = Vars::default();
        vars.merge(doc(k, 3).get("vars").unwrap(), &acc).unwrap();
        let mut acc = acc;
        let err = vars
            .resolve(
                &mut acc,
                &crate::render::config::TransformerConfig::defaults().var_reference,
            )
            .unwrap_err();
        assert_eq!(
            err.message,
            "var '{X Secret.v1.[noGrp] {metadata.name}}' cannot be mapped to a field in the \
             set of known resources"
        );
        assert_eq!(err.origin.file, 3);
        let k = "vars:\n- name: X\n  objref: {kind: Service}\n  bogus: 1\n";
        assert!(
            Vars::default()
                .merge(doc(k, 3).get("vars").unwrap(), &acc)
                .is_err()
        );
        let k = "vars:\n- name: X\n  objref: {apiVersion: v1, kind: Service, name: db}\n  fieldref: {fieldPath: spec.nothere}\n";
        let mut vars = Vars::default();
        vars.merge(doc(k, 3).get("vars").unwrap(), &acc).unwrap();
        let err = vars
            .resolve(
                &mut acc,
                &crate::render::config::TransformerConfig::defaults().var_reference,
            )
            .unwrap_err();
        assert!(err.message.contains("not found in corresponding resource"));
        assert_eq!(text_at(k, err.origin), "spec.nothere");
    }

    #[test]
    fn non_string_items_of_a_var_reference_sequence_are_an_error() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    args: [1]\n";
        let mut acc = vec![Resource::new(doc(text, 1))];
        let k = "vars:\n- name: X\n  objref: {apiVersion: v1, kind: Pod, name: p}\n";
        let mut vars = Vars::default();
        vars.merge(doc(k, 2).get("vars").unwrap(), &acc).unwrap();
        let err = vars
            .resolve(
                &mut acc,
                &crate::render::config::TransformerConfig::defaults().var_reference,
            )
            .unwrap_err();
        assert!(err.message.ends_with("invalid value type expect a string"));
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_format_g(1.5), "1.5");
        assert_eq!(go_format_g(1234567.5), "1.2345675e+06");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(
            convert_slice_index(vec!["ports[0]".into(), "port".into()]),
            ["ports", "0", "port"]
        );
    }
}
