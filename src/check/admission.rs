//! The admission stage: once every file is checked and every root rendered, the admission
//! policies of the run ([`crate::admission`]) judge every object, and each violation lands
//! on the field it is about, in the file the author edits (the manifest, or for a rendered
//! object the base, patch or values line it came from).
//!
//! The stage costs nothing in a repository without admission policies: the files are
//! searched for the policies' API groups before anything is kept for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value;

use super::rendered::{NodePlace, Root};
use super::{FileCtx, FileText, Options, Place, file_finding};
use crate::admission::{Cluster, Operation, Policies, Request, Violation, Wants};
use crate::finding::{Finding, ObjectRef, Severity};
use crate::parse::{self, Contents, Reader};
use crate::render::files::Files;
use crate::render::node::FileId;

/// What a file keeps of an object for the admission policies.
#[derive(Debug)]
pub struct AdmissionObject {
    pub value: Value,
    /// Index of its document in the file.
    pub document: usize,
    /// Its pointer prefix within the document (`""`, or `/items/3`).
    pub prefix: String,
    pub object: ObjectRef,
}

/// The objects of one checked file.
#[derive(Debug)]
pub struct AdmissionFile {
    pub file: Arc<str>,
    /// Read again only to place a finding.
    pub text: super::LaterText,
    /// How it was read (it is read again, the same way, to place a finding).
    pub reader: Reader,
    pub objects: Vec<AdmissionObject>,
}

/// A file the policies are read from: one of the run, a `--policy` directory's, or in a
/// merge request the base's version of one.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    /// As reports show it.
    pub file: Arc<str>,
    pub text: Arc<str>,
    pub reader: Reader,
}

impl PolicyFile {
    /// A file's bytes as a policy file: `None` when they name no admission API group (the
    /// cheap look before any parse) or are binary.
    pub fn new(file: &str, bytes: &[u8], reader: Reader) -> Option<Self> {
        if !crate::admission::may_hold_policy(bytes) {
            return None;
        }
        let decoded = parse::decode(bytes);
        (!decoded.binary).then(|| PolicyFile {
            file: file.into(),
            text: decoded.text.as_ref().into(),
            reader,
        })
    }
}

/// The YAML and JSON files under `root` (itself, if a file), sorted; with `filters`, as
/// `ignore` walks (hidden and ignored files left out).
pub fn manifest_files(root: &std::path::Path, filters: bool) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = ignore::WalkBuilder::new(root)
        .standard_filters(filters)
        .build()
        .flatten()
        .map(ignore::DirEntry::into_path)
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    out.sort();
    out
}

/// The renders of the run (kustomize roots, charts).
pub type Render<'a> = (&'a [Root], &'a Files);

/// The base version of the rendered objects a merge request keeps: by the root's directory
/// (as reports show it) and the object's index among the root's objects, the object's
/// identity at head and its base value.
pub type RenderedOld<'a> = HashMap<(Arc<str>, usize), (&'a ObjectRef, &'a Value)>;

/// Where an object of the stage comes from.
#[derive(Debug, Clone, Copy)]
enum At {
    /// An object of a checked file: (file, object) of [`AdmissionFile`]s.
    File(usize, usize),
    /// A rendered object: (render, root, object).
    Rendered(usize, usize, usize),
    /// A policy read from a [`PolicyFile`]: (policy file, document, object in document).
    Policy(usize, usize, usize),
}

/// The result of the stage: findings, and the texts of the files they are in.
#[derive(Debug, Default)]
pub struct Judged {
    pub findings: Vec<Finding>,
    pub sources: BTreeMap<Arc<str>, Arc<str>>,
    /// The policies found, in order.
    pub policies: Vec<Listed>,
    /// Violations silenced by the objects' `kubegate.io/ignore` annotations.
    pub suppressed: usize,
}

/// An admission policy found, and where.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The rule id its violations carry.
    pub rule: String,
    pub engine: &'static str,
    pub file: Arc<str>,
    pub line: u32,
}

/// The admission policies of `files` (`kubegate rules --admission`): each with its place,
/// and the problems that keep any from running.
pub struct Listing {
    pub policies: Vec<Listed>,
    pub problems: Vec<Finding>,
}

/// Loads the policies of `files` without judging anything.
pub fn list(files: &[PolicyFile], limits: &parse::Limits) -> Listing {
    let opts = Options {
        catalog: None,
        crds: None,
        builtins: None,
        user: None,
        reject_missing_schemas: false,
        limits: limits.clone(),
        keep_sources: false,
        kustomize: Default::default(),
        inline_suppressions: false,
        peer_annotations: Default::default(),
        combine: false,
        old: None,
        admission: None,
    };
    let Some(prepared) = prepare(files, limits) else {
        return Listing {
            policies: Vec::new(),
            problems: Vec::new(),
        };
    };
    let (judged, _) = judge(
        &prepared,
        files,
        false,
        &[],
        &[],
        &RenderedOld::new(),
        &opts,
    );
    Listing {
        policies: judged.policies,
        problems: judged.findings,
    }
}

/// The admission policies of the policy files, loaded (and compiled) before the files are
/// checked: what they may judge decides which objects the check keeps for them.
pub struct Prepared {
    values: Vec<(Value, At)>,
    parsed: Vec<Vec<parse::Document>>,
    policies: Policies,
    problems: Vec<crate::admission::Problem>,
    /// The objects to keep for the policies.
    pub wants: Wants,
}

impl Prepared {
    /// The policies of the files.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }
}

/// Loads the policies of `policy_files`; `None` when they hold none, and no chart template
/// among them may render one.
pub fn prepare(policy_files: &[PolicyFile], limits: &parse::Limits) -> Option<Prepared> {
    let mut values: Vec<(Value, At)> = Vec::new();
    let mut parsed: Vec<Vec<parse::Document>> = Vec::with_capacity(policy_files.len());
    let mut templated = false;
    for (pi, pf) in policy_files.iter().enumerate() {
        let docs = parse::yaml::parse_as(&pf.text, limits, pf.reader).documents;
        let before = values.len();
        for (di, doc) in docs.iter().enumerate() {
            if let Contents::Objects(objects) = parse::objects(doc) {
                for (oi, o) in objects.iter().enumerate() {
                    if crate::admission::is_policy(o.value) {
                        values.push((o.value.clone(), At::Policy(pi, di, oi)));
                    }
                }
            }
        }
        templated |= values.len() == before && pf.text.contains("{{");
        parsed.push(docs);
    }
    if values.is_empty() && !templated {
        return None;
    }
    let refs: Vec<&Value> = values.iter().map(|(v, _)| v).collect();
    let (policies, problems) =
        crate::timings::measure(crate::timings::Stage::Admission, || Policies::load(&refs));
    let mut wants = policies.wants();
    if templated {
        // A chart may render a policy of any kind's: every object is kept.
        wants.add(None, None);
    }
    Some(Prepared {
        values,
        parsed,
        policies,
        problems,
        wants,
    })
}

/// Runs the prepared admission policies (with `rendered_policies`, and those the renders
/// produce) on every object of `files` and `renders`; the policies, when the renders added
/// some (for the deletions of a merge request).
pub fn judge(
    prepared: &Prepared,
    policy_files: &[PolicyFile],
    rendered_policies: bool,
    files: &[AdmissionFile],
    renders: &[Render<'_>],
    rendered_old: &RenderedOld<'_>,
    opts: &Options<'_>,
) -> (Judged, Option<Policies>) {
    let mut out = Judged::default();
    let wants = &prepared.wants;
    // Every rendered object the policies may judge or read, as a value, once.
    let rendered: Vec<Vec<Vec<Option<Value>>>> = renders
        .iter()
        .map(|(roots, _)| {
            roots
                .par_iter()
                .map(|r| {
                    r.objects
                        .iter()
                        .map(|o| {
                            let (api_version, kind) = o.type_meta();
                            let group =
                                crate::admission::matching::split_api_version(api_version).0;
                            // A packed object is unpacked only when a policy wants it.
                            if !wants.wants(group, kind) {
                                return None;
                            }
                            wants.keep_tree(group, kind, &*o.node())
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    // The policies the renders add: each one not already read from a file (a base's policy
    // rendered through its overlay is the same policy).
    let mut reloaded = None;
    if rendered_policies {
        let id = |v: &Value| {
            let s = |p: &[&str]| crate::admission::str_at(v, p).unwrap_or("").to_owned();
            (
                crate::admission::matching::split_api_version(&s(&["apiVersion"]))
                    .0
                    .to_owned(),
                s(&["kind"]),
                s(&["metadata", "namespace"]),
                s(&["metadata", "name"]),
            )
        };
        let mut seen: HashSet<_> = prepared.values.iter().map(|(v, _)| id(v)).collect();
        let mut added: Vec<(Value, At)> = Vec::new();
        for (si, roots) in rendered.iter().enumerate() {
            for (ri, objects) in roots.iter().enumerate() {
                for (oi, v) in objects.iter().enumerate() {
                    if let Some(v) = v
                        && crate::admission::is_policy(v)
                        && seen.insert(id(v))
                    {
                        added.push((v.clone(), At::Rendered(si, ri, oi)));
                    }
                }
            }
        }
        if !added.is_empty() {
            let all: Vec<(Value, At)> = prepared.values.iter().cloned().chain(added).collect();
            let refs: Vec<&Value> = all.iter().map(|(v, _)| v).collect();
            let (policies, problems) = Policies::load(&refs);
            reloaded = Some((all, policies, problems));
        }
    }
    let (policy_values, policies, problems) = match &reloaded {
        Some((v, p, pr)) => (v.as_slice(), p, pr.as_slice()),
        None => (
            prepared.values.as_slice(),
            &prepared.policies,
            prepared.problems.as_slice(),
        ),
    };
    let parsed_policy_files = &prepared.parsed;
    if policies.is_empty() && problems.is_empty() {
        return (out, None);
    }
    let mut placer = Placer {
        policy_files,
        parsed_policy_files,
        files,
        renders,
        parsed: HashMap::new(),
        texts: HashMap::new(),
        trees: Default::default(),
        opts,
    };
    for f in policies.found() {
        let at = policy_values[f.object].1;
        let placed = placer.place(at, "", Severity::Info);
        out.policies.push(Listed {
            rule: f.rule.clone(),
            engine: f.engine,
            file: placed.file,
            line: placed.start.line,
        });
    }
    for p in problems {
        let (value, at) = &policy_values[p.policy];
        let mut f = placer.place(*at, &p.pointer, p.severity);
        f.rule = p.rule.into();
        f.message = p.message.clone();
        f.object = Some(object_ref(value));
        out.findings.push(f);
    }
    if policies.is_empty() {
        return (placer.finish(out), reloaded.map(|r| r.1));
    }
    // Every object of the run, in run order: the cluster the policies look into.
    let mut subjects: Vec<(&Value, At)> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        for (oi, o) in f.objects.iter().enumerate() {
            subjects.push((&o.value, At::File(fi, oi)));
        }
    }
    for (si, roots) in rendered.iter().enumerate() {
        for (ri, objects) in roots.iter().enumerate() {
            for (oi, v) in objects.iter().enumerate() {
                if let Some(v) = v {
                    subjects.push((v, At::Rendered(si, ri, oi)));
                }
            }
        }
    }
    // The base versions of the rendered objects a merge request keeps, as the policies
    // see them.
    let olds: HashMap<(usize, usize, usize), Value> = if rendered_old.is_empty() {
        HashMap::new()
    } else {
        subjects
            .iter()
            .filter_map(|(_, at)| {
                let At::Rendered(si, ri, oi) = *at else {
                    return None;
                };
                let root = &renders[si].0[ri];
                let (head, old) = rendered_old.get(&(root.dir.clone(), oi))?;
                let node = root.objects.get(oi)?.node();
                let s = |k: &str| node.get(k).and_then(|v| v.as_str());
                let meta = |k: &str| {
                    node.get("metadata")
                        .and_then(|m| m.get(k))
                        .and_then(|v| v.as_str())
                };
                // The same object the comparison saw at head.
                if s("kind") != Some(head.kind.as_str())
                    || meta("name") != head.name.as_deref()
                    || meta("namespace") != head.namespace.as_deref()
                {
                    return None;
                }
                let group =
                    crate::admission::matching::split_api_version(s("apiVersion").unwrap_or("")).0;
                let kept = wants.keep_owned(group, &head.kind, (*old).clone())?;
                Some(((si, ri, oi), kept))
            })
            .collect()
    };
    let cluster = Cluster::new(subjects.iter().map(|(v, _)| *v));
    let verdicts: Vec<Vec<Violation>> =
        crate::timings::measure(crate::timings::Stage::Admission, || {
            subjects
                .par_iter()
                .map(|(value, at)| {
                    let old = match at {
                        At::File(fi, oi) => opts.old.and_then(|old| {
                            let o = &files[*fi].objects[*oi].object;
                            old.get(
                                &files[*fi].file,
                                &o.api_version,
                                &o.kind,
                                o.namespace.as_deref(),
                                o.name.as_deref(),
                            )
                        }),
                        At::Rendered(si, ri, oi) => olds.get(&(*si, *ri, *oi)),
                        At::Policy(..) => None,
                    };
                    let req = Request {
                        operation: if old.is_some() {
                            Operation::Update
                        } else {
                            Operation::Create
                        },
                        object: Some(*value),
                        old,
                    };
                    policies.evaluate(&req, &cluster)
                })
                .collect()
        });
    // The objects' own suppressions (`kubegate.io/ignore`) of the policies found, and
    // which silenced something.
    let names_policy = |spec: &str| {
        policies
            .found()
            .iter()
            .any(|p| crate::suppress::designates(spec, &p.rule, None))
    };
    let suppressions: Vec<Vec<crate::suppress::Inline>> = subjects
        .iter()
        .map(|(value, _)| {
            if !opts.inline_suppressions {
                return Vec::new();
            }
            crate::suppress::inline_with(value, opts.peer_annotations)
        })
        .collect();
    let mut used: Vec<Vec<Vec<bool>>> = suppressions
        .iter()
        .map(|ss| ss.iter().map(|s| vec![false; s.rules.len()]).collect())
        .collect();
    // What the interpreter could not decide is said once for the run.
    let mut said: HashSet<String> = HashSet::new();
    for (n, ((value, at), violations)) in subjects.iter().zip(verdicts).enumerate() {
        for v in violations {
            if v.rule == "admission-unsupported" {
                if !said.insert(v.message.clone()) {
                    continue;
                }
                // On the policy, not on the object it met.
                let pat = policy_values[policies.found()[v.policy].object].1;
                let mut f = placer.place(pat, "", v.severity);
                f.rule = v.rule.into();
                f.message = v.message;
                out.findings.push(f);
                continue;
            }
            // `kubegate.io/ignore: ValidatingAdmissionPolicy/max-replicas <reason>` on the
            // object (or a peer's annotation, under `migration`), as for every rule.
            let mut silenced = false;
            for (si, s) in suppressions[n].iter().enumerate() {
                for (ri, spec) in s.rules.iter().enumerate() {
                    if crate::suppress::designates(spec, &v.rule, None) {
                        used[n][si][ri] = true;
                        silenced = true;
                    }
                }
            }
            if silenced {
                out.suppressed += 1;
                continue;
            }
            let mut f = placer.place(*at, &v.pointer, v.severity);
            f.rule = v.rule.into();
            f.message = v.message;
            f.object = Some(object_ref(value));
            out.findings.push(f);
        }
    }
    // A suppression of a policy that silenced nothing here is stale, as for every rule.
    for (n, (value, at)) in subjects.iter().enumerate() {
        for (si, s) in suppressions[n].iter().enumerate() {
            if s.peer.is_some() {
                continue;
            }
            for (ri, spec) in s.rules.iter().enumerate() {
                if used[n][si][ri] || !names_policy(spec) {
                    continue;
                }
                let mut f = placer.place(*at, &s.pointer, Severity::Warning);
                f.rule = "unused-suppression".into();
                f.message = format!("suppression of `{spec}` matched no finding; remove it");
                f.object = Some(object_ref(value));
                out.findings.push(f);
            }
        }
    }
    let out = placer.finish(out);
    (out, reloaded.map(|r| r.1))
}

fn object_ref(v: &Value) -> ObjectRef {
    let s = |p: &[&str]| crate::admission::str_at(v, p).map(str::to_owned);
    ObjectRef {
        api_version: s(&["apiVersion"]).unwrap_or_default(),
        kind: s(&["kind"]).unwrap_or_default(),
        namespace: s(&["metadata", "namespace"]),
        name: s(&["metadata", "name"]),
    }
}

/// Places findings in files: parsing a file again only once, and only when it has one.
struct Placer<'a> {
    policy_files: &'a [PolicyFile],
    parsed_policy_files: &'a [Vec<parse::Document>],
    files: &'a [AdmissionFile],
    renders: &'a [Render<'a>],
    /// The documents of the checked files placed in, read again.
    parsed: HashMap<usize, (Vec<parse::Document>, FileCtx)>,
    /// The texts of rendered files placed in, per render.
    texts: HashMap<usize, HashMap<FileId, FileText>>,
    /// The rendered objects with findings, each unpacked once.
    trees: crate::render::object::Unpacked<'a, (usize, usize, usize)>,
    opts: &'a Options<'a>,
}

impl Placer<'_> {
    fn place(&mut self, at: At, pointer: &str, severity: Severity) -> Finding {
        let mut f = match at {
            At::File(fi, oi) => {
                let file = &self.files[fi];
                let limits = &self.opts.limits;
                let (docs, ctx) = self.parsed.entry(fi).or_insert_with(|| {
                    // Gone or changed since it was checked: the findings name the file only.
                    let text = file
                        .text
                        .get(limits.max_file_size)
                        .unwrap_or_else(|| "".into());
                    (
                        parse::yaml::parse_as(&text, limits, file.reader).documents,
                        FileCtx::new(file.file.clone(), text),
                    )
                });
                let o = &file.objects[oi];
                let full = format!("{}{pointer}", o.prefix);
                match docs.get(o.document) {
                    Some(doc) => ctx.src.locate(doc, &full, pointer.is_empty()),
                    None => file_finding(&file.file, "", String::new()),
                }
            }
            At::Policy(pi, di, oi) => {
                let pf = &self.policy_files[pi];
                let mut src = FileText::new(pf.file.clone(), pf.text.clone());
                match self.parsed_policy_files[pi].get(di) {
                    Some(doc) => {
                        let prefix = match parse::objects(doc) {
                            Contents::Objects(objects) => {
                                objects.get(oi).map(|o| o.prefix()).unwrap_or_default()
                            }
                            Contents::Skipped(_) => String::new(),
                        };
                        src.locate(doc, &format!("{prefix}{pointer}"), pointer.is_empty())
                    }
                    None => file_finding(&pf.file, "", String::new()),
                }
            }
            At::Rendered(si, ri, oi) => {
                let (roots, files) = self.renders[si];
                let root = &roots[ri];
                let texts = self.texts.entry(si).or_default();
                let mut place = NodePlace {
                    files,
                    texts,
                    node: self.trees.get((si, ri, oi), &root.objects[oi]),
                };
                let mut f = place.at(pointer, pointer.is_empty());
                super::rendered::relocate_remote(&mut f, root.remote, files, texts);
                f.rendered = vec![root.dir.clone()];
                f
            }
        };
        f.severity = severity;
        f
    }

    /// The findings in report order, a place found through several roots once, with the
    /// texts of their files.
    fn finish(self, mut out: Judged) -> Judged {
        super::rendered::merge_across_roots(&mut out.findings);
        if self.opts.keep_sources {
            let mut texts: HashMap<&str, Arc<str>> = HashMap::new();
            // The checked files with a finding were read again to place it.
            for (fi, (_, ctx)) in &self.parsed {
                if !ctx.src.text.is_empty() {
                    texts.insert(&self.files[*fi].file, ctx.src.text.clone());
                }
            }
            for p in self.policy_files {
                texts.entry(&p.file).or_insert_with(|| p.text.clone());
            }
            for f in &out.findings {
                if out.sources.contains_key(&f.file) {
                    continue;
                }
                let text = texts.get(&*f.file).cloned().or_else(|| {
                    self.renders
                        .iter()
                        .find_map(|(_, files)| super::rendered::text_of(files, &f.file))
                });
                if let Some(text) = text {
                    out.sources.insert(f.file.clone(), text);
                }
            }
        }
        crate::finding::sort(&mut out.findings);
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::admission::Wants;
    use crate::render::node::testing::doc;

    /// What is kept of a rendered tree is what [`Wants::keep`] keeps of its value: the
    /// paths read (a scalar, a mapping, a path through a list or a missing one), or all of
    /// it for a kind kept whole; nothing for a kind no policy wants.
    #[test]
    fn a_tree_is_kept_as_its_value_would_be() {
        let text = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                    metadata: {name: a.example.com, labels: {x: z}}\n\
                    spec:\n  group: example.com\n  names: {kind: A, plural: as}\n  scope: Namespaced\n\
                    \x20 versions:\n  - name: v1\n    schema: {openAPIV3Schema: {type: object}}\n";
        let node = doc(text, 0);
        let value = node.to_value();
        let mut wants = Wants::default();
        wants.add(
            Some("apiextensions.k8s.io"),
            Some("CustomResourceDefinition"),
        );
        wants.read(&["spec".into(), "versions".into(), "name".into()]);
        wants.read(&["spec".into(), "missing".into()]);
        let group = "apiextensions.k8s.io";
        let kept = wants.keep_tree(group, "CustomResourceDefinition", &node);
        assert_eq!(kept, wants.keep(group, "CustomResourceDefinition", &value));
        let kept = kept.unwrap();
        assert_eq!(kept["spec"]["names"]["plural"], "as");
        assert_eq!(kept["metadata"]["labels"]["x"], "z");
        // A path through a list keeps the list whole, as from a value.
        assert_eq!(kept["spec"]["versions"], value["spec"]["versions"]);
        assert!(kept["spec"].get("missing").is_none());
        assert_eq!(wants.keep_tree(group, "Other", &node), None);
        wants.keep_whole(group, "CustomResourceDefinition");
        let whole = wants.keep_tree(group, "CustomResourceDefinition", &node);
        assert_eq!(whole.as_ref(), Some(&value));
    }
}
