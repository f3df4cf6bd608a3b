//! YAML (and JSON, a subset of it) to `serde_json::Value` plus a [`SourceMap`], in one pass
//! over `granit-parser` events.
//!
//! The builder keeps an explicit stack (no recursion), resolves plain scalars the way kubectl
//! does ([`super::scalar`]), expands aliases and merge keys within a node budget, reports
//! duplicate keys, and recovers from a syntax error at the next document so one broken
//! document does not hide the others.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Value};

use super::scalar;
use super::source_map::{NodeKey, NodeKind, SourceMap};
use super::{Document, Issue, Limits};

/// Parses every document of `source`.
pub fn parse(source: &str, limits: &Limits) -> (Vec<Document>, Vec<Issue>) {
    let options = granit_parser::options! {
        block_scalar_eof_without_line_feed: true,
        flow_nesting_limit: limits.max_depth,
        block_nesting_limit: limits.max_depth,
    };
    let mut parser = Parser::new_from_str_with_options(source, options);
    let mut b = Builder::new(source, limits);
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((ev, span))) => {
                if let Err(stop) = b.event(ev, span) {
                    b.fail(stop);
                    if !recover(&mut parser, &mut b) {
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                b.fail(Stop::Syntax(e));
                if !recover(&mut parser, &mut b) {
                    break;
                }
            }
        }
    }
    (b.documents, b.issues)
}

/// Skips to the next document after an error; false when there is none.
fn recover<'a>(parser: &mut Parser<'a, granit_parser::StrInput<'a>>, b: &mut Builder<'_>) -> bool {
    b.reset_document();
    matches!(parser.proceed_next_document(), Ok(true))
}

/// Why the current document was abandoned.
enum Stop {
    Syntax(ScanError),
    Limit { at: u32, message: String },
    Invalid { at: u32, message: String },
}

struct Anchor {
    value: Value,
    node: u32,
    /// Nodes in the anchored subtree, counting what its own aliases expanded.
    weight: usize,
}

struct PendingKey {
    text: String,
    start: u32,
    end: u32,
    /// The key text is not `source[start..end]` (quoted, escaped, folded or from an alias).
    owned: bool,
    merge: bool,
}

enum Container {
    Map {
        map: Map<String, Value>,
        key: Option<PendingKey>,
        /// Keys that came from `<<` merges and may still be overridden by explicit keys.
        merged: Vec<String>,
    },
    Seq(Vec<Value>),
}

struct Frame {
    container: Container,
    node: u32,
    anchor: usize,
    /// Weight counter value when this frame started (for anchor weights).
    weight_at: usize,
}

struct Builder<'s> {
    source: &'s str,
    limits: &'s Limits,
    documents: Vec<Document>,
    issues: Vec<Issue>,
    // Current document.
    doc_index: usize,
    doc_start: u32,
    in_document: bool,
    stack: Vec<Frame>,
    map: SourceMap,
    root: Option<Value>,
    anchors: HashMap<usize, Anchor>,
    /// Nodes built so far in this document, aliases expanded (the alias budget).
    weight: usize,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, limits: &'s Limits) -> Self {
        Self {
            source,
            limits,
            documents: Vec::new(),
            issues: Vec::new(),
            doc_index: 0,
            doc_start: 0,
            in_document: false,
            stack: Vec::new(),
            map: SourceMap::default(),
            root: None,
            anchors: HashMap::new(),
            weight: 0,
        }
    }

    fn offset(&self, m: &granit_parser::Marker) -> u32 {
        // The parser works on a &str, so byte offsets are always known; fall back to the
        // character index (equal for ASCII) if they ever are not.
        m.byte_offset().unwrap_or_else(|| m.index()) as u32
    }

    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), Stop> {
        let start = self.offset(&span.start);
        let end = self.offset(&span.end);
        match ev {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                self.reset_document();
                self.in_document = true;
                self.doc_start = start;
                self.map = SourceMap::with_capacity(64);
            }
            Event::DocumentEnd if self.in_document => {
                let value = self.root.take().unwrap_or(Value::Null);
                self.documents.push(Document {
                    index: self.doc_index,
                    value,
                    source_map: std::mem::take(&mut self.map),
                    start: self.doc_start,
                });
                self.in_document = false;
                self.doc_index += 1;
                self.anchors.clear();
                self.weight = 0;
            }
            Event::Alias(id) => self.alias(id, start)?,
            Event::Scalar(text, style, anchor, tag) => {
                if self.expecting_key() {
                    let owned = !(style == ScalarStyle::Plain
                        || style == ScalarStyle::SingleQuoted
                        || style == ScalarStyle::DoubleQuoted)
                        || self.source.get(start as usize..end as usize) != Some(&*text);
                    let merge = style == ScalarStyle::Plain && text == "<<";
                    self.set_key(PendingKey {
                        text: text.into_owned(),
                        start,
                        end,
                        owned,
                        merge,
                    })?;
                    return Ok(());
                }
                let value = match (&style, tag.as_deref()) {
                    (_, Some(t)) if t.is_yaml_core_schema() => {
                        let suffix = t.suffix();
                        scalar::resolve_tagged(&text, suffix).ok_or_else(|| Stop::Invalid {
                            at: start,
                            message: format!("`{text}` is not a valid !!{suffix}"),
                        })?
                    }
                    (ScalarStyle::Plain, _) => scalar::resolve_plain(&text).0,
                    _ => Value::String(text.into_owned()),
                };
                let node = self.start_node(NodeKind::Scalar, start)?;
                self.map.finish(node, end);
                self.weight += 1;
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            value: value.clone(),
                            node,
                            weight: 1,
                        },
                    );
                }
                self.attach(value, start)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(Container::Seq(Vec::new()), NodeKind::Seq, anchor, start)?
            }
            Event::MappingStart(_, anchor, _) => self.open(
                Container::Map {
                    map: Map::new(),
                    key: None,
                    merged: Vec::new(),
                },
                NodeKind::Map,
                anchor,
                start,
            )?,
            Event::SequenceEnd | Event::MappingEnd => self.close(start, end)?,
            _ => {}
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                container: Container::Map { key: None, .. },
                ..
            })
        )
    }

    fn set_key(&mut self, key: PendingKey) -> Result<(), Stop> {
        if let Some(Frame {
            container: Container::Map { key: slot, .. },
            ..
        }) = self.stack.last_mut()
        {
            *slot = Some(key);
        }
        Ok(())
    }

    /// Records a new node in the source map, keyed by the pending mapping key if any.
    fn start_node(&mut self, kind: NodeKind, start: u32) -> Result<u32, Stop> {
        let key = match self.stack.last() {
            Some(Frame {
                container: Container::Map { key: Some(k), .. },
                ..
            }) => Some(NodeKey {
                start: k.start,
                end: k.end,
                owned: k.owned.then_some(k.text.as_str()),
                merge: k.merge,
            }),
            _ => None,
        };
        Ok(self.map.push(kind, key, start))
    }

    fn open(
        &mut self,
        container: Container,
        kind: NodeKind,
        anchor: usize,
        start: u32,
    ) -> Result<(), Stop> {
        if self.expecting_key() {
            return Err(Stop::Invalid {
                at: start,
                message: "a mapping or sequence used as a mapping key cannot be converted to JSON"
                    .into(),
            });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(Stop::Limit {
                at: start,
                message: format!(
                    "nesting deeper than {} levels; refusing to parse further",
                    self.limits.max_depth
                ),
            });
        }
        let node = self.start_node(kind, start)?;
        self.weight += 1;
        self.stack.push(Frame {
            container,
            node,
            anchor,
            weight_at: self.weight - 1,
        });
        Ok(())
    }

    fn close(&mut self, start: u32, end: u32) -> Result<(), Stop> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        // Block collections end where the next token starts; flow ones at their bracket.
        let close_at = if end > start { end } else { start };
        self.map.finish(frame.node, close_at);
        let value = match frame.container {
            Container::Map { map, .. } => Value::Object(map),
            Container::Seq(items) => Value::Array(items),
        };
        if frame.anchor != 0 {
            self.anchors.insert(
                frame.anchor,
                Anchor {
                    value: value.clone(),
                    node: frame.node,
                    weight: self.weight - frame.weight_at,
                },
            );
        }
        let at = self.map.nodes()[frame.node as usize].start;
        self.attach(value, at)
    }

    fn alias(&mut self, id: usize, at: u32) -> Result<(), Stop> {
        let Some(anchor) = self.anchors.get(&id) else {
            return Err(Stop::Invalid {
                at,
                message: "alias refers to an anchor that is not complete here (recursive alias)"
                    .into(),
            });
        };
        let (weight, node) = (anchor.weight, anchor.node);
        self.weight += weight;
        if self.weight > self.limits.max_alias_nodes {
            return Err(Stop::Limit {
                at,
                message: format!(
                    "aliases expand to more than {} nodes in this document (an alias bomb?); \
                     refusing to expand further",
                    self.limits.max_alias_nodes
                ),
            });
        }
        if self.expecting_key() {
            let text = match &anchor.value {
                Value::String(s) => s.clone(),
                Value::Object(_) | Value::Array(_) => {
                    return Err(Stop::Invalid {
                        at,
                        message: "an alias to a mapping or sequence used as a mapping key".into(),
                    });
                }
                other => other.to_string(),
            };
            let end = at + 1;
            return self.set_key(PendingKey {
                text,
                start: at,
                end,
                owned: true,
                merge: false,
            });
        }
        let value = anchor.value.clone();
        let key = match self.stack.last() {
            Some(Frame {
                container: Container::Map { key: Some(k), .. },
                ..
            }) => Some((k.start, k.end, k.owned.then(|| k.text.clone()), k.merge)),
            _ => None,
        };
        let key = key.as_ref().map(|(s, e, o, m)| NodeKey {
            start: *s,
            end: *e,
            owned: o.as_deref(),
            merge: *m,
        });
        self.map.copy_subtree(node, key);
        self.attach(value, at)
    }

    /// Puts a finished value into its parent (or makes it the document root).
    fn attach(&mut self, value: Value, at: u32) -> Result<(), Stop> {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        match &mut frame.container {
            Container::Seq(items) => items.push(value),
            Container::Map { map, key, merged } => {
                let Some(k) = key.take() else {
                    return Ok(());
                };
                if k.merge {
                    return merge_into(map, merged, value, at);
                }
                if let Some(pos) = merged.iter().position(|m| *m == k.text) {
                    // An explicit key overrides a merged one, wherever it appears.
                    merged.swap_remove(pos);
                    map.insert(k.text, value);
                    return Ok(());
                }
                let parent = frame.node;
                if map.insert(k.text.clone(), value).is_some() {
                    let first = self
                        .map
                        .first_key_offset(parent, &k.text, self.source)
                        .unwrap_or(k.start);
                    let (line, _) = line_col(self.source, first);
                    self.issues.push(Issue {
                        rule: "duplicate-key",
                        message: format!(
                            "duplicate key `{}` (first defined on line {line}); Kubernetes \
                             rejects duplicate fields and the last value would win",
                            k.text
                        ),
                        start: k.start,
                        end: k.end,
                        document: self.doc_index,
                    });
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, stop: Stop) {
        let (rule, message, start) = match stop {
            Stop::Syntax(e) => {
                let at = self.offset(e.marker()).min(self.source.len() as u32);
                let kind = e.kind().to_string();
                if kind.contains("recursion limit") || kind.contains("nesting limit") {
                    (
                        "yaml-limit",
                        format!(
                            "nesting deeper than {} levels; refusing to parse further",
                            self.limits.max_depth
                        ),
                        at,
                    )
                } else {
                    ("yaml-syntax", format!("invalid YAML: {kind}"), at)
                }
            }
            Stop::Limit { at, message } => ("yaml-limit", message, at),
            Stop::Invalid { at, message } => ("yaml-syntax", message, at),
        };
        let mut message = message;
        if rule == "yaml-syntax" && line_of(self.source, start).contains("{{") {
            message.push_str(
                "; the line holds a template placeholder (`{{ ... }}`): check the rendered \
                 output instead, or --exclude the template",
            );
        }
        self.issues.push(Issue {
            rule,
            message,
            start,
            end: start,
            document: self.doc_index,
        });
    }

    /// Drops the partial state of the current document (after an error).
    fn reset_document(&mut self) {
        if self.in_document {
            // A document abandoned after an error still takes its index.
            self.doc_index += 1;
            self.in_document = false;
        }
        self.stack.clear();
        self.root = None;
        self.anchors.clear();
        self.weight = 0;
        self.map = SourceMap::default();
    }
}

/// Applies a `<<` merge: `value` is a mapping or a sequence of mappings; existing keys win,
/// and earlier mappings in a sequence win over later ones.
fn merge_into(
    map: &mut Map<String, Value>,
    merged: &mut Vec<String>,
    value: Value,
    at: u32,
) -> Result<(), Stop> {
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => {
            let mut maps = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(m) => maps.push(m),
                    _ => {
                        return Err(Stop::Invalid {
                            at,
                            message: "a merge key (`<<`) must refer to mappings".into(),
                        });
                    }
                }
            }
            maps
        }
        _ => {
            return Err(Stop::Invalid {
                at,
                message: "a merge key (`<<`) must refer to a mapping or a list of mappings".into(),
            });
        }
    };
    for source in sources {
        for (k, v) in source {
            if !map.contains_key(&k) {
                merged.push(k.clone());
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

/// The text of the line holding byte `offset`.
fn line_of(source: &str, offset: u32) -> &str {
    let offset = (offset as usize).min(source.len());
    if !source.is_char_boundary(offset) {
        return "";
    }
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    &source[start..end]
}

/// 1-based line and column (in characters) of a byte offset; for messages only.
fn line_col(source: &str, offset: u32) -> (usize, usize) {
    let offset = (offset as usize).min(source.len());
    let before = &source[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::LineIndex;
    use serde_json::json;

    fn parse_ok(src: &str) -> Vec<Document> {
        let (docs, issues) = parse(src, &Limits::default());
        assert!(issues.is_empty(), "unexpected issues: {issues:?}");
        docs
    }

    /// `(line, column)` of the key (if any) and of the value of `pointer`.
    fn at(src: &str, doc: &Document, pointer: &str) -> (Option<(u32, u32)>, (u32, u32)) {
        let idx = LineIndex::new(src);
        let loc = doc.source_map.locate(pointer, src).expect("locatable");
        assert!(!loc.ancestor, "{pointer} did not resolve fully");
        let p = |o: usize| {
            let p = idx.position(src, o);
            (p.line, p.column)
        };
        (loc.key.map(|k| p(k.start)), p(loc.value.start))
    }

    #[test]
    fn every_pointer_maps_to_its_key_and_value() {
        let src = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: \"front\"}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
          args: [--port, \"8080\"]
          command:
            - sh
";
        let docs = parse_ok(src);
        let d = &docs[0];
        assert_eq!(d.value["spec"]["replicas"], json!(2));
        assert_eq!(at(src, d, "/metadata/name"), (Some((4, 3)), (4, 9)));
        assert_eq!(at(src, d, "/metadata/labels/app"), (Some((5, 12)), (5, 17)));
        assert_eq!(
            at(src, d, "/metadata/labels/tier"),
            (Some((5, 22)), (5, 28))
        );
        assert_eq!(at(src, d, "/spec/replicas"), (Some((7, 3)), (7, 13)));
        assert_eq!(
            at(src, d, "/spec/template/spec/containers/0/image"),
            (Some((12, 11)), (12, 18))
        );
        assert_eq!(
            at(src, d, "/spec/template/spec/containers/0/args/1"),
            (None, (13, 26))
        );
        assert_eq!(
            at(src, d, "/spec/template/spec/containers/0/command/0"),
            (None, (15, 15))
        );
        // Every pointer the map knows resolves back to itself.
        for (ptr, loc) in d.source_map.pointers(src) {
            let again = d.source_map.locate(&ptr, src).unwrap();
            assert_eq!(again.value, loc.value, "{ptr}");
            assert!(d.value.pointer(&ptr).is_some(), "{ptr} not in the value");
        }
        // A missing field resolves to its nearest ancestor.
        let missing = d
            .source_map
            .locate("/spec/template/spec/securityContext/x", src)
            .unwrap();
        assert!(missing.ancestor);
        let idx = LineIndex::new(src);
        assert_eq!(idx.position(src, missing.key.unwrap().start).line, 9);
    }

    #[test]
    fn block_scalars_keep_their_position_and_text() {
        let src =
            "data:\n  script: |\n    echo hi\n    exit 0\n  folded: >-\n    a\n    b\nafter: 1\n";
        let d = &parse_ok(src)[0];
        assert_eq!(d.value["data"]["script"], json!("echo hi\nexit 0\n"));
        assert_eq!(d.value["data"]["folded"], json!("a b"));
        // A block scalar's value starts at its first content line.
        assert_eq!(at(src, d, "/data/script"), (Some((2, 3)), (3, 5)));
        assert_eq!(at(src, d, "/after"), (Some((8, 1)), (8, 8)));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let src = "\
base: &base
  image: nginx
  pull: Always
a:
  <<: *base
  pull: Never
b: *base
list: [&x 1, *x]
";
        let d = &parse_ok(src)[0];
        assert_eq!(d.value["a"], json!({"image": "nginx", "pull": "Never"}));
        assert_eq!(d.value["b"], json!({"image": "nginx", "pull": "Always"}));
        assert_eq!(d.value["list"], json!([1, 1]));
        // The explicit key wins, and is found at its own line.
        assert_eq!(at(src, d, "/a/pull"), (Some((6, 3)), (6, 9)));
        // A merged key points at the anchored text.
        assert_eq!(at(src, d, "/a/image"), (Some((2, 3)), (2, 10)));
        // An aliased subtree has the alias's key and the anchor's content.
        assert_eq!(at(src, d, "/b").0, Some((7, 1)));
        assert_eq!(at(src, d, "/b/pull"), (Some((3, 3)), (3, 9)));
        assert_eq!(at(src, d, "/list/1").1, (8, 11));
    }

    #[test]
    fn crlf_multibyte_and_quoted_keys() {
        let src = "metadata:\r\n  name: \"héllo\"\r\n  \"quoted/key\": wörld\r\n  labels:\r\n    ünïcode: ✓\r\n";
        let d = &parse_ok(src)[0];
        assert_eq!(d.value["metadata"]["name"], json!("héllo"));
        assert_eq!(at(src, d, "/metadata/name"), (Some((2, 3)), (2, 9)));
        assert_eq!(at(src, d, "/metadata/quoted~1key"), (Some((3, 3)), (3, 17)));
        assert_eq!(
            at(src, d, "/metadata/labels/ünïcode"),
            (Some((5, 5)), (5, 14))
        );
    }

    #[test]
    fn multiple_documents_and_json() {
        let src = "---\na: 1\n---\n# only a comment\n---\n{\"b\": [1, 2.5, true, null]}\n";
        let docs = parse_ok(src);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].value, json!({"a": 1}));
        assert_eq!(docs[1].value, Value::Null);
        assert_eq!(docs[2].value, json!({"b": [1, 2.5, true, null]}));
        assert_eq!(docs[2].index, 2);
        assert_eq!(at(src, &docs[2], "/b/1").1, (6, 11));
    }

    #[test]
    fn syntax_error_is_reported_and_later_documents_survive() {
        let src = "a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n";
        let (docs, issues) = parse(src, &Limits::default());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].rule, "yaml-syntax");
        assert_eq!(issues[0].document, 1);
        let values: Vec<_> = docs.iter().map(|d| (d.index, d.value.clone())).collect();
        assert_eq!(values, vec![(0, json!({"a": 1})), (2, json!({"d": 4}))]);
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second_key() {
        let src = "spec:\n  replicas: 1\n  replicas: 2\n";
        let (docs, issues) = parse(src, &Limits::default());
        assert_eq!(docs[0].value["spec"]["replicas"], json!(2));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].rule, "duplicate-key");
        assert_eq!(issues[0].start as usize, src.rfind("replicas").unwrap());
        assert!(
            issues[0].message.contains("line 2"),
            "{}",
            issues[0].message
        );
    }

    #[test]
    fn alias_bomb_hits_the_budget() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let (_, issues) = parse(&src, &Limits::default());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].rule, "yaml-limit");
        assert!(issues[0].message.contains("alias"));
    }

    #[test]
    fn deep_nesting_hits_the_depth_limit() {
        let src = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let (docs, issues) = parse(&src, &Limits::default());
        assert!(docs.is_empty());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].rule, "yaml-limit");
        let block: String = (0..10_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let (_, issues) = parse(&block, &Limits::default());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].rule, "yaml-limit");
    }

    #[test]
    fn yaml_1_1_scalars_resolve_like_kubectl() {
        let d = &parse_ok("mode: 0644\nflag: on\nquoted: \"on\"\ntagged: !!str 10\n")[0];
        assert_eq!(
            d.value,
            json!({"mode": 420, "flag": true, "quoted": "on", "tagged": "10"})
        );
    }
}
