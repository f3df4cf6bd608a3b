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
            f.rule,
            one_line(&super::message(f))
        )?;
    }
    Ok(())
}
