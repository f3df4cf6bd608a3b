//! Suppressions written into manifests: the annotation
//! `kubegate.io/ignore: "KG101,privileged-container reason"` on an object, or on the pod
//! template of a workload, silences those rules for that object. A suppression that
//! silences nothing is itself reported (`unused-suppression`), so stale exemptions surface.
//!
//! With `migration.honourAnnotations`, the skip annotations of checkov
//! (`checkov.io/skip1: CKV_K8S_20=reason`) and kube-linter
//! (`ignore-check.kube-linter.io/<check>: reason`, `kube-linter.io/ignore-all`) on an
//! object's own metadata (where those tools read them) silence the rules that list that
//! check as an equivalent, exact or partial.

use serde_json::Value;

use crate::parse::source_map::escape;
use crate::rule::{RuleMeta, Tool};

/// The annotation kubegate reads.
pub const ANNOTATION: &str = "kubegate.io/ignore";

/// One suppression annotation found on an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    /// Rule ids or names, as written.
    pub rules: Vec<String>,
    pub reason: Option<String>,
    /// JSON pointer of the annotation's value, relative to the object.
    pub pointer: String,
    /// For a peer tool's annotation, the annotation as written (`checkov.io/skip1:
    /// CKV_K8S_20`): its `rules` are the rules equivalent to the check it skips, and it is
    /// unused only when none of them silenced a finding.
    pub peer: Option<String>,
}

/// The peer tools whose skip annotations are honoured (`migration.honourAnnotations`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peers {
    pub checkov: bool,
    pub kube_linter: bool,
}

impl Peers {
    pub fn any(self) -> bool {
        self.checkov || self.kube_linter
    }
}

/// Prefixes of checkov's skip annotation keys (`checkov.io/skip1`, `checkov.io/skip2`, ...;
/// checkov also reads its former brand's prefix).
const CHECKOV_PREFIXES: &[&str] = &["checkov.io/skip", "bridgecrew.io/skip"];
/// kube-linter's per-check annotation prefix, and its annotation that skips every check.
const KUBE_LINTER_PREFIX: &str = "ignore-check.kube-linter.io/";
const KUBE_LINTER_ALL: &str = "kube-linter.io/ignore-all";

/// Where pod template metadata lives in each workload kind, relative to the object.
const TEMPLATE_METADATA: &[&str] = &[
    "/spec/template/metadata",
    "/spec/jobTemplate/spec/template/metadata",
    "/template/metadata",
];

/// Every suppression annotation of an object: its own metadata, then its pod template's.
pub fn inline(object: &Value) -> Vec<Inline> {
    let mut out = Vec::new();
    for meta in std::iter::once("/metadata").chain(TEMPLATE_METADATA.iter().copied()) {
        let Some(value) = object
            .pointer(&format!("{meta}/annotations"))
            .and_then(|a| a.get(ANNOTATION))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let (list, reason) = split_reason(value.trim());
        out.push(Inline {
            rules: list
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            reason,
            pointer: format!("{meta}/annotations/{}", escape(ANNOTATION)),
            peer: None,
        });
    }
    out
}

/// Every suppression of an object: [`inline`], then the skip annotations of the `peers`
/// on its own metadata that name a check some built-in rule covers. (An annotation for a
/// check no rule covers is left to its tool.)
pub fn inline_with(object: &Value, peers: Peers) -> Vec<Inline> {
    let mut out = inline(object);
    if !peers.any() {
        return out;
    }
    let Some(annotations) = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return out;
    };
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Only the rules that judge this kind of object: a checkov graph check skipped on a
    // binding is about the role a rule here judges, so it is left to checkov.
    static RULES: std::sync::OnceLock<Vec<RuleMeta>> = std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| crate::policy::rules().unwrap_or_default());
    for (key, value) in annotations {
        let value = value.as_str().unwrap_or_default().trim();
        let (tool, check, reason) =
            if peers.checkov && CHECKOV_PREFIXES.iter().any(|p| key.starts_with(p)) {
                // `CKV_K8S_20=reason` or `CKV_K8S_20`.
                let (id, reason) = value.split_once('=').unwrap_or((value, ""));
                (Tool::Checkov, Some(id.trim()), reason.trim())
            } else if peers.kube_linter && key == KUBE_LINTER_ALL {
                (Tool::KubeLinter, None, value)
            } else if peers.kube_linter
                && let Some(check) = key.strip_prefix(KUBE_LINTER_PREFIX)
            {
                (Tool::KubeLinter, Some(check.trim()), value)
            } else {
                continue;
            };
        let covering: Vec<String> = rules
            .iter()
            .filter(|r| r.applies_to(kind))
            .filter(|r| match check {
                Some(id) => r.equivalents.find(tool, id).is_some(),
                None => !r.equivalents.of(tool).is_empty(),
            })
            .map(|r| r.id.clone())
            .collect();
        if covering.is_empty() {
            continue;
        }
        out.push(Inline {
            rules: covering,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
            pointer: format!("/metadata/annotations/{}", escape(key)),
            peer: Some(if value.is_empty() {
                key.clone()
            } else {
                format!("{key}: {value}")
            }),
        });
    }
    out
}

/// The finding message of a peer annotation that silenced nothing.
pub fn unused_peer_message(peer: &str, s: &Inline) -> String {
    format!(
        "annotation `{peer}` (honoured through migration.honourAnnotations) silenced no \
         finding of its kubegate equivalents ({}); remove it",
        s.rules.join(", ")
    )
}

/// Splits `KG101, KG205 some reason` into the rule list and the reason: the list ends at
/// the first space that does not follow a comma.
fn split_reason(s: &str) -> (&str, Option<String>) {
    let mut after_comma = false;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if !after_comma {
                let reason = s[i..].trim();
                return (&s[..i], (!reason.is_empty()).then(|| reason.to_owned()));
            }
        } else {
            after_comma = c == ',';
        }
    }
    (s, None)
}

/// Whether `spec` (an id or a name, case-insensitive) designates the rule `id` named `name`.
pub fn designates(spec: &str, id: &str, name: Option<&str>) -> bool {
    spec.eq_ignore_ascii_case(id) || name.is_some_and(|n| spec.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_object_and_pod_template_annotations() {
        let obj = json!({
            "metadata": {"annotations": {ANNOTATION: "KG101, host-network  the node agent needs it"}},
            "spec": {"template": {"metadata": {"annotations": {ANNOTATION: "KG205"}}}}
        });
        let s = inline(&obj);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rules, ["KG101", "host-network"]);
        assert_eq!(s[0].reason.as_deref(), Some("the node agent needs it"));
        assert_eq!(s[0].pointer, "/metadata/annotations/kubegate.io~1ignore");
        assert_eq!(s[1].rules, ["KG205"]);
        assert_eq!(s[1].reason, None);
        assert!(designates(
            "privileged-container",
            "KG101",
            Some("privileged-container")
        ));
        assert!(designates("kg101", "KG101", None));
        assert!(!designates("KG102", "KG101", Some("privileged-container")));
    }

    /// The rules the metadata says cover `tool`'s check `id`.
    fn covering(tool: Tool, id: &str) -> Vec<String> {
        crate::policy::rules()
            .unwrap()
            .iter()
            .filter(|r| r.applies_to("Deployment") && r.equivalents.find(tool, id).is_some())
            .map(|r| r.id.clone())
            .collect()
    }

    #[test]
    fn peer_annotations_are_read_only_when_honoured() {
        let obj = json!({
            "kind": "Deployment",
            "metadata": {"annotations": {
                "checkov.io/skip1": "CKV_K8S_16=the node agent needs it",
                "checkov.io/skip2": "CKV_K8S_99999",
                "ignore-check.kube-linter.io/privileged-container": "legacy",
                "unrelated": "x"
            }},
            "spec": {"template": {"metadata": {"annotations": {
                "checkov.io/skip3": "CKV_K8S_20"
            }}}}
        });
        assert!(inline_with(&obj, Peers::default()).is_empty());
        let checkov = inline_with(
            &obj,
            Peers {
                checkov: true,
                kube_linter: false,
            },
        );
        // The unknown check and the pod template's annotation (checkov does not read it)
        // are left alone.
        assert_eq!(checkov.len(), 1, "{checkov:?}");
        assert_eq!(checkov[0].rules, covering(Tool::Checkov, "CKV_K8S_16"));
        assert!(!checkov[0].rules.is_empty());
        assert_eq!(
            checkov[0].reason.as_deref(),
            Some("the node agent needs it")
        );
        assert_eq!(
            checkov[0].pointer,
            "/metadata/annotations/checkov.io~1skip1"
        );
        assert_eq!(
            checkov[0].peer.as_deref(),
            Some("checkov.io/skip1: CKV_K8S_16=the node agent needs it")
        );
        let both = inline_with(
            &obj,
            Peers {
                checkov: true,
                kube_linter: true,
            },
        );
        assert_eq!(both.len(), 2);
        assert_eq!(
            both[1].rules,
            covering(Tool::KubeLinter, "privileged-container")
        );
        assert_eq!(both[1].reason.as_deref(), Some("legacy"));
    }

    #[test]
    fn kube_linter_ignore_all_covers_every_rule_with_a_kube_linter_equivalent() {
        let obj = json!({
            "kind": "Deployment",
            "metadata": {"annotations": {"kube-linter.io/ignore-all": ""}}
        });
        let s = inline_with(
            &obj,
            Peers {
                checkov: false,
                kube_linter: true,
            },
        );
        let expected: Vec<String> = crate::policy::rules()
            .unwrap()
            .iter()
            .filter(|r| r.applies_to("Deployment") && !r.equivalents.kube_linter.is_empty())
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].rules, expected);
        assert_eq!(s[0].peer.as_deref(), Some("kube-linter.io/ignore-all"));
    }
}
