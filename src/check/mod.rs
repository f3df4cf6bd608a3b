//! The pipeline: read → parse → validate each input in parallel, then sort the findings.
//! [`rendered`] checks the objects kustomize renders, with the same checks.

pub mod admission;
pub mod rendered;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::discover::Input;
use crate::finding::{self, Finding, ObjectRef, Severity};
use crate::parse::{self, Contents, Document, Issue, Limits, NodeKind, Object, Reader};
use crate::policy::Builtins;
use crate::policy::user::{Kind, UserPolicies};
use crate::schema::crd::{self, Crds};
use crate::schema::{Catalog, SchemaError, Verdict};
use crate::source::LineIndex;

/// What a check run needs to know.
#[derive(Clone)]
pub struct Options<'a> {
    /// `None` skips schema validation.
    pub catalog: Option<&'a Catalog>,
    /// The CRDs known before the files are checked (`--crds`; for rendered objects, every
    /// CRD of the run). The CRDs among the checked files come first: custom resources of
    /// the files wait for them ([`custom_resources`]).
    pub crds: Option<&'a Crds>,
    /// Built-in Rego rules; `None` skips them. Cloned once per worker thread.
    pub builtins: Option<&'a Builtins>,
    /// User policies (conftest conventions); evaluated on every document.
    pub user: Option<&'a UserPolicies>,
    pub reject_missing_schemas: bool,
    pub limits: Limits,
    /// Keep the text of files with findings, for snippets.
    pub keep_sources: bool,
    /// The files kustomizations among the inputs list as patches and resources.
    pub kustomize: KustomizeFiles,
    /// Honour `kubegate.io/ignore` annotations (off with `--no-inline-suppressions`).
    pub inline_suppressions: bool,
    /// Also honour these peer tools' skip annotations (`migration.honourAnnotations`).
    pub peer_annotations: crate::suppress::Peers,
    /// conftest's `--combine`: user policies see one input holding every document.
    pub combine: bool,
    /// The objects of the changed files at the merge request's base, for the transition
    /// rules of CRDs; `None` outside a merge request.
    pub old: Option<&'a crate::mr::OldObjects>,
    /// Keep the objects the admission policies of the run may judge or read
    /// ([`admission`]); `None`: there are none.
    pub admission: Option<&'a crate::admission::Wants>,
}

/// Counts over the whole run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    /// Skipped documents or files by reason (`Skip::as_str`).
    pub skipped: BTreeMap<&'static str, usize>,
    /// Findings silenced by suppressions.
    pub suppressed: usize,
    /// Findings dropped by `--new-only`: they existed before the merge request.
    pub existing: usize,
    /// Findings dropped by `--filter-mode`: away from the lines the change touched.
    pub outside_diff: usize,
    /// Kustomizations rendered (roots).
    pub rendered: usize,
    /// Chart renderings (`helm template` runs) that rendered.
    pub charts: usize,
    /// Their directories, sorted.
    pub roots: Vec<std::sync::Arc<str>>,
    /// Files checked through the kustomizations that use them, not on their own.
    pub through_render: usize,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.files += other.files;
        self.documents += other.documents;
        self.objects += other.objects;
        self.suppressed += other.suppressed;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

/// The result of a run: sorted findings, counts, and the text of files that have findings.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub stats: Stats,
    pub sources: BTreeMap<Arc<str>, Arc<str>>,
    /// The CRDs found among the files, in input order.
    pub crds: Vec<FoundCrd>,
    /// Custom resources waiting for every CRD of the run ([`custom_resources`]).
    pub pending: Vec<PendingFile>,
    /// What the run asked of the network (`--allow-host`), sorted.
    pub fetched: Vec<crate::fetch::Fetch>,
    /// The objects of the files, for the admission policies (with [`Options::admission`]).
    pub admission: Vec<admission::AdmissionFile>,
}

/// A `CustomResourceDefinition` found in a file or rendered: what [`Crds`] needs of it,
/// and a finding at its kind, for what is said of the CRD as a whole.
#[derive(Debug)]
pub struct FoundCrd {
    pub definition: crd::Definition,
    pub at: Finding,
}

pub use crate::source::LaterText;

/// The documents of a file that hold custom resources, kept until every CRD of the run is
/// known: each such object with the findings it already has (not yet through its inline
/// suppressions, which may name schema rules).
#[derive(Debug)]
pub struct PendingFile {
    file: Arc<str>,
    /// Read again only to place a finding: most custom resources have none, and a large
    /// file's text would wait to the end of the run.
    text: LaterText,
    docs: Vec<(Shelved, Waiting)>,
}

/// A document that waits for the CRDs of the run, its value kept as compact JSON until
/// then: a parse tree costs many times its text (a B-tree node of eleven entries for
/// every mapping, most of two or three keys), and these wait from their file's check to
/// the end of the run. Its source map stays as it is (one allocation).
#[derive(Debug)]
struct Shelved {
    /// The value as JSON; empty when the document kept its value (too deep to read back
    /// within the JSON reader's nesting limit).
    json: Box<str>,
    /// The document, its value taken out (`null`) when `json` holds it.
    doc: Document,
}

/// Nesting within which JSON written from a value reads back (serde_json stops at 128).
const SHELVE_DEPTH: usize = 100;

impl Shelved {
    fn of(mut doc: Document) -> Self {
        let json = match within_depth(&doc.value, SHELVE_DEPTH) {
            true => serde_json::to_string(&doc.value).unwrap_or_default(),
            false => String::new(),
        };
        if !json.is_empty() {
            doc.value = serde_json::Value::Null;
        }
        Shelved {
            json: json.into_boxed_str(),
            doc,
        }
    }

    /// The document as it was parsed (JSON numbers read back exactly: serde_json's
    /// `float_roundtrip`).
    fn restore(self) -> Document {
        let Shelved { json, mut doc } = self;
        if !json.is_empty() {
            // What was written from a value within the depth reads back.
            doc.value = serde_json::from_str(&json).unwrap_or_default();
        }
        doc
    }
}

/// Whether `value` nests no deeper than `depth` arrays and objects.
fn within_depth(value: &serde_json::Value, depth: usize) -> bool {
    match value {
        serde_json::Value::Array(items) => {
            depth > 0 && items.iter().all(|v| within_depth(v, depth - 1))
        }
        serde_json::Value::Object(map) => {
            depth > 0 && map.values().all(|v| within_depth(v, depth - 1))
        }
        _ => true,
    }
}

/// The objects of a document that wait for the CRDs of the run: each one's index among
/// the document's objects, with its findings so far.
type Waiting = Vec<(usize, Vec<Finding>)>;

/// Adds `found` to `crds` in order, with a `crd-conflict` warning for each CRD of a kind
/// an earlier, different CRD already defines.
pub fn add_crds(crds: &mut Crds, found: Vec<FoundCrd>, findings: &mut Vec<Finding>) {
    for FoundCrd { definition, mut at } in found {
        if let crd::Added::Conflict { first, kind } = crds.add_definition(definition, &at.file) {
            at.rule = "crd-conflict".into();
            at.severity = Severity::Warning;
            at.message = format!(
                "a second, different CustomResourceDefinition for {kind}: the one in {first}, \
                 found first, validates its custom resources"
            );
            findings.push(at);
        }
    }
}

/// Validates the custom resources that waited for the CRDs of the run (`crds`: those of
/// the files and the render first, then those given), in parallel, and adds their
/// findings through their inline suppressions.
pub fn custom_resources(out: &mut Outcome, crds: &Crds, opts: &Options<'_>) {
    let rules = Rules {
        builtins: opts.builtins,
        user: opts.user,
    };
    type Done = (Vec<Finding>, usize, Arc<str>, Arc<str>);
    let done: Vec<Done> = std::mem::take(&mut out.pending)
        .into_par_iter()
        .map(|p| {
            let mut src = FileText::later(p.file.clone(), p.text, opts.limits.max_file_size);
            let mut findings = Vec::new();
            let mut suppressed = 0;
            for (shelved, objects) in p.docs {
                let doc = shelved.restore();
                let Contents::Objects(all) = parse::objects(&doc) else {
                    continue;
                };
                for (oi, mut fs) in objects {
                    let Some(obj) = all.get(oi) else { continue };
                    let mut place = DocPlace {
                        src: &mut src,
                        doc: &doc,
                    };
                    if let Some(catalog) = opts.catalog {
                        let old = opts.old.and_then(|o| {
                            o.get(
                                &p.file,
                                obj.api_version,
                                obj.kind,
                                obj.namespace(),
                                obj.name(),
                            )
                        });
                        check_object(&mut place, &mut fs, catalog, Some(crds), obj, old, opts);
                    }
                    if opts.inline_suppressions {
                        suppressed += apply_inline(&mut place, &mut fs, obj, 0, rules, opts);
                    }
                    findings.extend(fs);
                }
            }
            let text = if opts.keep_sources && !findings.is_empty() {
                src.text()
            } else {
                "".into()
            };
            (findings, suppressed, p.file, text)
        })
        .collect();
    for (findings, suppressed, file, text) in done {
        out.stats.suppressed += suppressed;
        // Not a text read again that changed since: its findings name the file only.
        if !findings.is_empty() && !text.is_empty() {
            out.sources.entry(file).or_insert(text);
        }
        out.findings.extend(findings);
    }
}

/// The content of one input: read, or to be read when checked ([`Loaded::unread`]).
pub struct Loaded {
    pub input: Input,
    pub bytes: Result<Vec<u8>, String>,
    /// The file's documents, when they were parsed ahead ([`parse_ahead`]), and how they
    /// were read (used when the check reads the file the same way).
    pub parsed: Option<(Reader, parse::yaml::Parsed)>,
}

impl Loaded {
    /// A file that [`check_files`] reads when its turn comes: one whose bytes went to the
    /// render, which may not read it after all. An empty file reads as unread too, and is
    /// read again as empty.
    pub fn unread(input: Input) -> Self {
        Self {
            input,
            bytes: Ok(Vec::new()),
            parsed: None,
        }
    }

    fn is_unread(&self) -> bool {
        matches!(self.input, Input::File { .. })
            && self.parsed.is_none()
            && self.bytes.as_ref().is_ok_and(Vec::is_empty)
    }
}

/// The files that the kustomizations among the inputs read, by display path.
#[derive(Debug, Default, Clone)]
pub struct KustomizeFiles {
    /// Listed as patches: partial objects, not checked on their own.
    pub patches: HashSet<String>,
    /// Listed as resources: read as kustomize reads YAML ([`Reader::Kyaml`]).
    pub resources: HashSet<String>,
}

impl KustomizeFiles {
    /// How a file is read: as kustomize reads YAML when a kustomization lists it as a
    /// resource, else as kubectl does.
    pub fn reader_of(&self, display: &str) -> Reader {
        if self.resources.contains(display) {
            Reader::Kyaml
        } else {
            Reader::Kubectl
        }
    }
}

/// The files that the kustomizations among `inputs` list as patches and as resources.
pub fn kustomize_files(inputs: &[Loaded]) -> KustomizeFiles {
    // Parsed side by side (a repository has hundreds), joined in input order.
    let refs: Vec<Option<(&str, parse::KustomizeRefs)>> = inputs
        .par_iter()
        .map(|l| {
            let name = l.input.display();
            let base = match name.rsplit_once('/') {
                Some((dir, file)) => (dir, file),
                None => ("", name),
            };
            if !matches!(
                base.1,
                "kustomization.yaml" | "kustomization.yml" | "Kustomization"
            ) {
                return None;
            }
            let text = std::str::from_utf8(l.bytes.as_ref().ok()?).ok()?;
            Some((base.0, parse::kustomize_refs(text)))
        })
        .collect();
    let mut out = KustomizeFiles::default();
    for (dir, refs) in refs.into_iter().flatten() {
        out.patches
            .extend(refs.patches.iter().map(|p| normalize(dir, p)));
        out.resources
            .extend(refs.resources.iter().map(|p| normalize(dir, p)));
    }
    out
}

/// Joins a relative path onto a directory and resolves `.` and `..`, `/`-separated. An
/// absolute directory (the inputs named by absolute paths) gives an absolute path, as the
/// inputs' names are.
fn normalize(dir: &str, rel: &str) -> String {
    let absolute = dir.starts_with('/');
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if absolute {
        format!("/{}", parts.join("/"))
    } else {
        parts.join("/")
    }
}

/// Checks every input in parallel on the current rayon pool, the custom resources with
/// the CRDs among the inputs first, then those of `opts`.
pub fn run(inputs: Vec<Loaded>, opts: &Options<'_>) -> Outcome {
    let mut out = outcome(check_files(inputs, opts), opts);
    let mut crds = Crds::default();
    add_crds(&mut crds, std::mem::take(&mut out.crds), &mut out.findings);
    if let Some(given) = opts.crds {
        crds.extend_from(given);
    }
    custom_resources(&mut out, &crds, opts);
    out
}

/// Checks each input on its own, in parallel on the current rayon pool: what
/// [`outcome`] then joins (the checks across files need every file).
pub fn check_files(inputs: Vec<Loaded>, opts: &Options<'_>) -> Vec<FileResult> {
    inputs
        .into_par_iter()
        .map_init(
            || Engines {
                builtins: opts.builtins.cloned(),
                user: opts.user.cloned(),
            },
            |engines, loaded| {
                let loaded = if loaded.is_unread() {
                    crate::timings::measure(crate::timings::Stage::Read, || {
                        load(loaded.input, &opts.limits)
                    })
                } else {
                    loaded
                };
                check_counted(loaded, opts, engines)
            },
        )
        .collect()
}

/// Checks files one at a time, from any thread of the pool: the resource files of a root
/// bound to fail, as the render hands them over with their documents. Each check takes a
/// set of engines and gives it back.
pub struct OneByOne<'o> {
    opts: &'o Options<'o>,
    engines: EnginePool,
}

impl<'o> OneByOne<'o> {
    pub fn new(opts: &'o Options<'o>) -> Self {
        Self {
            opts,
            engines: EnginePool::default(),
        }
    }

    /// [`check_files`] of one input.
    pub fn check(&self, loaded: Loaded) -> FileResult {
        let mut engines = self.engines.take(self.opts);
        let result = check_counted(loaded, self.opts, &mut engines);
        self.engines.give(engines);
        result
    }
}

/// Checks one input, then counts its bytes as worked through, so that the thread gives
/// back what its check freed ([`crate::memory::worked_through`]).
fn check_counted(loaded: Loaded, opts: &Options<'_>, engines: &mut Engines) -> FileResult {
    let size = loaded.bytes.as_ref().map_or(0, Vec::len);
    let result = check_input(loaded, opts, engines);
    crate::memory::worked_through(size);
    result
}

/// The outcome of the files checked by [`check_files`], in input order: their findings,
/// and those of the checks across files (inventory rules, `--combine`).
pub fn outcome(results: Vec<FileResult>, opts: &Options<'_>) -> Outcome {
    let (mut out, across) = gather(results);
    judge_across(&mut out, across, opts);
    out
}

/// What the checks across files judge, gathered from every file by [`gather`]: the objects
/// the inventory rules read, and with `--combine` the files' documents.
pub struct Across {
    inventory: Vec<InventoryFile>,
    combined: Vec<(Arc<str>, Arc<str>, Vec<Document>)>,
}

/// [`outcome`]'s first step: the files' findings (sorted), counts, CRDs and waiting custom
/// resources, and what the checks across files still judge ([`judge_across`]), so that a
/// run can judge it beside other work.
pub fn gather(results: Vec<FileResult>) -> (Outcome, Across) {
    let mut out = Outcome::default();
    let mut combined = Vec::new();
    let mut inventory = Vec::new();
    for mut r in results {
        if let Some(docs) = r.docs.take() {
            combined.push((r.file.clone(), r.source.clone(), docs));
        }
        let later = || {
            r.later
                .clone()
                .unwrap_or_else(|| LaterText::Kept(r.source.clone()))
        };
        if !r.inventory.is_empty() {
            inventory.push(InventoryFile {
                file: r.file.clone(),
                text: later(),
                reader: r.reader,
                objects: std::mem::take(&mut r.inventory),
            });
        }
        out.stats.add(&r.stats);
        if let (Some(text), false) = (r.text, r.findings.is_empty()) {
            out.sources.insert(r.file.clone(), text);
        }
        out.findings.extend(r.findings);
        out.crds.extend(r.crds);
        if !r.admission.is_empty() {
            out.admission.push(admission::AdmissionFile {
                file: r.file.clone(),
                text: later(),
                reader: r.reader,
                objects: std::mem::take(&mut r.admission),
            });
        }
        if !r.pending.is_empty() {
            out.pending.push(PendingFile {
                text: later(),
                file: r.file,
                docs: r.pending,
            });
        }
    }
    finding::sort(&mut out.findings);
    (
        out,
        Across {
            inventory,
            combined,
        },
    )
}

/// [`outcome`]'s second step: the checks across files over what [`gather`] gathered. Their
/// findings go to `out`, which is then sorted.
pub fn judge_across(out: &mut Outcome, across: Across, opts: &Options<'_>) {
    if let Some(builtins) = opts.builtins {
        evaluate_inventory(out, builtins, across.inventory, opts);
    }
    if let (true, Some(user)) = (opts.combine, opts.user) {
        evaluate_combined(out, user.clone(), across.combined, opts.keep_sources);
    }
    finding::sort(&mut out.findings);
}

/// Adds what `part` found (a [`judge_across`] run apart) to `out` as [`outcome`] would
/// have: its findings sorted in among the first `gathered` of `out` (those [`gather`] gave),
/// before any added since; the texts of their files, and counts.
pub fn merge(out: &mut Outcome, part: Outcome, gathered: usize) {
    let since = out.findings.split_off(gathered.min(out.findings.len()));
    out.findings.extend(part.findings);
    finding::sort(&mut out.findings);
    out.findings.extend(since);
    out.sources.extend(part.sources);
    out.stats.add(&part.stats);
}

/// The last step of a run, once every finding is in (manifests and rendered objects):
/// report order, and one `no-schema` finding per kind unless every object must have one.
pub fn finish(out: &mut Outcome, reject_missing_schemas: bool) {
    finding::sort(&mut out.findings);
    if !reject_missing_schemas {
        collapse_no_schema(&mut out.findings);
    }
}

/// A file's objects that the inventory-scope rules read, with what it takes to place
/// their findings.
struct InventoryFile {
    file: Arc<str>,
    text: LaterText,
    /// How the file was read (it is read again, the same way, to place a finding).
    reader: Reader,
    objects: Vec<InventoryObject>,
}

/// What a file keeps of an object that an inventory-scope rule reads.
struct InventoryObject {
    /// The object as the rules see it (converted once, in the parallel phase).
    value: regorus::Value,
    /// Index of its document in the file.
    document: usize,
    /// Its pointer prefix within the document (`""`, or `/items/3`).
    prefix: String,
    kind: String,
    object: ObjectRef,
    /// Its `kubegate.io/ignore` annotations that name inventory rules, if honoured.
    suppressions: Vec<crate::suppress::Inline>,
}

/// Runs the inventory-scope built-in rules once over every object they read, then turns
/// their violations into findings on those objects, honouring inline suppressions.
///
/// Files keep only the objects the rules read, not their parse trees: the few files with a
/// finding here are parsed again to place it, which costs far less than keeping the tree of
/// every workload file until the end of the run.
fn evaluate_inventory(
    out: &mut Outcome,
    builtins: &Builtins,
    files: Vec<InventoryFile>,
    opts: &Options<'_>,
) {
    // Every inventory object, in report order: (file, object index in the file).
    let index: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| (0..f.objects.len()).map(move |oi| (fi, oi)))
        .collect();
    if index.is_empty() {
        return;
    }
    let values = index
        .iter()
        .map(|&(fi, oi)| files[fi].objects[oi].value.clone())
        .collect();
    // Findings per file, placed once every violation is known: (object, pointer, finding).
    let mut pending: BTreeMap<usize, Vec<(usize, String, Finding)>> = BTreeMap::new();
    let violations = match crate::timings::measure(crate::timings::Stage::Rules, || {
        builtins.evaluate_inventory(values)
    }) {
        Ok(v) => v,
        Err(e) => {
            let (fi, _) = index[0];
            let mut f = file_finding(&files[fi].file, "policy-error", String::new());
            f.message = format!("a built-in policy failed on the objects of this run: {e:#}");
            out.findings.push(f);
            return;
        }
    };
    // Whether each inline suppression rule spec was used, per object.
    let mut used: BTreeMap<(usize, usize), Vec<Vec<bool>>> = BTreeMap::new();
    for (n, v) in violations {
        let (fi, oi) = index[n];
        let obj = &files[fi].objects[oi];
        let meta = &builtins.rules[v.rule];
        let flags = used.entry((fi, oi)).or_insert_with(|| {
            obj.suppressions
                .iter()
                .map(|s| vec![false; s.rules.len()])
                .collect()
        });
        let mut silenced = false;
        for (s, flags) in obj.suppressions.iter().zip(flags.iter_mut()) {
            for (spec, flag) in s.rules.iter().zip(flags.iter_mut()) {
                if crate::suppress::designates(spec, &meta.id, Some(&meta.name)) {
                    *flag = true;
                    silenced = true;
                }
            }
        }
        if silenced {
            out.stats.suppressed += 1;
            continue;
        }
        let mut f = file_finding(&files[fi].file, "", v.message);
        f.rule = meta.id.clone().into();
        f.severity = meta.severity;
        f.object = Some(obj.object.clone());
        let pointer = format!("{}{}", obj.prefix, v.pointer);
        pending.entry(fi).or_default().push((oi, pointer, f));
    }
    for (fi, InventoryFile { file, objects, .. }) in files.iter().enumerate() {
        for (oi, obj) in objects.iter().enumerate() {
            for (si, s) in obj.suppressions.iter().enumerate() {
                let none = vec![false; s.rules.len()];
                let flags = used.get(&(fi, oi)).map_or(&none, |flags| &flags[si]);
                for message in unused_inventory_suppression(builtins, s, &obj.kind, flags) {
                    let mut f = file_finding(file, "unused-suppression", message);
                    f.severity = Severity::Warning;
                    f.object = Some(obj.object.clone());
                    let pointer = format!("{}{}", obj.prefix, s.pointer);
                    pending.entry(fi).or_default().push((oi, pointer, f));
                }
            }
        }
    }
    for (fi, findings) in pending {
        let InventoryFile {
            file,
            text,
            reader,
            objects,
        } = &files[fi];
        // Gone or changed since it was checked: the findings name the file only.
        let text = text
            .get(opts.limits.max_file_size)
            .unwrap_or_else(|| "".into());
        let docs = parse::yaml::parse_as(&text, &opts.limits, *reader).documents;
        let mut ctx = FileCtx::new(file.clone(), text.clone());
        for (oi, pointer, f) in findings {
            let placed = match docs.get(objects[oi].document) {
                Some(doc) => ctx.src.locate(doc, &pointer, false),
                None => f.clone(),
            };
            ctx.findings.push(Finding {
                rule: f.rule,
                severity: f.severity,
                message: f.message,
                object: f.object,
                ..placed
            });
        }
        if opts.keep_sources && !text.is_empty() {
            out.sources.insert(file.clone(), text);
        }
        out.findings.extend(ctx.findings);
    }
}

/// Whether `spec` names an enabled inventory-scope or change-scope rule that reads objects
/// of `kind`: its findings (and so the use of a suppression of it) are known only after the
/// whole run, or only with a merge request's base.
pub(crate) fn inventory_rule(builtins: &Builtins, spec: &str, kind: &str) -> bool {
    builtins.rules.iter().any(|r| {
        r.scope != crate::policy::Scope::Object
            && r.applies_to(kind)
            && crate::suppress::designates(spec, &r.id, Some(&r.name))
    })
}

/// The messages of the `unused-suppression` findings of suppression `s` on an object of
/// `kind`, once the inventory rules ran: `used` says which of its rules silenced something.
pub(crate) fn unused_inventory_suppression(
    builtins: &Builtins,
    s: &crate::suppress::Inline,
    kind: &str,
    used: &[bool],
) -> Vec<String> {
    if let Some(peer) = &s.peer {
        if used.iter().any(|u| *u) || !peer_judged_here(builtins, s, kind) {
            return Vec::new();
        }
        return vec![crate::suppress::unused_peer_message(peer, s)];
    }
    s.rules
        .iter()
        .zip(used)
        .filter(|(spec, u)| !**u && inventory_rule(builtins, spec, kind))
        .map(|(spec, _)| format!("suppression of `{spec}` matched no finding; remove it"))
        .collect()
}

/// Whether the inventory pass alone judges whether the peer annotation `s` was used: every
/// rule it stands for is an inventory rule that reads objects of `kind`. (One that also
/// stands for object rules, which ran earlier, is never reported unused: kubegate cannot
/// tell here whether those silenced anything.)
fn peer_judged_here(builtins: &Builtins, s: &crate::suppress::Inline, kind: &str) -> bool {
    s.rules
        .iter()
        .all(|spec| inventory_rule(builtins, spec, kind))
}

/// conftest's `--combine`: one evaluation whose input is `[{"path", "contents"}, ...]`, one
/// element per document in path order. A result whose `path` starts with an element's index
/// (`[3, "contents", "spec", ...]`) lands on that document's field; one with `_loc`
/// on that file and line; others on the first line of the first file.
fn evaluate_combined(
    out: &mut Outcome,
    mut user: UserPolicies,
    files: Vec<(Arc<str>, Arc<str>, Vec<Document>)>,
    keep_sources: bool,
) {
    let mut index = Vec::new();
    let mut input = Vec::new();
    for (fi, (file, _, docs)) in files.iter().enumerate() {
        for (di, d) in docs.iter().enumerate() {
            if d.value.is_null() {
                continue;
            }
            index.push((fi, di));
            input.push(serde_json::json!({"path": &**file, "contents": d.value}));
        }
    }
    if files.is_empty() {
        return;
    }
    user.set_file(crate::policy::user::COMBINED);
    let result = user.evaluate(&serde_json::Value::Array(input));
    let mut ctxs: Vec<FileText> = files
        .iter()
        .map(|(file, text, _)| FileText::new(file.clone(), text.clone()))
        .collect();
    match result {
        Ok((outcomes, _)) => {
            for o in outcomes {
                let q = &user.queries[o.query];
                let target = o.pointer.as_deref().and_then(|p| {
                    let mut parts = p.splitn(4, '/').skip(1);
                    let n: usize = parts.next()?.parse().ok()?;
                    let (fi, di) = *index.get(n)?;
                    let rest = match (parts.next(), parts.next()) {
                        (Some("contents"), Some(r)) => format!("/{r}"),
                        _ => String::new(),
                    };
                    Some((fi, di, rest))
                });
                let loc_file = o
                    .file
                    .as_deref()
                    .and_then(|f| files.iter().position(|(name, _, _)| &**name == f));
                let mut f = match (target, o.line) {
                    (Some((fi, di, rest)), _) => ctxs[fi].locate(&files[fi].2[di], &rest, false),
                    (None, Some(line)) => {
                        let fi = loc_file.unwrap_or(0);
                        let text = ctxs[fi].text.clone();
                        let range = ctxs[fi].lines().line_range(&text, line);
                        ctxs[fi].finding_at(range.start, range.end)
                    }
                    (None, None) => ctxs[loc_file.unwrap_or(0)].finding_at(0, 0),
                };
                f.rule = q.id().into();
                f.severity = match q.kind() {
                    Kind::Deny => Severity::Error,
                    Kind::Warn => Severity::Warning,
                };
                f.message = o.message;
                out.findings.push(f);
            }
        }
        Err(e) => {
            let mut f = ctxs[0].finding_at(0, 0);
            f.rule = "policy-error".into();
            f.message = format!("a policy failed on the combined input: {e:#}");
            out.findings.push(f);
        }
    }
    if keep_sources {
        for (file, text, _) in &files {
            if out.findings.iter().any(|f| f.file == *file) {
                out.sources.insert(file.clone(), text.clone());
            }
        }
    }
}

/// Per-thread clones of the prepared policy engines.
#[derive(Default)]
pub(crate) struct Engines {
    builtins: Option<Builtins>,
    user: Option<UserPolicies>,
}

impl Engines {
    fn rules(&self) -> Rules<'_> {
        Rules {
            builtins: self.builtins.as_ref(),
            user: self.user.as_ref(),
        }
    }
}

/// The rules of a run, for what suppressions need to know of them (ids, names, queries).
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    builtins: Option<&'a Builtins>,
    user: Option<&'a UserPolicies>,
}

/// What checking one file found ([`check_files`]).
pub struct FileResult {
    file: Arc<str>,
    text: Option<Arc<str>>,
    findings: Vec<Finding>,
    stats: Stats,
    /// The file's text, for the checks across files that keep its documents (`--combine`,
    /// custom resources waiting for their CRDs); empty otherwise.
    source: Arc<str>,
    /// The file's text, for placing the findings of the checks across files that keep only
    /// its objects (inventory rules, admission policies).
    later: Option<LaterText>,
    /// With `--combine`: the file's documents.
    docs: Option<Vec<Document>>,
    /// The objects the inventory-scope rules read.
    inventory: Vec<InventoryObject>,
    /// How the file was read.
    reader: Reader,
    /// Its CRDs.
    crds: Vec<FoundCrd>,
    /// Its documents that hold custom resources, with them.
    pending: Vec<(Shelved, Waiting)>,
    /// Its objects, for the admission policies.
    admission: Vec<admission::AdmissionObject>,
}

/// Files at least this large are parsed ahead ([`parse_ahead`]): the small ones are
/// quickly parsed by the check, and their documents would wait for it meanwhile.
const PARSE_AHEAD_BYTES: usize = 256 * 1024;

/// Parses the large files among `inputs` that will be checked as they are (not kustomize
/// resources or patches, not skipped), in input order and in parallel, for as long as
/// `busy` says the run is waiting anyway (the built-in rules compiling): the check then
/// takes their documents instead of parsing them. An `install.yaml`'s parse no longer
/// waits for the rules.
pub fn parse_ahead(
    inputs: &mut [Loaded],
    kustomize: &KustomizeFiles,
    limits: &Limits,
    busy: impl Fn() -> bool + Sync,
) {
    inputs.par_iter_mut().for_each(|l| {
        let name = l.input.display();
        let Ok(bytes) = &l.bytes else { return };
        if bytes.len() < PARSE_AHEAD_BYTES
            || streams(bytes.len())
            || !busy()
            || l.parsed.is_some()
            || kustomize.patches.contains(name)
            || kustomize.resources.contains(name)
        {
            return;
        }
        let decoded = parse::decode(bytes);
        if decoded.binary || parse::skip_file(name, &decoded.text, &parse::chart_on_disk).is_some()
        {
            return;
        }
        let reader = kustomize.reader_of(name);
        let parsed = parse::yaml::parse_as(&decoded.text, limits, reader);
        l.parsed = Some((reader, parsed));
    });
}

/// Reads a file through [`crate::read`]: regular files only, opened without blocking, at
/// most the limit (a larger file is refused, without reading it when its length says so).
pub fn load(input: Input, limits: &Limits) -> Loaded {
    let bytes = match &input {
        Input::File { path, .. } => read_limited(path, limits.max_file_size),
        Input::Stdin { .. } => Err("standard input must be read by the caller".into()),
    };
    Loaded {
        input,
        bytes,
        parsed: None,
    }
}

fn read_limited(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    crate::read::read(path, max).map_err(|e| match e {
        crate::read::Error::TooLarge { .. } => format!("{e} (--max-file-size); not checked"),
        e => e.to_string(),
    })
}

fn check_input(loaded: Loaded, opts: &Options<'_>, engines: &mut Engines) -> FileResult {
    let file: Arc<str> = loaded.input.display().into();
    let path = match &loaded.input {
        Input::File { path, .. } => Some(path.clone()),
        Input::Stdin { .. } => None,
    };
    let mut stats = Stats {
        files: 1,
        ..Stats::default()
    };
    let bytes = match loaded.bytes {
        Ok(b) => b,
        Err(message) => {
            let rule = if message.contains("byte limit") {
                "yaml-limit"
            } else {
                "io-error"
            };
            return FileResult {
                findings: vec![file_finding(&file, rule, message)],
                file,
                text: None,
                stats,
                source: "".into(),
                later: None,
                docs: None,
                inventory: Vec::new(),
                reader: Reader::Kubectl,
                crds: Vec::new(),
                pending: Vec::new(),
                admission: Vec::new(),
            };
        }
    };
    let decoded = parse::decode(&bytes);
    let text: Arc<str> = decoded.text.as_ref().into();
    let (decode_issue, binary) = (decoded.issue, decoded.binary);
    drop(bytes);
    let mut ctx = FileCtx::new(file.clone(), text.clone());
    let mut combined = None;
    let mut inventory = Vec::new();
    let mut crds = Vec::new();
    let mut pending = Vec::new();
    let mut objects = Vec::new();
    // A file a kustomization lists is read as kustomize reads it; any other may be applied
    // as it is (kubectl, Argo CD) or through a generated kustomization (Flux).
    let reader = opts.kustomize.reader_of(&file);
    if let Some(issue) = &decode_issue {
        ctx.issue(issue);
    }
    if binary {
        // Nothing to parse.
    } else if let Some(skip) = parse::skip_file(&file, &text, &parse::chart_on_disk) {
        *stats.skipped.entry(skip.as_str()).or_default() += 1;
    } else if opts.kustomize.patches.contains(&*file) {
        *stats
            .skipped
            .entry(parse::Skip::KustomizePatch.as_str())
            .or_default() += 1;
    } else if loaded.parsed.is_none()
        && let Some(streamed) = check_streamed(&mut ctx.src, reader, engines, opts)
    {
        ctx.findings.extend(streamed.findings);
        stats.add(&streamed.stats);
        inventory = streamed.inventory;
        crds = streamed.crds;
        pending = streamed.pending;
        objects = streamed.admission;
    } else {
        let parsed = match loaded.parsed {
            Some((how, parsed)) if how == reader => parsed,
            _ => parse::yaml::parse_as(&text, &opts.limits, reader),
        };
        for issue in &parsed.issues {
            ctx.issue(issue);
        }
        let docs = parsed.documents;
        stats.documents += docs.len();
        let holds_objects: Vec<bool> = docs
            .iter()
            .map(|d| matches!(parse::objects(d), Contents::Objects(o) if !o.is_empty()))
            .collect();
        let among_objects = holds_objects.iter().any(|&b| b);
        // Where the readers disagree inside an object: a warning at the text, and, when the
        // file's reader is not known, a check of what the other reader builds too.
        let ambiguous: std::collections::BTreeSet<usize> = parsed
            .notes
            .iter()
            .filter(|n| {
                docs.iter()
                    .zip(&holds_objects)
                    .any(|(d, &objects)| objects && d.index == n.document)
            })
            .map(|n| {
                ctx.issue(n);
                n.document
            })
            .collect();
        let other = if reader == Reader::Kubectl && !ambiguous.is_empty() {
            parse::yaml::parse_as(&text, &opts.limits, Reader::Kyaml).documents
        } else {
            Vec::new()
        };
        // Which documents (of `docs`, then of `other`) hold custom resources, and which.
        let docs_of = Docs {
            docs: &docs,
            first: 0,
            end: text.len(),
            other: &other,
            ambiguous: &ambiguous,
            among_objects,
        };
        let mut waiting: Vec<(bool, usize, Waiting)> = Vec::new();
        let mut found = Checked {
            waiting: &mut waiting,
            inventory: &mut inventory,
            crds: &mut crds,
            stats: &mut stats,
            admission: &mut objects,
        };
        if !parallel(&docs, text.len()) {
            check_documents(&mut ctx, 0..docs.len(), &docs_of, engines, opts, &mut found);
        } else {
            let lines = ctx.src.lines().clone();
            let pool = EnginePool::default();
            check_on_threads(
                (&file, &text, &lines),
                &docs_of,
                &pool,
                opts,
                &mut ctx.findings,
                &mut found,
            );
        }
        let keep_docs = opts.combine && opts.user.is_some();
        let mut docs: Vec<Option<Document>> = docs.into_iter().map(Some).collect();
        let mut other: Vec<Option<Document>> = other.into_iter().map(Some).collect();
        for (alt, i, custom) in waiting {
            let doc = match (alt, keep_docs) {
                (true, _) => other[i].take(),
                (false, false) => docs[i].take(),
                (false, true) => docs[i].clone(),
            };
            pending.extend(doc.map(|d| (Shelved::of(d), custom)));
        }
        if keep_docs {
            combined = Some(docs.into_iter().flatten().collect());
        }
    }
    let keep = opts.keep_sources && !ctx.findings.is_empty();
    let source = if combined.is_some() {
        text.clone()
    } else {
        "".into()
    };
    let later = (!inventory.is_empty() || !objects.is_empty() || !pending.is_empty()).then(|| {
        // The text kept anyway serves; a file on disk is read again if it must.
        let path = path.as_deref().filter(|_| source.is_empty());
        LaterText::of(&text, path)
    });
    FileResult {
        file,
        text: keep.then_some(text),
        findings: ctx.findings,
        stats,
        source,
        later,
        docs: combined,
        inventory,
        reader,
        crds,
        pending,
        admission: objects,
    }
}

/// The documents of one file as parsed, and what [`check_documents`] needs of them.
struct Docs<'a> {
    docs: &'a [Document],
    /// The index in the file of `docs[0]` (they are a piece of it when it is streamed).
    first: usize,
    /// Where the last of `docs` ends in the file's text.
    end: usize,
    /// The documents as the other YAML reader builds them, where the readers disagree.
    other: &'a [Document],
    ambiguous: &'a std::collections::BTreeSet<usize>,
    among_objects: bool,
}

/// Where [`check_documents`] puts what the checks across the run need.
struct Checked<'a> {
    waiting: &'a mut Vec<(bool, usize, Waiting)>,
    inventory: &'a mut Vec<InventoryObject>,
    crds: &'a mut Vec<FoundCrd>,
    stats: &'a mut Stats,
    admission: &'a mut Vec<admission::AdmissionObject>,
}

/// Files smaller than this are checked on one thread: the engines each thread clones cost
/// more than they save.
const PARALLEL_FILE_BYTES: usize = 256 * 1024;

/// Whether a file's documents are checked on every thread of the current pool.
fn parallel(docs: &[Document], len: usize) -> bool {
    rayon::current_num_threads() > 1 && docs.len() > 1 && len >= 2 * PARALLEL_FILE_BYTES
}

/// The engines of the threads that check one file's documents: each task takes a set and
/// gives it back, so that a file checked in several rounds clones them once a thread.
#[derive(Default)]
struct EnginePool(std::sync::Mutex<Vec<Engines>>);

impl EnginePool {
    fn take(&self, opts: &Options<'_>) -> Engines {
        let spare = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        spare.unwrap_or_else(|| Engines {
            builtins: opts.builtins.cloned(),
            user: opts.user.cloned(),
        })
    }

    fn give(&self, engines: Engines) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(engines);
    }
}

/// Checks the documents of `d` on every thread (a large file of many documents, an
/// `install.yaml`): each thread takes the next document from a queue, largest first, so
/// that a few large CRDs and many small roles (whose rules cost more than their bytes say)
/// spread evenly. The file's line index is built once for all; the findings go to
/// `findings` and the rest to `out`, in document order.
fn check_on_threads(
    (file, text, lines): (&Arc<str>, &Arc<str>, &Arc<LineIndex>),
    d: &Docs<'_>,
    pool: &EnginePool,
    opts: &Options<'_>,
    findings: &mut Vec<Finding>,
    out: &mut Checked<'_>,
) {
    type Part = (
        Vec<Finding>,
        Vec<(bool, usize, Waiting)>,
        Vec<InventoryObject>,
        Vec<FoundCrd>,
        Stats,
        Vec<admission::AdmissionObject>,
    );
    let order = largest_first(d.docs, d.end);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, Part)>> =
        std::sync::Mutex::new(Vec::with_capacity(d.docs.len()));
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(d.docs.len()) {
            scope.spawn(|_| {
                let mut engines = pool.take(opts);
                let mut mine = Vec::new();
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&di) = order.get(at) else { break };
                    let mut part = FileCtx::new(file.clone(), text.clone());
                    part.src.lines = Some(lines.clone());
                    let (mut w, mut inv, mut c) = (Vec::new(), Vec::new(), Vec::new());
                    let mut adm = Vec::new();
                    let mut st = Stats::default();
                    let mut found = Checked {
                        waiting: &mut w,
                        inventory: &mut inv,
                        crds: &mut c,
                        stats: &mut st,
                        admission: &mut adm,
                    };
                    check_documents(&mut part, di..di + 1, d, &mut engines, opts, &mut found);
                    mine.push((di, (part.findings, w, inv, c, st, adm)));
                }
                pool.give(engines);
                done.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(mine);
            });
        }
    });
    let mut parts = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    parts.sort_unstable_by_key(|(di, _)| *di);
    for (_, (f, w, inv, c, st, adm)) in parts {
        out.admission.extend(adm);
        findings.extend(f);
        out.waiting.extend(w);
        out.inventory.extend(inv);
        out.crds.extend(c);
        out.stats.add(&st);
    }
}

/// A large file is streamed in pieces of about this many bytes, as many at a time as there
/// are threads.
const STREAM_PIECE_BYTES: usize = 256 * 1024;

/// Whether a file of `len` bytes is checked a few pieces at a time ([`check_streamed`]).
fn streams(len: usize) -> bool {
    rayon::current_num_threads() > 1 && len >= 4 * STREAM_PIECE_BYTES
}

/// What checking a file in pieces found (see [`check_streamed`]).
#[derive(Default)]
struct Streamed {
    findings: Vec<Finding>,
    stats: Stats,
    inventory: Vec<InventoryObject>,
    crds: Vec<FoundCrd>,
    pending: Vec<(Shelved, Waiting)>,
    admission: Vec<admission::AdmissionObject>,
}

/// Checks a large file a few pieces at a time: each round parses as many pieces as there
/// are threads, checks their documents on every thread, keeps only what the run needs of
/// them (the custom resources that wait for their CRDs) and lets go of the rest before the
/// next round is read. Its findings are the same as a check of the whole reading; its peak
/// memory is a round's documents, not the file's. `None` where the whole reading is needed:
/// one thread, a file not large enough, the documents kept for `--combine`, a piece that
/// does not parse alone (an error then says exactly where), a first round of no objects, or
/// places where the two YAML readers disagree.
fn check_streamed(
    src: &mut FileText,
    reader: Reader,
    engines: &mut Engines,
    opts: &Options<'_>,
) -> Option<Streamed> {
    let threads = rayon::current_num_threads();
    if !streams(src.text.len())
        || opts.combine && opts.user.is_some()
        || src.text.trim_start().starts_with('{')
    {
        return None;
    }
    // The file's line index, built once for the file (and kept for its later findings),
    // while another thread finds where to cut it: both read the whole text.
    let whole = src.text.clone();
    let (lines, cuts) = rayon::join(
        || src.lines().clone(),
        || parse::yaml::Pieces::cut(&whole, STREAM_PIECE_BYTES),
    );
    let (file, text) = (&src.file, &src.text);
    let mut pieces = parse::yaml::Pieces::from_cuts(text, cuts?, &lines, &opts.limits, reader);
    let pool = EnginePool::default();
    pool.give(std::mem::take(engines));
    let mut out = Streamed::default();
    let mut first = 0;
    // One round of documents alive at a time. Parsing the next round while one is checked
    // kept two alive: two rounds of a KServe release's megabyte CRDs are about 25 MB of
    // parse trees, and that overlap set the corpus's peak (5 MB lower without it, and no
    // slower: the other files keep the threads busy meanwhile).
    let mut round = 0..threads.min(pieces.len());
    let mut next = pieces.parse(round.clone());
    let result = loop {
        let Some(parsed) = next.take() else {
            break None;
        };
        // Whether the file holds objects decides how other documents are judged: any
        // object of the first round settles it.
        if first == 0
            && !parsed
                .documents
                .iter()
                .any(|d| matches!(parse::objects(d), Contents::Objects(o) if !o.is_empty()))
        {
            break None;
        }
        if !parsed.notes.is_empty() {
            break None;
        }
        let mut ctx = FileCtx::new(file.clone(), text.clone());
        ctx.src.lines = Some(lines.clone());
        for issue in &parsed.issues {
            ctx.issue(issue);
        }
        let docs = parsed.documents;
        out.stats.documents += docs.len();
        // Where the round's last document ends: the next round's start.
        let end = pieces.start(round.end).unwrap_or(text.len());
        let following = round.end..(round.end + threads).min(pieces.len());
        let ambiguous = std::collections::BTreeSet::new();
        let d = Docs {
            docs: &docs,
            first,
            end,
            other: &[],
            ambiguous: &ambiguous,
            among_objects: true,
        };
        let mut waiting = Vec::new();
        let mut found = Checked {
            waiting: &mut waiting,
            inventory: &mut out.inventory,
            crds: &mut out.crds,
            stats: &mut out.stats,
            admission: &mut out.admission,
        };
        check_on_threads(
            (file, text, &lines),
            &d,
            &pool,
            opts,
            &mut ctx.findings,
            &mut found,
        );
        out.findings.extend(ctx.findings);
        first += docs.len();
        let mut docs: Vec<Option<Document>> = docs.into_iter().map(Some).collect();
        for (_, i, custom) in waiting {
            out.pending.extend(
                docs.get_mut(i)
                    .and_then(Option::take)
                    .map(|d| (Shelved::of(d), custom)),
            );
        }
        // The round's documents are let go of before the next is read.
        drop(docs);
        if following.is_empty() {
            break Some(());
        }
        next = pieces.parse(following.clone());
        round = following;
    };
    *engines = pool.take(opts);
    result.map(|()| out)
}

/// The indexes of `docs` (of a text `len` bytes long), the largest document first.
fn largest_first(docs: &[Document], len: usize) -> Vec<usize> {
    let ends = docs.iter().skip(1).map(|d| d.start as usize).chain([len]);
    let mut sized: Vec<(usize, usize)> = docs
        .iter()
        .zip(ends)
        .enumerate()
        .map(|(i, (d, end))| (end.saturating_sub(d.start as usize), i))
        .collect();
    sized.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    sized.into_iter().map(|(_, i)| i).collect()
}

/// Checks the documents `range` of a file (and, where the readers disagree, the other
/// reader's reading of them).
fn check_documents(
    ctx: &mut FileCtx,
    range: std::ops::Range<usize>,
    d: &Docs<'_>,
    engines: &mut Engines,
    opts: &Options<'_>,
    out: &mut Checked<'_>,
) {
    for di in range {
        let doc = &d.docs[di];
        let inv = engines
            .builtins
            .is_some()
            .then_some((&mut *out.inventory, d.first + di));
        let mut custom = Vec::new();
        check_document(
            ctx,
            doc,
            engines,
            opts,
            Some(&mut *out.stats),
            inv,
            d.among_objects,
            &mut Found {
                crds: out.crds,
                custom: &mut custom,
                admission: opts
                    .admission
                    .map(|w| (w, &mut *out.admission, d.first + di)),
            },
        );
        if !custom.is_empty() {
            out.waiting.push((false, di, custom));
        }
        if d.ambiguous.contains(&doc.index)
            && let Some(ai) = d.other.iter().position(|o| o.index == doc.index)
        {
            let mut custom = Vec::new();
            let mut ignored = Vec::new();
            check_document(
                ctx,
                &d.other[ai],
                engines,
                opts,
                None,
                None,
                d.among_objects,
                &mut Found {
                    crds: &mut ignored,
                    custom: &mut custom,
                    admission: None,
                },
            );
            if !custom.is_empty() {
                out.waiting.push((true, ai, custom));
            }
        }
    }
}

/// What a document yields for the checks across the run: its CRDs, and the objects
/// (their index among the document's, with their findings so far) that wait for them.
struct Found<'a> {
    crds: &'a mut Vec<FoundCrd>,
    custom: &'a mut Waiting,
    /// Which objects the admission policies want, where they go, and the document's index.
    admission: Option<(
        &'a crate::admission::Wants,
        &'a mut Vec<admission::AdmissionObject>,
        usize,
    )>,
}

/// Checks one document: user policies, then each object with the schemas, the built-in
/// rules and its inline suppressions. `stats` is `None` for a second reading of a document
/// already counted; `inventory` collects what the inventory rules read (`None`: not
/// collected), with the document's position in the file.
#[allow(clippy::too_many_arguments)]
fn check_document(
    ctx: &mut FileCtx,
    doc: &Document,
    engines: &mut Engines,
    opts: &Options<'_>,
    mut stats: Option<&mut Stats>,
    mut inventory: Option<(&mut Vec<InventoryObject>, usize)>,
    among_objects: bool,
    found: &mut Found<'_>,
) {
    let doc_start = ctx.findings.len();
    // A document that is one object the built-in rules read too is converted for Rego once,
    // for the user's policies and the rules.
    let mut shared: Option<regorus::Value> = None;
    if let Some(user) = engines.user.as_mut()
        && !doc.value.is_null()
        && !opts.combine
    {
        let single = match parse::objects(doc) {
            Contents::Objects(o) if o.len() == 1 && o[0].pointer_index.is_none() => {
                Some((object_ref(&o[0]), o[0].kind))
            }
            _ => None,
        };
        if let (Some((_, kind)), Some(builtins)) = (&single, engines.builtins.as_mut())
            && builtins.reads(kind)
        {
            shared = Some(crate::policy::to_rego(&doc.value));
        }
        let object = single.map(|(o, _)| o);
        let file = ctx.src.file.clone();
        let (mut place, out) = ctx.place(doc);
        evaluate_user(
            &mut place,
            out,
            user,
            &file,
            &doc.value,
            shared.as_ref(),
            object,
        );
    }
    let objects = match parse::objects(doc) {
        Contents::Skipped(s) => {
            // A document shaped like an object but for its `apiVersion` or `kind` (or
            // anything but an object among objects) would fail to apply: say so.
            if s == parse::Skip::NotKubernetes
                && let Some((message, pointer)) = parse::not_an_object(&doc.value, among_objects)
            {
                let mut f = ctx.src.locate(doc, &pointer, true);
                f.rule = "yaml-not-object".into();
                f.message = message;
                ctx.findings.push(f);
            } else if let Some(stats) = stats.as_deref_mut() {
                *stats.skipped.entry(s.as_str()).or_default() += 1;
            }
            return;
        }
        Contents::Objects(objects) => objects,
    };
    for i in parse::untyped_items(doc) {
        let mut f = ctx.src.locate(doc, &format!("/items/{i}"), true);
        f.rule = "yaml-not-object".into();
        f.message = format!(
            "item {i} of this List has no string `apiVersion` and `kind`: kubectl and the \
             GitOps controller refuse to apply the List, and kubegate cannot check the item"
        );
        ctx.findings.push(f);
    }
    let single = objects.len() == 1;
    for (oi, obj) in objects.iter().enumerate() {
        if let Some(stats) = stats.as_deref_mut() {
            stats.objects += 1;
        }
        if let Some((wants, kept, di)) = found.admission.as_mut()
            && let Some(value) = wants.keep(
                crate::admission::matching::split_api_version(obj.api_version).0,
                obj.kind,
                obj.value,
            )
        {
            kept.push(admission::AdmissionObject {
                value,
                document: *di,
                prefix: obj.prefix(),
                object: object_ref(obj),
            });
        }
        let start = if single {
            doc_start
        } else {
            ctx.findings.len()
        };
        let (mut place, out) = ctx.place(doc);
        // A kind the built-in schemas do not know waits for the CRDs of the whole run.
        let custom = opts
            .catalog
            .is_some_and(|c| !c.knows(obj.api_version, obj.kind));
        if let Some(catalog) = opts.catalog.filter(|_| !custom)
            && let Some(definition) = check_object(&mut place, out, catalog, None, obj, None, opts)
        {
            found.crds.push(FoundCrd {
                definition,
                at: place.at(&format!("{}/spec/names/kind", obj.prefix()), false),
            });
        }
        if let Some(engine) = engines.builtins.as_mut() {
            match inventory.as_mut() {
                Some((items, di)) if engine.in_inventory(obj.kind) => {
                    let item = inventory_object(engine, *di, obj, shared.take(), opts);
                    evaluate_rules(&mut place, out, engine, obj, Some(&item.value));
                    items.push(item);
                }
                _ => evaluate_rules(&mut place, out, engine, obj, shared.as_ref()),
            }
        }
        if custom {
            found.custom.push((oi, out.drain(start..).collect()));
        } else if opts.inline_suppressions {
            let silenced = apply_inline(&mut place, out, obj, start, engines.rules(), opts);
            if let Some(stats) = stats.as_deref_mut() {
                stats.suppressed += silenced;
            }
        }
    }
}

/// What the inventory rules need of one object, taken while it is at hand.
fn inventory_object(
    builtins: &Builtins,
    document: usize,
    obj: &Object<'_>,
    converted: Option<regorus::Value>,
    opts: &Options<'_>,
) -> InventoryObject {
    let suppressions = if opts.inline_suppressions {
        crate::suppress::inline_with(obj.value, opts.peer_annotations)
            .into_iter()
            .filter(|s| {
                s.rules
                    .iter()
                    .any(|spec| inventory_rule(builtins, spec, obj.kind))
            })
            .collect()
    } else {
        Vec::new()
    };
    InventoryObject {
        value: converted.unwrap_or_else(|| crate::policy::to_rego(obj.value)),
        document,
        prefix: obj.prefix(),
        kind: obj.kind.to_owned(),
        object: object_ref(obj),
        suppressions,
    }
}

fn schema_finding(
    place: &mut dyn Place,
    obj: &Object<'_>,
    prefix: &str,
    e: SchemaError,
) -> Finding {
    let pointer = format!("{prefix}{}", e.pointer);
    let mut f = place.at(&pointer, e.at_key);
    f.rule = e.rule.into();
    f.severity = match e.rule {
        "schema-deprecated" => Severity::Warning,
        "cel-unsupported" => Severity::Info,
        _ => Severity::Error,
    };
    f.message = e.message;
    f.help = e.help;
    f.object = Some(object_ref(obj));
    f
}

/// Validates one object against its schema: the built-in one of its kind, else its CRD's
/// among `crds` (as an update from `old`, the object at the merge request's base, when
/// given). A CRD is checked as a CRD too (`crd-invalid`), and returned compiled.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_object(
    place: &mut dyn Place,
    out: &mut Vec<Finding>,
    catalog: &Catalog,
    crds: Option<&Crds>,
    obj: &Object<'_>,
    old: Option<&serde_json::Value>,
    opts: &Options<'_>,
) -> Option<crd::Definition> {
    crate::timings::measure(crate::timings::Stage::Schema, || {
        validate_object(place, out, catalog, crds, obj, old, opts)
    })
}

/// [`check_object`], untimed.
#[allow(clippy::too_many_arguments)]
fn validate_object(
    place: &mut dyn Place,
    out: &mut Vec<Finding>,
    catalog: &Catalog,
    crds: Option<&Crds>,
    obj: &Object<'_>,
    old: Option<&serde_json::Value>,
    opts: &Options<'_>,
) -> Option<crd::Definition> {
    let prefix = obj.prefix();
    let verdict = catalog.check(obj.api_version, obj.kind, obj.value);
    let mut definition = None;
    if crd::is_crd(obj.api_version, obj.kind) {
        let (def, problems) = crd::compile(obj.value);
        for e in problems {
            out.push(schema_finding(place, obj, &prefix, e));
        }
        definition = def;
    }
    let by_crd = match verdict {
        Verdict::NoSchema => crds.and_then(|c| c.check(obj.api_version, obj.kind, obj.value, old)),
        _ => None,
    };
    let verdict = match by_crd {
        Some(crd::Verdict::Checked(mut errors)) => {
            // The CRD's schema leaves `metadata` to the API server, which checks it as it
            // does for every kind.
            let mut meta = catalog.check_metadata(obj.value);
            meta.append(&mut errors);
            Verdict::Checked(meta)
        }
        Some(crd::Verdict::Unusable(message)) => {
            let mut f = place.at(&format!("{prefix}/kind"), false);
            f.rule = "no-schema".into();
            f.severity = if opts.reject_missing_schemas {
                Severity::Error
            } else {
                Severity::Info
            };
            f.message = message;
            f.object = Some(object_ref(obj));
            out.push(f);
            return definition;
        }
        None => verdict,
    };
    match verdict {
        Verdict::Checked(errors) => {
            for e in errors {
                out.push(schema_finding(place, obj, &prefix, e));
            }
        }
        Verdict::Removed(r) => {
            let message = format!(
                "{} `{}` was removed in Kubernetes {}.{}; {}",
                obj.kind,
                obj.api_version,
                r.removed_in.0,
                r.removed_in.1,
                r.advice()
            );
            out.push(schema_finding(
                place,
                obj,
                &prefix,
                SchemaError {
                    rule: "removed-api",
                    message,
                    pointer: "/apiVersion".into(),
                    at_key: false,
                    help: None,
                },
            ));
        }
        Verdict::NoSchema => {
            // With schema locations, where they looked: a template that does not match the
            // files is the usual mistake.
            let sources = match crds.and_then(|c| c.location_paths(obj.api_version, obj.kind)) {
                None => " or any CRD".to_owned(),
                Some(None) => ", any CRD or a schema location (its apiVersion or kind cannot \
                               name a schema file)"
                    .to_owned(),
                Some(Some(paths)) => format!(
                    ", any CRD or a schema location (no file {})",
                    paths.join(", ")
                ),
            };
            let (severity, message) = if opts.reject_missing_schemas {
                (
                    Severity::Error,
                    format!(
                        "no schema for {} `{}` in Kubernetes {}{sources} \
                         (--reject-missing-schemas)",
                        obj.kind, obj.api_version, catalog.version
                    ),
                )
            } else {
                (
                    Severity::Info,
                    format!(
                        "no schema for {} `{}` in Kubernetes {}{sources}; not validated",
                        obj.kind, obj.api_version, catalog.version
                    ),
                )
            };
            let mut f = place.at(&format!("{prefix}/kind"), false);
            f.rule = "no-schema".into();
            f.severity = severity;
            f.message = message;
            f.object = Some(object_ref(obj));
            out.push(f);
        }
    }
    definition
}

/// Applies the object's `kubegate.io/ignore` annotations to its findings (those from
/// `start` on), and reports the rules an annotation names that silenced nothing. Returns
/// how many findings were silenced.
pub(crate) fn apply_inline(
    place: &mut dyn Place,
    out: &mut Vec<Finding>,
    obj: &Object<'_>,
    start: usize,
    rules: Rules<'_>,
    opts: &Options<'_>,
) -> usize {
    let suppressions = crate::suppress::inline_with(obj.value, opts.peer_annotations);
    if suppressions.is_empty() {
        return 0;
    }
    let builtin = |id: &str| {
        rules
            .builtins
            .and_then(|b| b.rules.iter().find(|r| r.id == id))
            .map(|r| r.name.clone())
    };
    let mut used = vec![false; suppressions.iter().map(|s| s.rules.len()).sum()];
    let before = out.len() - start;
    let mut kept = Vec::with_capacity(before);
    for f in out.drain(start..) {
        let name = builtin(&f.rule);
        let mut silenced = false;
        let mut k = 0;
        for s in &suppressions {
            for spec in &s.rules {
                if crate::suppress::designates(spec, &f.rule, name.as_deref()) {
                    used[k] = true;
                    silenced = true;
                }
                k += 1;
            }
        }
        if !silenced {
            kept.push(f);
        }
    }
    let silenced = before - kept.len();
    out.extend(kept);
    let prefix = obj.prefix();
    let mut k = 0;
    for s in &suppressions {
        if let Some(peer) = &s.peer {
            // A peer annotation stands for all its equivalents: unused when none of those
            // that ran here silenced anything (those judged later are judged there).
            let any_used = used[k..k + s.rules.len()].iter().any(|u| *u);
            k += s.rules.len();
            let deferred = rules
                .builtins
                .is_some_and(|b| s.rules.iter().any(|spec| inventory_rule(b, spec, obj.kind)));
            let ran = s
                .rules
                .iter()
                .any(|spec| rule_ran(spec, rules, opts) == Some(true));
            if !any_used && ran && !deferred {
                let mut f = place.at(&format!("{prefix}{}", s.pointer), false);
                f.rule = "unused-suppression".into();
                f.severity = Severity::Warning;
                f.message = crate::suppress::unused_peer_message(peer, s);
                f.object = Some(object_ref(obj));
                out.push(f);
            }
            continue;
        }
        for spec in &s.rules {
            let ran = rule_ran(spec, rules, opts);
            let deferred = rules
                .builtins
                .is_some_and(|b| inventory_rule(b, spec, obj.kind));
            if !used[k] && ran != Some(false) && !deferred {
                let mut f = place.at(&format!("{prefix}{}", s.pointer), false);
                f.rule = "unused-suppression".into();
                f.severity = Severity::Warning;
                f.message = match ran {
                    None => format!("suppression names `{spec}`, which is no known rule"),
                    Some(_) => format!("suppression of `{spec}` matched no finding; remove it"),
                };
                f.object = Some(object_ref(obj));
                out.push(f);
            }
            k += 1;
        }
    }
    silenced
}

/// Whether the rule `spec` names ran in this check: `Some(true)` if it did, `Some(false)`
/// if it exists but was not run (so an unused suppression of it proves nothing), `None` if
/// no rule has that id or name.
fn rule_ran(spec: &str, rules: Rules<'_>, opts: &Options<'_>) -> Option<bool> {
    if let Some(b) = rules.builtins
        && b.rules
            .iter()
            .any(|r| crate::suppress::designates(spec, &r.id, Some(&r.name)))
    {
        return Some(true);
    }
    if crate::policy::rules()
        .unwrap_or_default()
        .iter()
        .any(|r| crate::suppress::designates(spec, &r.id, Some(&r.name)))
    {
        return Some(false);
    }
    if spec.starts_with("schema-")
        || spec.starts_with("crd-")
        || spec == "cel-unsupported"
        || spec == "removed-api"
        || spec == "no-schema"
    {
        return Some(opts.catalog.is_some());
    }
    if let Some(u) = rules.user
        && u.queries.iter().any(|q| q.id() == spec)
    {
        return Some(true);
    }
    if opts.admission.is_some_and(|w| w.names_policy(spec)) {
        // An admission policy: judged after the check, which reports it if unused.
        return Some(false);
    }
    if spec.contains('.') {
        // A user policy rule that was not loaded in this run.
        return Some(false);
    }
    None
}

/// Runs the built-in rules on one object and turns their violations into findings.
///
/// `converted` is the object already converted to a Rego value, when the caller has it.
pub(crate) fn evaluate_rules(
    place: &mut dyn Place,
    out: &mut Vec<Finding>,
    engine: &mut Builtins,
    obj: &Object<'_>,
    converted: Option<&regorus::Value>,
) {
    let prefix = obj.prefix();
    let result = crate::timings::measure(crate::timings::Stage::Rules, || match converted {
        Some(value) => engine.evaluate_rego(obj.kind, value),
        None => engine.evaluate(obj.kind, obj.value),
    });
    match result {
        Ok(violations) => {
            for v in violations {
                let meta = &engine.rules[v.rule];
                let pointer = format!("{prefix}{}", v.pointer);
                let mut f = place.at(&pointer, false);
                f.rule = meta.id.clone().into();
                f.severity = meta.severity;
                f.message = v.message;
                f.object = Some(object_ref(obj));
                out.push(f);
            }
        }
        Err(e) => {
            let mut f = place.at(&prefix, true);
            f.rule = "policy-error".into();
            f.message = format!("a built-in policy failed on this object: {e:#}");
            f.object = Some(object_ref(obj));
            out.push(f);
        }
    }
}

/// Runs the user's policies on one document (conftest's unit of input) or rendered
/// object: `value`, from the file shown as `file`, about `object` when it is one.
pub(crate) fn evaluate_user(
    place: &mut dyn Place,
    out: &mut Vec<Finding>,
    user: &mut UserPolicies,
    file: &str,
    value: &serde_json::Value,
    converted: Option<&regorus::Value>,
    object: Option<ObjectRef>,
) {
    user.set_file(file);
    let result = crate::timings::measure(crate::timings::Stage::UserPolicies, || match converted {
        Some(converted) => user.evaluate_rego(converted),
        None => user.evaluate(value),
    });
    match result {
        Ok((outcomes, _excepted)) => {
            for o in outcomes {
                let q = &user.queries[o.query];
                let mut f = match (&o.pointer, o.line) {
                    (Some(p), _) => place.at(p, false),
                    (None, Some(line)) => place.at_line(line),
                    (None, None) => place.at("", true),
                };
                f.rule = q.id().into();
                f.severity = match q.kind() {
                    Kind::Deny => Severity::Error,
                    Kind::Warn => Severity::Warning,
                };
                f.message = o.message;
                f.object = object.clone();
                out.push(f);
            }
        }
        Err(e) => {
            let mut f = place.at("", true);
            f.rule = "policy-error".into();
            f.message = format!("a policy failed on this document: {e:#}");
            f.object = object;
            out.push(f);
        }
    }
}

/// Keeps one `no-schema` finding per apiVersion/kind (the first in report order) and says
/// how many objects it stands for.
fn collapse_no_schema(findings: &mut Vec<Finding>) {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.rule == "no-schema") {
        if let Some(o) = &f.object {
            *counts
                .entry((o.api_version.clone(), o.kind.clone()))
                .or_default() += 1;
        }
    }
    let mut seen = std::collections::HashSet::new();
    findings.retain_mut(|f| {
        if f.rule != "no-schema" {
            return true;
        }
        let Some(o) = &f.object else { return true };
        let key = (o.api_version.clone(), o.kind.clone());
        if !seen.insert(key.clone()) {
            return false;
        }
        let n = counts[&key];
        if n > 1 {
            f.message = format!("{} (and {} more objects of this kind)", f.message, n - 1);
        }
        true
    });
}

pub fn object_ref(obj: &Object<'_>) -> ObjectRef {
    ObjectRef {
        api_version: obj.api_version.to_owned(),
        kind: obj.kind.to_owned(),
        namespace: obj.namespace().map(str::to_owned),
        name: obj.name().map(str::to_owned),
    }
}

/// A finding about a whole file, at its start.
/// A finding about a whole file, at its first line.
pub fn file_finding(file: &Arc<str>, rule: &'static str, message: String) -> Finding {
    let start = crate::finding::Position { line: 1, column: 1 };
    Finding {
        rule: rule.into(),
        severity: Severity::Error,
        message,
        file: file.clone(),
        start,
        end: start,
        byte_start: 0,
        byte_end: 0,
        document: None,
        object: None,
        path: None,
        help: None,
        rendered: Vec::new(),
    }
}

/// Where findings about one object (or one document) are placed: the object's own file
/// for a manifest, wherever each node came from for a rendered object.
pub(crate) trait Place {
    /// A finding at the node `pointer` resolves to (see [`FileText::locate`]).
    fn at(&mut self, pointer: &str, at_key: bool) -> Finding;
    /// A finding on a line of the input's file (conftest's `_loc`).
    fn at_line(&mut self, line: u32) -> Finding;
}

/// A document of a file, as a [`Place`].
pub(crate) struct DocPlace<'a> {
    pub src: &'a mut FileText,
    pub doc: &'a Document,
}

impl Place for DocPlace<'_> {
    fn at(&mut self, pointer: &str, at_key: bool) -> Finding {
        self.src.locate(self.doc, pointer, at_key)
    }

    fn at_line(&mut self, line: u32) -> Finding {
        let text = self.src.text();
        let range = self.src.lines().line_range(&text, line);
        let mut f = self.src.finding_at(range.start, range.end);
        f.document = Some(self.doc.index);
        f
    }
}

/// Per-file state while checking: its findings, and its text.
struct FileCtx {
    src: FileText,
    findings: Vec<Finding>,
}

impl FileCtx {
    fn new(file: Arc<str>, text: Arc<str>) -> Self {
        Self {
            src: FileText::new(file, text),
            findings: Vec::new(),
        }
    }

    /// The document `doc` of this file, as a place, with the findings to add to.
    fn place<'a>(&'a mut self, doc: &'a Document) -> (DocPlace<'a>, &'a mut Vec<Finding>) {
        (
            DocPlace {
                src: &mut self.src,
                doc,
            },
            &mut self.findings,
        )
    }

    fn issue(&mut self, issue: &Issue) {
        let f = self.src.issue(issue);
        self.findings.push(f);
    }
}

/// A file's text, with the line index built only once a finding needs it.
pub(crate) struct FileText {
    file: Arc<str>,
    text: Arc<str>,
    /// A text not kept, read on first need ([`Self::text`]) within this many bytes.
    later: Option<(LaterText, u64)>,
    /// Built when first needed (or shared, for a file a render read).
    lines: Option<Arc<LineIndex>>,
}

impl FileText {
    pub(crate) fn new(file: Arc<str>, text: Arc<str>) -> Self {
        Self {
            file,
            text,
            later: None,
            lines: None,
        }
    }

    /// A file whose text is read again when a finding is first placed in it: empty (the
    /// findings then name the file only) if it is gone or changed since it was checked.
    pub(crate) fn later(file: Arc<str>, text: LaterText, max: u64) -> Self {
        Self {
            file,
            text: "".into(),
            later: Some((text, max)),
            lines: None,
        }
    }

    /// The text, read now if it was not kept.
    pub(crate) fn text(&mut self) -> Arc<str> {
        if let Some((later, max)) = self.later.take() {
            self.text = later.get(max).unwrap_or_else(|| "".into());
        }
        self.text.clone()
    }

    /// A finding on the whole line `line` (1-based; the last line past the end).
    pub(crate) fn line_finding(&mut self, line: u32) -> Finding {
        let text = self.text();
        let range = self.lines().line_range(&text, line);
        self.finding_at(range.start, range.end)
    }

    /// The line index (shared: clone it for other views of the same text).
    pub(crate) fn lines(&mut self) -> &Arc<LineIndex> {
        let lines = match self.lines.take() {
            Some(lines) => lines,
            None => Arc::new(LineIndex::new(&self.text())),
        };
        self.lines.insert(lines)
    }

    pub(crate) fn finding_at(&mut self, start: usize, end: usize) -> Finding {
        let text = self.text();
        let lines = self.lines();
        let (s, e) = (lines.position(&text, start), lines.position(&text, end));
        // The indexed text's length: `text` may be empty, let go of by a render.
        let len = lines.len();
        Finding {
            rule: "".into(),
            severity: Severity::Error,
            message: String::new(),
            file: self.file.clone(),
            start: s,
            end: e,
            byte_start: start.min(len),
            byte_end: end.min(len),
            document: None,
            object: None,
            path: None,
            help: None,
            rendered: Vec::new(),
        }
    }

    fn issue(&mut self, issue: &Issue) -> Finding {
        let mut f = self.finding_at(issue.start as usize, issue.end as usize);
        if matches!(issue.rule, parse::yaml::AMBIGUOUS | parse::yaml::DROPPED) {
            f.severity = Severity::Warning;
        }
        f.rule = issue.rule.into();
        f.message = issue.message.clone();
        f.document = Some(issue.document);
        f
    }

    /// A finding at the node `pointer` resolves to: its key when `at_key` (or when the node
    /// is a mapping or sequence), else its value; a missing node's nearest ancestor.
    fn locate(&mut self, doc: &Document, pointer: &str, at_key: bool) -> Finding {
        let text = self.text();
        let (start, end) = match doc.source_map.locate(pointer, &text) {
            Some(loc) => {
                let container = loc.kind != NodeKind::Scalar;
                match loc.key {
                    Some(k) if at_key || container || loc.ancestor => (k.start, k.end),
                    _ if container || loc.ancestor => {
                        // A text read again that changed since is empty: no line to end.
                        let line_end = text
                            .get(loc.value.start..)
                            .and_then(|rest| rest.find(['\n', '\r']))
                            .map_or(text.len(), |i| loc.value.start + i);
                        (
                            loc.value.start,
                            line_end.min(loc.value.end.max(loc.value.start)),
                        )
                    }
                    _ => (loc.value.start, loc.value.end),
                }
            }
            None => (doc.start as usize, doc.start as usize),
        };
        let mut f = self.finding_at(start, end);
        f.document = Some(doc.index);
        f.path = Some(pointer.to_owned());
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A custom resource waiting for its CRD is kept as JSON and read back as it was
    /// parsed: every number the same (floats at the edge of their precision too), keys,
    /// strings and source map unchanged; one nested beyond what JSON reads back keeps its
    /// tree.
    #[test]
    fn shelved_documents_come_back_as_parsed() {
        let text = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  \
                    ratio: 0.30000000000000004\n  tiny: 5e-324\n  big: 18446744073709551615\n  \
                    neg: -9223372036854775808\n  exp: 1.7976931348623157e308\n  text: \"\\u00e9\\t\"\n  \
                    list: [1, 2.5, null, true, {a: []}]\n";
        let (docs, issues) = parse::yaml::parse(text, &Limits::default());
        assert!(issues.is_empty(), "{issues:?}");
        let doc = docs.into_iter().next().unwrap();
        let shelved = Shelved::of(doc.clone());
        assert!(!shelved.json.is_empty());
        assert_eq!(shelved.doc.value, serde_json::Value::Null);
        let back = shelved.restore();
        assert_eq!(back.value, doc.value);
        assert_eq!(
            back.value
                .pointer("/spec/ratio")
                .and_then(serde_json::Value::as_f64),
            Some(0.30000000000000004)
        );
        assert_eq!(
            back.value
                .pointer("/spec/tiny")
                .and_then(serde_json::Value::as_f64),
            Some(5e-324)
        );
        assert_eq!(
            (back.index, back.start, format!("{:?}", back.source_map)),
            (doc.index, doc.start, format!("{:?}", doc.source_map))
        );

        let deep = format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w}}\nspec: {}1{}\n",
            "[".repeat(SHELVE_DEPTH + 5),
            "]".repeat(SHELVE_DEPTH + 5)
        );
        let (docs, _) = parse::yaml::parse(&deep, &Limits::default());
        let doc = docs.into_iter().next().unwrap();
        let shelved = Shelved::of(doc.clone());
        assert!(shelved.json.is_empty());
        assert_eq!(shelved.restore().value, doc.value);
    }

    /// The options of a human report's run (texts kept for snippets), with no user policy.
    fn options_keeping_sources<'a>(
        catalog: Option<&'a Catalog>,
        builtins: Option<&'a Builtins>,
    ) -> Options<'a> {
        Options {
            catalog,
            crds: None,
            builtins,
            user: None,
            reject_missing_schemas: false,
            limits: Limits::default(),
            keep_sources: true,
            kustomize: Default::default(),
            inline_suppressions: true,
            peer_annotations: Default::default(),
            combine: false,
            old: None,
            admission: None,
        }
    }

    fn loaded(display: &str, text: &str) -> Loaded {
        Loaded {
            input: Input::Stdin {
                display: display.to_owned(),
            },
            bytes: Ok(text.as_bytes().to_vec()),
            parsed: None,
        }
    }

    /// A file on disk is read again to place the findings of the checks across files (its
    /// text is not kept until then), and only while it still holds the text checked: a file
    /// changed meanwhile gets its finding at the top, never at a line of other text.
    #[test]
    fn findings_across_files_are_placed_in_the_text_that_was_checked() {
        let builtins = Builtins::load(|r| r.id == "KG507").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.yaml");
        let text = "# a Service no workload matches\napiVersion: v1\nkind: Service\nmetadata:\n  \
                    name: web\nspec:\n  selector: {app: web}\n";
        let opts = options_keeping_sources(None, Some(&builtins));
        let placed = |edit: Option<String>| {
            std::fs::write(&path, text).unwrap();
            let input = Input::File {
                path: path.clone(),
                display: "svc.yaml".into(),
            };
            let results = check_files(vec![load(input, &opts.limits)], &opts);
            if let Some(edit) = edit {
                std::fs::write(&path, edit).unwrap();
            }
            let out = outcome(results, &opts);
            out.findings
                .iter()
                .filter(|f| f.rule == "KG507")
                .map(|f| (f.start.line, out.sources.contains_key(&f.file)))
                .collect::<Vec<_>>()
        };
        assert_eq!(placed(None), [(7, true)]);
        // The same objects two lines lower: not the text checked.
        assert_eq!(placed(Some(format!("\n\n{text}"))), [(1, false)]);
        std::fs::remove_file(&path).unwrap();
        let input = Input::File {
            path: path.clone(),
            display: "svc.yaml".into(),
        };
        let missing = check_files(vec![load(input, &opts.limits)], &opts);
        assert!(missing[0].later.is_none());
    }

    /// A custom resource waiting for the CRDs of the run does not keep its file's text: the
    /// file is read again to place its findings, in the text that was checked only.
    #[test]
    fn a_waiting_custom_resource_is_placed_in_its_file_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let crd = dir.path().join("crd.yaml");
        std::fs::write(
            &crd,
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  \
             name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  \
             names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  \
             versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      \
             openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            \
             type: object\n            properties:\n              size: {type: integer}\n",
        )
        .unwrap();
        let path = dir.path().join("w.yaml");
        let text = "# a widget\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n\
                    spec:\n  size: big\n";
        let catalog = crate::schema::Catalog::get(crate::schema::default_version()).unwrap();
        let opts = options_keeping_sources(Some(catalog), None);
        let input = |path: &std::path::Path, display: &str| {
            load(
                Input::File {
                    path: path.to_path_buf(),
                    display: display.into(),
                },
                &opts.limits,
            )
        };
        let placed = |edit: Option<String>| {
            std::fs::write(&path, text).unwrap();
            let results = check_files(vec![input(&crd, "crd.yaml"), input(&path, "w.yaml")], &opts);
            let mut out = outcome(results, &opts);
            assert_eq!(out.pending.len(), 1);
            assert!(matches!(out.pending[0].text, LaterText::OnDisk { .. }));
            if let Some(edit) = edit {
                std::fs::write(&path, edit).unwrap();
            }
            let mut crds = Crds::default();
            add_crds(&mut crds, std::mem::take(&mut out.crds), &mut out.findings);
            custom_resources(&mut out, &crds, &opts);
            out.findings
                .iter()
                .filter(|f| &*f.file == "w.yaml")
                .map(|f| {
                    (
                        f.rule.to_string(),
                        f.start.line,
                        out.sources.contains_key(&f.file),
                    )
                })
                .collect::<Vec<_>>()
        };
        let found = placed(None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].1, found[0].2), (7, true), "{found:?}");
        // Changed meanwhile: the finding stays, at the top, and no other text is shown.
        let changed = placed(Some(format!("\n\n{text}")));
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!((changed[0].1, changed[0].2), (1, false), "{changed:?}");
    }

    /// The checks across files, judged apart, put their findings where `outcome` would
    /// have: sorted among the files' own, before the findings added since.
    #[test]
    fn findings_judged_apart_merge_where_outcome_puts_them() {
        let at = |file: &str, line: u32| {
            let mut f = file_finding(&Arc::from(file), "r", String::new());
            f.start.line = line;
            f
        };
        let mut out = Outcome {
            findings: vec![at("a.yaml", 1), at("c.yaml", 1)],
            ..Outcome::default()
        };
        let gathered = out.findings.len();
        // A custom resource's finding, added after the files were gathered.
        out.findings.push(at("0.yaml", 1));
        let part = Outcome {
            findings: vec![at("c.yaml", 1), at("b.yaml", 2)],
            stats: Stats {
                suppressed: 2,
                ..Stats::default()
            },
            ..Outcome::default()
        };
        merge(&mut out, part, gathered);
        let order: Vec<(&str, u32)> = out
            .findings
            .iter()
            .map(|f| (&*f.file, f.start.line))
            .collect();
        // The duplicate of c.yaml's finding goes, as `outcome`'s sort drops it.
        assert_eq!(
            order,
            [("a.yaml", 1), ("b.yaml", 2), ("c.yaml", 1), ("0.yaml", 1)]
        );
        assert_eq!(out.stats.suppressed, 2);
    }

    #[test]
    fn a_later_text_is_the_text_checked_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "\u{FEFF}kind: A\n").unwrap();
        let text: Arc<str> = "kind: A\n".into();
        let later = LaterText::of(&text, Some(&path));
        assert_eq!(later.get(1024).as_deref(), Some("kind: A\n"));
        // Over the size limit now: not read.
        assert_eq!(later.get(4), None);
        std::fs::write(&path, "kind: B\n").unwrap();
        assert_eq!(later.get(1024), None);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(later.get(1024), None);
        let kept = LaterText::of(&text, None);
        assert_eq!(kept.get(0).as_deref(), Some("kind: A\n"));
    }

    /// The files a kustomization lists are known by the names the inputs have, relative or
    /// absolute: named by an absolute path, its patches used to be checked as objects.
    #[test]
    fn kustomize_files_are_named_as_the_inputs_are() {
        for (dir, patch, resource) in [
            ("app", "app/p/one.yaml", "base"),
            ("/repo/app", "/repo/app/p/one.yaml", "/repo/base"),
            ("../repo/app", "../repo/app/p/one.yaml", "../repo/base"),
        ] {
            let inputs = vec![loaded(
                &format!("{dir}/kustomization.yaml"),
                "resources: [../base]\npatches: [{path: p/one.yaml}]\n",
            )];
            let k = kustomize_files(&inputs);
            assert!(k.patches.contains(patch), "{dir}: {:?}", k.patches);
            assert!(k.resources.contains(resource), "{dir}: {:?}", k.resources);
        }
        assert_eq!(normalize("/repo/app", "p/one.yaml"), "/repo/app/p/one.yaml");
        assert_eq!(
            normalize("/repo/app", "../base/x.yaml"),
            "/repo/base/x.yaml"
        );
        assert_eq!(normalize("app", "./two.yaml"), "app/two.yaml");
        assert_eq!(normalize("../repo/app", "x.yaml"), "../repo/app/x.yaml");
    }

    /// Only the large files checked as they are get parsed ahead, each as its check reads
    /// it, and nothing is once the wait is over.
    #[test]
    fn parse_ahead_parses_the_files_checked_as_they_are() {
        let object = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  a: {}\n",
            "x".repeat(PARSE_AHEAD_BYTES)
        );
        let object = object.as_str();
        let mut inputs = vec![
            loaded("app/cm.yaml", object),
            loaded(
                "app/kustomization.yaml",
                "resources: [res.yaml]\npatches: [{path: p.yaml}]\n",
            ),
            loaded("app/res.yaml", object),
            loaded("app/p.yaml", object),
            loaded("app/bin.yaml", &format!("a\0{object}")),
            loaded(
                "app/small.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            ),
        ];
        let kustomize = kustomize_files(&inputs);
        parse_ahead(&mut inputs, &kustomize, &Limits::default(), || true);
        let parsed: Vec<Option<usize>> = inputs
            .iter()
            .map(|l| l.parsed.as_ref().map(|(_, p)| p.documents.len()))
            .collect();
        assert_eq!(parsed, [Some(1), None, None, None, None, None]);
        assert_eq!(inputs[0].parsed.as_ref().unwrap().0, Reader::Kubectl);

        let mut late = vec![loaded("cm.yaml", object)];
        parse_ahead(&mut late, &kustomize, &Limits::default(), || false);
        assert!(late[0].parsed.is_none());
    }
}
