//! Stage 3: strict validation of built-in Kubernetes kinds against embedded JSON Schemas.
//!
//! The schemas are generated from `k8s-openapi` by `xtask` (see `scripts/gen-schemas.sh`),
//! made strict there, committed under `schemas/kubernetes/`, and embedded here. Nothing is
//! fetched at run time. Each kind's validator is compiled on first use and shared by all
//! threads.

pub mod cel;
pub mod crd;
pub mod embedded;
pub mod location;
pub mod removed;
pub mod structural;

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::parse::source_map::escape;

/// Every Kubernetes version whose schemas are embedded, oldest first.
pub const VERSIONS: &[(&str, &str)] = &[
    ("1.33", include_str!("../../schemas/kubernetes/v1.33.json")),
    ("1.34", include_str!("../../schemas/kubernetes/v1.34.json")),
    ("1.35", include_str!("../../schemas/kubernetes/v1.35.json")),
    ("1.36", include_str!("../../schemas/kubernetes/v1.36.json")),
    ("1.37", include_str!("../../schemas/kubernetes/v1.37.json")),
];

/// The newest embedded version, the default.
pub fn default_version() -> &'static str {
    VERSIONS[VERSIONS.len() - 1].0
}

/// Accepts `1.35`, `v1.35`, `1.35.2` (the patch level does not change the schema).
pub fn normalize_version(v: &str) -> Option<&'static str> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let minor: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
    VERSIONS.iter().map(|(n, _)| *n).find(|n| *n == minor)
}

/// One schema problem, addressed by a JSON pointer relative to the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub rule: &'static str,
    pub message: String,
    pub pointer: String,
    /// Point at the key of the node (unknown fields, missing fields) rather than its value.
    pub at_key: bool,
    pub help: Option<String>,
}

/// The outcome of checking one object.
pub enum Verdict {
    Checked(Vec<SchemaError>),
    /// A built-in kind under an `apiVersion` that Kubernetes removed.
    Removed(removed::Removal),
    /// No schema for this `apiVersion`/`kind` (a custom resource, or a newer API).
    NoSchema,
}

/// The schemas of one Kubernetes version.
pub struct Catalog {
    pub version: &'static str,
    bundle: &'static Value,
    registry: jsonschema::Registry<'static>,
    kinds: HashMap<(String, String), usize>,
    defs: Vec<String>,
    validators: Vec<OnceLock<Result<Validator, String>>>,
    /// The index in `defs` of [`CUSTOM_RESOURCE`].
    custom_resource: Option<usize>,
}

/// A definition added to the bundle: an object whose `metadata` is a built-in kind's, what
/// the API server checks of every custom resource's metadata (the CRD's schema says only
/// `type: object` there).
const CUSTOM_RESOURCE: &str = "kubegate.CustomResourceMetadata";

impl Catalog {
    /// The catalog of `version` (one of [`VERSIONS`]), built once per process.
    pub fn get(version: &str) -> anyhow::Result<&'static Catalog> {
        static CATALOGS: [OnceLock<Result<Catalog, String>>; 8] = [const { OnceLock::new() }; 8];
        let i = VERSIONS
            .iter()
            .position(|(v, _)| *v == version)
            .ok_or_else(|| anyhow::anyhow!("no schemas for Kubernetes {version}"))?;
        CATALOGS[i]
            .get_or_init(|| Catalog::load(VERSIONS[i].0, VERSIONS[i].1).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("embedded schemas for Kubernetes {version}: {e}"))
    }

    fn load(version: &'static str, text: &str) -> anyhow::Result<Catalog> {
        let mut file: Value = serde_json::from_str(text)?;
        let mut kinds = HashMap::new();
        let mut defs = Vec::new();
        if let Some(groups) = file.get("kinds").and_then(Value::as_object) {
            for (api_version, ks) in groups {
                for (kind, def) in ks.as_object().into_iter().flatten() {
                    let def = def.as_str().unwrap_or_default().to_owned();
                    kinds.insert((api_version.clone(), kind.clone()), defs.len());
                    defs.push(def);
                }
            }
        }
        let mut bundle = file
            .get_mut("schema")
            .map(Value::take)
            .ok_or_else(|| anyhow::anyhow!("missing `schema`"))?;
        let meta = bundle
            .pointer("/$defs/io.k8s.api.core.v1.ConfigMap/properties/metadata")
            .cloned();
        let mut custom_resource = None;
        if let (Some(meta), Some(Value::Object(all))) = (meta, bundle.get_mut("$defs")) {
            all.insert(
                CUSTOM_RESOURCE.to_owned(),
                serde_json::json!({"type": "object", "properties": {"metadata": meta}}),
            );
            custom_resource = Some(defs.len());
            defs.push(CUSTOM_RESOURCE.to_owned());
        }
        let bundle: &'static Value = Box::leak(Box::new(bundle));
        let registry = jsonschema::Registry::new()
            .add(bundle_uri(version), bundle)?
            .prepare()?;
        let validators = defs.iter().map(|_| OnceLock::new()).collect();
        Ok(Catalog {
            version,
            bundle,
            registry,
            kinds,
            defs,
            validators,
            custom_resource,
        })
    }

    /// Number of built-in kinds with a schema.
    pub fn kind_count(&self) -> usize {
        self.kinds.len()
    }

    pub fn has_kind(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .contains_key(&(api_version.to_owned(), kind.to_owned()))
    }

    /// Whether [`Self::check`] knows the kind: a schema, or an API removed.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.has_kind(api_version, kind) || removed::lookup(api_version, kind).is_some()
    }

    fn validator(&self, i: usize) -> Result<&Validator, &str> {
        self.validators[i]
            .get_or_init(|| {
                let root = serde_json::json!({
                    "$ref": format!("{}#/$defs/{}", bundle_uri(self.version), self.defs[i])
                });
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .with_registry(&self.registry)
                    .should_validate_formats(true)
                    .build(&root)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Validates the `metadata` of `value`, a custom resource, as the API server validates
    /// every kind's: an `ObjectMeta` (pointers from the object's root).
    pub fn check_metadata(&self, value: &Value) -> Vec<SchemaError> {
        let Some(i) = self.custom_resource else {
            return Vec::new();
        };
        match self.validate(i, value) {
            Verdict::Checked(errors) => errors,
            _ => Vec::new(),
        }
    }

    /// Validates one object.
    pub fn check(&self, api_version: &str, kind: &str, value: &Value) -> Verdict {
        let Some(&i) = self.kinds.get(&(api_version.to_owned(), kind.to_owned())) else {
            if let Some(r) = removed::lookup(api_version, kind) {
                return Verdict::Removed(r);
            }
            return Verdict::NoSchema;
        };
        self.validate(i, value)
    }

    fn validate(&self, i: usize, value: &Value) -> Verdict {
        let validator = match self.validator(i) {
            Ok(v) => v,
            Err(e) => {
                return Verdict::Checked(vec![SchemaError {
                    rule: "internal-error",
                    message: format!("the schema {} could not be compiled: {e}", self.defs[i]),
                    pointer: String::new(),
                    at_key: false,
                    help: None,
                }]);
            }
        };
        if validator.is_valid(value) {
            return Verdict::Checked(Vec::new());
        }
        let mut out = Vec::new();
        let def = self.defs[i].as_str();
        let allowed = |path: &str| self.allowed_properties(def, path);
        for e in validator.iter_errors(value) {
            convert(&e, value, &allowed, &mut out);
        }
        Verdict::Checked(out)
    }

    /// The property names allowed by the schema object an `additionalProperties` error came
    /// from, found by following the error's evaluation path through the bundle.
    fn allowed_properties(&self, def: &str, evaluation_path: &str) -> Vec<String> {
        let Some(node) = self.bundle.get("$defs").and_then(|d| d.get(def)) else {
            return Vec::new();
        };
        // Every validator's root is `{"$ref": ".../$defs/<def>"}`: skip that first hop.
        let path = evaluation_path
            .strip_prefix("/$ref")
            .unwrap_or(evaluation_path);
        properties_along(node, path, &|target| {
            let def = target.rsplit('/').next()?;
            self.bundle.pointer(&format!("/$defs/{def}"))
        })
    }

    /// The definition name of a kind, for the evaluation-path walk's first `$ref`.
    pub fn definition(&self, api_version: &str, kind: &str) -> Option<&str> {
        let i = *self.kinds.get(&(api_version.to_owned(), kind.to_owned()))?;
        Some(&self.defs[i])
    }
}

/// Converts one error of a JSON Schema validator into kubegate's [`SchemaError`]s (rule ids
/// and messages shared by every schema: the built-in kinds' and `--schema-location`'s).
/// `root` is the validated value; `allowed` gives the property names the schema object at
/// an error's evaluation path allows, for the did-you-mean help of unknown fields.
pub(crate) fn convert(
    e: &ValidationError<'_>,
    root: &Value,
    allowed: &dyn Fn(&str) -> Vec<String>,
    out: &mut Vec<SchemaError>,
) {
    let ptr = e.instance_path().as_str();
    let field = dotted(ptr);
    let instance = e.instance();
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed(e.evaluation_path().as_str());
            unknown_fields(ptr, &field, unexpected, &allowed, out);
        }
        // `additionalProperties: false` with no `properties` at all: every key is unknown,
        // and the validator names only the first one's value.
        ValidationErrorKind::FalseSchema
            if e.evaluation_path()
                .as_str()
                .ends_with("/additionalProperties")
                && root.pointer(ptr).is_some_and(Value::is_object) =>
        {
            let keys: Vec<String> = root
                .pointer(ptr)
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            unknown_fields(ptr, &field, &keys, &[], out);
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let full = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
            out.push(SchemaError {
                rule: "schema-required",
                message: format!("missing required field `{full}`"),
                pointer: ptr.to_owned(),
                at_key: true,
                help: None,
            });
        }
        ValidationErrorKind::Type { kind } => {
            use jsonschema::error::TypeKind;
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .filter(|t| t.to_string() != "null")
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            out.push(SchemaError {
                rule: "schema-type",
                message: format!(
                    "`{}` must be {} {expected}, not {}",
                    or_root(&field),
                    article(&expected),
                    describe(instance)
                ),
                pointer: ptr.to_owned(),
                at_key: false,
                help: None,
            });
        }
        ValidationErrorKind::Enum { options } => {
            let allowed = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|o| !o.is_null())
                        .map(|o| format!("`{}`", o.as_str().map_or(o.to_string(), str::to_owned)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            out.push(SchemaError {
                rule: "schema-enum",
                message: format!(
                    "`{}` must be one of {allowed}, not {}",
                    or_root(&field),
                    describe(instance)
                ),
                pointer: ptr.to_owned(),
                at_key: false,
                help: None,
            });
        }
        ValidationErrorKind::Pattern { .. } | ValidationErrorKind::Format { .. } => {
            let what = match e.kind() {
                ValidationErrorKind::Format { format } => format!("a valid {format}"),
                ValidationErrorKind::Pattern { pattern } if pattern.contains("[KMGTPE]i") => {
                    "a valid quantity (such as `500m`, `1.5`, `128Mi`, `2Gi`)".into()
                }
                ValidationErrorKind::Pattern { pattern } => {
                    format!("a string matching `{pattern}`")
                }
                _ => unreachable!(),
            };
            out.push(SchemaError {
                rule: "schema-format",
                message: format!(
                    "`{}` must be {what}, not {}",
                    or_root(&field),
                    describe(instance)
                ),
                pointer: ptr.to_owned(),
                at_key: false,
                help: None,
            });
        }
        ValidationErrorKind::AnyOf { context } if is_nullable_wrapper(context) => {
            // `{"anyOf": [{"type": "null"}, {"$ref": ...}]}` is how the generator makes an
            // optional field accept `null`; the real errors are in the second branch.
            for inner in &context[1] {
                convert(inner, root, allowed, out);
            }
        }
        _ => out.push(SchemaError {
            rule: "schema-invalid",
            message: format!("`{}`: {e}", or_root(&field)),
            pointer: ptr.to_owned(),
            at_key: false,
            help: None,
        }),
    }
}

/// A `schema-unknown-field` for each of `keys` of the object at `ptr` (`field`, dotted),
/// with the closest of `allowed` as help.
fn unknown_fields(
    ptr: &str,
    field: &str,
    keys: &[String],
    allowed: &[String],
    out: &mut Vec<SchemaError>,
) {
    for key in keys {
        let full = if field.is_empty() {
            key.clone()
        } else {
            format!("{field}.{key}")
        };
        let help = suggest(key, allowed).map(|s| format!("did you mean `{s}`?"));
        out.push(SchemaError {
            rule: "schema-unknown-field",
            message: format!("unknown field `{full}`"),
            pointer: format!("{ptr}/{}", escape(key)),
            at_key: true,
            help,
        });
    }
}

/// The property names of the schema object an `additionalProperties` error came from:
/// `node` followed along `path` (the error's evaluation path from `node`), each `$ref`
/// segment through `resolve` (the reference, as written, to its target). Empty when the
/// walk gets lost.
pub(crate) fn properties_along<'a>(
    mut node: &'a Value,
    path: &str,
    resolve: &dyn Fn(&str) -> Option<&'a Value>,
) -> Vec<String> {
    let mut segs = path.split('/').skip(1).peekable();
    while let Some(seg) = segs.next() {
        if seg == "additionalProperties" && segs.peek().is_none() {
            break;
        }
        let seg = crate::parse::source_map::unescape(seg);
        if seg == "$ref" {
            let Some(target) = node.get("$ref").and_then(Value::as_str) else {
                return Vec::new();
            };
            match resolve(target) {
                Some(t) => node = t,
                None => return Vec::new(),
            }
            continue;
        }
        node = match node {
            Value::Object(m) => match m.get(seg.as_ref()) {
                Some(n) => n,
                None => return Vec::new(),
            },
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(n) => n,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn bundle_uri(version: &str) -> String {
    format!("https://kubegate.invalid/kubernetes/v{version}.json")
}

fn is_nullable_wrapper(context: &[Vec<ValidationError<'static>>]) -> bool {
    context.len() == 2
        && context[0].len() == 1
        && matches!(context[0][0].kind(), ValidationErrorKind::Type { .. })
        && context[0][0]
            .evaluation_path()
            .as_str()
            .ends_with("/anyOf/0/type")
}

/// `/spec/template/spec/containers/0/name` → `spec.template.spec.containers[0].name`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for seg in pointer.split('/').skip(1) {
        let seg = crate::parse::source_map::unescape(seg);
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn or_root(field: &str) -> &str {
    if field.is_empty() {
        "(document)"
    } else {
        field
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A short description of a value for messages: `a string ("two")`, `an object`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if s.chars().count() > 60 { "…" } else { "" };
            format!("{:?}", format!("{shown}{ellipsis}"))
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// The closest allowed name to a misspelt one, if any is close enough.
fn suggest<'a>(key: &str, allowed: &'a [String]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(key, a), a))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, a)| a.as_str())
}
