//! Migrating from checkov, kube-linter and trivy: `kubegate rules --equivalent ID`, and
//! `migration.honourAnnotations`, which makes the peers' skip annotations suppress the
//! equivalent built-in rules.

mod common;

use common::{kubegate, kubegate_in};
use serde_json::Value;

/// The built-in rules' metadata, as `kubegate rules --format json` prints it.
fn builtins() -> Vec<Value> {
    let r = kubegate(&["rules", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str::<Value>(&r.stdout)
        .expect("json")
        .as_array()
        .expect("rules")
        .clone()
}

/// (rule id, match, note) of every rule listing `tool`'s check `id` as an equivalent.
fn covering(rules: &[Value], tool: &str, id: &str) -> Vec<(String, String, Option<String>)> {
    rules
        .iter()
        .filter_map(|r| {
            let e = r["equivalents"][tool]
                .as_array()?
                .iter()
                .find(|e| e["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))?;
            Some((
                r["id"].as_str()?.to_owned(),
                e["match"].as_str()?.to_owned(),
                e["note"].as_str().map(str::to_owned),
            ))
        })
        .collect()
}

#[test]
fn equivalents_in_the_json_listing_say_exact_or_partial() {
    let rules = builtins();
    let mut partial = 0;
    for r in &rules {
        for tool in ["checkov", "kube-linter", "trivy"] {
            for e in r["equivalents"][tool].as_array().into_iter().flatten() {
                let id = &r["id"];
                match e["match"].as_str() {
                    Some("exact") => assert!(e.get("note").is_none(), "{id}: {e}"),
                    Some("partial") => {
                        partial += 1;
                        let note = e["note"].as_str().unwrap_or_default();
                        assert!(!note.trim().is_empty() && !note.contains('\n'), "{id}: {e}");
                    }
                    other => panic!("{id}: match {other:?}"),
                }
            }
        }
    }
    assert!(partial > 0);
}

#[test]
fn equivalent_prints_the_rules_covering_a_peer_check() {
    let rules = builtins();
    for (tool, asked, id) in [
        ("checkov", "ckv_k8s_16", "CKV_K8S_16"),
        ("checkov", "CKV_K8S_28", "CKV_K8S_28"),
        (
            "kube-linter",
            "Privileged-Container",
            "privileged-container",
        ),
        ("trivy", "KSV017", "KSV017"),
        ("kube-linter", "exposed-services", "exposed-services"),
    ] {
        let want = covering(&rules, tool, id);
        assert!(!want.is_empty(), "the metadata lists no rule for {id}");
        let r = kubegate(&["rules", "--equivalent", asked]);
        assert_eq!(r.code, 0, "{asked}: {}", r.stderr);
        for (rule, exactness, note) in &want {
            let line = r
                .stdout
                .lines()
                .find(|l| l.contains(&format!(" {rule} ")))
                .unwrap_or_else(|| panic!("{asked}: no line for {rule} in\n{}", r.stdout));
            assert!(
                line.starts_with(&format!("{tool} {id}: {exactness} ")),
                "{line}"
            );
            if let Some(note) = note {
                assert!(r.stdout.contains(note.as_str()), "{asked}: {}", r.stdout);
            }
        }
        let printed = r.stdout.lines().filter(|l| !l.starts_with(' ')).count();
        assert_eq!(printed, want.len(), "{asked}: {}", r.stdout);
    }
    // Two rules cover kube-linter's exposed-services, each partly.
    assert_eq!(covering(&rules, "kube-linter", "exposed-services").len(), 2);
}

#[test]
fn equivalent_accepts_every_spelling_of_a_trivy_id_and_prints_json() {
    for spelling in ["KSV017", "ksv-0017", "AVD-KSV-0017"] {
        let r = kubegate(&["rules", "--equivalent", spelling, "--format", "json"]);
        assert_eq!(r.code, 0, "{spelling}: {}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).expect("json");
        let list = v.as_array().expect("a list");
        assert_eq!(list.len(), 1, "{spelling}: {v}");
        assert_eq!(list[0]["rule"], "KG101");
        assert_eq!(list[0]["tool"], "trivy");
        assert_eq!(list[0]["match"], "exact");
    }
}

#[test]
fn equivalent_exits_1_when_no_rule_covers_the_id() {
    for id in ["CKV_K8S_34", "no-such-check"] {
        let r = kubegate(&["rules", "--equivalent", id]);
        assert_eq!(r.code, 1, "{id}: {}", r.stdout);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(
            r.stderr
                .contains(&format!("no built-in rule covers `{id}`")),
            "{}",
            r.stderr
        );
    }
}

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: monitoring
  annotations:
ANNOTATIONS
spec:
  automountServiceAccountToken: false
  containers:
    - name: agent
      image: ghcr.io/acme/agent:2.0
      securityContext:
        privileged: true
      ports:
        - containerPort: 8080
          hostPort: 8080
";

fn repo(config: &str, annotations: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("apps")).unwrap();
    let annotations: Vec<String> = annotations.iter().map(|a| format!("    {a}")).collect();
    let pod = POD.replace("ANNOTATIONS", &annotations.join("\n"));
    std::fs::write(dir.path().join("apps/agent.yaml"), pod).unwrap();
    std::fs::write(dir.path().join(".kubegate.yaml"), config).unwrap();
    dir
}

fn check(dir: &tempfile::TempDir) -> (i32, Value, String) {
    let r = kubegate_in(dir.path(), &["check", "apps", "-f", "json"], None);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

fn findings<'a>(v: &'a Value, rule: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn suppressed(v: &Value) -> u64 {
    v["summary"]["suppressed"]
        .as_u64()
        .expect("summary.suppressed")
}

const HONOUR_BOTH: &str = "migration:\n  honourAnnotations: [checkov, kube-linter]\n";

#[test]
fn checkov_skip_annotations_suppress_the_equivalent_rules() {
    let annotations = [
        "checkov.io/skip1: CKV_K8S_16=the agent reads host devices",
        "checkov.io/skip2: CKV_K8S_26",
    ];
    let dir = repo("migration:\n  honourAnnotations: [checkov]\n", &annotations);
    let (_, v, stderr) = check(&dir);
    assert!(findings(&v, "KG101").is_empty(), "{v} {stderr}");
    assert!(findings(&v, "KG110").is_empty(), "{v}");
    assert!(findings(&v, "unused-suppression").is_empty(), "{v}");
    assert!(suppressed(&v) >= 2, "{v}");

    // Off by default: the same manifest without the setting reports both rules, and the
    // annotations are nobody's suppressions (so not unused ones either).
    let dir = repo("", &annotations);
    let (code, v, _) = check(&dir);
    assert_eq!(code, 1);
    assert_eq!(findings(&v, "KG101").len(), 1, "{v}");
    assert_eq!(findings(&v, "KG110").len(), 1, "{v}");
    assert!(findings(&v, "unused-suppression").is_empty(), "{v}");
    assert_eq!(suppressed(&v), 0);
}

#[test]
fn kube_linter_annotations_suppress_the_equivalent_rules() {
    let dir = repo(
        "migration:\n  honourAnnotations: [kube-linter]\n",
        &["ignore-check.kube-linter.io/privileged-container: the agent reads host devices"],
    );
    let (_, v, _) = check(&dir);
    assert!(findings(&v, "KG101").is_empty(), "{v}");
    // hostPort has no kube-linter equivalent: still reported.
    assert_eq!(findings(&v, "KG110").len(), 1, "{v}");
    assert!(suppressed(&v) >= 1);

    // A checkov annotation is not honoured when only kube-linter is.
    let dir = repo(
        "migration:\n  honourAnnotations: [kube-linter]\n",
        &["checkov.io/skip1: CKV_K8S_16"],
    );
    let (_, v, _) = check(&dir);
    assert_eq!(findings(&v, "KG101").len(), 1, "{v}");

    // kube-linter.io/ignore-all silences every rule with a kube-linter equivalent, only.
    let dir = repo(HONOUR_BOTH, &["kube-linter.io/ignore-all: \"\""]);
    let (_, v, _) = check(&dir);
    assert!(findings(&v, "KG101").is_empty(), "{v}");
    assert_eq!(findings(&v, "KG110").len(), 1, "{v}");
}

#[test]
fn a_partial_equivalent_is_suppressed_too() {
    let rules = builtins();
    // checkov's NET_RAW check is covered, partly, by the rule asking to drop ALL.
    let covered = covering(&rules, "checkov", "CKV_K8S_28");
    assert!(
        covered
            .iter()
            .any(|(id, m, _)| id == "KG112" && m == "partial"),
        "{covered:?}"
    );
    let without = repo(HONOUR_BOTH, &[]);
    let (_, v, _) = check(&without);
    assert_eq!(findings(&v, "KG112").len(), 1, "{v}");
    let with = repo(HONOUR_BOTH, &["checkov.io/skip1: CKV_K8S_28=legacy"]);
    let (_, v, _) = check(&with);
    assert!(findings(&v, "KG112").is_empty(), "{v}");
}

#[test]
fn an_honoured_annotation_that_suppresses_nothing_is_reported_unused() {
    // The pod does not use the host network: the skip of CKV_K8S_19 silences nothing.
    let dir = repo(
        HONOUR_BOTH,
        &[
            "checkov.io/skip1: CKV_K8S_16",
            "checkov.io/skip7: CKV_K8S_19=the agent needs the node network",
            "ignore-check.kube-linter.io/host-pid: legacy",
        ],
    );
    let (_, v, _) = check(&dir);
    assert!(findings(&v, "KG101").is_empty(), "{v}");
    let unused = findings(&v, "unused-suppression");
    assert_eq!(unused.len(), 2, "{v}");
    let messages: Vec<&str> = unused
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages[0].contains("`checkov.io/skip7: CKV_K8S_19=the agent needs the node network`"),
        "{messages:?}"
    );
    assert!(messages[0].contains("KG105"), "{messages:?}");
    assert!(
        messages[1].contains("`ignore-check.kube-linter.io/host-pid: legacy`"),
        "{messages:?}"
    );
    // Each at its annotation's line (the annotations start on line 7).
    assert_eq!(unused[0]["line"], 8);
    assert_eq!(unused[1]["line"], 9);
    assert_eq!(unused[0]["severity"], "warning");

    // A check no built-in rule covers is left to its tool, not reported.
    let dir = repo(HONOUR_BOTH, &["checkov.io/skip1: CKV_K8S_15"]);
    let (_, v, _) = check(&dir);
    assert!(findings(&v, "unused-suppression").is_empty(), "{v}");
}

#[test]
fn inventory_rules_honour_peer_annotations() {
    let service = |annotation: &str, selector: &str| {
        format!(
            "apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    {annotation}
spec:
  selector: {{app: {selector}}}
  ports:
    - port: 80
"
        )
    };
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
";
    let annotation =
        "ignore-check.kube-linter.io/dangling-service: selected by a pod created elsewhere";
    let dir = repo(HONOUR_BOTH, &[]);
    std::fs::write(
        dir.path().join("apps/svc.yaml"),
        service(annotation, "nothing"),
    )
    .unwrap();
    let (_, v, _) = check(&dir);
    assert!(findings(&v, "KG507").is_empty(), "{v}");
    assert!(findings(&v, "unused-suppression").is_empty(), "{v}");

    // The same annotation on a Service that selects a pod silences nothing.
    std::fs::write(dir.path().join("apps/svc.yaml"), service(annotation, "web")).unwrap();
    std::fs::write(dir.path().join("apps/web.yaml"), deployment).unwrap();
    let (_, v, _) = check(&dir);
    let unused = findings(&v, "unused-suppression");
    assert_eq!(unused.len(), 1, "{v}");
    assert_eq!(unused[0]["file"], "apps/svc.yaml");
    assert_eq!(unused[0]["line"], 6);
    assert!(
        unused[0]["message"]
            .as_str()
            .unwrap()
            .contains("dangling-service")
    );
}

#[test]
fn unknown_tools_are_config_errors_at_their_line() {
    for (tools, at, name, why) in [
        (
            "[checkov, polaris]",
            ".kubegate.yaml:2:32",
            "polaris",
            "unknown tool",
        ),
        ("[trivy]", ".kubegate.yaml:2:23", "trivy", ".trivyignore"),
    ] {
        let dir = repo(&format!("migration:\n  honourAnnotations: {tools}\n"), &[]);
        let (code, _, stderr) = check(&dir);
        assert_eq!(code, 2, "{tools}: {stderr}");
        assert!(stderr.contains(at), "{tools}: {stderr}");
        assert!(stderr.contains(&format!("`{name}`")), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
    let dir = repo("migration:\n  honorAnnotations: [checkov]\n", &[]);
    let (code, _, stderr) = check(&dir);
    assert_eq!(code, 2);
    assert!(stderr.contains(".kubegate.yaml:2:3"), "{stderr}");
}
