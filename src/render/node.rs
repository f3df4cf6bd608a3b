//! A YAML value in which every node knows where it came from.
//!
//! Rendering moves values between files: a base resource gives most of an object, a patch
//! replaces some fields, a kustomization field (`images`, `namePrefix`) sets others. A
//! finding on the rendered object belongs on the line the author must edit, so every node
//! carries the [`Origin`] of the text that produced it, and transformations that set a
//! value give it the origin of the field that asked for it.

use std::borrow::Cow;

use serde_json::{Number, Value};

use crate::parse::{Document, NodeKind};

/// An index into the render's table of source files.
pub type FileId = u32;

/// A byte range of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// Where a node came from: a span of a file, with the span of its key when the node is the
/// value of a mapping entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: FileId,
    pub key: Option<Span>,
    pub value: Span,
}

impl Origin {
    pub fn new(file: FileId, value: Span) -> Self {
        Self {
            file,
            key: None,
            value,
        }
    }

    /// The origin of a value set from `from` (a kustomization field) in place of this
    /// one: `from`'s file and spans. The key's span is kept only when it is in the same
    /// file, since a span means nothing in another file's text.
    pub fn replaced_by(self, from: Origin) -> Origin {
        if self.file == from.file && from.key.is_none() {
            Origin {
                key: self.key,
                ..from
            }
        } else {
            from
        }
    }

    /// The span a finding about this node is reported at: the key when there is one and
    /// `at_key` (or the node is a container), else the value.
    pub fn span(&self, at_key: bool) -> Span {
        match self.key {
            Some(k) if at_key => k,
            _ => self.value,
        }
    }
}

/// A mapping: keys in sorted order, as kustomize prints them.
pub type Map = litemap::LiteMap<String, Node>;

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Node>),
    Map(Map),
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub origin: Origin,
    /// Where its key was written, when not in `origin`'s file: a chart template's
    /// `key: {{ .Values.x }}` takes its value from a values file, and a finding about the
    /// key (an unknown field) belongs in the template.
    pub key_at: Option<Box<Origin>>,
}

impl Node {
    pub fn new(kind: Kind, origin: Origin) -> Self {
        Self {
            kind,
            origin,
            key_at: None,
        }
    }

    /// The origin a finding about this node is reported at: its key's, when `at_key` and
    /// the key was written elsewhere.
    pub fn origin_for(&self, at_key: bool) -> Origin {
        match &self.key_at {
            Some(k) if at_key => **k,
            _ => self.origin,
        }
    }

    /// A tree built from a JSON value, every node with the same origin (a value a
    /// kustomization field sets, a generated object).
    pub fn from_value(value: &Value, origin: Origin) -> Self {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number(n.clone()),
            Value::String(s) => Kind::String(s.clone()),
            Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_value(v, origin)).collect())
            }
            Value::Object(m) => Kind::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Node::from_value(v, origin)))
                    .collect(),
            ),
        };
        Node::new(kind, origin)
    }

    /// The tree of a parsed document (or of its node at `pointer`, an item of a List), each
    /// node with the span its source map gives it in `file`.
    pub fn from_document(doc: &Document, pointer: &str, text: &str, file: FileId) -> Option<Self> {
        let value = doc.value.pointer(pointer)?;
        Some(build(doc, value, pointer.to_owned(), text, file))
    }

    /// The tree of a whole parsed document ([`Node::from_document`] at its root, which
    /// always resolves).
    pub fn of_document(doc: &Document, text: &str, file: FileId) -> Self {
        let place = root_place(&doc.source_map, doc.start);
        build_at(&doc.source_map, &doc.value, place, text, file)
    }

    /// [`Node::of_document`] of a document given up: its strings move into the tree
    /// instead of being copied, and its parse tree is let go of as it is converted, so
    /// the two are not both whole at once.
    pub fn of_owned_document(doc: Document, text: &str, file: FileId) -> Self {
        let Document {
            value,
            source_map,
            start,
            ..
        } = doc;
        let place = root_place(&source_map, start);
        build_at(&source_map, value, place, text, file)
    }

    /// The number of nodes of the tree, itself included.
    pub fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Seq(items) => items.iter().map(Node::count).sum(),
            Kind::Map(m) => m.iter().map(|(_, n)| n.count()).sum(),
            _ => 0,
        }
    }

    /// kyaml's `IsNilOrEmpty`: null, `{}` or `[]`.
    pub fn is_nil_or_empty(&self) -> bool {
        match &self.kind {
            Kind::Null => true,
            Kind::Map(m) => m.is_empty(),
            Kind::Seq(s) => s.is_empty(),
            _ => false,
        }
    }

    /// The JSON value of the tree.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => Value::Number(n.clone()),
            Kind::String(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key`, when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?.get_mut(key)
    }

    /// The node at a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// The node at an RFC 6901 JSON pointer.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut node = self;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let seg = crate::parse::source_map::unescape(raw);
            node = match &node.kind {
                Kind::Map(m) => m.get(seg.as_ref())?,
                Kind::Seq(s) => s.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The origin of the node at `pointer`, or of its nearest existing ancestor (a missing
    /// field is reported where it should be added), with whether it is that ancestor.
    pub fn locate(&self, pointer: &str) -> (Origin, bool) {
        let mut node = self;
        if pointer.is_empty() {
            return (node.origin, false);
        }
        for raw in pointer.strip_prefix('/').unwrap_or(pointer).split('/') {
            let seg = crate::parse::source_map::unescape(raw);
            let next = match &node.kind {
                Kind::Map(m) => m.get(seg.as_ref()),
                Kind::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return (node.origin, true),
            }
        }
        (node.origin, false)
    }

    /// Whether this node is a mapping or a sequence.
    pub fn is_container(&self) -> bool {
        matches!(self.kind, Kind::Map(_) | Kind::Seq(_))
    }

    /// Rewrites the origin of every node of the tree.
    pub fn map_origins(&mut self, f: &mut dyn FnMut(Origin) -> Origin) {
        self.origin = f(self.origin);
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.map_origins(f)),
            Kind::Map(m) => m.iter_mut().for_each(|(_, n)| n.map_origins(f)),
            _ => {}
        }
    }

    /// Gives every node of the tree `origin` (a value replaced wholesale by a field).
    pub fn set_origin_deep(&mut self, origin: Origin) {
        self.origin = origin;
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.set_origin_deep(origin)),
            Kind::Map(m) => m.iter_mut().for_each(|(_, n)| n.set_origin_deep(origin)),
            _ => {}
        }
    }
}

/// The node of `value` at `pointer` in `doc`, with its children.
fn build(doc: &Document, value: &Value, pointer: String, text: &str, file: FileId) -> Node {
    let map = &doc.source_map;
    // The pointer's node once; below it, each child is one step from its parent.
    let at = if map.is_empty() {
        None
    } else {
        map.locate(&pointer, text).map(|loc| {
            let idx = if loc.ancestor {
                Err(loc.value.start)
            } else {
                Ok(index_of(map, &pointer, text))
            };
            (loc, idx)
        })
    };
    let place = match at {
        Some((loc, Ok(Some(idx)))) => Place::At(idx, loc),
        Some((loc, _)) => Place::Under(loc.value.start),
        None => Place::Under(doc.start as usize),
    };
    build_at(map, value, place, text, file)
}

/// Where a document's root is: the first node of its source map (or, in a document
/// without one, its start).
fn root_place(map: &crate::parse::source_map::SourceMap, start: u32) -> Place {
    match map.located(0) {
        Some(loc) => Place::At(0, loc),
        None => Place::Under(start as usize),
    }
}

/// Where a value is in its document's source map.
enum Place {
    /// At node `.0`.
    At(usize, crate::parse::source_map::Located),
    /// Not in the source (a value the reader built, such as a merged key): reported at the
    /// start of its nearest ancestor that is.
    Under(usize),
}

/// The index of the node at `pointer` (which resolves).
fn index_of(map: &crate::parse::source_map::SourceMap, pointer: &str, text: &str) -> Option<usize> {
    use crate::parse::source_map::{Step, unescape};
    let mut idx = 0usize;
    if pointer.is_empty() {
        return Some(0);
    }
    for raw in pointer.strip_prefix('/').unwrap_or(pointer).split('/') {
        let seg = unescape(raw);
        let step = match map.located(idx)?.kind {
            NodeKind::Seq => Step::Index(seg.parse().ok()?),
            _ => Step::Key(&seg),
        };
        idx = map.child(idx, step, text)?;
    }
    Some(idx)
}

/// A value converted to a [`Node`]: borrowed (its strings are copied) or owned (they move,
/// and its containers are let go of as their children are converted).
trait IntoNode<'a>: Sized {
    type Items: Iterator<Item = Self>;
    type Entries: Iterator<Item = (Cow<'a, str>, Self)>;
    fn shape(self) -> Shape<'a, Self::Items, Self::Entries>;
}

/// A value's top level, its children still to convert.
enum Shape<'a, I, E> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Seq(usize, I),
    Map(E),
}

impl<'a> IntoNode<'a> for &'a Value {
    type Items = std::slice::Iter<'a, Value>;
    type Entries = std::iter::Map<
        serde_json::map::Iter<'a>,
        fn((&'a String, &'a Value)) -> (Cow<'a, str>, &'a Value),
    >;
    fn shape(self) -> Shape<'a, Self::Items, Self::Entries> {
        match self {
            Value::Null => Shape::Null,
            Value::Bool(b) => Shape::Bool(*b),
            Value::Number(n) => Shape::Number(n.clone()),
            Value::String(s) => Shape::String(Cow::Borrowed(s)),
            Value::Array(items) => Shape::Seq(items.len(), items.iter()),
            Value::Object(m) => Shape::Map(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), v))),
        }
    }
}

impl IntoNode<'static> for Value {
    type Items = std::vec::IntoIter<Value>;
    type Entries = std::iter::Map<
        serde_json::map::IntoIter,
        fn((String, Value)) -> (Cow<'static, str>, Value),
    >;
    fn shape(self) -> Shape<'static, Self::Items, Self::Entries> {
        match self {
            Value::Null => Shape::Null,
            Value::Bool(b) => Shape::Bool(b),
            Value::Number(n) => Shape::Number(n),
            Value::String(s) => Shape::String(Cow::Owned(s)),
            Value::Array(items) => Shape::Seq(items.len(), items.into_iter()),
            Value::Object(m) => Shape::Map(m.into_iter().map(|(k, v)| (Cow::Owned(k), v))),
        }
    }
}

/// A node serializes as the JSON of its value (origins left out), as [`Node::to_value`]
/// would: mapping keys in sorted order, which is the order a [`Map`] keeps.
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.kind {
            Kind::Null => s.serialize_unit(),
            Kind::Bool(b) => s.serialize_bool(*b),
            Kind::Number(n) => n.serialize(s),
            Kind::String(text) => s.serialize_str(text),
            Kind::Seq(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(item)?;
                }
                out.end()
            }
            Kind::Map(m) => {
                let mut out = s.serialize_map(Some(m.len()))?;
                for (k, v) in m.iter() {
                    out.serialize_entry(k, v)?;
                }
                out.end()
            }
        }
    }
}

/// A rendered object is read in place by those who want part of it (the admission
/// policies, the CRD catalog), not converted whole.
impl crate::tree::Tree for Node {
    fn get(&self, key: &str) -> Option<&Self> {
        Node::get(self, key)
    }

    fn entries(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        Some(self.as_map()?.iter().map(|(k, v)| (k.as_str(), v)))
    }

    fn items(&self) -> Option<&[Self]> {
        self.as_seq()
    }

    fn as_str(&self) -> Option<&str> {
        Node::as_str(self)
    }

    fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        self.to_value()
    }
}

fn build_at<'a, T: IntoNode<'a>>(
    map: &crate::parse::source_map::SourceMap,
    value: T,
    place: Place,
    text: &str,
    file: FileId,
) -> Node {
    use crate::parse::source_map::Step;
    let (origin, idx, under) = match &place {
        Place::At(idx, loc) => (
            Origin {
                file,
                key: loc.key.as_ref().map(|k| Span::new(k.start, k.end)),
                value: scalar_or_head(loc.kind, loc.value.start, loc.value.end, text),
            },
            Some(*idx),
            loc.value.start,
        ),
        Place::Under(start) => (Origin::new(file, Span::new(*start, *start)), None, *start),
    };
    let child_place = |step: Step<'_>| -> Place {
        match idx.and_then(|i| map.child(i, step, text)) {
            Some(c) => match map.located(c) {
                Some(loc) => Place::At(c, loc),
                None => Place::Under(under),
            },
            None => Place::Under(under),
        }
    };
    let kind = match value.shape() {
        Shape::Null => Kind::Null,
        Shape::Bool(b) => Kind::Bool(b),
        Shape::Number(n) => Kind::Number(n),
        Shape::String(s) => Kind::String(s.into_owned()),
        Shape::Seq(len, items) => {
            let mut out = Vec::with_capacity(len);
            for (i, v) in items.enumerate() {
                out.push(build_at(map, v, child_place(Step::Index(i)), text, file));
            }
            Kind::Seq(out)
        }
        Shape::Map(entries) => Kind::Map(
            entries
                .map(|(k, v)| {
                    let node = build_at(map, v, child_place(Step::Key(&k)), text, file);
                    (k.into_owned(), node)
                })
                .collect(),
        ),
    };
    Node::new(kind, origin)
}

/// A container's span, for a finding about it, is its first line; a scalar's is itself.
fn scalar_or_head(kind: NodeKind, start: usize, end: usize, text: &str) -> Span {
    if kind == NodeKind::Scalar {
        return Span::new(start, end);
    }
    let line_end = text[start.min(text.len())..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| start + i);
    Span::new(start, line_end.min(end.max(start)))
}

/// Helpers for the render's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Node, Origin};
    use crate::parse::{Limits, yaml};

    /// The first document of `text` as a tree of file `file`.
    pub fn doc(text: &str, file: u32) -> Node {
        let (docs, issues) = yaml::parse(text, &Limits::default());
        assert!(issues.is_empty(), "{issues:?}");
        Node::from_document(&docs[0], "", text, file).unwrap()
    }

    /// The text of `o`'s value span.
    pub fn text_at(text: &str, o: Origin) -> &str {
        &text[o.value.start as usize..o.value.end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Limits, yaml};
    use serde_json::json;

    /// A value set from another file takes that file's spans whole: a key span of the
    /// old file would point at unrelated text of the new one.
    #[test]
    fn a_replaced_value_never_mixes_files() {
        let old = Origin {
            file: 1,
            key: Some(Span::new(10, 14)),
            value: Span::new(16, 20),
        };
        let elsewhere = Origin::new(2, Span::new(3, 5));
        assert_eq!(old.replaced_by(elsewhere), elsewhere);
        let same_file = Origin::new(1, Span::new(30, 35));
        assert_eq!(
            old.replaced_by(same_file),
            Origin {
                file: 1,
                key: Some(Span::new(10, 14)),
                value: Span::new(30, 35)
            }
        );
    }

    #[test]
    fn every_node_of_a_document_keeps_its_span() {
        let text =
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
        let (docs, _) = yaml::parse(text, &Limits::default());
        let node = Node::from_document(&docs[0], "", text, 7).unwrap();
        assert_eq!(node.to_value(), docs[0].value);
        let image = node.pointer("/spec/containers/0/image").unwrap();
        assert_eq!(image.origin.file, 7);
        let span = image.origin.value;
        assert_eq!(&text[span.start as usize..span.end as usize], "nginx");
        let key = image.origin.key.unwrap();
        assert_eq!(&text[key.start as usize..key.end as usize], "image");
        // A missing field is placed at its nearest ancestor.
        let (origin, ancestor) = node.locate("/spec/containers/0/securityContext/privileged");
        assert!(ancestor);
        assert_eq!(origin, node.pointer("/spec/containers/0").unwrap().origin);
    }

    #[test]
    fn values_set_by_a_field_carry_its_origin() {
        let field = Origin::new(2, Span::new(10, 20));
        let mut n = Node::from_value(&json!({"a": [1, {"b": "x"}]}), field);
        assert_eq!(n.pointer("/a/1/b").unwrap().origin, field);
        let other = Origin::new(3, Span::new(0, 1));
        n.set_origin_deep(other);
        assert_eq!(n.pointer("/a/0").unwrap().origin, other);
        assert_eq!(n.to_value(), json!({"a": [1, {"b": "x"}]}));
    }
}
