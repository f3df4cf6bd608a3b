//! `xtask patch-meta`: the patch merge keys and resource scopes kustomize's kyaml reads from
//! the Kubernetes v1.21.2 OpenAPI it embeds, as the Rust table `src/render/patch/meta.rs`.
//!
//! The input is `xtask/upstream/kubernetes-openapi-v1.21.2.pb.gz` (see the README there): the
//! OpenAPI v2 document a v1.21.2 API server serves, in gnostic's protobuf encoding, exactly as
//! kyaml v0.20 (kustomize v5.7) embeds it. The generator decodes the protobuf, then reproduces
//! what kyaml derives from it (`kyaml/openapi/openapi.go`, `kyaml/yaml/walk`):
//!
//! - the schema of a kind is the definition whose `x-kubernetes-group-version-kind` names it;
//! - a field's schema is `properties[name]`, else `additionalProperties`, with `$ref` resolved
//!   (the extensions beside a `$ref` are lost, as in kyaml);
//! - a list is merged by key when its `x-kubernetes-patch-strategy` has `merge`; its keys are
//!   `x-kubernetes-list-map-keys` when present, else `x-kubernetes-patch-merge-key`, else none
//!   (a list of scalars merged as a set);
//! - a kind is namespaced when a GET path of it has `namespaces/{namespace}`.
//!
//! Only the part of the schema graph that leads to a list merged by key is kept; every other
//! known field is `Opaque`. Identical nodes are shared, so the table stays small.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where the upstream OpenAPI lives, relative to the workspace root.
pub const INPUT: &str = "xtask/upstream/kubernetes-openapi-v1.21.2.pb.gz";
/// Where the generated table goes, relative to the workspace root.
pub const OUTPUT: &str = "src/render/patch/meta.rs";

// ---------------------------------------------------------------------------------------------
// protobuf

/// One field of a protobuf message: its number and, for length-delimited fields, its bytes.
struct Field<'a> {
    number: u64,
    bytes: &'a [u8],
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at).ok_or("truncated varint")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}

/// The fields of a message, in order. Scalars other than strings/messages are skipped (their
/// bytes are empty): this generator reads no numbers.
fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let tag = varint(buf, &mut at)?;
        let number = tag >> 3;
        match tag & 7 {
            0 => {
                varint(buf, &mut at)?;
                out.push(Field { number, bytes: &[] });
            }
            1 => at += 8,
            2 => {
                let len = varint(buf, &mut at)? as usize;
                let bytes = buf.get(at..at + len).ok_or("truncated field")?;
                at += len;
                out.push(Field { number, bytes });
            }
            5 => at += 4,
            wire => return Err(format!("unsupported wire type {wire}")),
        }
    }
    Ok(out)
}

fn string(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
}

/// The parts of an OpenAPI v2 schema (gnostic `openapi.v2.Schema`) kyaml's merge reads.
#[derive(Debug, Default)]
struct Schema {
    reference: String,
    types: Vec<String>,
    properties: Vec<(String, Schema)>,
    additional: Option<Box<Schema>>,
    items: Option<Box<Schema>>,
    extensions: Vec<(String, String)>,
}

fn named_any(bytes: &[u8]) -> Result<(String, String), String> {
    let mut name = String::new();
    let mut yaml = String::new();
    for f in fields(bytes)? {
        match f.number {
            1 => name = string(f.bytes)?,
            2 => {
                // openapi.v2.Any: 2 = yaml
                for g in fields(f.bytes)? {
                    if g.number == 2 {
                        yaml = string(g.bytes)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((name, yaml))
}

fn named_schemas(bytes: &[u8]) -> Result<Vec<(String, Schema)>, String> {
    let mut out = Vec::new();
    for f in fields(bytes)? {
        if f.number != 1 {
            continue;
        }
        let mut name = String::new();
        let mut schema = Schema::default();
        for g in fields(f.bytes)? {
            match g.number {
                1 => name = string(g.bytes)?,
                2 => schema = parse_schema(g.bytes)?,
                _ => {}
            }
        }
        out.push((name, schema));
    }
    Ok(out)
}

fn parse_schema(bytes: &[u8]) -> Result<Schema, String> {
    let mut s = Schema::default();
    for f in fields(bytes)? {
        match f.number {
            1 => s.reference = string(f.bytes)?,
            21 => {
                // AdditionalPropertiesItem: 1 = schema, 2 = boolean
                for g in fields(f.bytes)? {
                    if g.number == 1 {
                        s.additional = Some(Box::new(parse_schema(g.bytes)?));
                    }
                }
            }
            22 => {
                for g in fields(f.bytes)? {
                    if g.number == 1 {
                        s.types.push(string(g.bytes)?);
                    }
                }
            }
            23 => {
                // ItemsItem: repeated schema; kyaml uses it only when there is exactly one.
                let items: Vec<_> = fields(f.bytes)?
                    .into_iter()
                    .filter(|g| g.number == 1)
                    .collect();
                if items.len() == 1 {
                    s.items = Some(Box::new(parse_schema(items[0].bytes)?));
                }
            }
            25 => s.properties = named_schemas(f.bytes)?,
            31 => s.extensions.push(named_any(f.bytes)?),
            _ => {}
        }
    }
    Ok(s)
}

/// The definitions and the GET paths (path, group-version-kind extension) of the document.
struct Document {
    definitions: Vec<(String, Schema)>,
    get_paths: Vec<(String, String)>,
}

fn parse_document(bytes: &[u8]) -> Result<Document, String> {
    let mut doc = Document {
        definitions: Vec::new(),
        get_paths: Vec::new(),
    };
    for f in fields(bytes)? {
        match f.number {
            9 => doc.definitions = named_schemas(f.bytes)?,
            8 => {
                // Paths: 2 = repeated NamedPathItem { 1 name, 2 PathItem { 2 get: Operation } }
                for p in fields(f.bytes)?.into_iter().filter(|p| p.number == 2) {
                    let mut name = String::new();
                    let mut gvk = None;
                    for g in fields(p.bytes)? {
                        match g.number {
                            1 => name = string(g.bytes)?,
                            2 => {
                                for op in fields(g.bytes)?.into_iter().filter(|o| o.number == 2) {
                                    for ext in
                                        fields(op.bytes)?.into_iter().filter(|e| e.number == 13)
                                    {
                                        let (k, v) = named_any(ext.bytes)?;
                                        if k == "x-kubernetes-group-version-kind" {
                                            gvk = Some(v);
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(gvk) = gvk {
                        doc.get_paths.push((name, gvk));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(doc)
}

// ---------------------------------------------------------------------------------------------
// The YAML of vendor extensions

/// A vendor extension's value: gnostic keeps them as YAML text. Only the shapes of the
/// extensions read here: a scalar, a list of scalars, a map of scalars, a list of such maps.
#[derive(Debug, PartialEq)]
enum Ext {
    Str(String),
    List(Vec<Ext>),
    Map(Vec<(String, String)>),
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        return s[1..s.len() - 1].to_owned();
    }
    s.to_owned()
}

fn parse_ext(yaml: &str) -> Result<Ext, String> {
    let lines: Vec<&str> = yaml.lines().filter(|l| !l.trim().is_empty()).collect();
    let map_entry = |line: &str| -> Result<(String, String), String> {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("unexpected extension YAML {yaml:?}"))?;
        Ok((unquote(k), unquote(v)))
    };
    if lines.is_empty() {
        return Ok(Ext::Str(String::new()));
    }
    if lines[0].starts_with("- ") {
        let mut items: Vec<Vec<&str>> = Vec::new();
        for line in &lines {
            if let Some(rest) = line.strip_prefix("- ") {
                items.push(vec![rest]);
            } else if let Some(rest) = line.strip_prefix("  ") {
                items
                    .last_mut()
                    .ok_or("continuation before an item")?
                    .push(rest);
            } else {
                return Err(format!("unexpected extension YAML {yaml:?}"));
            }
        }
        let mut out = Vec::new();
        for item in items {
            if item.len() == 1 && !item[0].contains(": ") && !item[0].ends_with(':') {
                out.push(Ext::Str(unquote(item[0])));
            } else {
                out.push(Ext::Map(
                    item.iter()
                        .map(|l| map_entry(l))
                        .collect::<Result<_, _>>()?,
                ));
            }
        }
        return Ok(Ext::List(out));
    }
    if lines.len() == 1 && !lines[0].contains(": ") && !lines[0].ends_with(':') {
        return Ok(Ext::Str(unquote(lines[0])));
    }
    Ok(Ext::Map(
        lines
            .iter()
            .map(|l| map_entry(l))
            .collect::<Result<_, _>>()?,
    ))
}

/// `group/version` (or `version` for the core group) and kind of a GVK map.
fn type_meta(entries: &[(String, String)]) -> Option<(String, String)> {
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let version = get("version")?;
    let kind = get("kind")?;
    let api_version = match get("group") {
        Some(g) if !g.is_empty() => format!("{g}/{version}"),
        _ => version,
    };
    Some((api_version, kind))
}

// ---------------------------------------------------------------------------------------------
// The merge-relevant schema graph

/// A node of the generated table (mirrors `Ty` in the generated file).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ty {
    Opaque,
    Object(Vec<(String, usize)>),
    Map(usize),
    List {
        keys: Vec<String>,
        retain_keys: bool,
        items: Option<usize>,
    },
}

struct Builder<'a> {
    defs: HashMap<&'a str, &'a Schema>,
    /// Whether a definition leads to a list merged by key (fixpoint).
    relevant: HashMap<&'a str, bool>,
    types: Vec<Ty>,
    interned: HashMap<Ty, usize>,
    /// Type index of each definition already emitted (None while being emitted: a cycle).
    emitted: HashMap<&'a str, Option<usize>>,
}

fn ext<'s>(schema: &'s Schema, name: &str) -> Option<&'s str> {
    schema
        .extensions
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A list's patch strategies (`merge`, `retainKeys`) and merge keys.
struct ListStrategy {
    strategies: Vec<String>,
    keys: Vec<String>,
}

/// A list's strategy and keys, as `PatchStrategyAndKeyList` reads them.
fn strategy_and_keys(schema: &Schema) -> Result<Option<ListStrategy>, String> {
    let Some(strategy) = ext(schema, "x-kubernetes-patch-strategy") else {
        return Ok(None);
    };
    let Ext::Str(strategy) = parse_ext(strategy)? else {
        return Err(format!("patch strategy is not a string: {strategy:?}"));
    };
    let strategies = strategy.split(',').map(str::to_owned).collect();
    let keys = if let Some(list) = ext(schema, "x-kubernetes-list-map-keys") {
        match parse_ext(list)? {
            Ext::List(items) => items
                .into_iter()
                .map(|i| match i {
                    Ext::Str(s) => Ok(s),
                    other => Err(format!("list map key is not a string: {other:?}")),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(format!("list map keys are not a list: {other:?}")),
        }
    } else if let Some(key) = ext(schema, "x-kubernetes-patch-merge-key") {
        match parse_ext(key)? {
            Ext::Str(s) => vec![s],
            other => return Err(format!("merge key is not a string: {other:?}")),
        }
    } else {
        Vec::new()
    };
    Ok(Some(ListStrategy { strategies, keys }))
}

impl<'a> Builder<'a> {
    fn resolve(&self, schema: &'a Schema) -> Result<&'a Schema, String> {
        let mut s = schema;
        // kyaml resolves chains of references; the extensions beside a `$ref` are dropped.
        for _ in 0..16 {
            if s.reference.is_empty() {
                return Ok(s);
            }
            let name = s
                .reference
                .strip_prefix("#/definitions/")
                .ok_or_else(|| format!("unsupported $ref {}", s.reference))?;
            s = self
                .defs
                .get(name)
                .ok_or_else(|| format!("dangling $ref {}", s.reference))?;
        }
        Err("reference chain too long".into())
    }

    fn is_array(schema: &Schema) -> bool {
        schema.types.len() == 1 && schema.types[0] == "array"
    }

    /// Whether a (resolved) schema leads to a list merged by key, given what is known of the
    /// definitions so far.
    fn leads_to_merge(&self, schema: &'a Schema) -> Result<bool, String> {
        if !schema.reference.is_empty() {
            let name = schema.reference.trim_start_matches("#/definitions/");
            return Ok(self.relevant.get(name).copied().unwrap_or(false));
        }
        if Self::is_array(schema) {
            return Ok(strategy_and_keys(schema)?
                .is_some_and(|l| l.strategies.iter().any(|s| s == "merge")));
        }
        for (_, p) in &schema.properties {
            if self.leads_to_merge(p)? {
                return Ok(true);
            }
        }
        if let Some(a) = &schema.additional
            && self.leads_to_merge(a)?
        {
            return Ok(true);
        }
        Ok(false)
    }

    fn intern(&mut self, ty: Ty) -> usize {
        if let Some(&i) = self.interned.get(&ty) {
            return i;
        }
        self.types.push(ty.clone());
        self.interned.insert(ty, self.types.len() - 1);
        self.types.len() - 1
    }

    /// The type index of a schema (0 = opaque: known, but no list merged by key below).
    fn emit(&mut self, schema: &'a Schema) -> Result<usize, String> {
        if !self.leads_to_merge(schema)? {
            return Ok(0);
        }
        if !schema.reference.is_empty() {
            let name = schema.reference.trim_start_matches("#/definitions/");
            return match self.emitted.get(name) {
                Some(Some(i)) => Ok(*i),
                Some(None) => Err(format!(
                    "definition {name} is recursive and leads to a list merged by key; the \
                     table format cannot express that"
                )),
                None => {
                    self.emitted
                        .insert(self.defs.get_key_value(name).unwrap().0, None);
                    let resolved = self.resolve(schema)?;
                    let i = self.emit(resolved)?;
                    self.emitted
                        .insert(self.defs.get_key_value(name).unwrap().0, Some(i));
                    Ok(i)
                }
            };
        }
        if Self::is_array(schema) {
            let ListStrategy { strategies, keys } =
                strategy_and_keys(schema)?.expect("checked above");
            let items = match &schema.items {
                Some(items) => Some(self.emit(items)?),
                None => None,
            };
            return Ok(self.intern(Ty::List {
                keys,
                retain_keys: strategies.iter().any(|s| s == "retainKeys"),
                items,
            }));
        }
        let mut fields = Vec::new();
        for (name, p) in &schema.properties {
            let i = self.emit(p)?;
            if i != 0 {
                fields.push((name.clone(), i));
            }
        }
        if let Some(a) = &schema.additional {
            let i = self.emit(a)?;
            if i != 0 {
                if !fields.is_empty() {
                    return Err("an object with both properties and additionalProperties \
                                leads to lists merged by key; unsupported"
                        .into());
                }
                return Ok(self.intern(Ty::Map(i)));
            }
        }
        fields.sort();
        Ok(self.intern(Ty::Object(fields)))
    }
}

/// What the generator found, for its summary line.
pub struct Stats {
    pub kinds: usize,
    pub types: usize,
    pub lists: usize,
    pub scopes: usize,
}

/// Generates the table's source text from the upstream file's bytes.
pub fn generate(gz: &[u8]) -> Result<(String, Stats), String> {
    let doc = parse_document(&crate::gzip::gunzip(gz, crate::MAX_GUNZIP)?)?;
    let mut b = Builder {
        defs: doc
            .definitions
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        relevant: HashMap::new(),
        types: vec![Ty::Opaque],
        interned: HashMap::from([(Ty::Opaque, 0)]),
        emitted: HashMap::new(),
    };
    // Which definitions lead to a list merged by key: iterate to a fixpoint (the graph has
    // cycles, e.g. JSONSchemaProps).
    loop {
        let mut changed = false;
        for (name, schema) in &doc.definitions {
            if b.relevant.get(name.as_str()).copied().unwrap_or(false) {
                continue;
            }
            if b.leads_to_merge(schema)? {
                b.relevant.insert(name, true);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    // Kinds: definitions carrying x-kubernetes-group-version-kind.
    let mut kinds: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for (name, schema) in &doc.definitions {
        let Some(gvk) = ext(schema, "x-kubernetes-group-version-kind") else {
            continue;
        };
        let Ext::List(entries) = parse_ext(gvk)? else {
            return Err(format!("{name}: group-version-kind is not a list"));
        };
        for entry in entries {
            let Ext::Map(entry) = entry else {
                return Err(format!("{name}: group-version-kind entry is not a map"));
            };
            let Some(meta) = type_meta(&entry) else {
                continue;
            };
            let i = b.emit(schema)?;
            // A kind claimed by several definitions (DeleteOptions, WatchEvent): kyaml keeps
            // whichever it indexes last, in Go's random map order. They must agree here.
            if let Some((j, other)) = kinds.get(&meta)
                && *j != i
            {
                return Err(format!(
                    "{meta:?} is claimed by {other} and {name} with different merge keys"
                ));
            }
            kinds.entry(meta).or_insert((i, name.clone()));
        }
    }

    // Scopes, as kyaml's findNamespaceability derives them from the paths.
    let mut scopes: BTreeMap<(String, String), bool> = BTreeMap::new();
    for (path, gvk) in &doc.get_paths {
        let Ext::Map(entries) = parse_ext(gvk)? else {
            return Err(format!("{path}: group-version-kind is not a map"));
        };
        let Some(meta) = type_meta(&entries) else {
            continue;
        };
        if path.contains("namespaces/{namespace}") {
            scopes.insert(meta, true);
        } else {
            scopes.entry(meta).or_insert(false);
        }
    }

    let stats = Stats {
        kinds: kinds.len(),
        types: b.types.len(),
        lists: b
            .types
            .iter()
            .filter(|t| matches!(t, Ty::List { .. }))
            .count(),
        scopes: scopes.len(),
    };
    Ok((render(&b.types, &kinds, &scopes), stats))
}

/// The paths of the lists merged by key below `ty`, with their keys and `retainKeys`.
fn list_paths(types: &[Ty], ty: usize, prefix: &str, out: &mut Vec<String>) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match &types[ty] {
        Ty::Opaque => {}
        Ty::Object(fields) => {
            for (name, t) in fields {
                list_paths(types, *t, &join(name), out);
            }
        }
        Ty::Map(t) => list_paths(types, *t, &join("*"), out),
        Ty::List {
            keys,
            retain_keys,
            items,
        } => {
            out.push(format!(
                "{prefix} by [{}]{}",
                keys.join(", "),
                if *retain_keys { " (retainKeys)" } else { "" }
            ));
            if let Some(items) = items {
                list_paths(types, *items, &format!("{prefix}[]"), out);
            }
        }
    }
}

fn render(
    types: &[Ty],
    kinds: &BTreeMap<(String, String), (usize, String)>,
    scopes: &BTreeMap<(String, String), bool>,
) -> String {
    let mut out = String::new();
    out.push_str(
        "// @generated by `cargo run -p xtask -- patch-meta` from\n\
         // xtask/upstream/kubernetes-openapi-v1.21.2.pb.gz (the Kubernetes v1.21.2 OpenAPI that\n\
         // kustomize v5.7's kyaml embeds); do not edit. `scripts/gen-patch-meta.sh --check` (CI)\n\
         // fails when this file is not what the generator makes.\n\
         \n\
         //! Patch merge keys and resource scopes of the built-in kinds, as kyaml knows them.\n\
         //!\n\
         //! [`TYPES`] is the part of the OpenAPI schema graph that leads to a list kyaml merges\n\
         //! by key (`x-kubernetes-patch-strategy` with `merge`); [`KINDS`] gives the root type of\n\
         //! each kind, [`SCOPES`] whether a kind is namespaced.\n\
         \n\
         use super::schema::Ty;\n\n",
    );
    // For review: the lists merged by key under each root, as paths.
    let mut roots: Vec<usize> = kinds
        .values()
        .map(|(t, _)| *t)
        .filter(|t| *t != 0)
        .collect();
    roots.sort_unstable();
    roots.dedup();
    out.push_str("// The lists merged by key under each root type (`[]`: every element):\n");
    for root in roots {
        let mut paths = Vec::new();
        list_paths(types, root, "", &mut paths);
        let _ = writeln!(out, "// root {root}:");
        for p in paths {
            let _ = writeln!(out, "//   {p}");
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "/// The schema nodes; index 0 is `Opaque` (known, nothing below is merged by key).\n\
         pub(super) static TYPES: [Ty; {}] = [",
        types.len()
    );
    let strs = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, ty) in types.iter().enumerate() {
        let body = match ty {
            Ty::Opaque => "Ty::Opaque".to_owned(),
            Ty::Object(fields) => format!(
                "Ty::Object(&[{}])",
                fields
                    .iter()
                    .map(|(n, t)| format!("({n:?}, {t})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Map(v) => format!("Ty::Map({v})"),
            Ty::List {
                keys,
                retain_keys,
                items,
            } => format!(
                "Ty::List {{ keys: &[{}], retain_keys: {retain_keys}, items: {} }}",
                strs(keys),
                match items {
                    Some(i) => format!("Some({i})"),
                    None => "None".to_owned(),
                }
            ),
        };
        let _ = writeln!(out, "    /* {i} */ {body},");
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "/// `(apiVersion, kind, root type)`, sorted by apiVersion then kind.\n\
         pub(super) static KINDS: [(&str, &str, u16); {}] = [",
        kinds.len()
    );
    for ((api_version, kind), (ty, _)) in kinds {
        let _ = writeln!(out, "    ({api_version:?}, {kind:?}, {ty}),");
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "/// `(apiVersion, kind, namespaced)`, sorted by apiVersion then kind.\n\
         pub(super) static SCOPES: [(&str, &str, bool); {}] = [",
        scopes.len()
    );
    for ((api_version, kind), namespaced) in scopes {
        let _ = writeln!(out, "    ({api_version:?}, {kind:?}, {namespaced}),");
    }
    out.push_str("];\n");
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// `xtask patch-meta [--check]`.
pub fn run(check: bool) -> Result<(), String> {
    let input = root().join(INPUT);
    let gz = std::fs::read(&input).map_err(|e| format!("cannot read {INPUT}: {e}"))?;
    let (rendered, stats) = generate(&gz)?;
    println!(
        "patch-meta: {} kinds, {} schema nodes ({} lists merged by key), {} scopes, {} bytes",
        stats.kinds,
        stats.types,
        stats.lists,
        stats.scopes,
        rendered.len()
    );
    let output = root().join(OUTPUT);
    if check {
        let committed = std::fs::read_to_string(&output).map_err(|e| {
            format!("cannot read {OUTPUT}: {e}; generate it with `scripts/gen-patch-meta.sh`")
        })?;
        if committed != rendered {
            return Err(format!(
                "{OUTPUT} is out of date ({}); regenerate it with `scripts/gen-patch-meta.sh` \
                 and commit the result",
                crate::first_difference(&committed, &rendered)
            ));
        }
        println!("{OUTPUT} is up to date");
        return Ok(());
    }
    std::fs::write(&output, &rendered).map_err(|e| format!("cannot write {OUTPUT}: {e}"))?;
    println!("wrote {OUTPUT}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_yaml_shapes() {
        assert_eq!(parse_ext("merge\n").unwrap(), Ext::Str("merge".into()));
        assert_eq!(
            parse_ext("- containerPort\n- protocol\n").unwrap(),
            Ext::List(vec![
                Ext::Str("containerPort".into()),
                Ext::Str("protocol".into())
            ])
        );
        assert_eq!(
            parse_ext("- group: \"\"\n  kind: Pod\n  version: v1\n").unwrap(),
            Ext::List(vec![Ext::Map(vec![
                ("group".into(), "".into()),
                ("kind".into(), "Pod".into()),
                ("version".into(), "v1".into())
            ])])
        );
        assert_eq!(
            type_meta(&[
                ("group".into(), "apps".into()),
                ("kind".into(), "Deployment".into()),
                ("version".into(), "v1".into())
            ]),
            Some(("apps/v1".into(), "Deployment".into()))
        );
    }

    /// kyaml's `precomputedIsNamespaceScoped` (kyaml/openapi/openapi.go at kustomize/v5.7.1),
    /// which its own test keeps equal to what it derives from the embedded OpenAPI.
    const KYAML_PRECOMPUTED_SCOPES: &[(&str, &str, bool)] = &[
        (
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            false,
        ),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            false,
        ),
        (
            "admissionregistration.k8s.io/v1beta1",
            "MutatingWebhookConfiguration",
            false,
        ),
        (
            "admissionregistration.k8s.io/v1beta1",
            "ValidatingWebhookConfiguration",
            false,
        ),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", false),
        (
            "apiextensions.k8s.io/v1beta1",
            "CustomResourceDefinition",
            false,
        ),
        ("apiregistration.k8s.io/v1", "APIService", false),
        ("apiregistration.k8s.io/v1beta1", "APIService", false),
        ("apps/v1", "ControllerRevision", true),
        ("apps/v1", "DaemonSet", true),
        ("apps/v1", "Deployment", true),
        ("apps/v1", "ReplicaSet", true),
        ("apps/v1", "StatefulSet", true),
        ("autoscaling/v1", "HorizontalPodAutoscaler", true),
        ("autoscaling/v1", "Scale", true),
        ("autoscaling/v2beta1", "HorizontalPodAutoscaler", true),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", true),
        ("batch/v1", "CronJob", true),
        ("batch/v1", "Job", true),
        ("batch/v1beta1", "CronJob", true),
        ("certificates.k8s.io/v1", "CertificateSigningRequest", false),
        (
            "certificates.k8s.io/v1beta1",
            "CertificateSigningRequest",
            false,
        ),
        ("coordination.k8s.io/v1", "Lease", true),
        ("coordination.k8s.io/v1beta1", "Lease", true),
        ("discovery.k8s.io/v1", "EndpointSlice", true),
        ("discovery.k8s.io/v1beta1", "EndpointSlice", true),
        ("events.k8s.io/v1", "Event", true),
        ("events.k8s.io/v1beta1", "Event", true),
        ("extensions/v1beta1", "Ingress", true),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", false),
        (
            "flowcontrol.apiserver.k8s.io/v1beta1",
            "PriorityLevelConfiguration",
            false,
        ),
        ("networking.k8s.io/v1", "Ingress", true),
        ("networking.k8s.io/v1", "IngressClass", false),
        ("networking.k8s.io/v1", "NetworkPolicy", true),
        ("networking.k8s.io/v1beta1", "Ingress", true),
        ("networking.k8s.io/v1beta1", "IngressClass", false),
        ("node.k8s.io/v1", "RuntimeClass", false),
        ("node.k8s.io/v1beta1", "RuntimeClass", false),
        ("policy/v1", "PodDisruptionBudget", true),
        ("policy/v1beta1", "PodDisruptionBudget", true),
        ("policy/v1beta1", "PodSecurityPolicy", false),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", false),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false),
        ("rbac.authorization.k8s.io/v1", "Role", true),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", true),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", false),
        (
            "rbac.authorization.k8s.io/v1beta1",
            "ClusterRoleBinding",
            false,
        ),
        ("rbac.authorization.k8s.io/v1beta1", "Role", true),
        ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", true),
        ("scheduling.k8s.io/v1", "PriorityClass", false),
        ("scheduling.k8s.io/v1beta1", "PriorityClass", false),
        ("storage.k8s.io/v1", "CSIDriver", false),
        ("storage.k8s.io/v1", "CSINode", false),
        ("storage.k8s.io/v1", "StorageClass", false),
        ("storage.k8s.io/v1", "VolumeAttachment", false),
        ("storage.k8s.io/v1beta1", "CSIDriver", false),
        ("storage.k8s.io/v1beta1", "CSINode", false),
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity", true),
        ("storage.k8s.io/v1beta1", "StorageClass", false),
        ("storage.k8s.io/v1beta1", "VolumeAttachment", false),
        ("v1", "ComponentStatus", false),
        ("v1", "ConfigMap", true),
        ("v1", "Endpoints", true),
        ("v1", "Event", true),
        ("v1", "LimitRange", true),
        ("v1", "Namespace", false),
        ("v1", "Node", false),
        ("v1", "NodeProxyOptions", false),
        ("v1", "PersistentVolume", false),
        ("v1", "PersistentVolumeClaim", true),
        ("v1", "Pod", true),
        ("v1", "PodAttachOptions", true),
        ("v1", "PodExecOptions", true),
        ("v1", "PodPortForwardOptions", true),
        ("v1", "PodProxyOptions", true),
        ("v1", "PodTemplate", true),
        ("v1", "ReplicationController", true),
        ("v1", "ResourceQuota", true),
        ("v1", "Secret", true),
        ("v1", "Service", true),
        ("v1", "ServiceAccount", true),
        ("v1", "ServiceProxyOptions", true),
    ];

    /// The upstream file decodes, its scopes are exactly kyaml's precomputed ones, and a few
    /// well-known lists have their keys.
    #[test]
    fn upstream_matches_what_kyaml_pins() {
        let gz = std::fs::read(root().join(INPUT)).unwrap();
        let doc = parse_document(&crate::gzip::gunzip(&gz, crate::MAX_GUNZIP).unwrap()).unwrap();
        assert!(doc.definitions.len() > 500, "{}", doc.definitions.len());
        let (text, stats) = generate(&gz).unwrap();
        assert!(stats.kinds > 100);
        assert_eq!(stats.scopes, KYAML_PRECOMPUTED_SCOPES.len());
        for (api_version, kind, namespaced) in KYAML_PRECOMPUTED_SCOPES {
            assert!(
                text.contains(&format!("({api_version:?}, {kind:?}, {namespaced}),")),
                "{api_version} {kind}"
            );
        }
        assert!(text.contains(r#"keys: &["containerPort", "protocol"]"#));
        assert!(text.contains(r#"keys: &["name"], retain_keys: true"#));
    }
}
