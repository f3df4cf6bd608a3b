//! ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
//! (`admissionregistration.k8s.io/v1`), evaluated as the API server's `validating` admission
//! plugin evaluates them (`ADMISSION-REMOTE-YAML-FACTS` B), on the CEL interpreter and
//! Kubernetes libraries of the CRD validation rules ([`crate::schema::cel`]).
//!
//! For each binding whose policy is in the run: the policy's `matchConstraints` and the
//! binding's `matchResources` (resource rules, exclusions, operations, scope, names, the
//! namespace selector against the Namespaces of the run, the object selector), then per
//! parameter object (`paramKind` with the binding's `paramRef`, found among the objects of
//! the run) the `matchConditions`, the `variables` and the `validations`. A validation that
//! is not `true` is a violation with the binding's `validationActions` (Deny → error, Warn →
//! warning, Audit → info) and the API server's message. An expression that fails (a
//! missing key) follows the policy's `failurePolicy`; what the interpreter cannot decide is
//! one `admission-unsupported` note, never a verdict.
//!
//! Differences from a cluster, by necessity: there is no user (`request.userInfo` is empty
//! and `authorizer` is not available), a Namespace the run does not hold has only its
//! `kubernetes.io/metadata.name` label, `matchPolicy: Equivalent` matches another version of
//! the same group and resource, and a policy no binding of the run names is not run (the
//! API server does not run it either): one `admission-unbound` note says so.

use serde_json::Value;

use super::program::{Decision, Input, Layout, Program};
use super::{Cluster, Found, Problem, Request, Violation, matching, str_at};
use crate::finding::Severity;

/// Whether `group`/`kind` is a kind of this engine (never itself sent to admission).
pub fn is_policy(group: &str, kind: &str) -> bool {
    group == "admissionregistration.k8s.io"
        && matches!(
            kind,
            "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        )
}

/// The policies and bindings of a run, compiled.
#[derive(Default)]
pub struct Vap {
    policies: Vec<Policy>,
    bindings: Vec<Binding>,
}

struct Policy {
    /// `ValidatingAdmissionPolicy`, or Kyverno's `ValidatingPolicy` (the same language,
    /// bound by itself).
    kind: &'static str,
    name: String,
    /// Its index in [`super::Policies::found`].
    found: usize,
    param_kind: Option<(String, String)>,
    constraints: Match,
    program: Program,
}

struct Binding {
    name: String,
    /// Index into [`Vap::policies`].
    policy: usize,
    severity: Severity,
    resources: Option<Match>,
    param_ref: Option<ParamRef>,
}

pub(super) struct ParamRef {
    name: Option<String>,
    selector: Option<Value>,
    namespace: Option<String>,
    /// `parameterNotFoundAction: Deny` (else `Allow`).
    deny_missing: bool,
}

impl ParamRef {
    /// A `paramRef` object.
    pub(super) fn parse(r: &Value) -> ParamRef {
        ParamRef {
            name: text(r, "name"),
            selector: r.get("selector").cloned(),
            namespace: text(r, "namespace"),
            deny_missing: text(r, "parameterNotFoundAction").as_deref() == Some("Deny"),
        }
    }
}

/// `matchConstraints` or `matchResources`.
#[derive(Default)]
struct Match {
    rules: Vec<ResourceRule>,
    excludes: Vec<ResourceRule>,
    namespace_selector: Value,
    object_selector: Value,
    /// `matchPolicy: Equivalent` (the default).
    equivalent: bool,
}

struct ResourceRule {
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
    scope: String,
    names: Vec<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

impl Match {
    fn parse(v: &Value) -> Match {
        let rules = |key: &str| {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|r| ResourceRule {
                            groups: matching::strings(r.get("apiGroups")),
                            versions: matching::strings(r.get("apiVersions")),
                            resources: matching::strings(r.get("resources")),
                            operations: matching::strings(r.get("operations")),
                            scope: text(r, "scope").unwrap_or_else(|| "*".into()),
                            names: matching::strings(r.get("resourceNames")),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Match {
            rules: rules("resourceRules"),
            excludes: rules("excludeResourceRules"),
            namespace_selector: v.get("namespaceSelector").cloned().unwrap_or(Value::Null),
            object_selector: v.get("objectSelector").cloned().unwrap_or(Value::Null),
            equivalent: text(v, "matchPolicy").is_none_or(|p| p != "Exact"),
        }
    }

    /// Whether the request is matched; `rules_required`: without resource rules nothing is
    /// (a policy's constraints), else everything the other criteria allow (a binding's).
    fn matches(&self, req: &Request<'_>, cluster: &Cluster<'_>, rules_required: bool) -> bool {
        let (group, version, kind) = (req.group(), req.version(), req.kind());
        let resource = cluster.resource(group, kind);
        let namespaced = cluster.namespaced(group, kind);
        let hit = |r: &ResourceRule| {
            let any = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
            any(&r.operations, req.operation.as_str())
                && any(&r.groups, group)
                && (self.equivalent || any(&r.versions, version))
                && r.resources
                    .iter()
                    .any(|x| x == "*" || x == "*/*" || *x == resource)
                && match r.scope.as_str() {
                    "Cluster" => !namespaced,
                    "Namespaced" => namespaced,
                    _ => true,
                }
                && (r.names.is_empty() || r.names.iter().any(|n| n == req.name()))
        };
        if (rules_required || !self.rules.is_empty()) && !self.rules.iter().any(hit) {
            return false;
        }
        if self.excludes.iter().any(hit) {
            return false;
        }
        let ns_ok = if namespaced {
            let ns = namespace_object(cluster, applied_namespace(req));
            matching::selector_matches(&self.namespace_selector, &ns).unwrap_or(false)
        } else if req.group().is_empty() && kind == "Namespace" {
            matching::selector_matches(&self.namespace_selector, req.subject()).unwrap_or(false)
        } else {
            true
        };
        let obj_ok = self.object_selector.is_null()
            || [req.object, req.old]
                .into_iter()
                .flatten()
                .any(|o| matching::selector_matches(&self.object_selector, o).unwrap_or(false));
        ns_ok && obj_ok
    }
}

/// The namespace a namespaced object is applied in: its own, else `default` (kubectl's,
/// without `-n`; the kyverno CLI's too).
pub(super) fn applied_namespace<'a>(req: &Request<'a>) -> &'a str {
    match req.namespace() {
        "" => "default",
        ns => ns,
    }
}

/// The Namespace `name` as the policies see it: the run's, else one with only the label
/// every Namespace carries.
pub(super) fn namespace_object(cluster: &Cluster<'_>, name: &str) -> Value {
    match cluster.namespace(name) {
        Some(ns) => ns.clone(),
        None => super::assumed_namespace(name),
    }
}

/// Kyverno's autogen of a `ValidatingPolicy` for Pods (`pkg/cel/policies/vpol/autogen`):
/// when it matches `pods` alone (one rule, core `v1`, no names, no exclusions, no object
/// selector), one policy for the controllers with a pod template (`spec.template`:
/// DaemonSet, Deployment, ReplicaSet, StatefulSet, Job) and one for CronJob
/// (`spec.jobTemplate.spec.template`), their expressions rewritten as Kyverno rewrites them
/// (`object.spec` and `object.metadata`, and the same of `oldObject`, except
/// `….namespace`), limited to `spec.autogen.podControllers.controllers` when given.
fn autogen(policy: &Value) -> Vec<Value> {
    let spec = &policy["spec"];
    let mc = &spec["matchConstraints"];
    let rules = mc["resourceRules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let one = |v: &Value, want: &str| {
        v.as_array()
            .is_some_and(|a| a.len() == 1 && a[0].as_str() == Some(want))
    };
    let selector_set = |v: &Value| {
        ["matchLabels", "matchExpressions"].iter().any(|k| {
            v.get(k).is_some_and(|x| {
                x.as_object().is_some_and(|o| !o.is_empty())
                    || x.as_array().is_some_and(|a| !a.is_empty())
            })
        })
    };
    let [rule] = rules else {
        return Vec::new();
    };
    if selector_set(&mc["objectSelector"])
        || mc["excludeResourceRules"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        || rule["resourceNames"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        || !one(&rule["apiGroups"], "")
        || !one(&rule["apiVersions"], "v1")
        || !one(&rule["resources"], "pods")
    {
        return Vec::new();
    }
    const CONTROLLERS: &[(&str, &str, &str, bool)] = &[
        ("daemonsets", "apps", "v1", false),
        ("deployments", "apps", "v1", false),
        ("replicasets", "apps", "v1", false),
        ("statefulsets", "apps", "v1", false),
        ("jobs", "batch", "v1", false),
        ("cronjobs", "batch", "v1", true),
    ];
    let wanted: Option<Vec<&str>> = spec
        .pointer("/autogen/podControllers/controllers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let Ok(text) = serde_json::to_string(spec) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for cronjob in [false, true] {
        let targets: Vec<&(&str, &str, &str, bool)> = CONTROLLERS
            .iter()
            .filter(|c| c.3 == cronjob && wanted.as_ref().is_none_or(|w| w.contains(&c.0)))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let template = if cronjob {
            "spec.jobTemplate.spec.template"
        } else {
            "spec.template"
        };
        let mut rewritten = text.clone();
        for (from, to) in [
            ("spec", format!("{template}.spec")),
            ("metadata", format!("{template}.metadata")),
        ] {
            for root in ["object.", "oldObject."] {
                rewritten = replace_unprotected(
                    &rewritten,
                    &format!("{root}{from}"),
                    &format!("{root}{to}"),
                );
            }
        }
        let Ok(mut new_spec) = serde_json::from_str::<Value>(&rewritten) else {
            continue;
        };
        // One rule per group and version, as Kyverno builds them.
        let mut by_gv: Vec<((&str, &str), Vec<&str>)> = Vec::new();
        for (resource, group, version, _) in &targets {
            match by_gv.iter_mut().find(|(gv, _)| *gv == (*group, *version)) {
                Some((_, r)) => r.push(resource),
                None => by_gv.push(((group, version), vec![resource])),
            }
        }
        let rules: Vec<Value> = by_gv
            .into_iter()
            .map(|((g, v), mut r)| {
                r.sort_unstable();
                serde_json::json!({"apiGroups": [g], "apiVersions": [v], "resources": r,
                    "operations": rule["operations"].clone()})
            })
            .collect();
        let mut constraints = serde_json::json!({"resourceRules": rules});
        if let Some(ns) = mc.get("namespaceSelector") {
            constraints["namespaceSelector"] = ns.clone();
        }
        new_spec["matchConstraints"] = constraints;
        let mut generated = policy.clone();
        generated["spec"] = new_spec;
        out.push(generated);
    }
    out
}

/// `text` with every `from` replaced by `to`, except where `.namespace` follows (Kyverno's
/// `protectedSuffixes`: a workload's own namespace is not its template's).
fn replace_unprotected(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        out.push_str(&rest[..i]);
        let after = &rest[i + from.len()..];
        let protected = after
            .strip_prefix(".namespace")
            .is_some_and(|n| !n.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
        out.push_str(if protected { from } else { to });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The severity of `validationActions` (the strongest: Deny → error, Warn → warning, Audit
/// → info); `None`, with the problem, when the API server refuses them.
fn severity_of(actions: &[String], oi: usize, problems: &mut Vec<Problem>) -> Option<Severity> {
    if actions.iter().any(|a| a == "Deny") && actions.iter().any(|a| a == "Warn") {
        problems.push(Problem::invalid(
            oi,
            "/spec/validationActions",
            "`validationActions` cannot hold both Deny and Warn: the API server refuses the binding",
        ));
        return None;
    }
    let mut severity = None;
    for (i, a) in actions.iter().enumerate() {
        let s = match a.as_str() {
            "Deny" => Severity::Error,
            "Warn" => Severity::Warning,
            "Audit" => Severity::Info,
            other => {
                problems.push(Problem::invalid(
                    oi,
                    format!("/spec/validationActions/{i}"),
                    format!("unknown validation action `{other}` (Deny, Warn, Audit)"),
                ));
                continue;
            }
        };
        severity = Some(severity.map_or(s, |old: Severity| old.max(s)));
    }
    severity
}

impl Vap {
    /// Loads the policies and bindings among `objects`.
    pub fn load(objects: &[&Value], problems: &mut Vec<Problem>, found: &mut Vec<Found>) -> Self {
        let mut vap = Vap::default();
        // Policy name → (index into `policies`, object index).
        let mut by_name: Vec<(String, usize, usize)> = Vec::new();
        let kind_of = |o: &Value, want: &str| {
            str_at(o, &["kind"]) == Some(want)
                && matching::split_api_version(str_at(o, &["apiVersion"]).unwrap_or("")).0
                    == "admissionregistration.k8s.io"
        };
        // Kyverno's ValidatingPolicy: a VAP's spec, with its own `validationActions` and
        // no binding.
        let mut self_bound: Vec<(usize, usize, Severity)> = Vec::new();
        for (oi, o) in objects.iter().enumerate() {
            let kyverno = str_at(o, &["kind"]) == Some("ValidatingPolicy")
                && matching::split_api_version(str_at(o, &["apiVersion"]).unwrap_or("")).0
                    == "policies.kyverno.io";
            if !kyverno && !kind_of(o, "ValidatingAdmissionPolicy") {
                continue;
            }
            let kind = if kyverno {
                "ValidatingPolicy"
            } else {
                "ValidatingAdmissionPolicy"
            };
            let name = str_at(o, &["metadata", "name"]).unwrap_or("").to_owned();
            if kyverno {
                let spec = &o["spec"];
                if spec.pointer("/evaluation/admission/enabled") == Some(&Value::Bool(false)) {
                    // Not run at admission (background scans only).
                    continue;
                }
                let actions = matching::strings(spec.get("validationActions"));
                let actions = if actions.is_empty() {
                    vec!["Deny".to_owned()]
                } else {
                    actions
                };
                let Some(severity) = severity_of(&actions, oi, problems) else {
                    continue;
                };
                if let Some(p) = Self::policy(o, oi, &name, problems) {
                    let rule = format!("{kind}/{name}");
                    if found.iter().any(|f| f.rule == rule) {
                        continue;
                    }
                    let found_at = found.len();
                    self_bound.push((vap.policies.len(), oi, severity));
                    vap.policies.push(Policy {
                        kind,
                        found: found_at,
                        ..p
                    });
                    found.push(Found {
                        rule,
                        engine: "Kyverno",
                        object: oi,
                    });
                    // Kyverno runs a policy for Pods on the Pod controllers too.
                    for generated in autogen(o) {
                        // Problems were said of the policy as written.
                        let mut ignored = Vec::new();
                        if let Some(p) = Self::policy(&generated, oi, &name, &mut ignored) {
                            self_bound.push((vap.policies.len(), oi, severity));
                            vap.policies.push(Policy {
                                kind,
                                found: found_at,
                                ..p
                            });
                        }
                    }
                }
                continue;
            }
            if let Some(p) = Self::policy(o, oi, &name, problems) {
                if by_name.iter().any(|(n, _, _)| *n == name) {
                    let mut p = Problem::invalid(
                        oi,
                        "/metadata/name",
                        format!(
                            "a second ValidatingAdmissionPolicy named `{name}` in the run: \
                             whichever is applied last replaces the other in the cluster; \
                             kubegate runs the first"
                        ),
                    );
                    p.severity = Severity::Warning;
                    problems.push(p);
                    continue;
                }
                let p = Policy {
                    found: found.len(),
                    ..p
                };
                found.push(Found {
                    rule: format!("ValidatingAdmissionPolicy/{name}"),
                    engine: "ValidatingAdmissionPolicy",
                    object: oi,
                });
                by_name.push((name, vap.policies.len(), oi));
                vap.policies.push(p);
            }
        }
        let mut bound = vec![false; vap.policies.len()];
        for (policy, _, severity) in self_bound {
            bound[policy] = true;
            vap.bindings.push(Binding {
                name: String::new(),
                policy,
                severity,
                resources: None,
                param_ref: None,
            });
        }
        for (oi, o) in objects.iter().enumerate() {
            if !kind_of(o, "ValidatingAdmissionPolicyBinding") {
                continue;
            }
            let spec = &o["spec"];
            let name = str_at(o, &["metadata", "name"]).unwrap_or("").to_owned();
            let Some(policy_name) = text(spec, "policyName") else {
                problems.push(Problem::invalid(
                    oi,
                    "/spec",
                    "a ValidatingAdmissionPolicyBinding needs `spec.policyName`",
                ));
                continue;
            };
            let Some(&(_, policy, _)) = by_name.iter().find(|(n, _, _)| *n == policy_name) else {
                let mut p = Problem::invalid(
                    oi,
                    "/spec/policyName",
                    format!(
                        "binding `{name}` names ValidatingAdmissionPolicy `{policy_name}`, which \
                         the run does not hold: the API server ignores the binding"
                    ),
                );
                p.severity = Severity::Warning;
                problems.push(p);
                continue;
            };
            let actions = matching::strings(spec.get("validationActions"));
            if actions.is_empty() {
                problems.push(Problem::invalid(
                    oi,
                    "/spec",
                    "a ValidatingAdmissionPolicyBinding needs `validationActions`",
                ));
                continue;
            }
            let Some(severity) = severity_of(&actions, oi, problems) else {
                continue;
            };
            let param_ref = spec
                .get("paramRef")
                .filter(|v| v.is_object())
                .map(ParamRef::parse);
            if let Some(r) = &param_ref
                && r.name.is_some() == r.selector.is_some()
            {
                problems.push(Problem::invalid(
                    oi,
                    "/spec/paramRef",
                    "`paramRef` needs exactly one of `name` and `selector`",
                ));
                continue;
            }
            bound[policy] = true;
            vap.bindings.push(Binding {
                name,
                policy,
                severity,
                resources: spec
                    .get("matchResources")
                    .filter(|v| v.is_object())
                    .map(Match::parse),
                param_ref,
            });
        }
        for (p, (name, _, oi)) in by_name.iter().enumerate() {
            if !bound[p] {
                problems.push(Problem {
                    policy: *oi,
                    rule: "admission-unbound",
                    severity: Severity::Info,
                    message: format!(
                        "no ValidatingAdmissionPolicyBinding of the run names `{name}`: the API \
                         server does not run an unbound policy, and neither does kubegate"
                    ),
                    pointer: String::new(),
                });
            }
        }
        vap
    }

    /// One policy, or `None` (with its problems) when the API server would refuse it.
    fn policy(o: &Value, oi: usize, name: &str, problems: &mut Vec<Problem>) -> Option<Policy> {
        let spec = &o["spec"];
        let mc = &spec["matchConstraints"];
        let mut refused = false;
        if mc
            .get("resourceRules")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            problems.push(Problem::invalid(
                oi,
                "/spec",
                "`spec.matchConstraints.resourceRules` is required: the API server refuses the policy",
            ));
            refused = true;
        }
        let list = |key: &str| spec.get(key).map(|v| (v, format!("/spec/{key}")));
        let program = match Program::compile(&Layout {
            conditions: list("matchConditions"),
            variables: list("variables"),
            validations: list("validations"),
            prelude: &[],
            default_message: None,
            fail: text(spec, "failurePolicy").is_none_or(|f| f != "Ignore"),
        }) {
            Ok(p) => p,
            Err(errors) => {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|(at, message)| Problem::invalid(oi, at, message)),
                );
                return None;
            }
        };
        if refused {
            return None;
        }
        if program.is_empty() && spec.get("auditAnnotations").is_none() {
            problems.push(Problem::invalid(
                oi,
                "/spec",
                "a ValidatingAdmissionPolicy needs `validations` or `auditAnnotations`",
            ));
            return None;
        }
        problems.extend(
            program
                .unsupported()
                .into_iter()
                .map(|(at, message)| Problem::unsupported(oi, at, message)),
        );
        let param_kind = spec.get("paramKind").filter(|v| v.is_object()).map(|p| {
            (
                text(p, "apiVersion").unwrap_or_default(),
                text(p, "kind").unwrap_or_default(),
            )
        });
        Some(Policy {
            kind: "ValidatingAdmissionPolicy",
            name: name.to_owned(),
            found: 0,
            param_kind,
            constraints: Match::parse(mc),
            program,
        })
    }

    /// Adds what the bound policies match (by API group) and their parameter kinds.
    pub fn wants(&self, w: &mut super::Wants) {
        for b in &self.bindings {
            let Some(p) = self.policies.get(b.policy) else {
                continue;
            };
            for r in &p.constraints.rules {
                for g in &r.groups {
                    w.add(Some(g), None);
                }
            }
            if let Some((api_version, kind)) = &p.param_kind {
                let group = matching::split_api_version(api_version).0;
                w.add(Some(group), Some(kind));
                w.keep_whole(group, kind);
            }
            p.program.wants(w);
        }
    }

    /// Evaluates every binding on one request.
    pub fn evaluate(&self, req: &Request<'_>, cluster: &Cluster<'_>, out: &mut Vec<Violation>) {
        for b in &self.bindings {
            let Some(p) = self.policies.get(b.policy) else {
                continue;
            };
            if !p.constraints.matches(req, cluster, true)
                || b.resources
                    .as_ref()
                    .is_some_and(|m| !m.matches(req, cluster, false))
            {
                continue;
            }
            let said = Said {
                policy: p,
                binding: b,
            };
            match params(p, b, req, cluster) {
                Ok(params) => {
                    for param in params {
                        evaluate(&said, req, cluster, param, out);
                    }
                }
                Err(e) => said.failure(e, out),
            }
        }
    }
}

/// The parameter objects of one binding for one request; `Err` when the API server fails
/// the request for want of them (then `failurePolicy` decides).
fn params<'a>(
    p: &Policy,
    b: &Binding,
    req: &Request<'_>,
    cluster: &Cluster<'a>,
) -> Result<Vec<Option<&'a Value>>, String> {
    match (&p.param_kind, &b.param_ref) {
        (Some(kind), Some(r)) => find_params(kind, r, req, cluster),
        _ => Ok(vec![None]),
    }
}

/// The objects of the run of `paramKind` (apiVersion, kind) that `paramRef` selects for a
/// request; `Err` when the API server fails the request for want of them.
pub(super) fn find_params<'a>(
    (api_version, kind): &(String, String),
    r: &ParamRef,
    req: &Request<'_>,
    cluster: &Cluster<'a>,
) -> Result<Vec<Option<&'a Value>>, String> {
    let (group, _) = matching::split_api_version(api_version);
    let namespaced = cluster.namespaced(group, kind);
    let namespace = match (&r.namespace, namespaced) {
        (Some(_), false) => {
            return Err(format!(
                "paramRef.namespace is set but {kind} is cluster-scoped"
            ));
        }
        (Some(ns), true) => Some(ns.as_str()),
        (None, true) => {
            let ns = applied_namespace(req);
            if !cluster.namespaced(req.group(), req.kind()) {
                return Err(format!(
                    "cannot use the namespaced parameter kind {kind} for a cluster-scoped request"
                ));
            }
            Some(ns)
        }
        (None, false) => None,
    };
    let found: Vec<Option<&Value>> = cluster
        .objects()
        .iter()
        .filter(|o| {
            str_at(o, &["apiVersion"]) == Some(api_version.as_str())
                && str_at(o, &["kind"]) == Some(kind.as_str())
                && namespace
                    .is_none_or(|ns| str_at(o, &["metadata", "namespace"]).unwrap_or("") == ns)
                && match (&r.name, &r.selector) {
                    (Some(n), _) => str_at(o, &["metadata", "name"]) == Some(n.as_str()),
                    (None, Some(sel)) => matching::selector_matches(sel, o).unwrap_or(false),
                    (None, None) => false,
                }
        })
        .map(|o| Some(*o))
        .collect();
    if found.is_empty() {
        if r.deny_missing {
            return Err(
                "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
            );
        }
        return Ok(Vec::new());
    }
    Ok(found)
}

/// A policy with one of its bindings: how their verdicts are said.
struct Said<'a> {
    policy: &'a Policy,
    binding: &'a Binding,
}

impl Said<'_> {
    fn violation(&self, message: String, pointer: String) -> Violation {
        let (p, b) = (&self.policy.name, &self.binding.name);
        let kind = self.policy.kind;
        if kind != "ValidatingAdmissionPolicy" {
            return Violation {
                rule: format!("{kind}/{p}"),
                severity: self.binding.severity,
                message: format!("{kind} '{p}' failed: {message}"),
                pointer,
                policy: self.policy.found,
            };
        }
        let message = if self.binding.severity == Severity::Error {
            format!("ValidatingAdmissionPolicy '{p}' with binding '{b}' denied request: {message}")
        } else {
            format!(
                "Validation failed for ValidatingAdmissionPolicy '{p}' with binding '{b}': {message}"
            )
        };
        Violation {
            rule: format!("ValidatingAdmissionPolicy/{p}"),
            severity: self.binding.severity,
            message,
            pointer,
            policy: self.policy.found,
        }
    }

    /// An error of the evaluation: a violation under `failurePolicy: Fail`.
    fn failure(&self, error: String, out: &mut Vec<Violation>) {
        if self.policy.program.fails() {
            out.push(self.violation(error, String::new()));
        }
    }

    /// What the interpreter could not decide: said once per policy and expression for the
    /// run (the caller drops repeats).
    fn unsupported(&self, source: &str, why: &str, out: &mut Vec<Violation>) {
        out.push(Violation {
            rule: "admission-unsupported".into(),
            severity: Severity::Info,
            message: format!(
                "{} `{}`: `{source}` not checked: {why}",
                self.policy.kind, self.policy.name
            ),
            pointer: String::new(),
            policy: self.policy.found,
        });
    }
}

/// One evaluation: one policy, one binding, one parameter.
fn evaluate(
    said: &Said<'_>,
    req: &Request<'_>,
    cluster: &Cluster<'_>,
    param: Option<&Value>,
    out: &mut Vec<Violation>,
) {
    let (group, kind) = (req.group(), req.kind());
    let namespaced = cluster.namespaced(group, kind);
    let namespace = if namespaced {
        Some(namespace_object(cluster, applied_namespace(req)))
    } else {
        None
    };
    let resource = cluster.resource(group, kind);
    let mut decisions = Vec::new();
    said.policy.program.run(
        &Input {
            req,
            operation: req.operation.as_str(),
            resource: &resource,
            namespace: if namespaced {
                applied_namespace(req)
            } else {
                ""
            },
            namespace_object: namespace.as_ref(),
            params: param,
        },
        &mut decisions,
    );
    for d in decisions {
        match d {
            Decision::Deny { message, pointer } => out.push(said.violation(message, pointer)),
            Decision::Error(e) => out.push(said.violation(e, String::new())),
            Decision::Unsupported { source, why } => said.unsupported(&source, &why, out),
        }
    }
}

#[cfg(test)]
mod tests;
