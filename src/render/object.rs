//! A rendered object as the run keeps it: a large one packed into bytes as soon as its root
//! finishes, unpacked whenever a check reads it.
//!
//! A rendered CustomResourceDefinition is a tree of thousands of nodes (its schema), and
//! every rendered object waits from the end of its root's render to the end of the run: the
//! checks of the objects, the admission policies and the merge request's comparison all
//! read it after the render. As a tree, each node takes 64 bytes, a mapping entry 88 and a
//! heap allocation for its key; packed, a node takes its tag, its origin as variable-length
//! integers and its text (the corpus's largest rendered objects: 3.6 MB for what were about
//! 13 MB of trees). A check unpacks the tree it reads (exactly the tree that was packed)
//! and lets go of it after.

use std::borrow::Cow;

use serde_json::Number;

use super::node::{Kind, Map, Node, Origin, Span};

/// Objects of at least this many nodes are packed: a CRD's schema, a large ConfigMap made
/// from a structure. Below it, a tree is small enough to keep as it is.
const PACK_NODES: usize = 512;

/// A rendered object: its tree, or the tree packed ([`Rendered::of`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Tree(Node),
    Packed(Packed),
}

/// A tree written to bytes by [`pack`]: equal trees pack to equal bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    bytes: Box<[u8]>,
    /// The number of nodes, itself included.
    count: usize,
    /// Its `apiVersion` and `kind` (empty when not strings), read without unpacking it.
    api_version: Box<str>,
    kind: Box<str>,
}

impl Rendered {
    /// `node`, packed when it is large.
    pub fn of(node: Node) -> Self {
        let count = node.count();
        if count < PACK_NODES {
            return Rendered::Tree(node);
        }
        let mut bytes = Vec::new();
        pack(&node, None, &mut bytes);
        let (api_version, kind) = type_meta(&node);
        Rendered::Packed(Packed {
            bytes: bytes.into_boxed_slice(),
            count,
            api_version: api_version.into(),
            kind: kind.into(),
        })
    }

    /// Its `apiVersion` and `kind` (empty when not strings).
    pub fn type_meta(&self) -> (&str, &str) {
        match self {
            Rendered::Tree(n) => type_meta(n),
            Rendered::Packed(p) => (&p.api_version, &p.kind),
        }
    }

    /// The object's tree: borrowed, or unpacked for the caller.
    pub fn node(&self) -> Cow<'_, Node> {
        match self {
            Rendered::Tree(n) => Cow::Borrowed(n),
            Rendered::Packed(p) => Cow::Owned(p.unpack()),
        }
    }

    /// The tree, taken out.
    pub fn into_node(self) -> Node {
        match self {
            Rendered::Tree(n) => n,
            Rendered::Packed(p) => p.unpack(),
        }
    }

    /// The number of nodes of the tree, itself included.
    pub fn count(&self) -> usize {
        match self {
            Rendered::Tree(n) => n.count(),
            Rendered::Packed(p) => p.count,
        }
    }

    /// Feeds a hash that equal objects feed alike (their values and where each came
    /// from): a packed object its bytes, which hold both.
    pub fn hash_into(&self, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        match self {
            Rendered::Tree(n) => hash_tree(n, h),
            Rendered::Packed(p) => p.bytes.hash(h),
        }
    }
}

/// Rendered objects read several times in a row (findings placed one at a time on the same
/// object): each packed object unpacked once, the others borrowed.
pub struct Unpacked<'a, K> {
    trees: std::collections::HashMap<K, Cow<'a, Node>>,
}

impl<K> Default for Unpacked<'_, K> {
    fn default() -> Self {
        Self {
            trees: std::collections::HashMap::new(),
        }
    }
}

impl<'a, K: std::hash::Hash + Eq> Unpacked<'a, K> {
    /// The tree of `object`, known by `key`: unpacked on its first read.
    pub fn get(&mut self, key: K, object: &'a Rendered) -> &Node {
        self.trees.entry(key).or_insert_with(|| object.node())
    }
}

#[cfg(test)]
thread_local! {
    /// Objects unpacked on this thread, for the tests.
    static UNPACKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Packed {
    fn unpack(&self) -> Node {
        #[cfg(test)]
        UNPACKED.set(UNPACKED.get() + 1);
        let mut r = Reader {
            bytes: &self.bytes,
            at: 0,
        };
        // The bytes are this module's own, written by `pack`: they always read back.
        r.node(None).unwrap_or_else(|| {
            debug_assert!(false, "a packed object did not read back");
            Node::new(Kind::Null, Origin::new(0, Span::default()))
        })
    }
}

fn type_meta(node: &Node) -> (&str, &str) {
    let s = |k: &str| node.get(k).and_then(Node::as_str).unwrap_or("");
    (s("apiVersion"), s("kind"))
}

fn hash_tree(n: &Node, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    n.origin.hash(h);
    match &n.kind {
        Kind::Null => 0u8.hash(h),
        Kind::Bool(b) => (1u8, b).hash(h),
        Kind::Number(x) => (2u8, x).hash(h),
        Kind::String(s) => (3u8, s).hash(h),
        Kind::Seq(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_tree(i, h));
        }
        Kind::Map(m) => {
            (5u8, m.len()).hash(h);
            for (k, v) in m {
                k.hash(h);
                hash_tree(v, h);
            }
        }
    }
}

// A node's first byte: what its value is (the low four bits) and which parts of its origin
// follow.
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const UNSIGNED: u8 = 3;
const SIGNED: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const SEQ: u8 = 7;
const MAP: u8 = 8;
const KIND_BITS: u8 = 0x0f;
/// Its origin has a key span.
const HAS_KEY: u8 = 0x10;
/// It has `key_at`.
const HAS_KEY_AT: u8 = 0x20;
/// Its origin is in another file than its parent's (the file's id follows).
const OTHER_FILE: u8 = 0x40;

/// Writes `node` (whose parent's origin is in `parent_file`) to `out`.
fn pack(node: &Node, parent_file: Option<u32>, out: &mut Vec<u8>) {
    let o = &node.origin;
    let mut tag = match &node.kind {
        Kind::Null => NULL,
        Kind::Bool(false) => FALSE,
        Kind::Bool(true) => TRUE,
        Kind::Number(n) if n.is_u64() => UNSIGNED,
        Kind::Number(n) if n.is_i64() => SIGNED,
        Kind::Number(_) => FLOAT,
        Kind::String(_) => STRING,
        Kind::Seq(_) => SEQ,
        Kind::Map(_) => MAP,
    };
    if o.key.is_some() {
        tag |= HAS_KEY;
    }
    if node.key_at.is_some() {
        tag |= HAS_KEY_AT;
    }
    if parent_file != Some(o.file) {
        tag |= OTHER_FILE;
    }
    out.push(tag);
    if tag & OTHER_FILE != 0 {
        varint(out, u64::from(o.file));
    }
    span(out, o.value);
    if let Some(k) = o.key {
        span(out, k);
    }
    if let Some(k) = &node.key_at {
        origin(out, k);
    }
    match &node.kind {
        Kind::Null | Kind::Bool(_) => {}
        Kind::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => varint(out, u),
            (None, Some(i)) => varint(out, zigzag(i)),
            _ => out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes()),
        },
        Kind::String(s) => text(out, s),
        Kind::Seq(items) => {
            varint(out, items.len() as u64);
            items.iter().for_each(|i| pack(i, Some(o.file), out));
        }
        Kind::Map(m) => {
            varint(out, m.len() as u64);
            for (k, v) in m.iter() {
                text(out, k);
                pack(v, Some(o.file), out);
            }
        }
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn span(out: &mut Vec<u8>, s: Span) {
    varint(out, u64::from(s.start));
    varint(out, u64::from(s.end.wrapping_sub(s.start)));
}

fn origin(out: &mut Vec<u8>, o: &Origin) {
    varint(out, u64::from(o.file));
    span(out, o.value);
    match o.key {
        Some(k) => {
            out.push(1);
            span(out, k);
        }
        None => out.push(0),
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads what [`pack`] wrote.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }

    fn span(&mut self) -> Option<Span> {
        let start = self.u32()?;
        let len = self.u32()?;
        Some(Span {
            start,
            end: start.wrapping_add(len),
        })
    }

    fn origin(&mut self) -> Option<Origin> {
        let file = self.u32()?;
        let value = self.span()?;
        let key = match self.byte()? {
            0 => None,
            _ => Some(self.span()?),
        };
        Some(Origin { file, key, value })
    }

    fn text(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.at.checked_add(len)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s.to_owned())
    }

    fn node(&mut self, parent_file: Option<u32>) -> Option<Node> {
        let tag = self.byte()?;
        let file = match (tag & OTHER_FILE != 0, parent_file) {
            (false, Some(f)) => f,
            _ => self.u32()?,
        };
        let value = self.span()?;
        let key = match tag & HAS_KEY != 0 {
            true => Some(self.span()?),
            false => None,
        };
        let key_at = match tag & HAS_KEY_AT != 0 {
            true => Some(Box::new(self.origin()?)),
            false => None,
        };
        let kind = match tag & KIND_BITS {
            NULL => Kind::Null,
            FALSE => Kind::Bool(false),
            TRUE => Kind::Bool(true),
            UNSIGNED => Kind::Number(Number::from(self.varint()?)),
            SIGNED => Kind::Number(Number::from(unzigzag(self.varint()?))),
            FLOAT => {
                let end = self.at.checked_add(8)?;
                let raw: [u8; 8] = self.bytes.get(self.at..end)?.try_into().ok()?;
                self.at = end;
                Kind::Number(Number::from_f64(f64::from_le_bytes(raw))?)
            }
            STRING => Kind::String(self.text()?),
            SEQ => {
                let n = usize::try_from(self.varint()?).ok()?;
                // Every node takes at least three bytes: a count past what is left is not
                // believed.
                let mut items = Vec::with_capacity(n.min(self.bytes.len() - self.at));
                for _ in 0..n {
                    items.push(self.node(Some(file))?);
                }
                Kind::Seq(items)
            }
            MAP => {
                let n = usize::try_from(self.varint()?).ok()?;
                let mut entries = Vec::with_capacity(n.min(self.bytes.len() - self.at));
                for _ in 0..n {
                    let k = self.text()?;
                    entries.push((k, self.node(Some(file))?));
                }
                // Written from a map's sorted entries: sorted, no key twice.
                Kind::Map(Map::from_sorted_store_unchecked(entries))
            }
            _ => return None,
        };
        Some(Node {
            kind,
            origin: Origin { file, key, value },
            key_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: u32, start: u32, end: u32) -> Origin {
        Origin::new(file, Span { start, end })
    }

    fn leaf(kind: Kind, o: Origin) -> Node {
        Node::new(kind, o)
    }

    /// Findings placed one by one on a packed object unpack it once; a small object is
    /// never unpacked.
    #[test]
    fn an_object_read_again_is_unpacked_once() {
        let packed = Rendered::of(big_tree());
        let small = Rendered::of(leaf(Kind::Bool(true), at(1, 0, 4)));
        assert!(matches!(packed, Rendered::Packed(_)));
        let mut trees = Unpacked::default();
        let before = UNPACKED.get();
        for _ in 0..3 {
            assert_eq!(*trees.get(0, &packed), big_tree());
            assert_eq!(trees.get(1, &small).kind, Kind::Bool(true));
        }
        assert_eq!(UNPACKED.get() - before, 1);
    }

    /// A tree with every kind of value, keys, origins in two files, a key written
    /// elsewhere, and enough nodes to be packed.
    fn big_tree() -> Node {
        let mut props = Map::new();
        for i in 0..600u32 {
            let mut o = at(1, 1000 + i * 10, 1005 + i * 10);
            o.key = Some(Span {
                start: 990 + i * 10,
                end: 995 + i * 10,
            });
            let kind = match i % 9 {
                0 => Kind::Null,
                1 => Kind::Bool(i % 2 == 0),
                2 => Kind::Number(Number::from(u64::MAX - u64::from(i))),
                3 => Kind::Number(Number::from(-i64::from(i) - 1)),
                4 => Kind::Number(Number::from_f64(f64::from(i) / 7.0).unwrap()),
                5 => Kind::String(format!("dé{i}\u{1F600}")),
                6 => Kind::Seq(vec![leaf(Kind::String(String::new()), at(2, 5, 5))]),
                7 => Kind::Map(Map::new()),
                _ => Kind::Number(Number::from(i64::MIN)),
            };
            let mut n = leaf(kind, o);
            if i % 50 == 0 {
                n.key_at = Some(Box::new(Origin {
                    file: 3,
                    key: Some(Span { start: 7, end: 9 }),
                    value: Span { start: 9, end: 4 },
                }));
            }
            props.insert(format!("field-{i:03}"), n);
        }
        let mut root = Map::new();
        root.insert(
            "kind".into(),
            leaf(Kind::String("Thing".into()), at(1, 0, 5)),
        );
        root.insert("spec".into(), leaf(Kind::Map(props), at(u32::MAX, 6, 900)));
        leaf(Kind::Map(root), at(1, 0, 9000))
    }

    #[test]
    fn a_large_tree_packs_and_reads_back_the_same() {
        let tree = big_tree();
        let packed = Rendered::of(tree.clone());
        let Rendered::Packed(p) = &packed else {
            panic!("a tree of {} nodes was not packed", tree.count());
        };
        assert_eq!(p.count, tree.count());
        assert_eq!(*packed.node(), tree);
        assert_eq!(packed.clone().into_node(), tree);
        assert_eq!(packed.count(), tree.count());
        assert_eq!(packed.type_meta(), ("", "Thing"));
    }

    #[test]
    fn a_small_tree_is_kept_as_it_is() {
        let tree = leaf(Kind::String("x".into()), at(0, 0, 1));
        assert!(matches!(Rendered::of(tree.clone()), Rendered::Tree(t) if t == tree));
    }

    #[test]
    fn equal_trees_pack_alike_and_a_changed_origin_does_not() {
        use std::hash::Hasher;
        let hash = |r: &Rendered| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            r.hash_into(&mut h);
            h.finish()
        };
        let a = Rendered::of(big_tree());
        let b = Rendered::of(big_tree());
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        let mut moved = big_tree();
        moved.map_origins(&mut |mut o| {
            o.value.end += 1;
            o
        });
        let c = Rendered::of(moved);
        assert_ne!(a, c);
        assert_ne!(hash(&a), hash(&c));
    }
}
