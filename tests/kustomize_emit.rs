//! kubegate's YAML writer against kustomize's: every case of `tests/kustomize/emit` is a
//! kustomization listing resource files, and `expected.yaml` is what `kubectl kustomize`
//! (kubectl 1.35.2, kustomize v5.7.1) printed for it, recorded from the real binary (by
//! `scripts/record-kustomize.sh`), never written by hand.
//!
//! The cases exercise output only: kustomize changes nothing in these objects, so the test
//! reads each resource file with kubegate's kyaml reader, puts the objects in kustomize's
//! legacy order, writes them with [`render::emit::documents`] and compares bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kubegate::parse::{self, Limits, Reader};
use kubegate::render;
use serde_json::Value;

/// Cases the writer cannot get right from what the reader gives it, and why. Each must
/// still differ, so that the fix upstream of the writer shows up here.
const KNOWN: &[(&str, &str)] = &[(
    "integers-beyond-float-precision",
    "kustomize prints a number by its Go type: int64 and uint64 exactly, float64 by its \
     shortest digits. The kyaml reader keeps no uint64 (9223372036854775808 and \
     18446744073709551615 become float64s, which lose digits) and turns integral floats \
     into int64 (6.948674738744654e+17 becomes 694867473874465408, kustomize prints \
     694867473874465400; -9223372036854775809, a float -2^63 in Go, becomes i64::MIN), so \
     the writer cannot tell which one it holds",
)];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/emit")
}

/// The `resources:` of a case's kustomization, in order.
fn resources(case: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(case.join("kustomization.yaml")).expect("kustomization");
    let parsed = parse::yaml::parse_as(&text, &Limits::default(), Reader::Kyaml);
    let doc = parsed.documents.first().expect("a kustomization document");
    doc.value["resources"]
        .as_array()
        .expect("resources: a list")
        .iter()
        .map(|r| case.join(r.as_str().expect("a resource path")))
        .collect()
}

/// Every object of a resource file, as kustomize reads it.
fn objects(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).expect("resource file");
    let parsed = parse::yaml::parse_as(&text, &Limits::default(), Reader::Kyaml);
    assert!(
        parsed.issues.is_empty(),
        "{}: {:?}",
        file.display(),
        parsed.issues
    );
    parsed
        .documents
        .into_iter()
        .map(|d| d.value)
        .filter(|v| !v.is_null())
        .collect()
}

/// kustomize's legacy order (`api/resid/gvk.go`, `SortOrderTransformer`): kinds in this
/// order first, unlisted kinds between them and the webhooks, then by
/// `group_version_kind`, then by namespace and name.
fn legacy_order(objects: &mut [Value]) {
    const FIRST: &[&str] = &[
        "Namespace",
        "ResourceQuota",
        "StorageClass",
        "CustomResourceDefinition",
        "ServiceAccount",
        "PodSecurityPolicy",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "Endpoints",
        "Service",
        "LimitRange",
        "PriorityClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: &[&str] = &[
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let key = |o: &Value| {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let kind = text(&o["kind"]);
        let rank = match (
            FIRST.iter().position(|k| *k == kind),
            LAST.iter().position(|k| *k == kind),
        ) {
            (Some(i), _) => i as i64 - FIRST.len() as i64,
            (None, Some(i)) => i as i64 + 1,
            (None, None) => 0,
        };
        let api = text(&o["apiVersion"]);
        let (group, version) = api.rsplit_once('/').unwrap_or(("~G", &api));
        let gvk = format!("{group}_{version}_{kind}");
        let namespace = text(&o["metadata"]["namespace"]);
        let name = text(&o["metadata"]["name"]);
        (rank, gvk, namespace, name)
    };
    objects.sort_by_key(key);
}

/// The first differing line of two texts with three lines of context, diff-style.
fn first_difference(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let a: Vec<&str> = actual.split_inclusive('\n').collect();
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = at.saturating_sub(3);
    let mut out = format!("@@ line {} @@\n", at + 1);
    for line in &e[from..at] {
        let _ = writeln!(out, " {line:?}");
    }
    for line in e.iter().skip(at).take(4) {
        let _ = writeln!(out, "-{line:?}");
    }
    for line in a.iter().skip(at).take(4) {
        let _ = writeln!(out, "+{line:?}");
    }
    out
}

#[test]
fn every_case_prints_as_kustomize_prints_it() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/kustomize/emit")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "only {} cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected.yaml");
        let mut all: Vec<Value> = resources(case).iter().flat_map(|f| objects(f)).collect();
        legacy_order(&mut all);
        let actual = render::emit::documents(&all);
        if KNOWN.iter().any(|(known, _)| *known == name) {
            if actual == expected {
                failures.push(format!(
                    "{name}: now prints as kustomize does; drop it from KNOWN"
                ));
            }
            continue;
        }
        if actual != expected {
            failures.push(format!("{name}:\n{}", first_difference(&expected, &actual)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ (- kustomize, + kubegate):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
