//! rustc-style snippets (annotate-snippets): the offending YAML lines with a label at the
//! exact column.

use std::io::{self, Write};

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Context, one_line, terminal_safe};
use crate::finding::{Finding, Severity};
use crate::source::LineIndex;

/// Lines of context shown at most for a multi-line span.
const MAX_LINES: u32 = 6;

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let renderer = if cx.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Ascii);
    let mut index: Option<(&str, LineIndex)> = None;
    for f in &cx.outcome.findings {
        let source = cx.outcome.sources.get(&f.file);
        let lines = match (source, &index) {
            (Some(text), Some((file, idx))) if *file == &*f.file => Some((text, idx)),
            (Some(text), _) => {
                index = Some((&f.file, LineIndex::new(text)));
                index.as_ref().map(|(_, idx)| (text, idx))
            }
            (None, _) => None,
        };
        let text = render_one(&renderer, f, lines.map(|(t, i)| (&**t, i)));
        writeln!(out, "{text}\n")?;
    }
    Ok(())
}

fn level(s: Severity) -> Level<'static> {
    match s {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

fn render_one(renderer: &Renderer, f: &Finding, source: Option<(&str, &LineIndex)>) -> String {
    let title = one_line(&super::message(f));
    let path = one_line(&f.file);
    let mut groups = Vec::new();
    let head = level(f.severity)
        .primary_title(title.clone())
        .id(one_line(&f.rule));
    let label = f
        .object
        .as_ref()
        .map(|o| one_line(&o.to_string()))
        .unwrap_or_default();
    let group = match source {
        Some((text, lines)) if f.byte_start <= text.len() => {
            let last = f
                .end
                .line
                .min(f.start.line + MAX_LINES - 1)
                .max(f.start.line);
            let first_range = lines.line_range(text, f.start.line);
            let last_range = lines.line_range(text, last);
            let slice = terminal_safe(&text[first_range.start..last_range.end]).into_owned();
            let base = first_range.start;
            let s = f.byte_start.saturating_sub(base).min(slice.len());
            let mut e = f.byte_end.saturating_sub(base).clamp(s, slice.len());
            while !slice.is_char_boundary(e) {
                e -= 1;
            }
            let mut s = s;
            while !slice.is_char_boundary(s) {
                s -= 1;
            }
            head.element(
                Snippet::source(slice)
                    .line_start(f.start.line as usize)
                    .path(path)
                    .annotation(AnnotationKind::Primary.span(s..e.max(s)).label(label)),
            )
        }
        _ => head.element(
            annotate_snippets::Origin::path(path)
                .line(f.start.line as usize)
                .char_column(f.start.column.saturating_sub(1) as usize),
        ),
    };
    groups.push(group);
    if let Some(help) = &f.help {
        groups.push(Group::with_title(
            Level::HELP.secondary_title(one_line(help)),
        ));
    }
    renderer.render(&groups)
}
