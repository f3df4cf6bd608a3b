//! kubegate's two YAML readers against the real ones: every case of `tests/yaml-readers`
//! is read as kubectl reads it and as kustomize reads it, and compared with what kubectl
//! 1.35 and its kustomize v5.7 printed for it (`expected.json`, recorded by
//! `scripts/record-yaml-readers.sh` from the real binaries, never written by hand).
//!
//! What the real tools do after reading (kubectl's typed `ObjectMeta`, `kind: List`
//! flattening, refusing documents that are not objects) is modelled here in a few lines, so
//! the comparison is of the readers themselves; each difference that remains is listed in
//! [`KNOWN`] with the reason it is not the reader's.

use std::path::{Path, PathBuf};

use kubegate::parse::{self, Limits, Reader};
use serde_json::Value;

/// Cases where kubegate's reader is right but the recorded tool does more than read.
const KNOWN: &[(&str, Reader, &str)] = &[
    (
        "docs-same-name-twice",
        Reader::Kyaml,
        "kustomize refuses two objects with one id when it builds; reading them is fine",
    ),
    (
        "docs-missing-apiversion",
        Reader::Kubectl,
        "`kubectl label --local` needs no apiVersion, but `kubectl apply` and the \
         controllers refuse an object without one (`no matches for kind`)",
    ),
    (
        "docs-missing-apiversion",
        Reader::Kyaml,
        "as for kubectl: the applied object has no apiVersion and is refused",
    ),
    (
        "enc-utf8-multibyte",
        Reader::Kyaml,
        "kustomize's output step writes U+0085 (NEL) as a line break that reads back as a \
         space; the reader itself keeps it",
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/yaml-readers")
}

/// What one reader makes of a file: its objects, or an error.
fn read(bytes: &[u8], reader: Reader) -> Result<Vec<Value>, String> {
    let decoded = parse::decode(bytes);
    if decoded.binary {
        return Err("binary".into());
    }
    if let (Some(issue), Reader::Kyaml) = (&decoded.issue, reader) {
        return Err(issue.message.clone());
    }
    let parsed = parse::yaml::parse_as(&decoded.text, &Limits::default(), reader);
    // kubectl keeps the last of duplicate keys; kustomize refuses them.
    if let Some(issue) = parsed.issues.iter().find(|i| {
        i.rule != "yaml-dropped" && (i.rule != "duplicate-key" || reader == Reader::Kyaml)
    }) {
        return Err(format!("{}: {}", issue.rule, issue.message));
    }
    let mut objects = Vec::new();
    for doc in parsed.documents {
        let value = doc.value;
        if value.is_null() {
            continue;
        }
        let Some(map) = value.as_object() else {
            return Err("a document that is not a mapping".into());
        };
        let typed = |m: &serde_json::Map<String, Value>| {
            m.get("apiVersion").is_some_and(Value::is_string)
                && m.get("kind").is_some_and(Value::is_string)
        };
        if !typed(map) {
            return Err("no apiVersion or kind".into());
        }
        let list = map
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"));
        match map.get("items").and_then(Value::as_array) {
            Some(items) if list => {
                for item in items {
                    // kubectl refuses an item it cannot type; kustomize passes it on.
                    if reader == Reader::Kubectl && !item.as_object().is_some_and(typed) {
                        return Err("a List item without apiVersion or kind".into());
                    }
                    objects.push(item.clone());
                }
            }
            _ => objects.push(value),
        }
    }
    // kubectl, and whatever applies kustomize's output, types `metadata`.
    for o in &objects {
        object_meta(o)?;
    }
    Ok(objects)
}

/// kubectl decodes `metadata` into the typed `ObjectMeta`: its names are strings and its
/// labels and annotations are maps of strings.
fn object_meta(o: &Value) -> Result<(), String> {
    let Some(meta) = o.get("metadata") else {
        return Ok(());
    };
    for key in ["name", "namespace", "generateName"] {
        if meta
            .get(key)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(format!("metadata.{key} is not a string"));
        }
    }
    for key in ["labels", "annotations"] {
        if let Some(m) = meta.get(key).and_then(Value::as_object)
            && m.values().any(|v| !v.is_string() && !v.is_null())
        {
            return Err(format!("metadata.{key} holds a value that is not a string"));
        }
    }
    Ok(())
}

/// The recorded result of one reader, as this test compares it.
fn recorded(expected: &Value) -> Result<Vec<Value>, String> {
    if let Some(e) = expected.get("error").and_then(Value::as_str) {
        return Err(e.to_owned());
    }
    Ok(expected["objects"].as_array().cloned().unwrap_or_default())
}

#[test]
fn both_readers_match_the_real_tools() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).expect("expected.json"))
            .expect("expected.json is JSON");
    let cases = expected.as_object().expect("an object of cases");
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut known_seen = 0;
    for (name, want) in cases {
        let bytes = std::fs::read(dir().join("cases").join(format!("{name}.yaml")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (reader, key) in [(Reader::Kubectl, "kubectl"), (Reader::Kyaml, "kyaml")] {
            let got = read(&bytes, reader);
            let want = recorded(&want[key]);
            let same = match (&got, &want) {
                (Err(_), Err(_)) => true,
                (Ok(a), Ok(b)) if reader == Reader::Kyaml => {
                    // `kubectl kustomize` sorts its output by kind and name.
                    let sorted = |v: &Vec<Value>| {
                        let mut s: Vec<Value> = v.iter().map(numbers_as_floats).collect();
                        s.sort_by_key(Value::to_string);
                        s
                    };
                    sorted(a) == sorted(b)
                }
                (Ok(a), Ok(b)) => {
                    let f = |v: &Vec<Value>| v.iter().map(numbers_as_floats).collect::<Vec<_>>();
                    f(a) == f(b)
                }
                _ => false,
            };
            let known = KNOWN.iter().any(|(n, r, _)| n == name && *r == reader);
            if known {
                known_seen += 1;
                assert!(!same, "{name} ({key}) now matches: remove it from KNOWN");
                continue;
            }
            if !same {
                failures.push(format!(
                    "{name} ({key}):\n  kubegate: {}\n  real:     {}",
                    show(&got),
                    show(&want)
                ));
            }
        }
    }
    assert_eq!(known_seen, KNOWN.len(), "a KNOWN case is missing");
    assert!(
        failures.is_empty(),
        "{} of {} readings differ from the real tools:\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n")
    );
}

/// Every number as a float: Go prints a float beyond `int64` without a fraction
/// (`9223372036854776000`) where Rust prints `9.223372036854776e18`; the API server reads
/// both as the same float. Integers and floats of the same value are the same JSON number.
fn numbers_as_floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n.clone()), Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn show(r: &Result<Vec<Value>, String>) -> String {
    match r {
        Ok(objects) => {
            let s = Value::Array(objects.clone()).to_string();
            if s.len() > 400 {
                format!("{}…", &s[..400])
            } else {
                s
            }
        }
        Err(e) => format!("error: {}", e.chars().take(200).collect::<String>()),
    }
}
