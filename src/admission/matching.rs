//! What the three engines share to decide whether a policy applies to an object: API
//! versions, resource names, scopes, label selectors and name globs.

use serde_json::Value;

/// `apps/v1` → (`apps`, `v1`); `v1` → (`""`, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The plural resource name of a kind, as the API machinery guesses it
/// (`apimachinery/pkg/api/meta.UnsafeGuessKindToResource`), which every built-in kind
/// follows: lower case, `endpoints` unchanged, `…s` → `…ses`, `…y` → `…ies`, else `…s`.
pub fn resource_of(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if singular.is_empty() || singular.ends_with("endpoints") {
        return singular;
    }
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

/// Whether a built-in kind is cluster-scoped, by the generated table of Kubernetes kinds
/// ([`crate::render::patch::is_namespaced`]); a kind it does not know is namespaced (the
/// CRDs of the run say for theirs: [`super::Cluster::namespaced`]).
pub fn cluster_scoped(group: &str, kind: &str) -> bool {
    // The table is keyed by version; the scope of a kind does not change between versions.
    const VERSIONS: &[&str] = &["v1", "v1beta1", "v1beta2", "v1alpha1", "v2"];
    VERSIONS
        .iter()
        .find_map(|v| crate::render::patch::is_namespaced(group, v, kind))
        .is_some_and(|namespaced| !namespaced)
        || matches!(
            (group, kind),
            (
                "admissionregistration.k8s.io",
                "ValidatingAdmissionPolicy"
                    | "ValidatingAdmissionPolicyBinding"
                    | "MutatingAdmissionPolicy"
                    | "MutatingAdmissionPolicyBinding"
            ) | ("networking.k8s.io", "IPAddress" | "ServiceCIDR")
                | ("resource.k8s.io", "DeviceClass" | "ResourceSlice")
                | ("storage.k8s.io", "VolumeAttributesClass")
                | ("certificates.k8s.io", "ClusterTrustBundle")
        )
}

/// The strings of a list (`apiGroups`, `kinds`, …); a missing field, or anything but a
/// list, is empty, and items that are not strings are left out.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The labels of an object (`metadata.labels`), strings only.
pub fn labels(object: &Value) -> impl Iterator<Item = (&str, &str)> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    labels(object).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Whether `object`'s labels match a Kubernetes label selector (`matchLabels` and
/// `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`); an empty selector
/// matches everything. `Err` says why the selector is invalid.
pub fn selector_matches(selector: &Value, object: &Value) -> Result<bool, String> {
    let Some(sel) = selector.as_object() else {
        return if selector.is_null() {
            Ok(true)
        } else {
            Err("a label selector must be a mapping".into())
        };
    };
    if let Some(ml) = sel.get("matchLabels") {
        let Some(ml) = ml.as_object() else {
            return Err("`matchLabels` must be a mapping".into());
        };
        for (k, v) in ml {
            let Some(v) = v.as_str() else {
                return Err(format!("`matchLabels.{k}` must be a string"));
            };
            if label(object, k) != Some(v) {
                return Ok(false);
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions") {
        let Some(exprs) = exprs.as_array() else {
            return Err("`matchExpressions` must be a list".into());
        };
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = label(object, key);
            let ok = match e.get("operator").and_then(Value::as_str) {
                Some("In") => have.is_some_and(|h| values.contains(&h)),
                Some("NotIn") => have.is_none_or(|h| !values.contains(&h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                Some(op) => return Err(format!("unknown label selector operator `{op}`")),
                None => return Err("a `matchExpressions` entry needs an `operator`".into()),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A glob of `*` (any run of characters) and `?` (one character), matched whole.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_are_guessed_as_the_api_machinery_does() {
        for (kind, resource) in [
            ("Deployment", "deployments"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Endpoints", "endpoints"),
            ("ComponentStatus", "componentstatuses"),
            ("Pod", "pods"),
        ] {
            assert_eq!(resource_of(kind), resource);
        }
    }

    #[test]
    fn scopes_come_from_the_kinds_table() {
        assert!(cluster_scoped("", "Namespace"));
        assert!(cluster_scoped("rbac.authorization.k8s.io", "ClusterRole"));
        assert!(!cluster_scoped("apps", "Deployment"));
        assert!(!cluster_scoped("example.com", "Widget"));
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let o = json!({"metadata": {"labels": {"env": "prod", "team": "a"}}});
        let yes = json!({"matchLabels": {"env": "prod"}, "matchExpressions": [
            {"key": "team", "operator": "In", "values": ["a", "b"]},
            {"key": "tier", "operator": "DoesNotExist"}]});
        assert_eq!(selector_matches(&yes, &o), Ok(true));
        let no =
            json!({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]});
        assert_eq!(selector_matches(&no, &o), Ok(false));
        assert_eq!(selector_matches(&json!({}), &o), Ok(true));
        assert!(
            selector_matches(
                &json!({"matchExpressions": [{"key": "a", "operator": "Has"}]}),
                &o
            )
            .is_err()
        );
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob("kube-*", "kube-system"));
        assert!(glob("*-system", "kube-system"));
        assert!(!glob("kube-*", "my-kube-system"));
        assert!(glob("a?c", "abc"));
        assert!(glob("*", ""));
        assert!(!glob(&"a*".repeat(30), &"a".repeat(40).replace('a', "b")));
    }
}
