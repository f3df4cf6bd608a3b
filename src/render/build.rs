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
//!    `replacements`;
//! 5. its `vars`, bound to the objects accumulated so far (resolved at the root).
//!
//! A build stops at its first error, as kustomize does: the controller deploys nothing
//! from a kustomization that fails. What cannot be rendered offline (remote bases, Helm
//! charts, plugins) is a warning at its line, and the rest renders.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::TransformerConfig;
use super::fieldpath::{OwnedSpec, merge_one};
use super::files::{Files, Parsed, Resources, SourceFile};
use super::kustomization::Kustomization;
use super::node::{FileId, Kind, Node, Origin, Span};
use super::patch::SmpOptions;
use super::resource::Resource;
use super::{Error, Result, Warning, transform};
use crate::canonical::found;
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
    /// The `helm` that renders `helmCharts`; `None`: none found (an info, the kustomization
    /// renders without its charts).
    pub helm: Option<super::helmcharts::Helm>,
    /// Remote resources and components are fetched through it; `None`: offline, each is a
    /// `kustomize-remote` warning.
    pub network: Option<std::sync::Arc<crate::fetch::Network>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            restrict_to_root: true,
            helm: None,
            network: None,
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

/// Takes the documents of a resource file of a root that cannot build, as the render read
/// them, with the file's canonical path and bytes (see [`build_handing_over`]).
pub type Handover<'h> = &'h (dyn Fn(&Path, Vec<u8>, crate::parse::yaml::Parsed) + Sync);

/// Builds the kustomization in `dir` as `kubectl kustomize dir` would.
pub fn build(files: &Files, dir: &Path, opts: &Options) -> Built {
    build_handing_over(files, dir, opts, None)
}

/// [`build`], handing the documents of the resource files it reads to `hand` when the
/// root is bound to fail: one of its kustomizations names a file that does not exist
/// (`bound_to_fail`). Those files are then checked as they are (no root builds from
/// them), and the check takes the documents instead of parsing the files a second time.
pub fn build_handing_over(
    files: &Files,
    dir: &Path,
    opts: &Options,
    hand: Option<Handover<'_>>,
) -> Built {
    let mut b = Builder {
        files,
        opts,
        stack: Vec::new(),
        warnings: Vec::new(),
        used: BTreeSet::new(),
        vars: super::vars::Vars::default(),
        configs: Vec::new(),
        hand: None,
    };
    if let Some(hand) = hand
        && let Ok(k) = Kustomization::load(files, dir, Origin::new(0, Span::default()))
        && bound_to_fail(files, &k, &mut std::collections::HashSet::new())
    {
        b.hand = Some(hand);
    }
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
    /// The `vars` of every kustomization built so far (one set, as kustomize merges them).
    vars: super::vars::Vars,
    /// The transformer configuration of each accumulation being built, outermost first
    /// (kustomize's `ResAccumulator.tConfig`; a component adds to its parent's).
    configs: Vec<TransformerConfig>,
    /// Where the documents of the resource files go once converted, when the root is
    /// bound to fail ([`build_handing_over`]).
    hand: Option<Handover<'a>>,
}

impl Builder<'_> {
    fn root(&mut self, dir: &Path) -> Result<Vec<Resource>> {
        let nowhere = Origin::new(0, Span::default());
        // A Component built on its own works on an empty accumulation, as in kustomize.
        let k = self.load(dir, nowhere)?;
        self.stack.push(k.dir.clone());
        self.configs.push(TransformerConfig::default());
        let accumulated = self.accumulate(&k, Vec::new());
        let config = self.configs.pop().unwrap_or_default();
        let mut resources = accumulated?;
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
        super::nameref::fix_back_references(&mut resources, &config.name_reference)?;
        self.vars.resolve(&mut resources, &config.var_reference)?;
        resources.retain(|r| !r.is_local_config());
        // kustomize rewrites every object's annotations at the end of a build (it strips
        // its own build annotations): strings, and an empty mapping does not survive.
        for r in &mut resources {
            super::patch::string_annotations(&mut r.node);
        }
        sort(&k, &mut resources)?;
        Ok(resources)
    }

    fn load(&mut self, dir: &Path, from: Origin) -> Result<Kustomization> {
        let k = Kustomization::load(self.files, dir, from)?;
        self.used.insert(k.file);
        Ok(k)
    }

    /// The configuration of the accumulation being built.
    fn config(&self) -> &TransformerConfig {
        self.configs
            .last()
            .unwrap_or_else(|| TransformerConfig::defaults())
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
        self.prefetch(k);
        for field in ["resources", "bases"] {
            for (path, node) in k.strings(field)? {
                self.resource(k, path, node, &mut acc)?;
            }
        }
        self.configurations(k)?;
        // `crds`: read as kustomize reads them (a missing file fails the build), not applied.
        for (path, node) in k.strings("crds")? {
            self.listed_file(k, path, node, "crds")?;
        }
        if let Some(n) = k.field("crds") {
            self.warn(
                "kustomize-unsupported",
                "`crds` (custom transformer configuration from CRD schemas) is not supported \
                 yet: rendered without it"
                    .into(),
                n.origin,
            );
        }
        self.generators(k, &mut acc)?;
        self.helm_charts(k, &mut acc)?;
        if let Some(n) = k.field("openapi") {
            self.warn(
                "kustomize-unsupported",
                "`openapi` (schemas for custom kinds) is not read yet: strategic merge patches \
                 on custom kinds replace their lists instead of merging them by key"
                    .into(),
                n.origin,
            );
        }
        if let Some(n) = k.field("buildMetadata") {
            self.warn(
                "kustomize-unsupported",
                "`buildMetadata` is not applied yet: the rendered objects are checked without \
                 the origin and transformer annotations or the managed-by label it adds"
                    .into(),
                n.origin,
            );
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
            let dir = if is_remote(path) {
                match self.remote(path, node.origin) {
                    Some(pulled) => pulled.path,
                    None => continue,
                }
            } else {
                k.dir.join(path)
            };
            acc = self.directory(&dir, node.origin, true, acc)?;
        }
        self.transform(k, &mut acc)?;
        if let Some(field) = k.field("vars") {
            let at_key = Origin {
                value: field.origin.key.unwrap_or(field.origin.value),
                ..field.origin
            };
            let message = super::vars::DEPRECATED.to_owned();
            self.warn("kustomize-deprecated", message, at_key);
            self.vars.merge(field, &acc)?;
        }
        Ok(acc)
    }

    /// The transformer configuration of this accumulation, once its resources are in:
    /// kustomize's defaults with the kustomization's `configurations` files merged in
    /// (`MakeTransformerConfig`), merged into what its bases (or, for a component, its
    /// parent) brought.
    /// A file a kustomization field lists (`crds`, `configurations`), read as kustomize
    /// reads it: a missing file fails the build, the load restrictor applies.
    fn listed_file(
        &mut self,
        k: &Kustomization,
        path: &str,
        node: &Node,
        field: &str,
    ) -> Result<FileId> {
        let full = k.dir.join(path);
        if !found(&full).is_file() {
            return Err(Error::new(
                format!("`{path}` ({field}) does not exist: no such file"),
                node.origin,
            ));
        }
        self.check_root(k, &full, path, node.origin)?;
        let file = self
            .files
            .load(&full)
            .map_err(|e| Error::new(e, node.origin))?;
        self.used.insert(file);
        Ok(file)
    }

    fn configurations(&mut self, k: &Kustomization) -> Result<()> {
        let mut custom = TransformerConfig::default();
        let mut at = None;
        for (path, node) in k.strings("configurations")? {
            let file = self.listed_file(k, path, node, "configurations")?;
            let source = self.files.get(file);
            let parsed =
                crate::parse::yaml::parse_as(&source.text(), &self.files.limits, Reader::Kubectl);
            if let Some(issue) = parsed
                .issues
                .iter()
                .find(|i| i.rule != crate::parse::yaml::DROPPED)
            {
                return Err(Error::new(
                    format!(
                        "malformed transformer configuration `{path}`: {}",
                        issue.message
                    ),
                    Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
                ));
            }
            // kustomize reads the first document of the file.
            let Some(doc) = parsed.documents.first() else {
                continue;
            };
            let doc = Node::of_document(doc, &source.text(), file);
            custom.merge(&TransformerConfig::from_node(&doc)?, node.origin)?;
            at = Some(node.origin);
        }
        let config = match at {
            None => TransformerConfig::defaults().clone(),
            Some(at) => {
                let mut config = TransformerConfig::defaults().clone();
                config.merge(&custom, at)?;
                config
            }
        };
        let at = at
            .or_else(|| k.field("configurations").map(|n| n.origin))
            .unwrap_or(Origin::new(k.file, Span::default()));
        match self.configs.last_mut() {
            Some(top) if *top == TransformerConfig::default() => *top = config,
            Some(top) => top.merge(&config, at)?,
            None => self.configs.push(config),
        }
        Ok(())
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
                        let canonical = crate::canonical::canonicalize(path)
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
                        Ok((id, files.get(id).bytes()))
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
                    .filter(|(_, o)| o.has_id(&id) || o.previous_ids().iter().any(|p| p.same(&id)))
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

    /// `helmCharts`, after the other generators: each rendered object created (an id already
    /// there is an error, as for a generator without `behavior`).
    fn helm_charts(&mut self, k: &Kustomization, acc: &mut Vec<Resource>) -> Result<()> {
        let g = super::helmcharts::generate(self.files, k, self.opts)?;
        self.used.extend(g.used);
        self.warnings.extend(g.warnings);
        for node in g.objects {
            let r = Resource::new(node);
            let id = r.id();
            if acc
                .iter()
                .any(|o| o.has_id(&id) || o.previous_ids().iter().any(|p| p.same(&id)))
            {
                return Err(Error::new(
                    format!("id {} exists; behavior must be merge or replace", id.show()),
                    r.node
                        .path(&["metadata", "name"])
                        .map_or(r.node.origin, |n| n.origin),
                ));
            }
            acc.push(r);
        }
        Ok(())
    }

    /// kustomize's builtin transformers, in its order.
    fn transform(&mut self, k: &Kustomization, acc: &mut Vec<Resource>) -> Result<()> {
        if let Some(entries) = k.field("patchesStrategicMerge") {
            for entry in seq(entries, "patchesStrategicMerge")? {
                let Some(text) = entry.as_str() else {
                    return Err(Error::new(
                        "invalid kustomization: `patchesStrategicMerge` entries are paths or \
                         inline patches",
                        entry.origin,
                    ));
                };
                // A path when such a file exists, else an inline patch, as kustomize decides.
                let source = if !text.contains('\n') && found(&k.dir.join(text)).is_file() {
                    self.patch_file(k, text, entry.origin)?
                } else {
                    inline_patch(entry, self.files)
                };
                let docs = self.patch_documents(&source, Reader::Kyaml)?;
                for doc in docs {
                    self.untargeted_smp(acc, &doc, SmpOptions::default())?;
                }
            }
        }
        if let Some(entries) = k.field("patches") {
            for entry in seq(entries, "patches")? {
                self.patch_entry(k, entry, acc, false)?;
            }
        }
        if let Some((ns, node)) = k.string("namespace")?
            && !ns.is_empty()
        {
            transform::namespace(acc, ns, node.origin, &self.config().namespace)?;
        }
        if let Some((prefix, node)) = k.string("namePrefix")? {
            transform::name_affix(acc, prefix, false, node.origin, &self.config().name_prefix)?;
        }
        if let Some((suffix, node)) = k.string("nameSuffix")? {
            transform::name_affix(acc, suffix, true, node.origin, &self.config().name_suffix)?;
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
                let mut specs: Vec<OwnedSpec> = Vec::new();
                if let Some(fields) = entry.get("fields") {
                    for f in seq(fields, "labels[].fields")? {
                        specs.push(OwnedSpec::from_node(f, "labels[].fields")?);
                    }
                }
                // The configuration's `labels`, then its `commonLabels` (with selectors) or
                // its `templateLabels` (with templates) and `metadata/labels`.
                let config = self.config();
                let mut defaults: Vec<OwnedSpec> = config.labels.clone();
                if flag("includeSelectors") {
                    defaults.extend(config.common_labels.iter().cloned());
                } else {
                    if flag("includeTemplates") {
                        defaults.extend(config.template_labels.iter().cloned());
                    }
                    defaults.push(OwnedSpec::from(&crate::render::fieldpath::FieldSpec::new(
                        "metadata/labels",
                        true,
                    )));
                }
                // kustomize's FsSlice.MergeOne: a spec already there (same kind and path)
                // stays; one that differs only in `create` is a conflict.
                for d in defaults {
                    if merge_one(&mut specs, d).is_err() {
                        return Err(Error::new(
                            "failed to merge labels: conflicting fieldspecs",
                            entry.origin,
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
            transform::labels(acc, &common, &self.config().common_labels)?;
        }
        let annotations = k.string_map("commonAnnotations")?;
        if !annotations.is_empty() {
            transform::annotations(acc, &annotations, &self.config().common_annotations)?;
        }
        if let Some(entries) = k.field("patchesJson6902") {
            for entry in seq(entries, "patchesJson6902")? {
                self.patch_entry(k, entry, acc, true)?;
            }
        }
        if let Some(replicas) = k.field("replicas") {
            for entry in replicas.as_seq().unwrap_or_default() {
                transform::replicas(acc, entry, &self.config().replicas)?;
            }
        }
        for field in ["images", "imageTags"] {
            if let Some(images) = k.field(field) {
                for entry in images.as_seq().unwrap_or_default() {
                    transform::images(acc, entry, &self.config().images)?;
                }
            }
        }
        if let Some(field) = k.field("replacements") {
            let mut load = |path: &str, at: Origin| -> Result<Vec<Node>> {
                let source = self.patch_file(k, path, at)?;
                self.patch_documents(&source, Reader::Kubectl)
            };
            let replacements = super::replace::load(field, &mut load)?;
            super::replace::apply(acc, &replacements)?;
        }
        Ok(())
    }

    /// One `patches` (or, `legacy`, `patchesJson6902`) entry.
    fn patch_entry(
        &mut self,
        k: &Kustomization,
        entry: &Node,
        acc: &mut Vec<Resource>,
        legacy: bool,
    ) -> Result<()> {
        let field = if legacy { "patchesJson6902" } else { "patches" };
        super::kustomization::check_keys(entry, field, &["path", "patch", "target", "options"])?;
        let string = |key: &str| -> Result<Option<&Node>> {
            match entry.get(key) {
                None => Ok(None),
                Some(n) if n.kind == Kind::Null => Ok(None),
                Some(n) if n.as_str().is_some() => Ok(Some(n)),
                Some(n) => Err(Error::new(
                    format!("invalid kustomization: `{field}[].{key}` must be a string"),
                    n.origin,
                )),
            }
        };
        let path = string("path")?.filter(|n| !n.as_str().unwrap_or("").is_empty());
        let inline = string("patch")?.filter(|n| !n.as_str().unwrap_or("").trim().is_empty());
        let source = match (path, inline) {
            (None, None) => {
                return Err(Error::new(
                    "must specify one of patch and path",
                    entry.origin,
                ));
            }
            (Some(_), Some(n)) => {
                return Err(Error::new(
                    "patch and path can't be set at the same time",
                    n.origin,
                ));
            }
            (Some(p), None) => self.patch_file(k, p.as_str().unwrap_or(""), p.origin)?,
            (None, Some(n)) => inline_patch(n, self.files),
        };
        let mut options = SmpOptions::default();
        if let Some(opts) = entry.get("options").and_then(Node::as_map) {
            for (key, value) in opts {
                let on = matches!(value.kind, Kind::Bool(true));
                match key.as_str() {
                    "allowNameChange" => options.allow_name_change = on,
                    "allowKindChange" => options.allow_kind_change = on,
                    _ => {}
                }
            }
        }
        let target = match entry.get("target") {
            Some(t) if t.kind != Kind::Null => Some(
                super::patch::Selector::from_node(t)
                    .map_err(|e| Error::new(e.message, e.origin))?,
            ),
            _ => None,
        };
        let trimmed = source.text.trim();
        // kustomize tries both readings; exactly one must hold.
        let smp = if legacy {
            None
        } else {
            self.patch_documents(&source, Reader::Kyaml)
                .ok()
                .filter(|d| !d.is_empty() && d.iter().all(|n| n.as_map().is_some()))
        };
        let json = self
            .patch_documents(&source, Reader::Kubectl)
            .ok()
            .and_then(|d| (d.len() == 1 && d[0].as_seq().is_some()).then(|| d[0].clone()));
        let json = json.filter(|_| !trimmed.is_empty());
        match (smp, json) {
            (Some(_), Some(_)) => Err(Error::new(
                "illegally qualifies as both an SM and JSON patch",
                source.origin,
            )),
            (None, None) => Err(Error::new(
                "unable to parse SM or JSON patch",
                source.origin,
            )),
            (Some(docs), None) => match target {
                None => {
                    for doc in &docs {
                        self.untargeted_smp(acc, doc, options)?;
                    }
                    Ok(())
                }
                Some(target) => {
                    if docs.len() > 1 {
                        return Err(Error::new(
                            "Multiple Strategic-Merge Patches in one `patches` entry is not \
                             allowed to set `patches.target` field",
                            source.origin,
                        ));
                    }
                    let patch = &docs[0];
                    let selected = select(acc, &target);
                    let opts = SmpOptions {
                        targeted: true,
                        ..options
                    };
                    let mut deleted = Vec::new();
                    for i in selected {
                        if options.allow_name_change || options.allow_kind_change {
                            acc[i].store_previous_id();
                        }
                        match super::patch::strategic_merge_with(&mut acc[i].node, patch, opts)
                            .map_err(|e| Error::new(e.message, e.origin))?
                        {
                            super::patch::Merged::Kept => {}
                            super::patch::Merged::Deleted => deleted.push(i),
                        }
                    }
                    remove_indices(acc, deleted);
                    Ok(())
                }
            },
            (None, Some(ops)) => {
                let Some(target) = target else {
                    return Err(Error::new(
                        "must specify a target for JSON patch",
                        source.origin,
                    ));
                };
                for i in select(acc, &target) {
                    acc[i].store_previous_id();
                    // kustomize's objects always carry its internal annotations while it
                    // builds, so a patch may add to `/metadata/annotations` of an object
                    // that has none; the empty mapping is dropped again after the patch.
                    if let Some(meta) = acc[i].node.get_mut("metadata")
                        && let Kind::Map(m) = &mut meta.kind
                        && !m.contains_key("annotations")
                    {
                        let origin = meta.origin;
                        if let Kind::Map(m) = &mut meta.kind {
                            m.insert(
                                "annotations".into(),
                                Node::new(Kind::Map(Default::default()), origin),
                            );
                        }
                    }
                    super::patch::json6902(&mut acc[i].node, &ops)
                        .map_err(|e| Error::new(e.message, e.origin))?;
                    super::patch::string_annotations(&mut acc[i].node);
                }
                Ok(())
            }
        }
    }

    /// A strategic merge patch without a target: it patches the object with its own id.
    fn untargeted_smp(
        &mut self,
        acc: &mut Vec<Resource>,
        patch: &Node,
        options: SmpOptions,
    ) -> Result<()> {
        let id = Resource::new(patch.clone()).id();
        let at = patch
            .path(&["metadata", "name"])
            .map_or(patch.origin, |n| n.origin);
        if patch
            .get("kind")
            .and_then(Node::as_str)
            .is_none_or(str::is_empty)
            || id.name.is_empty()
        {
            return Err(Error::new(
                "a strategic merge patch needs `kind` and `metadata.name`",
                patch.origin,
            ));
        }
        let matches: Vec<usize> = acc
            .iter()
            .enumerate()
            .filter(|(_, r)| r.has_id(&id) || r.previous_ids().iter().any(|p| p.same(&id)))
            .map(|(i, _)| i)
            .collect();
        let i = match matches.as_slice() {
            [i] => *i,
            [] => {
                return Err(Error::new(
                    format!(
                        "no resource matches strategic merge patch \"{}\": no matches for Id {}",
                        id.show(),
                        id.show()
                    ),
                    at,
                ));
            }
            _ => {
                return Err(Error::new(
                    format!("multiple matches for Id {}", id.show()),
                    at,
                ));
            }
        };
        if options.allow_name_change || options.allow_kind_change {
            acc[i].store_previous_id();
        }
        match super::patch::strategic_merge_with(&mut acc[i].node, patch, options)
            .map_err(|e| Error::new(e.message, e.origin))?
        {
            super::patch::Merged::Kept => {}
            super::patch::Merged::Deleted => {
                acc.remove(i);
            }
        }
        Ok(())
    }

    /// A patch file, read once (within the kustomization's directory).
    fn patch_file(&mut self, k: &Kustomization, path: &str, at: Origin) -> Result<PatchSource> {
        let full = k.dir.join(path);
        if !found(&full).is_file() {
            return Err(Error::new(
                format!("failed to get the patch file from path({path}): no such file"),
                at,
            ));
        }
        self.check_root(k, &full, path, at)?;
        let file = self.files.load(&full).map_err(|e| Error::new(e, at))?;
        self.used.insert(file);
        let text = self.files.get(file).text();
        Ok(PatchSource {
            text,
            file,
            lines: None,
            origin: at,
            inline: false,
        })
    }

    /// The documents of a patch, read as `reader` reads them, each node with its origin
    /// in the file (an inline patch's nodes in the kustomization's lines).
    fn patch_documents(&self, source: &PatchSource, reader: Reader) -> Result<Vec<Node>> {
        let parsed = match reader {
            Reader::Kyaml => crate::parse::yaml::parse_patch(&source.text, &self.files.limits),
            Reader::Kubectl => {
                crate::parse::yaml::parse_as(&source.text, &self.files.limits, reader)
            }
        };
        if let Some(issue) = parsed
            .issues
            .iter()
            .find(|i| i.rule != crate::parse::yaml::DROPPED)
        {
            return Err(Error::new(
                format!("malformed patch: {}", issue.message),
                source.at(issue.start, issue.end),
            ));
        }
        let mut out = Vec::new();
        for doc in parsed.documents.iter().filter(|d| !d.value.is_null()) {
            let mut node = Node::of_document(doc, &source.text, source.file);
            if source.file == source.origin.file && source.is_inline() {
                node.map_origins(&mut |o| source.remap(o));
            }
            out.push(node);
        }
        Ok(out)
    }

    /// Reads and parses a kustomization's resource files side by side before they are
    /// accumulated in order, so that a root listing many large files does not hold one
    /// thread while the others wait. What goes wrong is said by the accumulation.
    fn prefetch(&self, k: &Kustomization) {
        use rayon::prelude::*;
        let paths: Vec<PathBuf> = ["resources", "bases"]
            .into_iter()
            .filter_map(|field| k.strings(field).ok())
            .flatten()
            .filter(|(path, _)| !is_remote(path))
            .map(|(path, _)| k.dir.join(path))
            .filter(|full| found(full).is_file())
            .collect();
        if paths.len() < 2 {
            return;
        }
        paths.par_iter().for_each(|full| {
            if let Ok(id) = self.files.load(full) {
                let source = self.files.get(id);
                source.prefetch_resources(|| self.make_resources(&source, id));
            }
        });
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
            let Some(pulled) = self.remote(path, node.origin) else {
                return Ok(());
            };
            if pulled.path.is_dir() {
                return self
                    .directory(&pulled.path, node.origin, false, std::mem::take(acc))
                    .map(|a| *acc = a);
            }
            return self.resource_file(&pulled.path, node.origin, acc);
        }
        let full = k.dir.join(path);
        let at = found(&full);
        if at.is_dir() {
            return self
                .directory(&full, node.origin, false, std::mem::take(acc))
                .map(|a| *acc = a);
        }
        if !at.exists() {
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
        self.resource_file(&full, node.origin, acc)
    }

    /// A remote entry, fetched when the network allows it (its files then readable, and
    /// findings in them reported at `at`); else, or when the fetch fails, a warning at `at`
    /// and `None`: the kustomization renders without it.
    fn remote(&mut self, path: &str, at: Origin) -> Option<crate::fetch::kustomize::Pulled> {
        let Some(net) = self.opts.network.clone() else {
            self.warn(
                "kustomize-remote",
                format!(
                    "`{path}` is a remote base: not fetched (kubegate renders offline; allow \
                     its host with --allow-host), so its objects are not checked"
                ),
                at,
            );
            return None;
        };
        match crate::fetch::kustomize::pull(&net, path) {
            Ok(pulled) => {
                self.files.add_remote(&pulled.root, &pulled.label, at);
                Some(pulled)
            }
            Err(e) => {
                let rule = match e {
                    crate::fetch::Error::Refused(_) => "remote-refused",
                    crate::fetch::Error::Failed(_) => "remote-failed",
                };
                self.warn(
                    rule,
                    format!("`{path}` is not fetched, so its objects are not checked: {e}"),
                    at,
                );
                None
            }
        }
    }

    /// A file of objects under `resources`.
    fn resource_file(&mut self, full: &Path, at: Origin, acc: &mut Vec<Resource>) -> Result<()> {
        let file = self.files.load(full).map_err(|e| Error::new(e, at))?;
        self.used.insert(file);
        let notes = match Arc::try_unwrap(self.resources(file)) {
            // The file's last read: its objects move into the root.
            Ok(Resources { objects, notes }) => {
                append(acc, objects?.into_iter().map(Resource::new), at)?;
                notes
            }
            // Kept for another root's read: copied.
            Err(kept) => {
                let objects = kept.objects.as_ref().map_err(Clone::clone)?;
                append(acc, objects.iter().cloned().map(Resource::new), at)?;
                kept.notes.clone()
            }
        };
        // Where kubectl would read the file otherwise, as for a manifest.
        for note in &notes {
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
        let canonical = crate::canonical::canonicalize(full).unwrap_or_else(|_| full.to_path_buf());
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
        let canonical = crate::canonical::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
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
            // A base accumulates with a configuration of its own, which then joins this one.
            self.configs.push(TransformerConfig::default());
            let sub = self.accumulate(&k, Vec::new());
            let config = self.configs.pop().unwrap_or_default();
            sub.and_then(|sub| {
                let mut acc = acc;
                append(&mut acc, sub, from)?;
                match self.configs.last_mut() {
                    Some(top) if *top == TransformerConfig::default() => *top = config,
                    Some(top) => top.merge(&config, from)?,
                    None => self.configs.push(config),
                }
                Ok(acc)
            })
        };
        self.stack.pop();
        result
    }

    /// The objects of a resource file, read as kustomize reads YAML (`kind: List` items
    /// flattened): converted once per file, for every root that lists it.
    fn resources(&self, file: FileId) -> Arc<Resources> {
        let source = self.files.get(file);
        source.resources(|| self.make_resources(&source, file))
    }

    /// The objects of a resource file. Its text is let go of then: the objects keep their
    /// values, and their findings' positions need only the file's line index.
    fn make_resources(&self, source: &SourceFile, file: FileId) -> Resources {
        let text = source.text();
        let (objects, notes) = match self.hand {
            // The documents are kept for the check that follows: copied from.
            Some(hand) => {
                let parsed = crate::parse::yaml::parse_as(&text, &self.files.limits, Reader::Kyaml);
                let nodes = parsed
                    .documents
                    .iter()
                    .filter(|d| !d.value.is_null())
                    .map(|d| Node::of_document(d, &text, file));
                let objects = objects(source, file, &parsed.issues, nodes);
                let notes = parsed.notes.clone();
                hand(&source.path, source.bytes().to_vec(), parsed);
                (objects, notes)
            }
            None => in_pieces(source, &text, file, &self.files.limits)
                .unwrap_or_else(|| whole(source, &text, file, &self.files.limits)),
        };
        crate::memory::worked_through(text.len());
        drop(text);
        source.let_go_of_text();
        Resources { objects, notes }
    }
}

/// The objects of a resource file read whole, as [`objects`] makes them.
fn whole(
    source: &SourceFile,
    text: &str,
    file: FileId,
    limits: &crate::parse::Limits,
) -> (Result<Vec<Node>>, Vec<crate::parse::Issue>) {
    let Parsed {
        documents,
        issues,
        notes,
        ..
    } = crate::parse::yaml::parse_as(text, limits, Reader::Kyaml);
    (
        objects(source, file, &issues, owned_nodes(documents, text, file)),
        notes,
    )
}

/// The trees of the documents that are not empty, each converted as its turn comes and its
/// document let go of then.
fn owned_nodes(
    documents: Vec<crate::parse::Document>,
    text: &str,
    file: FileId,
) -> impl Iterator<Item = Node> + '_ {
    documents
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(move |d| Node::of_owned_document(d, text, file))
}

/// The objects of a large resource file, as [`objects`] makes them from one reading of the
/// whole, read a few pieces at a time (cut at its document markers into pieces of about
/// [`crate::parse::yaml::PIECE_BYTES`], as many at once as there are threads): each
/// round's documents are converted and let go of before the next round is read, so the
/// parse trees of a multi-megabyte `install.yaml` are never all alive at once (they take
/// several times the memory of the objects made of them). `None` (read it whole) when the
/// file cannot be cut in two, or when a piece does not parse alone: one reading of the
/// whole then says exactly where, as it always has.
fn in_pieces(
    source: &SourceFile,
    text: &str,
    file: FileId,
    limits: &crate::parse::Limits,
) -> Option<(Result<Vec<Node>>, Vec<crate::parse::Issue>)> {
    use crate::parse::yaml::{PIECE_BYTES, Pieces};
    if text.len() < 2 * PIECE_BYTES || text.trim_start().starts_with('{') {
        return None;
    }
    let cuts = Pieces::cut(text, PIECE_BYTES)?;
    let lines = source.lines();
    let mut pieces = Pieces::from_cuts(text, cuts, &lines, limits, Reader::Kyaml);
    let threads = rayon::current_num_threads().max(1);
    let (mut nodes, mut issues, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = 0;
    while next < pieces.len() {
        let round = next..(next + threads).min(pieces.len());
        next = round.end;
        let parsed = pieces.parse(round)?;
        issues.extend(parsed.issues);
        notes.extend(parsed.notes);
        nodes.extend(owned_nodes(parsed.documents, text, file));
    }
    Some((objects(source, file, &issues, nodes.into_iter()), notes))
}

/// The objects of the documents of `source` (read with `issues`; `nodes` converts those
/// that are not empty, one at a time), as [`Builder::resources`] gives them: a document
/// converted from one it owns is let go of once converted, so a large file's parsed
/// documents and its objects are not all alive at once.
fn objects(
    source: &SourceFile,
    file: FileId,
    issues: &[crate::parse::Issue],
    nodes: impl Iterator<Item = Node>,
) -> Result<Vec<Node>> {
    if let Some(issue) = &source.decode_issue {
        return Err(Error::new(
            issue.message.clone(),
            Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
        ));
    }
    if let Some(issue) = issues
        .iter()
        .find(|i| i.rule != crate::parse::yaml::DROPPED)
    {
        return Err(Error::new(
            format!("malformed YAML: {}", issue.message),
            Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
        ));
    }
    let mut out = Vec::new();
    for node in nodes {
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
            out.push(item);
        }
    }
    Ok(out)
}

/// Whether the build of `k` is bound to fail: it, or a kustomization it reads (a base, a
/// component), names a file that does not exist, or a directory without a kustomization,
/// where kustomize needs one: a resource, a component, a `configurations` or `crds` file,
/// a generator's `files`/`envs`/`env`, a patch's `path`. Known before any resource file
/// is read; other failures (malformed files, a patch that matches nothing) are not
/// foreseen. A strategic merge patch is left out: kustomize reads a path that does not
/// exist as an inline patch. At most [`MAX_DEPTH`] kustomizations are looked at; one not
/// looked at counts as able to build (the root's files are then read again if it fails,
/// as before).
fn bound_to_fail(
    files: &Files,
    k: &Kustomization,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> bool {
    if !seen.insert(k.dir.clone()) || seen.len() > MAX_DEPTH {
        return false;
    }
    let is_file = |path: &str| found(&k.dir.join(path)).is_file();
    let strings = |field: &str| k.strings(field).unwrap_or_default();
    let listed = |field: &str| {
        k.field(field)
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
    };
    if ["configurations", "crds"]
        .iter()
        .any(|field| strings(field).iter().any(|(path, _)| !is_file(path)))
    {
        return true;
    }
    for field in ["resources", "bases", "components"] {
        for (path, _) in strings(field) {
            if is_remote(path) || is_file(path) {
                continue;
            }
            let dir = k.dir.join(path);
            if !found(&dir).is_dir() {
                return true;
            }
            match Kustomization::load(files, &dir, Origin::new(k.file, Span::default())) {
                Ok(base) if bound_to_fail(files, &base, seen) => return true,
                Ok(_) => {}
                Err(_) => return true,
            }
        }
    }
    for field in ["configMapGenerator", "secretGenerator"] {
        for entry in listed(field) {
            let items = |key: &str| {
                entry
                    .get(key)
                    .and_then(Node::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::as_str)
            };
            let sources = items("files").map(|s| s.split_once('=').map_or(s, |(_, path)| path));
            let env = entry.get("env").and_then(Node::as_str);
            if sources
                .chain(items("envs"))
                .chain(env)
                .any(|path| !path.is_empty() && !is_file(path))
            {
                return true;
            }
        }
    }
    ["patches", "patchesJson6902"].iter().any(|field| {
        listed(field).any(|entry| {
            entry
                .get("path")
                .and_then(Node::as_str)
                .is_some_and(|path| !path.is_empty() && !is_file(path))
        })
    })
}

/// Adds `new`, in order, to an accumulation, refusing a second object with the same id.
/// A large batch (a file of thousands of objects) indexes the objects by name first
/// instead of comparing them pair by pair; a few are compared with each directly.
fn append(
    acc: &mut Vec<Resource>,
    new: impl IntoIterator<Item = Resource>,
    at: Origin,
) -> Result<()> {
    let new = new.into_iter();
    let mut by_name: Option<HashMap<u64, Vec<usize>>> = (new.size_hint().0 > 16).then(|| {
        let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, o) in acc.iter().enumerate() {
            index.entry(name_hash(o.name())).or_default().push(i);
        }
        index
    });
    for r in new {
        let id = r.id();
        let taken = match &by_name {
            Some(index) => index
                .get(&name_hash(&id.name))
                .is_some_and(|same| same.iter().any(|&i| acc[i].has_id(&id))),
            None => acc.iter().any(|o| o.has_id(&id)),
        };
        if taken {
            return Err(Error::new(
                format!(
                    "may not add resource with an already registered id: {}",
                    id.show()
                ),
                r.node.path(&["metadata", "name"]).map_or(at, |n| n.origin),
            ));
        }
        if let Some(index) = &mut by_name {
            index
                .entry(name_hash(&id.name))
                .or_default()
                .push(acc.len());
        }
        acc.push(r);
    }
    Ok(())
}

/// A name's hash, for [`append`]'s index (a collision only costs a comparison).
fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(name)
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

/// A patch's text and where it came from.
struct PatchSource {
    text: std::sync::Arc<str>,
    /// The patch file, or the kustomization of an inline patch.
    file: FileId,
    /// For an inline patch: where each line of its text starts in the kustomization.
    lines: Option<Vec<u32>>,
    /// The entry (or its `path`/`patch` field), for errors about the whole patch.
    origin: Origin,
    inline: bool,
}

impl PatchSource {
    /// The origin of bytes `start..end` of the patch text.
    fn at(&self, start: u32, end: u32) -> Origin {
        let o = Origin::new(self.file, Span { start, end });
        if self.inline { self.remap(o) } else { o }
    }

    /// Whether the patch text is a string of the kustomization (not a file of its own).
    fn is_inline(&self) -> bool {
        self.inline
    }

    /// An origin in an inline patch's text, moved to the kustomization's lines (to the
    /// field as a whole when its lines cannot be followed).
    fn remap(&self, o: Origin) -> Origin {
        let Some(lines) = &self.lines else {
            return self.origin;
        };
        let map = |offset: u32| -> u32 {
            let before = &self.text[..(offset as usize).min(self.text.len())];
            let line = before.matches('\n').count();
            let col = before
                .rfind('\n')
                .map_or(before.len(), |i| before.len() - i - 1);
            lines
                .get(line)
                .map_or(self.origin.value.start, |&start| start + col as u32)
        };
        let span = |s: Span| Span {
            start: map(s.start),
            end: map(s.end),
        };
        Origin {
            file: self.origin.file,
            key: o.key.map(span),
            value: span(o.value),
        }
    }
}

/// An inline patch: the string value of a kustomization field. For a block scalar (`|`),
/// each line of the text is a line of the kustomization, indented: findings in the patch
/// land on those lines. Other strings (quoted, folded) map to the field as a whole.
fn inline_patch(node: &Node, files: &Files) -> PatchSource {
    let text: std::sync::Arc<str> = node.as_str().unwrap_or("").into();
    let file_text = files.get(node.origin.file).text();
    PatchSource {
        lines: block_lines(node, &text, &file_text),
        text,
        file: node.origin.file,
        origin: node.origin,
        inline: true,
    }
}

/// Where each line of a block scalar's text starts in its file, when the text is the
/// file's lines with their indentation removed (a literal `|` block); `None` otherwise.
fn block_lines(node: &Node, text: &str, file_text: &str) -> Option<Vec<u32>> {
    let start = node.origin.value.start as usize;
    let end = (node.origin.value.end as usize).min(file_text.len());
    let region = file_text.get(start..end)?;
    // The region starts at the block's first content line (after its indentation).
    let line_start = file_text[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = start - line_start;
    let mut starts = Vec::new();
    let mut offset = line_start;
    let wanted = text.lines().collect::<Vec<_>>();
    let file_lines: Vec<&str> = file_text
        [line_start..line_start + (start - line_start) + region.len()]
        .split('\n')
        .collect();
    for (i, want) in wanted.iter().enumerate() {
        let have = file_lines.get(i)?;
        let content = if have.len() >= indent {
            &have[indent..]
        } else {
            ""
        };
        if content.trim_end_matches('\r') != *want && !(want.is_empty() && have.trim().is_empty()) {
            return None;
        }
        starts.push((offset + indent.min(have.len())) as u32);
        offset += have.len() + 1;
    }
    Some(starts)
}

/// The items of a list field.
fn seq<'a>(node: &'a Node, field: &str) -> Result<&'a [Node]> {
    node.as_seq().ok_or_else(|| {
        Error::new(
            format!("invalid kustomization: `{field}` must be a list"),
            node.origin,
        )
    })
}

/// The indices of the resources a `target:` selector picks: by kind, by labels and
/// annotations, and by name and namespace, original or current.
fn select(acc: &[Resource], selector: &super::patch::Selector) -> Vec<usize> {
    acc.iter()
        .enumerate()
        .filter(|(_, r)| {
            let org = r.original_id();
            let cur = r.id();
            let names = [org.name.as_str(), cur.name.as_str()];
            let namespaces = [org.namespace.as_str(), cur.namespace.as_str()];
            selector.matches(&r.node, &names, &namespaces)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Removes the resources at `indices` (ascending).
fn remove_indices(acc: &mut Vec<Resource>, indices: Vec<usize>) {
    for i in indices.into_iter().rev() {
        acc.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Limits;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Whether the kustomization of `rel` is found bound to fail.
    fn bound(dir: &Path, rel: &str) -> bool {
        let files = Files::new(dir, Limits::default());
        let k =
            Kustomization::load(&files, &dir.join(rel), Origin::new(0, Span::default())).unwrap();
        bound_to_fail(&files, &k, &mut std::collections::HashSet::new())
    }

    #[test]
    fn a_large_resource_file_read_in_pieces_makes_what_one_reading_makes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut text = String::new();
        for i in 0..18_000 {
            text.push_str(&match i % 6 {
                0 => format!(
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  \
                     annotations: {{n: {i}}}\ndata:\n  k: \"v{i}\"\n"
                ),
                // A document of nothing but a comment: no object.
                1 => "--- # after the marker\n# only a comment\n".to_owned(),
                2 => format!(
                    "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  \
                     metadata: {{name: s{i}}}\n"
                ),
                3 => format!(
                    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: &n d{i}\n  \
                     labels: {{app: *n}}\nspec:\n  replicas: {i}\n"
                ),
                4 => format!(
                    "---\nkind: ConfigMap\napiVersion: v1\nmetadata: {{name: \"\u{e9}{i}\"}}\n\
                     data: {{a: yes, b: 0x1F, c: ~, d: 010}}\n"
                ),
                _ => format!(
                    "---\n# {i}\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: n{i}\n"
                ),
            });
        }
        assert!(text.len() > 4 * crate::parse::yaml::PIECE_BYTES);
        write(d, "big.yaml", &text);
        // A syntax error in its last piece: no piece reading, the whole one says where.
        write(d, "broken.yaml", &format!("{text}---\nkey: [unclosed\n"));
        let files = Files::new(d, Limits::default());
        let limits = Limits::default();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let read = |name: &str| {
            let id = files.load(&d.join(name)).unwrap();
            let source = files.get(id);
            let text = source.text();
            pool.install(|| {
                (
                    in_pieces(&source, &text, id, &limits),
                    whole(&source, &text, id, &limits),
                )
            })
        };
        let (pieces, whole) = read("big.yaml");
        let pieces = pieces.expect("a large file of many documents is read in pieces");
        assert_eq!(pieces, whole);
        let objects = whole.0.unwrap();
        assert_eq!(objects.len(), 15_000);
        assert_eq!(
            objects[1].path(&["kind"]).and_then(Node::as_str),
            Some("Secret")
        );
        let (pieces, whole) = read("broken.yaml");
        assert!(pieces.is_none());
        assert!(whole.0.is_err());
    }

    #[test]
    fn a_root_naming_a_file_that_does_not_exist_is_bound_to_fail() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "base/deploy.yaml", "kind: ConfigMap\n");
        write(d, "base/params.env", "a=b\n");
        write(d, "base/patch.yaml", "[]\n");
        write(
            d,
            "base/kustomization.yaml",
            "resources:\n- deploy.yaml\nconfigMapGenerator:\n- name: c\n  envs:\n  - params.env\n  \
             files:\n  - key=params.env\npatches:\n- path: patch.yaml\n  target: {kind: ConfigMap}\n\
             patchesStrategicMerge:\n- not-a-file.yaml\n",
        );
        // Everything it names is there (a strategic merge patch that is no file is inline).
        assert!(!bound(d, "base"));
        let cases = [
            (
                "configurations",
                "resources:\n- ../base\nconfigurations:\n- params.yaml\n",
            ),
            ("crds", "resources:\n- ../base\ncrds:\n- crd.json\n"),
            ("resource", "resources:\n- ../base\n- absent.yaml\n"),
            ("no kustomization", "resources:\n- ../base\n- ../empty\n"),
            (
                "component",
                "resources:\n- ../base\ncomponents:\n- ../absent\n",
            ),
            (
                "generator env",
                "resources:\n- ../base\nsecretGenerator:\n- name: s\n  env: absent.env\n",
            ),
            (
                "generator file",
                "resources:\n- ../base\nconfigMapGenerator:\n- name: c\n  files:\n  - k=absent.txt\n",
            ),
            (
                "patch",
                "resources:\n- ../base\npatchesJson6902:\n- path: absent.yaml\n",
            ),
        ];
        std::fs::create_dir_all(d.join("empty")).unwrap();
        for (i, (what, text)) in cases.iter().enumerate() {
            write(d, &format!("o{i}/kustomization.yaml"), text);
            assert!(bound(d, &format!("o{i}")), "{what}");
        }
        // A base's missing file dooms the overlay that reads it; a remote base says
        // nothing.
        write(
            d,
            "nested/kustomization.yaml",
            "resources:\n- ../o0\n- https://github.com/example/repo//base?ref=v1\n",
        );
        assert!(bound(d, "nested"));
        write(
            d,
            "remote/kustomization.yaml",
            "resources:\n- ../base\n- https://github.com/example/repo//base?ref=v1\n",
        );
        assert!(!bound(d, "remote"));
        // A cycle ends.
        write(d, "a/kustomization.yaml", "resources:\n- ../b\n");
        write(d, "b/kustomization.yaml", "resources:\n- ../a\n");
        assert!(!bound(d, "a"));
    }
}
