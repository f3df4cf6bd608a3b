//! The `gitlab` format: a GitLab Code Quality report, a JSON array of Code Climate issues
//! (`[]` when there is no finding), for `artifacts:reports:codequality`.
//!
//! GitLab drops the first invalid element and every one after it, and keys issues by
//! `fingerprint`, so every element carries the fields its schema requires and fingerprints
//! are unique within the report and do not depend on line numbers ([`super::fingerprints`]).
//!
//! Severities: `error` is `critical` (it fails the gate by default), `warning` is `minor`
//! and `info` is `info`; `major` and `blocker` are not used. The description starts with the
//! rule id, since GitLab's widget does not show `check_name`. `location.path` is relative to
//! the repository (`CI_PROJECT_DIR` when set); `location.lines` holds the first and last
//! line (GitLab shows no column).

use std::io::{self, Write};

use serde::Serialize;

use super::Context;
use crate::finding::{Finding, Severity};

#[derive(Serialize)]
struct Issue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    check_name: &'a str,
    description: String,
    categories: [&'static str; 1],
    severity: &'static str,
    fingerprint: &'a str,
    location: Location,
    engine_name: &'static str,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
    end: u32,
}

/// Code Quality severity of a finding's severity.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

/// The Code Climate category of a rule: `Security` for built-in rules about attack surface
/// (the same categories that get a SARIF `security-severity`), `Compatibility` for
/// `removed-api` and `no-schema`, `Style` for `unused-suppression`, else `Bug Risk` (a
/// manifest the API server rejects, or a workload that misbehaves).
fn category(rule: &str, cx: &Context<'_>) -> &'static str {
    if let Some(m) = cx.rules.iter().find(|m| m.id == rule) {
        return if super::sarif::security_severity(m).is_some() {
            "Security"
        } else {
            "Bug Risk"
        };
    }
    match rule {
        "removed-api" | "no-schema" => "Compatibility",
        "unused-suppression" => "Style",
        _ => "Bug Risk",
    }
}

fn issue<'a>(f: &'a Finding, fingerprint: &'a str, cx: &Context<'_>) -> Issue<'a> {
    let begin = f.start.line.max(1);
    // A region that ends at the start of a line (after a line break) ends on the line before.
    let end = if f.end.column <= 1 && f.end.line > begin {
        f.end.line - 1
    } else {
        f.end.line
    };
    Issue {
        kind: "issue",
        check_name: &f.rule,
        description: format!("{}: {}", f.rule, super::message(f)),
        categories: [category(&f.rule, cx)],
        severity: severity(f.severity),
        fingerprint,
        location: Location {
            path: super::repo_path(&f.file),
            lines: Lines {
                begin,
                end: end.max(begin),
            },
        },
        engine_name: env!("CARGO_PKG_NAME"),
    }
}

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let findings = &cx.outcome.findings;
    let fingerprints = super::fingerprints(findings);
    let issues: Vec<Issue<'_>> = findings
        .iter()
        .zip(&fingerprints)
        .map(|(f, fp)| issue(f, fp, cx))
        .collect();
    serde_json::to_writer_pretty(&mut *out, &issues)?;
    writeln!(out)
}
