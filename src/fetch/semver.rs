//! Version constraints as Helm, Flux and Argo CD read them: Masterminds semver v3.4
//! (`constraints.go`), not Cargo's. The differences that matter:
//! - a bare version is exact (`1.2.3` is `=1.2.3`, not `^1.2.3`); a partial one is a range
//!   (`1.2` and `1.2.x` are `>=1.2.0 <1.3.0`);
//! - comparators are separated by spaces or commas, alternatives by `||`; `a - b` is
//!   `>=a <=b`; `~>` is `~`, `=>` is `>=`, `=<` is `<=`, `!=` excludes;
//! - a prerelease matches only when some comparator of its `||` group names a prerelease.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// A version as Masterminds' `NewVersion` reads it: a leading `v`, missing minor or patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    /// The text as written, for messages and file names.
    pub text: String,
}

impl Version {
    pub fn parse(s: &str) -> Option<Self> {
        static RE: OnceLock<Option<Regex>> = OnceLock::new();
        let re = RE.get_or_init(|| {
            Regex::new(
                r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
            )
            .ok()
        });
        let m = re.as_ref()?.captures(s.trim())?;
        let num = |i: usize| -> Option<u64> {
            match m.get(i) {
                None => Some(0),
                Some(g) => g.as_str().trim_start_matches('.').parse().ok(),
            }
        };
        let pre = m.get(5).map_or("", |g| g.as_str()).to_owned();
        // Numeric prerelease identifiers may not have leading zeros (semver 2).
        if pre
            .split('.')
            .any(|p| p.len() > 1 && p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some(Self {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre,
            text: s.trim().to_owned(),
        })
    }

    /// Semver precedence: build metadata ignored.
    pub fn cmp_precedence(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

/// Prerelease precedence: none ranks above any; identifiers compared one by one, numbers
/// numerically and below words.
fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed constraint: alternatives of comparators that must all hold.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<(Vec<Comparator>, bool)>,
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Res {
    one: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

/// The grammar, compiled once (`None` only if the patterns below did not compile).
fn res() -> Option<&'static Res> {
    static RES: OnceLock<Option<Res>> = OnceLock::new();
    RES.get_or_init(|| {
        let re = |s: String| Regex::new(&s).ok();
        Some(Res {
            one: re(format!(r"^\s*({OPS})\s*({CV})\s*$"))?,
            range: re(format!(r"\s*({CV})\s+-\s+({CV})\s*"))?,
            find: re(format!(r"({OPS})\s*({CV})"))?,
            valid: re(format!(
                r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
            ))?,
        })
    })
    .as_ref()
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let r = res().ok_or_else(|| "the constraint grammar did not compile".to_owned())?;
        // `a - b` → `>= a, <= b`.
        let mut rewritten = text.to_owned();
        for c in r.range.captures_iter(text) {
            let (Some(all), Some(a), Some(b)) = (c.get(0), c.get(1), c.get(11)) else {
                continue;
            };
            rewritten = rewritten.replacen(
                all.as_str(),
                &format!(">= {}, <= {} ", a.as_str(), b.as_str()),
                1,
            );
        }
        let mut groups = Vec::new();
        for alt in rewritten.split("||") {
            if !r.valid.is_match(alt) {
                return Err(format!("`{text}` is not a version constraint"));
            }
            let mut found: Vec<&str> = r.find.find_iter(alt).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(alt);
            }
            let mut comparators = Vec::new();
            for one in found {
                comparators.push(
                    parse_one(one).ok_or_else(|| {
                        format!("`{text}` is not a version constraint (at `{one}`)")
                    })?,
                );
            }
            let pre = comparators.iter().any(|c| !c.con.pre.is_empty());
            groups.push((comparators, pre));
        }
        Ok(Self { groups })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(cs, pre)| cs.iter().all(|c| c.check(v, *pre)))
    }
}

fn parse_one(s: &str) -> Option<Comparator> {
    if s.is_empty() {
        return Some(Comparator {
            op: Op::TildeOrEqual,
            con: Version::parse("0.0.0")?,
            dirty: true,
            minor_dirty: false,
            patch_dirty: false,
        });
    }
    let m = res()?.one.captures(s)?;
    let op = match m.get(1).map_or("", |g| g.as_str()) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    };
    let part = |i: usize| m.get(i).map_or("", |g| g.as_str());
    let (major, minor, patch, pre) = (part(3), part(4), part(5), part(6));
    let minor_t = minor.trim_start_matches('.');
    let patch_t = patch.trim_start_matches('.');
    let (ver, dirty, minor_dirty, patch_dirty) = if is_x(major) || major.is_empty() {
        (format!("0.0.0{pre}"), true, false, false)
    } else if is_x(minor_t) || minor.is_empty() {
        (format!("{major}.0.0{pre}"), true, true, false)
    } else if is_x(patch_t) || patch.is_empty() {
        (format!("{major}{minor}.0{pre}"), true, false, true)
    } else {
        (part(2).to_owned(), false, false, false)
    };
    Some(Comparator {
        op,
        con: Version::parse(&ver)?,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Comparator {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        let cmp = v.cmp_precedence(c);
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        return (!v.pre.is_empty() || !c.pre.is_empty())
                            && compare_pre(&v.pre, &c.pre) != Ordering::Equal;
                    }
                }
                cmp != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return cmp == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                cmp == Ordering::Greater
            }
            Op::Less => cmp == Ordering::Less,
            Op::GreaterEqual => cmp != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return cmp != Ordering::Greater;
                }
                !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v, cmp),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v, cmp)
                } else {
                    cmp == Ordering::Equal
                }
            }
            Op::Caret => {
                if cmp == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Version, cmp: Ordering) -> bool {
        let c = &self.con;
        if cmp == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// The version among `versions` a controller picks for `wanted`: the one written exactly
/// so first, else the highest that satisfies it as a constraint (empty is `*`); versions
/// that do not parse are skipped. `Err`: `wanted` is no constraint.
pub fn pick<'a>(wanted: &str, versions: &'a [String]) -> Result<Option<&'a str>, String> {
    let wanted = wanted.trim();
    if let Some(v) = versions
        .iter()
        .find(|v| v.as_str() == wanted && !wanted.is_empty())
    {
        return Ok(Some(v));
    }
    let constraint = Constraint::parse(if wanted.is_empty() { "*" } else { wanted })?;
    let mut best: Option<(Version, &str)> = None;
    for text in versions {
        let Some(v) = Version::parse(text) else {
            continue;
        };
        if !constraint.matches(&v) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(b, _)| v.cmp_precedence(b) == Ordering::Greater)
        {
            best = Some((v, text));
        }
    }
    Ok(best.map(|(_, t)| t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraint::parse(c)
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&Version::parse(v).unwrap())
    }

    /// helm 4 picked these from versions 0.1.0, 0.2.0, 0.3.0-rc.1 and 1.0.0
    /// (ADMISSION-REMOTE-YAML-FACTS E.2, reproduced with `helm pull --version`).
    #[test]
    fn picks_as_helm_did() {
        let all: Vec<String> = ["0.1.0", "0.2.0", "0.3.0-rc.1", "1.0.0"]
            .map(String::from)
            .to_vec();
        for (wanted, got) in [
            ("~0.2", "0.2.0"),
            ("<1.0.0", "0.2.0"),
            (">=0.3.0-0 <1.0.0", "0.3.0-rc.1"),
            ("*", "1.0.0"),
            ("", "1.0.0"),
            ("0.1.0", "0.1.0"),
        ] {
            assert_eq!(pick(wanted, &all).unwrap(), Some(got), "{wanted}");
        }
        assert_eq!(pick("2.x", &all).unwrap(), None);
        assert!(pick("not a version", &all).is_err());
    }

    /// The examples in Masterminds' own comments (constraints.go).
    #[test]
    fn ranges_as_masterminds_documents_them() {
        assert!(ok("1.2.3", "1.2.3") && !ok("1.2.3", "1.2.4"));
        assert!(ok("1.2", "1.2.9") && !ok("1.2", "1.3.0"));
        assert!(ok("1.2.x", "1.2.0") && !ok("1.2.x", "1.3.0"));
        assert!(ok("~1.2.3", "1.2.9") && !ok("~1.2.3", "1.3.0") && !ok("~1.2.3", "1.2.2"));
        assert!(ok("~1", "1.9.0") && !ok("~1", "2.0.0"));
        assert!(ok("~>2.0", "2.0.5") && !ok("~>2.0", "2.1.0"));
        assert!(ok("^1.2.3", "1.9.0") && !ok("^1.2.3", "2.0.0"));
        assert!(ok("^0.2.3", "0.2.9") && !ok("^0.2.3", "0.3.0"));
        assert!(ok("^0.0.3", "0.0.3") && !ok("^0.0.3", "0.0.4"));
        assert!(ok("^0", "0.9.9") && !ok("^0", "1.0.0"));
        assert!(ok("^0.0", "0.0.9") && !ok("^0.0", "0.1.0"));
        assert!(ok("1.2 - 1.4.5", "1.4.5") && !ok("1.2 - 1.4.5", "1.4.6"));
        assert!(ok(">=1.2, <2", "1.5.0") && !ok(">= 1.2 < 2", "2.0.0"));
        assert!(ok("<1.0 || >=2.0", "2.1.0") && !ok("<1.0 || >=2.0", "1.5.0"));
        assert!(!ok("!=1.2.3", "1.2.3") && ok("!=1.2.3", "1.2.4"));
        assert!(!ok("!=1.x", "1.5.0") && ok("!=1.x", "2.0.0"));
        assert!(ok(">11.1", "11.2.0") && !ok(">11.1", "11.1.5"));
        assert!(ok("<=1.2", "1.2.9") && !ok("<=1.2", "1.3.0"));
        assert!(ok("v1.2.3", "1.2.3") && ok("=>1.0", "1.0.0"));
        // Prereleases only where the group asks for one.
        assert!(!ok(">=1.0.0", "1.1.0-rc.1"));
        assert!(ok(">=1.0.0-0", "2.0.0-rc.1"));
        assert!(ok(">=1.0.0-0 || >=3.0.0", "3.1.0-rc.1"));
        assert!(!ok(">=3.0.0 || <1.0.0", "3.1.0-rc.1"));
    }

    #[test]
    fn precedence_follows_semver() {
        let v = |s: &str| Version::parse(s).unwrap();
        let mut all = [
            "1.0.0",
            "1.0.0-rc.1",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.11",
            "1.0.0-beta.2",
        ]
        .map(v)
        .to_vec();
        all.sort_by(Version::cmp_precedence);
        let order: Vec<&str> = all.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(
            order,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0"
            ]
        );
        assert!(Version::parse("1.0.0-01").is_none());
        assert_eq!(v("v2").cmp_precedence(&v("2.0.0")), Ordering::Equal);
    }
}
