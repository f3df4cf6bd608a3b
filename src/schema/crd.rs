//! Schemas from the `CustomResourceDefinition` objects of the run: each custom resource
//! whose CRD the repository holds is validated against that CRD's schema for its version
//! ([`super::structural`]), compiled once per kind and version, on first use.
//!
//! The CRDs come from the parse the check already does (on `../shared/corpus`, files
//! holding CRDs are 25 of its 27 MB: a pass of their own cost half the run): custom
//! resources wait until every file is checked, then are validated here.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::SchemaError;
use super::location::Locations;
use super::structural::{Node, SchemaProblem};
use crate::tree::Tree;

/// Whether `apiVersion`/`kind` is a CRD whose schema kubegate reads.
pub fn is_crd(api_version: &str, kind: &str) -> bool {
    api_version == "apiextensions.k8s.io/v1" && kind == "CustomResourceDefinition"
}

/// The CRDs of a run, by group and kind.
#[derive(Debug, Default)]
pub struct Crds {
    kinds: HashMap<(String, String), Arc<Crd>>,
    /// The CRDs consulted for a kind none of these defines, loaded on first use (the
    /// embedded catalog).
    fallback: Option<fn() -> &'static Deferred>,
    /// The schema files consulted for a kind none of these defines, before the fallback
    /// (`--schema-location`).
    locations: Option<Arc<Locations>>,
}

/// CRDs kept as JSON text, each parsed on first use: the embedded catalog (112 kinds, of
/// which a run needs a few).
#[derive(Debug, Default)]
pub struct Deferred {
    kinds: HashMap<(String, String), DeferredCrd>,
}

#[derive(Debug)]
struct DeferredCrd {
    file: Arc<str>,
    /// The text that holds the CRD's `spec` (the embedded catalog), and where the `spec` is
    /// in it, as JSON. Sliced only when parsed: checking where a slice starts and ends
    /// reads the bytes there, and the pages of a catalog embedded in the binary are
    /// resident only once read.
    text: &'static str,
    spec: std::ops::Range<usize>,
    parsed: OnceLock<Option<Arc<Crd>>>,
}

impl Deferred {
    /// Keeps the CRD of `group`/`kind` whose `spec` is the JSON at `spec` in `text`, found
    /// in `file`; `false` (and nothing kept) when the kind is there already. A `spec` that
    /// is not a range of `text` is no CRD when parsed.
    pub fn insert(
        &mut self,
        group: String,
        kind: String,
        text: &'static str,
        spec: std::ops::Range<usize>,
        file: Arc<str>,
    ) -> bool {
        match self.kinds.entry((group, kind)) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(DeferredCrd {
                    file,
                    text,
                    spec,
                    parsed: OnceLock::new(),
                });
                true
            }
        }
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The CRD of `key`, parsed on the first call (`None` if its JSON is no CRD).
    fn get(&self, key: &(String, String)) -> Option<&Arc<Crd>> {
        let d = self.kinds.get(key)?;
        d.parsed
            .get_or_init(|| {
                let spec: Value = serde_json::from_str(d.text.get(d.spec.clone())?).ok()?;
                let def = define(Value::Object(serde_json::Map::from_iter([(
                    "spec".to_owned(),
                    spec,
                )])))?;
                Some(Arc::new(Crd {
                    file: d.file.clone(),
                    versions: def.versions,
                }))
            })
            .as_ref()
    }
}

/// What [`Crds::add`] did with a CRD.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// The first CRD of its kind.
    New,
    /// Not a CRD kubegate can use (no group or kind), or the same as the first of its kind.
    Ignored,
    /// A different CRD of a kind already defined in `first`: ignored.
    Conflict { first: Arc<str>, kind: String },
}

#[derive(Debug)]
struct Crd {
    /// Where the CRD is, for messages (`crds/widgets.yaml`).
    file: Arc<str>,
    versions: Vec<Version>,
}

#[derive(Debug)]
struct Version {
    name: String,
    served: bool,
    deprecated: Option<String>,
    /// Whether the version has a schema (apiextensions v1 requires one).
    has_schema: bool,
    /// The schema as compact JSON of what compiling reads (no descriptions), compiled on
    /// first use. A run holds every CRD it meets (most of a large repository's bytes, and
    /// few of them used): as text a schema takes a fraction of the memory of its tree or of
    /// its compiled form.
    source: Option<Box<str>>,
    compiled: OnceLock<Result<Node, SchemaProblem>>,
    /// A hash of the whole schema, descriptions included ([`super::structural::compact`]):
    /// two CRDs of one kind differ when their versions do.
    fingerprint: u64,
}

/// A CRD as [`Crds`] keeps it: its kind and versions, each schema compiled or to compile.
#[derive(Debug)]
pub struct Definition {
    group: String,
    kind: String,
    versions: Vec<Version>,
}

/// What a CRD says of one custom resource.
#[derive(Debug)]
pub enum Verdict {
    /// Validated: the schema errors (and a `schema-deprecated` warning).
    Checked(Vec<SchemaError>),
    /// The CRD's schema for this version does not compile (a `crd-invalid` error is
    /// reported at the CRD): the object is not validated.
    Unusable(String),
}

/// The versions of the CRD `crd` (the object, or its spec under `spec`), each schema kept
/// in its compact form ([`super::structural::compact`]) after `schema` (with the version's
/// index) has looked at it.
fn definition<T: Tree>(crd: &T, mut schema: impl FnMut(usize, &T)) -> Option<Definition> {
    let spec = crd.get("spec")?;
    let text = |keys: &[&str]| spec.path(keys).and_then(T::as_str);
    let (group, kind) = (text(&["group"])?, text(&["names", "kind"])?);
    let versions = spec
        .get("versions")
        .and_then(T::items)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| {
            let name = v.get("name")?.as_str()?.to_owned();
            let found = v.path(&["schema", "openAPIV3Schema"]);
            // Kept as text, compiled again if a custom resource of it turns up.
            let (source, fingerprint) = match found {
                Some(s) => {
                    schema(i, s);
                    super::structural::compact(s)
                }
                None => (None, 0),
            };
            Some(Version {
                name,
                served: v.get("served").and_then(T::as_bool).unwrap_or(false),
                deprecated: v
                    .get("deprecated")
                    .and_then(T::as_bool)
                    .unwrap_or(false)
                    .then(|| {
                        v.get("deprecationWarning")
                            .and_then(T::as_str)
                            .map_or_else(String::new, str::to_owned)
                    }),
                has_schema: found.is_some(),
                source,
                compiled: OnceLock::new(),
                fingerprint,
            })
        })
        .collect();
    Some(Definition {
        group: group.to_owned(),
        kind: kind.to_owned(),
        versions,
    })
}

/// Compiles every version's schema of the CRD `crd` (the object, or its spec under
/// `spec`) once: what its custom resources are validated with (`None` without a group
/// and kind), and the problems of the CRD itself (`crd-invalid`, pointers from the
/// object's root): a schema that does not compile, no storage version or more than one.
pub fn compile(crd: &Value) -> (Option<Definition>, Vec<SchemaError>) {
    let mut out = Vec::new();
    let invalid = |pointer: String, message: String| SchemaError {
        rule: "crd-invalid",
        message,
        pointer,
        at_key: false,
        help: None,
    };
    let def = definition(crd, |i, schema| {
        let compiled = Node::check(schema);
        if let Err(p) = &compiled {
            out.push(invalid(
                format!("/spec/versions/{i}/schema/openAPIV3Schema{}", p.pointer),
                format!("invalid schema: {}", p.message),
            ));
        }
        if compiled.is_ok() {
            let mut base = format!("/spec/versions/{i}/schema/openAPIV3Schema");
            unpruned_required(schema, &mut base, true, &mut |ptr, name| {
                out.push(SchemaError {
                    help: Some(format!(
                        "add `{name}` to `properties`, or remove it from `required`"
                    )),
                    ..invalid(
                        ptr,
                        format!(
                            "required field `{name}` is not in `properties`: the API server \
                             prunes it, so it rejects every object of this version"
                        ),
                    )
                })
            });
        }
    });
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
    if let Some(versions) = versions.filter(|v| !v.is_empty()) {
        let storage = versions
            .iter()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .count();
        if storage != 1 {
            out.push(invalid(
                "/spec/versions".into(),
                format!("exactly one version must be the storage version, not {storage}"),
            ));
        }
    }
    (def, out)
}

/// Calls `found` with the pointer of its `required` list and the name, for each name
/// `required` of an object node of `schema` (at `ptr`) that its `properties` do not
/// have. The API server accepts such a CRD, but prunes the field before it validates
/// (unless the node keeps unknown fields or has `additionalProperties`), so no object
/// can have it. Only the structural schema is walked: `allOf`/`anyOf`/`oneOf`/`not` may
/// require what only the structural schema names. `resource`: the node is a resource's
/// root (or embedded resource), where `apiVersion`, `kind` and `metadata` always are.
fn unpruned_required(
    schema: &Value,
    ptr: &mut String,
    resource: bool,
    found: &mut impl FnMut(String, &str),
) {
    let Some(node) = schema.as_object() else {
        return;
    };
    let properties = node.get("properties").and_then(Value::as_object);
    let keeps_unknown = node
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
        || node
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false));
    if !keeps_unknown {
        let names = node.get("required").and_then(Value::as_array);
        for (i, name) in names.into_iter().flatten().enumerate() {
            let Some(name) = name.as_str() else { continue };
            let implicit = resource && matches!(name, "apiVersion" | "kind" | "metadata");
            if !implicit && !properties.is_some_and(|p| p.contains_key(name)) {
                found(format!("{ptr}/required/{i}"), name);
            }
        }
    }
    let len = ptr.len();
    for (key, child) in properties.into_iter().flatten() {
        ptr.push_str("/properties/");
        ptr.push_str(&crate::parse::source_map::escape(key));
        let embedded = child
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            == Some(true);
        unpruned_required(child, ptr, embedded, found);
        ptr.truncate(len);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get(key).filter(|c| c.is_object()) {
            ptr.push('/');
            ptr.push_str(key);
            let embedded = child
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                == Some(true);
            unpruned_required(child, ptr, embedded, found);
            ptr.truncate(len);
        }
    }
}

/// The CRD `value` (the object, or its spec under `spec`) as [`Crds`] keeps it, its
/// schemas compiled on first use; `None` without a group and kind.
pub fn define(value: Value) -> Option<Definition> {
    define_tree(&value)
}

/// [`define`] of any [`Tree`]: a rendered CRD is read in place, its schemas written
/// compact straight from its nodes.
pub fn define_tree<T: Tree>(crd: &T) -> Option<Definition> {
    definition(crd, |_, _| {})
}

/// The problems of a CRD object itself (`crd-invalid`): see [`compile`].
pub fn problems(crd: &Value) -> Vec<SchemaError> {
    compile(crd).1
}

impl Crds {
    /// Adds the CRD `value` (an `apiextensions.k8s.io/v1` object, or its `spec` under
    /// `spec`) found in `file`, its schemas compiled on first use. The first CRD of a group
    /// and kind is kept: a later one for the same kind is ignored, and said when it differs.
    pub fn add(&mut self, value: Value, file: &Arc<str>) -> Added {
        match define(value) {
            Some(def) => self.add_definition(def, file),
            None => Added::Ignored,
        }
    }

    /// Adds a CRD already [`compile`]d (or defined), found in `file`: as [`Self::add`].
    pub fn add_definition(&mut self, def: Definition, file: &Arc<str>) -> Added {
        let key = (def.group, def.kind);
        if let Some(first) = self.kinds.get(&key) {
            let same = def.versions.len() == first.versions.len()
                && def.versions.iter().zip(&first.versions).all(|(v, f)| {
                    v.name == f.name && v.served == f.served && v.fingerprint == f.fingerprint
                });
            return if same {
                Added::Ignored
            } else {
                Added::Conflict {
                    first: first.file.clone(),
                    kind: format!("{}.{}", key.1, key.0),
                }
            };
        }
        self.kinds.insert(
            key,
            Arc::new(Crd {
                file: file.clone(),
                versions: def.versions,
            }),
        );
        Added::New
    }

    /// Adds every CRD of `other` whose kind `self` does not define yet (shared, with what
    /// each compiled).
    pub fn extend_from(&mut self, other: &Crds) {
        for (key, crd) in &other.kinds {
            self.kinds.entry(key.clone()).or_insert_with(|| crd.clone());
        }
        self.fallback = self.fallback.or(other.fallback);
        if self.locations.is_none() {
            self.locations = other.locations.clone();
        }
    }

    /// Consults the schema files of `locations` for a kind none of these CRDs defines,
    /// before the fallback.
    pub fn with_locations(&mut self, locations: Arc<Locations>) {
        self.locations = Some(locations);
    }

    /// Where the schema locations look for the schema of `apiVersion`/`kind`: `None`
    /// without locations, `Some(None)` when the kind or apiVersion cannot name a file.
    pub fn location_paths(&self, api_version: &str, kind: &str) -> Option<Option<Vec<String>>> {
        Some(self.locations.as_ref()?.paths(api_version, kind))
    }

    /// Consults `fallback()` (called on first need) for a kind none of these CRDs defines.
    /// A version the fallback does not serve is not validated (the cluster may run
    /// another version of the operator), rather than an error.
    pub fn with_fallback(&mut self, fallback: fn() -> &'static Deferred) {
        self.fallback = Some(fallback);
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// How many kinds the CRDs define.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Validates `value`, of `apiVersion`/`kind`, if a CRD of the run defines its kind, else
    /// a schema location has a schema for it, else the fallback defines it: as an update
    /// from `old` when the cluster has it (transition rules run), else as a create.
    pub fn check(
        &self,
        api_version: &str,
        kind: &str,
        value: &Value,
        old: Option<&Value>,
    ) -> Option<Verdict> {
        let split = api_version.rsplit_once('/');
        let key = split.map(|(group, _)| (group.to_owned(), kind.to_owned()));
        let (crd, guessed) = match key.as_ref().and_then(|k| self.kinds.get(k)) {
            Some(crd) => (crd, false),
            None => {
                // Schema locations take any apiVersion, the core group's (`v1`) too.
                if let Some(verdict) = self
                    .locations
                    .as_ref()
                    .and_then(|l| l.check(api_version, kind, value))
                {
                    return Some(verdict);
                }
                (self.fallback?().get(key.as_ref()?)?, true)
            }
        };
        let (group, version) = split?;
        let at_version = |message: String| SchemaError {
            rule: "schema-version",
            message,
            pointer: "/apiVersion".into(),
            at_key: false,
            help: None,
        };
        let Some(v) = crd.versions.iter().find(|v| v.name == version && v.served) else {
            if guessed {
                return Some(Verdict::Unusable(format!(
                    "{kind} `{api_version}` is not served by {}; not validated (give the CRD \
                     your cluster runs with --crds)",
                    crd.file
                )));
            }
            let served: Vec<String> = crd
                .versions
                .iter()
                .filter(|v| v.served)
                .map(|v| format!("`{group}/{}`", v.name))
                .collect();
            let served = if served.is_empty() {
                "none".to_owned()
            } else {
                served.join(", ")
            };
            return Some(Verdict::Checked(vec![at_version(format!(
                "{kind} `{api_version}` is not served by its CustomResourceDefinition ({}); \
                 served: {served}",
                crd.file
            ))]));
        };
        if !v.has_schema {
            // A CRD version without a schema accepts anything (apiextensions v1 requires
            // one; the CRD itself is reported).
            return Some(Verdict::Checked(Vec::new()));
        }
        let compile = || {
            let schema = v
                .source
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok());
            match schema {
                Some(schema) => Node::compile(&schema),
                None => Err(SchemaProblem {
                    pointer: String::new(),
                    message: "no schema".into(),
                }),
            }
        };
        let node = match v.compiled.get_or_init(compile) {
            Ok(n) => n,
            Err(p) => {
                return Some(Verdict::Unusable(format!(
                    "the schema of {kind} `{api_version}` in {} does not compile ({}); not \
                     validated",
                    crd.file, p.message
                )));
            }
        };
        let mut errors = node.validate_update(value, old);
        if let Some(warning) = &v.deprecated {
            let mut e = at_version(if warning.is_empty() {
                format!("{kind} `{api_version}` is deprecated by its CustomResourceDefinition")
            } else {
                format!("{kind} `{api_version}` is deprecated: {warning}")
            });
            e.rule = "schema-deprecated";
            errors.push(e);
        }
        Some(Verdict::Checked(errors))
    }
}

/// The CRDs of the files `paths` name (`--crds`): files, or directories searched for
/// `.yaml`, `.yml` and `.json` files, read in path order. A path that does not exist is an
/// error; a file that cannot be read or parsed is a warning (returned), and the rest goes on.
pub fn load(
    paths: &[std::path::PathBuf],
    limits: &crate::parse::Limits,
) -> anyhow::Result<(Crds, Vec<String>)> {
    let mut files = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| anyhow::anyhow!("--crds {}: {e}", p.display()))?;
        if meta.is_dir() {
            let walk = ignore::WalkBuilder::new(p)
                .standard_filters(false)
                .hidden(true)
                .sort_by_file_path(|a, b| a.cmp(b))
                .build();
            for entry in walk {
                let entry = entry.map_err(|e| anyhow::anyhow!("--crds {}: {e}", p.display()))?;
                let manifest = entry.file_type().is_some_and(|t| t.is_file())
                    && entry
                        .path()
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
                if manifest {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    Ok(read_files(&files, limits))
}

/// The CRDs of the manifest files `files`, in their order, and warnings on what could not
/// be read or parsed (`--crds` names the files).
pub fn read_files(
    files: &[std::path::PathBuf],
    limits: &crate::parse::Limits,
) -> (Crds, Vec<String>) {
    use crate::parse::{self, Contents, Reader};
    let mut crds = Crds::default();
    let mut warnings = Vec::new();
    for path in files {
        let display: Arc<str> = path.display().to_string().into();
        let bytes = match crate::read::read(path, limits.max_file_size) {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!("--crds {display}: {e}; its CRDs are not used"));
                continue;
            }
        };
        let decoded = parse::decode(&bytes);
        let parsed = parse::yaml::parse_as(&decoded.text, limits, Reader::Kubectl);
        if let Some(issue) = parsed
            .issues
            .iter()
            .find(|i| !matches!(i.rule, parse::yaml::AMBIGUOUS | parse::yaml::DROPPED))
        {
            warnings.push(format!("--crds {display}: {}", issue.message));
        }
        for doc in &parsed.documents {
            let Contents::Objects(objects) = parse::objects(doc) else {
                continue;
            };
            for obj in objects.iter().filter(|o| is_crd(o.api_version, o.kind)) {
                let Some(spec) = obj.value.get("spec") else {
                    continue;
                };
                let spec = Value::Object(serde_json::Map::from_iter([(
                    "spec".to_owned(),
                    spec.clone(),
                )]));
                if let Added::Conflict { first, kind } = crds.add(spec, &display) {
                    warnings.push(format!(
                        "--crds {display}: a second, different CustomResourceDefinition for \
                         {kind}: the one in {first}, found first, is used"
                    ));
                }
            }
        }
    }
    (crds, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crds() -> Crds {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": "x.io", "names": {"kind": "Widget"}, "versions": [
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "size": {"type": "integer"}}}}}}},
                {"name": "v1beta1", "served": true, "storage": false, "deprecated": true,
                 "deprecationWarning": "use x.io/v1", "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v0", "served": false, "storage": false}
            ]}
        });
        let mut c = Crds::default();
        c.add(crd, &"crd.yaml".into());
        c
    }

    fn rules(v: Option<Verdict>) -> Vec<(&'static str, String)> {
        match v {
            Some(Verdict::Checked(e)) => e.into_iter().map(|e| (e.rule, e.pointer)).collect(),
            other => panic!("{other:?}"),
        }
    }

    /// A rendered CRD read in place defines what its value defines: the same versions, the
    /// same compact schema texts and the same hashes (descriptions, examples and a list of
    /// subschemas included), so that either is validated and compared alike.
    #[test]
    fn a_crd_read_from_its_nodes_is_defined_as_from_its_value() {
        let text = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                    spec:\n  group: x.io\n  names: {kind: Widget}\n  versions:\n\
                    \x20 - name: v1\n    served: true\n    deprecated: true\n\
                    \x20   deprecationWarning: old\n    schema:\n      openAPIV3Schema:\n\
                    \x20       type: object\n        description: \"a \\\"widget\\\"\"\n\
                    \x20       example: {size: 1}\n        properties:\n\
                    \x20         size: {type: integer, minimum: 0.5, description: n}\n\
                    \x20         any: {anyOf: [{type: string}, {type: integer}]}\n\
                    \x20         empty: {type: object, properties: {}}\n\
                    \x20 - name: v0\n    served: false\n";
        let node = crate::render::node::testing::doc(text, 0);
        let (from_value, from_nodes) = (
            define(node.to_value()).unwrap(),
            define_tree(&node).unwrap(),
        );
        let seen = |d: &Definition| {
            let versions: Vec<_> = d
                .versions
                .iter()
                .map(|v| {
                    (
                        v.name.clone(),
                        v.served,
                        v.deprecated.clone(),
                        v.has_schema,
                        v.source.clone(),
                        v.fingerprint,
                    )
                })
                .collect();
            (d.group.clone(), d.kind.clone(), versions)
        };
        assert_eq!(seen(&from_nodes), seen(&from_value));
        let (_, _, versions) = seen(&from_nodes);
        assert_eq!(versions.len(), 2);
        let source = versions[0].4.as_deref().unwrap();
        assert!(
            source.contains(r#""anyOf":[{"type":"string"},{"type":"integer"}]"#),
            "{source}"
        );
        assert!(!source.contains("widget"), "{source}");
        // A description is not in the text, but it is in the hash.
        let other = text.replace("a \\\"widget", "a \\\"gadget");
        let other = define_tree(&crate::render::node::testing::doc(&other, 0)).unwrap();
        assert_eq!(other.versions[0].source, from_nodes.versions[0].source);
        assert_ne!(
            other.versions[0].fingerprint,
            from_nodes.versions[0].fingerprint
        );
    }

    #[test]
    fn a_custom_resource_is_validated_by_its_crd() {
        let c = crds();
        let ok = json!({"apiVersion": "x.io/v1", "kind": "Widget", "spec": {"size": 1}});
        assert_eq!(rules(c.check("x.io/v1", "Widget", &ok, None)), vec![]);
        let bad =
            json!({"apiVersion": "x.io/v1", "kind": "Widget", "spec": {"size": "1", "sise": 1}});
        assert_eq!(
            rules(c.check("x.io/v1", "Widget", &bad, None)),
            vec![
                ("schema-unknown-field", "/spec/sise".into()),
                ("schema-type", "/spec/size".into())
            ]
        );
        assert!(c.check("y.io/v1", "Widget", &ok, None).is_none());
        assert!(c.check("v1", "Widget", &ok, None).is_none());
    }

    #[test]
    fn versions_not_served_are_errors_and_deprecated_ones_warnings() {
        let c = crds();
        let v = json!({});
        match c.check("x.io/v0", "Widget", &v, None) {
            Some(Verdict::Checked(e)) => {
                assert_eq!(e.len(), 1);
                assert!(
                    e[0].message.contains("served: `x.io/v1`, `x.io/v1beta1`"),
                    "{e:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        match c.check("x.io/v1beta1", "Widget", &v, None) {
            Some(Verdict::Checked(e)) => {
                assert_eq!(e.len(), 1);
                assert!(e[0].message.ends_with("deprecated: use x.io/v1"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cel_rule_that_does_not_parse_makes_the_crd_invalid() {
        let crd = json!({"spec": {"group": "x.io", "names": {"kind": "W"}, "versions": [
            {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object",
                    "x-kubernetes-validations": [{"rule": "self.a ==", "message": "m"}]}}}}}]}});
        let p = problems(&crd);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].rule, "crd-invalid");
        assert_eq!(
            p[0].pointer,
            "/spec/versions/0/schema/openAPIV3Schema/properties/spec/x-kubernetes-validations/0"
        );
        assert!(p[0].message.contains("self.a =="), "{p:?}");
    }

    #[test]
    fn schema_locations_come_after_the_crds_and_carry_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("widget.json"),
            r#"{"properties": {"spec": {"properties": {"size": {}}, "additionalProperties": false}}}"#,
        )
        .unwrap();
        let location = format!("{}/{{{{ .ResourceKind }}}}.json", dir.path().display());
        let locations = Locations::new(&[location], None, 1 << 20).unwrap().unwrap();
        let mut c = crds();
        c.with_locations(Arc::new(locations));
        let extra = json!({"spec": {"extra": 1}});
        // The run's CRD first: `spec` of x.io/v1 Widget has no `extra` either.
        assert_eq!(
            rules(c.check("x.io/v1", "Widget", &extra, None)),
            vec![("schema-unknown-field", "/spec/extra".into())]
        );
        assert_eq!(
            rules(c.check("x.io/v1beta1", "Widget", &extra, None)),
            vec![("schema-deprecated", "/apiVersion".into())]
        );
        // Any other group, and the core group, from the location.
        for api_version in ["y.io/v1", "v1"] {
            assert_eq!(
                rules(c.check(api_version, "Widget", &extra, None)),
                vec![("schema-unknown-field", "/spec/extra".into())]
            );
        }
        assert!(c.check("y.io/v1", "Gadget", &extra, None).is_none());
        // The --new-only base run's CRDs take them over.
        let mut base = Crds::default();
        base.extend_from(&c);
        assert_eq!(
            rules(base.check("z.io/v1", "Widget", &extra, None)).len(),
            1
        );
    }

    #[test]
    fn a_required_field_the_schema_prunes_makes_the_crd_invalid() {
        let crd = json!({"spec": {"group": "x.io", "names": {"kind": "W"}, "versions": [
            {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "required": ["metadata", "spec"], "properties": {
                "spec": {"type": "object", "required": ["size", "sise"],
                    "properties": {"size": {"type": "integer"},
                        "free": {"type": "object", "required": ["any"],
                                 "x-kubernetes-preserve-unknown-fields": true},
                        "map": {"type": "object", "required": ["any"],
                                "additionalProperties": {"type": "string"}},
                        "list": {"type": "array", "items": {"type": "object",
                                 "required": ["name"], "properties": {}}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                     "required": ["kind"], "properties": {}}}}}}}}]}});
        let p = problems(&crd);
        let at: Vec<&str> = p.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            at,
            [
                "/spec/versions/0/schema/openAPIV3Schema/properties/spec/required/1",
                "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/list/items/required/0",
            ],
            "{p:?}"
        );
        assert!(p.iter().all(|e| e.rule == "crd-invalid"));
        assert!(p[0].message.contains("`sise`"), "{p:?}");
    }

    #[test]
    fn a_crd_that_does_not_compile_is_said() {
        let crd = json!({"spec": {"group": "x.io", "names": {"kind": "W"}, "versions": [
            {"name": "v1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}}}]}});
        let p = problems(&crd);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            p[0].pointer,
            "/spec/versions/0/schema/openAPIV3Schema/properties/a"
        );
        assert_eq!(p[1].pointer, "/spec/versions");
        let mut c = Crds::default();
        c.add(crd.clone(), &"w.yaml".into());
        assert!(matches!(
            c.check("x.io/v1", "W", &json!({}), None),
            Some(Verdict::Unusable(_))
        ));
    }
}
