//! Canonical paths, as [`std::fs::canonicalize`] gives them, at a fraction of its cost.
//!
//! A run canonicalizes every file it reads several times (to confine the render to the
//! repository, to match a file to the kustomizations that name it, to tell a chart's files
//! apart), and `realpath(3)` reads every component of the path each time: on a repository
//! of a few thousand files, deep below `/`, that was 7% of a whole check. Here a file
//! costs one `lstat` and its directory is resolved once per run: a path whose last
//! component is not a symbolic link is its directory's canonical path and that name.
//! Anything else (a symbolic link, a path ending in `..`, a name that is not a plain
//! component) is resolved by [`std::fs::canonicalize`] itself.
//!
//! The memo assumes what a check does: the working directory and the directories it reads
//! do not move while it runs.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// Directories resolved so far, by the path they were asked by.
static DIRS: LazyLock<Mutex<HashMap<PathBuf, PathBuf>>> = LazyLock::new(Mutex::default);

/// The canonical, absolute form of `path`: every symbolic link resolved, no `.` or `..`.
/// Fails as [`std::fs::canonicalize`] does when the path does not exist.
pub fn canonicalize(path: &Path) -> io::Result<PathBuf> {
    let mut components = path.components();
    let (Some(Component::Normal(name)), Some(parent)) = (components.next_back(), path.parent())
    else {
        return path.canonicalize();
    };
    // `dir/` and `dir/.` must be directories: the system says whether they are.
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
        return path.canonicalize();
    }
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return path.canonicalize();
    }
    Ok(directory(parent)?.join(name))
}

/// [`canonicalize`] of a directory, resolved once per run.
fn directory(dir: &Path) -> io::Result<PathBuf> {
    let known = DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(dir)
        .cloned();
    if let Some(found) = known {
        return Ok(found);
    }
    let resolved = canonicalize(dir)?;
    DIRS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(dir.to_path_buf(), resolved.clone());
    Ok(resolved)
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
        ]);
        for case in &cases {
            // Twice: the second answer comes from the memo.
            for _ in 0..2 {
                assert_eq!(
                    canonicalize(case).unwrap(),
                    case.canonicalize().unwrap(),
                    "{}",
                    case.display()
                );
            }
        }
        for missing in [
            root.join("nope"),
            root.join("a/nope/f.yaml"),
            root.join("a/b/f.yaml/"),
        ] {
            assert!(canonicalize(&missing).is_err(), "{}", missing.display());
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
