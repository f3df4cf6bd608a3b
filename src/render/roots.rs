//! Which kustomizations a run renders, and rendering them.
//!
//! GitOps-aware first: a Flux `Kustomization` (`spec.path`) or an Argo CD `Application`
//! (`spec.source.path`, `spec.sources[].path`) that points at a directory of this repository
//! holding a kustomization makes it a root (Flux builds without kustomize's load
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

/// Finds the roots among `inputs` and renders them.
pub fn render(inputs: &[Input<'_>], confine: &Path, limits: Limits) -> Stage {
    let files = Files::new(confine, limits);
    let (roots, kustomizations, uses) = find_roots(inputs, confine);
    let mut built: Vec<(PathBuf, Options, build::Built)> = roots
        .par_iter()
        .map(|(dir, opts)| (dir.clone(), opts.clone(), build::build(&files, dir, opts)))
        .collect();
    // A kustomization no root reached (the kustomizations of a cycle use each other, so
    // none of them is a root) is rendered on its own, so its error is reported. What a
    // reached kustomization uses counts as reached: a chain cut at the depth limit, or
    // after an error, is reported once, by its root.
    let mut reached: HashSet<PathBuf> = built
        .iter()
        .flat_map(|(_, _, b)| b.used.iter())
        .filter_map(|id| files.get(*id).path.parent().map(Path::to_path_buf))
        .collect();
    let mut queue: Vec<PathBuf> = reached.iter().cloned().collect();
    while let Some(d) = queue.pop() {
        for u in uses.get(&d).into_iter().flatten() {
            if reached.insert(u.clone()) {
                queue.push(u.clone());
            }
        }
    }
    let missed: Vec<PathBuf> = kustomizations
        .into_iter()
        .filter(|d| !reached.contains(d) && !roots.iter().any(|(r, _)| r == d))
        .collect();
    built.extend(
        missed
            .par_iter()
            .map(|dir| {
                let opts = Options::default();
                let b = build::build(&files, dir, &opts);
                (dir.clone(), opts, b)
            })
            .collect::<Vec<_>>(),
    );
    collect(files, built)
}

/// Renders `dirs` (each with how to build it) with `files`, as [`render`] does.
pub fn render_dirs(files: Files, dirs: &[(PathBuf, Options)]) -> Stage {
    let built: Vec<(PathBuf, Options, build::Built)> = dirs
        .par_iter()
        .map(|(dir, opts)| (dir.clone(), opts.clone(), build::build(&files, dir, opts)))
        .collect();
    collect(files, built)
}

fn collect(files: Files, built: Vec<(PathBuf, Options, build::Built)>) -> Stage {
    let mut used = HashSet::new();
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
        let (objects, error) = match b.result {
            Ok(resources) => {
                for id in &b.used {
                    used.insert(files.get(*id).path.clone());
                }
                (resources.into_iter().map(|r| r.node).collect(), None)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        out.push(Root {
            dir: display,
            objects,
            error,
            warnings: b.warnings,
        });
    }
    Stage {
        files,
        roots: out,
        used,
        read,
        dirs,
    }
}

/// The directories to render, each with how to build it, sorted; and every kustomization
/// directory of the run.
/// What each kustomization directory uses (bases, components).
type Uses = HashMap<PathBuf, Vec<PathBuf>>;

fn find_roots(
    inputs: &[Input<'_>],
    confine: &Path,
) -> (Vec<(PathBuf, Options)>, BTreeSet<PathBuf>, Uses) {
    let mut roots: BTreeMap<PathBuf, Options> = BTreeMap::new();
    let mut kustomizations: BTreeSet<PathBuf> = BTreeSet::new();
    let mut used: HashSet<PathBuf> = HashSet::new();
    let mut uses: Uses = HashMap::new();
    for input in inputs {
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
                    Err(_) => continue,
                }
            }
            None => continue,
        };
        if FILE_NAMES.contains(&name) {
            let Some(dir) = input.path.parent().map(canonical) else {
                continue;
            };
            let text = String::from_utf8_lossy(bytes);
            let (docs, _) = parse::yaml::parse(&text, &Limits::default());
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
                        if p.is_dir() && canonical(&p) != dir {
                            used.insert(canonical(&p));
                            uses.entry(dir.clone()).or_default().push(canonical(&p));
                        }
                    }
                }
            }
            kustomizations.insert(dir);
        } else if contains(bytes, b"kustomize.toolkit.fluxcd.io") || contains(bytes, b"argoproj.io")
        {
            for dir in gitops_paths(bytes, confine) {
                let flux = contains(bytes, b"kustomize.toolkit.fluxcd.io");
                if has_kustomization(&dir) {
                    roots.insert(
                        dir,
                        Options {
                            restrict_to_root: !flux,
                        },
                    );
                }
            }
        }
    }
    for dir in &kustomizations {
        if !used.contains(dir) {
            roots.entry(dir.clone()).or_default();
        }
    }
    (roots.into_iter().collect(), kustomizations, uses)
}

/// The directories Flux `Kustomization` and Argo CD `Application` objects in a file point
/// at, below `confine` (the repository).
fn gitops_paths(bytes: &[u8], confine: &Path) -> Vec<PathBuf> {
    let text = String::from_utf8_lossy(bytes);
    let (docs, _) = parse::yaml::parse(&text, &Limits::default());
    let mut out = Vec::new();
    for doc in docs {
        let v = &doc.value;
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        let mut paths: Vec<&str> = Vec::new();
        if api.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization" {
            paths.extend(v.pointer("/spec/path").and_then(Value::as_str));
        } else if api.starts_with("argoproj.io/") && kind == "Application" {
            paths.extend(v.pointer("/spec/source/path").and_then(Value::as_str));
            for s in v
                .pointer("/spec/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                paths.extend(s.get("path").and_then(Value::as_str));
            }
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
    FILE_NAMES.iter().any(|n| dir.join(n).is_file())
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
