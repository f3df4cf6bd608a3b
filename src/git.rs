//! What kubegate knows of Git, through `gix` (never a `git` subprocess): the base a merge
//! request targets, which files it changes, and the content of any file at the base, read
//! straight from the object database.
//!
//! The base is what the merge request cannot write: `--base`, the CI's variables and event
//! payload, or the default branch; on GitHub, `HEAD`'s first parent only when `HEAD` is the
//! merge commit the platform made (see [`Repo::detect_base`]).
//!
//! "Changed" means: the content at `HEAD` *or in the worktree* differs from the merge-base
//! of `HEAD` and the base. Rather than diffing trees and then asking for the worktree status,
//! each file's current blob id is compared with the merge-base's: the index gives the id of
//! every tracked file whose stat data did not change since it was staged (as `git status`
//! trusts it); any other file is hashed as Git would store it: a symbolic link from its link
//! text (never what it points at), a regular file streamed through [`crate::read::open`]
//! (never a FIFO or a device). Untracked files are added files. Git's content filters
//! (`core.autocrlf`, `.gitattributes` `eol`) are not applied before hashing, so a file those
//! filters rewrite shows as changed. Renames are found as `git diff -M` finds them: same
//! content, or at least half the lines in common.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use gix::ObjectId;

/// Pairs of (added, deleted) files compared for renames with edits, at most (git's
/// `diff.renameLimit` is 1,000 files a side).
const RENAME_LIMIT: usize = 10_000;

/// Files larger than this are not compared for renames with edits.
const MAX_RENAME_BYTES: usize = 1 << 20;

/// The GitHub event payload is read up to this size.
const MAX_EVENT_BYTES: u64 = 64 << 20;

/// An open repository and its worktree.
pub struct Repo {
    repo: gix::Repository,
    /// The worktree root, canonical.
    root: PathBuf,
}

/// The revision a merge request targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The tip of the target branch: trusted policies come from here.
    pub commit: ObjectId,
    /// The merge-base of `HEAD` and `commit`: changes are measured from here.
    pub merge_base: ObjectId,
    /// How the base was found, for messages (`--base origin/main`, `GITHUB_BASE_REF`, ...).
    pub source: String,
}

/// Why no base could be used.
#[derive(Debug)]
pub enum BaseError {
    /// Nothing told us the base and no default branch was found.
    Unknown,
    /// The clone is shallow and lacks the base or the history to its merge-base.
    Shallow(String),
    /// Anything else (bad `--base`, unreadable repository).
    Other(anyhow::Error),
}

impl std::fmt::Display for BaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaseError::Unknown => write!(
                f,
                "cannot tell which revision this change targets: pass `--base REF` \
                 (for example `--base origin/main`)"
            ),
            BaseError::Shallow(what) => write!(
                f,
                "{what}: this is a shallow clone. Fetch the history: `fetch-depth: 0` on \
                 actions/checkout (GitHub), `GIT_DEPTH: 0` in the job's variables (GitLab), \
                 or `git fetch --unshallow`"
            ),
            BaseError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for BaseError {}

/// How a file differs between the merge-base and now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Added,
    Modified,
    /// Moved from `from` with its content unchanged or changed.
    Renamed {
        from: String,
    },
}

/// The files a merge request changes, by repository-relative path.
#[derive(Debug, Default)]
pub struct Changes {
    /// Changed files that exist now, with their base path and blob where there is one.
    pub files: BTreeMap<String, (Status, Option<ObjectId>)>,
    /// Files of the merge-base that are gone, with their blob.
    pub deleted: BTreeMap<String, ObjectId>,
}

impl Changes {
    /// The base path and blob of a changed file that existed at the base.
    pub fn base_of<'a>(&'a self, path: &'a str) -> Option<(&'a str, ObjectId)> {
        let (status, oid) = self.files.get(path)?;
        let oid = (*oid)?;
        match status {
            Status::Renamed { from } => Some((from.as_str(), oid)),
            _ => Some((path, oid)),
        }
    }
}

impl Repo {
    /// The repository that holds `dir`, if any.
    pub fn discover(dir: &Path) -> anyhow::Result<Option<Self>> {
        let repo = match gix::discover(dir) {
            Ok(r) => r,
            // Not in a repository at all; any other failure (an unreadable or broken
            // repository) is worth its own message.
            Err(e) if e.to_string().starts_with("Could not find a git repository") => {
                return Ok(None);
            }
            Err(e) => bail!("cannot open the Git repository: {e}"),
        };
        let Some(root) = repo.workdir() else {
            return Ok(None);
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", root.display()))?;
        Ok(Some(Self { repo, root }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (relative to the current directory, or absolute) relative to the worktree
    /// root, `/`-separated; `None` outside the worktree.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(path)
        };
        let abs = normalize(&abs);
        let rel = abs.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect();
        Some(parts.join("/"))
    }

    /// Finds the base: `explicit` (`--base`), else the CI's merge-request variables and
    /// GitHub's event payload (read through `env`; see `github_base`), else the
    /// remote's default branch. Changes are measured from its merge-base with `HEAD`.
    pub fn detect_base(
        &self,
        explicit: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Base, BaseError> {
        let head = self.head()?;
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        let (commit, source) = if let Some(spec) = explicit {
            (
                self.resolve(spec, &format!("--base {spec}"))?,
                spec.to_owned(),
            )
        } else if let Some((commit, source)) = self.github_base(head, &set)? {
            (commit, source)
        } else if let Some(sha) = set("CI_MERGE_REQUEST_DIFF_BASE_SHA") {
            let source = "CI_MERGE_REQUEST_DIFF_BASE_SHA".to_owned();
            (self.resolve(&sha, &source)?, source)
        } else if let Some((commit, source)) = self.default_branch()? {
            (commit, source)
        } else {
            return Err(BaseError::Unknown);
        };
        let merge_base = match self.repo.merge_base(head, commit) {
            Ok(Some(id)) => id.detach(),
            Ok(None) if self.shallow() => {
                return Err(BaseError::Shallow(format!(
                    "no common history between HEAD and the base {} ({source})",
                    short(commit)
                )));
            }
            Ok(None) => {
                return Err(BaseError::Other(anyhow!(
                    "HEAD and the base {} ({source}) have no common history",
                    short(commit)
                )));
            }
            Err(e) if self.shallow() => {
                return Err(BaseError::Shallow(format!(
                    "cannot walk the history from HEAD to the base {} ({source}): {e}",
                    short(commit)
                )));
            }
            Err(e) => return Err(BaseError::Other(anyhow!("finding the merge-base: {e}"))),
        };
        Ok(Base {
            commit,
            merge_base,
            source,
        })
    }

    fn shallow(&self) -> bool {
        self.repo.is_shallow().unwrap_or(false)
    }

    fn head(&self) -> Result<ObjectId, BaseError> {
        match self.repo.head_commit() {
            Ok(c) => Ok(c.id),
            Err(e) => Err(BaseError::Other(anyhow!("cannot read HEAD: {e}"))),
        }
    }

    /// A revision that must exist; a shallow clone that lacks it says so.
    fn resolve(&self, spec: &str, source: &str) -> Result<ObjectId, BaseError> {
        match self.repo.rev_parse_single(spec) {
            Ok(id) => {
                let id = id.detach();
                if self.repo.find_commit(id).is_ok() {
                    Ok(id)
                } else if self.shallow() {
                    Err(BaseError::Shallow(format!(
                        "the base {} ({source}) is not in this clone",
                        short(id)
                    )))
                } else {
                    Err(BaseError::Other(anyhow!(
                        "{source}: {} is not a commit",
                        short(id)
                    )))
                }
            }
            Err(e) if self.shallow() => Err(BaseError::Shallow(format!(
                "the base `{spec}` ({source}) is not in this clone ({e})"
            ))),
            Err(e) => Err(BaseError::Other(anyhow!(
                "{source}: cannot resolve `{spec}`: {e}"
            ))),
        }
    }

    /// GitHub Actions: the base comes from what the pull request cannot write, the event
    /// payload (`GITHUB_EVENT_PATH`) and `GITHUB_BASE_REF`.
    ///
    /// The first parent of `HEAD` is the base only when `HEAD` is the very merge commit GitHub
    /// made for the pull request (`refs/pull/N/merge`, which `actions/checkout` checks out on a
    /// `pull_request` event): `HEAD` is `GITHUB_SHA`, `GITHUB_REF` is `refs/pull/N/merge`, it
    /// has two parents, the second is the event's `pull_request.head.sha`, and the event's
    /// `base.sha`, when present, is the first parent or one of its ancestors (the merge ref is
    /// remade when the base branch moves). Any other two-parent commit, a "Merge ..." commit
    /// the pull request made itself included, could name its own commit as the trusted base.
    /// Otherwise: the event's `base.sha`, then `origin/$GITHUB_BASE_REF`.
    fn github_base(
        &self,
        head: ObjectId,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<(ObjectId, String)>, BaseError> {
        // The runner's own file, not the repository's; bounded all the same.
        let event = env("GITHUB_EVENT_PATH")
            .and_then(|p| crate::read::read(Path::new(&p), MAX_EVENT_BYTES).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        let sha_at = |pointer: &str| {
            event
                .as_ref()
                .and_then(|v| v.pointer(pointer)?.as_str().map(str::to_owned))
        };
        let event_base = sha_at("/pull_request/base/sha");
        let event_head = sha_at("/pull_request/head/sha");
        let base_ref = env("GITHUB_BASE_REF");
        if event_base.is_none() && base_ref.is_none() {
            return Ok(None);
        }
        if let Some(first) =
            self.platform_merge_parent(head, env, event_base.as_deref(), event_head.as_deref())?
        {
            return Ok(Some((first, "the merge commit's first parent".into())));
        }
        if let Some(sha) = event_base {
            let source = "the pull_request event's base sha".to_owned();
            return Ok(Some((self.resolve(&sha, &source)?, source)));
        }
        if let Some(r) = base_ref {
            let source = "GITHUB_BASE_REF".to_owned();
            for spec in [format!("refs/remotes/origin/{r}"), r.clone()] {
                if let Ok(id) = self.repo.rev_parse_single(spec.as_str()) {
                    return Ok(Some((id.detach(), source)));
                }
            }
            let what = format!("the base branch `{r}` (GITHUB_BASE_REF) is not in this clone");
            return Err(if self.shallow() {
                BaseError::Shallow(what)
            } else {
                BaseError::Other(anyhow!(
                    "{what}; fetch it, for example `git fetch origin {r}`"
                ))
            });
        }
        Ok(None)
    }

    /// The first parent of `HEAD` when `HEAD` is GitHub's merge commit for this pull request
    /// (see [`Self::github_base`]); `None` when it is not.
    fn platform_merge_parent(
        &self,
        head: ObjectId,
        env: &dyn Fn(&str) -> Option<String>,
        event_base: Option<&str>,
        event_head: Option<&str>,
    ) -> Result<Option<ObjectId>, BaseError> {
        let same = |a: &str, b: ObjectId| a.eq_ignore_ascii_case(&b.to_hex().to_string());
        let is_github_sha = env("GITHUB_SHA").is_some_and(|s| same(&s, head));
        let is_merge_ref = env("GITHUB_REF").is_some_and(|r| {
            r.strip_prefix("refs/pull/")
                .and_then(|r| r.strip_suffix("/merge"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        if !is_github_sha || !is_merge_ref {
            return Ok(None);
        }
        let Ok(commit) = self.repo.find_commit(head) else {
            return Ok(None);
        };
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        let [first, second] = parents[..] else {
            return Ok(None);
        };
        if !event_head.is_some_and(|h| same(h, second)) {
            return Ok(None);
        }
        if self.repo.find_commit(first).is_err() {
            return Err(BaseError::Shallow(format!(
                "HEAD is the merge commit of a pull request, but its first parent {} \
                 is not in this clone",
                short(first)
            )));
        }
        let Some(base) = event_base else {
            return Ok(Some(first));
        };
        let Ok(base) = ObjectId::from_hex(base.as_bytes()) else {
            return Ok(None);
        };
        if base == first {
            return Ok(Some(first));
        }
        // The event's base must be behind the first parent, never beside it.
        match self.repo.merge_base(base, first) {
            Ok(Some(mb)) if mb.detach() == base => Ok(Some(first)),
            Ok(_) => Ok(None),
            Err(e) if self.shallow() => Err(BaseError::Shallow(format!(
                "cannot tell whether the pull request's base {} is behind the merge commit's \
                 first parent {}: {e}",
                short(base),
                short(first)
            ))),
            // The event's base is not in this clone: the first parent cannot be vouched for.
            Err(_) => Ok(None),
        }
    }

    /// The remote's default branch (`origin/HEAD`), else `origin/main`, `origin/master`,
    /// `main`, `master`: whichever exists first and is not `HEAD` itself.
    fn default_branch(&self) -> Result<Option<(ObjectId, String)>, BaseError> {
        let head = self.head()?;
        for spec in [
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
            "refs/remotes/origin/master",
            "refs/heads/main",
            "refs/heads/master",
        ] {
            if let Ok(id) = self.repo.rev_parse_single(spec) {
                let id = id.detach();
                if id != head || spec.starts_with("refs/remotes/") {
                    let name = spec.trim_start_matches("refs/remotes/");
                    let name = name.trim_start_matches("refs/heads/");
                    return Ok(Some((id, name.to_owned())));
                }
            }
        }
        Ok(None)
    }

    /// Every file of `commit`'s tree: path → blob id. Symbolic links are left out: their
    /// blob is their link text, not a file's content.
    pub fn tree_files(&self, commit: ObjectId) -> anyhow::Result<HashMap<String, ObjectId>> {
        self.tree_blobs(commit, false)
    }

    /// Every blob of `commit`'s tree, symbolic links included when `links`: path → id.
    fn tree_blobs(
        &self,
        commit: ObjectId,
        links: bool,
    ) -> anyhow::Result<HashMap<String, ObjectId>> {
        let tree = self
            .repo
            .find_commit(commit)
            .map_err(|e| anyhow!("{e}"))?
            .tree()
            .map_err(|e| anyhow!("{e}"))?;
        let files = tree
            .traverse()
            .breadthfirst
            .files()
            .map_err(|e| anyhow!("{e}"))?;
        Ok(files
            .into_iter()
            .filter(|e| e.mode.is_blob() || links && e.mode.is_link())
            .map(|e| (e.filepath.to_string(), e.oid))
            .collect())
    }

    /// The content of a blob.
    pub fn blob(&self, oid: ObjectId) -> anyhow::Result<Vec<u8>> {
        let object = self
            .repo
            .find_object(oid)
            .map_err(|e| anyhow!("reading blob {}: {e}", short(oid)))?;
        Ok(object.detach().data)
    }

    /// The tracked files under `dir` (repository-relative, `""` for the whole worktree), from
    /// the index: repository-relative paths, sorted, without submodules. The index is read
    /// once per `Repo` (gix keeps it until the file changes), so [`Self::changes`] after this
    /// does not read it again.
    pub fn tracked_under(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        let index = self.repo.index_or_empty().map_err(|e| anyhow!("{e}"))?;
        let dir = dir.trim_end_matches('/');
        let mut out: Vec<String> = index
            .entries()
            .iter()
            .filter(|e| !e.mode.is_submodule() && !e.mode.is_sparse())
            .map(|e| e.path(&index).to_string())
            .filter(|p| dir.is_empty() || p.strip_prefix(dir).is_some_and(|r| r.starts_with('/')))
            .collect();
        // Conflicted files have up to three entries.
        out.dedup();
        Ok(out)
    }

    /// The staged content of `path` (repository-relative), if it is in the index.
    pub fn staged(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let index = self.repo.index_or_empty().map_err(|e| anyhow!("{e}"))?;
        match index.entry_by_path(path.into()) {
            Some(e) => self.blob(e.id).map(Some),
            None => Ok(None),
        }
    }

    /// The files that differ between `merge_base` and the worktree (see the module doc).
    /// `untracked`: repository-relative paths about to be checked; those not in the index are
    /// added files (or renamed ones, if a deleted file had their content).
    pub fn changes(&self, merge_base: ObjectId, untracked: &[String]) -> anyhow::Result<Changes> {
        // Symbolic links too: the worktree's are hashed from their link text, as Git does.
        let base = self.tree_blobs(merge_base, true)?;
        let index = self.repo.index_or_empty().map_err(|e| anyhow!("{e}"))?;
        let stamp = index.timestamp();
        let options = gix::index::entry::stat::Options {
            trust_ctime: false,
            check_stat: true,
            use_nsec: true,
            use_stdev: false,
        };
        let kind = self.repo.object_hash();
        // The current blob of every tracked file that still exists.
        let mut current: BTreeMap<String, ObjectId> = BTreeMap::new();
        for entry in index.entries() {
            if entry.stage_raw() != 0 || entry.mode.is_submodule() || entry.mode.is_sparse() {
                continue;
            }
            let path = entry.path(&index).to_string();
            let full = self.root.join(&path);
            let Ok(meta) = gix::index::fs::Metadata::from_path_no_follow(&full) else {
                continue; // deleted in the worktree
            };
            let trusted = gix::index::entry::Stat::from_fs(&meta).is_ok_and(|stat| {
                entry.stat.matches(&stat, options) && !entry.stat.is_racy(stamp, options)
            });
            let oid = if trusted {
                entry.id
            } else {
                // Unreadable or not a file: counted as changed, so the check reports why.
                worktree_oid(&full, kind).unwrap_or_else(|| ObjectId::null(kind))
            };
            current.insert(path, oid);
        }
        for path in untracked {
            if current.contains_key(path) || index.entry_by_path(path.as_str().into()).is_some() {
                continue;
            }
            if let Some(oid) = worktree_oid(&self.root.join(path), kind) {
                current.insert(path.clone(), oid);
            }
        }
        let mut changes = Changes::default();
        for (path, oid) in &current {
            match base.get(path) {
                Some(b) if b == oid => {}
                Some(b) => {
                    changes
                        .files
                        .insert(path.clone(), (Status::Modified, Some(*b)));
                }
                None => {
                    changes.files.insert(path.clone(), (Status::Added, None));
                }
            }
        }
        for (path, oid) in &base {
            if !current.contains_key(path) {
                changes.deleted.insert(path.clone(), *oid);
            }
        }
        // Renames with the content unchanged: an added file whose blob a deleted file had.
        let by_blob: HashMap<ObjectId, &String> =
            changes.deleted.iter().map(|(p, o)| (*o, p)).collect();
        let mut taken = std::collections::BTreeSet::new();
        for (path, (status, base_oid)) in changes.files.iter_mut() {
            if *status == Status::Added
                && let Some(oid) = current.get(path)
                && let Some(from) = by_blob.get(oid)
                && taken.insert((*from).clone())
            {
                *status = Status::Renamed {
                    from: (*from).clone(),
                };
                *base_oid = Some(*oid);
            }
        }
        // Renames with edits, as `git diff -M` finds them: an added file at least half of
        // whose lines a deleted file had (the best match wins). Bounded, as git bounds it.
        let added: Vec<String> = changes
            .files
            .iter()
            .filter(|(_, (s, _))| *s == Status::Added)
            .map(|(p, _)| p.clone())
            .collect();
        let gone: Vec<(String, ObjectId)> = changes
            .deleted
            .iter()
            .filter(|(p, _)| !taken.contains(*p))
            .map(|(p, o)| (p.clone(), *o))
            .collect();
        if !added.is_empty() && !gone.is_empty() && added.len() * gone.len() <= RENAME_LIMIT {
            let mut old_texts = Vec::with_capacity(gone.len());
            for (path, oid) in &gone {
                let bytes = self.blob(*oid)?;
                old_texts.push((path, *oid, String::from_utf8_lossy(&bytes).into_owned()));
            }
            for path in added {
                let Some(new) = worktree_blob(&self.root.join(&path), MAX_RENAME_BYTES as u64)
                else {
                    continue;
                };
                let new = String::from_utf8_lossy(&new);
                let best = old_texts
                    .iter()
                    .filter(|(from, _, old)| {
                        !taken.contains(*from) && old.len().max(new.len()) <= MAX_RENAME_BYTES
                    })
                    .map(|(from, oid, old)| {
                        let ratio = similar::TextDiff::from_lines(old.as_str(), &*new).ratio();
                        (ratio, (*from).clone(), *oid)
                    })
                    .filter(|(ratio, _, _)| *ratio >= 0.5)
                    .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
                if let (Some((_, from, oid)), Some(entry)) = (best, changes.files.get_mut(&path)) {
                    taken.insert(from.clone());
                    *entry = (Status::Renamed { from }, Some(oid));
                }
            }
        }
        for from in &taken {
            changes.deleted.remove(from);
        }
        Ok(changes)
    }

    /// The files under `dir` (repository-relative; a file or a directory) at `commit`.
    pub fn files_at(&self, commit: ObjectId, dir: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let dir = dir.trim_end_matches('/');
        let mut out = Vec::new();
        for (path, oid) in self.tree_files(commit)? {
            let inside = dir.is_empty()
                || dir == "."
                || path == dir
                || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
            if inside {
                out.push((path, self.blob(oid)?));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What Git would store for the worktree file at `full`, as a blob: a symbolic link's target
/// text (never what it points at), a regular file's content (at most `max` bytes), nothing
/// for anything else or anything larger.
fn worktree_blob(full: &Path, max: u64) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(full).ok()?;
    if meta.file_type().is_symlink() {
        return link_text(full);
    }
    crate::read::read_no_follow(full, max).ok()
}

/// The blob id Git would give the worktree file at `full` (see [`worktree_blob`]), hashed as
/// it is read so that a file of any size takes a fixed amount of memory; `None` when it is
/// neither a regular file nor a symbolic link, or cannot be read.
fn worktree_oid(full: &Path, kind: gix::hash::Kind) -> Option<ObjectId> {
    let meta = std::fs::symlink_metadata(full).ok()?;
    if meta.file_type().is_symlink() {
        let text = link_text(full)?;
        return gix::objs::compute_hash(kind, gix::objs::Kind::Blob, &text).ok();
    }
    let (file, len) = crate::read::open(full, false).ok()?;
    // Exactly the length found at opening: a file that changes meanwhile hashes as changed.
    let mut reader = std::io::Read::take(file, len);
    gix::objs::compute_stream_hash(
        kind,
        gix::objs::Kind::Blob,
        &mut reader,
        len,
        &mut gix::utils::progress::Discard,
        &std::sync::atomic::AtomicBool::new(false),
    )
    .ok()
}

/// A symbolic link's target as Git stores it.
fn link_text(full: &Path) -> Option<Vec<u8>> {
    let target = std::fs::read_link(full).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(target.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    {
        Some(target.to_string_lossy().replace('\\', "/").into_bytes())
    }
}

/// The first 12 hex digits of an id.
pub fn short(id: ObjectId) -> String {
    id.to_hex_with_len(12).to_string()
}

/// Resolves `.` and `..` without touching the filesystem, after canonicalising the longest
/// existing prefix (so symlinked temp dirs compare equal to the canonical worktree root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let mut existing = out.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(name) => rest.push(name.to_owned()),
            None => break,
        }
        if !existing.pop() {
            break;
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    resolved
}
