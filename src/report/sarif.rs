//! The `sarif` format: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
//!
//! One run. `tool.driver.rules` lists every built-in rule, then every other rule that has a
//! finding (schema, YAML, user policies), so rule ids and indexes are stable for a given
//! kubegate version and rule set. Each result points at the finding's exact region:
//! `run.columnKind` is `unicodeCodePoints`, the unit of [`Position`], and SARIF's exclusive
//! `endColumn` is the finding's end column as is (it is already the position just past the
//! region: see `FileCtx::finding_at` in `check.rs`). Paths are repository-relative URIs
//! under `%SRCROOT%`.
//!
//! GitHub keeps only the 5,000 most severe results of a run; kubegate caps the results at
//! [`MAX_RESULTS`] itself, keeping the most severe (report order within a severity), and
//! says how many it left out in `run.properties` and in a tool notification.
//!
//! `properties.security-severity` (GitHub's "Critical/High/Medium/Low") is set for built-in
//! rules whose category is about attack surface (`security`, `rbac`, `images`, `network`,
//! `hygiene`), by severity: error 8.0, warning 5.0, info 2.0, raised to 8.9, 6.5 and 3.5 for
//! `security` and `rbac`, so errors are "High", warnings "Medium" and infos "Low", with the
//! security and RBAC rules first within each band. `reliability` rules and non-built-in rules
//! carry none (GitHub then shows the plain error/warning/note level).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::Context;
use crate::finding::{Finding, Severity};
use crate::rule::RuleMeta;

/// The `$schema` of the log (the one GitHub's documentation uses).
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The key of kubegate's fingerprint in `partialFingerprints`; bump the version whenever
/// [`super::fingerprints`] changes how it hashes.
pub const FINGERPRINT_KEY: &str = "kubegateFingerprint/v1";
/// The base every artifact URI is relative to: the repository root.
pub const SRCROOT: &str = "%SRCROOT%";
/// GitHub keeps only this many results per run, the most severe.
pub const MAX_RESULTS: usize = 5000;
/// The category of the analysis (`automationDetails.id`): `kubegate`, with no run id.
pub const AUTOMATION_ID: &str = "kubegate/";
/// GitHub's limit on `shortDescription.text` and `fullDescription.text`, in characters.
const MAX_DESCRIPTION: usize = 1024;
/// GitHub's limit on a rule's `name`.
const MAX_NAME: usize = 255;
/// GitHub shows 10 tags per rule.
const MAX_TAGS: usize = 10;

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let log = log(cx, MAX_RESULTS);
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

/// The SARIF log, with at most `max_results` results.
fn log(cx: &Context<'_>, max_results: usize) -> Value {
    let findings = &cx.outcome.findings;
    let fingerprints = super::fingerprints(findings);
    let catalog = Catalog::new(cx.rules, findings);
    let kept = most_severe(findings, max_results);
    let results: Vec<Value> = kept
        .iter()
        .map(|&i| result(&findings[i], &fingerprints[i], &catalog))
        .collect();
    let omitted = findings.len() - kept.len();

    let mut driver = Map::new();
    driver.insert("name".into(), json!(env!("CARGO_PKG_NAME")));
    driver.insert("semanticVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    driver.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    driver.insert("informationUri".into(), json!(env!("CARGO_PKG_REPOSITORY")));
    driver.insert("rules".into(), Value::Array(catalog.descriptors));

    let mut properties = Map::new();
    properties.insert("findings".into(), json!(findings.len()));
    properties.insert("omittedResults".into(), json!(omitted));
    if let Some(v) = cx.kubernetes_version {
        properties.insert("kubernetesVersion".into(), json!(v));
    }

    let mut run = Map::new();
    run.insert("tool".into(), json!({ "driver": driver }));
    run.insert("automationDetails".into(), json!({ "id": AUTOMATION_ID }));
    run.insert("columnKind".into(), json!("unicodeCodePoints"));
    run.insert(
        "originalUriBaseIds".into(),
        json!({
            SRCROOT: {
                // No absolute `uri`: the root is where the report is read (SARIF §3.14.14),
                // so the log holds no machine-specific path.
                "description": {
                    "text": "The repository root: CI_PROJECT_DIR, GITHUB_WORKSPACE or the working directory of the run"
                }
            }
        }),
    );
    if omitted > 0 {
        let errors = findings
            .iter()
            .any(|f| matches!(&*f.rule, "io-error" | "policy-error" | "internal-error"));
        run.insert(
            "invocations".into(),
            json!([{
                "executionSuccessful": !errors,
                "toolExecutionNotifications": [{
                    "level": "warning",
                    "message": {
                        "text": format!(
                            "{omitted} of {} findings were left out: GitHub code scanning keeps at most {max_results} results per run, so only the most severe are reported; run kubegate with --format json for all of them",
                            findings.len()
                        )
                    }
                }]
            }]),
        );
    }
    run.insert("results".into(), Value::Array(results));
    run.insert("properties".into(), Value::Object(properties));

    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [run],
    })
}

/// Indexes of the findings to report, in report order: all of them when they fit, else the
/// `max` most severe (report order breaks ties).
fn most_severe(findings: &[Finding], max: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..findings.len()).collect();
    if idx.len() > max {
        idx.sort_by_key(|&i| (std::cmp::Reverse(findings[i].severity), i));
        idx.truncate(max);
        idx.sort_unstable();
    }
    idx
}

/// The rules of the run: their descriptors, in `tool.driver.rules` order, and the index of
/// each id.
struct Catalog {
    descriptors: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Catalog {
    fn new(rules: &[RuleMeta], findings: &[Finding]) -> Self {
        let mut descriptors = Vec::new();
        let mut index = HashMap::new();
        for m in rules {
            if !index.contains_key(&m.id) {
                index.insert(m.id.clone(), descriptors.len());
                descriptors.push(builtin_descriptor(m));
            }
        }
        // Other rules with findings, by id; their default level is their findings' highest.
        let mut others: BTreeMap<&str, Severity> = BTreeMap::new();
        for f in findings {
            if !index.contains_key(&*f.rule) {
                let s = others.entry(&f.rule).or_insert(f.severity);
                *s = (*s).max(f.severity);
            }
        }
        for (id, severity) in others {
            index.insert(id.to_owned(), descriptors.len());
            descriptors.push(other_descriptor(id, severity));
        }
        Catalog { descriptors, index }
    }
}

/// SARIF's level for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// GitHub's `problem.severity` for a severity.
fn problem_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "recommendation",
    }
}

/// GitHub's `security-severity` score of a built-in rule (see the module docs), `None` for
/// rules that are not about security.
pub fn security_severity(m: &RuleMeta) -> Option<&'static str> {
    let top = matches!(m.category.as_str(), "security" | "rbac");
    let security = top || matches!(m.category.as_str(), "images" | "network" | "hygiene");
    if !security {
        return None;
    }
    Some(match (m.severity, top) {
        (Severity::Error, true) => "8.9",
        (Severity::Error, false) => "8.0",
        (Severity::Warning, true) => "6.5",
        (Severity::Warning, false) => "5.0",
        (Severity::Info, true) => "3.5",
        (Severity::Info, false) => "2.0",
    })
}

/// Documentation of a rule: a built-in rule's section of the rules reference, the rule-id
/// table of the README for kubegate's own checks, `None` for user policies.
pub fn rule_url(rule: &str, rules: &[RuleMeta]) -> Option<String> {
    let repo = env!("CARGO_PKG_REPOSITORY");
    if rules.iter().any(|m| m.id == rule) {
        return Some(format!(
            "{repo}/blob/main/docs/rules.md#{}",
            rule.to_ascii_lowercase()
        ));
    }
    internal(rule).map(|_| format!("{repo}#rule-ids"))
}

fn builtin_descriptor(m: &RuleMeta) -> Value {
    let security = security_severity(m);
    let mut tags = vec!["kubernetes".to_owned(), m.category.clone()];
    if security.is_some() && m.category != "security" {
        tags.push("security".into());
    }
    if let Some(pss) = &m.equivalents.pss {
        // `baseline: Privileged Containers` -> `pss-baseline`
        let profile = pss.split(':').next().unwrap_or("").trim();
        if !profile.is_empty() {
            tags.push(format!("pss-{profile}"));
        }
    }
    tags.dedup();
    tags.truncate(MAX_TAGS);
    let mut properties = Map::new();
    properties.insert("tags".into(), json!(tags));
    properties.insert("precision".into(), json!("high"));
    properties.insert(
        "problem.severity".into(),
        json!(problem_severity(m.severity)),
    );
    if let Some(s) = security {
        properties.insert("security-severity".into(), json!(s));
    }
    let mut d = Map::new();
    d.insert("id".into(), json!(m.id));
    d.insert("name".into(), json!(truncate(&m.name, MAX_NAME)));
    d.insert(
        "shortDescription".into(),
        json!({ "text": truncate(&m.title, MAX_DESCRIPTION) }),
    );
    d.insert(
        "fullDescription".into(),
        json!({ "text": truncate(&unwrap(&m.rationale), MAX_DESCRIPTION) }),
    );
    d.insert(
        "help".into(),
        json!({ "text": help_text(m), "markdown": help_markdown(m) }),
    );
    d.insert(
        "helpUri".into(),
        json!(rule_url(&m.id, std::slice::from_ref(m))),
    );
    d.insert(
        "defaultConfiguration".into(),
        json!({ "level": level(m.severity) }),
    );
    d.insert("properties".into(), Value::Object(properties));
    Value::Object(d)
}

/// What kubegate's own checks (not Rego rules) are about: `(title, description, tag)`.
fn internal(rule: &str) -> Option<(&'static str, &'static str, &'static str)> {
    crate::rule::core_rule(rule).map(|r| (r.title, r.description, r.tag))
}

/// The descriptor of a rule that is not built in: one of kubegate's own checks, or a user
/// policy rule (`<package>.<rule>`).
fn other_descriptor(id: &str, severity: Severity) -> Value {
    let (title, description, tag, precision) = match internal(id) {
        Some((t, d, tag)) => (t.to_owned(), d.to_owned(), tag, Some("very-high")),
        None => (
            format!("Policy rule {id}"),
            format!(
                "A finding of the rule `{id}` of a user policy (loaded with --policy, conftest conventions)."
            ),
            "policy",
            None,
        ),
    };
    let mut properties = Map::new();
    properties.insert("tags".into(), json!(["kubernetes", tag]));
    if let Some(p) = precision {
        properties.insert("precision".into(), json!(p));
    }
    properties.insert("problem.severity".into(), json!(problem_severity(severity)));
    let mut d = Map::new();
    d.insert("id".into(), json!(id));
    d.insert("name".into(), json!(truncate(id, MAX_NAME)));
    d.insert(
        "shortDescription".into(),
        json!({ "text": truncate(&title, MAX_DESCRIPTION) }),
    );
    d.insert(
        "fullDescription".into(),
        json!({ "text": truncate(&description, MAX_DESCRIPTION) }),
    );
    d.insert(
        "help".into(),
        json!({ "text": description, "markdown": description }),
    );
    if let Some(url) = rule_url(id, &[]) {
        d.insert("helpUri".into(), json!(url));
    }
    d.insert(
        "defaultConfiguration".into(),
        json!({ "level": level(severity) }),
    );
    d.insert("properties".into(), Value::Object(properties));
    Value::Object(d)
}

/// The rule's equivalents in other tools: (tool, id, `exact` or `partial: <note>`), then
/// the Pod Security Standards control.
fn equivalent_lines(m: &RuleMeta) -> Vec<(&'static str, String, Option<String>)> {
    let mut out = Vec::new();
    for tool in crate::rule::Tool::ALL {
        for e in m.equivalents.of(tool) {
            let how = match &e.note {
                Some(note) => format!("{}: {note}", e.exactness.as_str()),
                None => e.exactness.as_str().to_owned(),
            };
            out.push((tool.name(), e.id.clone(), Some(how)));
        }
    }
    if let Some(p) = &m.equivalents.pss {
        out.push(("Pod Security Standards", p.clone(), None));
    }
    out
}

fn help_text(m: &RuleMeta) -> String {
    let mut s = format!(
        "{}\n\nFix: {}",
        unwrap(&m.rationale),
        unwrap(&m.remediation)
    );
    let equivalents = equivalent_lines(m);
    if !equivalents.is_empty() {
        s.push_str("\n\nEquivalents:");
        for (tool, id, how) in equivalents {
            s.push_str(&format!("\n- {tool} {id}"));
            if let Some(how) = how {
                s.push_str(&format!(": {how}"));
            }
        }
    }
    if !m.references.is_empty() {
        s.push_str("\n\nReferences:");
        for r in &m.references {
            s.push_str("\n- ");
            s.push_str(r);
        }
    }
    s.push_str(&format!(
        "\n\nSuppress with the annotation kubegate.io/ignore: \"{} <reason>\"",
        m.id
    ));
    s
}

fn help_markdown(m: &RuleMeta) -> String {
    let mut s = format!(
        "**{}** ({}, {})\n\n{}\n\n**Fix.** {}",
        m.name, m.severity, m.category, m.rationale, m.remediation
    );
    let equivalents = equivalent_lines(m);
    if !equivalents.is_empty() {
        s.push_str("\n\n**Equivalents.**\n");
        for (tool, id, how) in equivalents {
            s.push_str(&format!("\n- {tool} `{id}`"));
            if let Some(how) = how {
                s.push_str(&format!(": {how}"));
            }
        }
    }
    if !m.references.is_empty() {
        s.push_str("\n\n**References.**\n");
        for r in &m.references {
            s.push_str(&format!("\n- <{r}>"));
        }
    }
    s.push_str(&format!(
        "\n\nSuppress with the annotation `kubegate.io/ignore: \"{} <reason>\"`.",
        m.id
    ));
    s
}

fn result(f: &Finding, fingerprint: &str, catalog: &Catalog) -> Value {
    let mut message = super::message(f).into_owned();
    if message.trim().is_empty() {
        // SARIF and GitHub need a non-empty message.
        message = f.rule.to_string();
    }
    if let Some(help) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let start_line = f.start.line.max(1);
    let start_column = f.start.column.max(1);
    let (end_line, end_column) = if (f.end.line, f.end.column) < (start_line, start_column) {
        (start_line, start_column)
    } else {
        (f.end.line, f.end.column.max(1))
    };
    let mut location = Map::new();
    location.insert(
        "physicalLocation".into(),
        json!({
            "artifactLocation": { "uri": uri(&super::repo_path(&f.file)), "uriBaseId": SRCROOT },
            "region": {
                "startLine": start_line,
                "startColumn": start_column,
                "endLine": end_line,
                "endColumn": end_column,
            }
        }),
    );
    if let Some(o) = &f.object {
        let mut props = Map::new();
        props.insert("apiVersion".into(), json!(o.api_version));
        props.insert("kind".into(), json!(o.kind));
        if let Some(ns) = &o.namespace {
            props.insert("namespace".into(), json!(ns));
        }
        if let Some(n) = &o.name {
            props.insert("name".into(), json!(n));
        }
        location.insert(
            "logicalLocations".into(),
            json!([{
                "name": o.name.as_deref().unwrap_or(&o.kind),
                "fullyQualifiedName": o.to_string(),
                "kind": "resource",
                "properties": props,
            }]),
        );
    }
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.rule));
    if let Some(&i) = catalog.index.get(&*f.rule) {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({ "text": message }));
    r.insert("locations".into(), json!([location]));
    r.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT_KEY: fingerprint }),
    );
    let mut props = Map::new();
    if let Some(d) = f.document {
        props.insert("document".into(), json!(d));
    }
    if let Some(p) = &f.path {
        props.insert("jsonPointer".into(), json!(p));
    }
    if !props.is_empty() {
        r.insert("properties".into(), Value::Object(props));
    }
    Value::Object(r)
}

/// A repository-relative path as a relative URI reference: RFC 3986 unreserved characters,
/// sub-delimiters, `@` and `/` stay; everything else (spaces, `%`, `:`, `#`, `?`, non-ASCII
/// bytes, ...) is percent-encoded, so the path cannot be read as a scheme, query or fragment.
pub fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// At most `max` characters of `s`, ending with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Hard-wrapped text as plain paragraphs: single line breaks become spaces, blank lines stay.
fn unwrap(s: &str) -> String {
    s.split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::finding::Position;

    fn finding(line: u32, severity: Severity) -> Finding {
        Finding {
            rule: "schema-type".into(),
            severity,
            message: format!("m{line}"),
            file: "a.yaml".into(),
            start: Position { line, column: 1 },
            end: Position { line, column: 3 },
            byte_start: 0,
            byte_end: 0,
            document: Some(0),
            object: None,
            path: Some(format!("/x/{line}")),
            help: None,
            rendered: Vec::new(),
        }
    }

    #[test]
    fn the_cap_keeps_the_most_severe_in_report_order() {
        let severities = [
            Severity::Info,
            Severity::Error,
            Severity::Warning,
            Severity::Error,
            Severity::Info,
            Severity::Warning,
        ];
        let findings: Vec<Finding> = severities
            .iter()
            .enumerate()
            .map(|(i, &s)| finding(i as u32 + 1, s))
            .collect();
        assert_eq!(most_severe(&findings, 3), vec![1, 2, 3]);
        assert_eq!(most_severe(&findings, 10), (0..6).collect::<Vec<_>>());
        let outcome = Outcome {
            findings,
            ..Outcome::default()
        };
        let cx = Context {
            outcome: &outcome,
            kubernetes_version: None,
            color: false,
            rules: &[],
            changes: None,
            on_change: None,
        };
        let log = log(&cx, 3);
        let run = &log["runs"][0];
        let lines: Vec<u64> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert_eq!(run["properties"]["omittedResults"], 3);
        let note = &run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"];
        assert!(
            note.as_str()
                .unwrap()
                .starts_with("3 of 6 findings were left out")
        );
    }

    #[test]
    fn uris_are_percent_encoded_relative_references() {
        assert_eq!(uri("apps/web.yaml"), "apps/web.yaml");
        assert_eq!(uri("a b/c:d,e%f#g?.yaml"), "a%20b/c%3Ad,e%25f%23g%3F.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(uri("é.yaml"), "%C3%A9.yaml");
    }

    #[test]
    fn descriptions_are_cut_to_the_limit_in_characters() {
        let long = "é".repeat(2000);
        let t = truncate(&long, MAX_DESCRIPTION);
        assert_eq!(t.chars().count(), MAX_DESCRIPTION);
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(unwrap("a\nb\n\nc\nd"), "a b\n\nc d");
    }
}
