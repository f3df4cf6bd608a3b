//! Gatekeeper ConstraintTemplates and their Constraints, evaluated with regorus.
//!
//! A ConstraintTemplate (`templates.gatekeeper.sh`) defines a Constraint kind and its Rego;
//! each Constraint of that kind (`constraints.gatekeeper.sh`) runs the Rego with its
//! `spec.parameters` on the objects its `spec.match` selects. What Rego sees is what
//! Gatekeeper's validation webhook gives it: `input.review` (the admission request) and
//! `input.parameters`, and `data.inventory` (every object of the run) for the templates
//! that read it. Each `violation` result is a [`Violation`] with the Constraint's
//! enforcement action as severity: `deny` an error, `warn` a warning, `dryrun` an info.
//!
//! A template with `K8sNativeValidation` (CEL) code runs it, before any Rego beside it, as
//! Gatekeeper does (`--enable-k8s-native-validation`, on by default in the webhook and in
//! gator): on the engine of ValidatingAdmissionPolicy ([`super::program`]), with
//! Gatekeeper's `variables.anyObject` (the old object on `DELETE`) and `variables.params`
//! (the Constraint's parameters; `params` is the Constraint). Each failing validation is a
//! result. Where kubegate's CEL interpreter cannot run the CEL (`authorizer`, a function it
//! lacks) and the template has Rego too, the Rego runs instead; without Rego, an
//! `admission-unsupported` note says so.

mod matcher;
mod shim;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use serde_json::Value;

use super::program::{Decision, Input, Program};
use super::{Cluster, Found, Operation, Problem, Request, Violation, str_at};
use crate::finding::Severity;
use matcher::Match;
use template::{Code, InventoryKey, Template};

/// The enforcement point of the validation webhook, the one kubegate stands for.
pub const WEBHOOK_POINT: &str = "validation.gatekeeper.sh";
/// The enforcement point of `gator` (`gator verify` reviews with it).
pub const GATOR_POINT: &str = "gator.gatekeeper.sh";
const POINTS: &[&str] = &[
    WEBHOOK_POINT,
    "audit.gatekeeper.sh",
    GATOR_POINT,
    "vap.k8s.io",
    "*",
];

/// Whether `group`/`kind` is a policy kind of this engine.
pub fn is_policy(group: &str, kind: &str) -> bool {
    (group == "templates.gatekeeper.sh" && kind == "ConstraintTemplate")
        || group == "constraints.gatekeeper.sh"
}

/// A Constraint's `spec.enforcementAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// `deny`, `warn` or `dryrun`, at every enforcement point.
    Plain(Severity),
    /// `scoped`: the actions of `scopedEnforcementActions`, each with its points.
    Scoped(Vec<(Severity, Vec<String>)>),
}

impl Action {
    /// The severity at an enforcement point; `None` when the Constraint is not enforced
    /// there. Several scoped actions at one point: the strongest (the webhook denies if one
    /// of them is `deny`, else warns if one is `warn`).
    fn at(&self, point: &str) -> Option<Severity> {
        match self {
            Action::Plain(s) => Some(*s),
            Action::Scoped(actions) => actions
                .iter()
                .filter(|(_, points)| points.iter().any(|p| p == point || p == "*"))
                .map(|(s, _)| *s)
                .max(),
        }
    }

    /// Reads `spec.enforcementAction` (`deny` when absent) and, for `scoped`,
    /// `spec.scopedEnforcementActions` (`pkg/util/enforcement_action.go`).
    fn parse(constraint: &Value) -> Result<Action, (String, String)> {
        let severity = |a: &str| match a {
            "deny" => Some(Severity::Error),
            "warn" => Some(Severity::Warning),
            "dryrun" => Some(Severity::Info),
            _ => None,
        };
        let action = match constraint.pointer("/spec/enforcementAction") {
            None | Some(Value::Null) => "deny",
            Some(Value::String(s)) if s.is_empty() => "deny",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err((
                    "/spec/enforcementAction".into(),
                    "spec.enforcementAction must be a string".into(),
                ));
            }
        };
        if let Some(s) = severity(action) {
            return Ok(Action::Plain(s));
        }
        if action != "scoped" {
            return Err((
                "/spec/enforcementAction".into(),
                format!(
                    "unrecognized enforcementAction: {action:?} is not within the supported list [deny dryrun warn scoped]"
                ),
            ));
        }
        const AT: &str = "/spec/scopedEnforcementActions";
        let Some(list) = constraint.pointer(AT) else {
            return Err((
                "/spec/enforcementAction".into(),
                "error fetching scopedEnforcementActions: scopedEnforcementActions is required"
                    .into(),
            ));
        };
        let Some(list) = list.as_array() else {
            return Err((AT.into(), "must be of type array".into()));
        };
        let mut actions = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let action = str_at(item, &["action"]).unwrap_or("");
            let Some(s) = severity(action) else {
                return Err((
                    format!("{AT}/{i}/action"),
                    format!(
                        "unrecognized enforcementAction: [{action}] is not within the supported list [deny dryrun warn]"
                    ),
                ));
            };
            let points: Vec<String> = item
                .get("enforcementPoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| str_at(p, &["name"]).unwrap_or("").to_owned())
                .collect();
            if points.is_empty() || points.iter().any(|p| !POINTS.contains(&p.as_str())) {
                return Err((
                    format!("{AT}/{i}/enforcementPoints"),
                    format!(
                        "unrecognized enforcement points: constraint will not be enforced for enforcement points {points:?}, supported enforcement points are [validation.gatekeeper.sh audit.gatekeeper.sh gator.gatekeeper.sh vap.k8s.io]"
                    ),
                ));
            }
            actions.push((s, points));
        }
        Ok(Action::Scoped(actions))
    }
}

/// A Constraint that can run.
struct Constraint {
    /// Index into [`Gatekeeper::templates`].
    template: usize,
    /// `<kind>/<name>`.
    rule: String,
    /// Index of its [`Found`].
    found: usize,
    action: Action,
    matcher: Match,
    /// `spec.parameters` (`{}` when absent, as frameworks defaults it).
    parameters: regorus::Value,
    /// The Constraint itself, CEL's `params`, for a template whose code is CEL.
    object: Option<Value>,
}

/// What one review is about: the objects to match and how to build `input.review`.
pub(crate) struct Review<'a> {
    /// The object after the change (on `DELETE`, Gatekeeper reviews the old one as
    /// `object`, but matches what the request carries).
    pub object: Option<&'a Value>,
    pub old: Option<&'a Value>,
    /// `CREATE`, `UPDATE`, `DELETE`, or `""` (gator reviewing a bare object).
    pub operation: &'a str,
    /// The namespace whose Namespace object namespace selectors read.
    pub namespace: &'a str,
    pub input: ReviewInput<'a>,
}

/// How `input.review` is built.
pub(crate) enum ReviewInput<'a> {
    /// An admission request for one object of the run.
    Request(&'a Request<'a>),
    /// A bare object, as `gator` reviews it: no operation, no resource.
    Object(&'a Value),
    /// An `AdmissionRequest` given as it is (a gator case's `AdmissionReview`).
    Admission(&'a Value),
}

impl Review<'_> {
    /// The object violations point into.
    fn subject(&self) -> &Value {
        static NULL: Value = Value::Null;
        self.object.or(self.old).unwrap_or(&NULL)
    }

    /// `input.review`: the AdmissionRequest Gatekeeper builds, plus `namespaceObject`
    /// (the frameworks' driver adds it: the Namespace of a namespaced object, else null).
    fn input(&self, cluster: &Cluster<'_>, ns: Option<&Value>) -> regorus::Value {
        use crate::policy::to_rego;
        let s = |v: &str| regorus::Value::from(v);
        let mut review = BTreeMap::new();
        let gvk = |object: &Value, resource: &str| {
            let (group, version) =
                super::matching::split_api_version(str_at(object, &["apiVersion"]).unwrap_or(""));
            let kind = str_at(object, &["kind"]).unwrap_or("");
            let mut k = BTreeMap::new();
            k.insert(s("group"), s(group));
            k.insert(s("version"), s(version));
            k.insert(s("kind"), s(kind));
            let mut r = BTreeMap::new();
            r.insert(s("group"), s(group));
            r.insert(s("version"), s(version));
            r.insert(s("resource"), s(resource));
            (regorus::Value::from(k), regorus::Value::from(r))
        };
        match self.input {
            ReviewInput::Request(req) => {
                let subject = req.subject();
                let resource = cluster.resource(req.group(), req.kind());
                let (kind, resource) = gvk(subject, &resource);
                review.insert(s("kind"), kind);
                review.insert(s("resource"), resource);
                review.insert(s("name"), s(req.name()));
                review.insert(s("namespace"), s(req.namespace()));
                // On DELETE Gatekeeper reviews the old object as `object`.
                review.insert(s("object"), to_rego(subject));
                review.insert(
                    s("oldObject"),
                    req.old.map_or(regorus::Value::Null, to_rego),
                );
                review.insert(s("operation"), s(req.operation.as_str()));
                review.insert(s("uid"), s(""));
                review.insert(s("userInfo"), regorus::Value::new_object());
                review.insert(s("options"), regorus::Value::Null);
                review.insert(s("dryRun"), regorus::Value::from(false));
            }
            ReviewInput::Object(object) => {
                let (kind, resource) = gvk(object, "");
                review.insert(s("kind"), kind);
                review.insert(s("resource"), resource);
                review.insert(
                    s("name"),
                    s(str_at(object, &["metadata", "name"]).unwrap_or("")),
                );
                review.insert(
                    s("namespace"),
                    s(str_at(object, &["metadata", "namespace"]).unwrap_or("")),
                );
                review.insert(s("object"), to_rego(object));
                review.insert(s("oldObject"), regorus::Value::Null);
                review.insert(s("operation"), s(""));
                review.insert(s("uid"), s(""));
                review.insert(s("userInfo"), regorus::Value::new_object());
                review.insert(s("options"), regorus::Value::Null);
            }
            ReviewInput::Admission(request) => {
                if let regorus::Value::Object(fields) = to_rego(request) {
                    for (k, v) in fields.iter() {
                        review.insert(k.clone(), v.clone());
                    }
                }
                if self.operation == "DELETE"
                    && let Some(old) = request.get("oldObject")
                {
                    review.insert(s("object"), to_rego(old));
                }
            }
        }
        review.insert(
            s("namespaceObject"),
            ns.map_or(regorus::Value::Null, to_rego),
        );
        regorus::Value::from(review)
    }
}

/// The `data.inventory` built for one cluster, and which cluster.
struct Inventory {
    key: InventoryKey,
    value: regorus::Value,
}

/// The policies of this engine found in a run, compiled.
#[derive(Default)]
pub struct Gatekeeper {
    templates: Vec<Template>,
    constraints: Vec<Constraint>,
    /// `data.inventory` of the last cluster it was built for (built on first use by a
    /// template that reads it, then shared by every evaluation on that cluster).
    inventory: Mutex<Option<Inventory>>,
}

impl Gatekeeper {
    /// Loads the policies of this engine among `objects` (others are ignored): what cannot
    /// run is a [`Problem`] on its object, each policy that can is added to `found`.
    pub fn load(objects: &[&Value], problems: &mut Vec<Problem>, found: &mut Vec<Found>) -> Self {
        let mut gk = Gatekeeper::default();
        let group_kind = |o: &Value| {
            let group =
                super::matching::split_api_version(str_at(o, &["apiVersion"]).unwrap_or("")).0;
            (
                group.to_owned(),
                str_at(o, &["kind"]).unwrap_or("").to_owned(),
            )
        };
        // Templates first: a Constraint may come before its template in the run.
        // kind → (template index, or None when the template cannot run, and whether that
        // is because kubegate does not run it)
        let mut kinds: HashMap<String, Result<usize, bool>> = HashMap::new();
        let mut schemas = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            let (group, kind) = group_kind(o);
            if group != "templates.gatekeeper.sh" || kind != "ConstraintTemplate" {
                continue;
            }
            let before = problems.len();
            let template = Template::compile(i, o, problems);
            let declared = str_at(o, &["spec", "crd", "spec", "names", "kind"]).unwrap_or("");
            if let Some(Ok(_)) = kinds.get(declared) {
                problems.push(Problem::invalid(
                    i,
                    "/spec/crd/spec/names/kind",
                    format!("another ConstraintTemplate already defines the kind {declared:?}"),
                ));
                continue;
            }
            match template {
                Some(t) => {
                    let schema = match parameter_schema(o) {
                        Ok(s) => s,
                        Err(p) => {
                            problems.push(Problem::invalid(i, p.0, p.1));
                            kinds.insert(declared.to_owned(), Err(false));
                            continue;
                        }
                    };
                    kinds.insert(t.kind.clone(), Ok(gk.templates.len()));
                    schemas.push(schema);
                    gk.templates.push(t);
                }
                None if !declared.is_empty() => {
                    let unsupported = problems[before..]
                        .iter()
                        .all(|p| p.rule == "admission-unsupported");
                    kinds.entry(declared.to_owned()).or_insert(Err(unsupported));
                }
                None => {}
            }
        }
        for (i, o) in objects.iter().enumerate() {
            let (group, kind) = group_kind(o);
            if group != "constraints.gatekeeper.sh" {
                continue;
            }
            let name = str_at(o, &["metadata", "name"]).unwrap_or("");
            let template = match kinds.get(&kind) {
                Some(Ok(t)) => *t,
                // kubegate does not run the template: the template says so already.
                Some(Err(true)) => continue,
                Some(Err(false)) => {
                    problems.push(Problem::invalid(
                        i,
                        "/kind",
                        format!("the ConstraintTemplate of kind {kind:?} cannot run, so neither can this Constraint"),
                    ));
                    continue;
                }
                None => {
                    problems.push(Problem::invalid(
                        i,
                        "/kind",
                        format!(
                            "no ConstraintTemplate defines the kind {kind:?} (a template named {:?})",
                            kind.to_lowercase()
                        ),
                    ));
                    continue;
                }
            };
            match constraint(o, &schemas[template]) {
                Ok((action, matcher, parameters)) => {
                    let rule = format!("{kind}/{name}");
                    let cel = matches!(gk.templates[template].code, Code::Cel(_));
                    gk.constraints.push(Constraint {
                        template,
                        rule: rule.clone(),
                        found: found.len(),
                        action,
                        matcher,
                        parameters,
                        object: cel.then(|| (*o).clone()),
                    });
                    found.push(Found {
                        rule,
                        engine: "Gatekeeper",
                        object: i,
                    });
                }
                Err(errors) => {
                    problems.extend(errors.into_iter().map(|(p, m)| Problem::invalid(i, p, m)));
                }
            }
        }
        gk
    }

    /// Evaluates the policies on one request.
    pub fn evaluate(&self, req: &Request<'_>, cluster: &Cluster<'_>, out: &mut Vec<Violation>) {
        if self.constraints.is_empty() {
            return;
        }
        // A namespaced object without a namespace is applied in `default` (kubectl's
        // without `-n`), as for the other engines; gator's `test` matches it against an
        // empty namespace instead.
        let namespace = if cluster.namespaced(req.group(), req.kind()) {
            super::vap::applied_namespace(req)
        } else {
            req.namespace()
        };
        let review = Review {
            object: req.object,
            old: req.old,
            operation: req.operation.as_str(),
            namespace,
            input: ReviewInput::Request(req),
        };
        self.review(&review, cluster, WEBHOOK_POINT, out);
    }

    /// Evaluates the Constraints enforced at `point` on one review.
    pub(crate) fn review(
        &self,
        review: &Review<'_>,
        cluster: &Cluster<'_>,
        point: &str,
        out: &mut Vec<Violation>,
    ) {
        // At the webhook the Namespace exists in the cluster even when the run does not
        // hold it: it is taken to have only the label every Namespace carries. gator (and
        // so `kubegate verify`) refuses to match without it.
        let assumed;
        let ns = if review.namespace.is_empty() {
            None
        } else {
            match cluster.namespace(review.namespace) {
                Some(ns) => Some(ns),
                None if point == WEBHOOK_POINT => {
                    assumed = super::assumed_namespace(review.namespace);
                    Some(&assumed)
                }
                None => None,
            }
        };
        let mut input: Option<regorus::Value> = None;
        for c in &self.constraints {
            let Some(severity) = c.action.at(point) else {
                continue;
            };
            let t = &self.templates[c.template];
            // The webhook runs a template only on its `operations` (frameworks'
            // `MatchesOperation`); gator and audit run every template.
            if point == WEBHOOK_POINT && !t.runs_on(review.operation) {
                continue;
            }
            let violation = |message: String, pointer: String| Violation {
                rule: c.rule.clone(),
                severity,
                message,
                pointer,
                policy: c.found,
            };
            match matches_any(&c.matcher, review, ns) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    // Gatekeeper rejects what it cannot match (`ErrAutoreject`).
                    out.push(violation(
                        format!("unable to match constraints: {e}"),
                        String::new(),
                    ));
                    continue;
                }
            }
            let rego = match &t.code {
                Code::Rego(rego) => rego,
                Code::Cel(program) => {
                    cel(program, c, severity, review, cluster, ns, out);
                    continue;
                }
            };
            let review_value = input
                .get_or_insert_with(|| review.input(cluster, ns))
                .clone();
            let mut doc = BTreeMap::new();
            doc.insert(regorus::Value::from("review"), review_value);
            doc.insert(regorus::Value::from("parameters"), c.parameters.clone());
            let inventory = if rego.inventory {
                Some(self.inventory(cluster))
            } else {
                None
            };
            let result = rego.run(
                regorus::Value::from(doc),
                inventory.as_ref().map(|(k, v)| (*k, v)),
            );
            match result {
                Ok(outcome) => {
                    let pointer = super::pointer_of(&rego.paths, review.subject());
                    for message in outcome.messages {
                        out.push(violation(message, pointer.clone()));
                    }
                }
                // As frameworks does (and so gator): an evaluation error is a result
                // whose message is the error. At the webhook kubegate stands for, the error
                // may be its Rego engine's (regorus reads a few constructs otherwise than
                // OPA): said once, never taken for a verdict.
                Err(e) if point == WEBHOOK_POINT => out.push(Violation {
                    rule: "admission-unsupported".into(),
                    severity: Severity::Info,
                    message: format!(
                        "{}: not checked where its Rego fails in kubegate's Rego engine: {}",
                        c.rule,
                        template::last_line(&e)
                    ),
                    pointer: String::new(),
                    policy: c.found,
                }),
                Err(e) => out.push(violation(e, String::new())),
            }
        }
    }

    /// Adds what the Constraints match (every object when a template reads the inventory).
    pub fn wants(&self, w: &mut super::Wants) {
        if !self.constraints.is_empty() {
            // Rego may read any field.
            w.read_all();
        }
        if self.templates.iter().any(Template::reads_inventory) {
            w.add(None, None);
            return;
        }
        for c in &self.constraints {
            c.matcher.wants(w);
        }
    }

    /// `data.inventory` for `cluster`: `cluster[<apiVersion>][<kind>][<name>]` for objects
    /// without a namespace, `namespace[<ns>][<apiVersion>][<kind>][<name>]` for the others
    /// (gatekeeper's `pkg/target` `ProcessData`).
    fn inventory(&self, cluster: &Cluster<'_>) -> (InventoryKey, regorus::Value) {
        let objects = cluster.objects();
        // The cluster's identity: the same for every evaluation of a run, never reused.
        let key = cluster.id();
        let mut cached = self
            .inventory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(inv) = cached.as_ref()
            && inv.key == key
        {
            return (key, inv.value.clone());
        }
        let value = build_inventory(objects);
        *cached = Some(Inventory {
            key,
            value: value.clone(),
        });
        (key, value)
    }
}

/// Runs a Constraint of a CEL template on one review, as Gatekeeper's `k8scel` driver
/// does: the object unset on `DELETE` (`variables.anyObject` is the old one), the
/// Constraint as `params`, each denying decision a result.
fn cel(
    program: &Program,
    c: &Constraint,
    severity: Severity,
    review: &Review<'_>,
    cluster: &Cluster<'_>,
    ns: Option<&Value>,
    out: &mut Vec<Violation>,
) {
    let (object, old) = match review.input {
        ReviewInput::Request(req) => (req.object, req.old),
        ReviewInput::Object(o) => (Some(o), None),
        ReviewInput::Admission(_) if review.operation == "DELETE" => (None, review.old),
        ReviewInput::Admission(_) => (review.object, review.old),
    };
    let operation = match review.operation {
        "DELETE" => Operation::Delete,
        "UPDATE" => Operation::Update,
        _ => Operation::Create,
    };
    let req = Request {
        operation,
        object,
        old,
    };
    let resource = cluster.resource(req.group(), req.kind());
    let mut decisions = Vec::new();
    program.run(
        &Input {
            req: &req,
            operation: review.operation,
            resource: &resource,
            namespace: review.namespace,
            namespace_object: ns,
            params: c.object.as_ref(),
        },
        &mut decisions,
    );
    for d in decisions {
        let (message, pointer, rule, severity_override) = match d {
            Decision::Deny { message, pointer } => (message, pointer, None, None),
            Decision::Error(e) => (e, String::new(), None, None),
            Decision::Unsupported { source, why } => (
                format!("{}: `{source}` not checked: {why}", c.rule),
                String::new(),
                Some("admission-unsupported"),
                Some(Severity::Info),
            ),
        };
        out.push(Violation {
            rule: rule.map_or_else(|| c.rule.clone(), str::to_owned),
            severity: severity_override.unwrap_or(severity),
            message,
            pointer,
            policy: c.found,
        });
    }
}

/// Gatekeeper's `matchAny`: the Constraint applies if it matches the object or the old
/// object; a matching error on the first one checked is the answer.
fn matches_any(m: &Match, review: &Review<'_>, ns: Option<&Value>) -> Result<bool, String> {
    // On DELETE, Gatekeeper has already made the old object the reviewed `object`.
    let object = if review.operation == "DELETE" {
        review.old.or(review.object)
    } else {
        review.object
    };
    for o in [object, review.old].into_iter().flatten() {
        match m.matches(o, ns) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => {
                let name = str_at(o, &["metadata", "name"]).unwrap_or("");
                return Err(format!("error matching the requested object: {name} :{e}"));
            }
        }
    }
    Ok(false)
}

/// Objects by name, by kind, by `apiVersion`.
type ByVersion<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<&'a str, &'a Value>>>;

fn build_inventory(objects: &[&Value]) -> regorus::Value {
    let mut cluster: ByVersion<'_> = BTreeMap::new();
    let mut namespaced: BTreeMap<&str, ByVersion<'_>> = BTreeMap::new();
    for o in objects {
        let (Some(api_version), Some(kind)) = (str_at(o, &["apiVersion"]), str_at(o, &["kind"]))
        else {
            continue;
        };
        // Gatekeeper refuses objects without a version or kind.
        if super::matching::split_api_version(api_version).1.is_empty() || kind.is_empty() {
            continue;
        }
        let name = str_at(o, &["metadata", "name"]).unwrap_or("");
        let root = match str_at(o, &["metadata", "namespace"]).filter(|n| !n.is_empty()) {
            Some(ns) => namespaced.entry(ns).or_default(),
            None => &mut cluster,
        };
        root.entry(api_version)
            .or_default()
            .entry(kind)
            .or_default()
            .insert(name, o);
    }
    let key = |k: &str| regorus::Value::from(k);
    let versions = |by: &ByVersion<'_>| {
        let mut out = BTreeMap::new();
        for (gv, kinds) in by {
            let mut k_out = BTreeMap::new();
            for (kind, names) in kinds {
                let n_out: BTreeMap<_, _> = names
                    .iter()
                    .map(|(n, o)| (key(n), crate::policy::to_rego(o)))
                    .collect();
                k_out.insert(key(kind), regorus::Value::from(n_out));
            }
            out.insert(key(gv), regorus::Value::from(k_out));
        }
        regorus::Value::from(out)
    };
    let mut inv = BTreeMap::new();
    inv.insert(key("cluster"), versions(&cluster));
    inv.insert(
        key("namespace"),
        regorus::Value::from(
            namespaced
                .iter()
                .map(|(ns, by)| (key(ns), versions(by)))
                .collect::<BTreeMap<_, _>>(),
        ),
    );
    regorus::Value::from(inv)
}

/// The template's `openAPIV3Schema` for `spec.parameters`, compiled as the schema of the
/// Constraint's `spec.parameters` (so that errors point into the Constraint); `None` when
/// the template declares none. `Err` when it does not compile.
fn parameter_schema(
    template: &Value,
) -> Result<Option<crate::schema::structural::Node>, (String, String)> {
    const AT: &str = "/spec/crd/spec/validation/openAPIV3Schema";
    let Some(schema) = template.pointer(AT).filter(|s| !s.is_null()) else {
        return Ok(None);
    };
    let wrapped = serde_json::json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"parameters": schema}}}
    });
    crate::schema::structural::Node::compile(&wrapped)
        .map(Some)
        .map_err(|p| {
            let inner = p
                .pointer
                .strip_prefix("/properties/spec/properties/parameters")
                .unwrap_or(&p.pointer);
            (
                format!("{AT}{inner}"),
                format!("the parameters schema does not compile: {}", p.message),
            )
        })
}

type Loaded = (Action, Match, regorus::Value);

/// Reads a Constraint: its enforcement action, match and parameters (checked against the
/// template's schema, as the API server checks a custom resource; fields the schema does
/// not name are pruned there, not refused).
fn constraint(
    o: &Value,
    schema: &Option<crate::schema::structural::Node>,
) -> Result<Loaded, Vec<(String, String)>> {
    let mut errors = Vec::new();
    if str_at(o, &["metadata", "name"]).is_none_or(str::is_empty) {
        errors.push(("/metadata/name".into(), "a Constraint needs a name".into()));
    }
    let action = Action::parse(o).map_err(|e| errors.push(e)).ok();
    let matcher = Match::parse(o.pointer("/spec/match"))
        .map_err(|e| errors.push(e))
        .ok();
    let parameters = o.pointer("/spec/parameters").filter(|p| !p.is_null());
    if let (Some(schema), Some(p)) = (schema, parameters) {
        let doc = serde_json::json!({"spec": {"parameters": p}});
        for e in schema.validate(&doc) {
            if e.rule != "schema-unknown-field" {
                errors.push((e.pointer, e.message));
            }
        }
    }
    match (action, matcher) {
        (Some(a), Some(m)) if errors.is_empty() => Ok((
            a,
            m,
            parameters.map_or_else(regorus::Value::new_object, crate::policy::to_rego),
        )),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests;
