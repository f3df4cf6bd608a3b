//! Stage 5: renderers. Each format is one file; renderers only render what the checks found.

pub mod concise;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod rdjson;
pub mod sarif;

use std::io::{self, Write};

use crate::check::Outcome;
use crate::finding::{Finding, Severity};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style snippets with the offending line (the default in a terminal)
    Human,
    /// One line per finding: `file:line:col: severity[rule] message`
    Concise,
    /// A versioned JSON document (see the README)
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request's lines
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers
    Sarif,
    /// GitLab Code Quality report (a JSON array of Code Climate issues)
    Gitlab,
    /// JUnit XML, for GitLab, Jenkins and other CI test reports
    Junit,
    /// reviewdog's Diagnostic Format (rdjson)
    Rdjson,
    /// Markdown: the merge request's change summary (objects, RBAC grants) and findings
    Markdown,
}

impl Format {
    /// The name used on the command line (`--format sarif`, `--output sarif=FILE`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Concise => "concise",
            Format::Json => "json",
            Format::Github => "github",
            Format::Sarif => "sarif",
            Format::Gitlab => "gitlab",
            Format::Junit => "junit",
            Format::Rdjson => "rdjson",
            Format::Markdown => "markdown",
        }
    }

    /// Every format, for parsing `FORMAT=FILE`.
    pub const ALL: [Format; 9] = [
        Format::Human,
        Format::Concise,
        Format::Json,
        Format::Github,
        Format::Sarif,
        Format::Gitlab,
        Format::Junit,
        Format::Rdjson,
        Format::Markdown,
    ];
}

/// What every renderer gets.
pub struct Context<'a> {
    pub outcome: &'a Outcome,
    pub kubernetes_version: Option<&'a str>,
    pub color: bool,
    /// Metadata of every built-in rule (for rule descriptions and help in SARIF and the
    /// job summary); findings of other rules (schema, user policies) have none.
    pub rules: &'a [crate::rule::RuleMeta],
    /// What the merge request changes (objects and RBAC grants), when its base is known.
    pub changes: Option<&'a crate::changes::ChangeSummary>,
    /// Per finding (in report order), whether it touches a line the merge request added or
    /// modified, when the merge request is known.
    pub on_change: Option<&'a [bool]>,
}

/// What a finding of a change rule says the merge does to the cluster; `None` for a finding
/// that is not about the change (a built-in change rule's effect, kubegate's own checks of
/// the change, the user's change policies).
pub fn change_effect(cx: &Context<'_>, f: &Finding) -> Option<crate::rule::Effect> {
    use crate::rule::Effect;
    if let Some(r) = cx.rules.iter().find(|r| r.id == f.rule) {
        return r.effect;
    }
    match &*f.rule {
        "rbac-rights-gained" | "change-duplicate-object" | "change-base-unreadable" => {
            Some(Effect::Risky)
        }
        rule => {
            let (_, name) = rule.rsplit_once('.')?;
            let query = crate::policy::user::Query {
                package: String::new(),
                rule: name.to_owned(),
            };
            query.is_change().then_some(Effect::Risky)
        }
    }
}

/// Finding counts by severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

impl Counts {
    pub fn of(outcome: &Outcome) -> Self {
        let mut c = Counts::default();
        for f in &outcome.findings {
            match f.severity {
                Severity::Error => c.error += 1,
                Severity::Warning => c.warning += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }
}

pub fn render(format: Format, cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => human::render(cx, out),
        Format::Concise => concise::render(cx, out),
        Format::Json => json::render(cx, out),
        Format::Github => github::render(cx, out),
        Format::Sarif => sarif::render(cx, out),
        Format::Gitlab => gitlab::render(cx, out),
        Format::Junit => junit::render(cx, out),
        Format::Rdjson => rdjson::render(cx, out),
        Format::Markdown => markdown::render(cx, out),
    }
}

/// The message a report shows: the finding's, and, for a rendered object, the
/// kustomizations whose output holds it (`in overlays/prod, overlays/staging`).
pub fn message(f: &crate::finding::Finding) -> std::borrow::Cow<'_, str> {
    if f.rendered.is_empty() {
        return f.message.as_str().into();
    }
    let roots: Vec<&str> = f.rendered.iter().map(|r| &**r).collect();
    format!("{} (rendered in {})", f.message, roots.join(", ")).into()
}

/// A finding's file as a repository-relative path with `/` separators, for the machine
/// formats: no leading `./`, and an absolute path under the project directory
/// (`CI_PROJECT_DIR`, `GITHUB_WORKSPACE`, else the working directory) made relative to it.
pub fn repo_path(file: &str) -> String {
    let mut p = file.replace('\\', "/");
    if p.starts_with('/') {
        let roots = [
            std::env::var("CI_PROJECT_DIR").ok(),
            std::env::var("GITHUB_WORKSPACE").ok(),
            std::env::current_dir()
                .ok()
                .map(|d| d.to_string_lossy().into_owned()),
        ];
        for root in roots.into_iter().flatten() {
            let root = root.replace('\\', "/");
            let root = root.trim_end_matches('/');
            if let Some(rest) = p.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
                p = rest.to_owned();
                break;
            }
        }
    }
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_owned();
    }
    p
}

/// Stable fingerprints of the findings, in order: a SHA-256 (hex) of the rule, the
/// repository-relative path, the object's identity and the JSON path of the field (the
/// message and document index where there is no path), never the line, so a finding keeps
/// its fingerprint when lines above it move. Findings that would share one get an
/// occurrence number in report order, so fingerprints are unique within a run.
pub fn fingerprints(findings: &[crate::finding::Finding]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    findings
        .iter()
        .map(|f| {
            let mut h = Sha256::new();
            let mut field = |s: &str| {
                h.update(s.len().to_le_bytes());
                h.update(s.as_bytes());
            };
            field("kubegate-fingerprint-v1");
            field(&f.rule);
            field(&repo_path(&f.file));
            if let Some(o) = &f.object {
                field(&o.api_version);
                field(&o.kind);
                field(o.namespace.as_deref().unwrap_or(""));
                field(o.name.as_deref().unwrap_or(""));
            }
            match &f.path {
                Some(p) => field(p),
                None => {
                    field(&f.message);
                    field(&f.document.map_or(String::new(), |d| d.to_string()));
                }
            }
            let base: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            if *n == 1 { base } else { format!("{base}-{n}") }
        })
        .collect()
}

/// Makes untrusted text safe for a terminal: control characters (ANSI escapes, carriage
/// returns, ...) become `?`, one byte for one byte, so byte offsets into it stay valid.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(|c| c.is_control() && c != '\t' && c != '\n') {
        s.chars()
            .map(|c| {
                if c.is_control() && c != '\t' && c != '\n' {
                    // Multi-byte controls (C1, U+0080..U+009F) are 2 bytes: keep the width.
                    "?".repeat(c.len_utf8())
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// One-line form of untrusted text (no line breaks at all).
pub fn one_line(s: &str) -> String {
    terminal_safe(s).replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, ObjectRef, Position};

    fn finding(line: u32, path: Option<&str>) -> Finding {
        let at = Position { line, column: 3 };
        Finding {
            rule: "KG101".into(),
            severity: Severity::Error,
            message: format!("container runs privileged (line {line})"),
            file: "./deploy/web.yaml".into(),
            start: at,
            end: at,
            byte_start: 0,
            byte_end: 0,
            document: Some(0),
            object: Some(ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: Some("web".into()),
            }),
            path: path.map(str::to_owned),
            help: None,
            rendered: Vec::new(),
        }
    }

    #[test]
    fn paths_are_repository_relative() {
        assert_eq!(repo_path("./deploy/web.yaml"), "deploy/web.yaml");
        assert_eq!(repo_path("deploy\\web.yaml"), "deploy/web.yaml");
        let cwd = std::env::current_dir().unwrap();
        let abs = format!("{}/deploy/web.yaml", cwd.display());
        assert_eq!(repo_path(&abs), "deploy/web.yaml");
    }

    #[test]
    fn fingerprints_ignore_lines_and_are_unique() {
        let p = "/spec/template/spec/containers/0/securityContext/privileged";
        let a = fingerprints(&[finding(10, Some(p))]);
        let moved = fingerprints(&[finding(42, Some(p))]);
        assert_eq!(a, moved, "a finding that moved keeps its fingerprint");
        let other = fingerprints(&[finding(10, Some("/spec/replicas"))]);
        assert_ne!(a, other);
        let twice = fingerprints(&[finding(10, Some(p)), finding(11, Some(p))]);
        assert_ne!(twice[0], twice[1], "fingerprints are unique within a run");
        assert_eq!(twice[0], a[0]);
        assert_eq!(a[0].len(), 64);
    }
}
