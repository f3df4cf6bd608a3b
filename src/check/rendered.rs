//! Checking what kustomize renders: every object of every rendered root goes through the
//! same schema, built-in rule, user policy and suppression checks as a manifest, and each
//! finding lands where the offending node came from (the base resource, the patch, the
//! kustomization field). A place found through several roots (a base under two overlays)
//! is reported once, naming every root it appears in.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rayon::prelude::*;

use super::{
    Engines, FileText, FoundCrd, Options, Outcome, Place, apply_inline, check_object,
    evaluate_rules, evaluate_user, inventory_rule,
};
use crate::finding::{Finding, ObjectRef, Severity};
use crate::parse::Object;
use crate::render::Warning;
use crate::render::files::Files;
use crate::render::node::{FileId, Node, Origin};
use crate::render::object::{Rendered, Unpacked};

/// One kustomization rendered: its objects, or the error that stopped it, and its
/// warnings.
#[derive(Debug)]
pub struct Root {
    /// The directory, as reports show it.
    pub dir: Arc<str>,
    /// Large objects packed as their root finished ([`Rendered`]).
    pub objects: Vec<Rendered>,
    pub error: Option<crate::render::Error>,
    pub warnings: Vec<Warning>,
    /// For a chart pulled from the network: the line of the repository that asked for it.
    /// Findings inside the chart are reported there, naming the chart's file and line.
    pub remote: Option<Origin>,
    /// The definitions of the CRDs among its objects, taken while their trees were whole
    /// ([`finish`]); [`found_crds`] takes them for the run.
    pub crds: Vec<FoundCrd>,
}

/// A root's rendered objects as the run keeps them: the definitions of its CRDs taken
/// while the trees are whole, then the large trees packed ([`Rendered::of`]), as soon as
/// the root finishes rendering. In parallel, in order: one root may render hundreds of
/// CRDs.
pub fn finish(nodes: Vec<Node>, files: &Files) -> (Vec<Rendered>, Vec<FoundCrd>) {
    let done: Vec<(Rendered, Option<FoundCrd>)> = nodes
        .into_par_iter()
        .map_init(HashMap::new, |texts, node| {
            let s = |k: &str| node.get(k).and_then(Node::as_str).unwrap_or("");
            let found = crate::schema::crd::is_crd(s("apiVersion"), s("kind"))
                .then(|| crate::schema::crd::define_tree(&node))
                .flatten()
                .map(|definition| {
                    let mut place = NodePlace {
                        files,
                        texts,
                        node: &node,
                    };
                    FoundCrd {
                        definition,
                        at: place.at("/spec/names/kind", false),
                    }
                });
            (Rendered::of(node), found)
        })
        .collect();
    let mut crds = Vec::new();
    let objects = done
        .into_iter()
        .map(|(object, found)| {
            crds.extend(found);
            object
        })
        .collect();
    (objects, crds)
}

/// Where a rendered object's findings go: wherever each of its nodes came from.
pub(crate) struct NodePlace<'a> {
    pub files: &'a Files,
    pub texts: &'a mut HashMap<FileId, FileText>,
    pub node: &'a Node,
}

impl NodePlace<'_> {
    /// A finding at `origin`, at its key when `at_key` and it has one.
    fn at_origin(&mut self, origin: Origin, at_key: bool) -> Finding {
        finding_at_origin(self.files, self.texts, origin, at_key)
    }
}

/// A finding at `origin`, at its key when `at_key` and it has one.
fn finding_at_origin(
    files: &Files,
    texts: &mut HashMap<FileId, FileText>,
    origin: Origin,
    at_key: bool,
) -> Finding {
    let text = texts.entry(origin.file).or_insert_with(|| {
        let f = files.get(origin.file);
        FileText {
            lines: Some(f.lines()),
            ..FileText::new(f.display.clone(), f.kept_text().unwrap_or_default())
        }
    });
    let span = origin.span(at_key);
    text.finding_at(span.start as usize, span.end as usize)
}

/// Moves a finding placed in something fetched from the network (a chart, a remote base)
/// to the line of the repository that asked for it (`at` for a chart's rendering, else
/// where the files were fetched for): their file and line go into the message.
pub(crate) fn relocate_remote(
    f: &mut Finding,
    at: Option<Origin>,
    files: &Files,
    texts: &mut HashMap<FileId, FileText>,
) {
    let Some((remote, rel)) = files.remote_of(&f.file) else {
        return;
    };
    let there = finding_at_origin(files, texts, at.unwrap_or(remote.at), false);
    let what = if at.is_some() { "chart " } else { "" };
    f.message = format!(
        "{} (at {rel}:{} of {what}{})",
        f.message, f.start.line, remote.label
    );
    f.file = there.file;
    f.start = there.start;
    f.end = there.end;
    f.byte_start = there.byte_start;
    f.byte_end = there.byte_end;
    f.document = there.document;
}

impl Place for NodePlace<'_> {
    fn at(&mut self, pointer: &str, at_key: bool) -> Finding {
        let (origin, ancestor, container) = match self.node.pointer(pointer) {
            Some(n) => (n.origin_for(at_key), false, n.is_container()),
            None => {
                let (o, _) = self.node.locate(pointer);
                (o, true, true)
            }
        };
        let mut f = self.at_origin(origin, at_key || ancestor || container);
        f.path = Some(pointer.to_owned());
        f
    }

    fn at_line(&mut self, _line: u32) -> Finding {
        // A line of the rendered output means nothing to the author: the object itself.
        self.at("", true)
    }
}

/// What a rendered object's inventory-rule evaluation needs.
struct InventoryItem {
    root: usize,
    object: usize,
    value: regorus::Value,
    kind: String,
    object_ref: ObjectRef,
    suppressions: Vec<crate::suppress::Inline>,
}

/// About how many bytes of YAML a node of a rendered object stands for, to tell the
/// allocator how much has been worked through ([`crate::memory::worked_through`]).
const TEXT_PER_NODE: usize = 24;

/// Checks every object of every root, in parallel, and reports each finding once.
///
/// An object several overlays render identically (same values, each from the same place:
/// a base none of them changes) is checked once; its findings count for each of them.
/// Objects, not roots, are the unit of work, so one large root does not hold a thread.
pub fn run(roots: &[Root], files: &Files, opts: &Options<'_>) -> Outcome {
    // Each object's index among the distinct ones.
    let mut distinct: Vec<(usize, usize)> = Vec::new();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    let hashes: Vec<Vec<u64>> = roots
        .par_iter()
        .map(|r| r.objects.par_iter().map(fingerprint).collect())
        .collect();
    let mut which: Vec<Vec<usize>> = Vec::with_capacity(roots.len());
    for (ri, root) in roots.iter().enumerate() {
        let mut of_root = Vec::with_capacity(root.objects.len());
        for (oi, node) in root.objects.iter().enumerate() {
            let same = by_hash.entry(hashes[ri][oi]).or_default();
            let index = match same
                .iter()
                .find(|&&d| roots[distinct[d].0].objects[distinct[d].1] == *node)
            {
                Some(&d) => d,
                None => {
                    distinct.push((ri, oi));
                    same.push(distinct.len() - 1);
                    distinct.len() - 1
                }
            };
            of_root.push(index);
        }
        which.push(of_root);
    }
    let checked: Vec<Option<Checked>> = distinct
        .par_iter()
        .map_init(
            || {
                (
                    Engines {
                        builtins: opts.builtins.cloned(),
                        user: opts.user.cloned(),
                    },
                    HashMap::new(),
                )
            },
            |(engines, texts), &(ri, oi)| {
                let object = &roots[ri].objects[oi];
                let checked = check_one(&object.node(), files, opts, engines, texts);
                crate::memory::worked_through(object.count() * TEXT_PER_NODE);
                checked
            },
        )
        .collect();
    let mut out = Outcome::default();
    let mut inventory = Vec::new();
    let mut per_root: Vec<Vec<Finding>> = Vec::with_capacity(roots.len());
    let mut texts: HashMap<FileId, FileText> = HashMap::new();
    for (ri, root) in roots.iter().enumerate() {
        let mut findings = root_findings(root, files, &mut texts);
        out.stats.objects += root.objects.len();
        for (oi, &d) in which[ri].iter().enumerate() {
            let Some(c) = &checked[d] else { continue };
            findings.extend(c.findings.iter().cloned());
            out.stats.suppressed += c.suppressed;
            if let Some((value, kind, object_ref, suppressions)) = &c.inventory {
                inventory.push(InventoryItem {
                    root: ri,
                    object: oi,
                    value: value.clone(),
                    kind: kind.clone(),
                    object_ref: object_ref.clone(),
                    suppressions: suppressions.clone(),
                });
            }
        }
        per_root.push(findings);
    }
    if let Some(builtins) = opts.builtins {
        evaluate_inventory(roots, files, builtins, inventory, &mut per_root, &mut out);
    }
    for (ri, findings) in per_root.into_iter().enumerate() {
        for mut f in findings {
            relocate_remote(&mut f, roots[ri].remote, files, &mut texts);
            // A chart that was not rendered at all is not a rendering to name.
            if !matches!(
                &*f.rule,
                "helm-not-found" | "helm-dependency-missing" | "remote-failed" | "remote-refused"
            ) {
                f.rendered = vec![roots[ri].dir.clone()];
            }
            out.findings.push(f);
        }
    }
    merge_across_roots(&mut out.findings);
    if opts.keep_sources {
        for f in &out.findings {
            if !out.sources.contains_key(&f.file)
                && let Some(text) = text_of(files, &f.file)
            {
                out.sources.insert(f.file.clone(), text);
            }
        }
    }
    out
}

/// The CRDs the roots render, in order: the custom resources of the run are validated
/// with them too. Taken from the roots ([`Root::crds`]).
pub fn found_crds(roots: &mut [Root]) -> Vec<FoundCrd> {
    roots
        .iter_mut()
        .flat_map(|r| std::mem::take(&mut r.crds))
        .collect()
}

/// A hash of a rendered object: its values and where each came from.
fn fingerprint(object: &Rendered) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::BuildHasher::build_hasher(&foldhash::fast::FixedState::default());
    object.hash_into(&mut h);
    h.finish()
}

/// What checking one rendered object gave: its findings, how many inline suppressions
/// silenced, and what the inventory rules need of it.
struct Checked {
    findings: Vec<Finding>,
    suppressed: usize,
    inventory: Option<(
        regorus::Value,
        String,
        ObjectRef,
        Vec<crate::suppress::Inline>,
    )>,
}

pub(crate) fn text_of(files: &Files, display: &str) -> Option<Arc<str>> {
    (0..files.len() as FileId)
        .map(|id| files.get(id))
        .find(|f| &*f.display == display)
        .and_then(|f| f.text_if_unchanged())
}

/// A root's error and warnings, as findings.
fn root_findings(
    root: &Root,
    files: &Files,
    texts: &mut HashMap<FileId, FileText>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let nowhere = Node::new(
        crate::render::node::Kind::Null,
        Origin::new(0, Default::default()),
    );
    let mut place = NodePlace {
        files,
        texts,
        node: &nowhere,
    };
    if let Some(e) = &root.error {
        // An error before any file was read (the kustomization itself refused) is said at
        // the root's directory.
        let mut f = if (e.origin.file as usize) < files.len() {
            place.at_origin(e.origin, e.at_key)
        } else {
            super::file_finding(&root.dir, "kustomize-error", String::new())
        };
        f.rule = "kustomize-error".into();
        f.message = format!("kustomize cannot build {}: {}", root.dir, e.message);
        out.push(f);
    }
    for w in &root.warnings {
        let mut f = if (w.origin.file as usize) < files.len() {
            place.at_origin(w.origin, false)
        } else {
            super::file_finding(&root.dir, "kustomize-error", String::new())
        };
        f.rule = w.rule.into();
        f.severity = match w.rule {
            "kustomize-helm" | "helm-not-found" | "helm-values-missing" => Severity::Info,
            "helm-error" => Severity::Error,
            _ => Severity::Warning,
        };
        f.message = w.message.clone();
        out.push(f);
    }
    out
}

/// One rendered object: schemas, built-in rules, the user's policies, inline
/// suppressions. `None` for something that is not an object.
fn check_one(
    node: &Node,
    files: &Files,
    opts: &Options<'_>,
    engines: &mut Engines,
    texts: &mut HashMap<FileId, FileText>,
) -> Option<Checked> {
    let value = node.to_value();
    let (Some(api_version), Some(kind)) = (
        value.get("apiVersion").and_then(|v| v.as_str()),
        value.get("kind").and_then(|v| v.as_str()),
    ) else {
        return None;
    };
    let obj = Object {
        value: &value,
        pointer_index: None,
        api_version,
        kind,
    };
    let mut out = Vec::new();
    let mut inventory = None;
    let mut place = NodePlace { files, texts, node };
    // Converted for Rego once, for the user's policies and the built-in rules.
    let mut shared: Option<regorus::Value> = None;
    if let Some(user) = engines.user.as_mut()
        && !opts.combine
    {
        if let Some(builtins) = engines.builtins.as_mut()
            && builtins.reads(kind)
        {
            shared = Some(crate::policy::to_rego(&value));
        }
        let file = files.get(node.origin.file).display.clone();
        evaluate_user(
            &mut place,
            &mut out,
            user,
            &file,
            &value,
            shared.as_ref(),
            Some(super::object_ref(&obj)),
        );
    }
    if let Some(catalog) = opts.catalog {
        // Rendered objects are validated as creates: the old object would be the base's
        // render, not a file's base version.
        check_object(&mut place, &mut out, catalog, opts.crds, &obj, None, opts);
    }
    if let Some(engine) = engines.builtins.as_mut() {
        if engine.in_inventory(kind) {
            let rego = shared
                .take()
                .unwrap_or_else(|| crate::policy::to_rego(&value));
            evaluate_rules(&mut place, &mut out, engine, &obj, Some(&rego));
            let suppressions = if opts.inline_suppressions {
                crate::suppress::inline_with(&value, opts.peer_annotations)
                    .into_iter()
                    .filter(|s| {
                        s.rules
                            .iter()
                            .any(|spec| inventory_rule(engine, spec, kind))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            inventory = Some((rego, kind.to_owned(), super::object_ref(&obj), suppressions));
        } else {
            evaluate_rules(&mut place, &mut out, engine, &obj, shared.as_ref());
        }
    }
    let suppressed = if opts.inline_suppressions {
        apply_inline(&mut place, &mut out, &obj, 0, engines.rules(), opts)
    } else {
        0
    };
    Some(Checked {
        findings: out,
        suppressed,
        inventory,
    })
}

/// The inventory rules compare the objects of one root: they run once per root.
fn evaluate_inventory(
    roots: &[Root],
    files: &Files,
    builtins: &crate::policy::Builtins,
    items: Vec<InventoryItem>,
    per_root: &mut [Vec<Finding>],
    out: &mut Outcome,
) {
    let mut by_root: BTreeMap<usize, Vec<InventoryItem>> = BTreeMap::new();
    for item in items {
        by_root.entry(item.root).or_default().push(item);
    }
    let mut texts: HashMap<FileId, FileText> = HashMap::new();
    for (ri, items) in by_root {
        let objects = &roots[ri].objects;
        // Each object's tree, unpacked once for every finding placed on it.
        let mut trees = Unpacked::default();
        let values = items.iter().map(|i| i.value.clone()).collect();
        let violations = match crate::timings::measure(crate::timings::Stage::Rules, || {
            builtins.evaluate_inventory(values)
        }) {
            Ok(v) => v,
            Err(e) => {
                let node = objects[items[0].object].node();
                let mut place = NodePlace {
                    files,
                    texts: &mut texts,
                    node: &node,
                };
                let mut f = place.at("", true);
                f.rule = "policy-error".into();
                f.message = format!("a built-in policy failed on the objects of this run: {e:#}");
                per_root[ri].push(f);
                continue;
            }
        };
        let mut used: Vec<Vec<Vec<bool>>> = items
            .iter()
            .map(|i| {
                i.suppressions
                    .iter()
                    .map(|s| vec![false; s.rules.len()])
                    .collect()
            })
            .collect();
        for (n, v) in violations {
            let item = &items[n];
            let meta = &builtins.rules[v.rule];
            let mut silenced = false;
            for (s, flags) in item.suppressions.iter().zip(used[n].iter_mut()) {
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
            let mut place = NodePlace {
                files,
                texts: &mut texts,
                node: trees.get(item.object, &objects[item.object]),
            };
            let mut f = place.at(&v.pointer, false);
            f.rule = meta.id.clone().into();
            f.severity = meta.severity;
            f.message = v.message;
            f.object = Some(item.object_ref.clone());
            per_root[ri].push(f);
        }
        for (n, item) in items.iter().enumerate() {
            for (si, s) in item.suppressions.iter().enumerate() {
                let unused =
                    super::unused_inventory_suppression(builtins, s, &item.kind, &used[n][si]);
                for message in unused {
                    let mut place = NodePlace {
                        files,
                        texts: &mut texts,
                        node: trees.get(item.object, &objects[item.object]),
                    };
                    let mut f = place.at(&s.pointer, false);
                    f.rule = "unused-suppression".into();
                    f.severity = Severity::Warning;
                    f.message = message;
                    f.object = Some(item.object_ref.clone());
                    per_root[ri].push(f);
                }
            }
        }
    }
}

/// One finding per place and problem: the same rule with the same message at the same
/// span, found through several roots, becomes one finding listing them all.
pub(crate) fn merge_across_roots(findings: &mut Vec<Finding>) {
    type Key = (Arc<str>, usize, usize, String, String);
    let mut first: HashMap<Key, usize> = HashMap::new();
    let mut kept: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings.drain(..) {
        let key = (
            f.file.clone(),
            f.byte_start,
            f.byte_end,
            f.rule.to_string(),
            f.message.clone(),
        );
        match first.get(&key) {
            Some(&i) => {
                for r in f.rendered {
                    if !kept[i].rendered.contains(&r) {
                        kept[i].rendered.push(r);
                    }
                }
            }
            None => {
                first.insert(key, kept.len());
                kept.push(f);
            }
        }
    }
    for f in &mut kept {
        f.rendered.sort();
    }
    *findings = kept;
}
