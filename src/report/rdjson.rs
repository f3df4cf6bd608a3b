//! The `rdjson` format: reviewdog's Diagnostic Format, one `DiagnosticResult` object, for
//! `kubegate check --format rdjson | reviewdog -f=rdjson -reporter=...`.
//!
//! reviewdog counts columns in UTF-8 bytes, kubegate in code points, so each column is
//! converted with the text of its line. The text is the one the run checked
//! (`Outcome::sources`, kept when a report needs it); failing that, the file is read again
//! and used only if it still places the finding's byte offsets at the finding's line and
//! column (so a file that changed meanwhile, or standard input, is never misread). With no
//! text at all the code-point column is given as is: exact whenever the line holds only
//! ASCII before the column.
//!
//! Every diagnostic carries its severity (`ERROR`, `WARNING`, `INFO`), so the result has no
//! default `severity`. `end` is exclusive, as in kubegate.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;

use super::Context;
use crate::finding::{Finding, Position, Severity};
use crate::source::LineIndex;

#[derive(Serialize)]
struct DiagnosticResult<'a> {
    source: Source,
    diagnostics: Vec<Diagnostic<'a>>,
}

#[derive(Serialize)]
struct Source {
    name: &'static str,
    url: &'static str,
}

#[derive(Serialize)]
struct Diagnostic<'a> {
    message: String,
    location: Location,
    severity: &'static str,
    code: Code<'a>,
}

#[derive(Serialize)]
struct Location {
    path: String,
    range: Range,
}

#[derive(Serialize)]
struct Range {
    start: RdPosition,
    end: RdPosition,
}

#[derive(Serialize)]
struct RdPosition {
    line: u32,
    column: u32,
}

#[derive(Serialize)]
struct Code<'a> {
    value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

/// A file's text and line index.
struct Text {
    text: Arc<str>,
    lines: LineIndex,
    /// Read again from disk: trusted only for findings it places where the run did.
    reread: bool,
}

/// The texts of the files with findings, looked up once per file.
struct Texts<'a> {
    sources: &'a std::collections::BTreeMap<Arc<str>, Arc<str>>,
    cache: HashMap<Arc<str>, Option<Text>>,
}

impl Texts<'_> {
    fn get(&mut self, file: &Arc<str>) -> Option<&Text> {
        let sources = self.sources;
        self.cache
            .entry(file.clone())
            .or_insert_with(|| match sources.get(file) {
                Some(text) => Some(Text {
                    lines: LineIndex::new(text),
                    text: text.clone(),
                    reread: false,
                }),
                None => reread(file),
            })
            .as_ref()
    }
}

/// A file's text read again, decoded as the check decodes it.
fn reread(file: &str) -> Option<Text> {
    if file == "<stdin>" || file == "-" {
        return None;
    }
    let bytes = crate::read::read(
        std::path::Path::new(file),
        crate::parse::Limits::default().max_file_size,
    )
    .ok()?;
    let text: Arc<str> = crate::parse::decode(&bytes).text.as_ref().into();
    Some(Text {
        lines: LineIndex::new(&text),
        text,
        reread: true,
    })
}

/// The 1-based UTF-8 byte column of the code-point position `pos` in `t` (columns past the
/// end of the line count one byte each, as the line ending's do).
fn byte_column(t: &Text, pos: Position) -> u32 {
    let range = t.lines.line_range(&t.text, pos.line.max(1));
    let mut chars = t.text[range].chars();
    let mut bytes = 0usize;
    for _ in 1..pos.column.max(1) {
        bytes += chars.next().map_or(1, char::len_utf8);
    }
    u32::try_from(bytes + 1).unwrap_or(u32::MAX)
}

/// The finding's start and end columns in UTF-8 bytes.
fn byte_columns(f: &Finding, texts: &mut Texts<'_>) -> (u32, u32) {
    let fallback = (f.start.column.max(1), f.end.column.max(1));
    let Some(t) = texts.get(&f.file) else {
        return fallback;
    };
    if t.reread
        && (t.lines.position(&t.text, f.byte_start) != f.start
            || t.lines.position(&t.text, f.byte_end) != f.end)
    {
        return fallback;
    }
    (byte_column(t, f.start), byte_column(t, f.end))
}

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut texts = Texts {
        sources: &cx.outcome.sources,
        cache: HashMap::new(),
    };
    let diagnostics = cx
        .outcome
        .findings
        .iter()
        .map(|f| {
            let (start_column, end_column) = byte_columns(f, &mut texts);
            let start = RdPosition {
                line: f.start.line.max(1),
                column: start_column,
            };
            let mut end = RdPosition {
                line: f.end.line.max(1),
                column: end_column,
            };
            if (end.line, end.column) < (start.line, start.column) {
                end = RdPosition { ..start };
            }
            let mut message = super::message(f).into_owned();
            if let Some(h) = &f.help {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            Diagnostic {
                message,
                location: Location {
                    path: super::repo_path(&f.file),
                    range: Range { start, end },
                },
                severity: severity(f.severity),
                code: Code {
                    value: &f.rule,
                    url: super::sarif::rule_url(&f.rule, cx.rules),
                },
            }
        })
        .collect();
    let result = DiagnosticResult {
        source: Source {
            name: env!("CARGO_PKG_NAME"),
            url: env!("CARGO_PKG_REPOSITORY"),
        },
        diagnostics,
    };
    serde_json::to_writer_pretty(&mut *out, &result)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_columns_follow_the_line_text() {
        // reviewdog's own example: in `a𐐀b`, `b` is column 6.
        let text: Arc<str> = "x: 1\r\na𐐀b\n".into();
        let t = Text {
            lines: LineIndex::new(&text),
            text,
            reread: false,
        };
        let col = |line, column| byte_column(&t, Position { line, column });
        assert_eq!(col(2, 1), 1);
        assert_eq!(col(2, 2), 2);
        assert_eq!(col(2, 3), 6);
        // Just past the end of the line (an exclusive end), and beyond.
        assert_eq!(col(2, 4), 7);
        assert_eq!(col(1, 5), 5);
        assert_eq!(col(1, 6), 6);
    }
}
