//! A Constraint's `spec.match`, as Gatekeeper decides whether a Constraint applies to an
//! object (`pkg/mutation/match/match.go`, `pkg/target/matcher.go`): every criterion that is
//! present must hold, checked in Gatekeeper's order (the first that fails ends the check,
//! so a Constraint whose kinds do not match never asks for a Namespace).

use serde_json::Value;

use crate::admission::matching::{selector_matches, split_api_version};
use crate::admission::str_at;

/// `spec.match.scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Cluster,
    Namespaced,
}

/// A Constraint's `spec.match`, read once when the Constraint is loaded.
#[derive(Debug, Clone)]
pub(super) struct Match {
    /// `(apiGroups, kinds)` pairs; empty lists or `*` mean any.
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: Scope,
    namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    label_selector: Option<Value>,
    namespace_selector: Option<Value>,
    name: String,
    /// `source: Generated`: only objects that expansion generates, which kubegate never
    /// reviews (every object of a run is an `Original`).
    generated_only: bool,
}

/// Why a `spec.match` cannot be read: the JSON pointer (under the Constraint) and a message.
impl Match {
    /// Adds the kinds it may match (any, without `kinds`).
    pub(super) fn wants(&self, w: &mut crate::admission::Wants) {
        if self.kinds.is_empty() {
            w.add(None, None);
        }
        for (groups, kinds) in &self.kinds {
            let groups: Vec<Option<&str>> = if groups.is_empty() {
                vec![None]
            } else {
                groups.iter().map(|g| Some(g.as_str())).collect()
            };
            let kinds: Vec<Option<&str>> = if kinds.is_empty() {
                vec![None]
            } else {
                kinds.iter().map(|k| Some(k.as_str())).collect()
            };
            for g in &groups {
                for k in &kinds {
                    w.add(*g, *k);
                }
            }
        }
    }
}

pub(super) type Invalid = (String, String);

fn strings(v: Option<&Value>, pointer: &str) -> Result<Vec<String>, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| (format!("{pointer}/{i}"), "must be of type string".into()))
            })
            .collect(),
        Some(_) => Err((pointer.to_owned(), "must be of type array".into())),
    }
}

fn selector(v: Option<&Value>, pointer: &str) -> Result<Option<Value>, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(s) => {
            // The selector is checked once here, so that matching can only fail for the
            // reasons Gatekeeper's matching fails (a missing Namespace).
            selector_matches(s, &Value::Null).map_err(|e| (pointer.to_owned(), e))?;
            Ok(Some(s.clone()))
        }
    }
}

impl Match {
    /// Reads `spec.match` (`m` may be `null`: no criteria, everything matches).
    pub fn parse(m: Option<&Value>) -> Result<Match, Invalid> {
        const AT: &str = "/spec/match";
        let empty = serde_json::Map::new();
        let m = match m {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err((AT.into(), "must be of type object".into())),
        };
        let mut kinds = Vec::new();
        match m.get("kinds") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, k) in items.iter().enumerate() {
                    let at = format!("{AT}/kinds/{i}");
                    if !k.is_object() {
                        return Err((at, "must be of type object".into()));
                    }
                    kinds.push((
                        strings(k.get("apiGroups"), &format!("{at}/apiGroups"))?,
                        strings(k.get("kinds"), &format!("{at}/kinds"))?,
                    ));
                }
            }
            Some(_) => return Err((format!("{AT}/kinds"), "must be of type array".into())),
        }
        let scope = match m.get("scope") {
            None | Some(Value::Null) => Scope::All,
            Some(v) => match v.as_str() {
                Some("*") => Scope::All,
                Some("Cluster") => Scope::Cluster,
                Some("Namespaced") => Scope::Namespaced,
                _ => {
                    return Err((
                        format!("{AT}/scope"),
                        format!(
                            "Unsupported value: {v}: supported values: \"*\", \"Cluster\", \"Namespaced\""
                        ),
                    ));
                }
            },
        };
        let name = match m.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err((format!("{AT}/name"), "must be of type string".into())),
        };
        let generated_only = match m.get("source") {
            None | Some(Value::Null) => false,
            Some(v) => match v.as_str() {
                Some("All" | "Original") => false,
                Some("Generated") => true,
                _ => {
                    return Err((
                        format!("{AT}/source"),
                        format!(
                            "Unsupported value: {v}: supported values: \"All\", \"Generated\", \"Original\""
                        ),
                    ));
                }
            },
        };
        Ok(Match {
            kinds,
            scope,
            namespaces: strings(m.get("namespaces"), &format!("{AT}/namespaces"))?,
            excluded_namespaces: strings(
                m.get("excludedNamespaces"),
                &format!("{AT}/excludedNamespaces"),
            )?,
            label_selector: selector(m.get("labelSelector"), &format!("{AT}/labelSelector"))?,
            namespace_selector: selector(
                m.get("namespaceSelector"),
                &format!("{AT}/namespaceSelector"),
            )?,
            name,
            generated_only,
        })
    }

    /// Whether the Constraint applies to `object`, whose Namespace (if the run has it) is
    /// `ns`. `Err` is Gatekeeper's matching error (`failed to run Match criteria: …`), which
    /// Gatekeeper turns into a violation.
    pub fn matches(&self, object: &Value, ns: Option<&Value>) -> Result<bool, String> {
        let kind = str_at(object, &["kind"]).unwrap_or("");
        let group = split_api_version(str_at(object, &["apiVersion"]).unwrap_or("")).0;
        let namespace = str_at(object, &["metadata", "namespace"]).unwrap_or("");
        let is_namespace = group.is_empty() && kind == "Namespace";
        let any = |list: &[String], item: &str| {
            list.is_empty() || list.iter().any(|s| s == "*" || s == item)
        };
        // kinds
        if !self.kinds.is_empty()
            && !self
                .kinds
                .iter()
                .any(|(groups, kinds)| any(kinds, kind) && any(groups, group))
        {
            return Ok(false);
        }
        // scope
        let has_namespace = !namespace.is_empty() || ns.is_some();
        let in_scope = match self.scope {
            Scope::All => true,
            Scope::Cluster => is_namespace || !has_namespace,
            Scope::Namespaced => !is_namespace && has_namespace,
        };
        if !in_scope {
            return Ok(false);
        }
        // namespaces and excludedNamespaces: a Namespace by its own name; an object without
        // a namespace passes both.
        let own_namespace = if is_namespace {
            str_at(object, &["metadata", "name"]).unwrap_or("")
        } else {
            ns.and_then(|n| str_at(n, &["metadata", "name"]))
                .unwrap_or(namespace)
        };
        if !own_namespace.is_empty() {
            if !self.namespaces.is_empty()
                && !self.namespaces.iter().any(|w| wildcard(w, own_namespace))
            {
                return Ok(false);
            }
            if self
                .excluded_namespaces
                .iter()
                .any(|w| wildcard(w, own_namespace))
            {
                return Ok(false);
            }
        }
        // labelSelector
        if let Some(sel) = &self.label_selector
            && !selector_matches(sel, object).map_err(criteria)?
        {
            return Ok(false);
        }
        // namespaceSelector
        if let Some(sel) = &self.namespace_selector {
            let ok = if is_namespace {
                selector_matches(sel, object).map_err(criteria)?
            } else if let Some(ns) = ns {
                selector_matches(sel, ns).map_err(criteria)?
            } else if namespace.is_empty() {
                true
            } else {
                return Err(criteria(
                    "namespace selector for namespace-scoped object but missing Namespace".into(),
                ));
            };
            if !ok {
                return Ok(false);
            }
        }
        // name (or, for an object named by the server, its generateName prefix)
        if !self.name.is_empty() {
            let name = str_at(object, &["metadata", "name"]).unwrap_or("");
            let generate = str_at(object, &["metadata", "generateName"]).unwrap_or("");
            if !wildcard(&self.name, name) && !wildcard_generate_name(&self.name, generate) {
                return Ok(false);
            }
        }
        Ok(!self.generated_only)
    }
}

fn criteria(e: String) -> String {
    format!("failed to run Match criteria: {e}")
}

/// Gatekeeper's `Wildcard.Matches` (`pkg/wildcard`): `*` only at the start (a suffix), at
/// the end (a prefix) or both (a substring); anywhere else it is a literal `*`.
pub(super) fn wildcard(pattern: &str, candidate: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => candidate.contains(rest.strip_suffix('*').unwrap_or(rest)),
        (Some(suffix), None) => candidate.ends_with(suffix),
        (None, Some(prefix)) => candidate.starts_with(prefix),
        (None, None) => pattern == candidate,
    }
}

/// `Wildcard.MatchesGenerateName`: a `generateName` is the start of a name, so only a
/// prefix or substring pattern can match it.
fn wildcard_generate_name(pattern: &str, generate_name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => generate_name.contains(rest.strip_suffix('*').unwrap_or(rest)),
        (None, Some(prefix)) => generate_name.starts_with(prefix),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Match {
        match Match::parse(Some(&v)) {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn wildcards_are_prefixes_suffixes_or_substrings() {
        assert!(wildcard("kube-*", "kube-system"));
        assert!(!wildcard("kube-*", "my-kube-system"));
        assert!(wildcard("*-system", "kube-system"));
        assert!(wildcard("*sys*", "kube-system"));
        assert!(wildcard("*", "anything"));
        assert!(!wildcard("k*m", "kubesystem"));
        assert!(wildcard("k*m", "k*m"));
        assert!(wildcard_generate_name("pod-*", "pod-"));
        assert!(!wildcard_generate_name("*-pod", "x-pod"));
    }

    #[test]
    fn kinds_match_groups_and_wildcards() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "a"}});
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}});
        let only_pods = m(json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}));
        assert_eq!(only_pods.matches(&pod, None), Ok(true));
        assert_eq!(only_pods.matches(&deploy, None), Ok(false));
        let any_apps = m(json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["*"]}]}));
        assert_eq!(any_apps.matches(&deploy, None), Ok(true));
        assert_eq!(any_apps.matches(&pod, None), Ok(false));
        let any_group = m(json!({"kinds": [{"kinds": ["Deployment"]}]}));
        assert_eq!(any_group.matches(&deploy, None), Ok(true));
        assert_eq!(m(json!({})).matches(&pod, None), Ok(true));
    }

    #[test]
    fn namespaces_and_excluded_globs() {
        let obj = |ns: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}});
        let only =
            m(json!({"namespaces": ["team-*"], "excludedNamespaces": ["*-system", "team-b"]}));
        assert_eq!(only.matches(&obj("team-a"), None), Ok(true));
        assert_eq!(only.matches(&obj("team-b"), None), Ok(false));
        assert_eq!(only.matches(&obj("prod"), None), Ok(false));
        let excl = m(json!({"excludedNamespaces": ["kube-*"]}));
        assert_eq!(excl.matches(&obj("kube-system"), None), Ok(false));
        assert_eq!(excl.matches(&obj("default"), None), Ok(true));
        // A Namespace is matched by its own name; a cluster-scoped object passes.
        let ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-public"}});
        assert_eq!(excl.matches(&ns, None), Ok(false));
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}});
        assert_eq!(only.matches(&cr, None), Ok(true));
    }

    #[test]
    fn scope_and_names() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "a"}});
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}});
        let cluster = m(json!({"scope": "Cluster"}));
        assert_eq!(cluster.matches(&cm, None), Ok(false));
        assert_eq!(cluster.matches(&cr, None), Ok(true));
        let namespaced = m(json!({"scope": "Namespaced"}));
        assert_eq!(namespaced.matches(&cm, None), Ok(true));
        assert_eq!(namespaced.matches(&cr, None), Ok(false));
        assert_eq!(m(json!({"name": "web-*"})).matches(&cm, None), Ok(true));
        assert_eq!(m(json!({"name": "db-*"})).matches(&cm, None), Ok(false));
        assert_eq!(
            m(json!({"source": "Generated"})).matches(&cm, None),
            Ok(false)
        );
        assert_eq!(
            m(json!({"source": "Original"})).matches(&cm, None),
            Ok(true)
        );
    }

    #[test]
    fn selectors_on_labels_and_namespaces() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a", "labels": {"app": "web"}}});
        let prod = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"env": "prod"}}});
        let dev = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"env": "dev"}}});
        assert_eq!(
            m(json!({"labelSelector": {"matchLabels": {"app": "web"}}})).matches(&pod, None),
            Ok(true)
        );
        assert_eq!(
            m(json!({"labelSelector": {"matchLabels": {"app": "db"}}})).matches(&pod, None),
            Ok(false)
        );
        let by_ns = m(json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}}));
        assert_eq!(by_ns.matches(&pod, Some(&prod)), Ok(true));
        assert_eq!(by_ns.matches(&pod, Some(&dev)), Ok(false));
        // A Namespace is matched by its own labels.
        assert_eq!(by_ns.matches(&prod, None), Ok(true));
        assert_eq!(by_ns.matches(&dev, None), Ok(false));
        // A namespaced object whose Namespace is unknown cannot be matched.
        assert_eq!(
            by_ns.matches(&pod, None),
            Err("failed to run Match criteria: namespace selector for namespace-scoped object but missing Namespace".into())
        );
        // A cluster-scoped object passes.
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}});
        assert_eq!(by_ns.matches(&cr, None), Ok(true));
        // Kinds are checked first: no Namespace is needed for an object of another kind.
        let pods_in_prod = m(
            json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}], "namespaceSelector": {"matchLabels": {"env": "prod"}}}),
        );
        assert_eq!(pods_in_prod.matches(&pod, None), Ok(false));
    }

    #[test]
    fn bad_match_fields_are_refused() {
        assert_eq!(
            Match::parse(Some(&json!({"scope": "Everything"})))
                .map(|_| ())
                .map_err(|e| e.0),
            Err("/spec/match/scope".into())
        );
        assert_eq!(
            Match::parse(Some(&json!({"kinds": [{"kinds": "Pod"}]})))
                .map(|_| ())
                .map_err(|e| e.0),
            Err("/spec/match/kinds/0/kinds".into())
        );
        assert_eq!(
            Match::parse(Some(
                &json!({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}})
            ))
            .map(|_| ())
            .map_err(|e| e.0),
            Err("/spec/match/labelSelector".into())
        );
        assert!(Match::parse(Some(&json!({"source": "Mutated"}))).is_err());
        assert!(Match::parse(None).is_ok());
    }
}
