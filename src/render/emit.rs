//! The YAML text of rendered objects, byte for byte as `kustomize build` prints it.
//!
//! kustomize holds objects as kyaml nodes but prints each one by a detour: the node is
//! decoded into Go values and marshalled to JSON (`encoding/json`), and the JSON goes through
//! `sigs.k8s.io/yaml`'s `JSONToYAML`, which reads it with go-yaml **v2** and marshals the
//! resulting `map[interface{}]interface{}` with go-yaml v2 again. Documents are joined by
//! `---\n`. So the output is whatever go-yaml v2's encoder (`encode.go`) and its port of the
//! libyaml emitter (`emitterc.go`) make of a JSON value, and that is what this module
//! reproduces. The rules, all from that code and checked against kubectl 1.35.2 (kustomize
//! v5.7.1) by `tests/kustomize_emit.rs`:
//!
//! - **Keys** are sorted by go-yaml's `keyList.Less` (`sorter.go`), not by bytes: at the first
//!   difference a letter sorts after anything else, and runs of digits compare as numbers
//!   (`a-b`, `a_b`, `a1`, `a01`, `a9`, `a10`, `ab`). That comparison is not transitive
//!   (`v1alpha1` < `v2` < `v10` < `v1alpha1`; `a01` < `a001` < `a00b` < `a01`), and Go hands
//!   the keys to `sort.Sort` in random map order, so for such key sets kustomize's own output
//!   changes from run to run; this module prints one fixed order of them (with a merge sort
//!   that, unlike `sort_by`, cannot panic on such a comparison).
//! - **Layout**: block style with an indent of 2; a sequence under a mapping key is not
//!   indented (`- ` at the key's column), one under a sequence item is (`- - a`); empty
//!   collections are the only flow ones (`{}`, `[]`). A key that is multi-line or longer than
//!   128 bytes cannot be a simple key and is written `? key` / `: value`.
//! - **Which strings are quoted** (`stringv`): any string that go-yaml v2 would read back as
//!   something else (YAML 1.1: `y`, `on`, `off`, `~`, `0x1F`, `1_000`, `.5_0`, `08` (a
//!   float), `.inf`, timestamps such as `2024-01-01`, the empty string), and base-60 floats
//!   (`1:20`), is double-quoted (`<<` is not: its first byte gives the resolver no hint).
//!   A string holding `\n` asks for a literal block. The emitter then demotes the styles
//!   its analysis of the text forbids (`yaml_emitter_analyze_scalar`, `_select_scalar_style`):
//!   indicators (`- `, `: `, ` #`, a leading `*`, `&`, `!`, `|`, `>`, `'`, `"`, `%`, `@`,
//!   `` ` ``, `[`, `{`, `#`, `,`, `?`, `---`), a leading or trailing space, or a line break
//!   (U+2028, U+2029) turn plain into single quotes; a character it does not count as
//!   printable turns any style into double quotes with escapes. Its printable set excludes
//!   tabs, every C0 and C1 control, U+FEFF and **everything beyond the BMP** (so emoji are
//!   written `\U0001F600`); a literal block also gives way to double quotes for trailing
//!   spaces, a space before a line break, or in a simple key.
//! - **A string that starts with U+FEFF** has *every* character escaped (`"\uFEFF\x61"`):
//!   libyaml's `is_bom` looks at the start of the value, not at the current character.
//! - **Folding**: plain, single- and double-quoted scalars (not keys) break at the first
//!   single space met once the column is past 80, so lines run a little over 80; a
//!   double-quoted continuation that starts with a space gets a `\`.
//! - **Literal blocks** get `-` (no final line break), nothing (one) or `+` (more) and an
//!   explicit indent `2` when the text starts with a space or a line break; empty lines carry
//!   no indentation, and a break other than `\n` is copied as is.
//! - **Numbers** print as Go printed the value kustomize held: integers as they are; a float is
//!   printed by `encoding/json` (`'f'` format, `'e'` below 1e-6 or from 1e21), and that text
//!   is read again by go-yaml v2, so an integral float within `uint64` becomes an integer
//!   (`1e3` prints `1000`, `1e19` prints `10000000000000000000`) and any other float is printed
//!   by `strconv.FormatFloat(f, 'g', -1, 64)`: exponent form from `1e+06` up and below
//!   `1e-04` (`1.23456789123e+08`, `1e-07`, `2e+19`).
//! - **The JSON detour changes strings that hold U+0085 (NEL)**: `encoding/json` leaves NEL
//!   raw, and go-yaml reads a raw NEL inside a double-quoted scalar as a line break that folds
//!   (with the spaces around it) into one space, or into `n - 1` line feeds for `n` of them.
//!
//! What this module does not model, because kustomize fails instead of printing: strings
//! holding DEL, a C1 control other than NEL, U+FFFE or U+FFFF (`encoding/json` leaves them
//! raw and go-yaml refuses them: `control characters are not allowed`), a NEL followed by
//! `---` or `...` (`found unexpected document indicator`), a key holding NEL (a JSON key
//! that spans lines: `did not find expected ',' or '}'`) and infinities or NaN
//! (`json: unsupported value`). For those the text is what the emitter alone would write.
//!
//! Approximation: `sorter.go` uses Go's `unicode.IsLetter` and `unicode.IsDigit`, which
//! this module approximates outside ASCII with Rust's `is_alphabetic` (minus numeric
//! letters) and `is_numeric`; the two differ on combining marks and on non-decimal numerals
//! in keys.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use crate::parse::Reader;
use crate::parse::scalar;

/// libyaml's `best_width`: plain and quoted scalars fold past this column.
const BEST_WIDTH: usize = 80;
/// libyaml's `best_indent`.
const BEST_INDENT: isize = 2;
/// The explicit indentation of a block scalar whose first line starts with a space.
const INDENT_HINT: &str = "2";
/// The longest key (in bytes) libyaml writes as a simple key (`check_simple_key`).
const MAX_SIMPLE_KEY: usize = 128;

/// Writes the documents kustomize prints for `values`, in the order given: each one as
/// [`object`] writes it, separated by `---\n` (no separator before the first).
pub fn documents<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        object(value, &mut out);
    }
    out
}

/// Appends to `out` the YAML document kustomize prints for `value` (one object), ending
/// with a line break.
pub fn object(value: &Value, out: &mut String) {
    let mut emitter = Emitter {
        out,
        column: 0,
        indent: -1,
        whitespace: true,
        indention: true,
    };
    emitter.node(value, Context::default());
    // The implicit document end: finish the last line.
    emitter.write_indent();
}

/// Where a node is written (`emitter.mapping_context` / `simple_key_context`).
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// A key or value of a block mapping.
    mapping: bool,
    /// A key written without `? `: no line breaks allowed.
    simple_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The state of libyaml's emitter that decides where spaces and line breaks go.
struct Emitter<'o> {
    out: &'o mut String,
    /// Characters (not bytes) on the current line.
    column: usize,
    /// Indentation of the current block, -1 before the root node.
    indent: isize,
    /// The last thing written was whitespace (or nothing on this line).
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
}

impl Emitter<'_> {
    fn node(&mut self, value: &Value, ctx: Context) {
        match value {
            Value::Null => self.scalar("null", Style::Plain, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain, ctx),
            Value::Number(n) => self.scalar(&number(n), Style::Plain, ctx),
            Value::String(s) => {
                let s = through_json(s);
                self.scalar(&s, requested_style(&s), ctx);
            }
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Array(items) => self.block_sequence(items, ctx),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Object(map) => self.block_mapping(map),
        }
    }

    /// `yaml_emitter_increase_indent`; returns the indentation to restore.
    fn increase_indent(&mut self, flow: bool, indentless: bool) -> isize {
        let saved = self.indent;
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
        saved
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value], ctx: Context) {
        // Under a mapping key the dashes stay at the key's column.
        let saved = self.increase_indent(false, ctx.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.indent = saved;
    }

    fn block_mapping(&mut self, map: &Map<String, Value>) {
        let saved = self.increase_indent(false, false);
        let value_ctx = Context {
            mapping: true,
            simple_key: false,
        };
        for (key, value) in sorted(map) {
            self.write_indent();
            let key = through_json(key);
            let style = requested_style(&key);
            if !Analysis::of(&key).multiline && key.len() <= MAX_SIMPLE_KEY {
                let key_ctx = Context {
                    mapping: true,
                    simple_key: true,
                };
                self.scalar(&key, style, key_ctx);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(&key, style, value_ctx);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, value_ctx);
        }
        self.indent = saved;
    }

    /// `yaml_emitter_emit_scalar`: settle the style the text allows, then write it one
    /// indentation step in.
    fn scalar(&mut self, text: &str, requested: Style, ctx: Context) {
        let analysis = Analysis::of(text);
        let style = analysis.select(requested, text, ctx.simple_key);
        let saved = self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::Single => self.write_single_quoted(text, allow_breaks),
            Style::Double => self.write_double_quoted(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.indent = saved;
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// `write_break`: a `\n` is a line break; any other break character is copied.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let mut spaces = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                let next_space = chars.peek() == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                // A plain scalar never holds a line break (the analysis forbids it).
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == ' ' {
                let next_space = chars.peek().is_some_and(|&(_, n)| n == ' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < text.len()
                    && !next_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                // One line break folds into a space when read, so `\n` takes an empty line.
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // libyaml's `is_bom(value, i)` tests the start of the value whatever `i` is.
        let starts_with_bom = text.starts_with('\u{FEFF}');
        let mut spaces = false;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if starts_with_bom || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\x07' => self.put('a'),
                    '\x08' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\x0b' => self.put('v'),
                    '\x0c' => self.put('f'),
                    '\r' => self.put('r'),
                    '\x1b' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let (letter, digits) = match u32::from(c) {
                            0..=0xFF => ('x', 2),
                            0x100..=0xFFFF => ('u', 4),
                            _ => ('U', 8),
                        };
                        self.put(letter);
                        for k in (0..digits).rev() {
                            let digit = (u32::from(c) >> (4 * k)) & 0xF;
                            let digit = char::from_digit(digit, 16).unwrap_or('0');
                            self.put(digit.to_ascii_uppercase());
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < text.len()
                {
                    self.write_indent();
                    // A space that starts the next line would be taken for indentation.
                    if chars.peek().is_some_and(|&(_, n)| n == ' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an explicit indentation when the first line starts with a
        // space or is empty, then the chomping indicator.
        if text.starts_with(|c: char| c == ' ' || is_break(c)) {
            self.write_indicator(INDENT_HINT, false, false, false);
        }
        let mut tail = text.chars().rev();
        let chomp = match (tail.next(), tail.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(before)) if is_break(before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// What `yaml_emitter_analyze_scalar` finds out about a text: the styles it may take.
#[derive(Debug, Clone, Copy)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(text: &str) -> Self {
        if text.is_empty() {
            return Self {
                multiline: false,
                block_plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
            };
        }
        // Flow indicators only matter inside flow collections, which hold no scalars here.
        let mut block_indicators = text.starts_with("---") || text.starts_with("...");
        let mut line_breaks = false;
        let mut special_characters = false;
        let mut leading_space = false;
        let mut leading_break = false;
        let mut trailing_space = false;
        let mut trailing_break = false;
        let mut break_space = false;
        let mut space_break = false;
        let mut previous_space = false;
        let mut previous_break = false;
        let mut preceded_by_whitespace = true;

        let mut chars = text.chars().peekable();
        let mut first = true;
        while let Some(c) = chars.next() {
            let next = chars.peek().copied();
            let followed_by_whitespace = next.is_none_or(|n| n == ' ' || n == '\t');
            let last = next.is_none();
            if first {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => block_indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => block_indicators = true,
                    '#' if preceded_by_whitespace => block_indicators = true,
                    _ => {}
                }
            }
            if !is_printable(c) {
                special_characters = true;
            }
            if c == ' ' {
                leading_space |= first;
                trailing_space |= last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= first;
                trailing_break |= last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            // `is_blankz`: blank, break or NUL.
            preceded_by_whitespace = c == ' ' || c == '\t' || c == '\0' || is_break(c);
            first = false;
        }

        let mut analysis = Self {
            multiline: line_breaks,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
        };
        if leading_space || leading_break || trailing_space || trailing_break {
            analysis.block_plain_allowed = false;
        }
        if trailing_space {
            analysis.block_allowed = false;
        }
        if break_space {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
        }
        if space_break || special_characters {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
            analysis.block_allowed = false;
        }
        if line_breaks || block_indicators {
            analysis.block_plain_allowed = false;
        }
        analysis
    }

    /// `yaml_emitter_select_scalar_style` in block context.
    fn select(self, requested: Style, text: &str, simple_key: bool) -> Style {
        let mut style = requested;
        if simple_key && self.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!self.block_plain_allowed || (text.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !self.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!self.block_allowed || simple_key) {
            style = Style::Double;
        }
        style
    }
}

/// The style go-yaml's `stringv` asks for: a literal block for text with `\n`, plain when
/// the text reads back as the same string, double quotes otherwise.
fn requested_style(s: &str) -> Style {
    if s.contains('\n') {
        Style::Literal
    } else if reads_back_as_string(s) {
        Style::Plain
    } else {
        Style::Double
    }
}

/// Whether go-yaml v2 resolves `s`, unquoted, to the same string: not a YAML 1.1 null,
/// boolean, number or timestamp, and not a base-60 float.
fn reads_back_as_string(s: &str) -> bool {
    if !scalar::may_be_typed(s) {
        return true;
    }
    scalar::typed(s, Reader::Kubectl).is_none()
        && scalar::timestamp(s).is_none()
        && !is_base60_float(s)
        && !is_dot_float_with_underscores(s)
}

/// go-yaml hands a scalar starting with `.` to Go's `strconv.ParseFloat` as it is, and
/// `ParseFloat` takes underscores between digits (`.5_0` is 0.5), which
/// [`scalar::typed`] does not know.
fn is_dot_float_with_underscores(s: &str) -> bool {
    if !s.starts_with('.') || !s.contains('_') || !go_underscores_ok(s) {
        return false;
    }
    let cleaned = s.replace('_', "");
    cleaned.starts_with('.')
        && matches!(
            scalar::typed(&cleaned, Reader::Kubectl),
            Some(scalar::Scalar::Float(_))
        )
}

/// Go's `strconv.underscoreOK` for a decimal number: every `_` sits between two digits
/// (a `.` or an `e` is not a digit).
fn go_underscores_ok(s: &str) -> bool {
    let mut saw = '^';
    for c in s.trim_start_matches(['-', '+']).chars() {
        if c.is_ascii_digit() {
            saw = '0';
        } else if c == '_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else if saw == '_' {
            return false;
        } else {
            saw = '!';
        }
    }
    saw != '_'
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$` (encode.go's `base60float`).
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // `[0-5]?[0-9]`: one digit, or two when the first is 0-5.
        match (b.get(i), b.get(i + 1)) {
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => i += 2,
            (Some(b'0'..=b'9'), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// libyaml's `is_printable`: `\n`, ASCII graphic characters and space, and the rest of the
/// BMP up to U+FFFD except C1 controls, surrogates and U+FEFF. Tabs and everything beyond
/// the BMP are not printable.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

/// libyaml's `is_break`: CR, LF, NEL, LS, PS.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A string as go-yaml v2 reads it back from the JSON `encoding/json` wrote: only a raw
/// NEL changes (the other line breaks are escaped). Inside a double-quoted scalar a run of
/// spaces and NELs folds: one NEL and its spaces become a space, `n` NELs `n - 1` line feeds.
fn through_json(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{85}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let mut nels = 0usize;
    let flush = |out: &mut String, run: &mut String, nels: &mut usize| {
        match *nels {
            0 => out.push_str(run),
            1 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n - 1)),
        }
        run.clear();
        *nels = 0;
    };
    for c in s.chars() {
        match c {
            ' ' => run.push(c),
            '\u{85}' => nels += 1,
            _ => {
                flush(&mut out, &mut run, &mut nels);
                out.push(c);
            }
        }
    }
    flush(&mut out, &mut run, &mut nels);
    Cow::Owned(out)
}

/// The text go-yaml v2 prints for a number kustomize held.
fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    float(n.as_f64().unwrap_or_default())
}

/// A float64 printed by `encoding/json`, read back by go-yaml v2 and printed again.
fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let d = Decimal::shortest(f);
    // encoding/json uses 'f' below 1e21 (and from 1e-6): an integral float then has no
    // fraction and go-yaml reads it as an int64 or uint64 if it fits.
    if d.digits.is_empty() {
        return "0".into();
    }
    if f.abs() < 1e21 && d.point >= d.digits.len() as i32 {
        let mut text = d.digits.clone();
        text.extend(std::iter::repeat_n('0', d.point as usize - d.digits.len()));
        if let Ok(magnitude) = text.parse::<u64>() {
            if !d.negative {
                return text;
            }
            if magnitude <= i64::MAX as u64 + 1 {
                return format!("-{text}");
            }
        }
    }
    d.format_g()
}

/// The shortest decimal digits that read back as a float64 (as Go's `strconv` finds them).
struct Decimal {
    negative: bool,
    /// Significant digits without leading or trailing zeros; empty for zero.
    digits: String,
    /// Position of the decimal point relative to the digits (`digits` × 10^(point - len)).
    point: i32,
}

impl Decimal {
    fn shortest(f: f64) -> Self {
        let negative = f.is_sign_negative();
        if f == 0.0 {
            return Self {
                negative,
                digits: String::new(),
                point: 0,
            };
        }
        // Rust's `{:e}` gives the shortest digit count that reads back, but when the value
        // lies exactly halfway between two such candidates it takes the upper one, where Go
        // (`ryuFtoaShortest`) rounds half to even (832795932642610.25 is
        // `8.327959326426102e+14` in Go). Rust's fixed-precision formatting is exact and
        // rounds half to even, so redo it at that digit count and keep it if it reads back.
        let shortest = format!("{:e}", f.abs());
        let significant = shortest
            .split('e')
            .next()
            .map_or(1, |m| m.replace('.', "").len());
        let even = format!("{:.*e}", significant - 1, f.abs());
        let sci = if even.parse::<f64>() == Ok(f.abs()) {
            even
        } else {
            shortest
        };
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        Self {
            negative,
            digits,
            point: exp + 1,
        }
    }

    /// `strconv.FormatFloat(f, 'g', -1, 64)`: `%e` when the exponent is below -4 or at
    /// least 6 (Go's threshold for the shortest precision), else `%f`.
    fn format_g(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let digits = &self.digits;
        let exp = self.point - 1;
        if !(-4..6).contains(&exp) {
            let rest = &digits[1..];
            let dot = if rest.is_empty() { "" } else { "." };
            let exp_sign = if exp < 0 { '-' } else { '+' };
            return format!(
                "{sign}{}{dot}{rest}e{exp_sign}{:02}",
                &digits[..1],
                exp.abs()
            );
        }
        let n = digits.len() as i32;
        let body = if self.point <= 0 {
            format!("0.{}{digits}", "0".repeat((-self.point) as usize))
        } else if self.point >= n {
            format!("{digits}{}", "0".repeat((self.point - n) as usize))
        } else {
            let (int, frac) = digits.split_at(self.point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    }
}

/// The entries of `map` in go-yaml's key order.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let entries: Vec<(Vec<char>, (&String, &Value))> =
        map.iter().map(|e| (e.0.chars().collect(), e)).collect();
    merge_sort(entries, &|a, b| key_less(&a.0, &b.0))
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// A stable merge sort that, unlike `slice::sort_by`, cannot panic when `less` is not a
/// total order ([`key_less`] is not).
fn merge_sort<T>(mut items: Vec<T>, less: &impl Fn(&T, &T) -> bool) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let right = merge_sort(items.split_off(items.len() / 2), less);
    let left = merge_sort(items, less);
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let take_right = less(r, l);
        merged.extend(if take_right {
            right.next()
        } else {
            left.next()
        });
    }
    merged.extend(left);
    merged.extend(right);
    merged
}

/// go-yaml v2's `keyList.Less` for two string keys: at the first differing character a
/// letter sorts after a non-letter, two letters by code point, and otherwise the digits
/// from there on compare as numbers (then by length, then by code point).
fn key_less(a: &[char], b: &[char]) -> bool {
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (al, bl) = (is_letter(a[i]), is_letter(b[i]));
        if al && bl {
            return a[i] < b[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if a[i] == '0' || b[i] == '0' {
            // Inside a number (a non-zero digit before), a zero is just a digit.
            for &c in a[..i].iter().rev() {
                if !is_digit(c) {
                    break;
                }
                if c != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let digit = |c: char| i64::from(u32::from(c)) - i64::from(u32::from('0'));
        let mut ai = i;
        while ai < a.len() && is_digit(a[ai]) {
            an = an.wrapping_mul(10).wrapping_add(digit(a[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < b.len() && is_digit(b[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(digit(b[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return a[i] < b[i];
    }
    a.len() < b.len()
}

/// Go's `unicode.IsLetter` (exact for ASCII).
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic() && !c.is_numeric()
    }
}

/// Go's `unicode.IsDigit` (exact for ASCII).
fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        c.is_numeric() && !c.is_alphabetic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn emit(value: Value) -> String {
        let mut out = String::new();
        object(&value, &mut out);
        out
    }

    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let keys = [
            "ab", "a01", "a1", "a_b", "a-b", "A", "1", "k10", "k9", "", "a",
        ];
        let mut chars: Vec<Vec<char>> = keys.iter().map(|k| k.chars().collect()).collect();
        chars.sort_by(|a, b| {
            if key_less(a, b) {
                std::cmp::Ordering::Less
            } else if key_less(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        let sorted: Vec<String> = chars.iter().map(|c| c.iter().collect()).collect();
        assert_eq!(
            sorted,
            [
                "", "1", "A", "a", "a-b", "a_b", "a1", "a01", "ab", "k9", "k10"
            ]
        );
    }

    /// Why kustomize prints some maps in a different order on every run.
    #[test]
    fn go_key_order_is_not_transitive() {
        let less = |a: &str, b: &str| {
            key_less(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert!(less("v1alpha1", "v2") && less("v2", "v10") && less("v10", "v1alpha1"));
        assert!(less("a01", "a001") && less("a001", "a00b") && less("a00b", "a01"));
    }

    #[test]
    fn long_maps_sort_like_short_ones() {
        let map: Map<String, Value> = (0..40).map(|i| (format!("k{i}"), json!(i))).collect();
        let order: Vec<&str> = sorted(&map).iter().map(|(k, _)| k.as_str()).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn layout() {
        let value = json!({
            "b": [1, [2, 3], {"x": {}, "y": []}],
            "a": {"c": null, "d": true},
        });
        assert_eq!(
            emit(value),
            "a:\n  c: null\n  d: true\nb:\n- 1\n- - 2\n  - 3\n- x: {}\n  \"y\": []\n"
        );
        assert_eq!(emit(json!({})), "{}\n");
        assert_eq!(emit(json!([])), "[]\n");
        assert_eq!(
            documents([&json!({"a": 1}), &json!({"b": 2})]),
            "a: 1\n---\nb: 2\n"
        );
    }

    #[test]
    fn quoting() {
        for (s, out) in [
            ("y", "\"y\""),
            ("on", "\"on\""),
            ("<<", "<<"),
            (".5_0", "\".5_0\""),
            ("._5", "._5"),
            (".5_", ".5_"),
            ("1:20", "\"1:20\""),
            ("190:20:30.15", "\"190:20:30.15\""),
            ("1:60", "1:60"),
            ("1:70", "1:70"),
            ("2024-01-01", "\"2024-01-01\""),
            ("08", "\"08\""),
            ("", "\"\""),
            ("a: b", "'a: b'"),
            ("- a", "'- a'"),
            ("-a", "-a"),
            ("it's", "it's"),
            ("'x'", "'''x'''"),
            (" a", "' a'"),
            ("a\tb", "\"a\\tb\""),
            ("x\u{1F600}", "\"x\\U0001F600\""),
            ("\u{FEFF}ab", "\"\\uFEFF\\x61\\x62\""),
            ("a\u{FEFF}b", "\"a\\uFEFFb\""),
            ("caf\u{e9}", "caf\u{e9}"),
        ] {
            assert_eq!(emit(json!({ "k": s })), format!("k: {out}\n"), "{s:?}");
        }
    }

    #[test]
    fn literal_blocks() {
        assert_eq!(emit(json!({"k": "a\nb"})), "k: |-\n  a\n  b\n");
        assert_eq!(emit(json!({"k": "a\n"})), "k: |\n  a\n");
        assert_eq!(emit(json!({"k": "a\n\n"})), "k: |+\n  a\n\n");
        assert_eq!(emit(json!({"k": " a\nb"})), "k: |2-\n   a\n  b\n");
        assert_eq!(emit(json!({"k": "\n"})), "k: |2+\n\n");
        assert_eq!(emit(json!({"k": "a \nb"})), "k: \"a \\nb\"\n");
        assert_eq!(emit(json!(["a\nb"])), "- |-\n  a\n  b\n");
        assert_eq!(emit(json!({"a\nb": 1})), "? |-\n  a\n  b\n: 1\n");
    }

    #[test]
    fn folding_past_column_80() {
        let words = vec!["word"; 30].join(" ");
        let out = emit(json!({ "k": words }));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0].len(), 82, "{out}");
        assert!(lines[1].starts_with("  word"), "{out}");
        // Keys never fold.
        let key = vec!["w"; 60].join(" ");
        assert_eq!(emit(json!({ key.clone(): 1 })), format!("{key}: 1\n"));
        let long = "k".repeat(129);
        assert_eq!(emit(json!({ long.clone(): 1 })), format!("? {long}\n: 1\n"));
    }

    #[test]
    fn numbers_as_go_prints_them() {
        for (n, out) in [
            (json!(1000), "1000"),
            (json!(-1), "-1"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(1.5), "1.5"),
            (json!(1.0), "1"),
            (json!(-0.0), "0"),
            (json!(0.1), "0.1"),
            (json!(0.0001), "0.0001"),
            (json!(1e-5), "1e-05"),
            (json!(1e-7), "1e-07"),
            (json!(123456.5), "123456.5"),
            (json!(1234567.5), "1.2345675e+06"),
            (json!(123456789.123), "1.23456789123e+08"),
            (json!(1e19), "10000000000000000000"),
            (json!(-9.3e18), "-9.3e+18"),
            (json!(-9.2e18), "-9200000000000000000"),
            (json!(-1e19), "-1e+19"),
            (json!(2e19), "2e+19"),
            (json!(1e20), "1e+20"),
            (json!(1e21), "1e+21"),
            (json!(1.8446744073709552e19), "1.8446744073709552e+19"),
            // Exactly 832795932642610.25, halfway between two shortest candidates: Go
            // rounds half to even.
            (json!(832_795_932_642_610.2), "8.327959326426102e+14"),
        ] {
            assert_eq!(emit(json!({ "n": n })), format!("\"n\": {out}\n"), "{n}");
        }
    }

    #[test]
    fn nel_folds_through_json() {
        assert_eq!(through_json("a\u{85}b"), "a b");
        assert_eq!(through_json("a \u{85} b"), "a b");
        assert_eq!(through_json("a\u{85}\u{85}\u{85}b"), "a\n\nb");
        assert_eq!(through_json("a\u{85}"), "a ");
        assert_eq!(through_json("a  b"), "a  b");
    }
}
