//! Where a node of a rendered chart comes from: the template line that writes its key, or
//! the values line that sets it.
//!
//! Helm keeps no source map (the `# Source:` line names the template, nothing more), so the
//! template's text is read as YAML-shaped lines: each `key:` and `- item` at its
//! indentation, the `{{ ... }}` lines that only steer (`if`, `with`, `range`, `end`)
//! skipped, and the ones that write YAML (`toYaml`, `include`) kept as insertion points. A
//! rendered key path is followed through those lines; where it leaves them through a
//! `toYaml` of `.Values.x` (directly, or as `.` inside `with`/`range`), or ends at a key whose
//! value is `{{ .Values.x }}`, the values are searched for `x`, the highest-precedence
//! values source first. Where the path cannot be followed, the deepest line found is the
//! answer: never a line that did not write the node.

use serde_json::Value;

use crate::render::node::{FileId, Kind, Node, Origin, Span};

/// One segment of a path into the values: a key, or any item of a `range`d list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Item,
}

/// A YAML-shaped entry of a template line.
#[derive(Debug, Clone)]
struct Entry {
    /// Column of its first character (the `-` of an item).
    indent: usize,
    what: What,
    /// Where `.` points in the values here (`with`, `range`), when it does.
    dot: Option<Vec<Seg>>,
    /// Its document of the template (counted by `---` lines).
    doc: usize,
}

#[derive(Debug, Clone)]
enum What {
    /// `key: value` (the value may be empty or an action).
    Key {
        key: Span,
        value: Span,
        name: String,
        /// The values a `{{ .Values.x }}` value writes.
        writes: Option<Vec<Seg>>,
        /// The values a `{{ toYaml .Values.x | nindent 4 }}` on the key's line writes.
        yaml: Option<Vec<Seg>>,
    },
    /// `- value`, the start of a list item (its inline key, if any, is the next entry).
    Item { value: Span },
    /// An action that writes YAML (`toYaml .Values.x | nindent 8`, `include ...`), with
    /// the values it writes when it writes a `toYaml` of them.
    Insert {
        span: Span,
        values: Option<Vec<Seg>>,
    },
}

/// A template read for positions.
#[derive(Debug)]
pub struct Template {
    file: FileId,
    entries: Vec<Entry>,
    /// The `kind:` written literally in each document of the template.
    kinds: Vec<Option<String>>,
    /// The span of the template's first line, the fallback.
    first: Span,
}

/// A source of values, in precedence order: a values file, inline values of a GitOps
/// object, the chart's `values.yaml`; `prefix` is where a subchart's values are in it.
#[derive(Debug, Clone)]
pub struct Values {
    pub node: Node,
    /// The path of the chart (`[]`, or `["sub"]` for a subchart) in these values.
    pub chart: Vec<String>,
}

impl Template {
    /// Reads the template `text` (file `file`).
    pub fn read(text: &str, file: FileId) -> Template {
        let mut entries = Vec::new();
        let mut kinds: Vec<Option<String>> = vec![None];
        let mut doc = 0;
        // The `.` of each open `if`/`with`/`range`/`define` block.
        let mut stack: Vec<Option<Vec<Seg>>> = Vec::new();
        // `None`: `.` is the template's root context, not a place in the values.
        let mut dot: Option<Vec<Seg>> = None;
        let mut pos = 0;
        let mut first = None;
        for line in text.split_inclusive('\n') {
            let start = pos;
            pos += line.len();
            let bare = line.trim_end_matches(['\n', '\r']);
            first.get_or_insert(Span::new(start, start + bare.len()));
            if bare.trim_end() == "---" {
                doc += 1;
                kinds.push(None);
                continue;
            }
            let indent = bare.len() - bare.trim_start().len();
            let content = bare.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let dot_here = dot.clone();
            if content.starts_with("{{") {
                // A line of actions only: steer, or write.
                let mut writes = None;
                for (a_start, a_end) in actions(bare) {
                    let inner = action_body(&bare[a_start..a_end]);
                    let word = inner.split_whitespace().next().unwrap_or("");
                    match word {
                        "if" => stack.push(dot.clone()),
                        "with" => {
                            stack.push(dot.clone());
                            dot = resolve(&inner[4..], dot.as_deref(), true);
                        }
                        "range" => {
                            stack.push(dot.clone());
                            let expr = inner[5..].rsplit_once(":=").map_or(&inner[5..], |(_, e)| e);
                            dot = resolve(expr, dot.as_deref(), true).map(|mut p| {
                                p.push(Seg::Item);
                                p
                            });
                        }
                        "define" | "block" => {
                            stack.push(dot.clone());
                            dot = None;
                        }
                        "end" => {
                            dot = stack.pop().unwrap_or(None);
                        }
                        "else" | "break" | "continue" => {}
                        "" => {}
                        // Comments and variables write nothing.
                        _ if inner.starts_with('/')
                            || inner.starts_with('$') && inner.contains(":=") => {}
                        _ => {
                            let values = inner
                                .contains("toYaml")
                                .then(|| yaml_arg(inner, dot.as_deref()))
                                .flatten();
                            let indent = nindent(inner).unwrap_or(indent);
                            writes =
                                Some((indent, Span::new(start + a_start, start + a_end), values));
                        }
                    }
                }
                if let Some((indent, span, values)) = writes {
                    entries.push(Entry {
                        indent,
                        what: What::Insert { span, values },
                        dot: dot_here,
                        doc,
                    });
                }
                continue;
            }
            // `- ` items, then a `key:` on the rest of the line.
            let mut col = indent;
            let mut rest = content;
            while let Some(after) = rest
                .strip_prefix("- ")
                .or_else(|| (rest == "-").then_some(""))
            {
                let value_at = start + col + 2.min(rest.len());
                entries.push(Entry {
                    indent: col,
                    what: What::Item {
                        value: Span::new(value_at, start + bare.len()),
                    },
                    dot: dot_here.clone(),
                    doc,
                });
                let skipped = after.len() - after.trim_start().len();
                col += 2 + skipped;
                rest = after.trim_start();
            }
            if let Some((name, key_len)) = key_of(rest) {
                let after_key = &rest[key_len..];
                let value_off = key_len + (after_key.len() - after_key.trim_start().len());
                let key = Span::new(start + col, start + col + key_len - 1);
                let value = Span::new(start + col + value_off, start + bare.len());
                if col == 0 && name == "kind" {
                    let v = rest[value_off..].trim();
                    if !v.contains("{{") {
                        kinds[doc] = Some(v.trim_matches(['"', '\'']).to_owned());
                    }
                }
                let raw = &rest[value_off..];
                let first = actions(raw).first().map(|&(a, b)| action_body(&raw[a..b]));
                let writes = first.and_then(|inner| {
                    let writes_yaml = ["toYaml", "include", "tpl"]
                        .iter()
                        .any(|w| inner.contains(w));
                    (!writes_yaml)
                        .then(|| resolve(inner, dot_here.as_deref(), false))
                        .flatten()
                });
                let yaml = first
                    .filter(|inner| inner.contains("toYaml"))
                    .and_then(|inner| yaml_arg(inner, dot_here.as_deref()));
                entries.push(Entry {
                    indent: col,
                    what: What::Key {
                        key,
                        value,
                        name,
                        writes,
                        yaml,
                    },
                    dot: dot_here.clone(),
                    doc,
                });
            }
        }
        Template {
            file,
            entries,
            kinds,
            first: first.unwrap_or_default(),
        }
    }

    /// Which document of the template the `nth` rendered document of `kind` from it comes
    /// from: the one that writes that kind literally, else the `nth`.
    pub fn doc_for(&self, kind: &str, nth: usize) -> Option<usize> {
        let with_kind: Vec<usize> = (0..self.kinds.len())
            .filter(|&d| self.kinds[d].as_deref() == Some(kind))
            .collect();
        match with_kind.len() {
            0 => {
                let docs: Vec<usize> = (0..self.kinds.len())
                    .filter(|&d| self.entries.iter().any(|e| e.doc == d))
                    .collect();
                (docs.len() == 1)
                    .then(|| docs[0])
                    .or_else(|| docs.get(nth).copied())
            }
            1 => Some(with_kind[0]),
            n => Some(with_kind[nth % n]),
        }
    }

    /// The rendered document `value` (of template document `doc`) as a tree whose every
    /// node has the origin of the line that wrote it, or of the values line that set it.
    pub fn locate(&self, value: &Value, doc: Option<usize>, values: &[Values]) -> Node {
        let range: Vec<usize> = (0..self.entries.len())
            .filter(|&i| doc.is_none_or(|d| self.entries[i].doc == d))
            .collect();
        let root = range
            .iter()
            .find(|&&i| matches!(self.entries[i].what, What::Key { .. }))
            .map(|&i| self.origin_of(&self.entries[i]))
            .unwrap_or(Origin::new(self.file, self.first));
        let mut path = Vec::new();
        self.build(value, At::Lines(range, None, None), root, &mut path, values)
    }

    fn build(
        &self,
        value: &Value,
        at: At,
        origin: Origin,
        path: &mut Vec<PathSeg>,
        values: &[Values],
    ) -> Node {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number(n.clone()),
            Value::String(s) => Kind::String(s.clone()),
            Value::Array(items) => Kind::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let (child_at, child_origin) =
                            self.child(&at, origin, &PathSeg::Index(i, items.len()), values);
                        path.push(PathSeg::Index(i, items.len()));
                        let n = self.build(item, child_at, child_origin, path, values);
                        path.pop();
                        n
                    })
                    .collect(),
            ),
            Value::Object(m) => Kind::Map(
                m.iter()
                    .map(|(k, v)| {
                        let seg = PathSeg::Key(k.clone());
                        let (child_at, child_origin) = self.child(&at, origin, &seg, values);
                        // `key: {{ .Values.x }}`: the key is the template's.
                        let key_at = match (&at, &child_at) {
                            (At::Lines(range, ..), At::Values(_)) => self
                                .children(range)
                                .into_iter()
                                .find(|&i| matches!(&self.entries[i].what, What::Key { name, .. } if name == k))
                                .map(|i| Box::new(self.origin_of(&self.entries[i]))),
                            _ => None,
                        };
                        path.push(seg);
                        let mut n = self.build(v, child_at, child_origin, path, values);
                        n.key_at = key_at;
                        path.pop();
                        (k.clone(), n)
                    })
                    .collect(),
            ),
        };
        Node::new(kind, origin)
    }

    /// Where the child `seg` of a node found `at` is, and its origin (the parent's when it
    /// cannot be found).
    fn child(&self, at: &At, parent: Origin, seg: &PathSeg, values: &[Values]) -> (At, Origin) {
        match at {
            At::Nowhere => (At::Nowhere, parent),
            At::Values(path) => {
                let mut path = path.clone();
                path.push(match seg {
                    PathSeg::Key(k) => Seg::Key(k.clone()),
                    PathSeg::Index(i, _) => Seg::Key(i.to_string()),
                });
                match lookup_values(values, &path, None) {
                    Some(o) => (At::Values(path), o),
                    None => (At::Nowhere, parent),
                }
            }
            At::Lines(range, inline, index) => {
                let index = *index;
                let children = self.children(range);
                match seg {
                    PathSeg::Key(k) => {
                        let found = children.iter().position(|&i| {
                            matches!(&self.entries[i].what, What::Key { name, .. } if name == k)
                        });
                        if let Some(p) = found {
                            let i = children[p];
                            let block = self.block(range, i);
                            let e = &self.entries[i];
                            let origin = self.origin_of(e);
                            let What::Key { writes, yaml, .. } = &e.what else {
                                return (At::Lines(block, None, index), origin);
                            };
                            if let Some(path) = writes
                                && let Some(from) = lookup_values(values, path, index)
                            {
                                // `key: {{ .Values.x }}`: set where `x` is.
                                return (At::Values(concrete(path, index)), from);
                            }
                            return (At::Lines(block, yaml.clone(), index), origin);
                        }
                        self.through_insert(inline, &children, seg, parent, values, index)
                    }
                    PathSeg::Index(i, len) => {
                        let items: Vec<usize> = children
                            .iter()
                            .copied()
                            .filter(|&c| matches!(self.entries[c].what, What::Item { .. }))
                            .collect();
                        let ranged = |c: usize| {
                            self.entries[c]
                                .dot
                                .as_ref()
                                .is_some_and(|d| d.last() == Some(&Seg::Item))
                        };
                        let by_range: Vec<usize> =
                            (0..items.len()).filter(|&k| ranged(items[k])).collect();
                        // Which template item wrote rendered item `i`, and which item of
                        // its `range` it is.
                        let pick = match by_range.as_slice() {
                            _ if items.len() == 1 => Some((items[0], *i)),
                            [] if items.len() == *len => Some((items[*i], *i)),
                            // One `range` among literal items: it wrote what they did not.
                            [k] if *len + 1 >= items.len() => {
                                let wrote = *len + 1 - items.len();
                                if *i < *k {
                                    Some((items[*i], *i))
                                } else if *i < k + wrote {
                                    Some((items[*k], *i - k))
                                } else {
                                    Some((items[*i + 1 - wrote], *i))
                                }
                            }
                            _ => None,
                        };
                        match pick {
                            Some((item, nth)) => {
                                let block = self.block(range, item);
                                let e = &self.entries[item];
                                // The item a `range` writes: its values are the `nth`.
                                let index = if ranged(item) { Some(nth) } else { index };
                                (At::Lines(block, None, index), self.origin_of(e))
                            }
                            None => {
                                self.through_insert(inline, &children, seg, parent, values, index)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The child `seg` through an insertion among `children`: a `toYaml` of values that
    /// have it, or the insertion line itself.
    fn through_insert(
        &self,
        inline: &Option<Vec<Seg>>,
        children: &[usize],
        seg: &PathSeg,
        parent: Origin,
        values: &[Values],
        index: Option<usize>,
    ) -> (At, Origin) {
        let inserts: Vec<usize> = children
            .iter()
            .copied()
            .filter(|&c| matches!(self.entries[c].what, What::Insert { .. }))
            .collect();
        let written = inserts.iter().filter_map(|&c| match &self.entries[c].what {
            What::Insert {
                values: Some(from), ..
            } => Some(from),
            _ => None,
        });
        for from in inline.iter().chain(written) {
            let mut path = concrete(from, index);
            path.push(match seg {
                PathSeg::Key(k) => Seg::Key(k.clone()),
                PathSeg::Index(i, _) => Seg::Key(i.to_string()),
            });
            if let Some(o) = lookup_values(values, &path, None) {
                return (At::Values(path), o);
            }
        }
        match inserts.as_slice() {
            [only] => (At::Nowhere, self.origin_of(&self.entries[*only])),
            _ => (At::Nowhere, parent),
        }
    }

    /// The entries directly below, among `range`: those at the smallest indentation.
    fn children(&self, range: &[usize]) -> Vec<usize> {
        let structural = |i: &usize| !matches!(self.entries[*i].what, What::Insert { .. });
        let level = range
            .iter()
            .filter(|i| structural(i))
            .map(|&i| self.entries[i].indent)
            .min();
        let Some(level) = level else {
            // Only insertions: they are the children.
            return range.to_vec();
        };
        range
            .iter()
            .copied()
            .filter(|&i| {
                let e = &self.entries[i];
                match e.what {
                    What::Insert { .. } => e.indent >= level,
                    _ => e.indent == level,
                }
            })
            .collect()
    }

    /// The entries of `range` below entry `i`: those after it, more indented (and, for a
    /// key, a list written at its own indentation).
    fn block(&self, range: &[usize], i: usize) -> Vec<usize> {
        let e = &self.entries[i];
        let is_key = matches!(e.what, What::Key { .. });
        let from = range
            .iter()
            .position(|&r| r == i)
            .map_or(range.len(), |p| p + 1);
        let mut out = Vec::new();
        for &r in &range[from..] {
            let c = &self.entries[r];
            // An item's inline key sits on the item's line, more indented: inside. A key's
            // list may be written at the key's own indentation.
            let inside = c.indent > e.indent
                || is_key && c.indent == e.indent && matches!(c.what, What::Item { .. });
            if !inside {
                break;
            }
            out.push(r);
        }
        out
    }

    fn origin_of(&self, e: &Entry) -> Origin {
        match &e.what {
            What::Key { key, value, .. } => Origin {
                file: self.file,
                key: Some(*key),
                value: if value.start < value.end {
                    *value
                } else {
                    *key
                },
            },
            What::Item { value } => Origin::new(self.file, *value),
            What::Insert { span, .. } => Origin::new(self.file, *span),
        }
    }
}

/// Where a walk is: template entries, values, or lost.
#[derive(Debug, Clone)]
enum At {
    /// Entries, the values a `toYaml` on the parent's own line writes, and the rendered
    /// index of the item of the innermost `range` the entries are in.
    Lines(Vec<usize>, Option<Vec<Seg>>, Option<usize>),
    Values(Vec<Seg>),
    Nowhere,
}

/// One step of a rendered path: a key, or item `.0` of `.1` items.
#[derive(Debug, Clone)]
enum PathSeg {
    Key(String),
    Index(usize, usize),
}

/// The origin of the value at `path` (keys) in the first of `values` that has it.
pub fn find_values(values: &[Values], path: &[String]) -> Option<Origin> {
    let path: Vec<Seg> = path.iter().map(|k| Seg::Key(k.clone())).collect();
    lookup_values(values, &path, None)
}

/// `path` with its `range` item made the rendered item `index`. Nested ranges stay
/// unresolved (no values source has an `Item` key): which item of the outer list wrote
/// the node is not known.
fn concrete(path: &[Seg], index: Option<usize>) -> Vec<Seg> {
    if path.iter().filter(|s| **s == Seg::Item).count() != 1 {
        return path.to_vec();
    }
    path.iter()
        .map(|s| match (s, index) {
            (Seg::Item, Some(i)) => Seg::Key(i.to_string()),
            _ => s.clone(),
        })
        .collect()
}

/// The origin of the values node at `path` (its `range` item the rendered item `index`),
/// in the first source that has it.
fn lookup_values(values: &[Values], path: &[Seg], index: Option<usize>) -> Option<Origin> {
    let path = concrete(path, index);
    'sources: for v in values {
        let mut node = &v.node;
        for k in &v.chart {
            match node.get(k) {
                Some(n) => node = n,
                None => continue 'sources,
            }
        }
        for seg in &path {
            let Seg::Key(k) = seg else {
                continue 'sources;
            };
            node = match &node.kind {
                Kind::Map(m) => match m.get(k) {
                    Some(n) => n,
                    None => continue 'sources,
                },
                Kind::Seq(items) => match k.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(n) => n,
                    None => continue 'sources,
                },
                _ => continue 'sources,
            };
        }
        return Some(node.origin);
    }
    None
}

/// The byte ranges of the `{{ ... }}` actions of `line`.
fn actions(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = line[from..].find("{{") {
        let start = from + i;
        match line[start + 2..].find("}}") {
            Some(j) => {
                let end = start + 2 + j + 2;
                out.push((start, end));
                from = end;
            }
            None => break,
        }
    }
    out
}

/// The text of an action without its delimiters and trim markers.
fn action_body(action: &str) -> &str {
    let s = action.trim_start_matches("{{").trim_end_matches("}}");
    let s = s.strip_prefix('-').unwrap_or(s);
    let s = s.strip_suffix('-').unwrap_or(s);
    s.trim()
}

/// `nindent N` / `indent N` of a pipeline: the column its text is written at.
fn nindent(inner: &str) -> Option<usize> {
    let words: Vec<&str> = inner.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "nindent" || w[0] == "indent")
        .and_then(|w| w[1].trim_end_matches(')').parse().ok())
}

/// The values a `toYaml X` writes: X's path.
fn yaml_arg(inner: &str, dot: Option<&[Seg]>) -> Option<Vec<Seg>> {
    let after = &inner[inner.find("toYaml")? + "toYaml".len()..];
    resolve(after, dot, true)
}

/// The values path of the first path-like word of `expr`: `.Values.a.b`, `$.Values.a`,
/// `.x` (below `dot`), `.` (`dot`). `whole`: the expression is the argument itself (the
/// first word), not a pipeline to search.
fn resolve(expr: &str, dot: Option<&[Seg]>, whole: bool) -> Option<Vec<Seg>> {
    let words = expr
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '|')
        .filter(|w| !w.is_empty());
    for (n, w) in words.enumerate() {
        if whole && n > 0 {
            return None;
        }
        let w = w.trim_end_matches('}').trim_end_matches('-');
        if let Some(rest) = w
            .strip_prefix(".Values")
            .or_else(|| w.strip_prefix("$.Values"))
        {
            if !rest.is_empty() && !rest.starts_with('.') {
                continue;
            }
            return Some(keys(rest));
        }
        if w == "." {
            return dot.map(<[Seg]>::to_vec);
        }
        if let Some(rest) = w.strip_prefix('.')
            && rest.chars().next().is_some_and(char::is_alphabetic)
            && !w.starts_with(".Release")
            && !w.starts_with(".Chart")
            && !w.starts_with(".Capabilities")
            && !w.starts_with(".Template")
            && !w.starts_with(".Files")
        {
            let mut p = dot?.to_vec();
            p.extend(keys(w));
            return Some(p);
        }
    }
    None
}

/// `.a.b` as keys.
fn keys(dotted: &str) -> Vec<Seg> {
    dotted
        .split('.')
        .filter(|k| !k.is_empty())
        .map(|k| Seg::Key(k.to_owned()))
        .collect()
}

/// A literal `key:` at the start of `s` (plain or quoted, followed by a space or the end):
/// the key and the length up to and including the colon.
fn key_of(s: &str) -> Option<(String, usize)> {
    if s.starts_with("{{") {
        return None;
    }
    if let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(q)? + 1;
        let name = &s[1..end];
        let rest = &s[end + 1..];
        return rest
            .starts_with(':')
            .then(|| (name.to_owned(), end + 2))
            .filter(|_| rest.len() == 1 || rest[1..].starts_with([' ', '\t']));
    }
    let colon = s.find(':')?;
    let name = &s[..colon];
    if name.is_empty() || name.contains("{{") || name.contains(' ') && name.contains('#') {
        return None;
    }
    let after = &s[colon + 1..];
    (after.is_empty() || after.starts_with([' ', '\t']))
        .then(|| (name.trim_end().to_owned(), colon + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Limits;

    /// The line (1-based) and the text at the origin of `pointer` in the object `rendered`
    /// rendered from `template` (file 0) with `values` (file 1).
    fn at(template: &str, values: &str, rendered: &str, pointer: &str) -> (u32, String) {
        let t = Template::read(template, 0);
        let (docs, _) = crate::parse::yaml::parse(values, &Limits::default());
        let node = Node::from_document(&docs[0], "", values, 1).unwrap();
        let sources = [Values {
            node,
            chart: Vec::new(),
        }];
        let (r, _) = crate::parse::yaml::parse(rendered, &Limits::default());
        let kind = r[0].value["kind"].as_str().unwrap_or("");
        let tree = t.locate(&r[0].value, t.doc_for(kind, 0), &sources);
        let o = tree.pointer(pointer).unwrap().origin;
        let text = if o.file == 0 { template } else { values };
        let span = o.span(false);
        let line = text[..span.start as usize].matches('\n').count() as u32 + 1;
        (
            o.file * 1000 + line,
            text[span.start as usize..span.end as usize].to_owned(),
        )
    }

    const TEMPLATE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include \"app.labels\" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
      {{- range .Values.containers }}
      - name: {{ .name }}
        image: {{ .image | quote }}
        securityContext: {{- toYaml .securityContext | nindent 10 }}
      {{- end }}
      - name: sidecar
        image: busybox
        hostNetwork: true
";

    const VALUES: &str = "\
replicas: 3
podSecurityContext:
  runAsUser: 0
containers:
  - name: a
    image: a:1
    securityContext: {}
  - name: b
    image: b:1
    securityContext:
      privileged: true
";

    const RENDERED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: r
  labels:
    app: x
spec:
  replicas: 3
  template:
    spec:
      securityContext:
        runAsUser: 0
      containers:
      - name: a
        image: \"a:1\"
        securityContext: {}
      - name: b
        image: \"b:1\"
        securityContext:
          privileged: true
      - name: sidecar
        image: busybox
        hostNetwork: true
";

    #[test]
    fn literal_keys_are_found_at_their_template_line() {
        assert_eq!(
            at(TEMPLATE, VALUES, RENDERED, "/kind"),
            (2, "Deployment".into())
        );
        assert_eq!(
            at(TEMPLATE, VALUES, RENDERED, "/spec/template/spec/containers"),
            (15, "containers".into())
        );
        // An include: the line that includes it.
        assert_eq!(
            at(TEMPLATE, VALUES, RENDERED, "/metadata/labels/app"),
            (6, "{{- include \"app.labels\" . | nindent 4 }}".into())
        );
    }

    #[test]
    fn values_are_found_where_they_are_set() {
        assert_eq!(
            at(TEMPLATE, VALUES, RENDERED, "/spec/replicas"),
            (1001, "3".into())
        );
        // `with` and `toYaml .`.
        assert_eq!(
            at(
                TEMPLATE,
                VALUES,
                RENDERED,
                "/spec/template/spec/securityContext/runAsUser"
            ),
            (1003, "0".into())
        );
        // `range`: the second item's values, on the key's own line.
        assert_eq!(
            at(
                TEMPLATE,
                VALUES,
                RENDERED,
                "/spec/template/spec/containers/1/securityContext/privileged"
            ),
            (1011, "true".into())
        );
        assert_eq!(
            at(
                TEMPLATE,
                VALUES,
                RENDERED,
                "/spec/template/spec/containers/1/image"
            ),
            (1009, "b:1".into())
        );
    }

    #[test]
    fn what_cannot_be_traced_stays_on_the_line_that_wrote_it() {
        // A literal item after a `range`: the rendered item after those the range wrote.
        assert_eq!(
            at(
                TEMPLATE,
                VALUES,
                RENDERED,
                "/spec/template/spec/containers/2/hostNetwork"
            ),
            (23, "true".into())
        );
        // Three rendered items, two literal ones: which wrote which is not known.
        let t = "kind: X\nitems:\n- a: 1\n- b: 2\n";
        let r = "kind: X\nitems:\n- a: 1\n- b: 2\n- c: 3\n";
        assert_eq!(at(t, "{}\n", r, "/items/2/c"), (2, "items".into()));
        assert_eq!(
            at(TEMPLATE, VALUES, RENDERED, "/metadata/name"),
            (4, "{{ .Release.Name }}".into())
        );
    }

    #[test]
    fn a_multi_document_template_is_matched_by_kind() {
        let template = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: {{ .Values.a }}\n";
        let rendered = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: x\n";
        assert_eq!(
            at(template, "a: x\n", rendered, "/data"),
            (8, "data".into())
        );
        assert_eq!(
            at(template, "a: x\n", rendered, "/data/a"),
            (1001, "x".into())
        );
    }

    #[test]
    fn odd_templates_do_not_panic() {
        let odd = [
            "",
            "{{",
            "}}",
            "- ",
            "-",
            "--",
            "---\n---",
            "\"a",
            "'x':",
            "\"k\": v",
            "a:\n- - - b: c",
            "ü: {{ .Values.ü }}",
            "{{- with }}\n{{- range }}\n{{ end }}{{ end }}{{ end }}",
            "{{ toYaml }}",
            "{{ toYaml . | nindent x }}",
            "a: {{",
            "  - {{ .Values.x }}",
            "\t- a: b",
            "{{- range $k, $v := .Values.m }}\n{{ $k }}: {{ $v }}\n{{- end }}",
            "kind: \"",
        ];
        let value: Value = serde_json::json!({"kind": "X", "a": [{"b": {"c": [1, {"d": null}]}}]});
        for t in odd {
            let template = Template::read(t, 0);
            let node = template.locate(&value, template.doc_for("X", 3), &[]);
            assert!(node.pointer("/a/0/b/c/1/d").is_some(), "{t:?}");
        }
    }
}
