//! The whole of `../shared/corpus` (real manifests from public projects): no panic, no
//! internal error, and no `yaml-syntax` finding on a file that libyaml reads as JSON-shaped
//! YAML (what kubectl would read), and no custom resource left without a schema but the kinds
//! no CRD defines.

mod common;

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

#[test]
fn whole_corpus_runs_clean_of_parser_disagreements() {
    let Some(shared) = common::shared() else {
        eprintln!("corpus test did not run: ../shared/corpus is not in this checkout");
        return;
    };
    let corpus = shared.join("corpus");
    let r = common::kubegate_in(&corpus, &["check", "-f", "json", "-j", "2"], None);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    let summary = &report["summary"];
    assert!(summary["files"].as_u64().unwrap() > 1_500, "{summary}");
    assert!(summary["objects"].as_u64().unwrap() > 2_000, "{summary}");
    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        assert!(
            f["rule"] != "internal-error" && f["rule"] != "policy-error",
            "{f}"
        );
    }
    // Custom resources: every kind left without a schema is one no CRD of the corpus and no
    // embedded CRD defines, for a reason.
    let no_schema: BTreeSet<(&str, &str)> = findings
        .iter()
        .filter(|f| f["rule"] == "no-schema")
        .map(|f| {
            (
                f["object"]["apiVersion"].as_str().unwrap(),
                f["object"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    let explained: BTreeSet<(&str, &str)> = [
        // kustomize's transformer configurations: read by kustomize, never applied.
        ("builtin", "LabelTransformer"),
        // Operator configuration files loaded from a ConfigMap, not applied as objects.
        ("config.kubeflow.org/v1beta1", "KatibConfig"),
        (
            "controller-runtime.sigs.k8s.io/v1alpha1",
            "ControllerManagerConfig",
        ),
        ("config.trainer.kubeflow.org/v1alpha1", "Configuration"),
        // OpenShift's API, not a CRD.
        ("route.openshift.io/v1", "Route"),
        // cert-manager's group before 0.11 (2019), whose CRDs no longer exist upstream.
        ("certmanager.k8s.io/v1alpha1", "Issuer"),
        ("certmanager.k8s.io/v1alpha1", "Certificate"),
        // A Kubernetes alpha API removed in 1.14, without a schema in any embedded version.
        (
            "admissionregistration.k8s.io/v1alpha1",
            "InitializerConfiguration",
        ),
        // The Secrets Store CSI driver: not in the embedded catalog.
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ]
    .into_iter()
    .collect();
    assert_eq!(no_schema, explained, "kinds without a schema");
    let syntax: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "yaml-syntax")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    let mut disagreements = Vec::new();
    for file in &syntax {
        let text = std::fs::read_to_string(corpus.join(file)).unwrap_or_default();
        if libyaml_accepts(&text) {
            disagreements.push(*file);
        }
    }
    assert!(
        disagreements.is_empty(),
        "yaml-syntax on files libyaml accepts: {disagreements:?}"
    );
    eprintln!(
        "corpus: {} files, {} objects, {} findings, {} files with yaml-syntax (all rejected by libyaml too)",
        summary["files"],
        summary["objects"],
        findings.len(),
        syntax.len()
    );
}

/// Whether libyaml (through `yaml_serde`) reads every document into JSON-shaped data.
fn libyaml_accepts(text: &str) -> bool {
    yaml_serde::Deserializer::from_str(text).all(|doc| Value::deserialize(doc).is_ok())
}
