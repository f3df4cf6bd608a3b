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
//! values source first. An `include "name" ARG` (or `template`) of a define the chart has
//! ([`Defines`]: every template file of the chart and of its vendored subcharts, one
//! namespace as in helm) is followed into the define's lines, as if they were written at the
//! include's indentation; inside, `.Values.x` is traced to the values only when `ARG` is the
//! root context (`.` outside `with`/`range`, `$`), a place in the values (`.Values.x`, `.`
//! inside `range .Values.list`), or a `dict` whose entries are such. Where the path cannot
//! be followed, the deepest line found is the answer: never a line that did not write the
//! node.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use crate::render::node::{FileId, Kind, Node, Origin, Span};

/// How many `include`s deep a path is followed (a define including a define, ...): a
/// define that includes itself stops there.
const MAX_DEPTH: usize = 8;
/// The most entries the children of one rendered node gather through `include`s.
const MAX_SPLICED: usize = 2048;
/// How deeply an `include`'s argument is read (`dict` inside `dict`).
const MAX_ARG_DEPTH: usize = 4;

/// One segment of a path into the values: a key, or any item of a `range`d list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Item,
    /// The argument a define is included with (its `$`): a path read inside a define starts
    /// with it, and is bound to the values when the define is included.
    Arg,
    /// A `.` that is no place in the values (`with .Release`): nothing below it is found.
    Opaque,
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
    /// Inside a `define`: written only where the define is included.
    defined: bool,
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
        /// The define an `{{ include "x" . | nindent 4 }}` on the key's line writes.
        include: Option<Include>,
    },
    /// `- value`, the start of a list item (its inline key, if any, is the next entry).
    Item { value: Span },
    /// An action that writes YAML (`toYaml .Values.x | nindent 8`, `include ...`), with
    /// the values it writes when it writes a `toYaml` of them, and the define it includes.
    Insert {
        span: Span,
        values: Option<Vec<Seg>>,
        include: Option<Include>,
    },
}

/// An `include "name" ARG` (or `template "name" ARG`) whose name is written literally.
#[derive(Debug, Clone)]
struct Include {
    name: String,
    arg: Arg,
}

/// The argument of an `include`, as read where it is written.
#[derive(Debug, Clone)]
enum Arg {
    /// The template's root context (`.` outside `with`/`range`, `$`).
    Root,
    /// A path (in the values; inside a define, below its [`Seg::Arg`]).
    Path(Vec<Seg>),
    /// `(dict "k" v ...)`.
    Dict(Vec<(String, Arg)>),
    /// Anything else: nothing inside the define is traced to the values.
    Unknown,
}

/// What a define's `$` is where it is included.
#[derive(Debug, Clone)]
enum Ctx {
    Root,
    Values(Vec<Seg>),
    Dict(Vec<(String, Ctx)>),
    Unknown,
}

impl Ctx {
    /// The context at `path` below this one.
    fn descend(&self, path: &[Seg]) -> Ctx {
        match (self, path) {
            (_, []) => self.clone(),
            (Ctx::Root, [Seg::Key(k), rest @ ..]) if k == "Values" => Ctx::Values(rest.to_vec()),
            (Ctx::Values(v), rest) => Ctx::Values(v.iter().chain(rest).cloned().collect()),
            (Ctx::Dict(m), [Seg::Key(k), rest @ ..]) => m
                .iter()
                .find(|(n, _)| n == k)
                .map_or(Ctx::Unknown, |(_, c)| c.descend(rest)),
            _ => Ctx::Unknown,
        }
    }
}

/// The values path `path` (read in a define when it starts with [`Seg::Arg`]) is, where
/// the define's `$` is `ctx`; `None`: not in the values.
fn bind(path: &[Seg], ctx: &Ctx) -> Option<Vec<Seg>> {
    match path.split_first() {
        Some((Seg::Arg, rest)) => match ctx.descend(rest) {
            Ctx::Values(v) => Some(v),
            _ => None,
        },
        _ => Some(path.to_vec()),
    }
}

/// The context an include's `arg` gives its define, where the includer's `$` is `outer`.
fn ctx_of(arg: &Arg, outer: &Ctx) -> Ctx {
    match arg {
        Arg::Root => Ctx::Root,
        Arg::Path(p) => match p.split_first() {
            Some((Seg::Arg, rest)) => outer.descend(rest),
            _ => Ctx::Values(p.clone()),
        },
        Arg::Dict(pairs) => Ctx::Dict(
            pairs
                .iter()
                .map(|(k, a)| (k.clone(), ctx_of(a, outer)))
                .collect(),
        ),
        Arg::Unknown => Ctx::Unknown,
    }
}

/// A `define` of a template.
#[derive(Debug)]
struct Define {
    name: String,
    /// Its entries.
    body: Arc<[usize]>,
    /// Those at its top level.
    top: Vec<usize>,
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
    defines: Vec<Define>,
}

/// The defines of a chart by name: those of its template files and of its vendored
/// subcharts' (helm gives them one namespace).
#[derive(Debug, Default)]
pub struct Defines {
    by_name: HashMap<String, (Arc<Template>, usize)>,
}

impl Defines {
    /// Adds the defines of `t`: one of a name already added is replaced, so templates are
    /// added in helm's parse order (the last parsed define wins).
    pub fn add(&mut self, t: Arc<Template>) {
        for (k, d) in t.defines.iter().enumerate() {
            self.by_name.insert(d.name.clone(), (t.clone(), k));
        }
    }

    fn get(&self, name: &str) -> Option<(&Template, &Define)> {
        let (t, k) = self.by_name.get(name)?;
        let t: &Template = t;
        Some((t, t.defines.get(*k)?))
    }
}

/// A source of values, in precedence order: a values file, inline values of a GitOps
/// object, the chart's `values.yaml`; `prefix` is where a subchart's values are in it.
#[derive(Debug, Clone)]
pub struct Values {
    pub node: Node,
    /// The path of the chart (`[]`, or `["sub"]` for a subchart) in these values.
    pub chart: Vec<String>,
}

/// A block `if`/`with`/`range`/`define` opened: the `.` outside it, and whether it opens
/// the define being read.
struct Frame {
    dot: Option<Vec<Seg>>,
    opens: bool,
}

impl Template {
    /// Reads the template `text` (file `file`).
    pub fn read(text: &str, file: FileId) -> Template {
        let mut entries = Vec::new();
        let mut kinds: Vec<Option<String>> = vec![None];
        let mut doc = 0;
        let mut stack: Vec<Frame> = Vec::new();
        // `None`: `.` is the template's root context, not a place in the values.
        let mut dot: Option<Vec<Seg>> = None;
        // The define being read: its name (when written literally) and first entry.
        let mut define: Option<(Option<String>, usize)> = None;
        let mut defines: Vec<(String, usize, usize)> = Vec::new();
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
            let in_define = define.is_some();
            if content.starts_with("{{") {
                // A line of actions only: steer, or write.
                let mut writes = None;
                // What it writes is inside a define opened on the line.
                let mut defined = in_define;
                for (a_start, a_end) in actions(bare) {
                    let inner = action_body(&bare[a_start..a_end]);
                    let word = inner.split_whitespace().next().unwrap_or("");
                    let in_define = define.is_some();
                    let open = |stack: &mut Vec<Frame>, dot: &Option<Vec<Seg>>| {
                        stack.push(Frame {
                            dot: dot.clone(),
                            opens: false,
                        });
                    };
                    match word {
                        "if" => open(&mut stack, &dot),
                        "with" => {
                            open(&mut stack, &dot);
                            dot = Some(
                                resolve(&inner[4..], dot.as_deref(), true, in_define)
                                    .unwrap_or_else(|| vec![Seg::Opaque]),
                            );
                        }
                        "range" => {
                            open(&mut stack, &dot);
                            let expr = inner[5..].rsplit_once(":=").map_or(&inner[5..], |(_, e)| e);
                            dot = Some(resolve(expr, dot.as_deref(), true, in_define).map_or_else(
                                || vec![Seg::Opaque],
                                |mut p| {
                                    p.push(Seg::Item);
                                    p
                                },
                            ));
                        }
                        "define" => {
                            let opens = define.is_none();
                            stack.push(Frame {
                                dot: dot.clone(),
                                opens,
                            });
                            defined = true;
                            if opens {
                                let name = words(inner).get(1).and_then(|w| unquote(w));
                                define = Some((name.map(str::to_owned), entries.len()));
                            }
                            dot = Some(vec![Seg::Arg]);
                        }
                        "block" => {
                            open(&mut stack, &dot);
                            dot = None;
                        }
                        "end" => match stack.pop() {
                            Some(frame) => {
                                dot = frame.dot;
                                if frame.opens
                                    && let Some((name, from)) = define.take()
                                    && let Some(name) = name
                                {
                                    defines.push((name, from, entries.len()));
                                }
                            }
                            None => dot = None,
                        },
                        "else" | "break" | "continue" => {}
                        "" => {}
                        // Comments and variables write nothing.
                        _ if inner.starts_with('/')
                            || inner.starts_with('$') && inner.contains(":=") => {}
                        _ => {
                            let values = inner
                                .contains("toYaml")
                                .then(|| yaml_arg(inner, dot.as_deref(), in_define))
                                .flatten();
                            let include = include_of(inner, dot.as_deref(), in_define);
                            let indent = nindent(inner).unwrap_or(indent);
                            writes = Some((
                                indent,
                                Span::new(start + a_start, start + a_end),
                                values,
                                include,
                            ));
                        }
                    }
                }
                if let Some((indent, span, values, include)) = writes {
                    entries.push(Entry {
                        indent,
                        what: What::Insert {
                            span,
                            values,
                            include,
                        },
                        dot: dot_here,
                        doc,
                        defined,
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
                    defined: in_define,
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
                if col == 0 && name == "kind" && !in_define {
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
                        .then(|| resolve(inner, dot_here.as_deref(), false, in_define))
                        .flatten()
                });
                let yaml = first
                    .filter(|inner| inner.contains("toYaml"))
                    .and_then(|inner| yaml_arg(inner, dot_here.as_deref(), in_define));
                let include =
                    first.and_then(|inner| include_of(inner, dot_here.as_deref(), in_define));
                entries.push(Entry {
                    indent: col,
                    what: What::Key {
                        key,
                        value,
                        name,
                        writes,
                        yaml,
                        include,
                    },
                    dot: dot_here.clone(),
                    doc,
                    defined: in_define,
                });
            }
        }
        // A define never ended ends with the text.
        if let Some((Some(name), from)) = define {
            defines.push((name, from, entries.len()));
        }
        let mut t = Template {
            file,
            entries,
            kinds,
            first: first.unwrap_or_default(),
            defines: Vec::new(),
        };
        t.defines = defines
            .into_iter()
            .map(|(name, from, to)| {
                let body: Arc<[usize]> = (from..to).collect();
                let top = t.children(&body);
                Define { name, body, top }
            })
            .collect();
        t
    }

    /// Whether the template includes a define (directly: `include`, `template`).
    pub fn includes(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.what,
                What::Insert {
                    include: Some(_),
                    ..
                } | What::Key {
                    include: Some(_),
                    ..
                }
            )
        })
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
                    .filter(|&d| self.entries.iter().any(|e| e.doc == d && !e.defined))
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
    /// node has the origin of the line that wrote it (in this template, or in a define of
    /// `defines` it includes), or of the values line that set it.
    pub fn locate(
        &self,
        value: &Value,
        doc: Option<usize>,
        values: &[Values],
        defines: &Defines,
    ) -> Node {
        let range: Arc<[usize]> = (0..self.entries.len())
            .filter(|&i| {
                let e = &self.entries[i];
                !e.defined && doc.is_none_or(|d| e.doc == d)
            })
            .collect();
        let walk = Walk { values, defines };
        let at = Lines {
            t: self,
            range: range.clone(),
            inline: None,
            lead: None,
            index: None,
            ctx: Rc::new(Ctx::Root),
            depth: 0,
        };
        let root = range
            .iter()
            .find(|&&i| matches!(self.entries[i].what, What::Key { .. }))
            .map(|&i| self.origin_at(i))
            // A template that only includes: the define's first key.
            .or_else(|| {
                walk.children(&at)
                    .list
                    .iter()
                    .find(|c| matches!(c.entry().what, What::Key { .. }))
                    .map(Child::origin)
            })
            .unwrap_or(Origin::new(self.file, self.first));
        walk.build(value, At::Lines(at), root)
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

    /// Whether entry `i` is written once per item of a `range`.
    fn ranged(&self, i: usize) -> bool {
        self.entries[i]
            .dot
            .as_ref()
            .is_some_and(|d| d.last() == Some(&Seg::Item))
    }

    fn origin_at(&self, i: usize) -> Origin {
        match &self.entries[i].what {
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

/// A rendered object followed through a template and the defines it includes.
struct Walk<'a> {
    values: &'a [Values],
    defines: &'a Defines,
}

/// Entries of one template (or define) that wrote a rendered node.
#[derive(Debug, Clone)]
struct Lines<'a> {
    t: &'a Template,
    range: Arc<[usize]>,
    /// The values a `toYaml` on the parent's own line writes.
    inline: Option<Vec<Seg>>,
    /// The parent key, when an `include` on its own line writes the node.
    lead: Option<usize>,
    /// The rendered index of the item of the innermost `range` the entries are in.
    index: Option<usize>,
    /// What `$` is in these entries (the root context outside defines).
    ctx: Rc<Ctx>,
    /// How many `include`s deep these entries are.
    depth: usize,
}

/// Where a walk is: template entries, values, or lost.
#[derive(Debug, Clone)]
enum At<'a> {
    Lines(Lines<'a>),
    Values(Vec<Seg>),
    Nowhere,
}

/// An entry directly below a node: of the node's own template, or of a define an
/// `include` among them writes.
#[derive(Debug, Clone)]
struct Child<'a> {
    t: &'a Template,
    i: usize,
    /// The entries it is among (for its block).
    within: Arc<[usize]>,
    ctx: Rc<Ctx>,
    depth: usize,
    /// Written once per item of a `range` (its own, or its include's).
    ranged: bool,
    /// The include (of [`Kids::includes`]) it comes through.
    via: Option<usize>,
}

impl<'a> Child<'a> {
    fn entry(&self) -> &'a Entry {
        &self.t.entries[self.i]
    }

    fn origin(&self) -> Origin {
        self.t.origin_at(self.i)
    }

    fn is_key(&self, k: &str) -> bool {
        matches!(&self.entry().what, What::Key { name, .. } if name == k)
    }

    /// The entries below it, where `index` is the rendered item of the innermost `range`.
    fn lines(&self, index: Option<usize>) -> Lines<'a> {
        let (inline, lead) = match &self.entry().what {
            What::Key { yaml, include, .. } => (
                yaml.as_deref().and_then(|p| bind(p, &self.ctx)),
                include.is_some().then_some(self.i),
            ),
            _ => (None, None),
        };
        Lines {
            t: self.t,
            range: self.t.block(&self.within, self.i).into(),
            inline,
            lead,
            index,
            ctx: self.ctx.clone(),
            depth: self.depth,
        }
    }
}

/// The entries directly below a node, and the includes among them that were followed.
#[derive(Debug, Default)]
struct Kids<'a> {
    list: Vec<Child<'a>>,
    /// The line of each include followed.
    includes: Vec<Origin>,
}

/// One step of a rendered path: a key, or item `.0` of `.1` items.
#[derive(Debug, Clone)]
enum PathSeg {
    Key(String),
    Index(usize, usize),
}

impl<'a> Walk<'a> {
    fn build(&self, value: &Value, at: At<'a>, origin: Origin) -> Node {
        let kids = |at: &At<'a>| match at {
            At::Lines(l) => Some(self.children(l)),
            _ => None,
        };
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number(n.clone()),
            Value::String(s) => Kind::String(s.clone()),
            Value::Array(items) => {
                let kids = kids(&at);
                Kind::Seq(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let seg = PathSeg::Index(i, items.len());
                            let (child_at, child_origin) =
                                self.child(&at, kids.as_ref(), origin, &seg);
                            self.build(item, child_at, child_origin)
                        })
                        .collect(),
                )
            }
            Value::Object(m) => {
                let kids = kids(&at);
                Kind::Map(
                    m.iter()
                        .map(|(k, v)| {
                            let seg = PathSeg::Key(k.clone());
                            let (child_at, child_origin) =
                                self.child(&at, kids.as_ref(), origin, &seg);
                            // `key: {{ .Values.x }}`: the key is the template's.
                            let key_at = match (&kids, &child_at) {
                                (Some(kids), At::Values(_)) => kids
                                    .list
                                    .iter()
                                    .find(|c| c.is_key(k))
                                    .map(|c| Box::new(c.origin())),
                                _ => None,
                            };
                            let mut n = self.build(v, child_at, child_origin);
                            n.key_at = key_at;
                            (k.clone(), n)
                        })
                        .collect(),
                )
            }
        };
        Node::new(kind, origin)
    }

    /// The entries directly below `l`, an `include` among them replaced by the top-level
    /// entries of its define (when the chart has it, to [`MAX_DEPTH`]).
    fn children(&self, l: &Lines<'a>) -> Kids<'a> {
        let mut kids = Kids::default();
        let mut budget = MAX_SPLICED;
        if let Some(lead) = l.lead
            && let What::Key {
                include: Some(inc), ..
            } = &l.t.entries[lead].what
            && l.depth < MAX_DEPTH
            && let Some(define) = self.defines.get(&inc.name)
        {
            kids.includes.push(l.t.origin_at(lead));
            let ctx = Rc::new(ctx_of(&inc.arg, &l.ctx));
            let via = kids.includes.len() - 1;
            self.splice(define, ctx, l.depth + 1, false, via, &mut kids, &mut budget);
        }
        for c in l.t.children(&l.range) {
            if let What::Insert {
                include: Some(inc), ..
            } = &l.t.entries[c].what
                && l.depth < MAX_DEPTH
                && let Some(define) = self.defines.get(&inc.name)
            {
                kids.includes.push(l.t.origin_at(c));
                let ctx = Rc::new(ctx_of(&inc.arg, &l.ctx));
                let via = kids.includes.len() - 1;
                let ranged = l.t.ranged(c);
                self.splice(
                    define,
                    ctx,
                    l.depth + 1,
                    ranged,
                    via,
                    &mut kids,
                    &mut budget,
                );
                continue;
            }
            kids.list.push(Child {
                t: l.t,
                i: c,
                within: l.range.clone(),
                ctx: l.ctx.clone(),
                depth: l.depth,
                ranged: l.t.ranged(c),
                via: None,
            });
        }
        kids
    }

    /// Adds the top-level entries of `define` (included with `ctx`, `depth` includes deep)
    /// to `kids`, following the includes among them.
    #[allow(clippy::too_many_arguments)]
    fn splice(
        &self,
        (t, define): (&'a Template, &'a Define),
        ctx: Rc<Ctx>,
        depth: usize,
        ranged: bool,
        via: usize,
        kids: &mut Kids<'a>,
        budget: &mut usize,
    ) {
        for &c in &define.top {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let ranged = ranged || t.ranged(c);
            if let What::Insert {
                include: Some(inc), ..
            } = &t.entries[c].what
                && depth < MAX_DEPTH
                && let Some(inner) = self.defines.get(&inc.name)
            {
                let inner_ctx = Rc::new(ctx_of(&inc.arg, &ctx));
                self.splice(inner, inner_ctx, depth + 1, ranged, via, kids, budget);
                continue;
            }
            kids.list.push(Child {
                t,
                i: c,
                within: define.body.clone(),
                ctx: ctx.clone(),
                depth,
                ranged,
                via: Some(via),
            });
        }
    }

    /// Where the child `seg` of a node found `at` (whose children are `kids`) is, and its
    /// origin (the parent's when it cannot be found).
    fn child(
        &self,
        at: &At<'a>,
        kids: Option<&Kids<'a>>,
        parent: Origin,
        seg: &PathSeg,
    ) -> (At<'a>, Origin) {
        match at {
            At::Nowhere => (At::Nowhere, parent),
            At::Values(path) => {
                let mut path = path.clone();
                path.push(match seg {
                    PathSeg::Key(k) => Seg::Key(k.clone()),
                    PathSeg::Index(i, _) => Seg::Key(i.to_string()),
                });
                match lookup_values(self.values, &path, None) {
                    Some(o) => (At::Values(path), o),
                    None => (At::Nowhere, parent),
                }
            }
            At::Lines(l) => {
                let Some(kids) = kids else {
                    return (At::Nowhere, parent);
                };
                let index = l.index;
                match seg {
                    PathSeg::Key(k) => {
                        if let Some(c) = kids.list.iter().find(|c| c.is_key(k)) {
                            let origin = c.origin();
                            if let What::Key {
                                writes: Some(path), ..
                            } = &c.entry().what
                                && let Some(path) = bind(path, &c.ctx)
                                && let Some(from) = lookup_values(self.values, &path, index)
                            {
                                // `key: {{ .Values.x }}`: set where `x` is.
                                return (At::Values(concrete(&path, index)), from);
                            }
                            return (At::Lines(c.lines(index)), origin);
                        }
                        self.through_insert(l, kids, seg, parent)
                    }
                    PathSeg::Index(i, len) => {
                        let items: Vec<&Child<'a>> = kids
                            .list
                            .iter()
                            .filter(|c| matches!(c.entry().what, What::Item { .. }))
                            .collect();
                        let by_range: Vec<usize> =
                            (0..items.len()).filter(|&k| items[k].ranged).collect();
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
                            Some((c, nth)) => {
                                // The item a `range` writes: its values are the `nth`.
                                let index = if c.ranged { Some(nth) } else { index };
                                (At::Lines(c.lines(index)), c.origin())
                            }
                            None => self.through_insert(l, kids, seg, parent),
                        }
                    }
                }
            }
        }
    }

    /// The child `seg` through an insertion among `kids`: a `toYaml` of values that have
    /// it, or the one line that can have written it (an insertion, or an include followed
    /// into a define that has no literal line for it).
    fn through_insert(
        &self,
        l: &Lines<'a>,
        kids: &Kids<'a>,
        seg: &PathSeg,
        parent: Origin,
    ) -> (At<'a>, Origin) {
        let inserts: Vec<&Child<'a>> = kids
            .list
            .iter()
            .filter(|c| matches!(c.entry().what, What::Insert { .. }))
            .collect();
        let written = inserts.iter().filter_map(|c| match &c.entry().what {
            What::Insert {
                values: Some(from), ..
            } => bind(from, &c.ctx),
            _ => None,
        });
        for from in l.inline.iter().cloned().chain(written) {
            let mut path = concrete(&from, l.index);
            path.push(match seg {
                PathSeg::Key(k) => Seg::Key(k.clone()),
                PathSeg::Index(i, _) => Seg::Key(i.to_string()),
            });
            if let Some(o) = lookup_values(self.values, &path, None) {
                return (At::Values(path), o);
            }
        }
        // What can have written it: each insertion of the node's own lines, and each
        // include followed (the one insertion inside its define, else its own line).
        let mut writers: Vec<Origin> = inserts
            .iter()
            .filter(|c| c.via.is_none())
            .map(|c| c.origin())
            .collect();
        for (v, include) in kids.includes.iter().enumerate() {
            let inside: Vec<&&Child<'a>> = inserts.iter().filter(|c| c.via == Some(v)).collect();
            writers.push(match inside.as_slice() {
                [only] => only.origin(),
                _ => *include,
            });
        }
        match writers.as_slice() {
            [only] => (At::Nowhere, *only),
            _ => (At::Nowhere, parent),
        }
    }
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
fn yaml_arg(inner: &str, dot: Option<&[Seg]>, in_define: bool) -> Option<Vec<Seg>> {
    let after = &inner[inner.find("toYaml")? + "toYaml".len()..];
    resolve(after, dot, true, in_define)
}

/// The values path of the first path-like word of `expr`: `.Values.a.b`, `$.Values.a`,
/// `.x` (below `dot`), `.` (`dot`). `whole`: the expression is the argument itself (the
/// first word), not a pipeline to search. `in_define`: read inside a define, where `$` is
/// its argument ([`Seg::Arg`]) and `.Values` is below `.`.
fn resolve(expr: &str, dot: Option<&[Seg]>, whole: bool, in_define: bool) -> Option<Vec<Seg>> {
    let words = expr
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '|')
        .filter(|w| !w.is_empty());
    for (n, w) in words.enumerate() {
        if whole && n > 0 {
            return None;
        }
        let w = w.trim_end_matches('}').trim_end_matches('-');
        if in_define {
            // `$` is the define's argument; `.Values.x` is below `.`, as any `.x`.
            if w == "$" {
                return Some(vec![Seg::Arg]);
            }
            if let Some(rest) = w.strip_prefix("$.")
                && rest.chars().next().is_some_and(char::is_alphabetic)
            {
                let mut p = vec![Seg::Arg];
                p.extend(keys(rest));
                return Some(p);
            }
            if let Some(rest) = w.strip_prefix(".Values")
                && (rest.is_empty() || rest.starts_with('.'))
            {
                let mut p = dot?.to_vec();
                p.push(Seg::Key("Values".into()));
                p.extend(keys(rest));
                return Some(p);
            }
        }
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

/// The `include "name" ARG` (or `template "name" ARG`) an action `inner` is, when its name
/// is written literally; `ARG` read where `.` is `dot`.
fn include_of(inner: &str, dot: Option<&[Seg]>, in_define: bool) -> Option<Include> {
    let w = words(inner);
    if !matches!(w.first(), Some(&("include" | "template"))) {
        return None;
    }
    let name = unquote(w.get(1)?)?.to_owned();
    let rest = w.get(2..).unwrap_or_default();
    // The argument ends at the first `|` outside parentheses.
    let mut depth = 0usize;
    let end = rest
        .iter()
        .position(|t| {
            match *t {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                "|" if depth == 0 => return true,
                _ => {}
            }
            false
        })
        .unwrap_or(rest.len());
    Some(Include {
        name,
        arg: arg_of(&rest[..end], dot, in_define, 0),
    })
}

/// An include's argument, from its words.
fn arg_of(toks: &[&str], dot: Option<&[Seg]>, in_define: bool, depth: usize) -> Arg {
    if depth > MAX_ARG_DEPTH {
        return Arg::Unknown;
    }
    match toks {
        [w] => single_arg(w, dot, in_define),
        ["(", inner @ .., ")"] if closes(toks) == Some(toks.len() - 1) => {
            arg_of(inner, dot, in_define, depth + 1)
        }
        ["dict", pairs @ ..] => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < pairs.len() {
                let Some(key) = unquote(pairs[i]) else {
                    return Arg::Unknown;
                };
                let value = match pairs.get(i + 1) {
                    Some(&"(") => {
                        let Some(end) = closes(&pairs[i + 1..]) else {
                            return Arg::Unknown;
                        };
                        let group = &pairs[i + 1..i + 2 + end];
                        i += 2 + end;
                        arg_of(group, dot, in_define, depth + 1)
                    }
                    Some(w) => {
                        i += 2;
                        single_arg(w, dot, in_define)
                    }
                    None => return Arg::Unknown,
                };
                out.push((key.to_owned(), value));
            }
            Arg::Dict(out)
        }
        _ => Arg::Unknown,
    }
}

/// An include's argument of one word.
fn single_arg(w: &str, dot: Option<&[Seg]>, in_define: bool) -> Arg {
    match w {
        "." => dot.map_or(Arg::Root, |d| Arg::Path(d.to_vec())),
        "$" if !in_define => Arg::Root,
        _ => resolve(w, dot, true, in_define).map_or(Arg::Unknown, Arg::Path),
    }
}

/// The index of the `)` closing the `(` that `toks` starts with.
fn closes(toks: &[&str]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match *t {
            "(" => depth += 1,
            ")" => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The words of an action: quoted strings (quotes kept), `(`, `)`, `|`, and the rest
/// split at white space.
fn words(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let end = match c {
            '(' | ')' | '|' => i + 1,
            '"' | '`' => {
                let mut end = s.len();
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if c == '"' && d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == c && !escaped {
                        end = j + 1;
                        break;
                    }
                    escaped = false;
                }
                end
            }
            _ => {
                let mut end = s.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '(' | ')' | '|' | '"' | '`') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                end
            }
        };
        out.push(&s[i..end]);
    }
    out
}

/// The text of a quoted string word (`"x"`, `` `x` ``), without escapes.
fn unquote(w: &str) -> Option<&str> {
    let q = w.chars().next().filter(|c| *c == '"' || *c == '`')?;
    let inner = w.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains('\\')).then_some(inner)
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
        at_with(template, &[], values, rendered, pointer)
    }

    /// [`at`], with the defines of `helpers` (files 2, 3, ..., added in that order).
    fn at_with(
        template: &str,
        helpers: &[&str],
        values: &str,
        rendered: &str,
        pointer: &str,
    ) -> (u32, String) {
        let t = Template::read(template, 0);
        let mut defines = Defines::default();
        defines.add(Arc::new(Template::read(template, 0)));
        for (n, h) in helpers.iter().enumerate() {
            defines.add(Arc::new(Template::read(h, n as u32 + 2)));
        }
        let (docs, _) = crate::parse::yaml::parse(values, &Limits::default());
        let node = Node::from_document(&docs[0], "", values, 1).unwrap();
        let sources = [Values {
            node,
            chart: Vec::new(),
        }];
        let (r, _) = crate::parse::yaml::parse(rendered, &Limits::default());
        let kind = r[0].value["kind"].as_str().unwrap_or("");
        let tree = t.locate(&r[0].value, t.doc_for(kind, 0), &sources, &defines);
        let o = tree.pointer(pointer).unwrap().origin;
        let text = match o.file {
            0 => template,
            1 => values,
            n => helpers[n as usize - 2],
        };
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

    /// A chart's `_helpers.tpl`, in the shape `helm create` writes it.
    const HELPERS: &str = "\
{{/* The chart's name. */}}
{{- define \"app.name\" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 }}
{{- end }}

{{/* Common labels. */}}
{{- define \"app.labels\" -}}
helm.sh/chart: {{ include \"app.name\" . }}
{{ include \"app.selectorLabels\" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
cost-center: 4711
{{- end }}

{{/* Selector labels. */}}
{{- define \"app.selectorLabels\" -}}
app.kubernetes.io/name: {{ include \"app.name\" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The main container. */}}
{{- define \"app.container\" -}}
- name: {{ .Chart.Name }}
  image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  ports:
    - containerPort: 8080
      hostPort: 80
{{- end }}
";

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include \"app.labels\" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include \"app.selectorLabels\" . | nindent 6 }}
  template:
    spec:
      containers:
        {{- include \"app.container\" . | nindent 8 }}
";

    const DEPLOYMENT_VALUES: &str = "\
image:
  repository: nginx
  tag: \"1.27\"
securityContext:
  privileged: true
";

    const DEPLOYMENT_RENDERED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: r
  labels:
    helm.sh/chart: app
    app.kubernetes.io/name: app
    app.kubernetes.io/instance: r
    app.kubernetes.io/managed-by: Helm
    cost-center: 4711
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: app
      app.kubernetes.io/instance: r
  template:
    spec:
      containers:
        - name: app
          image: \"nginx:1.27\"
          securityContext:
            privileged: true
          ports:
            - containerPort: 8080
              hostPort: 80
";

    fn in_helpers(pointer: &str) -> (u32, String) {
        at_with(
            DEPLOYMENT,
            &[HELPERS],
            DEPLOYMENT_VALUES,
            DEPLOYMENT_RENDERED,
            pointer,
        )
    }

    #[test]
    fn labels_from_a_helper_are_found_at_the_defines_line() {
        assert_eq!(
            in_helpers("/metadata/labels/cost-center"),
            (2011, "4711".into())
        );
        assert_eq!(
            in_helpers("/metadata/labels/helm.sh~1chart"),
            (2008, "{{ include \"app.name\" . }}".into())
        );
        // Through `app.labels` into the `app.selectorLabels` it includes.
        assert_eq!(
            in_helpers("/metadata/labels/app.kubernetes.io~1instance"),
            (2017, "{{ .Release.Name }}".into())
        );
        assert_eq!(
            in_helpers("/spec/selector/matchLabels/app.kubernetes.io~1name"),
            (2016, "{{ include \"app.name\" . }}".into())
        );
        // Without the define, the include line.
        assert_eq!(
            at(
                DEPLOYMENT,
                DEPLOYMENT_VALUES,
                DEPLOYMENT_RENDERED,
                "/metadata/labels/cost-center"
            ),
            (6, "{{- include \"app.labels\" . | nindent 4 }}".into())
        );
    }

    #[test]
    fn a_container_from_a_define_is_found_in_it_and_its_values_in_the_values() {
        assert_eq!(
            in_helpers("/spec/template/spec/containers/0/ports/0/hostPort"),
            (2028, "80".into())
        );
        assert_eq!(
            in_helpers("/spec/template/spec/containers/0/name"),
            (2022, "{{ .Chart.Name }}".into())
        );
        // `toYaml .Values.securityContext` inside the define, included with the root
        // context: the values line.
        assert_eq!(
            in_helpers("/spec/template/spec/containers/0/securityContext/privileged"),
            (1005, "true".into())
        );
        // `key: "{{ .Values.x }}:{{ .Values.y }}"` in the define: where `x` is set, as in a
        // template.
        assert_eq!(
            in_helpers("/spec/template/spec/containers/0/image"),
            (1002, "nginx".into())
        );
    }

    #[test]
    fn the_define_argument_decides_whether_values_are_traced() {
        let helpers = "\
{{- define \"c\" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
runAsUser: {{ .Values.user }}
{{- end }}
{{- define \"d\" -}}
securityContext:
  {{- toYaml .ctx.Values.securityContext | nindent 2 }}
runAsUser: {{ .user }}
{{- end }}
";
        let values = "securityContext:\n  privileged: true\nuser: 0\nmain:\n  user: 0\n";
        let rendered = "kind: X\nspec:\n  securityContext:\n    privileged: true\n  runAsUser: 0\n";
        let call = |def: &str, arg: &str| {
            format!("kind: X\nspec:\n  {{{{- include \"{def}\" {arg} | nindent 2 }}}}\n")
        };
        // The root context, `.` or `$`.
        for arg in [".", "$", "(.)"] {
            let t = call("c", arg);
            assert_eq!(
                at_with(
                    &t,
                    &[helpers],
                    values,
                    rendered,
                    "/spec/securityContext/privileged"
                ),
                (1002, "true".into()),
                "{arg}"
            );
            assert_eq!(
                at_with(&t, &[helpers], values, rendered, "/spec/runAsUser"),
                (1003, "0".into()),
                "{arg}"
            );
        }
        // A dict: its entries.
        let t = call("d", "(dict \"ctx\" $ \"user\" .Values.main.user)");
        assert_eq!(
            at_with(
                &t,
                &[helpers],
                values,
                rendered,
                "/spec/securityContext/privileged"
            ),
            (1002, "true".into())
        );
        assert_eq!(
            at_with(&t, &[helpers], values, rendered, "/spec/runAsUser"),
            (1005, "0".into())
        );
        // A dot that is not the root context: `.Values` in the define is not the chart's
        // values; only the define's lines are found.
        let t = "kind: X\nspec:\n  {{- with .Values.main }}\n  {{- include \"c\" . | nindent 2 }}\n  {{- end }}\n";
        assert_eq!(
            at_with(
                t,
                &[helpers],
                values,
                rendered,
                "/spec/securityContext/privileged"
            ),
            (
                2003,
                "{{- toYaml .Values.securityContext | nindent 2 }}".into()
            )
        );
        assert_eq!(
            at_with(t, &[helpers], values, rendered, "/spec/runAsUser"),
            (2004, "{{ .Values.user }}".into())
        );
    }

    #[test]
    fn a_define_of_another_file_writes_a_whole_object() {
        // A library chart's define, the whole Deployment, included alone.
        let library = "\
{{- define \"common.deployment\" -}}
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      hostPID: true
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
";
        let t = "{{ include \"common.deployment\" . }}\n";
        let values = "securityContext:\n  runAsUser: 0\n";
        let rendered = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      hostPID: true\n      securityContext:\n        runAsUser: 0\n";
        assert_eq!(
            at_with(
                t,
                &[library],
                values,
                rendered,
                "/spec/template/spec/hostPID"
            ),
            (2007, "true".into())
        );
        assert_eq!(
            at_with(
                t,
                &[library],
                values,
                rendered,
                "/spec/template/spec/securityContext/runAsUser"
            ),
            (1002, "0".into())
        );
        assert_eq!(
            at_with(t, &[library], values, rendered, "/kind"),
            (2003, "Deployment".into())
        );
        assert_eq!(at_with(t, &[library], values, rendered, "").0, 2002);
        // The same name defined again later (added later: parsed later by helm) wins.
        let other = "{{- define \"common.deployment\" -}}\nkind: Deployment\nspec:\n  template:\n    spec:\n      hostPID: true\n{{- end }}\n";
        assert_eq!(
            at_with(
                t,
                &[library, other],
                values,
                rendered,
                "/spec/template/spec/hostPID"
            ),
            (3006, "true".into())
        );
    }

    #[test]
    fn an_include_that_cannot_be_followed_stays_on_its_line() {
        let rendered = "kind: X\nmetadata:\n  labels:\n    a: b\n";
        let helpers = "{{- define \"l\" -}}\na: b\n{{- end }}\n";
        // An unknown define, a computed name.
        for call in [
            "{{- include \"unknown\" . | nindent 4 }}",
            "{{- include (printf \"%s\" \"l\") . | nindent 4 }}",
        ] {
            let t = format!("kind: X\nmetadata:\n  labels:\n    {call}\n");
            assert_eq!(
                at_with(&t, &[helpers], "{}\n", rendered, "/metadata/labels/a"),
                (4, call.into())
            );
        }
        // Found, on the key's own line, and with `template`.
        for call in [
            "labels: {{- include \"l\" . | nindent 4 }}",
            "labels:\n    {{- template \"l\" . }}",
        ] {
            let t = format!("kind: X\nmetadata:\n  {call}\n");
            assert_eq!(
                at_with(&t, &[helpers], "{}\n", rendered, "/metadata/labels/a"),
                (2002, "b".into()),
                "{call}"
            );
        }
        // A key the define has no line for: the include line.
        let rendered = "kind: X\nmetadata:\n  labels:\n    a: b\n    c: d\n";
        let t = "kind: X\nmetadata:\n  labels:\n    {{- include \"l\" . | nindent 4 }}\n";
        assert_eq!(
            at_with(t, &[helpers], "{}\n", rendered, "/metadata/labels/c"),
            (4, "{{- include \"l\" . | nindent 4 }}".into())
        );
    }

    #[test]
    fn a_define_that_includes_itself_stops() {
        let helpers = "{{- define \"loop\" -}}\na: 1\n{{ include \"loop\" . }}\n{{- end }}\n{{- define \"x\" -}}\n{{ include \"y\" . }}\n{{- end }}\n{{- define \"y\" -}}\n{{ include \"x\" . }}\nb: 2\n{{- end }}\n";
        let rendered = "kind: X\nm:\n  a: 1\n  b: 2\n  c: 3\n";
        for name in ["loop", "x", "y"] {
            let t = format!("kind: X\nm:\n  {{{{- include \"{name}\" . | nindent 2 }}}}\n");
            for p in ["/m/a", "/m/b", "/m/c"] {
                let _ = at_with(&t, &[helpers], "{}\n", rendered, p);
            }
        }
        assert_eq!(
            at_with(
                "kind: X\nm:\n  {{- include \"loop\" . | nindent 2 }}\n",
                &[helpers],
                "{}\n",
                rendered,
                "/m/a"
            ),
            (2002, "1".into())
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
            "{{ define \"a\" }}\na:\n  {{ include \"a\" . | nindent 2 }}\n{{ end }}\n{{ include \"a\" . }}",
            "a:\n  {{- include \"a\" (dict \"x\" (dict \"y\" (dict \"z\" (dict \"w\" (dict \"v\" (dict)))))) | nindent 2 }}",
            "{{ include \"",
            "{{ include \"\\\" . }}",
            "{{ include `a` ( }}\n{{ include `a` ) ) }}\n{{ include \"a\" (dict \"k\") }}",
            "{{ define }}\n{{ define \"b\" }}{{ define \"c\" }}\nb: 1\n{{ end }}\na: {{ template \"b\" $ }}",
            "{{ define \"a\" }}\n- {{ include \"a\" . }}\n  b: {{ $.Values.x }}\n{{ include \"a\" $ | nindent 2 }}\n",
            "{{- range .Values.a }}\n{{ include \"a\" . | indent 2 }}\n{{- end }}\n{{ define \"a\" }}- b:\n    c: {{ .c }}{{ end }}",
        ];
        let value: Value = serde_json::json!({"kind": "X", "a": [{"b": {"c": [1, {"d": null}]}}]});
        for t in odd {
            let template = Arc::new(Template::read(t, 0));
            let mut defines = Defines::default();
            defines.add(template.clone());
            let node = template.locate(&value, template.doc_for("X", 3), &[], &defines);
            assert!(node.pointer("/a/0/b/c/1/d").is_some(), "{t:?}");
        }
    }

    #[test]
    fn generated_defines_and_includes_do_not_panic() {
        // Lines of defines, includes and keys, combined by a fixed generator: each text is
        // read and located with its own defines (which include each other and themselves).
        let parts = [
            "{{- define \"a\" -}}\n",
            "{{- define \"b\" }}\n",
            "{{ define `c` }}",
            "{{- end }}\n",
            "a:\n",
            "  b:\n",
            "- c: {{ .Values.c }}\n",
            "  - d: {{ toYaml .d | nindent 4 }}\n",
            "{{ include \"a\" . | nindent 2 }}\n",
            "  {{- include \"b\" $ | indent 4 }}\n",
            "{{ template \"c\" (dict \"x\" $ \"y\" (dict \"z\" .)) }}\n",
            "b: {{- include \"a\" .Values.a | nindent 2 }}\n",
            "{{- with .Values.a }}\n",
            "{{- range $k, $v := .Values.b }}\n",
            "{{ include \"a\" (( }}\n",
            "{{ include \"ü\" . | nindent 99999999999999999999 }}\n",
            "---\n",
            "kind: X\n",
        ];
        let value: Value =
            serde_json::json!({"kind": "X", "a": [{"b": {"c": [1, {"d": null}]}}], "b": {"c": 1}});
        let (docs, _) = crate::parse::yaml::parse("a:\n  b: 1\nc: [1]\n", &Limits::default());
        let values = [Values {
            node: Node::from_document(&docs[0], "", "a:\n  b: 1\nc: [1]\n", 1).unwrap(),
            chart: Vec::new(),
        }];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut text = String::new();
            let len = 1 + (seed >> 60) as usize;
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(parts[(seed >> 33) as usize % parts.len()]);
            }
            let template = Arc::new(Template::read(&text, 0));
            let mut defines = Defines::default();
            defines.add(template.clone());
            defines.add(Arc::new(Template::read(&text, 2)));
            let node = template.locate(&value, template.doc_for("X", 1), &values, &defines);
            assert!(node.pointer("/a/0/b/c/1/d").is_some(), "{text:?}");
        }
    }
}
