//! Canonical paths, as [`std::fs::canonicalize`] gives them, at a fraction of its cost, and
//! what is at a path, as [`std::fs::metadata`] says, asked once per run.
//!
//! A run canonicalizes every file it reads several times (to confine the render to the
//! repository, to match a file to the kustomizations that name it, to tell a chart's files
//! apart), and `realpath(3)` reads every component of the path each time: on a repository
//! of a few thousand files, deep below `/`, that was 7% of a whole check. Here a path is
//! resolved once per run, whatever asks: a path whose last component is not a symbolic
//! link is its directory's canonical path and that name (one `lstat`, the directory
//! resolved once); `dir/..` is the parent of `dir`'s canonical path. Anything else (a
//! symbolic link, a path ending in `/` or `/.`) is resolved by [`std::fs::canonicalize`]
//! itself, once.
//!
//! The render asks the same questions of a shared base once for every overlay that builds
//! it (does this entry exist, is it a directory, where is it really): on a repository
//! whose base 24 overlays build, its files were looked up 75 times each, 22,000 `statx`
//! calls in all (3% of a check). [`found`] answers those from the same memo.
//!
//! The memo assumes what a check does: the working directory and the files and directories
//! it reads do not move while it runs. A run starts with an empty memo ([`forget`]). Paths
//! are remembered as they were asked, so the same file asked by another spelling
//! (`a/../b/f.yaml`) is looked up once more.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// What the run has learnt of each path it asked about, by the path as asked.
static KNOWN: LazyLock<Mutex<HashMap<Box<OsStr>, Known, foldhash::fast::RandomState>>> =
    LazyLock::new(Mutex::default);

/// What is known of one path.
#[derive(Debug, Default)]
struct Known {
    /// Its canonical form, when resolved: `Some(None)` when the path as asked is its own
    /// canonical form (a run mostly asks about paths already canonical).
    canonical: Option<Option<Box<Path>>>,
    found: Option<Found>,
}

/// What is at a path, following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    File,
    Dir,
    /// A FIFO, a socket, a device.
    Special,
    /// Nothing, or nothing this process may look at.
    Nothing,
}

impl Found {
    pub fn is_file(self) -> bool {
        self == Found::File
    }

    pub fn is_dir(self) -> bool {
        self == Found::Dir
    }

    pub fn exists(self) -> bool {
        self != Found::Nothing
    }
}

/// Forgets every answer: the render asks nearly all of a run's questions, and on a large
/// repository the answers take a megabyte or more, which the stages after it can use.
pub fn forget() {
    *KNOWN.lock().unwrap_or_else(|p| p.into_inner()) = HashMap::default();
}

fn recall<T>(path: &Path, pick: impl FnOnce(&Known) -> Option<T>) -> Option<T> {
    KNOWN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path.as_os_str())
        .and_then(pick)
}

fn remember(path: &Path, learn: impl FnOnce(&mut Known)) {
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    learn(known.entry(path.as_os_str().into()).or_default());
}

/// What is at `path`, following symbolic links: [`Path::is_file`], [`Path::is_dir`] and
/// [`Path::exists`] in one look-up, made once per run.
pub fn found(path: &Path) -> Found {
    if let Some(found) = recall(path, |k| k.found) {
        return found;
    }
    let found = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Found::File,
        Ok(m) if m.is_dir() => Found::Dir,
        Ok(_) => Found::Special,
        Err(_) => Found::Nothing,
    };
    remember(path, |k| k.found = Some(found));
    found
}

/// The canonical, absolute form of `path`: every symbolic link resolved, no `.` or `..`.
/// Fails as [`std::fs::canonicalize`] does when the path does not exist; failures are not
/// remembered.
pub fn canonicalize(path: &Path) -> io::Result<PathBuf> {
    let known = recall(path, |k| {
        k.canonical
            .as_ref()
            .map(|c| c.as_deref().unwrap_or(path).to_path_buf())
    });
    if let Some(canonical) = known {
        return Ok(canonical);
    }
    let canonical = resolve(path)?;
    let kept =
        (canonical.as_os_str() != path.as_os_str()).then(|| canonical.clone().into_boxed_path());
    remember(path, |k| k.canonical = Some(kept));
    Ok(canonical)
}

/// [`canonicalize`], not remembered at `path` itself.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut components = path.components();
    let (last, parent) = (components.next_back(), path.parent());
    // `dir/` and `dir/.` must be directories: the system says whether they are.
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
        return path.canonicalize();
    }
    let parent = match parent {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return path.canonicalize(),
    };
    match last {
        Some(Component::Normal(name)) => {
            if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
                return path.canonicalize();
            }
            Ok(canonicalize(parent)?.join(name))
        }
        // `dir/..`: `dir` resolved (its links too), then its parent; `dir` must be a
        // directory, as `realpath` requires.
        Some(Component::ParentDir) => {
            let dir = canonicalize(parent)?;
            if !std::fs::metadata(&dir)?.is_dir() {
                return path.canonicalize();
            }
            Ok(dir.parent().map_or_else(|| dir.clone(), Path::to_path_buf))
        }
        _ => path.canonicalize(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std_on_files_directories_links_and_dots() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f.yaml"), "x: 1\n").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("a/b"), root.join("link")).unwrap();
            std::os::unix::fs::symlink(root.join("a/b/f.yaml"), root.join("a/g.yaml")).unwrap();
        }
        let mut cases = vec![
            root.join("a/b/f.yaml"),
            root.join("a/b"),
            root.join("a/b/"),
            root.join("a/./b/f.yaml"),
            root.join("a/b/../b/f.yaml"),
            root.join("a/b/.."),
            root.join("a/b/."),
            root.to_path_buf(),
            PathBuf::from("/"),
        ];
        #[cfg(unix)]
        cases.extend([
            root.join("link/f.yaml"),
            root.join("link"),
            root.join("link/"),
            root.join("link/."),
            root.join("a/g.yaml"),
            root.join("link/../b/f.yaml"),
            // A link's `..` is its target's parent, not the link's.
            root.join("link/.."),
            root.join("link/../.."),
        ]);
        for case in &cases {
            // Twice: the second answer comes from the memo. Compared as text: `Path`
            // equality skips a `.` inside a path, which a canonical path never has.
            for _ in 0..2 {
                assert_eq!(
                    canonicalize(case).unwrap().as_os_str(),
                    case.canonicalize().unwrap().as_os_str(),
                    "{}",
                    case.display()
                );
            }
        }
        for missing in [
            root.join("nope"),
            root.join("a/nope/f.yaml"),
            root.join("a/b/f.yaml/"),
            // `..` of a file is no directory.
            root.join("a/b/f.yaml/.."),
        ] {
            assert!(canonicalize(&missing).is_err(), "{}", missing.display());
        }
    }

    #[test]
    fn found_says_what_metadata_says() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/f.yaml"), "x: 1\n").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("d"), root.join("to-dir")).unwrap();
            std::os::unix::fs::symlink(root.join("d/f.yaml"), root.join("to-file")).unwrap();
            std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).unwrap();
        }
        let cases = [
            ("d", Found::Dir),
            ("d/f.yaml", Found::File),
            ("d/../d/f.yaml", Found::File),
            ("d/f.yaml/x", Found::Nothing),
            ("nope", Found::Nothing),
            #[cfg(unix)]
            ("to-dir", Found::Dir),
            #[cfg(unix)]
            ("to-file", Found::File),
            #[cfg(unix)]
            ("dangling", Found::Nothing),
        ];
        for (path, expected) in cases {
            let path = root.join(path);
            // Asked, remembered, and asked again once forgotten.
            for _ in 0..2 {
                assert_eq!(found(&path), expected, "{}", path.display());
            }
            forget();
            assert_eq!(found(&path), expected, "{}", path.display());
            assert_eq!(found(&path).is_file(), path.is_file());
            assert_eq!(found(&path).is_dir(), path.is_dir());
            assert_eq!(found(&path).exists(), path.exists());
        }
    }

    #[test]
    fn relative_paths_resolve_from_the_working_directory() {
        let here = std::env::current_dir().unwrap();
        for case in [
            "Cargo.toml",
            "src/lib.rs",
            "./src/../Cargo.toml",
            "src",
            ".",
        ] {
            assert_eq!(
                canonicalize(Path::new(case)).unwrap(),
                here.join(case).canonicalize().unwrap(),
                "{case}"
            );
        }
    }
}
