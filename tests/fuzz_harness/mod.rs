//! The entry points shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`) and the
//! stable property test (`tests/fuzz.rs`): each takes untrusted bytes through one parser of
//! kubegate the way the pipeline does, and panics only on a bug (a panic inside kubegate,
//! or a report that is no longer well-formed).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use kubegate::check::{self, KustomizeFiles, Loaded, Options};
use kubegate::discover::Input;
use kubegate::finding::{Finding, ObjectRef, Severity};
use kubegate::parse::{self, Limits, Reader, yaml};
use kubegate::render::node::Node;
use kubegate::render::{build, files::Files, patch};
use kubegate::report::{self, Context, Format};

/// A target: untrusted bytes in, a panic on a bug.
pub type Target = fn(&[u8]);

/// The targets, by name: the same names as the `cargo fuzz` targets.
pub const TARGETS: &[(&str, Target)] = &[
    ("manifest", manifest),
    ("config", config),
    ("kustomize", kustomize),
    ("patch", patch),
    ("rego", rego),
    ("report", report),
];

/// Smaller budgets than the defaults, so that one case stays cheap; the code paths that
/// enforce them are the same.
fn limits() -> Limits {
    Limits {
        max_depth: 64,
        max_alias_nodes: 20_000,
        max_alias_bytes: 1 << 20,
        max_file_size: 1 << 20,
    }
}

/// Manifest bytes as a checked file goes: decoded, parsed by both readers and as a patch,
/// every node located through its source map, classified; then the whole per-file check
/// (without schemas or Rego), as `kubegate` runs it on a file.
pub fn manifest(data: &[u8]) {
    let decoded = parse::decode(data);
    let text = decoded.text.as_ref();
    for reader in [Reader::Kubectl, Reader::Kyaml] {
        let parsed = yaml::parse_as(text, &limits(), reader);
        check_issues(text, parsed.issues.iter().chain(&parsed.notes));
        for doc in &parsed.documents {
            document(text, doc);
        }
    }
    let patch = yaml::parse_patch(text, &limits());
    check_issues(text, patch.issues.iter());
    let _ = parse::kustomize_refs(text);
    let _ = parse::skip_file("charts/c/templates/x.yaml", text, &|_| true);

    let loaded = Loaded {
        input: Input::Stdin {
            display: "fuzz.yaml".into(),
        },
        bytes: Ok(data.to_vec()),
        parsed: None,
    };
    let opts = Options {
        catalog: None,
        crds: None,
        builtins: None,
        user: None,
        reject_missing_schemas: false,
        limits: limits(),
        keep_sources: true,
        kustomize: KustomizeFiles::default(),
        inline_suppressions: true,
        // The peers' skip annotations are read from the fuzzed objects too.
        peer_annotations: kubegate::suppress::Peers {
            checkov: true,
            kube_linter: true,
        },
        combine: false,
        old: None,
        admission: None,
    };
    let out = check::run(vec![loaded], &opts);
    for f in &out.findings {
        assert!(f.byte_start <= f.byte_end, "{f:?}");
    }
}

/// Every issue lies within the text, on character boundaries.
fn check_issues<'a>(text: &str, issues: impl Iterator<Item = &'a parse::Issue>) {
    for i in issues {
        let (s, e) = (i.start as usize, i.end as usize);
        assert!(s <= e && e <= text.len(), "issue outside the text: {i:?}");
        assert!(
            text.is_char_boundary(s) && text.is_char_boundary(e),
            "issue inside a character: {i:?}"
        );
    }
}

fn document(text: &str, doc: &parse::Document) {
    // Every node is placed; the first ones are also looked up by pointer.
    for (i, (pointer, at)) in doc.source_map.pointers(text).into_iter().enumerate() {
        assert!(
            at.value.start <= at.value.end && at.value.end <= text.len(),
            "{pointer}: {at:?}"
        );
        if i < 500 {
            let _ = doc.source_map.locate(&pointer, text);
        }
    }
    let _ = doc.source_map.locate("/metadata/name", text);
    let _ = doc
        .source_map
        .locate("/spec/template/spec/containers/0/image", text);
    if let parse::Contents::Objects(objects) = parse::objects(doc) {
        for o in objects {
            let _ = (o.prefix(), o.namespace(), o.name());
        }
    }
    let _ = parse::untyped_items(doc);
    let _ = parse::not_an_object(&doc.value, true);
    let _ = parse::not_an_object(&doc.value, false);
    let _ = Node::from_document(doc, "", text, 0).map(|n| n.to_value());
}

/// `.kubegate.yaml` text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loaded) = kubegate::config::from_text(text.to_owned(), Path::new(".kubegate.yaml")) {
        let _ = kubegate::config::resolve_location(&loaded, "a/b.yaml");
    }
}

/// A directory reused by the kustomization cases of this process: the fuzzed text is its
/// `kustomization.yaml`, next to a resource, a strategic merge patch, JSON 6902 operations
/// and a generator input that it may name.
fn kustomize_dir() -> &'static Mutex<PathBuf> {
    static DIR: OnceLock<Mutex<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kubegate-fuzz-{}", std::process::id()));
        let files: &[(&str, &str)] = &[
            ("deployment.yaml", DEPLOYMENT),
            ("smp.yaml", SMP),
            ("ops.yaml", OPS),
            ("app.env", "A=1\nB=two\n"),
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n",
            ),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("fuzz dir");
            }
            std::fs::write(path, text).expect("fuzz file");
        }
        Mutex::new(dir)
    })
}

pub const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: a
        image: a:1
        ports: [{containerPort: 80}]
";

pub const SMP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: a
        image: a:2
      - name: b
        $patch: delete
";

pub const OPS: &str = "\
- op: replace
  path: /spec/replicas
  value: 3
- op: add
  path: /metadata/annotations
  value: {x: 1}
";

/// A `kustomization.yaml` text, built as `kubectl kustomize` would build it.
pub fn kustomize(data: &[u8]) {
    let dir = kustomize_dir().lock().unwrap_or_else(|p| p.into_inner());
    let file = dir.join("kustomization.yaml");
    std::fs::write(&file, data).expect("write the kustomization");
    let files = Files::new(&dir, limits());
    let built = build::build(&files, &dir, &build::Options::default());
    if let Ok(resources) = &built.result {
        let _ = resources.len();
    }
}

/// Two documents: a target object and a patch, read as kustomize reads them; the patch is
/// applied as a strategic merge patch, as JSON 6902 operations and as a target selector.
pub fn patch(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = yaml::parse_patch(&text, &limits());
    let docs: Vec<Node> = parsed
        .documents
        .iter()
        .filter_map(|d| Node::from_document(d, "", &text, 1))
        .collect();
    let deployment = {
        let p = yaml::parse_as(DEPLOYMENT, &limits(), Reader::Kyaml);
        Node::from_document(&p.documents[0], "", DEPLOYMENT, 0).expect("the deployment")
    };
    let (target, patch) = match docs.as_slice() {
        [] => return,
        [p] => (deployment, p.clone()),
        [t, p, ..] => (t.clone(), p.clone()),
    };
    let mut t = target.clone();
    let _ = patch::strategic_merge(&mut t, &patch);
    let _ = t.to_value();
    let mut t = target.clone();
    let _ = patch::strategic_merge_with(
        &mut t,
        &patch,
        patch::SmpOptions {
            targeted: true,
            allow_name_change: true,
            allow_kind_change: true,
        },
    );
    let mut t = target.clone();
    let before = t.to_value();
    if patch::json6902(&mut t, &patch).is_err() {
        assert_eq!(
            t.to_value(),
            before,
            "a failed JSON patch changed its target"
        );
    }
    let mut t = target.clone();
    patch::string_annotations(&mut t);
    if let Ok(selector) = patch::Selector::from_node(&patch) {
        let _ = selector.matches(&target, &["web"], &["default"]);
    }
}

thread_local! {
    /// The built-in rules, loaded once per thread (the property test runs several).
    static RULES: std::cell::RefCell<Option<kubegate::policy::Builtins>> =
        const { std::cell::RefCell::new(None) };
}

/// Manifest text as the Rego rules see it: every object converted to a Rego value and
/// evaluated by the built-in rules of its kind; the violations' paths become pointers.
pub fn rego(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (docs, _) = yaml::parse(&text, &limits());
    RULES.with_borrow_mut(|rules| {
        let rules = rules.get_or_insert_with(|| {
            kubegate::policy::Builtins::load(|_| true).expect("the built-in rules")
        });
        for doc in &docs {
            let input = kubegate::policy::to_rego(&doc.value);
            let _ = kubegate::policy::violation_parts(&input);
            let _ = kubegate::policy::path_to_pointer(&input);
            let kind = match &doc.value {
                serde_json::Value::Object(m) => m.get("kind").and_then(|k| k.as_str()),
                _ => None,
            };
            if let Ok(violations) = rules.evaluate_rego(kind.unwrap_or("Deployment"), &input) {
                for v in violations {
                    let _ = format!("{v:?}");
                }
            }
        }
    });
}

/// Findings with hostile messages, rule ids, files, pointers and help, rendered in every
/// format; each output must stay well-formed.
pub fn report(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let mut next = |or: &str| parts.next().unwrap_or(or).to_owned();
    let source = next("apiVersion: v1\nkind: Pod\n");
    let mut findings = Vec::new();
    let lines = kubegate::source::LineIndex::new(&source);
    for i in 0..3 {
        let message = next("m");
        let rule = next("main.deny");
        let file = next("deploy/web.yaml");
        let path = next("/spec");
        let help = next("");
        let name = next("web");
        let at = |n: usize| {
            let mut o = n.min(source.len());
            while !source.is_char_boundary(o) {
                o -= 1;
            }
            o
        };
        let (a, b) = (
            at(message.len() * 7 % (source.len() + 1)),
            at(rule.len() * 13),
        );
        let (start, end) = (a.min(b), a.max(b));
        findings.push(Finding {
            rule: rule.into(),
            severity: [Severity::Error, Severity::Warning, Severity::Info][i],
            message,
            file: if i == 0 {
                "fuzz.yaml".into()
            } else {
                Arc::from(file)
            },
            start: lines.position(&source, start),
            end: lines.position(&source, end),
            byte_start: start,
            byte_end: end,
            document: Some(i),
            object: Some(ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: (!help.is_empty()).then(|| help.clone()),
                name: Some(name.clone()),
            }),
            path: Some(path),
            help: (!help.is_empty()).then_some(help),
            rendered: if i == 2 {
                vec![name.into()]
            } else {
                Vec::new()
            },
        });
    }
    let mut outcome = check::Outcome {
        findings,
        ..check::Outcome::default()
    };
    outcome
        .sources
        .insert("fuzz.yaml".into(), Arc::from(source.as_str()));
    let cx = Context {
        outcome: &outcome,
        kubernetes_version: Some("1.35"),
        color: false,
        rules: &[],
        changes: None,
        on_change: None,
    };
    for format in Format::ALL {
        let mut out = Vec::new();
        report::render(format, &cx, &mut out).expect("rendering to memory");
        let out = String::from_utf8(out).expect("reports are UTF-8");
        well_formed(format, &out, &outcome.findings);
    }
    let _ = kubegate::report::github::summary(&cx, None, 65_536);
}

fn well_formed(format: Format, out: &str, findings: &[Finding]) {
    match format {
        Format::Json | Format::Sarif | Format::Gitlab | Format::Rdjson => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(out) {
                panic!("{} output is not JSON ({e}):\n{out}", format.name());
            }
        }
        Format::Junit => {
            if let Err(e) = roxmltree::Document::parse(out) {
                panic!("junit output is not XML ({e}):\n{out}");
            }
        }
        Format::Github => {
            // One workflow command a line, and no line break or legacy command smuggled in.
            for line in out.split('\n').filter(|l| !l.is_empty()) {
                assert!(line.starts_with("::"), "not a workflow command: {line:?}");
                assert!(!line.contains('\r'), "carriage return in {line:?}");
                assert!(!line.contains("##["), "legacy command in {line:?}");
            }
            assert!(out.matches('\n').count() <= findings.len() + 1, "{out}");
        }
        Format::Concise => {
            assert_eq!(out.matches('\n').count(), findings.len(), "{out}");
            assert!(!out.contains('\u{1b}'), "escape sequence in {out:?}");
        }
        Format::Human => {
            assert!(!out.contains('\u{1b}'), "escape sequence in {out:?}");
        }
        Format::Markdown => {}
    }
}
