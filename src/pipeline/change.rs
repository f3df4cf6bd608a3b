//! The merge request's change, base against head: the objects each side has (the changed
//! files, and what the kustomizations they reach render), the change summary the reports
//! show, and the change rules' findings placed where the author must look.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::changes::judge::{Judged, Locate};
use crate::changes::{
    ChangeSummary, Direction, GrantChange, Operation, Place, SourceObject, Transition, Unreadable,
    read_objects, rendered_objects,
};
use crate::check::rendered::NodePlace;
use crate::check::{DocPlace, FileText, Place as _};
use crate::finding::{Finding, Severity};
use crate::mr::{BaseFiles, MergeRequest};
use crate::parse::Document;
use crate::policy::Builtins;
use crate::policy::user::UserPolicies;
use crate::render::node::FileId;
use crate::render::roots::Stage;

/// The objects a merge request changes, at the base and at head.
pub(super) struct Compared {
    pub base: Vec<SourceObject>,
    pub head: Vec<SourceObject>,
    /// Renamed files: base path to head path.
    pub renames: Vec<(String, String)>,
    /// The changed files' text at head and at the base (at their base path), by
    /// repository-relative path.
    head_texts: HashMap<String, Arc<str>>,
    base_texts: HashMap<String, Arc<str>>,
    /// Base files that could not be read, and why.
    unreadable: Vec<Unreadable>,
    /// The chart renderings that read a changed file, rendered again at head for the
    /// comparison (`None`: the run's own renderings are those, under `--changed-only`).
    helm_head: Option<crate::render::helm::Stage>,
    /// The directories (as reports show them) of the chart renderings compared.
    helm_roots: HashSet<Arc<str>>,
}

impl Compared {
    /// The base version of each rendered object the merge request keeps (changed or not),
    /// by its root's directory and its index among the root's objects, with its identity
    /// at head.
    pub fn rendered_old(&self) -> crate::check::admission::RenderedOld<'_> {
        crate::changes::counterparts(&self.base, &self.head, &self.renames)
            .into_iter()
            .filter_map(|(bi, hi)| {
                let (b, h) = (&self.base[bi], &self.head[hi]);
                let crate::changes::Place::Rendered { index } = h.place else {
                    return None;
                };
                (h.rendered && b.rendered).then(|| ((h.file.clone(), index), (&h.object, &b.value)))
            })
            .collect()
    }
}

fn is_manifest(p: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|e| p.to_ascii_lowercase().ends_with(e))
}

/// The directory of a repository-relative path (`""` at the root).
fn dir_of(p: &str) -> String {
    p.rsplit_once('/').map_or("", |(d, _)| d).to_owned()
}

fn text_of(bytes: &[u8]) -> Arc<str> {
    String::from_utf8_lossy(bytes).into()
}

/// Where a rendered object is defined: its file, repository-relative (`relative` maps a
/// canonical path), and the line of its first key.
fn origin_of(
    files: &crate::render::files::Files,
    node: &crate::render::node::Node,
    relative: &dyn Fn(&Path) -> Option<String>,
) -> Option<(Arc<str>, u32)> {
    let f = files.get(node.origin.file);
    let rel = relative(&f.path)?;
    let line = f.position(node.origin.value.start as usize).line;
    Some((rel.into(), line))
}

/// The objects a render root produced, as compared: each with where it is defined.
fn root_objects(
    files: &crate::render::files::Files,
    r: &crate::check::rendered::Root,
    relative: &dyn Fn(&Path) -> Option<String>,
) -> Vec<SourceObject> {
    let objects = r
        .objects
        .iter()
        .map(|o| {
            let n = o.node();
            (n.to_value(), origin_of(files, &n, relative))
        })
        .collect();
    rendered_objects(&r.dir, objects)
}

/// The objects of the changed files at the base and at head, with the RBAC objects of every
/// other manifest of the base tree (the same at both) to resolve role references when some
/// role or binding changed.
///
/// What kustomizations render is compared as rendered: each root a changed file reaches
/// is rendered at the base too, and its objects compared under the root's directory; the
/// files such roots read are not compared as loose files.
pub(super) fn compare(
    mr: &MergeRequest,
    stage: Option<&Stage>,
    charts: Option<(&crate::render::helm::Stage, super::ChartRenders<'_>)>,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<Compared> {
    let root = mr.repo.root();
    let is_changed = |p: &Path| {
        mr.repo.relative(p).is_some_and(|rel| {
            mr.changes.files.contains_key(&rel) || mr.changes.deleted.contains_key(&rel)
        })
    };
    let mut c = Compared {
        base: Vec::new(),
        head: Vec::new(),
        renames: Vec::new(),
        head_texts: HashMap::new(),
        base_texts: HashMap::new(),
        unreadable: Vec::new(),
        helm_head: None,
        helm_roots: HashSet::new(),
    };
    let mut base_tree: Option<BaseFiles> = None;
    // The roots the change reaches, and every file a root reads (rendered, not loose).
    let mut through_render: HashSet<String> = HashSet::new();
    if let Some(stage) = stage {
        let touched: Vec<usize> = (0..stage.roots.len())
            .filter(|&i| stage.read[i].iter().any(|p| is_changed(p)))
            .collect();
        for i in 0..stage.roots.len() {
            through_render.extend(stage.read[i].iter().filter_map(|p| mr.repo.relative(p)));
        }
        if !touched.is_empty() {
            let tree = base_tree.insert(BaseFiles::materialize(
                &mr.repo,
                mr.base.merge_base,
                &[String::new()],
            )?);
            let files = crate::render::files::Files::new(&tree.root, stage.files.limits.clone())
                .show_as(&tree.root, root);
            let dirs: Vec<_> = touched
                .iter()
                .filter_map(|&i| {
                    let (dir, o) = &stage.dirs[i];
                    let at_base = tree.root.join(dir.strip_prefix(root).ok()?);
                    at_base.is_dir().then(|| (at_base, o.clone()))
                })
                .collect();
            let at_base = pool.install(|| crate::render::roots::render_dirs(files, &dirs));
            let tree_root = tree
                .root
                .canonicalize()
                .unwrap_or_else(|_| tree.root.clone());
            let base_relative = |p: &Path| -> Option<String> {
                let rel = p.strip_prefix(&tree_root).ok()?;
                Some(rel.to_string_lossy().replace('\\', "/"))
            };
            // A file only the base's render read (deleted since) is rendered too.
            through_render.extend(
                at_base
                    .read
                    .iter()
                    .flatten()
                    .filter_map(|p| base_relative(p)),
            );
            // A root that does not build at head deploys nothing new and deletes nothing:
            // its base objects are not compared (its error is reported on its own).
            let failed: HashSet<&str> = touched
                .iter()
                .map(|&i| &stage.roots[i])
                .filter(|r| r.error.is_some())
                .map(|r| &*r.dir)
                .collect();
            for r in at_base
                .roots
                .iter()
                .filter(|r| r.error.is_none() && !failed.contains(&*r.dir))
            {
                c.base
                    .extend(root_objects(&at_base.files, r, &base_relative));
            }
            let head_relative = |p: &Path| mr.repo.relative(p);
            for &i in &touched {
                let r = &stage.roots[i];
                if r.error.is_none() {
                    c.head.extend(root_objects(&stage.files, r, &head_relative));
                }
            }
        }
    }
    // The chart renderings that read a changed file, rendered at the base and at head.
    if let Some((helm_stage, renders)) = charts.filter(|(_, r)| r.opts.helm.is_some()) {
        let changed: Vec<PathBuf> = mr
            .changes
            .files
            .keys()
            .chain(mr.changes.deleted.keys())
            .map(|p| {
                let p = root.join(p);
                p.canonicalize().unwrap_or(p)
            })
            .collect();
        // A chart's own files (its `crds/`) are compared through its renderings.
        for p in &changed {
            if renders.dirs.iter().any(|d| p.starts_with(d)) {
                through_render.extend(mr.repo.relative(p));
            }
        }
        if renders.opts.changed.is_none() {
            let mut opts = renders.opts.clone();
            opts.changed = Some(changed.clone());
            let files = crate::render::files::Files::new(root, helm_stage.files.limits.clone());
            c.helm_head = Some(pool.install(|| {
                crate::render::helm::render(renders.dirs.to_vec(), renders.objects, files, &opts)
            }));
        }
        let head = c.helm_head.as_ref().unwrap_or(helm_stage);
        if !head.roots.is_empty() {
            let tree = match base_tree {
                Some(ref t) => t,
                None => base_tree.insert(BaseFiles::materialize(
                    &mr.repo,
                    mr.base.merge_base,
                    &[String::new()],
                )?),
            };
            let tree_root = tree
                .root
                .canonicalize()
                .unwrap_or_else(|_| tree.root.clone());
            let base_relative = |p: &Path| -> Option<String> {
                let rel = p.strip_prefix(&tree_root).ok()?;
                Some(rel.to_string_lossy().replace('\\', "/"))
            };
            let limits = helm_stage.files.limits.clone();
            // A rendering that fails at head deploys nothing and deletes nothing.
            let failed: HashSet<&str> = head
                .roots
                .iter()
                .filter(|r| r.error.is_some())
                .map(|r| &*r.dir)
                .collect();
            if let Some(at_base) = renders.at_base(mr, tree, pool, &limits, Some(&changed)) {
                for r in at_base
                    .roots
                    .iter()
                    .filter(|r| r.error.is_none() && !failed.contains(&*r.dir))
                {
                    c.helm_roots.insert(r.dir.clone());
                    c.base
                        .extend(root_objects(&at_base.files, r, &base_relative));
                }
            }
            let head_relative = |p: &Path| mr.repo.relative(p);
            for r in head.roots.iter().filter(|r| r.error.is_none()) {
                c.helm_roots.insert(r.dir.clone());
                c.head.extend(root_objects(&head.files, r, &head_relative));
            }
        }
    }
    let base_file = |c: &mut Compared, path: &str, oid| match mr.repo.blob(oid) {
        Ok(bytes) => {
            let text = text_of(&bytes);
            let (objects, problem) = read_objects(path, &text);
            if let Some(reason) = problem {
                c.unreadable.push(Unreadable {
                    file: path.to_owned(),
                    reason,
                });
            }
            c.base.extend(objects);
            c.base_texts.insert(path.to_owned(), text);
        }
        Err(e) => c.unreadable.push(Unreadable {
            file: path.to_owned(),
            reason: format!("{e:#}"),
        }),
    };
    for (path, _) in mr
        .changes
        .files
        .iter()
        .filter(|(p, _)| is_manifest(p) && !through_render.contains(*p))
    {
        // As Git sees it: a symbolic link is not followed (its target may be outside).
        if let Ok(bytes) = crate::read::read_no_follow(&root.join(path), mr.read_limit) {
            let text = text_of(&bytes);
            c.head.extend(read_objects(path, &text).0);
            c.head_texts.insert(path.clone(), text);
        }
        if let Some((from, oid)) = mr.changes.base_of(path) {
            base_file(&mut c, from, oid);
            if from != path {
                c.renames.push((from.to_owned(), path.clone()));
            }
        }
    }
    for (path, oid) in mr
        .changes
        .deleted
        .iter()
        .filter(|(p, _)| is_manifest(p) && !through_render.contains(*p))
    {
        base_file(&mut c, path, *oid);
    }
    let is_rbac = |o: &SourceObject| {
        o.object
            .api_version
            .starts_with("rbac.authorization.k8s.io/")
            && matches!(
                o.object.kind.as_str(),
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            )
    };
    if !c.base.iter().chain(&c.head).any(is_rbac) {
        // No grant can change: the rest of the tree need not be read.
        return Ok(c);
    }
    // Roles and bindings the change did not touch resolve references on both sides.
    for (path, oid) in mr.repo.tree_files(mr.base.merge_base)? {
        if !is_manifest(&path)
            || mr.changes.files.contains_key(&path)
            || mr.changes.deleted.contains_key(&path)
        {
            continue;
        }
        let bytes = mr.repo.blob(oid)?;
        if !bytes.windows(4).any(|w| w == b"Role") {
            continue;
        }
        for o in read_objects(&path, &text_of(&bytes)).0 {
            if is_rbac(&o) {
                c.base.push(o.clone());
                c.head.push(o);
            }
        }
    }
    Ok(c)
}

impl Compared {
    pub fn summary(&self) -> ChangeSummary {
        crate::changes::summarize(&self.base, &self.head, &self.renames)
    }
}

/// A repository-relative path as reports show it: relative to the working directory.
fn display(mr: &MergeRequest, cwd: &Path, rel: &str) -> Arc<str> {
    mr.repo
        .root()
        .join(rel)
        .strip_prefix(cwd)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|_| rel.to_owned())
        .into()
}

/// Places change findings: [`Locate`] over the merge request, its head render and files.
struct Locator<'a> {
    mr: &'a MergeRequest,
    c: &'a Compared,
    /// What rendered the head objects: the kustomizations, the chart renderings.
    renders: Vec<(
        &'a crate::render::files::Files,
        &'a [crate::check::rendered::Root],
    )>,
    cwd: PathBuf,
    /// Head roots by directory: which render, which root.
    roots: HashMap<&'a str, (usize, usize)>,
    node_texts: HashMap<FileId, FileText>,
    /// Head files parsed for placing, by repository-relative path.
    docs: HashMap<String, Option<(FileText, Vec<Document>)>>,
    renamed_to: HashMap<&'a str, &'a str>,
}

impl<'a> Locator<'a> {
    fn new(
        mr: &'a MergeRequest,
        c: &'a Compared,
        stage: Option<&'a Stage>,
        helm: Option<&'a crate::render::helm::Stage>,
    ) -> Self {
        let mut renders = Vec::new();
        if let Some(s) = stage {
            renders.push((&s.files, s.roots.as_slice()));
        }
        if let Some(h) = c.helm_head.as_ref().or(helm) {
            renders.push((&h.files, h.roots.as_slice()));
        }
        let mut roots = HashMap::new();
        for (ri, (_, list)) in renders.iter().enumerate() {
            for (i, r) in list.iter().enumerate() {
                roots.entry(&*r.dir).or_insert((ri, i));
            }
        }
        Self {
            mr,
            c,
            renders,
            cwd: std::env::current_dir().unwrap_or_default(),
            roots,
            node_texts: HashMap::new(),
            docs: HashMap::new(),
            renamed_to: c
                .renames
                .iter()
                .map(|(b, h)| (b.as_str(), h.as_str()))
                .collect(),
        }
    }

    fn display(&self, rel: &str) -> Arc<str> {
        display(self.mr, &self.cwd, rel)
    }

    /// The head text of a repository-relative file: a changed file's, else read from the
    /// worktree.
    fn head_text(&self, rel: &str) -> Option<Arc<str>> {
        if let Some(t) = self.c.head_texts.get(rel) {
            return Some(t.clone());
        }
        let bytes =
            crate::read::read_no_follow(&self.mr.repo.root().join(rel), self.mr.read_limit).ok()?;
        Some(text_of(&bytes))
    }

    fn file_line(&mut self, rel: &str, line: u32) -> Finding {
        match self.head_text(rel) {
            Some(text) => FileText::new(self.display(rel), text).line_finding(line),
            None => crate::check::file_finding(&self.display(rel), "", String::new()),
        }
    }

    /// The base version of the file at `rel` (its head path; the base had it under its
    /// old name when it was renamed).
    fn base_text(&self, rel: &str) -> Option<Arc<str>> {
        let (from, oid) = self
            .mr
            .changes
            .base_of(rel)
            .or_else(|| self.mr.changes.deleted.get(rel).map(|o| (rel, *o)))?;
        if let Some(t) = self.c.base_texts.get(from) {
            return Some(t.clone());
        }
        self.mr.repo.blob(oid).ok().map(|b| text_of(&b))
    }

    /// Where a rendered object that a kustomization no longer renders was removed: its
    /// file's deletion, else the first removal in the changed kustomization nearest to it
    /// (the one listing it), else the root's kustomization.
    fn rendered_removal(&mut self, o: &SourceObject) -> Finding {
        let Some((file, _)) = &o.origin else {
            return self.kustomization_of(&o.file, None);
        };
        if self.mr.changes.deleted.contains_key(&**file) || !self.exists_at_head(file) {
            return crate::check::file_finding(&self.display(file), "", String::new());
        }
        if self.c.helm_roots.contains(&o.file) {
            // A chart's object: where its template changed, else where a changed values
            // file of its chart changed, else the template itself.
            let removal = |this: &Self, f: &str| match (this.base_text(f), this.head_text(f)) {
                (Some(old), Some(new)) => crate::mr::first_removal(&old, &new),
                _ => None,
            };
            if let Some(line) = removal(self, file) {
                return self.file_line(file, line);
            }
            let mut chart = dir_of(file);
            while !chart.is_empty() && !self.exists_at_head(&format!("{chart}/Chart.yaml")) {
                chart = dir_of(&chart);
            }
            let values = self.mr.changes.files.keys().find(|p| {
                !chart.is_empty()
                    && p.starts_with(&format!("{chart}/"))
                    && !p[chart.len() + 1..].starts_with("templates/")
                    && is_manifest(p)
            });
            if let Some(values) = values.cloned()
                && let Some(line) = removal(self, &values)
            {
                return self.file_line(&values, line);
            }
            return self.file_line(file, 1);
        }
        let origin_dir = dir_of(file);
        let nearest = self
            .mr
            .changes
            .files
            .keys()
            .filter(|p| {
                let name = p.rsplit('/').next().unwrap_or(p);
                let d = dir_of(p);
                crate::render::kustomization::FILE_NAMES.contains(&name)
                    && (d.is_empty() || origin_dir == d || origin_dir.starts_with(&format!("{d}/")))
            })
            .max_by_key(|p| dir_of(p).len())
            .cloned();
        self.kustomization_of(&o.file, nearest)
    }

    fn exists_at_head(&self, rel: &str) -> bool {
        self.mr.repo.root().join(rel).symlink_metadata().is_ok()
    }

    /// A finding at the first removal in `changed` (a kustomization file), or in the
    /// kustomization of the root directory `dir` as reports show it.
    fn kustomization_of(&mut self, dir: &str, changed: Option<String>) -> Finding {
        let file = changed.or_else(|| {
            let rel = self.mr.repo.relative(Path::new(dir))?;
            crate::render::kustomization::FILE_NAMES
                .iter()
                .find_map(|n| {
                    let p = if rel.is_empty() {
                        (*n).to_owned()
                    } else {
                        format!("{rel}/{n}")
                    };
                    self.exists_at_head(&p).then_some(p)
                })
        });
        let Some(file) = file else {
            return crate::check::file_finding(&Arc::from(dir), "", String::new());
        };
        let line = match (self.base_text(&file), self.head_text(&file)) {
            (Some(old), Some(new)) => crate::mr::first_removal(&old, &new).unwrap_or(1),
            _ => 1,
        };
        self.file_line(&file, line)
    }
}

impl Locate for Locator<'_> {
    fn head(&mut self, o: &SourceObject, pointer: &str) -> Finding {
        match &o.place {
            Place::Rendered { index } => {
                let found = self.roots.get(&*o.file).and_then(|&(ri, i)| {
                    let (files, roots) = self.renders[ri];
                    Some((files, roots.get(i)?.objects.get(*index)?))
                });
                match found {
                    Some((files, object)) => {
                        let mut f = NodePlace {
                            files,
                            texts: &mut self.node_texts,
                            node: &object.node(),
                        }
                        .at(pointer, false);
                        f.rendered = vec![o.file.clone()];
                        f
                    }
                    None => crate::check::file_finding(&o.file, "", String::new()),
                }
            }
            Place::Document { index, prefix } => {
                let rel = o.file.to_string();
                if !self.docs.contains_key(&rel) {
                    let parsed = self.head_text(&rel).map(|text| {
                        let (docs, _) = crate::parse::yaml::parse(&text, &Default::default());
                        (FileText::new(self.display(&rel), text), docs)
                    });
                    self.docs.insert(rel.clone(), parsed);
                }
                match self.docs.get_mut(&rel) {
                    Some(Some((src, docs))) => match docs.iter().find(|d| d.index == *index) {
                        Some(doc) => DocPlace { src, doc }.at(&format!("{prefix}{pointer}"), false),
                        None => src.line_finding(1),
                    },
                    _ => crate::check::file_finding(&self.display(&rel), "", String::new()),
                }
            }
        }
    }

    fn removal(&mut self, o: &SourceObject) -> Finding {
        match &o.place {
            Place::Rendered { .. } => self.rendered_removal(o),
            Place::Document { .. } => {
                let base_path = o.file.to_string();
                let head_path = self
                    .renamed_to
                    .get(base_path.as_str())
                    .map_or(base_path.clone(), |h| (*h).to_owned());
                if self.mr.changes.deleted.contains_key(&base_path)
                    || !self.exists_at_head(&head_path)
                {
                    return crate::check::file_finding(
                        &self.display(&base_path),
                        "",
                        String::new(),
                    );
                }
                let line = match (
                    &o.origin,
                    self.base_text(&head_path),
                    self.head_text(&head_path),
                ) {
                    (Some((_, line)), Some(old), Some(new)) => {
                        crate::mr::line_in_new(&old, &new, *line)
                    }
                    _ => 1,
                };
                self.file_line(&head_path, line)
            }
        }
    }
}

/// The change rules' findings on a merge request: the built-in change rules and the user's
/// change policies on every object it creates, updates or deletes; RBAC subjects gaining
/// rights the RBAC rules flag; base files that could not be read; objects defined twice.
#[allow(clippy::too_many_arguments)]
pub(super) fn judge(
    mr: &MergeRequest,
    c: &Compared,
    summary: Option<&ChangeSummary>,
    stage: Option<&Stage>,
    helm: Option<&crate::render::helm::Stage>,
    builtins: Option<&Builtins>,
    user: Option<&UserPolicies>,
    admission: Option<&crate::admission::Policies>,
    inline_suppressions: bool,
    pool: &rayon::ThreadPool,
) -> Judged {
    let transitions = crate::changes::transitions(&c.base, &c.head, &c.renames);
    let mut locate = Locator::new(mr, c, stage, helm);
    let deletions = admission.map(|policies| deletions(policies, c, &transitions, &mut locate));
    let mut judged = crate::changes::judge::judge(
        &c.base,
        &c.head,
        &transitions,
        crate::changes::judge::Rules {
            builtins,
            user,
            inline_suppressions,
        },
        pool,
        &mut locate,
    );
    for u in &c.unreadable {
        let head_path = locate
            .renamed_to
            .get(u.file.as_str())
            .map_or(u.file.as_str(), |h| h);
        let mut f = crate::check::file_finding(
            &locate.display(head_path),
            "change-base-unreadable",
            format!(
                "the base version of `{}` ({} at {}) cannot be read ({}): the objects it had \
                 are not compared with this merge request's, so their deletions and changes \
                 are not judged",
                u.file,
                mr.base.source,
                crate::git::short(mr.base.merge_base),
                u.reason
            ),
        );
        f.severity = Severity::Warning;
        judged.findings.push(f);
    }
    judged.findings.extend(duplicates(c, &mut locate));
    judged.findings.extend(deletions.into_iter().flatten());
    if let (Some(summary), Some(b)) = (summary, builtins.filter(|b| b.judges_changes())) {
        judged
            .findings
            .extend(rbac_gained(summary, b, c, &transitions, &mut locate));
    }
    judged
}

/// The admission policies of the run on each object the change deletes: a `DELETE` with
/// the base object as `oldObject`, judged among the head's objects, placed where it was
/// removed.
fn deletions(
    policies: &crate::admission::Policies,
    c: &Compared,
    transitions: &[crate::changes::Transition],
    locate: &mut Locator<'_>,
) -> Vec<Finding> {
    use crate::admission::{Cluster, Operation, Request};
    let cluster = Cluster::new(c.head.iter().map(|o| &o.value));
    let mut out = Vec::new();
    for t in transitions {
        let (Some(b), None) = (t.base, t.head) else {
            continue;
        };
        let o = &c.base[b];
        let req = Request {
            operation: Operation::Delete,
            object: None,
            old: Some(&o.value),
        };
        for v in policies.evaluate(&req, &cluster) {
            if v.rule == "admission-unsupported" {
                continue;
            }
            let mut f = locate.removal(o);
            f.rule = v.rule.into();
            f.severity = v.severity;
            f.message = v.message;
            f.object = Some(o.object.clone());
            out.push(f);
        }
    }
    out
}

/// An object defined twice in one file or one render: `kubectl apply` applies both, the
/// last one wins, and the change rules compare each copy.
fn duplicates(c: &Compared, locate: &mut Locator<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (side, objects) in [("head", &c.head), ("base", &c.base)] {
        let mut seen: HashMap<(&str, &str, &str, Option<&str>, &str), usize> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            let Some(name) = o.object.name.as_deref() else {
                continue;
            };
            let group = crate::changes::group_of(&o.object.api_version);
            let key = (
                &*o.file,
                group,
                o.object.kind.as_str(),
                o.object.namespace.as_deref(),
                name,
            );
            let Some(&first) = seen.get(&key) else {
                seen.insert(key, i);
                continue;
            };
            let where_first = objects[first]
                .origin
                .as_ref()
                .map_or(String::new(), |(f, l)| format!(" (first at {f}:{l})"));
            let mut f = if side == "head" {
                locate.head(o, "/metadata/name")
            } else {
                locate.removal(o)
            };
            f.rule = "change-duplicate-object".into();
            f.severity = Severity::Warning;
            f.message = format!(
                "{} is defined more than once in `{}` at the {side}{where_first}: the cluster \
                 gets the last one, and the change rules compare each",
                o.object, o.file
            );
            f.object = Some(o.object.clone());
            out.push(f);
        }
    }
    out
}

/// Subjects gaining, through one binding, rights the enabled RBAC rules flag: the rights a
/// subject gains (from the change summary) are written as one ClusterRole and checked by
/// the RBAC rules that apply to roles.
fn rbac_gained(
    summary: &ChangeSummary,
    builtins: &Builtins,
    c: &Compared,
    transitions: &[Transition],
    locate: &mut Locator<'_>,
) -> Vec<Finding> {
    let mut groups: BTreeMap<(String, String, String, String), Vec<&GrantChange>> = BTreeMap::new();
    for g in summary.rbac.iter().filter(|g| g.change == Direction::Gains) {
        groups
            .entry((
                format!("{} {}", g.subject.kind, g.subject.name),
                g.via.to_string(),
                g.file.clone(),
                g.role.to_string(),
            ))
            .or_default()
            .push(g);
    }
    if groups.is_empty() {
        return Vec::new();
    }
    let mut b = builtins.clone();
    let mut out = Vec::new();
    for ((_, via, _, role), grants) in groups {
        let rules: Vec<serde_json::Value> = grants
            .iter()
            .map(|g| {
                if g.non_resource_urls.is_empty() {
                    serde_json::json!({
                        "apiGroups": g.api_groups,
                        "resources": g.resources,
                        "verbs": g.verbs,
                        "resourceNames": g.resource_names,
                    })
                } else {
                    serde_json::json!({"nonResourceURLs": g.non_resource_urls, "verbs": g.verbs})
                }
            })
            .collect();
        let gained = serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "gained"},
            "rules": rules,
        });
        let Ok(violations) = b.evaluate("ClusterRole", &gained) else {
            continue;
        };
        let mut flagged: Vec<String> = violations
            .iter()
            .filter_map(|v| b.rules.get(v.rule))
            .filter(|m| m.category == "rbac")
            .map(|m| format!("{} ({})", m.title.to_lowercase(), m.name))
            .collect();
        flagged.sort();
        flagged.dedup();
        if flagged.is_empty() {
            continue;
        }
        let g = grants[0];
        let subject = match &g.subject.namespace {
            Some(ns) => format!("{} `{}/{}`", g.subject.kind, ns, g.subject.name),
            None => format!("{} `{}`", g.subject.kind, g.subject.name),
        };
        let scope = match &g.scope {
            crate::changes::Scope::ClusterWide => "cluster-wide".to_owned(),
            crate::changes::Scope::Namespace(ns) if ns.is_empty() => {
                "in the namespace it is applied to".to_owned()
            }
            crate::changes::Scope::Namespace(ns) => format!("in namespace `{ns}`"),
        };
        // The role when this merge request changed it, else the binding's subject.
        let changed_head = |r: &crate::finding::ObjectRef| {
            transitions.iter().filter_map(|t| t.head).find(|&h| {
                c.head[h].object == *r
                    && transitions
                        .iter()
                        .any(|t| t.head == Some(h) && t.operation != Operation::Delete)
            })
        };
        let mut f = if let Some(h) = changed_head(&g.role) {
            locate.head(&c.head[h], "/rules")
        } else if let Some(h) = c
            .head
            .iter()
            .position(|o| o.object == g.via && *o.file == *g.file)
        {
            let o = &c.head[h];
            let i = o
                .value
                .get("subjects")
                .and_then(|s| s.as_array())
                .and_then(|s| {
                    s.iter().position(|x| {
                        x.get("kind").and_then(|k| k.as_str()) == Some(&g.subject.kind)
                            && x.get("name").and_then(|k| k.as_str()) == Some(&g.subject.name)
                    })
                });
            let pointer = i.map_or("/roleRef".to_owned(), |i| format!("/subjects/{i}"));
            locate.head(o, &pointer)
        } else {
            crate::check::file_finding(&locate.display(&g.file), "", String::new())
        };
        f.rule = "rbac-rights-gained".into();
        f.severity = Severity::Warning;
        f.message = format!(
            "{subject} gains {scope}, through {via} ({role}), rights the RBAC rules flag: {}; \
             a revert takes them back, but what was done with them stays",
            flagged.join(", ")
        );
        f.object = Some(g.via.clone());
        out.push(f);
    }
    out
}
