//! The CI formats (`sarif`, `gitlab`, `junit`, `rdjson`) against their schemas and the
//! acceptance criteria of `../shared/CI-FACTS.md` §8.
//!
//! The schema checks need `../shared/schemas/`; without it they say so and the other checks
//! still run.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Run, kubegate, kubegate_in, root, shared};
use serde_json::Value;

const DEMO: &str = "fixtures/demo";
const MANIFESTS: &str = "fixtures/formats/manifests";
const POLICY: &str = "fixtures/formats/policy";
const FORMATS: [&str; 4] = ["sarif", "gitlab", "junit", "rdjson"];
const FINGERPRINT_KEY: &str = "kubegateFingerprint/v1";

/// The text of `fixtures/formats/manifests/untrusted.yaml`'s annotation, as YAML decodes it.
const UNTRUSTED: &str = "q\" a' lt< gt> amp& cdata]]> nul\0 esc\x1b[31m bel\x07 vt\x0b ff\x0c del\x7f c1\u{85} tab\t cr\r lf\n ls\u{2028} nonchar\u{FFFE} emoji🚀 pct%0A ::warning::x ##[add-mask]s";

/// The same text as the JUnit report carries it: what XML 1.0 forbids becomes U+FFFD.
fn untrusted_in_xml() -> String {
    UNTRUSTED
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// A run over every kind of finding: built-in rules, schema and YAML-level checks, a user
/// policy with untrusted text, and a multi-byte character before a column.
fn everything(format: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "check", DEMO, MANIFESTS, "--policy", POLICY, "--format", format,
    ];
    args.extend_from_slice(extra);
    let r = kubegate(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", r.stdout))
}

/// A validator for `../shared/schemas/<name>`, or `None` (said on stderr) without `../shared`.
fn schema(name: &str, draft: jsonschema::Draft) -> Option<jsonschema::Validator> {
    let Some(dir) = shared() else {
        eprintln!("../shared is missing: the {name} schema check did not run");
        return None;
    };
    let path = dir.join("schemas").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let v = jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name} does not compile offline: {e}"));
    Some(v)
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errs = errors(v, doc);
    assert!(errs.is_empty(), "{what} is invalid:\n{}", errs.join("\n"));
}

/// A report path: relative, `/`-separated, never the temp dir, and a file of the checkout.
fn assert_repo_relative(path: &str, base: &Path) {
    assert!(
        !path.is_empty()
            && !path.starts_with('/')
            && !path.starts_with("./")
            && !path.starts_with("../")
            && !path.contains('\\')
            && !path.contains("/tmp/")
            && !path.contains(".tmp"),
        "not repository-relative: {path:?}"
    );
    assert!(base.join(path).is_file(), "{path} is not a file");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 path")
}

/// Runs kubegate in `dir` with extra environment (the common helper sets none).
fn kubegate_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_WORKSPACE")
        .env_remove("CI_PROJECT_DIR")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("kubegate runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

const CLEAN: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: shop\ndata:\n  a: b\n";

/// Two findings of one rule in one file (two privileged containers), for fingerprints.
const TWO_PRIVILEGED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: twins
  namespace: shop
spec:
  containers:
    - name: a
      image: registry.example/a:1.0
      securityContext:
        privileged: true
    - name: b
      image: registry.example/b:1.0
      securityContext:
        privileged: true
";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write fixture");
}

// ---------------------------------------------------------------------------------------
// SARIF

#[test]
fn sarif_validates_and_meets_github_code_scanning_rules() {
    let r = everything("sarif", &[]);
    let doc = json(&r);
    if let Some(v) = schema("sarif/sarif-schema-2.1.0.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &doc, "the SARIF log (OASIS schema)");
    }
    assert_eq!(doc["version"], "2.1.0");
    assert!(
        doc["$schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://"))
    );
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["automationDetails"]["id"], "kubegate/");
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kubegate");
    assert_eq!(driver["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"].as_str().is_some());
    let bases = run["originalUriBaseIds"].as_object().expect("base ids");

    // Rules: unique ids, every built-in rule, GitHub's limits.
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate rule ids");
    let builtins = json(&kubegate(&["rules", "--format", "json"]));
    for b in builtins.as_array().expect("rules") {
        let id = b["id"].as_str().expect("id");
        assert!(unique.contains(id), "built-in rule {id} is missing");
    }
    for rule in rules {
        let id = &rule["id"];
        for key in ["shortDescription", "fullDescription"] {
            let t = rule[key]["text"].as_str().expect("description");
            assert!(
                !t.trim().is_empty() && t.chars().count() <= 1024,
                "{id} {key}"
            );
        }
        assert!(rule["help"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        let name = rule["name"].as_str().expect("name");
        assert!(!name.is_empty() && name.chars().count() <= 255);
        let tags = rule["properties"]["tags"].as_array().expect("tags");
        assert!(!tags.is_empty() && tags.len() <= 10, "{id} tags");
        if let Some(s) = rule["properties"].get("security-severity") {
            let score: f64 = s
                .as_str()
                .expect("security-severity is a string")
                .parse()
                .expect("a number");
            assert!(score > 0.0 && score <= 10.0, "{id}: {score}");
        }
    }
    let kg101 = rules.iter().find(|r| r["id"] == "KG101").expect("KG101");
    assert_eq!(kg101["properties"]["security-severity"], "8.9");
    assert!(
        kg101["helpUri"]
            .as_str()
            .is_some_and(|u| u.ends_with("#kg101"))
    );
    let policy = rules
        .iter()
        .find(|r| r["id"] == "main.deny")
        .expect("main.deny");
    assert!(policy["properties"].get("security-severity").is_none());

    // Results.
    let results = run["results"].as_array().expect("results");
    let concise = kubegate(&[
        "check", DEMO, MANIFESTS, "--policy", POLICY, "--format", "concise",
    ]);
    assert_eq!(results.len(), concise.stdout.lines().count());
    let mut rules_seen = BTreeSet::new();
    for res in results {
        let id = res["ruleId"].as_str().expect("ruleId");
        let index = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id, "ruleIndex of {id}");
        rules_seen.insert(id);
        assert!(["note", "warning", "error"].contains(&res["level"].as_str().expect("level")));
        assert!(
            res["message"]["text"]
                .as_str()
                .is_some_and(|t| !t.trim().is_empty())
        );
        let locations = res["locations"].as_array().expect("locations");
        assert!(!locations.is_empty() && locations.len() <= 10);
        let phys = &locations[0]["physicalLocation"];
        let uri = phys["artifactLocation"]["uri"].as_str().expect("uri");
        assert_repo_relative(&percent_decode(uri), &root());
        let base = phys["artifactLocation"]["uriBaseId"]
            .as_str()
            .expect("uriBaseId");
        assert!(bases.contains_key(base), "{base} is not declared");
        let region = &phys["region"];
        let n = |k: &str| region[k].as_u64().unwrap_or_else(|| panic!("{k}"));
        assert!(n("startLine") >= 1 && n("startColumn") >= 1);
        assert!(n("endLine") >= n("startLine"));
        if n("endLine") == n("startLine") {
            assert!(n("endColumn") >= n("startColumn"));
        }
        let fp = res["partialFingerprints"][FINGERPRINT_KEY]
            .as_str()
            .expect("fingerprint");
        assert_eq!(fp.len(), 64);
    }
    for id in ["KG101", "schema-unknown-field", "no-schema", "main.deny"] {
        assert!(rules_seen.contains(id), "no {id} result");
    }

    // The region's end is exclusive: `spec.replica` is reported on `replica` (7 characters).
    let replica = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .is_some_and(|m| m.contains("spec.replica`"))
        })
        .expect("the spec.replica finding");
    let region = &replica["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (
            &region["startLine"],
            &region["startColumn"],
            &region["endColumn"]
        ),
        (&Value::from(10), &Value::from(3), &Value::from(10))
    );
    assert_eq!(
        replica["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "Deployment shop/web"
    );
    assert!(
        replica["message"]["text"]
            .as_str()
            .is_some_and(|m| m.ends_with("help: did you mean `replicas`?"))
    );
}

#[test]
fn sarif_validates_against_the_looser_codeql_action_copy() {
    let r = everything("sarif", &[]);
    let doc = json(&r);
    // GitHub's copy declares draft 2020-12 but does not pass that metaschema (see
    // ../shared/schemas/SOURCES.md), and the crate always checks the metaschema. The OASIS
    // schema is the gate; this is the second, looser check GitHub's upload makes.
    let Some(dir) = shared() else {
        eprintln!("../shared is missing: the codeql-action schema check did not run");
        return;
    };
    let text = std::fs::read_to_string(
        dir.join("schemas/sarif/github-codeql-action-sarif-schema-2.1.0.json"),
    )
    .expect("read the codeql-action schema");
    let mut schema: Value = serde_json::from_str(&text).expect("JSON");
    // Its fault is an `anyOf` array moved under a `properties` object, where it names a
    // property (whose "schema" is an array) instead of constraining the region. npm
    // `jsonschema`, which GitHub uses, ignores such an entry; drop it the same way.
    fn drop_non_schemas(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get_mut("properties")
                    && props.get("anyOf").is_some_and(Value::is_array)
                {
                    props.remove("anyOf");
                }
                map.values_mut().for_each(drop_non_schemas);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_non_schemas),
            _ => {}
        }
    }
    drop_non_schemas(&mut schema);
    let v = jsonschema::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("the codeql-action schema does not compile: {e}"));
    assert_valid(&v, &doc, "the SARIF log (codeql-action schema)");
}

/// A change that makes a document invalid.
type Mutation = fn(&mut Value);

#[test]
fn the_schemas_reject_broken_documents() {
    // Proves the validators run: each mutation must fail.
    let sarif = json(&everything("sarif", &[]));
    if let Some(v) = schema("sarif/sarif-schema-2.1.0.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &sarif, "the SARIF log");
        let mutations: [(&str, Mutation); 7] = [
            ("startLine 0", |d| {
                d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
                    0.into()
            }),
            ("level critical", |d| {
                d["runs"][0]["results"][0]["level"] = "critical".into()
            }),
            ("no message", |d| {
                d["runs"][0]["results"][0]
                    .as_object_mut()
                    .expect("result")
                    .remove("message");
            }),
            ("duplicate rule", |d| {
                let rules = d["runs"][0]["tool"]["driver"]["rules"]
                    .as_array_mut()
                    .expect("rules");
                let first = rules[0].clone();
                rules.push(first);
            }),
            ("columnKind bytes", |d| {
                d["runs"][0]["columnKind"] = "bytes".into()
            }),
            ("unknown top-level property", |d| d["extra"] = true.into()),
            ("a $schema that is no URI", |d| {
                d["$schema"] = "not a uri".into()
            }),
        ];
        for (what, mutate) in mutations {
            let mut broken = sarif.clone();
            mutate(&mut broken);
            assert!(!errors(&v, &broken).is_empty(), "SARIF with {what} passed");
        }
    }
    let gitlab = json(&everything("gitlab", &[]));
    if let Some(v) = schema("gitlab/codeclimate.json", jsonschema::Draft::Draft7) {
        let mut broken = gitlab[0].clone();
        broken.as_object_mut().expect("issue").remove("fingerprint");
        assert!(
            !errors(&v, &broken).is_empty(),
            "an issue without fingerprint passed"
        );
        let mut broken = gitlab[0].clone();
        broken["location"]["lines"]["begin"] = "3".into();
        assert!(!errors(&v, &broken).is_empty(), "a string line passed");
    }
    let rdjson = json(&everything("rdjson", &[]));
    if let Some(v) = schema("reviewdog/DiagnosticResult.json", jsonschema::Draft::Draft4) {
        let mut broken = rdjson.clone();
        broken["diagnostics"][0]["severity"] = "FATAL".into();
        assert!(!errors(&v, &broken).is_empty(), "severity FATAL passed");
        let mut broken = rdjson.clone();
        broken["diagnostics"][0]["location"]["range"]["start"]["column"] = "1".into();
        assert!(!errors(&v, &broken).is_empty(), "a string column passed");
    }
}

// ---------------------------------------------------------------------------------------
// GitLab Code Quality

#[test]
fn gitlab_issues_validate_one_by_one_and_meet_the_documented_rules() {
    let r = everything("gitlab", &[]);
    assert!(!r.stdout.starts_with('\u{feff}'), "no byte order mark");
    let doc = json(&r);
    let issues = doc.as_array().expect("a single JSON array");
    assert!(!issues.is_empty());
    let v = schema("gitlab/codeclimate.json", jsonschema::Draft::Draft7);
    let mut fingerprints = HashSet::new();
    for (i, issue) in issues.iter().enumerate() {
        if let Some(v) = &v {
            assert_valid(v, issue, &format!("issue {i}"));
        }
        let rule = issue["check_name"].as_str().expect("check_name");
        assert!(!rule.is_empty());
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&issue["severity"].as_str().expect("severity"))
        );
        let description = issue["description"].as_str().expect("description");
        assert!(
            description.starts_with(&format!("{rule}: ")),
            "{description}"
        );
        assert_repo_relative(issue["location"]["path"].as_str().expect("path"), &root());
        let begin = issue["location"]["lines"]["begin"].as_u64().expect("begin");
        assert!(begin >= 1);
        assert!(issue["location"]["lines"]["end"].as_u64().expect("end") >= begin);
        assert_eq!(issue["type"], "issue");
        assert!(fingerprints.insert(issue["fingerprint"].as_str().expect("fingerprint")));
    }
    let sev = |rule: &str| {
        issues
            .iter()
            .find(|i| i["check_name"] == rule)
            .map(|i| i["severity"].clone())
    };
    assert_eq!(sev("schema-unknown-field"), Some("critical".into()));
    assert_eq!(sev("no-schema"), Some("info".into()));
    assert_eq!(sev("KG102"), Some("minor".into()));
    assert_eq!(sev("KG101"), Some("critical".into()));
}

#[test]
fn clean_runs_give_an_empty_array_and_one_passing_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ok.yaml", CLEAN);
    let gitlab = kubegate_in(dir.path(), &["check", ".", "--format", "gitlab"], None);
    assert_eq!(gitlab.code, 0, "{}", gitlab.stderr);
    assert_eq!(gitlab.stdout, "[]\n");
    let junit = kubegate_in(dir.path(), &["check", ".", "--format", "junit"], None);
    assert_eq!(junit.code, 0);
    let xml = roxmltree::Document::parse(&junit.stdout).expect("well-formed XML");
    let cases: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1);
    assert!(cases[0].children().all(|c| !c.has_tag_name("failure")));
    assert_eq!(xml.root_element().attribute("tests"), Some("1"));
    let sarif = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "sarif"],
        None,
    ));
    assert_eq!(sarif["runs"][0]["results"], Value::Array(vec![]));
    if let Some(v) = schema("sarif/sarif-schema-2.1.0.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &sarif, "a clean SARIF log");
    }
    let rdjson = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "rdjson"],
        None,
    ));
    assert_eq!(rdjson["diagnostics"], Value::Array(vec![]));
}

#[test]
fn paths_are_relative_to_ci_project_dir() {
    let project = tempfile::tempdir().expect("tempdir");
    write(project.path(), "deploy/pod.yaml", TWO_PRIVILEGED);
    let abs = project.path().join("deploy");
    let abs = abs.to_str().expect("UTF-8 temp path");
    let project_dir = project.path().to_str().expect("UTF-8 temp path");
    for format in FORMATS {
        let r = kubegate_env(
            &root(),
            &["check", abs, "--format", format],
            &[("CI_PROJECT_DIR", project_dir)],
        );
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(!r.stdout.contains(project_dir), "{format}: {}", r.stdout);
        assert!(
            r.stdout.contains("deploy/pod.yaml"),
            "{format}: {}",
            r.stdout
        );
    }
    let gitlab = json(&kubegate_env(
        &root(),
        &["check", abs, "--format", "gitlab"],
        &[("CI_PROJECT_DIR", project_dir)],
    ));
    for issue in gitlab.as_array().expect("array") {
        assert_eq!(issue["location"]["path"], "deploy/pod.yaml");
    }
}

// ---------------------------------------------------------------------------------------
// JUnit

#[test]
fn junit_is_strict_xml_with_consistent_counts_and_unique_cases() {
    let r = everything("junit", &[]);
    let xml = roxmltree::Document::parse(&r.stdout).expect("well-formed XML");
    let top = xml.root_element();
    assert!(top.has_tag_name("testsuites"));
    let count = |n: roxmltree::Node<'_, '_>, tag: &str| {
        n.descendants().filter(|d| d.has_tag_name(tag)).count()
    };
    let attr = |n: roxmltree::Node<'_, '_>, a: &str| -> usize {
        n.attribute(a)
            .unwrap_or_else(|| panic!("no {a}"))
            .parse()
            .expect("a count")
    };
    let suites: Vec<_> = top
        .children()
        .filter(|c| c.has_tag_name("testsuite"))
        .collect();
    assert!(!suites.is_empty());
    for n in std::iter::once(top).chain(suites.iter().copied()) {
        assert_eq!(attr(n, "tests"), count(n, "testcase"));
        assert_eq!(attr(n, "failures"), count(n, "failure"));
        assert_eq!(attr(n, "errors"), count(n, "error"));
    }
    let mut keys = HashSet::new();
    for case in top.descendants().filter(|d| d.has_tag_name("testcase")) {
        let class = case.attribute("classname").expect("classname");
        let name = case.attribute("name").expect("name");
        assert!(
            keys.insert((class, name)),
            "duplicate test case {class} {name}"
        );
        let file = case.attribute("file").expect("file");
        assert_eq!(file, class);
        assert_repo_relative(file, &root());
        let failures: Vec<_> = case
            .children()
            .filter(|c| c.has_tag_name("failure"))
            .collect();
        assert!(failures.len() <= 1);
        if let Some(f) = failures.first() {
            assert!(f.attribute("message").is_some_and(|m| !m.is_empty()));
            let rule = f.attribute("type").expect("type");
            assert!(name.starts_with(&format!("{rule} ")), "{name}");
        }
    }
    // Errors and warnings fail; info findings pass with their details in system-out.
    let concise = kubegate(&[
        "check", DEMO, MANIFESTS, "--policy", POLICY, "--format", "concise",
    ]);
    let failing = concise
        .stdout
        .lines()
        .filter(|l| l.contains(": error[") || l.contains(": warning["))
        .count();
    assert_eq!(attr(top, "tests"), concise.stdout.lines().count());
    assert_eq!(attr(top, "failures"), failing);
    let info = top
        .descendants()
        .find(|d| {
            d.has_tag_name("testcase")
                && d.attribute("name")
                    .is_some_and(|n| n.starts_with("no-schema "))
        })
        .expect("the no-schema case");
    assert!(info.children().any(|c| c.has_tag_name("system-out")));
    assert!(!info.children().any(|c| c.has_tag_name("failure")));
    // Test case names do not carry lines; details do.
    let replica = top
        .descendants()
        .find(|d| {
            d.attribute("name") == Some("schema-unknown-field Deployment shop/web /spec/replica")
        })
        .expect("the spec.replica case");
    let failure = replica
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("failure");
    assert!(failure.text().is_some_and(|t| {
        t.starts_with("fixtures/demo/apps/web.yaml:10:3: error[schema-unknown-field]")
    }));
}

// ---------------------------------------------------------------------------------------
// rdjson

#[test]
fn rdjson_validates_and_counts_columns_in_utf8_bytes() {
    let r = everything("rdjson", &[]);
    let doc = json(&r);
    if let Some(v) = schema("reviewdog/DiagnosticResult.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &doc, "the rdjson result");
    }
    assert_eq!(doc["source"]["name"], "kubegate");
    let sarif = json(&everything("sarif", &[]));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let diagnostics = doc["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), results.len());
    let mut emoji_seen = false;
    for (d, res) in diagnostics.iter().zip(results) {
        assert!(["ERROR", "WARNING", "INFO"].contains(&d["severity"].as_str().expect("severity")));
        assert_eq!(d["code"]["value"], res["ruleId"]);
        let path = d["location"]["path"].as_str().expect("path");
        assert_repo_relative(path, &root());
        let start = &d["location"]["range"]["start"];
        let end = &d["location"]["range"]["end"];
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert_eq!(start["line"], region["startLine"]);
        assert_eq!(end["line"], region["endLine"]);
        // The byte column points at the same text as the code-point column.
        let text = std::fs::read_to_string(root().join(path)).expect("read");
        let line_no = start["line"].as_u64().expect("line") as usize;
        let line = text.lines().nth(line_no - 1).unwrap_or("");
        let byte_col = start["column"].as_u64().expect("column") as usize;
        let char_col = region["startColumn"].as_u64().expect("column") as usize;
        let by_chars: String = line.chars().skip(char_col - 1).collect();
        assert_eq!(
            line.get(byte_col - 1..),
            Some(by_chars.as_str()),
            "{path}:{line_no}"
        );
        if path.ends_with("emoji.yaml") {
            emoji_seen = true;
            // `🚀` is one code point and four bytes.
            assert_eq!(byte_col, char_col + 3);
            assert_eq!(
                end["column"].as_u64().expect("end"),
                region["endColumn"].as_u64().expect("end") + 3
            );
            assert!(line[byte_col - 1..].starts_with("3}"));
        } else if line.is_ascii() {
            assert_eq!(byte_col, char_col);
        }
    }
    assert!(emoji_seen, "no finding in emoji.yaml");
}

#[test]
fn rdjson_columns_are_the_same_whether_the_run_kept_the_text_or_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let human = dir.path().join("human.txt");
    let human = format!("human={}", human.display());
    let reread = everything("rdjson", &[]);
    let kept = everything("rdjson", &["--output", &human]);
    assert_eq!(reread.stdout, kept.stdout);
    // Standard input named after its file is read again and checked against the run.
    let emoji = std::fs::read(root().join(MANIFESTS).join("emoji.yaml")).expect("read");
    let named = kubegate_in(
        &root(),
        &[
            "check",
            "-",
            "--stdin-filename",
            "fixtures/formats/manifests/emoji.yaml",
            "--format",
            "rdjson",
        ],
        Some(&emoji),
    );
    let named = json(&named);
    assert_eq!(
        named["diagnostics"][0]["location"]["range"]["start"]["column"],
        41
    );
    // The CLI keeps the text of files with findings for rdjson, so standard input gets
    // exact byte columns too, whatever its name.
    let anonymous = json(&kubegate_in(
        &root(),
        &["check", "-", "--format", "rdjson"],
        Some(&emoji),
    ));
    assert_eq!(
        anonymous["diagnostics"][0]["location"]["range"]["start"]["column"],
        41
    );
    // Standard input under the name of a file that holds other text: the columns come from
    // the text checked, never from the file on disk.
    let mut shifted = b"# \xC3\xA9\xC3\xA9\n".to_vec();
    shifted.extend_from_slice(&emoji);
    let other = json(&kubegate_in(
        &root(),
        &[
            "check",
            "-",
            "--stdin-filename",
            "fixtures/formats/manifests/emoji.yaml",
            "--format",
            "rdjson",
        ],
        Some(&shifted),
    ));
    assert_eq!(
        other["diagnostics"][0]["location"]["range"]["start"]["line"],
        9
    );
    assert_eq!(
        other["diagnostics"][0]["location"]["range"]["start"]["column"],
        41
    );
}

// ---------------------------------------------------------------------------------------
// All formats

#[test]
fn fingerprints_ignore_lines_and_tell_findings_of_one_rule_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pod.yaml", TWO_PRIVILEGED);
    let before_sarif = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "sarif"],
        None,
    ));
    let before_gitlab = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "gitlab"],
        None,
    ));
    let before_junit = kubegate_in(dir.path(), &["check", ".", "--format", "junit"], None);
    // Blank lines and a comment above the findings move every line.
    let moved = TWO_PRIVILEGED.replace("spec:\n", "\n\n# moved\nspec:\n");
    write(dir.path(), "pod.yaml", &moved);
    let after_sarif = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "sarif"],
        None,
    ));
    let after_gitlab = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "gitlab"],
        None,
    ));
    let after_junit = kubegate_in(dir.path(), &["check", ".", "--format", "junit"], None);

    let privileged = |sarif: &Value| -> Vec<(String, u64)> {
        sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r["ruleId"] == "KG101")
            .map(|r| {
                (
                    r["partialFingerprints"][FINGERPRINT_KEY]
                        .as_str()
                        .expect("fingerprint")
                        .to_owned(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .expect("line"),
                )
            })
            .collect()
    };
    let before = privileged(&before_sarif);
    let after = privileged(&after_sarif);
    assert_eq!(before.len(), 2);
    assert_ne!(before[0].0, before[1].0, "two findings share a fingerprint");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.0, b.0, "the fingerprint moved with the line");
        assert_eq!(a.1, b.1 + 3);
    }
    let fps = |g: &Value| -> Vec<String> {
        g.as_array()
            .expect("array")
            .iter()
            .map(|i| i["fingerprint"].as_str().expect("fingerprint").to_owned())
            .collect()
    };
    assert_eq!(fps(&before_gitlab), fps(&after_gitlab));
    // The same fingerprints in both reports.
    let sarif_fps: BTreeSet<String> = before_sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["partialFingerprints"][FINGERPRINT_KEY]
                .as_str()
                .expect("fp")
                .to_owned()
        })
        .collect();
    assert_eq!(sarif_fps, fps(&before_gitlab).into_iter().collect());
    // JUnit test case identities do not move either.
    let cases = |xml: &str| -> Vec<(String, String)> {
        let doc = roxmltree::Document::parse(xml).expect("XML");
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| {
                (
                    n.attribute("classname").unwrap_or("").to_owned(),
                    n.attribute("name").unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(cases(&before_junit.stdout), cases(&after_junit.stdout));
}

#[test]
fn output_is_deterministic_and_only_the_document() {
    for format in FORMATS {
        let one = everything(format, &["-j", "1"]);
        let two = everything(format, &["-j", "2"]);
        let again = everything(format, &["-j", "2"]);
        assert_eq!(one.stdout, two.stdout, "{format}: -j 1 and -j 2 differ");
        assert_eq!(two.stdout, again.stdout, "{format}: two runs differ");
        assert!(!one.stdout.contains('\x1b'), "{format}: ANSI escape");
        assert!(!one.stdout.contains('\0'), "{format}: NUL");
        assert!(
            one.stderr.contains("kubegate: checked"),
            "{format}: summary on stderr"
        );
        assert!(!one.stdout.contains("kubegate: checked"), "{format}");
        if format == "junit" {
            roxmltree::Document::parse(&one.stdout).expect("only the XML document");
        } else {
            json(&one);
        }
    }
}

#[test]
fn output_files_hold_the_same_document_as_standard_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let specs: Vec<String> = FORMATS
        .iter()
        .map(|f| format!("{f}={}", dir.path().join(format!("report.{f}")).display()))
        .collect();
    let mut extra = vec![];
    for s in &specs {
        extra.push("--output");
        extra.push(s.as_str());
    }
    let main = everything("concise", &extra);
    assert!(main.stdout.contains("error[KG101]"), "{}", main.stdout);
    for format in FORMATS {
        let file = std::fs::read_to_string(dir.path().join(format!("report.{format}")))
            .expect("report written");
        assert_eq!(file, everything(format, &[]).stdout, "{format}");
    }
}

#[test]
fn untrusted_text_round_trips_through_every_parser() {
    let find_rule = "main.deny";
    let sarif = json(&everything("sarif", &[]));
    let result = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == find_rule)
        .expect("the policy's result")
        .clone();
    assert_eq!(result["message"]["text"], UNTRUSTED);

    let gitlab = json(&everything("gitlab", &[]));
    let issue = gitlab
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i["check_name"] == find_rule)
        .expect("the policy's issue")
        .clone();
    assert_eq!(issue["description"], format!("{find_rule}: {UNTRUSTED}"));

    let rdjson = json(&everything("rdjson", &[]));
    let diag = rdjson["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["code"]["value"] == find_rule)
        .expect("the policy's diagnostic")
        .clone();
    assert_eq!(diag["message"], UNTRUSTED);

    let junit = everything("junit", &[]);
    let doc = roxmltree::Document::parse(&junit.stdout).expect("well-formed XML");
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure") && n.attribute("type") == Some(find_rule))
        .expect("the policy's failure");
    let expected = untrusted_in_xml();
    assert_eq!(failure.attribute("message"), Some(expected.as_str()));
    let body = failure.text().expect("details");
    assert!(body.contains(&expected), "{body:?}");
    // Nothing else is lost: the replacements are the only change.
    assert_eq!(
        expected.chars().filter(|&c| c == '\u{FFFD}').count(),
        6,
        "NUL, ESC, BEL, VT, FF and U+FFFE are replaced"
    );
}

#[test]
fn awkward_paths_are_kept_exactly_and_sarif_uris_are_encoded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "we ird/a,b:c%41 é#?.yaml";
    write(dir.path(), name, TWO_PRIVILEGED);
    let sarif = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "sarif"],
        None,
    ));
    if let Some(v) = schema("sarif/sarif-schema-2.1.0.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &sarif, "SARIF with an awkward path");
    }
    for r in sarif["runs"][0]["results"].as_array().expect("results") {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri");
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_graphic() && !b"#?:[]<>\"\\ ".contains(&b)),
            "{uri}"
        );
        assert_eq!(percent_decode(uri), name);
    }
    let gitlab = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "gitlab"],
        None,
    ));
    assert_eq!(gitlab[0]["location"]["path"], name);
    let rdjson = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "rdjson"],
        None,
    ));
    assert_eq!(rdjson["diagnostics"][0]["location"]["path"], name);
    let junit = kubegate_in(dir.path(), &["check", ".", "--format", "junit"], None);
    let doc = roxmltree::Document::parse(&junit.stdout).expect("XML");
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        assert_eq!(case.attribute("file"), Some(name));
    }
}

#[test]
fn large_runs_stay_within_github_and_gitlab_limits() {
    // 2,600 objects with an error and a warning each: 5,200 findings.
    let dir = tempfile::tempdir().expect("tempdir");
    let docs: Vec<String> = (0..2600)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  namespace: default\n  annotations: {{k: 1}}\ndata:\n  a: b\n"
            )
        })
        .collect();
    write(dir.path(), "many.yaml", &docs.join("---\n"));
    let r = kubegate_in(dir.path(), &["check", ".", "--format", "sarif"], None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.len() < 10 << 20, "{} bytes", r.stdout.len());
    let sarif = json(&r);
    if let Some(v) = schema("sarif/sarif-schema-2.1.0.json", jsonschema::Draft::Draft4) {
        assert_valid(&v, &sarif, "a capped SARIF log");
    }
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 5000);
    let level = |l: &str| results.iter().filter(|r| r["level"] == l).count();
    assert_eq!((level("error"), level("warning")), (2600, 2400));
    // The warnings kept are the first ones, and results stay in report order.
    let lines: Vec<u64> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .expect("line")
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]));
    let last_warning = results
        .iter()
        .rev()
        .find(|r| r["level"] == "warning")
        .expect("a warning");
    assert!(
        last_warning["message"]["text"]
            .as_str()
            .is_some_and(|m| m.contains("`c2399`"))
    );
    assert_eq!(run["properties"]["omittedResults"], 200);
    let note = &run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"];
    assert!(
        note.as_str()
            .is_some_and(|t| t.starts_with("200 of 5200 findings were left out"))
    );

    let junit = kubegate_in(dir.path(), &["check", ".", "--format", "junit"], None);
    assert!(
        junit.stdout.len() < 30 << 20,
        "{} bytes",
        junit.stdout.len()
    );
    let xml = roxmltree::Document::parse(&junit.stdout).expect("XML");
    assert_eq!(xml.root_element().attribute("tests"), Some("5200"));
    let gitlab = json(&kubegate_in(
        dir.path(),
        &["check", ".", "--format", "gitlab"],
        None,
    ));
    let fps: HashSet<&str> = gitlab
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["fingerprint"].as_str().expect("fingerprint"))
        .collect();
    assert_eq!(fps.len(), 5200, "fingerprints are unique");
}
