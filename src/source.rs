//! A file's text and the byte-offset to line/column conversion.

use crate::finding::Position;

/// Byte offsets of line starts, built once per file that has findings.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr_newlines(text));
        Self { starts }
    }

    /// 1-based line and code-point column of a byte offset (clamped to the text; an offset
    /// inside a multi-byte character counts from the character's start).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s as usize <= offset) - 1;
        let line_start = self.starts[line] as usize;
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &text[line_start..end];
        // A CR before LF belongs to the line ending, never to a column.
        let column = prefix.chars().count() + 1;
        Position {
            line: line as u32 + 1,
            column: column as u32,
        }
    }

    /// Byte range of line `line` (1-based), without its line ending.
    pub fn line_range(&self, text: &str, line: u32) -> std::ops::Range<usize> {
        let i = (line as usize).saturating_sub(1).min(self.starts.len() - 1);
        let start = self.starts[i] as usize;
        let mut end = self
            .starts
            .get(i + 1)
            .map_or(text.len(), |&s| s as usize - 1);
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        start..end.max(start)
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i as u32 + 1)
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
}
