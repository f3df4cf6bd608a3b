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

/// A tool users migrate from, whose checks the rules' equivalents name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    Checkov,
    KubeLinter,
    Trivy,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Checkov, Tool::KubeLinter, Tool::Trivy];

    /// The tool's name as the metadata, the configuration and the reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Checkov => "checkov",
            Tool::KubeLinter => "kube-linter",
            Tool::Trivy => "trivy",
        }
    }

    /// The tool named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// How closely a peer tool's check matches a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Same condition, same scope: the two fire on the same objects.
    #[default]
    Exact,
    /// Overlapping: the note says how they differ.
    Partial,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Exact => "exact",
            Match::Partial => "partial",
        }
    }
}

/// One check of a peer tool that a rule covers. In the metadata, a plain string is an
/// exact equivalent; `{id, match: partial, note}` a partial one, whose one-line note (which
/// is required) says how the two differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Equivalent {
    pub id: String,
    #[serde(rename = "match")]
    pub exactness: Match,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Equivalent {
    /// `CKV_K8S_16`, or `CKV_K8S_37 (partial: <note>)`.
    pub fn describe(&self) -> String {
        match (&self.exactness, &self.note) {
            (Match::Exact, None) => self.id.clone(),
            (m, Some(note)) => format!("{} ({}: {note})", self.id, m.as_str()),
            (m, None) => format!("{} ({})", self.id, m.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for Equivalent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        let map = match value {
            serde_json::Value::String(id) => {
                return Ok(Equivalent {
                    id,
                    exactness: Match::Exact,
                    note: None,
                });
            }
            serde_json::Value::Object(map) => map,
            other => {
                return Err(D::Error::custom(format!(
                    "an equivalent is an id or `{{id, match, note}}`, not `{other}`"
                )));
            }
        };
        if let Some(k) = map
            .keys()
            .find(|k| !["id", "match", "note"].contains(&k.as_str()))
        {
            return Err(D::Error::custom(format!(
                "unknown field `{k}` in an equivalent (expected id, match, note)"
            )));
        }
        let text = |key: &str| match map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(D::Error::custom(format!(
                "`{key}` of an equivalent must be a string, not `{other}`"
            ))),
        };
        let id = text("id")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| D::Error::custom("an equivalent needs an `id`"))?;
        let exactness = match text("match")?.as_deref() {
            None | Some("exact") => Match::Exact,
            Some("partial") => Match::Partial,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "equivalent `{id}`: unknown match `{other}` (expected exact or partial)"
                )));
            }
        };
        let note = text("note")?.filter(|s| !s.is_empty());
        match &note {
            None if exactness == Match::Partial => {
                return Err(D::Error::custom(format!(
                    "equivalent `{id}` is partial: its `note` must say how it differs"
                )));
            }
            Some(n) if n.contains('\n') => {
                return Err(D::Error::custom(format!(
                    "equivalent `{id}`: the note is one line"
                )));
            }
            _ => {}
        }
        Ok(Equivalent {
            id,
            exactness,
            note,
        })
    }
}

/// Checks of other tools a rule covers, exactly or partly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalents {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkov: Vec<Equivalent>,
    #[serde(default, rename = "kube-linter", skip_serializing_if = "Vec::is_empty")]
    pub kube_linter: Vec<Equivalent>,
    /// Pod Security Standards control, e.g. `baseline: Privileged Containers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trivy: Vec<Equivalent>,
}

impl Equivalents {
    /// The checks of `tool` the rule covers.
    pub fn of(&self, tool: Tool) -> &[Equivalent] {
        match tool {
            Tool::Checkov => &self.checkov,
            Tool::KubeLinter => &self.kube_linter,
            Tool::Trivy => &self.trivy,
        }
    }

    /// The equivalent of `tool` with id `id` (case-insensitive; for trivy, `KSV-0017` and
    /// `KSV017` are the same check).
    pub fn find(&self, tool: Tool, id: &str) -> Option<&Equivalent> {
        self.of(tool).iter().find(|e| same_peer_id(tool, &e.id, id))
    }
}

/// Whether two spellings name one check of `tool`: ids are case-insensitive, and trivy's
/// `AVD-KSV-0017` / `KSV-0017` / `KSV017` are one check.
pub fn same_peer_id(tool: Tool, a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    tool == Tool::Trivy && trivy_number(a).is_some() && trivy_number(a) == trivy_number(b)
}

fn trivy_number(id: &str) -> Option<u32> {
    let up = id.to_ascii_uppercase();
    let rest = up.strip_prefix("AVD-").unwrap_or(&up);
    let digits = rest.strip_prefix("KSV")?;
    let digits = digits.strip_prefix('-').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl RuleMeta {
    /// The same check in other tools, one line per tool
    /// (`checkov: CKV_K8S_16, CKV_K8S_37 (partial: ...)`).
    pub fn equivalent_tools(&self) -> Vec<String> {
        let e = &self.equivalents;
        let ids = |list: &[Equivalent]| {
            list.iter()
                .map(Equivalent::describe)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = Vec::new();
        if !e.checkov.is_empty() {
            out.push(format!("checkov: {}", ids(&e.checkov)));
        }
        if !e.kube_linter.is_empty() {
            out.push(format!("kube-linter: {}", ids(&e.kube_linter)));
        }
        if let Some(p) = &e.pss {
            out.push(format!("Pod Security Standards: {p}"));
        }
        if !e.trivy.is_empty() {
            out.push(format!("trivy: {}", ids(&e.trivy)));
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
