//! CRD `x-kubernetes-validations` (CEL rules), evaluated as the API server evaluates them
//! (`RENDER-CRD-FACTS` C.5), on the cel-rust interpreter with the Kubernetes libraries of
//! `kube-cel`.
//!
//! [`super::structural`] compiles each rule with its schema node ([`Rule::compile`]) and,
//! after its structural walk, evaluates the rules of every node whose subtree had no error
//! ([`Run::node`]), `self` being the node's value converted following the schema
//! ([`to_cel`]). What the interpreter cannot decide is never an error of the object:
//! - a rule using syntax the parser lacks, a function the interpreter does not have, a
//!   runtime error (the interpreter's error handling differs from cel-go's: `exists` stops
//!   at the first error, for one), or a result that is not a boolean: `cel-unsupported`,
//!   once per rule and object;
//! - the interpreter tracks no cost: a rule whose estimated cost (AST nodes × the largest
//!   list or map under `self` ^ comprehension depth × a tenth of the longest string)
//!   exceeds the API server's
//!   per-call limit is not evaluated (`cel-unsupported`), nor are the rules after the
//!   per-object budget is spent;
//! - a panic in the interpreter is caught and said as `cel-unsupported`.
//!
//! Transition rules (those reading `oldSelf`) run where the node has a correlated old value
//! (an update, [`super::structural::Node::validate_update`]); elsewhere they are skipped,
//! unless `optionalOldSelf` is set, when they run as on a create (`oldSelf` is
//! `optional.none()`; with an old value, `optional.of(old)`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use kube_cel::KubeCelExt;
pub use kube_cel::cel::Value as Cel;
use kube_cel::cel::{self, ExecutionError, Program};
use serde_json::Value;

use super::SchemaError;

/// The API server's runtime cost limit for one evaluation of one rule (`PerCallLimit`).
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// The API server's runtime cost budget for all the rules of one object
/// (`RuntimeCELCostBudget`).
pub const PER_OBJECT_BUDGET: u64 = 10_000_000;

/// Rules longer than this, or nested deeper, are not parsed (the parser recurses).
const MAX_RULE_LEN: usize = 32 * 1024;
const MAX_NESTING: usize = 64;

/// One `x-kubernetes-validations` entry.
#[derive(Debug)]
pub struct Rule {
    /// The rule as written.
    pub source: String,
    compiled: Compiled,
    message: Option<String>,
    message_expression: Option<Arc<Expr>>,
    /// `fieldPath`, as JSON field names from the node.
    field_path: Vec<String>,
    /// `reason`: kept for the report; the API server's error type.
    pub reason: Option<String>,
    optional_old_self: bool,
}

#[derive(Debug)]
enum Compiled {
    Ready(Arc<Expr>),
    /// Valid CEL, presumably, that the interpreter cannot run: why.
    Unsupported(String),
}

/// A parsed expression and what the cost estimate needs of it.
#[derive(Debug)]
struct Expr {
    program: Program,
    /// AST nodes.
    nodes: u64,
    /// How deep comprehensions (macros `all`, `exists`, `map`, `filter`…) nest.
    depth: u32,
    /// Whether it reads `oldSelf`.
    transition: bool,
}

impl Rule {
    /// Compiles one `x-kubernetes-validations` entry. `Err` is a problem of the CRD (the
    /// API server would refuse it): no `rule`, a rule that does not parse, a bad
    /// `fieldPath`.
    pub fn compile(entry: &Value) -> Result<Rule, String> {
        let Some(m) = entry.as_object() else {
            return Err("an `x-kubernetes-validations` entry must be a mapping".into());
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let Some(source) = text("rule").filter(|r| !r.trim().is_empty()) else {
            return Err("an `x-kubernetes-validations` entry needs a `rule`".into());
        };
        let compiled = match parse(&source) {
            Parsed::Ok(e) => Compiled::Ready(e),
            Parsed::Unsupported(why) => Compiled::Unsupported(why),
            Parsed::Invalid(why) => return Err(format!("rule `{source}` does not compile: {why}")),
        };
        let message_expression = match text("messageExpression") {
            None => None,
            Some(me) => match parse(&me) {
                Parsed::Ok(e) => Some(e),
                // The rule's `message` (or the default) is said instead.
                Parsed::Unsupported(_) => None,
                Parsed::Invalid(why) => {
                    return Err(format!("messageExpression `{me}` does not compile: {why}"));
                }
            },
        };
        let field_path = match text("fieldPath") {
            None => Vec::new(),
            Some(p) => field_path(&p).ok_or_else(|| {
                format!("fieldPath `{p}` is not a path such as `.a.b` or `['a']`")
            })?,
        };
        Ok(Rule {
            source,
            compiled,
            message: text("message").filter(|s| !s.is_empty()),
            message_expression,
            field_path,
            reason: text("reason"),
            optional_old_self: m
                .get("optionalOldSelf")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Whether the rule reads `oldSelf`.
    pub fn is_transition(&self) -> bool {
        matches!(&self.compiled, Compiled::Ready(e) if e.transition)
    }

    /// Why the interpreter cannot run the rule at all, if it cannot.
    pub fn unsupported(&self) -> Option<&str> {
        match &self.compiled {
            Compiled::Unsupported(why) => Some(why),
            Compiled::Ready(_) => None,
        }
    }
}

#[derive(Clone)]
enum Parsed {
    Ok(Arc<Expr>),
    Unsupported(String),
    Invalid(String),
}

/// `source` parsed, once per process: CRDs repeat their rules (on `../shared/corpus`,
/// 1,045 rules, 135 distinct), and parsing is most of what compiling a schema costs.
fn parse(source: &str) -> Parsed {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, PoisonError};
    static PARSED: LazyLock<Mutex<HashMap<String, Parsed>>> = LazyLock::new(Mutex::default);
    let cached = PARSED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(source)
        .cloned();
    if let Some(p) = cached {
        return p;
    }
    // Parsed outside the lock: other threads go on with other rules meanwhile.
    let parsed = parse_uncached(source);
    PARSED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(source.to_owned())
        .or_insert(parsed)
        .clone()
}

fn parse_uncached(source: &str) -> Parsed {
    if source.len() > MAX_RULE_LEN {
        return Parsed::Unsupported(format!("longer than {MAX_RULE_LEN} bytes"));
    }
    let mut nesting: usize = 0;
    let mut deepest = 0;
    for b in source.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                nesting += 1;
                deepest = deepest.max(nesting);
            }
            b')' | b']' | b'}' => nesting = nesting.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Parsed::Unsupported(format!("nested deeper than {MAX_NESTING} levels"));
    }
    // Optional field selection (`a.?b.orValue(d)`), which the parser lacks, in the shapes
    // policies use, said without it.
    let rewritten = (source.contains(".?") || source.contains("[?"))
        .then(|| without_optional_selection(source))
        .flatten();
    let source = rewritten.as_deref().unwrap_or(source);
    let program = match catch_unwind(|| Program::compile(source)) {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let why = e.to_string();
            let why = why.lines().next().unwrap_or_default().to_owned();
            // Deep expressions: cel-go allows more than the 96 levels of this parser; and
            // syntax it does not have yet (optional field selection, `a.?b`).
            return if why.contains("recursion") || why.contains("unsupported syntax") {
                Parsed::Unsupported(format!("the parser refused it ({why})"))
            } else {
                Parsed::Invalid(why)
            };
        }
        Err(_) => return Parsed::Unsupported("the parser panicked on it".into()),
    };
    let mut shape = Shape::default();
    shape.visit(program.expression(), 0);
    if let Some(why) = shape.unsupported {
        return Parsed::Unsupported(why.into());
    }
    Parsed::Ok(Arc::new(Expr {
        program,
        nodes: shape.nodes,
        depth: shape.depth,
        transition: shape.old_self,
    }))
}

/// `source` with each optional selection chain rewritten without `.?` and `[?`, when every
/// one has a shape that says the same thing with `has()` and `in`:
/// - `R.?a.?b.orValue(D)` → `((has(R.a) && has(R.a.b)) ? R.a.b : (D))`;
/// - `R.?a.?b.hasValue()` → `(has(R.a) && has(R.a.b))`;
/// - `R.?a[?K].orValue(D)` → `((has(R.a) && (K) in R.a) ? R.a[K] : (D))`;
/// - `R.?a.b.orValue(D)` → `((has(R.a) && has(R.a.b)) ? R.a.b : (D))` (a select after an
///   optional one is optional too, as in cel-go);
///
/// where `R` is a select chain (`object.spec`, `c`, `x[0].y`). `None` for any other use
/// (`.?[k]`, `.value()`, a method call in the chain): left to the parser, which refuses it,
/// and the expression is not evaluated.
fn without_optional_selection(source: &str) -> Option<String> {
    let mut text = source.to_owned();
    // Each round rewrites one chain; a chain has at least one `.?`.
    for _ in 0..64 {
        let at = match (
            find_outside_strings(&text, ".?"),
            find_outside_strings(&text, "[?"),
        ) {
            (None, None) => return Some(text),
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
        };
        let bytes = text.as_bytes();
        // The receiver: a select chain ending at `at`, read backwards.
        let mut start = at;
        let mut depth = 0usize;
        while start > 0 {
            let c = bytes[start - 1];
            match c {
                b')' | b']' => depth += 1,
                b'(' | b'[' if depth > 0 => depth -= 1,
                _ if depth > 0 => {}
                c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => {}
                _ => break,
            }
            start -= 1;
        }
        let receiver = text[start..at].trim();
        if receiver.is_empty()
            || depth != 0
            || !receiver.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        {
            return None;
        }
        // The optional fields and keys, then how the chain ends.
        let mut path = receiver.to_owned();
        let mut tests = Vec::new();
        let mut rest = &text[at..];
        loop {
            if let Some(r) = rest.strip_prefix(".?") {
                let n = r
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                if n == 0 {
                    return None;
                }
                path.push('.');
                path.push_str(&r[..n]);
                tests.push(format!("has({path})"));
                rest = &r[n..];
            } else if let Some(r) = rest
                .strip_prefix('.')
                .filter(|r| !r.starts_with("orValue(") && !r.starts_with("hasValue("))
            {
                // A plain select after an optional one is optional too (cel-go's
                // optional chaining).
                let n = r
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                if n == 0 || r[n..].starts_with('(') {
                    return None;
                }
                path.push('.');
                path.push_str(&r[..n]);
                tests.push(format!("has({path})"));
                rest = &r[n..];
            } else if let Some(r) = rest.strip_prefix("[?") {
                let end = closing(r, ']')?;
                let key = r[..end].trim();
                if key.is_empty() {
                    return None;
                }
                tests.push(format!("({key}) in {path}"));
                path = format!("{path}[{key}]");
                rest = &r[end + 1..];
            } else {
                break;
            }
        }
        let present = format!("({})", tests.join(" && "));
        let (replacement, after) = if let Some(r) = rest.strip_prefix(".orValue(") {
            let end = closing(r, ')')?;
            let default = &r[..end];
            (format!("({present} ? {path} : ({default}))"), &r[end + 1..])
        } else if let Some(r) = rest.strip_prefix(".hasValue()") {
            (present, r)
        } else {
            return None;
        };
        text = format!("{}{replacement}{after}", &text[..start]);
    }
    None
}

/// Where the bracket `close` that closes an opening just before `text` is, outside
/// strings and nested brackets.
fn closing(text: &str, close: char) -> Option<usize> {
    let mut depth = 1usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return (c == close).then_some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The first `pat` outside string literals.
fn find_outside_strings(text: &str, pat: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            None if text[i..].starts_with(pat) => return Some(i),
            None => {}
        }
    }
    None
}

/// What an AST holds.
#[derive(Default)]
struct Shape {
    nodes: u64,
    depth: u32,
    old_self: bool,
    unsupported: Option<&'static str>,
}

impl Shape {
    fn visit(&mut self, e: &cel::IdedExpr, depth: u32) {
        use cel::common::ast::{EntryExpr, Expr as E};
        self.nodes += 1;
        self.depth = self.depth.max(depth);
        match &e.expr {
            E::Call(c) => {
                // `all(k, v, …)` and the like: cel-go's two-variable comprehensions, which
                // this parser reads as calls of a function it does not have.
                if c.target.is_some()
                    && c.args.len() == 3
                    && matches!(
                        c.func_name.as_str(),
                        "all" | "exists" | "existsOne" | "exists_one" | "transformList"
                    )
                    || matches!(c.func_name.as_str(), "transformMap" | "transformMapEntry")
                {
                    self.unsupported = Some("two-variable comprehensions are not supported");
                }
                if let Some(t) = &c.target {
                    self.visit(t, depth);
                }
                c.args.iter().for_each(|a| self.visit(a, depth));
            }
            E::Comprehension(c) => {
                if c.iter_var2.is_some() {
                    // Parsed, but evaluated with the second variable unbound.
                    self.unsupported = Some("two-variable comprehensions are not supported");
                }
                self.visit(&c.iter_range, depth);
                self.visit(&c.accu_init, depth);
                self.visit(&c.loop_cond, depth + 1);
                self.visit(&c.loop_step, depth + 1);
                self.visit(&c.result, depth);
            }
            E::Ident(name) => self.old_self |= name == "oldSelf",
            E::List(l) => l.elements.iter().for_each(|x| self.visit(x, depth)),
            E::Map(m) => {
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(me) => {
                            self.visit(&me.key, depth);
                            self.visit(&me.value, depth);
                        }
                        EntryExpr::StructField(_) => {
                            self.unsupported = Some("message construction is not supported");
                        }
                    }
                }
            }
            E::Select(s) => self.visit(&s.operand, depth),
            // The interpreter panics on these.
            E::Struct(_) => self.unsupported = Some("message construction is not supported"),
            E::Unspecified => self.unsupported = Some("an unspecified expression"),
            E::Literal(_) => {}
        }
    }
}

/// `.a.b`, `['a.b']`, `.a['b']` as field names; `None` if it is not such a path.
fn field_path(p: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = p.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            out.push(r[..end].to_owned());
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push(r[..end].to_owned());
            rest = &r[end..];
        } else {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A property name as CEL sees it (`apiserver/pkg/cel/escaping.go`); `None` if it cannot
/// be a CEL identifier (the field is not visible to rules).
pub fn escape(name: &str) -> Option<String> {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// What the cost estimate needs of a converted value: its largest list or map (what a
/// comprehension iterates over) and its longest string (what a string function walks).
#[derive(Debug, Default, Clone, Copy)]
pub struct Size {
    pub largest: u64,
    pub longest: u64,
}

impl Size {
    /// A list or map of `n` entries.
    pub fn saw(&mut self, n: usize) {
        self.largest = self.largest.max(n as u64);
    }

    /// A string of `n` characters.
    pub fn saw_string(&mut self, n: usize) {
        self.longest = self.longest.max(n as u64);
    }
}

/// A JSON value with no schema (under `x-kubernetes-preserve-unknown-fields` without
/// properties) as a CEL value: names as they are.
pub fn untyped(v: &Value, size: &mut Size) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => number(n, false),
        Value::String(s) => {
            size.saw_string(s.chars().count());
            Cel::String(Arc::new(s.clone()))
        }
        Value::Array(items) => {
            size.saw(items.len());
            Cel::List(Arc::new(items.iter().map(|i| untyped(i, size)).collect()))
        }
        Value::Object(m) => {
            size.saw(m.len());
            map(m.iter().map(|(k, v)| (k.clone(), untyped(v, size))))
        }
    }
}

/// A number: `double` where the schema says `number`, else an `int` when it has no
/// fraction (Kubernetes decodes JSON integers as int64).
pub fn number(n: &serde_json::Number, double: bool) -> Cel {
    if !double {
        if let Some(i) = n.as_i64() {
            return Cel::Int(i);
        }
        if let Some(u) = n.as_u64() {
            return Cel::UInt(u);
        }
        if let Some(f) = n.as_f64()
            && f.fract() == 0.0
            && f.abs() < 9.0e18
        {
            return Cel::Int(f as i64);
        }
    }
    Cel::Float(n.as_f64().unwrap_or(0.0))
}

/// A CEL map of string keys.
pub fn map(entries: impl Iterator<Item = (String, Cel)>) -> Cel {
    let m: std::collections::HashMap<cel::objects::Key, Cel> = entries
        .map(|(k, v)| (cel::objects::Key::String(Arc::new(k)), v))
        .collect();
    Cel::Map(cel::objects::Map { map: Arc::new(m) })
}

/// A string of a `format` CEL types: `date-time` and `date` as timestamps, `duration` as
/// a duration, `byte` as bytes; `None` if it does not convert (kept a string).
pub fn formatted(s: &str, format: &str) -> Option<Cel> {
    match format {
        "date-time" => {
            let s = s.replacen(['t', ' '], "T", 1);
            chrono::DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(Cel::Timestamp)
        }
        "date" => chrono::DateTime::parse_from_rfc3339(&format!("{s}T00:00:00Z"))
            .ok()
            .map(Cel::Timestamp),
        "duration" => go_duration(s).map(Cel::Duration),
        "byte" => data_encoding::BASE64
            .decode(s.as_bytes())
            .ok()
            .map(|b| Cel::Bytes(Arc::new(b))),
        _ => None,
    }
}

/// Go's `time.ParseDuration`.
fn go_duration(s: &str) -> Option<chrono::Duration> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if s == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (unit, nanos) = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("μs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += value * nanos;
    }
    if total > 9.2e18 {
        return None;
    }
    let d = chrono::Duration::nanoseconds(total as i64);
    Some(if neg { -d } else { d })
}

thread_local! {
    /// The standard functions and the Kubernetes libraries, registered once per thread.
    static ROOT: cel::Context<'static> = {
        let mut root = cel::Context::default().with_all();
        // The standard `dyn()`: the value, its type left to run time.
        root.add_function("dyn", |v: Cel| -> cel::ResolveResult { Ok(v) });
        // The optional chains the interpreter reads are rewritten before it parses them
        // (`without_optional_selection`) and it has no optional values: an `orValue` left is
        // called on a value that is not optional. cel-go up to v0.27 (Kubernetes 1.35's)
        // gives that value back, without evaluating the default; so does this.
        root.add_function(
            "orValue",
            |cel::extractors::This(this): cel::extractors::This<Cel>| -> cel::ResolveResult {
                Ok(this)
            },
        );
        root
    };
}

/// The rules of one object being validated: the budget left and what was said.
#[derive(Debug)]
pub struct Run {
    budget: u64,
    exhausted: bool,
    /// Rules already said to be unsupported for this object (by address).
    said: Vec<usize>,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            budget: PER_OBJECT_BUDGET,
            exhausted: false,
            said: Vec::new(),
        }
    }
}

impl Run {
    /// Evaluates `rules` at the node `ptr`, whose value is `raw` (the JSON, for `fieldPath`)
    /// and `this` (as CEL), its correlated old value `old` on an update, the largest list,
    /// map or string of both being `size`.
    #[allow(clippy::too_many_arguments)]
    pub fn node(
        &mut self,
        rules: &[Rule],
        this: Cel,
        old: Option<Cel>,
        size: Size,
        raw: &Value,
        ptr: &str,
        out: &mut Vec<SchemaError>,
    ) {
        ROOT.with(|root| {
            let mut ctx = root.new_inner_scope();
            ctx.add_variable_from_value("self", this);
            let mut with_old = [None, None];
            for rule in rules {
                if self.exhausted {
                    return;
                }
                let expr = match &rule.compiled {
                    Compiled::Ready(e) => e,
                    Compiled::Unsupported(why) => {
                        self.unsupported(rule, ptr, why.clone(), out);
                        continue;
                    }
                };
                let ctx = if expr.transition {
                    if old.is_none() && !rule.optional_old_self {
                        // Needs the old value: not checked on a create.
                        continue;
                    }
                    // Rules with `optionalOldSelf` see an optional, the others the value.
                    let slot = usize::from(rule.optional_old_self);
                    with_old[slot].get_or_insert_with(|| {
                        let mut c = ctx.new_inner_scope();
                        let bound = match (&old, rule.optional_old_self) {
                            (Some(o), false) => o.clone(),
                            (Some(o), true) => {
                                Cel::Opaque(Arc::new(cel::objects::OptionalValue::of(o.clone())))
                            }
                            (None, _) => Cel::Opaque(Arc::new(cel::objects::OptionalValue::none())),
                        };
                        c.add_variable_from_value("oldSelf", bound);
                        c
                    })
                } else {
                    &ctx
                };
                let cost = estimate(expr, size);
                if cost > PER_CALL_LIMIT {
                    self.unsupported(
                        rule,
                        ptr,
                        format!(
                            "its estimated cost ({cost}) exceeds the API server's per-call \
                             limit ({PER_CALL_LIMIT}); not evaluated"
                        ),
                        out,
                    );
                    continue;
                }
                if cost > self.budget {
                    self.exhausted = true;
                    out.push(SchemaError {
                        rule: "cel-unsupported",
                        message: format!(
                            "the estimated cost of the validation rules exceeds the API \
                             server's per-object budget ({PER_OBJECT_BUDGET}); rule `{}` and \
                             the rules after it were not evaluated",
                            rule.source
                        ),
                        pointer: ptr.to_owned(),
                        at_key: false,
                        help: None,
                    });
                    return;
                }
                self.budget -= cost;
                match eval(&expr.program, ctx) {
                    Ok(Cel::Bool(true)) => {}
                    Ok(Cel::Bool(false)) => {
                        let message = rule
                            .message_expression
                            .as_ref()
                            .and_then(|me| message(me, ctx, size, &mut self.budget))
                            .or_else(|| rule.message.clone())
                            .unwrap_or_else(|| format!("failed rule: {}", rule.source));
                        out.push(SchemaError {
                            rule: "schema-cel",
                            message,
                            pointer: at_field_path(ptr, raw, &rule.field_path),
                            at_key: false,
                            help: None,
                        });
                    }
                    Ok(other) => self.unsupported(
                        rule,
                        ptr,
                        format!("it gave {other:?}, not a boolean"),
                        out,
                    ),
                    Err(why) => self.unsupported(rule, ptr, why, out),
                }
            }
        });
    }

    fn unsupported(&mut self, rule: &Rule, ptr: &str, why: String, out: &mut Vec<SchemaError>) {
        let key = std::ptr::from_ref(rule) as usize;
        if self.said.contains(&key) {
            return;
        }
        self.said.push(key);
        out.push(SchemaError {
            rule: "cel-unsupported",
            message: format!("validation rule `{}` not checked: {why}", rule.source),
            pointer: ptr.to_owned(),
            at_key: false,
            help: None,
        });
    }
}

/// A CEL expression compiled for a caller other than a schema (the expressions of admission
/// policies): parsed once per process like the schemas' rules, evaluated on the same
/// interpreter with the same libraries and the same cost estimate.
#[derive(Debug, Clone)]
pub struct Expression(Arc<Expr>);

/// What compiling an [`Expression`] gave.
#[derive(Debug, Clone)]
pub enum Compile {
    Ready(Expression),
    /// Valid CEL, presumably, that the interpreter cannot run: why.
    Unsupported(String),
    /// Not CEL: the API server would refuse it. Why.
    Invalid(String),
}

/// Compiles an expression.
pub fn compile(source: &str) -> Compile {
    match parse(source) {
        Parsed::Ok(e) => Compile::Ready(Expression(e)),
        Parsed::Unsupported(why) => Compile::Unsupported(why),
        Parsed::Invalid(why) => Compile::Invalid(why),
    }
}

/// Why an [`Expression`] gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// An error the API server's evaluation has too (a missing key, a division by zero):
    /// the policy's `failurePolicy` decides.
    Failed(String),
    /// Something kubegate's interpreter cannot decide (a function it lacks, a panic): said,
    /// never taken for a verdict.
    Unsupported(String),
}

impl Expression {
    /// The estimated cost of one evaluation over values whose largest list, map or string
    /// is `size`.
    pub fn cost(&self, size: Size) -> u64 {
        estimate(&self.0, size)
    }

    /// Evaluates it in `ctx`.
    pub fn eval(&self, ctx: &cel::Context) -> Result<Cel, EvalError> {
        match catch_unwind(AssertUnwindSafe(|| self.0.program.execute(ctx))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e @ (ExecutionError::NoSuchKey(_) | ExecutionError::DivisionByZero(_)))) => {
                Err(EvalError::Failed(e.to_string()))
            }
            Ok(Err(ExecutionError::UndeclaredReference(name))) => Err(EvalError::Unsupported(
                format!("`{name}` is not known to kubegate's CEL interpreter"),
            )),
            Ok(Err(e)) => Err(EvalError::Unsupported(format!(
                "kubegate's CEL interpreter could not evaluate it ({e})"
            ))),
            Err(_) => Err(EvalError::Unsupported(
                "the CEL interpreter panicked on it".into(),
            )),
        }
    }

    /// The fields it reads below the variable `root` (`object.spec.replicas` →
    /// `["spec", "replicas"]`, `object.metadata.labels['team']` → `[…, "team"]`), in the
    /// order they appear: each chain whole, not its prefixes.
    pub fn reads(&self, root: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        reads(self.0.program.expression(), root, &mut out, 0);
        out
    }

    /// Whether it uses the variable `root` other than through a select chain (`object ==
    /// oldObject`, `size(object)`, `object[key]`): then it may read all of it.
    pub fn reads_whole(&self, root: &str) -> bool {
        whole(self.0.program.expression(), root, 0)
    }

    /// Whether it names the variable `name` anywhere.
    pub fn names(&self, name: &str) -> bool {
        names(self.0.program.expression(), name, 0)
    }
}

/// Runs `f` with the thread's root context: the standard functions and the Kubernetes
/// libraries; callers add their variables in an inner scope.
pub fn with_root<R>(f: impl FnOnce(&cel::Context<'static>) -> R) -> R {
    ROOT.with(f)
}

/// The select chain of `e` from the identifier `root`, if `e` is one.
fn chain(e: &cel::IdedExpr, root: &str, depth: usize) -> Option<Vec<String>> {
    use cel::common::ast::{Expr as E, LiteralValue};
    if depth > MAX_NESTING * 2 {
        return None;
    }
    match &e.expr {
        E::Ident(name) if name == root => Some(Vec::new()),
        E::Select(s) => {
            let mut c = chain(&s.operand, root, depth + 1)?;
            c.push(s.field.clone());
            Some(c)
        }
        E::Call(c) if c.func_name == cel::common::ast::operators::INDEX && c.args.len() == 2 => {
            let mut out = chain(&c.args[0], root, depth + 1)?;
            match &c.args[1].expr {
                E::Literal(LiteralValue::String(s)) => out.push(s.inner().to_owned()),
                E::Literal(LiteralValue::Int(i)) => out.push(i.inner().to_string()),
                _ => return None,
            }
            Some(out)
        }
        _ => None,
    }
}

fn children(e: &cel::IdedExpr) -> Vec<&cel::IdedExpr> {
    use cel::common::ast::{EntryExpr, Expr as E};
    match &e.expr {
        E::Call(c) => c.target.iter().map(|t| &**t).chain(c.args.iter()).collect(),
        E::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        E::List(l) => l.elements.iter().collect(),
        E::Map(cel::common::ast::MapExpr { entries })
        | E::Struct(cel::common::ast::StructExpr { entries, .. }) => entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        E::Select(s) => vec![&*s.operand],
        E::Ident(_) | E::Literal(_) | E::Unspecified => Vec::new(),
    }
}

fn reads(e: &cel::IdedExpr, root: &str, out: &mut Vec<Vec<String>>, depth: usize) {
    if depth > MAX_NESTING * 2 {
        return;
    }
    if let Some(c) = chain(e, root, 0) {
        // A whole chain: its parts are only its prefixes.
        if !c.is_empty() {
            out.push(c);
        }
        return;
    }
    for child in children(e) {
        reads(child, root, out, depth + 1);
    }
}

fn whole(e: &cel::IdedExpr, root: &str, depth: usize) -> bool {
    use cel::common::ast::Expr as E;
    if depth > MAX_NESTING * 2 {
        return true;
    }
    // The operand of a select, and the target of an index by a literal, are read through
    // their chain; anything else that is the bare variable is the whole of it.
    let through_chain: Option<&cel::IdedExpr> = match &e.expr {
        E::Select(s) => Some(&s.operand),
        E::Call(c) if c.func_name == cel::common::ast::operators::INDEX && c.args.len() == 2 => {
            match &c.args[1].expr {
                E::Literal(_) => Some(&c.args[0]),
                _ => None,
            }
        }
        // `oldObject == null`, `object != null`: whether it is there, not what it holds.
        E::Call(c)
            if matches!(
                c.func_name.as_str(),
                cel::common::ast::operators::EQUALS | cel::common::ast::operators::NOT_EQUALS
            ) && c.args.len() == 2 =>
        {
            let null = |e: &cel::IdedExpr| {
                matches!(&e.expr, E::Literal(cel::common::ast::LiteralValue::Null))
            };
            match (null(&c.args[0]), null(&c.args[1])) {
                (false, true) => Some(&c.args[0]),
                (true, false) => Some(&c.args[1]),
                _ => None,
            }
        }
        _ => None,
    };
    children(e).into_iter().any(|child| {
        let bare = matches!(&child.expr, E::Ident(n) if n == root);
        if bare {
            !through_chain.is_some_and(|t| std::ptr::eq(t, child))
        } else {
            whole(child, root, depth + 1)
        }
    }) || (depth == 0 && matches!(&e.expr, E::Ident(n) if n == root))
}

fn names(e: &cel::IdedExpr, name: &str, depth: usize) -> bool {
    if depth > MAX_NESTING * 2 {
        return false;
    }
    matches!(&e.expr, cel::common::ast::Expr::Ident(n) if n == name)
        || children(e).into_iter().any(|c| names(c, name, depth + 1))
}

/// AST nodes × the largest list or map (at least 1) ^ comprehension depth × what one
/// string function costs on the longest string (the API server charges a tenth of its
/// length, at least 1).
fn estimate(e: &Expr, size: Size) -> u64 {
    e.nodes
        .saturating_mul(size.largest.max(1).saturating_pow(e.depth))
        .saturating_mul(size.longest.div_ceil(10).max(1))
}

/// Runs a program, a panic and every runtime error said as why it could not be decided.
fn eval(program: &Program, ctx: &cel::Context) -> Result<Cel, String> {
    match catch_unwind(AssertUnwindSafe(|| program.execute(ctx))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(ExecutionError::UndeclaredReference(name))) => Err(format!(
            "`{name}` is not known to kubegate's CEL interpreter"
        )),
        Ok(Err(e)) => Err(format!(
            "evaluation failed ({e}); the API server may reject the object or accept it"
        )),
        Err(_) => Err("the CEL interpreter panicked on it".into()),
    }
}

/// A `messageExpression`'s message: a non-empty string of at most 5 KiB without line
/// breaks, else `None` (the rule's `message` is said).
fn message(e: &Expr, ctx: &cel::Context, size: Size, budget: &mut u64) -> Option<String> {
    let cost = estimate(e, size);
    if cost > PER_CALL_LIMIT || cost > *budget {
        return None;
    }
    *budget -= cost;
    match eval(&e.program, ctx) {
        Ok(Cel::String(s)) if !s.trim().is_empty() && s.len() <= 5120 && !s.contains('\n') => {
            Some(s.to_string())
        }
        _ => None,
    }
}

/// The pointer of `fieldPath` below `ptr`, if the value has it; else `ptr`.
fn at_field_path(ptr: &str, raw: &Value, path: &[String]) -> String {
    let mut at = raw;
    let mut out = ptr.to_owned();
    for seg in path {
        match at.get(seg) {
            Some(v) => at = v,
            None => return ptr.to_owned(),
        }
        out.push('/');
        out.push_str(&crate::parse::source_map::escape(seg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_the_api_server_escapes_them() {
        for (name, cel) in [
            ("foo-bar", Some("foo__dash__bar")),
            ("a.b/c", Some("a__dot__b__slash__c")),
            ("a__b", Some("a__underscores__b")),
            ("a_b", Some("a_b")),
            ("namespace", Some("__namespace__")),
            ("1a", None),
            ("a b", None),
        ] {
            assert_eq!(escape(name).as_deref(), cel, "{name}");
        }
    }

    #[test]
    fn expressions_say_what_they_read() {
        let Compile::Ready(e) = compile(
            "oldObject == null || object.spec.replicas <= 5 && object.metadata.labels['team'] != ''",
        ) else {
            panic!("compiles")
        };
        assert_eq!(
            e.reads("object"),
            vec![
                vec!["spec".to_owned(), "replicas".to_owned()],
                vec![
                    "metadata".to_owned(),
                    "labels".to_owned(),
                    "team".to_owned()
                ],
            ]
        );
        assert!(!e.reads_whole("object"));
        assert!(!e.reads_whole("oldObject"), "compared with null only");
        for whole in [
            "object == oldObject",
            "size(object) > 0",
            "object[k] == 1",
            "object",
        ] {
            let Compile::Ready(e) = compile(whole) else {
                panic!("compiles")
            };
            assert!(e.reads_whole("object"), "{whole}");
        }
    }

    #[test]
    fn crd_rules_with_optional_selection_compile() {
        let rule =
            Rule::compile(&serde_json::json!({"rule": "self.?spec.?replicas.orValue(1) > 0"}))
                .expect("a valid rule of the API server");
        assert!(rule.unsupported().is_none());
        // A form the rewrite leaves alone is not evaluated, never an error of the CRD.
        let rule = Rule::compile(&serde_json::json!({"rule": "self.?spec.value().replicas > 0"}))
            .expect("not an error of the CRD");
        assert!(rule.unsupported().is_some());
    }

    #[test]
    fn optional_selection_is_said_with_has() {
        for (src, want) in [
            (
                "object.spec.?initContainers.orValue([])",
                Some("((has(object.spec.initContainers)) ? object.spec.initContainers : ([]))"),
            ),
            (
                "c.?securityContext.?privileged.orValue(false) == false",
                Some(
                    "((has(c.securityContext) && has(c.securityContext.privileged)) ? \
                     c.securityContext.privileged : (false)) == false",
                ),
            ),
            (
                "object.spec.?volumes.hasValue()",
                Some("(has(object.spec.volumes))"),
            ),
            ("'a.?b' + x", Some("'a.?b' + x")),
            ("object.?spec.value()", None),
            ("object.spec.?['a'].orValue(1)", None),
            (
                "object.metadata.?labels[?'app.kubernetes.io/name'].orValue('') != \"\"",
                Some(
                    "((has(object.metadata.labels) && ('app.kubernetes.io/name') in \
                     object.metadata.labels) ? object.metadata.labels['app.kubernetes.io/name'] \
                     : ('')) != \"\"",
                ),
            ),
            ("m[?k].hasValue()", Some("((k) in m)")),
            (
                "c.?securityContext.allowPrivilegeEscalation.orValue(true) == false",
                Some(
                    "((has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation)) \
                     ? c.securityContext.allowPrivilegeEscalation : (true)) == false",
                ),
            ),
            ("c.?a.size()", None),
        ] {
            assert_eq!(without_optional_selection(src).as_deref(), want, "{src}");
        }
        let Compile::Ready(e) = compile("object.spec.?hostNetwork.orValue(false) == false") else {
            panic!("compiles")
        };
        let eval = |v: serde_json::Value| {
            with_root(|root| {
                let mut ctx = root.new_inner_scope();
                ctx.add_variable_from_value("object", untyped(&v, &mut Size::default()));
                e.eval(&ctx)
            })
        };
        assert_eq!(eval(serde_json::json!({"spec": {}})), Ok(Cel::Bool(true)));
        assert_eq!(
            eval(serde_json::json!({"spec": {"hostNetwork": true}})),
            Ok(Cel::Bool(false))
        );
    }

    #[test]
    fn or_value_on_a_value_that_is_not_optional_gives_it_back() {
        // cel-go up to v0.27 (Kubernetes 1.35's): the value, the default never evaluated.
        let Compile::Ready(e) =
            compile("object.add.orValue([]).size() == 1 && object.n.orValue(1 / 0) == 2")
        else {
            panic!("compiles")
        };
        let ok = with_root(|root| {
            let mut ctx = root.new_inner_scope();
            let v = serde_json::json!({"add": ["NET_BIND_SERVICE"], "n": 2});
            ctx.add_variable_from_value("object", untyped(&v, &mut Size::default()));
            e.eval(&ctx)
        });
        assert_eq!(ok, Ok(Cel::Bool(true)));
    }

    #[test]
    fn field_paths_parse() {
        assert_eq!(
            field_path(".a.b").unwrap(),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert_eq!(
            field_path(".a['b.c']").unwrap(),
            vec!["a".to_owned(), "b.c".to_owned()]
        );
        assert!(field_path("a").is_none());
        assert!(field_path("..a").is_none());
    }

    #[test]
    fn durations_and_timestamps_convert() {
        assert_eq!(go_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(
            go_duration("-1.5s"),
            Some(chrono::Duration::milliseconds(-1500))
        );
        assert!(go_duration("90").is_none());
        assert!(matches!(
            formatted("2024-01-02T03:04:05Z", "date-time"),
            Some(Cel::Timestamp(_))
        ));
        assert!(matches!(
            formatted("2024-01-02", "date"),
            Some(Cel::Timestamp(_))
        ));
    }
}
