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

/// One of kubegate's own checks: parsing, schemas, the run itself (the built-in Rego rules
/// carry their own metadata).
#[derive(Debug)]
pub struct CoreRule {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The SARIF tag that groups it.
    pub tag: &'static str,
}

/// Every rule id kubegate reports besides the built-in rules (`KGnnn`) and user policies
/// (`<package>.<rule>`).
pub const CORE_RULES: &[CoreRule] = &[
    CoreRule {
        id: "yaml-syntax",
        title: "Not valid YAML or JSON",
        description: "The file is not valid YAML/JSON, is binary, is not UTF-8, uses a mapping as a key, or holds what kubectl and kustomize refuse (a float infinity, content after `---`, a directive, an empty tagged scalar).",
        tag: "yaml",
    },
    CoreRule {
        id: "yaml-limit",
        title: "Safety limit exceeded",
        description: "A safety budget was exceeded: aliases expanding past 1,000,000 nodes or 32 MiB of text, nesting deeper than 256 levels, or a file over --max-file-size.",
        tag: "yaml",
    },
    CoreRule {
        id: "duplicate-key",
        title: "Mapping repeats a key",
        description: "A mapping repeats a key: kubectl keeps the last value, kustomize and the API server's strict decoding refuse it.",
        tag: "yaml",
    },
    CoreRule {
        id: "yaml-ambiguous",
        title: "Read differently by kubectl and kustomize",
        description: "kubectl (YAML 1.1) and kustomize (YAML 1.2) build different values from this text (`yes`, `on`, a date, a key that is not a string, a merge key after an explicit key): every reading is checked; quote the value.",
        tag: "yaml",
    },
    CoreRule {
        id: "yaml-dropped",
        title: "Document never read",
        description: "kubectl and kustomize never read this document (after `...` without `---`, or after a `---` that follows a lone carriage return): nothing in it is deployed or checked.",
        tag: "yaml",
    },
    CoreRule {
        id: "yaml-not-object",
        title: "Not a Kubernetes object",
        description: "A document or List item without a string apiVersion and kind (misspelt, missing) in a file of Kubernetes objects: the controller refuses to apply it.",
        tag: "yaml",
    },
    CoreRule {
        id: "schema-unknown-field",
        title: "Unknown field",
        description: "A field the kind does not have, reported at the key.",
        tag: "schema",
    },
    CoreRule {
        id: "schema-type",
        title: "Value of the wrong type",
        description: "A value of the wrong type for its field.",
        tag: "schema",
    },
    CoreRule {
        id: "schema-required",
        title: "Required field missing",
        description: "A required field is missing (reported at the object that should hold it).",
        tag: "schema",
    },
    CoreRule {
        id: "schema-enum",
        title: "Value not allowed",
        description: "A value outside the field's allowed values.",
        tag: "schema",
    },
    CoreRule {
        id: "schema-format",
        title: "Malformed value",
        description: "A malformed quantity or date-time.",
        tag: "schema",
    },
    CoreRule {
        id: "schema-invalid",
        title: "Schema violation",
        description: "A violation of the kind's schema.",
        tag: "schema",
    },
    CoreRule {
        id: "removed-api",
        title: "API version removed",
        description: "A built-in kind under an apiVersion that Kubernetes removed; the message names the version that removed it and the replacement.",
        tag: "schema",
    },
    CoreRule {
        id: "no-schema",
        title: "No schema for the kind",
        description: "No schema for this apiVersion and kind (a custom resource, or an API newer than the selected Kubernetes version); the object was not validated.",
        tag: "schema",
    },
    CoreRule {
        id: "io-error",
        title: "File could not be read",
        description: "A file could not be read, so it was not checked.",
        tag: "error",
    },
    CoreRule {
        id: "policy-error",
        title: "Policy failed",
        description: "A policy failed at run time on an object, so its verdict is unknown.",
        tag: "error",
    },
    CoreRule {
        id: "policy-changed",
        title: "Gate configuration changed",
        description: "The merge request changes the configuration, policies or data of the gate; they were taken from its base, and the change needs a review of its own.",
        tag: "policy",
    },
    CoreRule {
        id: "unused-suppression",
        title: "Suppression matched nothing",
        description: "A suppression that silenced no finding; remove it.",
        tag: "suppression",
    },
    CoreRule {
        id: "internal-error",
        title: "Internal error",
        description: "A bug in kubegate; please report it.",
        tag: "error",
    },
];

/// kubegate's own rule `id`, if it is one.
pub fn core_rule(id: &str) -> Option<&'static CoreRule> {
    CORE_RULES.iter().find(|r| r.id == id)
}

/// Sorts findings into report order and drops exact duplicates.
pub fn sort(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}
