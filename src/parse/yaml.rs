//! YAML (and JSON, a subset of it) to `serde_json::Value` plus a [`SourceMap`], in one pass
//! over `granit-parser` events, as one of the two readers that deploy manifests reads it
//! ([`Reader`]: kubectl's go-yaml v2 or kustomize's kyaml).
//!
//! The builder keeps an explicit stack (no recursion), resolves scalars and keys the way its
//! reader does ([`super::scalar`]), expands aliases and merge keys within a node and a byte
//! budget, reports duplicate keys, and recovers from a syntax error at the next document so
//! one broken document does not hide the others. Where the other reader would build a
//! different object (a YAML 1.1 boolean, a timestamp, a merge key after an explicit key, a
//! non-string key), it leaves a note, so the caller can warn and check that reading too.

use std::collections::{HashMap, HashSet};

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Value};

use super::scalar::{self, Scalar};
use super::source_map::{NodeKey, NodeKind, SourceMap};
use super::{Document, Issue, Limits, Reader};
use crate::source::LineIndex;

/// The namespace of YAML's own tags (`!!int` is `tag:yaml.org,2002:int`).
const YAML_TAGS: &str = "tag:yaml.org,2002:";

/// Rule of the notes: places where kubectl and kustomize read the text differently.
pub const AMBIGUOUS: &str = "yaml-ambiguous";

/// Rule of the documents that neither reader reads (a warning: nothing in them deploys).
pub const DROPPED: &str = "yaml-dropped";

/// What [`parse_as`] found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    /// Errors: the reader would refuse the text (or we refuse to expand it).
    pub issues: Vec<Issue>,
    /// Places where the other reader builds a different object ([`AMBIGUOUS`]).
    pub notes: Vec<Issue>,
    /// How many documents the stream held, read or not (the index the next one would get).
    count: usize,
}

/// Parses every document of `source` as kubectl reads it.
pub fn parse(source: &str, limits: &Limits) -> (Vec<Document>, Vec<Issue>) {
    let p = parse_as(source, limits, Reader::Kubectl);
    (p.documents, p.issues)
}

/// Parses every document of `source` as `reader` reads it.
pub fn parse_as(source: &str, limits: &Limits, reader: Reader) -> Parsed {
    parse_with(source, limits, reader, reader == Reader::Kyaml)
}

/// Parses a kustomize patch: read as kyaml reads it, but annotations stay what YAML makes
/// of them (`key: null` deletes the annotation; kustomize makes annotations strings only on
/// the objects it builds).
pub fn parse_patch(source: &str, limits: &Limits) -> Parsed {
    parse_with(source, limits, Reader::Kyaml, false)
}

/// [`parse_as`], saying whether annotations are the strings of their text.
fn parse_with(source: &str, limits: &Limits, reader: Reader, annotation_text: bool) -> Parsed {
    crate::timings::measure(crate::timings::Stage::Parse, || {
        parse_timed(source, limits, reader, annotation_text)
    })
}

fn parse_timed(source: &str, limits: &Limits, reader: Reader, annotation_text: bool) -> Parsed {
    let pieces = (source.len() / PIECE_BYTES).min(rayon::current_num_threads());
    let parsed = (pieces > 1)
        .then(|| parse_in_pieces(source, limits, reader, annotation_text, pieces))
        .flatten()
        .unwrap_or_else(|| parse_stream(source, limits, reader, annotation_text, 0));
    // JSON objects back to back are no YAML, but kubectl reads them all (kustomize only
    // the first): a file whose first object is JSON goes to a JSON decoder.
    if parsed.issues.iter().any(|i| i.rule == "yaml-syntax")
        && source.trim_start().starts_with('{')
        && let Some(ranges) = json_objects(source)
    {
        return parse_json_stream(source, &ranges, limits, reader, annotation_text);
    }
    parsed
}

/// The byte ranges of the JSON values of `source`, when it is two or more JSON objects
/// and nothing else.
fn json_objects(source: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let mut stream =
        serde_json::Deserializer::from_str(source).into_iter::<serde::de::IgnoredAny>();
    let mut ranges = Vec::new();
    let mut at = 0;
    while let Some(value) = stream.next() {
        value.ok()?;
        let end = stream.byte_offset();
        let start = at + (source[at..end].len() - source[at..end].trim_start().len());
        if !source[start..].starts_with('{') {
            return None;
        }
        ranges.push(start..end);
        at = end;
    }
    (ranges.len() >= 2).then_some(ranges)
}

/// Each object of a JSON stream as a document of its own, positions in the whole file.
fn parse_json_stream(
    source: &str,
    ranges: &[std::ops::Range<usize>],
    limits: &Limits,
    reader: Reader,
    annotation_text: bool,
) -> Parsed {
    let mut out = Parsed::default();
    for (index, range) in ranges.iter().enumerate() {
        let part = parse_stream(&source[range.clone()], limits, reader, annotation_text, 0)
            .shifted(range.start as u32, index);
        out.issues.extend(part.issues);
        out.notes.extend(part.notes);
        if index > 0 {
            let at = range.start as u32;
            let issue = Issue {
                rule: if reader == Reader::Kyaml {
                    DROPPED
                } else {
                    AMBIGUOUS
                },
                message: "kustomize reads only the first of several JSON objects in a file, \
                          kubectl reads them all: put each object in a file of its own, or \
                          write the file as YAML documents"
                    .into(),
                start: at,
                end: at + 1,
                document: index,
            };
            if reader == Reader::Kyaml {
                out.issues.push(issue);
                continue;
            }
            out.notes.push(issue);
        }
        out.documents.extend(part.documents);
    }
    out
}

impl Parsed {
    /// This reading of a piece of a file, moved to where the piece is in the file: `by`
    /// bytes in, its documents numbered from `index`.
    fn shifted(mut self, by: u32, index: usize) -> Self {
        for i in self.issues.iter_mut().chain(&mut self.notes) {
            i.start += by;
            i.end += by;
            i.document += index;
        }
        for doc in &mut self.documents {
            doc.index += index;
            doc.start += by;
            doc.source_map.shift(by);
        }
        self
    }
}

/// A large file is parsed in pieces of at least this many bytes, on every thread (and the
/// render converts a large resource file a round of such pieces at a time).
pub const PIECE_BYTES: usize = 256 * 1024;

/// Where a stream may be cut into pieces that parse on their own: before each line that is
/// a document marker (`---`, then a space, a tab, a line break or the end) and follows a
/// line feed, where kubectl and kyaml cut a file into documents too. `None` when a line
/// starts with `%`: a directive belongs to the document after it.
fn cut_points(source: &str) -> Option<Vec<usize>> {
    let bytes = source.as_bytes();
    if bytes.first() == Some(&b'%') {
        return None;
    }
    let mut cuts = Vec::new();
    for i in memchr::memchr_iter(b'\n', bytes) {
        let rest = &bytes[i + 1..];
        match rest {
            [b'%', ..] => return None,
            [b'-', b'-', b'-', b' ' | b'\t' | b'\r' | b'\n', ..] | [b'-', b'-', b'-'] => {
                cuts.push(i + 1)
            }
            _ => {}
        }
    }
    Some(cuts)
}

/// The bounds of at most `pieces` parts of `source` cut at document markers, about equal in
/// size; `None` when it cannot be cut in two or more.
fn piece_bounds(source: &str, pieces: usize) -> Option<Vec<(usize, usize)>> {
    let cuts = cut_points(source)?;
    let mut bounds = vec![0];
    for k in 1..pieces {
        let want = source.len() * k / pieces;
        let Some(&cut) = cuts.get(cuts.partition_point(|&c| c < want)) else {
            break;
        };
        if cut > bounds[bounds.len() - 1] && cut < source.len() {
            bounds.push(cut);
        }
    }
    if bounds.len() < 2 {
        return None;
    }
    bounds.push(source.len());
    Some(bounds.windows(2).map(|w| (w[0], w[1])).collect())
}

/// The pieces `ranges` of `source` parsed in parallel and joined as one reading whose
/// document indexes start at `first_document`; `None` when a piece has an error or hits a
/// limit (then one reading of the whole says exactly where).
fn parse_pieces(
    source: &str,
    ranges: &[(usize, usize)],
    lines: &LineIndex,
    first_document: usize,
    how: (&Limits, Reader, bool),
) -> Option<Parsed> {
    use rayon::prelude::*;
    let (limits, reader, annotation_text) = how;
    let parts: Vec<Parsed> = ranges
        .par_iter()
        .map(|&(start, end)| {
            crate::timings::measure(crate::timings::Stage::Parse, || {
                let first_line = lines.position(source, start).line - 1;
                parse_stream(
                    &source[start..end],
                    limits,
                    reader,
                    annotation_text,
                    first_line,
                )
            })
        })
        .collect();
    let failed = |p: &Parsed| {
        p.issues
            .iter()
            .any(|i| matches!(i.rule, "yaml-syntax" | "yaml-limit"))
    };
    if parts.iter().any(failed) {
        return None;
    }
    let mut out = Parsed {
        count: first_document,
        ..Parsed::default()
    };
    for (&(start, _), part) in ranges.iter().zip(parts) {
        let part = part.shifted(start as u32, out.count);
        out.issues.extend(part.issues);
        out.notes.extend(part.notes);
        out.documents.extend(part.documents);
        out.count += part.count;
    }
    out.count -= first_document;
    Some(out)
}

/// [`parse_stream`] on `pieces` parts of `source` cut at document markers, in parallel,
/// joined as one reading: offsets, document indexes and line numbers are the whole file's.
/// `None` (parse it in one piece) when it cannot be cut, or when a piece has an error or
/// hits a limit: then one reading of the whole says exactly where, as it always has.
fn parse_in_pieces(
    source: &str,
    limits: &Limits,
    reader: Reader,
    annotation_text: bool,
    pieces: usize,
) -> Option<Parsed> {
    let ranges = piece_bounds(source, pieces)?;
    let lines = LineIndex::new(source);
    parse_pieces(
        source,
        &ranges,
        &lines,
        0,
        (limits, reader, annotation_text),
    )
}

/// A large file read a few pieces at a time, as [`parse_as`] reads it whole, so that a
/// check can let go of each piece's documents before the next is read: an `install.yaml`
/// of megabyte CRDs is never held all at once.
pub struct Pieces<'a> {
    source: &'a str,
    ranges: Vec<(usize, usize)>,
    lines: &'a LineIndex,
    limits: &'a Limits,
    reader: Reader,
    /// The index of the next piece's first document.
    next_document: usize,
}

impl<'a> Pieces<'a> {
    /// Where to cut `source` at its document markers into pieces of about `piece_bytes`;
    /// `None` when it cannot be cut in two (read it whole). It needs no line index, which
    /// can be built meanwhile.
    pub fn cut(source: &str, piece_bytes: usize) -> Option<Vec<(usize, usize)>> {
        piece_bounds(source, (source.len() / piece_bytes.max(1)).max(2))
    }

    /// The pieces of `source` cut at `ranges` ([`Pieces::cut`]).
    pub fn from_cuts(
        source: &'a str,
        ranges: Vec<(usize, usize)>,
        lines: &'a LineIndex,
        limits: &'a Limits,
        reader: Reader,
    ) -> Self {
        Pieces {
            source,
            ranges,
            lines,
            limits,
            reader,
            next_document: 0,
        }
    }

    /// How many pieces there are.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are none (never, once made).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Where piece `i` starts in the text.
    pub fn start(&self, i: usize) -> Option<usize> {
        self.ranges.get(i).map(|r| r.0)
    }

    /// The pieces `which` (the next ones, in order) parsed in parallel, as that part of one
    /// reading of the whole: positions, lines and document indexes the file's. `None` when
    /// one has an error or hits a limit: read the file whole, to say exactly where.
    pub fn parse(&mut self, which: std::ops::Range<usize>) -> Option<Parsed> {
        let parsed = parse_pieces(
            self.source,
            self.ranges.get(which)?,
            self.lines,
            self.next_document,
            (self.limits, self.reader, self.reader == Reader::Kyaml),
        )?;
        self.next_document += parsed.count;
        Some(parsed)
    }
}

/// Parses every document of a YAML stream (`first_line` lines into its file: a piece of
/// it, for the line numbers messages name).
fn parse_stream(
    source: &str,
    limits: &Limits,
    reader: Reader,
    annotation_text: bool,
    first_line: u32,
) -> Parsed {
    let options = granit_parser::options! {
        block_scalar_eof_without_line_feed: true,
        flow_nesting_limit: limits.max_depth,
        block_nesting_limit: limits.max_depth,
    };
    let mut parser = Parser::new_from_str_with_options(source, options);
    let mut b = Builder::new(source, limits, reader);
    b.annotation_text = annotation_text;
    b.first_line = first_line;
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
    Parsed {
        documents: b.documents,
        issues: b.issues,
        notes: b.notes,
        count: b.doc_index,
    }
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
    /// Bytes of scalar text in the anchored subtree, aliases expanded.
    bytes: usize,
}

struct PendingKey {
    text: String,
    start: u32,
    end: u32,
    /// The key text is not `source[start..end]` (quoted, escaped, folded, resolved or from
    /// an alias).
    owned: bool,
    merge: bool,
    /// kyaml drops a quoted `'<<'` key with its value.
    drop: bool,
}

enum Container {
    Map {
        map: Map<String, Value>,
        key: Option<PendingKey>,
        /// Keys that came from `<<` merges and that an explicit key may still override.
        merged: Option<HashSet<String>>,
        /// How many `<<` keys the mapping has had.
        merges: u8,
        /// Tagged `!!set`.
        set: bool,
    },
    Seq(Vec<Value>),
}

struct Frame {
    container: Container,
    node: u32,
    anchor: usize,
    /// Weight counter value when this frame started (for anchor weights).
    weight_at: usize,
    /// Byte counter value when this frame started (for anchor sizes).
    bytes_at: usize,
}

struct Builder<'s> {
    source: &'s str,
    limits: &'s Limits,
    reader: Reader,
    /// Annotations are the strings of their text (kustomize's objects).
    annotation_text: bool,
    documents: Vec<Document>,
    issues: Vec<Issue>,
    notes: Vec<Issue>,
    lines: Option<LineIndex>,
    /// Lines of the file before `source` (a piece of it: [`parse_in_pieces`]).
    first_line: u32,
    // Current document.
    doc_index: usize,
    doc_start: u32,
    in_document: bool,
    /// Why neither reader will see the current document, if it will not.
    dropped: Option<&'static str>,
    /// Where the last document ended (to find directives before the next one).
    last_end: u32,
    stack: Vec<Frame>,
    map: SourceMap,
    root: Option<Value>,
    anchors: HashMap<usize, Anchor>,
    /// Nodes built so far in this document, aliases expanded (the node budget).
    weight: usize,
    /// Scalar bytes built so far in this document, aliases expanded.
    bytes: usize,
    /// Scalar bytes that aliases added (the byte budget).
    alias_bytes: usize,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, limits: &'s Limits, reader: Reader) -> Self {
        Self {
            source,
            limits,
            reader,
            annotation_text: false,
            documents: Vec::new(),
            issues: Vec::new(),
            notes: Vec::new(),
            lines: None,
            first_line: 0,
            doc_index: 0,
            doc_start: 0,
            in_document: false,
            dropped: None,
            last_end: 0,
            stack: Vec::new(),
            map: SourceMap::new(reader),
            root: None,
            anchors: HashMap::new(),
            weight: 0,
            bytes: 0,
            alias_bytes: 0,
        }
    }

    fn offset(&self, m: &granit_parser::Marker) -> u32 {
        // The parser works on a &str, so byte offsets are always known; fall back to the
        // character index (equal for ASCII) if they ever are not.
        m.byte_offset().unwrap_or_else(|| m.index()) as u32
    }

    fn other(&self) -> Reader {
        match self.reader {
            Reader::Kubectl => Reader::Kyaml,
            Reader::Kyaml => Reader::Kubectl,
        }
    }

    /// An error that does not abandon the document: the reader refuses the file, but the
    /// rest of it is still worth checking.
    fn error(&mut self, start: u32, end: u32, message: String) {
        self.issues.push(Issue {
            rule: "yaml-syntax",
            message,
            start,
            end,
            document: self.doc_index,
        });
    }

    fn note(&mut self, start: u32, end: u32, message: String) {
        self.notes.push(Issue {
            rule: AMBIGUOUS,
            message,
            start,
            end,
            document: self.doc_index,
        });
    }

    fn line_of_offset(&mut self, offset: u32) -> u32 {
        let source = self.source;
        self.lines
            .get_or_insert_with(|| LineIndex::new(source))
            .position(source, offset as usize)
            .line
            + self.first_line
    }

    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), Stop> {
        let start = self.offset(&span.start);
        let end = self.offset(&span.end);
        match ev {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(explicit, _) => {
                self.reset_document();
                self.in_document = true;
                self.doc_start = start;
                self.map = SourceMap::with_capacity(self.reader, 64);
                self.dropped = self.dropped_document(explicit, start);
                if explicit {
                    self.check_separator(start);
                }
            }
            Event::DocumentEnd if self.in_document => {
                let value = self.root.take().unwrap_or(Value::Null);
                let source_map = std::mem::replace(&mut self.map, SourceMap::new(self.reader));
                match self.dropped.take() {
                    Some(why) if !value.is_null() => self.issues.push(Issue {
                        rule: DROPPED,
                        message: format!(
                            "kubectl and kustomize never read this document: {why}, so \
                             nothing in it is deployed (or checked)"
                        ),
                        start: self.doc_start,
                        end: self.doc_start,
                        document: self.doc_index,
                    }),
                    Some(_) => {}
                    None => self.documents.push(Document {
                        index: self.doc_index,
                        value,
                        source_map,
                        start: self.doc_start,
                    }),
                }
                self.last_end = end.max(start);
                self.in_document = false;
                self.doc_index += 1;
                self.anchors.clear();
                self.weight = 0;
                self.bytes = 0;
                self.alias_bytes = 0;
            }
            Event::Alias(id) => self.alias(id, start)?,
            Event::Scalar(text, style, anchor, tag) => {
                let size = text.len() + 1;
                self.bytes += size;
                if self.expecting_key() {
                    let mut key = self.key(&text, style, tag.as_deref(), start, end);
                    if key.text.is_empty() {
                        // The key is its text: take the parser's string, copied or not.
                        key.text = text.into_owned();
                    }
                    self.set_key(key);
                    return Ok(());
                }
                let value = match (style, tag.is_none(), self.annotation_depth()) {
                    // The common cases first, without copying the text twice.
                    (ScalarStyle::Plain, true, false) => self.plain(text, start, end),
                    (_, true, false) => Value::String(text.into_owned()),
                    _ => self.scalar(&text, style, tag.as_deref(), start, end),
                };
                let node = self.start_node(NodeKind::Scalar, start);
                self.map.finish(node, end);
                self.weight += 1;
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            value: value.clone(),
                            node,
                            weight: 1,
                            bytes: size,
                        },
                    );
                }
                self.attach(value, start)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(Container::Seq(Vec::new()), NodeKind::Seq, anchor, start)?
            }
            Event::MappingStart(_, anchor, tag) => {
                let set = tag
                    .as_deref()
                    .is_some_and(|t| t.handle() == YAML_TAGS && t.suffix() == "set");
                self.open(
                    Container::Map {
                        map: Map::new(),
                        key: None,
                        merged: None,
                        merges: 0,
                        set,
                    },
                    NodeKind::Map,
                    anchor,
                    start,
                )?
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(start, end)?,
            _ => {}
        }
        Ok(())
    }

    /// Whether the document starting at `start` is one that both readers skip: kubectl
    /// and kyaml cut a file into documents at `---` after a line feed and read only the
    /// first document of each piece. So a document after `...` without a `---` of its own,
    /// or whose `---` follows a lone carriage return, is never read.
    fn dropped_document(&self, explicit: bool, start: u32) -> Option<&'static str> {
        let before = self.source.as_bytes().get((start as usize).checked_sub(1)?);
        if !explicit && self.doc_index > 0 {
            Some("it follows a `...` end marker without a `---` of its own")
        } else if explicit && before == Some(&b'\r') {
            Some(
                "its `---` ends a line with a lone carriage return (old Mac line endings), \
                 and they split documents only at line feeds",
            )
        } else {
            None
        }
    }

    /// kubectl and kyaml split documents on lines that start with `---`, and refuse
    /// anything but a comment after it (`--- {a: 1}` is valid YAML, but not for them).
    fn check_separator(&mut self, start: u32) {
        let rest = &self.source[(start as usize).min(self.source.len())..];
        let Some(after) = rest.strip_prefix("---") else {
            return;
        };
        // A `%YAML` or `%TAG` directive: their splitter cuts it from its document.
        let gap = &self.source[(self.last_end as usize).min(start as usize)..start as usize];
        if gap
            .split(['\n', '\r'])
            .any(|l| l.starts_with("%YAML") || l.starts_with("%TAG"))
        {
            self.error(
                start,
                start + 3,
                "a `%YAML` or `%TAG` directive before `---`: kubectl and kustomize cut it \
                 from its document and refuse the file; remove the directive"
                    .into(),
            );
        }
        let line = after.split(['\n', '\r']).next().unwrap_or("");
        let content = line.trim_start_matches([' ', '\t']);
        if !content.is_empty() && !content.starts_with('#') {
            self.error(
                start,
                start + 3 + line.len() as u32,
                "content after `---` on the same line: kubectl and kustomize refuse the file \
                 (invalid document separator); start the document on the next line"
                    .into(),
            );
        }
    }

    /// Whether the value being built is one of an object's annotations
    /// (`/metadata/annotations/*`, or the same in an item of a List): kustomize rewrites
    /// every annotation as the string of its text, whatever YAML makes of it.
    fn in_annotations(&self) -> bool {
        let key = |f: &Frame, want: &str| match &f.container {
            Container::Map { key: Some(k), .. } => k.text == want,
            _ => false,
        };
        match self.stack.as_slice() {
            [m, a, _] => key(m, "metadata") && key(a, "annotations"),
            [
                i,
                Frame {
                    container: Container::Seq(_),
                    ..
                },
                m,
                a,
                _,
            ] => key(i, "items") && key(m, "metadata") && key(a, "annotations"),
            _ => false,
        }
    }

    /// Whether a value at this depth may be an annotation (see [`Self::in_annotations`]).
    fn annotation_depth(&self) -> bool {
        matches!(self.stack.len(), 3 | 5) && self.in_annotations()
    }

    /// A plain, untagged scalar in a value position, as the reader resolves it.
    fn plain(&mut self, text: std::borrow::Cow<'_, str>, start: u32, end: u32) -> Value {
        let here = scalar::typed(&text, self.reader);
        if scalar::may_diverge(&text) {
            let there = scalar::resolve_plain(&text, self.other());
            let here = here
                .clone()
                .unwrap_or_else(|| Scalar::Str(text.clone().into_owned()));
            if here != there {
                let message = self.disagreement(&text, &Ok(here), &Ok(there));
                self.note(start, end, message);
            }
        }
        match here.map(Scalar::into_json) {
            None => Value::String(text.into_owned()),
            Some(Ok(v)) => v,
            Some(Err(what)) => {
                self.error(
                    start,
                    end,
                    format!(
                        "`{text}` is the float {what}, which JSON cannot carry: kubectl and \
                         kustomize both refuse the file; quote it if a string is meant"
                    ),
                );
                Value::String(text.into_owned())
            }
        }
    }

    /// The value of a scalar in a value position, as the reader resolves it.
    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        start: u32,
        end: u32,
    ) -> Value {
        if self.annotation_depth() {
            if self.annotation_text {
                return Value::String(text.to_owned());
            }
            // kubectl takes the value as YAML resolves it (and refuses a non-string).
            if style == ScalarStyle::Plain && tag.is_none() {
                return scalar::resolve_plain(text, self.reader)
                    .to_json()
                    .unwrap_or_else(|_| Value::String(text.to_owned()));
            }
        }
        let yaml_tag = tag.and_then(|t| (t.handle() == YAML_TAGS).then(|| t.suffix()));
        let resolved = match (style, yaml_tag, tag) {
            (_, Some(suffix), _) => {
                let here = scalar::resolve_tagged(text, suffix, self.reader);
                let there = scalar::resolve_tagged(text, suffix, self.other());
                if here != there {
                    let message = self.disagreement(&format!("!!{suffix} {text}"), &here, &there);
                    self.note(start, end, message);
                }
                match here {
                    Ok(s) => s,
                    Err(e) => {
                        self.error(start, end, format!("{e}; {}", self.refuses()));
                        Scalar::Str(text.to_owned())
                    }
                }
            }
            // Any other tag (`!custom`, `!`) leaves the text a string for both readers.
            (_, None, Some(_)) => Scalar::Str(text.to_owned()),
            (ScalarStyle::Plain, None, None) => {
                let here = scalar::resolve_plain(text, self.reader);
                if scalar::may_diverge(text) {
                    let there = scalar::resolve_plain(text, self.other());
                    if here != there {
                        let message = self.disagreement(text, &Ok(here.clone()), &Ok(there));
                        self.note(start, end, message);
                    }
                }
                here
            }
            _ => return Value::String(text.to_owned()),
        };
        match resolved.into_json() {
            Ok(v) => v,
            Err(what) => {
                self.error(
                    start,
                    end,
                    format!(
                        "`{text}` is the float {what}, which JSON cannot carry: kubectl and \
                         kustomize both refuse the file; quote it if a string is meant"
                    ),
                );
                Value::String(text.to_owned())
            }
        }
    }

    /// "kubectl refuses the file" or "kustomize refuses the file", for error messages.
    fn refuses(&self) -> &'static str {
        match self.reader {
            Reader::Kubectl => "kubectl refuses the file",
            Reader::Kyaml => "kustomize refuses the file",
        }
    }

    /// A note's message: what each reader makes of `text`.
    fn disagreement(
        &self,
        text: &str,
        here: &Result<Scalar, String>,
        there: &Result<Scalar, String>,
    ) -> String {
        let (kubectl, kyaml) = match self.reader {
            Reader::Kubectl => (here, there),
            Reader::Kyaml => (there, here),
        };
        let show = |r: &Result<Scalar, String>| match r {
            Ok(s) => match s.to_json() {
                Ok(v) => format!("reads it as {v}"),
                Err(_) => "refuses it".to_owned(),
            },
            Err(_) => "refuses it".to_owned(),
        };
        format!(
            "`{text}` is read differently by kubectl (YAML 1.1), which {}, and by kustomize \
             (YAML 1.2), which {}: quote the value so every reader sees the same string",
            show(kubectl),
            show(kyaml)
        )
    }

    /// A mapping key: its JSON text as the reader makes it (left empty when it is the text
    /// as written, for the caller to move in).
    fn key(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        start: u32,
        end: u32,
    ) -> PendingKey {
        let source_text = self.source.get(start as usize..end as usize) == Some(text);
        // The caller fills in the text when it stays empty here.
        let mut key = PendingKey {
            text: String::new(),
            start,
            end,
            owned: !(matches!(
                style,
                ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
            ) && source_text),
            merge: false,
            drop: false,
        };
        let yaml_tag = tag.and_then(|t| (t.handle() == YAML_TAGS).then(|| t.suffix()));
        if text == "<<"
            && (style == ScalarStyle::Plain && tag.is_none() || yaml_tag == Some("merge"))
        {
            key.merge = true;
            return key;
        }
        if text == "<<" && tag.is_none() {
            self.note(
                start,
                end,
                "a quoted `<<` is a plain key for kubectl, but kustomize drops it with its \
                 value: the two readers deploy different objects"
                    .into(),
            );
            key.drop = self.reader == Reader::Kyaml;
            return key;
        }
        // Most keys are plain words that no reader types: nothing to resolve.
        if tag.is_none()
            && (style != ScalarStyle::Plain
                || scalar::is_plain_string(text, Reader::Kubectl)
                    && scalar::is_plain_string(text, Reader::Kyaml))
        {
            return key;
        }
        let top_level = self.stack.len() == 1;
        let reading = |reader: Reader| -> Result<String, String> {
            let resolved = match (style, yaml_tag, tag) {
                (_, Some(suffix), _) => scalar::resolve_tagged(text, suffix, reader)?,
                (_, None, Some(_)) => return Ok(text.to_owned()),
                (ScalarStyle::Plain, None, None) => scalar::resolve_plain(text, reader),
                _ => return Ok(text.to_owned()),
            };
            match reader {
                Reader::Kubectl => scalar::kubectl_key(&resolved),
                // kyaml reads the top-level mapping into string keys (the text); a nested
                // mapping with a key that is not a string cannot become JSON.
                Reader::Kyaml if resolved == Scalar::Null => Err(format!(
                    "the key `{text}` is null in YAML, which kustomize cannot convert to \
                     JSON; quote it"
                )),
                Reader::Kyaml if top_level || resolved.is_string() => Ok(text.to_owned()),
                Reader::Kyaml => Err(format!(
                    "the key `{text}` is not a string in YAML 1.2, and kustomize cannot \
                     convert a nested mapping with such a key to JSON \
                     (`json: unsupported type: map[interface {{}}]interface {{}}`); quote it"
                )),
            }
        };
        let here = reading(self.reader);
        if style == ScalarStyle::Plain || tag.is_some() {
            let there = reading(self.other());
            if here != there {
                let (kubectl, kyaml) = match self.reader {
                    Reader::Kubectl => (&here, &there),
                    Reader::Kyaml => (&there, &here),
                };
                let show = |r: &Result<String, String>| match r {
                    Ok(k) => format!("makes it the key \"{k}\""),
                    Err(_) => "refuses it".to_owned(),
                };
                let message = format!(
                    "the key `{text}` is read differently by kubectl (YAML 1.1), which {}, \
                     and by kustomize (YAML 1.2), which {}: quote the key",
                    show(kubectl),
                    show(kyaml)
                );
                self.note(start, end, message);
            }
        }
        match here {
            Ok(k) => {
                if k != text {
                    key.owned = true;
                    key.text = k;
                }
            }
            Err(e) => {
                let message = format!("{e}; {}", self.refuses());
                self.error(start, end, message);
            }
        }
        key
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

    fn set_key(&mut self, key: PendingKey) {
        if let Some(Frame {
            container: Container::Map { key: slot, .. },
            ..
        }) = self.stack.last_mut()
        {
            *slot = Some(key);
        }
    }

    /// Records a new node in the source map, keyed by the pending mapping key if any.
    fn start_node(&mut self, kind: NodeKind, start: u32) -> u32 {
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
        self.map.push(kind, key, start)
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
        let node = self.start_node(kind, start);
        self.weight += 1;
        self.stack.push(Frame {
            container,
            node,
            anchor,
            weight_at: self.weight - 1,
            bytes_at: self.bytes,
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
            Container::Map { mut map, set, .. } => {
                // `!!set {a, b}`: kyaml's members are empty strings, go-yaml v2's null.
                if set && self.reader == Reader::Kyaml {
                    for v in map.values_mut().filter(|v| v.is_null()) {
                        *v = Value::String(String::new());
                    }
                }
                Value::Object(map)
            }
            Container::Seq(items) => Value::Array(items),
        };
        if frame.anchor != 0 {
            self.anchors.insert(
                frame.anchor,
                Anchor {
                    value: value.clone(),
                    node: frame.node,
                    weight: self.weight - frame.weight_at,
                    bytes: self.bytes - frame.bytes_at,
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
        let (weight, bytes, node) = (anchor.weight, anchor.bytes, anchor.node);
        self.weight += weight;
        self.bytes += bytes;
        self.alias_bytes += bytes;
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
        if self.alias_bytes > self.limits.max_alias_bytes {
            return Err(Stop::Limit {
                at,
                message: format!(
                    "aliases expand to more than {} MiB of text in this document (an alias \
                     bomb?); refusing to expand further",
                    self.limits.max_alias_bytes >> 20
                ),
            });
        }
        let anchor = &self.anchors[&id];
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
            self.set_key(PendingKey {
                text,
                start: at,
                end: at + 1,
                owned: true,
                merge: false,
                drop: false,
            });
            return Ok(());
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
        let reader = self.reader;
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        let parent = frame.node;
        match &mut frame.container {
            Container::Seq(items) => items.push(value),
            Container::Map {
                map,
                key,
                merged,
                merges,
                ..
            } => {
                let Some(k) = key.take() else {
                    return Ok(());
                };
                if k.drop {
                    return Ok(());
                }
                if k.merge {
                    *merges += 1;
                    let second = *merges > 1;
                    let overridden = merge_into(map, merged, value, at, reader)?;
                    if second {
                        match reader {
                            Reader::Kyaml => self.error(
                                k.start,
                                k.end,
                                "a second `<<` merge key in one mapping: kustomize refuses the \
                                 file (`duplicate merge key`)"
                                    .into(),
                            ),
                            Reader::Kubectl => self.note(
                                k.start,
                                k.end,
                                "a second `<<` merge key in one mapping: kubectl applies both, \
                                 in order, but kustomize refuses the file"
                                    .into(),
                            ),
                        }
                    }
                    for name in overridden {
                        let first = self
                            .map
                            .first_key_offset(parent, &name, self.source)
                            .unwrap_or(k.start);
                        let end = first + name.len() as u32;
                        self.note(
                            first,
                            end,
                            format!(
                                "`{name}` is set here and again by the `<<` merge after it: \
                                 kubectl takes the merged value, kustomize keeps this one, so \
                                 the two readers deploy different objects; set it once"
                            ),
                        );
                    }
                    return Ok(());
                }
                if let Some(m) = merged.as_mut()
                    && m.remove(&k.text)
                {
                    // An explicit key after a merge overrides the merged value.
                    map.insert(k.text, value);
                    return Ok(());
                }
                // The key moves into the map; only a duplicate (rare) copies it back out.
                let duplicate = match map.entry(k.text) {
                    serde_json::map::Entry::Vacant(slot) => {
                        slot.insert(value);
                        None
                    }
                    serde_json::map::Entry::Occupied(mut slot) => {
                        slot.insert(value);
                        Some(slot.key().clone())
                    }
                };
                if let Some(name) = duplicate {
                    let first = self
                        .map
                        .first_key_offset(parent, &name, self.source)
                        .unwrap_or(k.start);
                    let line = self.line_of_offset(first);
                    self.issues.push(Issue {
                        rule: "duplicate-key",
                        message: format!(
                            "duplicate key `{}` (first defined on line {line}); kubectl keeps \
                             the last value, kustomize and the API server refuse duplicate \
                             fields",
                            name
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
        self.bytes = 0;
        self.alias_bytes = 0;
        self.map = SourceMap::new(self.reader);
    }
}

/// Applies a `<<` merge: `value` is a mapping or a sequence of mappings, and earlier
/// mappings of a sequence win over later ones. kubectl (go-yaml v2) applies the merge where
/// it stands, over any explicit key before it; kyaml lets explicit keys win wherever they
/// are. Returns the explicit keys before the merge that the two readers then disagree on.
fn merge_into(
    map: &mut Map<String, Value>,
    merged: &mut Option<HashSet<String>>,
    value: Value,
    at: u32,
    reader: Reader,
) -> Result<Vec<String>, Stop> {
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
    let merged = merged.get_or_insert_with(HashSet::new);
    let mut overridden = Vec::new();
    // Earlier mappings win: take each key from the first mapping that has it.
    let mut seen: HashSet<String> = HashSet::new();
    for source in sources {
        for (k, v) in source {
            if !seen.insert(k.clone()) {
                continue;
            }
            let (exists, differs) = match map.get(&k) {
                None => (false, false),
                Some(old) => (true, *old != v),
            };
            if !exists {
                merged.insert(k.clone());
                map.insert(k, v);
                continue;
            }
            // An explicit key before the merge (a key of an earlier `<<` is no conflict: a
            // second `<<` is reported on its own).
            if differs && !merged.contains(&k) {
                overridden.push(k.clone());
            }
            // go-yaml v2 applies the merge over what is already there.
            if reader == Reader::Kubectl {
                merged.insert(k.clone());
                map.insert(k, v);
            }
        }
    }
    overridden.sort();
    Ok(overridden)
}

/// The text of the line holding byte `offset`.
fn line_of(source: &str, offset: u32) -> &str {
    let offset = (offset as usize).min(source.len());
    if !source.is_char_boundary(offset) {
        return "";
    }
    let start = source[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let end = source[offset..]
        .find(['\n', '\r'])
        .map_or(source.len(), |i| offset + i);
    &source[start..end]
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

    /// `(line, column)` of the value of `pointer` in a document read by `reader`.
    fn value_at(src: &str, reader: Reader, pointer: &str) -> (Value, (u32, u32)) {
        let parsed = parse_as(src, &Limits::default(), reader);
        let d = &parsed.documents[0];
        let idx = LineIndex::new(src);
        let loc = d.source_map.locate(pointer, src).unwrap();
        let p = idx.position(src, loc.value.start);
        (
            d.value.pointer(pointer).unwrap().clone(),
            (p.line, p.column),
        )
    }

    #[test]
    fn each_reader_places_a_key_set_twice_where_its_value_came_from() {
        let src = "spec:\n  hostNetwork: false\n  <<: {hostNetwork: true}\n";
        assert_eq!(
            value_at(src, Reader::Kubectl, "/spec/hostNetwork"),
            (json!(true), (3, 21))
        );
        assert_eq!(
            value_at(src, Reader::Kyaml, "/spec/hostNetwork"),
            (json!(false), (2, 16))
        );
        // A key after the merge wins for both.
        let src = "m:\n  <<: {a: 1}\n  a: 2\n";
        for reader in [Reader::Kubectl, Reader::Kyaml] {
            assert_eq!(value_at(src, reader, "/m/a"), (json!(2), (3, 6)));
        }
        // The ambiguity is noted once, at the explicit key, by either reader.
        for reader in [Reader::Kubectl, Reader::Kyaml] {
            let p = parse_as("a: 1\n<<: {a: 2}\n", &Limits::default(), reader);
            assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
            assert_eq!(p.notes[0].start, 0);
        }
    }

    #[test]
    fn large_mappings_and_sequences_are_looked_up_through_the_index() {
        let mut src = String::from("m:\n");
        for i in 0..100 {
            src.push_str(&format!("  k{i}: {i}\n"));
        }
        src.push_str("  <<: {k5: x, extra: y}\ns:\n");
        for i in 0..100 {
            src.push_str(&format!("  - {i}\n"));
        }
        let d = &parse_ok(&src)[0];
        assert_eq!(at(&src, d, "/m/k42").1, (44, 8));
        assert_eq!(at(&src, d, "/s/57").1, (161, 5));
        // kubectl: the merge after `k5` wins, and keys only the merge has are found too.
        assert_eq!(d.value["m"]["k5"], json!("x"));
        assert_eq!(at(&src, d, "/m/k5").1, (102, 12));
        assert_eq!(at(&src, d, "/m/extra").1, (102, 22));
    }

    #[test]
    fn json_objects_back_to_back_are_documents_with_their_own_positions() {
        let src = "{\"a\": 1}\n{\"b\":\n  [true]}\n";
        let kubectl = parse_as(src, &Limits::default(), Reader::Kubectl);
        assert!(kubectl.issues.is_empty(), "{:?}", kubectl.issues);
        let values: Vec<_> = kubectl.documents.iter().map(|d| d.value.clone()).collect();
        assert_eq!(values, vec![json!({"a": 1}), json!({"b": [true]})]);
        assert_eq!(at(src, &kubectl.documents[1], "/b/0").1, (3, 4));
        assert_eq!(kubectl.notes.len(), 1);
        let kyaml = parse_as(src, &Limits::default(), Reader::Kyaml);
        assert_eq!(kyaml.documents.len(), 1);
        assert_eq!(kyaml.issues[0].rule, DROPPED);
    }

    /// Every YAML file of the repository (and of `../shared/corpus` when it is there), on
    /// its own and all in one stream: read in pieces on several threads, it reads exactly
    /// as in one piece (documents, positions, indexes, issues and notes).
    #[test]
    fn a_stream_read_in_pieces_reads_as_in_one() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                    && let Ok(text) = std::fs::read_to_string(&p)
                {
                    // As `decode` hands it to the parser: without a byte-order mark.
                    out.push(text.trim_start_matches('\u{feff}').to_owned());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        for dir in ["fixtures", "tests", "../shared/corpus"] {
            walk(&root.join(dir), &mut texts);
        }
        // The stream of them all: those that read cleanly on their own, with no directive.
        let limits = Limits::default();
        let clean: Vec<&str> = texts
            .iter()
            .map(String::as_str)
            .filter(|t| {
                !t.starts_with('%')
                    && !t.contains("\n%")
                    && !parse_stream(t, &limits, Reader::Kubectl, false, 0)
                        .issues
                        .iter()
                        .any(|i| matches!(i.rule, "yaml-syntax" | "yaml-limit"))
            })
            .collect();
        let all = clean.join("\n---\n");
        // A duplicate key and an alias in a later piece: lines and anchors stay its own.
        let tail = "---\na: &x 1\nb: *x\na: 2\n";
        let all = format!("{all}\n{tail}");
        texts.push(all.clone());
        let mut cut = 0;
        for (n, text) in texts.iter().enumerate() {
            // The large ones (the corpus's, the stream of all) in fewer ways: the test stays
            // a few seconds.
            let large = text.len() > 64 * 1024 || n + 1 == texts.len();
            for reader in [Reader::Kubectl, Reader::Kyaml] {
                let whole = parse_stream(text, &limits, reader, false, 0);
                let counts: &[usize] = if large { &[3] } else { &[2, 3, 7] };
                for &pieces in counts {
                    let Some(parts) = parse_in_pieces(text, &limits, reader, false, pieces) else {
                        continue;
                    };
                    cut += 1;
                    assert_eq!(parts.count, whole.count);
                    assert_eq!(parts.issues, whole.issues);
                    assert_eq!(parts.notes, whole.notes);
                    assert_eq!(parts.documents.len(), whole.documents.len());
                    for (a, b) in parts.documents.iter().zip(&whole.documents) {
                        assert_eq!(format!("{a:?}"), format!("{b:?}"));
                    }
                }
            }
        }
        assert!(cut > 10, "only {cut} streams were cut into pieces");
        // The duplicate key's message names its line in the whole file.
        let parts = parse_in_pieces(&all, &limits, Reader::Kubectl, false, 3).unwrap();
        let first = all.rfind("a: &x 1").unwrap();
        let line = LineIndex::new(&all).position(&all, first).line;
        let dup = parts
            .issues
            .iter()
            .rfind(|i| i.rule == "duplicate-key")
            .unwrap();
        assert!(
            dup.message
                .contains(&format!("first defined on line {line}")),
            "{dup:?}"
        );
        // A broken piece: read in one piece, where the error is.
        let broken = format!("{all}---\na: [\n");
        assert!(parse_in_pieces(&broken, &limits, Reader::Kubectl, false, 3).is_none());
        let (docs, issues) = parse(&broken, &limits);
        assert!(issues.iter().any(|i| i.rule == "yaml-syntax"));
        assert_eq!(docs.len(), parts.documents.len());
    }
}
