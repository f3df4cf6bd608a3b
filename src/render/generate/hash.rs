//! The name suffix kustomize gives generated ConfigMaps and Secrets (KZ:`api/hasher/hasher.go`).
//!
//! kustomize hashes a small JSON document made of some fields of the final object:
//!
//! - ConfigMap: `{"data":D,"kind":"ConfigMap","name":""}`, plus `"binaryData":B` when
//!   `binaryData` is a mapping;
//! - Secret: `{"data":D,"kind":"Secret","name":"","type":T}`, plus `"stringData":S` when
//!   `stringData` is a mapping.
//!
//! A field is looked up with kyaml's `Lookup`: missing gives `""`, a scalar gives its text,
//! a mapping goes through JSON (`map[string]interface{}`, so numbers inside become `float64`).
//! `"name"` is always `""`: the hasher looks up the single key `metadata/name`, which no object
//! has, so neither the name nor anything else in `metadata` changes the hash.
//!
//! The document is written as Go's `json.Marshal` writes it: keys sorted by bytes, no spaces,
//! `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`..., control characters as `\n`, `\b`,
//! `\f`... or `\u00XX`, everything else raw UTF-8. The suffix is the first 10 hexadecimal
//! digits of its SHA-256, with `0 1 3 a e` written `g h k m t` (no vowels, no words).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The suffix kustomize appends (after `-`) to the name of a generated ConfigMap or Secret
/// whose final content is `object`; `None` for other kinds (kustomize hashes those
/// differently, and only generators ask for a hash).
pub fn hash_suffix(object: &Value) -> Option<String> {
    let kind = object.get("kind")?.as_str()?;
    let mut doc: Vec<(&str, Field)> = vec![
        ("kind", Field::Text(kind.to_owned())),
        ("name", Field::Text(String::new())),
        ("data", lookup(object.get("data"))),
    ];
    let extra = match kind {
        "ConfigMap" => "binaryData",
        "Secret" => {
            doc.push(("type", lookup(object.get("type"))));
            "stringData"
        }
        _ => return None,
    };
    match lookup(object.get(extra)) {
        f @ (Field::Map(_) | Field::NilMap) => doc.push((extra, f)),
        Field::Text(_) => {}
    }
    doc.sort_by(|a, b| a.0.cmp(b.0));
    let mut json = String::from("{");
    for (i, (key, field)) in doc.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write_string(&mut json, key);
        json.push(':');
        match field {
            Field::Text(s) => write_string(&mut json, s),
            Field::Map(m) => write_map(&mut json, m),
            Field::NilMap => json.push_str("null"),
        }
    }
    json.push('}');
    Some(encode(&Sha256::digest(json.as_bytes())))
}

/// What kustomize's `getNodeValues` makes of one field.
enum Field<'a> {
    /// Missing (`""`) or a scalar (its text).
    Text(String),
    Map(&'a Map<String, Value>),
    /// A list: its JSON does not decode into a map, leaving a nil map, written `null`.
    NilMap,
}

fn lookup(value: Option<&Value>) -> Field<'_> {
    match value {
        None => Field::Text(String::new()),
        Some(Value::Object(m)) => Field::Map(m),
        Some(Value::Array(_)) => Field::NilMap,
        // The node's text: the reader no longer has it for null (`null`, `~` or nothing) or
        // numbers written in another form (`0x1F`); the canonical text stands in.
        Some(Value::Null) => Field::Text("null".into()),
        Some(Value::Bool(b)) => Field::Text(b.to_string()),
        Some(Value::Number(n)) => Field::Text(n.to_string()),
        Some(Value::String(s)) => Field::Text(s.clone()),
    }
}

/// The first 10 hex digits, with kubectl's substitutions.
fn encode(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    digest
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .take(10)
        .map(|c| match c {
            b'0' => 'g',
            b'1' => 'h',
            b'3' => 'k',
            b'a' => 'm',
            b'e' => 't',
            c => char::from(c),
        })
        .collect()
}

fn write_map(out: &mut String, map: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_float(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(m) => write_map(out, m),
    }
}

/// A number inside a mapping went through `float64`; Go writes the shortest decimal that
/// reads back, in exponent form below 1e-6 and from 1e21 (`1e+21`, `1e-7`).
fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.push_str(mantissa);
        out.push('e');
        if !exp.starts_with('-') {
            out.push('+');
        }
        out.push_str(exp);
    } else {
        out.push_str(&format!("{f}"));
    }
}

/// A JSON string as Go's `encoding/json` writes it (with `SetEscapeHTML(true)`, the default).
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configmap_hashes_match_kustomize() {
        // Recorded with kubectl 1.35.2 (kustomize v5.7.1): `literals: [A=1]` → cm-89g4tffbfk.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "labels": {"x": "y"}}, "data": {"A": "1"}});
        assert_eq!(hash_suffix(&cm).unwrap(), "89g4tffbfk");
    }

    #[test]
    fn strings_are_escaped_as_go_does() {
        let mut s = String::new();
        write_string(&mut s, "<a&b>\u{2028}\u{2029}\u{1}\u{8}\u{c}\t\"\\é\u{7f}");
        assert_eq!(
            s,
            r#""\u003ca\u0026b\u003e\u2028\u2029\u0001\b\f\t\"\\é"#.to_owned() + "\u{7f}\""
        );
    }

    #[test]
    fn numbers_in_maps_are_written_as_go_float64() {
        let mut s = String::new();
        for f in [
            1.0,
            1.5,
            1e20,
            1e21,
            1.5e-7,
            0.000001,
            -0.0,
            12345678901234567890.0,
        ] {
            write_float(&mut s, f);
            s.push(' ');
        }
        assert_eq!(
            s,
            "1 1.5 100000000000000000000 1e+21 1.5e-7 0.000001 -0 12345678901234567000 "
        );
    }

    #[test]
    fn other_kinds_have_no_suffix() {
        assert_eq!(hash_suffix(&json!({"kind": "Deployment"})), None);
        assert_eq!(hash_suffix(&json!({"data": {}})), None);
    }
}
