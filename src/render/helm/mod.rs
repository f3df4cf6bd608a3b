//! Helm charts rendered as they deploy, with the user's `helm`.
//!
//! What is rendered, GitOps-aware first: the renderings `.kubegate.yaml` names, a Flux
//! `HelmRelease` whose chart is a path of this repository (its `valuesFiles` and inline
//! `values`), an Argo CD `Application` whose `spec.source.path` is a chart (its
//! `helm.valueFiles`, `values`, `valuesObject`, `parameters`, `releaseName`), then every chart
//! nothing renders, once with its default values. Each rendering is one `helm template`
//! (never `--dependency-update`, never the network), run in parallel and bounded in time
//! and output; each rendered object becomes a tree whose nodes point at the template line
//! that wrote them, or the values line that set them ([`locate`]), and goes through every
//! check as a kustomize render's objects do.

mod gitops;
pub mod locate;
pub mod output;
pub mod run;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rayon::prelude::*;
use serde_json::Value;

use super::Warning;
use super::files::Files;
use super::node::{FileId, Node, Origin, Span};
use crate::check::rendered::Root;
use crate::parse::Reader;

/// A rendering a configuration names (`helm:` in `.kubegate.yaml`), paths resolved.
#[derive(Debug, Clone, Default)]
pub struct Configured {
    pub chart: PathBuf,
    pub release: Option<String>,
    pub namespace: Option<String>,
    pub values: Vec<PathBuf>,
    pub set: Vec<String>,
}

/// How the charts are rendered.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `helm` to run; `None`: not found (each chart gets a `helm-not-found` info).
    pub helm: Option<PathBuf>,
    pub timeout: Duration,
    /// `--kube-version`.
    pub kube_version: String,
    /// The most a rendering may print.
    pub max_output: u64,
    pub configured: Vec<Configured>,
    /// `--changed-only`: the changed files (canonical); only the renderings that read one
    /// are run.
    pub changed: Option<Vec<PathBuf>>,
    /// Charts of chart repositories are pulled through it; `None`: offline, and the GitOps
    /// objects naming one render nothing.
    pub network: Option<Arc<crate::fetch::Network>>,
}

/// The charts of a run, rendered.
#[derive(Debug)]
pub struct Stage {
    pub files: Files,
    pub roots: Vec<Root>,
    /// The chart directories (canonical) found: their templates and CRDs are checked
    /// through the renderings, not as loose files.
    pub charts: Vec<PathBuf>,
}

impl Stage {
    /// Whether the file at `canonical` is part of a chart rendered here: a template, a CRD
    /// of its `crds/`, anything under its `charts/`.
    pub fn owns(&self, canonical: &Path) -> bool {
        self.charts.iter().any(|c| owned_by(c, canonical))
    }
}

/// Whether `path` is a file a rendering of the chart at `chart` covers.
pub fn owned_by(chart: &Path, path: &Path) -> bool {
    path.strip_prefix(chart).is_ok_and(|rel| {
        matches!(
            rel.components().next().and_then(|c| c.as_os_str().to_str()),
            Some("templates" | "crds" | "charts")
        )
    })
}

/// A chart found in the run.
#[derive(Debug)]
struct Chart {
    /// Canonical directory.
    dir: PathBuf,
    /// `Chart.yaml`'s id.
    file: FileId,
    name: String,
    /// The problem that stops it from rendering (a broken `Chart.yaml`, a dependency not
    /// vendored), as a warning at its line.
    problem: Option<Warning>,
    library: bool,
    /// The defines of its templates and its vendored subcharts', read when a template
    /// includes one (once for all its renderings).
    defines: OnceLock<Arc<locate::Defines>>,
}

/// Values given to a rendering, each handed to helm as a `--values` file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    /// A values file.
    File(PathBuf),
    /// Values in a manifest: its file, the document, the pointer to a mapping (a
    /// HelmRelease's `spec.values`) or to a string of YAML (Argo CD's `helm.values`, a
    /// ConfigMap's key; `base64`: a Secret's `data`).
    Embedded {
        path: PathBuf,
        doc: usize,
        pointer: String,
        base64: bool,
    },
}

/// One `helm template` to run.
#[derive(Debug, Clone)]
struct Rendering {
    chart: usize,
    release: String,
    namespace: String,
    /// The values, in order (later wins).
    values: Vec<Source>,
    /// `--set`/`--set-string` and its argument, after the values.
    set: Vec<(&'static str, String)>,
    /// Where it is asked for, for its problems: the object or config entry.
    label: String,
    /// The chart's own `values.yaml` is not merged in: a Flux `HelmRelease` with
    /// `valuesFiles` uses exactly those (`values.yaml` only when listed).
    without_defaults: bool,
    /// The file of the GitOps object asking for it.
    asked_by: Option<PathBuf>,
    /// What could not be given to it (values the repository does not hold).
    notes: Vec<Warning>,
    /// For a chart pulled from the network: the line that asked for it, where findings
    /// inside the chart are reported.
    remote: Option<Origin>,
}

/// A chart pulled: its index among the run's charts and its directory, or why not.
type Pulled = Result<(usize, PathBuf), crate::fetch::Error>;

/// A chart a GitOps object names outside the repository, to pull.
pub(super) struct RemoteAsk {
    pub from: Where,
    /// The line naming the chart.
    pub at: Origin,
}

/// Where a chart is pulled from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Where {
    /// A chart repository (`index.yaml`): `version` a version or a constraint as written.
    Repository {
        url: String,
        chart: String,
        version: String,
    },
    /// An OCI registry: `oci://host/path/chart`.
    Oci {
        reference: String,
        want: crate::fetch::oci::Want,
    },
}

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Where::Repository {
                url,
                chart,
                version,
            } => write!(f, "chart `{chart}` ({version}) from `{}`", url.trim()),
            Where::Oci { reference, want } => write!(f, "chart `{}` ({want})", reference.trim()),
        }
    }
}

/// What [`RemoteAsk`] gets: `None` when the network is off (nothing renders, as offline),
/// else the chart's index among the run's charts and its directory, or why not.
pub(super) type RemoteAnswer = Option<Result<(usize, PathBuf), Warning>>;

impl Rendering {
    /// A rendering with the chart's defaults.
    fn default_of(chart: usize) -> Self {
        Self {
            chart,
            release: "release-name".into(),
            namespace: "default".into(),
            values: Vec::new(),
            set: Vec::new(),
            label: String::new(),
            without_defaults: false,
            asked_by: None,
            notes: Vec::new(),
            remote: None,
        }
    }

    /// Whether a file it reads is among `changed` (canonical): the chart's, a values file,
    /// the object asking for it.
    fn reads_any(&self, chart: &Path, changed: &[PathBuf]) -> bool {
        changed.iter().any(|c| {
            c.starts_with(chart)
                || self.asked_by.as_ref() == Some(c)
                || self.values.iter().any(|v| match v {
                    Source::File(p) | Source::Embedded { path: p, .. } => {
                        p == c || crate::canonical::canonicalize(p).is_ok_and(|p| &p == c)
                    }
                })
        })
    }
}

/// The chart directories among `inputs` (canonical paths of the run's files): each
/// directory holding a `Chart.yaml`, except subcharts (rendered by their parent).
pub fn charts_of(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "Chart.yaml"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    let all = dirs.clone();
    dirs.retain(|d| !all.iter().any(|parent| parent != d && owned_by(parent, d)));
    dirs
}

/// Renders the charts at `dirs` (canonical) as `objects` (the run's files holding GitOps
/// objects that may name a chart) and the configuration ask.
pub fn render(dirs: Vec<PathBuf>, objects: &[PathBuf], files: Files, opts: &Options) -> Stage {
    let mut charts: Vec<Chart> = dirs.iter().map(|d| read_chart(d, &files)).collect();
    let mut roots = Vec::new();
    let Some(helm) = &opts.helm else {
        let reached = |c: &&Chart| {
            opts.changed
                .as_ref()
                .is_none_or(|changed| changed.iter().any(|p| p.starts_with(&c.dir)))
        };
        for c in charts.iter().filter(reached) {
            roots.push(Root {
                dir: files.display(&c.dir).into(),
                objects: Vec::new(),
                error: None,
                remote: None,
                crds: Vec::new(),
                warnings: vec![Warning {
                    rule: "helm-not-found",
                    message: format!(
                        "chart `{}` is not rendered: no `helm` on PATH (give one with --helm); \
                         its templates are not checked",
                        c.name
                    ),
                    origin: Origin::new(c.file, first_line(&files, c.file)),
                }],
            });
        }
        return Stage {
            files,
            roots,
            charts: Vec::new(),
        };
    };
    let mut renderings = configured(&charts, opts, &files);
    // Charts GitOps objects pull from chart repositories, each pulled once.
    let local = charts.len();
    let mut pulled: Vec<Chart> = Vec::new();
    let mut asked: HashMap<Where, Pulled> = HashMap::new();
    let mut remote = |ask: RemoteAsk| -> RemoteAnswer {
        let net = opts.network.as_ref()?;
        let answer = asked.entry(ask.from.clone()).or_insert_with(|| {
            let (p, from) = match &ask.from {
                Where::Repository {
                    url,
                    chart,
                    version,
                } => (
                    crate::fetch::chart::pull(net, url, chart, version)?,
                    url.trim(),
                ),
                Where::Oci { reference, want } => (
                    crate::fetch::oci::pull(net, reference, want)?,
                    reference.trim(),
                ),
            };
            let label = format!("{} {} from {from}", p.name, p.version);
            files.add_remote(&p.dir, &label, ask.at);
            let dir = crate::canonical::canonicalize(&p.dir).unwrap_or(p.dir);
            pulled.push(read_chart(&dir, &files));
            Ok((local + pulled.len() - 1, dir))
        });
        Some(answer.clone().map_err(|e| Warning {
            rule: match e {
                crate::fetch::Error::Refused(_) => "remote-refused",
                crate::fetch::Error::Failed(_) => "remote-failed",
            },
            message: format!("{} is not rendered: {e}", ask.from),
            origin: ask.at,
        }))
    };
    let (gitops, unpulled) = gitops::renderings(&charts, objects, &files, &mut remote);
    renderings.extend(gitops);
    charts.extend(pulled);
    for w in unpulled {
        roots.push(Root {
            dir: files.get(w.origin.file).display.clone(),
            objects: Vec::new(),
            error: None,
            warnings: vec![w],
            remote: None,
            crds: Vec::new(),
        });
    }
    for (i, c) in charts.iter().enumerate() {
        if !c.library && !renderings.iter().any(|r| r.chart == i) {
            renderings.push(Rendering::default_of(i));
        }
    }
    // Under --changed-only, the renderings that read a changed file.
    if let Some(changed) = &opts.changed {
        renderings.retain(|r| r.reads_any(&charts[r.chart].dir, changed));
    }
    // The same inputs render once.
    let mut seen = HashSet::new();
    renderings.retain(|r| {
        seen.insert((
            r.chart,
            r.release.clone(),
            r.namespace.clone(),
            r.values.clone(),
            r.set.clone(),
            r.without_defaults,
        ))
    });
    // A chart that cannot render says so once.
    for c in &charts {
        if let Some(w) = &c.problem {
            roots.push(Root {
                dir: files.display(&c.dir).into(),
                objects: Vec::new(),
                error: None,
                warnings: vec![w.clone()],
                remote: None,
                crds: Vec::new(),
            });
        }
    }
    renderings.retain(|r| charts[r.chart].problem.is_none());
    let rendered: Vec<Root> = renderings
        .par_iter()
        .map(|r| render_one(helm, &charts[r.chart], r, &files, opts))
        .collect();
    roots.extend(rendered);
    Stage {
        files,
        roots,
        charts: dirs,
    }
}

/// The span of the first line of a file.
fn first_line(files: &Files, id: FileId) -> Span {
    let text = files.get(id).text();
    let end = text.find('\n').unwrap_or(text.len());
    Span::new(0, end.min(text.trim_end_matches('\r').len()))
}

/// Reads `dir/Chart.yaml`: the chart's name and type, and whether its dependencies are
/// vendored under `charts/` (helm refuses to render without them, and kubegate never
/// downloads them).
fn read_chart(dir: &Path, files: &Files) -> Chart {
    let path = dir.join("Chart.yaml");
    let fallback_name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let file = match files.load(&path) {
        Ok(id) => id,
        Err(e) => {
            return Chart {
                dir: dir.to_path_buf(),
                file: 0,
                name: fallback_name,
                problem: Some(Warning {
                    rule: "helm-error",
                    message: e,
                    origin: Origin::new(u32::MAX, Span::default()),
                }),
                library: false,
                defines: OnceLock::new(),
            };
        }
    };
    let parsed = files.get(file).parsed(Reader::Kubectl, &files.limits);
    let mut chart = Chart {
        dir: dir.to_path_buf(),
        file,
        name: fallback_name,
        problem: None,
        library: false,
        defines: OnceLock::new(),
    };
    if let Some(issue) = parsed.issues.first() {
        chart.problem = Some(Warning {
            rule: "helm-error",
            message: format!("Chart.yaml cannot be read: {}", issue.message),
            origin: Origin::new(file, Span::new(issue.start as usize, issue.end as usize)),
        });
        return chart;
    }
    let Some(doc) = parsed.documents.first() else {
        chart.problem = Some(Warning {
            rule: "helm-error",
            message: "Chart.yaml is empty".into(),
            origin: Origin::new(file, first_line(files, file)),
        });
        return chart;
    };
    let text = files.get(file).text();
    let Some(tree) = Node::from_document(doc, "", &text, file) else {
        return chart;
    };
    match tree.get("name").and_then(Node::as_str) {
        Some(n) => chart.name = n.to_owned(),
        None => {
            chart.problem = Some(Warning {
                rule: "helm-error",
                message: "Chart.yaml has no `name`".into(),
                origin: Origin::new(file, first_line(files, file)),
            });
            return chart;
        }
    }
    chart.library = tree.get("type").and_then(Node::as_str) == Some("library");
    let deps = tree
        .get("dependencies")
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    for dep in deps {
        let Some(name) = dep.get("name").and_then(Node::as_str) else {
            continue;
        };
        if !vendored(dir, name) {
            let origin = dep.get("name").map_or(dep.origin, |n| n.origin);
            chart.problem = Some(Warning {
                rule: "helm-dependency-missing",
                message: format!(
                    "dependency `{name}` of chart `{}` is not vendored under charts/: the \
                     chart is not rendered (run `helm dependency build` and commit charts/; \
                     kubegate never downloads)",
                    chart.name
                ),
                origin,
            });
            return chart;
        }
    }
    chart
}

/// Whether `charts/` of `dir` holds the dependency `name`: a directory whose `Chart.yaml`
/// names it, or an archive `name-<version>.tgz`.
fn vendored(dir: &Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir.join("charts")) else {
        return false;
    };
    entries.flatten().any(|e| {
        let file = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if path.is_dir() {
            file == name
                || std::fs::read_to_string(path.join("Chart.yaml")).is_ok_and(|t| {
                    t.lines().any(|l| {
                        l.trim() == format!("name: {name}")
                            || l.trim() == format!("name: \"{name}\"")
                    })
                })
        } else {
            file.strip_prefix(name)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|r| r.ends_with(".tgz") && r.starts_with(|c: char| c.is_ascii_digit()))
        }
    })
}

/// The renderings the configuration names.
fn configured(charts: &[Chart], opts: &Options, files: &Files) -> Vec<Rendering> {
    let mut out = Vec::new();
    for c in &opts.configured {
        let Ok(dir) = crate::canonical::canonicalize(&c.chart) else {
            continue;
        };
        let Some(i) = charts.iter().position(|ch| ch.dir == dir) else {
            continue;
        };
        let values: Vec<String> = c
            .values
            .iter()
            .map(|v| {
                files.display(&crate::canonical::canonicalize(v).unwrap_or_else(|_| v.clone()))
            })
            .collect();
        out.push(Rendering {
            chart: i,
            release: c.release.clone().unwrap_or_else(|| "release-name".into()),
            namespace: c.namespace.clone().unwrap_or_else(|| "default".into()),
            values: c.values.iter().cloned().map(Source::File).collect(),
            set: c.set.iter().map(|s| ("--set", s.clone())).collect(),
            label: if values.is_empty() {
                String::new()
            } else {
                format!("values {}", values.join(", "))
            },
            without_defaults: false,
            asked_by: None,
            notes: Vec::new(),
            remote: None,
        });
    }
    out
}

/// One rendering: `helm template`, then each document located in the chart's files.
fn render_one(helm: &Path, chart: &Chart, r: &Rendering, files: &Files, opts: &Options) -> Root {
    let mut what = vec![format!("release {}", r.release)];
    if !r.label.is_empty() {
        what.push(r.label.clone());
    }
    let dir: Arc<str> = format!("{} ({})", files.display(&chart.dir), what.join(", ")).into();
    let mut root = Root {
        dir,
        objects: Vec::new(),
        error: None,
        warnings: Vec::new(),
        remote: r.remote,
        crds: Vec::new(),
    };
    let at_chart = Origin::new(chart.file, first_line(files, chart.file));
    let problem = |message: String, origin: Origin| Warning {
        rule: "helm-error",
        message,
        origin,
    };
    root.warnings.extend(r.notes.iter().cloned());
    // The values, highest precedence first, each read (and refused) as helm would.
    let mut sources: Vec<locate::Values> = Vec::new();
    let mut args: Vec<String> = vec![
        "template".into(),
        r.release.clone(),
        chart.dir.to_string_lossy().into_owned(),
        "--namespace".into(),
        r.namespace.clone(),
        "--kube-version".into(),
        opts.kube_version.clone(),
        "--include-crds".into(),
    ];
    // Values go to helm as files: manifests' values as files of their own.
    let tmp = tempfile::Builder::new().prefix("kubegate-values").tempdir();
    if r.without_defaults {
        // helm always merges the chart's values.yaml: a copy without it renders what Flux
        // renders.
        let copied = tmp.as_ref().map_err(|e| e.to_string()).and_then(|t| {
            let to = t.path().join("chart");
            copy_chart(&chart.dir, &to, opts.max_output)?;
            Ok(to)
        });
        match copied {
            Ok(to) => args[2] = to.to_string_lossy().into_owned(),
            Err(e) => {
                root.warnings.push(problem(
                    format!(
                        "cannot copy chart `{}` to render it without its values.yaml: {e}",
                        chart.name
                    ),
                    at_chart,
                ));
                return root;
            }
        }
    }
    for (n, v) in r.values.iter().enumerate() {
        let (node, file) = match values_of(v, files) {
            Ok(Values::File(id, node)) => (node, files.get(id).path.clone()),
            Ok(Values::Text(text, node)) => {
                let file = match &tmp {
                    Ok(tmp) => tmp.path().join(format!("values-{n}.yaml")),
                    Err(e) => {
                        root.warnings.push(problem(
                            format!("cannot write values for helm: {e}"),
                            at_chart,
                        ));
                        return root;
                    }
                };
                if let Err(e) = std::fs::write(&file, text) {
                    root.warnings.push(problem(
                        format!("cannot write values for helm: {e}"),
                        at_chart,
                    ));
                    return root;
                }
                (node, file)
            }
            Ok(Values::Missing) => continue,
            Err((message, origin)) => {
                root.warnings
                    .push(problem(message, origin.unwrap_or(at_chart)));
                return root;
            }
        };
        sources.extend(node.map(|node| locate::Values {
            node,
            chart: Vec::new(),
        }));
        args.push("--values".into());
        args.push(file.to_string_lossy().into_owned());
    }
    for (flag, s) in &r.set {
        args.push((*flag).into());
        args.push(s.clone());
    }
    // Later sources win: the given values in reverse, then the chart's.
    sources.reverse();
    let chart_values = chart.dir.join("values.yaml");
    if let Some(id) = (!r.without_defaults)
        .then(|| files.load(&chart_values).ok())
        .flatten()
    {
        match tree_of(files, id) {
            Ok(node) => sources.extend(node.map(|node| locate::Values {
                node,
                chart: Vec::new(),
            })),
            Err((message, origin)) => {
                root.warnings.push(problem(
                    format!("values.yaml is not valid YAML: {message}"),
                    origin,
                ));
                return root;
            }
        }
    }
    let out = match run::run(helm, &args, &chart.dir, opts.timeout, opts.max_output) {
        run::Outcome::Rendered(out) => out,
        run::Outcome::Failed(stderr) => {
            let message = output::clean_error(&stderr);
            let origin = output::error_at(&stderr, &chart.name)
                .and_then(|at| error_origin(files, chart, &at))
                // A value the chart's values.schema.json refuses: where it is set.
                .or_else(|| {
                    let path = output::schema_path(&stderr)?;
                    locate::find_values(&sources, &path)
                })
                // A Kubernetes version the chart does not accept: its `kubeVersion`.
                .or_else(|| {
                    stderr
                        .contains("chart requires kubeVersion")
                        .then_some(())?;
                    chart_key(files, chart, "kubeVersion")
                })
                .unwrap_or(at_chart);
            // helm counts that line in the rendered document, which is not kept.
            let note = if stderr.contains("YAML parse error on") {
                " (the line is of the rendered document, not of the template: reported at \
                 the template's first line)"
            } else {
                ""
            };
            root.warnings.push(problem(
                format!("helm cannot render chart `{}`: {message}{note}", chart.name),
                origin,
            ));
            return root;
        }
        run::Outcome::TimedOut => {
            root.warnings.push(problem(
                format!(
                    "helm did not render chart `{}` within {} s (--helm-timeout): stopped",
                    chart.name,
                    opts.timeout.as_secs_f64()
                ),
                at_chart,
            ));
            return root;
        }
        run::Outcome::TooLarge(n) => {
            root.warnings.push(problem(
                format!(
                    "chart `{}` renders more than {} bytes ({n} read): stopped, not checked",
                    chart.name, opts.max_output
                ),
                at_chart,
            ));
            return root;
        }
        run::Outcome::NotRun(e) => {
            root.warnings.push(problem(e, at_chart));
            return root;
        }
    };
    drop(tmp);
    (root.objects, root.crds) =
        crate::check::rendered::finish(objects(&out, chart, &sources, files), files);
    root
}

/// A template read, with the values its `.Values` sees.
type Located = (Arc<locate::Template>, Vec<locate::Values>);

/// The objects of helm's output `out`, each located in the chart's files.
fn objects(out: &str, chart: &Chart, sources: &[locate::Values], files: &Files) -> Vec<Node> {
    let mut templates: HashMap<String, Option<Located>> = HashMap::new();
    let mut nth: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut objects = Vec::new();
    for doc in output::split(out) {
        let parsed = crate::parse::yaml::parse_as(doc.text, &files.limits, Reader::Kubectl);
        let located = templates
            .entry(doc.source.to_owned())
            .or_insert_with(|| template_of(doc.source, chart, sources, files))
            .clone();
        for d in &parsed.documents {
            if !d.value.is_object() {
                continue;
            }
            let kind = d.value.get("kind").and_then(Value::as_str).unwrap_or("");
            let n = nth
                .entry((doc.source.to_owned(), kind.to_owned()))
                .or_default();
            let node = match &located {
                Some((t, values)) => {
                    let which = t.doc_for(kind, *n);
                    let defines = if t.includes() {
                        defines_of(chart, files)
                    } else {
                        Arc::default()
                    };
                    t.locate(&d.value, which, values, &defines)
                }
                None => Node::from_value(
                    &d.value,
                    Origin::new(chart.file, first_line(files, chart.file)),
                ),
            };
            *n += 1;
            objects.push(node);
        }
    }
    objects
}

/// The template helm names `source` (`<chart>/templates/x.yaml`,
/// `<chart>/charts/<sub>/templates/x.yaml`), read, with the values as its `.Values` sees
/// them (a subchart's under its name in the parent's, then its own `values.yaml`).
fn template_of(
    source: &str,
    chart: &Chart,
    sources: &[locate::Values],
    files: &Files,
) -> Option<Located> {
    let rel = source.strip_prefix(&format!("{}/", chart.name))?;
    let path = chart.dir.join(rel);
    let id = files.load(&path).ok()?;
    let text = files.get(id).text();
    let template = Arc::new(locate::Template::read(&text, id));
    // `charts/a/charts/b/templates/x.yaml`: the subchart path [a, b].
    let parts: Vec<&str> = rel.split('/').collect();
    let mut sub = Vec::new();
    let mut i = 0;
    while i + 1 < parts.len() && parts[i] == "charts" {
        sub.push(parts[i + 1].to_owned());
        i += 2;
    }
    let mut values: Vec<locate::Values> = sources
        .iter()
        .map(|s| locate::Values {
            node: s.node.clone(),
            chart: sub.clone(),
        })
        .collect();
    // Each subchart's own values.yaml, innermost last.
    let mut dir = chart.dir.clone();
    let mut owned: Vec<locate::Values> = Vec::new();
    for (depth, name) in sub.iter().enumerate() {
        dir = dir.join("charts").join(name);
        if let Ok(vid) = files.load(&dir.join("values.yaml"))
            && let Ok(Some(node)) = tree_of(files, vid)
        {
            owned.push(locate::Values {
                node,
                chart: sub[depth + 1..].to_vec(),
            });
        }
    }
    owned.reverse();
    values.extend(owned);
    Some((template, values))
}

/// The most template files read for a chart's defines.
const MAX_TEMPLATE_FILES: usize = 4096;
/// How deep subcharts (`charts/a/charts/b/...`) and directories under `templates/` are
/// searched for defines.
const MAX_TEMPLATE_DEPTH: usize = 8;

/// The defines of `chart`: of every file under its `templates/` and under those of the
/// subcharts vendored as directories in `charts/` (a `.tgz` is not opened), in one
/// namespace as helm has them. helm parses the deepest paths first and, among paths as
/// deep, the last in byte order first; a define parsed later replaces one of the same
/// name: the parent chart's wins over a subchart's, `_a.tpl`'s over `_b.tpl`'s. Read once
/// per chart.
fn defines_of(chart: &Chart, files: &Files) -> Arc<locate::Defines> {
    chart
        .defines
        .get_or_init(|| {
            let mut found: Vec<(String, PathBuf)> = Vec::new();
            chart_templates(&chart.dir, "", 0, &mut found);
            let slashes = |p: &str| p.matches('/').count();
            found.sort_by(|a, b| {
                slashes(&b.0)
                    .cmp(&slashes(&a.0))
                    .then_with(|| b.0.cmp(&a.0))
            });
            let mut defines = locate::Defines::default();
            for (_, path) in found {
                let Ok(id) = files.load(&path) else { continue };
                let text = files.get(id).text();
                if text.contains("define") {
                    defines.add(Arc::new(locate::Template::read(&text, id)));
                }
            }
            Arc::new(defines)
        })
        .clone()
}

/// Adds the template files of the chart at `dir` (its path `rel` in the chart rendered)
/// and of its vendored subcharts to `out`, as (path as helm names it below the chart,
/// path). Directories are not followed through links.
fn chart_templates(dir: &Path, rel: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    fn walk(dir: &Path, rel: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if out.len() >= MAX_TEMPLATE_FILES {
                return;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let name = e.file_name().to_string_lossy().into_owned();
            let here = format!("{rel}/{name}");
            if meta.is_dir() {
                if depth < MAX_TEMPLATE_DEPTH {
                    walk(&e.path(), &here, depth + 1, out);
                }
            } else {
                // A file linked into templates/ is read (`Files` keeps it inside the
                // repository), as helm reads it.
                out.push((here, e.path()));
            }
        }
    }
    walk(&dir.join("templates"), &format!("{rel}templates"), 0, out);
    if depth >= MAX_TEMPLATE_DEPTH {
        return;
    }
    let Ok(subs) = std::fs::read_dir(dir.join("charts")) else {
        return;
    };
    for e in subs.flatten() {
        if std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir()) {
            let name = e.file_name().to_string_lossy().into_owned();
            chart_templates(&e.path(), &format!("{rel}charts/{name}/"), depth + 1, out);
        }
    }
}

/// A rendering's values, read.
enum Values {
    /// A file of the repository, handed to helm as it is.
    File(FileId, Option<Node>),
    /// Values of a manifest, to hand to helm as a file of this text.
    Text(String, Option<Node>),
    /// A manifest's values no longer there (the file changed under the run).
    Missing,
}

/// Reads the values `v` as helm will, each node pointing where it is written; `Err`: why
/// helm would refuse them, and where.
fn values_of(v: &Source, files: &Files) -> Result<Values, (String, Option<Origin>)> {
    match v {
        Source::File(f) => {
            let id = files
                .load(f)
                .map_err(|e| (format!("values file: {e}"), None))?;
            let node = tree_of(files, id).map_err(|(message, origin)| {
                (
                    format!("values file is not valid YAML: {message}"),
                    Some(origin),
                )
            })?;
            Ok(Values::File(id, node))
        }
        Source::Embedded {
            path,
            doc,
            pointer,
            base64,
        } => {
            let Ok(id) = files.load(path) else {
                return Ok(Values::Missing);
            };
            let file = files.get(id);
            let parsed = file.parsed(Reader::Kubectl, &files.limits);
            let Some(d) = parsed.documents.get(*doc) else {
                return Ok(Values::Missing);
            };
            let Some(at) = Node::from_document(d, pointer, &file.text(), id) else {
                return Ok(Values::Missing);
            };
            let s = match &d.value.pointer(pointer) {
                Some(Value::String(s)) if *base64 => gitops::decode(s).ok_or_else(|| {
                    (
                        "values are not base64-encoded UTF-8 text".to_owned(),
                        Some(at.origin),
                    )
                })?,
                Some(Value::String(s)) => s.clone(),
                Some(other) => return Ok(Values::Text(other.to_string(), Some(at))),
                None => return Ok(Values::Missing),
            };
            let read = crate::parse::yaml::parse_as(&s, &files.limits, Reader::Kubectl);
            if let Some(issue) = read.issues.first() {
                return Err((
                    format!("values are not valid YAML: {}", issue.message),
                    Some(at.origin),
                ));
            }
            let node = if *base64 {
                read.documents.first().map(|d| {
                    let mut n = Node::from_value(&d.value, at.origin);
                    n.set_origin_deep(at.origin);
                    n
                })
            } else {
                gitops::embedded_tree(&s, &file.text(), at.origin, files)
            };
            Ok(Values::Text(s, node))
        }
    }
}

/// Copies the chart at `from` to `to`, its own `values.yaml` empty: regular files and
/// directories only (no link is followed), at most `budget` bytes in all.
fn copy_chart(from: &Path, to: &Path, budget: u64) -> Result<(), String> {
    fn walk(from: &Path, to: &Path, top: bool, left: &mut u64, depth: usize) -> Result<(), String> {
        if depth > 32 {
            return Err(format!("{} is nested too deep", from.display()));
        }
        std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
        let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
        for entry in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            let dest = to.join(entry.file_name());
            if meta.is_dir() {
                walk(&entry.path(), &dest, false, left, depth + 1)?;
            } else if meta.is_file() {
                if top && entry.file_name() == "values.yaml" {
                    continue;
                }
                *left = left
                    .checked_sub(meta.len())
                    .ok_or_else(|| "the chart is larger than --max-file-size".to_owned())?;
                let bytes = crate::read::read(&entry.path(), meta.len().max(1))
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
                std::fs::write(&dest, bytes).map_err(|e| format!("{}: {e}", dest.display()))?;
            }
        }
        if top {
            std::fs::write(to.join("values.yaml"), "{}\n")
                .map_err(|e| format!("{}: {e}", to.display()))?;
        }
        Ok(())
    }
    let mut left = budget;
    walk(from, to, true, &mut left, 0)
}

/// The first document of the file `id`, read as kubectl (and helm) reads it, as a tree
/// whose nodes know their lines; `Err`: its first YAML error and where it is.
pub(crate) fn tree_of(files: &Files, id: FileId) -> Result<Option<Node>, (String, Origin)> {
    let parsed = files.get(id).parsed(Reader::Kubectl, &files.limits);
    if let Some(issue) = parsed.issues.first() {
        let at = Span::new(issue.start as usize, issue.end as usize);
        return Err((issue.message.clone(), Origin::new(id, at)));
    }
    let text = files.get(id).text();
    Ok(parsed
        .documents
        .first()
        .and_then(|d| Node::from_document(d, "", &text, id)))
}

/// The origin of the top-level `key` of the chart's `Chart.yaml`.
fn chart_key(files: &Files, chart: &Chart, key: &str) -> Option<Origin> {
    Some(tree_of(files, chart.file).ok()??.get(key)?.origin)
}

/// Where helm's error points, in the chart's files.
fn error_origin(files: &Files, chart: &Chart, at: &output::ErrorAt) -> Option<Origin> {
    let rel = at.source.strip_prefix(&format!("{}/", chart.name))?;
    let id = files.load(&chart.dir.join(rel)).ok()?;
    let text = files.get(id).text();
    let Some(line) = at.line else {
        return Some(Origin::new(id, first_line(files, id)));
    };
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let this = text[start..].split('\n').next().unwrap_or("");
    // Go's template errors count columns as byte offsets from 0.
    let col = at.column.map_or(0, |c| (c as usize).min(this.len()));
    let col = (0..=col)
        .rev()
        .find(|&c| this.is_char_boundary(c))
        .unwrap_or(0);
    Some(Origin::new(
        id,
        Span::new(start + col, start + this.trim_end_matches('\r').len()),
    ))
}

/// A chart read for another renderer: kustomize's `helmCharts` ([`crate::render::helmcharts`]),
/// which runs `helm template` itself and locates the output with this chart's files.
#[derive(Debug)]
pub struct LocalChart(Chart);

impl LocalChart {
    /// Reads the chart at `dir` (canonical), as the helm stage reads it.
    pub fn read(dir: &Path, files: &Files) -> Self {
        Self(read_chart(dir, files))
    }

    /// `Chart.yaml`'s `name`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// What stops it from rendering (a broken `Chart.yaml`, a dependency not vendored).
    pub fn problem(&self) -> Option<&Warning> {
        self.0.problem.as_ref()
    }

    /// The first line of its `Chart.yaml`.
    pub fn at_chart(&self, files: &Files) -> Origin {
        Origin::new(self.0.file, first_line(files, self.0.file))
    }

    /// The objects of helm's output `out`, located in the chart's templates and in
    /// `sources` (the values, highest precedence first, without the chart's `values.yaml`,
    /// which this adds last).
    pub fn objects(&self, out: &str, sources: &[locate::Values], files: &Files) -> Vec<Node> {
        let mut sources = sources.to_vec();
        if let Ok(id) = files.load(&self.0.dir.join("values.yaml"))
            && let Ok(Some(node)) = tree_of(files, id)
        {
            sources.push(locate::Values {
                node,
                chart: Vec::new(),
            });
        }
        objects(out, &self.0, &sources, files)
    }

    /// Where helm's error `stderr` points in the chart's files, if it names a place.
    pub fn error_origin(&self, stderr: &str, files: &Files) -> Option<Origin> {
        output::error_at(stderr, &self.0.name).and_then(|at| error_origin(files, &self.0, &at))
    }
}
