//! The JMESPath Kyverno evaluates in `{{ }}` variables and `foreach.list`: the grammar of
//! `jmespath.org` (go-jmespath's Pratt parser, same binding powers), with the one change of
//! Kyverno's fork (`github.com/kyverno/go-jmespath`): a field missing from a mapping is a
//! "not found" error that travels up through sub-expressions and stops at `||`, `&&`, `!`,
//! comparisons, pipes, projections and function arguments (where it reads as `null`).
//! That is why `{{ request.object.metadata.labels.team }}` fails on an object without
//! labels while `{{ request.object.metadata.labels.team || '' }}` is `""`.
//!
//! Functions: the standard ones kyverno policies use (`length`, `keys`, `values`,
//! `contains`, `starts_with`, `ends_with`, `join`, `not_null`, `type`, `to_string`,
//! `to_number`, `sort`, `reverse`, `max`, `min`, `sum`, `abs`, `merge`) and Kyverno's
//! string helpers (`to_upper`, `to_lower`, `split`, `trim`, `truncate`, `replace_all`,
//! `regex_match`). Any other function is refused when the expression is parsed, so the
//! rule that uses it is reported unsupported instead of run wrongly.

use serde_json::{Map, Value};

/// Deepest nesting of an expression: a policy is hostile input too.
const MAX_DEPTH: usize = 64;

const FUNCTIONS: &[&str] = &[
    "length",
    "keys",
    "values",
    "contains",
    "starts_with",
    "ends_with",
    "join",
    "not_null",
    "type",
    "to_string",
    "to_number",
    "sort",
    "reverse",
    "max",
    "min",
    "sum",
    "abs",
    "merge",
    "to_upper",
    "to_lower",
    "split",
    "trim",
    "truncate",
    "replace_all",
    "regex_match",
];

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Identity,
    Field(String),
    Literal(Value),
    Index(i64),
    Slice([Option<i64>; 3]),
    /// `left.right`, `left[0]`.
    Sub(Box<Ast>, Box<Ast>),
    /// `left[*].right`, `left[].right` (with `Flatten` on the left).
    Projection(Box<Ast>, Box<Ast>),
    /// `left.*.right`.
    ValueProjection(Box<Ast>, Box<Ast>),
    /// `left[?cond].right`.
    Filter(Box<Ast>, Box<Ast>, Box<Ast>),
    Flatten(Box<Ast>),
    Pipe(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Compare(Cmp, Box<Ast>, Box<Ast>),
    MultiList(Vec<Ast>),
    MultiHash(Vec<(String, Ast)>),
    Function(String, Vec<Ast>),
    ExpRef(Box<Ast>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Why an expression gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A field missing from a mapping (Kyverno's `Unknown key "x" in path`).
    NotFound(String),
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound(k) => write!(f, "Unknown key \"{k}\" in path"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Raw(String),
    Literal(Value),
    Number(i64),
    Dot,
    Star,
    Flatten,
    Filter,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(Cmp),
    At,
    Amp,
    Eof,
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            'a'..='z' | 'A'..='Z' | '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            '0'..='9' | '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<i64>()
                    .map_err(|_| format!("invalid number `{text}`"))?;
                out.push(Tok::Number(n));
            }
            '"' => {
                let (s, next) = delimited(&chars, i, '"')?;
                let v: String = serde_json::from_str(&format!("\"{s}\""))
                    .map_err(|e| format!("invalid quoted identifier: {e}"))?;
                out.push(Tok::Quoted(v));
                i = next;
            }
            '\'' => {
                let (s, next) = delimited(&chars, i, '\'')?;
                out.push(Tok::Raw(s.replace("\\'", "'")));
                i = next;
            }
            '`' => {
                let (s, next) = delimited(&chars, i, '`')?;
                let s = s.replace("\\`", "`");
                // go-jmespath's legacy rule: a literal that is not JSON is a string.
                let v = serde_json::from_str::<Value>(s.trim())
                    .unwrap_or_else(|_| Value::String(s.trim().to_owned()));
                out.push(Tok::Literal(v));
                i = next;
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '@' => {
                out.push(Tok::At);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '{' => {
                out.push(Tok::LBrace);
                i += 1;
            }
            '}' => {
                out.push(Tok::RBrace);
                i += 1;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1;
            }
            '[' => match chars.get(i + 1) {
                Some(']') => {
                    out.push(Tok::Flatten);
                    i += 2;
                }
                Some('?') => {
                    out.push(Tok::Filter);
                    i += 2;
                }
                _ => {
                    out.push(Tok::LBracket);
                    i += 1;
                }
            },
            '|' => {
                if chars.get(i + 1) == Some(&'|') {
                    out.push(Tok::Or);
                    i += 2;
                } else {
                    out.push(Tok::Pipe);
                    i += 1;
                }
            }
            '&' => {
                if chars.get(i + 1) == Some(&'&') {
                    out.push(Tok::And);
                    i += 2;
                } else {
                    out.push(Tok::Amp);
                    i += 1;
                }
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Cmp(Cmp::Ne));
                    i += 2;
                } else {
                    out.push(Tok::Not);
                    i += 1;
                }
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Cmp(Cmp::Eq));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Cmp(match (c, eq) {
                    ('<', true) => Cmp::Le,
                    ('<', false) => Cmp::Lt,
                    (_, true) => Cmp::Ge,
                    _ => Cmp::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            _ => return Err(format!("unexpected character `{c}`")),
        }
    }
    out.push(Tok::Eof);
    Ok(out)
}

/// The text between the delimiter at `start` and the next unescaped one; the index after it.
fn delimited(chars: &[char], start: usize, delim: char) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let mut s = String::new();
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            s.push(chars[i]);
            s.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if chars[i] == delim {
            return Ok((s, i + 1));
        }
        s.push(chars[i]);
        i += 1;
    }
    Err(format!("unclosed `{delim}`"))
}

// ---------------------------------------------------------------------------------------
// Parser

fn binding_power(t: &Tok) -> u8 {
    match t {
        Tok::Pipe => 1,
        Tok::Or => 2,
        Tok::And => 3,
        Tok::Cmp(_) => 5,
        Tok::Flatten => 9,
        Tok::Star => 20,
        Tok::Filter => 21,
        Tok::Dot => 40,
        Tok::Not => 45,
        Tok::LBrace => 50,
        Tok::LBracket => 55,
        Tok::LParen => 60,
        _ => 0,
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses an expression; `Err` says why it is not one kubegate can run.
pub fn parse(src: &str) -> Result<Ast, String> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
    };
    let ast = p.expression(0)?;
    if p.peek() != &Tok::Eof {
        return Err(format!("unexpected token {:?}", p.peek()));
    }
    Ok(ast)
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).unwrap_or(&Tok::Eof)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).unwrap_or(&Tok::Eof)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> Result<(), String> {
        let got = self.next();
        if &got == t {
            Ok(())
        } else {
            Err(format!("expected {t:?}, found {got:?}"))
        }
    }

    fn expression(&mut self, bp: u8) -> Result<Ast, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let tok = self.next();
        let mut left = self.nud(tok)?;
        while bp < binding_power(self.peek()) {
            let tok = self.next();
            left = self.led(tok, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, tok: Tok) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Literal(v) => Ast::Literal(v),
            Tok::Raw(s) => Ast::Literal(Value::String(s)),
            Tok::Ident(s) => Ast::Field(s),
            Tok::Quoted(s) => {
                if self.peek() == &Tok::LParen {
                    return Err("a quoted identifier cannot name a function".into());
                }
                Ast::Field(s)
            }
            Tok::Star => {
                let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                Ast::ValueProjection(Box::new(Ast::Identity), Box::new(rhs))
            }
            Tok::Filter => self.filter(Ast::Identity)?,
            Tok::LBrace => self.multi_hash()?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(binding_power(&Tok::Flatten))?;
                Ast::Projection(
                    Box::new(Ast::Flatten(Box::new(Ast::Identity))),
                    Box::new(rhs),
                )
            }
            Tok::LBracket => match (self.peek(), self.peek_at(1)) {
                (Tok::Number(_) | Tok::Colon, _) => {
                    let idx = self.index()?;
                    project_if_slice(Ast::Identity, idx, self)?
                }
                (Tok::Star, Tok::RBracket) => {
                    self.pos += 2;
                    let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                    Ast::Projection(Box::new(Ast::Identity), Box::new(rhs))
                }
                _ => self.multi_list()?,
            },
            Tok::At => Ast::Identity,
            Tok::Amp => Ast::ExpRef(Box::new(self.expression(0)?)),
            Tok::Not => Ast::Not(Box::new(self.expression(binding_power(&Tok::Not))?)),
            Tok::LParen => {
                let e = self.expression(0)?;
                self.eat(&Tok::RParen)?;
                e
            }
            t => return Err(format!("unexpected token {t:?}")),
        })
    }

    fn led(&mut self, tok: Tok, left: Ast) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Dot => {
                if self.peek() == &Tok::Star {
                    self.next();
                    let rhs = self.projection_rhs(binding_power(&Tok::Dot))?;
                    Ast::ValueProjection(Box::new(left), Box::new(rhs))
                } else {
                    let rhs = self.dot_rhs(binding_power(&Tok::Dot))?;
                    Ast::Sub(Box::new(left), Box::new(rhs))
                }
            }
            Tok::Pipe => Ast::Pipe(Box::new(left), Box::new(self.expression(1)?)),
            Tok::Or => Ast::Or(Box::new(left), Box::new(self.expression(2)?)),
            Tok::And => Ast::And(Box::new(left), Box::new(self.expression(3)?)),
            Tok::Cmp(c) => Ast::Compare(c, Box::new(left), Box::new(self.expression(5)?)),
            Tok::LParen => {
                let Ast::Field(name) = left else {
                    return Err("only a name can be called".into());
                };
                if !FUNCTIONS.contains(&name.as_str()) {
                    return Err(format!("function `{name}` is not supported"));
                }
                let mut args = Vec::new();
                while self.peek() != &Tok::RParen {
                    args.push(self.expression(0)?);
                    if self.peek() == &Tok::Comma {
                        self.next();
                    } else if self.peek() != &Tok::RParen {
                        return Err(format!("unexpected token {:?} in arguments", self.peek()));
                    }
                }
                self.eat(&Tok::RParen)?;
                Ast::Function(name, args)
            }
            Tok::Filter => self.filter(left)?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(binding_power(&Tok::Flatten))?;
                Ast::Projection(Box::new(Ast::Flatten(Box::new(left))), Box::new(rhs))
            }
            Tok::LBracket => match self.peek() {
                Tok::Number(_) | Tok::Colon => {
                    let idx = self.index()?;
                    project_if_slice(left, idx, self)?
                }
                _ => {
                    self.eat(&Tok::Star)?;
                    self.eat(&Tok::RBracket)?;
                    let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                    Ast::Projection(Box::new(left), Box::new(rhs))
                }
            },
            t => return Err(format!("unexpected token {t:?}")),
        })
    }

    fn index(&mut self) -> Result<Ast, String> {
        let mut parts: [Option<i64>; 3] = [None; 3];
        let mut at = 0;
        let mut colons = 0;
        loop {
            match self.next() {
                Tok::Number(n) => {
                    if at > 2 {
                        return Err("too many slice parts".into());
                    }
                    parts[at] = Some(n);
                }
                Tok::Colon => {
                    colons += 1;
                    at += 1;
                    if at > 2 {
                        return Err("too many colons in slice".into());
                    }
                }
                Tok::RBracket => break,
                t => return Err(format!("unexpected token {t:?} in index")),
            }
        }
        if colons == 0 {
            parts[0]
                .map(Ast::Index)
                .ok_or_else(|| "empty index".to_owned())
        } else {
            Ok(Ast::Slice(parts))
        }
    }

    fn dot_rhs(&mut self, bp: u8) -> Result<Ast, String> {
        match self.peek() {
            Tok::Ident(_) | Tok::Quoted(_) | Tok::Star => self.expression(bp),
            Tok::LBracket => {
                self.next();
                self.multi_list()
            }
            Tok::LBrace => {
                self.next();
                self.multi_hash()
            }
            t => Err(format!("unexpected token {t:?} after `.`")),
        }
    }

    fn projection_rhs(&mut self, bp: u8) -> Result<Ast, String> {
        if binding_power(self.peek()) < 10 {
            return Ok(Ast::Identity);
        }
        match self.peek() {
            Tok::LBracket | Tok::Filter => self.expression(bp),
            Tok::Dot => {
                self.next();
                self.dot_rhs(bp)
            }
            t => Err(format!("unexpected token {t:?} in projection")),
        }
    }

    fn filter(&mut self, left: Ast) -> Result<Ast, String> {
        let cond = self.expression(0)?;
        self.eat(&Tok::RBracket)?;
        let rhs = if self.peek() == &Tok::Flatten {
            Ast::Identity
        } else {
            self.projection_rhs(binding_power(&Tok::Filter))?
        };
        Ok(Ast::Filter(Box::new(left), Box::new(rhs), Box::new(cond)))
    }

    fn multi_list(&mut self) -> Result<Ast, String> {
        let mut items = Vec::new();
        loop {
            items.push(self.expression(0)?);
            match self.next() {
                Tok::Comma => {}
                Tok::RBracket => break,
                t => return Err(format!("unexpected token {t:?} in list")),
            }
        }
        Ok(Ast::MultiList(items))
    }

    fn multi_hash(&mut self) -> Result<Ast, String> {
        let mut items = Vec::new();
        loop {
            let key = match self.next() {
                Tok::Ident(s) | Tok::Quoted(s) => s,
                t => return Err(format!("unexpected token {t:?} as a key")),
            };
            self.eat(&Tok::Colon)?;
            items.push((key, self.expression(0)?));
            match self.next() {
                Tok::Comma => {}
                Tok::RBrace => break,
                t => return Err(format!("unexpected token {t:?} in hash")),
            }
        }
        Ok(Ast::MultiHash(items))
    }
}

fn project_if_slice(left: Ast, idx: Ast, p: &mut Parser) -> Result<Ast, String> {
    let indexed = Ast::Sub(Box::new(left), Box::new(idx.clone()));
    if matches!(idx, Ast::Slice(_)) {
        let rhs = p.projection_rhs(binding_power(&Tok::Star))?;
        Ok(Ast::Projection(Box::new(indexed), Box::new(rhs)))
    } else {
        Ok(indexed)
    }
}

// ---------------------------------------------------------------------------------------
// Interpreter

/// JMESPath's falsy values: null, false, empty string, list and mapping.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// Equality as go-jmespath's `reflect.DeepEqual` sees decoded JSON: every number a float.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `Ok(v)` of an error that reads as `null` where go-jmespath ignores "not found".
fn lenient(r: Result<Value, Error>) -> Result<Value, Error> {
    match r {
        Err(Error::NotFound(_)) => Ok(Value::Null),
        r => r,
    }
}

/// Evaluates `ast` on `data`.
pub fn search(ast: &Ast, data: &Value) -> Result<Value, Error> {
    match ast {
        Ast::Identity => Ok(data.clone()),
        Ast::Literal(v) => Ok(v.clone()),
        Ast::Field(k) => match data {
            Value::Object(m) => m.get(k).cloned().ok_or_else(|| Error::NotFound(k.clone())),
            _ => Ok(Value::Null),
        },
        Ast::Index(i) => Ok(match data {
            Value::Array(a) => {
                let i = if *i < 0 { a.len() as i64 + i } else { *i };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| a.get(i))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            _ => Value::Null,
        }),
        Ast::Slice(parts) => Ok(match data {
            Value::Array(a) => slice(a, parts)?,
            _ => Value::Null,
        }),
        Ast::Sub(l, r) => {
            let left = search(l, data)?;
            search(r, &left)
        }
        Ast::Projection(l, r) => {
            let left = lenient(search(l, data))?;
            let Value::Array(items) = left else {
                return Ok(Value::Null);
            };
            project(&items, r)
        }
        Ast::ValueProjection(l, r) => {
            let left = lenient(search(l, data))?;
            let Value::Object(m) = left else {
                return Ok(Value::Null);
            };
            let items: Vec<Value> = m.into_iter().map(|(_, v)| v).collect();
            project(&items, r)
        }
        Ast::Filter(l, r, cond) => {
            let Ok(Value::Array(items)) = search(l, data) else {
                return Ok(Value::Null);
            };
            let mut out = Vec::new();
            for item in &items {
                if !is_false(&lenient(search(cond, item))?) {
                    let v = lenient(search(r, item))?;
                    if !v.is_null() {
                        out.push(v);
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Ast::Flatten(inner) => {
            let v = lenient(search(inner, data))?;
            let Value::Array(items) = v else {
                return Ok(Value::Null);
            };
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Array(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            Ok(Value::Array(out))
        }
        Ast::Pipe(l, r) => {
            let left = lenient(search(l, data))?;
            lenient(search(r, &left))
        }
        Ast::Or(l, r) => {
            let left = lenient(search(l, data))?;
            if is_false(&left) {
                lenient(search(r, data))
            } else {
                Ok(left)
            }
        }
        Ast::And(l, r) => {
            let left = lenient(search(l, data))?;
            if is_false(&left) {
                Ok(left)
            } else {
                search(r, data)
            }
        }
        Ast::Not(e) => Ok(Value::Bool(is_false(&lenient(search(e, data))?))),
        Ast::Compare(c, l, r) => {
            let left = lenient(search(l, data))?;
            let right = lenient(search(r, data))?;
            Ok(match c {
                Cmp::Eq => Value::Bool(json_eq(&left, &right)),
                Cmp::Ne => Value::Bool(!json_eq(&left, &right)),
                _ => match (left.as_f64(), right.as_f64()) {
                    (Some(a), Some(b)) => Value::Bool(match c {
                        Cmp::Lt => a < b,
                        Cmp::Le => a <= b,
                        Cmp::Gt => a > b,
                        _ => a >= b,
                    }),
                    _ => Value::Null,
                },
            })
        }
        Ast::MultiList(items) => {
            if data.is_null() {
                return Ok(Value::Null);
            }
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(lenient(search(i, data))?);
            }
            Ok(Value::Array(out))
        }
        Ast::MultiHash(items) => {
            if data.is_null() {
                return Ok(Value::Null);
            }
            let mut out = Map::new();
            for (k, i) in items {
                out.insert(k.clone(), lenient(search(i, data))?);
            }
            Ok(Value::Object(out))
        }
        Ast::Function(name, args) => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                if let Ast::ExpRef(_) = a {
                    return Err(Error::Other(format!(
                        "{name}: expression arguments are not supported"
                    )));
                }
                vals.push(lenient(search(a, data))?);
            }
            call(name, &vals)
        }
        Ast::ExpRef(_) => Err(Error::Other(
            "expression references are not supported".into(),
        )),
    }
}

fn project(items: &[Value], rhs: &Ast) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in items {
        let v = lenient(search(rhs, item))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

fn slice(a: &[Value], parts: &[Option<i64>; 3]) -> Result<Value, Error> {
    let len = a.len() as i64;
    let step = parts[2].unwrap_or(1);
    if step == 0 {
        return Err(Error::Other("slice step cannot be 0".into()));
    }
    let cap = |v: i64, lo: i64, hi: i64| {
        let v = if v < 0 { v + len } else { v };
        v.clamp(lo, hi)
    };
    let mut out = Vec::new();
    if step > 0 {
        let start = parts[0].map_or(0, |v| cap(v, 0, len));
        let stop = parts[1].map_or(len, |v| cap(v, 0, len));
        let mut i = start;
        while i < stop {
            if let Some(v) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                out.push(v.clone());
            }
            i += step;
        }
    } else {
        let start = parts[0].map_or(len - 1, |v| cap(v, -1, len - 1));
        let stop = parts[1].map_or(-1, |v| cap(v, -1, len - 1));
        let mut i = start;
        while i > stop {
            if let Some(v) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                out.push(v.clone());
            }
            i += step;
        }
    }
    Ok(Value::Array(out))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn num(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn arg<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a Value, Error> {
    args.get(i)
        .ok_or_else(|| Error::Other(format!("{name}: missing argument {}", i + 1)))
}

fn str_arg<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a str, Error> {
    arg(name, args, i)?
        .as_str()
        .ok_or_else(|| Error::Other(format!("{name}: argument {} must be a string", i + 1)))
}

fn invalid(name: &str) -> Error {
    Error::Other(format!("invalid type for {name}"))
}

fn call(name: &str, args: &[Value]) -> Result<Value, Error> {
    match name {
        "length" => match arg(name, args, 0)? {
            Value::String(s) => Ok(Value::from(s.chars().count())),
            Value::Array(a) => Ok(Value::from(a.len())),
            Value::Object(o) => Ok(Value::from(o.len())),
            _ => Err(invalid(name)),
        },
        "keys" => match arg(name, args, 0)? {
            Value::Object(o) => Ok(Value::Array(o.keys().cloned().map(Value::String).collect())),
            _ => Err(invalid(name)),
        },
        "values" => match arg(name, args, 0)? {
            Value::Object(o) => Ok(Value::Array(o.values().cloned().collect())),
            _ => Err(invalid(name)),
        },
        "contains" => {
            let needle = arg(name, args, 1)?;
            match arg(name, args, 0)? {
                Value::Array(a) => Ok(Value::Bool(a.iter().any(|v| json_eq(v, needle)))),
                Value::String(s) => match needle {
                    Value::String(n) => Ok(Value::Bool(s.contains(n.as_str()))),
                    _ => Ok(Value::Bool(false)),
                },
                _ => Err(invalid(name)),
            }
        }
        "starts_with" => Ok(Value::Bool(
            str_arg(name, args, 0)?.starts_with(str_arg(name, args, 1)?),
        )),
        "ends_with" => Ok(Value::Bool(
            str_arg(name, args, 0)?.ends_with(str_arg(name, args, 1)?),
        )),
        "join" => {
            let sep = str_arg(name, args, 0)?;
            let Value::Array(items) = arg(name, args, 1)? else {
                return Err(invalid(name));
            };
            let parts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            parts
                .map(|p| Value::String(p.join(sep)))
                .ok_or_else(|| invalid(name))
        }
        "not_null" => Ok(args
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null)),
        "type" => Ok(Value::String(type_name(arg(name, args, 0)?).into())),
        "to_string" => Ok(match arg(name, args, 0)? {
            Value::String(s) => Value::String(s.clone()),
            v => Value::String(v.to_string()),
        }),
        "to_number" => Ok(match arg(name, args, 0)? {
            Value::Number(n) => Value::Number(n.clone()),
            Value::String(s) => s.trim().parse::<f64>().map_or(Value::Null, num),
            _ => Value::Null,
        }),
        "sort" => {
            let Value::Array(a) = arg(name, args, 0)? else {
                return Err(invalid(name));
            };
            let mut a = a.clone();
            if a.iter().all(Value::is_string) {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            } else if a.iter().all(Value::is_number) {
                a.sort_by(|x, y| {
                    x.as_f64()
                        .partial_cmp(&y.as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            } else {
                return Err(invalid(name));
            }
            Ok(Value::Array(a))
        }
        "reverse" => match arg(name, args, 0)? {
            Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
            Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
            _ => Err(invalid(name)),
        },
        "max" | "min" => {
            let Value::Array(a) = arg(name, args, 0)? else {
                return Err(invalid(name));
            };
            let want_max = name == "max";
            let mut best: Option<&Value> = None;
            for v in a {
                let better = match (best, v) {
                    (None, _) => true,
                    (Some(Value::Number(b)), Value::Number(n)) => {
                        (n.as_f64() > b.as_f64()) == want_max && n.as_f64() != b.as_f64()
                    }
                    (Some(Value::String(b)), Value::String(s)) => (s > b) == want_max && s != b,
                    _ => return Err(invalid(name)),
                };
                if better {
                    best = Some(v);
                }
            }
            Ok(best.cloned().unwrap_or(Value::Null))
        }
        "sum" => {
            let Value::Array(a) = arg(name, args, 0)? else {
                return Err(invalid(name));
            };
            let mut total = 0.0;
            for v in a {
                total += v.as_f64().ok_or_else(|| invalid(name))?;
            }
            Ok(num(total))
        }
        "abs" => arg(name, args, 0)?
            .as_f64()
            .map(|f| num(f.abs()))
            .ok_or_else(|| invalid(name)),
        "merge" => {
            let mut out = Map::new();
            for a in args {
                let Value::Object(o) = a else {
                    return Err(invalid(name));
                };
                for (k, v) in o {
                    out.insert(k.clone(), v.clone());
                }
            }
            Ok(Value::Object(out))
        }
        "to_upper" => Ok(Value::String(str_arg(name, args, 0)?.to_uppercase())),
        "to_lower" => Ok(Value::String(str_arg(name, args, 0)?.to_lowercase())),
        "split" => Ok(Value::Array(
            str_arg(name, args, 0)?
                .split(str_arg(name, args, 1)?)
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        "trim" => {
            let cut = str_arg(name, args, 1)?;
            Ok(Value::String(
                str_arg(name, args, 0)?
                    .trim_matches(|c| cut.contains(c))
                    .to_owned(),
            ))
        }
        "truncate" => {
            let s = str_arg(name, args, 0)?;
            let n = arg(name, args, 1)?.as_f64().ok_or_else(|| invalid(name))?;
            let n = if n < 0.0 { 0 } else { n as usize };
            Ok(Value::String(s.chars().take(n).collect()))
        }
        "replace_all" => Ok(Value::String(
            str_arg(name, args, 0)?.replace(str_arg(name, args, 1)?, str_arg(name, args, 2)?),
        )),
        "regex_match" => {
            let re = regex::Regex::new(str_arg(name, args, 0)?)
                .map_err(|e| Error::Other(format!("regex_match: {e}")))?;
            let subject = match arg(name, args, 1)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid(name)),
            };
            Ok(Value::Bool(re.is_match(&subject)))
        }
        _ => Err(Error::Other(format!("unknown function {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(expr: &str, data: &Value) -> Result<Value, Error> {
        search(&parse(expr).map_err(Error::Other)?, data)
    }

    #[test]
    fn missing_fields_are_errors_unless_defaulted() {
        let d = json!({"request": {"object": {"metadata": {"name": "a"}}}});
        assert_eq!(q("request.object.metadata.name", &d), Ok(json!("a")));
        assert_eq!(
            q("request.object.metadata.labels.team", &d),
            Err(Error::NotFound("labels".into()))
        );
        assert_eq!(
            q("request.object.metadata.labels.team || ''", &d),
            Ok(json!(""))
        );
        assert_eq!(
            q("request.operation || 'BACKGROUND'", &d),
            Ok(json!("BACKGROUND"))
        );
    }

    #[test]
    fn projections_flatten_and_functions() {
        let d = json!({"spec": {"containers": [
            {"name": "a", "securityContext": {"capabilities": {"drop": ["all", "net_raw"]}}},
            {"name": "b"}],
            "initContainers": [{"name": "c", "ports": [{"hostPort": 80}]}]}});
        assert_eq!(
            q(
                "spec.[ephemeralContainers, initContainers, containers][].name",
                &d
            ),
            Ok(json!(["c", "a", "b"]))
        );
        assert_eq!(
            q(
                "spec.containers[0].securityContext.capabilities.drop[].to_upper(@) || `[]`",
                &d
            ),
            Ok(json!(["ALL", "NET_RAW"]))
        );
        assert_eq!(
            q(
                "spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort",
                &d
            ),
            Ok(json!([80]))
        );
        assert_eq!(
            q("spec.containers[].keys(@)[]", &d),
            Ok(json!(["name", "securityContext", "name"]))
        );
        assert_eq!(
            q("spec.containers[?name=='b'].name | [0]", &d),
            Ok(json!("b"))
        );
        assert_eq!(q("length(spec.containers)", &d), Ok(json!(2)));
        assert_eq!(q("spec.containers[-1].name", &d), Ok(json!("b")));
        assert_eq!(q("spec.containers[*].name", &d), Ok(json!(["a", "b"])));
        assert_eq!(q("spec.rules[].host || `[]` | length(@)", &d), Ok(json!(0)));
    }

    #[test]
    fn unsupported_functions_and_bad_syntax_are_refused() {
        assert!(parse("lookup(@, 'a')").is_err());
        assert!(parse("a.").is_err());
        assert!(parse(&"(".repeat(200)).is_err());
    }
}
