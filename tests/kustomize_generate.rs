//! kubegate's `configMapGenerator` and `secretGenerator` against the real kustomize: every
//! case of `tests/kustomize/generate` is built by a small driver (resources, generators,
//! `behavior`, hash suffixes — no transformers) and compared with what `kubectl kustomize`
//! (kubectl 1.35.2, kustomize v5.7.1) printed for it: `expected.yaml`, read back with
//! kubegate's kyaml reader, or `expected.error`.
//!
//! The expected files are recorded from the real binary, never written by hand. Each case
//! is a directory with a `kustomization.yaml`, its input files and, for `behavior` cases,
//! the base it builds on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubegate::parse::{self, Limits, Reader};
use kubegate::render::generate::{Behavior, GeneratorKind, generate, hash_suffix, merge_generated};
use kubegate::render::node::{FileId, Kind, Node};
use serde_json::Value;

/// Cases whose printed data cannot be compared, and why; their names (so their hashes) are.
const KNOWN: &[(&str, &str)] = &[
    (
        "files-nel-kept",
        "kustomize prints U+0085 raw, and YAML readers fold it as a line break; the generated \
         value keeps it (the hash in the name covers it)",
    ),
    (
        "hash-unicode-line-breaks",
        "kustomize prints U+2028 raw in a single-quoted scalar, followed by indentation; \
         go-yaml v3 takes U+2028 as a line break and drops the indentation (checked with \
         kustomize itself), kubegate's kyaml reader keeps it: a reader difference, not a \
         generator one (the hash in the name covers the generated values)",
    ),
];

/// For error cases: text the error's origin must cover (file, text).
const ERROR_AT: &[(&str, &str, &str)] = &[
    ("literal-missing-equals", "kustomization.yaml", "NOEQUALS"),
    ("literal-leading-equals", "kustomization.yaml", "=value"),
    ("literals-duplicate-key", "kustomization.yaml", "A=3"),
    ("literal-not-a-string", "kustomization.yaml", "5"),
    (
        "literal-control-character",
        "kustomization.yaml",
        "\"del=a\\u007fb\"",
    ),
    (
        "label-control-character",
        "kustomization.yaml",
        "\"a\\u0090b\"",
    ),
    ("files-missing", "kustomization.yaml", "absent.txt"),
    ("files-directory", "kustomization.yaml", "conf"),
    (
        "files-key-with-two-equals",
        "kustomization.yaml",
        "a=b=c.txt",
    ),
    ("files-missing-key", "kustomization.yaml", "=data.txt"),
    ("envs-missing", "kustomization.yaml", "nothere.env"),
    ("envs-duplicate-key", "a.env", "X"),
    (
        "envs-duplicate-across-sources",
        "kustomization.yaml",
        "X=literal",
    ),
    ("envs-invalid-utf8", "latin1.env", "# caf\u{FFFD}"),
    ("generator-unknown-field", "kustomization.yaml", "literal"),
    ("configmap-type-field", "kustomization.yaml", "type"),
    ("options-label-not-a-string", "kustomization.yaml", "2"),
    ("options-label-yaml11-y", "kustomization.yaml", "y"),
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/generate")
}

/// The files read, by id: the driver's provenance table.
#[derive(Default)]
struct Files {
    files: Vec<(PathBuf, Arc<[u8]>)>,
}

impl Files {
    fn read(&mut self, path: &Path) -> Result<(FileId, Arc<[u8]>), String> {
        let bytes: Arc<[u8]> = kubegate::read::read(path, 1 << 24)
            .map_err(|e| e.to_string())?
            .into();
        self.files.push((path.to_owned(), bytes.clone()));
        Ok(((self.files.len() - 1) as FileId, bytes))
    }

    fn parse(&mut self, path: &Path, reader: Reader) -> Result<Vec<Node>, String> {
        let (id, bytes) = self.read(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| e.to_string())?;
        let parsed = parse::yaml::parse_as(text, &Limits::default(), reader);
        if let Some(issue) = parsed.issues.first() {
            return Err(format!("{}: {}", path.display(), issue.message));
        }
        Ok(parsed
            .documents
            .iter()
            .filter(|d| !d.value.is_null())
            .map(|d| Node::from_document(d, "", text, id).unwrap())
            .collect())
    }
}

/// An object of the build and whether it gets a name suffix.
struct Object {
    node: Node,
    hash: bool,
}

/// Why a build failed: the message and what the origin covers (file name, text).
#[derive(Debug)]
struct Failure {
    message: String,
    at: Option<(String, String)>,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, at: None }
    }
}

fn id(node: &Node) -> (String, String, String) {
    let s = |p: &[&str]| node.path(p).and_then(Node::as_str).unwrap_or("").to_owned();
    let ns = match s(&["metadata", "namespace"]) {
        ns if ns.is_empty() => "default".to_owned(),
        ns => ns,
    };
    (s(&["kind"]), s(&["metadata", "name"]), ns)
}

/// Resources, then generators (ConfigMaps, then Secrets), as kustomize accumulates them.
fn build(dir: &Path, files: &mut Files) -> Result<Vec<Object>, Failure> {
    // kustomize decodes kustomization.yaml with sigs.k8s.io/yaml: go-yaml v2 rules.
    let root = files
        .parse(&dir.join("kustomization.yaml"), Reader::Kubectl)?
        .pop()
        .ok_or_else(|| "empty kustomization".to_owned())?;
    let mut objects = Vec::new();
    for r in root.get("resources").and_then(Node::as_seq).unwrap_or(&[]) {
        let path = dir.join(r.as_str().unwrap());
        if path.is_dir() {
            objects.extend(build(&path, files)?);
        } else {
            for node in files.parse(&path, Reader::Kyaml)? {
                objects.push(Object { node, hash: false });
            }
        }
    }
    for kind in [GeneratorKind::ConfigMap, GeneratorKind::Secret] {
        for entry in root.get(kind.field()).and_then(Node::as_seq).unwrap_or(&[]) {
            let result = generate(
                kind,
                entry,
                root.get("generatorOptions"),
                dir,
                &mut |p: &Path| files.read(p),
            );
            let generated = result.map_err(|e| {
                let (path, bytes) = &files.files[e.origin.file as usize];
                let span = e.origin.value;
                let text = String::from_utf8_lossy(&bytes[span.start as usize..span.end as usize]);
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                Failure {
                    message: e.message.clone(),
                    at: Some((name, text.into_owned())),
                }
            })?;
            let target = id(&generated.object);
            match objects.iter_mut().find(|o| id(&o.node) == target) {
                Some(old) => {
                    merge_generated(&mut old.node, &generated.object, generated.behavior)
                        .map_err(|e| e.message)?;
                    old.hash = old.hash && generated.hash;
                }
                None if generated.behavior != Behavior::Create => {
                    return Err(
                        format!("{target:?} does not exist; cannot merge or replace").into(),
                    );
                }
                None => objects.push(Object {
                    node: generated.object,
                    hash: generated.hash,
                }),
            }
        }
    }
    Ok(objects)
}

/// The root build: every object that asks for it gets its suffix.
fn render(dir: &Path) -> Result<Vec<Value>, Failure> {
    let mut files = Files::default();
    let objects = build(dir, &mut files)?;
    Ok(objects
        .into_iter()
        .map(|o| {
            let mut value = o.node.to_value();
            if o.hash {
                let suffix = hash_suffix(&value).expect("a ConfigMap or Secret");
                let name = value["metadata"]["name"].as_str().unwrap().to_owned();
                value["metadata"]["name"] = Value::String(format!("{name}-{suffix}"));
            }
            value
        })
        .collect())
}

fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    let key = |v: &Value| {
        (
            v["kind"].as_str().unwrap_or("").to_owned(),
            v["metadata"]["name"].as_str().unwrap_or("").to_owned(),
        )
    };
    values.sort_by_key(key);
    values
}

fn expected(dir: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(dir.join("expected.yaml")).ok()?;
    let parsed = parse::yaml::parse_as(&text, &Limits::default(), Reader::Kyaml);
    assert!(
        parsed.issues.is_empty(),
        "{}: {:?}",
        dir.display(),
        parsed.issues
    );
    Some(
        parsed
            .documents
            .into_iter()
            .map(|d| d.value)
            .filter(|v| !v.is_null())
            .collect(),
    )
}

fn names(values: &[Value]) -> Vec<&str> {
    values
        .iter()
        .map(|v| v["metadata"]["name"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn generators_render_as_kustomize_does() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for dir in &cases {
        let case = dir.file_name().unwrap().to_str().unwrap();
        let got = render(dir);
        match (expected(dir), got) {
            (Some(want), Ok(got)) => {
                let (want, got) = (sorted(want), sorted(got));
                if KNOWN.iter().any(|(c, _)| *c == case) {
                    if names(&want) != names(&got) {
                        failures.push(format!(
                            "{case}: names {:?} != {:?}",
                            names(&got),
                            names(&want)
                        ));
                    }
                } else if want != got {
                    failures.push(format!(
                        "{case}:\n  kubegate:  {}\n  kustomize: {}",
                        serde_json::to_string(&got).unwrap(),
                        serde_json::to_string(&want).unwrap()
                    ));
                }
            }
            (Some(_), Err(e)) => {
                failures.push(format!("{case}: kustomize builds it, kubegate: {e:?}"))
            }
            (None, Ok(got)) => {
                let error = std::fs::read_to_string(dir.join("expected.error")).unwrap_or_default();
                failures.push(format!(
                    "{case}: kustomize fails ({}), kubegate builds {}",
                    error.trim(),
                    serde_json::to_string(&got).unwrap()
                ));
            }
            (None, Err(e)) => {
                assert!(
                    dir.join("expected.error").is_file(),
                    "{case}: no expected file"
                );
                if let Some((_, file, text)) = ERROR_AT.iter().find(|(c, ..)| *c == case) {
                    let at = e.at.as_ref().map(|(f, t)| (f.as_str(), t.as_str()));
                    if at != Some((file, text)) {
                        failures.push(format!(
                            "{case}: error at {at:?}, want ({file}, {text}): {}",
                            e.message
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The error table names real error cases.
#[test]
fn error_table_names_error_cases() {
    for (case, ..) in ERROR_AT {
        assert!(
            cases_dir().join(case).join("expected.error").is_file(),
            "{case}"
        );
    }
    for (case, _) in KNOWN {
        assert!(
            cases_dir().join(case).join("expected.yaml").is_file(),
            "{case}"
        );
    }
}

/// The object handed to a builder is plain data: every node has an origin in a file read.
#[test]
fn every_generated_node_comes_from_a_file_read() {
    let dir = cases_dir().join("envs-basic");
    let mut files = Files::default();
    let objects = build(&dir, &mut files).unwrap();
    fn walk(n: &Node, max: usize) {
        assert!((n.origin.file as usize) < max);
        match &n.kind {
            Kind::Map(m) => m.values().for_each(|c| walk(c, max)),
            Kind::Seq(s) => s.iter().for_each(|c| walk(c, max)),
            _ => {}
        }
    }
    for o in &objects {
        walk(&o.node, files.files.len());
        let a = o.node.path(&["data", "A"]).unwrap();
        assert!(files.files[a.origin.file as usize].0.ends_with("app.env"));
    }
}
