//! The change rules on real Git repositories: every built-in change rule against its
//! fixtures (`fixtures/rules/KG7nn/{base,fail,pass}.yaml`: the base commits `base.yaml`, the
//! merge request turns it into `fail.yaml` or `pass.yaml`, an empty one deleting the file),
//! then where findings land for deletions in a file, through a kustomization and by rename,
//! prune settings, the user's change policies, suppressions, bad input, and the reports'
//! "what this merge does to the cluster" section.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kubegate::policy::{self, Scope};
use serde_json::Value;

/// Variables that would change which base kubegate finds or where Git looks.
const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_BASE_REF",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_HEAD_REF",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA",
    "GITHUB_STEP_SUMMARY",
    "NO_COLOR",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
];

fn git_available() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: git not found");
    }
    ok
}

struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let repo = Self { _dir: dir, root };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(&self.root);
        for v in CLEARED {
            cmd.env_remove(v);
        }
        let out = cmd.output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Writes `path`; an empty `text` deletes it.
    fn write(&self, path: &str, text: &str) {
        let p = self.root.join(path);
        if text.is_empty() {
            let _ = std::fs::remove_file(p);
            return;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// `kubegate check --base main~ ...` wait: the base is the first commit.
    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
        cmd.args(["check", "--base", "HEAD~", "-f", "json"])
            .args(extra)
            .arg(".")
            .current_dir(&self.root)
            .env("PATH", common::path_without_helm());
        for v in CLEARED {
            cmd.env_remove(v);
        }
        let out = cmd.output().expect("kubegate runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "kubegate panicked:\n{stderr}");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
        cmd.args(args)
            .current_dir(&self.root)
            .env("PATH", common::path_without_helm());
        for v in CLEARED {
            cmd.env_remove(v);
        }
        let out = cmd.output().expect("kubegate runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "kubegate panicked:\n{stderr}");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    }
}

/// `(file, line, message)` of every finding of `rule`.
fn of_rule(report: &Value, rule: &str) -> Vec<(String, u64, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Only the change rules run (`rules.enable: [change]`), from a config outside the repo.
fn only_change_rules(dir: &Path) -> PathBuf {
    let p = dir.join("only-change.yaml");
    std::fs::write(&p, "rules:\n  enable: [change]\n").unwrap();
    p
}

/// One merge request: `base` committed at `manifest.yaml`, then `head` (empty: the file
/// deleted); the findings of `rule`.
fn judge(base: &str, head: &str, rule: &str) -> Vec<(String, u64, String)> {
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write("manifest.yaml", base);
    repo.commit("base");
    repo.write("manifest.yaml", head);
    repo.commit("head");
    let (code, report, stderr) = repo.check(&["--config", config.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "exit {code}:\n{stderr}");
    of_rule(&report, rule)
}

#[test]
fn every_change_rule_fires_exactly_where_its_fixtures_say() {
    if !git_available() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let rules = policy::rules().expect("rule metadata is valid");
    let filter = std::env::var("KUBEGATE_RULE_FILTER").unwrap_or_default();
    let mut problems = Vec::new();
    let mut judged = 0;
    for rule in rules
        .iter()
        .filter(|r| r.scope == Scope::Change && r.id.starts_with(&filter))
    {
        let dir = root.join(&rule.id);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let (Some(base), Some(fail), Some(pass)) =
            (read("base.yaml"), read("fail.yaml"), read("pass.yaml"))
        else {
            problems.push(format!(
                "{}: missing fixtures/rules/{}/{{base,fail,pass}}.yaml",
                rule.id, rule.id
            ));
            continue;
        };
        let expected: BTreeSet<u64> = if fail.is_empty() {
            // The file is deleted: one finding on it, at its first line.
            BTreeSet::from([1])
        } else {
            fail.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("# expect"))
                .map(|(i, _)| i as u64 + 1)
                .collect()
        };
        let found = judge(&base, &fail, &rule.id);
        let actual: BTreeSet<u64> = found.iter().map(|f| f.1).collect();
        if actual != expected || found.iter().any(|f| f.0 != "manifest.yaml") {
            problems.push(format!(
                "{}: fail.yaml fired at {found:?}, expected lines {expected:?}",
                rule.id
            ));
        }
        for (_, _, message) in &found {
            if message.trim().is_empty() {
                problems.push(format!("{}: an empty message", rule.id));
            }
        }
        let pass_base = read("pass-base.yaml").unwrap_or(base);
        let found = judge(&pass_base, &pass, &rule.id);
        if !found.is_empty() {
            problems.push(format!("{}: pass.yaml fired: {found:?}", rule.id));
        }
        judged += 1;
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    if filter.is_empty() {
        assert!(judged >= 20, "only {judged} change rules have fixtures");
    }
}

const PVC: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: db
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 10Gi
";

fn configmap(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: db\ndata:\n  a: \"1\"\n"
    )
}

#[test]
fn a_document_removed_from_a_file_is_reported_where_it_was_with_its_base_line() {
    if !git_available() {
        return;
    }
    let base = format!("{}---\n{PVC}---\n{}", configmap("a"), configmap("b"));
    let head = format!("{}---\n{}", configmap("a"), configmap("b"));
    let found = judge(&base, &head, "KG703");
    // The PVC was lines 9-18 of the base (and `---` 19); `b` now starts where it was.
    assert_eq!(found.len(), 1, "{found:?}");
    let (file, line, message) = &found[0];
    assert_eq!((file.as_str(), *line), ("manifest.yaml", 9), "{found:?}");
    assert!(
        message.contains("at the base: manifest.yaml:9"),
        "{message}"
    );
}

#[test]
fn a_rename_is_a_deletion_and_says_what_took_its_place() {
    if !git_available() {
        return;
    }
    let found = judge(PVC, &PVC.replace("name: data", "name: data-v2"), "KG703");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("data-v2"), "{found:?}");
}

#[test]
fn prune_settings_turn_a_deletion_into_an_info() {
    if !git_available() {
        return;
    }
    for (annotation, value) in [
        ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
        (
            "argocd.argoproj.io/sync-options",
            "ServerSideApply=true, Prune=false",
        ),
        ("helm.sh/resource-policy", "keep"),
    ] {
        let kept = PVC.replace(
            "  namespace: db\n",
            &format!("  namespace: db\n  annotations:\n    {annotation}: \"{value}\"\n"),
        );
        assert!(judge(&kept, "", "KG703").is_empty(), "{annotation}");
        let info = judge(&kept, "", "KG706");
        assert_eq!(info.len(), 1, "{annotation}: {info:?}");
    }
    // Pruning on: the error, and no info.
    assert_eq!(judge(PVC, "", "KG703").len(), 1);
    assert!(judge(PVC, "", "KG706").is_empty());
}

#[test]
fn a_deletion_through_a_kustomization_lands_on_the_removed_entry() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write("app/pvc.yaml", PVC);
    repo.write("app/cm.yaml", &configmap("a"));
    repo.write(
        "app/kustomization.yaml",
        "resources:\n  - cm.yaml\n  - pvc.yaml\nlabels:\n  - pairs: {team: db}\n",
    );
    repo.write(
        "prod/kustomization.yaml",
        "resources:\n  - ../app\nnamePrefix: prod-\n",
    );
    repo.commit("base");
    repo.write(
        "app/kustomization.yaml",
        "resources:\n  - cm.yaml\nlabels:\n  - pairs: {team: db}\n",
    );
    repo.commit("head");
    let (_, report, stderr) = repo.check(&["--config", config.to_str().unwrap()]);
    let found = of_rule(&report, "KG703");
    // Once per root that rendered it (app and prod), both at the removed entry.
    assert!(!found.is_empty(), "{stderr}\n{report:#}");
    for (file, line, message) in &found {
        assert_eq!(
            (file.as_str(), *line),
            ("app/kustomization.yaml", 3),
            "{found:?}"
        );
        assert!(message.contains("at the base: app/pvc.yaml:1"), "{message}");
    }
}

#[test]
fn a_changed_field_in_a_rendered_object_lands_in_the_patch_that_changed_it() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write(
        "app/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  \
         selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
         spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n",
    );
    repo.write("app/kustomization.yaml", "resources:\n  - deploy.yaml\n");
    repo.write(
        "prod/kustomization.yaml",
        "resources:\n  - ../app\npatches:\n  - path: patch.yaml\n",
    );
    repo.write(
        "prod/patch.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    );
    repo.commit("base");
    repo.write(
        "prod/patch.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 0\n",
    );
    repo.commit("head");
    let (_, report, stderr) = repo.check(&["--config", config.to_str().unwrap()]);
    let found = of_rule(&report, "KG731");
    assert_eq!(found.len(), 1, "{stderr}\n{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("prod/patch.yaml", 6));
}

#[test]
fn user_change_policies_get_an_admission_review() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    repo.write(
        "policy/change.rego",
        "package main\n\nimport rego.v1\n\n\
         deny_change contains {\"msg\": sprintf(\"%s %s %s/%s\", [input.review.operation, \
         input.review.kind.kind, input.review.namespace, input.review.name]), \"path\": []} if {\n\
         \tinput.review.operation != \"UPDATE\"\n}\n\n\
         warn_change_data contains {\"msg\": sprintf(\"a: %s -> %s\", [input.review.oldObject.data.a, \
         input.review.object.data.a]), \"path\": [\"data\", \"a\"]} if {\n\
         \tinput.review.object.data.a != input.review.oldObject.data.a\n}\n\n\
         deny contains \"documents still get conftest's input\" if input.kind == \"Secret\"\n",
    );
    repo.write(
        "a.yaml",
        &format!("{}---\n{}", configmap("keep"), configmap("gone")),
    );
    repo.commit("base");
    repo.write(
        "a.yaml",
        &format!(
            "{}---\n{}",
            configmap("keep").replace("a: \"1\"", "a: \"2\""),
            configmap("new")
        ),
    );
    repo.commit("head");
    let (code, report, stderr) =
        repo.check(&["--no-config", "--no-builtin-rules", "--policy", "policy"]);
    assert_eq!(code, 1, "{stderr}");
    let deny = of_rule(&report, "main.deny_change");
    let messages: BTreeSet<&str> = deny.iter().map(|f| f.2.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("CREATE ConfigMap db/new")),
        "{deny:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("DELETE ConfigMap db/gone")),
        "{deny:?}"
    );
    assert_eq!(deny.len(), 2, "{deny:?}");
    let warn = of_rule(&report, "main.warn_change_data");
    assert_eq!(warn.len(), 1, "{warn:?}");
    // On the changed field: `a: "2"` is line 7.
    assert_eq!((warn[0].1, warn[0].2.as_str()), (7, "a: 1 -> 2"));
    // Without a base, change rules do not run (and conftest rules still do).
    let (code, out, stderr) = repo.run(&[
        "check",
        "--no-config",
        "--no-builtin-rules",
        "--policy",
        "policy",
        "-f",
        "concise",
        ".",
    ]);
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(!out.contains("deny_change"), "{out}");
}

#[test]
fn a_deletion_the_base_allowed_is_suppressed_and_config_can_disable_a_rule() {
    if !git_available() {
        return;
    }
    let allowed = PVC.replace(
        "  namespace: db\n",
        "  namespace: db\n  annotations:\n    kubegate.io/ignore: \"pvc-deleted migrated to data-v2\"\n",
    );
    assert!(judge(&allowed, "", "KG703").is_empty());
    // An annotation the merge request adds on the way out is not there at the base.
    let repo = Repo::new();
    let dir = repo._dir.path();
    std::fs::write(dir.join("c.yaml"), "rules:\n  disable: [pvc-deleted]\n").unwrap();
    repo.write("manifest.yaml", PVC);
    repo.commit("base");
    repo.write("manifest.yaml", "");
    repo.commit("head");
    let c = dir.join("c.yaml");
    let (_, report, _) = repo.check(&["--config", c.to_str().unwrap()]);
    assert!(of_rule(&report, "KG703").is_empty());
}

#[test]
fn bad_input_is_a_finding_never_a_crash() {
    if !git_available() {
        return;
    }
    // A base that is not valid YAML: its objects are not compared, and the gate says so.
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write("a.yaml", &format!("{PVC}---\nkind: [unclosed\n"));
    repo.commit("base");
    repo.write("a.yaml", &configmap("x"));
    repo.commit("head");
    let (code, report, stderr) = repo.check(&["--config", config.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{stderr}");
    let found = of_rule(&report, "change-base-unreadable");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0].0, "a.yaml");

    // The same object twice at head.
    let found = judge(PVC, &format!("{PVC}---\n{PVC}"), "change-duplicate-object");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, 15, "the second copy's name: {found:?}");

    // An object that changes kind: a deletion and a creation, said as such.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: db\nspec:\n  \
        selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    \
        spec:\n      containers:\n        - name: db\n          image: postgres:17\n";
    let statefulset = deployment
        .replace("kind: Deployment", "kind: StatefulSet")
        .replace("spec:\n  selector", "spec:\n  serviceName: db\n  selector");
    let found = judge(deployment, &statefulset, "KG734");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, 2, "{found:?}");
}

#[test]
fn a_subject_gaining_flagged_rights_is_a_warning_on_its_binding() {
    if !git_available() {
        return;
    }
    let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n  namespace: app\nrules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get, list]\n";
    let binding = |who: &str| {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: readers\n  namespace: app\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: reader\nsubjects:\n  - kind: ServiceAccount\n    name: {who}\n    namespace: app\n"
        )
    };
    let repo = Repo::new();
    repo.write("role.yaml", role);
    repo.write("binding.yaml", &binding("ci"));
    repo.commit("base");
    repo.write(
        "binding.yaml",
        &format!(
            "{}  - kind: ServiceAccount\n    name: web\n    namespace: app\n",
            binding("ci")
        ),
    );
    repo.commit("head");
    let (_, report, stderr) = repo.check(&["--no-config"]);
    let found = of_rule(&report, "rbac-rights-gained");
    assert_eq!(found.len(), 1, "{stderr}\n{found:?}");
    let (file, line, message) = &found[0];
    assert_eq!((file.as_str(), *line), ("binding.yaml", 14), "{message}");
    assert!(message.contains("ServiceAccount `app/web`"), "{message}");
    assert!(message.contains("secrets-read"), "{message}");
}

#[test]
fn reports_say_what_the_merge_does_to_the_cluster_first() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  \
        selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
        spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n";
    repo.write("pvc.yaml", PVC);
    repo.write("web.yaml", deployment);
    repo.commit("base");
    repo.write("pvc.yaml", "");
    repo.write(
        "web.yaml",
        &deployment
            .replace("replicas: 2", "replicas: 0")
            .replace("matchLabels: {app: web}", "matchLabels: {app: web2}")
            .replace("labels: {app: web}", "labels: {app: web2}"),
    );
    repo.commit("head");
    let (_, out, stderr) = repo.run(&[
        "check",
        "--no-config",
        "--base",
        "HEAD~",
        "-f",
        "markdown",
        ".",
    ]);
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{out}\n{stderr}"))
    };
    let section = at("### What this merge does to the cluster");
    let destroys = at("**Destroys objects or data** (1)");
    let fails = at("**Fails to sync** (1)");
    let risky = at("**Risky or worth a look**");
    let by_rule = at("### Findings by rule");
    assert!(section < destroys && destroys < fails && fails < risky && risky < by_rule);
    assert!(out[destroys..fails].contains("KG703"), "{out}");
    assert!(out[fails..risky].contains("KG711"), "{out}");
    assert!(out[risky..by_rule].contains("KG731"), "{out}");
}

#[test]
fn a_chart_is_compared_as_rendered_and_findings_land_in_its_values() {
    if !git_available() {
        return;
    }
    let Some(helm) = common::helm() else {
        return;
    };
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: db\nversion: 0.1.0\n",
    );
    repo.write(
        "chart/values.yaml",
        "persistence:\n  enabled: true\n  size: 10Gi\n",
    );
    repo.write(
        "chart/templates/pvc.yaml",
        "{{- if .Values.persistence.enabled }}\napiVersion: v1\nkind: PersistentVolumeClaim\n\
         metadata:\n  name: {{ .Release.Name }}-data\nspec:\n  accessModes: [ReadWriteOnce]\n  \
         resources:\n    requests:\n      storage: {{ .Values.persistence.size }}\n{{- end }}\n",
    );
    repo.commit("base");
    let helm = helm.to_str().unwrap().to_owned();
    let flags = ["--config", config.to_str().unwrap(), "--helm", &helm];
    // Shrunk through the values: on the values line.
    repo.write(
        "chart/values.yaml",
        "persistence:\n  enabled: true\n  size: 5Gi\n",
    );
    repo.commit("shrink");
    let (_, report, stderr) = repo.check(&flags);
    let found = of_rule(&report, "KG716");
    assert_eq!(found.len(), 1, "{stderr}\n{report:#}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("chart/values.yaml", 3));
    // Switched off through the values: the PVC is deleted, at the values line that did it.
    repo.write(
        "chart/values.yaml",
        "persistence:\n  enabled: false\n  size: 5Gi\n",
    );
    repo.commit("delete");
    let (_, report, stderr) = repo.check(&flags);
    let found = of_rule(&report, "KG703");
    assert_eq!(found.len(), 1, "{stderr}\n{report:#}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("chart/values.yaml", 2));
    assert!(
        found[0]
            .2
            .contains("at the base: chart/templates/pvc.yaml:2"),
        "{found:?}"
    );
}

#[test]
fn a_kustomization_that_no_longer_builds_deletes_nothing() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let config = only_change_rules(repo._dir.path());
    repo.write("app/pvc.yaml", PVC);
    repo.write("app/kustomization.yaml", "resources:\n  - pvc.yaml\n");
    repo.commit("base");
    // A typo in the entry: kustomize fails, the controller applies nothing, nothing is pruned.
    repo.write("app/kustomization.yaml", "resources:\n  - pvcs.yaml\n");
    repo.commit("head");
    let (_, report, stderr) = repo.check(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        of_rule(&report, "kustomize-error").len(),
        1,
        "{stderr}\n{report:#}"
    );
    assert!(of_rule(&report, "KG703").is_empty(), "{report:#}");
}
