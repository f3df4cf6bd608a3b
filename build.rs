//! Embeds every built-in policy under `policies/` in the binary: writes
//! `$OUT_DIR/policies.rs` with one `(path, source)` pair per `.rego` file, sorted by path.
//!
//! And the catalog of upstream CRDs (`schemas/crds.json.gz`, made by `cargo run -p xtask --
//! crds`): writes its JSON, decompressed, to `$OUT_DIR/crds.json`, and an index of it to
//! `$OUT_DIR/crds_index.rs` (each CRD's group, kind, served versions, source, and where its
//! `spec` is in the JSON), so that a run reads no more of the catalog than the kinds it meets
//! (`src/schema/embedded.rs`).
//!
//! And, on Linux with glibc, links the binary with its relative relocations packed
//! ([`packed_relocations`]); on Linux, in a release build, with the functions a check runs
//! placed side by side ([`hot_functions`]).

use std::path::{Path, PathBuf};

// The gzip reader of the binary (`src/fetch/gzip.rs`), shared by file: a build script
// cannot use the crate it builds.
#[path = "src/fetch/gzip.rs"]
mod gzip;

/// The embedded CRD catalog decompresses to less than this (2.7 MB today).
const MAX_CATALOG: u64 = 256 << 20;

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
    let dest = PathBuf::from(&out_dir).join("policies.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
    crd_catalog(Path::new(&manifest_dir), Path::new(&out_dir));
    packed_relocations(Path::new(&out_dir));
    hot_functions(Path::new(&manifest_dir), Path::new(&out_dir));
}

/// An environment variable of the build, empty when unset.
fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Asks the linker to pack the binary's relative relocations (`DT_RELR`). A
/// position-independent Rust binary has tens of thousands of them (every panic location,
/// vtable and table of `&str` holds a pointer), stored at 24 bytes each in `.rela.dyn`:
/// 1.9 MB that the loader reads at every start, resident for the whole run. Packed, they
/// take about 30 KB; a run on one file peaks about 3 MB lower. The binary stays
/// position-independent (ASLR unchanged).
///
/// Only where that is known to work: Linux with glibc 2.36 or later (the first to apply
/// packed relocations; its linkers, GNU ld 2.38 and lld 15 on, know the option), built for
/// the machine that builds it, whose glibc `getconf` tells, and with a linker whose output
/// starts ([`links_with`]). The binary then names the `GLIBC_ABI_DT_RELR` version, so an
/// older glibc refuses to start it with a clear error instead of running it wrongly; mold
/// 1.10 packs them without naming it, and glibc refuses to start what it links. Not for
/// musl (1.2.4 and later only; a static-pie binary on an older musl would fail at start)
/// nor when cross-compiling.
fn packed_relocations(out_dir: &Path) {
    println!("cargo:rerun-if-env-changed=KUBEGATE_NO_PACKED_RELOCATIONS");
    if env_var("CARGO_CFG_TARGET_OS") != "linux"
        || env_var("CARGO_CFG_TARGET_ENV") != "gnu"
        || env_var("HOST") != env_var("TARGET")
        || std::env::var_os("KUBEGATE_NO_PACKED_RELOCATIONS").is_some()
    {
        return;
    }
    let glibc = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    // `glibc 2.36`
    let version: Vec<u32> = glibc
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or_default()
        .split('.')
        .map_while(|n| n.parse().ok())
        .collect();
    // A linker may pack them without naming the glibc version that reads them (mold 1.10
    // does): the loader then refuses the binary. So a program linked so must start here.
    let arg = "-Wl,-z,pack-relative-relocs";
    if version.as_slice() >= [2, 36].as_slice() && links_with(arg, true, out_dir) {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

/// Asks the linker to place the functions a check runs (`link/hot-functions.txt`, made by
/// `scripts/gen-hot-functions.sh` from profiles of a check of the corpus and of a merge
/// request's check) side by side, in a `.text.hot` section before the rest of the code.
///
/// The kernel maps a binary's code 64 KiB around each page a run touches: with the 5 MB of
/// functions a check runs spread over 18 MB of code, 14.5 MB were resident on every run of
/// any size. Placed together, about 9 MB are. A linker script that only adds a section
/// (`INSERT BEFORE .text`) keeps the linker's own layout for the rest; lld and GNU ld read
/// it. Each name ends where a Rust symbol's hash begins, so a name matches whatever hash
/// this compiler and these dependencies give it; a name that matches nothing costs nothing.
///
/// Only for Linux release builds (a debug build's link stays quick), and only when the
/// build's linker takes the script ([`links_with`]); the variable
/// `KUBEGATE_NO_HOT_FUNCTIONS` turns it off.
fn hot_functions(manifest_dir: &Path, out_dir: &Path) {
    let list = manifest_dir.join("link/hot-functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    println!("cargo:rerun-if-env-changed=KUBEGATE_NO_HOT_FUNCTIONS");
    if env_var("CARGO_CFG_TARGET_OS") != "linux"
        || env_var("PROFILE") != "release"
        || std::env::var_os("KUBEGATE_NO_HOT_FUNCTIONS").is_some()
    {
        return;
    }
    // A packaged crate without the list builds as before.
    let Ok(text) = std::fs::read_to_string(&list) else {
        return;
    };
    let mut script = String::from("SECTIONS\n{\n  .text.hot :\n  {\n");
    for name in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        // Symbol characters only: nothing the script's syntax or globs would read.
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_$.".contains(&b)),
            "{}: not a symbol name: {name:?}",
            list.display()
        );
        // Where LLVM names a function's section: `.text.NAME`, or with the prefix of a
        // function it judged cold or run once at start.
        script.push_str(&format!(
            "    *(.text.{name}* .text.unlikely.{name}* .text.startup.{name}*)\n"
        ));
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    let dest = out_dir.join("hot-functions.ld");
    std::fs::write(&dest, script)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
    let arg = format!("-Wl,-T,{}", dest.display());
    if links_with(&arg, false, out_dir) {
        println!("cargo:rustc-link-arg-bins={arg}");
    } else {
        println!(
            "cargo:warning=link/hot-functions.txt not used: the linker refuses its script (gold and mold do)"
        );
    }
}

/// Whether the linker of this build links a program with `arg` (and, when `run`, the
/// program starts). Which linker a build uses cannot be told from here (rustflags such as
/// `-fuse-ld=mold`, `target.<triple>.linker`, a system `ld` that is another linker, `mold
/// -run`), and they differ: gold and mold refuse a script with `SECTIONS`. So an empty
/// `main` is linked as the binary will be, with the same rustc, target, linker and
/// rustflags.
fn links_with(arg: &str, run: bool, out_dir: &Path) -> bool {
    let source = out_dir.join("link-probe.rs");
    let program = out_dir.join("link-probe");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut rustc =
        std::process::Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc
        .args([
            "--crate-type=bin",
            "--target",
            &env_var("TARGET"),
            "-C",
            "opt-level=1",
        ])
        .arg("-C")
        .arg(format!("link-arg={arg}"))
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        let mut flag = std::ffi::OsString::from("linker=");
        flag.push(linker);
        rustc.arg("-C").arg(flag);
    }
    // Cargo passes the build's rustflags to build scripts, separated by 0x1f.
    rustc.args(
        env_var("CARGO_ENCODED_RUSTFLAGS")
            .split('\x1f')
            .filter(|f| !f.is_empty()),
    );
    rustc.status().is_ok_and(|s| s.success())
        && (!run
            || std::process::Command::new(&program)
                .status()
                .is_ok_and(|s| s.success()))
}

/// The catalog as stored by xtask: each CRD's `spec` with the index of its source.
#[derive(serde::Deserialize)]
struct Stored<'a> {
    sources: Vec<Source>,
    #[serde(borrow)]
    crds: Vec<StoredCrd<'a>>,
}

#[derive(serde::Deserialize)]
struct Source {
    project: String,
    repository: String,
    commit: String,
    version: String,
    licence: String,
}

#[derive(serde::Deserialize)]
struct StoredCrd<'a> {
    source: usize,
    #[serde(borrow)]
    spec: &'a serde_json::value::RawValue,
}

/// What the index needs of a CRD's spec.
#[derive(serde::Deserialize)]
struct Head {
    group: String,
    names: Names,
    versions: Vec<VersionHead>,
}

#[derive(serde::Deserialize)]
struct Names {
    kind: String,
}

#[derive(serde::Deserialize)]
struct VersionHead {
    name: String,
    #[serde(default)]
    served: bool,
}

fn crd_catalog(manifest_dir: &Path, out_dir: &Path) {
    let path = manifest_dir.join("schemas/crds.json.gz");
    println!("cargo:rerun-if-changed=schemas/crds.json.gz");
    let compressed =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = gzip::gunzip(&compressed, MAX_CATALOG)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stored: Stored =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut index = String::from(
        "/// Each source: project, repository, commit, version (`git describe`), licence.\n\
         const SOURCES: &[[&str; 5]] = &[\n",
    );
    for s in &stored.sources {
        index.push_str(&format!(
            "    [{:?}, {:?}, {:?}, {:?}, {:?}],\n",
            s.project, s.repository, s.commit, s.version, s.licence
        ));
    }
    index.push_str("];\n\n/// Each CRD, in the catalog's order.\nconst CRDS: &[Indexed] = &[\n");
    for crd in &stored.crds {
        let spec = crd.spec.get();
        let start = spec.as_ptr() as usize - text.as_ptr() as usize;
        let head: Head = serde_json::from_str(spec)
            .unwrap_or_else(|e| panic!("{}: a CRD's spec: {e}", path.display()));
        let served: Vec<&str> = head
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect();
        index.push_str(&format!(
            "    Indexed {{ source: {}, group: {:?}, kind: {:?}, versions: &{:?}, spec: {start}..{} }},\n",
            crd.source,
            head.group,
            head.names.kind,
            served,
            start + spec.len()
        ));
    }
    index.push_str("];\n");
    for (name, contents) in [
        ("crds.json", text.as_bytes()),
        ("crds_index.rs", index.as_bytes()),
    ] {
        let dest = out_dir.join(name);
        std::fs::write(&dest, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
    }
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
