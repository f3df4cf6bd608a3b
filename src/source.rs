//! A file's text and the byte-offset to line/column conversion.

use std::sync::Arc;

use crate::finding::Position;

/// Byte offsets of line starts, built once per file that has findings.
///
/// A line ends at `\n`, `\r\n` or a lone `\r`, as YAML (and kubectl, for one document)
/// reads them, so files with old Mac line endings get the same positions as in an editor.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<u32>,
    /// Whether each line is all ASCII: its columns are then byte offsets, found in O(1).
    ascii: Vec<bool>,
    /// The text's length in bytes: positions in an all-ASCII text need nothing else.
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        let mut ascii = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        let bytes = text.as_bytes();
        let mut line_start = 0;
        // Line breaks found with memchr, each line's ASCII test over the whole slice: a
        // large file is indexed at memory speed, not a branch per byte.
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                continue;
            }
            ascii.push(bytes[line_start..i].is_ascii());
            line_start = i + 1;
            starts.push(line_start as u32);
        }
        ascii.push(bytes[line_start..].is_ascii());
        Self {
            starts,
            ascii,
            len: text.len(),
        }
    }

    /// The length in bytes of the text indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every line of the text is ASCII: [`Self::position`] then needs no text.
    pub fn all_ascii(&self) -> bool {
        self.ascii.iter().all(|&a| a)
    }

    /// 1-based line and code-point column of a byte offset (clamped to the text; an offset
    /// inside a multi-byte character counts from the character's start). `text` is the text
    /// indexed; on an ASCII line it is not read, and it may be empty when the whole text is
    /// ASCII ([`Self::all_ascii`]): a render lets go of such texts once converted.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(self.len);
        let line = self.starts.partition_point(|&s| s as usize <= offset) - 1;
        let line_start = self.starts[line] as usize;
        // Not the text indexed (let go of): byte columns rather than a panic.
        let column = if self.ascii[line] || text.len() != self.len {
            offset - line_start + 1
        } else {
            let mut end = offset;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[line_start..end].chars().count() + 1
        };
        Position {
            line: line as u32 + 1,
            column: column as u32,
        }
    }

    /// Byte range of line `line` (1-based), without its line ending.
    pub fn line_range(&self, text: &str, line: u32) -> std::ops::Range<usize> {
        let i = (line as usize).saturating_sub(1).min(self.starts.len() - 1);
        let start = self.starts[i] as usize;
        let mut end = self.starts.get(i + 1).map_or(text.len(), |&s| s as usize);
        let b = text.as_bytes();
        if end > start && b[end - 1] == b'\n' {
            end -= 1;
        }
        if end > start && b[end - 1] == b'\r' {
            end -= 1;
        }
        start..end.max(start)
    }
}

/// A checked file's text, for the findings that later checks place in it (the rules across
/// files, the admission policies) and for a render's files once converted: a file on disk
/// is read again when one needs its text, so that the text of a file without a finding is
/// not held until the end of the run.
#[derive(Debug, Clone)]
pub enum LaterText {
    /// Standard input, a staged file, a blob of the base: kept.
    Kept(Arc<str>),
    /// Read again from `path`, and used only while it is still the text that was checked.
    OnDisk {
        path: std::path::PathBuf,
        len: usize,
        hash: u64,
    },
}

impl LaterText {
    /// `text`, as `path` (when it is a file on disk) holds it.
    pub fn of(text: &Arc<str>, path: Option<&std::path::Path>) -> Self {
        match path {
            Some(path) => LaterText::OnDisk {
                path: path.to_path_buf(),
                len: text.len(),
                hash: text_hash(text),
            },
            None => LaterText::Kept(text.clone()),
        }
    }

    /// The length in bytes of the text that was checked.
    pub fn len(&self) -> usize {
        match self {
            LaterText::Kept(text) => text.len(),
            LaterText::OnDisk { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text that was checked; `None` when the file is gone, or changed since.
    pub fn get(&self, max: u64) -> Option<Arc<str>> {
        match self {
            LaterText::Kept(text) => Some(text.clone()),
            LaterText::OnDisk { path, len, hash } => {
                let bytes = crate::read::read(path, max).ok()?;
                let decoded = crate::parse::decode(&bytes);
                let text = decoded.text.as_ref();
                (!decoded.binary && text.len() == *len && text_hash(text) == *hash)
                    .then(|| text.into())
            }
        }
    }
}

pub(crate) fn text_hash(text: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_code_points_and_ignore_cr() {
        let text = "a: 1\r\nname: héllo wörld\r\nx: y";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 0), Position { line: 1, column: 1 });
        let w = text.find("wörld").unwrap();
        assert_eq!(
            idx.position(text, w),
            Position {
                line: 2,
                column: 13
            }
        );
        let x = text.find("x:").unwrap();
        assert_eq!(idx.position(text, x), Position { line: 3, column: 1 });
        assert_eq!(&text[idx.line_range(text, 2)], "name: héllo wörld");
        assert_eq!(&text[idx.line_range(text, 3)], "x: y");
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let text = "a: 1\rb: 2\r\nc: é\rd";
        let idx = LineIndex::new(text);
        let at = |s: &str| idx.position(text, text.find(s).unwrap());
        assert_eq!(at("b:"), Position { line: 2, column: 1 });
        assert_eq!(at("c:"), Position { line: 3, column: 1 });
        assert_eq!(at("d"), Position { line: 4, column: 1 });
        assert_eq!(&text[idx.line_range(text, 1)], "a: 1");
        assert_eq!(&text[idx.line_range(text, 2)], "b: 2");
        assert_eq!(&text[idx.line_range(text, 3)], "c: é");
        let e = text.find('é').unwrap();
        assert_eq!(idx.position(text, e + 2), Position { line: 3, column: 5 });
    }

    #[test]
    fn every_offset_has_the_position_an_editor_shows() {
        // Line and code-point column counted by hand, one character at a time.
        for text in [
            "",
            "\n",
            "\r",
            "\r\n\r\n",
            "a\r\rb\né\r\nx",
            "ü: 1\n  - é\r\n\rz\n",
        ] {
            let idx = LineIndex::new(text);
            let (mut line, mut column) = (1, 1);
            let mut chars = text.char_indices().peekable();
            while let Some((at, c)) = chars.next() {
                assert_eq!(
                    idx.position(text, at),
                    Position { line, column },
                    "{text:?} at {at}"
                );
                let crlf = c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n');
                if c == '\n' || c == '\r' && !crlf {
                    (line, column) = (line + 1, 1);
                } else {
                    column += 1;
                }
            }
            assert_eq!(
                idx.position(text, text.len()),
                Position { line, column },
                "{text:?} end"
            );
        }
    }
}
