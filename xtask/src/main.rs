//! Developer tasks for kubegate.
//!
//! `cargo run -p xtask --features v1_37 -- schemas [--check]` generates
//! `schemas/kubernetes/v1.37.json` from k8s-openapi (one Kubernetes version per build; see
//! `scripts/gen-schemas.sh` for all of them). With `--check` nothing is written and the exit code
//! is 1 if the committed file is not what the generator produces.
//!
//! The document looks like
//!
//! ```text
//! {
//!  "generator": "xtask schemas from k8s-openapi 0.29.0",
//!  "kinds": { "<apiVersion>": { "<Kind>": "<definition name>" } },
//!  "kubernetesVersion": "1.37",
//!  "schema": {
//!   "$defs": { "<definition name>": { ... } },
//!   "$id": "https://kubegate.invalid/kubernetes/v1.37.json",
//!   "$schema": "https://json-schema.org/draft/2020-12/schema"
//!  }
//! }
//! ```
//!
//! and is made stricter and more faithful than the raw schemars output; see [`transform`].
//!
//! `cargo run -p xtask -- patch-meta [--check]` (no version feature needed) generates
//! `src/render/patch/meta.rs`, the patch merge keys and resource scopes kustomize reads from
//! the Kubernetes v1.21.2 OpenAPI under `xtask/upstream/`; see [`patch_meta`].
//!
//! `cargo run -p xtask -- crds [--check] [--mirrors DIR]` (no version feature needed)
//! generates `schemas/crds.json.gz` and `schemas/crds-SOURCES.md`, the embedded catalog of
//! upstream CRDs, from local git mirrors of the pinned repositories; see [`crds`].

mod crds;
// Without a version feature only the tests use these.
#[cfg_attr(not(feature = "k8s-openapi"), allow(dead_code))]
mod enums;
#[cfg(feature = "k8s-openapi")]
mod k8s;
mod patch_meta;
// kubegate's gzip reader (`src/fetch/gzip.rs`), shared by file: xtask does not depend on
// the kubegate crate.
#[path = "../../src/fetch/gzip.rs"]
mod gzip;
/// What a gzip file xtask reads (an upstream OpenAPI document, its own CRD catalog) may
/// decompress to.
const MAX_GUNZIP: u64 = 1 << 30;
#[cfg_attr(not(feature = "k8s-openapi"), allow(dead_code))]
mod transform;

use std::path::PathBuf;
use std::process::ExitCode;

/// The k8s-openapi release the schemas come from (checked against Cargo.lock by a test).
const K8S_OPENAPI_VERSION: &str = "0.29.0";

#[cfg_attr(not(feature = "k8s-openapi"), allow(dead_code))]
fn generator_name() -> String {
    format!("xtask schemas from k8s-openapi {K8S_OPENAPI_VERSION}")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

#[cfg_attr(not(feature = "k8s-openapi"), allow(dead_code))]
fn schema_path(version: &str) -> PathBuf {
    workspace_root()
        .join("schemas")
        .join("kubernetes")
        .join(format!("v{version}.json"))
}

const USAGE: &str = "usage: cargo run -p xtask --features v1_3x -- schemas [--check]\n       \
                     cargo run -p xtask -- patch-meta [--check]\n       \
                     cargo run -p xtask -- crds [--check] [--mirrors DIR]\n\n\
                     crds reads the pinned upstream CRD manifests with git from local mirrors \
                     (bare or not) under DIR\n\
                     (default $KUBEGATE_CRD_MIRRORS, else /work/.mirror), as \
                     owner+name/repo, owner+name or owner/name.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["schemas"] => schemas(false),
        ["schemas", "--check"] => schemas(true),
        ["patch-meta"] => patch_meta(false),
        ["patch-meta", "--check"] => patch_meta(true),
        ["crds", rest @ ..] => {
            let (check, mirrors) = match rest {
                [] => (false, None),
                ["--check"] => (true, None),
                ["--mirrors", dir] => (false, Some(*dir)),
                ["--check", "--mirrors", dir] | ["--mirrors", dir, "--check"] => (true, Some(*dir)),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            };
            crds(check, mirrors)
        }
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn crds(check: bool, mirrors: Option<&str>) -> ExitCode {
    let mirrors = crds::mirrors_dir(mirrors);
    let started = std::time::Instant::now();
    let generated = match crds::generate(&mirrors) {
        Ok(g) => g,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{} kinds from {} sources: {} bytes of JSON, {} gzip-compressed ({:.1?})",
        generated.kinds,
        crds::SOURCES.len(),
        generated.json_len,
        generated.compressed.len(),
        started.elapsed()
    );
    let root = workspace_root();
    let outputs = [
        (crds::OUTPUT, generated.compressed.clone()),
        (crds::LISTING, generated.listing.into_bytes()),
    ];
    let mut failed = false;
    for (path, bytes) in outputs {
        let full = root.join(path);
        if check {
            match std::fs::read(&full) {
                Ok(committed) if committed == bytes => println!("{path} is up to date"),
                Ok(_) => {
                    eprintln!(
                        "error: {path} is out of date; regenerate it with `cargo run -p xtask \
                         -- crds` and commit the result"
                    );
                    failed = true;
                }
                Err(e) => {
                    eprintln!("error: cannot read {path}: {e}");
                    failed = true;
                }
            }
        } else if let Err(e) = std::fs::write(&full, &bytes) {
            eprintln!("error: cannot write {path}: {e}");
            failed = true;
        } else {
            println!("wrote {path}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn patch_meta(check: bool) -> ExitCode {
    match patch_meta::run(check) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "k8s-openapi"))]
fn schemas(_check: bool) -> ExitCode {
    eprintln!(
        "error: no Kubernetes version selected; enable exactly one of the features \
         v1_33 .. v1_37, e.g. `cargo run -p xtask --features v1_37 -- schemas`"
    );
    ExitCode::from(2)
}

#[cfg(feature = "k8s-openapi")]
fn schemas(check: bool) -> ExitCode {
    let version = k8s::KUBERNETES_VERSION;
    let (rendered, stats) = match generate() {
        Ok(generated) => generated,
        Err(message) => {
            eprintln!("error: v{version}: {message}");
            return ExitCode::FAILURE;
        }
    };
    let path = schema_path(version);
    let display = path
        .strip_prefix(workspace_root())
        .unwrap_or(&path)
        .display()
        .to_string();
    println!(
        "v{version}: {} kinds, {} defs, {} enums ({} from descriptions, {} curated), {} objects \
         closed, {} optional properties made nullable, {} bytes",
        stats.kinds,
        stats.defs,
        stats.transform.enums_from_descriptions + stats.transform.enums_curated,
        stats.transform.enums_from_descriptions,
        stats.transform.enums_curated,
        stats.transform.closed_objects,
        stats.transform.nullable_properties,
        rendered.len(),
    );
    if check {
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == rendered => {
                println!("{display} is up to date");
                ExitCode::SUCCESS
            }
            Ok(committed) => {
                eprintln!(
                    "error: {display} is out of date ({}); regenerate it with \
                     `scripts/gen-schemas.sh` (or `cargo run -p xtask --features v1_{} -- \
                     schemas`) and commit the result",
                    first_difference(&committed, &rendered),
                    version.trim_start_matches("1."),
                );
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!(
                    "error: cannot read {display}: {error}; generate it with \
                     `scripts/gen-schemas.sh`"
                );
                ExitCode::FAILURE
            }
        }
    } else {
        if let Some(dir) = path.parent()
            && let Err(error) = std::fs::create_dir_all(dir)
        {
            eprintln!("error: cannot create {}: {error}", dir.display());
            return ExitCode::FAILURE;
        }
        match std::fs::write(&path, &rendered) {
            Ok(()) => {
                println!("wrote {display}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: cannot write {display}: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(feature = "k8s-openapi")]
struct GenerateStats {
    kinds: usize,
    defs: usize,
    transform: transform::Stats,
}

/// Generates the rendered document for the enabled version.
#[cfg(feature = "k8s-openapi")]
fn generate() -> Result<(String, GenerateStats), String> {
    let raw = k8s::generate();
    let kinds = raw.kinds.values().map(|by_kind| by_kind.len()).sum();
    let defs = raw.defs.len();
    let (document, transform) = transform::build_document(
        k8s::KUBERNETES_VERSION,
        &generator_name(),
        &raw.kinds,
        raw.defs,
    )?;
    Ok((
        transform::render(&document),
        GenerateStats {
            kinds,
            defs,
            transform,
        },
    ))
}

/// A short description of where two renderings first differ, for `--check`.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    let mut line = 1;
    loop {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (Some(a), Some(b)) => {
                return format!(
                    "first difference at line {line}: committed {a:?}, generated {b:?}"
                );
            }
            (Some(_), None) => return format!("committed file has extra lines from line {line}"),
            (None, Some(_)) => return format!("committed file ends early, at line {line}"),
            (None, None) => return "files differ only in line endings".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_generator() {
        #[cfg(not(feature = "k8s-openapi"))]
        {
            println!(
                "note: no Kubernetes version feature enabled (e.g. --features v1_37); skipping \
                 the regeneration check"
            );
        }
        #[cfg(feature = "k8s-openapi")]
        {
            let (rendered, _) = generate().expect("generation succeeds");
            let path = schema_path(k8s::KUBERNETES_VERSION);
            let committed = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            assert!(
                committed == rendered,
                "{} is out of date ({}); run scripts/gen-schemas.sh",
                path.display(),
                first_difference(&committed, &rendered)
            );
        }
    }

    #[test]
    fn generator_names_the_locked_k8s_openapi() {
        let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
            .expect("Cargo.lock is committed");
        let locked = lock
            .split("[[package]]")
            .find(|package| package.contains("name = \"k8s-openapi\""))
            .and_then(|package| {
                package
                    .lines()
                    .find_map(|line| line.strip_prefix("version = \""))
                    .map(|v| v.trim_end_matches('"').to_owned())
            })
            .expect("k8s-openapi is in Cargo.lock");
        assert_eq!(locked, K8S_OPENAPI_VERSION);
    }

    #[test]
    fn first_difference_reports_line() {
        assert_eq!(
            first_difference("a\nb\n", "a\nc\n"),
            "first difference at line 2: committed \"b\", generated \"c\""
        );
    }
}

#[cfg(test)]
mod validation_tests;
