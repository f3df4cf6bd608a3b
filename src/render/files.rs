//! The files a render reads: each read once (through [`crate::read`]), given a [`FileId`]
//! that every node of every rendered object can point back to, and shared by every root
//! rendered in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::node::FileId;
use crate::parse::{self, Limits, Reader};

/// One file of the repository, as read.
#[derive(Debug)]
pub struct SourceFile {
    /// Canonical path.
    pub path: PathBuf,
    /// The path as reports show it: relative to the working directory, `/`-separated.
    pub display: Arc<str>,
    /// The bytes and text, until the render lets go of them ([`Self::let_go_of_text`]).
    content: RwLock<Content>,
    /// Why the text is not clean UTF-8, when it is not.
    pub decode_issue: Option<parse::Issue>,
    kyaml: OnceLock<Arc<Parsed>>,
    kubectl: OnceLock<Arc<Parsed>>,
    lines: OnceLock<Arc<crate::source::LineIndex>>,
    /// The file's objects as a `resources` entry makes them, converted once, without the
    /// parsed documents they came from: kept for the reads the roots may still make of it
    /// ([`Files::sharing`]), else only from a prefetch to the read it prepares.
    resources: Mutex<Kept>,
}

/// A file's converted objects and how many more reads they are kept for.
#[derive(Debug)]
struct Kept {
    resources: Option<Arc<Resources>>,
    /// Reads the roots may still make of the file ([`Files::sharing`]): 1 for a file one
    /// root reads; `u32::MAX` when not known, and then kept to the end of the render.
    reads_left: u32,
}

/// A resource file's objects, as every root that lists the file reads them.
#[derive(Debug)]
pub struct Resources {
    /// The objects (a `List`'s items flattened), or why kustomize refuses the file.
    pub objects: Result<Vec<super::node::Node>, super::Error>,
    /// Where kubectl would read the file otherwise ([`parse::yaml::AMBIGUOUS`]).
    pub notes: Vec<parse::Issue>,
}

pub use crate::parse::yaml::Parsed;

/// A file's bytes and decoded text ([`parse::decode`]; empty for a binary file), or how to
/// read them again.
#[derive(Debug)]
enum Content {
    Kept {
        bytes: Arc<[u8]>,
        text: Arc<str>,
    },
    /// Let go of: read again, and taken only while the file is still what was read.
    OnDisk(crate::source::LaterText),
}

impl SourceFile {
    /// The decoded text: kept, or read again when the render let go of it (empty if the
    /// file changed or went away since).
    pub fn text(&self) -> Arc<str> {
        self.text_if_unchanged().unwrap_or_default()
    }

    /// The decoded text, kept or read again; `None` if the file changed or went away since
    /// the render let go of it.
    pub fn text_if_unchanged(&self) -> Option<Arc<str>> {
        match &*self.content.read().unwrap_or_else(|p| p.into_inner()) {
            Content::Kept { text, .. } => Some(text.clone()),
            Content::OnDisk(later) => Self::read_again(later),
        }
    }

    /// A text let go of, read again: its bytes were its text (else it is kept), so a file
    /// longer now has changed, and is not read past that length.
    fn read_again(later: &crate::source::LaterText) -> Option<Arc<str>> {
        later.get(later.len() as u64)
    }

    /// The text while it is kept: positions in a text let go of need only [`Self::lines`].
    pub fn kept_text(&self) -> Option<Arc<str>> {
        match &*self.content.read().unwrap_or_else(|p| p.into_inner()) {
            Content::Kept { text, .. } => Some(text.clone()),
            Content::OnDisk(_) => None,
        }
    }

    /// The bytes as read ([`Self::text`] when they are clean UTF-8).
    pub fn bytes(&self) -> Arc<[u8]> {
        match &*self.content.read().unwrap_or_else(|p| p.into_inner()) {
            Content::Kept { bytes, .. } => bytes.clone(),
            Content::OnDisk(later) => {
                Self::read_again(later).map_or_else(|| Arc::from(&b""[..]), Arc::<[u8]>::from)
            }
        }
    }

    /// Lets go of the text, once a resource file is converted: the rendered objects keep
    /// their own values, and a finding's position needs only the line index. Kept: a text
    /// with a line that is not ASCII (columns count characters), or whose bytes are not
    /// clean UTF-8. A later read ([`Self::text`]) reads the file again.
    pub fn let_go_of_text(&self) {
        let mut content = self.content.write().unwrap_or_else(|p| p.into_inner());
        let Content::Kept { bytes, text } = &*content else {
            return;
        };
        if self.decode_issue.is_some() || bytes.len() != text.len() || !text.is_ascii() {
            return;
        }
        self.lines
            .get_or_init(|| Arc::new(crate::source::LineIndex::new(text)));
        *content = Content::OnDisk(crate::source::LaterText::of(text, Some(&self.path)));
    }

    /// The line and column of byte `offset`, whether the text is kept or let go of (a text
    /// is let go of only when all ASCII, where the line index is enough).
    pub fn position(&self, offset: usize) -> crate::finding::Position {
        self.lines()
            .position(&self.kept_text().unwrap_or_default(), offset)
    }

    /// Where the text's lines start (built once, for every finding placed in the file).
    pub fn lines(&self) -> Arc<crate::source::LineIndex> {
        self.lines
            .get_or_init(|| Arc::new(crate::source::LineIndex::new(&self.text())))
            .clone()
    }

    /// The file's documents, read as `reader` reads them (parsed once per reader).
    pub fn parsed(&self, reader: Reader, limits: &Limits) -> Arc<Parsed> {
        let cell = match reader {
            Reader::Kyaml => &self.kyaml,
            Reader::Kubectl => &self.kubectl,
        };
        cell.get_or_init(|| Arc::new(parse::yaml::parse_as(&self.text(), limits, reader)))
            .clone()
    }

    /// The file's objects as a resource, made by `make` unless kept from an earlier read or
    /// a prefetch; kept for the next read only when a root may read the file again. A
    /// read past the count the plan made (which the plan does not expect) makes the
    /// objects again.
    pub fn resources(&self, make: impl FnOnce() -> Resources) -> Arc<Resources> {
        let mut kept = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        if kept.reads_left != u32::MAX {
            kept.reads_left = kept.reads_left.saturating_sub(1);
        }
        if kept.reads_left == 0 {
            return kept.resources.take().unwrap_or_else(|| Arc::new(make()));
        }
        kept.resources
            .get_or_insert_with(|| Arc::new(make()))
            .clone()
    }

    /// Makes the file's objects ahead of the read that will take them (in parallel with
    /// its siblings).
    pub fn prefetch_resources(&self, make: impl FnOnce() -> Resources) {
        let mut kept = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        if kept.resources.is_none() {
            kept.resources = Some(Arc::new(make()));
        }
    }
}

/// Every file read so far, by id and by canonical path.
#[derive(Debug)]
pub struct Files {
    files: RwLock<Vec<Arc<SourceFile>>>,
    by_path: Mutex<HashMap<PathBuf, FileId>>,
    /// Reads are confined below this directory (the repository), whatever a
    /// kustomization names.
    pub confine: PathBuf,
    pub limits: Limits,
    cwd: PathBuf,
    /// Files under `.0` are shown as the same paths under `.1` would be (a copy of the
    /// merge request's base tree, shown as the repository).
    display_map: Option<(PathBuf, PathBuf)>,
    /// The files more than one root may read (canonical), with how many reads; `None`:
    /// any file may be, any number of times.
    shared: Option<HashMap<PathBuf, u32>>,
    /// Directories outside the repository that may be read too: charts pulled from the
    /// network ([`Self::add_remote`]).
    remote: RwLock<Vec<RemoteDir>>,
    /// Files the caller has read already (canonical path: their bytes, read with the same
    /// limit): taken instead of read again; what the render did not take goes with
    /// [`Self::forget_parsed`].
    read_ahead: Mutex<HashMap<PathBuf, Vec<u8>>>,
}

/// A directory fetched from the network: how reports name it, and the line of the
/// repository that asked for it, where findings inside it are reported.
#[derive(Debug, Clone)]
pub struct RemoteDir {
    /// Canonical.
    pub dir: PathBuf,
    /// `podinfo 6.5.0 from https://charts.example.com/`.
    pub label: Arc<str>,
    pub at: super::node::Origin,
}

impl Files {
    pub fn new(confine: &Path, limits: Limits) -> Self {
        let cwd = std::env::current_dir()
            .and_then(|d| crate::canonical::canonicalize(&d))
            .unwrap_or_default();
        let confine = confine
            .canonicalize()
            .unwrap_or_else(|_| confine.to_path_buf());
        Self {
            files: RwLock::new(Vec::new()),
            by_path: Mutex::new(HashMap::new()),
            confine,
            limits,
            cwd,
            display_map: None,
            shared: None,
            remote: RwLock::new(Vec::new()),
            read_ahead: Mutex::new(HashMap::new()),
        }
    }

    /// Lets the files under `dir` (fetched, outside the repository) be read; reports name
    /// them `<label>: <path in dir>`, and [`Self::remote_of`] finds where they were asked for.
    pub fn add_remote(&self, dir: &Path, label: &str, at: super::node::Origin) {
        let dir = crate::canonical::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        // Asked for from several places (roots built in parallel): the first in report
        // order, whichever asked first.
        let key = |o: &super::node::Origin| (self.get(o.file).display.clone(), o.value.start);
        let mut all = self.remote.write().unwrap_or_else(|p| p.into_inner());
        match all.iter_mut().find(|r| r.dir == dir) {
            Some(r) if key(&at) < key(&r.at) => r.at = at,
            Some(_) => {}
            None => all.push(RemoteDir {
                dir,
                label: label.into(),
                at,
            }),
        }
    }

    /// The fetched directory a file shown as `display` belongs to, with its path there.
    pub fn remote_of(&self, display: &str) -> Option<(RemoteDir, String)> {
        let all = self.remote.read().unwrap_or_else(|p| p.into_inner());
        all.iter().find_map(|r| {
            let rest = display.strip_prefix(&*r.label)?;
            let rel = rest.strip_prefix(": ")?;
            Some((r.clone(), rel.to_owned()))
        })
    }

    fn remote_dir(&self, canonical: &Path) -> Option<(Arc<str>, PathBuf)> {
        let all = self.remote.read().unwrap_or_else(|p| p.into_inner());
        all.iter().find_map(|r| {
            let rel = canonical.strip_prefix(&r.dir).ok()?;
            Some((r.label.clone(), rel.to_path_buf()))
        })
    }

    /// Keeps the converted objects of the files in `shared` only (canonical paths), for as
    /// many reads as it says: the others are read by one root, which takes them.
    pub fn sharing(mut self, shared: HashMap<PathBuf, u32>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Takes the bytes of files already read (by canonical path, with [`Self::limits`]'s
    /// size limit) instead of reading them again.
    pub fn read_ahead(self, files: HashMap<PathBuf, Vec<u8>>) -> Self {
        *self.read_ahead.lock().unwrap_or_else(|p| p.into_inner()) = files;
        self
    }

    /// Shows the files under `copy` as the same paths under `original` would be shown.
    pub fn show_as(mut self, copy: &Path, original: &Path) -> Self {
        let copy = crate::canonical::canonicalize(copy).unwrap_or_else(|_| copy.to_path_buf());
        self.display_map = Some((copy, original.to_path_buf()));
        self
    }

    /// The file with id `id`.
    pub fn get(&self, id: FileId) -> Arc<SourceFile> {
        self.files.read().unwrap_or_else(|p| p.into_inner())[id as usize].clone()
    }

    /// How many files have been read.
    pub fn len(&self) -> usize {
        self.files.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the file at `path` (once), refusing anything outside [`Self::confine`], any
    /// file that is not a regular file, and files over the size limit.
    pub fn load(&self, path: &Path) -> Result<FileId, String> {
        let canonical = crate::canonical::canonicalize(path)
            .map_err(|e| format!("{}: {e}", self.show(path)))?;
        if !canonical.starts_with(&self.confine) && self.remote_dir(&canonical).is_none() {
            return Err(format!(
                "{} is outside the repository ({}); not read",
                self.show(path),
                self.show(&self.confine)
            ));
        }
        if let Some(&id) = self
            .by_path
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&canonical)
        {
            return Ok(id);
        }
        let ahead = self
            .read_ahead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&canonical);
        let bytes = match ahead {
            Some(bytes) => bytes,
            None => crate::read::read(&canonical, self.limits.max_file_size)
                .map_err(|e| format!("{}: {e}", self.show(path)))?,
        };
        let decoded = parse::decode(&bytes);
        let text: Arc<str> = decoded.text.as_ref().into();
        let issue = decoded.issue;
        // Most files are their text: one allocation serves as both.
        let bytes: Arc<[u8]> = if text.as_bytes() == bytes.as_slice() {
            Arc::<[u8]>::from(text.clone())
        } else {
            bytes.into()
        };
        let file = SourceFile {
            display: self.display(&canonical).into(),
            path: canonical.clone(),
            content: RwLock::new(Content::Kept { bytes, text }),
            decode_issue: issue,
            kyaml: OnceLock::new(),
            kubectl: OnceLock::new(),
            lines: OnceLock::new(),
            resources: Mutex::new(Kept {
                resources: None,
                reads_left: match &self.shared {
                    Some(shared) => shared.get(&canonical).copied().unwrap_or(1),
                    None => u32::MAX,
                },
            }),
        };
        let mut by_path = self.by_path.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = by_path.get(&canonical) {
            return Ok(id);
        }
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        let id = files.len() as FileId;
        files.push(Arc::new(file));
        by_path.insert(canonical, id);
        Ok(id)
    }

    /// Lets go of every file's parsed documents and converted objects (the rendered objects
    /// hold what they need), and of the bytes read ahead that no root took: the bytes and
    /// text stay, for reports, unless let go of already ([`SourceFile::let_go_of_text`]).
    pub fn forget_parsed(&self) {
        use rayon::prelude::*;
        std::mem::take(&mut *self.read_ahead.lock().unwrap_or_else(|p| p.into_inner()));
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        // Freed in parallel: a large repository's documents take a while to free.
        files.par_iter_mut().for_each(|f| {
            if let Some(f) = Arc::get_mut(f) {
                f.resources
                    .get_mut()
                    .unwrap_or_else(|p| p.into_inner())
                    .resources = None;
                f.kyaml.take();
                f.kubectl.take();
            }
        });
    }

    /// A canonical path as reports show it: relative to the working directory when it is
    /// below it, else absolute.
    pub fn display(&self, canonical: &Path) -> String {
        if let Some((label, rel)) = self.remote_dir(canonical) {
            return if rel.as_os_str().is_empty() {
                label.to_string()
            } else {
                format!("{label}: {}", crate::discover::display_path(&rel))
            };
        }
        if let Some((copy, original)) = &self.display_map
            && let Ok(rest) = canonical.strip_prefix(copy)
        {
            let shown = original.join(rest);
            return match shown.strip_prefix(&self.cwd) {
                Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
                Ok(rel) => crate::discover::display_path(rel),
                Err(_) => crate::discover::display_path(&shown),
            };
        }
        match canonical.strip_prefix(&self.cwd) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => crate::discover::display_path(rel),
            Err(_) => crate::discover::display_path(canonical),
        }
    }

    fn show(&self, path: &Path) -> String {
        match crate::canonical::canonicalize(path) {
            Ok(c) => self.display(&c),
            Err(_) => crate::discover::display_path(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_ahead_is_taken_not_read_again_and_the_rest_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let (taken, left) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&taken, "on disk\n").unwrap();
        std::fs::write(&left, "on disk\n").unwrap();
        let canonical = |p: &Path| crate::canonical::canonicalize(p).unwrap();
        let files = Files::new(dir.path(), Limits::default()).read_ahead(HashMap::from([
            (canonical(&taken), b"read ahead\n".to_vec()),
            (canonical(&left), b"read ahead\n".to_vec()),
        ]));
        let id = files.load(&taken).unwrap();
        assert_eq!(&*files.get(id).text(), "read ahead\n");
        // Taken once: the same file is not read again either way.
        assert_eq!(files.load(&taken).unwrap(), id);
        files.forget_parsed();
        let id = files.load(&left).unwrap();
        assert_eq!(&*files.get(id).text(), "on disk\n");
    }

    /// A file two reads share: made once, kept for the second read and let go of by it
    /// (only its readers hold it then); a read the plan did not count makes it again.
    #[test]
    fn a_shared_file_keeps_its_objects_for_the_reads_counted_and_no_longer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cm.yaml");
        std::fs::write(&path, "kind: ConfigMap\n").unwrap();
        let canonical = crate::canonical::canonicalize(&path).unwrap();
        let files =
            Files::new(dir.path(), Limits::default()).sharing(HashMap::from([(canonical, 2)]));
        let file = files.get(files.load(&path).unwrap());
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Resources {
                objects: Ok(Vec::new()),
                notes: Vec::new(),
            }
        };
        let first = file.resources(make);
        assert_eq!(Arc::strong_count(&first), 2, "kept for the second read");
        let second = file.resources(make);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(made.get(), 1);
        assert_eq!(
            Arc::strong_count(&second),
            2,
            "held by the two readers only"
        );
        file.resources(make);
        assert_eq!(made.get(), 2);
    }

    #[test]
    fn a_converted_file_lets_go_of_its_text_and_reads_it_again_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let ascii = dir.path().join("a.yaml");
        let wide = dir.path().join("b.yaml");
        let text = "kind: ConfigMap\nmetadata:\n  name: app\n";
        std::fs::write(&ascii, text).unwrap();
        std::fs::write(&wide, "kind: ConfigMap\ndata:\n  greeting: héllo\n").unwrap();
        let files = Files::new(dir.path(), Limits::default());
        let (a, b) = (files.load(&ascii).unwrap(), files.load(&wide).unwrap());
        let (a, b) = (files.get(a), files.get(b));
        let before: Vec<_> = (0..=text.len())
            .map(|o| a.lines().position(text, o))
            .collect();
        a.let_go_of_text();
        b.let_go_of_text();
        // Let go of, the same positions from the line index alone.
        assert!(a.kept_text().is_none());
        let after: Vec<_> = (0..=text.len())
            .map(|o| a.lines().position("", o))
            .collect();
        assert_eq!(before, after);
        // Read again for whoever asks, text and bytes.
        assert_eq!(&*a.text(), text);
        assert_eq!(&*a.bytes(), text.as_bytes());
        // A line that is not ASCII: columns count characters, so the text stays.
        assert!(b.kept_text().is_some());
        // Changed since: nothing rather than another text; grown, not read past the text.
        std::fs::write(&ascii, format!("{text}{}", "x".repeat(1 << 20))).unwrap();
        assert_eq!(a.text_if_unchanged(), None);
        std::fs::write(&ascii, "kind: Secret\nmetadata:\n  name: app\n").unwrap();
        assert_eq!(a.text_if_unchanged(), None);
        assert_eq!(&*a.text(), "");
        assert_eq!(a.lines().position("", 17).line, 2);
    }
}
