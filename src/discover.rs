//! Stage 1: find the manifests to check.
//!
//! Directories are walked with `ignore`'s parallel walker, which honours `.gitignore`,
//! `.ignore` and hidden files as ripgrep does; files named on the command line are always
//! checked, whatever their extension. `--exclude` globs apply to both.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{WalkBuilder, WalkState};

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

/// A path that could not be walked; the run goes on and exits 2.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkError {
    pub path: String,
    pub message: String,
    /// Loops are reported but are not failures: everything in them is still checked once.
    pub fatal: bool,
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub errors: Vec<WalkError>,
}

pub struct Options<'a> {
    pub paths: &'a [String],
    pub excludes: &'a [String],
    pub stdin_filename: Option<&'a str>,
    pub threads: usize,
}

/// Finds every input under `paths`, sorted by display path, without duplicates.
pub fn discover(opts: &Options<'_>) -> anyhow::Result<Discovery> {
    let excludes = build_excludes(opts.excludes)?;
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
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => dirs.push(path.to_path_buf()),
            Ok(_) => {
                if !excluded(&excludes, path, false) {
                    out.inputs.push(Input::File {
                        path: path.to_path_buf(),
                        display: display_path(path),
                    });
                }
            }
            Err(e) => out.errors.push(WalkError {
                path: display_path(path),
                message: e.to_string(),
                fatal: true,
            }),
        }
    }
    if !dirs.is_empty() {
        walk(&dirs, &excludes, opts.threads, &mut out);
    }
    out.inputs.sort();
    out.inputs.dedup();
    out.errors.sort();
    out.errors.dedup();
    Ok(out)
}

fn build_excludes(globs: &[String]) -> anyhow::Result<Override> {
    let mut b = OverrideBuilder::new(".");
    for g in globs {
        b.add(&format!("!{g}"))
            .map_err(|e| anyhow::anyhow!("invalid --exclude glob `{g}`: {e}"))?;
    }
    Ok(b.build()?)
}

fn excluded(excludes: &Override, path: &Path, is_dir: bool) -> bool {
    let rel = path.strip_prefix("./").unwrap_or(path);
    excludes.matched(rel, is_dir).is_ignore()
}

fn walk(dirs: &[PathBuf], excludes: &Override, threads: usize, out: &mut Discovery) {
    let mut b = WalkBuilder::new(&dirs[0]);
    for d in &dirs[1..] {
        b.add(d);
    }
    b.threads(threads)
        .follow_links(true)
        // .gitignore applies outside a git checkout too (a CI job may get a plain tarball).
        .require_git(false);
    let found = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    b.build_parallel().run(|| {
        Box::new(|entry| {
            match entry {
                Ok(e) => {
                    let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                    if excluded(excludes, e.path(), is_dir) {
                        return if is_dir {
                            WalkState::Skip
                        } else {
                            WalkState::Continue
                        };
                    }
                    if !is_dir
                        && e.depth() > 0
                        && e.path()
                            .extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| EXTENSIONS.contains(&x))
                    {
                        let path = e.into_path();
                        let display = display_path(&path);
                        found
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(Input::File { path, display });
                    }
                }
                Err(err) => {
                    errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(walk_error(&err));
                }
            }
            WalkState::Continue
        })
    });
    out.inputs
        .extend(found.into_inner().unwrap_or_else(|p| p.into_inner()));
    out.errors
        .extend(errors.into_inner().unwrap_or_else(|p| p.into_inner()));
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
