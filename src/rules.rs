//! `kubegate rules` and `kubegate explain`: the built-in rules and their metadata.

use std::fmt::Write as _;

use crate::cli::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, RulesFormat};
use crate::policy::{self, RuleMeta};
use crate::rule::{Equivalent, Tool};

fn load() -> anyhow::Result<Vec<RuleMeta>> {
    policy::rules().map_err(|e| anyhow::anyhow!("built-in rules: {e}"))
}

pub fn list(format: RulesFormat) -> anyhow::Result<u8> {
    let rules = load()?;
    let out = match format {
        RulesFormat::Text => {
            let mut s = String::new();
            for r in &rules {
                writeln!(
                    s,
                    "{:<6} {:<8} {:<40} {}",
                    r.id,
                    r.severity.as_str(),
                    r.name,
                    r.title
                )?;
            }
            s
        }
        RulesFormat::Json => serde_json::to_string_pretty(&rules)? + "\n",
        RulesFormat::Markdown => markdown(&rules),
    };
    print!("{out}");
    Ok(EXIT_CLEAN)
}

/// `kubegate rules --admission PATH…`: the admission policies found in the YAML and JSON
/// files under `paths` (as `kubegate check` finds them: ignore files honoured), each with its
/// rule id, engine and place, then what keeps any of them from running. Exit 0, or 1 when a
/// policy has a problem the cluster would refuse (`admission-invalid`).
pub fn admission(paths: &[std::path::PathBuf], format: RulesFormat) -> anyhow::Result<u8> {
    let limits = crate::parse::Limits::default();
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
        for p in crate::check::admission::manifest_files(path, true) {
            let Ok(bytes) = crate::read::read(&p, limits.max_file_size) else {
                continue;
            };
            let shown = p.to_string_lossy().replace('\\', "/");
            files.extend(crate::check::admission::PolicyFile::new(
                shown.strip_prefix("./").unwrap_or(&shown),
                &bytes,
                crate::parse::Reader::Kubectl,
            ));
        }
    }
    let listed = crate::check::admission::list(&files, &limits);
    let out = match format {
        RulesFormat::Json => {
            let policies: Vec<serde_json::Value> = listed
                .policies
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "rule": p.rule, "engine": p.engine, "file": &*p.file, "line": p.line,
                    })
                })
                .collect();
            let problems: Vec<serde_json::Value> = listed
                .problems
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "rule": f.rule, "severity": f.severity, "message": f.message,
                        "file": &*f.file, "line": f.start.line,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "policies": policies, "problems": problems,
            }))? + "\n"
        }
        RulesFormat::Text | RulesFormat::Markdown => {
            let mut s = String::new();
            for p in &listed.policies {
                writeln!(
                    s,
                    "{:<56} {:<26} {}:{}",
                    crate::report::one_line(&p.rule),
                    p.engine,
                    crate::report::one_line(&p.file),
                    p.line
                )?;
            }
            for f in &listed.problems {
                writeln!(
                    s,
                    "{}:{}: {}[{}] {}",
                    crate::report::one_line(&f.file),
                    f.start.line,
                    f.severity,
                    f.rule,
                    crate::report::one_line(&f.message)
                )?;
            }
            s
        }
    };
    print!("{out}");
    if listed.policies.is_empty() && listed.problems.is_empty() {
        crate::cli::diag("kubegate: no admission policy found");
    }
    let invalid = listed
        .problems
        .iter()
        .any(|f| f.rule == "admission-invalid");
    Ok(if invalid { EXIT_FINDINGS } else { EXIT_CLEAN })
}

/// `kubegate rules --equivalent ID`: the rules covering the check `id` of a peer tool, with
/// how closely. Exit 0 when one does, 1 when none does.
pub fn equivalent(id: &str, format: RulesFormat) -> anyhow::Result<u8> {
    let rules = load()?;
    let found = covering(&rules, id.trim());
    if found.is_empty() {
        crate::cli::diag(&format!(
            "kubegate: no built-in rule covers `{id}` (no checkov, kube-linter or trivy check \
             of that id is listed as an equivalent; see docs/migration.md)"
        ));
        return Ok(EXIT_FINDINGS);
    }
    let out = match format {
        RulesFormat::Json => {
            let list: Vec<serde_json::Value> = found
                .iter()
                .map(|(r, tool, e)| {
                    serde_json::json!({
                        "tool": tool.name(),
                        "id": e.id,
                        "match": e.exactness,
                        "note": e.note,
                        "rule": r.id,
                        "name": r.name,
                        "title": r.title,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list)? + "\n"
        }
        RulesFormat::Text | RulesFormat::Markdown => {
            let mut s = String::new();
            for (r, tool, e) in &found {
                write!(
                    s,
                    "{} {}: {} {} ({}): {}",
                    tool.name(),
                    e.id,
                    e.exactness.as_str(),
                    r.id,
                    r.name,
                    r.title
                )?;
                if let Some(note) = &e.note {
                    write!(s, "\n  differs: {note}")?;
                }
                s.push('\n');
            }
            s
        }
    };
    print!("{out}");
    Ok(EXIT_CLEAN)
}

/// Every (rule, tool, equivalent) whose equivalent is the peer check `id`, in rule order.
pub fn covering<'a>(rules: &'a [RuleMeta], id: &str) -> Vec<(&'a RuleMeta, Tool, &'a Equivalent)> {
    let mut out = Vec::new();
    for r in rules {
        for tool in Tool::ALL {
            if let Some(e) = r.equivalents.find(tool, id) {
                out.push((r, tool, e));
            }
        }
    }
    out
}

pub fn explain(key: &str) -> anyhow::Result<u8> {
    let rules = load()?;
    let Some(r) = policy::find(&rules, key) else {
        crate::cli::diag(&format!(
            "kubegate: error: no built-in rule `{key}` (see `kubegate rules`)"
        ));
        return Ok(EXIT_ERROR);
    };
    print!("{}", explain_text(r));
    Ok(EXIT_CLEAN)
}

/// Says when a rule compares the objects of the whole run rather than looking at one, or
/// judges what a merge request does to an object (and what that does to the cluster).
fn scope_note(r: &RuleMeta) -> String {
    match (r.scope, r.effect) {
        (crate::policy::Scope::Object, _) => String::new(),
        (crate::policy::Scope::Inventory, _) => " (compared across all objects of the run)".into(),
        (crate::policy::Scope::Change, effect) => format!(
            " (compares the merge request's base with its head, under --base{})",
            effect.map_or(String::new(), |e| format!(
                "; {}",
                e.heading().to_lowercase()
            ))
        ),
    }
}

fn explain_text(r: &RuleMeta) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {}: {}", r.id, r.name, r.title);
    let _ = writeln!(
        s,
        "severity: {}    category: {}    applies to: {}{}",
        r.severity,
        r.category,
        r.kinds.join(", "),
        scope_note(r)
    );
    let _ = writeln!(s, "\nWhy\n{}", indent(&r.rationale));
    let _ = writeln!(s, "\nFix\n{}", indent(&r.remediation));
    let eq = equivalents(r);
    if !eq.is_empty() {
        let _ = writeln!(s, "\nEquivalents\n{}", indent(&eq.join("\n")));
    }
    let _ = writeln!(s, "\nReferences\n{}", indent(&r.references.join("\n")));
    let _ = writeln!(
        s,
        "\nSuppress with the annotation kubegate.io/ignore: \"{} <reason>\"{}",
        r.id,
        if r.scope == crate::policy::Scope::Change {
            " (on a deleted object: at the base)"
        } else {
            ""
        }
    );
    s
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rule's equivalents in other tools, one line per peer check
/// (`checkov CKV_K8S_37: partial: <note>`), then its Pod Security Standards control.
pub fn equivalents(r: &RuleMeta) -> Vec<String> {
    let mut out = Vec::new();
    for tool in Tool::ALL {
        for e in r.equivalents.of(tool) {
            let mut line = format!("{} {}: {}", tool.name(), e.id, e.exactness.as_str());
            if let Some(note) = &e.note {
                line.push_str(": ");
                line.push_str(note);
            }
            out.push(line);
        }
    }
    if let Some(p) = &r.equivalents.pss {
        out.push(format!("Pod Security Standards: {p}"));
    }
    out
}

/// The table of rules (id, name, severity, title), linking each id to `base#id`.
pub fn table(rules: &[RuleMeta], base: &str) -> String {
    let mut s = String::from("| id | name | severity | what it checks |\n|---|---|---|---|\n");
    for r in rules {
        let _ = writeln!(
            s,
            "| [{}]({base}#{}) | `{}` | {} | {} |",
            r.id,
            r.id.to_lowercase(),
            r.name,
            r.severity,
            r.title
        );
    }
    s
}

/// The rules reference, `docs/rules.md` (a test checks it is current).
pub fn markdown(rules: &[RuleMeta]) -> String {
    let mut s = String::from(
        "# Built-in rules\n\n<!-- Generated by `kubegate rules --format markdown`; do not edit. -->\n\n",
    );
    s.push_str(&table(rules, ""));
    for r in rules {
        let _ = writeln!(s, "\n## {}\n\n**`{}`**: {}  ", r.id, r.name, r.title);
        let _ = writeln!(
            s,
            "Severity: {} · Category: {} · Applies to: {}{} · Source: `policies/{}`\n",
            r.severity,
            r.category,
            r.kinds.join(", "),
            scope_note(r),
            r.file
        );
        let _ = writeln!(s, "{}\n\n**Fix.** {}\n", r.rationale, r.remediation);
        let eq = equivalents(r);
        if !eq.is_empty() {
            let _ = writeln!(s, "**Equivalents.**\n");
            for line in eq {
                let _ = writeln!(s, "- {line}");
            }
            s.push('\n');
        }
        let refs: Vec<String> = r.references.iter().map(|u| format!("<{u}>")).collect();
        let _ = writeln!(s, "**References.** {}", refs.join(", "));
    }
    s
}
