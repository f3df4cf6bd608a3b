//! The `github` format: GitHub Actions workflow commands (`::error file=…,line=…::message`),
//! which the runner turns into annotations on the pull request's lines, and the Markdown job
//! summary written to `$GITHUB_STEP_SUMMARY`.
//!
//! # Untrusted text
//!
//! Messages, file names and rule ids come from the merge request under review (manifests,
//! user policies), so the runner must never read them as commands. The runner reads commands
//! from every line of standard output *and* standard error (a line ends at `\n` or `\r`):
//!
//! - a line that, after leading whitespace, starts with `::` is a command;
//! - `##[name …]data` *anywhere* in a line is a legacy command, tried when the first fails.
//!
//! We use neutralisation, not `::stop-commands::<token>`: our own annotations must stay live,
//! and neutralising keeps the output deterministic (no random token per run).
//!
//! 1. Every value goes through the toolkit's escaping ([`escape_property`], [`escape_data`]), so
//!    each annotation is one physical line that starts with our `::error`/`::warning`/
//!    `::notice` and whose properties hold no `:` or `,`.
//! 2. Every `##[` in untrusted text becomes `#`, U+2060 WORD JOINER, `#[` ([`neutralise`]).
//!    GitHub defines no escape for `#`, so an invisible character is the least visible change.
//!    It is robust even though the runner's `IndexOf("##[")` is culture-sensitive (ICU ignores
//!    U+2060 and may match `#⁠#[`): the command name is read from a fixed offset of 3 after the
//!    match, which then lands on or before the `[`, and no command name contains `[`.
//! 3. Control characters other than tab, `\r` and `\n` (ANSI escapes, NUL, …) and the bidi
//!    overrides that can reorder what a reviewer sees become U+FFFD.
//!
//! A decoder that undoes the escaping in the runner's order (`%0D`, `%0A`, `%3A`, `%2C`, `%25`)
//! gets back the original text with only these substitutions (and the message truncated to
//! 4096 UTF-16 units, the runner's limit, with a trailing `…`).
//!
//! Other reports printed to the runner's log (the human report next to the annotations) go
//! through [`neutralise_log`], which also breaks lines that would start with `::`.
//!
//! # Limits
//!
//! The runner turns at most 10 errors, 10 warnings and 10 notices of one step into
//! annotations. We print at most that many per type, chosen by [`rank`], then one
//! `::notice::` that counts the rest; the job summary lists every finding.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Context, Counts, repo_path};
use crate::finding::{Finding, Severity};

/// Annotations the runner keeps per type (error, warning, notice) and step.
pub const MAX_PER_TYPE: usize = 10;

/// The runner truncates an annotation's message to 4096 UTF-16 code units
/// (`ExecutionContext._maxIssueMessageLength`); we truncate first, with an ellipsis.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// What we allow ourselves in `$GITHUB_STEP_SUMMARY` (GitHub rejects a step's summary over
/// 1 MiB), counting what earlier commands of the step already wrote there.
pub const SUMMARY_BUDGET: usize = 900 * 1024;

/// Longest message (in characters) in one row of the summary's table.
const SUMMARY_MESSAGE_CHARS: usize = 1000;

/// Replaces `##[`: `#`, WORD JOINER, `#[`.
const BROKEN_LEGACY_PREFIX: &str = "#\u{2060}#[";

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let findings = &cx.outcome.findings;
    // On a merge request, findings on the lines it touches first: GitHub shows annotations
    // inline only on lines of the diff.
    let chosen = select(findings, |i, f| {
        let off_change = cx
            .on_change
            .is_some_and(|c| !c.get(i).copied().unwrap_or(false));
        (off_change, rank(i, f))
    });
    for (f, shown) in findings.iter().zip(&chosen.shown) {
        if *shown {
            writeln!(out, "{}", annotation(cx, f))?;
        }
    }
    let left_out = chosen.omitted.error + chosen.omitted.warning + chosen.omitted.info;
    if left_out > 0 {
        let summary = std::env::var_os("GITHUB_STEP_SUMMARY").is_some_and(|p| !p.is_empty());
        writeln!(
            out,
            "::notice::{}",
            escape_data(&omitted_text(chosen.omitted, findings.len(), summary))
        )?;
    }
    Ok(())
}

/// How a finding competes for the few annotation slots of its type: lower ranks first.
///
/// Severity, then report order (`index`, the position in the sorted findings), so the choice
/// is deterministic. [`render`] puts findings on the merge request's changed lines before
/// these keys when the merge request is known.
pub fn rank(index: usize, f: &Finding) -> (Reverse<Severity>, usize) {
    (Reverse(f.severity), index)
}

/// Which findings become annotations.
#[derive(Debug, PartialEq, Eq)]
pub struct Selection {
    /// One flag per finding, in report order.
    pub shown: Vec<bool>,
    /// What is left out, by severity.
    pub omitted: Counts,
}

/// Chooses at most [`MAX_PER_TYPE`] findings per annotation type, the lowest `rank` first.
/// When any finding is left out, notices get one slot less: the last one is for the notice
/// that says how many were left out, which must itself become an annotation.
pub fn select<K: Ord>(findings: &[Finding], rank: impl Fn(usize, &Finding) -> K) -> Selection {
    let total = counts_of(findings);
    let over =
        total.error > MAX_PER_TYPE || total.warning > MAX_PER_TYPE || total.info > MAX_PER_TYPE;
    let mut shown = vec![false; findings.len()];
    let mut omitted = Counts::default();
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let cap = if over && severity == Severity::Info {
            MAX_PER_TYPE - 1
        } else {
            MAX_PER_TYPE
        };
        let mut of_type: Vec<(K, usize)> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity == severity)
            .map(|(i, f)| (rank(i, f), i))
            .collect();
        of_type.sort();
        for (_, i) in of_type.iter().take(cap) {
            shown[*i] = true;
        }
        let left = of_type.len().saturating_sub(cap);
        match severity {
            Severity::Error => omitted.error = left,
            Severity::Warning => omitted.warning = left,
            Severity::Info => omitted.info = left,
        }
    }
    Selection { shown, omitted }
}

/// Finding counts by severity, of a slice.
fn counts_of(findings: &[Finding]) -> Counts {
    let mut c = Counts::default();
    for f in findings {
        match f.severity {
            Severity::Error => c.error += 1,
            Severity::Warning => c.warning += 1,
            Severity::Info => c.info += 1,
        }
    }
    c
}

/// `["3 errors", "1 warning"]`: the non-zero counts, most severe first.
fn severity_counts(c: Counts) -> Vec<String> {
    [
        (c.error, "error", "errors"),
        (c.warning, "warning", "warnings"),
        (c.info, "info", "infos"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect()
}

fn omitted_text(omitted: Counts, total: usize, summary: bool) -> String {
    let n = omitted.error + omitted.warning + omitted.info;
    let parts = severity_counts(omitted);
    let rest = if summary {
        format!("the job summary lists all {total}.")
    } else {
        "run with --format concise, or --output sarif=FILE, for the full list.".to_owned()
    };
    format!(
        "kubegate: {} not shown as annotations ({}); GitHub shows at most {MAX_PER_TYPE} per type and step, {rest}",
        plural(n, "finding", "findings"),
        parts.join(", "),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The workflow command for a severity.
pub fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// One finding as one workflow-command line (without the line break).
///
/// `line`/`endLine` always (when the finding has a line); `col`/`endColumn` only when the
/// finding starts and ends on the same line, since the runner drops them otherwise.
/// `endColumn` is our exclusive end column (the column after the last character), as ruff
/// passes it and as in SARIF: GitHub does not say whether it is inclusive (github/docs#40038,
/// closed unanswered), and it is never less than `col`, so the runner never drops it.
pub fn annotation(cx: &Context<'_>, f: &Finding) -> String {
    let path = repo_path(&f.file);
    let start = f.start;
    let end = f.end.max(start);
    let mut line = format!(
        "::{} file={}",
        command(f.severity),
        escape_property(&neutralise(&path))
    );
    if start.line >= 1 {
        let _ = write!(line, ",line={},endLine={}", start.line, end.line);
        if end.line == start.line && start.column >= 1 {
            let _ = write!(line, ",col={},endColumn={}", start.column, end.column);
        }
    }
    let _ = write!(
        line,
        ",title={}::{}",
        escape_property(&neutralise(&title(cx, f))),
        escape_data(&message(f, &path))
    );
    line
}

/// The rule id, and the rule's name where it is a built-in rule: `KG101 privileged-container`.
pub fn title(cx: &Context<'_>, f: &Finding) -> String {
    match cx.rules.iter().find(|r| r.id == f.rule) {
        Some(r) => format!("{} {}", r.id, r.name),
        None => f.rule.to_string(),
    }
}

/// The annotation's text: `path:line:col: rule message`, then the help, neutralised and
/// truncated. The location is repeated because the raw log shows only the text.
fn message(f: &Finding, path: &str) -> String {
    let mut s = String::new();
    if f.start.line >= 1 {
        let _ = write!(s, "{path}:{}:{}: ", f.start.line, f.start.column.max(1));
    } else {
        let _ = write!(s, "{path}: ");
    }
    let _ = write!(s, "{} {}", f.rule, super::message(f));
    if let Some(help) = &f.help {
        let _ = write!(s, "\nhelp: {help}");
    }
    truncate_utf16(&neutralise(&s), MAX_MESSAGE_UTF16).into_owned()
}

/// `s` cut to at most `max` UTF-16 code units, ending in `…` when cut.
pub fn truncate_utf16(s: &str, max: usize) -> Cow<'_, str> {
    if s.encode_utf16().count() <= max {
        return s.into();
    }
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        // Keep one unit for the ellipsis.
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    format!("{}…", &s[..end]).into()
}

/// The toolkit's `escapeData`: the message after `::`. `%` first, so a literal `%0A` in the
/// text stays text.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The toolkit's `escapeProperty`: a value of `file=`, `title=`, …
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Untrusted text made safe to print inside a workflow command (before escaping): no `##[`,
/// no control characters but tab, `\r` and `\n`, no bidi overrides. Everything else is kept.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    if !s.contains("##[") && !s.chars().any(unsafe_char) {
        return s.into();
    }
    let cleaned: String = s
        .chars()
        .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
        .collect();
    cleaned.replace("##[", BROKEN_LEGACY_PREFIX).into()
}

/// Control characters (other than tab and line breaks, which escaping handles) and the
/// bidirectional embeddings, overrides and isolates ("Trojan Source").
fn unsafe_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Makes any text printed to a GitHub Actions log inert: every `##[` is broken (as in
/// [`neutralise`]), and every line (ended by `\n` or `\r`, as the runner splits them) that
/// would start with `::` after leading whitespace gets a WORD JOINER before the `::`. The
/// runner takes the command name from a fixed offset after a leading `::`, so one character
/// in front is enough even where its comparison ignores the joiner. Nothing else changes.
pub fn neutralise_log(text: &str) -> Cow<'_, str> {
    let starts_command = |piece: &str| piece.trim_start().starts_with("::");
    if !text.contains("##[") && !text.split(['\n', '\r']).any(starts_command) {
        return text.into();
    }
    let text = text.replace("##[", BROKEN_LEGACY_PREFIX);
    let mut out = String::with_capacity(text.len() + 16);
    for piece in text.split_inclusive(['\n', '\r']) {
        if starts_command(piece) {
            let trimmed = piece.trim_start();
            out.push_str(&piece[..piece.len() - trimmed.len()]);
            out.push('\u{2060}');
            out.push_str(trimmed);
        } else {
            out.push_str(piece);
        }
    }
    out.into()
}

// ---------------------------------------------------------------------------------------
// Job summary
// ---------------------------------------------------------------------------------------

/// Appends the Markdown job summary to `path` (`$GITHUB_STEP_SUMMARY`), keeping the file
/// within [`SUMMARY_BUDGET`] bytes including what is already there.
pub fn write_summary(cx: &Context<'_>, path: &std::path::Path) -> io::Result<()> {
    let existing = std::fs::metadata(path).map_or(0, |m| m.len());
    let budget = SUMMARY_BUDGET.saturating_sub(usize::try_from(existing).unwrap_or(usize::MAX));
    let mut text = summary(cx, Links::from_env().as_ref(), budget);
    if let Some(changes) = cx.changes {
        let mut more = Vec::new();
        super::markdown::render_changes(changes, &mut more)?;
        if text.len() + more.len() <= budget {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&more));
        }
    }
    let mut fetched = Vec::new();
    super::markdown::render_fetched(&cx.outcome.fetched, &mut fetched)?;
    if text.len() + fetched.len() <= budget {
        text.push_str(&String::from_utf8_lossy(&fetched));
    }
    if existing > 0 {
        // Whatever was there, our heading starts a block of its own.
        text.insert(0, '\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Where findings link to: `{server}/{repository}/blob/{sha}/{path}#L{line}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// `{server}/{repository}/blob/{sha}`, checked and encoded.
    base: String,
}

impl Links {
    /// From `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_SHA`; none when one is
    /// missing or malformed.
    pub fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self::new(
            &var("GITHUB_SERVER_URL")?,
            &var("GITHUB_REPOSITORY")?,
            &var("GITHUB_SHA")?,
        )
    }

    pub fn new(server: &str, repository: &str, sha: &str) -> Option<Self> {
        let server = server.trim_end_matches('/');
        let url_safe = |c: char| c.is_ascii_alphanumeric() || "-._~:/%".contains(c);
        let server_ok = (server.starts_with("https://") || server.starts_with("http://"))
            && server.chars().all(url_safe);
        let repo_ok = !repository.is_empty()
            && repository
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._/".contains(c));
        let sha_ok = !sha.is_empty() && sha.chars().all(|c| c.is_ascii_hexdigit());
        (server_ok && repo_ok && sha_ok).then(|| Links {
            base: format!("{server}/{repository}/blob/{sha}"),
        })
    }

    /// The link to a finding, or none for a path outside the repository (or stdin).
    fn to(&self, path: &str, f: &Finding) -> Option<String> {
        let inside = !path.is_empty()
            && !path.starts_with('/')
            && !path.starts_with('<')
            && !path.split('/').any(|seg| seg == ".." || seg.is_empty());
        if !inside {
            return None;
        }
        let mut url = format!("{}/{}", self.base, percent_encode_path(path));
        if f.start.line >= 1 {
            let _ = write!(url, "#L{}", f.start.line);
            if f.end.line > f.start.line {
                let _ = write!(url, "-L{}", f.end.line);
            }
        }
        Some(url)
    }
}

/// Percent-encodes a path for a URL: everything but unreserved characters and `/`.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Text for a cell of a GFM table: nothing in it renders as markup or ends the cell.
///
/// `&`, `<`, `>` and backticks become HTML entities (no raw HTML, no code spans, which could
/// otherwise swallow our own markup), `|` and the other inline Markdown punctuation (`\`, `*`,
/// `_`, `[`, `]`, `!`, `~`, `$`) are backslash-escaped, line breaks become `<br>`, other
/// control characters and bidi overrides U+FFFD.
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push_str("&#96;"),
            '|' | '\\' | '*' | '_' | '[' | ']' | '!' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c if unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The job summary's Markdown, at most about `budget` bytes: a heading, counts by severity and
/// by rule, then a table of every finding, most severe first. When the table would go over
/// the budget, its remaining rows are replaced by a line that counts them.
pub fn summary(cx: &Context<'_>, links: Option<&Links>, budget: usize) -> String {
    let outcome = cx.outcome;
    let findings = &outcome.findings;
    let counts = counts_of(findings);
    let mut s = String::new();
    if findings.is_empty() {
        let _ = writeln!(s, "## kubegate: no findings\n");
        let _ = writeln!(s, "{}\n", checked_line(cx));
        s.push_str(&cluster_section(cx, links));
        return s;
    }
    let head = severity_counts(counts);
    let _ = writeln!(s, "## kubegate: {}\n", head.join(", "));
    let _ = writeln!(s, "{}\n", checked_line(cx));
    s.push_str(&cluster_section(cx, links));

    s.push_str("| Severity | Findings |\n|:---|---:|\n");
    for (sev, n) in [
        (Severity::Error, counts.error),
        (Severity::Warning, counts.warning),
        (Severity::Info, counts.info),
    ] {
        let _ = writeln!(s, "| {sev} | {n} |");
    }

    // Per rule: most findings first, then by id.
    let mut by_rule: BTreeMap<&str, (usize, Vec<Severity>)> = BTreeMap::new();
    for f in findings {
        let e = by_rule.entry(&f.rule).or_default();
        e.0 += 1;
        if !e.1.contains(&f.severity) {
            e.1.push(f.severity);
        }
    }
    let mut rules: Vec<_> = by_rule.into_iter().collect();
    rules.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    s.push_str("\n### Findings by rule\n\n| Rule | Description | Severity | Findings |\n|:---|:---|:---|---:|\n");
    for (rule, (n, mut sevs)) in rules {
        sevs.sort_by(|a, b| b.cmp(a));
        let sevs: Vec<&str> = sevs.iter().map(|s| s.as_str()).collect();
        let description = cx
            .rules
            .iter()
            .find(|r| r.id == rule)
            .map(|r| format!("{}: {}", md_cell(&r.name), md_cell(&r.title)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {description} | {} | {n} |",
            md_cell(rule),
            sevs.join(", ")
        );
    }

    s.push_str(
        "\n### Findings\n\n| Severity | Rule | Location | Message |\n|:---|:---|:---|:---|\n",
    );
    // Room for the line that counts rows left out.
    const FOOTER: usize = 400;
    // Most severe first (as `rank` orders them), so a cut drops infos before errors.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| rank(i, &findings[i]));
    let mut listed = 0;
    for f in order.iter().map(|&i| &findings[i]) {
        let row = finding_row(f, links);
        if s.len() + row.len() + FOOTER > budget {
            break;
        }
        s.push_str(&row);
        listed += 1;
    }
    let left = findings.len() - listed;
    if left > 0 {
        let _ = writeln!(
            s,
            "\n_{} not listed: GitHub limits a job summary to 1 MiB. \
             Write the full list with `--output sarif=FILE` or `--output json=FILE`._",
            plural(left, "more finding", "more findings"),
        );
    }
    s.push('\n');
    s
}

/// "What this merge does to the cluster", when the merge request is known: the change
/// rules' findings, what destroys objects or data first, then what fails to sync, then the
/// rest.
fn cluster_section(cx: &Context<'_>, links: Option<&Links>) -> String {
    if cx.changes.is_none() {
        return String::new();
    }
    let mut s = String::from("### What this merge does to the cluster\n\n");
    let mut groups: BTreeMap<crate::rule::Effect, Vec<&Finding>> = BTreeMap::new();
    for f in &cx.outcome.findings {
        if let Some(effect) = super::change_effect(cx, f) {
            groups.entry(effect).or_default().push(f);
        }
    }
    if groups.is_empty() {
        s.push_str(
            "Nothing the change rules flag: no deletion that loses objects or data, no change \
             the API server rejects, no risky change.\n\n",
        );
        return s;
    }
    for (effect, list) in groups {
        let _ = writeln!(s, "**{}** ({})\n", effect.heading(), list.len());
        s.push_str("| Severity | Rule | Location | Message |\n|:---|:---|:---|:---|\n");
        for f in list {
            s.push_str(&finding_row(f, links));
        }
        s.push('\n');
    }
    s
}

fn finding_row(f: &Finding, links: Option<&Links>) -> String {
    let path = repo_path(&f.file);
    let place = if f.start.line >= 1 {
        format!("{path}:{}:{}", f.start.line, f.start.column.max(1))
    } else {
        path.clone()
    };
    let location = match links.and_then(|l| l.to(&path, f)) {
        Some(url) => format!("[{}]({url})", md_cell(&place)),
        None => md_cell(&place),
    };
    let mut text = super::message(f).into_owned();
    if let Some(help) = &f.help {
        let _ = write!(text, "\nhelp: {help}");
    }
    let text = truncate_chars(&text, SUMMARY_MESSAGE_CHARS);
    format!(
        "| {} | {} | {location} | {} |\n",
        f.severity,
        md_cell(&f.rule),
        md_cell(&text)
    )
}

fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

fn checked_line(cx: &Context<'_>) -> String {
    let st = &cx.outcome.stats;
    let mut s = format!(
        "Checked {}, {} and {}",
        plural(st.files, "file", "files"),
        plural(st.documents, "document", "documents"),
        plural(st.objects, "object", "objects"),
    );
    if let Some(v) = cx.kubernetes_version {
        let _ = write!(s, " against Kubernetes {}", md_cell(v));
    }
    s.push('.');
    let skipped: usize = st.skipped.values().sum();
    if skipped > 0 {
        let _ = write!(s, " Skipped {skipped}.");
    }
    if st.suppressed > 0 {
        let _ = write!(
            s,
            " {} suppressed.",
            plural(st.suppressed, "finding", "findings")
        );
    }
    if st.existing > 0 {
        let n = plural(st.existing, "finding", "findings");
        let _ = write!(
            s,
            " {n} that existed before this change not shown (`--new-only`)."
        );
    }
    if st.outside_diff > 0 {
        let n = plural(st.outside_diff, "finding", "findings");
        let _ = write!(
            s,
            " {n} outside the changed lines not shown (`--filter-mode`)."
        );
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::finding::Position;

    fn finding(rule: &str, severity: Severity, line: u32, message: &str) -> Finding {
        Finding {
            rule: rule.to_owned().into(),
            severity,
            message: message.to_owned(),
            file: "deploy/web.yaml".into(),
            start: Position { line, column: 3 },
            end: Position { line, column: 9 },
            byte_start: 0,
            byte_end: 0,
            document: Some(0),
            object: None,
            path: None,
            help: None,
            rendered: Vec::new(),
        }
    }

    #[test]
    fn findings_on_the_change_get_the_annotation_slots_first() {
        // 12 errors; only the last two touch the merge request's lines.
        let findings: Vec<Finding> = (1..=12)
            .map(|i| finding("main.deny", Severity::Error, i, "m"))
            .collect();
        let on_change: Vec<bool> = (1..=12).map(|i| i > 10).collect();
        let outcome = Outcome {
            findings,
            ..Outcome::default()
        };
        let lines = |cx: &Context<'_>| {
            let mut out = Vec::new();
            render(cx, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let plain = lines(&cx(&outcome));
        assert!(!plain.contains("line=11,"), "{plain}");
        let diff_aware = lines(&Context {
            on_change: Some(&on_change),
            ..cx(&outcome)
        });
        assert!(diff_aware.contains("line=11,"), "{diff_aware}");
        assert!(diff_aware.contains("line=12,"), "{diff_aware}");
        assert!(!diff_aware.contains("line=10,"), "{diff_aware}");
    }

    fn cx(outcome: &Outcome) -> Context<'_> {
        Context {
            outcome,
            kubernetes_version: Some("1.37"),
            color: false,
            rules: &[],
            changes: None,
            on_change: None,
        }
    }

    /// The runner's `UnescapeProperty` (its order: `%0D`, `%0A`, `%3A`, `%2C`, `%25`).
    fn unescape_property(s: &str) -> String {
        s.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
    }

    fn unescape_data(s: &str) -> String {
        s.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%")
    }

    #[test]
    fn escaping_matches_the_toolkit() {
        assert_eq!(escape_data("100%\r\nx"), "100%25%0D%0Ax");
        assert_eq!(escape_data("a:b,c"), "a:b,c");
        assert_eq!(escape_property("a:b,c 100%\n"), "a%3Ab%2Cc 100%25%0A");
        // `%` first: a literal escape sequence in the text stays text.
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_property("%3A%2C"), "%253A%252C");
        for s in [
            "%0A%0D%3A%2C%25",
            "%%0A:,\r\n\n\r%",
            "::warning::x",
            "a,b:c🚀",
            "%253A",
        ] {
            assert_eq!(unescape_property(&escape_property(s)), s);
            assert_eq!(unescape_data(&escape_data(s)), s);
            let p = escape_property(s);
            assert!(!p.contains([':', ',', '\r', '\n']), "{p}");
        }
    }

    #[test]
    fn legacy_commands_are_broken_everywhere() {
        for s in [
            "##[add-mask]secret",
            "x ###[group]y",
            "####[a]##[b]",
            "#\u{2060}#[",
        ] {
            let n = neutralise(s);
            assert!(!n.contains("##["), "{n:?}");
            assert_eq!(n.replace('\u{2060}', ""), s.replace('\u{2060}', ""));
        }
        assert_eq!(neutralise("##[x]"), "#\u{2060}#[x]");
        assert!(matches!(neutralise("plain: text, 100%"), Cow::Borrowed(_)));
        assert_eq!(neutralise("a\u{1b}[31mb\u{0}"), "a\u{FFFD}[31mb\u{FFFD}");
        assert_eq!(neutralise("a\u{202E}b\tc\r\nd"), "a\u{FFFD}b\tc\r\nd");
    }

    #[test]
    fn logs_never_start_a_command() {
        let text = "ok\n::warning::x\n  ::error::y\r::notice::z\n##[add-mask]s\n a::b\n";
        let n = neutralise_log(text);
        for line in n.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
        }
        assert_eq!(n.replace('\u{2060}', ""), text);
        assert!(n.contains("  \u{2060}::error::y"));
        assert!(matches!(
            neutralise_log("error[KG101]: a::b\n"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn annotation_lines() {
        let mut f = finding(
            "KG101",
            Severity::Error,
            16,
            "container `web`: runs, privileged",
        );
        f.file = "./dir, a:b/100% x.yaml".into();
        f.help = Some("set privileged: false".into());
        let outcome = Outcome::default();
        let cx = cx(&outcome);
        assert_eq!(
            annotation(&cx, &f),
            "::error file=dir%2C a%3Ab/100%25 x.yaml,line=16,endLine=16,col=3,endColumn=9,\
             title=KG101::dir, a:b/100%25 x.yaml:16:3: KG101 container `web`: runs, privileged\
             %0Ahelp: set privileged: false"
        );
        // Multi-line: no columns.
        f.end = Position {
            line: 18,
            column: 1,
        };
        f.severity = Severity::Info;
        let line = annotation(&cx, &f);
        assert!(
            line.starts_with("::notice file=dir%2C a%3Ab/100%25 x.yaml,line=16,endLine=18,title=")
        );
        // End before start (never produced, but never emitted as is): a zero-length range.
        f.end = Position {
            line: 16,
            column: 1,
        };
        f.severity = Severity::Warning;
        assert!(annotation(&cx, &f).contains(",line=16,endLine=16,col=3,endColumn=3,"));
    }

    #[test]
    fn built_in_rules_are_titled_with_their_name() {
        let rules = crate::policy::rules().unwrap_or_default();
        let Some(r) = rules.first() else { return };
        let outcome = Outcome::default();
        let cx = Context {
            rules: &rules,
            ..cx(&outcome)
        };
        let f = finding(&r.id, Severity::Error, 1, "m");
        assert_eq!(title(&cx, &f), format!("{} {}", r.id, r.name));
        assert_eq!(
            title(&cx, &finding("main.deny", Severity::Error, 1, "m")),
            "main.deny"
        );
    }

    #[test]
    fn long_messages_are_cut_at_the_runners_limit() {
        let long = "🚀".repeat(5000);
        let f = finding("main.deny", Severity::Error, 1, &long);
        let m = message(&f, "a.yaml");
        assert!(m.encode_utf16().count() <= MAX_MESSAGE_UTF16);
        assert!(m.encode_utf16().count() >= MAX_MESSAGE_UTF16 - 1);
        assert!(m.starts_with("a.yaml:1:3: main.deny 🚀"));
        assert!(m.ends_with("🚀…"));
        assert_eq!(truncate_utf16("abc", 3), "abc");
        assert_eq!(truncate_utf16("abcd", 3), "ab…");
    }

    #[test]
    fn at_most_ten_per_type_and_room_for_the_notice() {
        let mut findings: Vec<Finding> = (1..=25)
            .map(|i| finding("main.deny", Severity::Error, i, "e"))
            .collect();
        findings.extend((1..=12).map(|i| finding("KG403", Severity::Info, i, "i")));
        findings.push(finding("KG401", Severity::Warning, 1, "w"));
        let s = select(&findings, rank);
        let shown = |sev| {
            findings
                .iter()
                .zip(&s.shown)
                .filter(|(f, on)| **on && f.severity == sev)
                .count()
        };
        assert_eq!(shown(Severity::Error), 10);
        assert_eq!(shown(Severity::Warning), 1);
        assert_eq!(shown(Severity::Info), 9);
        assert_eq!(
            s.omitted,
            Counts {
                error: 15,
                warning: 0,
                info: 3
            }
        );
        // Report order wins among equals: the first ten errors.
        assert!(s.shown[..10].iter().all(|b| *b));
        assert!(!s.shown[10..25].iter().any(|b| *b));

        // Exactly ten notices and nothing over: all ten shown, no notice needed.
        let ten: Vec<Finding> = (1..=10)
            .map(|i| finding("KG403", Severity::Info, i, "i"))
            .collect();
        let s = select(&ten, rank);
        assert!(s.shown.iter().all(|b| *b));
        assert_eq!(s.omitted, Counts::default());

        // A different rank (the diff-aware hook) changes the choice.
        let s = select(&findings, |i, _| Reverse(i));
        assert!(s.shown[15..25].iter().all(|b| *b));
    }

    #[test]
    fn the_notice_counts_what_is_left_out() {
        let findings: Vec<Finding> = (1..=25)
            .map(|i| finding("main.deny", Severity::Error, i, "e"))
            .collect();
        let outcome = Outcome {
            findings,
            ..Outcome::default()
        };
        let mut out = Vec::new();
        render(&cx(&outcome), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 11);
        assert!(lines[..10].iter().all(|l| l.starts_with("::error ")));
        assert!(lines[10].starts_with("::notice::kubegate: 15 findings not shown"));
        assert!(lines[10].contains("(15 errors)"));
    }

    #[test]
    fn table_cells_render_no_markup() {
        assert_eq!(md_cell("a|b"), "a\\|b");
        assert_eq!(md_cell("x\r\ny\nz\rw"), "x<br>y<br>z<br>w");
        assert_eq!(
            md_cell("<img src=x onerror=1> &amp;"),
            "&lt;img src=x onerror=1&gt; &amp;amp;"
        );
        assert_eq!(md_cell("`code` | x"), "&#96;code&#96; \\| x");
        assert_eq!(md_cell("![t](http://x)"), "\\!\\[t\\](http://x)");
        assert_eq!(md_cell("a\\|b"), "a\\\\\\|b");
        assert_eq!(
            md_cell("**b** _i_ ~s~ $m$"),
            "\\*\\*b\\*\\* \\_i\\_ \\~s\\~ \\$m\\$"
        );
        assert_eq!(md_cell("\u{1b}[1m"), "\u{FFFD}\\[1m");
    }

    /// Cells of a GFM table row: split on `|` that no backslash escapes.
    pub(crate) fn cells(row: &str) -> usize {
        let mut n = 0;
        let mut chars = row.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '|' => n += 1,
                _ => {}
            }
        }
        n - 1
    }

    #[test]
    fn summary_lists_every_finding_within_budget() {
        let mut findings: Vec<Finding> = (1..=30)
            .map(|i| finding("main.deny", Severity::Error, i, "bad | `x` <b>\nnext"))
            .collect();
        findings.push(finding("KG401", Severity::Warning, 1, "w"));
        let outcome = Outcome {
            findings,
            ..Outcome::default()
        };
        let links = Links::new("https://github.com/", "o/r", "abc123");
        let s = summary(&cx(&outcome), links.as_ref(), SUMMARY_BUDGET);
        assert!(s.starts_with("## kubegate: 30 errors, 1 warning\n"));
        assert!(s.contains("| main.deny |  | error | 30 |"), "{s}");
        assert!(s.contains("| KG401 |  | warning | 1 |"), "{s}");
        assert!(s.contains(
            "| error | main.deny | [deploy/web.yaml:7:3](https://github.com/o/r/blob/abc123/deploy/web.yaml#L7) | bad \\| &#96;x&#96; &lt;b&gt;<br>next |"
        ));
        assert_tables_are_valid(&s);
        assert_eq!(s.matches("| error | main.deny |").count(), 30);

        // A small budget: rows stop, and a line says how many are left out.
        let s = summary(&cx(&outcome), None, 2500);
        assert!(s.len() <= 2500, "{}", s.len());
        let rows = s.matches("| error | main.deny | deploy/web.yaml").count();
        assert!(rows < 30);
        let left = 31 - rows;
        assert!(
            s.contains(&format!("_{left} more findings not listed")),
            "{s}"
        );
        assert_tables_are_valid(&s);
    }

    fn assert_tables_are_valid(s: &str) {
        let mut columns = None;
        for line in s.lines() {
            if line.starts_with('|') {
                let n = cells(line);
                let expected = *columns.get_or_insert(n);
                assert_eq!(n, expected, "{line}");
            } else {
                columns = None;
            }
        }
    }

    #[test]
    fn clean_runs_get_a_short_summary() {
        let outcome = Outcome::default();
        let s = summary(&cx(&outcome), None, SUMMARY_BUDGET);
        assert_eq!(
            s,
            "## kubegate: no findings\n\nChecked 0 files, 0 documents and 0 objects against Kubernetes 1.37.\n\n"
        );
    }

    #[test]
    fn links_only_with_sane_parts_and_paths() {
        assert!(Links::new("https://github.com", "o/r", "0123abcd").is_some());
        assert!(Links::new("javascript:alert(1)", "o/r", "0123").is_none());
        assert!(Links::new("https://github.com", "o/r)", "0123").is_none());
        assert!(Links::new("https://github.com", "o/r", "main").is_none());
        let l = Links::new("https://ghe.example/", "o/r", "ab").unwrap();
        let mut f = finding("x", Severity::Error, 4, "m");
        assert_eq!(
            l.to("a b/100%#(x).yaml", &f).as_deref(),
            Some("https://ghe.example/o/r/blob/ab/a%20b/100%25%23%28x%29.yaml#L4")
        );
        f.end.line = 6;
        assert_eq!(
            l.to("a.yaml", &f).as_deref(),
            Some("https://ghe.example/o/r/blob/ab/a.yaml#L4-L6")
        );
        assert_eq!(l.to("../a.yaml", &f), None);
        assert_eq!(l.to("<stdin>", &f), None);
        assert_eq!(l.to("/abs/a.yaml", &f), None);
    }
}
