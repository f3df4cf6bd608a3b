//! Throughput of each stage over `../shared/corpus` (or `fixtures/` when it is absent),
//! single-threaded, everything read into memory first.
//!
//! `cargo bench --bench pipeline`. Figures are recorded in BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use divan::counter::BytesCount;
use kubegate::parse::{self, Contents, Limits};
use kubegate::schema::Catalog;

fn main() {
    eprintln!(
        "corpus: {} ({} files, {} bytes)",
        CORPUS.0.display(),
        CORPUS.1.len(),
        total_bytes()
    );
    divan::main();
}

static CORPUS: LazyLock<(PathBuf, Vec<String>)> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/corpus");
    let dir = if shared.is_dir() {
        shared
    } else {
        root.join("fixtures")
    };
    let dir_arg = [dir.display().to_string()];
    let found = kubegate::discover::discover(&kubegate::discover::Options {
        paths: &dir_arg,
        excludes: &[],
        excludes_from: "--exclude",
        stdin_filename: None,
        threads: 1,
        repo: None,
    })
    .expect("corpus walk");
    let texts = found
        .inputs
        .iter()
        .filter_map(|i| match i {
            kubegate::discover::Input::File { path, .. } => std::fs::read_to_string(path).ok(),
            kubegate::discover::Input::Stdin { .. } => None,
        })
        .filter(|t| parse::skip_file("", t, &|_| true).is_none())
        .collect();
    (dir, texts)
});

fn total_bytes() -> usize {
    CORPUS.1.iter().map(String::len).sum()
}

/// The YAML crate alone: every event of every file, nothing built.
#[divan::bench(sample_count = 10)]
fn granit_events_only(b: divan::Bencher) {
    b.counter(BytesCount::new(total_bytes())).bench(|| {
        let mut n = 0usize;
        for text in &CORPUS.1 {
            let mut p = granit_parser::Parser::new_from_str(text);
            while let Some(Ok(_)) = p.next_event() {
                n += 1;
            }
        }
        n
    });
}

/// Our parser: values, source maps, issues.
#[divan::bench(sample_count = 10)]
fn parse_to_values_and_source_maps(b: divan::Bencher) {
    let limits = Limits::default();
    b.counter(BytesCount::new(total_bytes())).bench(|| {
        let mut n = 0usize;
        for text in &CORPUS.1 {
            n += parse::yaml::parse(text, &limits).0.len();
        }
        n
    });
}

/// Parse plus strict schema validation of every object.
#[divan::bench(sample_count = 10)]
fn parse_and_validate(b: divan::Bencher) {
    let limits = Limits::default();
    let catalog = Catalog::get(kubegate::schema::default_version()).unwrap();
    // Compile the validators once, outside the measurement.
    for text in &CORPUS.1 {
        validate(catalog, text, &limits);
    }
    b.counter(BytesCount::new(total_bytes())).bench(|| {
        CORPUS
            .1
            .iter()
            .map(|t| validate(catalog, t, &limits))
            .sum::<usize>()
    });
}

fn validate(catalog: &Catalog, text: &str, limits: &Limits) -> usize {
    let mut errors = 0;
    for doc in parse::yaml::parse(text, limits).0 {
        if let Contents::Objects(objects) = parse::objects(&doc) {
            for o in objects {
                if let kubegate::schema::Verdict::Checked(e) =
                    catalog.check(o.api_version, o.kind, o.value)
                {
                    errors += e.len();
                }
            }
        }
    }
    errors
}

/// Every built-in rule on every object it applies to (objects parsed beforehand).
#[divan::bench(sample_count = 5)]
fn builtin_rules(b: divan::Bencher) {
    let limits = Limits::default();
    let docs: Vec<_> = CORPUS
        .1
        .iter()
        .flat_map(|t| parse::yaml::parse(t, &limits).0)
        .collect();
    let mut rules = kubegate::policy::Builtins::load(|_| true).unwrap();
    b.bench_local(|| {
        let mut n = 0usize;
        for doc in &docs {
            if let Contents::Objects(objects) = parse::objects(doc) {
                for o in objects {
                    n += rules.evaluate(o.kind, o.value).map_or(0, |v| v.len());
                }
            }
        }
        n
    });
}

/// Placing a finding on each of 100,000 keys of one mapping (a ConfigMap whose values all
/// break the schema): linear since children are indexed once per document, 48 s before.
#[divan::bench(sample_count = 5)]
fn locate_every_key_of_a_large_mapping(b: divan::Bencher) {
    let mut text = String::from("data:\n");
    for i in 0..100_000 {
        text.push_str(&format!("  k{i}: {i}\n"));
    }
    let (docs, _) = parse::yaml::parse(&text, &Limits::default());
    let pointers: Vec<String> = (0..100_000).map(|i| format!("/data/k{i}")).collect();
    b.bench(|| {
        // A fresh copy, so each sample builds the index as a run would.
        let map = docs[0].source_map.clone();
        pointers.iter().filter_map(|p| map.locate(p, &text)).count()
    });
}

/// kustomize rendering alone: every kustomization of the corpus built natively, one after
/// the other (each root's own `kustomize build`, files read once and shared).
#[divan::bench(sample_count = 5)]
fn render_every_kustomization(b: divan::Bencher) {
    let dir = CORPUS.0.canonicalize().unwrap();
    let dirs: Vec<PathBuf> = walk_kustomizations(&dir);
    b.bench(|| {
        let files = kubegate::render::files::Files::new(&dir, Limits::default());
        let opts = kubegate::render::build::Options::default();
        dirs.iter()
            .map(|d| {
                kubegate::render::build::build(&files, d, &opts)
                    .result
                    .map_or(0, |r| r.len())
            })
            .sum::<usize>()
    });
}

/// One kustomization of 4,000 ConfigMaps with a `namePrefix`: a root as large as a
/// vendored install manifest. Adding each object compared it with every one before it, and
/// every object looked through every other one for name references: 5.8 s, 32 ms since.
#[divan::bench(sample_count = 5)]
fn render_a_root_of_4000_objects(b: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<String> = (0..4000)
        .map(|i| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: v\n")
        })
        .collect();
    std::fs::write(dir.path().join("cms.yaml"), docs.join("---\n")).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- cms.yaml\nnamePrefix: x-\n",
    )
    .unwrap();
    let root = dir.path().canonicalize().unwrap();
    b.bench(|| {
        let files = kubegate::render::files::Files::new(&root, Limits::default());
        let opts = kubegate::render::build::Options::default();
        kubegate::render::build::build(&files, &root, &opts)
            .result
            .map_or(0, |r| r.len())
    });
}

fn walk_kustomizations(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "kustomization.yaml") {
                out.push(d.clone());
            }
        }
    }
    out.sort();
    out
}
