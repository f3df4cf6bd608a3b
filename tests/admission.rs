//! The repository's own admission policies run on every object of the run, as the API
//! server would on apply: found among the files, evaluated on the files' objects and on
//! what kustomize renders, each violation on the line the author edits; in a merge request
//! the policies come from the base, and a changed object arrives as an `UPDATE`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{kubegate, kubegate_in};

const REPO: &str = "tests/fixtures/admission/repo";

/// `kubegate check` in `dir`, concise and quiet, with admission policies the only rules.
fn concise_in(dir: &Path, args: &[&str]) -> common::Run {
    let mut all = vec![
        "check",
        "--no-builtin-rules",
        "--no-config",
        "-f",
        "concise",
        "-q",
    ];
    all.extend_from_slice(args);
    kubegate_in(dir, &all, None)
}

fn concise(args: &[&str]) -> common::Run {
    concise_in(&common::root(), args)
}

#[test]
fn a_validating_admission_policy_judges_files_and_renders_at_the_line_to_edit() {
    let r = concise(&[REPO]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let denied = "error[ValidatingAdmissionPolicy/demo-policy.example.com] ValidatingAdmissionPolicy \
                  'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied \
                  request: failed expression: object.spec.replicas <= 5";
    assert_eq!(
        r.stdout,
        format!(
            "{REPO}/apps/web.yaml:7:13: {denied}\n\
             {REPO}/kustomize/overlay/replicas.yaml:6:13: {denied} (rendered in {REPO}/kustomize/overlay)\n"
        ),
        "the prod Deployment is not selected by the binding; the overlay's patch sets 9"
    );
    // The same report on one thread and on many.
    let one = concise(&["-j", "1", REPO]);
    let many = concise(&["-j", "4", REPO]);
    assert_eq!(one.stdout, r.stdout);
    assert_eq!(many.stdout, r.stdout);
}

#[test]
fn without_admission_policies_nothing_changes() {
    let r = concise(&[&format!("{REPO}/apps"), &format!("{REPO}/kustomize")]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn a_broken_policy_is_a_finding_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: admissionregistration.k8s.io/v1\n\
         kind: ValidatingAdmissionPolicy\n\
         metadata: {name: broken}\n\
         spec:\n\
         \x20 matchConstraints:\n\
         \x20   resourceRules:\n\
         \x20   - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}\n\
         \x20 validations:\n\
         \x20 - expression: \"object.spec.replicas <=\"\n\
         ---\n\
         apiVersion: admissionregistration.k8s.io/v1\n\
         kind: ValidatingAdmissionPolicyBinding\n\
         metadata: {name: orphan}\n\
         spec: {policyName: nowhere, validationActions: [Deny]}\n",
    )
    .unwrap();
    let r = concise_in(dir.path(), &["."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("policy.yaml:9:17: error[admission-invalid] expression `object.spec.replicas <=` does not compile"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("policy.yaml:14:20: warning[admission-invalid] binding `orphan` names ValidatingAdmissionPolicy `nowhere`"),
        "{}",
        lines[1]
    );
}

fn git(dir: &Path, args: &[&str]) {
    common::git(dir, args);
}

/// A new repository on branch `main`.
fn new_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    tmp
}

/// Writes `text` at `rel` under `root`, making its directories.
fn write_file(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `kubegate check` of the repository at `root` as a merge request from `main`, concise,
/// admission policies only, with `extra` flags.
fn check_mr(root: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "check",
        "--no-builtin-rules",
        "--no-config",
        "-f",
        "concise",
        "--base",
        "main",
    ];
    args.extend_from_slice(extra);
    args.push(".");
    kubegate_in(root, &args, None)
}

fn git_available() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: git not found");
    }
    ok
}

const PVC_POLICY: &str = "apiVersion: admissionregistration.k8s.io/v1\n\
kind: ValidatingAdmissionPolicy\n\
metadata: {name: claims}\n\
spec:\n\
\x20 matchConstraints:\n\
\x20   resourceRules:\n\
\x20   - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [persistentvolumeclaims]}\n\
\x20 validations:\n\
\x20 - expression: \"request.operation != 'UPDATE' || object.spec.storageClassName == oldObject.spec.storageClassName\"\n\
\x20   message: storageClassName cannot change\n\
\x20 - expression: \"object.spec.resources.requests.storage != '1Ti'\"\n\
\x20   message: LIMIT\n\
---\n\
apiVersion: admissionregistration.k8s.io/v1\n\
kind: ValidatingAdmissionPolicyBinding\n\
metadata: {name: claims}\n\
spec: {policyName: claims, validationActions: [Deny]}\n";

fn pvc(class: &str, storage: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: db\nspec:\n  \
         storageClassName: {class}\n  resources:\n    requests:\n      storage: {storage}\n"
    )
}

#[test]
fn in_a_merge_request_policies_come_from_the_base_and_changes_are_updates() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join("policy.yaml"), PVC_POLICY).unwrap();
    std::fs::write(root.join("pvc.yaml"), pvc("fast", "10Gi")).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["checkout", "-q", "-b", "feature"]);
    // The change moves the claim to another class, asks for 1Ti, and weakens the policy so
    // that neither is refused.
    std::fs::write(root.join("pvc.yaml"), pvc("slow", "1Ti")).unwrap();
    std::fs::write(
        root.join("policy.yaml"),
        PVC_POLICY
            .replace(
                "oldObject.spec.storageClassName\"",
                "object.spec.storageClassName\"",
            )
            .replace("!= '1Ti'", "!= '2Ti'"),
    )
    .unwrap();
    git(root, &["commit", "-q", "-a", "-m", "feature"]);
    let run = |extra: &[&str]| check_mr(root, extra);
    let r = run(&["--policies-from-base"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rules: Vec<String> = r
        .stdout
        .lines()
        .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        rules,
        [
            "policy.yaml:9:1: warning[policy-changed] this merge request modifies `policy.yaml`, a policy file of the gate",
            "pvc.yaml:7:21: error[ValidatingAdmissionPolicy/claims] ValidatingAdmissionPolicy 'claims' with binding 'claims' denied request",
            "pvc.yaml:10:16: error[ValidatingAdmissionPolicy/claims] ValidatingAdmissionPolicy 'claims' with binding 'claims' denied request",
        ]
        .map(|s| s.split(": ").take(2).collect::<Vec<_>>().join(": ")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("storageClassName cannot change"),
        "{}",
        r.stdout
    );
    // With the merge request's own policies, the weakened ones pass it.
    let r = run(&["--policies-from-head"]);
    assert!(
        !r.stdout.contains("ValidatingAdmissionPolicy/claims"),
        "{}",
        r.stdout
    );
}

/// A rendered object the merge request changes is an UPDATE of what the base renders: the
/// policy compares with `oldObject`, and the finding is on the patch line that changed it.
#[test]
fn in_a_merge_request_a_changed_rendered_object_is_an_update() {
    if !git_available() {
        return;
    }
    let tmp = new_repo();
    let root = tmp.path();
    let write = |rel: &str, text: &str| write_file(root, rel, text);
    write("policy.yaml", PVC_POLICY);
    write("base/pvc.yaml", &pvc("fast", "10Gi"));
    write("base/kustomization.yaml", "resources: [pvc.yaml]\n");
    let overlay = |class: &str| {
        format!(
            "resources: [../base]\n\
             patches:\n\
             - patch: |-\n    \
             apiVersion: v1\n    \
             kind: PersistentVolumeClaim\n    \
             metadata: {{name: data, namespace: db}}\n    \
             spec:\n      \
             storageClassName: {class}\n"
        )
    };
    write("prod/kustomization.yaml", &overlay("fast"));
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["checkout", "-q", "-b", "feature"]);
    write("prod/kustomization.yaml", &overlay("slow"));
    git(root, &["commit", "-q", "-a", "-m", "feature"]);
    let r = check_mr(root, &["--no-schema"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "prod/kustomization.yaml:8:25: error[ValidatingAdmissionPolicy/claims] \
         ValidatingAdmissionPolicy 'claims' with binding 'claims' denied request: \
         storageClassName cannot change (rendered in prod)\n",
        "{}",
        r.stderr
    );
    // Without the merge request, every object is a CREATE: nothing to compare with.
    let r = kubegate_in(
        root,
        &[
            "check",
            "--no-builtin-rules",
            "--no-config",
            "--no-schema",
            "-f",
            "concise",
            ".",
        ],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

/// `--new-only`: what the admission policies said of the base's objects (a file's, a
/// kustomization's) existed before the change; only what the change brings is reported.
#[test]
fn new_only_keeps_the_admission_findings_the_change_brings() {
    if !git_available() {
        return;
    }
    let tmp = new_repo();
    let root = tmp.path();
    let write = |rel: &str, text: &str| write_file(root, rel, text);
    write("policy.yaml", PVC_POLICY);
    // Both already ask for 1Ti at the base.
    write("claims/a.yaml", &pvc("fast", "1Ti"));
    write("base/pvc.yaml", &pvc("fast", "1Ti"));
    write("base/kustomization.yaml", "resources: [pvc.yaml]\n");
    write("prod/kustomization.yaml", "resources: [../base]\n");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["checkout", "-q", "-b", "feature"]);
    // The change touches both and adds a claim that asks for 1Ti.
    write(
        "claims/a.yaml",
        &format!("# touched\n{}", pvc("fast", "1Ti")),
    );
    write(
        "base/pvc.yaml",
        &format!("# touched\n{}", pvc("fast", "1Ti")),
    );
    write(
        "claims/b.yaml",
        &pvc("fast", "1Ti").replace("name: data", "name: more"),
    );
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "feature"]);
    let run = |extra: &[&str]| check_mr(root, &[&["--no-schema"], extra].concat());
    let all = run(&[]);
    assert_eq!(all.stdout.matches("LIMIT").count(), 3, "{}", all.stdout);
    let new = run(&["--new-only"]);
    assert_eq!(new.code, 1, "{}", new.stderr);
    assert_eq!(
        new.stdout,
        "claims/b.yaml:10:16: error[ValidatingAdmissionPolicy/claims] ValidatingAdmissionPolicy \
         'claims' with binding 'claims' denied request: LIMIT\n",
        "{}",
        new.stderr
    );
    assert!(
        new.stderr.contains("2 not new (--new-only)"),
        "{}",
        new.stderr
    );
}

#[test]
fn in_a_merge_request_a_deleted_object_is_a_delete() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q", "-b", "main"]);
    std::fs::write(
        root.join("policy.yaml"),
        "apiVersion: admissionregistration.k8s.io/v1\n\
         kind: ValidatingAdmissionPolicy\n\
         metadata: {name: keep-protected}\n\
         spec:\n\
         \x20 matchConstraints:\n\
         \x20   resourceRules:\n\
         \x20   - {apiGroups: [\"\"], apiVersions: [v1], operations: [DELETE], resources: [persistentvolumeclaims]}\n\
         \x20 validations:\n\
         \x20 - expression: \"!has(oldObject.metadata.labels) || !('protected' in oldObject.metadata.labels)\"\n\
         \x20   message: protected claims are not deleted by a merge request\n\
         ---\n\
         apiVersion: admissionregistration.k8s.io/v1\n\
         kind: ValidatingAdmissionPolicyBinding\n\
         metadata: {name: keep-protected}\n\
         spec: {policyName: keep-protected, validationActions: [Deny]}\n",
    )
    .unwrap();
    let claim = |name: &str, protected: bool| {
        let labels = if protected {
            "\n  labels: {protected: 'true'}"
        } else {
            ""
        };
        format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: db{labels}\nspec:\n  storageClassName: fast\n"
        )
    };
    std::fs::write(
        root.join("claims.yaml"),
        format!("{}---\n{}", claim("scratch", false), claim("data", true)),
    )
    .unwrap();
    std::fs::write(root.join("more.yaml"), claim("logs", true)).unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(root.join("claims.yaml"), claim("scratch", false)).unwrap();
    std::fs::remove_file(root.join("more.yaml")).unwrap();
    git(root, &["commit", "-q", "-a", "-m", "feature"]);
    let r = kubegate_in(
        root,
        &[
            "check",
            "--no-builtin-rules",
            "--no-config",
            "-f",
            "concise",
            "--base",
            "main",
            ".",
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("ValidatingAdmissionPolicy/keep-protected"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("claims.yaml:"), "{}", lines[0]);
    assert!(lines[1].starts_with("more.yaml:1:"), "{}", lines[1]);
    assert!(
        lines
            .iter()
            .all(|l| l
                .ends_with("denied request: protected claims are not deleted by a merge request")),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("scratch"), "{}", r.stdout);
}

#[test]
fn verify_runs_gator_suites_and_fails_on_a_failing_case() {
    let lib = kubegate(&[
        "verify",
        "tests/fixtures/admission/gatekeeper/library/general/allowedrepos",
    ]);
    assert_eq!(
        (lib.code, lib.stdout.as_str()),
        (
            0,
            "ok\ttests/fixtures/admission/gatekeeper/library/general/allowedrepos/suite.yaml\n"
        ),
        "{}",
        lib.stderr
    );
    let r = kubegate(&["verify", "tests/fixtures/admission/gatekeeper/verify"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("FAIL\ttests/fixtures/admission/gatekeeper/verify/suite.yaml\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    --- FAIL: owner/wrong-count\n        unexpected number of violations: got 1 violations but want exactly 2"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("PASS"),
        "passing cases only with -v: {}",
        r.stdout
    );
    let only = kubegate(&[
        "verify",
        "--run",
        "owner/owned$",
        "-v",
        "tests/fixtures/admission/gatekeeper/verify",
    ]);
    assert_eq!(
        (only.code, only.stdout.as_str()),
        (
            0,
            "ok\ttests/fixtures/admission/gatekeeper/verify/suite.yaml\n    --- PASS: owner/owned\n"
        ),
        "{}",
        only.stderr
    );
    let bad = kubegate(&["verify", "--run", "(", "."]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn rules_lists_the_admission_policies_with_their_place() {
    let r = kubegate(&[
        "rules",
        "--admission",
        REPO,
        "tests/fixtures/admission/kyverno/best-practices/require-labels",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Vec<&str>> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![
                "ValidatingAdmissionPolicy/demo-policy.example.com",
                "ValidatingAdmissionPolicy",
                "tests/fixtures/admission/repo/policies/replicas.yaml:3"
            ],
            vec![
                "ClusterPolicy/require-labels",
                "Kyverno",
                "tests/fixtures/admission/kyverno/best-practices/require-labels/require-labels.yaml:1"
            ],
        ]
    );
}

/// The Gateway API bundle ships a ValidatingAdmissionPolicy that refuses CRDs of a version
/// before v1.5.0; its development CRDs (`bundle-version: v0.0.0-dev`) are refused, each at
/// that annotation.
#[test]
fn the_gateway_api_safe_upgrades_policy_refuses_its_development_crds() {
    let Some(shared) = common::shared() else {
        eprintln!(
            "the_gateway_api_safe_upgrades_policy_refuses_its_development_crds: ../shared is missing; not run"
        );
        return;
    };
    let dir = shared.join("corpus/kubernetes-sigs__gateway-api/config/crd/standard");
    let r = concise_in(&dir, &["."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let crds = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("_vap_")
        })
        .count();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), crds, "{}", r.stdout);
    for l in lines {
        assert!(l.contains(".yaml:6:47: error[ValidatingAdmissionPolicy/safe-upgrades.gateway.networking.k8s.io]"), "{l}");
        assert!(l.ends_with("denied request: Installing CRDs with version before v1.5.0 is prohibited by default. Uninstall ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io to install older versions."), "{l}");
    }
}

/// A policy a kustomization lists is read from its file and rendered through the
/// kustomization: the same policy, run once.
#[test]
fn a_policy_in_a_kustomize_base_is_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("base")).unwrap();
    std::fs::copy(
        common::root().join(REPO).join("policies/replicas.yaml"),
        root.join("base/policy.yaml"),
    )
    .unwrap();
    std::fs::copy(
        common::root()
            .join(REPO)
            .join("kustomize/base/deployment.yaml"),
        root.join("base/deployment.yaml"),
    )
    .unwrap();
    std::fs::write(
        root.join("base/kustomization.yaml"),
        "namespace: test\nresources:\n- policy.yaml\n- deployment.yaml\n- ns.yaml\n",
    )
    .unwrap();
    std::fs::write(
        root.join("base/ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n  labels: {environment: test}\n",
    )
    .unwrap();
    let patched = std::fs::read_to_string(root.join("base/deployment.yaml"))
        .unwrap()
        .replace("replicas: 2", "replicas: 6");
    std::fs::write(root.join("base/deployment.yaml"), patched).unwrap();
    let r = concise_in(root, &["."]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert!(
        lines[0].starts_with(
            "base/deployment.yaml:6:13: error[ValidatingAdmissionPolicy/demo-policy.example.com]"
        ),
        "{}",
        lines[0]
    );
}

/// A `--policy` directory may hold admission policies only: they judge the checked files.
#[test]
fn admission_policies_come_from_policy_directories_too() {
    let r = concise(&[
        "--policy",
        &format!("{REPO}/policies"),
        &format!("{REPO}/apps"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "{REPO}/apps/web.yaml:7:13: error[ValidatingAdmissionPolicy/demo-policy.example.com]"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    // A directory with neither Rego nor admission policies is still an error.
    let r = concise(&["--policy", &format!("{REPO}/apps"), &format!("{REPO}/apps")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no .rego files"), "{}", r.stderr);
}

#[test]
fn an_annotation_on_the_object_suppresses_a_policy_like_any_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(
        common::root().join(REPO).join("policies/replicas.yaml"),
        root.join("p.yaml"),
    )
    .unwrap();
    std::fs::copy(
        common::root().join(REPO).join("apps/namespaces.yaml"),
        root.join("ns.yaml"),
    )
    .unwrap();
    std::fs::write(
        root.join("d.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  namespace: test\n  annotations:\n    \
         kubegate.io/ignore: \"ValidatingAdmissionPolicy/demo-policy.example.com scaled on purpose\"\nspec:\n  replicas: 8\n",
    )
    .unwrap();
    let args = [
        "check",
        "--no-builtin-rules",
        "--no-schema",
        "--no-config",
        "-f",
        "concise",
        ".",
    ];
    let r = kubegate_in(root, &args, None);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert!(r.stderr.contains("1 suppressed"), "{}", r.stderr);
    let mut strict = args.to_vec();
    strict.push("--no-inline-suppressions");
    let r = kubegate_in(root, &strict, None);
    assert_eq!(r.code, 1, "{}", r.stdout);
}

/// A suppression of an admission policy is a rule like any other: it silences the finding
/// without a warning of its own, and one that silences nothing is reported as unused.
#[test]
fn suppressions_of_admission_policies_are_used_or_reported_unused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(
        common::root().join("tests/fixtures/admission/engines/kyverno/disallow-latest-tag.yaml"),
        root.join("policy.yaml"),
    )
    .unwrap();
    let pod = |image: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\n  annotations:\n    \
             kubegate.io/ignore: \"ClusterPolicy/disallow-latest-tag a known exception\"\n\
             spec:\n  containers:\n  - name: web\n    image: {image}\n"
        )
    };
    let args = [
        "check",
        "--no-builtin-rules",
        "--no-schema",
        "--no-config",
        "-f",
        "concise",
        ".",
    ];
    std::fs::write(root.join("pod.yaml"), pod("nginx:latest")).unwrap();
    let r = kubegate_in(root, &args, None);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert!(r.stderr.contains("1 suppressed"), "{}", r.stderr);
    std::fs::write(root.join("pod.yaml"), pod("nginx:1.27")).unwrap();
    let r = kubegate_in(root, &args, None);
    assert_eq!(
        r.stdout,
        "pod.yaml:7:25: warning[unused-suppression] suppression of \
         `ClusterPolicy/disallow-latest-tag` matched no finding; remove it\n",
        "{}",
        r.stderr
    );
}

/// Gatekeeper library templates and Kyverno sample policies on objects that pass and fail
/// them: each failure on the field its policy reads. `K8sRequiredLabels` has CEL code beside
/// its Rego, and Gatekeeper runs the CEL: each failing validation is a result, with the
/// CEL's messages (not the Rego's `parameters.message`).
#[test]
fn gatekeeper_and_kyverno_findings_land_on_the_field_they_read() {
    let d = "tests/fixtures/admission/engines";
    // A `validate.cel` rule (pod-security-cel), on the Pods and, by autogen, on the
    // Deployment's template: at the containers its expression reads.
    let escalation = "Privilege escalation is disallowed.  All containers must set the \
                      securityContext.allowPrivilegeEscalation field to `false`.";
    let r = concise(&[d, "--no-schema"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "{d}/gatekeeper/objects.yaml:3:1: error[K8sRequiredLabels/all-must-have-owner] missing required label, requires all of: owner\n\
             {d}/gatekeeper/objects.yaml:3:1: error[K8sRequiredLabels/all-must-have-owner] regex mismatch\n\
             {d}/gatekeeper/objects.yaml:19:3: warning[ClusterPolicy/disallow-privilege-escalation] {escalation}\n\
             {d}/gatekeeper/objects.yaml:19:3: error[K8sAllowedRepos/repo-is-openpolicyagent] container <web> has an invalid image repo <nginx:1.27>, allowed repos are [\"openpolicyagent/\"]\n\
             {d}/gatekeeper/objects.yaml:29:3: warning[ClusterPolicy/disallow-privilege-escalation] {escalation}\n\
             {d}/kyverno/pods.yaml:13:7: warning[ClusterPolicy/disallow-privilege-escalation] {escalation}\n\
             {d}/kyverno/pods.yaml:15:16: warning[ClusterPolicy/disallow-latest-tag] validation failure: validation error: Using a mutable image tag e.g. 'latest' is not allowed. rule autogen-validate-image-tag failed at path /image/\n\
             {d}/kyverno/pods.yaml:23:3: warning[ClusterPolicy/disallow-privilege-escalation] {escalation}\n"
        )
    );
}
