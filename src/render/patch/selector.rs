//! kustomize's patch target selector (`api/types/selector.go`, `resWrangler.Select`): regular
//! expressions on group, version, kind, name and namespace, and Kubernetes label selectors on
//! labels and annotations.

use std::collections::BTreeMap;

use regex::Regex;

use super::PatchError;
use super::schema::is_namespaced;
use crate::render::node::{Kind, Node};

/// A `target:` of a kustomization's `patches` entry.
#[derive(Debug, Clone)]
pub struct Selector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// The namespace kustomize compares a cluster-scoped object's namespace as.
const NOT_A_NAMESPACE: &str = "_non_namespaceable_";

/// A pattern as kustomize compiles it: anchored (`^(?:…)$`); empty matches everything.
fn anchored(field: &str, node: &Node) -> Result<Option<Regex>, PatchError> {
    let pattern = match &node.kind {
        Kind::String(s) => s.clone(),
        Kind::Null => return Ok(None),
        _ => {
            return Err(PatchError {
                message: format!(
                    "json: cannot unmarshal {} into Go struct field Selector.{field} of type \
                     string",
                    type_name(node)
                ),
                origin: node.origin,
            });
        }
    };
    if pattern.is_empty() {
        return Ok(None);
    }
    let anchored = format!("^(?:{pattern})$");
    Regex::new(&anchored).map(Some).map_err(|e| {
        // Go words it `error parsing regexp: missing closing ): `^(?:web()$``; the regex
        // crate's reason is worded differently.
        let reason = e.to_string();
        let reason = reason
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(reason.trim())
            .to_owned();
        PatchError {
            message: format!("error parsing regexp: {reason}: `{anchored}`"),
            origin: node.origin,
        }
    })
}

fn type_name(n: &Node) -> &'static str {
    match n.kind {
        Kind::Null => "null",
        Kind::Bool(_) => "bool",
        Kind::Number(_) => "number",
        Kind::String(_) => "string",
        Kind::Seq(_) => "array",
        Kind::Map(_) => "object",
    }
}

impl Selector {
    /// Reads a selector mapping (`group version kind name namespace labelSelector
    /// annotationSelector`); an unknown field, a field that is not a string, an invalid
    /// regular expression or label selector is an error at that field.
    pub fn from_node(node: &Node) -> Result<Self, PatchError> {
        let mut s = Selector {
            group: None,
            version: None,
            kind: None,
            name: None,
            namespace: None,
            labels: Vec::new(),
            annotations: Vec::new(),
        };
        let Some(map) = node.as_map() else {
            if matches!(node.kind, Kind::Null) {
                return Ok(s);
            }
            return Err(PatchError {
                message: format!(
                    "json: cannot unmarshal {} into Go struct field Patch.target of type \
                     types.Selector",
                    type_name(node)
                ),
                origin: node.origin,
            });
        };
        for (key, value) in map {
            match key.as_str() {
                "group" => s.group = anchored(key, value)?,
                "version" => s.version = anchored(key, value)?,
                "kind" => s.kind = anchored(key, value)?,
                "name" => s.name = anchored(key, value)?,
                "namespace" => s.namespace = anchored(key, value)?,
                "labelSelector" | "annotationSelector" => {
                    let text = match &value.kind {
                        Kind::String(t) => t.as_str(),
                        Kind::Null => "",
                        _ => {
                            return Err(PatchError {
                                message: format!(
                                    "json: cannot unmarshal {} into Go struct field \
                                     Selector.{key} of type string",
                                    type_name(value)
                                ),
                                origin: value.origin,
                            });
                        }
                    };
                    let parsed = parse_selector(text).map_err(|message| PatchError {
                        message,
                        origin: value.origin,
                    })?;
                    if key == "labelSelector" {
                        s.labels = parsed;
                    } else {
                        s.annotations = parsed;
                    }
                }
                _ => {
                    return Err(PatchError {
                        message: format!("json: unknown field {key:?}"),
                        origin: value.origin,
                    });
                }
            }
        }
        Ok(s)
    }

    /// Whether the selector picks `object`. `names` and `namespaces` are the values the
    /// object had before kustomize renamed it and the current ones (kustomize matches any);
    /// empty slices mean the object's own `metadata.name` / `metadata.namespace`. Namespaces
    /// are compared as kustomize's `EffectiveNamespace`: `""` is `default`, and a kind known
    /// to be cluster-scoped has none.
    pub fn matches(&self, object: &Node, names: &[&str], namespaces: &[&str]) -> bool {
        let text = |path: &[&str]| object.path(path).and_then(Node::as_str).unwrap_or("");
        let api_version = text(&["apiVersion"]);
        let kind = text(&["kind"]);
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let own_name = [text(&["metadata", "name"])];
        let own_namespace = [text(&["metadata", "namespace"])];
        let names = if names.is_empty() {
            &own_name[..]
        } else {
            names
        };
        let namespaces = if namespaces.is_empty() {
            &own_namespace[..]
        } else {
            namespaces
        };
        let cluster_scoped = is_namespaced(group, version, kind) == Some(false);
        let effective = |ns: &str| -> String {
            if cluster_scoped {
                NOT_A_NAMESPACE.to_owned()
            } else if ns.is_empty() {
                "default".to_owned()
            } else {
                ns.to_owned()
            }
        };
        let any = |re: &Option<Regex>, candidates: Vec<String>| match re {
            None => true,
            Some(re) => candidates.iter().any(|c| re.is_match(c)),
        };
        if !any(
            &self.namespace,
            namespaces.iter().map(|n| effective(n)).collect(),
        ) {
            return false;
        }
        if !any(&self.name, names.iter().map(|n| (*n).to_owned()).collect()) {
            return false;
        }
        let one = |re: &Option<Regex>, v: &str| re.as_ref().is_none_or(|re| re.is_match(v));
        if !one(&self.group, group) || !one(&self.version, version) || !one(&self.kind, kind) {
            return false;
        }
        let strings = |field: &str| -> BTreeMap<String, String> {
            object
                .path(&["metadata", field])
                .and_then(Node::as_map)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect())
                .unwrap_or_default()
        };
        let labels = strings("labels");
        if !self.labels.iter().all(|r| r.matches(&labels)) {
            return false;
        }
        let annotations = strings("annotations");
        self.annotations.iter().all(|r| r.matches(&annotations))
    }
}

/// A label's value as kustomize reads it (the YAML node's text): `""` for a container.
fn value_text(n: &Node) -> String {
    match &n.kind {
        Kind::Null => "null".to_owned(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(x) => x.to_string(),
        Kind::String(s) => s.clone(),
        Kind::Seq(_) | Kind::Map(_) => String::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One requirement of a label selector (apimachinery `labels.Requirement`).
#[derive(Debug, Clone)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, set: &BTreeMap<String, String>) -> bool {
        let value = set.get(&self.key);
        match self.op {
            Op::In | Op::Equals | Op::DoubleEquals => {
                value.is_some_and(|v| self.values.contains(v))
            }
            Op::NotIn | Op::NotEquals => value.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::GreaterThan | Op::LessThan => {
                let Some(v) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(r) = self.values.first().and_then(|r| r.parse::<i64>().ok()) else {
                    return false;
                };
                if self.op == Op::GreaterThan {
                    v > r
                } else {
                    v < r
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    In,
    NotIn,
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    Comma,
    Open,
    Close,
    End,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Identifier(s) => s.clone(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Bang => "!".into(),
            Token::Equals => "=".into(),
            Token::DoubleEquals => "==".into(),
            Token::NotEquals => "!=".into(),
            Token::GreaterThan => ">".into(),
            Token::LessThan => "<".into(),
            Token::Comma => ",".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::End => String::new(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if is_special(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (tok, n) = match two.as_str() {
                "==" => (Token::DoubleEquals, 2),
                "!=" => (Token::NotEquals, 2),
                _ => (
                    match c {
                        '=' => Token::Equals,
                        '!' => Token::Bang,
                        '(' => Token::Open,
                        ')' => Token::Close,
                        ',' => Token::Comma,
                        '>' => Token::GreaterThan,
                        _ => Token::LessThan,
                    },
                    1,
                ),
            };
            out.push(tok);
            i += n;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        out.push(match word.as_str() {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word),
        });
    }
    out.push(Token::End);
    out
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    /// The next token; in a value position, `in` and `notin` are plain words.
    fn peek(&self, values: bool) -> Token {
        match &self.tokens[self.at] {
            Token::In if values => Token::Identifier("in".into()),
            Token::NotIn if values => Token::Identifier("notin".into()),
            t => t.clone(),
        }
    }

    fn next(&mut self, values: bool) -> Token {
        let t = self.peek(values);
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        t
    }
}

/// apimachinery's `labels.Parse`: `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>1`.
fn parse_selector(input: &str) -> Result<Vec<Requirement>, String> {
    let mut p = Parser {
        tokens: lex(input),
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        match p.peek(true) {
            Token::Identifier(_) | Token::Bang => {
                out.push(
                    parse_requirement(&mut p)
                        .map_err(|e| format!("unable to parse requirement: {e}"))?,
                );
                match p.next(true) {
                    Token::End => break,
                    Token::Comma => match p.peek(true) {
                        Token::Identifier(_) | Token::Bang => {}
                        t => {
                            return Err(format!(
                                "found '{}', expected: identifier after ','",
                                t.text()
                            ));
                        }
                    },
                    t => {
                        return Err(format!(
                            "found '{}', expected: ',' or 'end of string'",
                            t.text()
                        ));
                    }
                }
            }
            Token::End => break,
            t => {
                return Err(format!(
                    "found '{}', expected: !, identifier, or 'end of string'",
                    t.text()
                ));
            }
        }
    }
    Ok(out)
}

fn parse_requirement(p: &mut Parser) -> Result<Requirement, String> {
    let mut tok = p.next(true);
    let mut op = None;
    if tok == Token::Bang {
        op = Some(Op::DoesNotExist);
        tok = p.next(true);
    }
    let Token::Identifier(key) = tok else {
        return Err(format!("found '{}', expected: identifier", tok.text()));
    };
    check_key(&key)?;
    if matches!(p.peek(true), Token::End | Token::Comma) {
        return Ok(Requirement {
            key,
            op: op.unwrap_or(Op::Exists),
            values: Vec::new(),
        });
    }
    if op == Some(Op::DoesNotExist) {
        return Ok(Requirement {
            key,
            op: Op::DoesNotExist,
            values: Vec::new(),
        });
    }
    let op = match p.next(false) {
        Token::In => Op::In,
        Token::NotIn => Op::NotIn,
        Token::Equals => Op::Equals,
        Token::DoubleEquals => Op::DoubleEquals,
        Token::NotEquals => Op::NotEquals,
        Token::GreaterThan => Op::GreaterThan,
        Token::LessThan => Op::LessThan,
        t => {
            return Err(format!(
                "found '{}', expected: [!= == < = > in notin]",
                t.text()
            ));
        }
    };
    let values = match op {
        Op::In | Op::NotIn => parse_values(p)?,
        _ => parse_exact_value(p)?,
    };
    if matches!(op, Op::GreaterThan | Op::LessThan)
        && (values.len() != 1 || values[0].parse::<i64>().is_err())
    {
        return Err(format!(
            "for 'Gt', 'Lt' operators, the value must be an integer: {values:?}"
        ));
    }
    for v in &values {
        check_value(v)?;
    }
    Ok(Requirement { key, op, values })
}

fn parse_values(p: &mut Parser) -> Result<Vec<String>, String> {
    let t = p.next(true);
    if t != Token::Open {
        return Err(format!("found '{}' expected: '('", t.text()));
    }
    match p.peek(true) {
        Token::Identifier(_) | Token::Comma => {
            let values = parse_identifiers(p)?;
            let t = p.next(true);
            if t != Token::Close {
                return Err(format!("found '{}', expected: ')'", t.text()));
            }
            Ok(values)
        }
        // `()` is the empty value.
        Token::Close => {
            p.next(true);
            Ok(vec![String::new()])
        }
        t => Err(format!(
            "found '{}', expected: ',', ')' or identifier",
            t.text()
        )),
    }
}

/// apimachinery's `parseIdentifiersList`: values up to (not including) `)`; empty values
/// between commas are `""`.
fn parse_identifiers(p: &mut Parser) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let insert = |out: &mut Vec<String>, v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    loop {
        match p.next(true) {
            Token::Identifier(v) => {
                insert(&mut out, v);
                match p.peek(true) {
                    Token::Comma => {}
                    Token::Close => return Ok(out),
                    t => return Err(format!("found '{}', expected: ',' or ')'", t.text())),
                }
            }
            Token::Comma => {
                if out.is_empty() {
                    insert(&mut out, String::new());
                }
                match p.peek(true) {
                    Token::Close => {
                        insert(&mut out, String::new());
                        return Ok(out);
                    }
                    Token::Comma => {
                        p.next(true);
                        insert(&mut out, String::new());
                    }
                    _ => {}
                }
            }
            t => {
                return Err(format!(
                    "found '{}', expected: ',', or identifier",
                    t.text()
                ));
            }
        }
    }
}

fn parse_exact_value(p: &mut Parser) -> Result<Vec<String>, String> {
    match p.peek(true) {
        Token::End | Token::Comma => return Ok(vec![String::new()]),
        _ => {}
    }
    match p.next(true) {
        Token::Identifier(v) => Ok(vec![v]),
        t => Err(format!("found '{}', expected: identifier", t.text())),
    }
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// A label key: a qualified name (`[prefix/]name`).
fn check_key(key: &str) -> Result<(), String> {
    let ok = match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_name_part(name),
        None => is_name_part(key),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("key: Invalid value: {key:?}: not a qualified name"))
    }
}

/// A label value: empty, or up to 63 name characters.
fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "values[0]: Invalid value: {value:?}: not a valid label value"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn matches(selector: &str, labels: &[(&str, &str)]) -> bool {
        let reqs = parse_selector(selector).unwrap();
        reqs.iter().all(|r| r.matches(&set(labels)))
    }

    #[test]
    fn label_selector_syntax() {
        let l = [("app", "web"), ("tier", "front"), ("n", "5")];
        assert!(matches("", &l));
        assert!(matches("app=web", &l));
        assert!(matches("app==web", &l));
        assert!(!matches("app!=web", &l));
        assert!(matches("missing!=x", &l));
        assert!(matches("app in (web, api)", &l));
        assert!(!matches("app notin (web)", &l));
        assert!(matches("missing notin (web)", &l));
        assert!(matches("app,!missing", &l));
        assert!(!matches("!app", &l));
        assert!(matches("n>4,n<6", &l));
        assert!(!matches("n>5", &l));
        assert!(matches("app=web, tier = front", &l));
        assert!(matches("app in (in, web)", &l));
        assert!(matches("x=", &[("x", "")]));
        // `()` and empty items are the empty value.
        assert!(matches("x in ()", &[("x", "")]));
        assert!(matches("x in (a,)", &[("x", "")]));
        for bad in [
            "=web",
            "app in web",
            "a b",
            "app=web,",
            "n>x",
            "-a=b",
            "app in (a b)",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
        assert!(parse_selector("example.com/app=web").is_ok());
        assert!(parse_selector("Example.com/app=web").is_err());
    }
}
