//! A kustomization's remote `resources` and `components`, as kustomize v5.7 reads them
//! (`api/internal/git/repospec.go`, `api/internal/loader/fileloader.go`):
//! - a Git repository, `https://host/org/repo//dir?ref=v1`, `github.com/org/repo/dir?ref=v1`,
//!   `https://host/org/repo.git/dir`, `https://dev.azure.com/o/p/_git/repo/dir`: cloned at
//!   `ref` (else the default branch) with the system `git`, depth 1, no submodules;
//! - any other `https://` URL: one file of objects.
//!
//! SSH (`git@host:…`, `ssh://`) and `file://` are not fetched. `git` runs with only the
//! allowed protocols (`GIT_ALLOW_PROTOCOL`), no redirects, no credentials, no terminal
//! prompt, no system or global configuration, and within `--fetch-timeout`.
//!
//! Cache: a checkout at a ref that pins it (a commit id, or a version tag such as `v1.2.3`)
//! is kept under `git/` of the cache and reused without a request; a branch (or no ref) is
//! fetched again each run, as kustomize does. Single files are fetched each run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use super::{Error, Fetch, Network};

/// What a remote entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// One file of objects.
    File(Url),
    /// A directory of a Git repository, at `git_ref` (else the default branch).
    Git {
        repo: Url,
        dir: String,
        git_ref: Option<String>,
    },
}

/// Reads a remote entry as kustomize's repospec does.
pub fn parse(entry: &str) -> Result<Remote, String> {
    let s = entry.trim().strip_prefix("git::").unwrap_or(entry.trim());
    let (base, query) = s.split_once('?').unwrap_or((s, ""));
    let mut git_ref = None;
    for pair in query.split('&') {
        if let Some(v) = pair
            .strip_prefix("ref=")
            .or_else(|| pair.strip_prefix("version="))
        {
            git_ref = Some(v.to_owned()).filter(|v| !v.is_empty());
        }
    }
    if base.starts_with("git@") || base.starts_with("ssh://") {
        return Err(format!(
            "`{entry}` is fetched over SSH: kubegate fetches remote bases over https only"
        ));
    }
    let (scheme, rest, explicit) = match base.split_once("://") {
        Some((scheme @ ("https" | "http"), rest)) => (scheme, rest, true),
        Some((scheme, _)) => {
            return Err(format!(
                "`{entry}`: `{scheme}://` is not fetched, only https (or http where allowed)"
            ));
        }
        None => ("https", base, false),
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let git_marked = path.contains("_git/") || path.contains("//") || has_dot_git(path);
    if explicit && !git_marked && git_ref.is_none() {
        return Url::parse(s)
            .map(Remote::File)
            .map_err(|e| format!("`{entry}` is not a URL: {e}"));
    }
    let (repo_path, dir) = if let Some(i) = path.find("_git/") {
        let after = &path[i + 5..];
        let (name, dir) = after.split_once('/').unwrap_or((after, ""));
        (format!("{}{name}", &path[..i + 5]), dir.to_owned())
    } else if let Some((repo, dir)) = path.split_once("//") {
        (repo.to_owned(), dir.to_owned())
    } else if let Some(i) = dot_git_end(path) {
        (
            path[..i].to_owned(),
            path[i..].trim_start_matches('/').to_owned(),
        )
    } else {
        // Host, organisation, repository: the rest is the directory.
        let mut parts = path.splitn(3, '/');
        let (org, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        (
            format!("{org}/{name}"),
            parts.next().unwrap_or("").to_owned(),
        )
    };
    let repo_path = repo_path.trim_end_matches('/');
    if repo_path.is_empty() || dir.split('/').any(|c| c == "..") {
        return Err(format!("`{entry}` names no repository, or leaves it"));
    }
    // `github.com/org/repo` is cloned as `https://github.com/org/repo.git`.
    let suffix = if !explicit && host == "github.com" && !repo_path.ends_with(".git") {
        ".git"
    } else {
        ""
    };
    let repo = Url::parse(&format!("{scheme}://{host}/{repo_path}{suffix}"))
        .map_err(|e| format!("`{entry}` is not a URL: {e}"))?;
    Ok(Remote::Git {
        repo,
        dir: dir.trim_matches('/').to_owned(),
        git_ref,
    })
}

fn has_dot_git(path: &str) -> bool {
    dot_git_end(path).is_some()
}

/// The end of a `.git` path component's suffix (`org/repo.git` or `org/repo.git/dir`).
fn dot_git_end(path: &str) -> Option<usize> {
    let i = path.find(".git")?;
    let end = i + 4;
    (end == path.len() || path[end..].starts_with('/')).then_some(end)
}

/// A remote entry fetched: the directory or file to read in place of the entry, and the
/// directory it belongs to (a checkout, or the file's own directory) with how reports name
/// it.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub path: PathBuf,
    pub root: PathBuf,
    pub label: String,
}

/// Fetches the remote entry `entry`, once a run however many kustomizations name it (the
/// others wait for the first).
pub fn pull(net: &Network, entry: &str) -> Result<Pulled, Error> {
    let cell = net
        .bases
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(entry.to_owned())
        .or_default()
        .clone();
    cell.get_or_init(|| pull_now(net, entry)).clone()
}

fn pull_now(net: &Network, entry: &str) -> Result<Pulled, Error> {
    match parse(entry).map_err(Error::Refused)? {
        Remote::File(url) => {
            net.allows(&url)?;
            let bytes = net.get(url.as_str())?;
            let name = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .filter(|n| !n.is_empty() && !n.starts_with('.'))
                .unwrap_or("resource.yaml");
            let dir = net.cache.join("http").join(short_hash(url.as_str()));
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::Failed(format!("cache {}: {e}", dir.display())))?;
            let path = dir.join(name);
            std::fs::write(&path, &bytes)
                .map_err(|e| Error::Failed(format!("cache {}: {e}", path.display())))?;
            Ok(Pulled {
                path,
                root: dir,
                label: url.to_string(),
            })
        }
        Remote::Git { repo, dir, git_ref } => {
            let root = checkout(net, &repo, git_ref.as_deref())?;
            let path = if dir.is_empty() {
                root.clone()
            } else {
                root.join(&dir)
            };
            if !path.exists() {
                return Err(Error::Failed(format!(
                    "`{repo}` has no `{dir}` at {}",
                    git_ref.as_deref().unwrap_or("its default branch")
                )));
            }
            Ok(Pulled {
                path,
                root,
                label: match &git_ref {
                    Some(r) => format!("{repo}@{r}"),
                    None => repo.to_string(),
                },
            })
        }
    }
}

/// Whether `r` names one commit for good: a full commit id, or a version tag.
fn pins(r: &str) -> bool {
    (r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()))
        || super::semver::Version::parse(r).is_some()
        || r.rsplit_once('/')
            .is_some_and(|(_, v)| super::semver::Version::parse(v).is_some())
}

/// The checkout of `repo` at `git_ref`, from the cache when pinned and there.
fn checkout(net: &Network, repo: &Url, git_ref: Option<&str>) -> Result<PathBuf, Error> {
    net.allows(repo)?;
    let shown = match git_ref {
        Some(r) => format!("{repo}@{r}"),
        None => repo.to_string(),
    };
    let store = net.cache.join("git");
    let final_dir = store.join(short_hash(&format!("{repo}\n{}", git_ref.unwrap_or(""))));
    let pinned = git_ref.is_some_and(pins);
    if pinned && final_dir.is_dir() {
        net.record(Fetch {
            url: shown,
            outcome: "cached",
            bytes: 0,
            detail: None,
        });
        return Ok(final_dir);
    }
    std::fs::create_dir_all(&store)
        .map_err(|e| Error::Failed(format!("cache {}: {e}", store.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".cloning-")
        .tempdir_in(&store)
        .map_err(|e| Error::Failed(format!("cache {}: {e}", store.display())))?;
    let deadline = Instant::now() + net.timeout;
    // Plain http only when the URL says it (and a rule allows it: checked above).
    let http = repo.scheme() == "http";
    let result = (|| {
        let max = net.max_bytes;
        // No template: no sample hooks, nothing but what is fetched.
        git(
            tmp.path(),
            &["init", "-q", "--template="],
            deadline,
            http,
            max,
        )?;
        git(
            tmp.path(),
            &[
                "fetch",
                "-q",
                "--depth=1",
                "--no-tags",
                "--no-recurse-submodules",
                repo.as_str(),
                git_ref.unwrap_or("HEAD"),
            ],
            deadline,
            http,
            max,
        )?;
        git(
            tmp.path(),
            &["checkout", "-q", "--detach", "FETCH_HEAD"],
            deadline,
            http,
            max,
        )?;
        // Only the files are needed; no history, nothing git would run later.
        std::fs::remove_dir_all(tmp.path().join(".git")).map_err(|e| e.to_string())
    })();
    let outcome = match &result {
        Ok(()) => "fetched",
        Err(_) => "failed",
    };
    net.record(Fetch {
        url: shown.clone(),
        outcome,
        bytes: 0,
        detail: result.as_ref().err().cloned(),
    });
    result.map_err(|e| Error::Failed(format!("`{shown}`: {e}")))?;
    let _ = std::fs::remove_dir_all(&final_dir);
    match std::fs::rename(tmp.path(), &final_dir) {
        Ok(()) => {
            let _ = tmp.keep();
            Ok(final_dir)
        }
        Err(_) if final_dir.is_dir() => Ok(final_dir),
        Err(e) => Err(Error::Failed(format!("cache {}: {e}", final_dir.display()))),
    }
}

/// Runs `git args` in `dir`, confined: only the allowed protocols, no redirects, no
/// credentials or prompts, no configuration but its own, stopped at `deadline` or once
/// `dir` holds more than `max` bytes.
fn git(dir: &Path, args: &[&str], deadline: Instant, http: bool, max: u64) -> Result<(), String> {
    let mut cmd = Command::new("git");
    cmd.args([
        "-c",
        "http.followRedirects=false",
        "-c",
        "credential.helper=",
        "-c",
        "core.askPass=",
        "-c",
        "protocol.file.allow=never",
        "-c",
        "submodule.recurse=false",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "init.defaultBranch=main",
    ])
    .args(args)
    .current_dir(dir)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .env(
            "GIT_ALLOW_PROTOCOL",
            if http { "https:http" } else { "https" },
        )
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run git (needed for remote bases): {e}"))?;
    let stderr = child.stderr.take();
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(64 << 10).read_to_end(&mut buf);
        }
        buf
    });
    let mut too_large = false;
    let mut polls = 0u32;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {}
            Ok(None) | Err(_) => break None,
        }
        polls += 1;
        // What it has written so far, every quarter of a second.
        if polls.is_multiple_of(25) && size_of(dir, 0) > max {
            too_large = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let err = err.join().unwrap_or_default();
    if too_large || (status.is_some() && size_of(dir, 0) > max) {
        return Err(format!(
            "the repository is larger than {max} bytes (--max-file-size)"
        ));
    }
    match status {
        None => Err("no answer within the fetch timeout (--fetch-timeout)".into()),
        Some(s) if !s.success() => {
            let text = String::from_utf8_lossy(&err);
            let last = text
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or("failed");
            Err(format!("git {}: {last}", args[0]))
        }
        Some(_) => Ok(()),
    }
}

/// The bytes of the files under `dir` (links not followed; 32 levels at most).
fn size_of(dir: &Path, depth: usize) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() && depth < 32 => size_of(&e.path(), depth + 1),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn short_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_of(entry: &str) -> (String, String, Option<String>) {
        match parse(entry).unwrap() {
            Remote::Git { repo, dir, git_ref } => (repo.to_string(), dir, git_ref),
            other => panic!("{entry}: {other:?}"),
        }
    }

    /// The forms of kustomize's `examples/remoteBuild.md` and repospec tests.
    #[test]
    fn entries_split_as_kustomize_splits_them() {
        assert_eq!(
            git_of("github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6"),
            (
                "https://github.com/kubernetes-sigs/kustomize.git".into(),
                "examples/multibases".into(),
                Some("v1.0.6".into())
            )
        );
        assert_eq!(
            git_of("https://github.com/org/repo.git/deploy/base?ref=main"),
            (
                "https://github.com/org/repo.git".into(),
                "deploy/base".into(),
                Some("main".into())
            )
        );
        assert_eq!(
            git_of("https://dev.azure.com/o/p/_git/repo/dir?version=GTv1"),
            (
                "https://dev.azure.com/o/p/_git/repo".into(),
                "dir".into(),
                Some("GTv1".into())
            )
        );
        assert_eq!(
            git_of("github.com/org/repo/config/default?ref=v2"),
            (
                "https://github.com/org/repo.git".into(),
                "config/default".into(),
                Some("v2".into())
            )
        );
        assert_eq!(
            git_of("git::https://gitlab.example.com/team/repo//base"),
            (
                "https://gitlab.example.com/team/repo".into(),
                "base".into(),
                None
            )
        );
        assert_eq!(
            parse("https://raw.example.com/org/repo/v1/deploy.yaml").unwrap(),
            Remote::File(Url::parse("https://raw.example.com/org/repo/v1/deploy.yaml").unwrap())
        );
        for refused in [
            "git@github.com:org/repo",
            "ssh://git@host/org/repo",
            "file:///srv/repo//app",
            "https://host/org/repo//../../etc?ref=v1",
        ] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        assert!(pins("v1.2.3") && pins("1.0") && pins(&"a".repeat(40)) && pins("release/v2.0.1"));
        assert!(!pins("main") && !pins("feature/x"));
    }
}
