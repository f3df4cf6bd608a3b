//! The `junit` format: JUnit XML for GitLab's test reports (`artifacts:reports:junit`),
//! Jenkins and other CI test views.
//!
//! One `<testsuite>` per file with findings, named by its repository-relative path, and one
//! `<testcase>` per finding (`classname` the path, `file` the path). A test case's `name` is
//! the rule and what the finding is about (`KG101 Deployment shop/web /spec/...`), never its
//! line, so GitLab's merge request widget, which compares test cases by class and name,
//! keeps calling a finding "existing" when lines above it move; a suffix ` (2)`, ` (3)`, ...
//! keeps names unique within a file.
//!
//! Errors and warnings are `<failure type="RULE">`; `io-error`, `policy-error` and
//! `internal-error` (the file or policy could not be checked) are `<error>`; info findings
//! are passing test cases whose `<system-out>` holds the details, so they are seen but do not
//! count as failed tests. A run without findings is one passing test case, `no findings`.
//!
//! Written by hand (no XML dependency): text and attributes escape `&`, `<`, `>`, `"` and
//! `'`, attributes also tab and line feed, both carriage return (as character references,
//! so they survive parsing exactly), and the characters XML 1.0 forbids (C0 controls other
//! than tab, LF and CR; U+FFFE, U+FFFF) become U+FFFD.

use std::collections::HashMap;
use std::io::{self, Write};

use super::Context;
use crate::finding::{Finding, Severity};

/// What a finding is in the test report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Failure,
    Error,
    Passed,
}

fn status(f: &Finding) -> Status {
    if matches!(&*f.rule, "io-error" | "policy-error" | "internal-error") {
        Status::Error
    } else if f.severity >= Severity::Warning {
        Status::Failure
    } else {
        Status::Passed
    }
}

/// Whether XML 1.0 forbids `c` in a document, even as a character reference.
fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `s` escaped for XML text (`attribute == false`) or a double-quoted attribute value.
pub fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Parsers turn CR and CRLF into LF, and tab and LF in attributes into spaces.
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The test case name of a finding: the rule and what it is about, without its line.
fn case_name(f: &Finding) -> String {
    let mut what = Vec::new();
    if let Some(o) = &f.object {
        what.push(o.to_string());
    }
    // The empty pointer is the whole document: the object says it all.
    if let Some(p) = f.path.as_deref().filter(|p| !p.is_empty()) {
        what.push(p.to_owned());
    }
    if what.is_empty() {
        let full = super::message(f);
        let first = full.lines().next().unwrap_or("");
        what.push(first.to_owned());
    }
    format!("{} {}", f.rule, what.join(" "))
        .trim_end()
        .to_owned()
}

/// The details of a finding: where, what, and how to learn more.
fn details(f: &Finding, path: &str, cx: &Context<'_>) -> String {
    let mut s = format!(
        "{path}:{}:{}: {}[{}] {}",
        f.start.line,
        f.start.column,
        f.severity,
        f.rule,
        super::message(f)
    );
    if let Some(h) = &f.help {
        s.push_str("\nhelp: ");
        s.push_str(h);
    }
    if let Some(o) = &f.object {
        s.push_str(&format!("\nobject: {o} ({})", o.api_version));
    }
    if let Some(p) = f.path.as_deref().filter(|p| !p.is_empty()) {
        s.push_str("\nfield: ");
        s.push_str(p);
    }
    if let Some(url) = super::sarif::rule_url(&f.rule, cx.rules) {
        s.push_str("\nrule: ");
        s.push_str(&url);
    }
    s
}

struct Case {
    name: String,
    status: Status,
    /// For failures and errors: the message attribute.
    message: String,
    rule: String,
    details: String,
}

struct Suite {
    path: String,
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, s: Status) -> usize {
        self.cases.iter().filter(|c| c.status == s).count()
    }
}

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    // Findings are sorted by file, so each file's findings are contiguous.
    let mut suites: Vec<Suite> = Vec::new();
    // Names seen per class (path), to keep (classname, name) unique.
    let mut names: HashMap<(String, String), usize> = HashMap::new();
    for f in &cx.outcome.findings {
        let path = super::repo_path(&f.file);
        if suites.last().is_none_or(|s| s.path != path) {
            suites.push(Suite {
                path: path.clone(),
                cases: Vec::new(),
            });
        }
        let base = case_name(f);
        let n = names.entry((path.clone(), base.clone())).or_default();
        *n += 1;
        let name = if *n == 1 {
            base
        } else {
            format!("{base} ({n})")
        };
        let details = details(f, &path, cx);
        if let Some(suite) = suites.last_mut() {
            suite.cases.push(Case {
                name,
                status: status(f),
                message: super::message(f).into_owned(),
                rule: f.rule.to_string(),
                details,
            });
        }
    }
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| s.count(Status::Failure)).sum();
    let errors: usize = suites.iter().map(|s| s.count(Status::Error)).sum();

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if suites.is_empty() {
        let st = &cx.outcome.stats;
        x.push_str("<testsuites name=\"kubegate\" tests=\"1\" failures=\"0\" errors=\"0\">\n");
        x.push_str(
            "  <testsuite name=\"kubegate\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n",
        );
        x.push_str("    <testcase classname=\"kubegate\" name=\"no findings\">\n");
        x.push_str(&format!(
            "      <system-out>{} files, {} documents, {} objects checked; no findings</system-out>\n",
            st.files, st.documents, st.objects
        ));
        x.push_str("    </testcase>\n  </testsuite>\n</testsuites>\n");
        return out.write_all(x.as_bytes());
    }
    x.push_str(&format!(
        "<testsuites name=\"kubegate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n"
    ));
    for s in &suites {
        let path = escape(&s.path, true);
        x.push_str(&format!(
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">\n",
            s.cases.len(),
            s.count(Status::Failure),
            s.count(Status::Error),
        ));
        for c in &s.cases {
            x.push_str(&format!(
                "    <testcase classname=\"{path}\" name=\"{}\" file=\"{path}\">\n",
                escape(&c.name, true)
            ));
            let element = match c.status {
                Status::Failure => Some("failure"),
                Status::Error => Some("error"),
                Status::Passed => None,
            };
            match element {
                Some(e) => x.push_str(&format!(
                    "      <{e} message=\"{}\" type=\"{}\">{}</{e}>\n",
                    escape(&c.message, true),
                    escape(&c.rule, true),
                    escape(&c.details, false)
                )),
                None => x.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    escape(&c.details, false)
                )),
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    out.write_all(x.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markup_out_and_replaces_what_xml_forbids() {
        assert_eq!(
            escape("a<b>&\"c'd ]]> \u{0}\u{1b}\u{FFFF}\t\r\n", false),
            "a&lt;b&gt;&amp;&quot;c&apos;d ]]&gt; \u{FFFD}\u{FFFD}\u{FFFD}\t&#13;\n"
        );
        assert_eq!(escape("x\ty\nz\r", true), "x&#9;y&#10;z&#13;");
        assert_eq!(escape("é🚀\u{85}", true), "é🚀\u{85}");
    }
}
