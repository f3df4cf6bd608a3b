//! The `check` run, stage by stage: the configuration (from the merge request's trusted
//! base when there is one), discovery, reading, rendering (kustomize roots), the checks of
//! loose files and rendered objects, configuration severities and suppressions, the
//! merge-request filters and change summary, then every report. `cli` only reads the flags.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::timings::{self, Stage};

use crate::check::{self, Loaded, Outcome};
use crate::cli::{
    CheckArgs, ColorChoice, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FailOn, diag, env_is,
    merge_config,
};
use crate::config;
use crate::discover::{self, Input};
use crate::finding::{Finding, Severity};
use crate::mr::{BaseFiles, FilterMode, MergeRequest};
use crate::parse::Limits;
use crate::report::{self, Context, Counts, Format};
use crate::schema::crd::Crds;
use crate::schema::{self, Catalog};

mod change;

/// The repository and the merge request's base, when a flag needs them or CI is running.
/// A flag that needs a base fails the run (exit 2) without one; in CI without such a flag,
/// no base simply means no merge-request features (a push build, say).
fn find_base(args: &CheckArgs) -> anyhow::Result<Option<(crate::git::Repo, crate::git::Base)>> {
    let needed = args.base.is_some()
        || args.changed_only
        || args.new_only
        || args.policies_from_base
        || args.filter_mode != FilterMode::Nofilter;
    let flag = if args.changed_only {
        "--changed-only"
    } else if args.new_only {
        "--new-only"
    } else if args.policies_from_base {
        "--policies-from-base"
    } else if args.base.is_some() {
        "--base"
    } else {
        "--filter-mode"
    };
    let in_ci = env_is("GITHUB_ACTIONS", "true") || env_is("GITLAB_CI", "true");
    let by_default = in_ci && !args.policies_from_head;
    if !needed && !by_default {
        return Ok(None);
    }
    let repo = match crate::git::Repo::discover(Path::new("."))? {
        Some(r) => r,
        None if needed => {
            anyhow::bail!("{flag} needs a Git repository, and the current directory is not in one")
        }
        None => return Ok(None),
    };
    let env = |name: &str| std::env::var(name).ok();
    match repo.detect_base(args.base.as_deref(), &env) {
        Ok(base) => Ok(Some((repo, base))),
        Err(e) if needed => Err(anyhow::anyhow!("{flag}: {e}")),
        Err(e) => {
            // A merge request whose base cannot be read checks with its own policies: say so.
            let in_merge_request = ["GITHUB_BASE_REF", "CI_MERGE_REQUEST_DIFF_BASE_SHA"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty()));
            if in_merge_request {
                diag(&format!(
                    "kubegate: warning: policies and config come from this checkout, not the \
                     merge request's base: {e}"
                ));
            }
            Ok(None)
        }
    }
}

/// The CRDs of `files` (in their order), the files not checked under `--changed-only`: only
/// those that name `CustomResourceDefinition` are parsed. A file that cannot be read or
/// parsed gives nothing: it is not under review.
fn crds_of_unchanged(
    files: &[std::path::PathBuf],
    limits: &crate::parse::Limits,
    pool: &rayon::ThreadPool,
) -> Crds {
    use rayon::prelude::*;
    let named: Vec<std::path::PathBuf> = pool.install(|| {
        files
            .par_iter()
            .filter(|p| {
                crate::read::read(p, limits.max_file_size).is_ok_and(|bytes| {
                    memchr::memmem::find(&bytes, b"CustomResourceDefinition").is_some()
                })
            })
            .cloned()
            .collect()
    });
    crate::schema::crd::read_files(&named, limits).0
}

/// What the run's charts were rendered from, to render them again at the merge request's
/// base (`--new-only`).
#[derive(Clone, Copy)]
struct ChartRenders<'a> {
    /// The chart directories (canonical).
    dirs: &'a [PathBuf],
    /// The files that may hold GitOps objects naming them.
    objects: &'a [PathBuf],
    opts: &'a crate::render::helm::Options,
}

impl ChartRenders<'_> {
    /// The same charts rendered at the merge request's base (materialized at `base_tree`),
    /// as the base has them; only the renderings that read one of `changed` (canonical
    /// paths at head) when given. `None` when the base has none of the charts.
    fn at_base(
        &self,
        mr: &MergeRequest,
        base_tree: &BaseFiles,
        pool: &rayon::ThreadPool,
        limits: &Limits,
        changed: Option<&[PathBuf]>,
    ) -> Option<crate::render::helm::Stage> {
        let root = mr.repo.root();
        let at_base = |p: &PathBuf| -> Option<PathBuf> {
            Some(base_tree.root.join(p.strip_prefix(root).ok()?))
        };
        let dirs: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter_map(at_base)
            .filter(|d| d.join("Chart.yaml").is_file())
            .filter_map(|d| crate::canonical::canonicalize(&d).ok())
            .collect();
        if dirs.is_empty() {
            return None;
        }
        let objects: Vec<PathBuf> = self
            .objects
            .iter()
            .filter_map(at_base)
            .filter(|p| p.is_file())
            .collect();
        let mut opts_at_base = self.opts.clone();
        let to_base = |p: &PathBuf| {
            let p = crate::canonical::canonicalize(p).unwrap_or_else(|_| p.clone());
            at_base(&p).unwrap_or(p)
        };
        for c in &mut opts_at_base.configured {
            c.chart = to_base(&c.chart);
            c.values = c.values.iter().map(to_base).collect();
        }
        if let Some(changed) = changed {
            opts_at_base.changed = Some(changed.to_vec());
        }
        if let Some(changed) = &mut opts_at_base.changed {
            *changed = changed
                .iter()
                .map(|p| {
                    let b = to_base(p);
                    crate::canonical::canonicalize(&b).unwrap_or(b)
                })
                .collect();
        }
        let files = crate::render::files::Files::new(&base_tree.root, limits.clone())
            .show_as(&base_tree.root, root);
        Some(pool.install(|| crate::render::helm::render(dirs, &objects, files, &opts_at_base)))
    }
}

/// `--new-only` and `--filter-mode`: drops the findings the merge request did not
/// introduce, then those outside the lines it touched, counting both.
#[allow(clippy::too_many_arguments)]
fn merge_request_filters(
    args: &CheckArgs,
    mr: &MergeRequest,
    checked: &[String],
    opts: &mut check::Options<'_>,
    pool: &rayon::ThreadPool,
    outcome: &mut Outcome,
    staged: Option<&crate::git::Repo>,
    stage: Option<&crate::render::roots::Stage>,
    charts: Option<ChartRenders<'_>>,
    admission: Option<(&check::admission::Prepared, &[check::admission::PolicyFile])>,
) -> anyhow::Result<()> {
    // What the admission policies say of the base's objects: their findings there existed
    // before the change too.
    let admission_at_base = |files: &[check::admission::AdmissionFile],
                             renders: &[check::admission::Render<'_>],
                             opts: &check::Options<'_>| {
        admission.map_or_else(Vec::new, |(prepared, policy_files)| {
            pool.install(|| {
                check::admission::judge(
                    prepared,
                    policy_files,
                    false,
                    files,
                    renders,
                    &Default::default(),
                    opts,
                )
            })
            .0
            .findings
        })
    };
    if args.new_only {
        // Findings on rendered objects compare with the base revision's render: a change
        // to an overlay can make a new finding at an unchanged line of its base.
        let (mut rendered, loose): (Vec<Finding>, Vec<Finding>) = outcome
            .findings
            .drain(..)
            .partition(|f| !f.rendered.is_empty());
        outcome.findings = loose;
        let mut existing = 0;
        let base_tree = if !rendered.is_empty() && (stage.is_some() || charts.is_some()) {
            Some(BaseFiles::materialize(
                &mr.repo,
                mr.base.merge_base,
                &[String::new()],
            )?)
        } else {
            None
        };
        let root = mr.repo.root();
        // The same charts rendered at the base, as the base has them.
        if let (Some(charts), Some(base_tree)) = (&charts, &base_tree)
            && let Some(base) = charts.at_base(mr, base_tree, pool, &opts.limits, None)
        {
            let base_outcome =
                pool.install(|| check::rendered::run(&base.roots, &base.files, opts));
            existing +=
                crate::mr::keep_new(&mut rendered, &base_outcome.findings, &|f| f.to_owned());
            let judged = admission_at_base(&[], &[(&base.roots, &base.files)], opts);
            existing += crate::mr::keep_new(&mut rendered, &judged, &|f| f.to_owned());
        }
        if let (Some(stage), Some(base_tree)) = (stage, &base_tree) {
            let files =
                crate::render::files::Files::new(&base_tree.root, stage.files.limits.clone())
                    .show_as(&base_tree.root, root);
            let dirs: Vec<_> = stage
                .dirs
                .iter()
                .filter_map(|(dir, o)| {
                    let rel = dir.strip_prefix(root).ok()?;
                    let at_base = base_tree.root.join(rel);
                    at_base.is_dir().then(|| (at_base, o.clone()))
                })
                .collect();
            let mut base = crate::render::roots::render_dirs(files, &dirs);
            // The base render's CRDs first, then the run's.
            let mut crds = Crds::default();
            let found = check::rendered::found_crds(&mut base.roots);
            check::add_crds(&mut crds, found, &mut Vec::new());
            if let Some(given) = opts.crds {
                crds.extend_from(given);
            }
            let opts = check::Options {
                crds: Some(&crds),
                ..opts.clone()
            };
            let base_outcome =
                pool.install(|| check::rendered::run(&base.roots, &base.files, &opts));
            existing +=
                crate::mr::keep_new(&mut rendered, &base_outcome.findings, &|f| f.to_owned());
            let judged = admission_at_base(&[], &[(&base.roots, &base.files)], &opts);
            existing += crate::mr::keep_new(&mut rendered, &judged, &|f| f.to_owned());
        }
        // Findings in files the change does not touch existed before it.
        let changed: std::collections::HashSet<&str> = checked
            .iter()
            .map(String::as_str)
            .filter(|d| mr.is_changed(d))
            .collect();
        let before = outcome.findings.len();
        outcome.findings.retain(|f| changed.contains(&*f.file));
        existing += before - outcome.findings.len();
        // The base version of each changed file, under its current name, so a renamed
        // file's findings compare with their old selves.
        let mut base: Vec<Loaded> = changed
            .iter()
            .filter_map(|d| {
                let (_, bytes) = mr.base_text(d)?;
                Some(Loaded {
                    input: Input::Stdin {
                        display: (*d).to_owned(),
                    },
                    bytes: Ok(bytes),
                    parsed: None,
                })
            })
            .collect();
        // Deleted manifests were part of the base too: the rules that compare objects
        // (a Service and the Deployment it selects) must see them there.
        let manifest = |p: &str| [".yaml", ".yml", ".json"].iter().any(|e| p.ends_with(e));
        for (path, oid) in mr.changes.deleted.iter().filter(|(p, _)| manifest(p)) {
            if let Ok(bytes) = mr.repo.blob(*oid) {
                base.push(Loaded {
                    input: Input::Stdin {
                        display: format!("(deleted) {path}"),
                    },
                    bytes: Ok(bytes),
                    parsed: None,
                });
            }
        }
        opts.kustomize = check::kustomize_files(&base);
        let mut base_outcome = pool.install(|| check::run(base, opts));
        check::finish(&mut base_outcome, args.reject_missing_schemas);
        existing += crate::mr::keep_new(&mut outcome.findings, &base_outcome.findings, &|f| {
            f.to_owned()
        });
        let judged = admission_at_base(&base_outcome.admission, &[], opts);
        existing += crate::mr::keep_new(&mut outcome.findings, &judged, &|f| f.to_owned());
        outcome.findings.extend(rendered);
        outcome.stats.existing = existing;
    }
    if args.filter_mode != FilterMode::Nofilter {
        let mut lines = crate::mr::ChangedLines::new(mr, staged.filter(|_| args.staged));
        let before = outcome.findings.len();
        outcome.findings.retain(|f| {
            let changed = lines.of(&f.file);
            crate::mr::passes(args.filter_mode, f.start.line, f.end.line, changed)
        });
        outcome.stats.outside_diff = before - outcome.findings.len();
    }
    Ok(())
}

/// Where the render may read: the repository of each checked path (the path itself when it
/// is in none), and the directory holding them all when they are in several.
fn confinement(paths: &[String]) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut common: Option<PathBuf> = None;
    for p in paths.iter().filter(|p| p.as_str() != "-") {
        let path = Path::new(p).canonicalize().unwrap_or_else(|_| cwd.join(p));
        let dir = if path.is_dir() {
            path.clone()
        } else {
            path.parent()
                .map_or_else(|| path.clone(), Path::to_path_buf)
        };
        let top = match crate::git::Repo::discover(&dir) {
            Ok(Some(repo)) => repo.root().canonicalize().unwrap_or(dir),
            _ => dir,
        };
        common = Some(match common {
            None => top,
            Some(c) => c
                .ancestors()
                .find(|a| top.starts_with(a))
                .map_or(c.clone(), Path::to_path_buf),
        });
    }
    common.unwrap_or(cwd)
}

/// Runs `check`; returns the exit code.
pub fn run_check(args: &CheckArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    // What an earlier run in this process learnt of the file system may no longer hold.
    crate::canonical::forget();
    if args.timings {
        crate::timings::enable();
    }
    let git = find_base(args)?;
    // Policies from the trusted base: asked for, or by default in CI once a base is known.
    let in_ci = env_is("GITHUB_ACTIONS", "true") || env_is("GITLAB_CI", "true");
    let from_base = git.is_some() && !args.policies_from_head && (args.policies_from_base || in_ci);
    let mut base_files: Option<BaseFiles> = None;
    // Repository-relative paths of the gate's own files, to flag when the change edits them.
    let mut gate_files: Vec<String> = Vec::new();
    let cfg = if args.no_config {
        None
    } else if let (true, Some((repo, base))) = (from_base, &git) {
        let rel = match &args.config {
            Some(p) => repo.relative(p),
            None => config::FILE_NAMES
                .iter()
                .filter_map(|n| repo.relative(Path::new(n)))
                .find(|rel| repo.files_at(base.commit, rel).is_ok_and(|f| !f.is_empty())),
        };
        let files = BaseFiles::materialize(repo, base.commit, rel.as_slice())?;
        let loaded = match &rel {
            Some(rel) if files.written.contains(rel) => {
                // Errors name the base's file (`base:.kubegate.yaml`), never the copy.
                let mut loaded = config::load_as(&files.path(rel), &format!("base:{rel}"))?;
                // Its paths name files of the repository, relative to the config's place
                // there: the policies and data are read at the base below, the CRDs and
                // schema locations from the checkout, as the checked files are.
                if let Some(dir) = repo.root().join(rel).parent() {
                    loaded.dir = dir.to_path_buf();
                }
                Some(loaded)
            }
            _ => None,
        };
        // A configuration the merge request adds is the gate's file too: unused, and said.
        match rel {
            Some(rel) => gate_files.push(rel),
            None => gate_files.extend(match &args.config {
                Some(p) => repo.relative(p).into_iter().collect::<Vec<_>>(),
                None => config::FILE_NAMES
                    .iter()
                    .filter_map(|n| repo.relative(Path::new(n)))
                    .collect(),
            }),
        }
        base_files = Some(files);
        loaded
    } else {
        let found = config::find(args.config.as_deref(), Path::new("."));
        if let (Some(p), Some((repo, _))) = (&found, &git) {
            gate_files.extend(repo.relative(p));
        }
        found.map(|p| config::load(&p)).transpose()?
    };
    // Which list the exclude globs come from, for the warning on one that matches nothing.
    let excludes_from = if args.exclude.is_empty() {
        "config exclude"
    } else {
        "--exclude"
    };
    let merged;
    let args = match &cfg {
        Some(c) => {
            merged = merge_config(args, c)?;
            &merged
        }
        None => args,
    };
    // The policy and data paths, at the base when policies come from there.
    let mut policy_dirs = args.policy.clone();
    let mut data_dirs = args.data.clone();
    if let Some((repo, base)) = &git {
        for dirs in [&mut policy_dirs, &mut data_dirs] {
            let rels: Vec<String> = dirs
                .iter()
                .filter_map(|d| match &base_files {
                    Some(f) if d.starts_with(&f.root) => d
                        .strip_prefix(&f.root)
                        .ok()
                        .map(|r| r.to_string_lossy().replace('\\', "/")),
                    _ => repo.relative(d),
                })
                .collect();
            gate_files.extend(rels.iter().cloned());
            if from_base {
                // Also under --no-config: the policies must still come from the base.
                let files = match &mut base_files {
                    Some(f) => f,
                    slot @ None => slot.insert(BaseFiles::materialize(repo, base.commit, &[])?),
                };
                files.add(repo, base.commit, &rels)?;
                // A directory the base does not have holds no trusted policy.
                *dirs = rels
                    .iter()
                    .map(|r| files.path(r))
                    .filter(|p| p.exists())
                    .collect();
            }
        }
    }
    let version = match &args.kubernetes_version {
        None => schema::default_version(),
        Some(v) => schema::normalize_version(v).ok_or_else(|| {
            let known: Vec<_> = schema::VERSIONS.iter().map(|(v, _)| *v).collect();
            anyhow::anyhow!(
                "unknown --kubernetes-version `{v}`; this build has schemas for {}",
                known.join(", ")
            )
        })?,
    };
    // Checked before anything is read: a URL or a template kubegate cannot follow is a
    // usage error.
    let locations = crate::schema::location::Locations::new(
        &args.schema_location,
        args.kubernetes_version.as_deref(),
        args.max_file_size,
    )?
    .map(std::sync::Arc::new);
    if let Some(0) = args.jobs {
        anyhow::bail!("--jobs must be at least 1");
    }
    // The built-in rules compile (about 50 ms) while the files are found and read.
    let pending_builtins = if args.no_builtin_rules {
        None
    } else {
        let rules = cfg.as_ref().map(|c| c.config.rules.clone());
        Some(std::thread::spawn(move || {
            timings::measure(Stage::CompileRules, || {
                crate::policy::Builtins::load(|r| {
                    rules.as_ref().is_none_or(|rules| {
                        (rules.enable.is_empty()
                            || rules.enable.iter().any(|s| config::selects(s, r)))
                            && !rules.disable.iter().any(|s| config::selects(s, r))
                    })
                })
            })
        }))
    };
    // And the embedded schemas are loaded (about 5 ms): `Catalog::get` below waits for it.
    if !args.no_schema {
        std::thread::spawn(move || {
            let _ = Catalog::get(version);
        });
    }
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        // Deeply nested documents recurse in validation; give workers room.
        .stack_size(16 * 1024 * 1024)
        .build()?;

    let limits = Limits {
        max_file_size: args.max_file_size,
        ..Limits::default()
    };
    let staged_repo = match (&git, args.staged) {
        (_, false) | (Some(_), true) => None,
        (None, true) => Some(crate::git::Repo::discover(Path::new("."))?.ok_or_else(|| {
            anyhow::anyhow!(
                "--staged needs a Git repository, and the current directory is not in one"
            )
        })?),
    };
    let found = timings::measure(Stage::Discover, || {
        discover::discover(&discover::Options {
            paths: &args.paths,
            excludes: &args.exclude,
            excludes_from,
            stdin_filename: args.stdin_filename.as_deref(),
            threads,
            // The repository already open, so that its index is read once.
            repo: git.as_ref().map(|(repo, _)| repo).or(staged_repo.as_ref()),
        })
    })?;
    let mut found = found;
    // The network, when hosts are allowed (from the trusted configuration in CI). Charts it
    // unpacks into a cache inside the checked paths are not manifests of the repository.
    let network = network(args, &limits)?;
    if let Some(cache) = network
        .as_ref()
        .and_then(|n| crate::canonical::canonicalize(&n.cache).ok())
    {
        found.inputs.retain(|i| match i {
            Input::File { path, .. } => {
                !crate::canonical::canonicalize(path).is_ok_and(|p| p.starts_with(&cache))
            }
            Input::Stdin { .. } => true,
        });
    }
    let mr = match git {
        Some((repo, base)) => {
            let rels: Vec<String> = found
                .inputs
                .iter()
                .filter_map(|i| match i {
                    Input::File { path, .. } => repo.relative(path),
                    Input::Stdin { .. } => None,
                })
                .collect();
            let changes = repo.changes(base.merge_base, &rels)?;
            Some(MergeRequest {
                repo,
                base,
                changes,
                read_limit: limits.max_file_size,
            })
        }
        None => None,
    };
    // Every chart of the run, found from the paths before --changed-only keeps the changed
    // files: a chart renders whole, whichever of its files changed.
    let chart_dirs: Vec<PathBuf> = if args.no_render {
        Vec::new()
    } else {
        let files: Vec<PathBuf> = found
            .inputs
            .iter()
            .filter_map(|i| match i {
                Input::File { path, .. } if path.ends_with("Chart.yaml") => {
                    crate::canonical::canonicalize(path).ok()
                }
                _ => None,
            })
            .collect();
        crate::render::helm::charts_of(&files)
    };
    // Under --changed-only, every kustomization still decides which overlays a change
    // reaches: a changed base re-renders each overlay of it.
    let mut kustomization_files: Vec<std::path::PathBuf> = Vec::new();
    // And the CRDs of unchanged files still validate the changed custom resources.
    let mut unchanged_manifests: Vec<std::path::PathBuf> = Vec::new();
    if let (true, Some(mr)) = (args.changed_only, &mr) {
        found.inputs.retain(|i| match i {
            Input::File { display, path } => {
                let changed = mr.is_changed(display);
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !changed && crate::render::kustomization::FILE_NAMES.contains(&name) {
                    kustomization_files.push(path.clone());
                } else if !changed {
                    unchanged_manifests.push(path.clone());
                }
                changed
            }
            Input::Stdin { .. } => true,
        });
    }
    // The displays of the files checked, for --new-only's second look at the base.
    let checked: Vec<String> = found
        .inputs
        .iter()
        .filter(|i| matches!(i, Input::File { .. }))
        .map(|i| i.display().to_owned())
        .collect();
    let staged_from = mr.as_ref().map(|m| &m.repo).or(staged_repo.as_ref());
    let mut run_failed = false;
    for e in &found.errors {
        if e.fatal {
            run_failed = true;
            diag(&format!(
                "kubegate: error: {}: {}",
                report::one_line(&e.path),
                e.message
            ));
        } else {
            diag(&format!(
                "kubegate: warning: {}: {}",
                report::one_line(&e.path),
                e.message
            ));
        }
    }
    let outputs = outputs(args)?;
    // FIFOs, sockets and devices the walk skipped: counted in the summary.
    let special_files = found.special;
    let loaded: Vec<Loaded> = found
        .inputs
        .into_iter()
        .map(|input| match input {
            Input::Stdin { .. } => Loaded {
                bytes: read_stdin(limits.max_file_size),
                input,
                parsed: None,
            },
            // A pre-commit hook checks what is staged, not the worktree.
            Input::File { ref path, .. } if args.staged => {
                let bytes = match staged_from.map(|r| (r, r.relative(path))) {
                    Some((repo, Some(rel))) => match repo.staged(&rel) {
                        Ok(Some(b)) => Ok(b),
                        Ok(None) => Err("not staged: the index has no such file".to_owned()),
                        Err(e) => Err(format!("{e:#}")),
                    },
                    _ => Err("outside the repository: no staged content".to_owned()),
                };
                Loaded {
                    input: Input::Stdin {
                        display: input.display().to_owned(),
                    },
                    bytes,
                    parsed: None,
                }
            }
            Input::File { .. } => Loaded {
                input,
                bytes: Ok(Vec::new()),
                parsed: None,
            },
        })
        .collect();
    // Files are read in parallel while the built-in rules compile; stdin was read above.
    let mut loaded = pool.install(|| rayon_load(loaded, &limits));
    let catalog = if args.no_schema {
        None
    } else {
        Some(Catalog::get(version)?)
    };
    // While the rules still compile, the files to be checked as they are start parsing.
    // Both look at every file: on the pool's threads, which would wait otherwise.
    let kustomize = pool.install(|| check::kustomize_files(&loaded));
    // The admission policies of the repository: read from the files that name their API
    // groups (at the base, when policies come from there) and the --policy directories.
    let may_hold: Vec<bool> = pool.install(|| {
        use rayon::prelude::*;
        loaded
            .par_iter()
            .map(|l| {
                matches!((&l.input, &l.bytes), (Input::File { .. }, Ok(bytes))
                    if crate::admission::may_hold_policy(bytes))
            })
            .collect()
    });
    let admission_files = admission_policy_files(
        &loaded,
        &may_hold,
        &unchanged_manifests,
        &policy_dirs,
        base_files.as_ref(),
        mr.as_ref().filter(|_| from_base),
        &kustomize,
        &mut gate_files,
        limits.max_file_size,
    );
    let admission_prepared = check::admission::prepare(&admission_files, &limits);
    if let Some(loading) = &pending_builtins
        && !loading.is_finished()
    {
        pool.install(|| {
            check::parse_ahead(&mut loaded, &kustomize, &limits, || !loading.is_finished())
        });
    }
    let builtins = match pending_builtins {
        None => None,
        Some(loading) => Some(
            loading
                .join()
                .map_err(|_| anyhow::anyhow!("compiling the built-in rules panicked"))??,
        ),
    };
    // A --policy directory may hold admission policies only (YAML, no Rego): it is not one
    // of Rego policies then. One with neither is still an error of the Rego loader.
    let rego_dirs: Vec<PathBuf> = policy_dirs
        .iter()
        .filter(|d| {
            let shown = d.to_string_lossy().replace('\\', "/");
            let admission_only = admission_files.iter().any(|f| {
                f.file.starts_with(shown.trim_start_matches("./"))
                    || base_files.as_ref().is_some_and(|b| {
                        d.strip_prefix(&b.root)
                            .is_ok_and(|rel| f.file.starts_with(&*rel.to_string_lossy()))
                    })
            }) && !has_rego(d);
            !admission_only
        })
        .cloned()
        .collect();
    let user = if rego_dirs.is_empty() {
        if args.policy.is_empty() && !args.data.is_empty()
            || !args.namespace.is_empty()
            || args.all_namespaces
            || args.policy.is_empty() && !args.policy_env.is_empty()
        {
            anyhow::bail!("--data, --namespace, --all-namespaces and --policy-env need --policy");
        }
        None
    } else {
        Some(crate::policy::user::UserPolicies::load(
            &crate::policy::user::Options {
                policy_dirs: rego_dirs,
                data_dirs: data_dirs.clone(),
                namespaces: args.namespace.clone(),
                all_namespaces: args.all_namespaces,
                rego_v0: args.rego_v0,
                policy_env: args.policy_env.clone(),
            },
        )?)
    };
    // Every CRD of the run: the files', the render's, then those given.
    let mut crds = Crds::default();
    let given = if args.crds.is_empty() || args.no_schema {
        None
    } else {
        let (given, warnings) = crate::schema::crd::load(&args.crds, &limits)?;
        for w in warnings {
            diag(&format!("kubegate: warning: {}", report::one_line(&w)));
        }
        Some(given)
    };
    // The changed files at the base: CRD transition rules compare with their objects, and
    // the admission policies see their objects as UPDATEs.
    let old_objects = mr
        .as_ref()
        .filter(|_| !args.no_schema || admission_prepared.is_some())
        .map(|mr| crate::mr::OldObjects::of(mr, &checked));
    let mut opts = check::Options {
        catalog,
        crds: None,
        old: old_objects.as_ref(),
        builtins: builtins.as_ref(),
        user: user.as_ref(),
        reject_missing_schemas: args.reject_missing_schemas,
        limits: limits.clone(),
        // Human snippets show the lines; rdjson counts columns in bytes of the line.
        keep_sources: outputs
            .iter()
            .any(|(f, _)| matches!(f, Format::Human | Format::Rdjson)),
        kustomize: Default::default(),
        inline_suppressions: !args.no_inline_suppressions,
        peer_annotations: cfg
            .as_ref()
            .map(|c| c.config.migration.peers())
            .unwrap_or_default(),
        combine: args.combine,
        admission: admission_prepared.as_ref().map(|p| &p.wants),
    };
    // kustomizations are rendered, and the files they use are checked through them.
    let select = match &cfg {
        Some(c) => {
            crate::render::roots::Select::new(&c.config.render.roots, &c.config.render.exclude)
                .map_err(|e| anyhow::anyhow!("{}: {e}", c.file))?
        }
        None => Default::default(),
    };
    let confine = match &mr {
        Some(mr) => mr.repo.root().to_path_buf(),
        None => confinement(&args.paths),
    };
    // The charts, rendered by the user's helm: a --helm that is not there is a usage error.
    if let Some(h) = &args.helm
        && !h.is_file()
    {
        anyhow::bail!("--helm {}: no such file", h.display());
    }
    let helm_opts = crate::render::helm::Options {
        network: network.clone(),
        helm: crate::render::helm::run::find(args.helm.as_deref()),
        timeout: std::time::Duration::from_secs(args.helm_timeout),
        kube_version: format!("{version}.0"),
        max_output: limits.max_file_size,
        configured: args.helm_renderings.clone(),
        // Under --changed-only, what a changed file reaches: a changed chart, values file or
        // GitOps object re-renders each rendering reading it.
        changed: match (&mr, args.changed_only) {
            (Some(mr), true) => Some(
                mr.changes
                    .files
                    .keys()
                    .filter_map(|rel| {
                        crate::canonical::canonicalize(&mr.repo.root().join(rel)).ok()
                    })
                    .collect(),
            ),
            _ => None,
        },
    };
    for c in &args.helm_renderings {
        if !c.chart.join("Chart.yaml").is_file() {
            diag(&format!(
                "kubegate: warning: configuration `helm:` names {}, which is not a chart (no \
                 Chart.yaml): not rendered",
                c.chart.display()
            ));
        }
    }
    // The files that may hold a HelmRelease or an Application naming a chart, or the
    // ConfigMaps and Secrets their `valuesFrom` names; under --changed-only the unchanged
    // files too, since a changed chart re-renders as they ask.
    // With the network on, a HelmRelease may name a chart of a chart repository: the helm
    // stage runs even without a chart in the repository.
    let remote_charts = network.is_some() && helm_opts.helm.is_some() && !args.no_render;
    let gitops_objects: Vec<PathBuf> = if chart_dirs.is_empty() && !remote_charts {
        Vec::new()
    } else {
        let mut all: Vec<PathBuf> = loaded
            .iter()
            .filter_map(|l| match (&l.input, &l.bytes) {
                (Input::File { path, .. }, Ok(bytes))
                    if [
                        &b"HelmRelease"[..],
                        b"HelmRepository",
                        b"HelmChart",
                        b"OCIRepository",
                        b"Application",
                        b"ConfigMap",
                        b"Secret",
                    ]
                    .iter()
                    .any(|k| memchr::memmem::find(bytes, k).is_some())
                        || path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            crate::render::kustomization::FILE_NAMES.contains(&n)
                        }) =>
                {
                    crate::canonical::canonicalize(path).ok()
                }
                _ => None,
            })
            .collect();
        all.extend(
            unchanged_manifests
                .iter()
                .chain(&kustomization_files)
                .filter_map(|p| crate::canonical::canonicalize(p).ok()),
        );
        all
    };
    // With a helm to render them, a chart's templates and CRDs are checked as rendered.
    let charts_rendered = helm_opts.helm.is_some() && !chart_dirs.is_empty();
    // What the render will build, found from the files as read.
    let plan = (!args.no_render).then(|| {
        let mut inputs: Vec<crate::render::roots::Input<'_>> = loaded
            .iter()
            .filter_map(|l| match &l.input {
                Input::File { path, .. } => Some(crate::render::roots::Input {
                    path,
                    bytes: l.bytes.as_ref().ok().map(Vec::as_slice),
                }),
                Input::Stdin { .. } => None,
            })
            .collect();
        inputs.extend(
            kustomization_files
                .iter()
                .map(|path| crate::render::roots::Input { path, bytes: None }),
        );
        pool.install(|| {
            timings::measure(Stage::Render, || {
                crate::render::roots::plan(&inputs, &confine, &select)
            })
        })
    });
    // A chart a kustomization renders through `helmCharts` belongs to that render: the helm
    // stage does not render it again (with its default values), and its templates are not
    // checked as loose files.
    let kustomize_charts: Vec<PathBuf> = plan
        .as_ref()
        .map(|p| p.helm_charts().cloned().collect())
        .unwrap_or_default();
    let plan = plan.map(|p| {
        p.with_network(network.clone())
            .with_helm(
                helm_opts
                    .helm
                    .clone()
                    .map(|path| crate::render::helmcharts::Helm {
                        path,
                        timeout: helm_opts.timeout,
                        kube_version: Some(helm_opts.kube_version.clone()),
                        max_output: helm_opts.max_output,
                    }),
            )
    });
    let chart_dirs: Vec<PathBuf> = chart_dirs
        .into_iter()
        .filter(|d| !kustomize_charts.contains(d))
        .collect();
    let charts_rendered = charts_rendered && !chart_dirs.is_empty();
    let owned = |p: &Path| {
        (charts_rendered
            && chart_dirs
                .iter()
                .any(|c| crate::render::helm::owned_by(c, p)))
            || (helm_opts.helm.is_some()
                && kustomize_charts
                    .iter()
                    .any(|c| crate::render::helm::owned_by(c, p)))
    };
    opts.kustomize = kustomize;
    // A file no kustomization names cannot be read by the render: it is checked while the
    // render runs. The others wait for the render to say whether they are checked
    // through it (their root built) or loose (kept with the documents it read).
    let mut early = Split::default();
    let mut late = Split::default();
    // What was read of the files the render reads: it takes their bytes from here.
    let mut read_ahead: std::collections::HashMap<PathBuf, Vec<u8>> = Default::default();
    let mut through_render = 0;
    // Every file's canonical path, found side by side.
    let paths: Vec<Option<PathBuf>> = if plan.is_some() || charts_rendered {
        use rayon::prelude::*;
        pool.install(|| {
            loaded
                .par_iter()
                .map(|l| match &l.input {
                    Input::File { path, .. } => crate::canonical::canonicalize(path).ok(),
                    Input::Stdin { .. } => None,
                })
                .collect()
        })
    } else {
        vec![None; loaded.len()]
    };
    for ((i, l), path) in loaded.into_iter().enumerate().zip(paths) {
        if let Some(p) = &path
            && owned(p)
        {
            through_render += 1;
            continue;
        }
        let named = match (&plan, &path) {
            (Some(plan), Some(path)) => plan.may_read(path),
            _ => false,
        };
        if named {
            // Most of these the render reads and checks through its roots: their bytes go
            // to it, and a file no root took is read again when checked.
            let l = match (l.input, l.bytes, &path) {
                (input @ Input::File { .. }, Ok(bytes), Some(canonical)) => {
                    read_ahead.insert(canonical.clone(), bytes);
                    Loaded::unread(input)
                }
                (input, bytes, _) => Loaded {
                    input,
                    bytes,
                    parsed: l.parsed,
                },
            };
            late.push(i, path, l);
        } else {
            early.push(i, path, l);
        }
    }
    // A root bound to fail (it names a file that does not exist) builds nothing: the
    // resource files it reads are checked as they are. The render hands over their
    // documents, and they are checked then, not read and parsed a second time after it.
    let late_inputs: std::collections::HashMap<&Path, &Input> = late
        .meta
        .iter()
        .zip(&late.loaded)
        .filter_map(|((_, path), l)| Some((path.as_deref()?, &l.input)))
        .collect();
    let handed: std::sync::Mutex<std::collections::HashMap<PathBuf, check::FileResult>> =
        Default::default();
    let one_by_one = check::OneByOne::new(&opts);
    let hand = |path: &Path, bytes: Vec<u8>, parsed: crate::parse::yaml::Parsed| {
        let Some(input) = late_inputs.get(path) else {
            return;
        };
        let result = one_by_one.check(Loaded {
            input: (*input).clone(),
            bytes: Ok(bytes),
            parsed: Some((crate::parse::Reader::Kyaml, parsed)),
        });
        handed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_path_buf(), result);
    };
    let ((mut stage, mut helm_stage), early_results) = pool.install(|| {
        rayon::join(
            || {
                rayon::join(
                    || {
                        plan.map(|plan| {
                            timings::measure(Stage::Render, || {
                                plan.build_handing_over(
                                    crate::render::files::Files::new(&confine, limits.clone())
                                        .read_ahead(read_ahead),
                                    Some(&hand),
                                )
                            })
                        })
                    },
                    || {
                        (!chart_dirs.is_empty() || remote_charts).then(|| {
                            timings::measure(Stage::Render, || {
                                crate::render::helm::render(
                                    chart_dirs.clone(),
                                    &gitops_objects,
                                    crate::render::files::Files::new(&confine, limits.clone()),
                                    &helm_opts,
                                )
                            })
                        })
                    },
                )
            },
            || check::check_files(early.loaded, &opts),
        )
    });
    if let Some(stage) = &mut stage {
        for message in &stage.unmatched {
            diag(&format!("kubegate: warning: {message}"));
        }
        if let (true, Some(mr)) = (args.changed_only, &mr) {
            // Only the roots the change reaches: one of the files they read changed.
            stage.retain_roots(|path| {
                mr.repo
                    .relative(path)
                    .is_some_and(|rel| mr.changes.files.contains_key(&rel))
            });
        }
    }
    let used = |path: &Option<PathBuf>| {
        stage
            .as_ref()
            .zip(path.as_ref())
            .is_some_and(|(stage, p)| stage.used.contains(p))
    };
    drop(late_inputs);
    let mut handed = handed
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut late_loaded = Vec::with_capacity(late.loaded.len());
    let mut late_index = Vec::with_capacity(late.loaded.len());
    let mut checked_in_render = Vec::new();
    for ((i, path), l) in late.meta.into_iter().zip(late.loaded) {
        if used(&path) {
            through_render += 1;
            continue;
        }
        if let Some(result) = path.as_ref().and_then(|p| handed.remove(p)) {
            checked_in_render.push((i, result));
            continue;
        }
        late_loaded.push(l);
        late_index.push(i);
    }
    drop(handed);
    // The render's parse trees and the loose files' documents are gone: their pages are
    // given back before the late files and the rendered objects' checks take more. So is
    // what the render learnt of the file system, which the rest of the run seldom asks.
    crate::canonical::forget();
    crate::memory::release(&pool);
    // Their bytes were let go for the render: they are read again when checked (stdin and
    // staged files kept theirs).
    let late_results = pool.install(|| check::check_files(late_loaded, &opts));
    // Every loose file in input order; a file the render read after all (a kustomization
    // named it in a way the plan did not see) is checked through the render only.
    let mut results: Vec<(usize, check::FileResult)> = Vec::new();
    for ((i, path), r) in early.meta.into_iter().zip(early_results) {
        if used(&path) {
            through_render += 1;
        } else {
            results.push((i, r));
        }
    }
    let late_checked = !late_index.is_empty();
    results.extend(late_index.into_iter().zip(late_results));
    results.extend(checked_in_render);
    results.sort_unstable_by_key(|(i, _)| *i);
    // So are the documents of the files the render let go and the loose check took.
    if late_checked {
        crate::memory::release(&pool);
    }
    // The checks across files run later, beside the rendered objects' check.
    let (mut outcome, across) = check::gather(results.into_iter().map(|(_, r)| r).collect());
    let gathered = outcome.findings.len();
    // Custom resources are validated once every CRD is known: the files' (in input order),
    // then the render's; rendered objects and the files' custom resources side by side.
    check::add_crds(
        &mut crds,
        std::mem::take(&mut outcome.crds),
        &mut outcome.findings,
    );
    if let Some(stage) = &mut stage {
        let found = check::rendered::found_crds(&mut stage.roots);
        check::add_crds(&mut crds, found, &mut outcome.findings);
    }
    if let Some(helm) = &mut helm_stage {
        let found = check::rendered::found_crds(&mut helm.roots);
        check::add_crds(&mut crds, found, &mut outcome.findings);
    }
    if !unchanged_manifests.is_empty() && opts.catalog.is_some() {
        // --changed-only: the CRDs of the files not checked, after those checked.
        crds.extend_from(&crds_of_unchanged(&unchanged_manifests, &limits, &pool));
    }
    if let Some(given) = &given {
        crds.extend_from(given);
    }
    if let Some(locations) = &locations {
        crds.with_locations(locations.clone());
    }
    if !args.no_embedded_crds {
        crds.with_fallback(crate::schema::embedded::embedded);
    }
    opts.crds = Some(&crds);
    // The inventory rules evaluate on one thread for the most part: beside the other checks,
    // not after them.
    let mut judged_across = Outcome::default();
    let (rendered, charts) = pool.install(|| {
        rayon::join(
            || {
                rayon::join(
                    || check::custom_resources(&mut outcome, &crds, &opts),
                    || check::judge_across(&mut judged_across, across, &opts),
                )
            },
            || {
                rayon::join(
                    || {
                        stage
                            .as_ref()
                            .map(|stage| check::rendered::run(&stage.roots, &stage.files, &opts))
                    },
                    || {
                        helm_stage
                            .as_ref()
                            .map(|h| check::rendered::run(&h.roots, &h.files, &opts))
                    },
                )
            },
        )
        .1
    });
    check::merge(&mut outcome, judged_across, gathered);
    if let (Some(helm), Some(charts)) = (&helm_stage, charts) {
        outcome.findings.extend(charts.findings);
        outcome.stats.objects += charts.stats.objects;
        outcome.stats.suppressed += charts.stats.suppressed;
        outcome.stats.charts += helm.roots.iter().filter(|r| !r.objects.is_empty()).count();
        outcome
            .stats
            .roots
            .extend(helm.roots.iter().map(|r| r.dir.clone()));
        outcome.sources.extend(charts.sources);
    }
    outcome.stats.through_render = through_render;
    outcome.stats.files += through_render;
    if let (Some(stage), Some(rendered)) = (&stage, rendered) {
        outcome.findings.extend(rendered.findings);
        outcome.stats.objects += rendered.stats.objects;
        outcome.stats.suppressed += rendered.stats.suppressed;
        outcome.stats.rendered += stage.roots.len();
        outcome
            .stats
            .roots
            .extend(stage.roots.iter().map(|r| r.dir.clone()));
        outcome.sources.extend(rendered.sources);
    }
    outcome.stats.roots.sort();
    // In a merge request, what it changes at the base and at head: the admission policies
    // see a changed rendered object as an UPDATE of its base version (and the change
    // rules use the same comparison, made once).
    let mut compared = None;
    if let (Some(mr), Some(_)) = (&mr, &admission_prepared) {
        let charts = helm_stage.as_ref().map(|h| {
            (
                h,
                ChartRenders {
                    dirs: &chart_dirs,
                    objects: &gitops_objects,
                    opts: &helm_opts,
                },
            )
        });
        compared = Some(timings::measure(Stage::Changes, || {
            change::compare(mr, stage.as_ref(), charts, &pool)
        })?);
    }
    // The admission policies, kept for the objects a merge request deletes.
    let mut admission = None;
    if let Some(prepared) = &admission_prepared {
        // The admission policies judge every object of the run: the files' and the renders'.
        let mut renders: Vec<check::admission::Render<'_>> = Vec::new();
        if let Some(s) = &stage {
            renders.push((&s.roots, &s.files));
        }
        if let Some(h) = &helm_stage {
            renders.push((&h.roots, &h.files));
        }
        let files = std::mem::take(&mut outcome.admission);
        let rendered_old = compared
            .as_ref()
            .map(change::Compared::rendered_old)
            .unwrap_or_default();
        // In a merge request judged by its base, a policy the change renders is its own.
        let (judged, reloaded) = pool.install(|| {
            check::admission::judge(
                prepared,
                &admission_files,
                !from_base,
                &files,
                &renders,
                &rendered_old,
                &opts,
            )
        });
        outcome.findings.extend(judged.findings);
        outcome.sources.extend(judged.sources);
        outcome.stats.suppressed += judged.suppressed;
        admission = Some(reloaded);
    }
    if let Some(net) = &network {
        outcome.fetched = net.log();
    }
    check::finish(&mut outcome, args.reject_missing_schemas);
    if special_files > 0 {
        *outcome.stats.skipped.entry("special_file").or_default() += special_files;
    }
    if let Some(c) = &cfg {
        let names = crate::policy::rules().unwrap_or_default();
        let name_of = |id: &str| names.iter().find(|r| r.id == id).map(|r| r.name.clone());
        c.apply_severities(&mut outcome.findings, &name_of);
        outcome.stats.suppressed += c.apply_suppressions(&mut outcome.findings, &name_of);
        crate::finding::sort(&mut outcome.findings);
    }
    // The change summary, for the reports that show it.
    let wants_changes = outputs
        .iter()
        .any(|(f, _)| matches!(f, Format::Markdown | Format::Json | Format::Github));
    let mut changes = None;
    if let Some(mr) = &mr {
        merge_request_filters(
            args,
            mr,
            &checked,
            &mut opts,
            &pool,
            &mut outcome,
            staged_from,
            stage.as_ref(),
            helm_stage.as_ref().map(|_| ChartRenders {
                dirs: &chart_dirs,
                objects: &gitops_objects,
                opts: &helm_opts,
            }),
            admission_prepared
                .as_ref()
                .map(|p| (p, admission_files.as_slice())),
        )?;
        outcome.findings.extend(crate::mr::policy_change_findings(
            mr,
            &gate_files,
            from_base,
        ));
        // What the merge request does to the cluster: the change rules (after the filters:
        // a change is new by definition, and a deletion has no line at head).
        // With every change rule disabled (`rules.disable: [change]`), nothing is judged.
        let judges = builtins.as_ref().is_some_and(|b| b.judges_changes())
            || user.as_ref().is_some_and(|u| u.has_change_rules())
            || admission_prepared.is_some();
        if judges || wants_changes {
            let charts = helm_stage.as_ref().map(|h| {
                (
                    h,
                    ChartRenders {
                        dirs: &chart_dirs,
                        objects: &gitops_objects,
                        opts: &helm_opts,
                    },
                )
            });
            let compared = match compared.take() {
                Some(c) => c,
                None => timings::measure(Stage::Changes, || {
                    change::compare(mr, stage.as_ref(), charts, &pool)
                })?,
            };
            let summary = compared.summary();
            if judges {
                let mut judged = timings::measure(Stage::Changes, || {
                    change::judge(
                        mr,
                        &compared,
                        Some(&summary),
                        stage.as_ref(),
                        helm_stage.as_ref(),
                        builtins.as_ref(),
                        user.as_ref(),
                        admission.as_ref().and_then(
                            |reloaded: &Option<crate::admission::Policies>| {
                                reloaded
                                    .as_ref()
                                    .or(admission_prepared.as_ref().map(|p| p.policies()))
                            },
                        ),
                        !args.no_inline_suppressions,
                        &pool,
                    )
                });
                if let Some(c) = &cfg {
                    let names = crate::policy::rules().unwrap_or_default();
                    let name_of =
                        |id: &str| names.iter().find(|r| r.id == id).map(|r| r.name.clone());
                    c.apply_severities(&mut judged.findings, &name_of);
                    judged.suppressed += c.apply_suppressions(&mut judged.findings, &name_of);
                }
                outcome.stats.suppressed += judged.suppressed;
                outcome.findings.extend(judged.findings);
            }
            changes = wants_changes.then_some(summary);
        }
        crate::finding::sort(&mut outcome.findings);
    }
    drop(base_files);
    if outcome
        .findings
        .iter()
        .any(|f| f.rule == "io-error" || f.rule == "policy-error")
    {
        run_failed = true;
    }

    // NO_COLOR (https://no-color.org) wins over everything, --color=always included.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let rules = crate::policy::rules().unwrap_or_default();
    // Which findings touch the change's lines: they get GitHub's few annotation slots first.
    let on_change: Option<Vec<bool>> = match &mr {
        Some(mr) if outputs.iter().any(|(f, _)| *f == Format::Github) => {
            let mut lines = crate::mr::ChangedLines::new(mr, staged_from.filter(|_| args.staged));
            Some(
                outcome
                    .findings
                    .iter()
                    .map(|f| {
                        let changed = lines.of(&f.file);
                        crate::mr::passes(FilterMode::Added, f.start.line, f.end.line, changed)
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    let mut cx = Context {
        outcome: &outcome,
        kubernetes_version: catalog.map(|c| c.version),
        color: false,
        rules: &rules,
        changes: changes.as_ref(),
        on_change: on_change.as_deref(),
    };
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    timings::measure(Stage::Report, || -> anyhow::Result<()> {
        for (format, path) in &outputs {
            cx.color = !no_color
                && *format == Format::Human
                && match args.color {
                    ColorChoice::Always => true,
                    ColorChoice::Never => false,
                    ColorChoice::Auto => path.is_none() && std::io::stdout().is_terminal(),
                };
            match path {
                Some(path) => {
                    let mut buf = Vec::new();
                    report::render(*format, &cx, &mut buf)?;
                    // One report that cannot be written must not cost the others: say so, write
                    // the rest, and exit 2 at the end.
                    if let Err(e) = std::fs::write(path, buf) {
                        diag(&format!(
                            "kubegate: error: cannot write the {} report to {}: {e}",
                            format.name(),
                            path.display()
                        ));
                        run_failed = true;
                    }
                }
                // In a GitHub Actions log, untrusted text in the text reports must not read as
                // workflow commands (the `github` format escapes its own).
                None if in_actions && matches!(format, Format::Human | Format::Concise) => {
                    let mut buf = Vec::new();
                    report::render(*format, &cx, &mut buf)?;
                    let text = String::from_utf8_lossy(&buf);
                    let mut lock = std::io::stdout().lock();
                    lock.write_all(report::github::neutralise_log(&text).as_bytes())?;
                    lock.flush()?;
                }
                // The machine formats can only carry `##[` inside strings, where an escape of
                // `#` keeps the data the same and the log inert.
                None if in_actions && *format != Format::Github => {
                    let mut buf = Vec::new();
                    report::render(*format, &cx, &mut buf)?;
                    let text = String::from_utf8_lossy(&buf);
                    let escaped = if *format == Format::Junit {
                        text.replace("##[", "#&#35;[")
                    } else {
                        text.replace("##[", "#\\u0023[")
                    };
                    let mut lock = std::io::stdout().lock();
                    lock.write_all(escaped.as_bytes())?;
                    lock.flush()?;
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = std::io::BufWriter::new(stdout.lock());
                    report::render(*format, &cx, &mut lock)?;
                    lock.flush()?;
                }
            }
        }
        if outputs.iter().any(|(f, _)| *f == Format::Github)
            && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
        {
            let path = std::path::PathBuf::from(path);
            if let Err(e) = report::github::write_summary(&cx, &path) {
                diag(&format!(
                    "kubegate: error: cannot write the job summary to {}: {e}",
                    path.display()
                ));
                run_failed = true;
            }
        }
        Ok(())
    })?;

    let counts = Counts::of(&outcome);
    if !args.quiet {
        diag(&summary_line(&outcome, counts, started.elapsed()));
    }
    if args.timings {
        diag(timings::report(started.elapsed(), threads).trim_end());
    }
    let fail_on = args.fail_on.unwrap_or(FailOn::Error).threshold();
    let threshold = if args.fail_on_warn {
        fail_on.min(Severity::Warning)
    } else {
        fail_on
    };
    let failing = outcome.findings.iter().any(|f| f.severity >= threshold);
    // The process ends here: freeing the rendered trees, the CRDs and every finding one by one
    // would only delay the exit.
    std::mem::forget(stage);
    std::mem::forget(helm_stage);
    std::mem::forget(outcome);
    std::mem::forget(crds);
    std::mem::forget(admission);
    Ok(if run_failed {
        EXIT_ERROR
    } else if failing && !args.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// The files the admission policies of the run are read from: the files of the run (and,
/// under `--changed-only`, the unchanged ones) that name an admission API group, and the
/// YAML and JSON files of the `--policy` directories. With `base` (a merge request judged by
/// its base), a changed file is read as the base has it, a file the change adds is not
/// read, and a file it deletes still is; each is a file of the gate (`policy-changed`).
/// `may_hold` says, for each of `loaded`, whether its bytes may hold a policy
/// ([`crate::admission::may_hold_policy`]).
#[allow(clippy::too_many_arguments)]
fn admission_policy_files(
    loaded: &[Loaded],
    may_hold: &[bool],
    unchanged: &[PathBuf],
    policy_dirs: &[PathBuf],
    base_files: Option<&BaseFiles>,
    base: Option<&MergeRequest>,
    kustomize: &check::KustomizeFiles,
    gate_files: &mut Vec<String>,
    max: u64,
) -> Vec<check::admission::PolicyFile> {
    use check::admission::PolicyFile;
    let mut out = Vec::new();
    // A file read once, though both checked and in a --policy directory: repository-relative
    // paths in a merge request judged by its base, else canonical paths.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let key = |display: &str, path: Option<&Path>| -> String {
        match (base, path) {
            (Some(mr), _) => mr.rel(display).unwrap_or_else(|| display.to_owned()),
            (None, Some(p)) => crate::canonical::canonicalize(p)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_else(|_| display.to_owned()),
            (None, None) => display.to_owned(),
        }
    };
    let mut add = |display: &str, bytes: &[u8], gate_files: &mut Vec<String>| {
        if !crate::admission::may_hold_policy(bytes) {
            return;
        }
        let bytes: std::borrow::Cow<'_, [u8]> = match base {
            Some(mr) => {
                if let Some(rel) = mr.rel(display) {
                    gate_files.push(rel);
                }
                if !mr.is_changed(display) {
                    bytes.into()
                } else {
                    match mr.base_text(display) {
                        Some((_, base)) => base.into(),
                        // Added by the change: not a policy of the gate yet.
                        None => return,
                    }
                }
            }
            None => bytes.into(),
        };
        out.extend(PolicyFile::new(
            display,
            &bytes,
            kustomize.reader_of(display),
        ));
    };
    // A file that cannot hold a policy needs no key: it adds nothing either way.
    for l in loaded
        .iter()
        .zip(may_hold)
        .filter_map(|(l, &may)| may.then_some(l))
    {
        if let (Input::File { path, .. }, Ok(bytes)) = (&l.input, &l.bytes)
            && seen.insert(key(l.input.display(), Some(path)))
        {
            add(l.input.display(), bytes, gate_files);
        }
    }
    for path in unchanged {
        let display = path.to_string_lossy();
        if seen.insert(key(&display, Some(path)))
            && let Ok(bytes) = crate::read::read(path, max)
        {
            add(&display, &bytes, gate_files);
        }
    }
    if let Some(mr) = base {
        // Deleted by the change: still in force until it merges.
        for (rel, oid) in &mr.changes.deleted {
            if let Ok(bytes) = mr.repo.blob(*oid)
                && let Some(f) = PolicyFile::new(rel, &bytes, crate::parse::Reader::Kubectl)
                && seen.insert(rel.clone())
            {
                gate_files.push(rel.clone());
                out.push(f);
            }
        }
    }
    for dir in policy_dirs {
        let shown = |p: &Path| -> String {
            match base_files {
                Some(b) if p.starts_with(&b.root) => p
                    .strip_prefix(&b.root)
                    .map(|r| r.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default(),
                _ => p.to_string_lossy().replace('\\', "/"),
            }
        };
        for p in check::admission::manifest_files(dir, false) {
            let shown_as = shown(&p);
            let k = match base {
                Some(_) => shown_as.clone(),
                None => key(&shown_as, Some(&p)),
            };
            if !seen.insert(k) {
                continue;
            }
            if let Ok(bytes) = crate::read::read(&p, max) {
                out.extend(PolicyFile::new(
                    &shown_as,
                    &bytes,
                    crate::parse::Reader::Kubectl,
                ));
            }
        }
    }
    out
}

/// Whether a directory (or file) holds a `.rego` file.
fn has_rego(path: &Path) -> bool {
    ignore::WalkBuilder::new(path)
        .standard_filters(false)
        .build()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "rego"))
}

/// The reports to write: `(format, file)`, standard output where there is no file.
///
/// `--format` (default: `human` in a terminal, else `concise`) goes to standard output, or
/// to the one bare `--output FILE`; each `--output FORMAT=FILE` adds a report. Under GitHub
/// Actions (`GITHUB_ACTIONS=true`) with no `--format`, standard output gets the human report
/// and the workflow-command annotations.
/// The network a run may use: `None` unless hosts are allowed (`--allow-host`,
/// `network.allowHosts`).
fn network(
    args: &CheckArgs,
    limits: &crate::parse::Limits,
) -> anyhow::Result<Option<std::sync::Arc<crate::fetch::Network>>> {
    if args.allow_host.is_empty() {
        return Ok(None);
    }
    let rules = args
        .allow_host
        .iter()
        .map(|h| crate::fetch::HostRule::parse(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--allow-host {e}"))?;
    let cache = match &args.cache_dir {
        Some(d) => d.clone(),
        None => crate::fetch::default_cache_dir().ok_or_else(|| {
            anyhow::anyhow!(
                "no cache directory for fetched charts (no HOME or XDG_CACHE_HOME): give one \
                 with --cache-dir"
            )
        })?,
    };
    Ok(Some(std::sync::Arc::new(crate::fetch::Network::new(
        rules,
        std::time::Duration::from_secs_f64(args.fetch_timeout.max(0.001)),
        limits.max_file_size,
        cache,
    ))))
}

fn outputs(args: &CheckArgs) -> anyhow::Result<Vec<(Format, Option<std::path::PathBuf>)>> {
    let mut extra = Vec::new();
    let mut main_file: Option<std::path::PathBuf> = None;
    for spec in &args.output {
        let named = spec.split_once('=').and_then(|(name, file)| {
            Format::ALL
                .iter()
                .find(|f| f.name() == name)
                .map(|f| (*f, file))
        });
        // `sarf=report.sarif` is a misspelt format, not a file to create: a file whose name
        // holds `=` is written `./name=...`.
        if named.is_none()
            && let Some((prefix, _)) = spec.split_once('=')
            && !prefix.is_empty()
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            let hint = names
                .iter()
                .map(|n| (strsim::jaro_winkler(prefix, n), n))
                .filter(|(score, _)| *score > 0.7)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            anyhow::bail!(
                "--output {spec}: unknown format `{prefix}`{hint}; the formats are {}. A file \
                 whose name holds `=` is written `./{spec}`",
                names.join(", ")
            );
        }
        match named {
            Some((_, "")) => anyhow::bail!("--output {spec}: no file after `=`"),
            Some((format, file)) => extra.push((format, Some(file.into()))),
            None if main_file.is_some() => anyhow::bail!(
                "--output {spec}: only one bare FILE (for --format); name the format of the others, e.g. sarif=FILE"
            ),
            None => main_file = Some(spec.into()),
        }
    }
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let mut out = match (args.format, main_file) {
        (Some(format), file) => vec![(format, file)],
        (None, None) if github => vec![(Format::Human, None), (Format::Github, None)],
        (None, None) if std::io::stdout().is_terminal() => vec![(Format::Human, None)],
        (None, file) => vec![(Format::Concise, file)],
    };
    out.extend(extra);
    Ok(out)
}

/// Loose files set aside together: each with its index among the inputs and its
/// canonical path (when a render may read it).
#[derive(Default)]
struct Split {
    loaded: Vec<Loaded>,
    meta: Vec<(usize, Option<PathBuf>)>,
}

impl Split {
    fn push(&mut self, index: usize, path: Option<PathBuf>, loaded: Loaded) {
        self.loaded.push(loaded);
        self.meta.push((index, path));
    }
}

fn rayon_load(loaded: Vec<Loaded>, limits: &Limits) -> Vec<Loaded> {
    use rayon::prelude::*;
    loaded
        .into_par_iter()
        .map(|l| match l.input {
            Input::File { .. } => timings::measure(Stage::Read, || check::load(l.input, limits)),
            Input::Stdin { .. } => l,
        })
        .collect()
}

fn read_stdin(max: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > max {
        return Err(format!(
            "input is over the {max} byte limit (--max-file-size); not checked"
        ));
    }
    Ok(buf)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary_line(o: &Outcome, c: Counts, elapsed: std::time::Duration) -> String {
    let skipped: usize = o.stats.skipped.values().sum();
    let mut s = format!(
        "kubegate: checked {}, {}, {}",
        plural(o.stats.files, "file", "files"),
        plural(o.stats.documents, "document", "documents"),
        plural(o.stats.objects, "object", "objects"),
    );
    if skipped > 0 {
        let parts: Vec<String> = o
            .stats
            .skipped
            .iter()
            .map(|(k, v)| format!("{v} {}", k.replace('_', " ")))
            .collect();
        s.push_str(&format!(" ({skipped} skipped: {})", parts.join(", ")));
    }
    if o.stats.rendered > 0 {
        s.push_str(&format!(
            ", {} rendered",
            plural(o.stats.rendered, "kustomization", "kustomizations")
        ));
    }
    if o.stats.charts > 0 {
        s.push_str(&format!(
            ", {}",
            plural(o.stats.charts, "chart rendering", "chart renderings")
        ));
    }
    if o.stats.suppressed > 0 {
        s.push_str(&format!(", {} suppressed", o.stats.suppressed));
    }
    if o.stats.existing > 0 {
        s.push_str(&format!(", {} not new (--new-only)", o.stats.existing));
    }
    if o.stats.outside_diff > 0 {
        s.push_str(&format!(
            ", {} outside the change (--filter-mode)",
            o.stats.outside_diff
        ));
    }
    s.push_str(&format!(
        " in {:.2}s: {}, {}, {}",
        elapsed.as_secs_f64(),
        plural(c.error, "error", "errors"),
        plural(c.warning, "warning", "warnings"),
        plural(c.info, "info", "infos"),
    ));
    s
}
