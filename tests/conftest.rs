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
