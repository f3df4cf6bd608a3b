//! Custom resources validated as the API server validates them: a CRD version's
//! `openAPIV3Schema` (a structural schema) compiled once into a tree, then walked with the
//! object (issue 11; not wired into the check yet).
//!
//! The semantics are the API server's, not JSON Schema's (`RENDER-CRD-FACTS` C.1–C.4):
//! - a field the schema does not specify is pruned by the server; with
//!   `kubectl apply --validate=strict` (kubectl's default) it is an error: here
//!   `schema-unknown-field`, except under `x-kubernetes-preserve-unknown-fields`, and
//!   `apiVersion`/`kind`/`metadata` at the root and in embedded resources;
//! - `null` where the schema is not `nullable` is dropped before validation (so a required
//!   field set to `null` is missing);
//! - `integer` accepts a number without a fraction (`1.0`), as Kubernetes' JSON decoding does;
//! - `x-kubernetes-int-or-string` accepts an integer or a string;
//! - `x-kubernetes-list-type: set|map` rejects duplicates (map: by `x-kubernetes-list-map-keys`);
//! - `format`: only the formats the API server checks; any other is ignored;
//! - `x-kubernetes-validations`: CEL rules, evaluated at each node whose subtree passed the
//!   checks above ([`super::cel`]).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::SchemaError;
use super::cel;
use crate::parse::source_map::escape;
use crate::tree::Tree;

/// How deep a schema may nest before it is refused (a recursive or generated schema).
const MAX_DEPTH: usize = 128;

/// One node of a structural schema: what most nodes have, the rest in [`Extra`] (a node is
/// about 80 bytes instead of 400; a large CRD compiles to tens of thousands of them).
#[derive(Debug, Default)]
pub struct Node {
    ty: Option<Type>,
    format: Option<Format>,
    nullable: bool,
    preserve_unknown: bool,
    int_or_string: bool,
    embedded: bool,
    /// Whether this node or one below it has a `default`.
    defaults_below: bool,
    /// Whether this node or one below it has `x-kubernetes-validations`.
    rules_below: bool,
    properties: Vec<(String, Node)>,
    additional: Option<Box<Node>>,
    items: Option<Box<Node>>,
    required: Vec<String>,
    /// `None` when every field of it would be empty.
    extra: Option<Box<Extra>>,
}

/// The keywords few schema nodes have.
#[derive(Debug, Default)]
struct Extra {
    enumeration: Option<Vec<Value>>,
    list: ListType,
    pattern: Option<Arc<Pattern>>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    multiple_of: Option<f64>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
    default: Option<Value>,
    /// `x-kubernetes-validations`.
    rules: Vec<cel::Rule>,
}

/// What a node without [`Extra`] reads.
static NO_EXTRA: Extra = Extra {
    enumeration: None,
    list: ListType::Atomic,
    pattern: None,
    min_length: None,
    max_length: None,
    min_items: None,
    max_items: None,
    min_properties: None,
    max_properties: None,
    minimum: None,
    maximum: None,
    multiple_of: None,
    all_of: Vec::new(),
    any_of: Vec::new(),
    one_of: Vec::new(),
    not: None,
    default: None,
    rules: Vec::new(),
};

impl Extra {
    fn is_empty(&self) -> bool {
        let Extra {
            enumeration,
            list,
            pattern,
            min_length,
            max_length,
            min_items,
            max_items,
            min_properties,
            max_properties,
            minimum,
            maximum,
            multiple_of,
            all_of,
            any_of,
            one_of,
            not,
            default,
            rules,
        } = self;
        enumeration.is_none()
            && matches!(list, ListType::Atomic)
            && pattern.is_none()
            && [
                min_length,
                max_length,
                min_items,
                max_items,
                min_properties,
                max_properties,
            ]
            .iter()
            .all(|n| n.is_none())
            && minimum.is_none()
            && maximum.is_none()
            && multiple_of.is_none()
            && all_of.is_empty()
            && any_of.is_empty()
            && one_of.is_empty()
            && not.is_none()
            && default.is_none()
            && rules.is_empty()
    }
}

/// Where a schema node is, from the schema's root: the JSON pointer is written only when a
/// problem names it (compiling a large CRD visits tens of thousands of nodes).
struct At<'a> {
    parent: Option<&'a At<'a>>,
    /// The keyword that leads here (`properties`, `items`, `anyOf`...).
    seg: &'a str,
    /// The property or the index under it.
    name: Option<Name<'a>>,
}

#[derive(Clone, Copy)]
enum Name<'a> {
    Key(&'a str),
    Index(usize),
}

impl At<'_> {
    const ROOT: At<'static> = At {
        parent: None,
        seg: "",
        name: None,
    };

    fn pointer(&self) -> String {
        let Some(parent) = self.parent else {
            return String::new();
        };
        let mut out = parent.pointer();
        out.push('/');
        out.push_str(self.seg);
        match self.name {
            Some(Name::Key(k)) => {
                out.push('/');
                out.push_str(&escape(k));
            }
            Some(Name::Index(i)) => {
                out.push('/');
                out.push_str(&i.to_string());
            }
            None => {}
        }
        out
    }
}

/// A `pattern`, compiled on first use.
struct Pattern {
    source: String,
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

/// The source only: whether another thread compiled it already is no part of the schema.
impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl Pattern {
    /// The pattern `source`, one per process whatever the number of nodes that carry it
    /// (CRDs repeat a few: 4,016 patterns on `../shared/corpus`, 33 distinct), so each is
    /// parsed and compiled once; `Err` when it is no regular expression.
    fn shared(source: &str) -> Result<Arc<Pattern>, String> {
        use std::collections::HashMap;
        use std::sync::{LazyLock, Mutex, PoisonError};
        type Table = HashMap<String, Result<Arc<Pattern>, String>>;
        static PATTERNS: LazyLock<Mutex<Table>> = LazyLock::new(Mutex::default);
        let cached = PATTERNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(source)
            .cloned();
        if let Some(p) = cached {
            return p;
        }
        // Parsed now (a pattern that is no regular expression is the CRD's error),
        // compiled on first use: most patterns of a large CRD never meet a value.
        let parsed = match regex_syntax::Parser::new().parse(source) {
            Ok(_) => Ok(Arc::new(Pattern {
                source: source.to_owned(),
                compiled: std::sync::OnceLock::new(),
            })),
            Err(e) => Err(e.to_string()),
        };
        PATTERNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(source.to_owned())
            .or_insert(parsed)
            .clone()
    }

    fn is_match(&self, s: &str) -> bool {
        self.compiled
            .get_or_init(|| regex::Regex::new(&self.source).ok())
            .as_ref()
            // A pattern too large to compile checks nothing (the server's RE2 has limits too).
            .is_none_or(|re| re.is_match(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum ListType {
    #[default]
    Atomic,
    Set,
    Map(Vec<String>),
}

/// The formats the API server checks (`apiextensions-apiserver` `formats.go`); any other
/// format is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Uri,
    Email,
    Hostname,
    Ipv4,
    Ipv6,
    Cidr,
    Mac,
    Uuid,
    Byte,
    Date,
    DateTime,
    Duration,
    ShortName,
    LongName,
}

impl Format {
    fn of(name: &str) -> Option<Format> {
        // The server strips dashes first: `date-time` is `datetime`.
        Some(match name.replace('-', "").as_str() {
            "uri" => Format::Uri,
            "email" => Format::Email,
            "hostname" => Format::Hostname,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "cidr" => Format::Cidr,
            "mac" => Format::Mac,
            "uuid" | "uuid3" | "uuid4" | "uuid5" => Format::Uuid,
            "byte" => Format::Byte,
            "date" => Format::Date,
            "datetime" => Format::DateTime,
            "duration" => Format::Duration,
            "k8sshortname" => Format::ShortName,
            "k8slongname" => Format::LongName,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Uri => "uri",
            Format::Email => "email",
            Format::Hostname => "hostname",
            Format::Ipv4 => "ipv4",
            Format::Ipv6 => "ipv6",
            Format::Cidr => "cidr",
            Format::Mac => "mac",
            Format::Uuid => "uuid",
            Format::Byte => "byte",
            Format::Date => "date",
            Format::DateTime => "date-time",
            Format::Duration => "duration",
            Format::ShortName => "k8s-short-name",
            Format::LongName => "k8s-long-name",
        }
    }

    fn accepts(self, s: &str) -> bool {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let dns_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        match self {
            Format::Uri => url_like(s),
            Format::Email => s
                .split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !d.contains('@')),
            Format::Hostname => {
                s.len() <= 253
                    && s.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                            && !l.starts_with('-')
                            && !l.ends_with('-')
                    })
            }
            Format::Ipv4 => s.parse::<Ipv4Addr>().is_ok(),
            Format::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Format::Cidr => s.split_once('/').is_some_and(|(ip, bits)| {
                match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
                    (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
                    _ => false,
                }
            }),
            Format::Mac => {
                let parts: Vec<&str> = s.split([':', '-']).collect();
                matches!(parts.len(), 6 | 8 | 20)
                    && parts
                        .iter()
                        .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            }
            Format::Uuid => {
                let hex: String = s.chars().filter(|c| *c != '-').collect();
                hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Format::Byte => data_encoding::BASE64.decode(s.as_bytes()).is_ok(),
            Format::Date => is_date(s),
            Format::DateTime => is_date_time(s),
            Format::Duration => is_duration(s),
            Format::ShortName => dns_label(s),
            Format::LongName => s.len() <= 253 && s.split('.').all(dns_label),
        }
    }
}

fn url_like(s: &str) -> bool {
    // What Go's url.ParseRequestURI accepts, in short: an absolute URI or an absolute path.
    if s.starts_with('/') {
        return !s.contains(char::is_whitespace);
    }
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
                && !rest.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(_), Some(m), Some(d)) => (1..=12).contains(&m) && (1..=31).contains(&d),
        _ => false,
    }
}

fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't', ' ']) else {
        return false;
    };
    if !is_date(date) || time.len() < 8 {
        return false;
    }
    let b = time.as_bytes();
    let two = |i: usize| time.get(i..i + 2).and_then(|t| t.parse::<u32>().ok());
    if b[2] != b':' || b[5] != b':' {
        return false;
    }
    match (two(0), two(3), two(6)) {
        (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec <= 60 => {}
        _ => return false,
    }
    let mut rest = &time[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &frac[digits..];
    }
    match rest {
        "" | "Z" | "z" => true,
        zone => {
            let z = zone.as_bytes();
            z.len() == 6
                && matches!(z[0], b'+' | b'-')
                && z[3] == b':'
                && zone[1..3].parse::<u32>().is_ok()
                && zone[4..6].parse::<u32>().is_ok()
        }
    }
}

/// Go's `time.ParseDuration` (`1h30m`, `-1.5s`, `300ms`, `0`).
fn is_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 || rest[..n] == *"." {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// The keywords of one schema node that [`Node::compile`] reads, found in one pass.
#[derive(Default)]
struct Keywords<'v> {
    ty: Option<&'v Value>,
    nullable: Option<&'v Value>,
    preserve_unknown: Option<&'v Value>,
    int_or_string: Option<&'v Value>,
    embedded: Option<&'v Value>,
    required: Option<&'v Value>,
    enumeration: Option<&'v Value>,
    format: Option<&'v Value>,
    min_length: Option<&'v Value>,
    max_length: Option<&'v Value>,
    min_items: Option<&'v Value>,
    max_items: Option<&'v Value>,
    min_properties: Option<&'v Value>,
    max_properties: Option<&'v Value>,
    minimum: Option<&'v Value>,
    exclusive_minimum: Option<&'v Value>,
    maximum: Option<&'v Value>,
    exclusive_maximum: Option<&'v Value>,
    multiple_of: Option<&'v Value>,
    default: Option<&'v Value>,
    pattern: Option<&'v Value>,
    list_type: Option<&'v Value>,
    list_map_keys: Option<&'v Value>,
    properties: Option<&'v Value>,
    additional: Option<&'v Value>,
    items: Option<&'v Value>,
    all_of: Option<&'v Value>,
    any_of: Option<&'v Value>,
    one_of: Option<&'v Value>,
    not: Option<&'v Value>,
    validations: Option<&'v Value>,
}

impl<'v> Keywords<'v> {
    fn of(m: &'v serde_json::Map<String, Value>) -> Self {
        let mut k = Keywords::default();
        for (key, v) in m {
            if let Some(slot) = k.slot(key) {
                *slot = Some(v);
            }
        }
        k
    }

    /// Where the keyword `key` goes; `None` for a keyword compiling does not read.
    fn slot(&mut self, key: &str) -> Option<&mut Option<&'v Value>> {
        let k = self;
        Some(match key {
            "type" => &mut k.ty,
            "nullable" => &mut k.nullable,
            "x-kubernetes-preserve-unknown-fields" => &mut k.preserve_unknown,
            "x-kubernetes-int-or-string" => &mut k.int_or_string,
            "x-kubernetes-embedded-resource" => &mut k.embedded,
            "required" => &mut k.required,
            "enum" => &mut k.enumeration,
            "format" => &mut k.format,
            "minLength" => &mut k.min_length,
            "maxLength" => &mut k.max_length,
            "minItems" => &mut k.min_items,
            "maxItems" => &mut k.max_items,
            "minProperties" => &mut k.min_properties,
            "maxProperties" => &mut k.max_properties,
            "minimum" => &mut k.minimum,
            "exclusiveMinimum" => &mut k.exclusive_minimum,
            "maximum" => &mut k.maximum,
            "exclusiveMaximum" => &mut k.exclusive_maximum,
            "multipleOf" => &mut k.multiple_of,
            "default" => &mut k.default,
            "pattern" => &mut k.pattern,
            "x-kubernetes-list-type" => &mut k.list_type,
            "x-kubernetes-list-map-keys" => &mut k.list_map_keys,
            "properties" => &mut k.properties,
            "additionalProperties" => &mut k.additional,
            "items" => &mut k.items,
            "allOf" => &mut k.all_of,
            "anyOf" => &mut k.any_of,
            "oneOf" => &mut k.one_of,
            "not" => &mut k.not,
            "x-kubernetes-validations" => &mut k.validations,
            _ => return None,
        })
    }

    /// Whether compiling reads the keyword `key`.
    fn reads(key: &str) -> bool {
        Keywords::default().slot(key).is_some()
    }
}

/// A schema as compact JSON holding only what [`Node::compile`] reads: the keywords it
/// compiles and the subschemas under them, not `description`, `example` and the rest
/// (about half of a CRD's bytes). Compiling it gives what compiling `schema` gives. With a
/// hash of the whole schema, the parts left out included: equal for equal schemas
/// (`serde_json` writes object keys sorted, numbers one way). `None` only if the JSON
/// cannot be written, which a parsed value always can.
pub fn compact<T: Tree>(schema: &T) -> (Option<Box<str>>, u64) {
    use std::hash::{BuildHasher, Hasher};
    let left_out = std::cell::RefCell::new(foldhash::fast::FixedState::default().build_hasher());
    let nodes = std::cell::Cell::new(0);
    let text = serde_json::to_string(&Compiled {
        schema,
        left_out: &left_out,
        nodes: &nodes,
    })
    .ok()
    .map(String::into_boxed_str);
    let mut hash = left_out.into_inner();
    hash.write(text.as_deref().unwrap_or("").as_bytes());
    (text, hash.finish())
}

/// A schema node as [`compact`] writes it; what it leaves out goes to `left_out`, after the
/// node's number (in the order nodes are written), so that the hash still tells schemas
/// apart that differ only there.
struct Compiled<'a, T> {
    schema: &'a T,
    left_out: &'a std::cell::RefCell<foldhash::fast::FoldHasher<'static>>,
    nodes: &'a std::cell::Cell<u64>,
}

impl<T> Compiled<'_, T> {
    fn child<'b>(&'b self, schema: &'b T) -> Compiled<'b, T> {
        Compiled {
            schema,
            left_out: self.left_out,
            nodes: self.nodes,
        }
    }
}

/// Writes what it is given to a hasher.
struct HashWriter<'a>(&'a mut foldhash::fast::FoldHasher<'static>);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        std::hash::Hasher::write(self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<T: Tree> serde::Serialize for Compiled<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        use std::hash::Hasher;
        // Not a mapping: `Node::at` refuses it, the same way in either form.
        let Some(entries) = self.schema.entries() else {
            return self.schema.serialize(s);
        };
        let node = self.nodes.get();
        self.nodes.set(node + 1);
        // Written by serde_json only, which needs no length ahead.
        let mut out = s.serialize_map(None)?;
        for (key, v) in entries {
            if !Keywords::reads(key) {
                let mut hash = self.left_out.borrow_mut();
                hash.write_u64(node);
                hash.write(key.as_bytes());
                // Mostly a description: its bytes, not its JSON (no escaping to do).
                match v.as_str() {
                    Some(text) => {
                        hash.write_u8(0);
                        hash.write(text.as_bytes());
                    }
                    None => {
                        hash.write_u8(1);
                        let _ = serde_json::to_writer(HashWriter(&mut hash), v);
                    }
                }
                continue;
            }
            match key {
                "properties" if v.is_map() => {
                    out.serialize_entry(key, &Properties(self, v))?;
                }
                "additionalProperties" | "items" | "not" => {
                    out.serialize_entry(key, &self.child(v))?;
                }
                "allOf" | "anyOf" | "oneOf" if v.items().is_some() => {
                    out.serialize_entry(key, &Subschemas(self, v))?;
                }
                _ => out.serialize_entry(key, v)?,
            }
        }
        return out.end();

        /// A `properties` mapping: each property's schema compacted.
        struct Properties<'a, 'b, T>(&'a Compiled<'b, T>, &'a T);
        impl<T: Tree> serde::Serialize for Properties<'_, '_, T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut out = s.serialize_map(None)?;
                for (name, v) in self.1.entries().into_iter().flatten() {
                    out.serialize_entry(name, &self.0.child(v))?;
                }
                out.end()
            }
        }
        /// A list of subschemas, each compacted.
        struct Subschemas<'a, 'b, T>(&'a Compiled<'b, T>, &'a T);
        impl<T: Tree> serde::Serialize for Subschemas<'_, '_, T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let all = self.1.items().unwrap_or_default();
                let mut out = s.serialize_seq(Some(all.len()))?;
                for v in all {
                    out.serialize_element(&self.0.child(v))?;
                }
                out.end()
            }
        }
    }
}

/// Why a schema could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// JSON pointer to the offending place, from the `openAPIV3Schema` node.
    pub pointer: String,
    pub message: String,
}

impl Node {
    /// Compiles a CRD version's `openAPIV3Schema`.
    pub fn compile(schema: &Value) -> Result<Node, SchemaProblem> {
        Node::at(schema, &At::ROOT, 0, true)
    }

    /// Whether a CRD version's `openAPIV3Schema` compiles: [`Node::compile`]'s answer,
    /// each node let go of once checked (a megabyte CRD's compiled tree is never whole).
    pub fn check(schema: &Value) -> Result<(), SchemaProblem> {
        Node::at(schema, &At::ROOT, 0, false).map(drop)
    }

    /// The node at `at`, its children kept when `keep` (else checked and dropped).
    fn at(schema: &Value, at: &At<'_>, depth: usize, keep: bool) -> Result<Node, SchemaProblem> {
        let problem = |message: String| SchemaProblem {
            pointer: at.pointer(),
            message,
        };
        if depth > MAX_DEPTH {
            return Err(problem(format!(
                "the schema nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let Some(m) = schema.as_object() else {
            return Err(problem("a schema must be a mapping".into()));
        };
        // One pass over the node's keywords: a large CRD has tens of thousands of nodes,
        // and looking each keyword up in turn was most of the time its compile took.
        let k = Keywords::of(m);
        let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
        let count = |v: Option<&Value>| v.and_then(Value::as_u64);
        let number = |v: Option<&Value>| v.and_then(Value::as_f64);
        let child = |seg: &str, name: Option<Name<'_>>, v: &Value| {
            let here = At {
                parent: Some(at),
                seg,
                name,
            };
            Node::at(v, &here, depth + 1, keep)
        };
        let mut node = Node {
            ty: match k.ty.and_then(Value::as_str) {
                None | Some("") => None,
                Some("object") => Some(Type::Object),
                Some("array") => Some(Type::Array),
                Some("string") => Some(Type::String),
                Some("integer") => Some(Type::Integer),
                Some("number") => Some(Type::Number),
                Some("boolean") => Some(Type::Boolean),
                Some(other) => return Err(problem(format!("unknown type `{other}`"))),
            },
            nullable: flag(k.nullable),
            preserve_unknown: flag(k.preserve_unknown),
            int_or_string: flag(k.int_or_string),
            embedded: flag(k.embedded),
            required: k
                .required
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            format: k.format.and_then(Value::as_str).and_then(Format::of),
            ..Node::default()
        };
        let mut extra = Extra {
            enumeration: k.enumeration.and_then(Value::as_array).cloned(),
            min_length: count(k.min_length),
            max_length: count(k.max_length),
            min_items: count(k.min_items),
            max_items: count(k.max_items),
            min_properties: count(k.min_properties),
            max_properties: count(k.max_properties),
            minimum: number(k.minimum).map(|n| (n, flag(k.exclusive_minimum))),
            maximum: number(k.maximum).map(|n| (n, flag(k.exclusive_maximum))),
            multiple_of: number(k.multiple_of).filter(|n| *n > 0.0),
            default: k.default.cloned(),
            ..Extra::default()
        };
        if let Some(p) = k.pattern.and_then(Value::as_str) {
            extra.pattern = Some(
                Pattern::shared(p)
                    .map_err(|e| problem(format!("`pattern` does not compile: {e}")))?,
            );
        }
        extra.list = match k.list_type.and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                k.list_map_keys
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => ListType::Atomic,
        };
        if let Some(props) = k.properties.and_then(Value::as_object) {
            for (name, v) in props {
                let c = child("properties", Some(Name::Key(name)), v)?;
                if keep {
                    node.properties.push((name.clone(), c));
                }
            }
            node.properties.sort_by(|a, b| a.0.cmp(&b.0));
        }
        match k.additional {
            Some(Value::Bool(true)) => node.preserve_unknown = true,
            Some(v @ Value::Object(_)) => {
                let c = child("additionalProperties", None, v)?;
                node.additional = keep.then(|| Box::new(c));
            }
            _ => {}
        }
        if let Some(v) = k.items {
            let c = child("items", None, v)?;
            node.items = keep.then(|| Box::new(c));
        }
        for (key, found, into) in [
            ("allOf", k.all_of, &mut extra.all_of),
            ("anyOf", k.any_of, &mut extra.any_of),
            ("oneOf", k.one_of, &mut extra.one_of),
        ] {
            for (i, v) in found
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let c = child(key, Some(Name::Index(i)), v)?;
                if keep {
                    into.push(c);
                }
            }
        }
        if let Some(v) = k.not {
            let c = child("not", None, v)?;
            extra.not = keep.then(|| Box::new(c));
        }
        for (i, rule) in k
            .validations
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let compiled = cel::Rule::compile(rule).map_err(|message| SchemaProblem {
                pointer: format!("{}/x-kubernetes-validations/{i}", at.pointer()),
                message,
            })?;
            if keep {
                extra.rules.push(compiled);
            }
        }
        node.rules_below = !extra.rules.is_empty()
            || node.properties.iter().any(|(_, n)| n.rules_below)
            || node.additional.as_ref().is_some_and(|n| n.rules_below)
            || node.items.as_ref().is_some_and(|n| n.rules_below);
        node.defaults_below = extra.default.is_some()
            || node.properties.iter().any(|(_, n)| n.defaults_below)
            || node.additional.as_ref().is_some_and(|n| n.defaults_below)
            || node.items.as_ref().is_some_and(|n| n.defaults_below);
        node.extra = (!extra.is_empty()).then(|| Box::new(extra));
        Ok(node)
    }

    /// The keywords few nodes have.
    fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }

    /// Every CEL rule of the schema.
    #[cfg(test)]
    fn each_rule(&self, f: &mut impl FnMut(&cel::Rule)) {
        self.extra().rules.iter().for_each(&mut *f);
        let children = self
            .properties
            .iter()
            .map(|(_, n)| n)
            .chain(self.additional.as_deref())
            .chain(self.items.as_deref())
            .chain(&self.extra().all_of)
            .chain(&self.extra().any_of)
            .chain(&self.extra().one_of)
            .chain(self.extra().not.as_deref());
        for n in children {
            n.each_rule(f);
        }
    }

    fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| &self.properties[i].1)
    }

    /// Validates the object `value` (the whole custom resource) against this schema, its
    /// defaults applied first as the API server applies them.
    pub fn validate(&self, value: &Value) -> Vec<SchemaError> {
        self.validate_update(value, None)
    }

    /// [`Self::validate`] for an update from `old` (the object as the cluster has it):
    /// transition rules (`oldSelf`) run where the old object has a value correlated with
    /// the new one (the same property, map key or `x-kubernetes-list-type: map` item, as the
    /// API server correlates them); elsewhere, and without `old`, they are skipped.
    pub fn validate_update(&self, value: &Value, old: Option<&Value>) -> Vec<SchemaError> {
        let mut out = Vec::new();
        let defaulted;
        let value = if self.defaults_below {
            let mut v = value.clone();
            self.apply_defaults(&mut v);
            defaulted = v;
            &defaulted
        } else {
            value
        };
        // The stored object had its defaults applied when it was written.
        let old_defaulted;
        let old = match old {
            Some(o) if self.defaults_below && self.rules_below => {
                let mut v = o.clone();
                self.apply_defaults(&mut v);
                old_defaulted = v;
                Some(&old_defaulted)
            }
            other => other,
        };
        self.walk(value, &mut String::new(), Walk::Resource, &mut out);
        if self.rules_below {
            // The server skips CEL when earlier errors are of some kinds; here a node's
            // rules are skipped when its subtree has any error.
            let blocked: Vec<String> = out.iter().map(|e| e.pointer.clone()).collect();
            let mut run = cel::Run::default();
            self.cel_walk(
                value,
                old,
                &mut String::new(),
                true,
                &blocked,
                &mut run,
                &mut out,
            );
        }
        out
    }

    /// Evaluates the CEL rules of every node whose subtree is not `blocked` (has errors at
    /// or under it), parents before children.
    #[allow(clippy::too_many_arguments)]
    fn cel_walk(
        &self,
        value: &Value,
        old: Option<&Value>,
        ptr: &mut String,
        resource: bool,
        blocked: &[String],
        run: &mut cel::Run,
        out: &mut Vec<SchemaError>,
    ) {
        if !self.rules_below || value.is_null() {
            return;
        }
        let old = old.filter(|o| !o.is_null());
        if !self.extra().rules.is_empty() {
            let is_blocked = blocked.iter().any(|b| {
                b.strip_prefix(ptr.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            });
            if !is_blocked {
                let mut size = cel::Size::default();
                let this = self.to_cel(value, resource, &mut size);
                let old_this = old
                    .filter(|_| self.extra().rules.iter().any(cel::Rule::is_transition))
                    .map(|o| self.to_cel(o, resource, &mut size));
                run.node(&self.extra().rules, this, old_this, size, value, ptr, out);
            }
        }
        let len_before = ptr.len();
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if resource && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    if let Some(child) = self.property(key).or(self.additional.as_deref()) {
                        ptr.push('/');
                        ptr.push_str(&escape(key));
                        let old = old.and_then(|o| o.get(key));
                        child.cel_walk(v, old, ptr, child.embedded, blocked, run, out);
                        ptr.truncate(len_before);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(child) = &self.items {
                    // Items correlate with old ones only in a map list, by their keys.
                    let old_items = match (&self.extra().list, old) {
                        (ListType::Map(keys), Some(Value::Array(o))) if !keys.is_empty() => {
                            Some((keys, o))
                        }
                        _ => None,
                    };
                    for (i, v) in items.iter().enumerate() {
                        ptr.push('/');
                        ptr.push_str(&i.to_string());
                        let old = old_items.and_then(|(keys, o)| {
                            o.iter()
                                .find(|item| keys.iter().all(|k| item.get(k) == v.get(k)))
                        });
                        child.cel_walk(v, old, ptr, child.embedded, blocked, run, out);
                        ptr.truncate(len_before);
                    }
                }
            }
            _ => {}
        }
    }

    /// `value` as CEL rules see it (`apiserver/pkg/cel/common/schemas.go`): fields the
    /// schema does not declare (or declares without a type) are not visible, names are
    /// escaped, formats typed; at a resource's root, `apiVersion`, `kind` and
    /// `metadata.name`/`generateName` only of the metadata.
    fn to_cel(&self, value: &Value, resource: bool, size: &mut cel::Size) -> cel::Cel {
        use cel::Cel;
        if self.ty.is_none() && !self.int_or_string && !resource {
            return cel::untyped(value, size);
        }
        match value {
            Value::Null => Cel::Null,
            Value::Bool(b) => Cel::Bool(*b),
            Value::Number(n) => cel::number(n, self.ty == Some(Type::Number)),
            Value::String(s) => {
                size.saw_string(s.chars().count());
                if self.ty == Some(Type::String)
                    && !self.int_or_string
                    && let Some(f) = self.format
                    && let Some(c) = cel::formatted(s, f.name())
                {
                    return c;
                }
                Cel::String(std::sync::Arc::new(s.clone()))
            }
            Value::Array(items) => {
                size.saw(items.len());
                let list = items
                    .iter()
                    .map(|i| match &self.items {
                        Some(n) => n.to_cel(i, n.embedded, size),
                        None => cel::untyped(i, size),
                    })
                    .collect();
                Cel::List(std::sync::Arc::new(list))
            }
            Value::Object(map) => {
                size.saw(map.len());
                if let Some(add) = &self.additional {
                    let entries: Vec<(String, Cel)> = map
                        .iter()
                        .filter(|(_, v)| !v.is_null() || add.nullable)
                        .map(|(k, v)| (k.clone(), add.to_cel(v, add.embedded, size)))
                        .collect();
                    return cel::map(entries.into_iter());
                }
                let mut entries = Vec::new();
                for (key, v) in map {
                    if resource {
                        match key.as_str() {
                            "apiVersion" | "kind" => {
                                if let Some(s) = v.as_str() {
                                    entries.push((key.clone(), Cel::String(s.to_owned().into())));
                                }
                                continue;
                            }
                            "metadata" => {
                                let meta: Vec<(String, Cel)> = ["name", "generateName"]
                                    .into_iter()
                                    .filter_map(|k| {
                                        let s = v.get(k)?.as_str()?;
                                        Some((k.to_owned(), Cel::String(s.to_owned().into())))
                                    })
                                    .collect();
                                entries.push((key.clone(), cel::map(meta.into_iter())));
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let Some(child) = self.property(key) else {
                        continue;
                    };
                    if (v.is_null() && !child.nullable)
                        || (child.ty.is_none() && !child.int_or_string)
                    {
                        continue;
                    }
                    if let Some(name) = cel::escape(key) {
                        entries.push((name, child.to_cel(v, child.embedded, size)));
                    }
                }
                cel::map(entries.into_iter())
            }
        }
    }

    /// Sets every absent field that has a `default` (a `null` one too, when the field is
    /// not nullable), at every depth of the structural schema.
    fn apply_defaults(&self, value: &mut Value) {
        if !self.defaults_below {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in &self.properties {
                    if let Some(d) = &child.extra().default {
                        let absent = match map.get(key) {
                            None => true,
                            Some(Value::Null) => !child.nullable,
                            Some(_) => false,
                        };
                        if absent {
                            map.insert(key.clone(), d.clone());
                        }
                    }
                }
                for (key, v) in map.iter_mut() {
                    if let Some(child) = self.property(key).or(self.additional.as_deref()) {
                        child.apply_defaults(v);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(child) = &self.items {
                    items.iter_mut().for_each(|v| child.apply_defaults(v));
                }
            }
            _ => {}
        }
    }

    fn walk(&self, value: &Value, ptr: &mut String, how: Walk, out: &mut Vec<SchemaError>) {
        let error = |rule: &'static str, message: String, ptr: &str, at_key: bool| SchemaError {
            rule,
            message,
            pointer: ptr.to_owned(),
            at_key,
            help: None,
        };
        let field = super::dotted(ptr);
        let field = super::or_root(&field);
        if value.is_null() {
            // Dropped by the server unless nullable; either way nothing more to check.
            return;
        }
        if self.int_or_string {
            if !(is_integer(value) || value.is_string()) {
                out.push(error(
                    "schema-type",
                    format!(
                        "`{field}` must be an integer or a string, not {}",
                        super::describe(value)
                    ),
                    ptr,
                    false,
                ));
                return;
            }
        } else if let Some(ty) = self.ty {
            let ok = match ty {
                Type::Object => value.is_object(),
                Type::Array => value.is_array(),
                Type::String => value.is_string(),
                Type::Integer => is_integer(value),
                Type::Number => value.is_number(),
                Type::Boolean => value.is_boolean(),
            };
            if !ok {
                let expected = ty.name();
                out.push(error(
                    "schema-type",
                    format!(
                        "`{field}` must be {} {expected}, not {}",
                        super::article(expected),
                        super::describe(value)
                    ),
                    ptr,
                    false,
                ));
                return;
            }
        }
        if let Some(options) = &self.extra().enumeration
            && !options.iter().any(|o| same(o, value))
        {
            let allowed = options
                .iter()
                .map(|o| format!("`{}`", o.as_str().map_or(o.to_string(), str::to_owned)))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(error(
                "schema-enum",
                format!(
                    "`{field}` must be one of {allowed}, not {}",
                    super::describe(value)
                ),
                ptr,
                false,
            ));
        }
        match value {
            Value::String(s) => self.string(s, field, ptr, out),
            Value::Number(n) => self.number(n, field, ptr, out),
            Value::Array(items) => self.array(items, field, ptr, how, out),
            Value::Object(map) => self.object(map, field, ptr, how, out),
            _ => {}
        }
        for n in &self.extra().all_of {
            n.walk(value, ptr, Walk::Branch, out);
        }
        let quiet = |n: &Node| {
            let mut errs = Vec::new();
            n.walk(value, &mut ptr.clone(), Walk::Branch, &mut errs);
            errs.is_empty()
        };
        if !self.extra().any_of.is_empty() && !self.extra().any_of.iter().any(quiet) {
            out.push(error(
                "schema-invalid",
                format!("`{field}` matches none of the schemas `anyOf` lists"),
                ptr,
                false,
            ));
        }
        if !self.extra().one_of.is_empty()
            && self.extra().one_of.iter().filter(|n| quiet(n)).count() != 1
        {
            out.push(error(
                "schema-invalid",
                format!("`{field}` must match exactly one of the schemas `oneOf` lists"),
                ptr,
                false,
            ));
        }
        if let Some(n) = &self.extra().not
            && quiet(n)
        {
            out.push(error(
                "schema-invalid",
                format!("`{field}` matches the schema `not` forbids"),
                ptr,
                false,
            ));
        }
    }

    fn string(&self, s: &str, field: &str, ptr: &str, out: &mut Vec<SchemaError>) {
        let len = s.chars().count() as u64;
        let bound = |rule: &'static str, message: String| SchemaError {
            rule,
            message,
            pointer: ptr.to_owned(),
            at_key: false,
            help: None,
        };
        counted(
            out,
            ptr,
            field,
            len,
            (self.extra().min_length, self.extra().max_length),
            "characters",
        );
        if let Some(p) = &self.extra().pattern
            && !p.is_match(s)
        {
            out.push(bound(
                "schema-format",
                format!(
                    "`{field}` must be a string matching `{}`, not {}",
                    p.source,
                    super::describe(&Value::String(s.to_owned()))
                ),
            ));
        }
        if let Some(f) = self.format
            && !f.accepts(s)
        {
            out.push(bound(
                "schema-format",
                format!(
                    "`{field}` must be a valid {}, not {}",
                    f.name(),
                    super::describe(&Value::String(s.to_owned()))
                ),
            ));
        }
    }

    fn number(&self, n: &serde_json::Number, field: &str, ptr: &str, out: &mut Vec<SchemaError>) {
        let Some(x) = n.as_f64() else { return };
        let mut fail = |message: String| {
            out.push(SchemaError {
                rule: "schema-invalid",
                message,
                pointer: ptr.to_owned(),
                at_key: false,
                help: None,
            })
        };
        if let Some((min, exclusive)) = self.extra().minimum
            && (x < min || exclusive && x == min)
        {
            let than = if exclusive {
                "greater than"
            } else {
                "at least"
            };
            fail(format!("`{field}` must be {than} {min}, not {n}"));
        }
        if let Some((max, exclusive)) = self.extra().maximum
            && (x > max || exclusive && x == max)
        {
            let than = if exclusive { "less than" } else { "at most" };
            fail(format!("`{field}` must be {than} {max}, not {n}"));
        }
        if let Some(m) = self.extra().multiple_of
            && ((x / m) - (x / m).round()).abs() > 1e-9
        {
            fail(format!("`{field}` must be a multiple of {m}, not {n}"));
        }
    }

    fn array(
        &self,
        items: &[Value],
        field: &str,
        ptr: &mut String,
        how: Walk,
        out: &mut Vec<SchemaError>,
    ) {
        let len = items.len() as u64;
        counted(
            out,
            ptr,
            field,
            len,
            (self.extra().min_items, self.extra().max_items),
            "items",
        );
        // Duplicates of a set or a map list, each reported at the later item.
        let key_of = |v: &Value| -> Option<Vec<Value>> {
            match &self.extra().list {
                ListType::Atomic => None,
                ListType::Set => Some(vec![v.clone()]),
                ListType::Map(keys) => Some(
                    keys.iter()
                        .map(|k| v.get(k).cloned().unwrap_or(Value::Null))
                        .collect(),
                ),
            }
        };
        let mut seen: Vec<Vec<Value>> = Vec::new();
        let len_before = ptr.len();
        for (i, item) in items.iter().enumerate() {
            ptr.push('/');
            ptr.push_str(&i.to_string());
            if let Some(key) = key_of(item) {
                if seen
                    .iter()
                    .any(|k| k.iter().zip(&key).all(|(a, b)| same(a, b)))
                {
                    let what = match &self.extra().list {
                        ListType::Map(keys) => format!(
                            "duplicate entry for key {}",
                            keys.iter()
                                .zip(&key)
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => format!("duplicate value {}", super::describe(item)),
                    };
                    out.push(invalid(ptr, format!("`{}`: {what}", super::dotted(ptr))));
                } else {
                    seen.push(key);
                }
            }
            if let Some(schema) = &self.items {
                schema.walk(item, ptr, how.below(), out);
            }
            ptr.truncate(len_before);
        }
    }

    fn object(
        &self,
        map: &Map<String, Value>,
        field: &str,
        ptr: &mut String,
        how: Walk,
        out: &mut Vec<SchemaError>,
    ) {
        let resource = how == Walk::Resource || self.embedded;
        for name in &self.required {
            let present = map
                .get(name)
                .is_some_and(|v| !v.is_null() || self.nullable_child(name));
            if !present {
                let full = if ptr.is_empty() {
                    name.clone()
                } else {
                    format!("{}.{name}", super::dotted(ptr))
                };
                out.push(SchemaError {
                    rule: "schema-required",
                    message: format!("missing required field `{full}`"),
                    pointer: ptr.clone(),
                    at_key: true,
                    help: None,
                });
            }
        }
        if self.embedded {
            for name in ["apiVersion", "kind"] {
                if map
                    .get(name)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    out.push(SchemaError {
                        rule: "schema-required",
                        message: format!(
                            "missing required field `{}.{name}` (an embedded resource)",
                            super::or_root(&super::dotted(ptr))
                        ),
                        pointer: ptr.clone(),
                        at_key: true,
                        help: None,
                    });
                }
            }
        }
        let n = map.len() as u64;
        counted(
            out,
            ptr,
            field,
            n,
            (self.extra().min_properties, self.extra().max_properties),
            "fields",
        );
        let len_before = ptr.len();
        for (key, value) in map {
            let schema = self.property(key).or(self.additional.as_deref());
            ptr.push('/');
            ptr.push_str(&escape(key));
            match schema {
                // A resource's `metadata` is ObjectMeta whatever the CRD says of it (it may
                // only restrict `name` and `generateName`): validated as for built-in kinds.
                _ if resource && key == "metadata" => {}
                Some(s) => s.walk(value, ptr, how.below(), out),
                None if resource && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") => {}
                None if self.preserve_unknown => {}
                // What a combinator branch does not name, the structural schema decides.
                None if how == Walk::Branch => {}
                None => {
                    let allowed: Vec<String> =
                        self.properties.iter().map(|(k, _)| k.clone()).collect();
                    out.push(SchemaError {
                        rule: "schema-unknown-field",
                        message: format!("unknown field `{}`", super::dotted(ptr)),
                        pointer: ptr.clone(),
                        at_key: true,
                        help: super::suggest(key, &allowed).map(|s| format!("did you mean `{s}`?")),
                    });
                }
            }
            ptr.truncate(len_before);
        }
    }

    fn nullable_child(&self, name: &str) -> bool {
        self.property(name).is_some_and(|n| n.nullable)
    }
}

/// A `schema-invalid` error at `ptr`.
fn invalid(ptr: &str, message: String) -> SchemaError {
    SchemaError {
        rule: "schema-invalid",
        message,
        pointer: ptr.to_owned(),
        at_key: false,
        help: None,
    }
}

/// `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/`maxProperties`:
/// `count` things against the bounds.
fn counted(
    out: &mut Vec<SchemaError>,
    ptr: &str,
    field: &str,
    count: u64,
    (min, max): (Option<u64>, Option<u64>),
    things: &str,
) {
    if let Some(min) = min.filter(|m| count < *m) {
        out.push(invalid(
            ptr,
            format!("`{field}` must have at least {min} {things}, not {count}"),
        ));
    }
    if let Some(max) = max.filter(|m| count > *m) {
        out.push(invalid(
            ptr,
            format!("`{field}` may have at most {max} {things}, not {count}"),
        ));
    }
}

/// Where a walk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// At the root of a resource: `apiVersion`, `kind` and `metadata` need no schema.
    Resource,
    /// Below the root, in the structural schema: it decides what is pruned.
    Field,
    /// In an `allOf`/`anyOf`/`oneOf`/`not` branch: value validations only.
    Branch,
}

impl Walk {
    fn below(self) -> Walk {
        match self {
            Walk::Resource | Walk::Field => Walk::Field,
            Walk::Branch => Walk::Branch,
        }
    }
}

/// An integer as Kubernetes decodes JSON: a number without a fraction.
fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Equality as the API server compares JSON values (numbers by value: `1` is `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The compact form leaves out what compiling does not read, yet tells apart schemas
    /// that differ only there (a CRD redefined with other descriptions is a conflict).
    #[test]
    fn compact_keeps_what_compiling_reads_and_hashes_the_rest() {
        let schema = json!({
            "type": "object",
            "description": "top",
            "properties": {
                "description": {"type": "string", "description": "a field named description"},
                "size": {"type": "integer", "minimum": 1, "example": 3,
                         "default": {"description": "a value, kept"}},
            },
            "additionalProperties": false,
            "x-kubernetes-validations": [{"rule": "self.size > 0", "message": "m"}],
        });
        let (text, hash) = compact(&schema);
        assert_eq!(
            text.as_deref(),
            Some(
                r#"{"additionalProperties":false,"properties":{"description":{"type":"string"},"size":{"default":{"description":"a value, kept"},"minimum":1,"type":"integer"}},"type":"object","x-kubernetes-validations":[{"message":"m","rule":"self.size > 0"}]}"#
            )
        );
        assert_eq!(compact(&schema.clone()).1, hash);
        let mut other = schema.clone();
        other["properties"]["size"]["description"] = json!("now described");
        assert_eq!(compact(&other).0, text);
        assert_ne!(compact(&other).1, hash);
        // The same description on another node is another schema too.
        let mut moved = schema.clone();
        moved["properties"]["description"]["description"] = json!("top");
        moved["description"] = json!("a field named description");
        assert_ne!(compact(&moved).1, hash);
    }

    fn schema() -> Node {
        Node::compile(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["replicas"],
                    "properties": {
                        "replicas": {"type": "integer", "minimum": 1},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "when": {"type": "string", "format": "date-time"},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                  "items": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                  "x-kubernetes-list-map-keys": ["port"],
                                  "items": {"type": "object", "properties": {
                                      "port": {"type": "integer"}, "name": {"type": "string"}}}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                     "x-kubernetes-preserve-unknown-fields": true},
                        "opt": {"type": "string", "nullable": true}
                    }
                }
            }
        }))
        .unwrap()
    }

    fn errors(v: Value) -> Vec<(String, &'static str)> {
        schema()
            .validate(&v)
            .into_iter()
            .map(|e| (e.pointer, e.rule))
            .collect()
    }

    #[test]
    fn a_valid_object_passes() {
        let v = json!({
            "apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "n"},
            "spec": {"replicas": 2.0, "mode": "a", "port": "http", "when": "2024-01-02T03:04:05Z",
                     "name": "abc", "extra": {"anything": [1]}, "labels": {"a": "b"},
                     "tags": ["x", "y"], "ports": [{"port": 80}, {"port": 443}],
                     "template": {"apiVersion": "v1", "kind": "Pod", "spec": {}}, "opt": null}
        });
        assert_eq!(errors(v), vec![]);
    }

    #[test]
    fn each_violation_is_found_at_its_pointer() {
        let v = json!({
            "apiVersion": "x.io/v1", "kind": "X",
            "spec": {"replicas": 0, "mode": "c", "port": true, "when": "yesterday",
                     "name": "ABCDEFG", "typo": 1, "labels": {"a": 1},
                     "tags": ["x", "x"], "ports": [{"port": 80}, {"port": 80.0}],
                     "template": {"spec": {}}}
        });
        let found = errors(v);
        for (ptr, rule) in [
            ("/spec/replicas", "schema-invalid"),
            ("/spec/mode", "schema-enum"),
            ("/spec/port", "schema-type"),
            ("/spec/when", "schema-format"),
            ("/spec/name", "schema-format"),
            ("/spec/name", "schema-invalid"),
            ("/spec/typo", "schema-unknown-field"),
            ("/spec/labels/a", "schema-type"),
            ("/spec/tags/1", "schema-invalid"),
            ("/spec/ports/1", "schema-invalid"),
            ("/spec/template", "schema-required"),
        ] {
            assert!(
                found.contains(&(ptr.to_owned(), rule)),
                "{ptr} {rule} not in {found:?}"
            );
        }
        assert_eq!(found.len(), 12, "{found:?}");
    }

    #[test]
    fn a_null_required_field_is_missing_and_unknown_root_fields_are_errors() {
        let found = errors(json!({"apiVersion": "x.io/v1", "kind": "X", "specs": {},
                                  "spec": {"replicas": null}}));
        assert!(
            found.contains(&("/spec".to_owned(), "schema-required")),
            "{found:?}"
        );
        assert!(
            found.contains(&("/specs".to_owned(), "schema-unknown-field")),
            "{found:?}"
        );
    }

    #[test]
    fn defaults_are_applied_before_validation() {
        // The Gateway API's address: `type` defaults to IPAddress, which decides the
        // `oneOf` branch.
        let n = Node::compile(&json!({"type": "object", "properties": {"a": {
            "type": "array", "items": {"type": "object",
                "properties": {"type": {"type": "string", "default": "IP"},
                               "value": {"type": "string"}},
                "oneOf": [
                    {"properties": {"type": {"enum": ["IP"]}, "value": {"format": "ipv4"}}},
                    {"properties": {"type": {"not": {"enum": ["IP"]}}}}]}}}}))
        .unwrap();
        let ok = json!({"a": [{"value": "1.2.3.4"}, {"type": "Host", "value": "x"}]});
        assert_eq!(n.validate(&ok).len(), 0, "{:?}", n.validate(&ok));
        let bad = json!({"a": [{"value": "x"}]});
        assert_eq!(n.validate(&bad).len(), 1);
    }

    #[test]
    fn bad_schemas_are_problems_not_panics() {
        assert!(
            Node::compile(&json!({"type": "object", "properties": {"a": {"pattern": "("}}}))
                .is_err()
        );
        assert!(Node::compile(&json!({"type": "nothing"})).is_err());
        // `check` gives `compile`'s answer without keeping the tree.
        for schema in [
            json!({"type": "nothing"}),
            json!({"type": "object", "properties": {"a": {"pattern": "("}}}),
            json!({"type": "object", "properties": {"a": {"items": {"type": "bad"}}}}),
            json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a +"}]}),
            json!({"type": "object", "properties": {"a": {"type": "string"}}}),
        ] {
            assert_eq!(
                Node::check(&schema),
                Node::compile(&schema).map(drop),
                "{schema}"
            );
        }
        let mut deep = json!({"type": "string"});
        for _ in 0..500 {
            deep = json!({"type": "object", "properties": {"a": deep}});
        }
        let e = Node::compile(&deep).unwrap_err();
        assert!(e.message.contains("deeper"), "{e:?}");
    }

    #[test]
    fn formats_follow_the_api_server() {
        for (f, good, bad) in [
            ("date-time", "2024-01-02T03:04:05.5+01:00", "2024-01-02"),
            ("date", "2024-01-02", "2024-13-02"),
            ("duration", "1h30m", "90"),
            ("ipv4", "10.0.0.1", "10.0.0.256"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123"),
            ("k8s-short-name", "web-1", "Web"),
            ("byte", "aGk=", "!!"),
            ("uri", "https://example.com/x", "not a uri"),
        ] {
            let f = Format::of(f).unwrap();
            assert!(f.accepts(good), "{f:?} {good}");
            assert!(!f.accepts(bad), "{f:?} {bad}");
        }
        assert!(Format::of("int32").is_none());
    }

    fn cel_schema(rules: Value, props: Value) -> Node {
        Node::compile(&json!({"type": "object", "properties": {"spec": {
            "type": "object", "properties": props, "x-kubernetes-validations": rules}}}))
        .unwrap()
    }

    fn cel_errors(n: &Node, spec: Value) -> Vec<(String, &'static str, String)> {
        n.validate(&json!({"apiVersion": "x.io/v1", "kind": "X", "spec": spec}))
            .into_iter()
            .map(|e| (e.pointer, e.rule, e.message))
            .collect()
    }

    #[test]
    fn gateway_api_path_match_rules() {
        // HTTPRoute `spec.rules[].matches[].path`, defaults included.
        let n = Node::compile(&json!({"type": "object", "properties": {"path": {
            "type": "object", "default": {"type": "PathPrefix", "value": "/"},
            "properties": {
                "type": {"type": "string", "default": "PathPrefix",
                         "enum": ["Exact", "PathPrefix", "RegularExpression"]},
                "value": {"type": "string", "default": "/", "maxLength": 1024}},
            "x-kubernetes-validations": [
                {"message": "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
                 "rule": "(self.type in ['Exact','PathPrefix']) ? self.value.startsWith('/') : true"},
                {"message": "must not contain '//' when type one of ['Exact', 'PathPrefix']",
                 "rule": "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('//') : true"}]}}}))
        .unwrap();
        assert_eq!(n.validate(&json!({})), vec![]);
        assert_eq!(n.validate(&json!({"path": {"value": "/a/b"}})), vec![]);
        assert_eq!(
            n.validate(&json!({"path": {"type": "RegularExpression", "value": "a//"}})),
            vec![]
        );
        let e = n.validate(&json!({"path": {"value": "a//b"}}));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e.iter()
                .all(|e| e.rule == "schema-cel" && e.pointer == "/path")
        );
        assert!(e[0].message.starts_with("value must be an absolute path"));
        // An enum error blocks the rules of the node.
        let e = n.validate(&json!({"path": {"type": "Prefix", "value": "a"}}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].rule, "schema-enum");
    }

    #[test]
    fn gateway_api_listener_rules() {
        let n = Node::compile(&json!({"type": "object", "properties": {"listeners": {
            "type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name", "port", "protocol"], "properties": {
                "name": {"type": "string"}, "hostname": {"type": "string"},
                "port": {"type": "integer"}, "protocol": {"type": "string"},
                "tls": {"type": "object", "properties": {"mode": {"type": "string"}}}}},
            "x-kubernetes-validations": [
                {"message": "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
                 "rule": "self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)"},
                {"message": "hostname must not be specified for protocols ['TCP', 'UDP']",
                 "rule": "self.all(l, l.protocol in ['TCP', 'UDP']  ? (!has(l.hostname) || l.hostname == '') : true)"},
                {"message": "Combination of port, protocol and hostname must be unique for each listener",
                 "rule": "self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == l2.protocol && (has(l1.hostname) && has(l2.hostname) ? l1.hostname == l2.hostname : !has(l1.hostname) && !has(l2.hostname))))"}]}}}))
        .unwrap();
        let ok = json!({"listeners": [
            {"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"},
            {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "b.example.com"},
            {"name": "c", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate"}}]});
        assert_eq!(n.validate(&ok), vec![]);
        let bad = json!({"listeners": [
            {"name": "a", "port": 80, "protocol": "HTTP", "tls": {}},
            {"name": "b", "port": 80, "protocol": "HTTP"},
            {"name": "c", "port": 53, "protocol": "UDP", "hostname": "x"}]});
        let e: Vec<String> = n.validate(&bad).into_iter().map(|e| e.message).collect();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("tls must not"), "{e:?}");
        assert!(e[1].starts_with("hostname must not"), "{e:?}");
        assert!(e[2].starts_with("Combination"), "{e:?}");
    }

    #[test]
    fn cel_messages_field_paths_and_escaped_names() {
        let n = cel_schema(
            json!([
                {"rule": "self.min <= self.max"},
                {"rule": "self.min != 3", "message": "min is not 3"},
                {"rule": "self.min != 4", "messageExpression": "'min is ' + string(self.min)"},
                {"rule": "self.min != 5", "fieldPath": ".min", "message": "five"},
                {"rule": "self.min != 6", "fieldPath": ".x-y", "message": "six"},
                {"rule": "!has(self.x__dash__y) || self.x__dash__y != 'no'", "message": "no"},
            ]),
            json!({"min": {"type": "integer"}, "max": {"type": "integer"},
                   "x-y": {"type": "string"}}),
        );
        let at = |min: i64, max: i64| cel_errors(&n, json!({"min": min, "max": max}));
        assert_eq!(at(1, 2), vec![]);
        assert_eq!(
            at(2, 1),
            vec![(
                "/spec".into(),
                "schema-cel",
                "failed rule: self.min <= self.max".into()
            )]
        );
        assert_eq!(at(3, 9)[0].2, "min is not 3");
        assert_eq!(at(4, 9)[0].2, "min is 4");
        assert_eq!(at(5, 9)[0].0, "/spec/min");
        // `fieldPath` to a field the object does not have: the node.
        assert_eq!(at(6, 9)[0].0, "/spec");
        let e = cel_errors(&n, json!({"min": 6, "max": 9, "x-y": "no"}));
        assert_eq!(
            e.iter()
                .map(|e| (e.0.as_str(), e.2.as_str()))
                .collect::<Vec<_>>(),
            vec![("/spec/x-y", "six"), ("/spec", "no")]
        );
    }

    #[test]
    fn what_the_interpreter_cannot_do_is_no_error() {
        let n = cel_schema(
            json!([
                {"rule": "self.name.noSuchFunction()"},
                {"rule": "self.all(k, v, v != '')"},
                {"rule": "self.name == 'a' && self.missing == 1"},
                {"rule": "self.name == oldSelf.name"},
            ]),
            json!({"name": {"type": "string"}, "missing": {"type": "integer"}}),
        );
        let e = cel_errors(&n, json!({"name": "a"}));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e.iter().all(|e| e.1 == "cel-unsupported"), "{e:?}");
        assert!(e[0].2.contains("noSuchFunction"), "{e:?}");
        assert!(e[1].2.contains("two-variable"), "{e:?}");
        assert!(e[2].2.contains("missing"), "{e:?}");
        // Once per rule and object, not per node.
        let n = Node::compile(
            &json!({"type": "object", "properties": {"l": {"type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.nope()"}]}}}}),
        )
        .unwrap();
        assert_eq!(n.validate(&json!({"l": ["a", "b", "c"]})).len(), 1);
        // A panic in the interpreter (message construction) is said, not raised.
        let n = cel_schema(json!([{"rule": "T{a: 1} == self"}]), json!({}));
        let e = cel_errors(&n, json!({}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, "cel-unsupported");
    }

    #[test]
    fn transition_rules_compare_with_the_correlated_old_value() {
        let n = Node::compile(&json!({"type": "object", "properties": {"spec": {
            "type": "object",
            "properties": {
                "class": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self == oldSelf", "message": "class is immutable"}]},
                "size": {"type": "integer", "default": 1, "x-kubernetes-validations": [
                    {"rule": "self >= oldSelf", "message": "size cannot shrink"}]},
                "tier": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "!oldSelf.hasValue() || oldSelf.value() != 'gold' || self == 'gold'",
                     "optionalOldSelf": true, "message": "gold stays gold"}]},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"},
                        "port": {"type": "integer", "x-kubernetes-validations": [
                            {"rule": "self == oldSelf", "message": "a port is immutable"}]}}}},
                "tags": {"type": "array", "items": {"type": "string",
                    "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}}}))
        .unwrap();
        let new = json!({"spec": {"class": "a", "size": 2, "tier": "gold",
            "ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}],
            "tags": ["x"]}});
        let errors = |new: &Value, old: Option<&Value>| -> Vec<(String, String)> {
            n.validate_update(new, old)
                .into_iter()
                .map(|e| (e.pointer, e.message))
                .collect()
        };
        // A create: no old value, transition rules skipped (`optionalOldSelf` ones run).
        assert_eq!(errors(&new, None), vec![]);
        // An update that changes nothing.
        assert_eq!(errors(&new, Some(&new)), vec![]);
        // An update that breaks each rule; the list items correlate by their key, not their
        // index; set-like lists (`tags`) do not correlate.
        let old = json!({"spec": {"class": "b", "size": 3, "tier": "gold",
            "ports": [{"name": "grpc", "port": 90}, {"name": "http", "port": 81}],
            "tags": ["y"]}});
        let mut changed = new.clone();
        changed["spec"]["tier"] = json!("silver");
        assert_eq!(
            errors(&changed, Some(&old)),
            vec![
                ("/spec/class".into(), "class is immutable".into()),
                ("/spec/ports/0/port".into(), "a port is immutable".into()),
                ("/spec/size".into(), "size cannot shrink".into()),
                ("/spec/tier".into(), "gold stays gold".into()),
            ]
        );
        // Defaults apply to both sides: an old object without `size` had 1.
        let mut no_size = new.clone();
        no_size["spec"].as_object_mut().unwrap().remove("size");
        let mut grown = old.clone();
        grown["spec"] = json!({"class": "a"});
        assert_eq!(errors(&no_size, Some(&grown)), vec![]);
        // A field the old object did not have: its rules are skipped.
        assert_eq!(errors(&new, Some(&json!({"spec": {}}))), vec![]);
    }

    #[test]
    fn runaway_rules_are_not_evaluated() {
        let n = Node::compile(
            &json!({"type": "object", "properties": {"l": {"type": "array",
            "items": {"type": "integer"},
            "x-kubernetes-validations": [
                {"rule": "self.all(x, self.all(y, self.all(z, x + y + z >= 0)))"},
                {"rule": "self.all(x, x >= 0)"}]}}}),
        )
        .unwrap();
        let list: Vec<i64> = (0..1000).collect();
        let start = std::time::Instant::now();
        let e = n.validate(&json!({ "l": list }));
        assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].rule, "cel-unsupported");
        assert!(e[0].message.contains("per-call limit"), "{e:?}");
        // Many rules: the per-object budget.
        let rules: Vec<Value> = (0..400)
            .map(|i| json!({"rule": format!("self.all(x, self.all(y, x != {i} || y >= 0))")}))
            .collect();
        let n = Node::compile(
            &json!({"type": "object", "properties": {"l": {"type": "array",
            "items": {"type": "integer"}, "x-kubernetes-validations": rules}}}),
        )
        .unwrap();
        let list: Vec<i64> = (0..60).collect();
        let e = n.validate(&json!({ "l": list }));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains("per-object budget"), "{e:?}");
    }

    #[test]
    fn cel_sees_the_schema_types() {
        let n = cel_schema(
            json!([
                {"rule": "self.when < timestamp('2030-01-01T00:00:00Z')"},
                {"rule": "self.every > duration('1m')"},
                {"rule": "self.port == 80 || self.port == 'http'"},
                {"rule": "self.ratio == 1.0"},
                {"rule": "!has(self.hidden)"},
                {"rule": "self.labels['app.kubernetes.io/name'] == 'x'"},
            ]),
            json!({"when": {"type": "string", "format": "date-time"},
                   "every": {"type": "string", "format": "duration"},
                   "port": {"x-kubernetes-int-or-string": true},
                   "ratio": {"type": "number"},
                   "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}}}),
        );
        let spec = json!({"when": "2024-01-02T03:04:05Z", "every": "1h", "port": "http",
                          "ratio": 1, "labels": {"app.kubernetes.io/name": "x"}});
        assert_eq!(cel_errors(&n, spec), vec![]);
        // The root sees apiVersion, kind and the name only of the metadata.
        let n = Node::compile(&json!({"type": "object", "x-kubernetes-validations": [
            {"rule": "self.kind == 'X' && self.metadata.name == 'n' && !has(self.metadata.labels)"}]}))
        .unwrap();
        let v = json!({"apiVersion": "x.io/v1", "kind": "X",
                       "metadata": {"name": "n", "labels": {"a": "b"}}});
        assert_eq!(n.validate(&v), vec![]);
    }

    #[test]
    fn a_rule_that_does_not_parse_is_a_schema_problem() {
        let e = Node::compile(&json!({"type": "object", "x-kubernetes-validations": [
            {"rule": "self.a == 1"}, {"rule": "self.a == = 1"}]}))
        .unwrap_err();
        assert_eq!(e.pointer, "/x-kubernetes-validations/1");
        assert!(e.message.contains("does not compile"), "{e:?}");
    }

    /// Every CRD version schema of `../shared/corpus` compiles, and every custom resource
    /// of the corpus whose CRD is there is walked without a panic.
    #[test]
    fn the_corpus_crds_compile() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        if !corpus.is_dir() {
            eprintln!("did not run: ../shared/corpus is missing");
            return;
        }
        let mut schemas = std::collections::HashMap::new();
        let mut objects = Vec::new();
        let mut failures = Vec::new();
        for entry in ignore::WalkBuilder::new(&corpus).build().flatten() {
            let path = entry.path();
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let (docs, _) = crate::parse::yaml::parse(&text, &crate::parse::Limits::default());
            for d in docs {
                let v = d.value;
                if v.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                    let group = v
                        .pointer("/spec/group")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let kind = v
                        .pointer("/spec/names/kind")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    for ver in v
                        .pointer("/spec/versions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let name = ver.get("name").and_then(Value::as_str).unwrap_or("");
                        let Some(schema) = ver.pointer("/schema/openAPIV3Schema") else {
                            continue;
                        };
                        match Node::compile(schema) {
                            Ok(n) => {
                                schemas.insert((format!("{group}/{name}"), kind.to_owned()), n);
                            }
                            Err(e) => {
                                failures.push(format!("{}: {kind} {name}: {e:?}", path.display()))
                            }
                        }
                    }
                } else if let (Some(a), Some(k)) = (
                    v.get("apiVersion").and_then(Value::as_str),
                    v.get("kind").and_then(Value::as_str),
                ) {
                    objects.push((a.to_owned(), k.to_owned(), v.clone()));
                }
            }
        }
        assert!(schemas.len() > 100, "{} schemas", schemas.len());
        assert!(failures.is_empty(), "{failures:#?}");
        // Every CEL rule compiled (a rule that does not parse fails the schema above), or
        // is one the interpreter cannot run.
        let (mut rules, mut transition) = (0, 0);
        let mut unsupported = std::collections::BTreeMap::<String, usize>::new();
        for n in schemas.values() {
            n.each_rule(&mut |r| {
                rules += 1;
                transition += usize::from(r.is_transition());
                if let Some(why) = r.unsupported() {
                    *unsupported.entry(why.to_owned()).or_default() += 1;
                }
            });
        }
        let mut walked = 0;
        let mut found = std::collections::BTreeMap::<&str, usize>::new();
        let mut said = std::collections::BTreeMap::<String, usize>::new();
        for (a, k, v) in &objects {
            if let Some(n) = schemas.get(&(a.clone(), k.clone())) {
                for e in n.validate(v) {
                    *found.entry(e.rule).or_default() += 1;
                    if e.rule == "cel-unsupported" {
                        *said.entry(e.message).or_default() += 1;
                    }
                }
                walked += 1;
            }
        }
        eprintln!(
            "{} schemas, {rules} CEL rules ({transition} transition rules, {} the \
             interpreter cannot run: {unsupported:#?}), {walked} custom resources walked: \
             {found:?}; cel-unsupported: {said:#?}",
            schemas.len(),
            unsupported.values().sum::<usize>()
        );
    }
}
