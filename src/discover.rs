//! Stage 1: find the manifests to check.
//!
//! Directories are walked with `ignore`'s parallel walker. A merge request must not be able
//! to hide from the check a file that the GitOps controller deploys, so:
//!
//! - Inside a Git repository, every tracked file (from the index) with a manifest extension
//!   under the given directories is checked. `.gitignore`, `.ignore` and Git's excludes skip
//!   untracked files only, as Git ignores only untracked files: the walk honours them (it is
//!   cheaper), then the tracked files it did not yield are added.
//! - Outside a repository nothing is tracked: `.ignore` applies as in ripgrep, `.gitignore`
//!   does not (there is no Git to ignore anything).
//! - Hidden files and directories are checked (a Flux `Kustomization` or an Argo CD
//!   `Application` can point at `.prod/`); only `.git` itself, directory or file, is skipped.
//! - Only `--exclude` and the config's `exclude` (which come from the trusted base in CI)
//!   skip tracked files. Their globs have gitignore syntax relative to the current
//!   directory; a leading `./` anchors a glob there, and an absolute path under the current
//!   directory becomes the same anchored relative glob. A glob that matches nothing walked
//!   gets a warning.
//! - Symbolic links, to files or directories, are followed only when their target resolves
//!   inside one of the given directories (canonicalised), and not into a `.git` directory;
//!   any other is skipped with a warning that says where it points. A path named on the
//!   command line that is in the current repository as written but resolves outside it
//!   through a link is an error, neither walked nor read.
//! - Only regular files are checked: a FIFO, socket or device with a manifest extension met
//!   on the walk is skipped with a warning and counted ([`Discovery::special`]).
//!
//! Files named on the command line are always checked, whatever their extension, unless an
//! exclude glob matches them; named there, anything but a regular file is an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{WalkBuilder, WalkState};

use crate::git::Repo;
use crate::read::special_kind;

/// Extensions of files picked up when walking a directory.
pub const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// One input to check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    File { path: PathBuf, display: String },
    Stdin { display: String },
}

impl Input {
    pub fn display(&self) -> &str {
        match self {
            Input::File { display, .. } | Input::Stdin { display } => display,
        }
    }
}

/// A path that could not be walked; the run goes on and exits 2 when it is fatal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkError {
    pub path: String,
    pub message: String,
    /// Non-fatal ones are warnings: a symbolic link loop (everything in it is still checked
    /// once), a link or special file skipped, an exclude glob that matched nothing.
    pub fatal: bool,
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub errors: Vec<WalkError>,
    /// FIFOs, sockets and devices with a manifest extension found on the walk: not read,
    /// each named in a warning.
    pub special: usize,
}

pub struct Options<'a> {
    pub paths: &'a [String],
    pub excludes: &'a [String],
    /// What the exclude globs are called in messages: `--exclude`, or `config exclude`.
    pub excludes_from: &'a str,
    pub stdin_filename: Option<&'a str>,
    pub threads: usize,
    /// The repository of the current directory, if the caller has it open: its index is then
    /// read once in the run. Any other repository a path is in is opened here.
    pub repo: Option<&'a Repo>,
}

/// Finds every input under `paths`, sorted by display path, without duplicates.
pub fn discover(opts: &Options<'_>) -> anyhow::Result<Discovery> {
    let excludes = Excludes::new(opts.excludes, opts.excludes_from)?;
    let mut out = Discovery::default();
    let mut dirs = Vec::new();
    for p in opts.paths {
        if p == "-" {
            out.inputs.push(Input::Stdin {
                display: opts.stdin_filename.unwrap_or("<stdin>").to_owned(),
            });
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path);
        if meta.is_ok()
            && let Some(message) = link_out_of_repository(path, opts.repo)
        {
            out.errors.push(WalkError {
                path: display_path(path),
                message,
                fatal: true,
            });
            continue;
        }
        match meta {
            Ok(m) if m.is_dir() => dirs.push(path.to_path_buf()),
            Ok(m) if m.is_file() => {
                if !excludes.excluded(path, false) {
                    out.inputs.push(Input::File {
                        path: path.to_path_buf(),
                        display: display_path(path),
                    });
                }
            }
            Ok(m) => out.errors.push(WalkError {
                path: display_path(path),
                message: format!(
                    "{}, not a regular file; not checked",
                    special_kind(&m.file_type()).unwrap_or("not a regular file")
                ),
                fatal: true,
            }),
            Err(e) => out.errors.push(WalkError {
                path: display_path(path),
                message: e.to_string(),
                fatal: true,
            }),
        }
    }
    if !dirs.is_empty() {
        // Where symbolic links may lead: the directories given, as the filesystem has them.
        let roots: Vec<PathBuf> = dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect();
        let seen = walk(&dirs, &roots, &excludes, opts.threads, &mut out);
        add_tracked(&dirs, &roots, &excludes, opts.repo, &seen, &mut out);
        out.errors.extend(excludes.unused());
    }
    out.inputs.sort();
    out.inputs.dedup();
    out.errors.sort();
    out.errors.dedup();
    Ok(out)
}

/// Why a path named on the command line must not be walked or read: it lies in the current
/// directory's repository as written, but a symbolic link (which a merge request can plant
/// where a configured path was) takes it outside. `None` when it may be.
fn link_out_of_repository(path: &Path, cwd_repo: Option<&Repo>) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let canonical = std::fs::canonicalize(path).ok()?;
    let mut lexical = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                lexical.pop();
            }
            c => lexical.push(c),
        }
    }
    if lexical == canonical {
        return None; // no symbolic link on the way: the common case, decided without Git
    }
    let opened;
    let repo = match cwd_repo {
        Some(r) => r,
        None => {
            opened = Repo::discover(Path::new(".")).ok()??;
            &opened
        }
    };
    let inside = |p: &Path| p.starts_with(repo.root());
    (inside(&lexical) && !inside(&canonical)).then(|| {
        format!(
            "resolves through a symbolic link to {}, outside the repository; not checked",
            canonical.display()
        )
    })
}

/// Whether a walked file is a manifest by its extension.
fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| EXTENSIONS.contains(&x))
}

/// The exclude globs, matched together, and each on its own to tell which matched nothing.
struct Excludes {
    all: Override,
    each: Vec<(String, Override, AtomicBool)>,
    from: String,
    /// The current directory, to match absolute walked paths under it as relative ones.
    cwd: Option<PathBuf>,
}

impl Excludes {
    fn new(globs: &[String], from: &str) -> anyhow::Result<Self> {
        let cwds = current_dirs();
        let mut all = OverrideBuilder::new(".");
        let mut each = Vec::with_capacity(globs.len());
        for g in globs {
            let glob = normalise_glob(g, &cwds);
            let invalid = |e| anyhow::anyhow!("invalid {from} glob `{g}`: {e}");
            all.add(&format!("!{glob}")).map_err(invalid)?;
            let mut one = OverrideBuilder::new(".");
            one.add(&format!("!{glob}")).map_err(invalid)?;
            each.push((g.clone(), one.build()?, AtomicBool::new(false)));
        }
        Ok(Self {
            all: all.build()?,
            each,
            from: from.to_owned(),
            cwd: cwds.into_iter().next(),
        })
    }

    /// Whether `path` (as walked: relative to the current directory, or absolute) is excluded;
    /// notes which globs matched it.
    fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        if self.each.is_empty() {
            return false;
        }
        let rel = match (&self.cwd, path.is_absolute()) {
            (Some(cwd), true) => path.strip_prefix(cwd).unwrap_or(path),
            _ => path.strip_prefix("./").unwrap_or(path),
        };
        if rel.as_os_str().is_empty() || !self.all.matched(rel, is_dir).is_ignore() {
            return false;
        }
        for (_, one, used) in &self.each {
            if !used.load(Ordering::Relaxed) && one.matched(rel, is_dir).is_ignore() {
                used.store(true, Ordering::Relaxed);
            }
        }
        true
    }

    /// Whether `path` or one of its directories, up to and including `root`, is excluded: what
    /// the walk would have found, for a path it did not walk to.
    fn excluded_within(&self, path: &Path, root: &Path) -> bool {
        self.excluded(path, false)
            || path
                .ancestors()
                .skip(1)
                .take_while(|a| a.starts_with(root))
                .any(|a| self.excluded(a, true))
    }

    /// A warning for each glob that matched nothing.
    fn unused(&self) -> Vec<WalkError> {
        self.each
            .iter()
            .filter(|(_, _, used)| !used.load(Ordering::Relaxed))
            .map(|(g, _, _)| WalkError {
                path: format!("{} `{g}`", self.from),
                message: "matches no file or directory under the checked paths, so it \
                          excludes nothing (globs have gitignore syntax, relative to the \
                          current directory)"
                    .to_owned(),
                fatal: false,
            })
            .collect()
    }
}

/// The current directory as the process has it, and as the shell spells it (`$PWD`, which
/// may go through symbolic links) when that is the same directory.
fn current_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from)
            && pwd != cwd
            && pwd.is_absolute()
            && std::fs::canonicalize(&pwd).ok() == std::fs::canonicalize(&cwd).ok()
        {
            out.push(pwd);
        }
        out.insert(0, cwd);
    }
    out
}

/// An exclude glob as the user means it: a leading `./` anchors it at the current directory
/// (`./b` is `/b`), an absolute path under the current directory becomes the same anchored
/// relative glob; anything else is gitignore syntax as it stands.
fn normalise_glob(glob: &str, cwds: &[PathBuf]) -> String {
    let anchored = |rel: &str, dir: bool| {
        let rel = rel.trim_matches('/');
        match (rel.is_empty(), dir) {
            (true, _) => "/**".to_owned(),
            (false, true) => format!("/{rel}/"),
            (false, false) => format!("/{rel}"),
        }
    };
    let dir = glob.ends_with('/');
    if glob.starts_with("./") {
        let mut rest = glob;
        while let Some(r) = rest.strip_prefix("./") {
            rest = r.trim_start_matches('/');
        }
        return anchored(rest, dir);
    }
    let path = Path::new(glob);
    if path.is_absolute() {
        for cwd in cwds {
            if let Ok(rel) = path.strip_prefix(cwd) {
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                return anchored(&rel.join("/"), dir);
            }
        }
    }
    glob.to_owned()
}

/// Whether a symbolic link at `path` may be followed: its target must resolve inside one of
/// the `roots` and not into a `.git` directory. `Err` says why not.
fn link_target_allowed(path: &Path, roots: &[PathBuf]) -> Result<(), String> {
    let target = std::fs::canonicalize(path)
        .map_err(|e| format!("symbolic link that cannot be resolved ({e}); not followed"))?;
    let Some(root) = roots.iter().find(|r| target.starts_with(r)) else {
        return Err(format!(
            "symbolic link to {}, outside the checked directories; not followed",
            target.display()
        ));
    };
    let inside = target.strip_prefix(root).unwrap_or(&target);
    if inside.components().any(|c| c.as_os_str() == ".git") {
        return Err(format!(
            "symbolic link into a Git directory ({}); not followed",
            target.display()
        ));
    }
    Ok(())
}

/// Walks `dirs` in parallel into `out`; returns every manifest path it came to, checked or
/// skipped, so that [`add_tracked`] adds only the others.
fn walk(
    dirs: &[PathBuf],
    roots: &[PathBuf],
    excludes: &Excludes,
    threads: usize,
    out: &mut Discovery,
) -> HashSet<PathBuf> {
    let mut b = WalkBuilder::new(&dirs[0]);
    for d in &dirs[1..] {
        b.add(d);
    }
    // `require_git` stays on: outside a repository `.gitignore` means nothing.
    b.threads(threads).follow_links(true).hidden(false);
    let found = Mutex::new(Vec::new());
    let skipped = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let special = AtomicUsize::new(0);
    b.build_parallel().run(|| {
        Box::new(|entry| {
            let e = match entry {
                Ok(e) => e,
                Err(err) => {
                    errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(walk_error(&err));
                    return WalkState::Continue;
                }
            };
            let Some(file_type) = e.file_type() else {
                return WalkState::Continue;
            };
            let is_dir = file_type.is_dir();
            let skip = if is_dir {
                WalkState::Skip
            } else {
                WalkState::Continue
            };
            if e.depth() > 0 && e.file_name() == ".git" {
                return skip;
            }
            if excludes.excluded(e.path(), is_dir) {
                return skip;
            }
            if e.depth() == 0 || !is_dir && !is_manifest(e.path()) {
                return WalkState::Continue;
            }
            let warn = |message: String| {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(WalkError {
                        path: display_path(e.path()),
                        message,
                        fatal: false,
                    });
            };
            if e.path_is_symlink()
                && let Err(why) = link_target_allowed(e.path(), roots)
            {
                warn(why);
                if !is_dir {
                    skipped
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(e.path().to_path_buf());
                }
                return skip;
            }
            if is_dir {
                return WalkState::Continue;
            }
            if let Some(what) = special_kind(&file_type) {
                special.fetch_add(1, Ordering::Relaxed);
                warn(format!("{what}, not a regular file; skipped"));
                skipped
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e.path().to_path_buf());
                return WalkState::Continue;
            }
            let path = e.into_path();
            let display = display_path(&path);
            found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Input::File { path, display });
            WalkState::Continue
        })
    });
    let found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    let skipped = skipped.into_inner().unwrap_or_else(|p| p.into_inner());
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    out.special += special.into_inner();
    let mut seen: HashSet<PathBuf> = skipped.into_iter().collect();
    seen.extend(found.iter().filter_map(|i| match i {
        Input::File { path, .. } => Some(path.clone()),
        Input::Stdin { .. } => None,
    }));
    out.inputs.extend(found);
    out.errors.extend(errors);
    seen
}

/// Adds the tracked manifests under `dirs` that the walk did not come to (ignore files hid
/// them): a GitOps controller deploys every tracked file, ignored or not. Only the exclude
/// globs, symbolic links out of the roots and special files keep one out.
fn add_tracked(
    dirs: &[PathBuf],
    roots: &[PathBuf],
    excludes: &Excludes,
    cwd_repo: Option<&Repo>,
    seen: &HashSet<PathBuf>,
    out: &mut Discovery,
) {
    let mut opened: Vec<Repo> = Vec::new();
    for dir in dirs {
        let fatal = |message: String| WalkError {
            path: display_path(dir),
            message,
            fatal: true,
        };
        // The repository that holds `dir`: the caller's when it is the same one (its index
        // is already read), else one opened here, once.
        let found = match Repo::discover(dir) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                out.errors.push(fatal(format!(
                    "{e:#}; without its index kubegate cannot tell tracked files from ignored ones"
                )));
                continue;
            }
        };
        let repo = match cwd_repo.filter(|r| r.root() == found.root()) {
            Some(r) => r,
            None => {
                let i = match opened.iter().position(|r| r.root() == found.root()) {
                    Some(i) => i,
                    None => {
                        opened.push(found);
                        opened.len() - 1
                    }
                };
                &opened[i]
            }
        };
        let Some(rel_dir) = repo.relative(dir) else {
            continue;
        };
        let tracked = match repo.tracked_under(&rel_dir) {
            Ok(t) => t,
            Err(e) => {
                out.errors
                    .push(fatal(format!("cannot read the Git index: {e:#}")));
                continue;
            }
        };
        for t in tracked {
            let rest = if rel_dir.is_empty() {
                t.as_str()
            } else {
                &t[rel_dir.len() + 1..]
            };
            let mut path = dir.clone();
            for part in rest.split('/') {
                path.push(part);
            }
            if !is_manifest(&path) || seen.contains(&path) || excludes.excluded_within(&path, dir) {
                continue;
            }
            if let Some(input) = tracked_input(path, roots, out) {
                out.inputs.push(input);
            }
        }
    }
}

/// A tracked file the walk did not come to, as it is in the worktree now.
fn tracked_input(path: PathBuf, roots: &[PathBuf], out: &mut Discovery) -> Option<Input> {
    let display = display_path(&path);
    // Deleted in the worktree (or outside a sparse checkout): nothing to read.
    std::fs::symlink_metadata(&path).ok()?;
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            out.errors.push(WalkError {
                path: display,
                message: e.to_string(),
                fatal: true,
            });
            return None;
        }
    };
    if meta.is_dir() {
        return None;
    }
    // A link, or a file under a directory that became one, may point anywhere.
    if let Err(why) = link_target_allowed(&path, roots) {
        out.errors.push(WalkError {
            path: display,
            message: why,
            fatal: false,
        });
        return None;
    }
    if let Some(what) = special_kind(&meta.file_type()) {
        out.special += 1;
        out.errors.push(WalkError {
            path: display,
            message: format!("{what}, not a regular file; skipped"),
            fatal: false,
        });
        return None;
    }
    Some(Input::File { path, display })
}

fn walk_error(err: &ignore::Error) -> WalkError {
    fn inner(err: &ignore::Error, path: &mut Option<String>) -> (String, bool) {
        match err {
            ignore::Error::WithPath { path: p, err } => {
                *path = Some(display_path(p));
                inner(err, path)
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                inner(err, path)
            }
            ignore::Error::Loop { ancestor, child } => {
                *path = Some(display_path(child));
                (
                    format!(
                        "symbolic link loop back to {}; not followed",
                        display_path(ancestor)
                    ),
                    false,
                )
            }
            other => (other.to_string(), true),
        }
    }
    let mut path = None;
    let (message, fatal) = inner(err, &mut path);
    WalkError {
        path: path.unwrap_or_default(),
        message,
        fatal,
    }
}

/// A path as shown in reports: relative as given, `/`-separated, without a leading `./`.
pub fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = if std::path::MAIN_SEPARATOR == '\\' {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    };
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_globs_are_anchored_when_written_as_paths() {
        let cwd = vec![PathBuf::from("/work/repo")];
        let n = |g: &str| normalise_glob(g, &cwd);
        assert_eq!(n("./b"), "/b");
        assert_eq!(n("./b/"), "/b/");
        assert_eq!(n("././b/**"), "/b/**");
        assert_eq!(n("./"), "/**");
        assert_eq!(n("/work/repo/b"), "/b");
        assert_eq!(n("/work/repo/b/"), "/b/");
        assert_eq!(n("/work/repo/apps/*.yaml"), "/apps/*.yaml");
        assert_eq!(n("/work/repo"), "/**");
        // Elsewhere, or gitignore syntax already: as written.
        assert_eq!(n("/elsewhere/b"), "/elsewhere/b");
        assert_eq!(n("/b"), "/b");
        assert_eq!(n("b/**"), "b/**");
        assert_eq!(n("*.json"), "*.json");
    }
}
