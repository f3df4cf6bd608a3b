//! Scalar resolution as the two readers of the Kubernetes world do it.
//!
//! `kubectl apply -f`, the API server and Argo CD directory applications read YAML through
//! `sigs.k8s.io/yaml`, a go-yaml v2 fork with YAML 1.1 rules: `yes`/`on`/`y` are booleans,
//! timestamps stay text, and non-string mapping keys are turned into strings. kustomize (and
//! so Flux, `kubectl kustomize` and Argo CD's kustomize applications) reads through kyaml,
//! on go-yaml v3: only `true`/`false` are booleans, a plain timestamp becomes an RFC 3339
//! string, and a non-string key in a nested mapping is an error. The pure-Rust parsers
//! resolve by YAML 1.2, so this module does it itself, once per [`Reader`], following the
//! Go code (`resolve.go` of both go-yaml versions, `strconv.ParseInt`/`ParseFloat`,
//! `time.Parse`) and the table recorded from the real binaries in `tests/yaml-readers`.

use serde_json::{Number, Value};

use super::Reader;

/// What a scalar resolves to before it becomes JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// Beyond `i64` (go-yaml's `uint64`).
    Uint(u64),
    Float(f64),
    Str(String),
    /// A plain timestamp under kyaml: already in its RFC 3339 form.
    Timestamp(String),
}

impl Scalar {
    /// The JSON value the applied object carries. `Err` for what JSON cannot hold
    /// (infinities and NaN: both readers fail with `json: unsupported value`).
    ///
    /// Numbers go through JSON as Go prints them and as the API server decodes them again:
    /// an integral float prints without a fraction and comes back an integer (`1e3` is
    /// `1000`), and an integer beyond `int64` comes back a float.
    pub fn to_json(&self) -> Result<Value, String> {
        self.clone().into_json()
    }

    /// [`Self::to_json`], without copying a string.
    pub fn into_json(self) -> Result<Value, String> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Uint(u) => float_json(u as f64)?,
            Scalar::Float(f) => float_json(f)?,
            Scalar::Str(s) | Scalar::Timestamp(s) => Value::String(s),
        })
    }

    /// Whether the scalar is a string for its reader (kyaml's timestamps are not).
    pub fn is_string(&self) -> bool {
        matches!(self, Scalar::Str(_))
    }
}

fn float_json(f: f64) -> Result<Value, String> {
    if f.is_nan() {
        return Err("NaN".into());
    }
    if f.is_infinite() {
        return Err(if f > 0.0 { "+Inf" } else { "-Inf" }.into());
    }
    // Go's encoding/json prints floats below 1e21 without an exponent; an integral one
    // then reads back as an int64 when it fits.
    if f.fract() == 0.0 && f.abs() < 1e21 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        // `-0` prints as `-0` and reads back as the integer 0.
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "NaN".into())
}

/// Whether `reader` resolves the plain scalar `s` to a string: [`resolve_plain`] without
/// building anything, for the common case of a key or value that is just a word.
pub fn is_plain_string(s: &str, reader: Reader) -> bool {
    typed(s, reader).is_none()
}

/// Resolves a plain (unquoted, untagged) scalar as `reader` does.
pub fn resolve_plain(s: &str, reader: Reader) -> Scalar {
    typed(s, reader).unwrap_or_else(|| Scalar::Str(s.to_owned()))
}

/// What `reader` makes of a plain scalar other than a string; `None` for a string.
pub fn typed(s: &str, reader: Reader) -> Option<Scalar> {
    if !may_be_typed(s) {
        return None;
    }
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Scalar::Null),
        "true" | "True" | "TRUE" => return Some(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Scalar::Bool(false)),
        ".nan" | ".NaN" | ".NAN" => return Some(Scalar::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Scalar::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Scalar::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    if reader == Reader::Kubectl {
        match s {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
                return Some(Scalar::Bool(true));
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                return Some(Scalar::Bool(false));
            }
            _ => {}
        }
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        // go-yaml's '.' hint: Go's ParseFloat on the text as it is.
        return go_parse_float(s).map(Scalar::Float);
    }
    if !(first.is_ascii_digit() || first == b'-' || first == b'+') {
        return None;
    }
    if reader == Reader::Kyaml
        && let Some(t) = timestamp(s)
    {
        return Some(Scalar::Timestamp(t));
    }
    number(s)
}

/// Whether a plain scalar may resolve to something other than a string (a cheap test: the
/// first byte of every null, boolean, number and timestamp of either reader).
pub fn may_be_typed(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(b'0'..=b'9' | b'+' | b'-' | b'.') => true,
        // The words: `~`, `y`, `on`, `yes`, `off`, `true`, `null`, `false` in their casings.
        Some(b'~' | b'y' | b'Y' | b'n' | b'N' | b'o' | b'O' | b't' | b'T' | b'f' | b'F') => {
            s.len() <= 5
        }
        Some(_) => false,
    }
}

/// Whether the two readers may resolve the plain scalar `s` differently: a cheap test
/// before resolving it twice.
pub fn may_diverge(s: &str) -> bool {
    match s.as_bytes().first() {
        Some(b'y' | b'Y' | b'n' | b'N' | b'o' | b'O') => s.len() <= 3,
        // Timestamps start with a four-digit year and a dash.
        Some(b'0'..=b'9') => s.len() >= 8 && s.as_bytes()[4] == b'-',
        _ => false,
    }
}

/// go-yaml's integers and floats: `_` removed, then Go's `ParseInt(s, 0, 64)`, then
/// `ParseUint`, then a float of YAML's syntax parsed by `ParseFloat`.
fn number(s: &str) -> Option<Scalar> {
    let cleaned;
    let plain = if s.contains('_') {
        cleaned = s.replace('_', "");
        if cleaned.is_empty() {
            return None;
        }
        cleaned.as_str()
    } else {
        s
    };
    if let Some(n) = go_parse_int(plain) {
        return Some(n);
    }
    if yaml_style_float(plain) {
        return go_parse_float(plain).map(Scalar::Float);
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` for positive
/// values beyond `int64`: optional sign, then `0b`/`0o`/`0x` (either case) or a leading `0`
/// for octal.
fn go_parse_int(s: &str) -> Option<Scalar> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let b = body.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (radix, digits) = if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'b' | b'B' => (2, &body[2..]),
            b'o' | b'O' => (8, &body[2..]),
            b'x' | b'X' => (16, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            Some(Scalar::Int((magnitude as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if magnitude <= i64::MAX as u64 {
        Some(Scalar::Int(magnitude as i64))
    } else if s.starts_with('+') {
        // ParseUint takes no sign.
        None
    } else {
        Some(Scalar::Uint(magnitude))
    }
}

/// go-yaml's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == f {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml hands it: `None` where Go
/// returns an error, which includes overflow to infinity (`1e400`) but not underflow.
fn go_parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let body = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    if body.is_empty() {
        return None;
    }
    // Go also takes `inf`, `infinity` and `nan` in any case.
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(if b[0] == b'-' {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    if !body
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() { None } else { Some(f) }
}

/// Resolves a scalar carrying a tag of the YAML namespace (`!!int "3"`, `!!binary ...`) as
/// `reader` does: `Err` with the reader's complaint when the text is not of that type.
pub fn resolve_tagged(s: &str, suffix: &str, reader: Reader) -> Result<Scalar, String> {
    match suffix {
        "str" => return Ok(Scalar::Str(s.to_owned())),
        "binary" => {
            return match base64(s) {
                Some(bytes) => Ok(Scalar::Str(String::from_utf8_lossy(&bytes).into_owned())),
                None => Err(format!("`{s}` is not valid base64 for !!binary")),
            };
        }
        "merge" if s == "<<" => return Ok(Scalar::Str(s.to_owned())),
        _ => {}
    }
    // The text is resolved as a plain scalar would be; go-yaml then refuses a mismatch,
    // except that an integer is a fine float.
    let resolved = if suffix == "timestamp" {
        match timestamp(s) {
            Some(t) if reader == Reader::Kyaml => Scalar::Timestamp(t),
            Some(_) => Scalar::Str(s.to_owned()),
            None => resolve_plain_untyped(s, reader),
        }
    } else if s.is_empty() {
        Scalar::Null
    } else {
        resolve_plain_untyped(s, reader)
    };
    let ok = match (suffix, &resolved) {
        ("null", Scalar::Null)
        | ("bool", Scalar::Bool(_))
        | ("int", Scalar::Int(_) | Scalar::Uint(_))
        | ("float", Scalar::Float(_))
        | ("timestamp", Scalar::Timestamp(_) | Scalar::Str(_)) => true,
        ("float", Scalar::Int(i)) => return Ok(Scalar::Float(*i as f64)),
        ("float", Scalar::Uint(u)) => return Ok(Scalar::Float(*u as f64)),
        _ => false,
    };
    if ok {
        Ok(resolved)
    } else {
        Err(format!(
            "cannot decode !!{} `{s}` as a !!{suffix}",
            short_tag(&resolved)
        ))
    }
}

/// A plain scalar's resolution without the timestamp step (tags other than `!!timestamp`).
fn resolve_plain_untyped(s: &str, reader: Reader) -> Scalar {
    if s.is_empty() {
        return Scalar::Null;
    }
    match resolve_plain(s, reader) {
        Scalar::Timestamp(_) => number(s).unwrap_or_else(|| Scalar::Str(s.to_owned())),
        other => other,
    }
}

fn short_tag(s: &Scalar) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) | Scalar::Uint(_) => "int",
        Scalar::Float(_) => "float",
        Scalar::Str(_) => "str",
        Scalar::Timestamp(_) => "timestamp",
    }
}

/// Go's `base64.StdEncoding.DecodeString`, which skips line breaks.
fn base64(s: &str) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = s.bytes().filter(|b| !matches!(b, b'\n' | b'\r')).collect();
    data_encoding::BASE64.decode(&cleaned).ok()
}

/// The JSON key `sigs.k8s.io/yaml` makes of a mapping key that go-yaml v2 resolved to a
/// non-string: `Err` for the kinds it refuses (null, and integers beyond `int64`).
pub fn kubectl_key(s: &Scalar) -> Result<String, String> {
    match s {
        Scalar::Str(s) | Scalar::Timestamp(s) => Ok(s.clone()),
        Scalar::Bool(b) => Ok(b.to_string()),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Float(f) if f.is_nan() => Ok(".nan".into()),
        Scalar::Float(f) if f.is_infinite() => Ok(if *f > 0.0 { ".inf" } else { "-.inf" }.into()),
        Scalar::Float(f) => Ok(go_format_g32(*f)),
        Scalar::Null => Err("a null mapping key cannot be converted to JSON".into()),
        Scalar::Uint(u) => Err(format!(
            "the mapping key {u} (beyond int64) cannot be converted to JSON"
        )),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that read back as the
/// same 32-bit float, in exponent form (`1e+06`, `1e-07`) when the exponent is below -4 or
/// at least 6 (Go's `%g` rule for the shortest precision), else in fixed form.
fn go_format_g32(f: f64) -> String {
    let f = f as f32;
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` on f32 is the shortest round-trip form: `d.ddde±x`.
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let rest = &digits[1..];
        let mantissa = if rest.is_empty() {
            digits[..1].to_owned()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{esign}{:02}", exp.abs());
    }
    // Fixed notation with exactly the shortest digits.
    let point = exp + 1; // digits before the decimal point
    let s = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{s}")
}

/// go-yaml v3's `parseTimestamp`: a plain scalar that starts with a four-digit year and a
/// dash and that Go's `time.Parse` accepts in one of its four layouts, as the RFC 3339 text
/// `time.Time` marshals to (`2002-12-14` → `2002-12-14T00:00:00Z`).
pub fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 6 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 5 };
    let year: u32 = s[..4].parse().ok()?;
    let month = p.num(1, 2)?;
    p.expect(b'-')?;
    let day = p.num(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    // `T`, `t` (with a zone) or a space (without one).
    let sep = p.next()?;
    let zoned = match sep {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = p.num(1, 2)?;
    p.expect(b':')?;
    let minute = p.num(1, 2)?;
    p.expect(b':')?;
    let second = p.num(1, 2)?;
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    // An optional fraction, after `.` or `,`: Go keeps nanoseconds, without trailing zeros.
    let mut frac = String::new();
    if matches!(p.peek(), Some(b'.' | b',')) && p.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        p.i += 1;
        while let Some(c) = p.peek().filter(u8::is_ascii_digit) {
            frac.push(c as char);
            p.i += 1;
        }
        frac.truncate(9);
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    let zone = if zoned {
        match p.next()? {
            b'Z' => "Z".to_owned(),
            sign @ (b'+' | b'-') => {
                let zh = p.fixed(2)?;
                p.expect(b':')?;
                let zm = p.fixed(2)?;
                if zh == 0 && zm == 0 {
                    "Z".to_owned()
                } else {
                    format!("{}{zh:02}:{zm:02}", sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_owned()
    };
    if !p.done() {
        return None;
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{frac}{zone}"
    ))
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    /// Go's `getnum`: one digit, or two when a second follows (`min`..=`max` digits).
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let start = self.i;
        let v = self.num(n, n)?;
        (self.i - start == n).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kubectl(s: &str) -> Value {
        resolve_plain(s, Reader::Kubectl).to_json().unwrap()
    }
    fn kyaml(s: &str) -> Value {
        resolve_plain(s, Reader::Kyaml).to_json().unwrap()
    }

    #[test]
    fn yaml_1_1_booleans_only_for_kubectl() {
        for t in ["yes", "Yes", "on", "ON", "y", "Y"] {
            assert_eq!(kubectl(t), json!(true), "{t}");
            assert_eq!(kyaml(t), json!(t), "{t}");
            assert!(may_diverge(t), "{t}");
        }
        for f in ["no", "off", "N", "n"] {
            assert_eq!(kubectl(f), json!(false), "{f}");
            assert_eq!(kyaml(f), json!(f), "{f}");
        }
        for (t, v) in [("true", true), ("True", true), ("FALSE", false)] {
            assert_eq!(kubectl(t), json!(v));
            assert_eq!(kyaml(t), json!(v));
        }
        for n in ["", "~", "null", "NULL"] {
            assert_eq!(kubectl(n), Value::Null, "{n}");
        }
        assert_eq!(kubectl("yEs"), json!("yEs"));
        assert_eq!(kubectl("yess"), json!("yess"));
    }

    #[test]
    fn integers_as_go_parses_them() {
        for (s, v) in [
            ("017", 15),
            ("0o17", 15),
            ("0O17", 15),
            ("0_17", 15),
            ("0x1F", 31),
            ("0X1F", 31),
            ("-0x1F", -31),
            ("+0x1F", 31),
            ("0b101", 5),
            ("0B101", 5),
            ("-0b1", -1),
            ("1_000", 1000),
            ("1_", 1),
            ("1__0", 10),
            ("+12", 12),
            ("09", 9),
            ("0", 0),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(kubectl(s), json!(v), "{s}");
            assert_eq!(kyaml(s), json!(v), "{s}");
        }
        assert_eq!(kubectl("9223372036854775808"), json!(9223372036854775808.0));
        assert_eq!(
            kubectl("18446744073709551616"),
            json!(18446744073709551616.0)
        );
        for s in ["_1", "0b", "0x", "1:20", "1,000", "-", "+", "0o8"] {
            assert_eq!(kubectl(s), json!(s), "{s}");
        }
    }

    #[test]
    fn floats_as_go_parses_them() {
        for (s, v) in [("1e3", json!(1000)), ("1.", json!(1)), (".5", json!(0.5))] {
            assert_eq!(kubectl(s), v, "{s}");
        }
        assert_eq!(kubectl("-.5"), json!(-0.5));
        assert_eq!(kubectl("1.5e300"), json!(1.5e300));
        assert_eq!(kubectl("1e-400"), json!(0));
        assert_eq!(kubectl("1e400"), json!("1e400"));
        assert!(resolve_plain(".inf", Reader::Kubectl).to_json().is_err());
        assert!(resolve_plain("-.Inf", Reader::Kyaml).to_json().is_err());
        assert!(resolve_plain(".NaN", Reader::Kubectl).to_json().is_err());
        for s in ["1.2.3", "500m", "1Gi", "v1", ".", "1e", "-.", "12:30"] {
            assert_eq!(kubectl(s), json!(s), "{s}");
        }
    }

    #[test]
    fn timestamps_only_for_kyaml() {
        for (s, t) in [
            ("2002-12-14", "2002-12-14T00:00:00Z"),
            ("2024-1-2", "2024-01-02T00:00:00Z"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            ("2001-12-14T21:59:43Z", "2001-12-14T21:59:43Z"),
            ("2001-12-14 21:59:43.10", "2001-12-14T21:59:43.1Z"),
            ("2001-12-14T21:59:43+00:00", "2001-12-14T21:59:43Z"),
        ] {
            assert_eq!(kyaml(s), json!(t), "{s}");
            assert_eq!(kubectl(s), json!(s), "{s}");
            assert!(may_diverge(s), "{s}");
        }
        for s in ["2001-12-14 21:59:43.10 -5", "2023-02-30", "2024-13-01"] {
            assert_eq!(kyaml(s), json!(s), "{s}");
        }
        assert_eq!(kyaml("20240101"), json!(20240101));
    }

    #[test]
    fn tags_never_panic_and_say_what_is_wrong() {
        assert_eq!(
            resolve_tagged("3", "str", Reader::Kubectl),
            Ok(Scalar::Str("3".into()))
        );
        assert_eq!(
            resolve_tagged("017", "int", Reader::Kubectl),
            Ok(Scalar::Int(15))
        );
        assert_eq!(
            resolve_tagged("3", "float", Reader::Kubectl),
            Ok(Scalar::Float(3.0))
        );
        assert_eq!(
            resolve_tagged("yes", "bool", Reader::Kubectl),
            Ok(Scalar::Bool(true))
        );
        assert_eq!(
            resolve_tagged("yes", "bool", Reader::Kyaml),
            Err("cannot decode !!str `yes` as a !!bool".into())
        );
        for suffix in ["int", "float", "bool"] {
            assert_eq!(
                resolve_tagged("", suffix, Reader::Kubectl),
                Err(format!("cannot decode !!null `` as a !!{suffix}"))
            );
        }
        assert_eq!(
            resolve_tagged("", "null", Reader::Kubectl),
            Ok(Scalar::Null)
        );
        assert_eq!(
            resolve_tagged("aGVsbG8=", "binary", Reader::Kubectl),
            Ok(Scalar::Str("hello".into()))
        );
    }

    #[test]
    fn keys_as_sigs_yaml_stringifies_them() {
        let key = |s: &str| kubectl_key(&resolve_plain(s, Reader::Kubectl));
        for (s, k) in [
            ("on", "true"),
            ("n", "false"),
            ("1", "1"),
            ("017", "15"),
            ("1.0", "1"),
            ("1e3", "1000"),
            ("0.1", "0.1"),
            ("123456789.123", "1.2345679e+08"),
            ("1e6", "1e+06"),
            ("1e-7", "1e-07"),
            ("-0.0", "-0"),
            (".inf", ".inf"),
            ("0.0001", "0.0001"),
            ("100000", "100000"),
        ] {
            assert_eq!(key(s).as_deref(), Ok(k), "{s}");
        }
        assert!(key("~").is_err());
        assert!(key("18446744073709551615").is_err());
    }

    /// Every short string over the characters that matter resolves without a panic, to the
    /// same value each time, and every number it yields is valid JSON.
    #[test]
    fn no_input_panics() {
        let alphabet: Vec<char> = "0123456789+-._xXoObBeEyYnN:tTzZ \u{e9}".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((state >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            for reader in [Reader::Kubectl, Reader::Kyaml] {
                let a = resolve_plain(&s, reader);
                assert_eq!(format!("{a:?}"), format!("{:?}", resolve_plain(&s, reader)));
                let _ = a.to_json();
                let _ = kubectl_key(&a);
                for suffix in ["int", "float", "bool", "null", "str", "binary", "timestamp"] {
                    let _ = resolve_tagged(&s, suffix, reader);
                }
            }
            let _ = timestamp(&s);
        }
    }
}
