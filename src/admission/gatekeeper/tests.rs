use super::*;
use crate::admission::{Operation, Request};
use serde_json::json;

const LABELS_REGO: &str = r#"package k8srequiredlabels

violation[{"msg": msg, "details": {"missing": missing}}] {
  provided := {l | input.review.object.metadata.labels[l]}
  required := {l | l := input.parameters.labels[_]}
  missing := required - provided
  count(missing) > 0
  msg := sprintf("missing labels: %v", [missing])
}
"#;

fn template(kind: &str, target: Value) -> Value {
    json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.to_lowercase()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}, "validation": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"labels": {"type": "array", "items": {"type": "string"}}}
            }}}},
            "targets": [target]
        }
    })
}

fn labels_template() -> Value {
    template(
        "K8sRequiredLabels",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": LABELS_REGO}),
    )
}

fn constraint(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec
    })
}

fn config_map(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}})
}

/// Loads `objects`, returning the engine, its problems and what it found.
fn load(objects: &[&Value]) -> (Gatekeeper, Vec<Problem>, Vec<Found>) {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    let gk = Gatekeeper::load(objects, &mut problems, &mut found);
    (gk, problems, found)
}

fn eval(gk: &Gatekeeper, req: &Request<'_>, cluster: &Cluster<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    gk.evaluate(req, cluster, &mut out);
    out
}

#[test]
fn the_engine_is_shared_by_threads() {
    fn shared<T: Send + Sync + Default>() {}
    shared::<Gatekeeper>();
}

#[test]
fn policy_kinds() {
    assert!(is_policy("templates.gatekeeper.sh", "ConstraintTemplate"));
    assert!(is_policy("constraints.gatekeeper.sh", "K8sRequiredLabels"));
    assert!(!is_policy("", "ConfigMap"));
}

#[test]
fn a_constraint_denies_with_its_message_rule_and_pointer() {
    let t = labels_template();
    let other = config_map("a", "x", json!({}));
    let c = constraint(
        "K8sRequiredLabels",
        "must-have-owner",
        json!({"parameters": {"labels": ["owner"]}}),
    );
    let (gk, problems, found) = load(&[&other, &t, &c]);
    assert_eq!(problems, vec![]);
    assert_eq!(
        found,
        vec![Found {
            rule: "K8sRequiredLabels/must-have-owner".into(),
            engine: "Gatekeeper",
            object: 2
        }]
    );
    let cluster = Cluster::default();
    let bad = config_map("a", "cm", json!({"team": "x"}));
    let v = eval(&gk, &Request::create(&bad), &cluster);
    assert_eq!(
        v,
        vec![Violation {
            rule: "K8sRequiredLabels/must-have-owner".into(),
            severity: Severity::Error,
            message: "missing labels: {\"owner\"}".into(),
            pointer: "/metadata/labels".into(),
            policy: 0,
        }]
    );
    let good = config_map("a", "cm", json!({"owner": "me"}));
    assert_eq!(eval(&gk, &Request::create(&good), &cluster), vec![]);
}

#[test]
fn enforcement_actions_set_the_severity() {
    let t = labels_template();
    let params = json!({"labels": ["owner"]});
    let warn = constraint(
        "K8sRequiredLabels",
        "warn",
        json!({"enforcementAction": "warn", "parameters": params}),
    );
    let dry = constraint(
        "K8sRequiredLabels",
        "dry",
        json!({"enforcementAction": "dryrun", "parameters": params}),
    );
    let scoped = constraint(
        "K8sRequiredLabels",
        "scoped",
        json!({"enforcementAction": "scoped", "parameters": params,
        "scopedEnforcementActions": [
            {"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            {"action": "deny", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]}]}),
    );
    let audit_only = constraint(
        "K8sRequiredLabels",
        "audit-only",
        json!({"enforcementAction": "scoped", "parameters": params,
        "scopedEnforcementActions": [{"action": "deny", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]}]}),
    );
    let everywhere = constraint(
        "K8sRequiredLabels",
        "everywhere",
        json!({"enforcementAction": "scoped", "parameters": params,
        "scopedEnforcementActions": [{"action": "dryrun", "enforcementPoints": [{"name": "*"}]},
            {"action": "deny", "enforcementPoints": [{"name": "*"}]}]}),
    );
    let (gk, problems, _) = load(&[&t, &warn, &dry, &scoped, &audit_only, &everywhere]);
    assert_eq!(problems, vec![]);
    let obj = config_map("a", "cm", json!({}));
    let got: Vec<(String, Severity)> = eval(&gk, &Request::create(&obj), &Cluster::default())
        .into_iter()
        .map(|v| (v.rule, v.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            ("K8sRequiredLabels/warn".into(), Severity::Warning),
            ("K8sRequiredLabels/dry".into(), Severity::Info),
            ("K8sRequiredLabels/scoped".into(), Severity::Warning),
            ("K8sRequiredLabels/everywhere".into(), Severity::Error),
        ]
    );
    let bad = constraint(
        "K8sRequiredLabels",
        "bad",
        json!({"enforcementAction": "block"}),
    );
    let no_points = constraint(
        "K8sRequiredLabels",
        "nopoints",
        json!({"enforcementAction": "scoped",
        "scopedEnforcementActions": [{"action": "deny", "enforcementPoints": [{"name": "kubectl"}]}]}),
    );
    let (_, problems, found) = load(&[&t, &bad, &no_points]);
    assert!(found.is_empty());
    let at: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.policy, p.pointer.as_str()))
        .collect();
    assert_eq!(
        at,
        vec![
            (1, "/spec/enforcementAction"),
            (2, "/spec/scopedEnforcementActions/0/enforcementPoints")
        ]
    );
}

#[test]
fn rego_v1_code_and_v0_legacy_rego() {
    let v1 = r#"package k8sv1
violation contains {"msg": msg} if {
  input.review.object.spec.replicas > 3
  msg := "too many replicas"
}
"#;
    let code = template(
        "K8sV1",
        json!({"target": "admission.k8s.gatekeeper.sh", "code": [
            {"engine": "Rego", "source": {"rego": v1, "version": "v1"}}]}),
    );
    let c = constraint("K8sV1", "max", json!({}));
    let (gk, problems, _) = load(&[&code, &c]);
    assert_eq!(problems, vec![]);
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 5}});
    let v = eval(&gk, &Request::create(&d), &Cluster::default());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pointer, "/spec/replicas");
    // The same Rego v1 in the legacy field, read as v0, does not compile.
    let legacy = template(
        "K8sV1",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": v1}),
    );
    let (_, problems, _) = load(&[&legacy, &c]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].rule, "admission-invalid");
    assert_eq!(problems[0].pointer, "/spec/targets/0/rego");
    assert!(
        problems[0].message.contains("does not compile"),
        "{}",
        problems[0].message
    );
    // Its Constraint cannot run either.
    assert_eq!(
        (problems[1].policy, problems[1].rule),
        (1, "admission-invalid")
    );
    // Without `version`, code is v0 too: v0 syntax compiles.
    let v0 = template(
        "K8sV0",
        json!({"target": "admission.k8s.gatekeeper.sh", "code": [
        {"engine": "Rego", "source": {"rego": "package k\nviolation[{\"msg\": \"no\"}] { input.review.object.kind == \"Pod\" }\n"}}]}),
    );
    let (_, problems, _) = load(&[&v0]);
    assert_eq!(problems, vec![]);
}

#[test]
fn libs_are_compiled_with_the_template() {
    let t = template(
        "K8sLibbed",
        json!({"target": "admission.k8s.gatekeeper.sh",
            "rego": "package k8slibbed\nimport data.lib.names.bad_name\nviolation[{\"msg\": msg}] {\n  bad_name(input.review.object.metadata.name)\n  msg := \"bad name\"\n}\n",
            "libs": ["package lib.names\nbad_name(n) { startswith(n, \"tmp-\") }\n"]}),
    );
    let c = constraint("K8sLibbed", "names", json!({}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let tmp = config_map("a", "tmp-x", json!({}));
    let ok = config_map("a", "x", json!({}));
    assert_eq!(
        eval(&gk, &Request::create(&tmp), &Cluster::default()).len(),
        1
    );
    assert_eq!(
        eval(&gk, &Request::create(&ok), &Cluster::default()).len(),
        0
    );
    // A lib outside `data.lib` is refused, as Gatekeeper's rewriter refuses it.
    let outside = template(
        "K8sLibbed",
        json!({"target": "admission.k8s.gatekeeper.sh",
            "rego": "package k8slibbed\nviolation[{\"msg\": \"x\"}] { false }\n",
            "libs": ["package helpers\nx := 1\n"]}),
    );
    let (_, problems, _) = load(&[&outside]);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("not found in lib prefixes"),
        "{}",
        problems[0].message
    );
}

#[test]
fn inventory_holds_every_object_of_the_run() {
    let rego = r#"package k8suniquename
violation[{"msg": msg}] {
  name := input.review.object.metadata.name
  other := data.inventory.namespace[ns][_]["ConfigMap"][name]
  ns != input.review.object.metadata.namespace
  msg := sprintf("ConfigMap %v also exists in namespace %v", [name, ns])
}
"#;
    let t = template(
        "K8sUniqueName",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego}),
    );
    let c = constraint("K8sUniqueName", "unique", json!({}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let a = config_map("a", "shared", json!({}));
    let b = config_map("b", "shared", json!({}));
    let alone = config_map("a", "alone", json!({}));
    let cluster = Cluster::new([&a, &b, &alone]);
    let v = eval(&gk, &Request::create(&a), &cluster);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "ConfigMap shared also exists in namespace b");
    assert_eq!(eval(&gk, &Request::create(&alone), &cluster), vec![]);
    // Another cluster: the inventory is rebuilt, not reused.
    let cluster = Cluster::new([&a, &alone]);
    assert_eq!(eval(&gk, &Request::create(&a), &cluster), vec![]);
    // The inventory shape: cluster[<apiVersion>][<kind>][<name>].
    let inv = build_inventory(&[
        &a,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr1"}}),
    ]);
    assert_eq!(
        inv["cluster"]["rbac.authorization.k8s.io/v1"]["ClusterRole"]["cr1"]["kind"],
        regorus::Value::from("ClusterRole")
    );
    assert_eq!(
        inv["namespace"]["a"]["v1"]["ConfigMap"]["shared"]["metadata"]["name"],
        regorus::Value::from("shared")
    );
}

#[test]
fn delete_reviews_the_old_object() {
    let rego = r#"package k8snodelete
violation[{"msg": msg}] {
  input.review.operation == "DELETE"
  msg := sprintf("%v must not be deleted (old: %v)", [input.review.object.metadata.name, input.review.oldObject.metadata.name])
}
"#;
    let t = template(
        "K8sNoDelete",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego, "operations": ["DELETE"]}),
    );
    let c = constraint(
        "K8sNoDelete",
        "keep",
        json!({"match": {"kinds": [{"apiGroups": [""], "kinds": ["ConfigMap"]}]}}),
    );
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let old = config_map("a", "precious", json!({}));
    let delete = Request {
        operation: Operation::Delete,
        object: None,
        old: Some(&old),
    };
    let v = eval(&gk, &delete, &Cluster::default());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "precious must not be deleted (old: precious)");
    // `operations: [DELETE]`: not run on CREATE.
    assert_eq!(
        eval(&gk, &Request::create(&old), &Cluster::default()),
        vec![]
    );
}

#[test]
fn namespace_selectors_read_the_namespaces_of_the_run() {
    let t = labels_template();
    let c = constraint(
        "K8sRequiredLabels",
        "prod-only",
        json!({
        "match": {"namespaceSelector": {"matchLabels": {"env": "prod"}}, "excludedNamespaces": ["kube-*"]},
        "parameters": {"labels": ["owner"]}}),
    );
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let prod = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"env": "prod"}}});
    let dev = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab", "labels": {"env": "dev"}}});
    let cluster = Cluster::new([&prod, &dev]);
    let in_prod = config_map("shop", "cm", json!({}));
    let in_dev = config_map("lab", "cm", json!({}));
    let in_kube = config_map("kube-system", "cm", json!({}));
    let nowhere = config_map("unknown", "cm", json!({}));
    assert_eq!(eval(&gk, &Request::create(&in_prod), &cluster).len(), 1);
    assert_eq!(eval(&gk, &Request::create(&in_dev), &cluster), vec![]);
    assert_eq!(eval(&gk, &Request::create(&in_kube), &cluster), vec![]);
    // At the webhook a Namespace the run does not hold exists in the cluster with only its
    // name label: not selected here. (gator refuses to match instead; `verify` does too.)
    assert_eq!(eval(&gk, &Request::create(&nowhere), &cluster), vec![]);
    let by_name = constraint(
        "K8sRequiredLabels",
        "by-name",
        json!({
        "match": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "unknown"}}},
        "parameters": {"labels": ["owner"]}}),
    );
    let (gk2, _, _) = load(&[&t, &by_name]);
    assert_eq!(eval(&gk2, &Request::create(&nowhere), &cluster).len(), 1);
    // The Namespace object itself is matched by its own labels.
    assert_eq!(eval(&gk, &Request::create(&prod), &cluster).len(), 1);
    assert_eq!(eval(&gk, &Request::create(&dev), &cluster), vec![]);
}

#[test]
fn an_object_without_a_namespace_is_applied_in_default() {
    let t = labels_template();
    let only = |name: &str, m: Value| {
        constraint(
            "K8sRequiredLabels",
            name,
            json!({"match": m, "parameters": {"labels": ["owner"]}}),
        )
    };
    let in_default = only("in-default", json!({"namespaces": ["default"]}));
    let in_prod = only("in-prod", json!({"namespaces": ["prod"]}));
    let not_default = only("not-default", json!({"excludedNamespaces": ["default"]}));
    let selected = only(
        "selected",
        json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}),
    );
    let (gk, problems, _) = load(&[&t, &in_default, &in_prod, &not_default, &selected]);
    assert_eq!(problems, vec![]);
    let cluster = Cluster::new([]);
    let rules = |o: &Value| -> Vec<String> {
        eval(&gk, &Request::create(o), &cluster)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    };
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    assert_eq!(
        rules(&cm),
        ["K8sRequiredLabels/in-default", "K8sRequiredLabels/selected"]
    );
    // A cluster-scoped object has no namespace to disqualify it (Gatekeeper's match).
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}});
    assert_eq!(
        rules(&role),
        [
            "K8sRequiredLabels/in-default",
            "K8sRequiredLabels/in-prod",
            "K8sRequiredLabels/not-default",
            "K8sRequiredLabels/selected",
        ]
    );
}

#[test]
fn bad_templates_are_problems() {
    let target = |rego: &str| json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego});
    let cases = [
        (
            template(
                "K8sBad",
                target("package x\nviolation[{\"msg\": m}] { m := }\n"),
            ),
            "/spec/targets/0/rego",
            "does not compile",
        ),
        (
            template(
                "K8sBad",
                target("package x\ndeny[{\"msg\": \"m\"}] { true }\n"),
            ),
            "/spec/targets/0/rego",
            "missing required rules: [violation]",
        ),
        (
            template(
                "K8sBad",
                target(
                    "package x\nimport rego.v1\nviolation contains {\"msg\": \"m\"} if { true }\n",
                ),
            ),
            "/spec/targets/0/rego",
            "bad import: \"rego.v1\"",
        ),
        (
            template(
                "K8sBad",
                target("package x\nviolation[{\"msg\": m}] { m := data.other.x }\n"),
            ),
            "/spec/targets/0/rego",
            "disallowed ref data.other",
        ),
        (
            template(
                "K8sBad",
                target("package x\nviolation[{\"msg\": m}] { m := unknown_fn(1) }\n"),
            ),
            "/spec/targets/0/rego",
            "does not compile",
        ),
    ];
    for (t, pointer, message) in &cases {
        let (_, problems, _) = load(&[t]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].rule, "admission-invalid");
        assert_eq!(problems[0].pointer, *pointer);
        assert!(
            problems[0].message.contains(message),
            "{} does not say {message}",
            problems[0].message
        );
    }
    let mut misnamed = labels_template();
    misnamed["metadata"]["name"] = json!("labels");
    let (_, problems, _) = load(&[&misnamed]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].pointer, "/metadata/name");
    assert!(
        problems[0]
            .message
            .contains("is not equal to the lowercase of CRD's Kind: \"k8srequiredlabels\"")
    );
}

const REPLICAS_REGO: &str = r#"package k8smaxreplicas
violation[{"msg": "rego said no"}] {
  input.review.object.spec.replicas > input.parameters.max
}
"#;

/// A template whose CEL limits `spec.replicas` to `parameters.max`, with `rego` beside it.
fn replicas_template(validation: Value, rego: Option<&str>) -> Value {
    let mut code = vec![json!({"engine": "K8sNativeValidation", "source": {
        "variables": [{"name": "replicas", "expression": "has(variables.anyObject.spec.replicas) ? variables.anyObject.spec.replicas : 1"}],
        "validations": [validation]}})];
    if let Some(r) = rego {
        code.push(json!({"engine": "Rego", "source": {"rego": r}}));
    }
    let mut t = template(
        "K8sMaxReplicas",
        json!({"target": "admission.k8s.gatekeeper.sh", "code": code}),
    );
    t["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"] =
        json!({"type": "object", "properties": {"max": {"type": "integer"}}});
    t
}

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "a"},
           "spec": {"replicas": replicas}})
}

#[test]
fn cel_templates_run_as_gatekeeper_runs_them() {
    // As Gatekeeper: the CEL code is chosen before the Rego beside it; `variables.params`
    // is the Constraint's parameters, `variables.anyObject` the object.
    let t = replicas_template(
        json!({"expression": "variables.replicas <= variables.params.max",
               "messageExpression": "'at most ' + string(variables.params.max) + ' replicas, not ' + string(variables.replicas)"}),
        Some(REPLICAS_REGO),
    );
    let c = constraint(
        "K8sMaxReplicas",
        "max",
        json!({"enforcementAction": "warn", "parameters": {"max": 3}}),
    );
    let (gk, problems, found) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    assert_eq!(found.len(), 1);
    let d = deployment(5);
    let v = eval(&gk, &Request::create(&d), &Cluster::default());
    assert_eq!(
        v,
        vec![Violation {
            rule: "K8sMaxReplicas/max".into(),
            severity: Severity::Warning,
            message: "at most 3 replicas, not 5".into(),
            pointer: "/spec/replicas".into(),
            policy: 0,
        }]
    );
    assert_eq!(
        eval(&gk, &Request::create(&deployment(2)), &Cluster::default()),
        vec![]
    );
    // On DELETE the object is null and `anyObject` the old one.
    let t = replicas_template(
        json!({"expression": "object == null && variables.anyObject.metadata.name != 'd'", "message": "deleted d"}),
        None,
    );
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let delete = Request {
        operation: Operation::Delete,
        object: None,
        old: Some(&d),
    };
    let v = eval(&gk, &delete, &Cluster::default());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "deleted d");
    assert_eq!(v[0].pointer, "/metadata/name");
    // An expression that fails (a missing key) denies under `failurePolicy: Fail`, the
    // default, and is let through under `Ignore`.
    for (policy, denied) in [(None, true), (Some("Ignore"), false)] {
        let mut t = replicas_template(
            json!({"expression": "!variables.anyObject.spec.paused"}),
            None,
        );
        if let Some(p) = policy {
            t["spec"]["targets"][0]["code"][0]["source"]["failurePolicy"] = json!(p);
        }
        let (gk, problems, _) = load(&[&t, &c]);
        assert_eq!(problems, vec![]);
        let v = eval(&gk, &Request::create(&d), &Cluster::default());
        assert_eq!(v.len(), usize::from(denied), "{v:?}");
        if denied {
            assert_eq!(
                v[0].message,
                "expression '!variables.anyObject.spec.paused' resulted in error: No such key: paused"
            );
        }
    }
}

#[test]
fn cel_kubegate_cannot_run_falls_back_to_rego_or_is_unsupported() {
    // `authorizer` needs the cluster: the Rego beside it runs instead, silently.
    let cel = json!({"expression": "authorizer.requestResource.check('get').allowed()"});
    let t = replicas_template(cel.clone(), Some(REPLICAS_REGO));
    let c = constraint("K8sMaxReplicas", "max", json!({"parameters": {"max": 3}}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let v = eval(&gk, &Request::create(&deployment(5)), &Cluster::default());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "rego said no");
    // CEL alone: one unsupported note on the template, never a verdict.
    let t = replicas_template(cel, None);
    let (gk, problems, found) = load(&[&t, &c]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (
            problems[0].policy,
            problems[0].rule,
            problems[0].pointer.as_str()
        ),
        (
            0,
            "admission-unsupported",
            "/spec/targets/0/code/0/source/validations/0/expression"
        )
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        eval(&gk, &Request::create(&deployment(5)), &Cluster::default()),
        vec![]
    );
}

#[test]
fn bad_cel_templates_are_problems() {
    for (source, pointer, says) in [
        (
            json!({"validations": [{"expression": "object.spec.replicas <"}]}),
            "/spec/targets/0/code/0/source/validations/0/expression",
            "does not compile",
        ),
        (
            json!({"variables": [{"name": "params", "expression": "1"}], "validations": [{"expression": "true"}]}),
            "/spec/targets/0/code/0/source/variables/0/name",
            "reserved keyword",
        ),
        (
            json!({"matchCondition": [{"name": "gatekeeper_internal_x", "expression": "true"}], "validations": [{"expression": "true"}]}),
            "/spec/targets/0/code/0/source/matchCondition/0/name",
            "cannot have \"gatekeeper_internal_\" as a prefix",
        ),
        (
            json!({"failurePolicy": "Sometimes", "validations": [{"expression": "true"}]}),
            "/spec/targets/0/code/0/source/failurePolicy",
            "unrecognized failure policy",
        ),
    ] {
        let t = template(
            "K8sBad",
            json!({"target": "admission.k8s.gatekeeper.sh", "code": [
                {"engine": "K8sNativeValidation", "source": source}]}),
        );
        let c = constraint("K8sBad", "bad", json!({}));
        let (_, problems, found) = load(&[&t, &c]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].rule, problems[0].pointer.as_str()),
            ("admission-invalid", pointer)
        );
        assert!(
            problems[0].message.contains(says),
            "{}",
            problems[0].message
        );
        // The Constraint of a template that cannot run says so.
        assert_eq!(
            (problems[1].policy, problems[1].rule),
            (1, "admission-invalid")
        );
        assert!(found.is_empty());
    }
}

#[test]
fn bad_constraints_are_problems() {
    let t = labels_template();
    let orphan = constraint("K8sNoSuchKind", "x", json!({}));
    let wrong_type = constraint(
        "K8sRequiredLabels",
        "typed",
        json!({"parameters": {"labels": [7], "extra": true}}),
    );
    let bad_match = constraint(
        "K8sRequiredLabels",
        "matched",
        json!({"match": {"scope": "Everywhere"}}),
    );
    let (_, problems, found) = load(&[&t, &orphan, &wrong_type, &bad_match]);
    assert!(found.is_empty());
    let got: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.policy, p.pointer.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "/kind"),
            (2, "/spec/parameters/labels/0"),
            (3, "/spec/match/scope")
        ]
    );
    assert!(
        problems[0]
            .message
            .contains("no ConstraintTemplate defines the kind \"K8sNoSuchKind\"")
    );
    assert!(problems.iter().all(|p| p.rule == "admission-invalid"));
}

#[test]
fn evaluation_errors_are_said_not_judged() {
    // A conflict between two values of a complete rule is an error at evaluation.
    let rego = r#"package k8sconflict
x := 1 { input.review.object.kind == "ConfigMap" }
x := 2 { input.review.object.metadata.name == "cm" }
violation[{"msg": "x"}] { x == 3 }
"#;
    let t = template(
        "K8sConflict",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego}),
    );
    let c = constraint("K8sConflict", "c", json!({}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let v = eval(
        &gk,
        &Request::create(&config_map("a", "cm", json!({}))),
        &Cluster::default(),
    );
    // At the webhook: one note, not a verdict (the engine may be the one failing).
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].rule, "admission-unsupported");
    assert_eq!(v[0].severity, Severity::Info);
    assert!(
        v[0].message.starts_with("K8sConflict/c: not checked"),
        "{}",
        v[0].message
    );
    assert_eq!(v[0].pointer, "");
}

#[test]
fn a_rule_with_several_bodies_runs_each_as_opa_does() {
    // A set rule with two bodies: valid Rego that regorus alone refuses.
    let rego = r#"package k8stwo
violation[{"msg": "a or b"}] { input.review.object.kind == "A" } { input.review.object.kind == "B" }
"#;
    let t = template(
        "K8sTwo",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego}),
    );
    let c = constraint("K8sTwo", "two", json!({}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    for (kind, denied) in [("A", true), ("B", true), ("C", false)] {
        let o =
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "o", "namespace": "a"}});
        let v = eval(&gk, &Request::create(&o), &Cluster::default());
        assert_eq!(v.len(), usize::from(denied), "{kind}: {v:?}");
    }
}

#[test]
fn a_message_with_a_verb_left_over_is_printed_as_go_prints_it() {
    // K8sHorizontalPodAutoscaler's shape: more verbs than arguments. regorus alone refuses
    // the call, and the violation was lost.
    let rego = r#"package k8sshort
violation[{"msg": msg}] {
  msg := sprintf("%v <%v> is not allowed. Allowed: %v", [input.review.object.kind, input.review.object.metadata.name])
}
"#;
    let t = template(
        "K8sShort",
        json!({"target": "admission.k8s.gatekeeper.sh", "rego": rego}),
    );
    let c = constraint("K8sShort", "short", json!({}));
    let (gk, problems, _) = load(&[&t, &c]);
    assert_eq!(problems, vec![]);
    let o = config_map("a", "cm", json!({}));
    let v = eval(&gk, &Request::create(&o), &Cluster::default());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        v[0].message,
        "ConfigMap <cm> is not allowed. Allowed: %!v(MISSING)"
    );
}
