//! The one value every check produces and every renderer consumes.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 1-based line and column; columns count Unicode code points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// Identity of the Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => write!(f, " {ns}/{n}"),
            (None, Some(n)) => write!(f, " {n}"),
            _ => Ok(()),
        }
    }
}

/// A problem at an exact place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id: `schema-unknown-field`, `yaml-syntax`, ...
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    pub message: String,
    /// Path relative to the working directory, `/`-separated.
    pub file: Arc<str>,
    pub start: Position,
    pub end: Position,
    /// Byte range in the file (for snippets).
    pub byte_start: usize,
    pub byte_end: usize,
    /// 0-based index of the YAML document in the file.
    pub document: Option<usize>,
    pub object: Option<ObjectRef>,
    /// JSON pointer into the document.
    pub path: Option<String>,
    /// An extra line of advice ("did you mean `replicas`?").
    pub help: Option<String>,
    /// The kustomizations (directories) whose rendered output holds the object, when the
    /// finding is about a rendered object: the same place may be found through several.
    pub rendered: Vec<Arc<str>>,
}

impl Finding {
    /// The total order of findings in every report: file, line, column, rule, then the rest,
    /// so output is byte-identical whatever the thread count.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            &self.file,
            self.start,
            &self.rule,
            self.document,
            &self.path,
            &self.message,
            self.end,
        )
    }
}

/// Sorts findings into report order and drops exact duplicates.
pub fn sort(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}
