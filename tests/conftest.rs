//! User policies follow conftest's documented conventions (fixtures/conftest/).

mod common;

use common::kubegate;

const M: &str = "fixtures/conftest/manifests";

fn check(extra: &[&str]) -> common::Run {
    let mut args = vec![
        "check",
        M,
        "--no-schema",
        "--no-builtin-rules",
        "-f",
        "concise",
        "-q",
    ];
    args.extend_from_slice(extra);
    kubegate(&args)
}

fn rules(r: &common::Run) -> Vec<String> {
    r.stdout
        .lines()
        .map(|l| {
            let start = l.find('[').unwrap() + 1;
            let end = l.find(']').unwrap();
            l[start..end].to_owned()
        })
        .collect()
}

#[test]
fn default_namespace_is_main_with_deny_violation_warn_and_suffixes() {
    let r = check(&[
        "-p",
        "fixtures/conftest/policy",
        "-d",
        "fixtures/conftest/data",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "fixtures/conftest/manifests/app.yaml:1:1: error[main.deny] Deployment app has no selector\n\
         fixtures/conftest/manifests/app.yaml:1:1: warning[main.warn_registry] image docker.io/library/nginx:1.27 is not from an allowed registry\n\
         fixtures/conftest/manifests/app.yaml:16:25: error[main.deny_privileged] container web is privileged\n\
         fixtures/conftest/manifests/svc.yaml:7:1: error[main.violation] Service exposes NodePort\n"
    );
}

#[test]
fn exception_exempts_the_named_rule_for_that_input_only() {
    let r = check(&[
        "-p",
        "fixtures/conftest/policy",
        "-d",
        "fixtures/conftest/data",
    ]);
    // `exempt` is privileged too, but its label triggers `exception contains ["privileged"]`.
    assert_eq!(r.stdout.matches("deny_privileged").count(), 1);
    assert!(!r.stdout.contains("agent"));
}

#[test]
fn data_directories_are_prefixed_by_their_path() {
    // Without --data, data.allowed.registries is undefined and every image warns.
    let r = check(&["-p", "fixtures/conftest/policy"]);
    assert_eq!(r.stdout.matches("warn_registry").count(), 2, "{}", r.stdout);
    let with = check(&[
        "-p",
        "fixtures/conftest/policy",
        "-d",
        "fixtures/conftest/data",
    ]);
    assert_eq!(with.stdout.matches("warn_registry").count(), 1);
}

#[test]
fn namespaces_exact_glob_and_all() {
    let p = [
        "-p",
        "fixtures/conftest/policy",
        "-d",
        "fixtures/conftest/data",
    ];
    let only_k8s = check(&[&p[..], &["--namespace", "k8s.*"]].concat());
    assert_eq!(rules(&only_k8s), ["k8s.security.warn_ports"]);
    let both = check(&[&p[..], &["-n", "main", "-n", "k8s.security"]].concat());
    let all = check(&[&p[..], &["--all-namespaces"]].concat());
    assert_eq!(both.stdout, all.stdout);
    assert!(rules(&all).contains(&"k8s.security.warn_ports".to_owned()));
    assert!(rules(&all).contains(&"main.deny".to_owned()));
    // A glob that does not match sub-packages exactly: `k8s` alone selects nothing.
    let none = check(&[&p[..], &["-n", "k8s"]].concat());
    assert_eq!(none.stdout, "");
}

#[test]
fn warnings_fail_only_with_fail_on_warn() {
    let p = ["-p", "fixtures/conftest/policy", "-n", "k8s.security"];
    assert_eq!(check(&p).code, 0);
    assert_eq!(check(&[&p[..], &["--fail-on-warn"]].concat()).code, 1);
}

#[test]
fn rego_v0_policies_need_the_flag() {
    let v0 = check(&["-p", "fixtures/conftest/policy-v0", "--rego-v0"]);
    assert_eq!(v0.code, 1, "{}", v0.stderr);
    assert_eq!(rules(&v0), ["main.deny", "main.deny", "main.warn"]);
    let as_v1 = check(&["-p", "fixtures/conftest/policy-v0"]);
    assert_eq!(as_v1.code, 2);
    assert!(
        as_v1.stderr.contains("policy-v0/main.rego"),
        "{}",
        as_v1.stderr
    );
}

#[test]
fn a_broken_policy_is_an_error_naming_file_and_line() {
    let r = check(&["-p", "fixtures/conftest/broken"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("fixtures/conftest/broken/bad.rego"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(":7:") || r.stderr.contains(":6:"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn policy_flags_need_a_policy() {
    assert_eq!(check(&["-n", "main"]).code, 2);
}

#[test]
fn combine_gives_one_input_with_every_document() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "fixtures/conftest/combine/manifests",
            "-p",
            "fixtures/conftest/combine/policy",
            "--no-schema",
            "--no-builtin-rules",
            "-f",
            "concise",
            "-q",
        ];
        args.extend_from_slice(extra);
        kubegate(&args)
    };
    let r = run(&["--combine"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The result's path `[i, "contents", "spec", "selector"]` lands on that document's key.
    assert_eq!(
        r.stdout,
        "fixtures/conftest/combine/manifests/services.yaml:14:3: error[main.deny] Service orphan \
         (fixtures/conftest/combine/manifests/services.yaml) selects no Deployment\n"
    );
    // Without --combine each document is its own input and the rule cannot match.
    assert_eq!(run(&[]).stdout, "");
}

/// The messages of a concise report, in order.
fn messages(r: &common::Run) -> Vec<String> {
    r.stdout
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, m)| m).to_owned())
        .collect()
}

/// `root/rel` as kubegate sees it from the repository root (the working directory is a
/// physical path: no symbolic links).
fn absolute(rel: &str) -> String {
    std::fs::canonicalize(common::root())
        .unwrap()
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn conftest_file_names_the_file_checked_and_its_absolute_directory() {
    let dir = absolute(M);
    let expected = [
        format!("app.yaml in {dir}"),
        format!("app.yaml in {dir}"),
        "team platform".to_owned(),
        "team platform".to_owned(),
        format!("svc.yaml in {dir}"),
        "team platform".to_owned(),
    ];
    let p = [
        "-p",
        "fixtures/conftest/fileinfo/policy",
        "-d",
        "fixtures/conftest/fileinfo/data",
    ];
    // One thread: one engine moves from file to file; several: each has its own.
    for jobs in ["1", "2"] {
        let r = check(&[&p[..], &["-j", jobs]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mut got = messages(&r);
        got.sort_by_key(|m| m.starts_with("team"));
        let mut want = expected.to_vec();
        want.sort_by_key(|m| m.starts_with("team"));
        assert_eq!(got, want, "-j {jobs}");
    }
    // An absolute input path gives the same directory.
    let r = kubegate(
        &[
            &[
                "check",
                &dir,
                "--no-schema",
                "--no-builtin-rules",
                "-f",
                "concise",
                "-q",
            ][..],
            &p[..],
        ]
        .concat(),
    );
    assert!(
        messages(&r).contains(&format!("svc.yaml in {dir}")),
        "{}",
        r.stdout
    );
}

#[test]
fn conftest_file_under_combine_is_combined_in_the_working_directory() {
    // conftest evaluates the combined input as a file named `Combined`.
    let r = check(&[
        "-p",
        "fixtures/conftest/fileinfo/policy",
        "-d",
        "fixtures/conftest/fileinfo/data",
        "--combine",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        messages(&r),
        [
            format!("Combined in {}", absolute("")).trim_end_matches('/'),
            "team platform"
        ]
    );
}

#[test]
fn data_may_not_make_conftest_a_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), "conftest: 3\n").unwrap();
    let r = check(&[
        "-p",
        "fixtures/conftest/fileinfo/policy",
        "-d",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("data.conftest.file"), "{}", r.stderr);
}

#[test]
fn parse_config_builtins_read_yaml_and_json_relative_to_the_policy() {
    let r = kubegate(&[
        "check",
        "fixtures/conftest/manifests/svc.yaml",
        "-p",
        "fixtures/conftest/builtins/policy",
        "--no-schema",
        "--no-builtin-rules",
        "-f",
        "concise",
        "-q",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let configs = "fixtures/conftest/builtins/policy/configs";
    assert_eq!(
        messages(&r),
        [
            format!(
                "combined [\"{configs}/limits.yaml:cpu\",\"{configs}/limits.yaml:memory\",\
                 \"{configs}/teams.json:teams\"]"
            ),
            "file 2 docs, max 4, shared shared".to_owned(),
            "inline 3 b web".to_owned(),
        ]
    );
}

#[test]
fn a_failing_builtin_is_a_policy_error_naming_the_policy() {
    // The calls only run on the Service, so the policies load and fail on that document.
    let run = |ns: &str| {
        let r = kubegate(&[
            "check",
            M,
            "-p",
            "fixtures/conftest/builtins-errors",
            "-n",
            ns,
            "--no-schema",
            "--no-builtin-rules",
            "-f",
            "json",
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let findings = v["findings"].as_array().unwrap().clone();
        assert_eq!(findings.len(), 1, "{}", r.stdout);
        assert_eq!(findings[0]["rule"], "policy-error");
        assert_eq!(findings[0]["file"], "fixtures/conftest/manifests/svc.yaml");
        findings[0]["message"].as_str().unwrap().to_owned()
    };
    let m = run("parser");
    assert_eq!(
        m,
        "a policy failed on this document: evaluating data.parser.deny: \
         fixtures/conftest/builtins-errors/main.rego:8:24: parse_config: unknown parser `toml`; \
         kubegate supports yaml, yml, json"
    );
    let m = run("missing");
    assert!(
        m.contains("fixtures/conftest/builtins-errors/missing.rego:7:"),
        "{m}"
    );
    assert!(
        m.contains("parse_config_file: cannot read fixtures/conftest/builtins-errors/nope.yaml"),
        "{m}"
    );
}

/// Runs kubegate with extra environment variables.
fn check_env(extra: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.current_dir(common::root())
        .args([
            "check",
            "fixtures/conftest/manifests/svc.yaml",
            "-p",
            "fixtures/conftest/runtime",
            "--no-schema",
            "--no-builtin-rules",
            "-f",
            "concise",
            "-q",
        ])
        .args(extra)
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn opa_runtime_shows_only_the_allowed_environment() {
    let env = [
        ("KUBEGATE_TEST_CI_TOKEN", "secret"),
        ("KUBEGATE_TEST_BRANCH", "main"),
        ("KUBEGATE_TEST_JOB", "7"),
    ];
    let runtime = |env_json: &str| {
        vec![format!(
            "{{\"commit\":\"\",\"env\":{env_json},\"version\":\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )]
    };
    // Default: nothing, whatever the environment holds.
    let r = check_env(&[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(messages(&r), runtime("{}"));
    // A name and a glob; the token matches neither.
    let r = check_env(
        &[
            "--policy-env",
            "KUBEGATE_TEST_BRANCH",
            "--policy-env",
            "KUBEGATE_TEST_J*",
        ],
        &env,
    );
    assert_eq!(
        messages(&r),
        runtime(r#"{"KUBEGATE_TEST_BRANCH":"main","KUBEGATE_TEST_JOB":"7"}"#)
    );
    assert!(!r.stdout.contains("secret"));
    let bad = check_env(&["--policy-env", "KUBEGATE_["], &env);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--policy-env"), "{}", bad.stderr);
}

#[test]
fn http_send_does_not_load_and_says_why() {
    let r = check(&["-p", "fixtures/conftest/network"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("fixtures/conftest/network/main.rego:8:10: kubegate makes no network calls"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("`http.send` is not available"),
        "{}",
        r.stderr
    );
}

#[test]
fn policy_env_needs_a_policy() {
    let r = check(&["--policy-env", "CI"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--policy-env"), "{}", r.stderr);
}
