//! A cache of the built-in rules compiled for the virtual machine, so that a run on one
//! file (a pre-commit hook on every commit) does not compile them again.
//!
//! The program is stored in the user's cache directory under a key that names everything
//! it was compiled from: kubegate's version and `Cargo.lock` (the compiler), the executable
//! itself (its size and modification time), the policy sources embedded in it, the enabled
//! rules and whether `--timings` asked for per-rule entry points. The file holds the key and a SHA-256 of the program, checked on
//! every read; anything that does not match is compiled again and written anew.
//!
//! Never used in CI (`GITHUB_ACTIONS`, `GITLAB_CI`, `CI`): there a job compiles once anyway,
//! and the rules must come from the binary, not from a directory a job could have restored.
//! `KUBEGATE_CACHE_DIR` moves the cache; `KUBEGATE_NO_CACHE=1` turns it off.

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

/// The key of a program compiled from `parts` (besides the binary's own identity).
pub fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(env!("KUBEGATE_LOCK_HASH").as_bytes());
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("rules-{}.bin", &key[..32]))
}

/// The program stored under `key`, if the file is there, whole and of this key.
pub fn read(dir: &Path, key: &str) -> Option<Arc<Program>> {
    let bytes = std::fs::read(file(dir, key)).ok()?;
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
    let Ok(serialized) = program.serialize_binary() else {
        return;
    };
    let mut out = Vec::with_capacity(serialized.len() + 160);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex(&Sha256::digest(&serialized)).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&serialized);
    let target = file(dir, key);
    let temp = dir.join(format!(".rules-{}-{}.tmp", std::process::id(), &key[..16]));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&temp, &out))
        .and_then(|()| std::fs::rename(&temp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_the_program_was_compiled_from() {
        let a = key([b"KG101".as_slice()]);
        assert_eq!(a, key([b"KG101".as_slice()]));
        assert_ne!(a, key([b"KG102".as_slice()]));
        // Parts are length-prefixed: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(
            key([b"ab".as_slice(), b"c".as_slice()]),
            key([b"a".as_slice(), b"bc".as_slice()])
        );
    }
}
