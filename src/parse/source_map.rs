//! A compact map from JSON pointers to source positions.
//!
//! Every node of a parsed document gets one fixed-size [`Node`] in a flat arena, in pre-order,
//! with the byte range of its value and, for mapping entries, of its key. Keys are not copied:
//! a key is a byte range into the file's text (or, for the rare quoted key with escapes, an
//! index into a side table). Looking up a pointer walks the arena from the root, skipping
//! whole subtrees by their size, so the map costs one small allocation per document instead
//! of one `String` per node. A document that is looked up builds, once, an index of the
//! children of its large mappings and sequences, so placing many findings among many
//! siblings (a ConfigMap with 100,000 keys) stays linear.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use super::Reader;

/// Containers with at least this many children are indexed on first lookup.
const INDEXED_CHILDREN: usize = 16;

/// Kind of a node in the source map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Scalar,
    Map,
    Seq,
}

/// Where a mapping entry's key text lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyText {
    /// The node is not a mapping entry (document root or sequence item).
    None,
    /// The key's text equals `source[start..end]` of its span.
    Source,
    /// The key's text is `owned_keys[i]` (quoted keys with escapes, keys from aliases).
    Owned(u32),
}

/// One node: its value span, its key span (for mapping entries) and its subtree size.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub kind: NodeKind,
    key: KeyText,
    /// Byte range of the key (empty when the node has no key).
    pub key_start: u32,
    pub key_end: u32,
    /// Byte range of the value.
    pub start: u32,
    pub end: u32,
    /// Number of nodes in this subtree, itself included.
    pub size: u32,
    /// Whether this is a merge entry (`<<`), whose children are searched after explicit keys.
    pub merge: bool,
}

/// What a JSON pointer resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Byte range of the key, when the node is a mapping entry.
    pub key: Option<Range<usize>>,
    /// Byte range of the value.
    pub value: Range<usize>,
    pub kind: NodeKind,
    /// True when the pointer did not resolve fully and this is its nearest existing ancestor.
    pub ancestor: bool,
}

/// The source map of one document.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    nodes: Vec<Node>,
    owned_keys: Vec<Box<str>>,
    /// Which reader built the document: it decides which of a key set twice (explicitly and
    /// by a `<<` merge) the value holds.
    reader: Reader,
    /// The children of large containers, built on the first lookup.
    index: OnceLock<HashMap<u32, Children>>,
}

/// The children of one large container.
#[derive(Debug, Clone, Default)]
struct Children {
    all: Vec<u32>,
    /// Mapping keys: the last explicit (not merged) child of each key.
    keys: HashMap<Box<str>, u32>,
    /// Mapping `<<` entries, in order.
    merges: Vec<u32>,
}

impl SourceMap {
    pub(crate) fn new(reader: Reader) -> Self {
        Self {
            reader,
            ..Self::default()
        }
    }

    pub(crate) fn with_capacity(reader: Reader, n: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(n),
            reader,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Starts a node; returns its index. `key` is `(text_is_source_slice, range, owned text)`.
    pub(crate) fn push(&mut self, kind: NodeKind, key: Option<NodeKey<'_>>, start: u32) -> u32 {
        let (key, key_start, key_end, merge) = match key {
            None => (KeyText::None, 0, 0, false),
            Some(k) => {
                let text = match k.owned {
                    None => KeyText::Source,
                    Some(s) => {
                        self.owned_keys.push(s.into());
                        KeyText::Owned(self.owned_keys.len() as u32 - 1)
                    }
                };
                (text, k.start, k.end, k.merge)
            }
        };
        self.nodes.push(Node {
            kind,
            key,
            key_start,
            key_end,
            start,
            end: start,
            size: 1,
            merge,
        });
        self.nodes.len() as u32 - 1
    }

    /// Moves every position `by` bytes on (a document parsed out of a larger text).
    pub(crate) fn shift(&mut self, by: u32) {
        for n in &mut self.nodes {
            n.start += by;
            n.end += by;
            if n.key != KeyText::None {
                n.key_start += by;
                n.key_end += by;
            }
        }
        self.index = OnceLock::new();
    }

    /// Closes node `idx`: its subtree is everything pushed since it started.
    pub(crate) fn finish(&mut self, idx: u32, end: u32) {
        let len = self.nodes.len() as u32;
        let n = &mut self.nodes[idx as usize];
        n.end = end.max(n.start);
        n.size = len - idx;
    }

    /// Copies the subtree rooted at `from` (an anchored node) as a new subtree with `key`:
    /// aliases point at the anchor's text. Returns the new root index.
    pub(crate) fn copy_subtree(&mut self, from: u32, key: Option<NodeKey<'_>>) -> u32 {
        let root = self.nodes[from as usize];
        let idx = self.push(root.kind, key, root.start);
        self.nodes[idx as usize].end = root.end;
        for i in from + 1..from + root.size {
            let mut n = self.nodes[i as usize];
            if let KeyText::Owned(k) = n.key {
                let text = self.owned_keys[k as usize].clone();
                self.owned_keys.push(text);
                n.key = KeyText::Owned(self.owned_keys.len() as u32 - 1);
            }
            self.nodes.push(n);
        }
        self.nodes[idx as usize].size = root.size;
        idx
    }

    fn key_text<'a>(&'a self, node: &Node, source: &'a str) -> Option<&'a str> {
        match node.key {
            KeyText::None => None,
            KeyText::Source => source.get(node.key_start as usize..node.key_end as usize),
            KeyText::Owned(i) => Some(&self.owned_keys[i as usize]),
        }
    }

    /// Children of node `idx`, in source order.
    fn children(&self, idx: usize) -> impl Iterator<Item = usize> + '_ {
        let end = idx + self.nodes[idx].size as usize;
        let mut i = idx + 1;
        std::iter::from_fn(move || {
            if i < end {
                let c = i;
                i += self.nodes[c].size as usize;
                #[cfg(test)]
                tests::STEPS.with(|s| s.set(s.get() + 1));
                Some(c)
            } else {
                None
            }
        })
    }

    /// The index of large containers, built once.
    fn index(&self, source: &str) -> &HashMap<u32, Children> {
        self.index.get_or_init(|| {
            let mut out = HashMap::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if n.kind == NodeKind::Scalar || (n.size as usize) <= INDEXED_CHILDREN {
                    continue;
                }
                let all: Vec<u32> = self.children(i).map(|c| c as u32).collect();
                if all.len() < INDEXED_CHILDREN {
                    continue;
                }
                let mut c = Children::default();
                if n.kind == NodeKind::Map {
                    for &child in &all {
                        let cn = &self.nodes[child as usize];
                        if cn.merge {
                            c.merges.push(child);
                        } else if let Some(k) = self.key_text(cn, source) {
                            c.keys.insert(k.into(), child);
                        }
                    }
                }
                c.all = all;
                out.insert(i as u32, c);
            }
            out
        })
    }

    /// The `i`th child of sequence node `idx`.
    fn seq_child(&self, idx: usize, i: usize, source: &str) -> Option<usize> {
        if self.nodes[idx].size as usize > INDEXED_CHILDREN
            && let Some(c) = self.index(source).get(&(idx as u32))
        {
            return c.all.get(i).map(|&c| c as usize);
        }
        self.children(idx).nth(i)
    }

    /// Finds the child of mapping node `idx` with key `key`, as the document's reader
    /// decided it: among explicit duplicates the last wins; a `<<` merge after an explicit
    /// key wins for kubectl (go-yaml v2 applies it where it stands) and loses for kyaml;
    /// within one merge of several mappings, the earlier mapping wins.
    fn map_child(&self, idx: usize, key: &str, source: &str) -> Option<usize> {
        let (explicit, merges): (Option<usize>, Vec<usize>) = if self.nodes[idx].size as usize
            > INDEXED_CHILDREN
            && let Some(c) = self.index(source).get(&(idx as u32))
        {
            (
                c.keys.get(key).map(|&c| c as usize),
                c.merges.iter().map(|&m| m as usize).collect(),
            )
        } else {
            let mut explicit = None;
            let mut merges = Vec::new();
            for c in self.children(idx) {
                let n = &self.nodes[c];
                if n.merge {
                    merges.push(c);
                } else if self.key_text(n, source) == Some(key) {
                    explicit = Some(c);
                }
            }
            (explicit, merges)
        };
        let merged = |m: usize| self.merged_child(m, key, source);
        match self.reader {
            Reader::Kyaml => explicit.or_else(|| merges.into_iter().find_map(merged)),
            Reader::Kubectl => {
                // The last definition in document order.
                let after = merges
                    .into_iter()
                    .filter(|&m| explicit.is_none_or(|e| m > e))
                    .filter_map(merged)
                    .last();
                after.or(explicit)
            }
        }
    }

    /// The child for `key` brought in by the `<<` entry `m` (`<<: *a` or `<<: [*a, *b]`).
    fn merged_child(&self, m: usize, key: &str, source: &str) -> Option<usize> {
        match self.nodes[m].kind {
            NodeKind::Map => self.map_child(m, key, source),
            NodeKind::Seq => self
                .children(m)
                .filter(|&c| self.nodes[c].kind == NodeKind::Map)
                .find_map(|c| self.map_child(c, key, source)),
            NodeKind::Scalar => None,
        }
    }

    /// Byte offset of the first key `key` among the children of mapping node `parent`.
    /// Works while `parent` is still open (its subtree then runs to the end of the arena).
    pub(crate) fn first_key_offset(&self, parent: u32, key: &str, source: &str) -> Option<u32> {
        let mut i = parent as usize + 1;
        while i < self.nodes.len() {
            let n = &self.nodes[i];
            if !n.merge && self.key_text(n, source) == Some(key) {
                return Some(n.key_start);
            }
            i += n.size as usize;
        }
        None
    }

    /// Resolves an RFC 6901 JSON pointer (`""` is the root) to its node, or to the nearest
    /// existing ancestor when the pointer goes further than the document (a missing field).
    pub fn locate(&self, pointer: &str, source: &str) -> Option<Located> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut idx = 0usize;
        let mut ancestor = false;
        if !pointer.is_empty() {
            for raw in pointer.strip_prefix('/').unwrap_or(pointer).split('/') {
                let seg = unescape(raw);
                let node = &self.nodes[idx];
                let next = match node.kind {
                    NodeKind::Map => self.map_child(idx, &seg, source),
                    NodeKind::Seq => seg
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| self.seq_child(idx, i, source)),
                    NodeKind::Scalar => None,
                };
                match next {
                    Some(n) => idx = n,
                    None => {
                        ancestor = true;
                        break;
                    }
                }
            }
        }
        let n = &self.nodes[idx];
        Some(Located {
            key: (n.key != KeyText::None).then_some(n.key_start as usize..n.key_end as usize),
            value: n.start as usize..n.end as usize,
            kind: n.kind,
            ancestor,
        })
    }

    /// The child of node `idx` for one step of a path, as [`Self::locate`] takes it: a
    /// mapping key, or a sequence index. Walking a whole tree this way costs one lookup a
    /// node, where `locate` re-walks the path from the root.
    pub fn child(&self, idx: usize, step: Step<'_>, source: &str) -> Option<usize> {
        let node = self.nodes.get(idx)?;
        match (node.kind, step) {
            (NodeKind::Map, Step::Key(k)) => self.map_child(idx, k, source),
            (NodeKind::Seq, Step::Index(i)) => self.seq_child(idx, i, source),
            _ => None,
        }
    }

    /// What node `idx` is, as [`Self::locate`] reports it (`ancestor` false).
    pub fn located(&self, idx: usize) -> Option<Located> {
        let n = self.nodes.get(idx)?;
        Some(Located {
            key: (n.key != KeyText::None).then_some(n.key_start as usize..n.key_end as usize),
            value: n.start as usize..n.end as usize,
            kind: n.kind,
            ancestor: false,
        })
    }

    /// Every JSON pointer of the document with its node, in source order (for tests and
    /// debugging; allocates a pointer per node).
    pub fn pointers(&self, source: &str) -> Vec<(String, Located)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        if self.nodes.is_empty() {
            return out;
        }
        self.walk(0, String::new(), source, &mut out);
        out
    }

    fn walk(&self, idx: usize, ptr: String, source: &str, out: &mut Vec<(String, Located)>) {
        let n = &self.nodes[idx];
        out.push((
            ptr.clone(),
            Located {
                key: (n.key != KeyText::None).then_some(n.key_start as usize..n.key_end as usize),
                value: n.start as usize..n.end as usize,
                kind: n.kind,
                ancestor: false,
            },
        ));
        match n.kind {
            NodeKind::Scalar => {}
            NodeKind::Seq => {
                for (i, c) in self.children(idx).enumerate() {
                    self.walk(c, format!("{ptr}/{i}"), source, out);
                }
            }
            NodeKind::Map => {
                for c in self.children(idx) {
                    let cn = &self.nodes[c];
                    if cn.merge {
                        continue;
                    }
                    let key = self.key_text(cn, source).unwrap_or_default();
                    self.walk(c, format!("{ptr}/{}", escape(key)), source, out);
                }
            }
        }
    }
}

/// One step of a path into a document.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A mapping key as recorded for a node.
pub(crate) struct NodeKey<'a> {
    pub start: u32,
    pub end: u32,
    /// `None` when the key's text is exactly `source[start..end]`.
    pub owned: Option<&'a str>,
    pub merge: bool,
}

/// Decodes one JSON pointer segment (`~1` is `/`, `~0` is `~`).
pub fn unescape(seg: &str) -> std::borrow::Cow<'_, str> {
    if seg.contains('~') {
        seg.replace("~1", "/").replace("~0", "~").into()
    } else {
        seg.into()
    }
}

/// Encodes one JSON pointer segment.
pub fn escape(seg: &str) -> std::borrow::Cow<'_, str> {
    if seg.contains(['~', '/']) {
        seg.replace('~', "~0").replace('/', "~1").into()
    } else {
        seg.into()
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::{Limits, yaml};

    thread_local! {
        /// Children visited by lookups on this thread.
        pub(super) static STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Looking up every key of a large mapping visits each child a bounded number of
    /// times, not once per lookup (a ConfigMap with 100,000 broken values took 48 s).
    #[test]
    fn lookups_among_many_siblings_are_linear() {
        let n = 20_000;
        let mut text = String::from("data:\n");
        for i in 0..n {
            text.push_str(&format!("  k{i}: {i}\n"));
        }
        text.push_str("list:\n");
        for i in 0..n {
            text.push_str(&format!("  - {i}\n"));
        }
        let (docs, issues) = yaml::parse(&text, &Limits::default());
        assert!(issues.is_empty(), "{issues:?}");
        let map = &docs[0].source_map;
        STEPS.with(|s| s.set(0));
        for i in 0..n {
            assert!(map.locate(&format!("/data/k{i}"), &text).is_some());
            assert!(map.locate(&format!("/list/{i}"), &text).is_some());
        }
        let steps = STEPS.with(|s| s.get());
        // Building the index walks each child once; each lookup then walks the root's two
        // children. A scan per lookup would take n * n / 2 steps for each of the two.
        assert!(steps < 10 * n, "{steps} steps for {} lookups", 2 * n);
    }
}
