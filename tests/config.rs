//! `.kubegate.yaml`: rules, severities, suppressions, paths, and its errors.

mod common;

use common::kubegate_in;
use serde_json::Value;

const PRIVILEGED: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: monitoring
spec:
  containers:
    - name: agent
      image: ghcr.io/acme/agent:2.0
      securityContext:
        privileged: true
";

fn repo(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("apps")).unwrap();
    std::fs::write(dir.path().join("apps/agent.yaml"), PRIVILEGED).unwrap();
    std::fs::write(dir.path().join(".kubegate.yaml"), config).unwrap();
    dir
}

fn json(dir: &tempfile::TempDir, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["check", "apps", "-f", "json"];
    args.extend_from_slice(extra);
    let r = kubegate_in(dir.path(), &args, None);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

fn rules_of(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn unknown_keys_are_errors_at_their_line() {
    let dir = repo("kubernetesVersion: \"1.35\"\nrules:\n  disabel: [KG101]\n");
    let (code, _, stderr) = json(&dir, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains(".kubegate.yaml:3:3"), "{stderr}");
    assert!(stderr.contains("disabel"), "{stderr}");
}

#[test]
fn rules_can_be_disabled_by_name_id_or_category() {
    for spec in ["privileged-container", "KG101", "security"] {
        let dir = repo(&format!("rules:\n  disable: [{spec}]\n"));
        let (_, v, stderr) = json(&dir, &[]);
        assert!(
            !rules_of(&v).contains(&"KG101".to_owned()),
            "{spec}: {stderr}"
        );
    }
    let dir = repo("rules:\n  enable: [KG101]\n");
    let (_, v, _) = json(&dir, &[]);
    let rules = rules_of(&v);
    assert!(
        rules.iter().all(|r| r == "KG101" || !r.starts_with("KG")),
        "{rules:?}"
    );
    assert!(rules.contains(&"KG101".to_owned()));
}

#[test]
fn severity_overrides_change_the_exit_code() {
    let dir = repo("rules:\n  severity:\n    privileged-container: warning\n");
    let (code, v, _) = json(&dir, &["--no-builtin-rules"]);
    assert_eq!(code, 0);
    assert!(rules_of(&v).is_empty());
    let (_, v, _) = json(&dir, &[]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "KG101")
        .unwrap();
    assert_eq!(f["severity"], "warning");
}

#[test]
fn scoped_suppressions_need_a_reason_and_unused_ones_are_reported() {
    let dir = repo(
        "suppressions:
  - rules: [KG101]
    reason: the node agent reads host devices
    paths: [\"apps/**\"]
    kinds: [Pod]
    namespaces: [monitoring]
    names: [agent]
  - rules: [KG101]
    reason: another namespace
    namespaces: [default]
",
    );
    let (_, v, _) = json(&dir, &[]);
    let rules = rules_of(&v);
    assert!(!rules.contains(&"KG101".to_owned()), "{rules:?}");
    let unused: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "unused-suppression")
        .collect();
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0]["file"], ".kubegate.yaml");
    assert_eq!(unused[0]["line"], 8);
    assert!(v["summary"]["suppressed"].as_u64().unwrap() >= 1);

    let no_reason = repo("suppressions:\n  - rules: [KG101]\n    reason: \"\"\n");
    let (code, _, stderr) = json(&no_reason, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("reason"), "{stderr}");
}

#[test]
fn flags_override_the_config() {
    let dir = repo("kubernetesVersion: \"1.33\"\nfailOn: info\n");
    let (_, v, _) = json(&dir, &[]);
    assert_eq!(v["kubernetesVersion"], "1.33");
    let (_, v, _) = json(&dir, &["--kubernetes-version", "1.35"]);
    assert_eq!(v["kubernetesVersion"], "1.35");
    let (code, _, _) = json(&dir, &["--no-config", "--no-builtin-rules"]);
    assert_eq!(code, 0);
}

#[test]
fn policy_env_comes_from_the_config_and_the_flag_replaces_it() {
    let dir = repo("policies: [policy]\npolicyEnv: [\"KUBEGATE_TEST_CFG_*\"]\n");
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    std::fs::write(
        dir.path().join("policy/main.rego"),
        "package main\n\nimport rego.v1\n\nwarn contains msg if {\n\tmsg := json.marshal(opa.runtime().env)\n}\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"))
            .current_dir(dir.path())
            .args([
                "check",
                "apps",
                "-f",
                "json",
                "--no-schema",
                "--no-builtin-rules",
            ])
            .args(extra)
            .env("KUBEGATE_TEST_CFG_A", "a")
            .env("KUBEGATE_TEST_SECRET", "s")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(
            rules_of(&v),
            ["main.warn"],
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        v["findings"][0]["message"].as_str().unwrap().to_owned()
    };
    assert_eq!(run(&[]), r#"{"KUBEGATE_TEST_CFG_A":"a"}"#);
    assert_eq!(
        run(&["--policy-env", "KUBEGATE_TEST_SECRET"]),
        r#"{"KUBEGATE_TEST_SECRET":"s"}"#
    );
}

/// A typo in `rules.enable` used to turn every built-in rule off (the privileged pod
/// passed), and typos in `disable` and `severity` did nothing, silently.
#[test]
fn rule_names_that_match_no_rule_are_errors_at_their_line() {
    for (config, at, name) in [
        (
            "rules:\n  enable:\n    - privileged-containr\n",
            ".kubegate.yaml:3:7",
            "privileged-containr",
        ),
        (
            "rules:\n  disable: [KG101, secrity]\n",
            ".kubegate.yaml:2:20",
            "secrity",
        ),
        (
            "rules:\n  severity:\n    KG101: warning\n    host-netwrk: info\n",
            ".kubegate.yaml:4:5",
            "host-netwrk",
        ),
    ] {
        let dir = repo(config);
        let (code, _, stderr) = json(&dir, &[]);
        assert_eq!(code, 2, "{config}: {stderr}");
        assert!(stderr.contains(at), "{config}: {stderr}");
        assert!(stderr.contains(&format!("`{name}`")), "{stderr}");
        assert!(stderr.contains("did you mean"), "{stderr}");
    }
    // Severities of kubegate's own rules and of user policies are fine.
    let dir = repo(
        "rules:\n  severity:\n    schema-type: warning\n    main.deny: info\n    yaml-ambiguous: error\n",
    );
    let (code, v, stderr) = json(&dir, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(rules_of(&v).contains(&"KG101".to_owned()));
}

/// `schemaLocation` holds kubeconform templates, relative to the config file (here in a
/// subdirectory, named by `--config`); `--schema-location` replaces the list.
#[test]
fn schema_locations_come_from_the_config_relative_to_it() {
    let dir = repo("");
    std::fs::create_dir_all(dir.path().join("ci/schemas")).unwrap();
    std::fs::write(
        dir.path().join("ci/.kubegate.yaml"),
        "schemaLocation:\n  - default\n  - \"schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ci/schemas/widget-example-v1.json"),
        r#"{"type": "object", "properties": {"apiVersion": {}, "kind": {}, "metadata": {},
            "spec": {"type": "object", "additionalProperties": false}},
            "additionalProperties": false}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apps/agent.yaml"),
        "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n",
    )
    .unwrap();
    let base = ["--config", "ci/.kubegate.yaml", "--no-builtin-rules"];
    let (code, v, stderr) = json(&dir, &base);
    assert_eq!(rules_of(&v), ["schema-unknown-field"], "{stderr}");
    assert_eq!(v["findings"][0]["line"], 6);
    assert_eq!(code, 1);
    let mut flag = base.to_vec();
    flag.extend(["--schema-location", "elsewhere/{{ .ResourceKind }}.json"]);
    let (code, v, stderr) = json(&dir, &flag);
    assert_eq!(rules_of(&v), ["no-schema"], "{stderr}");
    assert_eq!(code, 0);
    // A URL in the config is refused as on the command line.
    std::fs::write(
        dir.path().join("ci/.kubegate.yaml"),
        "schemaLocation: [\"https://example.com/{{ .ResourceKind }}.json\"]\n",
    )
    .unwrap();
    let (code, _, stderr) = json(&dir, &base);
    assert_eq!(code, 2);
    assert!(stderr.contains("never downloads"), "{stderr}");
}
