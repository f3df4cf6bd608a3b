//! The renderings GitOps objects of the repository ask for: Flux `HelmRelease`s whose chart
//! (`spec.chart`, or the `HelmChart` their `chartRef` names) is a path of this repository
//! from a `GitRepository`, with their `valuesFiles`, `valuesFrom` ConfigMaps and Secrets (as
//! the repository has them, or as a kustomization's generator makes them) and inline
//! `values`; Argo CD `Application`s whose source path is a chart, single- or multi-source
//! (`$values/` files of the same repository).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Chart, RemoteAnswer, RemoteAsk, Rendering, Source, Where};
use crate::fetch::oci::Want;
use crate::parse::{Document, Reader};
use crate::render::Warning;
use crate::render::files::Files;
use crate::render::node::{FileId, Node, Origin, Span};

/// A ConfigMap or Secret of the repository a `valuesFrom` may name.
#[derive(Debug, Clone)]
enum Held {
    /// In a manifest: its file and document.
    Object {
        path: PathBuf,
        doc: usize,
        /// SOPS-encrypted: its values cannot be read.
        encrypted: bool,
    },
    /// Made by a kustomization's `configMapGenerator`/`secretGenerator`: each key's file.
    Generated { files: Vec<(String, PathBuf)> },
}

/// ConfigMaps and Secrets by (kind, name): each with its namespace when it says one.
type Index = HashMap<(String, String), Vec<(Option<String>, Held)>>;

/// One GitOps object of the run, read.
struct Asking<'a> {
    path: &'a Path,
    id: FileId,
    doc: usize,
}

/// The renderings the GitOps objects among `objects` ask for, the charts they name being
/// among `charts`, or outside the repository ([`RemoteAsk`], answered by `remote`).
/// `objects` may hold any file: only those naming a HelmRelease or an Application are read
/// for them (and HelmRepositories, ConfigMaps, Secrets and kustomizations). Also returns
/// why a chart asked for could not be pulled.
pub(super) fn renderings(
    charts: &[Chart],
    objects: &[PathBuf],
    files: &Files,
    remote: &mut dyn FnMut(RemoteAsk) -> RemoteAnswer,
) -> (Vec<Rendering>, Vec<Warning>) {
    let mut unpulled = Vec::new();
    let mut asking = Vec::new();
    let mut index = Index::new();
    // Flux HelmChart objects a HelmRelease's `chartRef` may name: their `spec`s.
    let mut helm_charts: HashMap<String, Vec<(Option<String>, Value)>> = HashMap::new();
    // Flux HelmRepository objects a chart's `sourceRef` may name, and OCIRepository objects
    // a HelmRelease's `chartRef` may name: their `spec`s.
    let mut helm_repos: HashMap<String, Vec<(Option<String>, Value)>> = HashMap::new();
    let mut oci_repos: HashMap<String, Vec<(Option<String>, Value)>> = HashMap::new();
    // The GitOps objects first; the ConfigMaps, Secrets and generators only when a
    // `valuesFrom` may name one.
    let mut any_values_from = false;
    for values_pass in [false, true] {
        if values_pass && !any_values_from {
            break;
        }
        for path in objects {
            let Ok(id) = files.load(path) else { continue };
            let file = files.get(id);
            let text = file.text();
            let bytes = text.as_bytes();
            let has = |s: &str| memchr::memmem::find(bytes, s.as_bytes()).is_some();
            let kustomization = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::render::kustomization::FILE_NAMES.contains(&n));
            if kustomization {
                if values_pass && has("Generator") {
                    let parsed = file.parsed(Reader::Kubectl, &files.limits);
                    generated(path, &parsed.documents, &mut index);
                }
                continue;
            }
            let wanted = if values_pass {
                has("ConfigMap") || has("Secret")
            } else {
                has("HelmRelease")
                    || has("Application")
                    || has("HelmChart")
                    || has("HelmRepository")
                    || has("OCIRepository")
            };
            if !wanted {
                continue;
            }
            let parsed = file.parsed(Reader::Kubectl, &files.limits);
            for (d, doc) in parsed.documents.iter().enumerate() {
                let v = &doc.value;
                let text = |p: &str| v.pointer(p).and_then(Value::as_str);
                match (text("/apiVersion"), text("/kind")) {
                    (Some("v1"), Some(kind @ ("ConfigMap" | "Secret"))) if values_pass => {
                        let Some(name) = text("/metadata/name") else {
                            continue;
                        };
                        index
                            .entry((kind.to_owned(), name.to_owned()))
                            .or_default()
                            .push((
                                text("/metadata/namespace").map(str::to_owned),
                                Held::Object {
                                    path: path.clone(),
                                    doc: d,
                                    encrypted: v.get("sops").is_some_and(Value::is_object),
                                },
                            ));
                    }
                    (Some(api), Some("HelmChart"))
                        if !values_pass && api.starts_with("source.toolkit.fluxcd.io/") =>
                    {
                        if let (Some(name), Some(spec)) = (text("/metadata/name"), v.get("spec")) {
                            helm_charts.entry(name.to_owned()).or_default().push((
                                text("/metadata/namespace").map(str::to_owned),
                                spec.clone(),
                            ));
                        }
                    }
                    (Some(api), Some(kind @ ("HelmRepository" | "OCIRepository")))
                        if !values_pass && api.starts_with("source.toolkit.fluxcd.io/") =>
                    {
                        let of = if kind == "HelmRepository" {
                            &mut helm_repos
                        } else {
                            &mut oci_repos
                        };
                        if let (Some(name), Some(spec)) = (text("/metadata/name"), v.get("spec")) {
                            of.entry(name.to_owned()).or_default().push((
                                text("/metadata/namespace").map(str::to_owned),
                                spec.clone(),
                            ));
                        }
                    }
                    (Some(_), Some("HelmRelease" | "Application")) if !values_pass => {
                        any_values_from |= v.pointer("/spec/valuesFrom").is_some();
                        asking.push(Asking { path, id, doc: d });
                    }
                    _ => {}
                }
            }
        }
    }
    let chart_at = |dir: &Path| {
        let dir = crate::canonical::canonicalize(dir).ok()?;
        charts.iter().position(|c| c.dir == dir)
    };
    let mut out = Vec::new();
    for a in &asking {
        let file = files.get(a.id);
        let parsed = file.parsed(Reader::Kubectl, &files.limits);
        let Some(doc) = parsed.documents.get(a.doc) else {
            continue;
        };
        let v = &doc.value;
        let text = |p: &str| v.pointer(p).and_then(Value::as_str);
        let (Some(api), Some(kind)) = (text("/apiVersion"), text("/kind")) else {
            continue;
        };
        let name = text("/metadata/name").unwrap_or("release-name");
        let label = format!("{kind} {name}");
        let file_text = file.text();
        let at =
            |pointer: &str| Node::from_document(doc, pointer, &file_text, a.id).map(|n| n.origin);
        if api.starts_with("helm.toolkit.fluxcd.io/") && kind == "HelmRelease" {
            let own_ns = text("/metadata/namespace");
            // The chart: `spec.chart.spec`, or the HelmChart or OCIRepository
            // `spec.chartRef` names.
            let chart_ref = |kind: &str, of: &HashMap<String, Vec<(Option<String>, Value)>>| {
                if text("/spec/chartRef/kind") != Some(kind) {
                    return None;
                }
                let ns = text("/spec/chartRef/namespace").or(own_ns);
                text("/spec/chartRef/name")
                    .and_then(|n| of.get(n))
                    .and_then(|all| in_namespace(all, ns))
                    .cloned()
            };
            let spec = v
                .pointer("/spec/chart/spec")
                .cloned()
                .or_else(|| chart_ref("HelmChart", &helm_charts));
            let oci_repository = chart_ref("OCIRepository", &oci_repos);
            let chart_line = at(if v.pointer("/spec/chart/spec/chart").is_some() {
                "/spec/chart/spec/chart"
            } else {
                "/spec/chartRef/name"
            });
            // Where the chart is: a path of this repository (GitRepository), a chart of a
            // chart repository (HelmRepository) or an OCI registry (a HelmRepository of
            // type `oci`, an OCIRepository), pulled when the network allows it.
            let source_kind = spec
                .as_ref()
                .and_then(|s| s.pointer("/sourceRef/kind"))
                .and_then(Value::as_str);
            let chart = spec
                .as_ref()
                .and_then(|s| s.get("chart"))
                .and_then(Value::as_str);
            let ask = match (source_kind, chart, &oci_repository, chart_line) {
                (Some("GitRepository"), Some(chart), _, _) => {
                    // A GitRepository's paths are relative to the repository's root.
                    match chart_at(&files.confine.join(chart)) {
                        Some(i) => Ok((i, None, None)),
                        None => continue,
                    }
                }
                (Some("HelmRepository"), Some(chart), _, Some(line)) => {
                    let Some(spec) = &spec else { continue };
                    let ns = spec
                        .pointer("/sourceRef/namespace")
                        .and_then(Value::as_str)
                        .or(own_ns);
                    let Some(repo) = spec
                        .pointer("/sourceRef/name")
                        .and_then(Value::as_str)
                        .and_then(|n| helm_repos.get(n))
                        .and_then(|all| in_namespace(all, ns))
                    else {
                        continue;
                    };
                    let Some(url) = repo.get("url").and_then(Value::as_str) else {
                        continue;
                    };
                    let version = spec.get("version").and_then(Value::as_str).unwrap_or("*");
                    let oci = url.starts_with("oci://")
                        || repo.get("type").and_then(Value::as_str) == Some("oci");
                    let from = if oci {
                        Where::Oci {
                            reference: format!("{}/{chart}", url.trim_end_matches('/')),
                            want: Want::Version(version.to_owned()),
                        }
                    } else {
                        Where::Repository {
                            url: url.to_owned(),
                            chart: chart.to_owned(),
                            version: version.to_owned(),
                        }
                    };
                    Err((from, line))
                }
                (None, None, Some(repo), Some(line)) => {
                    let Some(url) = repo.get("url").and_then(Value::as_str) else {
                        continue;
                    };
                    let r = |k: &str| repo.pointer(&format!("/ref/{k}")).and_then(Value::as_str);
                    // source-controller: a digest, else a semver range, else a tag.
                    let want = match (r("digest"), r("semver"), r("tag")) {
                        (Some(d), _, _) => Want::Digest(d.to_owned()),
                        (None, Some(range), _) => Want::Version(range.to_owned()),
                        (None, None, tag) => Want::Tag(tag.unwrap_or("latest").to_owned()),
                    };
                    let from = Where::Oci {
                        reference: url.to_owned(),
                        want,
                    };
                    Err((from, line))
                }
                _ => continue,
            };
            let (i, chart_dir, remote_at) = match ask {
                Ok(local) => local,
                Err((from, line)) => match remote(RemoteAsk { from, at: line }) {
                    None => continue,
                    Some(Err(w)) => {
                        unpulled.push(w);
                        continue;
                    }
                    Some(Ok((i, dir))) => (i, Some(dir), Some(line)),
                },
            };
            let target = text("/spec/targetNamespace");
            let release = text("/spec/releaseName").map_or_else(
                || match target {
                    Some(t) => format!("{t}-{name}"),
                    None => name.to_owned(),
                },
                str::to_owned,
            );
            // Relative to the GitRepository's root, or to the pulled chart's.
            let values_root = chart_dir.as_deref().unwrap_or(&files.confine);
            let values_files: Vec<Source> = spec
                .as_ref()
                .and_then(|s| s.get("valuesFiles"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|f| Source::File(values_root.join(f)))
                .collect();
            let without_defaults = !values_files.is_empty();
            let mut values = Vec::new();
            let mut set = Vec::new();
            let mut notes = Vec::new();
            let from = v.pointer("/spec/valuesFrom").and_then(Value::as_array);
            for (n, r) in from.into_iter().flatten().enumerate() {
                let here = at(&format!("/spec/valuesFrom/{n}"));
                values_from(
                    r,
                    own_ns,
                    &index,
                    files,
                    here,
                    &mut values,
                    &mut set,
                    &mut notes,
                );
            }
            if v.pointer("/spec/values").is_some_and(Value::is_object) {
                values.push(Source::Embedded {
                    path: a.path.to_path_buf(),
                    doc: a.doc,
                    pointer: "/spec/values".into(),
                    base64: false,
                });
            }
            let mut all = values_files;
            all.extend(values);
            out.push(Rendering {
                chart: i,
                release,
                namespace: target.or(own_ns).unwrap_or("default").to_owned(),
                values: all,
                set,
                label,
                without_defaults,
                asked_by: Some(a.path.to_path_buf()),
                notes,
                remote: remote_at,
            });
        } else if api.starts_with("argoproj.io/") && kind == "Application" {
            // One source, or several: each whose path is a chart of this repository.
            let sources: Vec<(String, &Value)> = match v.pointer("/spec/sources") {
                Some(Value::Array(all)) => all
                    .iter()
                    .enumerate()
                    .map(|(n, s)| (format!("/spec/sources/{n}"), s))
                    .collect(),
                _ => v
                    .pointer("/spec/source")
                    .map(|s| ("/spec/source".to_owned(), s))
                    .into_iter()
                    .collect(),
            };
            for (pointer, src) in &sources {
                let remote_chart = src.get("chart").and_then(Value::as_str);
                let (i, dir, remote_at) =
                    match (remote_chart, src.get("path").and_then(Value::as_str)) {
                        // A chart of a Helm repository: `repoURL` + `chart` + `targetRevision`.
                        (Some(chart), _) => {
                            let Some(url) = src.get("repoURL").and_then(Value::as_str) else {
                                continue;
                            };
                            let Some(chart_line) = at(&format!("{pointer}/chart")) else {
                                continue;
                            };
                            let version = src
                                .get("targetRevision")
                                .and_then(Value::as_str)
                                .unwrap_or("*")
                                .to_owned();
                            // Argo CD names an OCI registry without a scheme (or `oci://`).
                            let from = if url.starts_with("https://") || url.starts_with("http://")
                            {
                                Where::Repository {
                                    url: url.to_owned(),
                                    chart: chart.to_owned(),
                                    version,
                                }
                            } else {
                                let url = url.strip_prefix("oci://").unwrap_or(url);
                                Where::Oci {
                                    reference: format!(
                                        "oci://{}/{chart}",
                                        url.trim_end_matches('/')
                                    ),
                                    want: Want::Version(version),
                                }
                            };
                            match remote(RemoteAsk {
                                from,
                                at: chart_line,
                            }) {
                                None => continue,
                                Some(Err(w)) => {
                                    unpulled.push(w);
                                    continue;
                                }
                                Some(Ok((i, dir))) => (i, dir, Some(chart_line)),
                            }
                        }
                        (None, Some(path)) => match chart_at(&files.confine.join(path)) {
                            Some(i) => (i, charts[i].dir.clone(), None),
                            None => continue,
                        },
                        (None, None) => continue,
                    };
                let helm = src.get("helm");
                let h = |p: &str| helm.and_then(|h| h.pointer(p));
                let mut values = Vec::new();
                let mut notes = Vec::new();
                let value_files = h("/valueFiles").and_then(Value::as_array);
                for (n, f) in value_files.into_iter().flatten().enumerate() {
                    let Some(f) = f.as_str() else { continue };
                    match f.strip_prefix('$').and_then(|r| r.split_once('/')) {
                        // `$values/x.yaml`: from the root of the source whose `ref` is
                        // `values`, readable when it is this repository.
                        Some((r, rest)) => {
                            let same = sources.iter().any(|(_, s)| {
                                s.get("ref").and_then(Value::as_str) == Some(r)
                                    && same_repo(s.get("repoURL"), src.get("repoURL"))
                            });
                            if same {
                                values.push(Source::File(files.confine.join(rest)));
                            } else if let Some(o) = at(&format!("{pointer}/helm/valueFiles/{n}")) {
                                notes.push(Warning {
                                    rule: "helm-values-missing",
                                    message: format!(
                                        "values file `{f}` is not in this repository (its \
                                         source `ref: {r}` names another, or none): the \
                                         chart is rendered without it"
                                    ),
                                    origin: o,
                                });
                            }
                        }
                        None => values.push(Source::File(dir.join(f))),
                    }
                }
                for key in ["values", "valuesObject"] {
                    let ok = match h(&format!("/{key}")) {
                        Some(Value::String(_)) => key == "values",
                        Some(Value::Object(_)) => true,
                        _ => false,
                    };
                    if ok {
                        values.push(Source::Embedded {
                            path: a.path.to_path_buf(),
                            doc: a.doc,
                            pointer: format!("{pointer}/helm/{key}"),
                            base64: false,
                        });
                    }
                }
                let set = h("/parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        let flag = if p.get("forceString").and_then(Value::as_bool) == Some(true) {
                            "--set-string"
                        } else {
                            "--set"
                        };
                        Some((
                            flag,
                            format!("{}={}", p.get("name")?.as_str()?, p.get("value")?.as_str()?),
                        ))
                    })
                    .collect();
                out.push(Rendering {
                    chart: i,
                    release: h("/releaseName")
                        .and_then(Value::as_str)
                        .unwrap_or(name)
                        .to_owned(),
                    namespace: text("/spec/destination/namespace")
                        .unwrap_or("default")
                        .to_owned(),
                    values,
                    set,
                    label: label.clone(),
                    without_defaults: false,
                    asked_by: Some(a.path.to_path_buf()),
                    notes,
                    remote: remote_at,
                });
            }
        }
    }
    (out, unpulled)
}

/// The object of `all` (each with the namespace it says) in namespace `ns`, else one that
/// says none (a kustomization or the cluster gives it one), or any when `ns` is unknown.
fn in_namespace<'a, T>(all: &'a [(Option<String>, T)], ns: Option<&str>) -> Option<&'a T> {
    all.iter()
        .find(|(n, _)| n.as_deref() == ns)
        .or_else(|| all.iter().find(|(n, _)| n.is_none() || ns.is_none()))
        .map(|(_, t)| t)
}

/// Whether two `repoURL`s name the same repository (`.git`, a trailing `/` and case aside).
fn same_repo(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| {
        v.and_then(Value::as_str).map(|s| {
            s.trim_end_matches('/')
                .trim_end_matches(".git")
                .to_ascii_lowercase()
        })
    };
    matches!((norm(a), norm(b)), (Some(x), Some(y)) if x == y)
}

/// The ConfigMaps and Secrets a kustomization's generators make, by the name a
/// `valuesFrom` gives them (kustomize's name reference adds the hash).
fn generated(path: &Path, docs: &[Document], index: &mut Index) {
    let Some(k) = docs.first().map(|d| &d.value) else {
        return;
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let ns = k.get("namespace").and_then(Value::as_str);
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        let gens = k.get(field).and_then(Value::as_array);
        for g in gens.into_iter().flatten() {
            let Some(name) = g.get("name").and_then(Value::as_str) else {
                continue;
            };
            let files = g
                .get("files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|f| match f.split_once('=') {
                    Some((key, file)) => (key.to_owned(), dir.join(file)),
                    None => {
                        let key = Path::new(f)
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                        (key, dir.join(f))
                    }
                })
                .collect();
            let namespace = g.get("namespace").and_then(Value::as_str).or(ns);
            index
                .entry((kind.to_owned(), name.to_owned()))
                .or_default()
                .push((namespace.map(str::to_owned), Held::Generated { files }));
        }
    }
}

/// One `valuesFrom` entry of a HelmRelease in namespace `ns`: the values it adds (a file, a
/// key of a manifest) or the `--set-string` its `targetPath` makes; a note when the
/// repository does not hold it (and it is not `optional`).
#[allow(clippy::too_many_arguments)]
fn values_from(
    r: &Value,
    ns: Option<&str>,
    index: &Index,
    files: &Files,
    here: Option<Origin>,
    values: &mut Vec<Source>,
    set: &mut Vec<(&'static str, String)>,
    notes: &mut Vec<Warning>,
) {
    let text = |k: &str| r.get(k).and_then(Value::as_str);
    let (Some(kind @ ("ConfigMap" | "Secret")), Some(name)) = (text("kind"), text("name")) else {
        return;
    };
    let key = text("valuesKey").unwrap_or("values.yaml");
    let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
    let target = text("targetPath").filter(|t| !t.is_empty());
    let mut note = |why: String| {
        if let (false, Some(origin)) = (optional, here) {
            notes.push(Warning {
                rule: "helm-values-missing",
                message: format!(
                    "valuesFrom {kind} `{name}`: {why}: the chart is rendered without it"
                ),
                origin,
            });
        }
    };
    let held = index
        .get(&(kind.to_owned(), name.to_owned()))
        .and_then(|all| in_namespace(all, ns));
    let Some(held) = held else {
        note("not found in the repository".into());
        return;
    };
    let source = match held {
        Held::Object {
            encrypted: true, ..
        } => {
            note("it is encrypted (SOPS), its values cannot be read".into());
            return;
        }
        Held::Object { path, doc, .. } => {
            let Ok(id) = files.load(path) else { return };
            let parsed = files.get(id).parsed(Reader::Kubectl, &files.limits);
            let Some(d) = parsed.documents.get(*doc) else {
                return;
            };
            let esc = key.replace('~', "~0").replace('/', "~1");
            let found = ["data", "stringData"].into_iter().find(|f| {
                d.value
                    .pointer(&format!("/{f}/{esc}"))
                    .is_some_and(Value::is_string)
            });
            let Some(field) = found else {
                note(format!("it has no key `{key}`"));
                return;
            };
            Source::Embedded {
                path: path.clone(),
                doc: *doc,
                pointer: format!("/{field}/{esc}"),
                base64: kind == "Secret" && field == "data",
            }
        }
        Held::Generated { files: made } => match made.iter().find(|(k, _)| k == key) {
            Some((_, file)) => Source::File(file.clone()),
            None => {
                note(format!("its generator makes no key `{key}` from a file"));
                return;
            }
        },
    };
    match target {
        None => values.push(source),
        Some(t) => {
            // The whole text is the value at `targetPath`.
            if let Some(v) = source_text(&source, files) {
                set.push(("--set-string", format!("{t}={}", escape_set(&v))));
            }
        }
    }
}

/// The text of a source (a file, a key of a manifest, decoded).
fn source_text(source: &Source, files: &Files) -> Option<String> {
    match super::values_of(source, files).ok()? {
        super::Values::File(id, _) => Some(files.get(id).text().to_string()),
        super::Values::Text(text, _) => Some(text),
        super::Values::Missing => None,
    }
}

/// A Secret's `data` value, decoded (whitespace ignored, as the API server does not
/// allow it but YAML folding may add it).
pub(super) fn decode(s: &str) -> Option<String> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = data_encoding::BASE64.decode(clean.as_bytes()).ok()?;
    String::from_utf8(bytes).ok()
}

/// A `--set` value taken literally: helm splits on `,` and reads `\` escapes.
fn escape_set(v: &str) -> String {
    v.replace('\\', "\\\\").replace(',', "\\,")
}

/// The YAML in the string `s`, the value at `at` of `text` (a ConfigMap's key, Argo CD's
/// `helm.values`), as a tree whose nodes point into `text`: a literal block's lines are
/// lines of the file, indented. When the string is written in any other way (quoted,
/// folded, encoded), every node is at the string.
pub(super) fn embedded_tree(s: &str, text: &str, at: Origin, files: &Files) -> Option<Node> {
    let parsed = crate::parse::yaml::parse_as(s, &files.limits, Reader::Kubectl);
    let doc = parsed.documents.first()?;
    let mut node = Node::from_document(doc, "", s, at.file)?;
    match line_map(s, text, at.value) {
        Some(map) => node.map_origins(&mut |o| Origin {
            file: o.file,
            key: o.key.and_then(|k| map.span(k)),
            value: map.span(o.value).unwrap_or(at.value),
        }),
        None => node.set_origin_deep(at),
    }
    Some(node)
}

/// Where each line of a string is in the file holding it as a literal block.
struct LineMap {
    /// Offset in the string of each line's start.
    starts: Vec<usize>,
    /// Offset in the file of each line's start; `None` for a blank line.
    at: Vec<Option<usize>>,
}

impl LineMap {
    fn offset(&self, o: usize) -> Option<usize> {
        let line = self.starts.partition_point(|&s| s <= o).checked_sub(1)?;
        Some(self.at[line]? + (o - self.starts[line]))
    }

    fn span(&self, s: Span) -> Option<Span> {
        let start = self.offset(s.start as usize)?;
        let end = self
            .offset(s.end as usize)
            .filter(|&e| e >= start)
            .unwrap_or(start + (s.end - s.start) as usize);
        Some(Span::new(start, end))
    }
}

/// The lines of `s` found one after another, each alone on its line after indentation,
/// in `text` within `within`; `None` when one is not.
fn line_map(s: &str, text: &str, within: Span) -> Option<LineMap> {
    let end = (within.end as usize).min(text.len());
    let mut cursor = (within.start as usize).min(end);
    let mut starts = Vec::new();
    let mut at = Vec::new();
    let mut offset = 0;
    for line in s.split('\n') {
        starts.push(offset);
        offset += line.len() + 1;
        if line.trim().is_empty() {
            at.push(None);
            continue;
        }
        let found = cursor + text.get(cursor..end)?.find(line)?;
        // The whole line.
        if !matches!(
            text.as_bytes().get(found + line.len()),
            None | Some(b'\n' | b'\r')
        ) {
            return None;
        }
        // Only indentation before it on its line, and not on the line before.
        let line_start = text[..found].rfind('\n').map_or(0, |i| i + 1);
        if line_start < cursor && !at.iter().all(Option::is_none) {
            return None;
        }
        if !text[line_start..found].bytes().all(|b| b == b' ') {
            return None;
        }
        at.push(Some(found));
        cursor = found + line.len();
    }
    Some(LineMap { starts, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_block_maps_each_line_onto_the_file() {
        let text = "data:\n  values.yaml: |\n    image:\n      tag: v1\n\n    replicas: 2\n";
        let s = "image:\n  tag: v1\n\nreplicas: 2\n";
        let start = text.find("|").unwrap();
        let map = line_map(s, text, Span::new(start, text.len())).unwrap();
        let at = |o: usize| map.offset(o).unwrap();
        assert_eq!(&text[at(s.find("tag").unwrap())..][..7], "tag: v1");
        assert_eq!(
            &text[at(s.find("replicas").unwrap())..][..11],
            "replicas: 2"
        );
    }

    #[test]
    fn a_quoted_string_is_not_mapped_line_by_line() {
        let text = "data:\n  values.yaml: \"image:\\n  tag: v1\\n\"\n";
        let s = "image:\n  tag: v1\n";
        let start = text.find('"').unwrap();
        assert!(line_map(s, text, Span::new(start, text.len())).is_none());
    }

    #[test]
    fn odd_strings_do_not_panic() {
        for (s, text) in [
            ("", ""),
            ("a", ""),
            ("é: 1\n", "x: |\n  é: 1\n"),
            ("a\nb", "b\na"),
            ("a: 1\na: 1", "k: |\n  a: 1\n  a: 1\n"),
        ] {
            let _ = line_map(s, text, Span::new(0, text.len()));
            let _ = line_map(s, text, Span::new(text.len(), 0));
        }
        assert_eq!(decode("aGVs\nbG8="), Some("hello".into()));
        assert_eq!(decode("not base64!"), None);
    }
}
