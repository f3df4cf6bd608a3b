//! Embeds every built-in policy under `policies/` in the binary: writes
//! `$OUT_DIR/policies.rs` with one `(path, source)` pair per `.rego` file, sorted by path.

use std::path::{Path, PathBuf};

fn main() {
    // Read at run time, not with `env!`: a build script binary is reused by every checkout
    // that shares the target directory, and would read the policies of the one it was
    // compiled in (an empty list once that checkout is gone).
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("policies");
    println!("cargo:rerun-if-changed=policies");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no built-in policies under {}",
        root.display()
    );
    let mut out = String::from("&[\n");
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        println!("cargo:rerun-if-changed={}", f.display());
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("]\n");
    // What the compiled rules cache (src/policy/cache.rs) is keyed by besides the version:
    // the locked dependencies, regorus's compiler among them.
    let lock = std::fs::read(Path::new(&manifest_dir).join("Cargo.lock")).unwrap_or_default();
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rustc-env=KUBEGATE_LOCK_HASH={}", lock_hash(&lock));
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    let dest = PathBuf::from(out_dir).join("policies.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rego") {
            out.push(p);
        }
    }
}

/// FNV-1a of the lock file: stable across builds and platforms (no dependency needed here).
fn lock_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
