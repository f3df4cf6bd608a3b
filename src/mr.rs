//! Merge-request awareness on top of [`crate::git`]: which inputs to check
//! (`--changed-only`), which findings the change introduced (`--new-only`), which ones
//! touch its lines (`--filter-mode`), and the policy files a change must not rewrite for
//! itself (`--policies-from-base`). Worktree files are read through [`crate::read`]: regular
//! files only, at most `--max-file-size` bytes.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::finding::{Finding, Severity};
use crate::git::{Base, Changes, Repo, short};

/// Which findings annotations (and every report) keep, as reviewdog's `-filter-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FilterMode {
    /// Findings on lines the change added or modified
    Added,
    /// Findings on those lines or within 3 lines of them (a diff's context)
    #[value(name = "diff_context")]
    DiffContext,
    /// Findings in files the change touched
    File,
    /// Every finding
    Nofilter,
}

/// Lines of context `diff_context` adds around each changed line, as `git diff` shows.
const CONTEXT: u32 = 3;

/// A repository with its merge-request base and the changes since the merge-base.
pub struct MergeRequest {
    pub repo: Repo,
    pub base: Base,
    pub changes: Changes,
    /// The most bytes read of a worktree file (`--max-file-size`): a larger file was not
    /// checked, so its lines are not compared either.
    pub read_limit: u64,
}

impl MergeRequest {
    /// The repository-relative path of a checked file's display path.
    pub fn rel(&self, display: &str) -> Option<String> {
        self.repo.relative(Path::new(display))
    }

    /// Whether the file shown as `display` is changed by the merge request.
    pub fn is_changed(&self, display: &str) -> bool {
        self.rel(display)
            .is_some_and(|p| self.changes.files.contains_key(&p))
    }

    /// The base content of a changed file (at its base path), if it existed.
    pub fn base_text(&self, display: &str) -> Option<(String, Vec<u8>)> {
        let rel = self.rel(display)?;
        let (from, oid) = self.changes.base_of(&rel)?;
        let bytes = self.repo.blob(oid).ok()?;
        Some((from.to_owned(), bytes))
    }

    /// The lines of `head` (1-based, inclusive ranges) that differ from the base version of
    /// the file: every line for an added file.
    pub fn changed_lines(&self, display: &str, head: &str) -> Vec<RangeInclusive<u32>> {
        match self.base_text(display) {
            None => vec![1..=u32::MAX],
            Some((_, base)) => added_lines(&String::from_utf8_lossy(&base), head),
        }
    }
}

/// The changed lines of each file, computed once per file: from the worktree, or from the
/// index under `--staged`.
pub struct ChangedLines<'a> {
    mr: &'a MergeRequest,
    staged: Option<&'a Repo>,
    files: HashMap<Arc<str>, Option<Vec<RangeInclusive<u32>>>>,
}

impl<'a> ChangedLines<'a> {
    pub fn new(mr: &'a MergeRequest, staged: Option<&'a Repo>) -> Self {
        Self {
            mr,
            staged,
            files: HashMap::new(),
        }
    }

    /// The changed lines of the file shown as `file`; `None` when the change leaves it alone.
    pub fn of(&mut self, file: &Arc<str>) -> Option<&[RangeInclusive<u32>]> {
        let (mr, staged) = (self.mr, self.staged);
        self.files
            .entry(file.clone())
            .or_insert_with(|| {
                if !mr.is_changed(file) {
                    return None;
                }
                let head = match staged {
                    Some(repo) => repo
                        .relative(Path::new(&**file))
                        .and_then(|rel| repo.staged(&rel).ok().flatten()),
                    None => crate::read::read(Path::new(&**file), mr.read_limit).ok(),
                };
                let head = String::from_utf8_lossy(&head.unwrap_or_default()).into_owned();
                Some(mr.changed_lines(file, &head))
            })
            .as_deref()
    }
}

/// The lines of `new` (1-based, inclusive ranges) that a line diff from `old` inserts or
/// replaces.
pub fn added_lines(old: &str, new: &str) -> Vec<RangeInclusive<u32>> {
    use similar::{DiffOp, TextDiff};
    // Lines end at a lone `\r` too, as findings count them (`source::LineIndex`).
    let (old, new) = (lone_cr_as_lf(old), lone_cr_as_lf(new));
    let diff = TextDiff::from_lines(&*old, &*new);
    let mut out: Vec<RangeInclusive<u32>> = Vec::new();
    for op in diff.ops() {
        let (start, len) = match *op {
            DiffOp::Insert {
                new_index, new_len, ..
            }
            | DiffOp::Replace {
                new_index, new_len, ..
            } => (new_index, new_len),
            DiffOp::Equal { .. } | DiffOp::Delete { .. } => continue,
        };
        if len == 0 {
            continue;
        }
        let first = start as u32 + 1;
        out.push(first..=first + len as u32 - 1);
    }
    out
}

/// The line of `new` (1-based) where the line `line` of `old` is now: the same line when
/// the diff keeps it, else the first line after the place it was removed from (the last
/// line when it was removed from the end).
pub fn line_in_new(old: &str, new: &str, line: u32) -> u32 {
    use similar::{DiffOp, TextDiff};
    let (old, new) = (lone_cr_as_lf(old), lone_cr_as_lf(new));
    let last = new.lines().count().max(1) as u32;
    let diff = TextDiff::from_lines(&*old, &*new);
    let l = line.saturating_sub(1) as usize;
    for op in diff.ops() {
        let at = match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } if (old_index..old_index + len).contains(&l) => new_index + (l - old_index),
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            }
            | DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                ..
            } if (old_index..old_index + old_len).contains(&l) => new_index,
            _ => continue,
        };
        return (at as u32 + 1).min(last);
    }
    last
}

/// The first line of `new` (1-based) where a line diff from `old` removes or replaces
/// lines, if it does.
pub fn first_removal(old: &str, new: &str) -> Option<u32> {
    use similar::{DiffOp, TextDiff};
    let (old, new) = (lone_cr_as_lf(old), lone_cr_as_lf(new));
    let last = new.lines().count().max(1) as u32;
    let diff = TextDiff::from_lines(&*old, &*new);
    diff.ops().iter().find_map(|op| match *op {
        DiffOp::Delete { new_index, .. } | DiffOp::Replace { new_index, .. } => {
            Some((new_index as u32 + 1).min(last))
        }
        _ => None,
    })
}

/// `text` with every `\r` not followed by `\n` turned into `\n` (same length, same lines).
fn lone_cr_as_lf(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return text.into();
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '\r' && b.get(i + 1) != Some(&b'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Whether a finding spanning `start..=end` (lines) passes `mode` given the changed lines
/// of its file (`None`: the file is not changed).
pub fn passes(
    mode: FilterMode,
    start: u32,
    end: u32,
    changed: Option<&[RangeInclusive<u32>]>,
) -> bool {
    let margin = match mode {
        FilterMode::Nofilter => return true,
        FilterMode::File => return changed.is_some(),
        FilterMode::Added => 0,
        FilterMode::DiffContext => CONTEXT,
    };
    let Some(ranges) = changed else {
        return false;
    };
    let end = end.max(start);
    ranges.iter().any(|r| {
        let lo = r.start().saturating_sub(margin);
        let hi = r.end().saturating_add(margin);
        start <= hi && end >= lo
    })
}

/// The identity of a finding that survives moves: rule, repository path (a renamed file's
/// base findings are compared under its new path), object and JSON path, or message and
/// document where there is no JSON path — never the line. See [`crate::report::fingerprints`].
pub fn identity(f: &Finding, path: &str) -> String {
    let mut key = format!("{}\u{0}{path}\u{0}", f.rule);
    if let Some(o) = &f.object {
        key.push_str(&format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}",
            o.api_version,
            o.kind,
            o.namespace.as_deref().unwrap_or(""),
            o.name.as_deref().unwrap_or("")
        ));
    }
    match &f.path {
        Some(p) => key.push_str(p),
        None => {
            key.push_str(&f.message);
            key.push('\u{0}');
            key.push_str(&f.document.map_or(String::new(), |d| d.to_string()));
        }
    }
    key
}

/// Keeps the findings of `head` that `base` did not have: each base finding cancels one
/// head finding of the same [`identity`]. `rename` maps a base file's display path to the
/// head's. Returns how many were dropped.
pub fn keep_new(
    head: &mut Vec<Finding>,
    base: &[Finding],
    rename: &dyn Fn(&str) -> String,
) -> usize {
    let mut existing: HashMap<String, usize> = HashMap::new();
    for f in base {
        *existing.entry(identity(f, &rename(&f.file))).or_default() += 1;
    }
    let before = head.len();
    head.retain(|f| match existing.get_mut(&identity(f, &f.file)) {
        Some(n) if *n > 0 => {
            *n -= 1;
            false
        }
        _ => true,
    });
    before - head.len()
}

/// The files of the trusted base revision that kubegate's own configuration consists of:
/// the config file, the `--policy` and `--data` paths, written to a private directory that
/// is removed when this is dropped.
pub struct BaseFiles {
    pub root: PathBuf,
    /// Repository-relative paths written.
    pub written: Vec<String>,
}

impl Drop for BaseFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl BaseFiles {
    /// Writes the files under each of `paths` (repository-relative) at `commit`.
    pub fn materialize(
        repo: &Repo,
        commit: gix::ObjectId,
        paths: &[String],
    ) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = std::env::temp_dir().join(format!(
            "kubegate-base-{}-{}-{nanos}",
            short(commit),
            std::process::id()
        ));
        std::fs::create_dir_all(&root)?;
        let mut out = Self {
            root,
            written: Vec::new(),
        };
        out.add(repo, commit, paths)?;
        Ok(out)
    }

    /// Writes the files under each of `paths` (repository-relative) at `commit`, once.
    pub fn add(
        &mut self,
        repo: &Repo,
        commit: gix::ObjectId,
        paths: &[String],
    ) -> anyhow::Result<()> {
        for p in paths {
            for (path, bytes) in repo.files_at(commit, p)? {
                if self.written.contains(&path) {
                    continue;
                }
                let dest = self.root.join(&path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&dest, bytes)?;
                self.written.push(path);
            }
        }
        Ok(())
    }

    /// Where the base version of `rel` (repository-relative) is, if it existed at the base.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// The objects of the changed files as the merge request's base has them, by the file's
/// current display path: the old objects that CRD transition rules (`oldSelf`) compare
/// with. A file is parsed when one of its custom resources first asks.
///
/// An object's old version is looked for in the base version of its own file only (a
/// renamed file's under its old name): GitOps repositories hold one object name in several
/// environment directories, and an object of `staging/` is not the old `prod/` one. An
/// object moved to another file is validated as a create.
#[derive(Default)]
pub struct OldObjects {
    files: HashMap<String, OldFile>,
}

struct OldFile {
    /// The base path, as the base had it.
    path: String,
    text: String,
    objects: std::sync::OnceLock<Vec<crate::changes::SourceObject>>,
}

impl OldObjects {
    /// The base versions of the changed files among `checked` (display paths).
    pub fn of(mr: &MergeRequest, checked: &[String]) -> Self {
        let files = checked
            .iter()
            .filter_map(|d| {
                let (path, bytes) = mr.base_text(d)?;
                let file = OldFile {
                    path,
                    text: String::from_utf8(bytes).ok()?,
                    objects: std::sync::OnceLock::new(),
                };
                Some((d.clone(), file))
            })
            .collect();
        Self { files }
    }

    /// The object of `file` (display path) at the base that has the group of `api_version`,
    /// `kind`, `namespace` and `name` (the API server converts between versions).
    pub fn get(
        &self,
        file: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Option<&serde_json::Value> {
        let name = name?;
        let f = self.files.get(file)?;
        let objects = f
            .objects
            .get_or_init(|| crate::changes::objects_of(&f.path, &f.text));
        let group = |av: &'_ str| -> String { av.rsplit_once('/').map_or("", |(g, _)| g).into() };
        let wanted = group(api_version);
        objects
            .iter()
            .find(|o| {
                o.object.kind == kind
                    && o.object.name.as_deref() == Some(name)
                    && o.object.namespace.as_deref() == namespace
                    && group(&o.object.api_version) == wanted
            })
            .map(|o| &o.value)
    }
}

/// Warnings on the policy files (config, policies, data) a merge request changes while the
/// base revision's versions are used, so a reviewer sees that the gate itself changed.
pub fn policy_change_findings(
    mr: &MergeRequest,
    roots: &[String],
    used_base: bool,
) -> Vec<Finding> {
    let under = |path: &str| {
        roots.iter().any(|r| {
            let r = r.trim_end_matches('/');
            r.is_empty()
                || r == "."
                || path == r
                || path.strip_prefix(r).is_some_and(|x| x.starts_with('/'))
        })
    };
    let mut touched: BTreeMap<String, &str> = BTreeMap::new();
    for (path, (status, _)) in &mr.changes.files {
        if under(path) {
            let what = match status {
                crate::git::Status::Added => "adds",
                crate::git::Status::Modified => "modifies",
                crate::git::Status::Renamed { .. } => "moves",
            };
            touched.insert(path.clone(), what);
        }
    }
    for path in mr.changes.deleted.keys() {
        if under(path) {
            touched.insert(path.clone(), "deletes");
        }
    }
    let root = mr.repo.root().to_path_buf();
    let cwd = std::env::current_dir().unwrap_or_default();
    touched
        .into_iter()
        .map(|(path, what)| {
            let shown = root
                .join(&path)
                .strip_prefix(&cwd)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or(path.clone());
            let how = if used_base {
                format!(
                    "kubegate used the version of the base ({} at {}) instead; review the policy change on its own",
                    mr.base.source,
                    short(mr.base.commit)
                )
            } else {
                "this run used the merge request's own version; `--policies-from-base` (the \
                 default in CI) uses the base's"
                    .to_owned()
            };
            let file: Arc<str> = Arc::from(shown.as_str());
            let message =
                format!("this merge request {what} `{path}`, a policy file of the gate: {how}");
            let mut f = match changed_hunks(mr, &root.join(&path), what) {
                // On the lines it changed: the first place, and how many more there are.
                Some((text, hunks)) => {
                    let mut at = crate::check::FileText::new(file.clone(), text.clone());
                    let (first, last) = (*hunks[0].start(), *hunks[0].end());
                    let start = at.lines().line_range(&text, first).start;
                    let end = at.lines().line_range(&text, last).end;
                    let mut f = at.finding_at(start, end);
                    f.rule = "policy-changed".into();
                    f.message = match hunks.len() {
                        1 => message,
                        2 => format!("{message} (changed here and in one more place)"),
                        n => format!("{message} (changed here and in {} more places)", n - 1),
                    };
                    f
                }
                None => crate::check::file_finding(&file, "policy-changed", message),
            };
            f.severity = Severity::Warning;
            f
        })
        .collect()
}

/// The head text of a policy file the merge request modifies or moves (`file`, in the
/// checkout), and the line ranges it changed (none for an added or deleted file, or a
/// change that only removed lines).
fn changed_hunks(
    mr: &MergeRequest,
    file: &Path,
    what: &str,
) -> Option<(Arc<str>, Vec<RangeInclusive<u32>>)> {
    if !matches!(what, "modifies" | "moves") {
        return None;
    }
    let head = crate::read::read(file, mr.read_limit).ok()?;
    let head: Arc<str> = String::from_utf8_lossy(&head).into();
    let hunks = mr.changed_lines(&file.to_string_lossy(), &head);
    (!hunks.is_empty()).then_some((head, hunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_are_the_inserted_and_replaced_ones() {
        let old = "a\nb\nc\nd\n";
        assert_eq!(added_lines(old, old), Vec::<RangeInclusive<u32>>::new());
        // Two lines inserted before `c`, `d` replaced, one line appended.
        let new = "a\nb\nx\ny\nc\nD\ne\n";
        assert_eq!(added_lines(old, new), vec![3..=4, 6..=7]);
        // A deletion adds nothing.
        assert!(added_lines(old, "a\nd\n").is_empty());
    }

    #[test]
    fn filter_modes_measure_the_distance_to_changed_lines() {
        let changed = [10..=12];
        let on = |mode, start, end| passes(mode, start, end, Some(&changed));
        assert!(on(FilterMode::Added, 11, 11));
        assert!(on(FilterMode::Added, 8, 10), "a span touching the change");
        assert!(!on(FilterMode::Added, 13, 13));
        assert!(on(FilterMode::DiffContext, 15, 15));
        assert!(on(FilterMode::DiffContext, 7, 7));
        assert!(!on(FilterMode::DiffContext, 16, 16));
        assert!(on(FilterMode::File, 100, 100));
        assert!(!passes(FilterMode::File, 1, 1, None));
        assert!(!passes(FilterMode::Added, 11, 11, None));
        assert!(passes(FilterMode::Nofilter, 1, 1, None));
    }

    #[test]
    fn base_lines_map_to_where_they_are_or_were_in_the_new_text() {
        let old = "a\nb\nc\nd\ne\n";
        let new = "a\nx\nd\ne\n";
        assert_eq!(line_in_new(old, new, 1), 1);
        // `b` and `c` were replaced by `x`; `d` moved up.
        assert_eq!(line_in_new(old, new, 2), 2);
        assert_eq!(line_in_new(old, new, 3), 2);
        assert_eq!(line_in_new(old, new, 4), 3);
        // Removed from the end: the last line.
        assert_eq!(line_in_new(old, "a\nb\n", 5), 2);
        assert_eq!(first_removal(old, new), Some(2));
        assert_eq!(first_removal(old, old), None);
        assert_eq!(first_removal("a\nb\n", "a\n"), Some(1));
    }

    #[test]
    fn lone_carriage_returns_end_lines_in_the_diff_too() {
        let old = "a: 1\rb: 2\rc: 3\r";
        let new = "a: 1\rb: 9\rc: 3\r";
        assert_eq!(added_lines(old, new), vec![2..=2]);
    }
}
