//! The built-in rules compiled for the virtual machine, so that a run does not compile
//! them again: the default rules embedded in the binary ([`precompiled`]), and a cache of
//! other rule sets (a configuration that enables or disables some, `--timings`) so that a
//! run on one file (a pre-commit hook on every commit) does not compile them each time.
//!
//! A program is known by a key that names everything it was compiled from
//! ([`source_key`]): `Cargo.lock` (the compiler), the policy sources embedded in the binary,
//! the enabled rules and whether `--timings` asked for per-rule entry points. A cache file's
//! key adds kubegate's version and the executable itself (its size and modification time).
//! A file holds the key and a SHA-256 of the program, checked on every read; anything that
//! does not match is compiled again (and, for the cache, written anew).
//!
//! The cache is never used in CI (`GITHUB_ACTIONS`, `GITLAB_CI`, `CI`): there a job
//! compiles once anyway, and the rules must come from the binary, not from a directory a job
//! could have restored. `KUBEGATE_CACHE_DIR` moves the cache; `KUBEGATE_NO_CACHE=1` turns it
//! off (the embedded program stays in use: it is part of the binary).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regorus::rvm::Program;
use regorus::rvm::program::DeserializationResult;
use sha2::{Digest, Sha256};

/// The first line of a cache file.
const MAGIC: &[u8] = b"kubegate compiled rules 1\n";

/// The directory of kubegate's cache, when one is to be used.
pub fn dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if set("KUBEGATE_NO_CACHE").is_some_and(|v| v != "0") {
        return None;
    }
    if let Some(d) = set("KUBEGATE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if ["GITHUB_ACTIONS", "GITLAB_CI", "CI"]
        .iter()
        .any(|v| set(v).is_some_and(|x| x != "false" && x != "0"))
    {
        return None;
    }
    user_dir()
}

/// The user's cache directory for kubegate: `$XDG_CACHE_HOME` or `~/.cache`
/// (`~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows), then `kubegate`.
pub fn user_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = if cfg!(windows) {
        set("LOCALAPPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        set("HOME").map(|h| PathBuf::from(h).join("Library/Caches"))
    } else {
        set("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".cache")))
    };
    base.map(|b| b.join("kubegate"))
}

/// What a program was compiled from, whichever binary compiled it: the locked dependencies
/// (regorus's compiler among them), the policy sources embedded in the binary, and `parts`
/// (the enabled rules, the generated entry module, the entry points). The key of the
/// [`precompiled`] program.
pub fn source_key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    h.update(env!("KUBEGATE_LOCK_HASH").as_bytes());
    for (path, src) in super::SOURCES {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(src.as_bytes());
        h.update([0]);
    }
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

/// The key of the cache file of a program of [`source_key`] `source`: that, kubegate's
/// version and the binary's own identity.
pub fn key(source: &str) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // This very build: a rebuilt binary (another compiler, a change to how the rules are
    // compiled) never reads what an earlier build wrote.
    if let Ok(m) = std::env::current_exe().and_then(std::fs::metadata) {
        h.update(m.len().to_le_bytes());
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.update(modified.map_or(0, |d| d.as_nanos()).to_le_bytes());
    }
    h.update(source.as_bytes());
    hex(&h.finalize())
}

/// The default rules (every rule enabled, no per-rule entry points), compiled when the
/// policies last changed and embedded in the binary: a run in CI, where nothing is cached,
/// does not compile them. Written by `scripts/gen-rules.sh`, in the cache file's format;
/// a test fails when its key is not that of the current sources.
const PRECOMPILED: &[u8] = include_bytes!("../../policies/compiled.bin");

/// The embedded program, when it was compiled from what [`source_key`] `source` names.
pub fn precompiled(source: &str) -> Option<Arc<Program>> {
    parse(PRECOMPILED, source)
}

/// The key the embedded program was compiled under.
#[cfg(test)]
pub fn precompiled_key() -> Option<String> {
    let rest = PRECOMPILED.strip_prefix(MAGIC)?;
    let (key, _) = split_line(rest)?;
    Some(String::from_utf8_lossy(key).into_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("rules-{}.bin", &key[..32]))
}

/// The program stored under `key`, if the file is there, whole and of this key.
pub fn read(dir: &Path, key: &str) -> Option<Arc<Program>> {
    parse(&std::fs::read(file(dir, key)).ok()?, key)
}

/// The program in `bytes` (a cache file's), if they are whole and of `key`.
fn parse(bytes: &[u8], key: &str) -> Option<Arc<Program>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (stored_key, rest) = split_line(rest)?;
    let (digest, program) = split_line(rest)?;
    if stored_key != key.as_bytes() || digest != hex(&Sha256::digest(program)).as_bytes() {
        return None;
    }
    match Program::deserialize_binary(program).ok()? {
        DeserializationResult::Complete(p) => Some(Arc::new(p)),
        DeserializationResult::Partial(_) => None,
    }
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// Stores `program` under `key`: written to a file of its own, then renamed into place, so
/// a run reading it at the same time sees the old file or the new one, never half of one.
/// A cache that cannot be written is no error: the next run compiles again.
pub fn write(dir: &Path, key: &str, program: &Program) {
    let Some(out) = contents(key, program) else {
        return;
    };
    let target = file(dir, key);
    let temp = dir.join(format!(".rules-{}-{}.tmp", std::process::id(), &key[..16]));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&temp, &out))
        .and_then(|()| std::fs::rename(&temp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

/// A cache file's bytes: the magic line, `key`, the program's digest, the program.
pub fn contents(key: &str, program: &Program) -> Option<Vec<u8>> {
    let serialized = program.serialize_binary().ok()?;
    let mut out = Vec::with_capacity(serialized.len() + 160);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex(&Sha256::digest(&serialized)).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&serialized);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_the_program_was_compiled_from() {
        let a = source_key([b"KG101".as_slice()]);
        assert_eq!(a, source_key([b"KG101".as_slice()]));
        assert_ne!(a, source_key([b"KG102".as_slice()]));
        // Parts are length-prefixed: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(
            source_key([b"ab".as_slice(), b"c".as_slice()]),
            source_key([b"a".as_slice(), b"bc".as_slice()])
        );
        // A cache file is of this binary too; the embedded program is of its sources only.
        assert_ne!(key(&a), a);
        assert_eq!(key(&a), key(&a));
    }
}
