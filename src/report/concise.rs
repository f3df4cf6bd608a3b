//! `file:line:col: severity[rule] message`, one finding per line (grep- and editor-friendly).

use std::io::{self, Write};

use super::{Context, one_line};

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    for f in &cx.outcome.findings {
        writeln!(
            out,
            "{}:{}:{}: {}[{}] {}",
            one_line(&f.file),
            f.start.line,
            f.start.column,
            f.severity,
            one_line(&f.rule),
            one_line(&super::message(f))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;
    use crate::finding::{Finding, Position, Severity};

    /// Found by the fuzzer: a rule id (a user policy's package may be any string) with a
    /// line break split one finding over two lines.
    #[test]
    fn one_finding_is_one_line_whatever_its_rule_id() {
        let at = Position { line: 1, column: 1 };
        let outcome = Outcome {
            findings: vec![Finding {
                rule: "a\nb\u{1b}[31m".into(),
                severity: Severity::Error,
                message: "m\nn".into(),
                file: "f\n.yaml".into(),
                start: at,
                end: at,
                byte_start: 0,
                byte_end: 0,
                document: None,
                object: None,
                path: None,
                help: None,
                rendered: Vec::new(),
            }],
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
        let mut out = Vec::new();
        render(&cx, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "f\\n.yaml:1:1: error[a\\nb?[31m] m\\nn\n");
    }
}
