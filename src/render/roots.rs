//! Which kustomizations a run renders, and rendering them.
//!
//! GitOps-aware first: a Flux `Kustomization` (`spec.path`), an Argo CD `Application`
//! (`spec.source.path`, `spec.sources[].path`) or `ApplicationSet` (its template's literal
//! path, and the directory globs of its Git generators) that points at a directory of this
//! repository holding a kustomization makes it a root (Flux builds without kustomize's load
//! restrictor, so such roots do too). Then every kustomization of the run that no other
//! kustomization of the run uses (as a base or a component) is a root: the overlays, not
//! their bases, are what gets deployed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value;

use super::build::{self, Options};
use super::files::Files;
use super::kustomization::FILE_NAMES;
use super::object::Rendered;
use crate::check::FoundCrd;
use crate::check::rendered::Root;
use crate::parse::{self, Limits};

/// An input of the run: its path and, when read, its bytes.
pub struct Input<'a> {
    pub path: &'a Path,
    pub bytes: Option<&'a [u8]>,
}

/// The render stage of a run.
pub struct Stage {
    pub files: Files,
    pub roots: Vec<Root>,
    /// Canonical paths of the files the roots that rendered read: they are checked
    /// through the rendered objects, not as loose files.
    pub used: HashSet<PathBuf>,
    /// Canonical paths of the files each root read (rendered or not), by root.
    pub read: Vec<BTreeSet<PathBuf>>,
    /// Each root's directory (canonical) and how it was built, by root.
    pub dirs: Vec<(PathBuf, Options)>,
    /// The `render.roots` and `render.exclude` globs that matched no kustomization.
    pub unmatched: Vec<String>,
}

impl Stage {
    /// Keeps the roots that read a file `changed` says is changed (`--changed-only`).
    pub fn retain_roots(&mut self, changed: impl Fn(&Path) -> bool) {
        let keep: Vec<bool> = self
            .read
            .iter()
            .map(|paths| paths.iter().any(|p| changed(p)))
            .collect();
        let mut i = 0;
        self.roots.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        self.read.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        self.dirs.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        self.used = self.read.iter().flatten().cloned().collect();
    }
}

/// Which kustomizations are roots, as the configuration's `render:` says.
#[derive(Debug, Default)]
pub struct Select {
    /// When set, the roots are exactly the kustomizations whose directory (relative to the
    /// repository) matches.
    pub roots: Option<globset::GlobSet>,
    /// Directories never rendered as roots.
    pub exclude: globset::GlobSet,
    /// The patterns, for [`Stage::unmatched`].
    patterns: Vec<(String, bool)>,
}

impl Select {
    /// From `render.roots` and `render.exclude` globs (validated when the configuration
    /// was loaded).
    pub fn new(roots: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        let set = |globs: &[String]| -> Result<globset::GlobSet, globset::Error> {
            let mut b = globset::GlobSetBuilder::new();
            for g in globs {
                b.add(dir_glob(g)?);
            }
            b.build()
        };
        Ok(Self {
            roots: if roots.is_empty() {
                None
            } else {
                Some(set(roots)?)
            },
            exclude: set(exclude)?,
            patterns: roots
                .iter()
                .map(|g| (g.clone(), true))
                .chain(exclude.iter().map(|g| (g.clone(), false)))
                .collect(),
        })
    }

    fn relative<'p>(dir: &'p Path, confine: &Path) -> std::borrow::Cow<'p, str> {
        let rel = dir.strip_prefix(confine).unwrap_or(dir);
        let s = rel.to_string_lossy();
        if s.is_empty() { ".".into() } else { s }
    }

    fn is_excluded(&self, dir: &Path, confine: &Path) -> bool {
        self.exclude.is_match(&*Self::relative(dir, confine))
    }
}

/// A directory glob as written: `overlays/*` and `./overlays/*/` are the same.
fn dir_glob(g: &str) -> Result<globset::Glob, globset::Error> {
    let g = g.trim_start_matches("./").trim_end_matches('/');
    globset::GlobBuilder::new(if g.is_empty() { "." } else { g })
        .literal_separator(true)
        .build()
}

/// Finds the roots among `inputs` and renders them.
pub fn render(inputs: &[Input<'_>], confine: &Path, limits: Limits, select: &Select) -> Stage {
    plan(inputs, confine, select).build(Files::new(confine, limits))
}

/// What a render will build, found from the inputs alone ([`plan`]).
pub struct Plan {
    /// The roots, each with how to build it.
    roots: Vec<(PathBuf, Options)>,
    /// The kustomizations that may be rendered on their own if no root reaches them.
    others: Vec<PathBuf>,
    uses: Uses,
    unmatched: Vec<String>,
    /// Canonical paths of the files a kustomization of the run names (in any field) and
    /// of the kustomizations themselves: the only files a render can read among the
    /// inputs.
    named: HashSet<PathBuf>,
    /// The files that more than one root may read, with how many times the roots may read
    /// them: their objects are converted once and kept for those reads; any other file's
    /// are handed to the one root that reads it.
    shared: HashMap<PathBuf, u32>,
    /// The chart directories (canonical) the kustomizations of the run render through
    /// `helmCharts`.
    charts: BTreeSet<PathBuf>,
    /// The `helm` for `helmCharts` ([`Plan::with_helm`]).
    helm: Option<super::helmcharts::Helm>,
    /// The network for remote resources ([`Plan::with_network`]).
    network: Option<std::sync::Arc<crate::fetch::Network>>,
}

/// Finds the roots among `inputs`: the GitOps objects and kustomizations they hold, the
/// configuration's `render:` selection applied.
pub fn plan(inputs: &[Input<'_>], confine: &Path, select: &Select) -> Plan {
    let found = find_roots(inputs, confine);
    let (mut roots, kustomizations, uses) = (found.roots, found.kustomizations, found.uses);
    let mut unmatched: Vec<String> = select
        .patterns
        .iter()
        .filter(|(g, _)| {
            let Ok(m) = dir_glob(g).map(|g| g.compile_matcher()) else {
                return false;
            };
            !kustomizations
                .iter()
                .any(|d| m.is_match(&*Select::relative(d, confine)))
        })
        .map(|(g, root)| {
            format!(
                "render.{} `{g}` matches no kustomization",
                if *root { "roots" } else { "exclude" }
            )
        })
        .collect();
    unmatched.sort();
    if let Some(named) = &select.roots {
        // The configuration names the roots: exactly those (keeping how a GitOps object
        // said to build one).
        let found: BTreeMap<PathBuf, Options> = roots.into_iter().collect();
        roots = kustomizations
            .iter()
            .filter(|d| named.is_match(&*Select::relative(d, confine)))
            .map(|d| (d.clone(), found.get(d).cloned().unwrap_or_default()))
            .collect();
    }
    roots.retain(|(d, _)| !select.is_excluded(d, confine));
    // Only when kubegate chose the roots: named roots are all the user asked for.
    let others = kustomizations
        .into_iter()
        .filter(|_| select.roots.is_none())
        .filter(|d| !roots.iter().any(|(r, _)| r == d))
        .filter(|d| !select.is_excluded(d, confine))
        .collect();
    let shared = shared_files(&roots, &uses, &found.names_of);
    Plan {
        roots,
        others,
        uses,
        unmatched,
        named: found.named,
        shared,
        charts: found.charts,
        helm: None,
        network: None,
    }
}

impl Plan {
    /// Whether a render may read the file at `canonical` (a kustomization names it);
    /// files it cannot read can be checked while it runs.
    pub fn may_read(&self, canonical: &Path) -> bool {
        self.named.contains(canonical)
    }

    /// The chart directories (canonical) the kustomizations of the run render through
    /// `helmCharts`: their files belong to those renders, not to the helm stage.
    pub fn helm_charts(&self) -> impl Iterator<Item = &PathBuf> {
        self.charts.iter()
    }

    /// Renders `helmCharts` with `helm` in every root (and every kustomization rendered on
    /// its own).
    pub fn with_helm(mut self, helm: Option<super::helmcharts::Helm>) -> Self {
        for (_, opts) in &mut self.roots {
            opts.helm = helm.clone();
        }
        self.helm = helm;
        self
    }

    /// Fetches remote resources and components through `network` in every root (and every
    /// kustomization rendered on its own).
    pub fn with_network(mut self, network: Option<std::sync::Arc<crate::fetch::Network>>) -> Self {
        for (_, opts) in &mut self.roots {
            opts.network = network.clone();
        }
        self.network = network;
        self
    }

    /// Renders the roots, reading through `files`.
    pub fn build(self, files: Files) -> Stage {
        self.build_handing_over(files, None)
    }

    /// [`Plan::build`], handing the documents of the resource files of the roots bound to
    /// fail to `hand` ([`build::build_handing_over`]).
    pub fn build_handing_over(self, files: Files, hand: Option<build::Handover<'_>>) -> Stage {
        let files = files.sharing(self.shared);
        let mut built: Vec<(PathBuf, Options, Finished)> = self
            .roots
            .par_iter()
            .map(|(dir, opts)| {
                let b = build::build_handing_over(&files, dir, opts, hand);
                (dir.clone(), opts.clone(), Finished::of(b, &files))
            })
            .collect();
        // A kustomization no root reached (the kustomizations of a cycle use each other,
        // so none of them is a root) is rendered on its own, so its error is reported.
        // What a reached kustomization uses counts as reached: a chain cut at the depth
        // limit, or after an error, is reported once, by its root.
        let mut reached: HashSet<PathBuf> = built
            .iter()
            .flat_map(|(_, _, b)| b.used.iter())
            .filter_map(|id| files.get(*id).path.parent().map(Path::to_path_buf))
            .collect();
        let mut queue: Vec<PathBuf> = reached.iter().cloned().collect();
        while let Some(d) = queue.pop() {
            for u in self.uses.get(&d).into_iter().flatten() {
                if reached.insert(u.clone()) {
                    queue.push(u.clone());
                }
            }
        }
        let missed: Vec<PathBuf> = self
            .others
            .into_iter()
            .filter(|d| !reached.contains(d))
            .collect();
        built.extend(
            missed
                .par_iter()
                .map(|dir| {
                    let opts = Options {
                        helm: self.helm.clone(),
                        network: self.network.clone(),
                        ..Options::default()
                    };
                    let b = build::build_handing_over(&files, dir, &opts, hand);
                    (dir.clone(), opts, Finished::of(b, &files))
                })
                .collect::<Vec<_>>(),
        );
        let mut stage = collect(files, built);
        stage.unmatched = self.unmatched;
        stage
    }
}

/// Renders `dirs` (each with how to build it) with `files`, as [`render`] does.
pub fn render_dirs(files: Files, dirs: &[(PathBuf, Options)]) -> Stage {
    let built: Vec<(PathBuf, Options, Finished)> = dirs
        .par_iter()
        .map(|(dir, opts)| {
            let b = build::build(&files, dir, opts);
            (dir.clone(), opts.clone(), Finished::of(b, &files))
        })
        .collect();
    collect(files, built)
}

/// A root's build, its objects as the run keeps them ([`crate::check::rendered::finish`]:
/// its CRDs defined, its large trees packed) as soon as it finishes: the roots that render
/// after it, and the checks beside them, do not find its trees still whole.
struct Finished {
    result: Result<(Vec<Rendered>, Vec<FoundCrd>), super::Error>,
    warnings: Vec<super::Warning>,
    used: BTreeSet<super::node::FileId>,
}

impl Finished {
    fn of(b: build::Built, files: &Files) -> Self {
        Finished {
            result: b.result.map(|resources| {
                let nodes = resources.into_iter().map(|r| r.node).collect();
                crate::check::rendered::finish(nodes, files)
            }),
            warnings: b.warnings,
            used: b.used,
        }
    }
}

fn collect(files: Files, built: Vec<(PathBuf, Options, Finished)>) -> Stage {
    // The files of the roots that rendered are checked through them; any other file a
    // root read is checked as a loose file, and keeps its documents for that check.
    let used: HashSet<PathBuf> = built
        .iter()
        .filter(|(_, _, b)| b.result.is_ok())
        .flat_map(|(_, _, b)| b.used.iter().map(|id| files.get(*id).path.clone()))
        .collect();
    files.forget_parsed();
    let mut read = Vec::with_capacity(built.len());
    let mut dirs = Vec::with_capacity(built.len());
    let mut out = Vec::with_capacity(built.len());
    for (dir, opts, b) in built {
        dirs.push((dir.clone(), opts));
        read.push(
            b.used
                .iter()
                .map(|id| files.get(*id).path.clone())
                .collect(),
        );
        let display: Arc<str> = files.display(&dir).into();
        let ((objects, crds), error) = match b.result {
            Ok(finished) => (finished, None),
            Err(e) => (Default::default(), Some(e)),
        };
        out.push(Root {
            dir: display,
            objects,
            error,
            warnings: b.warnings,
            remote: None,
            crds,
        });
    }
    Stage {
        files,
        roots: out,
        used,
        read,
        dirs,
        unmatched: Vec::new(),
    }
}

/// The files more than one root may read: named by the kustomizations of two roots, or
/// twice within one (each root counted through every kustomization it uses); with the
/// number of those namings, the reads the file's objects are kept for.
fn shared_files(
    roots: &[(PathBuf, Options)],
    uses: &Uses,
    names_of: &HashMap<PathBuf, Vec<PathBuf>>,
) -> HashMap<PathBuf, u32> {
    let mut reads: HashMap<&Path, u32> = HashMap::new();
    for (root, _) in roots {
        let mut seen: HashSet<&Path> = HashSet::new();
        let mut queue: Vec<&Path> = vec![root];
        while let Some(dir) = queue.pop() {
            if !seen.insert(dir) {
                continue;
            }
            for file in names_of.get(dir).into_iter().flatten() {
                *reads.entry(file).or_default() += 1;
            }
            queue.extend(uses.get(dir).into_iter().flatten().map(PathBuf::as_path));
        }
    }
    reads
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(f, n)| (f.to_path_buf(), n))
        .collect()
}

/// What each kustomization directory uses (bases, components).
type Uses = HashMap<PathBuf, Vec<PathBuf>>;

/// What the inputs say about rendering ([`find_roots`]).
struct Found {
    /// The directories to render, each with how to build it, sorted.
    roots: Vec<(PathBuf, Options)>,
    /// Every kustomization directory of the run.
    kustomizations: BTreeSet<PathBuf>,
    uses: Uses,
    /// See [`Plan::named`].
    named: HashSet<PathBuf>,
    /// The files each kustomization directory names.
    names_of: HashMap<PathBuf, Vec<PathBuf>>,
    /// See [`Plan::charts`].
    charts: BTreeSet<PathBuf>,
}

fn find_roots(inputs: &[Input<'_>], confine: &Path) -> Found {
    let mut roots: BTreeMap<PathBuf, Options> = BTreeMap::new();
    let mut kustomizations: BTreeSet<PathBuf> = BTreeSet::new();
    let mut used: HashSet<PathBuf> = HashSet::new();
    let mut uses: Uses = HashMap::new();
    let mut named: HashSet<PathBuf> = HashSet::new();
    let mut names_of: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
    let mut charts: BTreeSet<PathBuf> = BTreeSet::new();
    let mut globs: Vec<String> = Vec::new();
    // Each input looked at in parallel (every file is searched for GitOps objects), then
    // the findings joined in input order.
    let seen: Vec<Seen> = inputs.par_iter().map(|i| look_at(i, confine)).collect();
    for s in seen {
        match s {
            Seen::Nothing => {}
            Seen::Kustomization {
                dir,
                bases,
                file,
                names,
                charts: c,
            } => {
                named.insert(file);
                named.extend(names.iter().cloned());
                names_of.entry(dir.clone()).or_default().extend(names);
                charts.extend(c);
                for b in bases {
                    used.insert(b.clone());
                    uses.entry(dir.clone()).or_default().push(b);
                }
                kustomizations.insert(dir);
            }
            Seen::GitOps {
                dirs,
                flux,
                globs: g,
            } => {
                for dir in dirs {
                    roots.insert(
                        dir,
                        Options {
                            restrict_to_root: !flux,
                            ..Options::default()
                        },
                    );
                }
                globs.extend(g);
            }
        }
    }
    // ApplicationSet Git generators: each kustomization directory a glob matches (Argo
    // CD matches them as Go's path.Match does: `*` stays within a directory).
    for g in &globs {
        let Ok(m) = dir_glob(g).map(|g| g.compile_matcher()) else {
            continue;
        };
        for dir in &kustomizations {
            if m.is_match(&*Select::relative(dir, confine)) {
                roots.entry(dir.clone()).or_default();
            }
        }
    }
    for dir in &kustomizations {
        if !used.contains(dir) {
            roots.entry(dir.clone()).or_default();
        }
    }
    Found {
        roots: roots.into_iter().collect(),
        kustomizations,
        uses,
        named,
        names_of,
        charts,
    }
}

/// What one input says about roots.
enum Seen {
    Nothing,
    /// A kustomization, the directories it uses (bases, components), its own canonical
    /// path and those of the files its strings name.
    Kustomization {
        dir: PathBuf,
        bases: Vec<PathBuf>,
        file: PathBuf,
        names: Vec<PathBuf>,
        /// The chart directories its `helmCharts` render.
        charts: Vec<PathBuf>,
    },
    /// GitOps objects: the kustomization directories they point at, whether Flux builds
    /// them, and ApplicationSet directory globs.
    GitOps {
        dirs: Vec<PathBuf>,
        flux: bool,
        globs: Vec<String>,
    },
}

fn look_at(input: &Input<'_>, confine: &Path) -> Seen {
    let name = input
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let owned;
    let bytes = match input.bytes {
        Some(b) => b,
        // Under --changed-only, unchanged kustomizations are read here.
        None if FILE_NAMES.contains(&name) => {
            match crate::read::read(input.path, Limits::default().max_file_size) {
                Ok(b) => {
                    owned = b;
                    &owned
                }
                Err(_) => return Seen::Nothing,
            }
        }
        None => return Seen::Nothing,
    };
    if FILE_NAMES.contains(&name) {
        let Some(dir) = input.path.parent().map(canonical) else {
            return Seen::Nothing;
        };
        let text = String::from_utf8_lossy(bytes);
        let (docs, _) = parse::yaml::parse(&text, &Limits::default());
        let mut bases = Vec::new();
        let mut names = Vec::new();
        let mut charts = Vec::new();
        for doc in &docs {
            named_files(&doc.value, &dir, &mut names);
            charts.extend(super::helmcharts::chart_dirs(&doc.value, &dir));
        }
        for doc in docs {
            for key in ["resources", "bases", "components"] {
                for entry in doc
                    .value
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let p = dir.join(entry);
                    // A kustomization listing its own directory uses nothing else.
                    if crate::canonical::found(&p).is_dir() && canonical(&p) != dir {
                        bases.push(canonical(&p));
                    }
                }
            }
        }
        return Seen::Kustomization {
            file: canonical(input.path),
            dir,
            bases,
            names,
            charts,
        };
    }
    let flux = contains(bytes, b"kustomize.toolkit.fluxcd.io");
    if !flux && !contains(bytes, b"argoproj.io") {
        return Seen::Nothing;
    }
    let mut globs = Vec::new();
    let dirs = gitops_paths(bytes, confine, &mut globs)
        .into_iter()
        .filter(|d| has_kustomization(d))
        .collect();
    Seen::GitOps { dirs, flux, globs }
}

/// The files that the strings of a kustomization name, in any field (`resources`,
/// patches, generators' `key=path` sources, replacements…), relative to its directory:
/// more than the render reads, never less (see [`Plan::may_read`]).
fn named_files(value: &Value, dir: &Path, out: &mut Vec<PathBuf>) {
    match value {
        Value::String(s) => {
            if s.is_empty() || s.len() > 4096 || s.contains('\n') || s.contains("://") {
                return;
            }
            let after_key = s.split_once('=').map(|(_, path)| path);
            for path in std::iter::once(s.as_str()).chain(after_key) {
                // Most strings name nothing: one `stat` says so.
                let full = dir.join(path);
                if crate::canonical::found(&full).is_file()
                    && let Ok(c) = crate::canonical::canonicalize(&full)
                {
                    out.push(c);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| named_files(v, dir, out)),
        Value::Object(map) => map.values().for_each(|v| named_files(v, dir, out)),
        _ => {}
    }
}

/// `source.path` and `sources[].path` of an Argo CD application spec.
fn source_paths<'v>(spec: Option<&'v Value>, out: &mut Vec<&'v str>) {
    let Some(spec) = spec else { return };
    out.extend(spec.pointer("/source/path").and_then(Value::as_str));
    for s in spec
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(s.get("path").and_then(Value::as_str));
    }
}

/// The `git.directories[].path` globs (not those marked `exclude`) of ApplicationSet
/// generators, nested ones included.
fn git_directories(generators: Option<&Value>, out: &mut Vec<String>) {
    let Some(generators) = generators.and_then(Value::as_array) else {
        return;
    };
    for g in generators {
        for d in g
            .pointer("/git/directories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if d.get("exclude").and_then(Value::as_bool) != Some(true)
                && let Some(p) = d.get("path").and_then(Value::as_str)
                && !p.contains("{{")
            {
                out.push(p.to_owned());
            }
        }
        for nested in ["matrix", "merge"] {
            git_directories(g.pointer(&format!("/{nested}/generators")), out);
        }
    }
}

/// The directories Flux `Kustomization` and Argo CD `Application`/`ApplicationSet` objects
/// in a file point at, below `confine` (the repository); directory globs of ApplicationSet
/// Git generators go to `globs`.
fn gitops_paths(bytes: &[u8], confine: &Path, globs: &mut Vec<String>) -> Vec<PathBuf> {
    // `from_utf8` first: on valid UTF-8 it is faster than the lossy decoder (which showed in
    // profiles of an Argo CD `install.yaml` of megabytes, which comes through here).
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    // Only the documents that may be GitOps objects are parsed: an Argo CD `install.yaml`
    // mentions `argoproj.io` in every CRD and role, and is parsed in full by the check.
    let wanted = ["Application", "Kustomization"];
    let docs = parse::documents_maybe_of_kind(&text, &wanted)
        .into_iter()
        .flat_map(|piece| parse::yaml::parse(piece, &Limits::default()).0);
    let mut out = Vec::new();
    for doc in docs {
        let v = &doc.value;
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        let mut paths: Vec<&str> = Vec::new();
        if api.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization" {
            paths.extend(v.pointer("/spec/path").and_then(Value::as_str));
        } else if api.starts_with("argoproj.io/") && kind == "Application" {
            source_paths(v.get("spec"), &mut paths);
        } else if api.starts_with("argoproj.io/") && kind == "ApplicationSet" {
            // The template's path when it is literal; the Git directory generator's paths
            // (globs, at any depth of matrix and merge generators) name the directories.
            source_paths(v.pointer("/spec/template/spec"), &mut paths);
            paths.retain(|p| !p.contains("{{"));
            git_directories(v.pointer("/spec/generators"), globs);
        }
        for p in paths {
            let p = p.trim_start_matches("./");
            let dir = confine.join(p);
            let c = canonical(&dir);
            if c.starts_with(confine) && c.is_dir() {
                out.push(c);
            }
        }
    }
    out
}

fn has_kustomization(dir: &Path) -> bool {
    FILE_NAMES
        .iter()
        .any(|n| crate::canonical::found(&dir.join(n)).is_file())
}

fn canonical(p: &Path) -> PathBuf {
    crate::canonical::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two overlays of one base: the base's file is read by both roots and kept for them;
    /// each overlay's own file is handed to its root alone. Both render the base's object.
    #[test]
    fn files_of_a_shared_base_are_kept_for_every_root_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        };
        let object = |name: &str| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n")
        };
        let paths = [
            write("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            write("base/cm.yaml", &object("base")),
            write(
                "overlays/a/kustomization.yaml",
                "resources: [../../base, own.yaml]\n",
            ),
            write("overlays/a/own.yaml", &object("a")),
            write(
                "overlays/b/kustomization.yaml",
                "namePrefix: b-\nresources: [../../base, own.yaml]\n",
            ),
            write("overlays/b/own.yaml", &object("b")),
        ];
        let bytes: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let inputs: Vec<Input<'_>> = paths
            .iter()
            .zip(&bytes)
            .map(|(path, b)| Input {
                path,
                bytes: Some(b),
            })
            .collect();
        let plan = plan(&inputs, &root, &Select::default());
        let mut shared: Vec<(&PathBuf, &u32)> = plan.shared.iter().collect();
        shared.sort();
        assert_eq!(shared, [(&root.join("base/cm.yaml"), &2)]);
        let stage = plan.build(Files::new(&root, Limits::default()));
        let names: Vec<Vec<String>> = stage
            .roots
            .iter()
            .map(|r| {
                r.objects
                    .iter()
                    .map(|o| {
                        o.node()
                            .path(&["metadata", "name"])
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(names, [vec!["a", "base"], vec!["b-b", "b-base"]]);
        assert!(stage.roots.iter().all(|r| r.error.is_none()));
    }

    /// A large CRD a root renders is packed as the root finishes, its definition taken
    /// first; unpacked, it is the rendered tree, its patched field still placed in the
    /// patch.
    #[test]
    fn a_large_rendered_crd_is_packed_with_its_definition_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let mut props = String::new();
        for i in 0..200 {
            props += &format!(
                "                f{i}:\n                  type: string\n                  description: field {i}\n"
            );
        }
        let crd = format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n\
             \x20 names:\n    kind: Widget\n    plural: widgets\n  scope: Namespaced\n\
             \x20 versions:\n  - name: v1\n    served: true\n    storage: true\n\
             \x20   schema:\n      openAPIV3Schema:\n        type: object\n\
             \x20       properties:\n          spec:\n            type: object\n\
             \x20           properties:\n{props}"
        );
        std::fs::write(root.join("crd.yaml"), &crd).unwrap();
        let patch = "- op: add\n  path: /metadata/labels\n  value: {team: a}\n";
        std::fs::write(root.join("patch.yaml"), patch).unwrap();
        std::fs::write(
            root.join("kustomization.yaml"),
            "resources: [crd.yaml]\npatches:\n- path: patch.yaml\n  target: {kind: CustomResourceDefinition}\n",
        )
        .unwrap();
        let mut stage = render_dirs(
            Files::new(&root, Limits::default()),
            &[(root.clone(), Options::default())],
        );
        let r = &stage.roots[0];
        assert!(r.error.is_none(), "{:?}", r.error);
        assert!(matches!(r.objects[..], [Rendered::Packed(_)]));
        let node = r.objects[0].node();
        assert_eq!(
            node.path(&["spec", "names", "kind"])
                .and_then(crate::render::node::Node::as_str),
            Some("Widget")
        );
        let label = node.path(&["metadata", "labels", "team"]).unwrap();
        assert_eq!(
            stage.files.get(label.origin.file).path,
            root.join("patch.yaml")
        );
        assert_eq!(r.objects[0].count(), node.count());
        let found = crate::check::rendered::found_crds(&mut stage.roots);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at.start.line, 8);
        assert!(crate::check::rendered::found_crds(&mut stage.roots).is_empty());
    }
}
