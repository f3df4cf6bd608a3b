//! kustomize's `helmCharts` generator (`HelmChartInflationGenerator`), for charts present in
//! the repository, rendered by the user's `helm` as `kubectl kustomize --enable-helm` (kustomize
//! v5.7.1) renders them.
//!
//! What kustomize does (`api/internal/builtins/HelmChartInflationGenerator.go`,
//! `api/types/helmchartargs.go`):
//! - the chart is `<chartHome>/<name>`, `chartHome` (`helmGlobals`, default `charts`) relative
//!   to the kustomization's directory; with both `version` and `repo` set,
//!   `<chartHome>/<name>-<version>/<name>`. A chart that is not there is pulled from `repo`
//!   (kubegate never downloads: an info, the chart is not rendered); without `repo` the build
//!   fails;
//! - `valuesFile` (default the chart's `values.yaml`) is read; `valuesInline`, when set, is
//!   merged with it (`valuesMerge`: `override`, the default, inline wins; `merge`, the file
//!   wins; `replace`, the inline values alone) and the result goes to helm as one `-f` file;
//!   `additionalValuesFiles` follow as more `-f` files. helm still reads the chart's own
//!   `values.yaml` as its defaults;
//! - `helm template <releaseName> <chart> [--namespace] [--name-template] -f <values>
//!   [-f <additional>]… [--api-versions]… [--kube-version] [--include-crds] [--skip-tests]
//!   [--no-hooks]`; a helm that fails fails the build;
//! - the objects join the accumulation after `configMapGenerator` and `secretGenerator` (an
//!   object whose id is already there is an error), then go through the kustomization's
//!   transformers like any other.
//!
//! Differences, by design: helm runs as the helm stage runs it ([`super::helm::run`]: bounded
//! in time and output, proxies to a closed port, no `helm version` call, so helm 4 works
//! too); a missing `releaseName` renders as `release-name` (kustomize passes
//! `--generate-name`, a new name on every run, which would make findings unstable); the
//! deprecated `helmChartInflationGenerator` entries are converted as kustomize converts them.
//! Each rendered object keeps the positions [`super::helm::locate`] finds: the template line
//! that wrote a node, or the line of the values file (or of `valuesInline`) that set it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::build::Options;
use super::files::Files;
use super::helm::{LocalChart, locate, output, run};
use super::kustomization::Kustomization;
use super::node::{FileId, Kind, Node, Origin};
use super::{Error, Result, Warning};

/// The user's `helm`, for `helmCharts`.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    pub timeout: Duration,
    /// `--kube-version` for every chart, as `kubectl kustomize --helm-kube-version` (it wins
    /// over an entry's `kubeVersion`); `None`: the entry's, else helm's default.
    pub kube_version: Option<String>,
    /// The most a rendering may print.
    pub max_output: u64,
}

/// What the `helmCharts` of a kustomization gave.
#[derive(Debug, Default)]
pub struct Generated {
    pub objects: Vec<Node>,
    pub warnings: Vec<Warning>,
    /// The files read: values files, the charts' files.
    pub used: Vec<FileId>,
}

/// The fields that ask for Helm.
const FIELDS: [&str; 3] = ["helmCharts", "helmChartInflationGenerator", "helmGlobals"];

/// How `valuesInline` meets the values file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ValuesMerge {
    Override,
    Merge,
    Replace,
}

/// One chart to render: a `helmCharts` entry (or a converted `helmChartInflationGenerator`
/// one).
struct Entry<'a> {
    node: &'a Node,
    name: String,
    version: String,
    repo: String,
    release: String,
    namespace: String,
    name_template: String,
    values_file: Option<(String, Origin)>,
    additional: Vec<(String, Origin)>,
    inline: Option<&'a Node>,
    merge: ValuesMerge,
    include_crds: bool,
    skip_hooks: bool,
    skip_tests: bool,
    api_versions: Vec<String>,
    kube_version: String,
}

/// The chart home of a kustomization: `helmGlobals.chartHome`, else the last non-empty
/// `chartHome` of the deprecated entries, else `charts`.
fn chart_home(k: &Value) -> String {
    let globals = k.pointer("/helmGlobals/chartHome").and_then(Value::as_str);
    let legacy = k
        .get("helmChartInflationGenerator")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("chartHome").and_then(Value::as_str))
        .rfind(|s| !s.is_empty());
    match (
        k.get("helmGlobals").filter(|g| !g.is_null()),
        globals,
        legacy,
    ) {
        (_, Some(h), _) if !h.is_empty() => h.to_owned(),
        (None, _, Some(h)) => h.to_owned(),
        _ => "charts".to_owned(),
    }
}

/// The directory kustomize looks for a chart in.
fn chart_dir(kdir: &Path, home: &str, name: &str, version: &str, repo: &str) -> PathBuf {
    let mut dir = kdir.join(home);
    if !version.is_empty() && !repo.is_empty() {
        dir = dir.join(format!("{name}-{version}"));
    }
    dir.join(name)
}

/// The chart directories (canonical) that the kustomization `k` (of directory `dir`) renders
/// through `helmCharts`, those present: they belong to its render, not to the helm stage.
pub fn chart_dirs(k: &Value, dir: &Path) -> Vec<PathBuf> {
    let home = chart_home(k);
    let text = |e: &Value, key: &str| e.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut out = Vec::new();
    for (field, name, version, repo) in [
        ("helmCharts", "name", "version", "repo"),
        (
            "helmChartInflationGenerator",
            "chartName",
            "chartVersion",
            "chartRepoUrl",
        ),
    ] {
        for e in k.get(field).and_then(Value::as_array).into_iter().flatten() {
            let name = text(e, name);
            if name.is_empty() {
                continue;
            }
            let d = chart_dir(dir, &home, &name, &text(e, version), &text(e, repo));
            if let Ok(c) = crate::canonical::canonicalize(&d)
                && c.is_dir()
            {
                out.push(c);
            }
        }
    }
    out
}

/// Renders the `helmCharts` of `k`.
pub fn generate(files: &Files, k: &Kustomization, opts: &Options) -> Result<Generated> {
    let mut out = Generated::default();
    let present: Vec<&Node> = FIELDS.iter().filter_map(|f| k.field(f)).collect();
    if present.is_empty() {
        return Ok(out);
    }
    let Some(helm) = &opts.helm else {
        for (field, n) in FIELDS.iter().filter_map(|f| k.field(f).map(|n| (f, n))) {
            out.warnings.push(Warning {
                rule: "kustomize-helm",
                message: format!(
                    "`{field}` needs Helm: no `helm` on PATH (give one with --helm), so the \
                     kustomization is rendered without its charts"
                ),
                origin: n.origin,
            });
        }
        return Ok(out);
    };
    let value = k.node.to_value();
    let home = chart_home(&value);
    for entry in entries(k)? {
        let dir = chart_dir(&k.dir, &home, &entry.name, &entry.version, &entry.repo);
        if !dir.is_dir() {
            if entry.repo.is_empty() {
                return Err(Error::new(
                    format!(
                        "no repo specified for pull, no chart found at '{}': chart `{}` is not \
                         under {}",
                        files.display(&dir),
                        entry.name,
                        files.display(&k.dir.join(&home))
                    ),
                    entry.node.origin,
                ));
            }
            out.warnings.push(Warning {
                rule: "kustomize-helm",
                message: format!(
                    "chart `{}` is not rendered: it is not in the repository ({}) and kubegate \
                     does not download charts (`helm pull` from {}); vendor it there to have \
                     it checked",
                    entry.name,
                    files.display(&dir),
                    entry.repo
                ),
                origin: entry.node.origin,
            });
            continue;
        }
        let objects = render(files, k, opts, helm, &entry, &dir, &mut out.used)?;
        out.objects.extend(objects);
    }
    Ok(out)
}

/// The entries of `helmCharts`, then those of `helmChartInflationGenerator` converted.
fn entries(k: &Kustomization) -> Result<Vec<Entry<'_>>> {
    let mut out = Vec::new();
    for (field, legacy) in [("helmCharts", false), ("helmChartInflationGenerator", true)] {
        let Some(list) = k.field(field) else { continue };
        let Some(items) = list.as_seq() else {
            return Err(Error::new(
                format!("invalid kustomization: `{field}` must be a list"),
                list.origin,
            ));
        };
        for item in items {
            out.push(entry(item, field, legacy)?);
        }
    }
    Ok(out)
}

fn entry<'a>(node: &'a Node, field: &str, legacy: bool) -> Result<Entry<'a>> {
    if node.as_map().is_none() {
        return Err(Error::new(
            format!("invalid kustomization: `{field}` entries are mappings"),
            node.origin,
        ));
    }
    let key = |modern: &'static str, old: &'static str| if legacy { old } else { modern };
    let string = |k: &str| -> Result<(String, Option<Origin>)> {
        match node.get(k) {
            None => Ok((String::new(), None)),
            Some(n) if n.kind == Kind::Null => Ok((String::new(), None)),
            Some(n) => match n.as_str() {
                Some(s) => Ok((s.to_owned(), Some(n.origin))),
                None => Err(Error::new(
                    format!("invalid kustomization: `{field}[].{k}` must be a string"),
                    n.origin,
                )),
            },
        }
    };
    let flag = |k: &str| -> Result<bool> {
        match node.get(k).map(|n| &n.kind) {
            None | Some(Kind::Null) => Ok(false),
            Some(Kind::Bool(b)) => Ok(*b),
            Some(_) => Err(Error::new(
                format!("invalid kustomization: `{field}[].{k}` must be true or false"),
                node.get(k).map_or(node.origin, |n| n.origin),
            )),
        }
    };
    let strings = |k: &str| -> Result<Vec<(String, Origin)>> {
        match node.get(k) {
            None => Ok(Vec::new()),
            Some(n) if n.kind == Kind::Null => Ok(Vec::new()),
            Some(n) => n
                .as_seq()
                .ok_or_else(|| {
                    Error::new(
                        format!("invalid kustomization: `{field}[].{k}` must be a list"),
                        n.origin,
                    )
                })?
                .iter()
                .map(|i| {
                    i.as_str().map(|s| (s.to_owned(), i.origin)).ok_or_else(|| {
                        Error::new(
                            format!("invalid kustomization: `{field}[].{k}` must be strings"),
                            i.origin,
                        )
                    })
                })
                .collect(),
        }
    };
    let name = string(key("name", "chartName"))?.0;
    if name.is_empty() {
        return Err(Error::new("chart name cannot be empty", node.origin));
    }
    let (merge, merge_at) = string("valuesMerge")?;
    let merge = match merge.as_str() {
        "" | "override" => ValuesMerge::Override,
        "merge" => ValuesMerge::Merge,
        "replace" => ValuesMerge::Replace,
        _ => {
            return Err(Error::new(
                "valuesMerge must be one of [merge override replace]",
                merge_at.unwrap_or(node.origin),
            ));
        }
    };
    let (values_file, values_at) = string(key("valuesFile", "values"))?;
    let inline = node
        .get(key("valuesInline", "valuesLocal"))
        .filter(|n| n.kind != Kind::Null);
    if let Some(n) = inline
        && n.as_map().is_none()
    {
        return Err(Error::new(
            format!("invalid kustomization: `{field}[].valuesInline` must be a mapping"),
            n.origin,
        ));
    }
    Ok(Entry {
        node,
        name,
        version: string(key("version", "chartVersion"))?.0,
        repo: string(key("repo", "chartRepoUrl"))?.0,
        release: string("releaseName")?.0,
        namespace: if legacy {
            String::new()
        } else {
            string("namespace")?.0
        },
        name_template: if legacy {
            String::new()
        } else {
            string("nameTemplate")?.0
        },
        values_file: values_at
            .filter(|_| !values_file.is_empty())
            .map(|at| (values_file, at)),
        additional: if legacy {
            Vec::new()
        } else {
            strings("additionalValuesFiles")?
        },
        inline,
        merge,
        include_crds: !legacy && flag("includeCRDs")?,
        skip_hooks: !legacy && flag("skipHooks")?,
        skip_tests: !legacy && flag("skipTests")?,
        api_versions: if legacy {
            Vec::new()
        } else {
            strings("apiVersions")?
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        },
        kube_version: if legacy {
            String::new()
        } else {
            string("kubeVersion")?.0
        },
    })
}

/// A values file an entry names, read as kustomize's loader reads it: relative to the
/// kustomization, in or below it unless the load restrictor is off.
fn values_file(
    files: &Files,
    k: &Kustomization,
    opts: &Options,
    full: &Path,
    shown: &str,
    at: Origin,
    what: &str,
) -> Result<(FileId, Option<Node>)> {
    let canonical = crate::canonical::canonicalize(full)
        .map_err(|e| Error::new(format!("{what}: evalsymlink failure on '{shown}': {e}"), at))?;
    if opts.restrict_to_root && !canonical.starts_with(&k.dir) {
        return Err(Error::new(
            format!(
                "{what}: security; file '{shown}' is not in or below '{}'",
                files.display(&k.dir)
            ),
            at,
        ));
    }
    let id = files
        .load(&canonical)
        .map_err(|e| Error::new(format!("{what}: {e}"), at))?;
    let node = super::helm::tree_of(files, id).map_err(|(message, origin)| {
        Error::new(format!("{what} is not valid YAML: {message}"), origin)
    })?;
    Ok((id, node))
}

/// One chart: its values put together, `helm template`, the objects located.
fn render(
    files: &Files,
    k: &Kustomization,
    opts: &Options,
    helm: &Helm,
    entry: &Entry<'_>,
    dir: &Path,
    used: &mut Vec<FileId>,
) -> Result<Vec<Node>> {
    let at = entry.node.origin;
    let dir = crate::canonical::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let chart = LocalChart::read(&dir, files);
    if let Some(problem) = chart.problem() {
        return Err(Error::new(
            format!(
                "chart `{}` cannot be rendered: {}",
                entry.name, problem.message
            ),
            problem.origin,
        ));
    }
    // Every file of the chart is read by this render (a change to any of them re-renders
    // it under --changed-only).
    chart_files(files, &dir, used);
    // The values file (the chart's values.yaml unless `valuesFile` names another).
    let (full, shown, values_at) = match &entry.values_file {
        Some((path, o)) => (k.dir.join(path), path.clone(), *o),
        None => {
            let full = dir.join("values.yaml");
            let shown = files.display(&full);
            (full, shown, at)
        }
    };
    if shown.contains("://") {
        return Err(Error::new(
            format!(
                "values file '{shown}' is remote: kubegate does not download it (kustomize would)"
            ),
            values_at,
        ));
    }
    let (id, file_values) = values_file(files, k, opts, &full, &shown, values_at, "values file")?;
    used.push(id);
    let mut additional = Vec::new();
    for (path, o) in &entry.additional {
        let (id, node) = values_file(
            files,
            k,
            opts,
            &k.dir.join(path),
            path,
            *o,
            "could not load additionalValuesFile",
        )?;
        used.push(id);
        additional.push((files.get(id).path.clone(), node));
    }
    // The values kustomize hands helm first: the file, with valuesInline merged.
    let inline = entry
        .inline
        .filter(|n| n.as_map().is_some_and(|m| !m.is_empty()));
    let tmp = tempfile::Builder::new()
        .prefix("kubegate-helmcharts")
        .tempdir()
        .map_err(|e| Error::new(format!("cannot create a temporary directory: {e}"), at))?;
    let (first_path, first_values) = match inline {
        None => (files.get(id).path.clone(), file_values),
        Some(inline) => {
            let empty = || Node::new(Kind::Map(Default::default()), values_at);
            let merged = match entry.merge {
                ValuesMerge::Replace => inline.clone(),
                // kyaml's merge2.Merge(src, dest): src wins.
                ValuesMerge::Override => {
                    let mut dest = file_values.unwrap_or_else(empty);
                    merge(&mut dest, inline);
                    dest
                }
                ValuesMerge::Merge => {
                    let mut dest = inline.clone();
                    merge(&mut dest, &file_values.unwrap_or_else(empty));
                    dest
                }
            };
            let path = tmp
                .path()
                .join(format!("{}-kustomize-values.yaml", entry.name));
            std::fs::write(&path, merged.to_value().to_string())
                .map_err(|e| Error::new(format!("cannot write the values for helm: {e}"), at))?;
            (path, Some(merged))
        }
    };
    let mut args: Vec<String> = vec!["template".into()];
    if !entry.release.is_empty() {
        args.push(entry.release.clone());
    } else if !entry.name_template.is_empty() {
        args.push("--generate-name".into());
    } else {
        args.push("release-name".into());
    }
    args.push(dir.to_string_lossy().into_owned());
    if !entry.namespace.is_empty() {
        args.extend(["--namespace".into(), entry.namespace.clone()]);
    }
    if !entry.name_template.is_empty() {
        args.extend(["--name-template".into(), entry.name_template.clone()]);
    }
    args.extend(["-f".into(), first_path.to_string_lossy().into_owned()]);
    for (path, _) in &additional {
        args.extend(["-f".into(), path.to_string_lossy().into_owned()]);
    }
    for v in &entry.api_versions {
        args.extend(["--api-versions".into(), v.clone()]);
    }
    let kube = helm
        .kube_version
        .clone()
        .unwrap_or_else(|| entry.kube_version.clone());
    if !kube.is_empty() {
        args.extend(["--kube-version".into(), kube]);
    }
    if entry.include_crds {
        args.push("--include-crds".into());
    }
    if entry.skip_tests {
        args.push("--skip-tests".into());
    }
    if entry.skip_hooks {
        args.push("--no-hooks".into());
    }
    // The values, highest precedence first (the chart's values.yaml is added last).
    let sources: Vec<locate::Values> = additional
        .into_iter()
        .rev()
        .filter_map(|(_, n)| n)
        .chain(first_values)
        .map(|node| locate::Values {
            node,
            chart: Vec::new(),
        })
        .collect();
    let name = chart.name().to_owned();
    let text = match run::run(&helm.path, &args, &dir, helm.timeout, helm.max_output) {
        run::Outcome::Rendered(text) => text,
        run::Outcome::Failed(stderr) => {
            let origin = chart
                .error_origin(&stderr, files)
                // A value the chart's values.schema.json refuses: where it is set.
                .or_else(|| locate::find_values(&sources, &output::schema_path(&stderr)?))
                .unwrap_or(at);
            return Err(Error::new(
                format!(
                    "helm cannot render chart `{name}` (helmCharts): {}",
                    output::clean_error(&stderr)
                ),
                origin,
            ));
        }
        run::Outcome::TimedOut => {
            return Err(Error::new(
                format!(
                    "helm did not render chart `{name}` within {} s (--helm-timeout): stopped",
                    helm.timeout.as_secs_f64()
                ),
                at,
            ));
        }
        run::Outcome::TooLarge(n) => {
            return Err(Error::new(
                format!(
                    "chart `{name}` renders more than {} bytes ({n} read): stopped",
                    helm.max_output
                ),
                at,
            ));
        }
        run::Outcome::NotRun(e) => return Err(Error::new(e, at)),
    };
    drop(tmp);
    let objects = chart.objects(&text, &sources, files);
    for o in &objects {
        if o.get("kind")
            .and_then(Node::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Error::new(
                format!("chart `{name}` renders an object without `kind`"),
                o.origin,
            ));
        }
    }
    Ok(objects)
}

/// kyaml's `merge2.Merge(src, dest)` on values: mappings merged key by key, anything else
/// from `src`; a null in `src` removes the key.
fn merge(dest: &mut Node, src: &Node) {
    match (&mut dest.kind, &src.kind) {
        (Kind::Map(d), Kind::Map(s)) => {
            for (key, value) in s {
                if value.kind == Kind::Null {
                    d.remove(key);
                } else if let Some(existing) = d.get_mut(key) {
                    merge(existing, value);
                } else {
                    d.insert(key.clone(), value.clone());
                }
            }
        }
        _ => *dest = src.clone(),
    }
}

/// Loads the files of the chart at `dir` that a rendering reads (at most a few thousand, not
/// following links), into `used`.
fn chart_files(files: &Files, dir: &Path, used: &mut Vec<FileId>) {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut budget = 4096usize;
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() && depth < 16 {
                stack.push((e.path(), depth + 1));
            } else if meta.is_file() && budget > 0 {
                budget -= 1;
                let p = e.path();
                let text_file = p
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| matches!(x, "yaml" | "yml" | "tpl" | "json" | "txt"));
                if text_file && let Ok(id) = files.load(&p) {
                    used.push(id);
                }
            }
        }
    }
}
