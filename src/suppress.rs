//! Suppressions written into manifests: the annotation
//! `kubegate.io/ignore: "KG101,privileged-container reason"` on an object, or on the pod
//! template of a workload, silences those rules for that object. A suppression that
//! silences nothing is itself reported (`unused-suppression`), so stale exemptions surface.

use serde_json::Value;

use crate::parse::source_map::escape;

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
}

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
        });
    }
    out
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
}
