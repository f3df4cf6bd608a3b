//! Kyverno `ClusterPolicy` and `Policy` `validate` rules, run as the kyverno CLI runs them
//! (`kyverno apply`/`kyverno test`, Kyverno 1.19), so that kubegate's verdicts are the CLI's.
//!
//! Supported:
//! - `validate.pattern` and `validate.anyPattern` with every anchor (`(k)` conditional,
//!   `=(k)` equality, `^(k)` existence, `X(k)` negation, `<(k)` global) and the whole leaf
//!   language (`|`, `&`, `>`, `>=`, `<`, `<=`, `!`, ranges `a-b` and `a!-b`, `*`/`?`
//!   wildcards, durations, quantities, Go's typing of null, numbers and booleans);
//!   [`pattern`] has the walk with Kyverno's skip rules.
//! - `validate.deny.conditions` (`any`/`all`, or the old list form) and `preconditions`,
//!   with every operator ([`conditions`]).
//! - `validate.foreach` (nested too) with `list`, `elementScope`, `preconditions`,
//!   `pattern`, `anyPattern`, `deny`, `foreach`, and `{{element}}`/`{{elementIndex}}`.
//! - `{{ }}` variables in messages, patterns, conditions, with the JMESPath of
//!   [`jmespath`] over `request.object`, `request.oldObject`, `request.operation`,
//!   `request.namespace`, `request.name`, `request.kind` and the `foreach` element.
//! - `match`/`exclude` with `any`/`all` or the plain form: `kinds` in every form (`Kind`,
//!   `version/Kind`, `group/version/Kind`, wildcards, subresources), `name`, `names`,
//!   `namespaces`, `annotations`, `selector`, `namespaceSelector` (the Namespaces of the
//!   run), `operations`. A `Policy` applies in its own namespace only.
//! - Autogen (`pkg/autogen/v1`): a rule for `Pod` also runs on the Pod controllers (at
//!   `spec.template`, CronJob at `spec.jobTemplate.spec.template`), under the same
//!   conditions and with the `pod-policies.kyverno.io/autogen-controllers` annotation.
//! - `validate.cel` (`expressions`, `variables`, `paramKind`/`paramRef` among the objects
//!   of the run, `celPreconditions`) on the engine of ValidatingAdmissionPolicy
//!   ([`super::program`]), as `validateCELHandler` runs it: the first denying expression
//!   fails the rule with its message (else the rule's `message`), an expression that fails
//!   denies too, preconditions not met skip the rule; autogen rewrites `object.spec` and
//!   `object.metadata` (and `oldObject`'s) to the template's.
//! - Severity from `validate.failureAction`, else `spec.validationFailureAction`
//!   (`Enforce` → error, `Audit` → warning), their namespace overrides, and
//!   `allowExistingViolations` on `UPDATE`.
//!
//! Not supported, each reported once per rule as `admission-unsupported` and never run
//! (so never a false violation): `validate.podSecurity`, `validate.manifests`, `context`
//! entries (API calls, ConfigMaps, image data, variables), `celPreconditions` outside
//! `validate.cel`, a CEL expression the interpreter cannot run (`authorizer`; said per
//! expression, the others run), `match` by `subjects`/`roles`/`clusterRoles` (kubegate knows no
//! user), variables kubegate cannot provide (`request.userInfo`, `serviceAccountName`,
//! `images`, context entries, `{{@}}`), JMESPath functions outside [`jmespath`]'s list,
//! `$(…)` references. `ValidatingPolicy` (CEL) runs in [`super::vap`]. An `exclude` by subjects or roles
//! never excludes, as in the CLI (which has no user either): one info says so.
//! `mutate`, `generate` and `verifyImages` rules are not validation: they are ignored.
//!
//! A rule that errors (a variable that does not resolve, an anchor key missing
//! everywhere) is an error in Kyverno, not a failure: kubegate reports no violation for it.

mod conditions;
mod jmespath;
mod pattern;
#[cfg(test)]
mod tests;
mod variables;

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use self::conditions::Operator;
use self::jmespath::Ast;
use self::variables::Context;
use super::matching::{self, glob, selector_matches, split_api_version, strings};
use super::program::{Decision, Input, Layout, Program};
use super::vap::ParamRef;
use super::{Cluster, Found, Operation, Problem, Request, Violation, str_at};
use crate::finding::Severity;

/// Deepest pattern accepted: policies are input too.
const MAX_PATTERN_DEPTH: usize = 64;

const AUTOGEN_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// Whether `group`/`kind` is a policy kind of this engine.
pub fn is_policy(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("kyverno.io", "ClusterPolicy" | "Policy") | ("policies.kyverno.io", "ValidatingPolicy")
    )
}

/// The policies of this engine found in a run, compiled.
#[derive(Default)]
pub struct Kyverno {
    policies: Vec<Policy>,
    /// Every `{{ }}` expression and `foreach.list` of the policies, parsed once.
    exprs: HashMap<String, Ast>,
}

struct Policy {
    /// Index into `found`.
    found: usize,
    rule_id: String,
    /// The namespace of a `Policy`; `None` for a `ClusterPolicy`.
    namespace: Option<String>,
    action: Option<String>,
    overrides: Vec<Override>,
    rules: Vec<Rule>,
}

struct Override {
    enforce: bool,
    namespaces: Vec<String>,
    selector: Option<Value>,
}

struct Rule {
    /// As Kyverno names it: `autogen-…` and `autogen-cronjob-…` for generated rules.
    name: String,
    matcher: Match,
    exclude: Option<Match>,
    preconditions: Option<Conditions>,
    message: Option<String>,
    body: Body,
    action: Option<String>,
    overrides: Vec<Override>,
    allow_existing: bool,
    /// What kubegate cannot run of the rule while running the rest (pointer below the
    /// rule, message).
    unsupported: Vec<(String, String)>,
}

#[derive(Default)]
struct Match {
    any: Vec<Filter>,
    all: Vec<Filter>,
    plain: Filter,
}

#[derive(Default)]
struct Filter {
    kinds: Vec<String>,
    names: Vec<String>,
    namespaces: Vec<String>,
    annotations: Vec<(String, String)>,
    selector: Option<Value>,
    namespace_selector: Option<Value>,
    operations: Vec<String>,
    user_info: bool,
    /// No resource description at all.
    empty: bool,
}

enum Body {
    Pattern(Value),
    AnyPattern(Value),
    Deny(Conditions),
    Foreach(Vec<Foreach>),
    Cel(Box<CelRule>),
    Nothing,
}

/// A `validate.cel` rule: the language of ValidatingAdmissionPolicy, run on its engine.
struct CelRule {
    program: Program,
    /// `paramKind` (apiVersion, kind) with its `paramRef`.
    params: Option<((String, String), ParamRef)>,
}

struct Foreach {
    list: String,
    element_scope: Option<bool>,
    preconditions: Option<Conditions>,
    body: Body,
}

enum Conditions {
    AnyAll {
        any: Option<Vec<Condition>>,
        all: Vec<Condition>,
    },
    List(Vec<Condition>),
}

struct Condition {
    key: Value,
    operator: Operator,
    value: Value,
    message: String,
}

/// What one rule says of one object.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pass,
    Fail {
        message: String,
        at: Vec<String>,
    },
    Skip,
    Error(String),
    /// What kubegate cannot decide: said, never a verdict.
    Unsupported(String),
}

/// Why a rule cannot be run.
enum Refusal {
    Unsupported(String, String),
    Invalid(String, String),
}

impl Kyverno {
    /// Adds what its policies may judge: every object, when it has one (its kinds come in
    /// too many forms, autogen among them, to narrow cheaply).
    pub fn wants(&self, w: &mut super::Wants) {
        if !self.policies.is_empty() {
            w.add(None, None);
            w.read_all();
        }
    }

    /// Loads the policies of this engine among `objects` (others are ignored): what cannot
    /// run is a [`Problem`] on its object, each policy that can is added to `found`.
    pub fn load(objects: &[&Value], problems: &mut Vec<Problem>, found: &mut Vec<Found>) -> Self {
        let mut k = Kyverno::default();
        for (idx, obj) in objects.iter().enumerate() {
            let kind = str_at(obj, &["kind"]).unwrap_or("");
            let group = split_api_version(str_at(obj, &["apiVersion"]).unwrap_or("")).0;
            if !is_policy(group, kind) {
                continue;
            }
            if group == "policies.kyverno.io" {
                // The language of ValidatingAdmissionPolicy: run by `super::vap`.
                continue;
            }
            k.load_policy(idx, obj, kind, problems, found);
        }
        k
    }

    fn load_policy(
        &mut self,
        idx: usize,
        obj: &Value,
        kind: &str,
        problems: &mut Vec<Problem>,
        found: &mut Vec<Found>,
    ) {
        let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
        let spec = &obj["spec"];
        let Some(raw_rules) = spec.get("rules").and_then(Value::as_array) else {
            problems.push(Problem::invalid(
                idx,
                "/spec",
                "a Kyverno policy needs `spec.rules`, a list",
            ));
            return;
        };
        let mut names = std::collections::HashSet::new();
        for (i, r) in raw_rules.iter().enumerate() {
            match r.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => {
                    if !names.insert(n) {
                        problems.push(Problem::invalid(
                            idx,
                            format!("/spec/rules/{i}/name"),
                            format!("rule name `{n}` is used twice"),
                        ));
                    }
                }
                _ => problems.push(Problem::invalid(
                    idx,
                    format!("/spec/rules/{i}"),
                    "a rule needs a `name`",
                )),
            }
        }
        let annotation = obj
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(AUTOGEN_ANNOTATION))
            .and_then(Value::as_str);
        let mut rules = Vec::new();
        for (raw, origin) in compute_rules(raw_rules, annotation) {
            let base = format!("/spec/rules/{origin}");
            match self.compile_rule(&raw) {
                Ok(Some(rule)) => {
                    // Said of the rule as written, not again of its generated rules.
                    if !raw
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .starts_with("autogen-")
                    {
                        for (at, msg) in &rule.unsupported {
                            problems.push(Problem::unsupported(idx, format!("{base}{at}"), msg));
                        }
                    }
                    rules.push(rule);
                }
                Ok(None) => {}
                // A generated rule fails for the reasons its rule does: said once, there.
                Err(_)
                    if raw
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .starts_with("autogen-")
                        && !raw_rules
                            .get(origin)
                            .and_then(|r| r.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .starts_with("autogen-") => {}
                Err(Refusal::Unsupported(at, msg)) => {
                    problems.push(Problem::unsupported(idx, format!("{base}{at}"), msg))
                }
                Err(Refusal::Invalid(at, msg)) => {
                    problems.push(Problem::invalid(idx, format!("{base}{at}"), msg))
                }
            }
            if let Some(info) = exclude_by_user(&raw)
                && !raw
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .starts_with("autogen-")
            {
                problems.push(Problem::unsupported(idx, format!("{base}/exclude"), info));
            }
        }
        if rules.is_empty() {
            return;
        }
        let namespace = (kind == "Policy").then(|| {
            str_at(obj, &["metadata", "namespace"])
                .unwrap_or("default")
                .to_owned()
        });
        let found_idx = found.len();
        found.push(Found {
            rule: format!("{kind}/{name}"),
            engine: "Kyverno",
            object: idx,
        });
        self.policies.push(Policy {
            found: found_idx,
            rule_id: format!("{kind}/{name}"),
            namespace,
            action: spec
                .get("validationFailureAction")
                .and_then(Value::as_str)
                .map(str::to_owned),
            overrides: overrides(spec.get("validationFailureActionOverrides")),
            rules,
        });
    }

    /// Compiles one rule; `Ok(None)` for a rule that validates nothing.
    fn compile_rule(&mut self, r: &Value) -> Result<Option<Rule>, Refusal> {
        let Some(validate) = r.get("validate").filter(|v| v.is_object()) else {
            return Ok(None);
        };
        let unsupported =
            |at: &str, msg: &str| Err(Refusal::Unsupported(at.to_owned(), msg.to_owned()));
        for (field, what) in [
            (
                "podSecurity",
                "validate.podSecurity (Pod Security Standards) is not supported; the rule is not run",
            ),
            (
                "manifests",
                "validate.manifests (signed manifests) is not supported; the rule is not run",
            ),
        ] {
            if validate.get(field).is_some_and(|v| !v.is_null()) {
                return unsupported(&format!("/validate/{field}"), what);
            }
        }
        if r.get("context")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty())
        {
            return unsupported(
                "/context",
                "context entries (API calls, ConfigMaps, image data, variables) are not supported; the rule is not run",
            );
        }
        let cel = validate.get("cel").filter(|c| !c.is_null());
        if cel.is_none()
            && r.get("celPreconditions")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
        {
            return unsupported(
                "/celPreconditions",
                "celPreconditions are supported with validate.cel only; the rule is not run",
            );
        }
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let matcher = match r.get("match") {
            Some(m) => compile_match(m).map_err(|e| Refusal::Invalid("/match".into(), e))?,
            None => return Err(Refusal::Invalid("".into(), "a rule needs `match`".into())),
        };
        if matcher
            .any
            .iter()
            .chain(&matcher.all)
            .chain([&matcher.plain])
            .any(|f| f.user_info)
        {
            return unsupported(
                "/match",
                "match by subjects, roles or clusterRoles is not supported (kubegate knows no user); the rule is not run",
            );
        }
        let exclude = match r.get("exclude").filter(|e| !e.is_null()) {
            Some(e) => Some(compile_match(e).map_err(|e| Refusal::Invalid("/exclude".into(), e))?),
            None => None,
        };
        let message = validate
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut unsupported_parts = Vec::new();
        let body = match cel {
            Some(c) => {
                let (body, notes) = compile_cel(r, c, message.as_deref())?;
                unsupported_parts = notes;
                Some(body)
            }
            None => None,
        };
        // Every variable must be one kubegate can resolve.
        let mut strings = Vec::new();
        // (The CEL of `validate.cel` is not substituted.)
        let substituted = if body.is_some() { None } else { Some(validate) };
        for p in [r.get("preconditions"), substituted].into_iter().flatten() {
            variables::strings_of(p, &mut strings);
        }
        for s in &strings {
            if s.contains("$(") && !s.contains("\\$(") {
                return unsupported(
                    "/validate",
                    "`$(…)` references are not supported; the rule is not run",
                );
            }
            for (whole, expr, _) in variables::variables_of(s) {
                self.check_expression(&expr).map_err(|why| {
                    Refusal::Unsupported(
                        "/validate".into(),
                        format!("variable `{whole}`: {why}; the rule is not run"),
                    )
                })?;
            }
        }
        let preconditions = match r.get("preconditions").filter(|p| !p.is_null()) {
            Some(p) => Some(
                compile_conditions(p).map_err(|e| Refusal::Invalid("/preconditions".into(), e))?,
            ),
            None => None,
        };
        let body = match body {
            Some(b) => b,
            None => self.compile_body(validate, "/validate", 0)?,
        };
        Ok(Some(Rule {
            name,
            matcher,
            exclude,
            preconditions,
            message,
            body,
            action: validate
                .get("failureAction")
                .and_then(Value::as_str)
                .map(str::to_owned),
            overrides: overrides(validate.get("failureActionOverrides")),
            allow_existing: validate
                .get("allowExistingViolations")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            unsupported: unsupported_parts,
        }))
    }

    /// Parses an expression and checks it reads only what kubegate provides.
    fn check_expression(&mut self, expr: &str) -> Result<(), String> {
        let ast = jmespath::parse(expr)?;
        let mut roots = Vec::new();
        roots_of(&ast, &mut roots);
        for root in roots {
            let ok = match root.as_str() {
                "request.object" | "request.oldObject" | "request.operation"
                | "request.namespace" | "request.name" | "request.kind" => true,
                r => r
                    .strip_prefix("elementIndex")
                    .or_else(|| r.strip_prefix("element"))
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())),
            };
            if !ok {
                return Err(format!("`{root}` is not provided by kubegate"));
            }
        }
        // A `DELETE` reads the old object through the same expression.
        if expr.contains("request.object") {
            let old = expr.replace("request.object", "request.oldObject");
            if let Ok(a) = jmespath::parse(&old) {
                self.exprs.insert(old, a);
            }
        }
        self.exprs.insert(expr.to_owned(), ast);
        Ok(())
    }

    fn compile_body(&mut self, v: &Value, at: &str, depth: usize) -> Result<Body, Refusal> {
        if depth > 8 {
            return Err(Refusal::Unsupported(
                at.into(),
                "foreach nested too deeply".into(),
            ));
        }
        if let Some(deny) = v.get("deny").filter(|d| !d.is_null()) {
            let c = compile_conditions(deny.get("conditions").unwrap_or(&Value::Null))
                .map_err(|e| Refusal::Invalid(format!("{at}/deny/conditions"), e))?;
            return Ok(Body::Deny(c));
        }
        for (field, any) in [("pattern", false), ("anyPattern", true)] {
            if let Some(p) = v.get(field).filter(|p| !p.is_null()) {
                if pattern::depth(p) > MAX_PATTERN_DEPTH {
                    return Err(Refusal::Unsupported(
                        format!("{at}/{field}"),
                        "pattern nested too deeply".into(),
                    ));
                }
                if any && !p.is_array() {
                    return Err(Refusal::Invalid(
                        format!("{at}/{field}"),
                        "`anyPattern` must be a list".into(),
                    ));
                }
                return Ok(if any {
                    Body::AnyPattern(p.clone())
                } else {
                    Body::Pattern(p.clone())
                });
            }
        }
        if let Some(list) = v.get("foreach").and_then(Value::as_array) {
            let mut out = Vec::new();
            for (i, fe) in list.iter().enumerate() {
                let fat = format!("{at}/foreach/{i}");
                if fe
                    .get("context")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty())
                {
                    return Err(Refusal::Unsupported(
                        format!("{fat}/context"),
                        "context entries in foreach are not supported; the rule is not run".into(),
                    ));
                }
                let list = fe
                    .get("list")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                self.check_expression(&list).map_err(|why| {
                    Refusal::Unsupported(
                        format!("{fat}/list"),
                        format!("foreach list `{list}`: {why}; the rule is not run"),
                    )
                })?;
                let preconditions = match fe.get("preconditions").filter(|p| !p.is_null()) {
                    Some(p) => Some(
                        compile_conditions(p)
                            .map_err(|e| Refusal::Invalid(format!("{fat}/preconditions"), e))?,
                    ),
                    None => None,
                };
                out.push(Foreach {
                    list,
                    element_scope: fe.get("elementScope").and_then(Value::as_bool),
                    preconditions,
                    body: self.compile_body(fe, &fat, depth + 1)?,
                });
            }
            return Ok(Body::Foreach(out));
        }
        Ok(Body::Nothing)
    }

    /// Evaluates the policies on one request.
    pub fn evaluate(&self, req: &Request<'_>, cluster: &Cluster<'_>, out: &mut Vec<Violation>) {
        let mut ctx: Option<Context<'_>> = None;
        for p in &self.policies {
            for rule in &p.rules {
                let Some(outcome) = self.verdict(p, rule, req, cluster, &mut ctx) else {
                    continue;
                };
                match outcome {
                    Outcome::Fail { message, at } => out.push(Violation {
                        rule: p.rule_id.clone(),
                        severity: severity(p, rule, req, cluster),
                        message,
                        pointer: super::pointer_of(&[at], req.subject()),
                        policy: p.found,
                    }),
                    Outcome::Unsupported(message) => out.push(Violation {
                        rule: "admission-unsupported".into(),
                        severity: Severity::Info,
                        message: format!("{} rule {}: {message}", p.rule_id, rule.name),
                        pointer: String::new(),
                        policy: p.found,
                    }),
                    Outcome::Pass | Outcome::Skip | Outcome::Error(_) => {}
                }
            }
        }
    }

    /// What one rule says of a request; `None` when the rule does not apply to it.
    fn verdict<'s>(
        &'s self,
        p: &Policy,
        rule: &Rule,
        req: &Request<'_>,
        cluster: &Cluster<'_>,
        ctx: &mut Option<Context<'s>>,
    ) -> Option<Outcome> {
        if !applies(p, rule, req, cluster) {
            return None;
        }
        let ctx = ctx.get_or_insert_with(|| self.context(req));
        let outcome = self.run(rule, req, ctx, cluster)?;
        // `allowExistingViolations`: an `UPDATE` of an object that already failed an
        // enforced rule is let through.
        if matches!(outcome, Outcome::Fail { .. })
            && req.operation == Operation::Update
            && rule.allow_existing
            && enforce(p, rule, req, cluster)
            && let Some(old) = req.old
        {
            let old_req = Request::create(old);
            if rule_matches(rule, &old_req, cluster) {
                let mut old_ctx = self.context(&old_req);
                if matches!(
                    self.run(rule, &old_req, &mut old_ctx, cluster),
                    Some(Outcome::Fail { .. })
                ) {
                    return Some(Outcome::Skip);
                }
            }
        }
        Some(outcome)
    }

    fn context(&self, req: &Request<'_>) -> Context<'_> {
        let (group, version) = (req.group(), req.version());
        let root = json!({"request": {
            "operation": req.operation.as_str(),
            "object": req.object.cloned().unwrap_or(Value::Null),
            "oldObject": req.old.cloned().unwrap_or(Value::Null),
            "namespace": req.namespace(),
            "name": req.name(),
            "kind": {"group": group, "version": version, "kind": req.kind()},
        }});
        Context {
            root,
            exprs: &self.exprs,
            delete: req.operation == Operation::Delete,
        }
    }

    /// `validator.validate` of the rule (after matching).
    fn run(
        &self,
        rule: &Rule,
        req: &Request<'_>,
        ctx: &mut Context<'_>,
        cluster: &Cluster<'_>,
    ) -> Option<Outcome> {
        if let Body::Cel(c) = &rule.body {
            return Some(
                stopped_by(rule.preconditions.as_ref(), ctx)
                    .unwrap_or_else(|| run_cel(c, req, cluster)),
            );
        }
        let resource = req.subject();
        self.validate(
            rule,
            rule.preconditions.as_ref(),
            &rule.body,
            req,
            ctx,
            resource,
            &[],
            0,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn validate(
        &self,
        rule: &Rule,
        preconditions: Option<&Conditions>,
        body: &Body,
        req: &Request<'_>,
        ctx: &mut Context<'_>,
        resource: &Value,
        at: &[String],
        nesting: usize,
    ) -> Option<Outcome> {
        if let Some(stop) = stopped_by(preconditions, ctx) {
            return Some(stop);
        }
        match body {
            Body::Deny(conds) => Some(match check(conds, ctx) {
                Err(e) => Outcome::Error(format!("failed to check deny conditions: {e}")),
                Ok((false, _, _)) => Outcome::Pass,
                Ok((true, msg, keys)) => Outcome::Fail {
                    message: deny_message(rule, &msg, ctx),
                    at: pointer_of_keys(&keys, ctx, at),
                },
            }),
            Body::Pattern(p) => {
                if nesting == 0 && req.operation == Operation::Delete {
                    return None;
                }
                let p = match substituted(p, ctx) {
                    Ok(p) => p,
                    Err(error) => return Some(error),
                };
                Some(match pattern::match_pattern(resource, &p) {
                    Ok(()) => Outcome::Pass,
                    Err(m) if m.skip => Outcome::Skip,
                    Err(m) => match m.path {
                        None => Outcome::Error(error_message(rule, &m.message, None, ctx)),
                        Some(path) => Outcome::Fail {
                            message: error_message(
                                rule,
                                &m.message,
                                Some(&pattern::kyverno_path(&path)),
                                ctx,
                            ),
                            at: at.iter().cloned().chain(path).collect(),
                        },
                    },
                })
            }
            Body::AnyPattern(ps) => {
                if nesting == 0 && req.operation == Operation::Delete {
                    return None;
                }
                let ps = match substituted(ps, ctx) {
                    Ok(p) => p,
                    Err(error) => return Some(error),
                };
                let patterns = ps.as_array().cloned().unwrap_or_default();
                let (mut failed, mut skipped) = (Vec::new(), Vec::new());
                let mut first_at: Option<Vec<String>> = None;
                for (i, p) in patterns.iter().enumerate() {
                    match pattern::match_pattern(resource, p) {
                        Ok(()) => return Some(Outcome::Pass),
                        Err(m) if m.skip => skipped.push(i),
                        Err(m) => match m.path {
                            None => failed
                                .push(format!("rule {}[{i}] failed: {}", rule.name, m.message)),
                            Some(path) => {
                                failed.push(format!(
                                    "rule {}[{i}] failed at path {}",
                                    rule.name,
                                    pattern::kyverno_path(&path)
                                ));
                                first_at.get_or_insert(path);
                            }
                        },
                    }
                }
                if failed.is_empty() {
                    return Some(if skipped.is_empty() {
                        Outcome::Pass
                    } else {
                        Outcome::Skip
                    });
                }
                let errs = failed.join(" ");
                let message = match rule.message.as_deref().filter(|m| !m.is_empty()) {
                    None => format!("validation error: {errs}"),
                    Some(m) => match ctx.substitute_str(m) {
                        Err(_) => format!(
                            "validation error: variables substitution error in rule {} execution error: {errs}",
                            rule.name
                        ),
                        Ok(v) => {
                            let m = text(&v);
                            if m.ends_with('.') {
                                format!("validation error: {m} {errs}")
                            } else {
                                format!("validation error: {m}. {errs}")
                            }
                        }
                    },
                };
                Some(Outcome::Fail {
                    message,
                    at: at
                        .iter()
                        .cloned()
                        .chain(first_at.unwrap_or_default())
                        .collect(),
                })
            }
            Body::Foreach(list) => self.foreach(rule, list, req, ctx, nesting),
            // Run by `run`, never nested.
            Body::Cel(_) | Body::Nothing => None,
        }
    }

    fn foreach(
        &self,
        rule: &Rule,
        list: &[Foreach],
        req: &Request<'_>,
        ctx: &mut Context<'_>,
        nesting: usize,
    ) -> Option<Outcome> {
        let mut applied = 0;
        let mut list_error = None;
        for fe in list {
            let elements = match ctx.query(&fe.list) {
                Ok(Value::Array(items)) => items,
                Ok(v) => vec![v],
                Err(e) if e.0.contains("Unknown key") => continue,
                Err(e) => {
                    list_error = Some(e.0);
                    continue;
                }
            };
            let subject = req.subject();
            for (index, element) in elements.iter().enumerate() {
                if element.is_null() {
                    continue;
                }
                let saved = set_element(ctx, element, index, nesting);
                let scoped = fe.element_scope.unwrap_or(element.is_object()) && element.is_object();
                let at = if scoped {
                    locate(subject, element).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let resource = if scoped { element } else { subject };
                let r = self.validate(
                    rule,
                    fe.preconditions.as_ref(),
                    &fe.body,
                    req,
                    ctx,
                    resource,
                    &at,
                    nesting + 1,
                );
                restore_element(ctx, saved);
                match r {
                    None | Some(Outcome::Skip) => {}
                    Some(Outcome::Error(e)) if e.contains("failed to evaluate preconditions") => {}
                    Some(Outcome::Pass) => applied += 1,
                    Some(Outcome::Fail { message, at }) => {
                        return Some(Outcome::Fail {
                            message: format!("validation failure: {message}"),
                            at,
                        });
                    }
                    Some(Outcome::Error(e)) => {
                        return Some(Outcome::Error(format!("validation failure: {e}")));
                    }
                    // Only a `validate.cel` rule says it, and it has no foreach.
                    Some(Outcome::Unsupported(why)) => return Some(Outcome::Unsupported(why)),
                }
            }
        }
        if applied == 0 {
            return list_error.map(|e| Outcome::Error(format!("failed to evaluate list: {e}")));
        }
        Some(Outcome::Pass)
    }
}

type Saved = Vec<(String, Option<Value>)>;

/// A pattern with its `{{ }}` variables substituted, or the rule's error.
fn substituted(pattern: &Value, ctx: &Context<'_>) -> Result<Value, Outcome> {
    ctx.substitute(pattern)
        .map_err(|e| Outcome::Error(format!("variable substitution failed: {}", e.0)))
}

/// What `preconditions` make of a rule: `Some` when they stop it (not met: skip; an error).
fn stopped_by(preconditions: Option<&Conditions>, ctx: &mut Context<'_>) -> Option<Outcome> {
    match check(preconditions?, ctx) {
        Err(e) => Some(Outcome::Error(format!(
            "failed to evaluate preconditions: {e}"
        ))),
        Ok((false, _, _)) => Some(Outcome::Skip),
        Ok((true, _, _)) => None,
    }
}

/// Compiles a `validate.cel` rule (`validateCELHandler`): `celPreconditions` as match
/// conditions, `variables`, `expressions` (a missing `message` is the rule's), `paramKind`
/// with `paramRef`. Returns the body and what kubegate cannot run of it.
#[allow(clippy::type_complexity)]
fn compile_cel(
    rule: &Value,
    cel: &Value,
    message: Option<&str>,
) -> Result<(Body, Vec<(String, String)>), Refusal> {
    if cel
        .get("auditAnnotations")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        && cel
            .get("expressions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        return Ok((Body::Nothing, Vec::new()));
    }
    let program = Program::compile(&Layout {
        conditions: rule
            .get("celPreconditions")
            .map(|v| (v, "/celPreconditions".to_owned())),
        variables: cel
            .get("variables")
            .map(|v| (v, "/validate/cel/variables".to_owned())),
        validations: cel
            .get("expressions")
            .map(|v| (v, "/validate/cel/expressions".to_owned())),
        prelude: &[],
        default_message: message,
        // Kyverno's validator has no failure policy: an error denies.
        fail: true,
    })
    .map_err(|mut errors| {
        let (at, msg) = errors.swap_remove(0);
        Refusal::Invalid(at, msg)
    })?;
    let param_kind = cel.get("paramKind").filter(|v| v.is_object()).map(|p| {
        (
            str_at(p, &["apiVersion"]).unwrap_or("").to_owned(),
            str_at(p, &["kind"]).unwrap_or("").to_owned(),
        )
    });
    let param_ref = cel
        .get("paramRef")
        .filter(|v| v.is_object())
        .map(ParamRef::parse);
    let params = match (param_kind, param_ref) {
        (Some(kind), Some(r)) => Some((kind, r)),
        (None, None) => None,
        _ => {
            return Err(Refusal::Invalid(
                "/validate/cel".into(),
                "`paramKind` and `paramRef` go together".into(),
            ));
        }
    };
    let unsupported = program.unsupported();
    Ok((
        Body::Cel(Box::new(CelRule { program, params })),
        unsupported,
    ))
}

/// Runs a `validate.cel` rule on a request: the first denying decision fails the rule
/// with its message (`validateCELHandler.Process`).
fn run_cel(c: &CelRule, req: &Request<'_>, cluster: &Cluster<'_>) -> Outcome {
    let (group, kind) = (req.group(), req.kind());
    // The namespace the object is applied in (the CLI's `default` when it names none); a
    // Namespace and a cluster-scoped object have none.
    let namespace = if cluster.namespaced(group, kind) {
        super::vap::applied_namespace(req)
    } else {
        ""
    };
    let namespace_object =
        (!namespace.is_empty()).then(|| super::vap::namespace_object(cluster, namespace));
    let params = match &c.params {
        None => vec![None],
        Some((kind, r)) => match super::vap::find_params(kind, r, req, cluster) {
            Ok(p) => p,
            Err(e) => return Outcome::Error(format!("error in parameterized resource: {e}")),
        },
    };
    let resource = cluster.resource(group, kind);
    let mut unsupported = None;
    for param in params {
        let mut decisions = Vec::new();
        let matched = c.program.run(
            &Input {
                req,
                operation: req.operation.as_str(),
                resource: &resource,
                namespace,
                namespace_object: namespace_object.as_ref(),
                params: param,
            },
            &mut decisions,
        );
        if !matched && decisions.is_empty() {
            // "cel preconditions not met".
            return Outcome::Skip;
        }
        for d in decisions {
            match d {
                Decision::Deny { message, pointer } => {
                    return Outcome::Fail {
                        message,
                        at: segments(&pointer),
                    };
                }
                Decision::Error(message) => {
                    return Outcome::Fail {
                        message,
                        at: Vec::new(),
                    };
                }
                Decision::Unsupported { source, why } => {
                    unsupported.get_or_insert(format!("`{source}` not checked: {why}"));
                }
            }
        }
    }
    match unsupported {
        Some(why) => Outcome::Unsupported(why),
        None => Outcome::Pass,
    }
}

/// The segments of a JSON pointer.
fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn set_element(ctx: &mut Context<'_>, element: &Value, index: usize, nesting: usize) -> Saved {
    let mut saved = Vec::new();
    if let Value::Object(root) = &mut ctx.root {
        for (k, v) in [
            ("element".to_owned(), element.clone()),
            ("elementIndex".to_owned(), Value::from(index)),
            (format!("element{nesting}"), element.clone()),
            (format!("elementIndex{nesting}"), Value::from(index)),
        ] {
            let old = root.insert(k.clone(), v);
            saved.push((k, old));
        }
    }
    saved
}

fn restore_element(ctx: &mut Context<'_>, saved: Saved) {
    if let Value::Object(root) = &mut ctx.root {
        for (k, old) in saved.into_iter().rev() {
            match old {
                Some(v) => root.insert(k, v),
                None => root.remove(&k),
            };
        }
    }
}

/// The path of the first mapping of `object` equal to `element` (where a `foreach`
/// element sits in the object), depth-first and bounded.
fn locate(object: &Value, element: &Value) -> Option<Vec<String>> {
    fn go(at: &Value, element: &Value, path: &mut Vec<String>, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        if at == element {
            return true;
        }
        match at {
            Value::Object(m) => m.iter().any(|(k, v)| {
                path.push(k.clone());
                let found = go(v, element, path, depth + 1);
                if !found {
                    path.pop();
                }
                found
            }),
            Value::Array(a) => a.iter().enumerate().any(|(i, v)| {
                path.push(i.to_string());
                let found = go(v, element, path, depth + 1);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    go(object, element, &mut path, 0).then_some(path)
}

/// The text of a substituted message.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => variables::jmespath_text(other),
    }
}

/// `validator.buildErrorMessage`.
fn error_message(rule: &Rule, err: &str, path: Option<&str>, ctx: &Context<'_>) -> String {
    let name = &rule.name;
    let Some(m) = rule.message.as_deref().filter(|m| !m.is_empty()) else {
        return match path {
            Some(p) => format!("validation error: rule {name} failed at path {p}"),
            None => format!("validation error: rule {name} execution error: {err}"),
        };
    };
    match ctx.substitute_str(m) {
        Err(_) => format!(
            "validation error: variables substitution error in rule {name} execution error: {err}"
        ),
        Ok(v) => {
            let mut m = text(&v);
            if !m.ends_with('.') {
                m.push('.');
            }
            match path {
                Some(p) => format!("validation error: {m} rule {name} failed at path {p}"),
                None => format!("validation error: {m} rule {name} execution error: {err}"),
            }
        }
    }
}

/// `validator.getDenyMessage` of a denial.
fn deny_message(rule: &Rule, msg: &str, ctx: &Context<'_>) -> String {
    let rule_msg = rule.message.as_deref().unwrap_or("");
    if rule_msg.is_empty() && msg.is_empty() {
        return format!("validation error: rule {} failed", rule.name);
    }
    let joined = [rule_msg, msg]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match ctx.substitute_str(&joined) {
        Err(_) => msg.to_owned(),
        Ok(Value::String(s)) => s,
        Ok(_) => {
            "the produced message didn't resolve to a string, check your policy definition.".into()
        }
    }
}

/// The field the first condition key that reads a plain path points at.
fn pointer_of_keys(keys: &[&Value], ctx: &Context<'_>, at: &[String]) -> Vec<String> {
    for key in keys {
        let Some(s) = key.as_str() else { continue };
        let vars = variables::variables_of(s);
        let [(whole, expr, _)] = vars.as_slice() else {
            continue;
        };
        if whole.as_str() != s.trim() {
            continue;
        }
        let expr = if ctx.delete {
            expr.replace("request.object", "request.oldObject")
        } else {
            expr.clone()
        };
        let Some(ast) = ctx.exprs.get(&expr) else {
            continue;
        };
        let mut fields = Vec::new();
        if !plain_path(ast, &mut fields) {
            continue;
        }
        match fields.first().map(String::as_str) {
            Some("request")
                if matches!(
                    fields.get(1).map(String::as_str),
                    Some("object" | "oldObject")
                ) =>
            {
                return fields[2..].to_vec();
            }
            Some(e) if e.starts_with("element") && !e.starts_with("elementIndex") => {
                return at
                    .iter()
                    .cloned()
                    .chain(fields[1..].iter().cloned())
                    .collect();
            }
            _ => {}
        }
    }
    at.to_vec()
}

/// The fields of an expression made of fields and indexes only.
fn plain_path(ast: &Ast, out: &mut Vec<String>) -> bool {
    match ast {
        Ast::Field(f) => {
            out.push(f.clone());
            true
        }
        Ast::Index(i) if *i >= 0 => {
            out.push(i.to_string());
            true
        }
        Ast::Sub(l, r) => plain_path(l, out) && plain_path(r, out),
        _ => false,
    }
}

/// The roots an expression reads from the context: `request.object`, `element`, ….
fn roots_of(ast: &Ast, out: &mut Vec<String>) {
    match ast {
        Ast::Field(f) => out.push(f.clone()),
        Ast::Sub(l, r) => match (&**l, &**r) {
            (Ast::Field(a), Ast::Field(b)) if a == "request" => out.push(format!("request.{b}")),
            _ => roots_of(l, out),
        },
        Ast::Projection(l, _)
        | Ast::ValueProjection(l, _)
        | Ast::Filter(l, _, _)
        | Ast::Flatten(l)
        | Ast::Pipe(l, _) => roots_of(l, out),
        Ast::Or(l, r) | Ast::And(l, r) | Ast::Compare(_, l, r) => {
            roots_of(l, out);
            roots_of(r, out);
        }
        Ast::Not(e) | Ast::ExpRef(e) => roots_of(e, out),
        Ast::MultiList(items) | Ast::Function(_, items) => {
            items.iter().for_each(|i| roots_of(i, out))
        }
        Ast::MultiHash(items) => items.iter().for_each(|(_, i)| roots_of(i, out)),
        Ast::Identity | Ast::Index(_) | Ast::Slice(_) => out.push("@".into()),
        Ast::Literal(_) => {}
    }
}

/// Evaluates conditions: whether they hold, the message Kyverno reports, and the keys of
/// the conditions that decided.
fn check<'c>(
    c: &'c Conditions,
    ctx: &Context<'_>,
) -> Result<(bool, String, Vec<&'c Value>), String> {
    let eval = |cond: &'c Condition| -> Result<bool, String> {
        let key = ctx
            .substitute(&cond.key)
            .map_err(|e| format!("failed to substitute variables in condition key: {}", e.0))?;
        let value = ctx
            .substitute(&cond.value)
            .map_err(|e| format!("failed to substitute variables in condition value: {}", e.0))?;
        Ok(conditions::evaluate(cond.operator, &key, &value))
    };
    let join = |msgs: Vec<&str>, sep: &str| {
        msgs.into_iter()
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join(sep)
    };
    match c {
        Conditions::List(list) => {
            let mut true_msgs = Vec::new();
            let mut keys = Vec::new();
            for cond in list {
                if !eval(cond)? {
                    return Ok((false, cond.message.clone(), Vec::new()));
                }
                true_msgs.push(cond.message.as_str());
                keys.push(&cond.key);
            }
            Ok((true, join(true_msgs, ";"), keys))
        }
        Conditions::AnyAll { any, all } => {
            let (mut any_ok, mut all_ok) = (true, true);
            let (mut true_msgs, mut false_msgs, mut keys) = (Vec::new(), Vec::new(), Vec::new());
            if let Some(any) = any {
                any_ok = false;
                for cond in any {
                    if eval(cond)? {
                        any_ok = true;
                        true_msgs.push(cond.message.as_str());
                        keys.push(&cond.key);
                        break;
                    }
                    false_msgs.push(cond.message.as_str());
                }
            }
            for cond in all {
                if eval(cond)? {
                    true_msgs.push(cond.message.as_str());
                    keys.push(&cond.key);
                } else {
                    all_ok = false;
                    false_msgs.push(cond.message.as_str());
                    break;
                }
            }
            if any_ok && all_ok {
                Ok((true, join(true_msgs, "; "), keys))
            } else {
                Ok((false, join(false_msgs, "; "), Vec::new()))
            }
        }
    }
}

fn compile_conditions(v: &Value) -> Result<Conditions, String> {
    let list = |v: &Value| -> Result<Vec<Condition>, String> {
        let Some(items) = v.as_array() else {
            return if v.is_null() {
                Ok(Vec::new())
            } else {
                Err("conditions must be a list".into())
            };
        };
        items
            .iter()
            .map(|c| {
                let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
                let operator = Operator::parse(op)
                    .ok_or_else(|| format!("unknown condition operator `{op}`"))?;
                Ok(Condition {
                    key: c.get("key").cloned().unwrap_or(Value::Null),
                    operator,
                    value: c.get("value").cloned().unwrap_or(Value::Null),
                    message: c
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
            })
            .collect()
    };
    match v {
        Value::Object(m) => Ok(Conditions::AnyAll {
            any: match m.get("any") {
                Some(a) if !a.is_null() => Some(list(a)?),
                _ => None,
            },
            all: list(m.get("all").unwrap_or(&Value::Null))?,
        }),
        other => Ok(Conditions::List(list(other)?)),
    }
}

fn compile_filter(f: &Value) -> Result<Filter, String> {
    let res = f.get("resources").filter(|r| !r.is_null());
    let user_info = ["subjects", "roles", "clusterRoles"].iter().any(|k| {
        f.get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    let Some(res) = res else {
        return Ok(Filter {
            user_info,
            empty: true,
            ..Filter::default()
        });
    };
    let mut names = strings(res.get("names"));
    if let Some(n) = res
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        names.insert(0, n.to_owned());
    }
    let annotations = res
        .get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let filter = Filter {
        kinds: strings(res.get("kinds")),
        names,
        namespaces: strings(res.get("namespaces")),
        annotations,
        selector: res.get("selector").filter(|s| !s.is_null()).cloned(),
        namespace_selector: res
            .get("namespaceSelector")
            .filter(|s| !s.is_null())
            .cloned(),
        operations: strings(res.get("operations")),
        user_info,
        empty: false,
    };
    let empty = filter.kinds.is_empty()
        && filter.names.is_empty()
        && filter.namespaces.is_empty()
        && filter.annotations.is_empty()
        && filter.selector.is_none()
        && filter.namespace_selector.is_none()
        && filter.operations.is_empty();
    Ok(Filter { empty, ..filter })
}

fn compile_match(m: &Value) -> Result<Match, String> {
    let list = |k: &str| -> Result<Vec<Filter>, String> {
        match m.get(k) {
            Some(Value::Array(a)) => a.iter().map(compile_filter).collect(),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(_) => Err(format!("`{k}` must be a list")),
        }
    };
    Ok(Match {
        any: list("any")?,
        all: list("all")?,
        plain: compile_filter(m)?,
    })
}

/// The info for an `exclude` by subjects or roles, which never excludes.
fn exclude_by_user(rule: &Value) -> Option<&'static str> {
    rule.get("validate")?;
    let ex = rule.get("exclude")?;
    let has = |f: &Value| {
        ["subjects", "roles", "clusterRoles"].iter().any(|k| {
            f.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
    };
    let any = ["any", "all"]
        .iter()
        .filter_map(|k| ex.get(k).and_then(Value::as_array))
        .flatten()
        .any(has);
    (has(ex) || any).then_some(
        "exclude by subjects, roles or clusterRoles is not evaluated (kubegate knows no user): as in the kyverno CLI, it excludes nothing",
    )
}

fn overrides(v: Option<&Value>) -> Vec<Override> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| Override {
                    enforce: o
                        .get("action")
                        .and_then(Value::as_str)
                        .is_some_and(is_enforce),
                    namespaces: strings(o.get("namespaces")),
                    selector: o.get("namespaceSelector").filter(|s| !s.is_null()).cloned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_enforce(action: &str) -> bool {
    action.eq_ignore_ascii_case("enforce")
}

/// Whether the rule blocks (`Enforce`) the request, with its namespace overrides.
fn enforce(p: &Policy, rule: &Rule, req: &Request<'_>, cluster: &Cluster<'_>) -> bool {
    let ns = req.namespace();
    let overrides = if rule.action.is_some() || !rule.overrides.is_empty() {
        &rule.overrides
    } else {
        &p.overrides
    };
    for o in overrides {
        let by_name = o.namespaces.iter().any(|n| glob(n, ns));
        let by_selector = o.selector.as_ref().is_some_and(|s| {
            cluster
                .namespace(ns)
                .is_some_and(|n| selector_matches(s, n).unwrap_or(false))
        });
        if by_name || by_selector {
            return o.enforce;
        }
    }
    rule.action
        .as_deref()
        .or(p.action.as_deref())
        .is_some_and(is_enforce)
}

fn severity(p: &Policy, rule: &Rule, req: &Request<'_>, cluster: &Cluster<'_>) -> Severity {
    if enforce(p, rule, req, cluster) {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// Whether a rule applies to a request: the policy's namespace, `match`, `exclude`.
fn applies(p: &Policy, rule: &Rule, req: &Request<'_>, cluster: &Cluster<'_>) -> bool {
    if let Some(ns) = &p.namespace {
        if !cluster.namespaced(req.group(), req.kind()) {
            return false;
        }
        let object_ns = match req.namespace() {
            "" => "default",
            n => n,
        };
        if object_ns != ns {
            return false;
        }
    }
    rule_matches(rule, req, cluster)
}

fn rule_matches(rule: &Rule, req: &Request<'_>, cluster: &Cluster<'_>) -> bool {
    let m = &rule.matcher;
    let matched = if !m.any.is_empty() {
        m.any.iter().any(|f| filter_matches(f, req, cluster))
    } else if !m.all.is_empty() {
        m.all.iter().all(|f| filter_matches(f, req, cluster))
    } else {
        filter_matches(&m.plain, req, cluster)
    };
    if !matched {
        return false;
    }
    let Some(ex) = &rule.exclude else { return true };
    // An exclude filter with subjects or roles never matches: there is no user.
    let excludes = |f: &Filter| !f.empty && !f.user_info && filter_matches(f, req, cluster);
    let excluded = if !ex.any.is_empty() {
        ex.any.iter().any(excludes)
    } else if !ex.all.is_empty() {
        ex.all.iter().all(excludes)
    } else {
        excludes(&ex.plain)
    };
    !excluded
}

/// `doesResourceMatchConditionBlock` for the resource description (user info apart).
fn filter_matches(f: &Filter, req: &Request<'_>, cluster: &Cluster<'_>) -> bool {
    if f.empty {
        return false;
    }
    let obj = req.subject();
    let kind = req.kind();
    if !f.operations.is_empty() && !f.operations.iter().any(|o| o == req.operation.as_str()) {
        return false;
    }
    if !f.kinds.is_empty()
        && !f
            .kinds
            .iter()
            .any(|k| kind_matches(k, req.group(), req.version(), kind))
    {
        return false;
    }
    let name = match req.name() {
        "" => str_at(obj, &["metadata", "generateName"]).unwrap_or(""),
        n => n,
    };
    if !f.names.is_empty() && !f.names.iter().any(|n| glob(n, name)) {
        return false;
    }
    if !f.namespaces.is_empty() {
        let ns = if kind == "Namespace" {
            req.name()
        } else {
            req.namespace()
        };
        if !f.namespaces.iter().any(|n| glob(n, ns)) {
            return false;
        }
    }
    if !f.annotations.is_empty() {
        let actual = obj
            .pointer("/metadata/annotations")
            .and_then(Value::as_object);
        let ok = f.annotations.iter().all(|(k, v)| {
            actual.is_some_and(|a| {
                a.iter()
                    .any(|(ak, av)| glob(k, ak) && glob(v, av.as_str().unwrap_or("")))
            })
        });
        if !ok {
            return false;
        }
    }
    if let Some(sel) = &f.selector
        && !selector_with_wildcards(sel, obj)
    {
        return false;
    }
    if let Some(sel) = &f.namespace_selector {
        if kind == "Namespace" {
            return false;
        }
        if !kind.is_empty() {
            let empty = json!({});
            let ns_obj = cluster.namespace(req.namespace()).unwrap_or(&empty);
            if !selector_with_wildcards(sel, ns_obj) {
                return false;
            }
        }
    }
    true
}

/// A label selector whose `matchLabels` may hold wildcards (`wildcards.ReplaceInSelector`).
fn selector_with_wildcards(sel: &Value, obj: &Value) -> bool {
    let labels: Vec<(&str, &str)> = matching::labels(obj).collect();
    let mut sel = sel.clone();
    if let Some(Value::Object(ml)) = sel.get_mut("matchLabels") {
        let mut out = Map::new();
        for (k, v) in ml.iter() {
            let v = v.as_str().unwrap_or("");
            if k.contains(['*', '?']) || v.contains(['*', '?']) {
                let hit = labels.iter().find(|(lk, lv)| glob(k, lk) && glob(v, lv));
                let (nk, nv) = match hit {
                    Some((lk, lv)) => ((*lk).to_owned(), (*lv).to_owned()),
                    None => (k.replace(['*', '?'], "0"), v.replace(['*', '?'], "0")),
                };
                out.insert(nk, Value::String(nv));
            } else {
                out.insert(k.clone(), Value::String(v.to_owned()));
            }
        }
        *ml = out;
    }
    selector_matches(&sel, obj).unwrap_or(false)
}

/// `kubeutils.ParseKindSelector` and `CheckKind` (no subresource: objects are whole).
fn kind_matches(selector: &str, group: &str, version: &str, kind: &str) -> bool {
    let is_version = |s: &str| {
        s == "*"
            || s.strip_prefix('v').is_some_and(|rest| {
                let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                digits.len() < rest.len()
                    && (digits.is_empty()
                        || ["alpha", "beta"].iter().any(|p| {
                            digits.strip_prefix(p).is_some_and(|d| {
                                !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
                            })
                        }))
            })
    };
    let mut parts: Vec<&str> = selector.split('/').collect();
    if let Some(last) = parts.pop() {
        parts.extend(last.split('.'));
    }
    let (g, v, k, sub) = match parts.as_slice() {
        [k] => ("*", "*", *k, ""),
        ["*", "*"] => ("*", "*", "*", "*"),
        ["*", s] if s.to_lowercase() == *s => ("*", "*", "*", *s),
        [v, k] if is_version(v) => ("*", *v, *k, ""),
        [k, s] => ("*", "*", *k, *s),
        [v, k, s] if is_version(v) => ("*", *v, *k, *s),
        [g, v, k] => (*g, *v, *k, ""),
        [g, v, k, s] => (*g, *v, *k, *s),
        _ => return false,
    };
    glob(g, group) && glob(v, version) && glob(k, kind) && glob(sub, "")
}

// ---------------------------------------------------------------------------------------
// Autogen (`pkg/autogen/v1`)

const POD_CONTROLLERS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];

fn gvk_of(kind: &str) -> String {
    match kind {
        "DaemonSet" | "Deployment" | "StatefulSet" | "ReplicaSet" => format!("apps/v1/{kind}"),
        "Job" | "CronJob" => format!("batch/v1/{kind}"),
        "ReplicationController" | "Pod" => format!("v1/{kind}"),
        other => other.to_owned(),
    }
}

/// `kubeutils.ContainsKind`: whether a kind list names `kind` in any of its forms.
fn contains_kind(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|e| {
        let parts: Vec<&str> = e.split('/').collect();
        let k = match parts.as_slice() {
            [k] => k.replacen('.', "/", 1),
            [a, b] => {
                if *a == "*" && *b == "*" {
                    format!("{a}/{b}")
                } else if a.starts_with('v') && a[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    b.replacen('.', "/", 1)
                } else {
                    format!("{a}/{b}")
                }
            }
            [a, b, c] => {
                if a.starts_with('v') && a[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    format!("{b}/{c}")
                } else {
                    c.replacen('.', "/", 1)
                }
            }
            [_, _, c, d] => format!("{c}/{d}"),
            _ => String::new(),
        };
        let k = k.split_once('/').map_or(k.as_str(), |(k, _)| k);
        k == kind
    })
}

/// The resource descriptions of a `match` or `exclude` (plain, `any`, `all`).
fn descriptions(m: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(r) = m.get("resources") {
        out.push(r);
    }
    for k in ["any", "all"] {
        for f in m.get(k).and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = f.get("resources") {
                out.push(r);
            }
        }
    }
    out
}

/// `CanAutoGen`: whether a policy's Pod rules may be generated for the controllers.
fn can_autogen(rules: &[Value]) -> bool {
    let mut needed = false;
    for r in rules {
        if r.get("generate").is_some_and(|g| !g.is_null()) {
            return false;
        }
        if let Some(m) = r.get("mutate") {
            let json6902 = |v: &Value| {
                v.get("patchesJson6902")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if json6902(m)
                || m.get("foreach")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(json6902)
            {
                return false;
            }
        }
        let mut descs = r.get("match").map(descriptions).unwrap_or_default();
        descs.extend(r.get("exclude").map(descriptions).unwrap_or_default());
        for d in descs {
            let kinds = strings(d.get("kinds"));
            if d.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
                || !strings(d.get("names")).is_empty()
                || d.get("selector").is_some_and(|s| !s.is_null())
                || d.get("annotations").is_some_and(|s| !s.is_null())
                || (kinds.len() > 1 && contains_kind(&kinds, "Pod"))
            {
                return false;
            }
            needed |= kinds
                .iter()
                .any(|k| k == "Pod" || POD_CONTROLLERS.contains(&k.as_str()));
        }
    }
    needed
}

/// `ComputeRules`: the rules Kyverno runs, the generated ones after the written ones;
/// each with the index of the rule it comes from.
fn compute_rules(rules: &[Value], annotation: Option<&str>) -> Vec<(Value, usize)> {
    let written = rules.iter().cloned().enumerate().map(|(i, r)| (r, i));
    let auto = can_autogen(rules);
    let controllers: Vec<String> = match annotation {
        Some(a) if auto => a.split(',').map(str::to_owned).collect(),
        _ if auto => POD_CONTROLLERS.iter().map(|s| (*s).to_owned()).collect(),
        _ => vec!["none".to_owned()],
    };
    let mut sorted = controllers.clone();
    sorted.sort();
    sorted.dedup();
    let joined = sorted.join(",");
    if joined == "none" {
        return written.collect();
    }
    let without_cronjob: Vec<String> = sorted.iter().filter(|c| *c != "CronJob").cloned().collect();
    let mut generated = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if let Some(g) = for_controllers(r, &without_cronjob.join(",")) {
            generated.push((rewrite(&g, false), i));
        }
        if (joined.contains("CronJob") || joined.contains("all"))
            && let Some(base) = for_controllers(r, &joined)
        {
            let name = autogen_name(
                "autogen-cronjob",
                r.get("name").and_then(Value::as_str).unwrap_or(""),
            );
            if let Some(g) =
                generate_rule(&name, &base, "jobTemplate", &["CronJob".to_owned()], true)
            {
                generated.push((rewrite(&g, true), i));
            }
        }
    }
    if generated.is_empty() {
        return written.collect();
    }
    written
        .filter(|(r, _)| {
            !r.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .starts_with("autogen-")
        })
        .chain(generated)
        .collect()
}

fn autogen_name(prefix: &str, name: &str) -> String {
    let mut n = format!("{prefix}-{name}");
    if n.len() > 63 {
        let mut cut = 63;
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        n.truncate(cut);
    }
    n
}

/// `generateRuleForControllers`.
fn for_controllers(rule: &Value, controllers: &str) -> Option<Value> {
    let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    if name.starts_with("autogen-") || controllers.is_empty() {
        return None;
    }
    let kinds_of = |m: Option<&Value>| -> Vec<String> {
        m.map(descriptions)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|d| strings(d.get("kinds")))
            .collect()
    };
    let match_kinds = kinds_of(rule.get("match"));
    let exclude_kinds = kinds_of(rule.get("exclude"));
    if !contains_kind(&match_kinds, "Pod")
        || (!exclude_kinds.is_empty() && !contains_kind(&exclude_kinds, "Pod"))
    {
        return None;
    }
    const KNOWN: &[&str] = &[
        "DaemonSet",
        "Deployment",
        "Job",
        "StatefulSet",
        "ReplicaSet",
        "ReplicationController",
    ];
    let list: Vec<String> = if controllers == "all" {
        KNOWN.iter().map(|s| (*s).to_owned()).collect()
    } else {
        let mut valid: Vec<String> = controllers
            .split(',')
            .filter(|c| KNOWN.contains(c))
            .map(str::to_owned)
            .collect();
        if valid.is_empty() {
            valid = controllers.split(',').map(str::to_owned).collect();
        }
        valid.sort();
        valid
    };
    generate_rule(
        &autogen_name("autogen", name),
        rule,
        "template",
        &list,
        false,
    )
}

/// `generateRule`: the rule for `kinds`, its validation moved under `spec.<tpl_key>`.
fn generate_rule(
    name: &str,
    rule: &Value,
    tpl_key: &str,
    kinds: &[String],
    cronjob: bool,
) -> Option<Value> {
    let mut rule = rule.clone();
    let gvks: Vec<Value> = kinds.iter().map(|k| Value::String(gvk_of(k))).collect();
    let retarget = |m: &mut Value, is_exclude: bool| {
        let filters = if m
            .get("any")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            Some("any")
        } else if m
            .get("all")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            Some("all")
        } else {
            None
        };
        match filters {
            Some(k) => {
                for f in m
                    .get_mut(k)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let has_pod = contains_kind(&strings(f.pointer("/resources/kinds")), "Pod");
                    if cronjob || has_pod {
                        if let Some(Value::Object(res)) = f.get_mut("resources") {
                            res.insert("kinds".into(), Value::Array(gvks.clone()));
                        } else if let Value::Object(fm) = f {
                            fm.insert("resources".into(), json!({"kinds": gvks.clone()}));
                        }
                    }
                }
            }
            None => {
                let has_kinds = !strings(m.pointer("/resources/kinds")).is_empty();
                if (!is_exclude || has_kinds)
                    && let Value::Object(mm) = m
                {
                    let res = mm.entry("resources").or_insert_with(|| json!({}));
                    if let Value::Object(res) = res {
                        res.insert("kinds".into(), Value::Array(gvks.clone()));
                    }
                }
            }
        }
    };
    let obj = rule.as_object_mut()?;
    obj.insert("name".into(), Value::String(name.to_owned()));
    if let Some(m) = obj.get_mut("match") {
        retarget(m, false);
    }
    if let Some(e) = obj.get_mut("exclude") {
        retarget(e, true);
    }
    let validate = obj.get("validate")?.as_object()?.clone();
    let keep = [
        "message",
        "failureAction",
        "failureActionOverrides",
        "allowExistingViolations",
    ];
    let mut new: Map<String, Value> = validate
        .iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let wrap = |p: &Value| json!({"spec": {tpl_key: p}});
    if let Some(p) = validate.get("pattern").filter(|p| !p.is_null()) {
        new.insert("pattern".into(), wrap(p));
    } else if let Some(d) = validate.get("deny").filter(|p| !p.is_null()) {
        new.insert("deny".into(), d.clone());
    } else if let Some(ps) = validate.get("podSecurity").filter(|p| !p.is_null()) {
        new.insert("podSecurity".into(), ps.clone());
    } else if let Some(Value::Array(ps)) = validate.get("anyPattern") {
        new.insert(
            "anyPattern".into(),
            Value::Array(ps.iter().map(wrap).collect()),
        );
    } else if let Some(Value::Array(fe)) = validate
        .get("foreach")
        .filter(|f| f.as_array().is_some_and(|a| !a.is_empty()))
    {
        new.insert("foreach".into(), Value::Array(fe.clone()));
    } else if let Some(c) = validate.get("cel").filter(|p| !p.is_null()) {
        new = validate.clone();
        new.insert("cel".into(), c.clone());
    } else {
        return None;
    }
    obj.insert("validate".into(), Value::Object(new));
    Some(rule)
}

/// `updateFields`: the rule's `request.object.spec`/`.metadata` read the template's (for a
/// `validate.cel` rule, `object.spec`/`.metadata` and the same of `oldObject`).
fn rewrite(rule: &Value, cronjob: bool) -> Value {
    let tpl = if cronjob {
        "spec.jobTemplate.spec.template"
    } else {
        "spec.template"
    };
    let Ok(mut s) = serde_json::to_string(rule) else {
        return rule.clone();
    };
    let cel = rule.pointer("/validate/cel").is_some_and(|c| !c.is_null());
    let objects: &[&str] = if cel {
        &["object", "oldObject"]
    } else {
        &["request.object", "request.oldObject"]
    };
    // In Kyverno's order: `spec` of both objects, then `metadata` of both.
    for field in ["spec", "metadata"] {
        for obj in objects {
            s = s.replace(&format!("{obj}.{field}"), &format!("{obj}.{tpl}.{field}"));
        }
    }
    serde_json::from_str(&s).unwrap_or_else(|_| rule.clone())
}
