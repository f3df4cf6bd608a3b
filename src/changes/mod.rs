//! The merge-request change summary: which Kubernetes objects a merge request adds, changes
//! and removes, and which RBAC permissions each subject gains or loses.
//!
//! Pure computation on the objects of two revisions; reading them from git is the caller's job.
//! [`judge`] runs the change rules on what the merge request does to each object.

pub mod judge;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::finding::ObjectRef;
use crate::parse::{self, Contents, Limits, Object};

/// One Kubernetes object of a manifest file at one revision.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Repository-relative path, `/`-separated.
    pub file: Arc<str>,
    pub object: ObjectRef,
    /// The whole object.
    pub value: Value,
    /// `file` is a kustomization directory that renders the object, not a file.
    pub rendered: bool,
    /// Where the object is among its file's documents, or its root's rendered objects.
    pub place: Place,
    /// Where its text starts: the repository-relative file (`file` itself for a manifest;
    /// for a rendered object, the file that defines it) and the 1-based line of its first
    /// key; `None` when unknown.
    pub origin: Option<Written>,
}

/// A repository-relative file and a 1-based line in it.
pub type Written = (Arc<str>, u32);

/// Where an object is within what produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// In a manifest: the 0-based document and the object's pointer in it (`""`, or
    /// `/items/3` for an item of a `kind: List`).
    Document { index: usize, prefix: String },
    /// The `index`th object a kustomization renders.
    Rendered { index: usize },
}

/// The base version of a file could not be read as a manifest: the objects it had are not
/// compared (a merge request cannot hide a deletion this way: the gate says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Repository-relative path at the base.
    pub file: String,
    pub reason: String,
}

/// Parses a manifest text (YAML or JSON, multi-document, `kind: List`) into its objects, in
/// document order. Objects without a name are kept (name `None`). Never panics on bad input:
/// a broken document is left out and the others are returned. Files the checker skips as a
/// whole (Helm templates, kustomizations, files over the size limit) yield nothing, and so do
/// documents it skips (kustomize config, `$patch` documents, non-Kubernetes YAML).
pub fn objects_of(file: &str, text: &str) -> Vec<SourceObject> {
    read_objects(file, text).0
}

/// [`objects_of`], with the first problem that left documents out: a YAML error (and its
/// line), or a file over the size limit.
pub fn read_objects(file: &str, text: &str) -> (Vec<SourceObject>, Option<String>) {
    let limits = Limits::default();
    if text.len() as u64 > limits.max_file_size {
        return (
            Vec::new(),
            Some(format!("it is over {} bytes", limits.max_file_size)),
        );
    }
    if parse::skip_file(file, text, &|_| true).is_some() {
        return (Vec::new(), None);
    }
    let path: Arc<str> = file.into();
    let (documents, issues) = parse::yaml::parse(text, &limits);
    let lines = crate::source::LineIndex::new(text);
    let line_of = |offset: usize| lines.position(text, offset).line;
    let problem = issues
        .iter()
        .find(|i| {
            !matches!(
                i.rule,
                parse::yaml::AMBIGUOUS | parse::yaml::DROPPED | "duplicate-key"
            )
        })
        .map(|i| format!("line {}: {}", line_of(i.start as usize), i.message));
    let mut out = Vec::new();
    for doc in &documents {
        if let Contents::Objects(objects) = parse::objects(doc) {
            out.extend(objects.iter().map(|o| {
                let prefix = o.prefix();
                let start = doc
                    .source_map
                    .locate(&prefix, text)
                    .map_or(doc.start as usize, |l| {
                        l.key.map_or(l.value.start, |k| k.start)
                    });
                SourceObject {
                    file: path.clone(),
                    object: object_ref(o),
                    value: o.value.clone(),
                    rendered: false,
                    place: Place::Document {
                        index: doc.index,
                        prefix,
                    },
                    origin: Some((path.clone(), line_of(start))),
                }
            }));
        }
    }
    (out, problem)
}

/// The objects a kustomization rendered, under its directory's name, each with where it
/// is defined (repository-relative file and line), when known.
pub fn rendered_objects(dir: &str, objects: Vec<(Value, Option<Written>)>) -> Vec<SourceObject> {
    let file: Arc<str> = dir.into();
    objects
        .into_iter()
        .enumerate()
        .map(|(index, (v, origin))| {
            let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let meta = |k: &str| {
                v.pointer(&format!("/metadata/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let object = ObjectRef {
                api_version: text("apiVersion"),
                kind: text("kind"),
                namespace: meta("namespace"),
                name: meta("name"),
            };
            SourceObject {
                file: file.clone(),
                object,
                value: v,
                rendered: true,
                place: Place::Rendered { index },
                origin,
            }
        })
        .collect()
}

fn object_ref(o: &Object<'_>) -> ObjectRef {
    ObjectRef {
        api_version: o.api_version.to_owned(),
        kind: o.kind.to_owned(),
        namespace: o.namespace().map(str::to_owned),
        name: o.name().map(str::to_owned),
    }
}

/// What a merge request changes, every list sorted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeSummary {
    pub added: Vec<ObjectChange>,
    pub changed: Vec<ObjectChange>,
    pub removed: Vec<ObjectChange>,
    pub rbac: Vec<GrantChange>,
    /// The RBAC comparison was abandoned, its work over [`MAX_RBAC_WORK`] in one revision (a
    /// hostile or absurd manifest): `rbac` is empty, not complete. Not serialised when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rbac_skipped: bool,
}

impl ChangeSummary {
    /// No object and no permission changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && self.rbac.is_empty()
            && !self.rbac_skipped
    }
}

/// One object added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectChange {
    /// The object at head (at base for a removed one).
    pub object: ObjectRef,
    /// Its file at head (at base for a removed one).
    pub file: String,
    /// Its file at base, when that is not `file` (it moved, or its file was renamed).
    pub base_file: Option<String>,
    /// The object is what a kustomization renders: `file` is the kustomization's directory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rendered: bool,
}

/// Who a binding grants permissions to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount` (as written in the binding).
    pub kind: String,
    pub name: String,
    /// Only for `ServiceAccount`: its namespace, the binding's when the subject has none.
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Gains,
    Loses,
}

/// Where a grant applies. Serialised as `"cluster_wide"` or `{"namespace": "shop"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    ClusterWide,
    /// The namespace of a RoleBinding; `""` when the binding sets none (it gets the
    /// namespace it is applied to, e.g. by kustomize or `kubectl -n`).
    Namespace(String),
}

/// Permissions one subject gains or loses through one binding: every verb on every resource
/// of every API group listed (a cross product), or every verb on every non-resource URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantChange {
    pub subject: Subject,
    pub change: Direction,
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    /// Including subresources such as `pods/exec`.
    pub resources: Vec<String>,
    /// Empty: all objects of the resources.
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub scope: Scope,
    /// The RoleBinding or ClusterRoleBinding.
    pub via: ObjectRef,
    /// The Role or ClusterRole it references.
    pub role: ObjectRef,
    /// The binding's file (at head; at base for losses).
    pub file: String,
}

impl GrantChange {
    fn sort_key(&self) -> impl Ord + '_ {
        (
            &self.subject,
            self.change,
            &self.scope,
            // Resources before non-resource URLs.
            &self.non_resource_urls,
            &self.api_groups,
            &self.resources,
            &self.resource_names,
            &self.verbs,
            &self.via,
            &self.role,
            &self.file,
        )
    }
}

/// The most work the RBAC comparison does for one revision, in steps: a role considered for a
/// binding, a rule target built, a (subject, scope, resource, name, verb) permission expanded.
/// Only bindings whose binding or role changed are expanded, so real repositories stay far
/// below it; beyond it the comparison is abandoned ([`ChangeSummary::rbac_skipped`]) rather
/// than exhaust time or memory on a hostile manifest (a few aliases can list millions).
pub const MAX_RBAC_WORK: usize = 1_000_000;

/// What is left of [`MAX_RBAC_WORK`].
struct Budget(usize);

impl Budget {
    /// Takes `n` steps; false (and nothing left) when there are not that many.
    fn spend(&mut self, n: usize) -> bool {
        match self.0.checked_sub(n) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => {
                self.0 = 0;
                false
            }
        }
    }
}

/// Compares two revisions.
///
/// `base` holds every object of the base revision that matters (the base versions of the
/// changed files plus the RBAC objects of unchanged files), `head` likewise for the head
/// revision. `renames` maps base paths to head paths.
///
/// Objects: an object's identity is its API group (the part of `apiVersion` before `/`, so a
/// new version of the same kind is a change, not a removal and an addition), kind, namespace
/// and name. When several objects share an identity (one per overlay, say), they pair up by
/// file first (a base file counts as its renamed head path), then in path order. Objects
/// without a name are identified, simply, by their file (renamed), group, kind and index
/// among the unnamed objects of that group and kind in the file; so inserting one before
/// another shifts them. Values are compared ignoring `status` and `metadata.resourceVersion`,
/// `generation`, `creationTimestamp`, `managedFields` and `uid`.
///
/// RBAC: each revision's effective grants come from its RoleBindings and ClusterRoleBindings
/// (group `rbac.authorization.k8s.io`). A `roleRef` resolves among that revision's objects:
/// a Role of the binding's namespace, or a ClusterRole; when several match (overlays), the
/// one in the binding's file, else the one sharing most directories with it. A binding whose
/// role is not in the repository grants nothing here. ClusterRole `aggregationRule`s are not
/// followed (the `rules` written in the file are used). Wildcards (`*`) are compared as text.
/// `nonResourceURLs` count only through ClusterRoleBindings, as in Kubernetes. Grants are
/// compared per binding and file, so a binding that moves to another file shows as losses
/// and gains.
pub fn summarize(
    base: &[SourceObject],
    head: &[SourceObject],
    renames: &[(String, String)],
) -> ChangeSummary {
    let (base_files, head_files) = files_of(base, head, renames);

    let mut summary = ChangeSummary::default();
    diff_objects(base, &base_files, head, &head_files, &mut summary);

    let (mut base_budget, mut head_budget) = (Budget(MAX_RBAC_WORK), Budget(MAX_RBAC_WORK));
    let rbac = (|| {
        let (base_sources, head_sources) = drop_unchanged(
            grant_sources(base, &base_files, &mut base_budget)?,
            grant_sources(head, &head_files, &mut head_budget)?,
        );
        let mut tables = Tables {
            words: Interner::new(),
            subjects: Interner::new(),
            scopes: Interner::new(),
            vias: Interner::new(),
        };
        let base_grants = grants(&base_sources, &mut tables, &mut base_budget)?;
        let head_grants = grants(&head_sources, &mut tables, &mut head_budget)?;
        Some(regroup(&base_grants, &head_grants, &tables))
    })();
    match rbac {
        Some(rbac) => summary.rbac = rbac,
        None => summary.rbac_skipped = true,
    }
    summary
}

// ---------------------------------------------------------------------------------------------
// Objects

pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Identity<'a> {
    Named {
        group: &'a str,
        kind: &'a str,
        namespace: Option<&'a str>,
        name: &'a str,
    },
    Unnamed {
        file: &'a str,
        group: &'a str,
        kind: &'a str,
        index: usize,
    },
}

fn identities<'a>(objects: &'a [SourceObject], files: &'a [String]) -> Vec<Identity<'a>> {
    let mut unnamed: HashMap<(&str, &str, &str), usize> = HashMap::new();
    objects
        .iter()
        .zip(files)
        .map(|(o, file)| {
            let r = &o.object;
            let group = group_of(&r.api_version);
            match &r.name {
                Some(name) => Identity::Named {
                    group,
                    kind: &r.kind,
                    namespace: r.namespace.as_deref(),
                    name,
                },
                None => {
                    let n = unnamed.entry((file, group, &r.kind)).or_default();
                    *n += 1;
                    Identity::Unnamed {
                        file,
                        group,
                        kind: &r.kind,
                        index: *n - 1,
                    }
                }
            }
        })
        .collect()
}

/// What a merge request does to one object, as an admission review names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    /// The admission review's name of it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// One object a merge request creates, updates (its content differs) or deletes: its index
/// among the base objects and among the head objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub operation: Operation,
    pub base: Option<usize>,
    pub head: Option<usize>,
}

/// Every object the merge request creates, updates or deletes, paired as the change summary
/// pairs them: by API group, kind, namespace and name (an unnamed object by its place in its
/// file), the same file (after `renames`, base path to head path) first, then in path order.
/// Sorted by identity, then base and head index.
pub fn transitions(
    base: &[SourceObject],
    head: &[SourceObject],
    renames: &[(String, String)],
) -> Vec<Transition> {
    let (base_files, head_files) = files_of(base, head, renames);
    pair(base, &base_files, head, &head_files)
}

/// The file of each object, base ones under their head path when `renames` (base path to
/// head path) renamed them.
fn files_of(
    base: &[SourceObject],
    head: &[SourceObject],
    renames: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let renames: HashMap<&str, &str> = renames
        .iter()
        .map(|(b, h)| (b.as_str(), h.as_str()))
        .collect();
    let base_files = base
        .iter()
        .map(|o| renames.get(&*o.file).copied().unwrap_or(&o.file).to_owned())
        .collect();
    let head_files = head.iter().map(|o| o.file.to_string()).collect();
    (base_files, head_files)
}

/// Every base object paired with its head version, as [`transitions`] pairs them, whether
/// or not the change touched it: (base index, head index).
pub fn counterparts(
    base: &[SourceObject],
    head: &[SourceObject],
    renames: &[(String, String)],
) -> Vec<(usize, usize)> {
    let (base_files, head_files) = files_of(base, head, renames);
    let mut out = Vec::new();
    matched(base, &base_files, head, &head_files, |pairs, _, _| {
        out.extend_from_slice(pairs);
    });
    out
}

/// [`transitions`] with the files of each side given (base files already renamed).
fn pair(
    base: &[SourceObject],
    base_files: &[String],
    head: &[SourceObject],
    head_files: &[String],
) -> Vec<Transition> {
    let mut out = Vec::new();
    matched(base, base_files, head, head_files, |pairs, b, h| {
        for &(bi, hi) in pairs {
            if !same_content(&base[bi].value, &head[hi].value) {
                out.push(Transition {
                    operation: Operation::Update,
                    base: Some(bi),
                    head: Some(hi),
                });
            }
        }
        out.extend(h.iter().map(|&hi| Transition {
            operation: Operation::Create,
            base: None,
            head: Some(hi),
        }));
        out.extend(b.iter().map(|&bi| Transition {
            operation: Operation::Delete,
            base: Some(bi),
            head: None,
        }));
    });
    out
}

/// Pairs the objects of each identity, in identity order: `each` gets the pairs (base,
/// head), then the base objects left unpaired, then the head ones.
fn matched(
    base: &[SourceObject],
    base_files: &[String],
    head: &[SourceObject],
    head_files: &[String],
    mut each: impl FnMut(&[(usize, usize)], &[usize], &[usize]),
) {
    type Sides = (Vec<usize>, Vec<usize>);
    let mut by_identity: BTreeMap<Identity<'_>, Sides> = BTreeMap::new();
    for (i, id) in identities(base, base_files).into_iter().enumerate() {
        by_identity.entry(id).or_default().0.push(i);
    }
    for (i, id) in identities(head, head_files).into_iter().enumerate() {
        by_identity.entry(id).or_default().1.push(i);
    }
    for (_, (mut b, mut h)) in by_identity {
        b.sort_by(|&x, &y| base_files[x].cmp(&base_files[y]).then(x.cmp(&y)));
        h.sort_by(|&x, &y| head_files[x].cmp(&head_files[y]).then(x.cmp(&y)));
        let mut pairs = Vec::new();
        // Same file (after renames) first, then whatever is left, in path order.
        b.retain(
            |&bi| match h.iter().position(|&hi| head_files[hi] == base_files[bi]) {
                Some(p) => {
                    pairs.push((bi, h.remove(p)));
                    false
                }
                None => true,
            },
        );
        let rest = b.len().min(h.len());
        pairs.extend(b.drain(..rest).zip(h.drain(..rest)));
        each(&pairs, &b, &h);
    }
}

/// The input an admission controller gets for `t` (Gatekeeper's `input.review`): the
/// operation, the object at head (`null` when deleted), the object at base (`oldObject`,
/// `null` when created), its kind as group, version and kind, its name and namespace.
pub fn review(t: &Transition, base: &[SourceObject], head: &[SourceObject]) -> Value {
    let old = t.base.and_then(|i| base.get(i));
    let new = t.head.and_then(|i| head.get(i));
    let Some(this) = new.or(old) else {
        return Value::Null;
    };
    let r = &this.object;
    let (group, version) = r
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", r.api_version.as_str()));
    let mut review = Map::new();
    review.insert("operation".into(), t.operation.as_str().into());
    review.insert(
        "kind".into(),
        serde_json::json!({ "group": group, "version": version, "kind": r.kind }),
    );
    review.insert(
        "name".into(),
        r.name.clone().map_or(Value::Null, Value::String),
    );
    review.insert(
        "namespace".into(),
        r.namespace.clone().map_or(Value::Null, Value::String),
    );
    review.insert(
        "object".into(),
        new.map_or(Value::Null, |o| o.value.clone()),
    );
    review.insert(
        "oldObject".into(),
        old.map_or(Value::Null, |o| o.value.clone()),
    );
    Value::Object(review)
}

fn diff_objects(
    base: &[SourceObject],
    base_files: &[String],
    head: &[SourceObject],
    head_files: &[String],
    summary: &mut ChangeSummary,
) {
    let change = |o: &SourceObject, base_file: Option<&str>| ObjectChange {
        object: o.object.clone(),
        file: o.file.to_string(),
        base_file: base_file.filter(|b| **b != *o.file).map(str::to_owned),
        rendered: o.rendered,
    };
    for t in pair(base, base_files, head, head_files) {
        match (t.operation, t.base, t.head) {
            (Operation::Update, Some(bi), Some(hi)) => summary
                .changed
                .push(change(&head[hi], Some(&base[bi].file))),
            (Operation::Create, _, Some(hi)) => summary.added.push(change(&head[hi], None)),
            (Operation::Delete, Some(bi), _) => summary.removed.push(change(&base[bi], None)),
            _ => {}
        }
    }
    for list in [
        &mut summary.added,
        &mut summary.changed,
        &mut summary.removed,
    ] {
        // By file, so a reviewer reads the list alongside the diff.
        list.sort_by(|x, y| {
            (
                &x.file,
                &x.object.kind,
                &x.object.namespace,
                &x.object.name,
                x,
            )
                .cmp(&(
                    &y.file,
                    &y.object.kind,
                    &y.object.namespace,
                    &y.object.name,
                    y,
                ))
        });
    }
}

const IGNORED_METADATA: [&str; 5] = [
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "uid",
];

/// Equal but for `status` and the server-set metadata fields.
fn same_content(a: &Value, b: &Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => maps_equal(a, b, &["status"], |key, x, y| {
            if key == "metadata" {
                match (x.as_object(), y.as_object()) {
                    (Some(x), Some(y)) => maps_equal(x, y, &IGNORED_METADATA, |_, x, y| x == y),
                    _ => x == y,
                }
            } else {
                x == y
            }
        }),
        _ => a == b,
    }
}

fn maps_equal(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    ignored: &[&str],
    eq: impl Fn(&str, &Value, &Value) -> bool,
) -> bool {
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| !ignored.contains(&k.as_str())).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !ignored.contains(&k.as_str()))
            .all(|(k, x)| b.get(k).is_some_and(|y| eq(k, x, y)))
}

// ---------------------------------------------------------------------------------------------
// RBAC

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn is_rbac(o: &SourceObject, kind: &str) -> bool {
    o.object.kind == kind && group_of(&o.object.api_version) == RBAC_GROUP
}

/// A binding with the role its `roleRef` resolves to in the same revision.
struct Source<'a> {
    binding: &'a SourceObject,
    /// The binding's file, renamed to its head path for base objects.
    file: &'a str,
    role: Option<&'a SourceObject>,
}

impl Source<'_> {
    /// What grants are compared by: the binding's identity and file.
    fn key(&self) -> (&str, &str, Option<&str>, Option<&str>) {
        let r = &self.binding.object;
        (
            self.file,
            &r.kind,
            r.namespace.as_deref(),
            r.name.as_deref(),
        )
    }
}

fn grant_sources<'a>(
    objects: &'a [SourceObject],
    files: &'a [String],
    budget: &mut Budget,
) -> Option<Vec<Source<'a>>> {
    // (kind, namespace (None for ClusterRoles), name) -> candidates with their files.
    type RoleKey<'a> = (&'a str, Option<&'a str>, &'a str);
    let mut roles: HashMap<RoleKey<'a>, Vec<(&'a SourceObject, &'a str)>> = HashMap::new();
    for (o, file) in objects.iter().zip(files) {
        let Some(name) = o.object.name.as_deref() else {
            continue;
        };
        if is_rbac(o, "Role") {
            roles
                .entry(("Role", o.object.namespace.as_deref(), name))
                .or_default()
                .push((o, file));
        } else if is_rbac(o, "ClusterRole") {
            roles
                .entry(("ClusterRole", None, name))
                .or_default()
                .push((o, file));
        }
    }
    let mut sources = Vec::new();
    for (o, file) in objects.iter().zip(files) {
        let namespaced = is_rbac(o, "RoleBinding");
        if !namespaced && !is_rbac(o, "ClusterRoleBinding") {
            continue;
        }
        let role_ref = o.value.get("roleRef");
        let field = |k: &str| role_ref.and_then(|r| r.get(k)).and_then(Value::as_str);
        let role = match (field("kind"), field("name")) {
            // A ClusterRoleBinding cannot reference a Role.
            (Some("Role"), Some(name)) if namespaced => {
                roles.get(&("Role", o.object.namespace.as_deref(), name))
            }
            (Some("ClusterRole"), Some(name)) => roles.get(&("ClusterRole", None, name)),
            _ => None,
        };
        if !budget.spend(role.map_or(1, Vec::len)) {
            return None;
        }
        let role = role.and_then(|candidates| {
            candidates
                .iter()
                .max_by(|(_, x), (_, y)| {
                    affinity(file, x)
                        .cmp(&affinity(file, y))
                        // Among equals, the first path wins.
                        .then_with(|| y.cmp(x))
                })
                .map(|(r, _)| *r)
        });
        sources.push(Source {
            binding: o,
            file,
            role,
        });
    }
    Some(sources)
}

/// How close a role's file is to its binding's: the same file, then shared directories.
fn affinity(binding: &str, role: &str) -> (bool, usize) {
    let dirs = |p: &'_ str| -> Vec<String> {
        let mut parts: Vec<String> = p.split('/').map(str::to_owned).collect();
        parts.pop();
        parts
    };
    let shared = dirs(binding)
        .iter()
        .zip(dirs(role).iter())
        .take_while(|(a, b)| a == b)
        .count();
    (binding == role, shared)
}

/// Leaves out the bindings whose grants cannot differ: same identity and file, and the same
/// binding and role values, in both revisions (all of them, when an identity repeats).
fn drop_unchanged<'a>(
    base: Vec<Source<'a>>,
    head: Vec<Source<'a>>,
) -> (Vec<Source<'a>>, Vec<Source<'a>>) {
    type Groups<'s, 'a> =
        BTreeMap<(&'s str, &'s str, Option<&'s str>, Option<&'s str>), Vec<&'s Source<'a>>>;
    fn groups<'s, 'a>(sources: &'s [Source<'a>]) -> Groups<'s, 'a> {
        let mut g: Groups<'s, 'a> = BTreeMap::new();
        for s in sources {
            g.entry(s.key()).or_default().push(s);
        }
        g
    }
    let same = |x: &Source<'_>, y: &Source<'_>| {
        x.binding.value == y.binding.value
            && match (x.role, y.role) {
                (Some(a), Some(b)) => a.value == b.value,
                (None, None) => true,
                _ => false,
            }
    };
    let (bg, hg) = (groups(&base), groups(&head));
    let unchanged: BTreeSet<_> = bg
        .iter()
        .filter(|(key, b)| {
            hg.get(*key).is_some_and(|h| {
                b.len() == h.len() && b.iter().zip(h.iter()).all(|(x, y)| same(x, y))
            })
        })
        .map(|(key, _)| *key)
        .collect();
    let keep = |sources: &Vec<Source<'a>>| -> Vec<bool> {
        sources
            .iter()
            .map(|s| !unchanged.contains(&s.key()))
            .collect()
    };
    let (kb, kh) = (keep(&base), keep(&head));
    let filter = |sources: Vec<Source<'a>>, keep: Vec<bool>| {
        sources
            .into_iter()
            .zip(keep)
            .filter_map(|(s, k)| k.then_some(s))
            .collect()
    };
    (filter(base, kb), filter(head, kh))
}

/// Dense ids for values, so that a permission atom is a few integers.
struct Interner<T> {
    ids: HashMap<T, usize>,
    items: Vec<T>,
}

impl<T: Hash + Eq + Clone> Interner<T> {
    fn new() -> Self {
        Self {
            ids: HashMap::new(),
            items: Vec::new(),
        }
    }

    fn id(&mut self, item: T) -> usize {
        if let Some(&id) = self.ids.get(&item) {
            return id;
        }
        let id = self.items.len();
        self.items.push(item.clone());
        self.ids.insert(item, id);
        id
    }

    fn get(&self, id: usize) -> Option<&T> {
        self.items.get(id)
    }
}

/// The binding an atom comes from, as compared between revisions: kind, namespace, name
/// (not the apiVersion) and file (a base file renamed to its head path).
type Via = (String, Option<String>, Option<String>, String);

/// Everything atoms refer to, shared by both revisions so their ids compare.
struct Tables {
    /// API groups, resources, resource names, URLs and verbs.
    words: Interner<String>,
    subjects: Interner<Subject>,
    scopes: Interner<Scope>,
    vias: Interner<Via>,
}

/// What one atom of permission is on (ids of [`Tables::words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Resource {
        group: usize,
        resource: usize,
        /// `None`: every object.
        name: Option<usize>,
    },
    Url(usize),
}

/// One subject allowed one verb on one target through one binding (ids of [`Tables`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Atom {
    subject: usize,
    scope: usize,
    via: usize,
    target: Target,
    verb: usize,
}

/// What a line shows besides the atoms: the binding and role references and the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Origin {
    via: ObjectRef,
    role: ObjectRef,
    file: String,
}

/// The effective grants of one revision.
#[derive(Default)]
struct Grants {
    atoms: HashSet<Atom>,
    /// By via id.
    origins: HashMap<usize, Origin>,
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Sorted and without duplicates.
fn set(mut ids: Vec<usize>) -> Vec<usize> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn grants(sources: &[Source<'_>], t: &mut Tables, budget: &mut Budget) -> Option<Grants> {
    let mut out = Grants::default();
    for s in sources {
        let Some(role) = s.role else { continue };
        let binding = &s.binding.object;
        let namespaced = binding.kind == "RoleBinding";
        let scope = t.scopes.id(if namespaced {
            Scope::Namespace(binding.namespace.clone().unwrap_or_default())
        } else {
            Scope::ClusterWide
        });
        let subjects = s
            .binding
            .value
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|subject| {
                let kind = subject.get("kind")?.as_str()?;
                let name = subject.get("name")?.as_str()?;
                let namespace = (kind == "ServiceAccount")
                    .then(|| {
                        subject
                            .get("namespace")
                            .and_then(Value::as_str)
                            .or(binding.namespace.as_deref())
                            .map(str::to_owned)
                    })
                    .flatten();
                Some(t.subjects.id(Subject {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    namespace,
                }))
            })
            .collect();
        let subjects = set(subjects);
        if subjects.is_empty() {
            continue;
        }
        let mut targets: HashMap<Target, Vec<usize>> = HashMap::new();
        for rule in role
            .value
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut words = |key: &str| -> Vec<usize> {
                set(strings(rule.get(key))
                    .map(|w| t.words.id(w.to_owned()))
                    .collect())
            };
            let verbs = words("verbs");
            let (groups, resources, names) = (
                words("apiGroups"),
                words("resources"),
                words("resourceNames"),
            );
            let urls = if namespaced {
                Vec::new()
            } else {
                words("nonResourceURLs")
            };
            if verbs.is_empty() {
                continue;
            }
            let names: Vec<Option<usize>> = if names.is_empty() {
                vec![None]
            } else {
                names.into_iter().map(Some).collect()
            };
            let size = groups
                .len()
                .saturating_mul(resources.len())
                .saturating_mul(names.len())
                .saturating_add(urls.len());
            if !budget.spend(size.max(1)) {
                return None;
            }
            let mut add = |target: Target| {
                targets
                    .entry(target)
                    .or_default()
                    .extend(verbs.iter().copied())
            };
            for &group in &groups {
                for &resource in &resources {
                    for &name in &names {
                        add(Target::Resource {
                            group,
                            resource,
                            name,
                        });
                    }
                }
            }
            urls.into_iter().map(Target::Url).for_each(add);
        }
        let targets: Vec<(Target, Vec<usize>)> =
            targets.into_iter().map(|(t, v)| (t, set(v))).collect();
        let per_subject = targets.iter().map(|(_, v)| v.len()).sum::<usize>();
        if !budget.spend(subjects.len().saturating_mul(per_subject)) {
            return None;
        }
        let via = t.vias.id((
            binding.kind.clone(),
            binding.namespace.clone(),
            binding.name.clone(),
            s.file.to_owned(),
        ));
        let origin = Origin {
            via: binding.clone(),
            role: role.object.clone(),
            file: s.binding.file.to_string(),
        };
        // Duplicate bindings in one file: the least origin, whatever the order.
        match out.origins.get_mut(&via) {
            Some(o) if origin < *o => *o = origin,
            Some(_) => {}
            None => {
                out.origins.insert(via, origin);
            }
        }
        for &subject in &subjects {
            for (target, verbs) in &targets {
                for &verb in verbs {
                    out.atoms.insert(Atom {
                        subject,
                        scope,
                        via,
                        target: *target,
                        verb,
                    });
                }
            }
        }
    }
    Some(out)
}

/// Diffs the grants of two revisions and merges the atoms back into readable lines: verbs of
/// the same target, then the names of one resource, then resources, then API groups, each
/// merged only where everything else is equal, so every line is an exact cross product.
fn regroup(base: &Grants, head: &Grants, t: &Tables) -> Vec<GrantChange> {
    // Subject, direction, scope, via: what stays equal within a line.
    type Line = (usize, Direction, usize, usize);
    // Sets of ids (sorted, no duplicates) by what else a line holds.
    type Ids = Vec<usize>;
    type By<K> = HashMap<K, Ids>;
    // 1. Verbs per target.
    let mut verbs: By<(Line, Target)> = HashMap::new();
    let gains = head
        .atoms
        .difference(&base.atoms)
        .map(|a| (Direction::Gains, a));
    let losses = base
        .atoms
        .difference(&head.atoms)
        .map(|a| (Direction::Loses, a));
    for (dir, a) in gains.chain(losses) {
        verbs
            .entry(((a.subject, dir, a.scope, a.via), a.target))
            .or_default()
            .push(a.verb);
    }
    // 2. Names of a resource with the same verbs (`true`: all names); URLs on their own.
    let mut names: By<(Line, usize, usize, Ids, bool)> = HashMap::new();
    let mut urls: By<(Line, Ids)> = HashMap::new();
    for ((line, target), v) in verbs {
        let v = set(v);
        match target {
            Target::Resource {
                group,
                resource,
                name,
            } => names
                .entry((line, group, resource, v, name.is_none()))
                .or_default()
                .extend(name),
            Target::Url(url) => urls.entry((line, v)).or_default().push(url),
        }
    }
    // 3. Resources with the same verbs and names; 4. API groups with the same resources.
    let mut resources: By<(Line, usize, Ids, Ids)> = HashMap::new();
    for ((line, group, resource, v, _), n) in names {
        resources
            .entry((line, group, v, set(n)))
            .or_default()
            .push(resource);
    }
    let mut groups: By<(Line, Ids, Ids, Ids)> = HashMap::new();
    for ((line, group, v, n), r) in resources {
        groups.entry((line, v, n, set(r))).or_default().push(group);
    }

    let words = |ids: &[usize]| -> Vec<String> {
        let mut w: Vec<String> = ids
            .iter()
            .filter_map(|&id| t.words.get(id).cloned())
            .collect();
        w.sort();
        w
    };
    let line_of = |(subject, change, scope, via): Line, v: &[usize]| -> Option<GrantChange> {
        let origins = match change {
            Direction::Gains => &head.origins,
            Direction::Loses => &base.origins,
        };
        let origin = origins.get(&via)?;
        let mut verbs = words(v);
        verbs.sort_by(|a, b| verb_rank(a).cmp(&verb_rank(b)).then_with(|| a.cmp(b)));
        Some(GrantChange {
            subject: t.subjects.get(subject)?.clone(),
            change,
            verbs,
            api_groups: Vec::new(),
            resources: Vec::new(),
            resource_names: Vec::new(),
            non_resource_urls: Vec::new(),
            scope: t.scopes.get(scope)?.clone(),
            via: origin.via.clone(),
            role: origin.role.clone(),
            file: origin.file.clone(),
        })
    };
    let mut out = Vec::new();
    for ((line, v, n, r), g) in groups {
        if let Some(mut change) = line_of(line, &v) {
            change.api_groups = words(&g);
            change.resources = words(&r);
            change.resource_names = words(&n);
            out.push(change);
        }
    }
    for ((line, v), u) in urls {
        if let Some(mut change) = line_of(line, &v) {
            change.non_resource_urls = words(&u);
            out.push(change);
        }
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

/// Verbs in the order people read them: wildcard, reads, writes, then the rest by name.
fn verb_rank(verb: &str) -> usize {
    const ORDER: [&str; 9] = [
        "*",
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    ORDER.iter().position(|v| *v == verb).unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(file: &str, text: &str) -> Vec<SourceObject> {
        objects_of(file, text)
    }

    fn names(list: &[ObjectChange]) -> Vec<String> {
        list.iter()
            .map(|c| format!("{} {}", c.object, c.file))
            .collect()
    }

    /// A grant line in the sentence form of the markdown report, compact.
    fn line(g: &GrantChange) -> String {
        let subject = match &g.subject.namespace {
            Some(ns) => format!("{} {ns}/{}", g.subject.kind, g.subject.name),
            None => format!("{} {}", g.subject.kind, g.subject.name),
        };
        let what = if g.non_resource_urls.is_empty() {
            let mut s = format!("{} [{}]", g.resources.join(","), g.api_groups.join(","));
            if !g.resource_names.is_empty() {
                s += &format!(" named {}", g.resource_names.join(","));
            }
            s
        } else {
            format!("urls {}", g.non_resource_urls.join(","))
        };
        let scope = match &g.scope {
            Scope::ClusterWide => "cluster-wide".to_owned(),
            Scope::Namespace(ns) => format!("in {ns}"),
        };
        format!(
            "{subject} {:?} {} on {what} {scope} via {} ({})",
            g.change,
            g.verbs.join(","),
            g.via,
            g.role
        )
    }

    #[test]
    fn transitions_are_what_an_admission_controller_would_review() {
        let base = objs(
            "a.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: db}\n\
             spec: {resources: {requests: {storage: 1Gi}}}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {a: b}\n",
        );
        let head = objs(
            "b.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 0}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {a: b}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {name: new}\n",
        );
        // The file moved from a.yaml to b.yaml: pairs keep their identity.
        let ts = transitions(&base, &head, &[("a.yaml".into(), "b.yaml".into())]);
        let reviews: Vec<Value> = ts.iter().map(|t| review(t, &base, &head)).collect();
        let short: Vec<String> = reviews
            .iter()
            .map(|r| {
                format!(
                    "{} {}/{} {}",
                    r["operation"].as_str().unwrap(),
                    r["kind"]["group"].as_str().unwrap(),
                    r["kind"]["kind"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                )
            })
            .collect();
        // By identity (group, kind, ...); unchanged (the ConfigMap) is not a transition.
        assert_eq!(
            short,
            [
                "CREATE /Namespace new",
                "DELETE /PersistentVolumeClaim data",
                "UPDATE apps/Deployment web",
            ]
        );
        let delete = &reviews[1];
        assert_eq!(delete["namespace"], "db");
        assert!(delete["object"].is_null());
        assert_eq!(
            delete["oldObject"]["spec"]["resources"]["requests"]["storage"],
            "1Gi"
        );
        assert_eq!(delete["kind"]["version"], "v1");
        let create = &reviews[0];
        assert!(create["oldObject"].is_null() && create["namespace"].is_null());
        let update = &reviews[2];
        assert_eq!(update["oldObject"]["spec"]["replicas"], 2);
        assert_eq!(update["object"]["spec"]["replicas"], 0);
        assert_eq!(update["kind"]["version"], "v1");
        // The same pairs as the change summary's.
        let summary = summarize(&base, &head, &[("a.yaml".into(), "b.yaml".into())]);
        assert_eq!(
            (
                summary.added.len(),
                summary.changed.len(),
                summary.removed.len()
            ),
            (1, 1, 1)
        );
    }

    fn rbac(base: &[SourceObject], head: &[SourceObject]) -> Vec<String> {
        summarize(base, head, &[]).rbac.iter().map(line).collect()
    }

    const SECRET_READER: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- apiGroups: ['']
  resources: [secrets]
  verbs: [list, get]
";

    const CRB: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: deployer-secrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: ci}
";

    #[test]
    fn objects_of_reads_documents_and_lists() {
        let text = "
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: b}}
- {apiVersion: apps/v1, kind: Deployment, metadata: {generateName: job-}}
- {apiVersion: v1, kind: Secret, metadata: {}}
- not an object
---
values: [1, 2]
";
        let o = objs("deploy/a.yaml", text);
        let got: Vec<String> = o.iter().map(|o| o.object.to_string()).collect();
        assert_eq!(
            got,
            ["ConfigMap shop/a", "Service b", "Deployment job-", "Secret"]
        );
        assert!(o.iter().all(|o| &*o.file == "deploy/a.yaml"));
        assert_eq!(o[3].object.name, None);
        assert_eq!(o[1].value["kind"], "Service");

        // JSON, broken documents, garbage: what parses, never a panic.
        let json = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}"#;
        assert_eq!(objs("ns.json", json).len(), 1);
        let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
        let got: Vec<_> = objs("b.yaml", broken)
            .into_iter()
            .map(|o| o.object.name)
            .collect();
        assert_eq!(got, [Some("b".to_owned())]);
        for garbage in [
            "",
            "\u{0}",
            ": : :",
            "[",
            "*x",
            "a: &a [*a]",
            "{{ .Values }}",
        ] {
            let _ = objs("g.yaml", garbage);
        }
        assert!(objs("chart/templates/x.yaml", "kind: {{ .Values.kind }}\n").is_empty());
    }

    #[test]
    fn added_changed_removed_and_unchanged() {
        let base = objs(
            "apps.yaml",
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: old, namespace: shop}
",
        );
        let head = objs(
            "apps.yaml",
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 3}
---
apiVersion: v1
kind: Service
metadata: {namespace: shop, name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: new, namespace: shop}
",
        );
        let s = summarize(&base, &head, &[]);
        assert_eq!(names(&s.added), ["ConfigMap shop/new apps.yaml"]);
        assert_eq!(names(&s.changed), ["Deployment shop/web apps.yaml"]);
        assert_eq!(names(&s.removed), ["ConfigMap shop/old apps.yaml"]);
        assert!(s.rbac.is_empty() && !s.is_empty());
        assert_eq!(s.changed[0].base_file, None);

        // Nothing differs: nothing listed.
        assert!(summarize(&base, &base, &[]).is_empty());
    }

    #[test]
    fn server_fields_are_ignored_but_the_version_is_not() {
        let base = objs(
            "a.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, uid: '1', resourceVersion: '5', generation: 2}\nspec: {x: 1}\nstatus: {ready: 1}\n",
        );
        let head = objs(
            "a.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, creationTimestamp: null, managedFields: []}\nspec: {x: 1}\n",
        );
        assert!(summarize(&base, &head, &[]).is_empty());
        let newer = objs(
            "a.yaml",
            "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: web}\nspec: {x: 1}\n",
        );
        let s = summarize(&base, &newer, &[]);
        assert_eq!(names(&s.changed), ["Deployment web a.yaml"]);
        assert!(s.added.is_empty() && s.removed.is_empty());
        let labelled = objs(
            "a.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {a: b}}\nspec: {x: 1}\n",
        );
        assert_eq!(summarize(&base, &labelled, &[]).changed.len(), 1);
    }

    #[test]
    fn moves_renames_overlays_and_unnamed_objects() {
        let cm = |name: &str, data: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: {data}}}\n"
            )
        };
        // The same identity in two overlays: each pairs with its own file.
        let base = [
            objs("dev/cm.yaml", &cm("app", "1")),
            objs("prod/cm.yaml", &cm("app", "1")),
        ]
        .concat();
        let head = [
            objs("dev/cm.yaml", &cm("app", "2")),
            objs("prod/cm.yaml", &cm("app", "1")),
        ]
        .concat();
        let s = summarize(&base, &head, &[]);
        assert_eq!(names(&s.changed), ["ConfigMap app dev/cm.yaml"]);
        // Removed from one overlay only.
        let s = summarize(&base, &head[..1], &[]);
        assert_eq!(names(&s.removed), ["ConfigMap app prod/cm.yaml"]);

        // A renamed file: unchanged objects are not listed, changed ones say where they were.
        let renames = [("old.yaml".to_owned(), "new.yaml".to_owned())];
        let base = objs("old.yaml", &(cm("a", "1") + "---\n" + &cm("b", "1")));
        let head = objs("new.yaml", &(cm("a", "1") + "---\n" + &cm("b", "2")));
        let s = summarize(&base, &head, &renames);
        assert!(s.added.is_empty() && s.removed.is_empty());
        assert_eq!(names(&s.changed), ["ConfigMap b new.yaml"]);
        assert_eq!(s.changed[0].base_file.as_deref(), Some("old.yaml"));

        // Unnamed objects match by file, kind and index.
        let unnamed = |d: &str| format!("apiVersion: v1\nkind: ConfigMap\ndata: {{k: {d}}}\n");
        let base = objs("u.yaml", &(unnamed("1") + "---\n" + &unnamed("2")));
        let head = objs("u.yaml", &(unnamed("1") + "---\n" + &unnamed("3")));
        let s = summarize(&base, &head, &[]);
        assert_eq!(names(&s.changed), ["ConfigMap u.yaml"]);
        let s = summarize(&base, &head[..1], &[]);
        assert_eq!(s.removed.len(), 1);
        assert!(s.changed.is_empty() && s.added.is_empty());
    }

    #[test]
    fn a_new_cluster_role_binding_gains_cluster_wide() {
        let base = objs("rbac/roles.yaml", SECRET_READER);
        let head = [base.clone(), objs("rbac/ci.yaml", CRB)].concat();
        let s = summarize(&base, &head, &[]);
        assert_eq!(s.rbac.len(), 1);
        let g = &s.rbac[0];
        assert_eq!(g.verbs, ["get", "list"]);
        assert_eq!(g.resources, ["secrets"]);
        assert_eq!(g.api_groups, [""]);
        assert_eq!(g.scope, Scope::ClusterWide);
        assert_eq!(g.change, Direction::Gains);
        assert_eq!(g.file, "rbac/ci.yaml");
        assert_eq!(g.role.name.as_deref(), Some("secret-reader"));
        assert_eq!(
            line(g),
            "ServiceAccount ci/deployer Gains get,list on secrets [] cluster-wide via \
             ClusterRoleBinding deployer-secrets (ClusterRole secret-reader)"
        );
        assert_eq!(
            names(&s.added),
            ["ClusterRoleBinding deployer-secrets rbac/ci.yaml"]
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["rbac"][0]["change"], "gains");
        assert_eq!(json["rbac"][0]["scope"], "cluster_wide");
        assert_eq!(json["rbac"][0]["subject"]["namespace"], "ci");
        assert!(json.get("rbac_skipped").is_none());

        // And deleting it loses the same.
        assert_eq!(
            rbac(&head, &base),
            [
                "ServiceAccount ci/deployer Loses get,list on secrets [] cluster-wide via \
              ClusterRoleBinding deployer-secrets (ClusterRole secret-reader)"
            ]
        );
    }

    #[test]
    fn a_role_binding_to_a_cluster_role_is_namespaced() {
        let rb = "
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {kind: ClusterRole, name: secret-reader}
subjects:
- {kind: ServiceAccount, name: web}
- {kind: ServiceAccount, name: job, namespace: batch}
- {kind: User, name: alice, namespace: ignored}
- {kind: Group, name: devs}
";
        let base = objs("roles.yaml", SECRET_READER);
        let head = [base.clone(), objs("shop/rb.yaml", rb)].concat();
        assert_eq!(
            rbac(&base, &head),
            [
                "Group devs Gains get,list on secrets [] in shop via RoleBinding shop/read (ClusterRole secret-reader)",
                "ServiceAccount batch/job Gains get,list on secrets [] in shop via RoleBinding shop/read (ClusterRole secret-reader)",
                // A ServiceAccount without a namespace is the binding's.
                "ServiceAccount shop/web Gains get,list on secrets [] in shop via RoleBinding shop/read (ClusterRole secret-reader)",
                "User alice Gains get,list on secrets [] in shop via RoleBinding shop/read (ClusterRole secret-reader)",
            ]
        );
    }

    #[test]
    fn a_role_that_gains_verbs_gains_them_for_every_subject() {
        let role = |verbs: &str| {
            format!(
                "
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: deployer, namespace: shop}}
rules:
- apiGroups: [apps]
  resources: [deployments, replicasets]
  verbs: [{verbs}]
- apiGroups: ['']
  resources: [pods/exec]
  verbs: [create]
"
            )
        };
        let rb = |name: &str, sa: &str| {
            format!(
                "
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {name}, namespace: shop}}
roleRef: {{kind: Role, name: deployer}}
subjects: [{{kind: ServiceAccount, name: {sa}}}]
"
            )
        };
        let bindings = [
            objs("shop/rb1.yaml", &rb("a", "ci")),
            objs("shop/rb2.yaml", &rb("b", "bot")),
        ]
        .concat();
        let base = [objs("shop/role.yaml", &role("get, list")), bindings.clone()].concat();
        let head = [
            objs("shop/role.yaml", &role("get, list, patch, update")),
            bindings,
        ]
        .concat();
        let s = summarize(&base, &head, &[]);
        assert_eq!(names(&s.changed), ["Role shop/deployer shop/role.yaml"]);
        assert_eq!(
            s.rbac.iter().map(line).collect::<Vec<_>>(),
            [
                "ServiceAccount shop/bot Gains update,patch on deployments,replicasets [apps] in shop via RoleBinding shop/b (Role shop/deployer)",
                "ServiceAccount shop/ci Gains update,patch on deployments,replicasets [apps] in shop via RoleBinding shop/a (Role shop/deployer)",
            ]
        );
        assert_eq!(s.rbac[0].file, "shop/rb2.yaml");
        // Only the verbs of one resource: deployments and replicasets split.
        let head2 = [
            objs(
                "shop/role.yaml",
                &(role("get, list").replace("[deployments, replicasets]", "[replicasets]")
                    + "- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, list, delete]\n"),
            ),
            base[1..].to_vec(),
        ]
        .concat();
        assert_eq!(
            rbac(&base, &head2),
            [
                "ServiceAccount shop/bot Gains delete on deployments [apps] in shop via RoleBinding shop/b (Role shop/deployer)",
                "ServiceAccount shop/ci Gains delete on deployments [apps] in shop via RoleBinding shop/a (Role shop/deployer)",
            ]
        );
    }

    #[test]
    fn resource_names_and_urls() {
        let role = |names: &str| {
            format!(
                "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: r}}
rules:
- {{apiGroups: [''], resources: [configmaps], verbs: [get], resourceNames: [{names}]}}
- {{nonResourceURLs: [/metrics, /healthz], verbs: [get]}}
"
            )
        };
        let crb = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {kind: ClusterRole, name: r}
subjects: [{kind: User, name: u}]
";
        let base = [objs("r.yaml", &role("a")), objs("b.yaml", crb)].concat();
        let head = [objs("r.yaml", &role("a, b, c")), objs("b.yaml", crb)].concat();
        assert_eq!(
            rbac(&base, &head),
            [
                "User u Gains get on configmaps [] named b,c cluster-wide via ClusterRoleBinding b (ClusterRole r)"
            ]
        );
        let head = [objs("r.yaml", &role("")), objs("b.yaml", crb)].concat();
        assert_eq!(
            rbac(&base, &head),
            [
                "User u Gains get on configmaps [] cluster-wide via ClusterRoleBinding b (ClusterRole r)",
                "User u Loses get on configmaps [] named a cluster-wide via ClusterRoleBinding b (ClusterRole r)",
            ]
        );
        assert_eq!(
            rbac(&base[..1], &base),
            [
                "User u Gains get on configmaps [] named a cluster-wide via ClusterRoleBinding b (ClusterRole r)",
                "User u Gains get on urls /healthz,/metrics cluster-wide via ClusterRoleBinding b (ClusterRole r)",
            ]
        );
        // Non-resource URLs mean nothing through a RoleBinding.
        let rb = crb
            .replace("ClusterRoleBinding", "RoleBinding")
            .replace("{name: b}", "{name: b, namespace: x}");
        let head = [objs("r.yaml", &role("a")), objs("b.yaml", &rb)].concat();
        assert_eq!(
            rbac(&base[..1], &head),
            ["User u Gains get on configmaps [] named a in x via RoleBinding x/b (ClusterRole r)"]
        );
    }

    #[test]
    fn unresolved_roles_grant_nothing() {
        let dangling = CRB.replace("secret-reader", "not-in-repo");
        let head = objs("crb.yaml", &dangling);
        let s = summarize(&[], &head, &[]);
        assert!(s.rbac.is_empty());
        assert_eq!(s.added.len(), 1);
        // Odd bindings: no roleRef, a Role from a ClusterRoleBinding, no subjects, junk.
        let odd = [
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: a}\nsubjects: [{kind: User, name: u}]\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: Role, name: secret-reader}\nsubjects: [{kind: User, name: u}]\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: c}\nroleRef: {kind: ClusterRole, name: secret-reader}\nsubjects: 7\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: d}\nroleRef: [1]\nsubjects: [{kind: User}, 3, {name: x}]\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: e}\nrules: [{verbs: get}, 5, {apiGroups: [''], resources: [pods]}]\n",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: f}\nroleRef: {kind: ClusterRole, name: e}\nsubjects: [{kind: User, name: u}]\n",
            // Not the RBAC group: not a binding.
            "apiVersion: example.com/v1\nkind: ClusterRoleBinding\nmetadata: {name: g}\nroleRef: {kind: ClusterRole, name: secret-reader}\nsubjects: [{kind: User, name: u}]\n",
        ];
        let head: Vec<SourceObject> = [objs("roles.yaml", SECRET_READER)]
            .into_iter()
            .chain(odd.iter().map(|t| objs("odd.yaml", t)))
            .flatten()
            .collect();
        assert!(summarize(&[], &head, &[]).rbac.is_empty());
    }

    #[test]
    fn roles_resolve_per_overlay_and_moves_show_as_loss_and_gain() {
        let role = |verb: &str| SECRET_READER.replace("[list, get]", &format!("[{verb}]"));
        let base = [
            objs("dev/role.yaml", &role("get")),
            objs("dev/crb.yaml", CRB),
            objs("prod/role.yaml", &role("get")),
            objs("prod/crb.yaml", CRB),
        ]
        .concat();
        let mut head = base.clone();
        head.splice(0..1, objs("dev/role.yaml", &role("get, delete")));
        assert_eq!(
            rbac(&base, &head),
            [
                "ServiceAccount ci/deployer Gains delete on secrets [] cluster-wide via ClusterRoleBinding deployer-secrets (ClusterRole secret-reader)"
            ]
        );
        assert_eq!(summarize(&base, &head, &[]).rbac[0].file, "dev/crb.yaml");

        // Renamed: nothing; moved to another file without a rename: lost there, gained here.
        let base = [objs("roles.yaml", SECRET_READER), objs("a.yaml", CRB)].concat();
        let head = [objs("roles.yaml", SECRET_READER), objs("b.yaml", CRB)].concat();
        let renames = [("a.yaml".to_owned(), "b.yaml".to_owned())];
        assert!(summarize(&base, &head, &renames).is_empty());
        let s = summarize(&base, &head, &[]);
        assert_eq!(
            s.rbac
                .iter()
                .map(|g| (g.change, g.file.as_str()))
                .collect::<Vec<_>>(),
            [(Direction::Gains, "b.yaml"), (Direction::Loses, "a.yaml")]
        );
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let base = [
            objs("roles.yaml", SECRET_READER),
            objs(
                "x.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n",
            ),
        ]
        .concat();
        let mut head = [
            objs("roles.yaml", &SECRET_READER.replace("[list, get]", "[get, list, watch, '*']")),
            objs("a.yaml", CRB),
            objs("b.yaml", &CRB.replace("name: deployer,", "name: zed,")),
            objs("c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: a}\n"),
        ]
        .concat();
        let first = serde_json::to_string(&summarize(&base, &head, &[])).unwrap();
        head.reverse();
        let mut base_rev = base.clone();
        base_rev.reverse();
        let second = serde_json::to_string(&summarize(&base_rev, &head, &[])).unwrap();
        assert_eq!(first, second);
        let s = summarize(&base, &head, &[]);
        assert_eq!(s.rbac[0].verbs, ["*", "get", "list", "watch"]);
        assert_eq!(s.rbac.len(), 2);
        assert!(s.rbac[0].subject.name < s.rbac[1].subject.name);
    }

    #[test]
    fn hostile_cross_products_are_abandoned_and_said_so() {
        let list = |prefix: &str, n: usize| -> String {
            (0..n)
                .map(|i| format!("{prefix}{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // 100 groups x 100 resources x 101 names: over the budget before any is built.
        let role = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: big}}\n\
             rules: [{{apiGroups: [{}], resources: [{}], resourceNames: [{}], verbs: [get]}}]\n",
            list("g", 100),
            list("r", 100),
            list("n", 101)
        );
        let crb = CRB.replace("secret-reader", "big");
        let head = [objs("r.yaml", &role), objs("b.yaml", &crb)].concat();
        let s = summarize(&[], &head, &[]);
        assert!(s.rbac_skipped && s.rbac.is_empty() && !s.is_empty());
        assert_eq!(s.added.len(), 2);
        assert_eq!(serde_json::to_value(&s).unwrap()["rbac_skipped"], true);

        // Unchanged bindings are never expanded: the same files on both sides cost nothing.
        let s = summarize(&head, &head, &[]);
        assert!(s.is_empty(), "{s:?}");

        // Many subjects times many resources: stopped while expanding.
        let subjects: String = (0..1100)
            .map(|i| format!("- {{kind: User, name: u{i}}}\n"))
            .collect();
        let role = SECRET_READER.replace("[secrets]", &format!("[{}]", list("r", 1000)));
        let crb = format!(
            "{}subjects:\n{subjects}",
            CRB.split("subjects:").next().unwrap_or("")
        );
        let head = [objs("r.yaml", &role), objs("b.yaml", &crb)].concat();
        assert!(summarize(&[], &head, &[]).rbac_skipped);
    }
}
