//! End-to-end checks of the committed `schemas/kubernetes/v1.37.json`, validated the way the CLI
//! does it: the document is registered under its `$id` and a kind is checked against
//! `{"$ref": "<$id>#/$defs/<definition>"}` with jsonschema (draft 2020-12).
//!
//! These read the committed file, so they run with or without a version feature.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Registry, ValidationError};
use serde_json::{Value, json};

use crate::workspace_root;

struct Schemas {
    document: Value,
    registry: Registry<'static>,
}

impl Schemas {
    fn load() -> Self {
        let path = workspace_root().join("schemas/kubernetes/v1.37.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let document: Value = serde_json::from_str(&text).expect("valid JSON");
        let schema = document["schema"].clone();
        let id = schema["$id"].as_str().expect("$id").to_owned();
        let registry = Registry::new()
            .add(id, schema)
            .expect("registry accepts the schema")
            .prepare()
            .expect("registry resolves");
        Schemas { document, registry }
    }

    /// Validates `object` against the schema of its own apiVersion/kind; returns the leaf errors
    /// (anyOf wrappers around nullable fields unwrapped), as (instance path, kind) pairs.
    fn errors(&self, object: &Value) -> Vec<(String, String)> {
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let kind = object["kind"].as_str().expect("kind");
        let def = self.document["kinds"][api_version][kind]
            .as_str()
            .unwrap_or_else(|| panic!("unknown kind {api_version} {kind}"));
        let id = self.document["schema"]["$id"].as_str().unwrap();
        let reference = json!({ "$ref": format!("{id}#/$defs/{def}") });
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .build(&reference)
            .expect("validator builds");
        let mut leaves = Vec::new();
        for error in validator.iter_errors(object) {
            flatten(&error, &mut leaves);
        }
        leaves
    }

    fn assert_valid(&self, object: &Value) {
        let errors = self.errors(object);
        assert!(errors.is_empty(), "expected no errors, got {errors:#?}");
    }

    /// Asserts that the only error is at `path` and its debug form starts with `kind`.
    fn assert_error(&self, object: &Value, path: &str, kind: &str) {
        let errors = self.errors(object);
        assert!(
            errors.len() == 1 && errors[0].0 == path && errors[0].1.starts_with(kind),
            "expected exactly one {kind} error at {path}, got {errors:#?}"
        );
    }
}

fn flatten(error: &ValidationError<'_>, out: &mut Vec<(String, String)>) {
    match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            for branch in context {
                // The `{"type": "null"}` branch of a nullable field only ever says "not null".
                let only_null = branch.iter().all(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { kind } if format!("{kind:?}").contains("Null"))
                });
                if !only_null {
                    branch.iter().for_each(|e| flatten(e, out));
                }
            }
        }
        kind => out.push((error.instance_path().to_string(), format!("{kind:?}"))),
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": { "app": "web" },
            "annotations": { "example.com/owner": "team-a" },
        },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": 0 } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{ "containerPort": 8080, "name": "http", "protocol": "TCP" }],
                        "resources": {
                            "requests": { "cpu": "500m", "memory": "1Gi" },
                            "limits": { "cpu": 0.5, "memory": "1Gi" },
                        },
                        "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" } },
                        "livenessProbe": { "httpGet": { "path": "/healthz", "port": 8080 } },
                    }],
                },
            },
        },
    })
}

#[test]
fn valid_deployment_passes() {
    Schemas::load().assert_valid(&deployment());
}

#[test]
fn unknown_field_is_rejected() {
    let schemas = Schemas::load();
    let mut object = deployment();
    let spec = object["spec"].as_object_mut().unwrap();
    let replicas = spec.remove("replicas").unwrap();
    spec.insert("replica".into(), replicas);
    schemas.assert_error(&object, "/spec", "AdditionalProperties");
}

#[test]
fn enum_is_enforced() {
    let schemas = Schemas::load();
    let mut object = deployment();
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Sometimes");
    schemas.assert_error(
        &object,
        "/spec/template/spec/containers/0/imagePullPolicy",
        "Enum",
    );
    // An explicit null on an optional enum field is fine.
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = Value::Null;
    schemas.assert_valid(&object);
}

#[test]
fn int_or_string_port() {
    let schemas = Schemas::load();
    let mut object = deployment();
    let probe = &mut object["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    probe["httpGet"]["port"] = json!("http");
    schemas.assert_valid(&object);
    let probe = &mut object["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    probe["httpGet"]["port"] = json!(8080);
    schemas.assert_valid(&object);
    let probe = &mut object["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    probe["httpGet"]["port"] = json!(true);
    schemas.assert_error(
        &object,
        "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
        "Type",
    );
}

#[test]
fn quantities() {
    let schemas = Schemas::load();
    let mut object = deployment();
    let resources = &mut object["spec"]["template"]["spec"]["containers"][0]["resources"];
    resources["requests"] = json!({ "cpu": 0.5, "memory": "1Gi" });
    resources["limits"] = json!({ "cpu": "500m", "memory": "1Gi" });
    schemas.assert_valid(&object);

    let resources = &mut object["spec"]["template"]["spec"]["containers"][0]["resources"];
    resources["limits"]["memory"] = json!("1GB");
    schemas.assert_error(
        &object,
        "/spec/template/spec/containers/0/resources/limits/memory",
        "Pattern",
    );
}

#[test]
fn null_on_optional_field_passes() {
    let schemas = Schemas::load();
    let mut object = deployment();
    object["spec"]["strategy"] = Value::Null;
    object["spec"]["template"]["spec"]["containers"][0]["ports"] = Value::Null;
    schemas.assert_valid(&object);

    // Required fields stay non-nullable.
    let mut object = deployment();
    object["spec"]["template"]["spec"]["containers"][0]["name"] = Value::Null;
    schemas.assert_error(&object, "/spec/template/spec/containers/0/name", "Type");
}

#[test]
fn annotation_values_must_be_strings() {
    let schemas = Schemas::load();
    let mut object = deployment();
    object["metadata"]["annotations"]["example.com/replicas"] = json!(3);
    schemas.assert_error(
        &object,
        "/metadata/annotations/example.com~1replicas",
        "Type",
    );
    let mut object = deployment();
    object["metadata"]["annotations"]["example.com/nested"] = json!({ "a": "b" });
    schemas.assert_error(&object, "/metadata/annotations/example.com~1nested", "Type");
}

#[test]
fn crd_with_free_form_json_passes() {
    let schemas = Schemas::load();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "names": { "kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "default": { "size": 1, "tags": ["a", { "deep": null }] },
                                "example": "any JSON value",
                                "properties": {
                                    "size": { "type": "integer", "default": 1, "enum": [1, 2, 3], "example": 2 },
                                    "mode": { "type": "string", "default": "fast", "enum": ["fast", "slow", null], "nullable": true },
                                    "extra": { "x-kubernetes-preserve-unknown-fields": true },
                                    "ratio": { "type": "number", "default": 0.5 },
                                    "flags": { "type": "array", "items": { "type": "boolean" }, "default": [true, false] },
                                },
                                "additionalProperties": false,
                                "x-kubernetes-validations": [{ "rule": "self.size > 0", "message": "size" }],
                            },
                        },
                    },
                },
            }],
        },
    });
    schemas.assert_valid(&crd);

    let mut bad = crd.clone();
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["typo"] = json!(true);
    schemas.assert_error(
        &bad,
        "/spec/versions/0/schema/openAPIV3Schema",
        "AdditionalProperties",
    );
}

#[test]
fn every_kind_resolves() {
    let schemas = Schemas::load();
    let kinds = schemas.document["kinds"].as_object().unwrap();
    assert!(kinds.contains_key("v1") && kinds.contains_key("apps/v1"));
    let defs = schemas.document["schema"]["$defs"].as_object().unwrap();
    for (api_version, by_kind) in kinds {
        for (kind, def) in by_kind.as_object().unwrap() {
            assert!(!kind.ends_with("List"), "{api_version} {kind}");
            assert!(
                defs.contains_key(def.as_str().unwrap()),
                "{api_version} {kind} → {def}"
            );
        }
    }
}
