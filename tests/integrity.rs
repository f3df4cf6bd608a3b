//! Gate integrity: what a merge request writes must not hide objects from the check, read
//! differently from how the cluster will read them, or crash the run. Each test is one way
//! a change could get past the gate before (see the README's threat model).

mod common;

use std::path::Path;

use common::{Run, kubegate_in};
use serde_json::Value;

/// A Pod written with `hostNetwork` (and its container) as `spec` lines.
fn pod(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}  containers:\n  - name: c\n    image: nginx:1.27\n"
    )
}

fn write(dir: &Path, rel: &str, text: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn check(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["check", ".", "--no-config", "-f", "json"];
    args.extend_from_slice(extra);
    kubegate_in(dir, &args, None)
}

/// `(file, line, rule)` of every finding of a JSON report.
fn findings(r: &Run) -> Vec<(String, u64, String)> {
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
            )
        })
        .collect()
}

fn has(found: &[(String, u64, String)], file: &str, line: u64, rule: &str) -> bool {
    found
        .iter()
        .any(|(f, l, r)| f == file && *l == line && r == rule)
}

/// The issue's example: a merge key after `hostNetwork: false` deploys `true` through
/// `kubectl apply -f` (go-yaml v2 applies merges in order). kubegate used to read `false`.
#[test]
fn a_merge_key_after_an_explicit_key_is_read_as_kubectl_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = pod("p", "  hostNetwork: false\n  <<: {hostNetwork: true}\n");
    write(dir.path(), "pod.yaml", text.as_bytes());
    let r = check(dir.path(), &["--fail-on", "error"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found = findings(&r);
    // At the merged value, and the ambiguity at the explicit key the author wrote.
    assert!(has(&found, "pod.yaml", 7, "KG105"), "{found:?}");
    assert!(has(&found, "pod.yaml", 6, "yaml-ambiguous"), "{found:?}");
}

/// A file a kustomization lists is read as kustomize reads it: there the explicit key wins,
/// so the merged `true` is not deployed; the ambiguity is still worth a warning.
#[test]
fn a_file_kustomize_reads_is_read_as_kyaml_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = pod("p", "  hostNetwork: false\n  <<: {hostNetwork: true}\n");
    write(dir.path(), "app/pod.yaml", text.as_bytes());
    write(
        dir.path(),
        "app/kustomization.yaml",
        b"resources:\n- pod.yaml\n",
    );
    let found = findings(&check(dir.path(), &[]));
    assert!(
        !found.iter().any(|(_, _, r)| r == "KG105"),
        "kustomize deploys hostNetwork: false: {found:?}"
    );
    assert!(
        has(&found, "app/pod.yaml", 6, "yaml-ambiguous"),
        "{found:?}"
    );
}

/// `hostNetwork: yes` is `true` for kubectl and the string "yes" for kustomize: a plain
/// file may go either way, so both readings are checked and both results reported.
#[test]
fn yaml_1_1_booleans_are_checked_in_every_reading() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pod.yaml",
        pod("p", "  hostNetwork: yes\n").as_bytes(),
    );
    let found = findings(&check(dir.path(), &[]));
    assert!(has(&found, "pod.yaml", 6, "KG105"), "{found:?}");
    assert!(has(&found, "pod.yaml", 6, "yaml-ambiguous"), "{found:?}");
    // kustomize's reading, a string where a boolean belongs, fails the schema.
    assert!(has(&found, "pod.yaml", 6, "schema-type"), "{found:?}");
}

/// Empty tagged scalars used to panic (index out of bounds, exit 101, no report), in any
/// YAML file of the tree, values files included.
#[test]
fn empty_tagged_scalars_are_findings_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "values.yaml",
        b"a: !!int\nb: !!float\nc: !!bool\n",
    );
    write(
        dir.path(),
        "cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: !!int\n",
    );
    let r = check(dir.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found = findings(&r);
    assert!(has(&found, "values.yaml", 1, "yaml-syntax"), "{found:?}");
    assert!(has(&found, "cm.yaml", 6, "yaml-syntax"), "{found:?}");
}

/// Positions in a file with CR-only line endings: `LineIndex` used to count only `\n`, so
/// every finding landed on line 1.
#[test]
fn positions_in_files_with_cr_line_endings() {
    let dir = tempfile::tempdir().unwrap();
    let text = pod("p", "  hostNetwork: true\n").replace('\n', "\r");
    write(dir.path(), "pod.yaml", text.as_bytes());
    let found = findings(&check(dir.path(), &[]));
    assert!(has(&found, "pod.yaml", 6, "KG105"), "{found:?}");
}

/// An object whose `apiVersion` is misspelt, or a List item without one, used to be
/// counted as "not Kubernetes" and vanish; the controller fails to apply it.
#[test]
fn objects_without_a_usable_api_version_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = pod("good", "");
    let text = format!(
        "{good}---\napiversion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  hostNetwork: true\n"
    );
    write(dir.path(), "pods.yaml", text.as_bytes());
    write(
        dir.path(),
        "list.yaml",
        b"apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata:\n    name: x\n",
    );
    write(
        dir.path(),
        "lone.yaml",
        b"kind: Deployment\nmetadata:\n  name: d\n",
    );
    // Other YAML is still not Kubernetes, and not an error.
    write(dir.path(), "ci.yaml", b"on: push\njobs: {}\n");
    let r = check(dir.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let found = findings(&r);
    assert!(has(&found, "pods.yaml", 10, "yaml-not-object"), "{found:?}");
    assert!(has(&found, "list.yaml", 4, "yaml-not-object"), "{found:?}");
    assert!(has(&found, "lone.yaml", 1, "yaml-not-object"), "{found:?}");
    assert!(!found.iter().any(|(f, _, _)| f == "ci.yaml"), "{found:?}");
}

/// A file under `templates/` is a Helm template only in a chart; anything else is a
/// manifest, `{{` in a comment or not.
#[test]
fn templates_folders_outside_charts_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# rendered by {{{{ .Values.tool }}}}\n{}",
        pod("p", "  hostNetwork: true\n")
    );
    write(dir.path(), "templates/pod.yaml", text.as_bytes());
    write(
        dir.path(),
        "chart/Chart.yaml",
        b"apiVersion: v2\nname: c\nversion: 1.0.0\n",
    );
    write(dir.path(), "chart/templates/pod.yaml", text.as_bytes());
    let found = findings(&check(dir.path(), &[]));
    assert!(has(&found, "templates/pod.yaml", 7, "KG105"), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|(f, _, _)| f == "chart/templates/pod.yaml"),
        "{found:?}"
    );
}

/// kubectl reads UTF-16 (with a byte-order mark) and reads invalid UTF-8 with U+FFFD in
/// place: what it would apply is checked, and the encoding reported.
#[test]
fn other_encodings_are_read_as_kubectl_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = pod("p", "  hostNetwork: true\n");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    write(dir.path(), "utf16.yaml", &utf16);
    let latin1 = text.replace("name: p", "name: caf\u{e9}");
    let latin1: Vec<u8> = latin1.chars().map(|c| c as u32 as u8).collect();
    write(dir.path(), "latin1.yaml", &latin1);
    let found = findings(&check(dir.path(), &[]));
    assert!(has(&found, "utf16.yaml", 6, "KG105"), "{found:?}");
    assert!(has(&found, "latin1.yaml", 6, "KG105"), "{found:?}");
    assert!(has(&found, "latin1.yaml", 4, "yaml-syntax"), "{found:?}");
}

/// What both readers refuse or drop is reported, not silently read the YAML way.
#[test]
fn what_the_readers_refuse_or_drop_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inf.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nx: .inf\n",
    );
    write(
        dir.path(),
        "sep.yaml",
        b"--- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n",
    );
    let a = pod("a", "");
    let b = pod("b", "  hostNetwork: true\n");
    write(dir.path(), "ended.yaml", format!("{a}...\n{b}").as_bytes());
    let found = findings(&check(dir.path(), &[]));
    assert!(has(&found, "inf.yaml", 5, "yaml-syntax"), "{found:?}");
    assert!(has(&found, "sep.yaml", 1, "yaml-syntax"), "{found:?}");
    // The second Pod is never applied: no KG105, but a warning that it is dropped.
    assert!(has(&found, "ended.yaml", 10, "yaml-dropped"), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|(f, _, r)| f == "ended.yaml" && r == "KG105"),
        "{found:?}"
    );
}

/// A large anchored string aliased many times: the budget is on the bytes expanded, not
/// on the nodes (2,000 aliases of 1 MiB used to reach 4 GB).
#[test]
fn alias_expansion_is_bounded_by_bytes() {
    let mut text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: &a \"{}\"\n",
        "x".repeat(1 << 20)
    );
    for i in 0..2000 {
        text.push_str(&format!("  k{i}: *a\n"));
    }
    let (docs, issues) = kubegate::parse::yaml::parse(&text, &Default::default());
    assert!(docs.is_empty());
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].rule, "yaml-limit");
    assert!(issues[0].message.contains("MiB"), "{}", issues[0].message);
}

/// Placing a finding used to scan every sibling of each key on its path: a ConfigMap with
/// 100,000 values that all break the schema took 48 s. Children are indexed once now. The
/// deadline only turns a return of the quadratic lookup into a failure instead of a hang.
#[test]
fn many_findings_among_many_siblings_are_placed_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n");
    for i in 0..100_000 {
        text.push_str(&format!("  k{i}: {i}\n"));
    }
    write(dir.path(), "cm.yaml", text.as_bytes());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"))
        .args([
            "check",
            "cm.yaml",
            "--no-config",
            "--no-builtin-rules",
            "-f",
            "json",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stdout }, &mut s).unwrap();
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("placing 100,000 findings did not finish in two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let report: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 100_000);
    // Each at its own line.
    assert_eq!(findings[99_999]["line"], 100_005);
}

/// Lines on standard error named files unescaped: under GitHub Actions a file called
/// `##[error title=kubegate]All manifests passed.yaml` became a workflow command in the log.
/// Every line kubegate writes there, standard error included, is neutralised.
#[cfg(unix)]
#[test]
fn standard_error_carries_no_workflow_commands_under_actions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "##[error title=kubegate]All manifests passed.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {a: 1}\n",
    );
    // A broken link: its name is printed in an error line on standard error.
    std::os::unix::fs::symlink(
        "/nonexistent/target",
        dir.path().join("##[warning]forged.yaml"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"))
        .args(["check", ".", "--no-config", "-f", "concise"])
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_EVENT_PATH")
        .env_remove("GITHUB_BASE_REF")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("forged.yaml"), "{stderr}");
    for line in stderr.lines().chain(stdout.lines()) {
        assert!(!line.contains("##["), "a legacy command: {line}");
        assert!(!line.trim_start().starts_with("::"), "a command: {line}");
    }
}
