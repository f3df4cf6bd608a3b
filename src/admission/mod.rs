//! The repository's own admission policies, run on the objects of the run as the API server
//! would run them on apply: ValidatingAdmissionPolicy with its bindings ([`vap`]),
//! Gatekeeper ConstraintTemplates with their Constraints ([`gatekeeper`]), Kyverno
//! `validate` rules ([`kyverno`]).
//!
//! Each engine is loaded from the policy objects found among the objects of the run (and
//! the `--policy` directories, or the merge request's base): [`Policies::load`]. A policy
//! that cannot run (it does not compile, a binding names no policy, a Constraint has no
//! template) is a [`Problem`] on the policy object. Then every object is one [`Request`]
//! (`CREATE`, or `UPDATE`/`DELETE` in a merge request), evaluated with what the policies may
//! look up besides it, the [`Cluster`] (the Namespaces of the run for namespace selectors,
//! parameter objects, Gatekeeper's `data.inventory`). What a policy refuses is a
//! [`Violation`]: a rule id `<policy kind>/<policy name>`, the policy's message, and the
//! pointer of the field the failing expression or pattern reads.

pub mod gatekeeper;
pub mod kyverno;
pub mod matching;
pub mod program;
pub mod vap;
pub mod verify;

use std::collections::HashMap;

use serde_json::Value;

use crate::finding::Severity;

/// The operation an object arrives with (`request.operation`): the one the change
/// summary names too.
pub use crate::changes::Operation;

/// One object as the API server would receive it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub operation: Operation,
    /// The object after the change; `None` on `DELETE`.
    pub object: Option<&'a Value>,
    /// The object before the change (`UPDATE`, `DELETE`); `None` on `CREATE`.
    pub old: Option<&'a Value>,
}

impl<'a> Request<'a> {
    /// A `CREATE` of `object`.
    pub fn create(object: &'a Value) -> Self {
        Request {
            operation: Operation::Create,
            object: Some(object),
            old: None,
        }
    }

    /// The object the request is about: the new one, else (on `DELETE`) the old one.
    pub fn subject(&self) -> &'a Value {
        static NULL: Value = Value::Null;
        self.object.or(self.old).unwrap_or(&NULL)
    }

    pub fn api_version(&self) -> &'a str {
        str_at(self.subject(), &["apiVersion"]).unwrap_or("")
    }

    pub fn kind(&self) -> &'a str {
        str_at(self.subject(), &["kind"]).unwrap_or("")
    }

    pub fn name(&self) -> &'a str {
        str_at(self.subject(), &["metadata", "name"]).unwrap_or("")
    }

    /// `metadata.namespace`, `""` when it has none (a cluster-scoped object, or a
    /// namespaced one that takes the namespace of the apply).
    pub fn namespace(&self) -> &'a str {
        str_at(self.subject(), &["metadata", "namespace"]).unwrap_or("")
    }

    /// The API group of the object (`""` for the core group).
    pub fn group(&self) -> &'a str {
        matching::split_api_version(self.api_version()).0
    }

    /// The version of the object's `apiVersion`.
    pub fn version(&self) -> &'a str {
        matching::split_api_version(self.api_version()).1
    }
}

/// The string at `path` in `v`.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for p in path {
        at = at.get(p)?;
    }
    at.as_str()
}

/// What the policies may read besides the request: every object of the run.
#[derive(Debug, Default)]
pub struct Cluster<'a> {
    /// Unique for the process: what engines key the values they build from it on.
    id: u64,
    objects: Vec<&'a Value>,
    namespaces: HashMap<&'a str, &'a Value>,
    /// `kind` → (plural resource, namespaced), from the CRDs of the run.
    crds: HashMap<(&'a str, &'a str), (&'a str, bool)>,
}

impl<'a> Cluster<'a> {
    /// The cluster that holds `objects` (the objects of the run after the change).
    pub fn new(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut c = Cluster {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Cluster::default()
        };
        for o in objects {
            let kind = str_at(o, &["kind"]).unwrap_or("");
            let group = matching::split_api_version(str_at(o, &["apiVersion"]).unwrap_or("")).0;
            match (group, kind) {
                ("", "Namespace") => {
                    if let Some(name) = str_at(o, &["metadata", "name"]) {
                        c.namespaces.entry(name).or_insert(o);
                    }
                }
                ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                    let spec = &o["spec"];
                    if let (Some(g), Some(k), Some(plural)) = (
                        str_at(spec, &["group"]),
                        str_at(spec, &["names", "kind"]),
                        str_at(spec, &["names", "plural"]),
                    ) {
                        let namespaced = str_at(spec, &["scope"]) != Some("Cluster");
                        c.crds.entry((g, k)).or_insert((plural, namespaced));
                    }
                }
                _ => {}
            }
            c.objects.push(o);
        }
        c
    }

    /// Unique for the process (never reused): what an engine keys a value it builds from
    /// the cluster on (Gatekeeper's `data.inventory`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Every object of the run, in run order.
    pub fn objects(&self) -> &[&'a Value] {
        &self.objects
    }

    /// The Namespace object of that name, if the run has one.
    pub fn namespace(&self, name: &str) -> Option<&'a Value> {
        self.namespaces.get(name).copied()
    }

    /// The plural resource name of a kind of a group (`deployments`), from the CRDs of the
    /// run, else the built-in table, else the API machinery's guess.
    pub fn resource(&self, group: &str, kind: &str) -> String {
        match self.crds.get(&(group, kind)) {
            Some((plural, _)) => (*plural).to_owned(),
            None => matching::resource_of(kind),
        }
    }

    /// Whether objects of the kind live in a namespace.
    pub fn namespaced(&self, group: &str, kind: &str) -> bool {
        match self.crds.get(&(group, kind)) {
            Some((_, namespaced)) => *namespaced,
            None => !matching::cluster_scoped(group, kind),
        }
    }
}

/// A Namespace the run does not hold, as the policies see it: the API server has it (an
/// object cannot be applied into a missing one), with at least the label every Namespace
/// carries, `kubernetes.io/metadata.name`.
pub fn assumed_namespace(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
    })
}

/// What one policy refused of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `<policy kind>/<policy name>`: `ValidatingAdmissionPolicy/max-replicas`,
    /// `K8sRequiredLabels/must-have-owner`, `ClusterPolicy/require-labels`.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// JSON pointer of the field the failing check reads, in the reviewed object (the new
    /// one, or the old one on `DELETE`); `""` for the object as a whole.
    pub pointer: String,
    /// The policy object that said it, as an index into [`Policies::found`].
    pub policy: usize,
}

/// A policy object that cannot run as written, or runs only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The policy object, as an index into the objects given to [`Policies::load`].
    pub policy: usize,
    /// `admission-invalid` (the cluster would refuse it, or it can never apply) or
    /// `admission-unsupported` (kubegate cannot run that part; never a false error).
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// JSON pointer into the policy object; `""` for the object as a whole.
    pub pointer: String,
}

impl Problem {
    pub fn invalid(policy: usize, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            policy,
            rule: "admission-invalid",
            severity: Severity::Error,
            message: message.into(),
            pointer: pointer.into(),
        }
    }

    pub fn unsupported(
        policy: usize,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            policy,
            rule: "admission-unsupported",
            severity: Severity::Info,
            message: message.into(),
            pointer: pointer.into(),
        }
    }
}

/// One admission policy found, for `kubegate rules` and the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The rule id its violations carry (`ValidatingAdmissionPolicy/max-replicas`).
    pub rule: String,
    /// The engine: `ValidatingAdmissionPolicy`, `Gatekeeper`, `Kyverno`.
    pub engine: &'static str,
    /// The policy object it comes from, as an index into the objects given to
    /// [`Policies::load`].
    pub object: usize,
}

/// Whether an object is one of the admission policy kinds (which the API server never
/// sends to admission policies, and which kubegate loads instead of checking against them).
pub fn is_policy(v: &Value) -> bool {
    let kind = str_at(v, &["kind"]).unwrap_or("");
    let group = matching::split_api_version(str_at(v, &["apiVersion"]).unwrap_or("")).0;
    vap::is_policy(group, kind)
        || gatekeeper::is_policy(group, kind)
        || kyverno::is_policy(group, kind)
}

/// Which objects the policies of a run may judge or read: by API group and kind (`None`
/// for any). Objects of other kinds are not kept for them: a repository whose only policy
/// judges CRDs pays for its CRDs, not for every object.
#[derive(Debug, Clone)]
pub struct Wants {
    patterns: Vec<(Option<String>, Option<String>)>,
    /// The fields the policies read of the objects they judge (each path with all below
    /// it); `None` when one may read any.
    reads: Option<Vec<Vec<String>>>,
    /// Kinds kept whole whatever `reads` says: the Namespaces and parameter objects the
    /// policies look up.
    whole: Vec<(String, String)>,
    /// The rule ids of the policies found (`ValidatingAdmissionPolicy/max-replicas`): what
    /// an inline suppression may name besides the other rules.
    rules: Vec<String>,
}

impl Wants {
    /// Whether an inline suppression's `spec` names one of the policies found.
    pub fn names_policy(&self, spec: &str) -> bool {
        self.rules
            .iter()
            .any(|r| crate::suppress::designates(spec, r, None))
    }
}

impl Default for Wants {
    fn default() -> Self {
        // What matching reads, and what a CRD tells of its kind (resource names, scope).
        let fixed = [
            &["apiVersion"][..],
            &["kind"],
            &["metadata"],
            &["spec", "group"],
            &["spec", "names"],
            &["spec", "scope"],
        ];
        Wants {
            patterns: Vec::new(),
            reads: Some(
                fixed
                    .iter()
                    .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
                    .collect(),
            ),
            whole: vec![(String::new(), "Namespace".to_owned())],
            rules: Vec::new(),
        }
    }
}

impl Wants {
    /// A policy reads `path` (from the object's root) of the objects it judges.
    pub fn read(&mut self, path: &[String]) {
        if let Some(reads) = &mut self.reads
            && !reads.iter().any(|r| path.starts_with(r))
        {
            reads.retain(|r| !r.starts_with(path));
            reads.push(path.to_vec());
        }
    }

    /// A policy may read any field of the objects it judges.
    pub fn read_all(&mut self) {
        self.reads = None;
    }

    /// Objects of `group` and `kind` are looked up whole (parameters).
    pub fn keep_whole(&mut self, group: &str, kind: &str) {
        let k = (group.to_owned(), kind.to_owned());
        if !self.whole.contains(&k) {
            self.whole.push(k);
        }
    }

    /// What to keep of an object for the policies: `None` when they neither judge nor read
    /// its kind; else the object, or the fields they read of it.
    pub fn keep(&self, group: &str, kind: &str, value: &Value) -> Option<Value> {
        self.project(group, kind, std::borrow::Cow::Borrowed(value))
    }

    /// [`Wants::keep`] of a value the caller no longer needs: kept whole without a copy.
    pub fn keep_owned(&self, group: &str, kind: &str, value: Value) -> Option<Value> {
        self.project(group, kind, std::borrow::Cow::Owned(value))
    }

    /// [`Wants::keep`] of any [`crate::tree::Tree`]: only the paths read are converted to a
    /// value (a rendered object's nodes need not be converted whole).
    pub fn keep_tree<T: crate::tree::Tree>(
        &self,
        group: &str,
        kind: &str,
        tree: &T,
    ) -> Option<Value> {
        let Some(reads) = self.reads_of(group, kind)? else {
            return Some(tree.to_json());
        };
        let mut out = Value::Object(serde_json::Map::new());
        for path in reads {
            copy_path(tree, &mut out, path);
        }
        Some(out)
    }

    fn project(
        &self,
        group: &str,
        kind: &str,
        value: std::borrow::Cow<'_, Value>,
    ) -> Option<Value> {
        match value {
            std::borrow::Cow::Owned(v) if self.reads_of(group, kind)?.is_none() => Some(v),
            value => self.keep_tree(group, kind, value.as_ref()),
        }
    }

    /// What the policies read of an object of `group` and `kind`: `None` when they neither
    /// judge nor read its kind; `Some(None)` when they may read all of it; else the paths
    /// (each with all below it).
    fn reads_of(&self, group: &str, kind: &str) -> Option<Option<&[Vec<String>]>> {
        if !self.wants(group, kind) {
            return None;
        }
        Some(match &self.reads {
            Some(r) if !self.whole.iter().any(|(g, k)| g == group && k == kind) => Some(r),
            _ => None,
        })
    }

    /// Objects of `group` (`None` or `*`: any) and `kind` (likewise).
    pub fn add(&mut self, group: Option<&str>, kind: Option<&str>) {
        let any = |s: Option<&str>| s.filter(|s| *s != "*").map(str::to_owned);
        let p = (any(group), any(kind));
        if !self.patterns.contains(&p) {
            self.patterns.push(p);
        }
    }

    /// Whether an object of `group` and `kind` may be judged or read.
    pub fn wants(&self, group: &str, kind: &str) -> bool {
        self.patterns.iter().any(|(g, k)| {
            g.as_deref().is_none_or(|g| g == group) && k.as_deref().is_none_or(|k| k == kind)
        })
    }
}

/// Copies the value at `path` of `from` (with all below it) into `to`, creating the
/// mappings on the way.
fn copy_path<T: crate::tree::Tree>(from: &T, to: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let (Some(src), Value::Object(dst)) = (from.get(first), to) else {
        return;
    };
    if rest.is_empty() || !src.is_map() {
        dst.insert(first.clone(), src.to_json());
        return;
    }
    let slot = dst
        .entry(first.clone())
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    copy_path(src, slot, rest);
}

/// Bytes that mark a file that may hold an admission policy: a cheap look before parsing.
pub const MARKERS: &[&[u8]] = &[
    // Not the API group: webhook configurations share it, and most install bundles hold one.
    b"ValidatingAdmissionPolicy",
    b"templates.gatekeeper.sh",
    b"constraints.gatekeeper.sh",
    b"kyverno.io",
];

/// Whether a file's bytes may hold an admission policy.
pub fn may_hold_policy(bytes: &[u8]) -> bool {
    MARKERS
        .iter()
        .any(|m| memchr::memmem::find(bytes, m).is_some())
}

/// Every admission policy of a run, compiled once.
#[derive(Default)]
pub struct Policies {
    vap: vap::Vap,
    gatekeeper: gatekeeper::Gatekeeper,
    kyverno: kyverno::Kyverno,
    found: Vec<Found>,
}

impl Policies {
    /// Loads the policies among `objects` (policy objects and any others: the others are
    /// ignored). Parameter objects and Namespaces are not read here but at evaluation,
    /// from the [`Cluster`].
    pub fn load(objects: &[&Value]) -> (Policies, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut found = Vec::new();
        let vap = vap::Vap::load(objects, &mut problems, &mut found);
        let gatekeeper = gatekeeper::Gatekeeper::load(objects, &mut problems, &mut found);
        let kyverno = kyverno::Kyverno::load(objects, &mut problems, &mut found);
        problems.sort_by_key(|p| p.policy);
        (
            Policies {
                vap,
                gatekeeper,
                kyverno,
                found,
            },
            problems,
        )
    }

    /// The policies found, in the order of their objects.
    pub fn found(&self) -> &[Found] {
        &self.found
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The objects the policies may judge or read: what each matches, their parameter
    /// kinds, and always Namespaces (namespace selectors) and CRDs (resource names).
    pub fn wants(&self) -> Wants {
        let mut w = Wants::default();
        w.add(Some(""), Some("Namespace"));
        w.add(
            Some("apiextensions.k8s.io"),
            Some("CustomResourceDefinition"),
        );
        self.vap.wants(&mut w);
        self.gatekeeper.wants(&mut w);
        self.kyverno.wants(&mut w);
        w.rules = self.found.iter().map(|f| f.rule.clone()).collect();
        w
    }

    /// Evaluates every policy on one request.
    pub fn evaluate(&self, req: &Request<'_>, cluster: &Cluster<'_>) -> Vec<Violation> {
        let mut out = Vec::new();
        if is_policy(req.subject()) {
            return out;
        }
        self.vap.evaluate(req, cluster, &mut out);
        self.gatekeeper.evaluate(req, cluster, &mut out);
        self.kyverno.evaluate(req, cluster, &mut out);
        out
    }
}

/// The pointer a violation is placed on: of the `paths` a failing check reads (each a list
/// of field names from the object's root), the one that reaches deepest into `object`
/// (the first of equals); `""` when none reaches a field of it.
pub fn pointer_of<S: AsRef<str>>(paths: &[Vec<S>], object: &Value) -> String {
    let mut best: (usize, String) = (0, String::new());
    for path in paths {
        let mut at = object;
        let mut pointer = String::new();
        let mut depth = 0;
        for seg in path {
            let seg = seg.as_ref();
            let next = match at {
                Value::Object(m) => m.get(seg),
                Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            let Some(next) = next else { break };
            at = next;
            depth += 1;
            pointer.push('/');
            pointer.push_str(&crate::parse::source_map::escape(seg));
        }
        if depth > best.0 {
            best = (depth, pointer);
        }
    }
    best.1
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// `tests/fixtures/admission/<name>` of the repository.
    pub(crate) fn fixtures(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/admission")
            .join(name)
    }

    #[test]
    fn the_deepest_field_read_is_pointed_at() {
        let obj = json!({"spec": {"replicas": 7, "template": {"spec": {}}}, "metadata": {}});
        let paths = vec![vec!["metadata", "labels", "team"], vec!["spec", "replicas"]];
        assert_eq!(pointer_of(&paths, &obj), "/spec/replicas");
        let paths = vec![vec!["metadata", "labels", "team"]];
        assert_eq!(pointer_of(&paths, &obj), "/metadata");
        let paths = vec![vec!["status"]];
        assert_eq!(pointer_of(&paths, &obj), "");
    }

    #[test]
    fn the_cluster_knows_namespaces_and_crd_plurals() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}});
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgetses"}}});
        let c = Cluster::new([&ns, &crd]);
        assert_eq!(c.namespace("team-a"), Some(&ns));
        assert_eq!(c.resource("example.com", "Widget"), "widgetses");
        assert!(!c.namespaced("example.com", "Widget"));
        assert_eq!(c.resource("apps", "Deployment"), "deployments");
        assert!(c.namespaced("apps", "Deployment"));
        assert!(!c.namespaced("", "Namespace"));
    }

    #[test]
    fn only_the_fields_read_are_kept() {
        let mut w = Wants::default();
        w.add(Some("apps"), None);
        w.read(&["spec".to_owned(), "replicas".to_owned()]);
        let d = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a"}, "spec": {"replicas": 3, "template": {"spec": {}}}});
        assert_eq!(
            w.keep("apps", "Deployment", &d),
            Some(
                serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "a"}, "spec": {"replicas": 3}})
            )
        );
        assert_eq!(w.keep("", "ConfigMap", &d), None);
        w.read(&["spec".to_owned()]);
        assert_eq!(w.keep("apps", "Deployment", &d), Some(d.clone()));
        w.read_all();
        w.add(Some(""), None);
        assert_eq!(w.keep("", "ConfigMap", &d), Some(d.clone()));
    }

    #[test]
    fn wants_match_groups_and_kinds() {
        let mut w = Wants::default();
        w.add(Some("apps"), None);
        w.add(Some(""), Some("Pod"));
        assert!(w.wants("apps", "Deployment"));
        assert!(w.wants("", "Pod"));
        assert!(!w.wants("", "ConfigMap"));
        w.add(Some("*"), Some("*"));
        assert!(w.wants("", "ConfigMap"));
    }

    #[test]
    fn markers_find_policy_files() {
        assert!(may_hold_policy(b"apiVersion: templates.gatekeeper.sh/v1\n"));
        assert!(!may_hold_policy(
            b"apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
        ));
        assert!(!may_hold_policy(b"apiVersion: apps/v1\nkind: Deployment\n"));
    }
}
