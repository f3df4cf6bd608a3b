//! Plain-scalar resolution as kubectl does it.
//!
//! kubectl and the API server read YAML through `sigs.k8s.io/yaml`, a go-yaml v2 fork that
//! resolves plain scalars by YAML 1.1 rules: `yes`/`no`/`on`/`off`/`y`/`n` are booleans and
//! `0644` is octal. The pure-Rust parsers resolve by YAML 1.2, so this module does it
//! itself, to see what the cluster would see.

use serde_json::{Number, Value};

/// How a plain scalar was resolved, when YAML 1.1 and 1.2 disagree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yaml11 {
    /// Both versions agree.
    Same,
    /// A YAML 1.1-only boolean (`yes`, `on`, `y`, ...).
    Bool,
    /// A YAML 1.1-only octal integer (`0644`).
    Octal,
}

/// Resolves a plain (unquoted, untagged) scalar to a JSON value.
pub fn resolve_plain(s: &str) -> (Value, Yaml11) {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return (Value::Null, Yaml11::Same),
        "true" | "True" | "TRUE" => return (Value::Bool(true), Yaml11::Same),
        "false" | "False" | "FALSE" => return (Value::Bool(false), Yaml11::Same),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return (Value::Bool(true), Yaml11::Bool);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return (Value::Bool(false), Yaml11::Bool);
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return (Value::String(s.to_owned()), Yaml11::Same);
    }
    if let Some((v, octal)) = resolve_int(s) {
        return (v, if octal { Yaml11::Octal } else { Yaml11::Same });
    }
    if let Some(v) = resolve_float(s) {
        return (v, Yaml11::Same);
    }
    (Value::String(s.to_owned()), Yaml11::Same)
}

/// Resolves a scalar with an explicit core tag (`!!int "3"`), or `None` for other tags.
pub fn resolve_tagged(s: &str, suffix: &str) -> Option<Value> {
    match suffix {
        "str" | "binary" | "timestamp" => Some(Value::String(s.to_owned())),
        "null" => Some(Value::Null),
        "bool" => match resolve_plain(s).0 {
            b @ Value::Bool(_) => Some(b),
            _ => None,
        },
        "int" => resolve_int(s).map(|(v, _)| v),
        "float" => resolve_float(s).or_else(|| resolve_int(s).map(|(v, _)| v)),
        _ => None,
    }
}

/// go-yaml v2 integers: optional sign, `_` separators, `0b`, `0x`, leading-zero octal.
fn resolve_int(s: &str) -> Option<(Value, bool)> {
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let cleaned;
    let body = if body.contains('_') {
        cleaned = body.replace('_', "");
        cleaned.as_str()
    } else {
        body
    };
    let (radix, digits, octal) = if let Some(d) = body.strip_prefix("0b") {
        (2, d, false)
    } else if let Some(d) = body.strip_prefix("0x") {
        (16, d, false)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..], true)
    } else {
        (10, body, false)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    let number = if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            Number::from((magnitude as i128).wrapping_neg() as i64)
        } else {
            return None;
        }
    } else if magnitude <= i64::MAX as u64 {
        Number::from(magnitude as i64)
    } else {
        Number::from(magnitude)
    };
    Some((Value::Number(number), octal))
}

/// go-yaml v2 floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`. Infinities and
/// NaN have no JSON form, so they stay strings (the API server rejects them anyway).
fn resolve_float(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b[0], b'-' | b'+'));
    let int_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = s.replace('_', "").parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_booleans_and_nulls() {
        for t in ["yes", "Yes", "on", "ON", "y", "true", "True"] {
            assert_eq!(resolve_plain(t).0, json!(true), "{t}");
        }
        for f in ["no", "off", "N", "false", "FALSE"] {
            assert_eq!(resolve_plain(f).0, json!(false), "{f}");
        }
        for n in ["", "~", "null", "NULL"] {
            assert_eq!(resolve_plain(n).0, Value::Null, "{n}");
        }
        assert_eq!(resolve_plain("on").1, Yaml11::Bool);
        assert_eq!(resolve_plain("true").1, Yaml11::Same);
        assert_eq!(resolve_plain("yess").0, json!("yess"));
    }

    #[test]
    fn numbers() {
        assert_eq!(resolve_plain("0644"), (json!(420), Yaml11::Octal));
        assert_eq!(resolve_plain("0755").0, json!(493));
        assert_eq!(resolve_plain("8080").0, json!(8080));
        assert_eq!(resolve_plain("-3").0, json!(-3));
        assert_eq!(resolve_plain("+3").0, json!(3));
        assert_eq!(resolve_plain("0x1F").0, json!(31));
        assert_eq!(resolve_plain("0b101").0, json!(5));
        assert_eq!(resolve_plain("1_000").0, json!(1000));
        assert_eq!(resolve_plain("0").0, json!(0));
        assert_eq!(resolve_plain("0.5").0, json!(0.5));
        assert_eq!(resolve_plain(".5").0, json!(0.5));
        assert_eq!(resolve_plain("1e3").0, json!(1000.0));
        assert_eq!(resolve_plain("08").0, json!(8.0));
        assert_eq!(resolve_plain("18446744073709551615").0, json!(u64::MAX));
        assert_eq!(resolve_plain("-9223372036854775808").0, json!(i64::MIN));
    }

    #[test]
    fn strings_that_look_numeric() {
        for s in [
            "1.2.3",
            "500m",
            "1Gi",
            "v1",
            "-",
            ".",
            "+",
            ".inf",
            ".nan",
            "1e",
            "0x",
            "12:30",
            "2024-01-01",
            "1_",
            "-.",
        ] {
            let v = resolve_plain(s).0;
            assert!(v.is_string() || s == "1_", "{s} resolved to {v}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(resolve_tagged("3", "str"), Some(json!("3")));
        assert_eq!(resolve_tagged("3", "int"), Some(json!(3)));
        assert_eq!(resolve_tagged("x", "int"), None);
        assert_eq!(resolve_tagged("on", "bool"), Some(json!(true)));
    }
}
