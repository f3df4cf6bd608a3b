//! A fetched `.tgz` unpacked into a directory, as nothing in it can escape or exhaust it:
//! regular files and directories only (links and devices skipped), relative paths without
//! `..`, a bounded number of entries, bounded depth and bounded size once decompressed.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Entries one archive may hold.
const MAX_ENTRIES: usize = 10_000;
/// Directories deep a path may go.
const MAX_DEPTH: usize = 32;

/// Unpacks the tar archive `tar` into `dest` (created), at most `max` bytes of files.
pub fn unpack(tar: &[u8], dest: &Path, max: u64) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(tar);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    let mut total = 0u64;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
        let kind = entry.header().entry_type();
        let raw = entry
            .path()
            .map_err(|e| format!("an entry's name: {e}"))?
            .into_owned();
        let Some(rel) = safe_relative(&raw) else {
            return Err(format!("entry `{}` leaves the archive", raw.display()));
        };
        let target = dest.join(&rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", rel.display()))?;
            continue;
        }
        if !kind.is_file() {
            // Links, devices, FIFOs: a chart needs none of them.
            continue;
        }
        total = total.saturating_add(entry.size());
        if total > max {
            return Err(format!("unpacks to more than {max} bytes"));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", rel.display()))?;
        }
        let size = entry.size();
        let mut bytes = Vec::with_capacity(size.min(max) as usize);
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", rel.display()))?;
        std::fs::write(&target, &bytes).map_err(|e| format!("{}: {e}", rel.display()))?;
    }
    Ok(())
}

/// `path` as a relative path of plain names, when it is one (`./` prefixes dropped).
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (out.components().count() <= MAX_DEPTH && out.components().count() > 0).then_some(out)
}

/// A `.tgz` holding `files` (name, contents), for tests.
#[cfg(test)]
pub(crate) fn tgz_for_test(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data)
            .expect("appending to a Vec");
    }
    let tar = b.into_inner().expect("a Vec");
    let mut out = vec![0u8; tar.len() + 1024];
    let n = zlib_rs::compress_slice(
        &mut out,
        &tar,
        zlib_rs::DeflateConfig {
            window_bits: 31,
            ..Default::default()
        },
    )
    .0
    .len();
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::gzip::gunzip;

    #[test]
    fn unpacks_files_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = tgz_for_test(&[
            ("c/Chart.yaml", b"name: c\n"),
            ("c/templates/a.yaml", b"a: 1\n"),
        ]);
        let tar = gunzip(&tgz, 1 << 20).unwrap();
        unpack(&tar, dir.path(), 1 << 20).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("c/Chart.yaml")).unwrap(),
            b"name: c\n"
        );
        assert!(safe_relative(Path::new("../x")).is_none());
        assert!(safe_relative(Path::new("/etc/passwd")).is_none());
        assert!(safe_relative(Path::new("./a/b")).is_some());
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let big = vec![0u8; 4 << 20];
        let tgz = tgz_for_test(&[("c/big", &big)]);
        assert!(tgz.len() < 64 << 10, "{}", tgz.len());
        let err = gunzip(&tgz, 1 << 20).unwrap_err();
        assert!(err.contains("more than"), "{err}");
        let tar = gunzip(&tgz, 8 << 20).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&tar, dir.path(), 1 << 20).unwrap_err();
        assert!(err.contains("more than"), "{err}");
        assert!(gunzip(b"not gzip at all, no", 10).is_err());
    }
}
