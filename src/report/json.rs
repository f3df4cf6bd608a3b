//! The versioned JSON report. Its shape is documented in the README; bump `VERSION` on any
//! change that could break a consumer.

use std::io::{self, Write};

use serde::Serialize;

use super::{Context, Counts};
use crate::finding::{Finding, ObjectRef, Severity};

/// Version of the JSON report's shape.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    tool: Tool,
    #[serde(rename = "kubernetesVersion")]
    kubernetes_version: Option<&'a str>,
    summary: Summary<'a>,
    findings: Vec<Item<'a>>,
    /// What the merge request changes, when its base is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a crate::changes::ChangeSummary>,
    /// What was fetched from the network, or refused (only with `--allow-host`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fetched: &'a [crate::fetch::Fetch],
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary<'a> {
    files: usize,
    documents: usize,
    objects: usize,
    skipped: &'a std::collections::BTreeMap<&'static str, usize>,
    suppressed: usize,
    /// Dropped by `--new-only` (they existed at the base).
    #[serde(rename = "notNew")]
    not_new: usize,
    /// Dropped by `--filter-mode`.
    #[serde(rename = "outsideChange")]
    outside_change: usize,
    /// Kustomizations rendered.
    rendered: usize,
    /// Chart renderings that rendered.
    charts: usize,
    /// Their directories (and the chart renderings).
    roots: &'a [std::sync::Arc<str>],
    findings: SeverityCounts,
}

#[derive(Serialize)]
struct SeverityCounts {
    error: usize,
    warning: usize,
    info: usize,
}

#[derive(Serialize)]
struct Item<'a> {
    rule: &'a str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    document: Option<usize>,
    object: Option<&'a ObjectRef>,
    path: Option<&'a str>,
    help: Option<&'a str>,
    /// The kustomizations whose rendered output holds the object (a finding on a
    /// rendered object; absent for a file checked as it is).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rendered: &'a [std::sync::Arc<str>],
}

impl<'a> From<&'a Finding> for Item<'a> {
    fn from(f: &'a Finding) -> Self {
        Item {
            rule: &f.rule,
            severity: f.severity,
            message: &f.message,
            file: &f.file,
            line: f.start.line,
            column: f.start.column,
            end_line: f.end.line,
            end_column: f.end.column,
            document: f.document,
            object: f.object.as_ref(),
            path: f.path.as_deref(),
            help: f.help.as_deref(),
            rendered: &f.rendered,
        }
    }
}

pub fn render(cx: &Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let o = cx.outcome;
    let c = Counts::of(o);
    let report = Report {
        version: VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        kubernetes_version: cx.kubernetes_version,
        summary: Summary {
            files: o.stats.files,
            documents: o.stats.documents,
            objects: o.stats.objects,
            skipped: &o.stats.skipped,
            suppressed: o.stats.suppressed,
            not_new: o.stats.existing,
            outside_change: o.stats.outside_diff,
            rendered: o.stats.rendered,
            charts: o.stats.charts,
            roots: &o.stats.roots,
            findings: SeverityCounts {
                error: c.error,
                warning: c.warning,
                info: c.info,
            },
        },
        findings: o.findings.iter().map(Item::from).collect(),
        changes: cx.changes,
        fetched: &o.fetched,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}
