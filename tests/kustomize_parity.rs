//! kubegate's kustomize build against the real one: every case under `tests/kustomize/cases`
//! is built natively and compared with what `kubectl kustomize` (kubectl 1.35, kustomize
//! v5.7.1) printed for it (`expected.yaml`, or `expected.error` when it failed), recorded by
//! `scripts/record-kustomize.sh`.
//!
//! The `helmcharts-*` cases render a local chart with helm: they run with `KUBEGATE_TEST_HELM`
//! (else `helm` on `PATH`) and again with `KUBEGATE_TEST_HELM3` when it is set (they were
//! recorded with helm 3, which kustomize v5.7.1 needs; kubegate renders with helm 3 or 4).
//! Without helm they are skipped with a message, unless `KUBEGATE_REQUIRE_HELM` is set.

use std::path::{Path, PathBuf};

use kubegate::parse::{Limits, Reader};
use kubegate::render::{build, files::Files};
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/cases")
}

/// The objects of an `expected.yaml`, read as kyaml reads them.
fn expected_objects(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = kubegate::parse::yaml::parse_as(&text, &Limits::default(), Reader::Kyaml);
    assert!(
        parsed.issues.is_empty(),
        "{}: {:?}",
        path.display(),
        parsed.issues
    );
    parsed
        .documents
        .into_iter()
        .map(|d| d.value)
        .filter(|v| !v.is_null())
        .collect()
}

/// The helms to render the `helmcharts-*` cases with: `KUBEGATE_TEST_HELM` (else `helm` on
/// `PATH`), then `KUBEGATE_TEST_HELM3` when set. Empty, after saying so, when there is none
/// (a failure when `KUBEGATE_REQUIRE_HELM` is set).
fn helms() -> Vec<PathBuf> {
    let given = |var: &str| {
        std::env::var_os(var).filter(|p| !p.is_empty()).map(|p| {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "{var}={} is not a file", p.display());
            p
        })
    };
    let first = given("KUBEGATE_TEST_HELM").or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("helm"))
            .find(|p| p.is_file())
    });
    let Some(first) = first else {
        assert!(
            std::env::var_os("KUBEGATE_REQUIRE_HELM").is_none(),
            "KUBEGATE_REQUIRE_HELM is set but no helm was found: set KUBEGATE_TEST_HELM"
        );
        eprintln!(
            "skipped: the helmcharts-* cases did not run: helm not found (set KUBEGATE_TEST_HELM)"
        );
        return Vec::new();
    };
    let mut all = vec![first];
    all.extend(given("KUBEGATE_TEST_HELM3"));
    all
}

/// What our build of `dir` gives: the objects, or the error message; `helmCharts` rendered
/// with `helm`.
fn ours_with(dir: &Path, helm: Option<&Path>) -> Result<Vec<Value>, String> {
    let files = Files::new(Path::new(env!("CARGO_MANIFEST_DIR")), Limits::default());
    let opts = build::Options {
        helm: helm.map(|path| kubegate::render::helmcharts::Helm {
            path: path.to_path_buf(),
            timeout: std::time::Duration::from_secs(60),
            kube_version: None,
            max_output: Limits::default().max_file_size,
        }),
        ..build::Options::default()
    };
    let built = build::build(&files, dir, &opts);
    built
        .result
        .map(|rs| rs.into_iter().map(|r| r.node.to_value()).collect())
        .map_err(|e| e.message)
}

/// The first line where two texts differ, for messages.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: kubegate {x:?}, kubectl {y:?}", i + 1);
        }
    }
    format!(
        "kubegate has {} lines, kubectl {}",
        a.lines().count(),
        b.lines().count()
    )
}

/// Cases kubegate renders differently from kubectl, each with why. A case listed here that
/// starts to pass fails the test, so the list only shrinks. Each unsupported field is a
/// `kustomize-unsupported` warning at its line when a check renders it (see `tests/render.rs`).
const KNOWN: &[(&str, &str)] = &[
    (
        "build-metadata-origin-annotations",
        "`buildMetadata` is not applied (warning)",
    ),
    (
        "build-metadata-transformer-annotations",
        "`buildMetadata` is not applied (warning)",
    ),
    (
        "crds-openapi-references",
        "`crds` OpenAPI files are not applied (warning)",
    ),
    (
        "openapi-custom-schema-merge-keys",
        "`openapi` schemas are not read (warning)",
    ),
    (
        "transformers-builtin-configs",
        "transformer plugins (builtin configs included) are not run (warning)",
    ),
    (
        "error-helm-charts-offline",
        "by design: kubectl fails without the chart; kubegate renders the rest and reports \
         `kustomize-helm` at the `helmCharts` line",
    ),
    (
        "format-unicode",
        "the YAML reader does not take U+2028 inside a plain scalar as a line break as go-yaml \
         does; the value differs by that character only",
    ),
];

#[test]
fn cases_render_as_kubectl_kustomize_renders_them() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/kustomize/cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    names.sort();
    assert!(names.len() > 50, "only {} cases", names.len());
    let mut failures = Vec::new();
    let mut passed = 0;
    let helms = helms();
    // Each helmcharts-* case once with each helm.
    let mut runs: Vec<(&PathBuf, Option<&Path>)> = Vec::new();
    for dir in &names {
        if dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("helmcharts-")
        {
            runs.extend(helms.iter().map(|h| (dir, Some(h.as_path()))));
        } else {
            runs.push((dir, None));
        }
    }
    let total = runs.len();
    for (dir, helm) in runs {
        let mut name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let got = ours_with(dir, helm);
        if let Some(h) = helm {
            name = format!("{name} (helm {})", h.display());
        }
        let want_err = dir.join("expected.error").is_file();
        let same = match (&got, want_err) {
            (Err(_), true) => true,
            (Ok(objects), false) => *objects == expected_objects(&dir.join("expected.yaml")),
            _ => false,
        };
        // Same objects: then the same bytes as kubectl prints them.
        if same && let Ok(objects) = &got {
            let printed = kubegate::render::emit::documents(objects.iter());
            let want = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
            if printed != want {
                failures.push(format!(
                    "{name}: same objects, printed differently: {}",
                    first_difference(&printed, &want)
                ));
                continue;
            }
        }
        let known = KNOWN.iter().any(|(k, _)| name == *k);
        if same && known {
            failures.push(format!(
                "{name}: now renders as kubectl does: take it off the KNOWN list"
            ));
        } else if same {
            passed += 1;
        } else if known {
            continue;
        } else {
            let show = |r: &Result<Vec<Value>, String>| match r {
                Ok(o) => {
                    let s = serde_json::to_string(o).unwrap();
                    s.chars().take(600).collect::<String>()
                }
                Err(e) => format!("error: {e}"),
            };
            let want = if want_err {
                format!(
                    "error: {}",
                    std::fs::read_to_string(dir.join("expected.error")).unwrap_or_default()
                )
            } else {
                serde_json::to_string(&expected_objects(&dir.join("expected.yaml")))
                    .unwrap()
                    .chars()
                    .take(600)
                    .collect()
            };
            failures.push(format!(
                "{name}:\n  kubegate: {}\n  kubectl:  {want}",
                show(&got)
            ));
        }
    }
    eprintln!(
        "kustomize parity: {passed} of {total} renderings identical ({} cases, the \
         helmcharts-* ones once per helm), {} known differences",
        names.len(),
        KNOWN.len()
    );
    for (name, why) in KNOWN {
        assert!(
            names.iter().any(|d| d.ends_with(name)),
            "KNOWN names a case that does not exist: {name}"
        );
        eprintln!("  known: {name}: {why}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from kubectl kustomize:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
