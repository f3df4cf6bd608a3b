//! kustomize rendering inside `kubegate check`: findings on rendered objects at the line the
//! author must edit, once per place whatever the number of overlays, and malformed
//! kustomizations as findings at their line, never a panic or a hang.

mod common;

use std::path::Path;

use common::{Run, git, kubegate_in};
use serde_json::Value;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn check(dir: &Path) -> Run {
    kubegate_in(dir, &["check", ".", "--no-config", "-f", "json"], None)
}

/// `(file, line, rule, rendered)` of every finding.
fn findings(r: &Run) -> Vec<(String, u64, String, Vec<String>)> {
    let report: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f["rendered"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

/// The user's story: a base and two overlays. A problem of the base is reported once, at
/// the base's line, naming both overlays; a value an overlay sets is reported at the
/// overlay's line.
#[test]
fn findings_land_on_the_line_that_produced_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: prod-\nimages:\n- name: nginx\n  newTag: latest\n",
    );
    write(
        d,
        "overlays/dev/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: dev-\n",
    );
    let r = check(d);
    let found = findings(&r);
    // KG102 (no allowPrivilegeEscalation) at the container in the base, once, for both.
    let kg102: Vec<_> = found.iter().filter(|f| f.2 == "KG102").collect();
    assert_eq!(kg102.len(), 1, "{found:?}");
    assert_eq!(kg102[0].0, "base/deploy.yaml");
    assert_eq!(kg102[0].1, 15);
    assert_eq!(kg102[0].3, ["overlays/dev", "overlays/prod"]);
    // The `latest` tag comes from the prod overlay's newTag line.
    assert!(
        found
            .iter()
            .any(|f| f.0 == "overlays/prod/kustomization.yaml"
                && f.1 == 6
                && f.2 == "KG301"
                && f.3 == ["overlays/prod"]),
        "{found:?}"
    );
    assert!(
        r.stderr.contains("2 kustomizations rendered"),
        "{}",
        r.stderr
    );
}

/// Malformed kustomizations: each a `kustomize-error` at its line, the rest of the run
/// checked, no panic (the harness asserts that) and no hang.
#[test]
fn malformed_kustomizations_are_findings_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "good/deploy.yaml", DEPLOYMENT);
    write(d, "good/kustomization.yaml", "resources:\n- deploy.yaml\n");
    // A resource that includes its own directory.
    write(d, "self/kustomization.yaml", "resources:\n- .\n");
    // A missing file.
    write(
        d,
        "missing/kustomization.yaml",
        "resources:\n- nothere.yaml\n",
    );
    // An unknown field.
    write(d, "typo/kustomization.yaml", "resourcez:\n- x.yaml\n");
    // A transformer configuration with an unknown key: an error in that file, at the key.
    write(
        d,
        "config/kustomization.yaml",
        "resources:\n- deploy.yaml\nconfigurations:\n- kustomizeconfig.yaml\n",
    );
    write(d, "config/deploy.yaml", DEPLOYMENT);
    write(
        d,
        "config/kustomizeconfig.yaml",
        "images:\n- kind: Shop\n  path: spec/image\nnamePrefixes:\n- path: spec/name\n",
    );
    // A generator reading a missing file; one reading a binary file is fine (binaryData).
    write(
        d,
        "gen/kustomization.yaml",
        "configMapGenerator:\n- name: c\n  files:\n  - absent.txt\n",
    );
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::write(d.join("bin/blob.bin"), [0u8, 159, 146, 150]).unwrap();
    write(
        d,
        "bin/kustomization.yaml",
        "configMapGenerator:\n- name: c\n  files:\n  - blob.bin\n",
    );
    #[cfg(unix)]
    {
        // A base that is a symbolic link back to its own directory.
        write(d, "loop/kustomization.yaml", "resources:\n- again\n");
        std::os::unix::fs::symlink(".", d.join("loop/again")).unwrap();
    }
    let r = check(d);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found = findings(&r);
    let error_at = |file: &str, line: u64| {
        found
            .iter()
            .any(|f| f.0 == file && f.1 == line && f.2 == "kustomize-error")
    };
    assert!(error_at("self/kustomization.yaml", 2), "{found:?}");
    assert!(error_at("missing/kustomization.yaml", 2), "{found:?}");
    assert!(error_at("typo/kustomization.yaml", 1), "{found:?}");
    assert!(error_at("config/kustomizeconfig.yaml", 4), "{found:?}");
    assert!(error_at("gen/kustomization.yaml", 4), "{found:?}");
    #[cfg(unix)]
    assert!(error_at("loop/kustomization.yaml", 2), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|f| f.0.starts_with("bin/") && f.2 == "kustomize-error"),
        "{found:?}"
    );
    // The good root is still rendered and checked.
    assert!(
        found
            .iter()
            .any(|f| f.0 == "good/deploy.yaml" && f.2 == "KG102"),
        "{found:?}"
    );
}

/// What cannot be rendered offline or is not supported yet is said at its line, and the
/// rest renders and is checked.
#[test]
fn what_is_not_rendered_is_said_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "app/deploy.yaml", DEPLOYMENT);
    write(d, "app/kustomizeconfig.yaml", "nameReference: []\n");
    write(
        d,
        "app/kustomization.yaml",
        "resources:\n\
         - deploy.yaml\n\
         - https://github.com/example/repo//base?ref=v1\n\
         helmCharts:\n\
         - name: x\n\
         openapi:\n\
         \x20 path: schema.json\n\
         buildMetadata: [originAnnotations]\n\
         configurations:\n\
         - kustomizeconfig.yaml\n",
    );
    let r = check(d);
    let found = findings(&r);
    let at = |line: u64, rule: &str| {
        found
            .iter()
            .any(|f| f.0 == "app/kustomization.yaml" && f.1 == line && f.2 == rule)
    };
    assert!(at(3, "kustomize-remote"), "{found:?}");
    assert!(at(5, "kustomize-helm"), "{found:?}");
    assert!(at(7, "kustomize-unsupported"), "{found:?}");
    assert!(at(8, "kustomize-unsupported"), "{found:?}");
    // A configurations file is applied: nothing to say about it.
    assert!(
        !found
            .iter()
            .any(|f| f.0 == "app/kustomization.yaml" && f.1 == 10),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.0 == "app/deploy.yaml" && f.2 == "KG102" && f.3 == ["app"]),
        "{found:?}"
    );
}

/// `.kubegate.yaml` picks the roots: `render.roots` names them (instead of the ones
/// kubegate finds), `render.exclude` leaves some out, a glob matching no kustomization is
/// a warning, `render.enabled: false` renders nothing.
#[test]
fn the_configuration_names_roots_and_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    for overlay in ["prod", "dev", "legacy"] {
        write(
            d,
            &format!("overlays/{overlay}/kustomization.yaml"),
            "resources:\n- ../../base\n",
        );
    }
    let run = |config: &str| {
        write(d, ".kubegate.yaml", config);
        let r = kubegate_in(d, &["check", ".", "-f", "json"], None);
        let found = findings(&r);
        let kg102 = found
            .iter()
            .find(|f| f.2 == "KG102")
            .map(|f| f.3.clone())
            .unwrap_or_default();
        (r, kg102)
    };
    let (r, roots) = run("render:\n  roots: [overlays/prod, ./overlays/dev/]\n");
    assert_eq!(roots, ["overlays/dev", "overlays/prod"], "{}", r.stderr);
    assert!(
        r.stderr.contains("2 kustomizations rendered"),
        "{}",
        r.stderr
    );
    let (r, roots) = run("render:\n  exclude: [overlays/legacy, nowhere/*]\n");
    assert_eq!(roots, ["overlays/dev", "overlays/prod"], "{}", r.stderr);
    assert!(
        r.stderr
            .contains("render.exclude `nowhere/*` matches no kustomization"),
        "{}",
        r.stderr
    );
    let (r, roots) = run("render:\n  roots: [overlays/*]\n  exclude: [overlays/dev]\n");
    assert_eq!(roots, ["overlays/legacy", "overlays/prod"], "{}", r.stderr);
    // Not rendered: the base is checked as a loose file.
    let (r, roots) = run("render:\n  enabled: false\n");
    assert!(roots.is_empty(), "{}", r.stdout);
    assert!(!r.stderr.contains("rendered"), "{}", r.stderr);
    assert!(
        findings(&r)
            .iter()
            .any(|f| f.0 == "base/deploy.yaml" && f.2 == "KG102"),
        "{}",
        r.stdout
    );
    // A typo in the section is an error, not a silently ignored setting.
    write(d, ".kubegate.yaml", "render:\n  root: [overlays/prod]\n");
    let r = kubegate_in(d, &["check", ".", "-f", "json"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// GitOps objects name roots: a Flux `Kustomization`, an Argo CD `Application` and an
/// `ApplicationSet` Git generator pointing at a base make it a root of its own, beside the
/// overlay that uses it; Flux builds without kustomize's load restrictor.
#[test]
fn gitops_objects_name_roots() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "apps/base/deploy.yaml", DEPLOYMENT);
    write(
        d,
        "apps/base/kustomization.yaml",
        "resources:\n- deploy.yaml\n",
    );
    write(d, "apps/prod/kustomization.yaml", "resources:\n- ../base\n");
    let kg102 = |r: &Run| {
        findings(r)
            .iter()
            .find(|f| f.2 == "KG102")
            .map(|f| f.3.clone())
            .unwrap_or_default()
    };
    assert_eq!(kg102(&check(d)), ["apps/prod"]);
    write(
        d,
        "clusters/prod/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
         name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/base\n  \
         prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    assert_eq!(kg102(&check(d)), ["apps/base", "apps/prod"]);
    std::fs::remove_file(d.join("clusters/prod/apps.yaml")).unwrap();
    write(
        d,
        "argocd/apps.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: apps\n\
         spec:\n  generators:\n  - matrix:\n      generators:\n      - git:\n          \
         repoURL: https://example.com/repo.git\n          revision: HEAD\n          \
         directories:\n          - path: apps/*\n          - path: apps/prod\n            \
         exclude: true\n  template:\n    metadata:\n      name: '{{path.basename}}'\n    \
         spec:\n      project: default\n      source:\n        path: '{{path}}'\n",
    );
    assert_eq!(kg102(&check(d)), ["apps/base", "apps/prod"]);
    std::fs::remove_file(d.join("argocd/apps.yaml")).unwrap();
    // A base reading a file outside its directory: an error under kustomize's load
    // restrictor, fine when Flux builds it.
    write(
        d,
        "shared/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    );
    write(
        d,
        "apps/base/kustomization.yaml",
        "resources:\n- deploy.yaml\npatches:\n- path: ../../shared/replicas.yaml\n",
    );
    let errors = |r: &Run| -> Vec<(String, u64)> {
        findings(r)
            .into_iter()
            .filter(|f| f.2 == "kustomize-error")
            .map(|f| (f.0, f.1))
            .collect()
    };
    let r = check(d);
    assert_eq!(errors(&r), [("apps/base/kustomization.yaml".to_owned(), 4)]);
    assert!(r.stdout.contains("is not in or below"), "{}", r.stdout);
    write(
        d,
        "clusters/prod/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  \
         name: apps\nspec:\n  path: ./apps/base\n",
    );
    let r = check(d);
    let errors = errors(&r);
    // Flux's root renders; the overlay, built by kustomize, still fails.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        findings(&r)
            .iter()
            .any(|f| f.2 == "kustomize-error" && f.3 == ["apps/prod"]),
        "{}",
        r.stdout
    );
    assert!(
        findings(&r)
            .iter()
            .any(|f| f.0 == "apps/base/deploy.yaml" && f.2 == "KG102" && f.3 == ["apps/base"]),
        "{}",
        r.stdout
    );
}

/// A chain of bases deeper than kubegate follows is one finding, not a stack overflow.
#[test]
fn a_ten_thousand_deep_base_chain_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let depth = 10_000;
    for i in 0..depth {
        let dir = d.join(format!("chain/c{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let text = if i + 1 < depth {
            format!("resources:\n- ../c{}\n", i + 1)
        } else {
            std::fs::write(dir.join("deploy.yaml"), DEPLOYMENT).unwrap();
            "resources:\n- deploy.yaml\n".to_owned()
        };
        std::fs::write(dir.join("kustomization.yaml"), text).unwrap();
    }
    // Only the top of the chain is a root: every other one is used by its parent.
    let r = kubegate_in(d, &["check", "chain", "--no-config", "-f", "json"], None);
    let found = findings(&r);
    assert!(
        found
            .iter()
            .any(|f| f.2 == "kustomize-error" && f.0.ends_with("kustomization.yaml")),
        "{found:?}\n{}",
        r.stderr
    );
}

/// `--changed-only` re-renders every root the change reaches: a change to a base re-checks
/// each overlay of it; a change to one overlay checks that overlay only.
#[test]
fn changed_only_renders_the_roots_a_change_reaches() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: git not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: prod-\n",
    );
    write(
        d,
        "overlays/dev/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: dev-\n",
    );
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    let run = |d: &Path| {
        kubegate_in(
            d,
            &[
                "check",
                ".",
                "--no-config",
                "-f",
                "json",
                "--base",
                "main",
                "--changed-only",
            ],
            None,
        )
    };
    // Nothing changed: nothing rendered.
    let r = run(d);
    assert!(findings(&r).is_empty(), "{}", r.stdout);
    // A change to the base reaches both overlays.
    write(
        d,
        "base/deploy.yaml",
        &DEPLOYMENT.replace(
            "      containers:",
            "      hostNetwork: true\n      containers:",
        ),
    );
    let found = findings(&run(d));
    let kg105: Vec<_> = found.iter().filter(|f| f.2 == "KG105").collect();
    assert_eq!(kg105.len(), 1, "{found:?}");
    assert_eq!(kg105[0].3, ["overlays/dev", "overlays/prod"]);
    // A change to one overlay reaches that overlay only.
    git(d, &["checkout", "-q", "--", "base/deploy.yaml"]);
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: prod2-\n",
    );
    let found = findings(&run(d));
    assert!(!found.is_empty());
    assert!(found.iter().all(|f| f.3 == ["overlays/prod"]), "{found:?}");
}

/// `--new-only` compares the rendered findings with the base revision's render: an overlay
/// change that makes a new finding at an unchanged line of its base is new; a base finding
/// the change leaves as it was is not.
#[test]
fn new_only_compares_with_the_base_revisions_render() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: git not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(
        d,
        "base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n",
    );
    write(
        d,
        "base/kustomization.yaml",
        "resources:\n- deploy.yaml\n- service.yaml\n",
    );
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\n",
    );
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    // The overlay deletes the Deployment: the Service now selects nothing.
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\npatches:\n- patch: |-\n    $patch: delete\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n",
    );
    let r = kubegate_in(
        d,
        &[
            "check",
            ".",
            "--no-config",
            "-f",
            "json",
            "--base",
            "main",
            "--new-only",
        ],
        None,
    );
    let found = findings(&r);
    assert!(
        found
            .iter()
            .any(|f| f.0 == "base/service.yaml" && f.2 == "KG507" && f.3 == ["overlays/prod"]),
        "{found:?}\n{}",
        r.stderr
    );
    // The Service's own findings existed before the change.
    assert!(
        !found
            .iter()
            .any(|f| f.0 == "base/service.yaml" && f.2 != "KG507"),
        "{found:?}"
    );
}

/// The change summary counts what the cluster gets: a change to a base or an overlay shows
/// as the rendered objects that change, under each overlay, not as the base file's objects.
#[test]
fn the_change_summary_counts_rendered_objects() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: git not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    write(
        d,
        "loose/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loose\n",
    );
    write(
        d,
        "overlays/prod/old.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n",
    );
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\n- old.yaml\nnamePrefix: prod-\n",
    );
    write(
        d,
        "overlays/dev/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: dev-\n",
    );
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    // The base's image changes (both overlays deploy it); prod drops old.yaml, which is
    // deleted, and gains a ConfigMap; a loose file's object is renamed.
    write(
        d,
        "base/deploy.yaml",
        &DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"),
    );
    std::fs::remove_file(d.join("overlays/prod/old.yaml")).unwrap();
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: prod-\nconfigMapGenerator:\n- name: extra\n  \
         literals: [A=1]\n",
    );
    write(
        d,
        "loose/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loose2\n",
    );
    let r = kubegate_in(
        d,
        &["check", ".", "--no-config", "-f", "json", "--base", "main"],
        None,
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let list = |key: &str| -> Vec<(String, String, bool)> {
        report["changes"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["file"].as_str().unwrap().to_owned(),
                    c["object"]["name"].as_str().unwrap().to_owned(),
                    c["rendered"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    };
    let s = |f: &str, n: &str, rendered: bool| (f.to_owned(), n.to_owned(), rendered);
    assert_eq!(
        list("changed"),
        [
            s("overlays/dev", "dev-web", true),
            s("overlays/prod", "prod-web", true)
        ],
        "{}",
        r.stdout
    );
    assert_eq!(
        list("added"),
        [
            s("loose/cm.yaml", "loose2", false),
            s("overlays/prod", "prod-extra-89g4tffbfk", true),
        ],
        "{}",
        r.stdout
    );
    // The deleted file's object is removed from what prod renders, not as a loose file.
    assert_eq!(
        list("removed"),
        [
            s("loose/cm.yaml", "loose", false),
            s("overlays/prod", "prod-old", true),
        ],
        "{}",
        r.stdout
    );
}

/// The issue's story: an overlay patch makes production privileged on the host network.
/// Every CI format puts the finding on the patch's line, where the author must fix it and
/// where GitHub shows it in "Files changed".
#[test]
fn every_format_puts_an_overlay_finding_on_the_patch_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base/deploy.yaml", DEPLOYMENT);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    write(
        d,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\npatches:\n- path: privileged.yaml\n",
    );
    let patch = "overlays/prod/privileged.yaml";
    write(
        d,
        patch,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    \
         spec:\n      hostNetwork: true\n      containers:\n      - name: web\n        \
         securityContext:\n          privileged: true\n",
    );
    let out = |name: &str| d.join(name).to_string_lossy().into_owned();
    let r = kubegate_in(
        d,
        &[
            "check",
            ".",
            "--no-config",
            "-f",
            "github",
            "-o",
            &format!("sarif={}", out("r.sarif")),
            "-o",
            &format!("gitlab={}", out("r.gitlab.json")),
            "-o",
            &format!("junit={}", out("r.xml")),
            "-o",
            &format!("rdjson={}", out("r.rdjson")),
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    // GitHub annotations: on the patch, at the `privileged` and `hostNetwork` lines.
    assert!(
        r.stdout.lines().any(|l| l
            .starts_with(&format!("::error file={patch},line=12,endLine=12,col=23"))
            && l.contains("KG101")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with(&format!("::error file={patch},line=8,")) && l.contains("KG105")),
        "{}",
        r.stdout
    );
    let json = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(name)).unwrap()).unwrap()
    };
    let sarif = json("r.sarif");
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ruleId"] == "KG101")
        .expect("KG101 in SARIF");
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], patch);
    assert_eq!(loc["region"]["startLine"], 12);
    assert_eq!(loc["region"]["startColumn"], 23);
    let gitlab = json("r.gitlab.json");
    let issue = gitlab
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check_name"].as_str().unwrap().contains("KG101"))
        .expect("KG101 in Code Quality");
    assert_eq!(issue["location"]["path"], patch);
    assert_eq!(issue["location"]["lines"]["begin"], 12);
    let rdjson = json("r.rdjson");
    let diag = rdjson["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"]["value"] == "KG101")
        .expect("KG101 in rdjson");
    assert_eq!(diag["location"]["path"], patch);
    assert_eq!(diag["location"]["range"]["start"]["line"], 12);
    let junit = std::fs::read_to_string(d.join("r.xml")).unwrap();
    assert!(
        junit.contains(&format!("{patch}:12:23: error[KG101]")),
        "{junit}"
    );
}

/// Each file is checked once: through the root that read it when the root builds, as a
/// loose file when its root fails or no kustomization reads it; the same report whatever
/// the number of threads (files no kustomization names are checked while roots render).
#[test]
fn each_file_is_checked_once_through_its_root_or_loose() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A root that builds; one of its files is named only as a generator's `key=path`.
    write(d, "ok/deploy.yaml", DEPLOYMENT);
    write(d, "ok/settings.yaml", DEPLOYMENT);
    write(
        d,
        "ok/kustomization.yaml",
        "resources:\n- deploy.yaml\nconfigMapGenerator:\n- name: c\n  files:\n  - app=settings.yaml\n",
    );
    // A root that fails after reading a file: that file is checked loose.
    write(d, "broken/deploy.yaml", DEPLOYMENT);
    write(
        d,
        "broken/kustomization.yaml",
        "resources:\n- deploy.yaml\n- absent.yaml\n",
    );
    // A file no kustomization names.
    write(d, "loose/deploy.yaml", DEPLOYMENT);
    let run = |jobs: &str| {
        kubegate_in(
            d,
            &["check", ".", "--no-config", "-f", "json", "-j", jobs],
            None,
        )
    };
    let r = run("2");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found = findings(&r);
    let of = |file: &str| -> Vec<&(String, u64, String, Vec<String>)> {
        found
            .iter()
            .filter(|f| f.0 == file && f.2 == "KG102")
            .collect()
    };
    assert_eq!(of("ok/deploy.yaml").len(), 1, "{found:?}");
    assert_eq!(
        of("ok/deploy.yaml")[0].3,
        vec!["ok".to_owned()],
        "{found:?}"
    );
    // Generator data is not a manifest of the root: not checked as one.
    assert!(of("ok/settings.yaml").is_empty(), "{found:?}");
    for loose in ["broken/deploy.yaml", "loose/deploy.yaml"] {
        assert_eq!(of(loose).len(), 1, "{loose}: {found:?}");
        assert!(of(loose)[0].3.is_empty(), "{loose}: {found:?}");
    }
    assert!(
        found
            .iter()
            .any(|f| f.0 == "broken/kustomization.yaml" && f.1 == 3 && f.2 == "kustomize-error"),
        "{found:?}"
    );
    for jobs in ["1", "3"] {
        let other = run(jobs);
        assert_eq!(other.stdout, r.stdout, "-j {jobs} reports differently");
    }
}

/// A directory outside the working directory (and outside any repository) is rendered
/// with reads confined to it: it used to be refused whole, and the refusal panicked.
#[test]
fn a_directory_outside_the_working_directory_is_rendered() {
    let cwd = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- web.yaml\n",
    );
    write(
        dir.path(),
        "app/web.yaml",
        &DEPLOYMENT.replace(
            "image: nginx:1.27",
            "image: nginx:1.27\n        imagePullPolicy: Sometimes",
        ),
    );
    let path = dir.path().to_str().unwrap();
    let r = kubegate_in(
        cwd.path(),
        &[
            "check",
            path,
            "--no-config",
            "--no-builtin-rules",
            "-f",
            "json",
        ],
        None,
    );
    let got: Vec<_> = findings(&r)
        .into_iter()
        .map(|(file, line, rule, _)| (file.rsplit('/').next().unwrap().to_owned(), line, rule))
        .collect();
    assert_eq!(
        got,
        vec![("web.yaml".to_owned(), 17, "schema-enum".to_owned())],
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

/// The resource files of a root bound to fail (a kustomization it reads names a file that
/// does not exist) are checked loose from the documents the render read, not read and
/// parsed again: the same findings as when nothing renders, a file large enough to be
/// checked in pieces included, and the root's error still kustomize's first one.
#[test]
fn a_root_bound_to_fail_has_its_files_checked_as_when_nothing_renders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big: String = (0..4500)
        .map(|i| DEPLOYMENT.replace("name: web\n", &format!("name: web-{i}\n")))
        .collect::<Vec<_>>()
        .join("---\n");
    assert!(big.len() > 1 << 20, "{}", big.len());
    write(d, "gen/big.yaml", &big);
    write(
        d,
        "gen/kustomization.yaml",
        "resources:\n- big.yaml\nconfigMapGenerator:\n- name: p\n  envs:\n  - params.env\n",
    );
    // Its resource file is malformed too: kustomize stops there, before the generator.
    write(d, "both/deploy.yaml", DEPLOYMENT);
    write(d, "both/bad.yaml", "kind: ConfigMap\nmetadata: {name: x\n");
    write(
        d,
        "both/kustomization.yaml",
        "resources:\n- deploy.yaml\n- bad.yaml\nconfigurations:\n- absent.yaml\n",
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["check", ".", "--no-config", "-f", "json"];
        args.extend_from_slice(extra);
        kubegate_in(d, &args, None)
    };
    let rendered = run(&[]);
    assert_eq!(rendered.code, 1, "{}", rendered.stderr);
    let found = findings(&rendered);
    let of_files = |found: &[(String, u64, String, Vec<String>)]| -> Vec<_> {
        found
            .iter()
            .filter(|f| !f.0.ends_with("kustomization.yaml") && f.2 != "kustomize-error")
            .cloned()
            .collect()
    };
    let alone = findings(&run(&["--no-render"]));
    let (ours, theirs) = (of_files(&found), of_files(&alone));
    assert!(ours.len() > 4500, "{}", ours.len());
    let differ = ours.iter().zip(&theirs).position(|(a, b)| a != b);
    assert!(
        differ.is_none() && ours.len() == theirs.len(),
        "first difference at {differ:?}: {:?} against {:?} ({} and {} findings)",
        differ.map(|i| &ours[i]),
        differ.map(|i| &theirs[i]),
        ours.len(),
        theirs.len()
    );
    let report: Value = serde_json::from_str(&rendered.stdout).unwrap();
    let errors: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "kustomize-error")
        .map(|f| (f["file"].as_str().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|(file, m)| *file == "both/bad.yaml" && m.contains("malformed YAML")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(file, m)| *file == "gen/kustomization.yaml" && m.contains("params.env")),
        "{errors:?}"
    );
    for jobs in ["1", "3"] {
        assert_eq!(run(&["-j", jobs]).stdout, rendered.stdout, "-j {jobs}");
    }
}
