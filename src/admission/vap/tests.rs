//! The examples of the Kubernetes documentation
//! (<https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/>,
//! CC BY 4.0), with the API server's messages.

use serde_json::Value;

use super::super::{Cluster, Operation, Policies, Problem, Request, Violation};
use crate::finding::Severity;

fn docs(yaml: &str) -> Vec<Value> {
    let (docs, issues) = crate::parse::yaml::parse(yaml, &crate::parse::Limits::default());
    assert!(issues.is_empty(), "{issues:?}");
    docs.into_iter().map(|d| d.value).collect()
}

/// Loads the policies of `policies` and evaluates a CREATE of each object of `objects`,
/// with every object of both in the cluster.
fn run(policies: &str, objects: &str) -> (Vec<Problem>, Vec<Vec<Violation>>) {
    let policies = docs(policies);
    let objects = docs(objects);
    let refs: Vec<&Value> = policies.iter().collect();
    let (loaded, problems) = Policies::load(&refs);
    let cluster = Cluster::new(policies.iter().chain(&objects));
    let verdicts = objects
        .iter()
        .map(|o| loaded.evaluate(&Request::create(o), &cluster))
        .collect();
    (problems, verdicts)
}

const DEMO: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding-test.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
"#;

const NAMESPACES: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test, labels: {environment: test}}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {environment: prod}}
"#;

fn deployment(ns: &str, replicas: u32) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n      - name: a\n        image: example.com/a:1\n"
    )
}

#[test]
fn the_documentation_demo_denies_too_many_replicas_in_test_namespaces() {
    let objects = format!(
        "{NAMESPACES}{}{}{}",
        deployment("test", 7),
        deployment("test", 3),
        deployment("prod", 7)
    );
    let (problems, verdicts) = run(DEMO, &objects);
    assert!(problems.is_empty(), "{problems:?}");
    // The Namespaces are not deployments.
    assert!(verdicts[0].is_empty() && verdicts[1].is_empty());
    assert_eq!(
        verdicts[2],
        vec![Violation {
            rule: "ValidatingAdmissionPolicy/demo-policy.example.com".into(),
            severity: Severity::Error,
            message: "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding \
                      'demo-binding-test.example.com' denied request: failed expression: \
                      object.spec.replicas <= 5"
                .into(),
            pointer: "/spec/replicas".into(),
            policy: 0,
        }]
    );
    assert!(verdicts[3].is_empty(), "3 replicas pass");
    assert!(verdicts[4].is_empty(), "the prod namespace is not selected");
}

#[test]
fn actions_set_the_severity_and_an_unbound_policy_does_not_run() {
    let warn = DEMO.replace("[Deny]", "[Warn, Audit]");
    let (_, verdicts) = run(&warn, &format!("{NAMESPACES}{}", deployment("test", 9)));
    assert_eq!(verdicts[2][0].severity, Severity::Warning);
    assert!(
        verdicts[2][0]
            .message
            .starts_with("Validation failed for ValidatingAdmissionPolicy")
    );
    let audit = DEMO.replace("[Deny]", "[Audit]");
    let (_, verdicts) = run(&audit, &format!("{NAMESPACES}{}", deployment("test", 9)));
    assert_eq!(verdicts[2][0].severity, Severity::Info);
    let unbound = DEMO.split("---").next().unwrap_or_default().to_owned();
    let (problems, verdicts) = run(&unbound, &format!("{NAMESPACES}{}", deployment("test", 9)));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].rule, "admission-unbound");
    assert!(verdicts[2].is_empty());
}

const PARAMS: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "replicalimit-policy.example.com"
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: rules.example.com/v1
    kind: ReplicaLimit
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= params.maxReplicas"
      messageExpression: "'object.spec.replicas must be no greater than ' + string(params.maxReplicas)"
      reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "replicalimit-binding-test.example.com"
spec:
  policyName: "replicalimit-policy.example.com"
  validationActions: [Deny]
  paramRef:
    name: "replica-limit-test.example.com"
    namespace: "default"
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
"#;

const LIMIT: &str = r#"
---
apiVersion: rules.example.com/v1
kind: ReplicaLimit
metadata:
  name: "replica-limit-test.example.com"
  namespace: "default"
maxReplicas: 3
"#;

#[test]
fn parameters_come_from_the_objects_of_the_run() {
    let (problems, verdicts) = run(
        PARAMS,
        &format!(
            "{NAMESPACES}{LIMIT}{}{}",
            deployment("test", 4),
            deployment("test", 3)
        ),
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(verdicts[3].len(), 1, "{verdicts:?}");
    assert!(
        verdicts[3][0]
            .message
            .ends_with("denied request: object.spec.replicas must be no greater than 3"),
        "{}",
        verdicts[3][0].message
    );
    assert!(verdicts[4].is_empty());
    // Without the ReplicaLimit, `parameterNotFoundAction: Deny` fails the request.
    let (_, verdicts) = run(PARAMS, &format!("{NAMESPACES}{}", deployment("test", 1)));
    assert_eq!(verdicts[2].len(), 1);
    assert!(
        verdicts[2][0]
            .message
            .contains("no params found for policy binding with `Deny` parameterNotFoundAction")
    );
    // With `Allow`, nothing is evaluated.
    let allow = PARAMS.replace(
        "parameterNotFoundAction: Deny",
        "parameterNotFoundAction: Allow",
    );
    let (_, verdicts) = run(&allow, &format!("{NAMESPACES}{}", deployment("test", 9)));
    assert!(verdicts[2].is_empty());
}

#[test]
fn variables_feed_the_validations_and_place_the_finding() {
    let policy = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "image-matches-namespace-environment.policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  variables:
  - name: environment
    expression: "'environment' in namespaceObject.metadata.labels ? namespaceObject.metadata.labels['environment'] : 'prod'"
  - name: exempt
    expression: "'exempt' in object.metadata.labels && object.metadata.labels['exempt'] == 'true'"
  - name: containers
    expression: "object.spec.template.spec.containers"
  - name: containersToCheck
    expression: "variables.containers.filter(c, c.image.startsWith('example.com/'))"
  validations:
  - expression: "variables.exempt || variables.containersToCheck.all(c, c.image.contains('-' + variables.environment + '.'))"
    message: "example.com images must name the environment"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: images}
spec:
  policyName: image-matches-namespace-environment.policy.example.com
  validationActions: [Deny]
"#;
    let exempt = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: test\n  labels: {exempt: 'true'}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: example.com/a:1}]\n";
    let (problems, verdicts) = run(
        policy,
        &format!("{NAMESPACES}{}{exempt}", deployment("test", 1)),
    );
    assert!(problems.is_empty(), "{problems:?}");
    // `object.metadata.labels` is missing from the first: `'exempt' in …` fails with no
    // such key, and `||` keeps the error unless its other side is true.
    assert_eq!(verdicts[2].len(), 1, "{verdicts:?}");
    let v = &verdicts[2][0];
    assert!(
        v.message.contains("resulted in error") || v.message.contains("must name the environment"),
        "{}",
        v.message
    );
    assert!(
        verdicts[3].is_empty(),
        "an exempt deployment passes: {verdicts:?}"
    );
}

#[test]
fn match_conditions_exclusions_and_failure_policy() {
    let policy = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: labels}
spec:
  failurePolicy: Ignore
  matchConstraints:
    resourceRules:
    - {apiGroups: ["*"], apiVersions: ["*"], operations: ["CREATE"], resources: ["*"]}
    excludeResourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["*"], resources: ["namespaces"]}
  matchConditions:
  - name: not-kube-system
    expression: "request.namespace != 'kube-system'"
  validations:
  - expression: "object.metadata.labels.team != ''"
    message: needs a team
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: labels}
spec: {policyName: labels, validationActions: [Deny]}
"#;
    let objects = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x, labels: {team: ''}}\n---\n\
                   apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: kube-system, labels: {team: ''}}\n---\n\
                   apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n---\n\
                   apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {team: ''}}\n";
    let (problems, verdicts) = run(policy, objects);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(verdicts[0].len(), 1);
    assert_eq!(verdicts[0][0].pointer, "/metadata/labels/team");
    assert!(
        verdicts[1].is_empty(),
        "the match condition leaves kube-system out"
    );
    assert!(
        verdicts[2].is_empty(),
        "a missing key under failurePolicy: Ignore is ignored"
    );
    assert!(verdicts[3].is_empty(), "namespaces are excluded");
    let fail = policy.replace("failurePolicy: Ignore", "failurePolicy: Fail");
    let (_, verdicts) = run(&fail, objects);
    assert_eq!(verdicts[2].len(), 1);
    assert!(
        verdicts[2][0]
            .message
            .contains("resulted in error: No such key: labels"),
        "{}",
        verdicts[2][0].message
    );
}

#[test]
fn deletes_and_updates_see_the_old_object() {
    let policy = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: keep}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["DELETE", "UPDATE"], resources: ["persistentvolumeclaims"]}
  validations:
  - expression: "request.operation != 'DELETE' || !('protected' in oldObject.metadata.labels)"
    message: protected claims stay
  - expression: "request.operation != 'UPDATE' || object.spec.storageClassName == oldObject.spec.storageClassName"
    message: storageClassName is immutable
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: keep}
spec: {policyName: keep, validationActions: [Deny]}
"#;
    let policies = docs(policy);
    let refs: Vec<&Value> = policies.iter().collect();
    let (loaded, problems) = Policies::load(&refs);
    assert!(problems.is_empty(), "{problems:?}");
    let old = docs(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d, namespace: a, labels: {protected: 'yes'}}\nspec: {storageClassName: fast}\n",
    );
    let new = docs(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d, namespace: a, labels: {protected: 'yes'}}\nspec: {storageClassName: slow}\n",
    );
    let cluster = Cluster::new(std::iter::empty());
    let delete = Request {
        operation: Operation::Delete,
        object: None,
        old: Some(&old[0]),
    };
    let v = loaded.evaluate(&delete, &cluster);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.ends_with("protected claims stay"));
    assert_eq!(v[0].pointer, "/metadata/labels");
    let update = Request {
        operation: Operation::Update,
        object: Some(&new[0]),
        old: Some(&old[0]),
    };
    let v = loaded.evaluate(&update, &cluster);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].pointer, "/spec/storageClassName");
    assert!(
        loaded
            .evaluate(&Request::create(&new[0]), &cluster)
            .is_empty(),
        "CREATE is not matched"
    );
}

#[test]
fn bad_policies_and_bindings_are_problems() {
    let bad = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: broken}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments"]}
  validations:
  - expression: "object.spec.replicas <="
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: orphan}
spec: {policyName: nowhere, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: who}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments"]}
  validations:
  - expression: "authorizer.requestResource.check('create').allowed()"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: who}
spec: {policyName: who, validationActions: [Deny, Warn]}
"#;
    let (problems, verdicts) = run(bad, &deployment("a", 1));
    let said: Vec<(usize, &str, &str)> = problems
        .iter()
        .map(|p| (p.policy, p.rule, p.pointer.as_str()))
        .collect();
    assert_eq!(
        said,
        vec![
            (0, "admission-invalid", "/spec/validations/0/expression"),
            (1, "admission-invalid", "/spec/policyName"),
            (2, "admission-unsupported", "/spec/validations/0/expression"),
            (2, "admission-unbound", ""),
            (3, "admission-invalid", "/spec/validationActions"),
        ]
    );
    assert_eq!(problems[1].severity, Severity::Warning);
    assert!(verdicts[0].is_empty());
}

#[test]
fn only_what_the_expressions_read_is_kept_for_them() {
    let policies = docs(DEMO);
    let refs: Vec<&Value> = policies.iter().collect();
    let (loaded, _) = Policies::load(&refs);
    let w = loaded.wants();
    let d = docs(&deployment("test", 7)).remove(0);
    let kept = w.keep("apps", "Deployment", &d).unwrap();
    assert_eq!(kept["spec"], serde_json::json!({"replicas": 7}));
    assert_eq!(kept["metadata"], d["metadata"]);
    assert!(
        w.keep("", "ConfigMap", &d).is_none(),
        "only apps objects are judged"
    );
    let ns = docs(NAMESPACES).remove(0);
    assert_eq!(w.keep("", "Namespace", &ns), Some(ns.clone()));
    // The verdict on the kept fields is the verdict on the object.
    let cluster = Cluster::new([&ns]);
    assert_eq!(
        loaded.evaluate(&Request::create(&kept), &cluster),
        loaded.evaluate(&Request::create(&d), &cluster)
    );
}

/// Kyverno's `ValidatingPolicy` (the example of its documentation): a VAP's language, its
/// own `validationActions`, no binding.
#[test]
fn kyverno_validating_policies_run_as_self_bound_policies() {
    let policy = r#"
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: check-deployment-labels
spec:
  validationActions:
    - Audit
    - Warn
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: "has(object.metadata.labels) && 'env' in object.metadata.labels && object.metadata.labels['env'] == 'prod'"
      message: "Deployment labels must be env=prod"
"#;
    let prod = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: {env: prod}\nspec: {}\n";
    let (problems, verdicts) = run(policy, &format!("{}---\n{prod}", deployment("x", 1)));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        verdicts[0],
        vec![Violation {
            rule: "ValidatingPolicy/check-deployment-labels".into(),
            severity: Severity::Warning,
            message: "ValidatingPolicy 'check-deployment-labels' failed: Deployment labels must be env=prod".into(),
            pointer: "/metadata".into(),
            policy: 0,
        }]
    );
    assert!(verdicts[1].is_empty());
    // Not run at admission: background scans only.
    let background = policy.replace(
        "spec:\n",
        "spec:\n  evaluation:\n    admission:\n      enabled: false\n",
    );
    let (_, verdicts) = run(&background, &deployment("x", 1));
    assert!(verdicts[0].is_empty());
}

fn yaml_file(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs(&text)
}

fn kyverno_tests(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            kyverno_tests(&p, out);
        } else if p.file_name().is_some_and(|n| n == "kyverno-test.yaml") {
            out.push(p);
        }
    }
}

/// Kyverno's ValidatingPolicy samples (`best-practices-vpol`, `pod-security-vpol`) with
/// the verdicts their `kyverno test` files record: kubegate's VAP engine (autogen for Pod
/// controllers included) gives the kyverno CLI's verdict on every resource.
#[test]
fn kyverno_cli_verdicts_of_the_validating_policy_samples() {
    let root = crate::admission::tests::fixtures("kyverno-vpol");
    let mut tests = Vec::new();
    kyverno_tests(&root, &mut tests);
    tests.sort();
    assert!(tests.len() >= 30, "fixtures missing: {}", tests.len());
    let (mut checked, mut mismatches, mut undecided) = (0, Vec::new(), Vec::new());
    for test in &tests {
        let dir = test.parent().unwrap();
        let spec = &yaml_file(test)[0];
        let list = |key: &str| -> Vec<Value> {
            spec[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .flat_map(|p| yaml_file(&dir.join(p)))
                .collect()
        };
        let (policies, resources) = (list("policies"), list("resources"));
        let refs: Vec<&Value> = policies.iter().collect();
        let (loaded, problems) = Policies::load(&refs);
        assert!(
            problems.iter().all(|p| p.rule != "admission-invalid"),
            "{}: {problems:?}",
            test.display()
        );
        // A policy kubegate cannot run whole is said (`admission-unsupported`), never
        // judged: its verdicts are not compared, and counted.
        if problems.iter().any(|p| p.rule == "admission-unsupported") {
            undecided.push(format!(
                "{}: {}",
                test.strip_prefix(&root).unwrap_or(test).display(),
                problems[0].message
            ));
            continue;
        }
        let cluster = Cluster::new(resources.iter());
        for result in spec["results"].as_array().into_iter().flatten() {
            let policy = result["policy"].as_str().unwrap_or("");
            let kind = result["kind"].as_str().unwrap_or("");
            let want = result["result"].as_str().unwrap_or("").trim();
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
                    mismatches.push(format!("{}: {kind}/{name} not found", test.display()));
                    continue;
                };
                let rule = format!("ValidatingPolicy/{policy}");
                let v = loaded.evaluate(&Request::create(obj), &cluster);
                let got = if v.iter().any(|v| v.rule == rule) {
                    "fail"
                } else {
                    "pass"
                };
                checked += 1;
                let want = if want == "skip" { "pass" } else { want };
                if got != want && !KNOWN_DIFFERENCES.iter().any(|(p, _)| *p == policy) {
                    mismatches.push(format!(
                        "{policy} {kind}/{name}: want {want}, got {got} {v:?}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "{checked} verdicts; {} policies not run:\n{}",
        undecided.len(),
        undecided.join("\n")
    );
    assert!(undecided.is_empty(), "{}", undecided.join("\n"));
    assert!(checked >= 928, "only {checked} verdicts checked");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} verdicts differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Verdicts the CLI gives otherwise, with why: none since `orValue` on a value that is not
/// optional gives the value back, as cel-go up to v0.27 does (`adding-capabilities-strict`
/// calls it on a list, `….capabilities.add.orValue([])`).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];
