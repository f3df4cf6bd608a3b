//! The CEL program of a validating policy: `matchConditions`, `variables` and `validations`
//! with their messages and `failurePolicy`, evaluated as the API server's `validating`
//! plugin evaluates them (`k8s.io/apiserver/pkg/admission/plugin/policy/validating`).
//!
//! One engine for every policy language built on it: ValidatingAdmissionPolicy
//! ([`super::vap`]), Kyverno's `ValidatingPolicy` and `validate.cel` rules
//! ([`super::kyverno`]) and Gatekeeper's `K8sNativeValidation` templates
//! ([`super::gatekeeper`]). Each says where its expressions are in its policy
//! ([`Layout`]), what the request is ([`Input`]), and turns the [`Decision`]s into its own
//! violations and messages.

use serde_json::Value;

use super::{Operation, Request, Wants};
use crate::schema::cel::{self, Cel, Compile, EvalError, Expression, Size};

/// `matchConditions`, `variables` and `validations` have at most this many entries each
/// (the API server's limit for `matchConditions`; more is a policy it refuses).
const MAX_ENTRIES: usize = 64;

/// The longest message a `messageExpression` may give (the API server's 5 KiB).
const MAX_MESSAGE: usize = 5120;

/// A policy's CEL, compiled.
pub struct Program {
    conditions: Vec<Named>,
    variables: Vec<Named>,
    validations: Vec<Validation>,
    /// `failurePolicy: Fail` (the default): an expression that errors denies.
    fail: bool,
    /// Variables that stand for the reviewed object (Gatekeeper's `anyObject`): a field
    /// read through one is a field of the object.
    aliases: Vec<String>,
}

struct Named {
    name: String,
    source: String,
    /// JSON pointer of the expression in the policy object.
    at: String,
    expr: Expr,
}

enum Expr {
    Ready(Expression),
    Unsupported(String),
}

struct Validation {
    source: String,
    at: String,
    expr: Expr,
    message: Option<String>,
    message_expression: Option<Expression>,
    /// The variables the expression may read, then those of the message expression,
    /// each with the variables they read, in order ([`Program::needed`]).
    needs: Vec<usize>,
    message_needs: Vec<usize>,
}

/// Where a program's expressions are in its policy object: each list with its JSON
/// pointer (entries are `{name, expression}`, validations `{expression, message,
/// messageExpression}`).
pub struct Layout<'a> {
    pub conditions: Option<(&'a Value, String)>,
    pub variables: Option<(&'a Value, String)>,
    pub validations: Option<(&'a Value, String)>,
    /// Variables defined before the policy's own (name, expression), as Gatekeeper
    /// defines `anyObject` and `params`.
    pub prelude: &'a [(&'a str, &'a str)],
    /// The message of a validation that has none (Kyverno's rule `message`).
    pub default_message: Option<&'a str>,
    pub fail: bool,
}

/// What the policy is evaluated on.
pub struct Input<'a> {
    pub req: &'a Request<'a>,
    /// `request.operation`: `""` when gator reviews a bare object.
    pub operation: &'a str,
    /// `request.resource.resource`.
    pub resource: &'a str,
    /// `request.namespace` (`""` for a cluster-scoped object).
    pub namespace: &'a str,
    /// `namespaceObject`: the Namespace of a namespaced object.
    pub namespace_object: Option<&'a Value>,
    /// `params`.
    pub params: Option<&'a Value>,
}

/// What a program says of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A validation is not `true`: the message, and the pointer of the field it reads.
    Deny { message: String, pointer: String },
    /// An expression failed under `failurePolicy: Fail`.
    Error(String),
    /// What the interpreter cannot decide: never a verdict.
    Unsupported { source: String, why: String },
}

/// Compiles one expression: `Err` is a problem the API server refuses.
fn compile(source: &str) -> Result<Expr, String> {
    match cel::compile(source) {
        Compile::Ready(e) if e.names("authorizer") => Ok(Expr::Unsupported(
            "`authorizer` asks the cluster's authorization, which kubegate does not have".into(),
        )),
        Compile::Ready(e) => Ok(Expr::Ready(e)),
        Compile::Unsupported(why) => Ok(Expr::Unsupported(why)),
        Compile::Invalid(why) => Err(why),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn entries<'a>(
    list: &'a Option<(&'a Value, String)>,
) -> impl Iterator<Item = (usize, &'a Value, &'a str)> {
    list.iter().flat_map(|(v, at)| {
        v.as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(move |(i, e)| (i, e, at.as_str()))
    })
}

impl Program {
    /// Compiles the expressions `layout` names; `Err` holds what the API server refuses
    /// (pointer, message), one per expression.
    pub fn compile(layout: &Layout<'_>) -> Result<Program, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut named = |list: &Option<(&Value, String)>, what: &str| -> Vec<Named> {
            let mut out = Vec::new();
            for (i, e, at) in entries(list) {
                if i >= MAX_ENTRIES {
                    problems.push((at.to_owned(), format!("more than {MAX_ENTRIES} `{what}`")));
                    break;
                }
                let source = text(e, "expression").unwrap_or_default();
                let at = format!("{at}/{i}/expression");
                match compile(&source) {
                    Ok(expr) => out.push(Named {
                        name: text(e, "name").unwrap_or_default(),
                        source,
                        at,
                        expr,
                    }),
                    Err(why) => problems
                        .push((at, format!("expression `{source}` does not compile: {why}"))),
                }
            }
            out
        };
        let conditions = named(&layout.conditions, "matchConditions");
        let mut variables: Vec<Named> = layout
            .prelude
            .iter()
            .filter_map(|(name, source)| match compile(source) {
                Ok(expr) => Some(Named {
                    name: (*name).to_owned(),
                    source: (*source).to_owned(),
                    at: String::new(),
                    expr,
                }),
                Err(_) => None,
            })
            .collect();
        variables.extend(named(&layout.variables, "variables"));
        let mut validations = Vec::new();
        for (i, v, at) in entries(&layout.validations) {
            let source = text(v, "expression").unwrap_or_default();
            let expr_at = format!("{at}/{i}/expression");
            let expr = match compile(&source) {
                Ok(e) => e,
                Err(why) => {
                    problems.push((
                        expr_at,
                        format!("expression `{source}` does not compile: {why}"),
                    ));
                    continue;
                }
            };
            let message_expression =
                match text(v, "messageExpression").map(|m| (cel::compile(&m), m)) {
                    None => None,
                    Some((Compile::Ready(e), _)) => Some(e),
                    Some((Compile::Unsupported(_), _)) => None,
                    Some((Compile::Invalid(why), m)) => {
                        problems.push((
                            format!("{at}/{i}/messageExpression"),
                            format!("messageExpression `{m}` does not compile: {why}"),
                        ));
                        None
                    }
                };
            validations.push(Validation {
                source,
                at: expr_at,
                expr,
                message: text(v, "message")
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .or_else(|| layout.default_message.map(str::to_owned)),
                message_expression,
                needs: Vec::new(),
                message_needs: Vec::new(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut program = Program {
            conditions,
            variables,
            validations,
            fail: layout.fail,
            aliases: Vec::new(),
        };
        // What each validation reads of the variables, found once.
        let needs: Vec<(Vec<usize>, Vec<usize>)> = program
            .validations
            .iter()
            .map(|v| {
                let of = |e: Option<&Expression>| e.map(|e| program.needed(e)).unwrap_or_default();
                let expr = match &v.expr {
                    Expr::Ready(e) => Some(e),
                    Expr::Unsupported(_) => None,
                };
                (of(expr), of(v.message_expression.as_ref()))
            })
            .collect();
        for (v, (needs, message_needs)) in program.validations.iter_mut().zip(needs) {
            v.needs = needs;
            v.message_needs = message_needs;
        }
        Ok(program)
    }

    /// Reads `name` as the reviewed object: `variables.<name>.spec` is `spec`.
    pub fn alias(mut self, name: &str) -> Self {
        self.aliases.push(name.to_owned());
        self
    }

    /// Whether an expression that fails denies (`failurePolicy: Fail`).
    pub fn fails(&self) -> bool {
        self.fail
    }

    /// Whether the program has validations to run.
    pub fn is_empty(&self) -> bool {
        self.validations.is_empty()
    }

    /// The expressions kubegate's interpreter cannot run: (pointer, message) each.
    pub fn unsupported(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in self.conditions.iter().chain(&self.variables) {
            if let Expr::Unsupported(why) = &n.expr
                && !n.at.is_empty()
            {
                out.push((
                    n.at.clone(),
                    format!("`{}` is not evaluated: {why}", n.source),
                ));
            }
        }
        for v in &self.validations {
            if let Expr::Unsupported(why) = &v.expr {
                out.push((
                    v.at.clone(),
                    format!("validation `{}` is not evaluated: {why}", v.source),
                ));
            }
        }
        out
    }

    fn ready(&self) -> impl Iterator<Item = &Expression> {
        self.conditions
            .iter()
            .chain(&self.variables)
            .filter(|n| !self.aliases.contains(&n.name))
            .map(|n| &n.expr)
            .chain(self.validations.iter().map(|v| &v.expr))
            .filter_map(|e| match e {
                Expr::Ready(e) => Some(e),
                Expr::Unsupported(_) => None,
            })
            .chain(
                self.validations
                    .iter()
                    .filter_map(|v| v.message_expression.as_ref()),
            )
    }

    /// Adds the fields of the reviewed object the expressions read.
    pub fn wants(&self, w: &mut Wants) {
        for e in self.ready() {
            for root in ["object", "oldObject"] {
                if e.reads_whole(root) {
                    w.read_all();
                }
                for path in e.reads(root) {
                    w.read(&path);
                }
            }
            for path in e.reads("variables") {
                if let Some((first, rest)) = path.split_first()
                    && self.aliases.contains(first)
                {
                    if rest.is_empty() {
                        w.read_all();
                    } else {
                        w.read(rest);
                    }
                }
            }
        }
    }

    /// Evaluates the program on one input; `false` (and nothing said) when a match
    /// condition is false or cannot be decided.
    pub fn run(&self, input: &Input<'_>, out: &mut Vec<Decision>) -> bool {
        let req = input.req;
        let mut size = Size::default();
        let convert =
            |v: Option<&Value>, size: &mut Size| v.map_or(Cel::Null, |v| cel::untyped(v, size));
        let object = convert(req.object, &mut size);
        let old = convert(req.old, &mut size);
        let params = convert(input.params, &mut size);
        let namespace_object = convert(input.namespace_object, &mut size);
        let (group, version, kind) = (req.group(), req.version(), req.kind());
        let gvk = serde_json::json!({"group": group, "version": version, "kind": kind});
        let gvr =
            serde_json::json!({"group": group, "version": version, "resource": input.resource});
        let request = cel::untyped(
            &serde_json::json!({
                "kind": gvk,
                "resource": gvr,
                "subResource": "",
                "requestKind": gvk,
                "requestResource": gvr,
                "requestSubResource": "",
                "name": req.name(),
                "namespace": input.namespace,
                "operation": input.operation,
                "userInfo": {"username": "", "uid": "", "groups": [], "extra": {}},
                "dryRun": false,
                "options": null,
            }),
            // Its dozen fixed fields are not what a policy iterates over.
            &mut Size::default(),
        );
        let budget = std::cell::Cell::new(cel::PER_OBJECT_BUDGET);
        let unsupported = |source: &str, why: String, out: &mut Vec<Decision>| {
            out.push(Decision::Unsupported {
                source: source.to_owned(),
                why,
            });
        };
        cel::with_root(|root| -> bool {
            let mut ctx = root.new_inner_scope();
            ctx.add_variable_from_value("object", object);
            ctx.add_variable_from_value("oldObject", old);
            ctx.add_variable_from_value("params", params);
            ctx.add_variable_from_value("namespaceObject", namespace_object);
            ctx.add_variable_from_value("request", request);
            ctx.add_variable_from_value("variables", cel::map(std::iter::empty()));
            let run = |source: &str,
                       expr: &Expr,
                       ctx: &kube_cel::cel::Context,
                       out: &mut Vec<Decision>|
             -> Outcome {
                let e = match expr {
                    Expr::Ready(e) => e,
                    Expr::Unsupported(_) => return Outcome::Skipped,
                };
                let cost = e.cost(size);
                if cost > cel::PER_CALL_LIMIT || cost > budget.get() {
                    unsupported(
                        source,
                        format!(
                            "its estimated cost ({cost}) exceeds what the API server allows \
                             ({} per expression, {} per evaluation)",
                            cel::PER_CALL_LIMIT,
                            cel::PER_OBJECT_BUDGET
                        ),
                        out,
                    );
                    return Outcome::Skipped;
                }
                budget.set(budget.get() - cost);
                match e.eval(ctx) {
                    Ok(v) => Outcome::Value(v),
                    Err(EvalError::Failed(why)) => Outcome::Failed(why),
                    Err(EvalError::Unsupported(why)) => {
                        unsupported(source, why, out);
                        Outcome::Skipped
                    }
                }
            };
            let failure = |error: String, out: &mut Vec<Decision>| {
                if self.fail {
                    out.push(Decision::Error(error));
                }
            };
            // matchConditions: any false skips the policy; an error (and no false) fails it.
            let mut error = None;
            for c in &self.conditions {
                match run(&c.source, &c.expr, &ctx, out) {
                    Outcome::Value(Cel::Bool(false)) => return false,
                    Outcome::Value(Cel::Bool(true)) => {}
                    Outcome::Value(other) => {
                        error.get_or_insert(format!(
                            "matchCondition '{}' gave {other:?}, not a boolean",
                            c.name
                        ));
                    }
                    Outcome::Failed(why) => {
                        error.get_or_insert(format!(
                            "matchCondition '{}' resulted in error: {why}",
                            c.name
                        ));
                    }
                    // Not decided: the policy is not evaluated rather than guessed.
                    Outcome::Skipped => return false,
                }
            }
            if let Some(e) = error {
                failure(e, out);
                return true;
            }
            // Variables are evaluated when an expression first reads them, as the API
            // server's lazy `variables` map does: one that fails or is not decided matters
            // only to the expressions that read it.
            let mut vars = Vars::new(self.variables.len());
            for v in &self.validations {
                let Expr::Ready(_) = &v.expr else {
                    continue;
                };
                vars.prepare(self, &v.needs, &mut ctx, &run);
                let mut said = Vec::new();
                let outcome = run(&v.source, &v.expr, &ctx, &mut said);
                // A variable that failed or was not decided is absent: an evaluation that
                // stumbles while one it reads is absent stumbled on it.
                let stumbled = matches!(outcome, Outcome::Failed(_))
                    || (matches!(outcome, Outcome::Skipped) && !said.is_empty());
                match vars.absent(&v.needs).filter(|_| stumbled) {
                    Some(Needed::Undecided(source, why)) => {
                        unsupported(source, why.clone(), out);
                        continue;
                    }
                    Some(Needed::Failed(why)) => {
                        failure(
                            format!("expression '{}' resulted in error: {why}", v.source),
                            out,
                        );
                        continue;
                    }
                    None => out.append(&mut said),
                }
                match outcome {
                    Outcome::Value(Cel::Bool(true)) | Outcome::Skipped => {}
                    Outcome::Value(Cel::Bool(false)) => {
                        let mut said = None;
                        if let Some(me) = &v.message_expression {
                            let cost = me.cost(size);
                            if cost <= cel::PER_CALL_LIMIT && cost <= budget.get() {
                                budget.set(budget.get() - cost);
                                vars.prepare(self, &v.message_needs, &mut ctx, &run);
                                said = match me.eval(&ctx) {
                                    Ok(Cel::String(s))
                                        if !s.trim().is_empty()
                                            && s.len() <= MAX_MESSAGE
                                            && !s.contains('\n') =>
                                    {
                                        Some(s.to_string())
                                    }
                                    _ => None,
                                };
                            }
                        }
                        let message = said
                            .or_else(|| v.message.clone())
                            .unwrap_or_else(|| format!("failed expression: {}", v.source.trim()));
                        out.push(Decision::Deny {
                            message,
                            pointer: self.pointer(&v.expr, req),
                        });
                    }
                    Outcome::Value(other) => {
                        unsupported(&v.source, format!("it gave {other:?}, not a boolean"), out);
                    }
                    Outcome::Failed(why) => failure(
                        format!("expression '{}' resulted in error: {why}", v.source),
                        out,
                    ),
                }
            }
            true
        })
    }

    /// The indices of the variables `e` reads, with the variables those read, in order.
    fn needed(&self, e: &Expression) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut todo: Vec<&Expression> = vec![e];
        while let Some(e) = todo.pop() {
            for path in e.reads("variables") {
                let Some(i) = path
                    .first()
                    .and_then(|n| self.variables.iter().position(|v| v.name == *n))
                else {
                    continue;
                };
                if out.contains(&i) {
                    continue;
                }
                out.push(i);
                if let Expr::Ready(ve) = &self.variables[i].expr {
                    todo.push(ve);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Where a failed validation is placed: the deepest field of the reviewed object that
    /// it reads, directly or through the variables it uses (and those they use).
    fn pointer(&self, expr: &Expr, req: &Request<'_>) -> String {
        let Expr::Ready(e) = expr else {
            return String::new();
        };
        let root = if req.operation == Operation::Delete {
            "oldObject"
        } else {
            "object"
        };
        let mut paths = Vec::new();
        let exprs = std::iter::once(e).chain(self.needed(e).into_iter().filter_map(|i| {
            match &self.variables[i].expr {
                Expr::Ready(ve) if !self.aliases.contains(&self.variables[i].name) => Some(ve),
                _ => None,
            }
        }));
        for e in exprs {
            paths.extend(e.reads(root));
            for used in e.reads("variables") {
                if let Some((first, rest)) = used.split_first()
                    && self.aliases.contains(first)
                {
                    paths.push(rest.to_vec());
                }
            }
        }
        super::pointer_of(&paths, req.subject())
    }
}

enum Outcome {
    Value(Cel),
    Failed(String),
    Skipped,
}

/// Why a variable has no value.
enum Needed {
    /// It failed: the error.
    Failed(String),
    /// A variable it reads cannot be decided: its source and why.
    Undecided(String, String),
}

/// The variables evaluated so far for one input.
struct Vars {
    states: Vec<Option<Result<Cel, Needed>>>,
}

impl Vars {
    fn new(n: usize) -> Self {
        Vars {
            states: (0..n).map(|_| None).collect(),
        }
    }

    /// Evaluates, in order, the variables `needs` names that are not yet, and puts every
    /// value in `ctx`'s `variables`. One that fails or is not decided is left out: only
    /// an evaluation that reads it ([`Vars::absent`]) is its business.
    fn prepare<F>(
        &mut self,
        program: &Program,
        needs: &[usize],
        ctx: &mut kube_cel::cel::Context,
        run: &F,
    ) where
        F: Fn(&str, &Expr, &kube_cel::cel::Context, &mut Vec<Decision>) -> Outcome,
    {
        for &i in needs {
            if self.states[i].is_some() {
                continue;
            }
            let v = &program.variables[i];
            let state = match &v.expr {
                Expr::Unsupported(why) => Err(Needed::Undecided(v.source.clone(), why.clone())),
                Expr::Ready(_) => {
                    let mut said = Vec::new();
                    match run(&v.source, &v.expr, ctx, &mut said) {
                        Outcome::Value(x) => Ok(x),
                        Outcome::Failed(why) => Err(Needed::Failed(why)),
                        Outcome::Skipped => match said.into_iter().next() {
                            Some(Decision::Unsupported { source, why }) => {
                                Err(Needed::Undecided(source, why))
                            }
                            _ => Err(Needed::Undecided(
                                v.source.clone(),
                                "it could not be evaluated".into(),
                            )),
                        },
                    }
                }
            };
            let ok = state.is_ok();
            self.states[i] = Some(state);
            if ok {
                ctx.add_variable_from_value("variables", self.values(program));
            }
        }
    }

    /// The first variable of `needs` that has no value, and why.
    fn absent(&self, needs: &[usize]) -> Option<&Needed> {
        needs.iter().find_map(|&i| match self.states.get(i) {
            Some(Some(Err(why))) => Some(why),
            _ => None,
        })
    }

    fn values(&self, program: &Program) -> Cel {
        cel::map(
            self.states
                .iter()
                .zip(&program.variables)
                .filter_map(|(s, v)| match s {
                    Some(Ok(x)) => Some((v.name.clone(), x.clone())),
                    _ => None,
                }),
        )
    }
}
