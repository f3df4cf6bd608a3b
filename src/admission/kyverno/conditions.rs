//! The condition operators of `preconditions` and `deny.conditions`, as
//! `pkg/engine/variables/operator` applies them to a key and a value once their variables
//! are substituted. Both sides are decoded JSON there, so every number is a `float64`;
//! lists are compared as Go prints their items (`fmt.Sprint`), with wildcards both ways.

use serde_json::Value;

use super::jmespath::json_eq;
use super::pattern::{self, Op, Quantity, go_float, parse_duration};

/// A condition operator (case-insensitive in Kyverno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    In,
    AnyIn,
    AllIn,
    NotIn,
    AnyNotIn,
    AllNotIn,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    DurationGreaterThan,
    DurationGreaterThanOrEquals,
    DurationLessThan,
    DurationLessThanOrEquals,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Operator> {
        Some(match s.to_ascii_lowercase().as_str() {
            "equal" | "equals" => Operator::Equals,
            "notequal" | "notequals" => Operator::NotEquals,
            "in" => Operator::In,
            "anyin" => Operator::AnyIn,
            "allin" => Operator::AllIn,
            "notin" => Operator::NotIn,
            "anynotin" => Operator::AnyNotIn,
            "allnotin" => Operator::AllNotIn,
            "greaterthan" => Operator::GreaterThan,
            "greaterthanorequals" => Operator::GreaterThanOrEquals,
            "lessthan" => Operator::LessThan,
            "lessthanorequals" => Operator::LessThanOrEquals,
            "durationgreaterthan" => Operator::DurationGreaterThan,
            "durationgreaterthanorequals" => Operator::DurationGreaterThanOrEquals,
            "durationlessthan" => Operator::DurationLessThan,
            "durationlessthanorequals" => Operator::DurationLessThanOrEquals,
            _ => return None,
        })
    }
}

/// `fmt.Sprint` of a decoded JSON value.
fn sprint(v: &Value) -> String {
    match v {
        Value::Number(n) => go_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => format!("[{}]", a.iter().map(sprint).collect::<Vec<_>>().join(" ")),
        other => pattern::go_fmt(other),
    }
}

fn wildcard(pattern: &str, name: &str) -> bool {
    super::glob(pattern, name)
}

/// Evaluates `key <operator> value`.
pub fn evaluate(op: Operator, key: &Value, value: &Value) -> bool {
    match op {
        Operator::Equals => equal(key, value),
        Operator::NotEquals => not_equal(key, value),
        Operator::In | Operator::NotIn => in_op(key, value, op == Operator::NotIn),
        Operator::AnyIn | Operator::AnyNotIn => any_in(key, value, op == Operator::AnyNotIn),
        Operator::AllIn | Operator::AllNotIn => all_in(key, value, op == Operator::AllNotIn),
        Operator::GreaterThan
        | Operator::GreaterThanOrEquals
        | Operator::LessThan
        | Operator::LessThanOrEquals => numeric(op, key, value),
        _ => duration_op(op, key, value),
    }
}

/// `parseDuration(key, value)`: both in seconds when at least one side is a duration
/// string (other than `"0"`) and the other a duration or a number of seconds.
fn durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let as_dur = |v: &Value| match v {
        Value::String(s) if s != "0" => parse_duration(s).map(|ns| ns / 1e9),
        _ => None,
    };
    let (k, v) = (as_dur(key), as_dur(value));
    if k.is_none() && v.is_none() {
        return None;
    }
    let secs = |d: Option<f64>, raw: &Value| d.or_else(|| raw.as_f64().map(f64::trunc));
    Some((secs(k, key)?, secs(v, value)?))
}

fn equal(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() == Some(k),
                Value::String(s) => s.parse::<f64>().is_ok_and(|f| f == k),
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a == b;
            }
            if let Some(kq) = Quantity::parse(k)
                && let Value::String(v) = value
            {
                return Quantity::parse(v).is_some_and(|vq| kq_eq(&kq, &vq));
            }
            value.as_str().is_some_and(|v| wildcard(v, k))
        }
        Value::Object(_) => value.is_object() && json_eq(key, value),
        Value::Array(_) => value.is_array() && json_eq(key, value),
        Value::Null => false,
    }
}

fn kq_eq(a: &Quantity, b: &Quantity) -> bool {
    // Equal quantities compare equal whatever their suffixes (`1Gi` and `1024Mi`).
    pattern::quantity_cmp(a, b) == std::cmp::Ordering::Equal
}

fn not_equal(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() != Some(*k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() != Some(k),
                Value::String(s) => s.parse::<f64>().ok().is_none_or(|f| f != k),
                _ => true,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a != b;
            }
            if let Some(kq) = Quantity::parse(k)
                && let Value::String(v) = value
            {
                if v.is_empty() {
                    return !wildcard(v, k);
                }
                return Quantity::parse(v).is_none_or(|vq| !kq_eq(&kq, &vq));
            }
            match value.as_str() {
                Some(v) => !wildcard(v, k),
                None => true,
            }
        }
        Value::Object(_) | Value::Array(_) => {
            if std::mem::discriminant(key) == std::mem::discriminant(value) {
                !json_eq(key, value)
            } else {
                true
            }
        }
        Value::Null => false,
    }
}

/// A key as the set operators read it: one string, or (for a list) each item printed.
enum Key {
    One(String),
    Many(Vec<String>),
}

fn key_of(key: &Value, strict_strings: bool) -> Option<Key> {
    match key {
        Value::String(s) => Some(Key::One(s.clone())),
        Value::Number(_) | Value::Bool(_) => Some(Key::One(sprint(key))),
        Value::Array(items) => {
            if strict_strings {
                // `In`/`NotIn` assert every item is a string.
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Key::Many)
            } else {
                Some(Key::Many(items.iter().map(sprint).collect()))
            }
        }
        _ => None,
    }
}

/// `json.Unmarshal` of a string into `[]string`.
fn string_list(s: &str) -> Option<Vec<String>> {
    match serde_json::from_str::<Value>(s).ok()? {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// The list of a string value for `AnyIn`/`AllIn`: JSON when it is JSON, else itself.
fn string_or_list(s: &str) -> Option<Vec<String>> {
    if serde_json::from_str::<Value>(s).is_ok() {
        string_list(s)
    } else {
        Some(vec![s.to_owned()])
    }
}

fn in_range(key: &str, range: &str) -> bool {
    pattern::leaf(
        &Value::String(key.to_owned()),
        &Value::String(range.to_owned()),
    )
}

fn either_way(a: &str, b: &str) -> bool {
    wildcard(a, b) || wildcard(b, a)
}

/// `In` and `NotIn` (deprecated): an invalid value type is `false` for both.
fn in_op(key: &Value, value: &Value, not: bool) -> bool {
    match key_of(key, true) {
        Some(Key::One(k)) => {
            let exists = match value {
                Value::Array(items) => Some(items.iter().any(|v| either_way(&sprint(v), &k))),
                Value::String(s) => {
                    if wildcard(s, &k) {
                        Some(true)
                    } else {
                        string_list(s).map(|arr| arr.contains(&k))
                    }
                }
                _ => None,
            };
            match exists {
                Some(e) => e != not,
                None => false,
            }
        }
        Some(Key::Many(keys)) => {
            let set: Option<Vec<String>> = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Value::String(s) => {
                    if keys.len() == 1 && keys[0] == *s {
                        return true;
                    }
                    string_list(s)
                }
                _ => None,
            };
            let Some(set) = set else { return false };
            if not {
                keys.iter().any(|k| !set.contains(k))
            } else {
                keys.iter().all(|k| set.contains(k))
            }
        }
        None => false,
    }
}

/// `AnyIn`/`AllIn` (and their negations) of one key: Kyverno's `keyExistsInArray`, the
/// same for both. An invalid value type is `false`.
fn key_exists_in(k: &str, value: &Value, not: bool) -> bool {
    let exists = match value {
        Value::Array(items) => Some(items.iter().any(|v| either_way(&sprint(v), k))),
        Value::String(s) => {
            if wildcard(s, k) {
                Some(true)
            } else if pattern::operator_of(s) == Op::InRange {
                Some(in_range(k, s))
            } else {
                string_or_list(s).map(|arr| arr.iter().any(|a| a == k))
            }
        }
        _ => None,
    };
    exists.is_some_and(|e| e != not)
}

fn any_in(key: &Value, value: &Value, not: bool) -> bool {
    match key_of(key, false) {
        Some(Key::One(k)) => key_exists_in(&k, value, not),
        Some(Key::Many(keys)) => {
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().map(sprint).collect(),
                Value::Number(_) | Value::Bool(_) => vec![sprint(value)],
                Value::String(s) => {
                    if keys.len() == 1 && keys[0] == *s {
                        return !not;
                    }
                    if pattern::operator_of(s) == Op::InRange {
                        return if not {
                            let outside = s.replacen('-', "!-", 1);
                            keys.iter().any(|k| in_range(k, &outside))
                        } else {
                            keys.iter().any(|k| in_range(k, s))
                        };
                    }
                    match string_or_list(s) {
                        Some(v) => v,
                        None => return false,
                    }
                }
                _ => return false,
            };
            let found = |k: &String| values.iter().any(|v| either_way(k, v));
            if not {
                keys.iter().any(|k| !found(k))
            } else {
                keys.iter().any(found)
            }
        }
        None => false,
    }
}

fn all_in(key: &Value, value: &Value, not: bool) -> bool {
    match key_of(key, false) {
        Some(Key::One(k)) => key_exists_in(&k, value, not),
        Some(Key::Many(keys)) => {
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().map(sprint).collect(),
                Value::String(s) => {
                    if keys.len() == 1 && keys[0] == *s {
                        return !not;
                    }
                    if pattern::operator_of(s) == Op::InRange {
                        return if not {
                            !keys.iter().any(|k| in_range(k, s))
                        } else {
                            keys.iter().all(|k| in_range(k, s))
                        };
                    }
                    match string_or_list(s) {
                        Some(v) => v,
                        None => return false,
                    }
                }
                _ => return false,
            };
            let found = |k: &String| values.iter().any(|v| either_way(k, v));
            if not {
                !keys.iter().any(found)
            } else {
                keys.iter().all(found)
            }
        }
        None => false,
    }
}

fn by_condition(op: Operator, k: f64, v: f64) -> bool {
    match op {
        Operator::GreaterThan | Operator::DurationGreaterThan => k > v,
        Operator::GreaterThanOrEquals | Operator::DurationGreaterThanOrEquals => k >= v,
        Operator::LessThan | Operator::DurationLessThan => k < v,
        _ => k <= v,
    }
}

fn numeric_with_number(op: Operator, k: f64, value: &Value) -> bool {
    match value {
        Value::Number(v) => by_condition(op, k, v.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => {
            if let Some((a, b)) = durations(&Value::from(k), value) {
                return by_condition(op, a, b);
            }
            s.parse::<f64>().is_ok_and(|v| by_condition(op, k, v))
        }
        _ => false,
    }
}

fn numeric(op: Operator, key: &Value, value: &Value) -> bool {
    match key {
        Value::Number(k) => numeric_with_number(op, k.as_f64().unwrap_or(f64::NAN), value),
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return by_condition(op, a, b);
            }
            if let (Some(kq), Some(vq)) =
                (Quantity::parse(k), value.as_str().and_then(Quantity::parse))
            {
                let ord = pattern::quantity_cmp(&kq, &vq) as i8;
                return by_condition(op, f64::from(ord), 0.0);
            }
            if let Ok(f) = k.parse::<f64>() {
                return numeric_with_number(op, f, value);
            }
            if let (Some(kv), Some(vv)) = (semver(k), value.as_str().and_then(semver)) {
                let ord = kv.cmp(&vv) as i8;
                return by_condition(op, f64::from(ord), 0.0);
            }
            false
        }
        _ => false,
    }
}

/// A strict semantic version (`1.2.3`, `1.2.3-rc.1`), as blang/semver parses it; the
/// pre-release sorts before the release.
fn semver(s: &str) -> Option<(u64, u64, u64, bool, String)> {
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let mut parts = core.split('.');
    let mut n = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        p.parse().ok()
    };
    let (a, b, c) = (n()?, n()?, n()?);
    if parts.next().is_some() {
        return None;
    }
    Some((a, b, c, pre.is_none(), pre.unwrap_or("").to_owned()))
}

fn duration_op(op: Operator, key: &Value, value: &Value) -> bool {
    let secs = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64().map(f64::trunc),
            Value::String(s) => parse_duration(s).map(|ns| ns / 1e9),
            _ => None,
        }
    };
    match (key, secs(key), secs(value)) {
        (Value::Number(_) | Value::String(_), Some(k), Some(v)) => by_condition(op, k, v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(op: &str, key: Value, value: Value) -> bool {
        evaluate(
            Operator::parse(op).unwrap_or(Operator::Equals),
            &key,
            &value,
        )
    }

    #[test]
    fn every_operator_parses_case_insensitively() {
        for op in [
            "Equals",
            "equal",
            "NotEquals",
            "NotEqual",
            "In",
            "AnyIn",
            "AllIn",
            "NotIn",
            "AnyNotIn",
            "AllNotIn",
            "GreaterThan",
            "GreaterThanOrEquals",
            "LessThan",
            "LessThanOrEquals",
            "DurationGreaterThan",
            "DurationGreaterThanOrEquals",
            "DurationLessThan",
            "durationlessthanorequals",
        ] {
            assert!(Operator::parse(op).is_some(), "{op}");
        }
        assert!(Operator::parse("Matches").is_none());
    }

    #[test]
    fn equals_uses_wildcards_quantities_and_durations() {
        assert!(ev("Equals", json!("nginx:1"), json!("nginx:*")));
        assert!(!ev("Equals", json!("nginx:1"), json!("busybox*")));
        assert!(ev("Equals", json!("1Gi"), json!("1024Mi")));
        assert!(ev("Equals", json!("1h"), json!("60m")));
        assert!(ev("Equals", json!(3), json!("3")));
        assert!(ev("Equals", json!(true), json!(true)));
        assert!(!ev("Equals", json!(null), json!(null)));
        assert!(ev("Equals", json!({"a": 1}), json!({"a": 1.0})));
        assert!(ev("NotEquals", json!("CREATE"), json!("DELETE")));
        assert!(!ev("NotEquals", json!("DELETE"), json!("DELETE")));
        assert!(ev("NotEquals", json!(true), json!("x")));
    }

    #[test]
    fn set_operators_follow_kyverno() {
        assert!(ev(
            "AnyIn",
            json!("batch/v1beta1"),
            json!(["batch/v1beta1", "policy/v1beta1"])
        ));
        assert!(!ev("AnyIn", json!("batch/v1"), json!(["batch/v1beta1"])));
        assert!(ev(
            "AnyNotIn",
            json!(["SYS_ADMIN", "CHOWN"]),
            json!(["CHOWN", "KILL"])
        ));
        assert!(!ev("AnyNotIn", json!(["CHOWN"]), json!(["CHOWN", "KILL"])));
        assert!(!ev("AnyNotIn", json!([]), json!(["CHOWN"])));
        assert!(ev("AllIn", json!(["a", "b"]), json!(["a", "b", "c"])));
        assert!(!ev("AllIn", json!(["a", "d"]), json!(["a", "b", "c"])));
        assert!(ev(
            "AllNotIn",
            json!("livenessProbe"),
            json!(["name", "image"])
        ));
        assert!(!ev("AllNotIn", json!("name"), json!(["name", "image"])));
        assert!(ev("AnyNotIn", json!([7000.0]), json!("5000-6000")));
        assert!(!ev("AnyNotIn", json!([5500.0]), json!("5000-6000")));
        assert!(ev("AnyIn", json!("prod-1"), json!(["prod-*"])));
        assert!(ev("In", json!("a"), json!(["a", "b"])));
        assert!(ev("NotIn", json!("c"), json!(["a", "b"])));
        assert!(!ev("NotIn", json!("a"), json!(["a", "b"])));
        assert!(ev("In", json!(["a"]), json!(["a", "b"])));
        assert!(!ev("In", json!([1]), json!(["1"])));
    }

    #[test]
    fn numeric_operators_compare_numbers_quantities_durations_versions() {
        assert!(ev("GreaterThan", json!(5), json!(3)));
        assert!(ev("GreaterThan", json!("5"), json!(3)));
        assert!(ev("LessThanOrEquals", json!("512Mi"), json!("1Gi")));
        assert!(ev("GreaterThanOrEquals", json!("2h"), json!("90m")));
        assert!(ev("LessThan", json!("1.2.3"), json!("1.10.0")));
        assert!(!ev("GreaterThan", json!(true), json!(1)));
        assert!(ev("DurationGreaterThan", json!("2h"), json!(3600)));
        assert!(!ev("DurationLessThan", json!("2h"), json!("1h")));
    }
}
