//! What is known about rules, for the checks that run them and the reports that describe
//! them: the built-in Rego rules' metadata ([`RuleMeta`], parsed by `policy::metadata`) and
//! kubegate's own checks ([`CORE_RULES`]). Data only: no engine, no CLI.

use serde::{Deserialize, Serialize};

use crate::finding::Severity;

/// Everything known about a built-in rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// Stable id, e.g. `KG101`. Never reused.
    pub id: String,
    /// Kebab-case name of the bad pattern, e.g. `privileged-container`.
    pub name: String,
    pub title: String,
    pub severity: Severity,
    pub category: String,
    /// Kinds the rule applies to: kind names, `workloads`, `namespaced`, or `*` (all).
    /// The engine evaluates a rule only on objects of these kinds.
    pub kinds: Vec<String>,
    /// What one evaluation of the rule sees: one object, or every object of its `kinds` in
    /// the run (for checks across objects, such as a Service that selects no pod).
    pub scope: Scope,
    /// For a change-scope rule, what the change it finds does to the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// Why it matters.
    pub rationale: String,
    /// How to fix it.
    pub remediation: String,
    pub references: Vec<String>,
    /// The same check in other tools, for users migrating.
    pub equivalents: Equivalents,
    /// Path of the rule file under `policies/`.
    pub file: String,
    /// The rule's Rego package.
    pub package: String,
}

/// What one evaluation of a rule sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `input` is one object; evaluated on every object of the rule's kinds.
    #[default]
    Object,
    /// `input.objects` holds every object of the rule's kinds in the run; evaluated once.
    /// Each violation names the object it is about by its index (`"object": i`).
    Inventory,
    /// `input.review` is what a merge request does to one object (an admission review:
    /// `operation`, `object`, `oldObject`, ...); evaluated under `--base` on every object of
    /// the rule's kinds that the merge request creates, updates or deletes.
    Change,
}

/// What a change a change-scope rule finds does to the cluster, for the reports that list
/// the worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Deletes objects or data (a revert does not bring them back as they were).
    Destroys,
    /// The API server rejects it: the sync fails after the merge.
    FailsSync,
    /// Legal, but risky (or only informative).
    Risky,
}

impl Effect {
    /// The heading of the reports' group of such changes.
    pub fn heading(self) -> &'static str {
        match self {
            Effect::Destroys => "Destroys objects or data",
            Effect::FailsSync => "Fails to sync",
            Effect::Risky => "Risky or worth a look",
        }
    }
}

/// True equivalents in other tools: same condition, same scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalents {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkov: Vec<String>,
    #[serde(default, rename = "kube-linter", skip_serializing_if = "Vec::is_empty")]
    pub kube_linter: Vec<String>,
    /// Pod Security Standards control, e.g. `baseline: Privileged Containers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trivy: Vec<String>,
}

impl RuleMeta {
    /// The same check in other tools, one line per tool (`kube-linter: privileged-container`).
    pub fn equivalent_tools(&self) -> Vec<String> {
        let e = &self.equivalents;
        let mut out = Vec::new();
        if !e.checkov.is_empty() {
            out.push(format!("checkov: {}", e.checkov.join(", ")));
        }
        if !e.kube_linter.is_empty() {
            out.push(format!("kube-linter: {}", e.kube_linter.join(", ")));
        }
        if let Some(p) = &e.pss {
            out.push(format!("Pod Security Standards: {p}"));
        }
        if !e.trivy.is_empty() {
            out.push(format!("trivy: {}", e.trivy.join(", ")));
        }
        out
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
        id: "schema-version",
        title: "Version not served",
        description: "A custom resource under an apiVersion its CustomResourceDefinition does not serve; the message lists the versions it serves.",
        tag: "schema",
    },
    CoreRule {
        id: "schema-deprecated",
        title: "Version deprecated",
        description: "A custom resource under a version its CustomResourceDefinition marks deprecated (a warning carrying the CRD's deprecationWarning).",
        tag: "schema",
    },
    CoreRule {
        id: "schema-cel",
        title: "CEL validation rule failed",
        description: "A custom resource breaks one of its CRD's x-kubernetes-validations rules; the message is the rule's message (or messageExpression), at the rule's fieldPath or the node the rule is on.",
        tag: "schema",
    },
    CoreRule {
        id: "cel-unsupported",
        title: "CEL rule not evaluated",
        description: "A CRD's CEL rule kubegate cannot evaluate on this object (a function it does not implement, a runtime error, an estimated cost over the API server's budget): never reported as a failure, so the object may still be rejected by the API server.",
        tag: "schema",
    },
    CoreRule {
        id: "crd-invalid",
        title: "CustomResourceDefinition rejected",
        description: "A CustomResourceDefinition the API server would reject: a schema that is not structural or does not compile (a pattern, a rule), no storage version or more than one. Its custom resources are not validated with it.",
        tag: "schema",
    },
    CoreRule {
        id: "crd-conflict",
        title: "Two CRDs for one kind",
        description: "A second, different CustomResourceDefinition for a group and kind already defined: the first found (in input order, files before rendered output before --crds) validates its custom resources.",
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
        id: "change-base-unreadable",
        title: "Base version cannot be read",
        description: "Under `--base`, the base version of a changed or deleted manifest cannot be read (a YAML error, a file over the size limit, a Git object missing): the objects it had are not compared with the merge request's, so the change rules do not judge their deletion or change.",
        tag: "change",
    },
    CoreRule {
        id: "change-duplicate-object",
        title: "Object defined twice",
        description: "The same object (API group, kind, namespace, name) is defined more than once in one file or one kustomization's output, at the merge request's base or head: the cluster gets the last one applied, and the change rules compare each copy.",
        tag: "change",
    },
    CoreRule {
        id: "rbac-rights-gained",
        title: "Subject gains rights the RBAC rules flag",
        description: "Under `--base`, a user, group or service account gains through one binding (a new or changed binding, or a changed role) rights that the enabled RBAC rules flag on a role: secrets read, escalate, bind, impersonate, pod exec, wildcards, and so on. The rights gained are checked as one ClusterRole.",
        tag: "change",
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
