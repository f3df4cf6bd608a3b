//! Every built-in rule against its fixtures: each document of `fixtures/rules/<ID>/fail.yaml`
//! fires the rule exactly on the lines marked `# expect`, no document of `pass.yaml` fires it,
//! and every fixture is itself schema-valid (so the fixtures are realistic manifests).

use std::collections::BTreeSet;
use std::path::Path;

use kubegate::check::{self, Loaded};
use kubegate::discover::Input;
use kubegate::policy::{self, Builtins};
use kubegate::schema::{self, Catalog};

fn run(file: &Path, id: &str) -> Vec<kubegate::finding::Finding> {
    let builtins = Builtins::load(|r| r.id == id).expect("rules compile");
    let catalog = Catalog::get(schema::default_version()).unwrap();
    let opts = check::Options {
        catalog: Some(catalog),
        crds: None,
        old: None,
        admission: None,
        builtins: Some(&builtins),
        user: None,
        reject_missing_schemas: false,
        limits: Default::default(),
        keep_sources: false,
        kustomize: Default::default(),
        inline_suppressions: false,
        peer_annotations: Default::default(),
        combine: false,
    };
    let input = Input::File {
        path: file.to_path_buf(),
        display: file.display().to_string(),
    };
    let loaded: Loaded = check::load(input, &opts.limits);
    check::run(vec![loaded], &opts).findings
}

#[test]
fn every_rule_fires_exactly_where_its_fixtures_say() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let rules = policy::rules().expect("rule metadata is valid");
    assert!(!rules.is_empty());
    // `KUBEGATE_RULE_FILTER=KG1` checks only the rules whose id starts with KG1.
    let filter = std::env::var("KUBEGATE_RULE_FILTER").unwrap_or_default();
    let mut problems = Vec::new();
    for rule in rules.iter().filter(|r| r.id.starts_with(&filter)) {
        let dir = root.join(&rule.id);
        if rule.scope == policy::Scope::Change {
            // Judged against a base in tests/changes.rs; here only: realistic manifests.
            for name in ["base.yaml", "fail.yaml", "pass.yaml", "pass-base.yaml"] {
                let file = dir.join(name);
                if !file.is_file() {
                    continue;
                }
                for f in run(&file, &rule.id) {
                    problems.push(format!(
                        "{}: fixture {}:{} is not a clean manifest: [{}] {}",
                        rule.id, f.file, f.start.line, f.rule, f.message
                    ));
                }
            }
            continue;
        }
        let (fail, pass) = (dir.join("fail.yaml"), dir.join("pass.yaml"));
        if !fail.is_file() || !pass.is_file() {
            problems.push(format!(
                "{}: missing fixtures/rules/{}/{{fail,pass}}.yaml",
                rule.id, rule.id
            ));
            continue;
        }
        let text = std::fs::read_to_string(&fail).unwrap();
        let expected: BTreeSet<u32> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains("# expect"))
            .map(|(i, _)| i as u32 + 1)
            .collect();
        // An inventory rule's fail.yaml also holds the objects it compares with.
        let inventory = rule.scope == policy::Scope::Inventory;
        for (n, doc) in text.split("\n---").enumerate() {
            if !inventory && !doc.contains("# expect") {
                problems.push(format!(
                    "{}: fail.yaml document {n} has no `# expect` line",
                    rule.id
                ));
            }
        }
        let findings = run(&fail, &rule.id);
        let actual: BTreeSet<u32> = findings
            .iter()
            .filter(|f| f.rule == rule.id)
            .map(|f| f.start.line)
            .collect();
        if actual != expected {
            problems.push(format!(
                "{}: fail.yaml fired on lines {actual:?}, expected {expected:?}",
                rule.id
            ));
        }
        let pass_findings = run(&pass, &rule.id);
        for f in findings.iter().chain(&pass_findings) {
            if f.rule != rule.id {
                problems.push(format!(
                    "{}: fixture {}:{} is not a clean manifest: [{}] {}",
                    rule.id, f.file, f.start.line, f.rule, f.message
                ));
            }
        }
        for f in pass_findings.iter().filter(|f| f.rule == rule.id) {
            problems.push(format!(
                "{}: pass.yaml fired on line {}: {}",
                rule.id, f.start.line, f.message
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_fixture_directory_belongs_to_a_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let rules = policy::rules().unwrap();
    for e in std::fs::read_dir(root).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            rules.iter().any(|r| r.id == name),
            "fixtures/rules/{name} has no rule"
        );
    }
}

#[test]
fn rules_reference_is_current() {
    let rules = policy::rules().unwrap();
    let want = kubegate::rules::markdown(&rules);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        if std::env::var_os("KUBEGATE_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        panic!("docs/rules.md is out of date: run `KUBEGATE_BLESS=1 cargo test --test rules`");
    }
}

#[test]
fn readme_rule_table_is_current() {
    let rules = policy::rules().unwrap();
    let table = kubegate::rules::table(&rules, "docs/rules.md");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- rules:start -->\n", "<!-- rules:end -->");
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        panic!("README.md lacks the rules:start/rules:end markers");
    };
    let have = &readme[a + start.len()..b];
    if have != table {
        if std::env::var_os("KUBEGATE_BLESS").is_some() {
            let new = format!("{}{table}{}", &readme[..a + start.len()], &readme[b..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        panic!(
            "the rule table in README.md is out of date: run `KUBEGATE_BLESS=1 cargo test --test rules`"
        );
    }
}
