use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::admission::{Cluster, Operation, Request};

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (docs, _) = crate::parse::yaml::parse(&text, &crate::parse::Limits::default());
    docs.into_iter()
        .map(|d| d.value)
        .filter(|v| v.is_object())
        .collect()
}

fn load(objects: &[Value]) -> (Kyverno, Vec<Problem>, Vec<Found>) {
    let refs: Vec<&Value> = objects.iter().collect();
    let (mut problems, mut found) = (Vec::new(), Vec::new());
    let k = Kyverno::load(&refs, &mut problems, &mut found);
    (k, problems, found)
}

fn violations(k: &Kyverno, obj: &Value, cluster_objects: &[Value]) -> Vec<Violation> {
    let cluster = Cluster::new(cluster_objects.iter());
    let mut out = Vec::new();
    k.evaluate(&Request::create(obj), &cluster, &mut out);
    out
}

/// The CLI's word for a rule's verdict on an object (`skip` when no rule applies).
fn cli_verdict(
    k: &Kyverno,
    policy: &str,
    rule: &str,
    obj: &Value,
    cluster: &Cluster<'_>,
) -> &'static str {
    let req = Request::create(obj);
    let names = [
        rule.to_owned(),
        autogen_name("autogen", rule),
        autogen_name("autogen-cronjob", rule),
    ];
    for p in &k.policies {
        if p.rule_id.rsplit('/').next() != Some(policy) {
            continue;
        }
        for r in &p.rules {
            if !names.contains(&r.name) {
                continue;
            }
            let mut ctx = None;
            match k.verdict(p, r, &req, cluster, &mut ctx) {
                None => continue,
                Some(Outcome::Pass) => return "pass",
                Some(Outcome::Fail { .. }) => return "fail",
                Some(Outcome::Skip) => return "skip",
                Some(Outcome::Error(_)) => return "error",
                Some(Outcome::Unsupported(_)) => return "unsupported",
            }
        }
    }
    "skip"
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/admission/kyverno")
}

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            test_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "kyverno-test.yaml") {
            out.push(p);
        }
    }
}

/// Cases the CLI decides otherwise, with the reason (none for now: keep it short).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn kyverno_cli_verdicts_of_the_sample_policies() {
    let mut tests = Vec::new();
    test_files(&fixtures(), &mut tests);
    tests.sort();
    assert!(tests.len() >= 30, "fixtures missing: {}", tests.len());
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for test in &tests {
        let dir = test.parent().unwrap_or(Path::new("."));
        let spec = &yaml_docs(test)[0];
        let policies: Vec<Value> = spec["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .flat_map(|p| yaml_docs(&dir.join(p)))
            .collect();
        let resources: Vec<Value> = spec["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .flat_map(|p| yaml_docs(&dir.join(p)))
            .collect();
        let (k, problems, _) = load(&policies);
        assert!(
            problems.iter().all(|p| p.rule != "admission-invalid"),
            "{}: {problems:?}",
            test.display()
        );
        let cluster = Cluster::new(resources.iter());
        for result in spec["results"].as_array().into_iter().flatten() {
            let policy = result["policy"].as_str().unwrap_or("");
            let policy = policy.rsplit('/').next().unwrap_or(policy);
            let rule = result["rule"].as_str().unwrap_or("");
            let kind = result["kind"].as_str().unwrap_or("");
            let want = result["result"].as_str().unwrap_or("");
            for name in result["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let name = name.rsplit('/').next().unwrap_or(name);
                let Some(obj) = resources.iter().find(|r| {
                    r["metadata"]["name"] == name && (kind.is_empty() || r["kind"] == kind)
                }) else {
                    mismatches.push(format!(
                        "{}: resource {kind}/{name} not found",
                        test.display()
                    ));
                    continue;
                };
                let got = cli_verdict(&k, policy, rule, obj, &cluster);
                checked += 1;
                let case = format!("{policy}/{rule}/{kind}/{name}");
                if got != want && !KNOWN_DIFFERENCES.iter().any(|(c, _)| *c == case) {
                    mismatches.push(format!("{case}: want {want}, got {got}"));
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} verdicts checked");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} verdicts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn policy(kind: &str, spec: Value) -> Value {
    let mut p = json!({"apiVersion": "kyverno.io/v1", "kind": kind, "metadata": {"name": "p", "namespace": "team-a"}, "spec": spec});
    if kind == "ClusterPolicy"
        && let Some(m) = p["metadata"].as_object_mut()
    {
        m.remove("namespace");
    }
    p
}

fn pod(name: &str, ns: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn image_rule(action: &str) -> Value {
    json!({"validationFailureAction": action, "rules": [{
        "name": "no-latest",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "no latest", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}
    }]})
}

#[test]
fn pattern_failures_are_violations_with_kyverno_messages_and_pointers() {
    let (k, problems, found) = load(&[policy("ClusterPolicy", image_rule("Enforce"))]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(found[0].rule, "ClusterPolicy/p");
    assert_eq!(found[0].engine, "Kyverno");
    let bad = pod(
        "a",
        "x",
        json!({"containers": [{"name": "c", "image": "nginx:1"}, {"name": "d", "image": "nginx:latest"}]}),
    );
    let v = violations(&k, &bad, &[]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].rule, "ClusterPolicy/p");
    assert_eq!(v[0].severity, Severity::Error);
    assert_eq!(
        v[0].message,
        "validation error: no latest. rule no-latest failed at path /spec/containers/1/image/"
    );
    assert_eq!(v[0].pointer, "/spec/containers/1/image");
    assert_eq!(v[0].policy, 0);
    let good = pod(
        "a",
        "x",
        json!({"containers": [{"name": "c", "image": "nginx:1"}]}),
    );
    assert!(violations(&k, &good, &[]).is_empty());
}

#[test]
fn audit_is_a_warning_and_rule_actions_and_overrides_win() {
    let (k, _, _) = load(&[policy("ClusterPolicy", image_rule("Audit"))]);
    let bad = pod("a", "x", json!({"containers": [{"image": "nginx:latest"}]}));
    assert_eq!(violations(&k, &bad, &[])[0].severity, Severity::Warning);
    let mut spec = image_rule("audit");
    spec["rules"][0]["validate"]["failureAction"] = json!("Enforce");
    let (k, _, _) = load(&[policy("ClusterPolicy", spec.clone())]);
    assert_eq!(violations(&k, &bad, &[])[0].severity, Severity::Error);
    spec["rules"][0]["validate"]["failureActionOverrides"] =
        json!([{"action": "Audit", "namespaces": ["x*"]}]);
    let (k, _, _) = load(&[policy("ClusterPolicy", spec)]);
    assert_eq!(violations(&k, &bad, &[])[0].severity, Severity::Warning);
}

#[test]
fn autogen_runs_pod_rules_on_controllers_with_template_pointers() {
    let (k, _, _) = load(&[policy("ClusterPolicy", image_rule("Enforce"))]);
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"},
        "spec": {"template": {"spec": {"containers": [{"image": "nginx:latest"}]}}}});
    let v = violations(&k, &deploy, &[]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pointer, "/spec/template/spec/containers/0/image");
    assert!(
        v[0].message.contains(
            "rule autogen-no-latest failed at path /spec/template/spec/containers/0/image/"
        ),
        "{}",
        v[0].message
    );
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "x"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "nginx:latest"}]}}}}}});
    let v = violations(&k, &cron, &[]);
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].pointer,
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );
    // The annotation limits the controllers.
    let mut p = policy("ClusterPolicy", image_rule("Enforce"));
    p["metadata"]["annotations"] =
        json!({"pod-policies.kyverno.io/autogen-controllers": "Deployment"});
    let (k, _, _) = load(&[p]);
    assert_eq!(violations(&k, &deploy, &[]).len(), 1);
    assert!(violations(&k, &cron, &[]).is_empty());
    // A selector in match turns autogen off for the whole policy.
    let mut spec = image_rule("Enforce");
    spec["rules"][0]["match"]["any"][0]["resources"]["selector"] =
        json!({"matchLabels": {"a": "b"}});
    let (k, _, _) = load(&[policy("ClusterPolicy", spec)]);
    assert!(violations(&k, &deploy, &[]).is_empty());
}

#[test]
fn deny_conditions_point_at_the_key_they_read() {
    let spec = json!({"validationFailureAction": "Enforce", "rules": [{
        "name": "replicas",
        "match": {"any": [{"resources": {"kinds": ["Deployment"]}}]},
        "validate": {"message": "too many replicas: {{ request.object.spec.replicas }}",
            "deny": {"conditions": {"any": [{"key": "{{ request.object.spec.replicas }}", "operator": "GreaterThan", "value": 3}]}}}
    }]});
    let (k, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    assert!(problems.is_empty(), "{problems:?}");
    let d = |n: u32| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": n}});
    let v = violations(&k, &d(5), &[]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "too many replicas: 5");
    assert_eq!(v[0].pointer, "/spec/replicas");
    assert!(violations(&k, &d(2), &[]).is_empty());
}

#[test]
fn foreach_checks_each_element_and_points_into_it() {
    let spec = json!({"validationFailureAction": "Enforce", "rules": [{
        "name": "tags",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "An image tag is required.", "foreach": [
            {"list": "request.object.spec.containers", "pattern": {"image": "*:*"}},
            {"list": "request.object.spec.initContainers", "deny": {"conditions": {"all": [
                {"key": "{{ element.name }}", "operator": "Equals", "value": "bad-{{ elementIndex }}"}]}}}
        ]}
    }]});
    let (k, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    assert!(problems.is_empty(), "{problems:?}");
    let p = pod(
        "a",
        "x",
        json!({"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b"}]}),
    );
    let v = violations(&k, &p, &[]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pointer, "/spec/containers/1/image");
    assert_eq!(
        v[0].message,
        "validation failure: validation error: An image tag is required. rule tags failed at path /image/"
    );
    let p = pod(
        "a",
        "x",
        json!({"containers": [{"name": "a", "image": "a:1"}], "initContainers": [{"name": "ok"}, {"name": "bad-1"}]}),
    );
    let v = violations(&k, &p, &[]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].pointer, "/spec/initContainers/1/name");
}

#[test]
fn match_and_exclude_select_objects() {
    let spec = json!({"validationFailureAction": "Enforce", "rules": [{
        "name": "r",
        "match": {"all": [
            {"resources": {"kinds": ["v1/Pod"], "namespaces": ["prod-*"], "operations": ["CREATE"]}},
            {"resources": {"namespaceSelector": {"matchLabels": {"tier": "gold"}}}}]},
        "exclude": {"any": [
            {"resources": {"names": ["skip-*"]}},
            {"resources": {"annotations": {"policy/skip": "t*"}}},
            {"clusterRoles": ["cluster-admin"]}]},
        "validate": {"pattern": {"metadata": {"labels": {"team": "?*"}}}}
    }]});
    let (k, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    // The exclude by role is said once, and excludes nothing.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].rule, "admission-unsupported");
    let ns = |name: &str, tier: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"tier": tier}}});
    let cluster = [ns("prod-1", "gold"), ns("prod-2", "silver")];
    let p = |name: &str, nsn: &str| pod(name, nsn, json!({"containers": []}));
    assert_eq!(violations(&k, &p("a", "prod-1"), &cluster).len(), 1);
    assert_eq!(
        violations(&k, &p("a", "prod-1"), &cluster)[0].message,
        "validation error: rule r failed at path /metadata/labels/"
    );
    assert!(
        violations(&k, &p("a", "prod-2"), &cluster).is_empty(),
        "namespaceSelector"
    );
    assert!(
        violations(&k, &p("a", "dev"), &cluster).is_empty(),
        "namespaces"
    );
    assert!(
        violations(&k, &p("skip-me", "prod-1"), &cluster).is_empty(),
        "excluded by name"
    );
    let mut annotated = p("a", "prod-1");
    annotated["metadata"]["annotations"] = json!({"policy/skip": "true"});
    assert!(
        violations(&k, &annotated, &cluster).is_empty(),
        "excluded by annotation"
    );
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "prod-1"}});
    assert!(violations(&k, &deploy, &cluster).is_empty(), "kind");
}

#[test]
fn kinds_match_in_every_form() {
    assert!(kind_matches("Pod", "", "v1", "Pod"));
    assert!(kind_matches("v1/Pod", "", "v1", "Pod"));
    assert!(kind_matches(
        "apps/v1/Deployment",
        "apps",
        "v1",
        "Deployment"
    ));
    assert!(kind_matches(
        "batch/*/CronJob",
        "batch",
        "v1beta1",
        "CronJob"
    ));
    assert!(kind_matches("*", "apps", "v1", "Deployment"));
    assert!(kind_matches("Dep*", "apps", "v1", "Deployment"));
    assert!(!kind_matches("Pod/exec", "", "v1", "Pod"));
    assert!(!kind_matches(
        "apps/v1/Deployment",
        "extensions",
        "v1",
        "Deployment"
    ));
}

#[test]
fn a_policy_applies_in_its_own_namespace_only() {
    let (k, _, found) = load(&[policy("Policy", image_rule("Enforce"))]);
    assert_eq!(found[0].rule, "Policy/p");
    let bad = |ns: &str| pod("a", ns, json!({"containers": [{"image": "nginx:latest"}]}));
    assert_eq!(violations(&k, &bad("team-a"), &[]).len(), 1);
    assert_eq!(violations(&k, &bad("team-a"), &[])[0].rule, "Policy/p");
    assert!(violations(&k, &bad("team-b"), &[]).is_empty());
    let (k, _, _) = load(&[policy("ClusterPolicy", image_rule("Enforce"))]);
    assert_eq!(violations(&k, &bad("team-b"), &[]).len(), 1);
}

#[test]
fn unsupported_constructs_give_one_info_and_no_violation() {
    let spec = json!({"validationFailureAction": "Enforce", "rules": [
        {"name": "cel", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "validate": {"cel": {"expressions": [{"expression": "authorizer.group('').resource('pods').check('get').allowed()"}]}}},
        {"name": "ctx", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "context": [{"name": "cm", "configMap": {"name": "x", "namespace": "y"}}],
         "validate": {"deny": {"conditions": {"any": [{"key": "{{ cm.data.x }}", "operator": "Equals", "value": "1"}]}}}},
        {"name": "user", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.userInfo.username }}", "operator": "Equals", "value": "x"}]}}}},
        {"name": "fn", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "validate": {"deny": {"conditions": {"any": [{"key": "{{ lookup(request.object, 'a') }}", "operator": "Equals", "value": "x"}]}}}},
        {"name": "subjects", "match": {"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "a"}]}]},
         "validate": {"deny": {}}},
        {"name": "mutate", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "mutate": {"patchStrategicMerge": {"metadata": {"labels": {"a": "b"}}}}}
    ]});
    let (k, problems, found) = load(&[policy("ClusterPolicy", spec)]);
    let infos: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert!(
        problems
            .iter()
            .all(|p| p.rule == "admission-unsupported" && p.severity == Severity::Info)
    );
    assert_eq!(
        infos,
        [
            "/spec/rules/0/validate/cel/expressions/0/expression",
            "/spec/rules/1/context",
            "/spec/rules/2/validate",
            "/spec/rules/3/validate",
            "/spec/rules/4/match"
        ]
    );
    // The CEL rule runs what it can (here nothing): the policy is found, and says nothing.
    assert_eq!(found.len(), 1);
    assert!(violations(&k, &pod("a", "x", json!({"containers": []})), &[]).is_empty());
    let vpol = json!({"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": "v"}, "spec": {}});
    let (_, problems, _) = load(&[vpol]);
    assert!(
        problems.is_empty(),
        "ValidatingPolicy is the VAP engine's: {problems:?}"
    );
}

#[test]
fn validate_cel_rules_run_on_the_vap_engine_with_kyverno_semantics() {
    let spec = json!({"validationFailureAction": "Enforce", "rules": [{
        "name": "no-privilege-escalation",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "celPreconditions": [{"name": "not-kube-system", "expression": "namespaceObject.metadata.name != 'kube-system'"}],
        "validate": {
            "message": "privilege escalation is not allowed",
            "cel": {
                "variables": [{"name": "containers", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}],
                "expressions": [
                    {"expression": "variables.containers.all(c, c.?securityContext.allowPrivilegeEscalation.orValue(true) == false)"},
                    {"expression": "object.spec.?hostPID.orValue(false) == false", "messageExpression": "'hostPID in ' + object.metadata.name"}
                ]
            }
        }
    }]});
    let (k, problems, found) = load(&[policy("ClusterPolicy", spec)]);
    assert_eq!(problems, vec![]);
    assert_eq!(found.len(), 1);
    let safe = json!({"name": "c", "securityContext": {"allowPrivilegeEscalation": false}});
    let good = pod("a", "x", json!({"containers": [safe.clone()]}));
    assert_eq!(violations(&k, &good, &[]), vec![]);
    // The first failing expression fails the rule, with the rule's message when the
    // expression has none; placed on the field it reads.
    let bad = pod(
        "a",
        "x",
        json!({"containers": [safe, {"name": "d"}], "hostPID": true}),
    );
    let v = violations(&k, &bad, &[]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].rule.as_str(), v[0].severity, v[0].message.as_str()),
        (
            "ClusterPolicy/p",
            Severity::Error,
            "privilege escalation is not allowed"
        )
    );
    assert_eq!(v[0].pointer, "/spec/containers");
    let host = pod("a", "x", json!({"containers": [], "hostPID": true}));
    let v = violations(&k, &host, &[]);
    assert_eq!(v[0].message, "hostPID in a");
    assert_eq!(v[0].pointer, "/spec/hostPID");
    // celPreconditions: not met, not run.
    assert_eq!(
        violations(
            &k,
            &pod(
                "a",
                "kube-system",
                json!({"containers": [], "hostPID": true})
            ),
            &[]
        ),
        vec![]
    );
    // Autogen: the same rule on a Deployment's template, its expressions rewritten.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"},
        "spec": {"template": {"metadata": {"name": "t"}, "spec": {"containers": [], "hostPID": true}}}});
    let v = violations(&k, &deploy, &[]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].message, "hostPID in t");
    assert_eq!(v[0].pointer, "/spec/template/spec/hostPID");
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "x"},
        "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"name": "j"}, "spec": {"containers": [], "hostPID": true}}}}}});
    assert_eq!(
        violations(&k, &cron, &[])[0].pointer,
        "/spec/jobTemplate/spec/template/spec/hostPID"
    );
}

#[test]
fn validate_cel_parameters_come_from_the_objects_of_the_run() {
    let spec = json!({"validationFailureAction": "Audit", "rules": [{
        "name": "replicas",
        "match": {"any": [{"resources": {"kinds": ["Deployment"]}}]},
        "validate": {"cel": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "paramRef": {"name": "limits", "parameterNotFoundAction": "Deny"},
            "expressions": [{"expression": "object.spec.replicas <= int(params.data.max)", "message": "too many replicas"}]
        }}
    }]});
    let (k, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    assert_eq!(problems, vec![]);
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}, "spec": {"replicas": 5}});
    let limits = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": "x"}, "data": {"max": "3"}});
    let v = violations(&k, &d, std::slice::from_ref(&limits));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].severity, v[0].message.as_str()),
        (Severity::Warning, "too many replicas")
    );
    assert_eq!(v[0].pointer, "/spec/replicas");
    // Without the parameter object the rule errors, as in Kyverno: no verdict.
    assert_eq!(violations(&k, &d, &[]), vec![]);
}

#[test]
fn bad_policies_are_problems_not_crashes() {
    let (_, problems, _) = load(&[policy("ClusterPolicy", json!({"rules": "nope"}))]);
    assert_eq!(problems[0].rule, "admission-invalid");
    let spec = json!({"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"deny": {"conditions": {"any": [{"key": "a", "operator": "Resembles", "value": "b"}]}}}}]});
    let (_, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    assert_eq!(problems[0].rule, "admission-invalid");
    // A hostile nesting is refused, not recursed into.
    let mut deep = json!("x");
    for _ in 0..500 {
        deep = json!({"a": deep});
    }
    let spec = json!({"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"pattern": deep}}]});
    let (_, problems, _) = load(&[policy("ClusterPolicy", spec)]);
    assert_eq!(problems[0].rule, "admission-unsupported");
}

#[test]
fn updates_of_objects_that_already_failed_are_allowed() {
    let (k, _, _) = load(&[policy("ClusterPolicy", image_rule("Enforce"))]);
    let old = pod("a", "x", json!({"containers": [{"image": "nginx:latest"}]}));
    let new = pod(
        "a",
        "x",
        json!({"containers": [{"image": "nginx:latest", "name": "c"}]}),
    );
    let cluster = Cluster::new([]);
    let mut out = Vec::new();
    let req = Request {
        operation: Operation::Update,
        object: Some(&new),
        old: Some(&old),
    };
    k.evaluate(&req, &cluster, &mut out);
    assert!(out.is_empty());
    let old_ok = pod("a", "x", json!({"containers": [{"image": "nginx:1"}]}));
    let req = Request {
        operation: Operation::Update,
        object: Some(&new),
        old: Some(&old_ok),
    };
    k.evaluate(&req, &cluster, &mut out);
    assert_eq!(out.len(), 1);
}
