//! Post-processing of the raw schemars output into the strict, self-contained schema document the
//! CLI validates against. Everything here works on plain `serde_json` values, so it is compiled
//! (and unit-tested) even when no Kubernetes version feature is enabled.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::enums;

/// apiVersion → kind → definition name.
pub type Kinds = BTreeMap<String, BTreeMap<String, String>>;

pub const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub const JSON: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";

/// Definitions that are deliberately left open (no `additionalProperties: false`), because
/// Kubernetes documents them as holding arbitrary content. Every object schema without
/// `properties`/`additionalProperties` must be listed here or in [`EMPTY_STRUCTS`], or generation
/// fails: a new property-less type has to be looked at before it is let through either way.
pub const FREE_FORM: &[(&str, &str)] = &[
    (
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "an embedded object of any kind (e.g. ControllerRevision.data)",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "managedFields trie in structured-merge-diff format; keys like `f:spec`",
    ),
    (
        JSON,
        "any JSON value (CRD default/example/enum values); the object type is removed too",
    ),
];

/// Definitions that are `type: object` without properties because they are empty Go structs
/// (markers, or "reserved for the future"), not because they hold arbitrary content. The API server
/// decodes them into `struct{}`, so any field in them is unknown; they are closed like every other
/// struct (only `{}` is accepted).
pub const EMPTY_STRUCTS: &[&str] = &[
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus",
    "io.k8s.api.apiserverinternal.v1alpha1.StorageVersionSpec",
    "io.k8s.api.scheduling.v1alpha1.BasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1alpha2.BasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1alpha3.AllCompositeDisruptionMode",
    "io.k8s.api.scheduling.v1alpha3.AllDisruptionMode",
    "io.k8s.api.scheduling.v1alpha3.BasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1alpha3.CompositeBasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1alpha3.SingleCompositeDisruptionMode",
    "io.k8s.api.scheduling.v1alpha3.SingleDisruptionMode",
    "io.k8s.api.scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode",
    "io.k8s.api.scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode",
    "io.k8s.api.scheduling.v1beta1.AllCompositeDisruptionMode",
    "io.k8s.api.scheduling.v1beta1.AllDisruptionMode",
    "io.k8s.api.scheduling.v1beta1.BasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1beta1.CompositeBasicSchedulingPolicy",
    "io.k8s.api.scheduling.v1beta1.SingleCompositeDisruptionMode",
    "io.k8s.api.scheduling.v1beta1.SingleDisruptionMode",
];

/// The string form of a `resource.Quantity`, as accepted by `resource.ParseQuantity`
/// (k8s.io/apimachinery/pkg/api/resource/quantity.go):
///
/// ```text
/// <quantity>     ::= <signedNumber><suffix>
/// <signedNumber> ::= [+-]? ( <digits> | <digits>.<digits> | <digits>. | .<digits> )
/// <suffix>       ::= <binarySI> | <decimalSI> | <decimalExponent>
/// <binarySI>     ::= Ki | Mi | Gi | Ti | Pi | Ei
/// <decimalSI>    ::= n | u | m | "" | k | M | G | T | P | E
/// <decimalExponent> ::= ( e | E ) [+-]? <digits>
/// ```
///
/// `n` and `u` are missing from the grammar in the API docs but accepted by the parser (the
/// metrics API emits e.g. `123456n`). The exponent must be an integer (the parser uses
/// `strconv.ParseInt`), unlike in the kubebuilder pattern, which allows `1e1.5`. Two degenerate
/// inputs the Go parser accepts as zero, a lone sign (`+`, `-`) and `.`, are rejected here on
/// purpose; so are surrounding spaces (Go trims them only when decoding from JSON).
pub const QUANTITY_PATTERN: &str =
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$";

#[derive(Debug, Default)]
pub struct Stats {
    pub enums_from_descriptions: usize,
    pub enums_curated: usize,
    pub closed_objects: usize,
    pub nullable_properties: usize,
}

/// Turns schemars definitions into the final document (see the module docs of `main.rs` for the
/// format).
pub fn build_document(
    version: &str,
    generator: &str,
    kinds: &Kinds,
    mut defs: Map<String, Value>,
) -> Result<(Value, Stats), String> {
    let mut stats = Stats::default();

    for (api_version, by_kind) in kinds {
        for (kind, def) in by_kind {
            if !defs.contains_key(def) {
                return Err(format!("{api_version} {kind}: definition {def} missing"));
            }
        }
    }

    // 1. Enums, while the descriptions are still there.
    for schema in defs.values_mut() {
        visit_post_order(schema, &mut |node| {
            if enums::add_from_description(node) {
                stats.enums_from_descriptions += 1;
            }
        });
    }
    stats.enums_curated = enums::add_curated(&mut defs)?;

    // 2. Special scalar and free-form types.
    let quantity = defs
        .get_mut(QUANTITY)
        .ok_or("Quantity definition missing")?;
    *quantity = json!({ "type": ["string", "number"], "pattern": QUANTITY_PATTERN });
    if let Some(json) = defs.get_mut(JSON) {
        // "JSON represents any valid JSON value": k8s-openapi says `type: object`, which would
        // reject `default: 3` or `example: "x"` in a CRD schema.
        *json = json!({});
    }
    for schema in defs.values_mut() {
        visit_post_order(schema, &mut |node| {
            if node.remove("x-kubernetes-int-or-string") == Some(Value::Bool(true))
                && !node.contains_key("type")
            {
                node.insert("type".into(), json!(["integer", "string"]));
            }
        });
    }

    // 3. Descriptions are no longer needed.
    for schema in defs.values_mut() {
        visit_post_order(schema, &mut |node| {
            node.remove("description");
        });
    }

    if defs.get(INT_OR_STRING) != Some(&json!({ "type": ["integer", "string"] })) {
        return Err(format!(
            "unexpected IntOrString schema: {:?}",
            defs.get(INT_OR_STRING)
        ));
    }

    // 4. Unknown fields are errors; audit what stays open.
    let free_form: BTreeSet<&str> = FREE_FORM.iter().map(|(name, _)| *name).collect();
    let empty_structs: BTreeSet<&str> = EMPTY_STRUCTS.iter().copied().collect();
    let mut unexpected_open = Vec::new();
    for (name, schema) in &mut defs {
        if empty_structs.contains(name.as_str()) {
            if let Some(node) = schema.as_object_mut()
                && is_open_object(node)
            {
                node.insert("additionalProperties".into(), Value::Bool(false));
                stats.closed_objects += 1;
            } else {
                return Err(format!(
                    "{name} is listed in EMPTY_STRUCTS but is not an empty object schema"
                ));
            }
        }
        let mut open = false;
        visit_post_order(schema, &mut |node| {
            if node.contains_key("properties") && !node.contains_key("additionalProperties") {
                node.insert("additionalProperties".into(), Value::Bool(false));
                stats.closed_objects += 1;
            }
        });
        visit_post_order(schema, &mut |node| {
            if is_open_object(node) {
                open = true;
            }
        });
        if open && !free_form.contains(name.as_str()) {
            unexpected_open.push(name.clone());
        }
    }
    if !unexpected_open.is_empty() {
        return Err(format!(
            "object schemas without properties or additionalProperties that are in neither \
             transform::FREE_FORM (arbitrary content, left open) nor transform::EMPTY_STRUCTS \
             (empty Go structs, closed); review and classify them: {unexpected_open:?}"
        ));
    }

    // 5. An explicit null on an optional field means "absent".
    for schema in defs.values_mut() {
        visit_post_order(schema, &mut |node| {
            stats.nullable_properties += make_optional_properties_nullable(node);
        });
    }

    // 6. All references must stay inside the document.
    let mut bad_refs = BTreeSet::new();
    for schema in defs.values_mut() {
        visit_post_order(schema, &mut |node| {
            if let Some(Value::String(reference)) = node.get("$ref") {
                match reference.strip_prefix("#/$defs/") {
                    Some(_) => {}
                    None => {
                        bad_refs.insert(reference.clone());
                    }
                }
            }
        });
    }
    for schema in defs.values() {
        collect_refs(schema, &mut |reference| {
            let target = reference.strip_prefix("#/$defs/").unwrap_or(reference);
            if !defs.contains_key(target) {
                bad_refs.insert(reference.to_owned());
            }
        });
    }
    if !bad_refs.is_empty() {
        return Err(format!("dangling or external $refs: {bad_refs:?}"));
    }

    let document = json!({
        "kubernetesVersion": version,
        "generator": generator,
        "kinds": kinds,
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("https://kubegate.invalid/kubernetes/v{version}.json"),
            "$defs": defs,
        },
    });
    Ok((document, stats))
}

/// Serialises the document byte-deterministically: keys sorted, one-space indentation, trailing
/// newline. (Hand-rolled so that neither serde's `Serialize` trait nor serde_json's map-ordering
/// feature matters.)
pub fn render(document: &Value) -> String {
    fn write(out: &mut String, value: &Value, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', depth));
        };
        match value {
            Value::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    write(out, item, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            Value::Object(map) if !map.is_empty() => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push_str(": ");
                    write(out, item, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
            scalar_or_empty => out.push_str(&scalar_or_empty.to_string()),
        }
    }
    let mut out = String::new();
    write(&mut out, document, 0);
    out.push('\n');
    out
}

fn is_open_object(node: &Map<String, Value>) -> bool {
    let is_object = match node.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    };
    is_object
        && !node.contains_key("properties")
        && !node.contains_key("additionalProperties")
        && !node.contains_key("patternProperties")
}

/// Adds `null` to every property that is not in `required`; returns how many were changed.
fn make_optional_properties_nullable(node: &mut Map<String, Value>) -> usize {
    let required: BTreeSet<String> = node
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(properties)) = node.get_mut("properties") else {
        return 0;
    };
    let mut changed = 0;
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if make_nullable(property) {
            changed += 1;
        }
    }
    changed
}

/// Makes one schema accept `null`. Typed schemas get `"null"` added to `type` (and to `enum`);
/// anything else is wrapped as `{"anyOf": [{"type": "null"}, <schema>]}`.
pub fn make_nullable(schema: &mut Value) -> bool {
    let Some(node) = schema.as_object_mut() else {
        return false; // boolean schema: `true` accepts null already; `false` is never generated
    };
    if node.is_empty() {
        return false; // `{}` accepts null already
    }
    match node.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            node.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.iter().any(|t| t == "null") {
                types.push("null".into());
            }
        }
        Some(other) => panic!("unexpected type keyword {other}"),
        None => {
            let inner = std::mem::take(schema);
            *schema = json!({ "anyOf": [{ "type": "null" }, inner] });
            return true;
        }
    }
    if let Some(Value::Array(values)) = node.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    true
}

/// Calls `f` on every schema object in `schema`, children before parents.
pub fn visit_post_order(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(node) = schema.as_object_mut() else {
        return;
    };
    for (key, child) in node.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                if let Some(map) = child.as_object_mut() {
                    for sub in map.values_mut() {
                        visit_post_order(sub, f);
                    }
                }
            }
            "additionalProperties"
            | "items"
            | "not"
            | "contains"
            | "propertyNames"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "if"
            | "then"
            | "else" => match child {
                Value::Array(items) => items.iter_mut().for_each(|s| visit_post_order(s, f)),
                other => visit_post_order(other, f),
            },
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Some(items) = child.as_array_mut() {
                    items.iter_mut().for_each(|s| visit_post_order(s, f));
                }
            }
            _ => {}
        }
    }
    f(node);
}

fn collect_refs(schema: &Value, f: &mut dyn FnMut(&str)) {
    match schema {
        Value::Object(node) => {
            if let Some(Value::String(reference)) = node.get("$ref") {
                f(reference);
            }
            node.values().for_each(|child| collect_refs(child, f));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_refs(child, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_shapes() {
        let mut typed = json!({ "type": "string", "enum": ["A", "B"] });
        assert!(make_nullable(&mut typed));
        assert_eq!(
            typed,
            json!({ "type": ["string", "null"], "enum": ["A", "B", null] })
        );

        let mut reference = json!({ "$ref": "#/$defs/X" });
        assert!(make_nullable(&mut reference));
        assert_eq!(
            reference,
            json!({ "anyOf": [{ "type": "null" }, { "$ref": "#/$defs/X" }] })
        );

        let mut multi = json!({ "type": ["integer", "string"] });
        assert!(make_nullable(&mut multi));
        assert_eq!(multi, json!({ "type": ["integer", "string", "null"] }));

        let mut any = json!({});
        assert!(!make_nullable(&mut any));
    }

    #[test]
    fn only_optional_properties_become_nullable() {
        let mut node = json!({
            "type": "object",
            "properties": { "a": { "type": "string" }, "b": { "type": "string" } },
            "required": ["a"],
        });
        let Value::Object(map) = &mut node else {
            unreachable!()
        };
        assert_eq!(make_optional_properties_nullable(map), 1);
        assert_eq!(node["properties"]["a"], json!({ "type": "string" }));
        assert_eq!(
            node["properties"]["b"],
            json!({ "type": ["string", "null"] })
        );
    }

    #[test]
    fn quantity_pattern() {
        let schema = json!({ "type": ["string", "number"], "pattern": QUANTITY_PATTERN });
        let validator = jsonschema::draft202012::new(&schema).expect("valid schema");
        let valid = [
            "0",
            "1",
            "2",
            "+1",
            "-1",
            "0.5",
            ".5",
            "1.",
            "100m",
            "500Mi",
            "1.5Gi",
            "1Ki",
            "2Ti",
            "3Pi",
            "4Ei",
            "1k",
            "1M",
            "1G",
            "1T",
            "1P",
            "1E",
            "1e3",
            "1E3",
            "1e-3",
            "1e+3",
            "1.5e3",
            "-1.5e-3",
            "123456789n",
            "10u",
            "0.1m",
            "00012",
            "+.5",
            "-0.5Gi",
        ];
        for value in valid {
            assert!(
                validator.is_valid(&json!(value)),
                "{value:?} should be a valid quantity"
            );
        }
        let invalid = [
            "", "1GB", "lots", "1K", "1ki", "1mi", "1 Gi", " 1", "1 ", "1e", "1e1.5", "e3", "1Gi1",
            "1.2.3", "--1", "+", ".", "1b", "0x10", "1,5", "Gi", "1iB", "1m1", "∞", "NaN",
        ];
        for value in invalid {
            assert!(
                !validator.is_valid(&json!(value)),
                "{value:?} should not be a valid quantity"
            );
        }
        // The numeric form (YAML `cpu: 0.5`) is always fine.
        for value in [json!(0.5), json!(2), json!(-1), json!(1e3)] {
            assert!(validator.is_valid(&value), "{value} should be valid");
        }
        assert!(!validator.is_valid(&json!(true)));
    }

    #[test]
    fn render_is_sorted_with_one_space_indent() {
        let rendered = render(&json!({ "b": 1, "a": { "d": [1], "c": null } }));
        assert_eq!(
            rendered,
            "{\n \"a\": {\n  \"c\": null,\n  \"d\": [\n   1\n  ]\n },\n \"b\": 1\n}\n"
        );
    }
}
