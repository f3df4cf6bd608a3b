//! JSON patches (RFC 6902) as kustomize v5.7 applies them: `gopkg.in/evanphx/json-patch.v4`
//! on the object's JSON, here directly on the [`Node`] tree so that every value an operation
//! adds keeps the origin of the patch text that wrote it. kustomize v5.7.1 asks for v4.12.0,
//! but kubectl 1.35 links v4.13.0 (Go takes the highest version a module requires): the same
//! code with `fmt.Errorf` wrapping instead of `pkg/errors`, which is why replacing the whole
//! document with a scalar fails with `%!w(<nil>)` in its message.
//!
//! evanphx's quirks are kept: the first segment of a path is ignored (`spec/replicas` is
//! `/replicas`), `replace` of a missing mapping key adds it, negative array indices count from
//! the end, `copy` from a missing key copies `null`. Error messages are evanphx's.

use super::PatchError;
use crate::render::node::{Kind, Node, Origin};

type Result<T> = std::result::Result<T, PatchError>;

/// `ErrMissing`, `ErrInvalidIndex`, `ErrTestFailed` as evanphx words them.
const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

/// RFC 6901 unescaping of one path segment.
fn decode_key(k: &str) -> String {
    k.replace("~1", "/").replace("~0", "~")
}

/// Go's `strconv.Atoi`, with its error text.
fn atoi(key: &str) -> std::result::Result<i64, String> {
    key.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {key:?}: invalid syntax"))
}

/// An index of an array of `len` elements (negative counts from the end), or evanphx's
/// error.
fn index(key: &str, len: usize, inclusive: bool) -> std::result::Result<usize, String> {
    let idx = atoi(key)?;
    let len = len as i64;
    let bad = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
    let idx = if idx < 0 {
        if idx < -len {
            return Err(bad());
        }
        idx + len
    } else {
        idx
    };
    if (inclusive && idx > len) || (!inclusive && idx >= len) {
        return Err(bad());
    }
    Ok(idx as usize)
}

/// evanphx's `findObject`: the container holding the last segment of `path`, and that
/// segment. The first segment is skipped whatever it is.
fn find_object<'a>(doc: &'a mut Node, path: &str) -> Option<(&'a mut Node, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut cur = doc;
    for part in &split[1..split.len() - 1] {
        let key = decode_key(part);
        let next = match &mut cur.kind {
            Kind::Map(m) => m.get_mut(&key)?,
            Kind::Seq(s) => {
                let i = index(&key, s.len(), false).ok()?;
                &mut s[i]
            }
            _ => return None,
        };
        if !next.is_container() {
            return None;
        }
        cur = next;
    }
    Some((cur, decode_key(split[split.len() - 1])))
}

/// `container.get(key)`: a mapping's missing key is no error (evanphx returns nil).
fn get<'a>(con: &'a Node, key: &str) -> std::result::Result<Option<&'a Node>, String> {
    match &con.kind {
        Kind::Map(m) => Ok(m.get(key)),
        Kind::Seq(s) => Ok(Some(&s[index(key, s.len(), false)?])),
        _ => Ok(None),
    }
}

fn add(con: &mut Node, key: &str, value: Node) -> std::result::Result<(), String> {
    match &mut con.kind {
        Kind::Map(m) => {
            m.insert(key.to_owned(), value);
            Ok(())
        }
        Kind::Seq(s) => {
            if key == "-" {
                s.push(value);
                return Ok(());
            }
            let i = index(key, s.len() + 1, false).map_err(|e| {
                if e.starts_with("strconv") {
                    format!("value was not a proper array index: '{key}': {e}")
                } else {
                    e
                }
            })?;
            s.insert(i, value);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn remove(con: &mut Node, key: &str) -> std::result::Result<Node, String> {
    match &mut con.kind {
        Kind::Map(m) => m
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Kind::Seq(s) => {
            let i = index(key, s.len(), false)?;
            Ok(s.remove(i))
        }
        _ => Err(MISSING.to_owned()),
    }
}

/// One operation of the patch, its fields read as evanphx reads them.
struct Op<'a> {
    node: &'a Node,
}

impl<'a> Op<'a> {
    fn field(&self, name: &str) -> Option<&'a Node> {
        self.node.get(name)
    }

    /// `op`: `"unknown"` when missing or not a string.
    fn kind(&self) -> String {
        match self.field("op").map(|n| &n.kind) {
            Some(Kind::String(s)) => s.clone(),
            _ => "unknown".to_owned(),
        }
    }

    /// `path` / `from`: missing or null is `ErrMissing`, another type a JSON error.
    fn string(&self, name: &str, missing: &str) -> std::result::Result<String, String> {
        match self.field(name) {
            None
            | Some(Node {
                kind: Kind::Null, ..
            }) => Err(format!("{missing}: {MISSING}")),
            Some(Node {
                kind: Kind::String(s),
                ..
            }) => Ok(s.clone()),
            Some(other) => Err(format!(
                "json: cannot unmarshal {} into Go value of type string",
                json_type(other)
            )),
        }
    }

    /// `value`: a missing value adds `null`, like evanphx's nil node.
    fn value(&self) -> Node {
        self.field("value")
            .cloned()
            .unwrap_or_else(|| Node::new(Kind::Null, self.node.origin))
    }

    /// Where a finding about this operation goes: its `path`, else the operation.
    fn origin(&self, field: &str) -> Origin {
        self.field(field).map_or(self.node.origin, |n| n.origin)
    }
}

fn json_type(n: &Node) -> &'static str {
    match n.kind {
        Kind::Null => "null",
        Kind::Bool(_) => "bool",
        Kind::Number(_) => "number",
        Kind::String(_) => "string",
        Kind::Seq(_) => "array",
        Kind::Map(_) => "object",
    }
}

/// Applies the operations `ops` (a sequence of mappings, as kustomize reads a patch given as
/// JSON or YAML) to `target`, in order; stops at the first that fails.
pub fn apply(target: &mut Node, ops: &Node) -> Result<()> {
    // evanphx patches a copy: a failing operation leaves the target as it was.
    let mut doc = target.clone();
    apply_ops(&mut doc, ops)?;
    rewrite_annotations(&mut doc);
    *target = doc;
    Ok(())
}

/// What kustomize does to a JSON-patched object's annotations (it puts back its internal
/// ones with `SetAnnotations`): a map of the values' texts, gone when empty.
pub(super) fn rewrite_annotations(doc: &mut Node) {
    let Some(meta) = doc.get_mut("metadata").and_then(Node::as_map_mut) else {
        return;
    };
    let Some(annotations) = meta.remove("annotations") else {
        return;
    };
    let Kind::Map(entries) = annotations.kind else {
        return;
    };
    if entries.is_empty() {
        return;
    }
    let entries = entries
        .into_iter()
        .map(|(k, v)| {
            let value = match v.kind {
                Kind::String(_) => v,
                _ => Node::new(Kind::String(super::smp::text(&v)), v.origin),
            };
            (k, value)
        })
        .collect();
    meta.insert(
        "annotations".to_owned(),
        Node::new(Kind::Map(entries), annotations.origin),
    );
}

fn apply_ops(target: &mut Node, ops: &Node) -> Result<()> {
    let items = match &ops.kind {
        Kind::Seq(items) => items.as_slice(),
        Kind::Null => &[],
        _ => {
            return Err(PatchError {
                message: format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                    json_type(ops)
                ),
                origin: ops.origin,
            });
        }
    };
    for item in items {
        if item.as_map().is_none() {
            return Err(PatchError {
                message: format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                    json_type(item)
                ),
                origin: item.origin,
            });
        }
    }
    for item in items {
        let op = Op { node: item };
        let kind = op.kind();
        let result = match kind.as_str() {
            "add" => op_add(target, &op),
            "remove" => op_remove(target, &op),
            "replace" => op_replace(target, &op),
            "move" => op_move(target, &op),
            "copy" => op_copy(target, &op),
            "test" => op_test(target, &op),
            _ => Err((format!("Unexpected kind: {kind}"), "op")),
        };
        if let Err((message, field)) = result {
            return Err(PatchError {
                message,
                origin: op.origin(field),
            });
        }
    }
    Ok(())
}

/// An operation's error and the field of the operation it is about.
type OpResult = std::result::Result<(), (String, &'static str)>;

fn op_add(doc: &mut Node, op: &Op) -> OpResult {
    let path = op
        .string("path", "operation missing path field")
        .map_err(|_| {
            (
                format!("add operation failed to decode path: {MISSING}"),
                "path",
            )
        })?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!("add operation does not apply: doc is missing path: {path:?}: {MISSING}"),
            "path",
        ));
    };
    add(con, &key, op.value())
        .map_err(|e| (format!("error in add for path: '{path}': {e}"), "path"))
}

fn op_remove(doc: &mut Node, op: &Op) -> OpResult {
    let path = op
        .string("path", "operation missing path field")
        .map_err(|_| {
            (
                format!("remove operation failed to decode path: {MISSING}"),
                "path",
            )
        })?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!("remove operation does not apply: doc is missing path: {path:?}: {MISSING}"),
            "path",
        ));
    };
    remove(con, &key)
        .map(drop)
        .map_err(|e| (format!("error in remove for path: '{path}': {e}"), "path"))
}

fn op_replace(doc: &mut Node, op: &Op) -> OpResult {
    let path = op
        .string("path", "operation missing path field")
        .map_err(|e| {
            (
                format!("replace operation failed to decode path: {e}"),
                "path",
            )
        })?;
    if path.is_empty() {
        let value = op.value();
        if !value.is_container() {
            // v4.13 wraps a nil error here.
            return Err((
                "replace operation value must be object or array: %!w(<nil>)".to_owned(),
                "value",
            ));
        }
        *doc = value;
        return Ok(());
    }
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!("replace operation does not apply: doc is missing path: {path}: {MISSING}"),
            "path",
        ));
    };
    if get(con, &key).is_err() {
        return Err((
            format!("replace operation does not apply: doc is missing key: {path}: {MISSING}"),
            "path",
        ));
    }
    let value = op.value();
    match &mut con.kind {
        Kind::Map(m) => {
            m.insert(key, value);
        }
        Kind::Seq(s) => {
            let i = index(&key, s.len(), false)
                .map_err(|e| (format!("error in remove for path: '{path}': {e}"), "path"))?;
            s[i] = value;
        }
        _ => {}
    }
    Ok(())
}

fn op_move(doc: &mut Node, op: &Op) -> OpResult {
    let from = op
        .string("from", "operation, missing from field")
        .map_err(|e| (format!("move operation failed to decode from: {e}"), "from"))?;
    let Some((con, key)) = find_object(doc, &from) else {
        return Err((
            format!("move operation does not apply: doc is missing from path: {from}: {MISSING}"),
            "from",
        ));
    };
    get(con, &key).map_err(|e| (format!("error in move for path: '{key}': {e}"), "from"))?;
    let value =
        remove(con, &key).map_err(|e| (format!("error in move for path: '{key}': {e}"), "from"))?;
    let path = op
        .string("path", "operation missing path field")
        .map_err(|e| (format!("move operation failed to decode path: {e}"), "path"))?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!(
                "move operation does not apply: doc is missing destination path: {path}: \
                 {MISSING}"
            ),
            "path",
        ));
    };
    add(con, &key, value).map_err(|e| (format!("error in move for path: '{path}': {e}"), "path"))
}

fn op_copy(doc: &mut Node, op: &Op) -> OpResult {
    let from = op
        .string("from", "operation, missing from field")
        .map_err(|e| (format!("copy operation failed to decode from: {e}"), "from"))?;
    let Some((con, key)) = find_object(doc, &from) else {
        return Err((
            format!("copy operation does not apply: doc is missing from path: {from}: {MISSING}"),
            "from",
        ));
    };
    let value = get(con, &key)
        .map_err(|e| (format!("error in copy for from: '{from}': {e}"), "from"))?
        .cloned()
        // Copying a missing key copies null.
        .unwrap_or_else(|| Node::new(Kind::Null, op.origin("from")));
    let path = op
        .string("path", "operation missing path field")
        .map_err(|_| {
            (
                format!("copy operation failed to decode path: {MISSING}"),
                "path",
            )
        })?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!(
                "copy operation does not apply: doc is missing destination path: {path}: \
                 {MISSING}"
            ),
            "path",
        ));
    };
    add(con, &key, value)
        .map_err(|e| (format!("error while adding value during copy: {e}"), "path"))
}

fn op_test(doc: &mut Node, op: &Op) -> OpResult {
    let path = op
        .string("path", "operation missing path field")
        .map_err(|e| (format!("test operation failed to decode path: {e}"), "path"))?;
    let failed = || (format!("testing value {path} failed: test failed"), "value");
    let expected = op.value().to_value();
    if path.is_empty() {
        return if doc.to_value() == expected {
            Ok(())
        } else {
            Err(failed())
        };
    }
    let Some((con, key)) = find_object(doc, &path) else {
        return Err((
            format!("test operation does not apply: is missing path: {path}: {MISSING}"),
            "path",
        ));
    };
    let actual =
        get(con, &key).map_err(|e| (format!("error in test for path: '{path}': {e}"), "path"))?;
    let actual = actual.map_or(serde_json::Value::Null, Node::to_value);
    if actual == expected {
        Ok(())
    } else {
        Err(failed())
    }
}
