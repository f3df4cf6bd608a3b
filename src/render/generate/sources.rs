//! The key-value sources of a generator, parsed as kustomize v5.7.1 parses them
//! (KZ:`api/kv/kv.go`, `api/internal/generators/utils.go`, `kyaml/yaml/datamap.go`).

use crate::render::node::Span;

/// A `literals` item `key=value`: the key, the value, and where each starts in the item's
/// text (the value without the quotes kustomize removes).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Literal<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub value_at: usize,
}

/// Splits a literal at its first `=`; a value wrapped in matching `"` or `'` loses them
/// (only when both ends match: `'a"` stays). No `=`, or a leading one, is an error.
pub(super) fn literal(source: &str) -> Result<Literal<'_>, String> {
    let invalid = || format!("literal `{source}` is not `key=value`");
    let Some((key, value)) = source.split_once('=') else {
        return Err(invalid());
    };
    if key.is_empty() {
        return Err(invalid());
    }
    let value_at = key.len() + 1;
    let b = value.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        return Ok(Literal {
            key,
            value: &value[1..value.len() - 1],
            value_at: value_at + 1,
        });
    }
    Ok(Literal {
        key,
        value,
        value_at,
    })
}

/// A `files` item `[key=]path`: the key (the path's last element when not given) and the
/// path. At most one `=`, with something on both sides.
pub(super) fn file_source(source: &str) -> Result<(&str, &str), String> {
    match source.matches('=').count() {
        0 => Ok((go_base(source), source)),
        1 if source.starts_with('=') => Err(format!(
            "file source `{source}` has no key before `=` (write `key=path`, or just `path`)"
        )),
        1 if source.ends_with('=') => Err(format!(
            "file source `{source}` has no path after `=` (write `key=path`)"
        )),
        1 => Ok(source.split_once('=').expect("one `=`")),
        _ => Err(format!(
            "file source `{source}`: a key or a path contains `=` (kustomize allows one `=`, \
             between key and path)"
        )),
    }
}

/// Go's `path.Base`: the last slash-separated element, trailing slashes dropped.
fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    t.rsplit('/').next().unwrap_or(t)
}

/// Whether kustomize would fetch `path` over HTTP(S) instead of reading a file
/// (KZ:`api/internal/loader/fileloader.go` `IsRemoteFile`: a URL with scheme http or https).
pub(super) fn is_remote(path: &str) -> bool {
    let Some((scheme, _)) = path.split_once(':') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// One `KEY=VALUE` line of an env file, with the byte ranges of key and value in the file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct EnvPair {
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
}

/// The longest line (without its `\n`) Go's `bufio.Scanner` returns with its default buffer.
const MAX_LINE: usize = 64 * 1024 - 1;

/// The pairs of an env file, as kustomize's `keyValuesFromLines` reads them:
///
/// - lines split at `\n`, one trailing `\r` dropped (`bufio.ScanLines`);
/// - a line that is not UTF-8 is an error (even a comment);
/// - a UTF-8 byte-order mark is dropped from the first line only;
/// - leading white space is dropped; empty lines and lines starting with `#` are skipped;
/// - the key is everything before the first `=` (nothing trimmed, nothing validated), the
///   value everything after it, quotes included; a line without `=` is a key with an empty
///   value (kustomize v5 no longer reads the process environment); a line starting with `=`
///   has an empty key and is skipped;
/// - a line of 64 KiB or more ends the file silently: kustomize ignores the scanner's
///   `token too long` error, so the pairs after it are lost.
pub(super) fn env_lines(content: &[u8]) -> Result<Vec<EnvPair>, (String, Span)> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut number = 0;
    while at < content.len() {
        let (line_end, next) = match content[at..].iter().position(|&b| b == b'\n') {
            Some(i) => (at + i, at + i + 1),
            None => (content.len(), content.len()),
        };
        if line_end - at > MAX_LINE {
            break;
        }
        let mut line = &content[at..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err((
                format!(
                    "line {} is not valid UTF-8 (kustomize refuses the env file)",
                    number + 1
                ),
                Span::new(at, at + line.len()),
            ));
        };
        let mut start = at;
        let mut text = text;
        if number == 0
            && let Some(rest) = text.strip_prefix('\u{FEFF}')
        {
            text = rest;
            start += 3;
        }
        let trimmed = text.trim_start();
        start += text.len() - trimmed.len();
        number += 1;
        at = next;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (key, value) = trimmed.split_once('=').unwrap_or((trimmed, ""));
        if key.is_empty() {
            continue;
        }
        let value_start = if trimmed.len() > key.len() {
            start + key.len() + 1
        } else {
            start + key.len()
        };
        out.push(EnvPair {
            key: key.to_owned(),
            value: value.to_owned(),
            key_span: Span::new(start, start + key.len()),
            value_span: Span::new(value_start, value_start + value.len()),
        });
    }
    Ok(out)
}

/// Base64 as kustomize writes Secret data and ConfigMap binaryData (`encodeBase64`): when
/// the encoding is 70 characters or longer, every 70-character line, the last one included,
/// ends with `\n`.
pub(super) fn base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = data_encoding::BASE64.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        // Base64 is ASCII: every chunk is UTF-8.
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_split_at_the_first_equals_and_lose_matching_quotes() {
        let l = literal("K=a=b").unwrap();
        assert_eq!((l.key, l.value, l.value_at), ("K", "a=b", 2));
        let l = literal("K='x'").unwrap();
        assert_eq!((l.value, l.value_at), ("x", 3));
        assert_eq!(literal("K=\"x'").unwrap().value, "\"x'");
        assert_eq!(literal("K='").unwrap().value, "'");
        assert_eq!(literal("K=''").unwrap().value, "");
        assert_eq!(literal("K=").unwrap().value, "");
        assert_eq!(literal("a b=1").unwrap().key, "a b");
        assert!(literal("K").is_err());
        assert!(literal("=x").is_err());
        assert!(literal("").is_err());
    }

    #[test]
    fn file_sources_take_a_key_or_the_base_name() {
        assert_eq!(file_source("a/b.txt").unwrap(), ("b.txt", "a/b.txt"));
        assert_eq!(file_source("k=a/b.txt").unwrap(), ("k", "a/b.txt"));
        assert_eq!(file_source("dir/").unwrap(), ("dir", "dir/"));
        assert_eq!(file_source("").unwrap(), (".", ""));
        assert!(file_source("=a").is_err());
        assert!(file_source("k=").is_err());
        assert!(file_source("k=a=b").is_err());
        assert!(file_source("=").is_err());
    }

    #[test]
    fn remote_sources_are_http_urls() {
        assert!(is_remote("https://example.com/a.env"));
        assert!(is_remote("HTTP://example.com/a.env"));
        assert!(!is_remote("k=https://example.com/a.env"));
        assert!(!is_remote("./a.env"));
        assert!(!is_remote("c:/a.env"));
    }

    #[test]
    fn env_files_are_read_line_by_line() {
        let text = "\u{FEFF}A=1\n# c\n\n  B = x \r\nC\nexport D='q'\n=skipped\nE=a=b";
        let pairs = env_lines(text.as_bytes()).unwrap();
        let kv: Vec<(&str, &str)> = pairs
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                ("A", "1"),
                ("B ", " x "),
                ("C", ""),
                ("export D", "'q'"),
                ("E", "a=b")
            ]
        );
        for p in &pairs {
            let s = |sp: Span| &text[sp.start as usize..sp.end as usize];
            assert_eq!(s(p.key_span), p.key);
            assert_eq!(s(p.value_span), p.value);
        }
        assert!(env_lines(b"A=1\n# \xff\n").is_err());
    }

    #[test]
    fn a_line_of_64_kib_ends_an_env_file() {
        let fits = format!("A={}\nB=2\n", "x".repeat(MAX_LINE - 2));
        assert_eq!(env_lines(fits.as_bytes()).unwrap().len(), 2);
        let long = format!("A={}\nB=2\n", "x".repeat(MAX_LINE - 1));
        assert!(env_lines(long.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn long_base64_breaks_every_70_characters() {
        assert_eq!(base64(b"x"), "eA==");
        let b = base64(&[0u8; 52]); // 72 characters
        assert_eq!(b.len(), 72 + 2);
        assert_eq!(&b[70..71], "\n");
        assert!(b.ends_with('\n'));
        let b = base64(&[0u8; 51]); // 68 characters
        assert!(!b.contains('\n'));
        assert_eq!(base64(&[0u8; 105]).matches('\n').count(), 2); // exactly 140
    }
}
