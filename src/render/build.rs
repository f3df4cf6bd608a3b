//! `kustomize build`, natively: a kustomization's resources, components, generators and
//! transformers in kustomize v5.7.1's order, then, at the root only, name references, the
//! drop of local-config objects and the sort.
//!
//! Each directory is accumulated as kustomize accumulates it (`api/internal/target`):
//! 1. `resources` (and the deprecated `bases`) in order: files, and directories built as
//!    kustomizations of their own, whose results join this one (an id clash is an error);
//! 2. generators;
//! 3. `components`, run against everything accumulated so far;
//! 4. transformers: patches, `namespace`, `namePrefix`, `nameSuffix`, `labels`,
//!    `commonLabels`, `commonAnnotations`, JSON 6902 patches, `replicas`, `images`,
//!    `replacements`.
//!
//! A build stops at its first error, as kustomize does: the controller deploys nothing
//! from a kustomization that fails. What cannot be rendered offline (remote bases, Helm
//! charts, plugins) is a warning at its line, and the rest renders.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::files::Files;
use super::kustomization::Kustomization;
use super::node::{FileId, Kind, Node, Origin, Span};
use super::resource::Resource;
use super::{Error, Result, Warning, transform};
use crate::parse::Reader;

/// Deepest chain of kustomizations (bases of bases) followed.
pub const MAX_DEPTH: usize = 100;

/// How a root is built.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files a kustomization reads (resources, patches, generator inputs) must be in or
    /// below its own directory, as `kubectl kustomize` and Argo CD require by default
    /// (Flux's kustomize-controller lifts it).
    pub restrict_to_root: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            restrict_to_root: true,
        }
    }
}

/// A root's build: its objects (or the error that stopped it), what it warns about, and
/// every file it read.
#[derive(Debug)]
pub struct Built {
    pub result: Result<Vec<Resource>>,
    pub warnings: Vec<Warning>,
    /// Every file the build read: resources, patches, kustomizations, generator inputs.
    pub used: BTreeSet<FileId>,
}

/// Builds the kustomization in `dir` as `kubectl kustomize dir` would.
pub fn build(files: &Files, dir: &Path, opts: &Options) -> Built {
    let mut b = Builder {
        files,
        opts,
        stack: Vec::new(),
        warnings: Vec::new(),
        used: BTreeSet::new(),
    };
    let result = b.root(dir);
    Built {
        result,
        warnings: b.warnings,
        used: b.used,
    }
}

struct Builder<'a> {
    files: &'a Files,
    opts: &'a Options,
    /// The directories being built, outermost first (a cycle is an error).
    stack: Vec<PathBuf>,
    warnings: Vec<Warning>,
    used: BTreeSet<FileId>,
}

impl Builder<'_> {
    fn root(&mut self, dir: &Path) -> Result<Vec<Resource>> {
        let nowhere = Origin::new(0, Span::default());
        // A Component built on its own works on an empty accumulation, as in kustomize.
        let k = self.load(dir, nowhere)?;
        self.stack.push(k.dir.clone());
        let mut resources = self.accumulate(&k, Vec::new())?;
        self.stack.pop();
        // Generated names get the hash of their final content.
        for r in &mut resources {
            if r.generated.is_some_and(|g| g.hash)
                && let Some(hash) = super::generate::hash_suffix(&r.node.to_value())
            {
                r.store_previous_id();
                let name = format!("{}-{hash}", r.name());
                let origin = r
                    .node
                    .path(&["metadata", "name"])
                    .map_or(r.node.origin, |n| n.origin);
                r.set_name(name, origin);
            }
        }
        super::nameref::fix_back_references(&mut resources)?;
        resources.retain(|r| !r.is_local_config());
        // kustomize rewrites every object's annotations at the end of a build (it strips
        // its own build annotations), and an empty mapping does not survive that.
        for r in &mut resources {
            if let Some(meta) = r.node.get_mut("metadata").and_then(Node::as_map_mut)
                && meta
                    .get("annotations")
                    .is_some_and(|a| a.as_map().is_some_and(|m| m.is_empty()))
            {
                meta.remove("annotations");
            }
        }
        sort(&k, &mut resources)?;
        Ok(resources)
    }

    fn load(&mut self, dir: &Path, from: Origin) -> Result<Kustomization> {
        let k = Kustomization::load(self.files, dir, from)?;
        self.used.insert(k.file);
        Ok(k)
    }

    fn warn(&mut self, rule: &'static str, message: String, origin: Origin) {
        self.warnings.push(Warning {
            rule,
            message,
            origin,
        });
    }

    /// Accumulates a kustomization on top of `acc` (empty for a kustomization, the
    /// parent's accumulation for a component).
    fn accumulate(&mut self, k: &Kustomization, mut acc: Vec<Resource>) -> Result<Vec<Resource>> {
        for field in ["resources", "bases"] {
            for (path, node) in k.strings(field)? {
                self.resource(k, path, node, &mut acc)?;
            }
        }
        for field in ["configurations", "crds"] {
            if let Some(n) = k.field(field) {
                self.warn(
                    "kustomize-unsupported",
                    format!(
                        "`{field}` (custom transformer configuration) is not supported yet: \
                         rendered without it"
                    ),
                    n.origin,
                );
            }
        }
        self.generators(k, &mut acc)?;
        for field in ["helmCharts", "helmChartInflationGenerator", "helmGlobals"] {
            if let Some(n) = k.field(field) {
                self.warn(
                    "kustomize-helm",
                    format!(
                        "`{field}` needs Helm: rendered without the chart (Helm rendering \
                         comes with kubegate's Helm support)"
                    ),
                    n.origin,
                );
            }
        }
        for field in ["generators", "transformers", "validators"] {
            if let Some(n) = k.field(field) {
                self.warn(
                    "kustomize-unsupported",
                    format!("`{field}` (kustomize plugins) are not run: rendered without them"),
                    n.origin,
                );
            }
        }
        for (path, node) in k.strings("components")? {
            let dir = k.dir.join(path);
            acc = self.directory(&dir, node.origin, true, acc)?;
        }
        self.transform(k, &mut acc)?;
        Ok(acc)
    }

    /// `configMapGenerator`, then `secretGenerator`: each object created, or merged into or
    /// replacing the object of the same id (`behavior`).
    fn generators(&mut self, k: &Kustomization, acc: &mut Vec<Resource>) -> Result<()> {
        use super::generate::{self, Behavior, GeneratorKind};
        for kind in [GeneratorKind::ConfigMap, GeneratorKind::Secret] {
            let Some(items) = k.field(kind.field()) else {
                continue;
            };
            let Some(items) = items.as_seq() else {
                return Err(Error::new(
                    format!("invalid kustomization: `{}` must be a list", kind.field()),
                    items.origin,
                ));
            };
            for entry in items {
                let files = self.files;
                let restrict = self.opts.restrict_to_root;
                let mut used = Vec::new();
                let mut read =
                    |path: &Path| -> std::result::Result<(FileId, std::sync::Arc<[u8]>), String> {
                        let canonical = path
                            .canonicalize()
                            .map_err(|e| format!("{}: {e}", files.display(path)))?;
                        if restrict && !canonical.starts_with(&k.dir) {
                            return Err(format!(
                                "security; file '{}' is not in or below '{}'",
                                files.display(&canonical),
                                files.display(&k.dir)
                            ));
                        }
                        let id = files.load(path)?;
                        used.push(id);
                        Ok((id, files.get(id).bytes.clone()))
                    };
                let g =
                    generate::generate(kind, entry, k.field("generatorOptions"), &k.dir, &mut read)
                        .map_err(|e| Error::new(e.message, e.origin))?;
                self.used.extend(used);
                let mut r = Resource::new(g.object);
                r.generated = Some(super::resource::Generated { hash: g.hash });
                let id = r.id();
                let matches: Vec<usize> = acc
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| {
                        o.id().same(&id) || o.previous_ids().iter().any(|p| p.same(&id))
                    })
                    .map(|(i, _)| i)
                    .collect();
                match (matches.as_slice(), g.behavior) {
                    ([], Behavior::Create) => acc.push(r),
                    ([], _) => {
                        return Err(Error::new(
                            format!("id {} does not exist; cannot merge or replace", id.show()),
                            entry.origin,
                        ));
                    }
                    ([i], behavior) => {
                        let old = &mut acc[*i];
                        generate::merge_generated(&mut old.node, &r.node, behavior)
                            .map_err(|e| Error::new(e.message, e.origin))?;
                        let base_hash = old.generated.is_some_and(|g| g.hash);
                        old.generated = Some(super::resource::Generated {
                            hash: base_hash && g.hash,
                        });
                    }
                    (_, _) => {
                        return Err(Error::new(
                            format!(
                                "found multiple objects that could accept merge of {}",
                                id.show()
                            ),
                            entry.origin,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// kustomize's builtin transformers, in its order.
    fn transform(&mut self, k: &Kustomization, acc: &mut [Resource]) -> Result<()> {
        for field in ["patchesStrategicMerge", "patches", "patchesJson6902"] {
            if let Some(n) = k.field(field) {
                self.warn(
                    "kustomize-unsupported",
                    format!("`{field}` is not rendered yet: the objects are checked unpatched"),
                    n.origin,
                );
            }
        }
        if let Some((ns, node)) = k.string("namespace")?
            && !ns.is_empty()
        {
            transform::namespace(acc, ns, node.origin)?;
        }
        if let Some((prefix, node)) = k.string("namePrefix")? {
            transform::name_affix(acc, prefix, false, node.origin)?;
        }
        if let Some((suffix, node)) = k.string("nameSuffix")? {
            transform::name_affix(acc, suffix, true, node.origin)?;
        }
        if let Some(labels) = k.field("labels") {
            let Some(entries) = labels.as_seq() else {
                return Err(Error::new(
                    "invalid kustomization: `labels` must be a list",
                    labels.origin,
                ));
            };
            for entry in entries {
                super::kustomization::check_keys(
                    entry,
                    "labels",
                    &["pairs", "includeSelectors", "includeTemplates", "fields"],
                )?;
                let pairs = match entry.get("pairs") {
                    Some(p) => super::kustomization::string_map(p, "labels[].pairs")?,
                    None => Vec::new(),
                };
                let flag =
                    |k: &str| matches!(entry.get(k).map(|n| &n.kind), Some(Kind::Bool(true)));
                if let Some(fields) = entry.get("fields") {
                    self.warn(
                        "kustomize-unsupported",
                        "`labels[].fields` (custom field specs) is not supported yet: the \
                         labels go to the default fields only"
                            .into(),
                        fields.origin,
                    );
                }
                let mut specs: Vec<_> = Vec::new();
                if flag("includeSelectors") {
                    specs.extend_from_slice(transform::SELECTOR_LABELS);
                    specs.extend_from_slice(transform::TEMPLATE_LABELS);
                } else {
                    if flag("includeTemplates") {
                        specs.extend_from_slice(transform::TEMPLATE_LABELS);
                    }
                    if !specs.iter().any(|s| s.path == "metadata/labels") {
                        specs.push(crate::render::fieldpath::FieldSpec::new(
                            "metadata/labels",
                            true,
                        ));
                    }
                }
                transform::labels(acc, &pairs, &specs)?;
            }
        }
        let common = k.string_map("commonLabels")?;
        if !common.is_empty() {
            if let Some(labels) = k.field("labels").and_then(Node::as_seq) {
                for entry in labels {
                    for (key, _) in entry
                        .get("pairs")
                        .and_then(Node::as_map)
                        .into_iter()
                        .flatten()
                    {
                        if let Some((_, n)) = common.iter().find(|(c, _)| c == key) {
                            return Err(Error::at_key(
                                format!(
                                    "label name '{key}' exists in both commonLabels and labels"
                                ),
                                n.origin,
                            ));
                        }
                    }
                }
            }
            let specs: Vec<_> = transform::SELECTOR_LABELS
                .iter()
                .chain(transform::TEMPLATE_LABELS)
                .copied()
                .collect();
            transform::labels(acc, &common, &specs)?;
        }
        let annotations = k.string_map("commonAnnotations")?;
        if !annotations.is_empty() {
            transform::annotations(acc, &annotations)?;
        }
        if let Some(replicas) = k.field("replicas") {
            for entry in replicas.as_seq().unwrap_or_default() {
                transform::replicas(acc, entry)?;
            }
        }
        for field in ["images", "imageTags"] {
            if let Some(images) = k.field(field) {
                for entry in images.as_seq().unwrap_or_default() {
                    transform::images(acc, entry)?;
                }
            }
        }
        for field in ["replacements", "vars"] {
            if let Some(n) = k.field(field) {
                self.warn(
                    "kustomize-unsupported",
                    format!("`{field}` is not rendered yet: the objects are checked without it"),
                    n.origin,
                );
            }
        }
        Ok(())
    }

    /// One `resources` entry: a file of objects, a directory holding a kustomization, or
    /// a remote base (not fetched: a warning).
    fn resource(
        &mut self,
        k: &Kustomization,
        path: &str,
        node: &Node,
        acc: &mut Vec<Resource>,
    ) -> Result<()> {
        if is_remote(path) {
            self.warn(
                "kustomize-remote",
                format!(
                    "`{path}` is a remote base: not fetched (kubegate renders offline), so \
                     its objects are not checked"
                ),
                node.origin,
            );
            return Ok(());
        }
        let full = k.dir.join(path);
        if full.is_dir() {
            return self
                .directory(&full, node.origin, false, std::mem::take(acc))
                .map(|a| *acc = a);
        }
        if !full.exists() {
            return Err(Error::new(
                format!(
                    "accumulating resources: `{path}` does not exist (no such file or \
                     directory under {})",
                    self.files.display(&k.dir)
                ),
                node.origin,
            ));
        }
        self.check_root(k, &full, path, node.origin)?;
        let file = self
            .files
            .load(&full)
            .map_err(|e| Error::new(e, node.origin))?;
        self.used.insert(file);
        for r in self.objects(file, node.origin)? {
            append(acc, r, node.origin)?;
        }
        // Where kubectl would read the file otherwise, as for a manifest.
        let parsed = self
            .files
            .get(file)
            .parsed(Reader::Kyaml, &self.files.limits);
        for note in &parsed.notes {
            self.warn(
                crate::parse::yaml::AMBIGUOUS,
                note.message.clone(),
                Origin::new(file, Span::new(note.start as usize, note.end as usize)),
            );
        }
        Ok(())
    }

    /// The load restrictor: a file must be in or below the kustomization's directory.
    fn check_root(&self, k: &Kustomization, full: &Path, path: &str, at: Origin) -> Result<()> {
        if !self.opts.restrict_to_root {
            return Ok(());
        }
        let canonical = full.canonicalize().unwrap_or_else(|_| full.to_path_buf());
        if canonical.starts_with(&k.dir) {
            return Ok(());
        }
        Err(Error::new(
            format!(
                "security; file '{path}' is not in or below '{}': kustomize refuses it (a \
                 base directory may be outside, a file may not)",
                self.files.display(&k.dir)
            ),
            at,
        ))
    }

    /// A directory under `resources` (`component` false) or `components`.
    fn directory(
        &mut self,
        dir: &Path,
        from: Origin,
        component: bool,
        acc: Vec<Resource>,
    ) -> Result<Vec<Resource>> {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if self.stack.contains(&canonical) {
            return Err(Error::new(
                format!("cycle: {} includes itself", self.files.display(&canonical)),
                from,
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::new(
                format!("kustomizations nested more than {MAX_DEPTH} deep; not followed further"),
                from,
            ));
        }
        let k = self.load(dir, from)?;
        match (component, k.component) {
            (true, false) => {
                return Err(Error::new(
                    format!(
                        "expected kind 'Component' for path '{}' but got 'Kustomization'",
                        self.files.display(&k.dir)
                    ),
                    from,
                ));
            }
            (false, true) => {
                return Err(Error::new(
                    format!(
                        "expected kind != 'Component' for path '{}': list it under \
                         `components`",
                        self.files.display(&k.dir)
                    ),
                    from,
                ));
            }
            _ => {}
        }
        self.stack.push(k.dir.clone());
        let result = if component {
            self.accumulate(&k, acc)
        } else {
            let sub = self.accumulate(&k, Vec::new());
            sub.and_then(|sub| {
                let mut acc = acc;
                for r in sub {
                    append(&mut acc, r, from)?;
                }
                Ok(acc)
            })
        };
        self.stack.pop();
        result
    }

    /// The objects of a resource file, read as kustomize reads YAML (`kind: List` items
    /// flattened).
    fn objects(&self, file: FileId, from: Origin) -> Result<Vec<Resource>> {
        let source = self.files.get(file);
        if let Some(issue) = &source.decode_issue {
            return Err(Error::new(
                issue.message.clone(),
                Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
            ));
        }
        let parsed = source.parsed(Reader::Kyaml, &self.files.limits);
        if let Some(issue) = parsed
            .issues
            .iter()
            .find(|i| i.rule != crate::parse::yaml::DROPPED)
        {
            return Err(Error::new(
                format!("malformed YAML: {}", issue.message),
                Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
            ));
        }
        let mut out = Vec::new();
        for doc in &parsed.documents {
            if doc.value.is_null() {
                continue;
            }
            let node = Node::from_document(doc, "", &source.text, file)
                .expect("the root pointer resolves");
            let is_list = node
                .get("kind")
                .and_then(Node::as_str)
                .is_some_and(|k| k.ends_with("List"))
                && node.get("items").is_some_and(|i| i.as_seq().is_some());
            let items = if is_list {
                match node.kind {
                    Kind::Map(mut m) => match m.remove("items").map(|i| i.kind) {
                        Some(Kind::Seq(items)) => items,
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            } else {
                vec![node]
            };
            for item in items {
                if item.as_map().is_none() {
                    return Err(Error::new(
                        "a resource must be a mapping (an object): kustomize refuses the file",
                        item.origin,
                    ));
                }
                if item
                    .get("kind")
                    .and_then(Node::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(Error::new(
                        "missing Resource metadata: the object has no `kind`",
                        item.origin,
                    ));
                }
                out.push(Resource::new(item));
            }
        }
        let _ = from;
        Ok(out)
    }
}

/// Adds `r` to an accumulation, refusing a second object with the same id.
fn append(acc: &mut Vec<Resource>, r: Resource, at: Origin) -> Result<()> {
    let id = r.id();
    if acc.iter().any(|o| o.id().same(&id)) {
        return Err(Error::new(
            format!(
                "may not add resource with an already registered id: {}",
                id.show()
            ),
            r.node.path(&["metadata", "name"]).map_or(at, |n| n.origin),
        ));
    }
    acc.push(r);
    Ok(())
}

/// Whether a `resources` entry names something remote: a URL, or a Git host path
/// (`github.com/org/repo//dir?ref=v1`), which kustomize clones.
pub fn is_remote(path: &str) -> bool {
    if path.contains("://") || path.starts_with("git@") {
        return true;
    }
    let first = path.split('/').next().unwrap_or("");
    (first.contains('.')
        && first != "."
        && first != ".."
        && path.contains('/')
        && !Path::new(path).exists()
        && first
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())))
        || path.contains("?ref=")
}

/// kustomize's output order: `sortOptions`, or its legacy order by default.
fn sort(k: &Kustomization, resources: &mut [Resource]) -> Result<()> {
    let (legacy, first, last) = match k.field("sortOptions") {
        None => (true, None, None),
        Some(opts) => {
            super::kustomization::check_keys(opts, "sortOptions", &["order", "legacySortOptions"])?;
            let order = opts.get("order").and_then(Node::as_str).unwrap_or("");
            let legacy_opts = opts.get("legacySortOptions");
            match order {
                "fifo" => {
                    if let Some(n) = legacy_opts {
                        return Err(Error::new(
                            "the field 'sortOptions.legacySortOptions' is set but the selected \
                             sort order is 'fifo', not 'legacy'",
                            n.origin,
                        ));
                    }
                    (false, None, None)
                }
                "legacy" => {
                    let list = |k: &str| -> Option<Vec<String>> {
                        legacy_opts?.get(k)?.as_seq().map(|s| {
                            s.iter()
                                .filter_map(|n| n.as_str().map(str::to_owned))
                                .collect()
                        })
                    };
                    match legacy_opts {
                        Some(_) => (
                            true,
                            Some(list("orderFirst").unwrap_or_default()),
                            Some(list("orderLast").unwrap_or_default()),
                        ),
                        None => (true, None, None),
                    }
                }
                _ => {
                    return Err(Error::new(
                        "the field 'sortOptions.order' must be one of [fifo, legacy]",
                        opts.get("order").map_or(opts.origin, |n| n.origin),
                    ));
                }
            }
        }
    };
    if !legacy {
        return Ok(());
    }
    const FIRST: &[&str] = &[
        "Namespace",
        "ResourceQuota",
        "StorageClass",
        "CustomResourceDefinition",
        "ServiceAccount",
        "PodSecurityPolicy",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "Endpoints",
        "Service",
        "LimitRange",
        "PriorityClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: &[&str] = &[
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let first: Vec<String> = first.unwrap_or_else(|| FIRST.iter().map(|s| s.to_string()).collect());
    let last: Vec<String> = last.unwrap_or_else(|| LAST.iter().map(|s| s.to_string()).collect());
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| k == kind) {
            return i as i64 - first.len() as i64;
        }
        if let Some(i) = last.iter().position(|k| k == kind) {
            return 1 + i as i64;
        }
        0
    };
    let gvk_key = |g: &super::resource::Gvk| {
        let or = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "{}_{}_{}",
            or(&g.group, "~G"),
            or(&g.version, "~V"),
            or(&g.kind, "~K")
        )
    };
    resources.sort_by(|a, b| {
        let (ga, gb) = (a.gvk(), b.gvk());
        if ga != gb {
            let (ra, rb) = (rank(&ga.kind), rank(&gb.kind));
            if ra != rb {
                return ra.cmp(&rb);
            }
            if ga.kind == "Namespace"
                && gb.kind == "Namespace"
                && (ga.group.is_empty() || gb.group.is_empty())
            {
                return gvk_key(&gb).cmp(&gvk_key(&ga));
            }
            return gvk_key(&ga).cmp(&gvk_key(&gb));
        }
        let key = |r: &Resource| {
            let id = r.id();
            let ns = if id.namespace.is_empty() {
                "~X".to_owned()
            } else {
                id.namespace.clone()
            };
            let name = if id.name.is_empty() {
                "~N".to_owned()
            } else {
                id.name.clone()
            };
            format!("{}|{ns}|{name}", id.gvk.id_string())
        };
        key(a).cmp(&key(b))
    });
    Ok(())
}
