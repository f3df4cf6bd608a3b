//! `--schema-location`: JSON schemas for custom resources read from local folders, found
//! with kubeconform's `-schema-location` templates (the same templates work unchanged), so
//! a team moving from kubeconform keeps its converted schemas or its clone of a catalog.
//!
//! Only local files: kubegate never downloads a schema (a location with a URL scheme is a
//! usage error). The kind, group and version put into a template come from the manifest
//! under review, so they must look like a kind, a version and a DNS subdomain first: no
//! value can climb out of a location (`..`, `/`) or make a path absolute. Each schema file
//! is read ([`crate::read::read`]: regular files only, bounded), parsed and compiled once
//! per process, on first use, whichever thread needs it first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::Value;

use super::SchemaError;
use super::crd::Verdict;

/// What kubeconform appends to a location that does not end in `json`: the layout of its
/// `kubernetes-json-schema` repository (and of `openapi2jsonschema`'s output).
const LAYOUT: &str = "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/\
                      {{ .ResourceKind }}{{ .KindSuffix }}.json";

/// The template variables, by their name in kubeconform.
const VARIABLES: &[(&str, Var)] = &[
    ("NormalizedKubernetesVersion", Var::KubernetesVersion),
    ("StrictSuffix", Var::StrictSuffix),
    ("ResourceKind", Var::Kind),
    ("ResourceAPIVersion", Var::Version),
    ("Group", Var::Group),
    ("KindSuffix", Var::KindSuffix),
];

/// The schema locations of a run, in order: the first with a file for a kind gives its
/// schema.
pub struct Locations {
    templates: Vec<Template>,
    /// `{{ .NormalizedKubernetesVersion }}`: `master`, or `v` and `--kubernetes-version` as
    /// given (`v1.35.0`).
    kubernetes_version: String,
    max_file_size: u64,
    /// Every file looked at, by path: missing, unusable, or compiled.
    files: Mutex<HashMap<PathBuf, Arc<OnceLock<File>>>>,
}

impl std::fmt::Debug for Locations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locations")
            .field(
                "templates",
                &self.templates.iter().map(|t| &t.given).collect::<Vec<_>>(),
            )
            .field("kubernetes_version", &self.kubernetes_version)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Template {
    /// The location as given (after kubeconform's suffix), for messages.
    given: String,
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    KubernetesVersion,
    StrictSuffix,
    Kind,
    Version,
    Group,
    KindSuffix,
}

/// One schema file, as first looked at.
enum File {
    /// No such file: the next location is tried.
    Missing,
    /// There, but unreadable, not JSON or not a schema: why.
    Unusable(String),
    Ready(Compiled),
}

struct Compiled {
    /// The schema itself, walked for the names an unknown field may have meant.
    document: Value,
    validator: Validator,
}

/// The values a custom resource gives a template, once checked.
struct Names<'a> {
    kind: String,
    group: &'a str,
    version: &'a str,
    kind_suffix: String,
}

impl Locations {
    /// The locations `given` (`--schema-location`, or `schemaLocation` in the configuration),
    /// checked: a URL, an empty location or a template action other than kubeconform's
    /// variables is an error naming the location. `default` (kubeconform's alias for its
    /// Kubernetes schemas) is accepted and skipped: built-in kinds always use kubegate's
    /// embedded schemas. `None` when no location is left.
    pub fn new(
        given: &[String],
        kubernetes_version: Option<&str>,
        max_file_size: u64,
    ) -> anyhow::Result<Option<Locations>> {
        let kubernetes_version = match kubernetes_version {
            None => "master".to_owned(),
            Some(v) => {
                let v = v.strip_prefix('v').unwrap_or(v);
                let plain = !v.is_empty()
                    && !v.contains("..")
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
                if !plain && !given.iter().all(|g| g == "default") {
                    anyhow::bail!(
                        "--kubernetes-version `{v}` cannot be put in a schema location: only \
                         letters, digits, `.`, `-` and `+`"
                    );
                }
                format!("v{v}")
            }
        };
        let mut templates = Vec::new();
        for location in given {
            if location == "default" {
                continue;
            }
            templates.push(Template::parse(location)?);
        }
        Ok((!templates.is_empty()).then(|| Locations {
            templates,
            kubernetes_version,
            max_file_size,
            files: Mutex::default(),
        }))
    }

    /// Validates `value`, of `apiVersion`/`kind`, against the schema of the first location
    /// that has a file for it; `None` when none has (or the kind, group or version cannot
    /// name a file).
    pub fn check(&self, api_version: &str, kind: &str, value: &Value) -> Option<Verdict> {
        let names = Names::of(api_version, kind)?;
        for template in &self.templates {
            let path = PathBuf::from(template.render(&names, &self.kubernetes_version));
            let cell = self.cell(&path);
            match cell.get_or_init(|| load(&path, self.max_file_size)) {
                File::Missing => continue,
                File::Unusable(why) => {
                    return Some(Verdict::Unusable(format!(
                        "the schema of {kind} `{api_version}`, {} (--schema-location {}), \
                         {why}; not validated",
                        path.display(),
                        template.given
                    )));
                }
                File::Ready(schema) => return Some(Verdict::Checked(schema.validate(value))),
            }
        }
        None
    }

    /// Where [`Self::check`] looks for the schema of `apiVersion`/`kind`, in order; `None`
    /// when the kind, group or version cannot name a file.
    pub fn paths(&self, api_version: &str, kind: &str) -> Option<Vec<String>> {
        let names = Names::of(api_version, kind)?;
        Some(
            self.templates
                .iter()
                .map(|t| t.render(&names, &self.kubernetes_version))
                .collect(),
        )
    }

    /// The slot of the file at `path`, shared by every thread.
    fn cell(&self, path: &Path) -> Arc<OnceLock<File>> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        match files.get(path) {
            Some(cell) => cell.clone(),
            None => {
                let cell = Arc::new(OnceLock::new());
                files.insert(path.to_path_buf(), cell.clone());
                cell
            }
        }
    }
}

impl Template {
    /// Parses a location as kubeconform reads it: Go's `text/template` syntax, of which only
    /// the variables are allowed (`{{ .Group }}`, `{{.Group}}`, `{{- .Group -}}`).
    fn parse(location: &str) -> anyhow::Result<Template> {
        let refuse = |why: String| anyhow::anyhow!("schema location `{location}`: {why}");
        if location.trim().is_empty() {
            return Err(refuse("empty".into()));
        }
        if let Some(scheme) = scheme(location) {
            let hint = if scheme.eq_ignore_ascii_case("file") {
                "give the path without `file://`".to_owned()
            } else {
                "clone the catalog and give its local path instead, e.g. `git clone \
                 https://github.com/datreeio/CRDs-catalog` and `--schema-location \
                 'CRDs-catalog/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'` \
                 (built-in kinds always use kubegate's embedded Kubernetes schemas)"
                    .to_owned()
            };
            return Err(refuse(format!(
                "kubegate never downloads schemas: a merge-request gate runs offline, and \
                 what it validates against must not change between runs nor depend on a \
                 server; {hint}"
            )));
        }
        // As kubeconform: a location that does not name a `.json` file is a folder laid out
        // as its Kubernetes schemas are.
        let given = if location.ends_with("json") {
            location.to_owned()
        } else {
            format!("{location}{LAYOUT}")
        };
        let mut parts = Vec::new();
        let mut rest = given.as_str();
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut text = &rest[..open];
            if trim_next {
                text = text.trim_start_matches(is_go_space);
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| refuse("`{{` without its `}}`".into()))?;
            let mut inner = &after[..close];
            // `{{- ` and ` -}}` trim the white space around the action.
            if let Some(r) = inner
                .strip_prefix('-')
                .filter(|r| r.starts_with(is_go_space))
            {
                text = text.trim_end_matches(is_go_space);
                inner = r;
            }
            trim_next = false;
            if let Some(r) = inner.strip_suffix('-').filter(|r| r.ends_with(is_go_space)) {
                trim_next = true;
                inner = r;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text.to_owned()));
            }
            let action = inner.trim_matches(is_go_space);
            let var = action
                .strip_prefix('.')
                .and_then(|name| VARIABLES.iter().find(|(n, _)| *n == name))
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    let names: Vec<String> =
                        VARIABLES.iter().map(|(n, _)| format!(".{n}")).collect();
                    refuse(format!(
                        "`{{{{{inner}}}}}` is not one of kubeconform's template variables \
                         ({}); template functions and pipelines are not supported",
                        names.join(", ")
                    ))
                })?;
            parts.push(Part::Var(var));
            rest = &after[close + 2..];
        }
        let text = if trim_next {
            rest.trim_start_matches(is_go_space)
        } else {
            rest
        };
        if !text.is_empty() {
            parts.push(Part::Text(text.to_owned()));
        }
        Ok(Template { given, parts })
    }

    fn render(&self, names: &Names<'_>, kubernetes_version: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            out.push_str(match part {
                Part::Text(t) => t,
                Part::Var(Var::KubernetesVersion) => kubernetes_version,
                // kubegate always validates strictly.
                Part::Var(Var::StrictSuffix) => "-strict",
                Part::Var(Var::Kind) => &names.kind,
                Part::Var(Var::Version) => names.version,
                Part::Var(Var::Group) => names.group,
                Part::Var(Var::KindSuffix) => &names.kind_suffix,
            });
        }
        out
    }
}

/// Go's `text/template` white space, around trim markers.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The scheme of a location that is a URL (`https` of `https://…`).
fn scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

impl<'a> Names<'a> {
    /// The template values of a custom resource, as kubeconform computes them, if its kind,
    /// group and version are safe to put in a path: a kind of letters and digits, a version
    /// of lower-case letters and digits, a group of DNS labels.
    fn of(api_version: &'a str, kind: &str) -> Option<Names<'a>> {
        let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        let version_like = |s: &str| {
            word(s)
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let group_like = |s: &str| {
            s.len() <= 253
                && s.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
        };
        if !word(kind) {
            return None;
        }
        let (group, version, grouped) = match api_version.split_once('/') {
            Some((group, version)) => (group, version, true),
            // The core group: kubeconform's `Group` is then the version (`v1`).
            None => (api_version, api_version, false),
        };
        if !version_like(version) || !group_like(group) {
            return None;
        }
        let first = group.split('.').next().unwrap_or(group);
        let kind_suffix = if grouped {
            format!("-{first}-{version}")
        } else {
            format!("-{first}")
        };
        Some(Names {
            kind: kind.to_ascii_lowercase(),
            group,
            version,
            kind_suffix,
        })
    }
}

/// Reads, parses and compiles the schema file at `path`.
fn load(path: &Path, max: u64) -> File {
    use std::io::ErrorKind;
    let bytes = match crate::read::read(path, max) {
        Ok(b) => b,
        Err(crate::read::Error::Io(e))
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::InvalidFilename
            ) =>
        {
            return File::Missing;
        }
        Err(e) => return File::Unusable(format!("cannot be read ({e})")),
    };
    let document: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return File::Unusable(format!("is not JSON ({e})")),
    };
    match compile(&document) {
        Ok(validator) => File::Ready(Compiled {
            document,
            validator,
        }),
        Err(why) => File::Unusable(why),
    }
}

/// Compiles a schema as kubeconform does: the draft its `$schema` names, else draft 4 (what
/// `openapi2jsonschema` writes), formats not asserted. Nothing outside the file is read:
/// a `$ref` to another document is an error.
fn compile(document: &Value) -> Result<Validator, String> {
    use jsonschema::Draft;
    let draft = Draft::Draft4.detect(document);
    if draft == Draft::Unknown {
        let named = document.get("$schema").and_then(Value::as_str);
        return Err(format!(
            "names an unknown JSON Schema draft (`$schema`: {})",
            named.unwrap_or_default()
        ));
    }
    jsonschema::options()
        .with_draft(draft)
        .offline()
        .should_validate_formats(false)
        .build(document)
        .map_err(|e| match e.kind() {
            jsonschema::error::ValidationErrorKind::Referencing(_) => format!(
                "refers to a schema outside the file ({e}); kubegate follows only `$ref`s \
                 within it (use standalone schemas)"
            ),
            _ => format!("is not a valid JSON schema ({e})"),
        })
}

impl Compiled {
    fn validate(&self, value: &Value) -> Vec<SchemaError> {
        if self.validator.is_valid(value) {
            return Vec::new();
        }
        let document = &self.document;
        let allowed = |path: &str| {
            super::properties_along(document, path, &|target| local_ref(document, target))
        };
        let mut out = Vec::new();
        for e in self.validator.iter_errors(value) {
            super::convert(&e, value, &allowed, &mut out);
        }
        out
    }
}

/// The target of a `$ref` within `document` (`#/definitions/x`, `#`), if it is one.
fn local_ref<'a>(document: &'a Value, target: &str) -> Option<&'a Value> {
    let fragment = percent_decode(target.strip_prefix('#')?)?;
    if fragment.is_empty() {
        Some(document)
    } else {
        document.pointer(&fragment)
    }
}

/// `%7E` → `~`: a `$ref` fragment is a URI fragment.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(location: &str, version: Option<&str>, api_version: &str, kind: &str) -> String {
        let l = Locations::new(&[location.to_owned()], version, 1 << 20)
            .unwrap()
            .unwrap();
        l.paths(api_version, kind).unwrap().remove(0)
    }

    #[test]
    fn templates_render_as_kubeconform_renders_them() {
        let kc = "schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json";
        assert_eq!(
            paths(kc, None, "example.io/v1", "Widget"),
            "schemas/widget-example-v1.json"
        );
        assert_eq!(
            paths(kc, None, "apps/v1", "Deployment"),
            "schemas/deployment-apps-v1.json"
        );
        assert_eq!(paths(kc, None, "v1", "Thing"), "schemas/thing-v1.json");
        let datree = "c/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json";
        assert_eq!(
            paths(datree, None, "cert-manager.io/v1", "Certificate"),
            "c/cert-manager.io/certificate_v1.json"
        );
        assert_eq!(paths(datree, None, "v1", "Thing"), "c/v1/thing_v1.json");
        // Not ending in `json`: kubeconform's layout is appended.
        assert_eq!(
            paths("schemas", Some("1.35.0"), "example.io/v1", "Widget"),
            "schemas/v1.35.0-standalone-strict/widget-example-v1.json"
        );
        assert_eq!(
            paths("s/", Some("v1.35"), "example.io/v1", "Widget"),
            "s//v1.35-standalone-strict/widget-example-v1.json"
        );
        assert_eq!(
            paths("s", None, "example.io/v1", "Widget"),
            "s/master-standalone-strict/widget-example-v1.json"
        );
        // Go's trim markers.
        assert_eq!(
            paths("a/ {{- .Group -}} /b.json", None, "x.io/v1", "W"),
            "a/x.io/b.json"
        );
    }

    #[test]
    fn what_a_manifest_gives_cannot_leave_the_location() {
        let l = Locations::new(&["s/{{.Group}}/{{.ResourceKind}}.json".into()], None, 1024)
            .unwrap()
            .unwrap();
        for (api_version, kind) in [
            ("../../etc/v1", "W"),
            ("x.io/v1", "a/b"),
            ("x.io/v1", "../W"),
            ("x.io/v1", ""),
            ("x..io/v1", "W"),
            (".x.io/v1", "W"),
            ("x.io/v1/v2", "W"),
            ("x.io/V1", "W"),
            ("X.io/v1", "W"),
            ("/v1", "W"),
            ("", "W"),
            ("x.io/", "W"),
            ("x.io/v1", "W\0"),
        ] {
            assert!(l.paths(api_version, kind).is_none(), "{api_version} {kind}");
            assert!(l.check(api_version, kind, &json!({})).is_none());
        }
    }

    #[test]
    fn locations_are_checked_at_start_up() {
        let err = |l: &str| {
            Locations::new(&[l.to_owned()], None, 1024)
                .unwrap_err()
                .to_string()
        };
        let e = err("https://raw.githubusercontent.com/x/{{.Group}}.json");
        assert!(
            e.contains("never downloads") && e.contains("CRDs-catalog"),
            "{e}"
        );
        assert!(err("file:///x/{{.Group}}.json").contains("without `file://`"));
        assert!(err("s/{{ .Foo }}.json").contains("`{{ .Foo }}`"));
        assert!(err("s/{{ printf \"%s\" .Group }}.json").contains("printf"));
        assert!(err("s/{{ .Group | lower }}.json").contains("not one of"));
        assert!(err("s/{{ .Group.json").contains("without its `}}`"));
        assert!(err("").contains("empty"));
        assert!(
            Locations::new(&["default".into()], None, 1024)
                .unwrap()
                .is_none()
        );
        assert!(Locations::new(&["s".into()], Some("1.35/../x"), 1024).is_err());
    }

    #[test]
    fn schemas_are_read_once_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {"$ref": "#/definitions/spec"},
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object"}
            },
            "additionalProperties": false,
            "definitions": {"spec": {
                "type": "object", "additionalProperties": false,
                "properties": {"size": {"type": "integer"}, "mail": {"type": "string", "format": "email"}}
            }}
        });
        std::fs::write(dir.path().join("w.json"), schema.to_string()).unwrap();
        let location = format!("{}/{{{{ .ResourceKind }}}}.json", dir.path().display());
        let l = Locations::new(&[location], None, 1 << 20).unwrap().unwrap();
        let value = json!({"apiVersion": "x.io/v1", "kind": "W",
            "spec": {"sise": 1, "size": "1", "mail": "not an address"}});
        let Some(Verdict::Checked(errors)) = l.check("x.io/v1", "W", &value) else {
            panic!()
        };
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.rule, e.pointer.as_str(), e.help.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("schema-type", "/spec/size", None),
                (
                    "schema-unknown-field",
                    "/spec/sise",
                    Some("did you mean `size`?")
                ),
            ]
        );
        // Read once: the file may go, the schema stays.
        std::fs::remove_file(dir.path().join("w.json")).unwrap();
        assert!(matches!(
            l.check("x.io/v1", "W", &value),
            Some(Verdict::Checked(_))
        ));
        assert!(l.check("x.io/v1", "Other", &value).is_none());
    }

    #[test]
    fn an_object_with_no_properties_allowed_has_every_key_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("w.json"),
            r#"{"properties": {"spec": {"type": "object", "additionalProperties": false}}}"#,
        )
        .unwrap();
        let location = format!("{}/{{{{ .ResourceKind }}}}.json", dir.path().display());
        let l = Locations::new(&[location], None, 1 << 20).unwrap().unwrap();
        let value = json!({"spec": {"a": 1, "b~/": 2}});
        let Some(Verdict::Checked(errors)) = l.check("x.io/v1", "W", &value) else {
            panic!()
        };
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.rule, e.pointer.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("schema-unknown-field", "/spec/a", "unknown field `spec.a`"),
                (
                    "schema-unknown-field",
                    "/spec/b~0~1",
                    "unknown field `spec.b~/`"
                ),
            ]
        );
    }

    #[test]
    fn a_schema_that_is_not_json_or_refers_outside_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "not json").unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"$ref": "https://example.com/x.json"}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("c.json"), r#"{"type": 12}"#).unwrap();
        std::fs::create_dir(dir.path().join("d.json")).unwrap();
        let location = format!("{}/{{{{ .ResourceKind }}}}.json", dir.path().display());
        let l = Locations::new(&[location], None, 1 << 20).unwrap().unwrap();
        for (kind, said) in [
            ("a", "is not JSON"),
            ("b", "outside the file"),
            ("c", "not a valid JSON schema"),
            ("d", "not a regular file"),
        ] {
            match l.check("x.io/v1", kind, &json!({})) {
                Some(Verdict::Unusable(m)) => assert!(m.contains(said), "{m}"),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }
}
