//! A generator entry and `generatorOptions` read from their nodes as kustomize decodes them.
//!
//! kustomize reads `kustomization.yaml` with `sigs.k8s.io/yaml` (YAML to JSON, keys sorted)
//! and a JSON decoder that refuses unknown fields (KZ:`api/types/kustomization.go`
//! `Unmarshal`). So, as there:
//!
//! - field names match case-insensitively (`Literals:` is `literals`), and of two keys that
//!   both match, the one sorting last wins (it is decoded last);
//! - a field kustomize does not know is an error;
//! - `null` is the zero value (`name: ~` is no name, `labels: {a: ~}` is `a: ""`), and a
//!   number or boolean where a string is expected is an error (no coercion).
//!
//! kustomize then hands the generator its arguments as YAML (KZ:`configureBuiltinPlugin`:
//! `sigs.k8s.io/yaml` marshals them to JSON, which go-yaml v2 reads back as YAML). Go's JSON
//! leaves U+0085 (NEL) raw, and in YAML 1.1 a raw NEL is a line break, folded: see
//! [`fold_nel`]. Every string here is folded so (keys of labels and annotations too).

use crate::render::node::{Kind, Map, Node, Origin};

use super::{GenerateError, GeneratorKind};

/// A string field with the node it came from (`None` when absent or null).
#[derive(Debug, Clone, Default)]
pub(super) struct Text<'a> {
    pub value: String,
    pub node: Option<&'a Node>,
}

/// A `map[string]string` of labels or annotations: each value with its node.
pub(super) type StringMap<'a> = Vec<(String, String, &'a Node)>;

/// `GeneratorOptions` (KZ:`api/types/generatoroptions.go`).
#[derive(Debug, Default)]
pub(super) struct Options<'a> {
    pub labels: Option<(StringMap<'a>, &'a Node)>,
    pub annotations: Option<(StringMap<'a>, &'a Node)>,
    /// `disableNameSuffixHash: true`, with its node.
    pub disable_hash: Option<&'a Node>,
    /// `immutable: true`, with its node.
    pub immutable: Option<&'a Node>,
}

/// One `configMapGenerator` / `secretGenerator` item (`ConfigMapArgs` / `SecretArgs`).
#[derive(Debug)]
pub(super) struct Args<'a> {
    pub name: Text<'a>,
    pub namespace: Text<'a>,
    pub behavior: Text<'a>,
    pub literals: Vec<Text<'a>>,
    pub files: Vec<Text<'a>>,
    /// `envs`, then the deprecated `env` (KZ:`FixKustomization` appends it).
    pub envs: Vec<Text<'a>>,
    pub options: Options<'a>,
    /// Secrets only.
    pub secret_type: Text<'a>,
}

const ENTRY_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "options",
];
const SECRET_FIELDS: &[&str] = &["type"];
const OPTION_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
];

impl<'a> Args<'a> {
    pub fn read(kind: GeneratorKind, entry: &'a Node) -> Result<Self, GenerateError> {
        let field = kind.field();
        let Some(map) = entry.as_map() else {
            return Err(GenerateError::new(
                format!("a `{field}` item must be a mapping (name, literals, files, envs, ...)"),
                entry.origin,
            ));
        };
        let extra = match kind {
            GeneratorKind::ConfigMap => &[][..],
            GeneratorKind::Secret => SECRET_FIELDS,
        };
        let fields = Fields::of(map, ENTRY_FIELDS, extra, field)?;
        let mut envs = string_list(fields.get("envs"), "envs")?;
        let env = string(fields.get("env"), "env")?;
        if !env.value.is_empty() {
            envs.push(env);
        }
        Ok(Args {
            name: string(fields.get("name"), "name")?,
            namespace: string(fields.get("namespace"), "namespace")?,
            behavior: string(fields.get("behavior"), "behavior")?,
            literals: string_list(fields.get("literals"), "literals")?,
            files: string_list(fields.get("files"), "files")?,
            envs,
            options: Options::read(fields.get("options"), "options")?,
            secret_type: string(fields.get("type"), "type")?,
        })
    }
}

impl<'a> Options<'a> {
    /// Reads a `generatorOptions` / `options` node (`None` or null: no options).
    pub fn read(node: Option<&'a Node>, what: &str) -> Result<Self, GenerateError> {
        let Some(node) = node.filter(|n| n.kind != Kind::Null) else {
            return Ok(Options::default());
        };
        let Some(map) = node.as_map() else {
            return Err(GenerateError::new(
                format!(
                    "`{what}` must be a mapping (labels, annotations, disableNameSuffixHash, \
                     immutable)"
                ),
                node.origin,
            ));
        };
        let fields = Fields::of(map, OPTION_FIELDS, &[], what)?;
        Ok(Options {
            labels: string_map(fields.get("labels"), "labels")?,
            annotations: string_map(fields.get("annotations"), "annotations")?,
            disable_hash: boolean(fields.get("disableNameSuffixHash"), "disableNameSuffixHash")?,
            immutable: boolean(fields.get("immutable"), "immutable")?,
        })
    }
}

/// The fields of a mapping, each matched to the name kustomize gives it.
struct Fields<'a> {
    found: Vec<(&'static str, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn of(
        map: &'a Map,
        known: &[&'static str],
        extra: &[&'static str],
        what: &str,
    ) -> Result<Self, GenerateError> {
        let mut found: Vec<(&'static str, &'a Node)> = Vec::new();
        // Keys in sorted order, as the JSON decoder sees them: a later match wins.
        for (key, node) in map {
            let Some(name) = known
                .iter()
                .chain(extra)
                .copied()
                .find(|name| *name == key)
                .or_else(|| known.iter().chain(extra).copied().find(|n| fold_eq(n, key)))
            else {
                let names: Vec<&str> = known.iter().chain(extra).copied().collect();
                return Err(GenerateError::new(
                    format!(
                        "unknown field `{key}` in `{what}` (kustomize refuses it; known: {})",
                        names.join(", ")
                    ),
                    key_origin(node),
                ));
            };
            found.retain(|(n, _)| *n != name);
            found.push((name, node));
        }
        Ok(Fields { found })
    }

    fn get(&self, name: &str) -> Option<&'a Node> {
        self.found.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Go's `bytes.EqualFold` on a field name: ASCII case, plus the two non-ASCII letters that
/// fold onto ASCII ones (KELVIN SIGN to `k`, LONG S to `s`).
fn fold_eq(name: &str, key: &str) -> bool {
    let fold = |c: char| match c {
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        c => c.to_ascii_lowercase(),
    };
    name.chars().map(fold).eq(key.chars().map(fold))
}

/// The origin to report a mapping entry at: its key.
fn key_origin(node: &Node) -> Origin {
    match node.origin.key {
        Some(k) => Origin::new(node.origin.file, k),
        None => node.origin,
    }
}

fn string<'a>(node: Option<&'a Node>, what: &str) -> Result<Text<'a>, GenerateError> {
    let Some(node) = node else {
        return Ok(Text::default());
    };
    match &node.kind {
        Kind::Null => Ok(Text {
            value: String::new(),
            node: Some(node),
        }),
        Kind::String(s) => Ok(Text {
            value: fold_nel(s),
            node: Some(node),
        }),
        _ => Err(not_a(node, what, "a string")),
    }
}

fn string_list<'a>(node: Option<&'a Node>, what: &str) -> Result<Vec<Text<'a>>, GenerateError> {
    match node.map(|n| (n, &n.kind)) {
        None | Some((_, Kind::Null)) => Ok(Vec::new()),
        Some((_, Kind::Seq(items))) => items.iter().map(|i| string(Some(i), what)).collect(),
        Some((n, _)) => Err(not_a(n, what, "a list of strings")),
    }
}

fn string_map<'a>(
    node: Option<&'a Node>,
    what: &str,
) -> Result<Option<(StringMap<'a>, &'a Node)>, GenerateError> {
    match node.map(|n| (n, &n.kind)) {
        None | Some((_, Kind::Null)) => Ok(None),
        Some((n, Kind::Map(m))) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                out.push((fold_nel(k), string(Some(v), what)?.value, v));
            }
            Ok(Some((out, n)))
        }
        Some((n, _)) => Err(not_a(n, what, "a mapping of strings")),
    }
}

/// What go-yaml v2 makes of a string whose JSON it reads as a double-quoted scalar: a run
/// of spaces holding one NEL is a space, a run holding `k` NELs is `k - 1` line feeds (the
/// spaces around line breaks go: YAML line folding). Verified with kustomize v5.7.1:
/// `a \u0085 b` → `a b`, `a\u0085\u0085b` → `a\nb`, `\u0085x` → ` x`.
pub(super) fn fold_nel(s: &str) -> String {
    if !s.contains('\u{85}') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let mut breaks = 0;
    let flush = |out: &mut String, run: &mut String, breaks: &mut usize| {
        match *breaks {
            0 => out.push_str(run),
            1 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n - 1)),
        }
        run.clear();
        *breaks = 0;
    };
    for c in s.chars() {
        match c {
            ' ' => run.push(c),
            '\u{85}' => breaks += 1,
            c => {
                flush(&mut out, &mut run, &mut breaks);
                out.push(c);
            }
        }
    }
    flush(&mut out, &mut run, &mut breaks);
    out
}

/// A boolean field: its node when it is `true`.
fn boolean<'a>(node: Option<&'a Node>, what: &str) -> Result<Option<&'a Node>, GenerateError> {
    match node.map(|n| (n, &n.kind)) {
        None | Some((_, Kind::Null)) | Some((_, Kind::Bool(false))) => Ok(None),
        Some((n, Kind::Bool(true))) => Ok(Some(n)),
        Some((n, _)) => Err(not_a(n, what, "true or false")),
    }
}

fn not_a(node: &Node, what: &str, expected: &str) -> GenerateError {
    let found = match &node.kind {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Number(_) => "a number",
        Kind::String(_) => "a string",
        Kind::Seq(_) => "a list",
        Kind::Map(_) => "a mapping",
    };
    GenerateError::new(
        format!("`{what}` must be {expected}, not {found} (kustomize refuses the kustomization)"),
        node.origin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_fold_as_go_json_does() {
        assert!(fold_eq("literals", "Literals"));
        assert!(fold_eq("literals", "LITERALS"));
        assert!(fold_eq("namespace", "name\u{17F}pace"));
        assert!(!fold_eq("name", "names"));
    }

    #[test]
    fn nel_folds_as_go_yaml_v2_reads_it() {
        for (s, want) in [
            ("a \u{85} b", "a b"),
            ("a\u{85}\u{85}b", "a\nb"),
            ("\u{85}x", " x"),
            ("x\u{85}", "x "),
            ("a \u{85}\u{85} \u{85}b", "a\n\nb"),
            ("a \u{2028} b", "a \u{2028} b"),
            ("a  b", "a  b"),
        ] {
            assert_eq!(fold_nel(s), want, "{s:?}");
        }
    }
}
