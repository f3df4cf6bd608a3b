//! Kyverno's `pattern` language, as `pkg/engine/validate` (the walk and its anchors),
//! `pkg/engine/anchor` and `pkg/engine/pattern` (the leaves) run it.
//!
//! The walk keeps Kyverno's quirks, because the verdicts must be the kyverno CLI's:
//! anchors of a mapping are handled before its plain keys, in the byte order of their keys;
//! a conditional or global anchor that does not hold makes its mapping "skipped" (and the
//! rule skipped when nothing above applies); a list of mappings passes when each element
//! passes or is skipped and at least one is not skipped; only the first element of a
//! pattern list is read; a scalar pattern against a list checks every element. Error
//! kinds are told apart as Kyverno does, by type and, for wrapped errors, by the text they
//! carry.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;

use serde_json::{Map, Value};

static NULL: Value = Value::Null;

const CONDITIONAL: &str = "conditional anchor mismatch";
const GLOBAL: &str = "global anchor mismatch";
const NEGATION: &str = "negation anchor matched in resource";

/// The anchor of a pattern key: `(k)`, `=(k)`, `^(k)`, `X(k)`, `<(k)`, `+(k)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Condition,
    Global,
    Negation,
    AddIfNotPresent,
    Equality,
    Existence,
}

/// The anchor of a key and the key inside it, as `anchor.Parse` reads it.
pub fn parse_anchor(key: &str) -> Option<(Anchor, &str)> {
    let k = key.trim();
    let (anchor, rest) = match k.chars().next()? {
        '(' => (Anchor::Condition, k),
        '<' => (Anchor::Global, &k[1..]),
        'X' => (Anchor::Negation, &k[1..]),
        '+' => (Anchor::AddIfNotPresent, &k[1..]),
        '=' => (Anchor::Equality, &k[1..]),
        '^' => (Anchor::Existence, &k[1..]),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some((anchor, inner))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A plain `fmt.Errorf`.
    Plain,
    Conditional,
    Global,
    Negation,
    /// A `*PatternError` with `Skip` (the combined skip errors of a mapping or list).
    PatternSkip,
}

#[derive(Debug, Clone)]
struct Err {
    kind: Kind,
    msg: String,
    /// The path returned with the error; `None` is Go's `""`.
    path: Option<Vec<String>>,
}

impl Err {
    fn new(kind: Kind, path: Option<&[String]>, msg: String) -> Box<Err> {
        Box::new(Err {
            kind,
            msg,
            path: path.map(<[String]>::to_vec),
        })
    }

    /// `anchor.IsConditionalAnchorError || anchor.IsGlobalAnchorError`.
    fn is_skip(&self) -> bool {
        match self.kind {
            Kind::Conditional | Kind::Global => true,
            Kind::Negation => false,
            Kind::Plain | Kind::PatternSkip => {
                self.msg.contains(CONDITIONAL) || self.msg.contains(GLOBAL)
            }
        }
    }

    /// `anchor.IsNegationAnchorError`.
    fn is_negation(&self) -> bool {
        match self.kind {
            Kind::Negation => true,
            Kind::Conditional | Kind::Global => false,
            Kind::Plain | Kind::PatternSkip => self.msg.contains(NEGATION),
        }
    }
}

type Res = Result<(), Box<Err>>;

/// Why a pattern did not match (`validate.PatternError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub message: String,
    /// The fields down to the mismatch (anchors removed); `None` when Kyverno reports no
    /// path (an execution error rather than a failure).
    pub path: Option<Vec<String>>,
    /// The rule is skipped (a conditional or global anchor did not hold), not failed.
    pub skip: bool,
}

/// The path as Kyverno prints it: `/spec/containers/0/image/`.
pub fn kyverno_path(segs: &[String]) -> String {
    let mut s = String::from("/");
    for seg in segs {
        s.push_str(seg);
        s.push('/');
    }
    s
}

/// `validate.MatchPattern`: whether `resource` matches `pattern`.
pub fn match_pattern(resource: &Value, pattern: &Value) -> Result<(), Mismatch> {
    let mut ac = AnchorMap::default();
    let mut path = Vec::new();
    let Err(e) = element(resource, pattern, &mut path, &mut ac) else {
        return Ok(());
    };
    if e.is_skip() {
        return Err(Mismatch {
            message: e.msg,
            path: None,
            skip: true,
        });
    }
    let path = if !e.is_negation() && ac.keys_are_missing() {
        None
    } else {
        e.path
    };
    Err(Mismatch {
        message: e.msg,
        path,
        skip: false,
    })
}

/// Which condition and existence anchor keys were ever found in the resource.
#[derive(Default)]
struct AnchorMap(HashMap<String, bool>);

impl AnchorMap {
    fn check(&mut self, pattern: &Map<String, Value>, resource: &Map<String, Value>) {
        for key in pattern.keys() {
            let Some((a, inner)) = parse_anchor(key) else {
                continue;
            };
            if matches!(a, Anchor::Condition | Anchor::Existence | Anchor::Negation) {
                let seen = self.0.entry(key.clone()).or_insert(false);
                if !*seen && resource.contains_key(inner) {
                    *seen = true;
                }
            }
        }
    }

    fn keys_are_missing(&self) -> bool {
        self.0
            .iter()
            .any(|(k, seen)| !seen && !matches!(parse_anchor(k), Some((Anchor::Negation, _))))
    }
}

fn element(resource: &Value, pattern: &Value, path: &mut Vec<String>, ac: &mut AnchorMap) -> Res {
    match pattern {
        Value::Object(pm) => {
            let Value::Object(rm) = resource else {
                return Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!(
                        "pattern and resource have different structures. Path: {}. Expected {}, found {}",
                        kyverno_path(path),
                        go_type(pattern),
                        go_type(resource)
                    ),
                ));
            };
            ac.check(pm, rm);
            map(rm, pm, path, ac)
        }
        Value::Array(pa) => {
            let Value::Array(ra) = resource else {
                return Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!(
                        "validation rule failed at path {}, resource does not satisfy the expected overlay pattern",
                        kyverno_path(path)
                    ),
                ));
            };
            array(ra, pa, path, ac)
        }
        _ => {
            let ok = match resource {
                Value::Array(items) => items.iter().all(|r| leaf(r, pattern)),
                r => leaf(r, pattern),
            };
            if ok {
                Ok(())
            } else {
                Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!(
                        "resource value '{}' does not match '{}' at path {}",
                        go_fmt(resource),
                        go_fmt(pattern),
                        kyverno_path(path)
                    ),
                ))
            }
        }
    }
}

fn map(
    rm: &Map<String, Value>,
    pm: &Map<String, Value>,
    path: &mut Vec<String>,
    ac: &mut AnchorMap,
) -> Res {
    let pm = expand_in_metadata(pm, rm);
    let mut anchors: Vec<(&String, &Value)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in pm.iter() {
        match parse_anchor(k) {
            Some((
                Anchor::Condition | Anchor::Existence | Anchor::Equality | Anchor::Negation,
                _,
            )) => anchors.push((k, v)),
            _ => plain.push((k, v)),
        }
    }
    anchors.sort_by(|a, b| a.0.cmp(b.0));
    let mut skips: Vec<Box<Err>> = Vec::new();
    let mut applied = 0;
    for (k, v) in anchors {
        match handle(k, v, rm, path, ac) {
            Ok(()) => applied += 1,
            Err(e) if e.is_skip() => skips.push(e),
            Err(e) => {
                if !skips.iter().any(|s| s.kind != Kind::PatternSkip) {
                    return Err(e);
                }
            }
        }
    }
    if !skips.is_empty() && (applied == 0 || skips.iter().any(|s| s.kind != Kind::PatternSkip)) {
        return Err(skipped(&skips, path));
    }
    // `getSortedNestedAnchorResource`: sorted keys, those holding anchors (and global
    // anchors) pushed to the front, which reverses their order.
    plain.sort_by(|a, b| a.0.cmp(b.0));
    let mut order: VecDeque<(&String, &Value)> = VecDeque::new();
    for (k, v) in plain {
        let global = matches!(parse_anchor(k), Some((Anchor::Global, _)));
        if global || has_nested_anchors(v) {
            order.push_front((k, v));
        } else {
            order.push_back((k, v));
        }
    }
    for (k, v) in order {
        handle(k, v, rm, path, ac)?;
    }
    Ok(())
}

fn has_nested_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            matches!(
                parse_anchor(k),
                Some((
                    Anchor::Condition
                        | Anchor::Existence
                        | Anchor::Equality
                        | Anchor::Negation
                        | Anchor::Global,
                    _
                ))
            ) || has_nested_anchors(v)
        }),
        Value::Array(a) => a.iter().any(has_nested_anchors),
        _ => false,
    }
}

/// One key of a pattern mapping (`anchor.CreateElementHandler` and its handlers).
fn handle(
    key: &str,
    pattern: &Value,
    rm: &Map<String, Value>,
    path: &mut Vec<String>,
    ac: &mut AnchorMap,
) -> Res {
    let anchor = parse_anchor(key).filter(|(a, _)| *a != Anchor::AddIfNotPresent);
    let Some((anchor, inner)) = anchor else {
        // The default handler: a plain key (or `+(k)`, which validation reads as a key).
        if pattern.as_str() == Some("*") {
            return match rm.get(key) {
                Some(v) if !v.is_null() => Ok(()),
                _ => Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!("{}/{} not found", kyverno_path(path), key),
                )),
            };
        }
        path.push(key.to_owned());
        let r = element(rm.get(key).unwrap_or(&NULL), pattern, path, ac);
        path.pop();
        return r;
    };
    path.push(inner.to_owned());
    let r = anchored(anchor, inner, pattern, rm, path, ac);
    path.pop();
    r
}

/// An anchored key, `path` already ending with its field.
fn anchored(
    anchor: Anchor,
    inner: &str,
    pattern: &Value,
    rm: &Map<String, Value>,
    path: &mut Vec<String>,
    ac: &mut AnchorMap,
) -> Res {
    let value = rm.get(inner);
    match anchor {
        Anchor::Negation => match value {
            Some(_) => Err(Err::new(
                Kind::Negation,
                Some(path),
                format!("{NEGATION}: {} is not allowed", kyverno_path(path)),
            )),
            None => Ok(()),
        },
        Anchor::Equality => match value {
            Some(v) => element(v, pattern, path, ac),
            None => Ok(()),
        },
        Anchor::Condition => match value {
            Some(v) => element(v, pattern, path, ac).map_err(|e| {
                Box::new(Err {
                    kind: Kind::Conditional,
                    msg: format!("{CONDITIONAL}: {}", e.msg),
                    path: e.path,
                })
            }),
            None => Err(Err::new(
                Kind::Conditional,
                Some(path),
                format!("{CONDITIONAL}: conditional anchor key doesn't exist in the resource"),
            )),
        },
        Anchor::Global => match value {
            Some(v) => element(v, pattern, path, ac).map_err(|e| {
                Box::new(Err {
                    kind: Kind::Global,
                    msg: format!("{GLOBAL}: {}", e.msg),
                    path: e.path,
                })
            }),
            None => Ok(()),
        },
        Anchor::Existence => {
            let Some(v) = value else { return Ok(()) };
            let Value::Array(items) = v else {
                return Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!(
                        "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                        go_type(v)
                    ),
                ));
            };
            let Value::Array(patterns) = pattern else {
                return Err(Err::new(
                    Kind::Plain,
                    Some(path),
                    format!(
                        "invalid pattern type {}: Pattern has to be of list to compare against resource",
                        go_type(pattern)
                    ),
                ));
            };
            for p in patterns {
                if !p.is_object() {
                    return Err(Err::new(
                        Kind::Plain,
                        Some(path),
                        format!(
                            "invalid pattern type {}: Pattern has to be of type map to compare against items in resource",
                            go_type(pattern)
                        ),
                    ));
                }
                let mut found = false;
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    let r = element(item, p, path, ac);
                    path.pop();
                    if r.is_ok() {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Err(Err::new(
                        Kind::Plain,
                        Some(path),
                        format!(
                            "existence anchor validation failed at path {}",
                            kyverno_path(path)
                        ),
                    ));
                }
            }
            Ok(())
        }
        Anchor::AddIfNotPresent => Ok(()),
    }
}

/// Each (resource item, pattern item) pair, at its index: the first failure is the answer;
/// when none applied and some skipped, one skip says them all.
fn pairs<'v>(
    items: impl Iterator<Item = (&'v Value, &'v Value)>,
    path: &mut Vec<String>,
    ac: &mut AnchorMap,
) -> Res {
    let mut skips = Vec::new();
    let mut applied = 0;
    for (i, (item, p)) in items.enumerate() {
        path.push(i.to_string());
        let r = element(item, p, path, ac);
        path.pop();
        match r {
            Ok(()) => applied += 1,
            Err(e) if e.is_skip() => skips.push(e),
            Err(e) => return Err(e),
        }
    }
    if applied == 0 && !skips.is_empty() {
        return Err(skipped(&skips, path));
    }
    Ok(())
}

/// One skip for the `skips` of the elements or fields under `path`, their messages joined.
fn skipped(skips: &[Box<Err>], path: &[String]) -> Box<Err> {
    let msg = skips
        .iter()
        .map(|s| s.msg.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Err::new(Kind::PatternSkip, Some(path), msg)
}

fn array(ra: &[Value], pa: &[Value], path: &mut Vec<String>, ac: &mut AnchorMap) -> Res {
    let Some(first) = pa.first() else {
        return Err(Err::new(
            Kind::Plain,
            Some(path),
            "pattern Array empty".into(),
        ));
    };
    match first {
        Value::Object(_) => pairs(ra.iter().map(|item| (item, first)), path, ac),
        Value::Array(_) => {
            if ra.len() < pa.len() {
                return Err(Err::new(
                    Kind::Plain,
                    None,
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        ra.len(),
                        pa.len()
                    ),
                ));
            }
            pairs(ra.iter().zip(pa), path, ac)
        }
        scalar => {
            let items = Value::Array(ra.to_vec());
            element(&items, scalar, path, ac)
        }
    }
}

/// `wildcards.ExpandInMetadata`: a wildcard key of `metadata.labels` or
/// `metadata.annotations` in the pattern becomes the resource key it matches (and only the
/// string values of those two mappings are kept, as Kyverno rebuilds them).
fn expand_in_metadata<'p>(
    pm: &'p Map<String, Value>,
    rm: &Map<String, Value>,
) -> Cow<'p, Map<String, Value>> {
    let Some((meta_key, Value::Object(meta))) = pm
        .iter()
        .find(|(k, _)| *k == "metadata" || parse_anchor(k).is_some_and(|(_, i)| i == "metadata"))
    else {
        return Cow::Borrowed(pm);
    };
    let Some(Value::Object(rmeta)) = rm.get("metadata") else {
        return Cow::Borrowed(pm);
    };
    let mut new_meta = meta.clone();
    let mut changed = false;
    for tag in ["labels", "annotations"] {
        let Some((pkey, Value::Object(pdata))) = meta
            .iter()
            .find(|(k, _)| *k == tag || parse_anchor(k).is_some_and(|(_, i)| i == tag))
        else {
            continue;
        };
        let Some(Value::Object(rdata)) = rmeta
            .iter()
            .find(|(k, _)| *k == tag || parse_anchor(k).is_some_and(|(_, i)| i == tag))
            .map(|(_, v)| v)
        else {
            continue;
        };
        let mut out = Map::new();
        for (k, v) in pdata {
            let Value::String(_) = v else { continue };
            let has_wildcard = k.contains(['*', '?']);
            let new_key = if !has_wildcard {
                k.clone()
            } else if let Some((a, inner)) = parse_anchor(k) {
                let m = rdata
                    .keys()
                    .find(|rk| super::glob(inner, rk))
                    .map_or(inner, |s| s.as_str());
                anchor_string(a, m)
            } else {
                rdata
                    .keys()
                    .find(|rk| super::glob(k, rk))
                    .cloned()
                    .unwrap_or_else(|| k.clone())
            };
            out.insert(new_key, v.clone());
        }
        new_meta.insert(pkey.clone(), Value::Object(out));
        changed = true;
    }
    if !changed {
        return Cow::Borrowed(pm);
    }
    let mut new = pm.clone();
    new.insert(meta_key.clone(), Value::Object(new_meta));
    Cow::Owned(new)
}

fn anchor_string(a: Anchor, key: &str) -> String {
    let m = match a {
        Anchor::Condition => "",
        Anchor::Global => "<",
        Anchor::Negation => "X",
        Anchor::AddIfNotPresent => "+",
        Anchor::Equality => "=",
        Anchor::Existence => "^",
    };
    format!("{m}({key})")
}

/// The deepest nesting of a pattern (bounded when a policy is loaded).
pub fn depth(v: &Value) -> usize {
    fn go(v: &Value, d: usize) -> usize {
        if d > 200 {
            return d;
        }
        match v {
            Value::Object(m) => m.values().map(|v| go(v, d + 1)).max().unwrap_or(d + 1),
            Value::Array(a) => a.iter().map(|v| go(v, d + 1)).max().unwrap_or(d + 1),
            _ => d,
        }
    }
    go(v, 0)
}

// ---------------------------------------------------------------------------------------
// Leaves (`pkg/engine/pattern`)

/// A number as Go holds it: the resource's integers are `int64` (unstructured), the
/// policy's numbers `float64` (JSON).
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn resource_num(n: &serde_json::Number) -> Num {
    match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `pattern.Validate`: whether a resource value matches a pattern leaf.
pub fn leaf(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(p) => value.as_bool() == Some(*p),
        Value::Number(p) => {
            let p = p.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(n) => match resource_num(n) {
                    Num::Int(i) => p == p.trunc() && p as i64 == i,
                    Num::Float(f) => f == p,
                },
                Value::String(s) => s.parse::<f64>().is_ok_and(|f| f == p),
                _ => false,
            }
        }
        Value::Null => match value {
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Null => true,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::String(p) => string_patterns(value, p),
        Value::Array(_) => false,
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| {
        alt.trim_matches(' ')
            .split('&')
            .all(|c| string_pattern(value, c.trim_matches(' ')))
    })
}

/// `operator.Operator`: the comparison a leaf starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    MoreEqual,
    LessEqual,
    NotEqual,
    More,
    Less,
    InRange,
    NotInRange,
}

impl Op {
    fn len(self) -> usize {
        match self {
            Op::MoreEqual | Op::LessEqual => 2,
            Op::NotEqual | Op::More | Op::Less => 1,
            _ => 0,
        }
    }
}

static IN_RANGE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)$").ok()
});
static NOT_IN_RANGE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)$").ok()
});

fn range_parts<'a>(re: &LazyLock<Option<regex::Regex>>, s: &'a str) -> Option<(&'a str, &'a str)> {
    let c = re.as_ref()?.captures(s)?;
    Some((c.get(1)?.as_str(), c.get(2)?.as_str()))
}

/// `operator.GetOperatorFromStringPattern`.
pub fn operator_of(pattern: &str) -> Op {
    if pattern.len() < 2 {
        return Op::Equal;
    }
    if pattern.starts_with(">=") {
        Op::MoreEqual
    } else if pattern.starts_with("<=") {
        Op::LessEqual
    } else if pattern.starts_with('>') {
        Op::More
    } else if pattern.starts_with('<') {
        Op::Less
    } else if pattern.starts_with('!') {
        Op::NotEqual
    } else if range_parts(&NOT_IN_RANGE, pattern).is_some() {
        Op::NotInRange
    } else if range_parts(&IN_RANGE, pattern).is_some() {
        Op::InRange
    } else {
        Op::Equal
    }
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    match operator_of(pattern) {
        Op::InRange => range_parts(&IN_RANGE, pattern).is_some_and(|(l, r)| {
            string_pattern(value, &format!(">= {l}")) && string_pattern(value, &format!("<= {r}"))
        }),
        Op::NotInRange => range_parts(&NOT_IN_RANGE, pattern).is_some_and(|(l, r)| {
            string_pattern(value, &format!("< {l}")) || string_pattern(value, &format!("> {r}"))
        }),
        op => {
            let rest = pattern.get(op.len()..).unwrap_or("").trim();
            compare(value, rest, op)
        }
    }
}

fn compare(value: &Value, pattern: &str, op: Op) -> bool {
    if let Some(r) = compare_duration(value, pattern, op) {
        return r;
    }
    if let Some(r) = compare_quantity(value, pattern, op) {
        return r;
    }
    compare_string(value, pattern, op)
}

/// `convertNumberToString`.
fn number_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match resource_num(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => format!("{f:.6}"),
        }),
        _ => None,
    }
}

fn ordered<T: PartialOrd>(a: T, b: T, op: Op) -> Option<bool> {
    Some(match op {
        Op::Equal => a == b,
        Op::NotEqual => a != b,
        Op::More => a > b,
        Op::Less => a < b,
        Op::MoreEqual => a >= b,
        Op::LessEqual => a <= b,
        Op::InRange | Op::NotInRange => return None,
    })
}

fn compare_duration(value: &Value, pattern: &str, op: Op) -> Option<bool> {
    let p = parse_duration(pattern)?;
    let v = parse_duration(&number_to_string(value)?)?;
    ordered(v, p, op)
}

fn compare_quantity(value: &Value, pattern: &str, op: Op) -> Option<bool> {
    let p = Quantity::parse(pattern)?;
    let v = Quantity::parse(&number_to_string(value)?)?;
    ordered(quantity_cmp(&v, &p), std::cmp::Ordering::Equal, op)
}

fn compare_string(value: &Value, pattern: &str, op: Op) -> bool {
    if !matches!(op, Op::Equal | Op::NotEqual) {
        return false;
    }
    let s = match value {
        Value::Number(n) => match resource_num(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => go_format_e(f),
        },
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    let m = super::glob(pattern, &s);
    if op == Op::NotEqual { !m } else { m }
}

/// `strconv.FormatFloat(f, 'E', -1, 64)`: `1.5E+00`.
fn go_format_e(f: f64) -> String {
    let s = format!("{f:E}");
    match s.split_once('E') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}E{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let mult = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total })
}

/// A Kubernetes resource quantity (`1Gi`, `500m`, `1e3`), exactly: `mantissa × 10^exp`.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
}

impl Quantity {
    /// `resource.ParseQuantity`.
    pub fn parse(s: &str) -> Option<Quantity> {
        let b = s.as_bytes();
        let mut i = 0;
        let neg = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let num_start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let num = &s[num_start..i];
        let suffix = &s[i..];
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return None;
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return None;
        }
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut exp = -(frac.len() as i32);
        match suffix {
            "" => {}
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let n = match suffix {
                    "Ki" => 1,
                    "Mi" => 2,
                    "Gi" => 3,
                    "Ti" => 4,
                    "Pi" => 5,
                    _ => 6,
                };
                mantissa = mantissa.checked_mul(1i128 << (10 * n))?;
            }
            "n" => exp -= 9,
            "u" => exp -= 6,
            "m" => exp -= 3,
            "k" => exp += 3,
            "M" => exp += 6,
            "G" => exp += 9,
            "T" => exp += 12,
            "P" => exp += 15,
            "E" => exp += 18,
            _ => {
                let e = suffix.strip_prefix(['e', 'E'])?;
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                exp += e.parse::<i32>().ok()?;
            }
        }
        if neg {
            mantissa = -mantissa;
        }
        Some(Quantity { mantissa, exp })
    }
}

/// Compares two quantities exactly (as `Quantity.Cmp`), in floating point only when
/// scaling them to one exponent overflows.
pub fn quantity_cmp(a: &Quantity, b: &Quantity) -> std::cmp::Ordering {
    {
        let scale = |m: i128, by: i32| -> Option<i128> {
            let f = 10i128.checked_pow(u32::try_from(by).ok()?)?;
            m.checked_mul(f)
        };
        let exact = if a.exp >= b.exp {
            scale(a.mantissa, a.exp - b.exp).map(|x| x.cmp(&b.mantissa))
        } else {
            scale(b.mantissa, b.exp - a.exp).map(|y| a.mantissa.cmp(&y))
        };
        exact.unwrap_or_else(|| {
            let fa = a.mantissa as f64 * 10f64.powi(a.exp);
            let fb = b.mantissa as f64 * 10f64.powi(b.exp);
            fa.partial_cmp(&fb).unwrap_or(std::cmp::Ordering::Equal)
        })
    }
}

/// Go's `%T` of a decoded JSON value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a decoded JSON value (for messages).
pub fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", go_fmt(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Go's `%v` of a `float64` (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest form,
/// with an exponent from `1e+06` up or below `1e-04`.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(resource: Value, pattern: Value) -> bool {
        match_pattern(&resource, &pattern).is_ok()
    }

    #[test]
    fn anchors_parse_as_kyverno_does() {
        assert_eq!(parse_anchor("(name)"), Some((Anchor::Condition, "name")));
        assert_eq!(
            parse_anchor("=(hostPID)"),
            Some((Anchor::Equality, "hostPID"))
        );
        assert_eq!(
            parse_anchor("X(hostPath)"),
            Some((Anchor::Negation, "hostPath"))
        );
        assert_eq!(
            parse_anchor("^(containers)"),
            Some((Anchor::Existence, "containers"))
        );
        assert_eq!(parse_anchor("<(image)"), Some((Anchor::Global, "image")));
        assert_eq!(parse_anchor("+(x)"), Some((Anchor::AddIfNotPresent, "x")));
        assert_eq!(parse_anchor("()"), None);
        assert_eq!(parse_anchor("name"), None);
    }

    #[test]
    fn equality_anchor_checks_only_present_fields() {
        let p = json!({"spec": {"=(hostNetwork)": false}});
        assert!(ok(json!({"spec": {}}), p.clone()));
        assert!(ok(json!({"spec": {"hostNetwork": false}}), p.clone()));
        let e = match_pattern(&json!({"spec": {"hostNetwork": true}}), &p).unwrap_err();
        assert_eq!(
            e.path,
            Some(vec!["spec".to_owned(), "hostNetwork".to_owned()])
        );
        assert!(!e.skip);
    }

    #[test]
    fn conditional_anchor_skips_when_it_does_not_hold() {
        let p =
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}});
        // No container uses `latest`: every element is skipped, so the rule is skipped.
        let e =
            match_pattern(&json!({"spec": {"containers": [{"image": "a:1"}]}}), &p).unwrap_err();
        assert!(e.skip);
        // One does and pulls Always, the other is skipped: pass.
        assert!(ok(
            json!({"spec": {"containers": [{"image": "a:latest", "imagePullPolicy": "Always"}, {"image": "b:1"}]}}),
            p.clone()
        ));
        let e = match_pattern(
            &json!({"spec": {"containers": [{"image": "a:latest", "imagePullPolicy": "IfNotPresent"}]}}),
            &p,
        )
        .unwrap_err();
        assert!(!e.skip);
        assert_eq!(
            kyverno_path(e.path.as_deref().unwrap_or_default()),
            "/spec/containers/0/imagePullPolicy/"
        );
    }

    #[test]
    fn negation_anchor_forbids_the_key() {
        let p = json!({"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}});
        assert!(ok(
            json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}]}}),
            p.clone()
        ));
        let e = match_pattern(
            &json!({"spec": {"volumes": [{"name": "a", "hostPath": {"path": "/"}}]}}),
            &p,
        )
        .unwrap_err();
        assert_eq!(
            kyverno_path(e.path.as_deref().unwrap_or_default()),
            "/spec/volumes/0/hostPath/"
        );
    }

    #[test]
    fn existence_anchor_needs_one_matching_element() {
        let p = json!({"spec": {"^(containers)": [{"image": "nginx*"}]}});
        assert!(ok(
            json!({"spec": {"containers": [{"image": "busybox"}, {"image": "nginx:1"}]}}),
            p.clone()
        ));
        assert!(!ok(
            json!({"spec": {"containers": [{"image": "busybox"}]}}),
            p
        ));
    }

    #[test]
    fn global_anchor_skips_the_rule() {
        let p = json!({"spec": {"containers": [{"<(image)": "corp.io/*"}], "imagePullSecrets": [{"name": "?*"}]}});
        let e = match_pattern(
            &json!({"spec": {"containers": [{"image": "docker.io/a"}]}}),
            &p,
        )
        .unwrap_err();
        assert!(e.skip);
        assert!(!ok(
            json!({"spec": {"containers": [{"image": "corp.io/a"}]}}),
            p
        ));
    }

    #[test]
    fn leaves_follow_the_pattern_language() {
        assert!(leaf(&json!("nginx:1.2"), &json!("*:*")));
        assert!(!leaf(&json!("nginx"), &json!("*:*")));
        assert!(leaf(&json!("a"), &json!("?*")));
        assert!(!leaf(&json!(""), &json!("?*")));
        assert!(leaf(&json!("b"), &json!("a | b")));
        assert!(leaf(&json!(5), &json!(">1 & <10")));
        assert!(leaf(&json!(1001), &json!(">1000")));
        assert!(!leaf(&json!(0), &json!(">0")));
        assert!(leaf(&json!("512Mi"), &json!("<=1Gi")));
        assert!(!leaf(&json!("2Gi"), &json!("<=1Gi")));
        assert!(leaf(&json!("100m"), &json!("0.1")));
        assert!(leaf(&json!("90s"), &json!(">1m")));
        assert!(leaf(&json!(5500), &json!("5000-6000")));
        assert!(!leaf(&json!(7000), &json!("5000-6000")));
        assert!(leaf(&json!(7000), &json!("5000!-6000")));
        assert!(leaf(&json!("x:1"), &json!("!*:latest")));
        assert!(!leaf(&json!("x:latest"), &json!("!*:latest")));
        // null accepts the zero values, not maps or lists.
        for v in [json!(null), json!(0), json!(""), json!(false)] {
            assert!(leaf(&v, &json!(null)), "{v}");
        }
        assert!(!leaf(&json!({}), &json!(null)));
        // Numbers accept numeric strings; booleans only booleans.
        assert!(leaf(&json!("3"), &json!(3)));
        assert!(!leaf(&json!("true"), &json!(true)));
        assert!(leaf(&json!(true), &json!("true")));
        assert!(leaf(&json!({"a": 1}), &json!({})));
        assert!(!leaf(&json!([1]), &json!([1])));
    }

    #[test]
    fn scalar_pattern_checks_every_list_element() {
        let p = json!({"spec": {"drop": "ALL"}});
        assert!(ok(json!({"spec": {"drop": ["ALL"]}}), p.clone()));
        assert!(!ok(json!({"spec": {"drop": ["ALL", "NET_RAW"]}}), p));
    }

    #[test]
    fn star_requires_presence() {
        let p = json!({"metadata": {"labels": {"app": "*"}}});
        assert!(ok(json!({"metadata": {"labels": {"app": "x"}}}), p.clone()));
        let e = match_pattern(&json!({"metadata": {"labels": {}}}), &p).unwrap_err();
        assert_eq!(e.message, "/metadata/labels//app not found");
    }

    #[test]
    fn wildcard_label_keys_expand_to_the_resource_keys() {
        let p = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
        assert!(ok(
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}),
            p.clone()
        ));
        assert!(!ok(json!({"metadata": {"labels": {"team": "x"}}}), p));
    }

    #[test]
    fn quantities_and_durations_parse_as_go_does() {
        assert!(Quantity::parse("1.5Gi").is_some());
        assert!(Quantity::parse("1e3").is_some());
        assert!(Quantity::parse("abc").is_none());
        assert!(Quantity::parse("").is_none());
        assert_eq!(parse_duration("1h30m"), Some(5400e9));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(8080.0), "8080");
        assert_eq!(go_format_e(1.5), "1.5E+00");
    }
}
