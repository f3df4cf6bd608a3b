//! Stage 5: renderers. Each format is one file; renderers only render what the checks found.

pub mod concise;
pub mod human;
pub mod json;

use std::io::{self, Write};

use crate::check::Outcome;
use crate::finding::Severity;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style snippets with the offending line (the default in a terminal)
    Human,
    /// One line per finding: `file:line:col: severity[rule] message`
    Concise,
    /// A versioned JSON document (see the README)
    Json,
}

/// What every renderer gets.
pub struct Context<'a> {
    pub outcome: &'a Outcome,
    pub kubernetes_version: Option<&'a str>,
    pub color: bool,
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
    }
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
