//! Custom resources validated with their CRDs: the CRDs of the run (any checked file, or
//! rendered by kustomize) and `--crds`, each error at its exact line and column, and the
//! problems of CRDs themselves (`crd-invalid`, `crd-conflict`) at their line.

mod common;

use std::path::Path;

use common::{Run, kubegate_in, shared};
use serde_json::Value;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn check(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "check",
        ".",
        "--no-config",
        "--no-builtin-rules",
        "-f",
        "json",
    ];
    args.extend_from_slice(extra);
    kubegate_in(dir, &args, None)
}

/// `(file, line, column, rule, severity)` of every finding.
fn findings(r: &Run) -> Vec<(String, u64, u64, String, String)> {
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
                f["column"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn messages(r: &Run) -> Vec<String> {
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

fn f(
    file: &str,
    line: u64,
    column: u64,
    rule: &str,
    severity: &str,
) -> (String, u64, u64, String, String) {
    (file.into(), line, column, rule.into(), severity.into())
}

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.io
spec:
  group: example.io
  scope: Namespaced
  names:
    kind: Widget
    plural: widgets
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: '!has(self.color) || self.color != ''blue'' || self.size <= 10'
              message: a blue widget is at most 10
              fieldPath: .size
            - rule: self.ports.all(p, p.port > 0)
              messageExpression: >-
                'ports must be positive: ' + self.ports.filter(p, p.port <= 0).map(p, p.name).join(', ')
            properties:
              size:
                type: integer
                minimum: 1
              color:
                type: string
                enum: [red, blue]
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  properties:
                    name: {type: string}
                    port: {type: integer}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: example.io/v1beta1 Widget is deprecated; use example.io/v1
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
  - name: v1alpha1
    served: false
    storage: false
";

const WIDGET: &str = "\
apiVersion: example.io/v1
kind: Widget
metadata:
  name: w
spec:
  size: 2
  color: red
  ports:
  - name: http
    port: 80
  extra:
    anything: [1, 2]
";

#[test]
fn a_custom_resource_is_validated_by_a_crd_in_another_file() {
    let dir = tempfile::tempdir().unwrap();
    // The CR sorts before its CRD: custom resources wait for every CRD of the run.
    write(dir.path(), "a-widget.yaml", WIDGET);
    write(dir.path(), "z-crd.yaml", CRD);
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![], "{}", r.stderr);
    assert_eq!(r.code, 0);

    let bad = WIDGET
        .replace("  color: red", "  color: green\n  colour: red")
        .replace("size: 2", "size: \"2\"")
        .replace("    port: 80", "    port: 80\n  - name: http");
    write(dir.path(), "a-widget.yaml", &bad);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("a-widget.yaml", 6, 9, "schema-type", "error"),
            f("a-widget.yaml", 7, 10, "schema-enum", "error"),
            f("a-widget.yaml", 8, 3, "schema-unknown-field", "error"),
            f("a-widget.yaml", 12, 5, "schema-invalid", "error"),
        ],
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 1);
}

#[test]
fn the_metadata_of_a_custom_resource_is_checked_as_for_built_in_kinds() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "crd.yaml", CRD);
    let bad = WIDGET.replace(
        "  name: w\n",
        "  name: w\n  lables:\n    app: w\n  annotations:\n    replicas: 3\n",
    );
    write(dir.path(), "widget.yaml", &bad);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("widget.yaml", 5, 3, "schema-unknown-field", "error"),
            f("widget.yaml", 8, 15, "schema-type", "error"),
        ],
        "{}",
        r.stdout
    );
    let said = messages(&r);
    assert!(said[0].contains("`metadata.lables`"), "{said:?}");
    assert!(
        said[1].contains("`metadata.annotations.replicas`"),
        "{said:?}"
    );
}

#[test]
fn cel_rules_of_the_crd_are_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "crd.yaml", CRD);
    write(
        dir.path(),
        "w.yaml",
        &WIDGET.replace("color: red", "color: blue"),
    );
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    let bad = WIDGET
        .replace("color: red", "color: blue")
        .replace("size: 2", "size: 11")
        .replace("port: 80", "port: -1");
    write(dir.path(), "w.yaml", &bad);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("w.yaml", 5, 1, "schema-cel", "error"),
            f("w.yaml", 6, 9, "schema-cel", "error"),
        ],
        "{}",
        r.stdout
    );
    let m = messages(&r);
    assert_eq!(m[0], "ports must be positive: http", "{m:?}");
    assert_eq!(m[1], "a blue widget is at most 10", "{m:?}");
}

#[test]
fn versions_not_served_and_deprecated_versions_are_said() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "crd.yaml", CRD);
    write(
        dir.path(),
        "w.yaml",
        "apiVersion: example.io/v1alpha1\nkind: Widget\nmetadata:\n  name: a\n---\n\
         apiVersion: example.io/v1beta1\nkind: Widget\nmetadata:\n  name: b\nspec: {any: 1}\n",
    );
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("w.yaml", 1, 13, "schema-version", "error"),
            f("w.yaml", 6, 13, "schema-deprecated", "warning"),
        ],
        "{}",
        r.stdout
    );
    let m = messages(&r);
    assert!(
        m[0].contains("served: `example.io/v1`, `example.io/v1beta1`"),
        "{m:?}"
    );
    assert!(m[1].ends_with("use example.io/v1"), "{m:?}");
}

#[test]
fn a_kind_no_crd_defines_has_no_schema() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "crd.yaml", CRD);
    write(
        dir.path(),
        "g.yaml",
        "apiVersion: example.io/v1\nkind: Gadget\nmetadata:\n  name: g\n",
    );
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![f("g.yaml", 2, 7, "no-schema", "info")]);
    let r = check(dir.path(), &["--reject-missing-schemas"]);
    assert_eq!(findings(&r), vec![f("g.yaml", 2, 7, "no-schema", "error")]);
}

#[test]
fn a_crd_that_kubernetes_rejects_is_said_and_its_resources_are_not_validated() {
    let dir = tempfile::tempdir().unwrap();
    let broken = CRD.replace(
        "                type: integer\n                minimum: 1",
        "                type: string\n                pattern: \"([a-z\"",
    );
    write(dir.path(), "crd.yaml", &broken);
    write(dir.path(), "w.yaml", WIDGET);
    let r = check(dir.path(), &[]);
    let got = findings(&r);
    assert!(
        got.contains(&f("crd.yaml", 30, 15, "crd-invalid", "error")),
        "{got:?}\n{}",
        r.stdout
    );
    // The resource is not validated against a schema that does not compile: said once.
    assert!(
        got.contains(&f("w.yaml", 2, 7, "no-schema", "info")),
        "{got:?}"
    );
}

#[test]
fn two_different_crds_for_one_kind_are_said_and_the_first_is_used() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/crd.yaml", CRD);
    write(
        dir.path(),
        "b/crd.yaml",
        &CRD.replace("enum: [red, blue]", "enum: [red]"),
    );
    // The same CRD twice is no conflict.
    write(dir.path(), "c/crd.yaml", CRD);
    write(
        dir.path(),
        "w.yaml",
        &WIDGET.replace("color: red", "color: blue"),
    );
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![f("b/crd.yaml", 9, 11, "crd-conflict", "warning")],
        "{}",
        r.stdout
    );
    assert!(messages(&r)[0].contains("a/crd.yaml"), "{}", r.stdout);
}

#[test]
fn crds_outside_the_checked_paths_come_from_crds_flag() {
    let dir = tempfile::tempdir().unwrap();
    let crds = tempfile::tempdir().unwrap();
    write(crds.path(), "widgets.yaml", CRD);
    write(dir.path(), "w.yaml", &WIDGET.replace("size: 2", "size: 0"));
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![f("w.yaml", 2, 7, "no-schema", "info")]);
    let flag = crds.path().to_str().unwrap();
    let r = check(dir.path(), &["--crds", flag]);
    assert_eq!(
        findings(&r),
        vec![f("w.yaml", 6, 9, "schema-invalid", "error")],
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // A CRD in the checked files beats one given: the repository's own version wins.
    write(
        dir.path(),
        "crd.yaml",
        &CRD.replace("minimum: 1", "minimum: 0"),
    );
    let r = check(dir.path(), &["--crds", flag]);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    // A path that does not exist is a usage error.
    let r = check(dir.path(), &["--crds", "no/such/dir"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_crd_rendered_by_kustomize_validates_the_files_resources() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "crds/kustomization.yaml",
        "resources:\n- widgets.yaml\n",
    );
    write(dir.path(), "crds/widgets.yaml", CRD);
    write(
        dir.path(),
        "app/w.yaml",
        &WIDGET.replace("size: 2", "sise: 2"),
    );
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("app/w.yaml", 5, 1, "schema-required", "error"),
            f("app/w.yaml", 6, 3, "schema-unknown-field", "error"),
        ],
        "{}",
        r.stdout
    );
}

#[test]
fn inline_suppressions_apply_to_custom_resources() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "crd.yaml", CRD);
    let w = WIDGET
        .replace(
            "  name: w\n",
            "  name: w\n  annotations:\n    kubegate.io/ignore: schema-enum legacy color\n",
        )
        .replace("color: red", "color: green");
    write(dir.path(), "w.yaml", &w);
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    let w = w.replace("color: green", "color: red");
    write(dir.path(), "w.yaml", &w);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![f("w.yaml", 6, 25, "unused-suppression", "warning")],
        "{}",
        r.stdout
    );
}

/// The Gateway API's own examples with its standard CRDs: the originals are clean, and
/// errors seeded into them are found at their line and column.
#[test]
fn gateway_api_examples_with_their_crds() {
    let Some(shared) = shared() else {
        eprintln!("gateway_api_examples_with_their_crds: ../shared is missing; not run");
        return;
    };
    let gw = shared.join("corpus/kubernetes-sigs__gateway-api");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(gw.join("config/crd/standard")).unwrap() {
        let e = e.unwrap();
        // The CRDs only: the bundle's ValidatingAdmissionPolicy refuses these development
        // CRDs (`tests/admission.rs` shows it).
        if e.file_name().to_string_lossy().contains("_vap_") {
            continue;
        }
        std::fs::copy(
            e.path(),
            dir.path()
                .join("crd-".to_owned() + e.file_name().to_str().unwrap()),
        )
        .unwrap();
    }
    let original = std::fs::read_to_string(gw.join("examples/standard/basic-http.yaml")).unwrap();
    write(dir.path(), "basic-http.yaml", &original);
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    let seeded = original
        .replacen(
            "    protocol: HTTP\n",
            "    protocol: HTTP\n    tls-mode: none\n",
            1,
        )
        .replacen("    port: 80\n", "    port: \"80\"\n", 1)
        .replacen("        type: PathPrefix\n", "        type: Prefix\n", 1)
        .replacen(
            "        value: /some/thing\n",
            "        value: some/thing\n",
            1,
        );
    write(dir.path(), "basic-http.yaml", &seeded);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("basic-http.yaml", 23, 5, "schema-unknown-field", "error"),
            f("basic-http.yaml", 24, 11, "schema-type", "error"),
            f("basic-http.yaml", 38, 15, "schema-enum", "error"),
            f("basic-http.yaml", 52, 7, "schema-cel", "error"),
        ],
        "{}",
        r.stdout
    );
}

#[test]
fn the_embedded_crds_validate_what_no_crd_of_the_run_defines() {
    let dir = tempfile::tempdir().unwrap();
    let ks = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prun: true
  sourceRef:
    kind: GitRepository
    name: flux-system
";
    write(dir.path(), "ks.yaml", ks);
    let r = check(dir.path(), &[]);
    // `prune` is required by Flux's CRD: the typo hides it.
    assert_eq!(
        findings(&r),
        vec![
            f("ks.yaml", 6, 1, "schema-required", "error"),
            f("ks.yaml", 9, 3, "schema-unknown-field", "error")
        ],
        "{}",
        r.stdout
    );
    let r = check(dir.path(), &["--no-embedded-crds"]);
    assert_eq!(findings(&r), vec![f("ks.yaml", 2, 7, "no-schema", "info")]);
    // A version the embedded CRD no longer serves may still run in the cluster: not
    // validated, and said.
    write(
        dir.path(),
        "ks.yaml",
        &ks.replace("toolkit.fluxcd.io/v1\n", "toolkit.fluxcd.io/v1beta1\n"),
    );
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![f("ks.yaml", 2, 7, "no-schema", "info")],
        "{}",
        r.stdout
    );
    assert!(messages(&r)[0].contains("--crds"), "{}", r.stdout);
    // The repository's own CRD comes first.
    write(dir.path(), "ks.yaml", ks);
    let crd = CRD
        .replace("group: example.io", "group: kustomize.toolkit.fluxcd.io")
        .replace("kind: Widget", "kind: Kustomization");
    write(dir.path(), "crd.yaml", &crd);
    let r = check(dir.path(), &[]);
    let got = findings(&r);
    assert!(
        got.contains(&f("ks.yaml", 7, 3, "schema-unknown-field", "error")),
        "{got:?}"
    );
}

/// The Gateway API's verdicts, file by file, as upstream states them: every file under
/// `hack/invalid-examples` is rejected (most by CEL rules), every file under `examples/`
/// and `conformance/` is accepted, but for the two conformance templates whose
/// placeholders the conformance suite replaces before it applies them.
#[test]
fn gateway_api_verdicts_agree_with_upstream() {
    let Some(shared) = shared() else {
        eprintln!("gateway_api_verdicts_agree_with_upstream: ../shared is missing; not run");
        return;
    };
    let gw = shared.join("corpus/kubernetes-sigs__gateway-api");
    let run = |dir: &str, crds: &str| {
        let crds = gw.join(crds);
        let r = kubegate_in(
            &gw,
            &[
                "check",
                dir,
                "--crds",
                crds.to_str().unwrap(),
                "--no-config",
                "--no-builtin-rules",
                "--no-embedded-crds",
                "-f",
                "json",
            ],
            None,
        );
        let report: Value = serde_json::from_str(&r.stdout).unwrap();
        let mut errors: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for f in report["findings"].as_array().unwrap() {
            if f["severity"] == "error" {
                errors
                    .entry(f["file"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(f["rule"].as_str().unwrap().to_owned());
            }
        }
        errors
    };
    let files = |dir: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![gw.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml") {
                    out.push(p.strip_prefix(&gw).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    };
    let invalid = files("hack/invalid-examples");
    assert_eq!(invalid.len(), 36);
    let rejected = run("hack/invalid-examples", "config/crd/experimental");
    let passed: Vec<&String> = invalid
        .iter()
        .filter(|f| !rejected.contains_key(*f))
        .collect();
    assert!(passed.is_empty(), "accepted, upstream rejects: {passed:?}");
    let by_cel = rejected
        .values()
        .filter(|r| r.iter().any(|r| r == "schema-cel"))
        .count();
    assert!(by_cel >= 17, "{by_cel} rejected by CEL rules: {rejected:?}");

    assert_eq!(
        run("examples/standard", "config/crd/standard"),
        Default::default()
    );
    assert_eq!(
        run("examples", "config/crd/experimental"),
        Default::default()
    );
    let conformance = run("conformance", "config/crd/experimental");
    let templates: Vec<&str> = conformance.keys().map(String::as_str).collect();
    assert_eq!(
        templates,
        [
            "conformance/tests/gateway-static-addresses.yaml",
            "conformance/tests/gatewayclass-observed-generation-bump.yaml"
        ],
        "{conformance:?}"
    );
    for t in templates {
        let text = std::fs::read_to_string(gw.join(t)).unwrap();
        assert!(text.contains("PLACEHOLDER_") || text.contains("{GATEWAY_CONTROLLER_NAME}"));
    }
}

/// A schema as `openapi2jsonschema` writes it from the CRD of `Widget` (what kubeconform
/// users keep in their repositories): strict, with `required` and an `enum`.
const WIDGET_SCHEMA: &str = r#"{
  "description": "Widget is the Schema for the widgets API",
  "type": "object",
  "properties": {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
    "spec": {
      "type": "object",
      "required": ["size"],
      "properties": {
        "size": {"type": "integer", "minimum": 1},
        "color": {"type": "string", "enum": ["red", "blue"]}
      },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
}"#;

const SMALL_WIDGET: &str = "\
apiVersion: example.io/v1
kind: Widget
metadata:
  name: w
spec:
  size: 2
  color: red
";

/// [`SMALL_WIDGET`] with a wrong type (6:9), an enum miss (7:10) and an unknown key (8:3).
fn broken_widget() -> String {
    SMALL_WIDGET
        .replace("size: 2", "size: \"2\"")
        .replace("  color: red", "  color: green\n  colour: red")
}

#[test]
fn schema_locations_validate_custom_resources_as_kubeconform_finds_their_schemas() {
    // kubeconform's own layout, relative to the working directory.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "schemas/widget-example-v1.json", WIDGET_SCHEMA);
    write(dir.path(), "w.yaml", SMALL_WIDGET);
    let kubeconform = [
        "--schema-location",
        "schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json",
    ];
    let r = check(dir.path(), &kubeconform);
    assert_eq!(findings(&r), vec![], "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0);
    write(dir.path(), "w.yaml", &broken_widget());
    let r = check(dir.path(), &kubeconform);
    let expected = vec![
        f("w.yaml", 6, 9, "schema-type", "error"),
        f("w.yaml", 7, 10, "schema-enum", "error"),
        f("w.yaml", 8, 3, "schema-unknown-field", "error"),
    ];
    assert_eq!(findings(&r), expected, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1);
    let m = messages(&r);
    assert!(m[0].contains("`spec.size` must be an integer"), "{m:?}");
    assert!(m[1].contains("one of `red`, `blue`"), "{m:?}");
    assert_eq!(m[2], "unknown field `spec.colour`", "{m:?}");
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["findings"][2]["help"], "did you mean `color`?");

    // Datree's CRDs-catalog layout, a clone outside the checked paths; `default` (kubeconform's
    // Kubernetes schemas) is accepted.
    let catalog = tempfile::tempdir().unwrap();
    write(catalog.path(), "example.io/widget_v1.json", WIDGET_SCHEMA);
    let datree = format!(
        "{}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json",
        catalog.path().display()
    );
    let r = check(
        dir.path(),
        &["--schema-location", "default", "--schema-location", &datree],
    );
    assert_eq!(findings(&r), expected, "{}\n{}", r.stdout, r.stderr);
    // The first location with a file wins.
    write(
        catalog.path(),
        "example.io/widget_v1.json",
        &WIDGET_SCHEMA.replace(
            "\"additionalProperties\": false\n    }",
            "\"additionalProperties\": true\n    }",
        ),
    );
    let r = check(
        dir.path(),
        &[
            "--schema-location",
            &datree,
            "--schema-location",
            kubeconform[1],
        ],
    );
    assert_eq!(
        findings(&r),
        expected[..2].to_vec(),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let r = check(
        dir.path(),
        &[
            "--schema-location",
            kubeconform[1],
            "--schema-location",
            &datree,
        ],
    );
    assert_eq!(findings(&r), expected, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_crd_of_the_run_beats_a_schema_location_which_beats_the_embedded_crds() {
    let dir = tempfile::tempdir().unwrap();
    let location = [
        "--schema-location",
        "schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json",
    ];
    // The location allows red only; the CRD red and blue.
    write(
        dir.path(),
        "schemas/widget-example-v1.json",
        r#"{"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"color": {"enum": ["red"]}}}}}"#,
    );
    write(
        dir.path(),
        "w.yaml",
        &WIDGET.replace("color: red", "color: blue"),
    );
    let r = check(dir.path(), &location);
    assert_eq!(
        findings(&r),
        vec![f("w.yaml", 7, 10, "schema-enum", "error")],
        "{}",
        r.stdout
    );
    write(dir.path(), "crd.yaml", CRD);
    let r = check(dir.path(), &location);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);

    // cert-manager's Certificate is in the embedded catalog, which allows `duration`; the
    // location's schema does not, and comes first.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cert.yaml",
        "\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
spec:
  secretName: web-tls
  duration: 2160h
  dnsNames: [web.example.com]
  issuerRef:
    name: ca
",
    );
    let r = check(dir.path(), &[]);
    assert_eq!(findings(&r), vec![], "{}", r.stdout);
    write(
        dir.path(),
        "schemas/certificate-cert-manager-v1.json",
        r#"{"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "additionalProperties": false, "properties": {
                "secretName": {"type": "string"},
                "dnsNames": {"type": "array", "items": {"type": "string"}},
                "issuerRef": {"type": "object"}}}}}"#,
    );
    let r = check(dir.path(), &location);
    assert_eq!(
        findings(&r),
        vec![f("cert.yaml", 7, 3, "schema-unknown-field", "error")],
        "{}",
        r.stdout
    );
}

#[test]
fn schema_locations_are_local_and_plain_templates() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "w.yaml", SMALL_WIDGET);
    let url = "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json";
    let r = check(dir.path(), &["--schema-location", url]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains(url), "{}", r.stderr);
    assert!(r.stderr.contains("never downloads schemas"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("git clone https://github.com/datreeio/CRDs-catalog"),
        "{}",
        r.stderr
    );
    for template in [
        "schemas/{{ .ResourceKind | lower }}.json",
        "schemas/{{ .Kind }}.json",
        "schemas/{{ printf \"%s\" .Group }}.json",
    ] {
        let r = check(dir.path(), &["--schema-location", template]);
        assert_eq!(r.code, 2, "{template}: {}", r.stderr);
        assert!(r.stderr.contains(template), "{}", r.stderr);
    }
}

#[test]
fn a_schema_file_that_is_not_json_leaves_its_resources_unvalidated() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "w.yaml", &broken_widget());
    write(
        dir.path(),
        "schemas/widget-example-v1.json",
        "<html>rate limited</html>",
    );
    let location = [
        "--schema-location",
        "schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json",
    ];
    let r = check(dir.path(), &location);
    assert_eq!(
        findings(&r),
        vec![f("w.yaml", 2, 7, "no-schema", "info")],
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 0);
    let m = messages(&r);
    assert!(
        m[0].contains("schemas/widget-example-v1.json") && m[0].contains("is not JSON"),
        "{m:?}"
    );
    let mut reject = location.to_vec();
    reject.push("--reject-missing-schemas");
    let r = check(dir.path(), &reject);
    assert_eq!(findings(&r), vec![f("w.yaml", 2, 7, "no-schema", "error")]);
    // No file at all: the embedded CRDs, then `no-schema`, which says where it looked.
    std::fs::remove_file(dir.path().join("schemas/widget-example-v1.json")).unwrap();
    let r = check(dir.path(), &location);
    assert_eq!(findings(&r), vec![f("w.yaml", 2, 7, "no-schema", "info")]);
    assert!(
        messages(&r)[0].contains("no file schemas/widget-example-v1.json"),
        "{:?}",
        messages(&r)
    );
}

#[test]
fn a_manifest_cannot_make_a_schema_location_read_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    // What a path built from the manifest as it is would reach, outside `schemas/`: a
    // schema that refuses everything.
    let refuse_all = r#"{"type": "object", "additionalProperties": false}"#;
    write(dir.path(), "w_v1.json", refuse_all);
    write(dir.path(), "evil.json", refuse_all);
    write(dir.path(), "schemas/README.md", "the location exists\n");
    write(
        dir.path(),
        "w.yaml",
        "apiVersion: ../../etc/v1\nkind: W\nmetadata:\n  name: a\n---\n\
         apiVersion: example.io/v1\nkind: ../Evil\nmetadata:\n  name: b\n",
    );
    let r = check(
        dir.path(),
        &[
            "--schema-location",
            "schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            "--schema-location",
            "schemas/{{ .ResourceKind }}.json",
        ],
    );
    let got = findings(&r);
    assert!(
        got.iter().all(|(_, _, _, rule, _)| rule == "no-schema"),
        "{}",
        r.stdout
    );
    assert!(!got.is_empty(), "{}", r.stdout);
    for m in messages(&r) {
        assert!(m.contains("cannot name a schema file"), "{m}");
    }
}

#[test]
fn a_folder_location_follows_kubeconforms_layout_and_kubernetes_version() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "schemas/v1.35.0-standalone-strict/widget-example-v1.json",
        WIDGET_SCHEMA,
    );
    write(dir.path(), "w.yaml", &broken_widget());
    let r = check(
        dir.path(),
        &[
            "--schema-location",
            "schemas",
            "--kubernetes-version",
            "1.35.0",
        ],
    );
    assert_eq!(
        findings(&r),
        vec![
            f("w.yaml", 6, 9, "schema-type", "error"),
            f("w.yaml", 7, 10, "schema-enum", "error"),
            f("w.yaml", 8, 3, "schema-unknown-field", "error"),
        ],
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // Without --kubernetes-version, kubeconform's `master`.
    let r = check(dir.path(), &["--schema-location", "schemas"]);
    assert_eq!(findings(&r), vec![f("w.yaml", 2, 7, "no-schema", "info")]);
    assert!(
        messages(&r)[0].contains("schemas/master-standalone-strict/widget-example-v1.json"),
        "{:?}",
        messages(&r)
    );
}

#[test]
fn a_required_field_a_crd_does_not_define_is_said_at_its_name() {
    // The API server accepts this CRD, then prunes `colour` from every Widget and rejects
    // each one for lacking it: the CRD is the file to fix.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "crd.yaml",
        &CRD.replace("required: [size]", "required: [size, colour]"),
    );
    write(dir.path(), "w.yaml", WIDGET);
    let r = check(dir.path(), &[]);
    assert_eq!(
        findings(&r),
        vec![
            f("crd.yaml", 21, 30, "crd-invalid", "error"),
            f("w.yaml", 5, 1, "schema-required", "error"),
        ],
        "{}",
        r.stdout
    );
    assert!(messages(&r)[0].contains("`colour` is not in `properties`"));
}
