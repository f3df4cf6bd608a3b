//! End-to-end tests of `kubegate check`: every format, every exit code, bad input.

mod common;

use common::{kubegate, kubegate_in, root};
use serde_json::Value;

const DEMO: &str = "fixtures/demo";

#[test]
fn concise_reports_every_schema_error_at_its_exact_position() {
    let r = kubegate(&["check", DEMO, "--format", "concise", "--no-builtin-rules"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let expected = [
        "fixtures/demo/apps/dashboard.yaml:4:7: info[no-schema] ",
        "fixtures/demo/apps/legacy.yaml:1:13: error[removed-api] Ingress `extensions/v1beta1` was removed in Kubernetes 1.22",
        "fixtures/demo/apps/web.yaml:10:3: error[schema-unknown-field] unknown field `spec.replica`",
        "fixtures/demo/apps/web.yaml:19:7: error[schema-unknown-field] unknown field `spec.template.spec.imagePullPolicy`",
        "fixtures/demo/apps/web.yaml:23:28: error[schema-enum] ",
        "fixtures/demo/apps/web.yaml:25:30: error[schema-type] ",
        "fixtures/demo/apps/web.yaml:28:23: error[schema-format] ",
        // No helm to render the demo chart with (tests/helm.rs renders it).
        "fixtures/demo/chart/Chart.yaml:1:1: info[helm-not-found] ",
    ];
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{}", r.stdout);
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(want),
            "{line:?} does not start with {want:?}"
        );
    }
    // Valid int-or-string and quantity forms pass: `port: http`, `cpu: 500m`, `targetPort: 8080`.
    assert!(!r.stdout.contains("port: http") && !r.stdout.contains(".cpu"));
    // Helm templates and non-Kubernetes YAML are skipped and counted, not reported.
    assert!(!r.stdout.contains("chart/templates"), "{}", r.stdout);
    assert!(r.stderr.contains("1 helm template"), "{}", r.stderr);
    assert!(r.stderr.contains("3 not kubernetes"), "{}", r.stderr);
}

#[test]
fn human_format_shows_the_line_and_a_label_at_the_column() {
    let r = kubegate(&["check", DEMO, "--format", "human"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("error[schema-unknown-field]: unknown field `spec.replica`")
    );
    assert!(
        r.stdout.contains("--> fixtures/demo/apps/web.yaml:10:3"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("10 |   replica: 3\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("   |   ^^^^^^^ Deployment shop/web"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("help: did you mean `replicas`?"));
    assert!(!r.stdout.contains('\x1b'), "no colour when not a terminal");
    let forced = kubegate(&["check", DEMO, "--format", "human", "--color", "always"]);
    assert!(forced.stdout.contains('\x1b'));
    let no_color = common::kubegate_in(
        &root(),
        &["check", DEMO, "--format", "human", "--color", "always"],
        None,
    );
    assert!(no_color.stdout.contains('\x1b'));
}

#[test]
fn no_color_wins_over_color_always() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"))
        .args(["check", DEMO, "--format", "human", "--color", "always"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

#[test]
fn json_report_is_versioned_and_complete() {
    let r = kubegate(&["check", DEMO, "--format", "json", "--no-builtin-rules"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    assert_eq!(v["version"], 1);
    assert_eq!(v["kubernetesVersion"], "1.37");
    let s = &v["summary"];
    assert_eq!(s["files"], 9);
    assert_eq!(s["documents"], 9);
    assert_eq!(s["objects"], 6);
    assert_eq!(s["skipped"]["helm_template"], 1);
    assert_eq!(s["skipped"]["not_kubernetes"], 3);
    assert_eq!(s["findings"]["error"], 6);
    // The custom resource with no schema, and the chart with no helm to render it.
    assert_eq!(s["findings"]["info"], 2);
    assert_eq!(s["charts"], 0);
    let findings = v["findings"].as_array().unwrap();
    let keys = [
        "rule",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "document",
        "object",
        "path",
        "help",
    ];
    for f in findings {
        let obj = f.as_object().unwrap();
        assert_eq!(obj.len(), keys.len(), "{f}");
        for k in keys {
            assert!(obj.contains_key(k), "{k} missing in {f}");
        }
    }
    let replica = findings
        .iter()
        .find(|f| f["path"] == "/spec/replica")
        .expect("spec.replica finding");
    assert_eq!(replica["rule"], "schema-unknown-field");
    assert_eq!(replica["line"], 10);
    assert_eq!(replica["column"], 3);
    assert_eq!(replica["end_line"], 10);
    assert_eq!(replica["end_column"], 10);
    assert_eq!(replica["document"], 0);
    assert_eq!(
        replica["object"],
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"})
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n";
    std::fs::write(dir.path().join("good.yaml"), good).unwrap();
    let clean = kubegate_in(dir.path(), &["check"], None);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert_eq!(clean.stdout, "");

    assert_eq!(kubegate(&["check", DEMO]).code, 1);
    assert_eq!(kubegate(&["check", DEMO, "--exit-zero"]).code, 0);
    // A custom resource its (embedded) CRD validates.
    let certificate = "fixtures/demo/apps/certificate.yaml";
    assert_eq!(
        kubegate(&["check", certificate, "--fail-on", "info"]).code,
        0
    );
    let custom = "fixtures/demo/apps/dashboard.yaml";
    assert_eq!(kubegate(&["check", custom]).code, 0, "info does not fail");
    assert_eq!(kubegate(&["check", custom, "--fail-on", "warning"]).code, 0);
    assert_eq!(kubegate(&["check", custom, "--fail-on", "info"]).code, 1);
    assert_eq!(
        kubegate(&["check", custom, "--reject-missing-schemas"]).code,
        1
    );
    // Usage errors.
    assert_eq!(kubegate(&["check", "--no-such-flag"]).code, 2);
    let v = kubegate(&["check", DEMO, "--kubernetes-version", "1.12"]);
    assert_eq!(v.code, 2);
    assert!(v.stderr.contains("1.33"), "{}", v.stderr);
    assert_eq!(kubegate(&["check", DEMO, "--jobs", "0"]).code, 2);
}

#[test]
fn a_missing_path_exits_2_but_the_rest_is_checked() {
    let r = kubegate(&["check", "no/such/dir", DEMO, "-f", "concise"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/dir"), "{}", r.stderr);
    assert!(r.stdout.contains("spec.replica"), "{}", r.stdout);
}

#[test]
fn every_kubernetes_version_is_selectable() {
    for v in ["1.33", "v1.34", "1.35", "1.36.2", "1.37"] {
        let r = kubegate(&["check", DEMO, "-f", "json", "--kubernetes-version", v]);
        assert_eq!(r.code, 1, "{v}: {}", r.stderr);
        let json: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(
            json["kubernetesVersion"]
                .as_str()
                .unwrap()
                .starts_with("1.3")
        );
        assert!(r.stdout.contains("spec.replica"));
    }
}

#[test]
fn stdin_with_a_file_name() {
    let doc = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n    - port: eighty\n";
    let r = kubegate_in(
        &root(),
        &[
            "check",
            "-",
            "--stdin-filename",
            "svc.yaml",
            "-f",
            "concise",
        ],
        Some(doc),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("svc.yaml:7:13: error[schema-type]"),
        "{}",
        r.stdout
    );
}

#[test]
fn output_file_and_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let r = kubegate(&["check", DEMO, "-f", "json", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "", "the report goes to the file");
    assert!(
        r.stderr.contains("kubegate: checked 9 files"),
        "{}",
        r.stderr
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["version"], 1);
    let quiet = kubegate(&["check", DEMO, "-q", "-f", "concise"]);
    assert_eq!(quiet.stderr, "");
}

/// Outside a repository `.ignore` applies (`.gitignore` needs Git: see tests/discover.rs).
#[test]
fn exclude_globs_and_ignore_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nbogus: 1\n";
    for sub in ["a", "b", "ignored"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::write(dir.path().join(sub).join("cm.yaml"), bad).unwrap();
    }
    std::fs::write(dir.path().join(".ignore"), "ignored/\n").unwrap();
    let r = kubegate_in(
        dir.path(),
        &["check", "-f", "concise", "--exclude", "b/**"],
        None,
    );
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("a/cm.yaml:5:1: error[schema-unknown-field]")
    );
}

#[test]
fn output_is_identical_whatever_the_thread_count() {
    let one = kubegate(&["check", "fixtures", "-f", "json", "-j", "1"]);
    let two = kubegate(&["check", "fixtures", "-f", "json", "-j", "2"]);
    let many = kubegate(&["check", "fixtures", "-f", "json", "-j", "7"]);
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(one.stdout, many.stdout);
}

/// A file of a megabyte or more is checked a few pieces at a time on several threads, each
/// piece's documents let go before the next is read: the report is the one of a whole
/// reading (one thread) though a custom resource waits for a CRD pieces later, a Service is
/// judged against workloads pieces away, and the reader's warnings come from every piece. A
/// piece that does not parse alone makes the file read whole, the error where it is.
#[test]
fn a_file_checked_in_pieces_reports_as_one_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: early\nspec:\n  size: big\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: to-late\n  namespace: apps\nspec:\n  selector:\n    app: late\n  ports:\n    - port: 80\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: to-nothing\n  namespace: apps\nspec:\n  selector:\n    app: nothing\n  ports:\n    - port: 80\n---\n",
    );
    // About 1.5 MiB of Pods of many sizes, one with a key twice.
    for i in 0..3000 {
        let twice = if i == 2500 {
            "  labels: {a: b}\n  labels: {c: d}\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: apps\n{twice}  annotations:\n    note: \"{}\"\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n      bogus: {i}\n---\n",
            "x".repeat(20 + (i * 37) % 600)
        ));
    }
    text.push_str(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: late\n  namespace: apps\nspec:\n  selector:\n    matchLabels:\n      app: late\n  template:\n    metadata:\n      labels:\n        app: late\n    spec:\n      containers:\n        - name: c\n          image: nginx:1.27\n---\n\
         apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names:\n    kind: Widget\n    plural: widgets\n  scope: Cluster\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec:\n              type: object\n              properties:\n                size:\n                  type: integer\n",
    );
    assert!(text.len() > 1_400_000, "{}", text.len());
    let path = dir.path().join("install.yaml");
    std::fs::write(&path, &text).unwrap();
    let broken = dir.path().join("broken.yaml");
    let at = text.len() * 3 / 4;
    let cut = at + text[at..].find("---\n").unwrap() + 4;
    std::fs::write(
        &broken,
        format!("{}key: [unclosed\n---\n{}", &text[..cut], &text[cut..]),
    )
    .unwrap();
    let mut reports = Vec::new();
    for file in [&path, &broken] {
        let file = file.to_str().unwrap();
        let one = kubegate(&["check", "--no-config", "-f", "json", "-j", "1", file]);
        let two = kubegate(&["check", "--no-config", "-f", "json", "-j", "2", file]);
        let three = kubegate(&["check", "--no-config", "-f", "json", "-j", "3", file]);
        assert_eq!(one.code, 1, "{}", one.stderr);
        assert_eq!(one.stdout, two.stdout, "{file}");
        assert_eq!(one.stdout, three.stdout, "{file}");
        reports.push(two.stdout);
    }
    let report: Value = serde_json::from_str(&reports[0]).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let with = |rule: &str, line: u64| {
        findings
            .iter()
            .any(|f| f["rule"] == rule && f["line"].as_u64() == Some(line))
    };
    // The Widget before its CRD, validated by it: `size` is no integer.
    assert!(with("schema-type", 6), "{findings:#?}");
    // The Service that selects nothing, not the one that selects the last Deployment.
    let dangling: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "KG507")
        .map(|f| f["object"]["name"].clone())
        .collect();
    assert_eq!(dangling, [serde_json::json!("to-nothing")], "{findings:#?}");
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["rule"] == "schema-unknown-field")
            .count(),
        3000
    );
    assert!(
        findings.iter().any(|f| f["rule"] == "duplicate-key"),
        "{findings:#?}"
    );
    assert!(reports[1].contains("yaml-syntax"), "{}", reports[1]);
}

/// A large file of many documents is checked on every thread, its documents taken largest
/// first: the report is the same as on one thread, every document's findings present, in
/// document order.
#[test]
fn a_large_multi_document_file_reports_the_same_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    // About 600 KiB, of documents of many sizes: they are checked out of order.
    for i in 0..1500 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: apps\n  annotations:\n    note: \"{}\"\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n      imagePullPolicy: Always\n      securityContext:\n        privileged: true\n      bogus: {i}\n---\n",
            "x".repeat(20 + (i * 37) % 360)
        ));
    }
    std::fs::write(dir.path().join("install.yaml"), &text).unwrap();
    let path = dir.path().join("install.yaml");
    let path = path.to_str().unwrap();
    let one = kubegate(&["check", "--no-config", "-f", "json", "-j", "1", path]);
    let two = kubegate(&["check", "--no-config", "-f", "json", "-j", "2", path]);
    let four = kubegate(&["check", "--no-config", "-f", "json", "-j", "4", path]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(one.stdout, four.stdout);
    let report: Value = serde_json::from_str(&one.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    for rule in ["schema-unknown-field", "KG101"] {
        let lines: Vec<u64> = findings
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines.len(), 1500, "{rule}");
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "{rule} out of order");
    }
}

/// `--timings` evaluates each rule on its own to time it: the findings stay exactly the
/// same, and standard error shows the stages and the slowest rules.
#[test]
fn timings_show_stages_and_rules_without_changing_findings() {
    let plain = kubegate(&["check", "fixtures", "-f", "json", "-j", "2"]);
    let timed = kubegate(&["check", "fixtures", "-f", "json", "-j", "2", "--timings"]);
    assert_eq!(plain.stdout, timed.stdout);
    assert_eq!(plain.code, timed.code);
    for stage in ["discover", "read", "parse", "schema", "rules", "report"] {
        assert!(
            timed
                .stderr
                .lines()
                .any(|l| l.trim_start().starts_with(stage)),
            "no `{stage}` line in:\n{}",
            timed.stderr
        );
    }
    assert!(timed.stderr.contains("slowest rules"), "{}", timed.stderr);
    // The rules are named by id and name, e.g. `KG101 privileged-container`.
    let rows = timed
        .stderr
        .lines()
        .skip_while(|l| !l.contains("slowest rules"))
        .filter(|l| l.trim_start().starts_with("KG"))
        .count();
    assert_eq!(rows, 10, "{}", timed.stderr);
    assert!(!plain.stderr.contains("slowest rules"));
}

/// Hostile input: each gets a finding naming the file, and the rest of the run completes.
#[test]
fn bad_input_never_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        bomb.push_str(&format!(
            "x{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    std::fs::write(p.join("bomb.yaml"), bomb).unwrap();
    std::fs::write(p.join("deep.yaml"), "[".repeat(10_000)).unwrap();
    std::fs::write(
        p.join("binary.yaml"),
        b"\x7fELF\x02\x01\x01\x00\x00\x00garbage",
    )
    .unwrap();
    std::fs::write(
        p.join("latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n",
    )
    .unwrap();
    // 100 MB, sparse: refused by size before it is read.
    let big = std::fs::File::create(p.join("huge.yaml")).unwrap();
    big.set_len(100 * 1024 * 1024).unwrap();
    std::fs::create_dir(p.join("loop")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("..", p.join("loop/parent")).unwrap();
        std::os::unix::fs::symlink("nowhere.yaml", p.join("dangling.yaml")).unwrap();
    }
    std::fs::write(
        p.join("good.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\nbogus: 1\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let r = kubegate_in(p, &["check", "-f", "concise"], None);
    assert!(started.elapsed().as_secs() < 60, "bounded time");
    let out = &r.stdout;
    assert!(
        out.contains("bomb.yaml:") && out.contains("error[yaml-limit]"),
        "{out}"
    );
    assert!(
        out.contains("deep.yaml:1:") && out.contains("nesting"),
        "{out}"
    );
    assert!(
        out.contains("binary.yaml:1:") && out.contains("binary file"),
        "{out}"
    );
    assert!(
        out.contains("latin1.yaml:4:") && out.contains("UTF-8"),
        "{out}"
    );
    assert!(out.contains("huge.yaml:1:1: error[yaml-limit]"), "{out}");
    // The good file is still checked.
    assert!(
        out.contains("good.yaml:5:1: error[schema-unknown-field]"),
        "{out}"
    );
    #[cfg(unix)]
    {
        assert!(r.stderr.contains("loop"), "{}", r.stderr);
        assert!(r.stderr.contains("dangling.yaml"), "{}", r.stderr);
        // An unreadable path is an error of the run: exit 2.
        assert_eq!(r.code, 2, "{}", r.stderr);
    }
}

#[test]
fn inline_suppressions_silence_and_unused_ones_are_reported() {
    let f = "fixtures/suppress/agent.yaml";
    let args = |extra: &[&'static str]| {
        let mut a = vec!["check", f, "-f", "json", "--no-schema"];
        a.extend_from_slice(extra);
        kubegate(&a)
    };
    let r = args(&[]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let of = |rule: &str| -> Vec<u64> {
        findings
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["line"].as_u64().unwrap())
            .collect()
    };
    // Only the Pod without an annotation keeps its KG101 finding (by name on the object,
    // by id on the Job's pod template).
    assert_eq!(of("KG101"), [30]);
    // KG999 is no rule at all.
    assert_eq!(of("unused-suppression"), [7]);
    assert_eq!(v["summary"]["suppressed"], 2);
    // CI can refuse exemptions written into the manifests.
    let strict = args(&["--no-inline-suppressions"]);
    let v: Value = serde_json::from_str(&strict.stdout).unwrap();
    let kg101 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "KG101")
        .count();
    assert_eq!(kg101, 3);
}

/// Built-in rules see whatever the manifest holds: wrong types and nulls where lists or
/// objects belong must not make any rule fail (`policy-error`).
#[test]
fn malformed_objects_never_break_builtin_rules() {
    let mut docs = Vec::new();
    for kind in [
        "Pod",
        "Deployment",
        "CronJob",
        "Role",
        "ClusterRoleBinding",
        "Service",
        "Ingress",
    ] {
        for spec in [
            "null",
            "5",
            "[]",
            "{containers: null, initContainers: 5, volumes: [null, 3], securityContext: []}",
            "{template: null, jobTemplate: {spec: {template: {spec: {containers: [null, {securityContext: 7, ports: null, env: {}}]}}}}}",
            "{template: {spec: {containers: [{name: 1, image: null, resources: [], securityContext: {capabilities: {add: null, drop: 3}}}]}}}",
        ] {
            docs.push(format!(
                "apiVersion: v1\nkind: {kind}\nmetadata: {{name: x, annotations: null}}\nspec: {spec}\nrules: [null, {{verbs: null, resources: 3}}]\nsubjects: null\nroleRef: 5\n"
            ));
        }
    }
    let input = docs.join("---\n");
    let r = kubegate_in(
        &root(),
        &["check", "-", "--no-schema", "-f", "concise"],
        Some(input.as_bytes()),
    );
    assert!(!r.stdout.contains("policy-error"), "{}", r.stdout);
    assert_ne!(r.code, 2, "{}", r.stderr);
}

/// Inventory rules see every object of the run, across files, and honour the inline
/// suppressions of the object a finding is about; a suppression of one that silenced
/// nothing is reported once the whole run is known.
#[test]
fn inventory_rules_look_across_files_and_honour_inline_suppressions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("services.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: typo}\nspec:\n  selector: {app: wbe}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: legacy\n  annotations: {kubegate.io/ignore: \"KG507 pods come from the operator\"}\nspec:\n  selector: {app: legacy}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: stale\n  annotations: {kubegate.io/ignore: \"dangling-service no longer needed\"}\nspec:\n  selector: {app: web}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations: {kubegate.io/ignore: \"KG507 wrong object\"}\n",
    )
    .unwrap();
    let r = common::kubegate_in(
        dir.path(),
        &["check", ".", "-f", "json", "--no-schema"],
        None,
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let at = |rule: &str| -> Vec<(String, u64)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| {
                (
                    f["file"].as_str().unwrap().to_owned(),
                    f["line"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // `web` is matched by the Deployment in the other file; `typo` is not.
    assert_eq!(at("KG507"), [("services.yaml".to_owned(), 11)]);
    // `stale` silenced nothing; the ConfigMap's suppression can never apply.
    assert_eq!(
        at("unused-suppression"),
        [
            ("services.yaml".to_owned(), 25),
            ("services.yaml".to_owned(), 33)
        ]
    );
    assert_eq!(v["summary"]["suppressed"], 1, "{}", r.stdout);
}

/// Under GitHub Actions, a machine report printed to the log carries untrusted text that
/// could read as a workflow command (`##[add-mask]`); it is escaped inside its strings, so
/// the data is unchanged and the log inert.
#[test]
fn machine_formats_on_an_actions_log_carry_no_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    std::fs::write(
        dir.path().join("policy/main.rego"),
        "package main\n\ndeny contains \"##[add-mask]secret\" if input.kind == \"ConfigMap\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
    )
    .unwrap();
    for format in ["json", "sarif", "gitlab", "rdjson", "junit"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"))
            .args([
                "check",
                "cm.yaml",
                "--policy",
                "policy",
                "--no-config",
                "-f",
                format,
            ])
            .current_dir(dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}: {stdout}");
        assert!(!stdout.contains("##["), "{format}: {stdout}");
        if format == "junit" {
            assert!(stdout.contains("#&#35;[add-mask]secret"), "{stdout}");
        } else {
            let v: Value = serde_json::from_str(&stdout).unwrap();
            assert!(
                v.to_string().contains("##[add-mask]secret"),
                "{format}: {v}"
            );
        }
    }
}

/// `-o sarf=report.sarif` used to write the concise report to a file named
/// `sarf=report.sarif`; an unknown `FORMAT=` is a usage error that names the formats.
#[test]
fn an_unknown_output_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .unwrap();
    let r = kubegate_in(dir.path(), &["check", ".", "-o", "sarf=report.sarif"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown format `sarf`"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `sarif`"), "{}", r.stderr);
    assert!(!dir.path().join("sarf=report.sarif").exists());
    // A file whose name holds `=` is still possible.
    let r = kubegate_in(dir.path(), &["check", ".", "-o", "./a=b.txt"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("a=b.txt").exists());
}

/// A report that cannot be written used to stop the run before the others and the summary:
/// now every other report is written and the run exits 2 at the end.
#[test]
fn an_unwritable_report_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    )
    .unwrap();
    let r = kubegate_in(
        dir.path(),
        &[
            "check",
            ".",
            "-o",
            "sarif=missing/dir/report.sarif",
            "-o",
            "json=report.json",
        ],
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write the sarif report"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("kubegate: checked 1 file"),
        "{}",
        r.stderr
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["files"], 1);
}

/// `--timings` compiles the rules with an entry point each: a program the binary does not
/// hold compiled, as a configuration that enables or disables rules needs. (A configuration
/// file would not do: in CI, with a remote, the configuration comes from the base.)
const NOT_EMBEDDED: &[&str] = &["--timings"];

/// Runs kubegate on the demo with `env` (and none of the CI variables or the cache ones
/// of the machine running the tests), with `args` added.
fn with_cache_env(env: &[(&str, &std::path::Path)], ci: bool, args: &[&str]) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(["check", "-f", "json", "--no-config"])
        .args(args)
        .arg(DEMO)
        .current_dir(root());
    for var in [
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "KUBEGATE_CACHE_DIR",
        "KUBEGATE_NO_CACHE",
        "XDG_CACHE_HOME",
    ] {
        cmd.env_remove(var);
    }
    if ci {
        cmd.env("GITHUB_ACTIONS", "true");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    // The findings: in CI, a clone with a remote also gets a change summary.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::to_string_pretty(&report["findings"]).unwrap(),
    )
}

fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn compiled_rules_are_cached_outside_ci_and_a_bad_cache_is_compiled_again() {
    let tmp = tempfile::tempdir().unwrap();
    let none = tempfile::tempdir().unwrap();
    let (code, uncached) =
        with_cache_env(&[("KUBEGATE_NO_CACHE", "1".as_ref())], false, NOT_EMBEDDED);
    assert_eq!(code, 1);
    assert!(uncached.contains("KG102"), "{uncached}");

    // The default rules come compiled in the binary: nothing is written.
    let (_, default_rules) = with_cache_env(
        &[("XDG_CACHE_HOME", tmp.path()), ("HOME", none.path())],
        false,
        &[],
    );
    assert!(default_rules.contains("KG102"), "{default_rules}");
    assert!(cache_files(&tmp.path().join("kubegate")).is_empty());

    // The user's cache directory: written on the first run, read on the second.
    let (_, first) = with_cache_env(
        &[("XDG_CACHE_HOME", tmp.path()), ("HOME", none.path())],
        false,
        NOT_EMBEDDED,
    );
    let cached = cache_files(&tmp.path().join("kubegate"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    #[cfg(unix)]
    let inode =
        |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    #[cfg(unix)]
    let written = inode(&cached[0]);
    let (_, second) = with_cache_env(
        &[("XDG_CACHE_HOME", tmp.path()), ("HOME", none.path())],
        false,
        NOT_EMBEDDED,
    );
    // Read, not compiled and written again (a write renames a new file into place).
    #[cfg(unix)]
    assert_eq!(inode(&cached[0]), written);
    assert_eq!(first, uncached);
    assert_eq!(second, uncached);

    // A damaged program (its digest no longer matches) is compiled again and rewritten.
    let file = &cached[0];
    let mut bytes = std::fs::read(file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(file, &bytes).unwrap();
    let (_, third) = with_cache_env(
        &[("XDG_CACHE_HOME", tmp.path()), ("HOME", none.path())],
        false,
        NOT_EMBEDDED,
    );
    assert_eq!(third, uncached);
    assert_ne!(
        std::fs::read(file).unwrap(),
        bytes,
        "the damaged file was rewritten"
    );
    // Garbage in the file: the same.
    std::fs::write(file, b"not a program").unwrap();
    let (_, fourth) = with_cache_env(
        &[("XDG_CACHE_HOME", tmp.path()), ("HOME", none.path())],
        false,
        NOT_EMBEDDED,
    );
    assert_eq!(fourth, uncached);

    // In CI nothing is read or written: the rules come from the binary.
    let ci = tempfile::tempdir().unwrap();
    let (_, in_ci) = with_cache_env(
        &[("XDG_CACHE_HOME", ci.path()), ("HOME", none.path())],
        true,
        NOT_EMBEDDED,
    );
    assert_eq!(in_ci, uncached);
    assert!(cache_files(&ci.path().join("kubegate")).is_empty());
    // KUBEGATE_CACHE_DIR names the directory (and opts in, even in CI).
    let named = tempfile::tempdir().unwrap();
    let (_, at) = with_cache_env(&[("KUBEGATE_CACHE_DIR", named.path())], true, NOT_EMBEDDED);
    assert_eq!(at, uncached);
    assert_eq!(cache_files(named.path()).len(), 1);
}
