//! Strategic merge patches as kustomize v5.7 applies them: kyaml's `merge2.Merge(patch,
//! object, ListIncreaseDirection=Prepend)` (`kyaml/yaml/merge2`, `kyaml/yaml/walk`), wrapped in
//! kustomize's `Resource.ApplySmPatch` (kind, name and namespace kept).
//!
//! This is a port of kyaml's algorithm, not of apimachinery's strategic merge patch, and keeps
//! its observable quirks: patch elements come first in a merged list; lists are merged by key
//! only where the embedded Kubernetes 1.21.2 OpenAPI says so; `$patch: replace` on an element
//! of a list merged by key leaves the original element; a list element without its merge key
//! removes the elements that have one; multi-key lists (`ports`) match on the keys that any
//! element sets; `$setElementOrder`, `$retainKeys` and `$deleteFromPrimitiveList` are plain
//! keys.
//!
//! kyaml mutates the target in place and, where the target lacks a value, walks the patch's
//! node against itself; here [`Src::Alias`] stands for "the origin is the destination node".

use std::collections::BTreeSet;

use serde_json::Number;

use super::PatchError;
use super::schema::Schema;
use crate::render::node::{Kind, Node, Origin};

/// What a walk made of a node (kyaml returns a pointer that is the destination, the origin or
/// nil).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    /// The field or element goes away.
    Clear,
    /// The destination node, merged in place. A null destination is then cleared by the
    /// field setter, except as [`Out::KeepNull`].
    Dest,
    /// The origin (patch) node, walked in place.
    Origin,
    /// A null kept in the destination (kyaml's "persistent null").
    KeepNull,
}

/// The patch side of a walk.
enum Src<'a> {
    None,
    Node(&'a mut Node),
    /// The origin is the destination node itself (kyaml walks `[n, n]` once it has taken the
    /// patch's value for a missing destination).
    Alias,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
    /// A value other than `merge`, `replace`, `delete`.
    Unknown,
}

type Result<T> = std::result::Result<T, PatchError>;

fn error(message: impl Into<String>, origin: Origin) -> PatchError {
    PatchError {
        message: message.into(),
        origin,
    }
}

fn is_null(n: Option<&Node>) -> bool {
    matches!(
        n,
        None | Some(Node {
            kind: Kind::Null,
            ..
        })
    )
}

fn is_empty_map(n: &Node) -> bool {
    matches!(&n.kind, Kind::Map(m) if m.is_empty())
}

/// The text of a node as yaml.v3 keeps it (`Node.Value`): a scalar's text, `""` for a mapping
/// or a sequence. Scalars are rebuilt from their values (`null` for every null).
pub(super) fn text(n: &Node) -> String {
    match &n.kind {
        Kind::Null => "null".to_owned(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(x) => x.to_string(),
        Kind::String(s) => s.clone(),
        Kind::Seq(_) | Kind::Map(_) => String::new(),
    }
}

/// A plain scalar of `text`, resolved as YAML 1.2 (kyaml's `NewScalarRNode`).
fn plain_scalar(text: &str, origin: Origin) -> Node {
    let kind = match text {
        "null" | "Null" | "NULL" | "~" | "" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        _ => match text.parse::<i64>() {
            Ok(i) => Kind::Number(i.into()),
            Err(_) => match text.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(f) if text.chars().any(|c| c.is_ascii_digit()) => Kind::Number(f),
                _ => Kind::String(text.to_owned()),
            },
        },
    };
    Node::new(kind, origin)
}

/// Whether a string was written quoted (or as a block scalar) rather than plain, as far as
/// the node tells: its source span is longer than its text (quotes, escapes), it spans
/// lines, or plain it would not read as a string. (yaml.v3 keeps the style; a node only has
/// its value and span, so a multi-line plain scalar, or a generated string whose origin is
/// some other text, counts as quoted.)
fn quoted(n: &Node) -> bool {
    let Kind::String(s) = &n.kind else {
        return false;
    };
    let span = n.origin.value;
    s.contains('\n')
        || (span.end - span.start) as usize != s.len()
        || !matches!(plain_scalar(s, n.origin).kind, Kind::String(_))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Map,
    Seq,
    Scalar,
}

fn shape(n: &Node) -> Shape {
    match n.kind {
        Kind::Map(_) => Shape::Map,
        Kind::Seq(_) => Shape::Seq,
        _ => Shape::Scalar,
    }
}

fn shape_name(s: Shape) -> &'static str {
    match s {
        Shape::Map => "MappingNode",
        Shape::Seq => "SequenceNode",
        Shape::Scalar => "ScalarNode",
    }
}

fn wrong_kind(expected: Shape, got: &Node) -> PatchError {
    error(
        format!(
            "wrong node kind: expected {} but got {}",
            shape_name(expected),
            shape_name(shape(got))
        ),
        got.origin,
    )
}

/// The schema kyaml finds for a node without one: that of the kind its `apiVersion` and
/// `kind` name (`Walker.GetSchema`).
fn meta_schema(n: Option<&Node>) -> Option<Schema> {
    let n = n?;
    let m = n.as_map()?;
    let get = |k: &str| {
        m.get(k)
            .filter(|v| !Node::is_nil_or_empty(v))
            .map(text)
            .filter(|s| !s.is_empty())
    };
    Schema::of_kind(&get("apiVersion")?, &get("kind")?)
}

/// The `$patch` directive of a mapping, removed from it when it is one kyaml knows
/// (`determineMappingNodePatchStrategy`).
fn map_directive(patch: &mut Node) -> (Directive, Option<PatchError>) {
    let Some(m) = patch.as_map_mut() else {
        return (Directive::Unknown, None);
    };
    let Some(v) = m.get("$patch") else {
        return (Directive::Merge, None);
    };
    let d = match text(v).as_str() {
        "delete" => Directive::Delete,
        "replace" => Directive::Replace,
        "merge" => Directive::Merge,
        other => {
            let e = error(format!("unknown patch strategy '{other}'"), v.origin);
            return (Directive::Unknown, Some(e));
        }
    };
    m.remove("$patch");
    (d, None)
}

/// The `$patch` directive of a sequence: an element that is a mapping with `$patch` as its
/// only key (`determineSequenceNodePatchStrategy`); the elements holding it are removed.
fn seq_directive(patch: &mut Node) -> Result<Directive> {
    let Some(items) = patch.as_seq() else {
        return Ok(Directive::Merge);
    };
    let Some((m, value)) = items.iter().find_map(|e| {
        let m = e.as_map()?;
        Some((m, m.get("$patch")?))
    }) else {
        return Ok(Directive::Merge);
    };
    if m.len() > 1 {
        return Ok(Directive::Merge);
    }
    let v = text(value);
    let d = match v.as_str() {
        "delete" => Directive::Delete,
        "replace" => Directive::Replace,
        "merge" => Directive::Merge,
        other => {
            return Err(error(
                format!("unknown patch strategy '{other}'"),
                value.origin,
            ));
        }
    };
    let items = patch.as_seq_mut().expect("a sequence");
    element_setter(items, None, &["$patch".to_owned()], &[v])?;
    Ok(d)
}

/// kyaml's `FieldMatcher{Name, StringValue}` on an element: whether it has the field (with
/// that text, unless `value` is empty).
fn field_matches(elem: &Node, name: &str, value: &str) -> Result<bool> {
    if is_null(Some(elem)) {
        return Ok(false);
    }
    if name.is_empty() {
        if shape(elem) != Shape::Scalar {
            return Err(wrong_kind(Shape::Scalar, elem));
        }
        return Ok(text(elem) == value);
    }
    let Some(m) = elem.as_map() else {
        return Err(wrong_kind(Shape::Map, elem));
    };
    Ok(m.get(name)
        .is_some_and(|v| value.is_empty() || text(v) == value))
}

/// kyaml's `ElementSetter`: replaces the elements matching `keys`/`values` with `element`
/// (removes them when `None`), appends `element` when none matches; drops null and empty
/// elements on the way.
fn element_setter(
    list: &mut Vec<Node>,
    element: Option<Node>,
    keys: &[String],
    values: &[String],
) -> Result<()> {
    let empty = [String::new()];
    let keys = if keys.is_empty() { &empty[..] } else { keys };
    let mapping_setter = !keys[0].is_empty() && !values.is_empty() && !values[0].is_empty();
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut matched = false;
    for elem in list.drain(..) {
        if is_null(Some(&elem)) || is_empty_map(&elem) {
            continue;
        }
        if elem.as_map().is_none() && mapping_setter {
            out.push(elem);
            continue;
        }
        let mut found = true;
        let mut val = false;
        for (j, key) in keys.iter().enumerate() {
            if j < values.len() {
                val = field_matches(&elem, key, &values[j])?;
            }
            if !val {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(elem);
            }
            continue;
        }
        matched = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    if let Some(e) = element
        && !is_null(Some(&e))
        && !matched
    {
        list.push(e);
    }
    Ok(())
}

/// kyaml's `ElementList` (`ElementMatcher` with values): the first mapping element whose
/// fields `keys` have the texts `values`; for key `""`, the first element with that text.
fn element_list(list: &[Node], keys: &[String], values: &[String]) -> Option<usize> {
    let key0 = keys.first().map_or("", String::as_str);
    let value0 = values.first().map_or("", String::as_str);
    if key0.is_empty() {
        return list.iter().position(|e| text(e) == value0);
    }
    let (keys, values): (Vec<&str>, Vec<&str>) = (
        keys.iter().map(String::as_str).collect(),
        if values.is_empty() {
            vec![""]
        } else {
            values.iter().map(String::as_str).collect()
        },
    );
    for (i, e) in list.iter().enumerate() {
        if is_null(Some(e)) {
            continue;
        }
        let Some(m) = e.as_map() else { continue };
        if keys.len() != values.len() {
            return None;
        }
        if keys
            .iter()
            .zip(&values)
            .all(|(k, v)| m.get(*k).is_some_and(|f| text(f) == *v))
        {
            return Some(i);
        }
    }
    None
}

/// kyaml's `validateKeys`: the keys that some element sets, and this element's values for
/// them (all keys when no element sets any).
fn validate_keys(
    all: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut valid = BTreeSet::new();
    for vs in all {
        for (i, v) in vs.iter().enumerate() {
            if !v.is_empty()
                && let Some(k) = keys.get(i)
            {
                valid.insert(k.clone());
            }
        }
    }
    if valid.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys = keys
        .iter()
        .filter(|k| valid.contains(*k))
        .cloned()
        .collect();
    let valid_values = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || keys.get(*i).is_some_and(|k| valid.contains(k)))
        .map(|(_, v)| v.clone())
        .collect();
    (valid_keys, valid_values)
}

/// kyaml's `match` of two key vectors: equal where both are set, and equal somewhere.
fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
            continue;
        }
        if !x.is_empty() && !y.is_empty() {
            return None;
        }
        out.push(if x.is_empty() { y.clone() } else { x.clone() });
    }
    common.then_some(out)
}

/// kyaml's `mergeValues` (lists with several keys): key vectors that agree are completed
/// from each other.
/// Like Go's `range`, the outer vector is the one read when its iteration began.
fn merge_values(list: &mut [Vec<String>]) {
    for i in 0..list.len() {
        let first = list[i].clone();
        for j in 0..list.len() {
            if let Some(v) = match_values(&first, &list[j]) {
                list[i] = v.clone();
                list[j] = v;
            }
        }
    }
}

/// The merge of one patch into one object.
pub(super) struct Merge;

impl Merge {
    /// Walks a destination and an origin (kyaml's `Walker.Walk`).
    fn walk(
        &self,
        dest: Option<&mut Node>,
        mut origin: Src<'_>,
        schema: Option<Schema>,
    ) -> Result<Out> {
        let origin_ref: Option<&Node> = match &origin {
            Src::Node(n) => Some(n),
            Src::Alias => dest.as_deref(),
            Src::None => None,
        };
        let schema = schema
            .or_else(|| meta_schema(dest.as_deref().filter(|n| !is_null(Some(n)))))
            .or_else(|| meta_schema(origin_ref.filter(|n| !is_null(Some(n)))));
        let first = [dest.as_deref(), origin_ref]
            .into_iter()
            .flatten()
            .find(|n| !is_null(Some(n)))
            .map(shape);
        if let Some(expected) = first {
            for n in [origin_ref, dest.as_deref()].into_iter().flatten() {
                if !is_null(Some(n)) && shape(n) != expected {
                    return Err(wrong_kind(expected, n));
                }
            }
        }
        match first {
            Some(Shape::Map) | None => self.walk_map(dest, origin, schema),
            Some(Shape::Seq) => match schema.and_then(Schema::merge_list) {
                Some((keys, items)) => self.walk_keyed_list(dest, &mut origin, keys, items),
                None => Ok(Self::visit_replace(&origin)),
            },
            Some(Shape::Scalar) => Ok(Self::visit_replace(&origin)),
        }
    }

    /// `VisitScalar` and `VisitList` of a list not merged by key: the patch's value if any.
    fn visit_replace(origin: &Src<'_>) -> Out {
        match origin {
            Src::Node(_) => Out::Origin,
            Src::Alias | Src::None => Out::Dest,
        }
    }

    /// `VisitMap`, then the fields.
    fn walk_map(
        &self,
        dest: Option<&mut Node>,
        origin: Src<'_>,
        schema: Option<Schema>,
    ) -> Result<Out> {
        if is_null(dest.as_deref()) {
            // Add: the patch's value, walked against itself.
            return match origin {
                Src::None => Ok(if dest.is_some() {
                    Out::KeepNull
                } else {
                    Out::Clear
                }),
                Src::Alias => Ok(Out::Dest),
                Src::Node(o) => {
                    let (d, _) = map_directive(o);
                    if d == Directive::Delete {
                        return Ok(Out::Clear);
                    }
                    if o.as_map().is_some() {
                        self.walk_fields(o, Src::Alias, schema)?;
                    }
                    Ok(Out::Origin)
                }
            };
        }
        let dest = dest.expect("not null");
        match origin {
            Src::None => {
                self.walk_fields(dest, Src::None, schema)?;
                Ok(Out::Dest)
            }
            Src::Alias => match map_directive(dest) {
                (_, Some(e)) => Err(e),
                (Directive::Delete, _) => Ok(Out::Clear),
                _ => {
                    self.walk_fields(dest, Src::Alias, schema)?;
                    Ok(Out::Dest)
                }
            },
            Src::Node(o) => {
                if matches!(o.kind, Kind::Null) {
                    return Ok(Out::Clear);
                }
                match map_directive(o) {
                    (_, Some(e)) => Err(e),
                    (Directive::Delete, _) => Ok(Out::Clear),
                    (Directive::Replace, _) => {
                        self.walk_fields(o, Src::Alias, schema)?;
                        Ok(Out::Origin)
                    }
                    _ => {
                        self.walk_fields(dest, Src::Node(o), schema)?;
                        Ok(Out::Dest)
                    }
                }
            }
        }
    }

    /// The fields of a mapping, each walked and set (kyaml's `walkMap` loop and
    /// `FieldSetter`).
    fn walk_fields(
        &self,
        dest: &mut Node,
        mut origin: Src<'_>,
        schema: Option<Schema>,
    ) -> Result<()> {
        let mut names: BTreeSet<String> = dest
            .as_map()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if let Src::Node(o) = &origin
            && let Some(m) = o.as_map()
        {
            names.extend(m.keys().cloned());
        }
        let Some(map) = dest.as_map_mut() else {
            return Ok(());
        };
        for name in names {
            let child_schema = schema.and_then(|s| s.field(&name));
            let mut d = map.remove(&name);
            let dest_quoted = d.as_ref().is_some_and(quoted);
            let value = match &mut origin {
                Src::Node(o) => {
                    let oc = o.as_map_mut().and_then(|m| m.get_mut(&name));
                    let has_origin = oc.is_some();
                    let out = match oc {
                        Some(oc) => self.walk(d.as_mut(), Src::Node(oc), child_schema)?,
                        None => self.walk(d.as_mut(), Src::None, child_schema)?,
                    };
                    match out {
                        Out::Clear => None,
                        Out::Dest => d.filter(|n| !matches!(n.kind, Kind::Null)),
                        Out::KeepNull => d,
                        Out::Origin if has_origin => o
                            .as_map()
                            .and_then(|m| m.get(&name))
                            .cloned()
                            .filter(|n| !matches!(n.kind, Kind::Null)),
                        Out::Origin => None,
                    }
                }
                Src::Alias => {
                    let out = if d.is_some() {
                        self.walk(d.as_mut(), Src::Alias, child_schema)?
                    } else {
                        Out::Clear
                    };
                    match out {
                        Out::Clear => None,
                        Out::KeepNull => d,
                        Out::Dest | Out::Origin => d.filter(|n| !matches!(n.kind, Kind::Null)),
                    }
                }
                Src::None => match self.walk(d.as_mut(), Src::None, child_schema)? {
                    Out::Clear | Out::Origin => None,
                    Out::KeepNull => d,
                    Out::Dest => d.filter(|n| !matches!(n.kind, Kind::Null)),
                },
            };
            if let Some(mut v) = value {
                // kyaml's FieldSetter gives the new value the style of the one it replaces:
                // a number or boolean written over a quoted string is printed quoted, and
                // so read back as a string.
                if dest_quoted && matches!(v.kind, Kind::Number(_) | Kind::Bool(_)) {
                    v.kind = Kind::String(text(&v));
                }
                map.insert(name, v);
            }
        }
        Ok(())
    }

    /// `walkAssociativeSequence`: `VisitList`, then the elements merged by key.
    fn walk_keyed_list(
        &self,
        dest: Option<&mut Node>,
        origin: &mut Src<'_>,
        keys: &[&str],
        items: Option<Schema>,
    ) -> Result<Out> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        if is_null(dest.as_deref()) {
            // Add: the patch's list, walked against itself (no list directive here).
            return match origin {
                Src::Node(o) => {
                    self.merge_elements(o, &mut Src::Alias, &keys, items)?;
                    Ok(Out::Origin)
                }
                _ => Ok(Out::Clear),
            };
        }
        let dest = dest.expect("not null");
        match origin {
            Src::None => {
                self.merge_elements(dest, &mut Src::None, &keys, items)?;
                Ok(Out::Dest)
            }
            Src::Alias => match seq_directive(dest)? {
                Directive::Delete => Ok(Out::Clear),
                _ => {
                    self.merge_elements(dest, &mut Src::Alias, &keys, items)?;
                    Ok(Out::Dest)
                }
            },
            Src::Node(o) => {
                if matches!(o.kind, Kind::Null) {
                    return Ok(Out::Clear);
                }
                match seq_directive(o)? {
                    Directive::Delete => Ok(Out::Clear),
                    Directive::Replace => {
                        self.merge_elements(o, &mut Src::Alias, &keys, items)?;
                        Ok(Out::Origin)
                    }
                    _ => {
                        self.merge_elements(dest, &mut Src::Node(o), &keys, items)?;
                        Ok(Out::Dest)
                    }
                }
            }
        }
    }

    /// The key vectors of the elements, patch first (`elementValues`), or the scalar texts
    /// of a list without keys (`elementPrimitiveValues`).
    fn element_values(lists: &[&[Node]], keys: &[String]) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for list in lists {
            for elem in *list {
                let v: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        elem.as_map()
                            .and_then(|m| m.get(k))
                            .filter(|f| !Node::is_nil_or_empty(f))
                            .map(text)
                            .unwrap_or_default()
                    })
                    .collect();
                if v.is_empty() || out.contains(&v) {
                    continue;
                }
                out.push(v);
            }
        }
        out
    }

    fn primitive_values(lists: &[&[Node]]) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for list in lists {
            for elem in *list {
                let v = vec![text(elem)];
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// `walkAssociativeSequence` after `VisitList` and `setAssociativeSequenceElements`:
    /// merges the elements of `list` (the destination, or the patch's list walked against
    /// itself) with those of `origin`, patch elements first.
    fn merge_elements(
        &self,
        list: &mut Node,
        origin: &mut Src<'_>,
        keys: &[String],
        items: Option<Schema>,
    ) -> Result<()> {
        let empty: [Node; 0] = [];
        let (mut values, keys) = {
            let dest_items = list.as_seq().unwrap_or(&empty);
            let origin_items: Option<&[Node]> = match origin {
                Src::Node(o) => Some(o.as_seq().unwrap_or(&empty)),
                Src::Alias => Some(dest_items),
                Src::None => None,
            };
            let lists: Vec<&[Node]> = origin_items.into_iter().chain([dest_items]).collect();
            let values = Self::element_values(&lists, keys);
            if !values.is_empty() || !keys.is_empty() {
                (values, keys.to_vec())
            } else {
                (Self::primitive_values(&lists), vec![String::new()])
            }
        };
        let Some(dest) = list.as_seq_mut() else {
            return Ok(());
        };
        let mut added: Vec<Node> = Vec::new();
        if keys.len() > 1 {
            merge_values(&mut values);
        }
        let mut valid_keys: Vec<String> = Vec::new();
        for i in 0..values.len() {
            let vector = values[i].clone();
            if vector.is_empty() {
                continue;
            }
            let valid_values;
            (valid_keys, valid_values) = validate_keys(&values, &vector, &keys);
            let (ek, ev) = validate_keys(
                std::slice::from_ref(&valid_values),
                &valid_values,
                &valid_keys,
            );
            let di = element_list(dest, &ek, &ev);
            // Walk the element; `which` says where the result lives.
            let (out, oi) = match origin {
                Src::Node(o) => {
                    let olist = o.as_seq_mut();
                    let oi = olist.as_ref().and_then(|l| element_list(l, &ek, &ev));
                    let osrc = match (olist, oi) {
                        (Some(l), Some(j)) => Src::Node(&mut l[j]),
                        _ => Src::None,
                    };
                    (self.walk(di.map(|j| &mut dest[j]), osrc, items)?, oi)
                }
                Src::Alias => match di {
                    Some(j) => (self.walk(Some(&mut dest[j]), Src::Alias, items)?, None),
                    None => (self.walk(None, Src::None, items)?, None),
                },
                Src::None => (self.walk(di.map(|j| &mut dest[j]), Src::None, items)?, None),
            };
            let val: Option<&mut Node> = match out {
                Out::Clear => None,
                Out::Dest | Out::KeepNull => di.map(|j| &mut dest[j]),
                Out::Origin => match origin {
                    Src::Node(o) => match (o.as_seq_mut(), oi) {
                        (Some(l), Some(j)) => Some(&mut l[j]),
                        _ => None,
                    },
                    Src::Alias => di.map(|j| &mut dest[j]),
                    Src::None => None,
                },
            };
            let remove = match &val {
                None => true,
                Some(v) => is_null(Some(v)) || is_empty_map(v),
            };
            if remove {
                element_setter(dest, None, &valid_keys, &valid_values)?;
                continue;
            }
            let val = val.expect("checked");
            for (k, key) in valid_keys.iter().enumerate() {
                let missing = val.as_map().is_none_or(|m| !m.contains_key(key));
                if missing && valid_values.get(k).is_some_and(|v| !v.is_empty()) {
                    if key.is_empty() {
                        // Setting the text of a scalar to its own text.
                        continue;
                    }
                    let origin = val.origin;
                    match val.as_map_mut() {
                        Some(m) => {
                            m.insert(key.clone(), plain_scalar(&valid_values[k], origin));
                        }
                        None => return Err(wrong_kind(Shape::Map, val)),
                    }
                }
            }
            let val = val.clone();
            element_setter(&mut added, Some(val), &valid_keys, &valid_values)?;
        }
        if !values.is_empty() {
            // Prepend: the patch's elements (merged) first, then the others.
            let rest = std::mem::take(dest);
            append_list(&mut added, rest, &valid_keys)?;
            *dest = added;
        }
        Ok(())
    }
}

/// kyaml's `appendListNode(dst, src, keys)`: each element of `src` replaces the elements of
/// `dst` with its key values, or is appended.
fn append_list(dst: &mut Vec<Node>, src: Vec<Node>, keys: &[String]) -> Result<()> {
    for elem in src {
        if keys.first().is_none_or(String::is_empty) {
            let v = text(&elem);
            element_setter(dst, Some(elem), &[String::new()], &[v])?;
            continue;
        }
        let mut v = Vec::new();
        for key in keys {
            if is_null(Some(&elem)) {
                dst.push(elem.clone());
                continue;
            }
            let Some(m) = elem.as_map() else {
                return Err(wrong_kind(Shape::Map, &elem));
            };
            match m.get(key) {
                None => dst.push(elem.clone()),
                Some(f) => v.push(text(f)),
            }
        }
        if keys.len() > 1 {
            element_setter(dst, None, keys, &v)?;
        }
        element_setter(dst, Some(elem), keys, &v)?;
    }
    Ok(())
}

/// How a patch is applied.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmpOptions {
    /// The patch came with a `target:` selector. kustomize then rewrites the patch's labels
    /// and annotations as string maps before merging (`CopyMergeMetaDataFieldsFrom`): a
    /// `null` label value becomes the string `"null"`, `labels: null` and `labels: {}` are
    /// dropped, numbers become strings.
    pub targeted: bool,
    /// `options: {allowNameChange: true}`: the patch may change `metadata.name`.
    pub allow_name_change: bool,
    /// `options: {allowKindChange: true}`: the patch may change `kind`.
    pub allow_kind_change: bool,
}

/// What became of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// The target was patched (perhaps not changed).
    Kept,
    /// The patch deleted the object (`$patch: delete` at its top, or nothing left).
    Deleted,
}

/// The labels or annotations of a targeted patch as kustomize rewrites them: a map of the
/// texts of the values, or nothing when empty.
fn normalize_string_map(meta: &mut Node, field: &str) {
    let Some(m) = meta.as_map_mut() else { return };
    let Some(value) = m.remove(field) else {
        return;
    };
    let Kind::Map(entries) = value.kind else {
        return;
    };
    if entries.is_empty() {
        return;
    }
    let entries = entries
        .into_iter()
        .map(|(k, v)| {
            let origin = v.origin;
            let s = match &v.kind {
                Kind::String(_) => v,
                _ => Node::new(Kind::String(text_of_value(&v)), origin),
            };
            (k, s)
        })
        .collect();
    m.insert(
        field.to_owned(),
        Node::new(Kind::Map(entries), value.origin),
    );
}

/// A label value's text as kustomize reads it (`Node.Value`): `""` for a container.
fn text_of_value(n: &Node) -> String {
    text(n)
}

/// Applies a strategic merge patch with options; see [`super::strategic_merge`]. On error the
/// target is left as it was.
pub fn apply(target: &mut Node, patch: &Node, options: SmpOptions) -> Result<Merged> {
    let mut merged = target.clone();
    let outcome = apply_in_place(&mut merged, patch, options)?;
    *target = merged;
    Ok(outcome)
}

fn apply_in_place(target: &mut Node, patch: &Node, options: SmpOptions) -> Result<Merged> {
    let mut patch = patch.clone();
    let original_kind = target.get("kind").cloned();
    let original_name = target.path(&["metadata", "name"]).cloned();
    let original_namespace = target.path(&["metadata", "namespace"]).cloned();
    if options.targeted {
        // resWrangler.ApplySmPatch: the patch copy gets the target's apiVersion, its own
        // kind, and string maps for labels and annotations.
        if let Some(av) = target.get("apiVersion").cloned()
            && let Some(m) = patch.as_map_mut()
        {
            m.insert("apiVersion".to_owned(), av);
        }
        if let Some(meta) = patch.get_mut("metadata") {
            normalize_string_map(meta, "labels");
            normalize_string_map(meta, "annotations");
        }
    }
    let merge = Merge;
    let out = merge.walk(Some(target), Src::Node(&mut patch), None)?;
    match out {
        Out::Clear => return Ok(Merged::Deleted),
        // kustomize keeps the object it merged into and drops the node the merge returns:
        // `$patch: replace` at the top (the patch's node) changes nothing.
        Out::Origin | Out::Dest | Out::KeepNull => {}
    }
    if matches!(&target.kind, Kind::Null) || is_empty_map(target) {
        return Ok(Merged::Deleted);
    }
    // Resource.ApplySmPatch: kind and name back unless allowed to change, namespace back.
    let root = target.origin;
    let Some(map) = target.as_map_mut() else {
        return Ok(Merged::Kept);
    };
    if !options.allow_kind_change {
        map.insert(
            "kind".to_owned(),
            original_kind.unwrap_or_else(|| Node::new(Kind::String(String::new()), root)),
        );
    }
    let needs_meta = !options.allow_name_change || original_namespace.is_some();
    if needs_meta {
        let meta = map
            .entry("metadata".to_owned())
            .or_insert_with(|| Node::new(Kind::Map(Default::default()), root));
        if meta.as_map().is_none() {
            *meta = Node::new(Kind::Map(Default::default()), root);
        }
        let meta = meta.as_map_mut().expect("a mapping");
        if !options.allow_name_change {
            meta.insert(
                "name".to_owned(),
                original_name.unwrap_or_else(|| Node::new(Kind::String(String::new()), root)),
            );
        }
        match original_namespace {
            Some(ns) if !text(&ns).is_empty() => {
                meta.insert("namespace".to_owned(), ns);
            }
            _ => {
                meta.remove("namespace");
            }
        }
    } else if let Some(meta) = map.get_mut("metadata").and_then(Node::as_map_mut) {
        meta.remove("namespace");
    }
    Ok(Merged::Kept)
}
