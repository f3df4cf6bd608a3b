//! `xtask crds`: the catalog of CustomResourceDefinitions embedded in kubegate
//! (`schemas/crds.json.gz`, listed in `schemas/crds-SOURCES.md`), the last fallback for
//! custom resources whose CRD the repository does not hold.
//!
//! Inputs are read with `git` straight from local git mirrors of the upstream repositories
//! (bare or not), one per [`SOURCES`] entry, at the pinned commit: nothing is downloaded
//! and no checkout is needed. A mirror of `owner/name` is looked up under the mirrors
//! directory (`--mirrors DIR`, else `$KUBEGATE_CRD_MIRRORS`, else `/work/.mirror`) as
//! `owner+name/repo`, `owner+name` or `owner/name`. The upstream files are not committed
//! (tens of MB); `--check` regenerates from the mirrors and compares bytes, and a test
//! checks the committed catalog names exactly the pins of [`SOURCES`].
//!
//! Only `apiextensions.k8s.io/v1` CRDs are kept, and of each only what validation reads:
//! group, kind, and per version its name, `served`, `deprecated`, `deprecationWarning`
//! and `openAPIV3Schema`. In the schemas, `description` keywords are dropped (most of the
//! size); every other keyword, the `status` subtree included, is kept as is. Output is
//! sorted (kinds by group and kind, object keys by name) and compressed with zlib-rs at a
//! fixed level, so regeneration gives identical bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Where the catalog goes, relative to the workspace root.
pub const OUTPUT: &str = "schemas/crds.json.gz";
/// Its human-readable list of sources and kinds.
pub const LISTING: &str = "schemas/crds-SOURCES.md";
/// The mirrors directory when neither `--mirrors` nor `$KUBEGATE_CRD_MIRRORS` is given.
pub const DEFAULT_MIRRORS: &str = "/work/.mirror";

/// One upstream project at a pinned commit.
pub struct Source {
    /// What `kubegate crds` shows (`flux-source-controller`).
    pub project: &'static str,
    /// `owner/name` on GitHub.
    pub repository: &'static str,
    /// The pin: a full commit id.
    pub commit: &'static str,
    /// `git describe --tags` at the pin (the snapshots are default-branch commits, so this
    /// says how far past which tag), for people; the commit is what counts.
    pub version: &'static str,
    /// SPDX, from the repository's LICENSE.
    pub licence: &'static str,
    /// Files, or directories (ending in `/`: every `*.yaml` directly in it), at the pin.
    /// Documents that are not v1 CRDs are skipped.
    pub paths: &'static [&'static str],
}

/// The pinned sources. A kind defined twice is an error: each kind has one source.
///
/// Notes on the choices:
/// - Flux: fluxcd/flux2 does not bundle the CRDs (its `manifests/crds/kustomization.yaml`
///   points at each controller's release assets), so each controller's repository is
///   pinned and its `config/crd/bases` read.
/// - cert-manager: `deploy/crds` (plain YAML), not the Helm chart templates.
/// - Gateway API: the experimental channel only. It defines every standard kind too, with
///   the same group and kind (a catalog holds one CRD per kind), as a superset: standard
///   manifests validate against it, experimental ones would fail against standard.
/// - Kyverno: the policy CRDs (`kyverno.io`, `policies.kyverno.io`); the report CRDs are
///   written by the controller, not kept in Git.
/// - Istio: every CRD of the base chart's `crd-all.gen.yaml` (networking, security,
///   telemetry, extensions).
pub const SOURCES: &[Source] = &[
    Source {
        project: "argo-cd",
        repository: "argoproj/argo-cd",
        commit: "37ee0097cf851bc2dd7665fc081bbce61a7e836e",
        version: "v0.8.0-10899-g37ee0097cf",
        licence: "Apache-2.0",
        paths: &[
            "manifests/crds/application-crd.yaml",
            "manifests/crds/applicationset-crd.yaml",
            "manifests/crds/appproject-crd.yaml",
        ],
    },
    Source {
        project: "cert-manager",
        repository: "cert-manager/cert-manager",
        commit: "2d0d7f7f74241a9cbf79f0e2a7bb247238ee09fd",
        version: "v1.21.0-beta.0-212-g2d0d7f7f7",
        licence: "Apache-2.0",
        paths: &["deploy/crds/"],
    },
    Source {
        project: "external-secrets",
        repository: "external-secrets/external-secrets",
        commit: "cc5bfbc2234ace9cb0caff4ea89c435cf517b27b",
        version: "v2.9.0-1-gcc5bfbc22",
        licence: "Apache-2.0",
        paths: &["config/crds/bases/"],
    },
    Source {
        project: "flux-helm-controller",
        repository: "fluxcd/helm-controller",
        commit: "0f61a8607a62be64638f2f912d9487e653960a6e",
        version: "v1.6.0-21-g0f61a86",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-image-automation-controller",
        repository: "fluxcd/image-automation-controller",
        commit: "d36e2ea07a3973a0e8ace7678d933a89b76f9dda",
        version: "v1.2.0-13-gd36e2ea",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-image-reflector-controller",
        repository: "fluxcd/image-reflector-controller",
        commit: "debe2aaa3a98ad3ca69e178638402a5a0feec4a6",
        version: "v1.2.0-7-gdebe2aa",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-kustomize-controller",
        repository: "fluxcd/kustomize-controller",
        commit: "186fb3b29138ce82ff61ba1a9370b96a3dd598fe",
        version: "v1.9.0-36-g186fb3b",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-notification-controller",
        repository: "fluxcd/notification-controller",
        commit: "2e46958a67f3af0e3e755a4fcaf7397d5803725e",
        version: "v1.9.0-37-g2e46958",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-source-controller",
        repository: "fluxcd/source-controller",
        commit: "39b711b111fa906c3db0a424e252a5d12e48646d",
        version: "v1.9.0-13-g39b711b1",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "flux-source-watcher",
        repository: "fluxcd/source-watcher",
        commit: "825fa15baf96858578d8dd0ed3c75ff7a75f01ce",
        version: "v2.2.0-12-g825fa15",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "gateway-api-experimental",
        repository: "kubernetes-sigs/gateway-api",
        commit: "4564255ac2c35d582249b3cdf261bdf51c8bca32",
        version: "v1.3.0-754-g4564255ac",
        licence: "Apache-2.0",
        paths: &["config/crd/experimental/"],
    },
    Source {
        project: "istio",
        repository: "istio/istio",
        commit: "86c9f01fd735fb01d8192f5bcaf0d424afb7f14c",
        version: "1.31.0-alpha.0-109-g86c9f01fd73",
        licence: "Apache-2.0",
        paths: &["manifests/charts/base/files/crd-all.gen.yaml"],
    },
    Source {
        project: "keda",
        repository: "kedacore/keda",
        commit: "8b4f083ca8c8c2baf8477e322bd4d16ac4dfa09a",
        version: "v2.20.1-117-g8b4f083ca",
        licence: "Apache-2.0",
        paths: &["config/crd/bases/"],
    },
    Source {
        project: "kyverno",
        repository: "kyverno/kyverno",
        commit: "111e07bbecc66abfde36ab99969af22d7a961003",
        version: "v1.5.0-rc1-6476-g111e07bbec",
        licence: "Apache-2.0",
        paths: &["config/crds/kyverno/", "config/crds/policies.kyverno.io/"],
    },
    Source {
        project: "prometheus-operator",
        repository: "prometheus-operator/prometheus-operator",
        commit: "6adcebc5076c34f4f55f8f5f7b1e528929373ac7",
        version: "v0.93.0-24-g6adcebc50",
        licence: "Apache-2.0",
        paths: &["example/prometheus-operator-crd/"],
    },
    Source {
        project: "sealed-secrets",
        repository: "bitnami-labs/sealed-secrets",
        commit: "86671a8851be1e6c2dfef4e12e2d7c19ed24ac94",
        version: "v0.36.6-7-g86671a88",
        licence: "Apache-2.0",
        paths: &["helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"],
    },
];

/// The catalog, as committed: compressed bytes, and the listing.
pub struct Generated {
    pub compressed: Vec<u8>,
    pub json_len: usize,
    pub listing: String,
    pub kinds: usize,
}

/// The mirrors directory: `--mirrors DIR`, else `$KUBEGATE_CRD_MIRRORS`, else the default.
pub fn mirrors_dir(flag: Option<&str>) -> PathBuf {
    flag.map(PathBuf::from)
        .or_else(|| std::env::var_os("KUBEGATE_CRD_MIRRORS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MIRRORS))
}

fn mirror(mirrors: &Path, repository: &str) -> Result<PathBuf, String> {
    let (owner, name) = repository
        .split_once('/')
        .ok_or_else(|| format!("`{repository}` is not owner/name"))?;
    let candidates = [
        mirrors.join(format!("{owner}+{name}")).join("repo"),
        mirrors.join(format!("{owner}+{name}")),
        mirrors.join(owner).join(name),
    ];
    candidates
        .iter()
        .find(|c| c.is_dir())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no mirror of {repository} under {} (looked for {owner}+{name}/repo, \
                 {owner}+{name}, {owner}/{name})",
                mirrors.display()
            )
        })
}

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// The files of `source` at its pin, directories expanded, in order.
fn files(repo: &Path, source: &Source) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for path in source.paths {
        if path.ends_with('/') {
            let listing = git(repo, &["ls-tree", "--name-only", source.commit, path])?;
            let mut found: Vec<String> = String::from_utf8_lossy(&listing)
                .lines()
                .filter(|f| f.ends_with(".yaml") && !f.ends_with("/kustomization.yaml"))
                .map(str::to_owned)
                .collect();
            if found.is_empty() {
                return Err(format!("{}: no YAML files in {path}", source.repository));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push((*path).to_owned());
        }
    }
    Ok(out)
}

/// Drops the `description` keyword from a schema node and every schema below it. Keys of
/// `properties` are field names (a field may be called `description`) and `default`,
/// `enum`, `example` hold data: only schema positions are visited.
pub fn strip_descriptions(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    m.remove("description");
    for (key, value) in m.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                for v in value.as_object_mut().into_iter().flatten().map(|(_, v)| v) {
                    strip_descriptions(v);
                }
            }
            "additionalProperties" | "items" | "not" | "additionalItems" => {
                if let Value::Array(items) = value {
                    items.iter_mut().for_each(strip_descriptions);
                } else {
                    strip_descriptions(value);
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                for v in value.as_array_mut().into_iter().flatten() {
                    strip_descriptions(v);
                }
            }
            _ => {}
        }
    }
}

/// The part of a CRD version validation reads, descriptions dropped.
fn version(v: &Value) -> Option<Value> {
    let mut out = Map::new();
    out.insert("name".into(), v.get("name")?.clone());
    out.insert(
        "served".into(),
        Value::Bool(v.get("served").and_then(Value::as_bool).unwrap_or(false)),
    );
    if v.get("deprecated").and_then(Value::as_bool) == Some(true) {
        out.insert("deprecated".into(), Value::Bool(true));
        if let Some(w) = v.get("deprecationWarning").filter(|w| w.is_string()) {
            out.insert("deprecationWarning".into(), w.clone());
        }
    }
    if let Some(schema) = v.pointer("/schema/openAPIV3Schema") {
        let mut schema = schema.clone();
        strip_descriptions(&mut schema);
        out.insert("schema".into(), json!({ "openAPIV3Schema": schema }));
    }
    Some(Value::Object(out))
}

/// Generates the catalog from the mirrors.
pub fn generate(mirrors: &Path) -> Result<Generated, String> {
    // (group, kind) -> (source index, spec)
    let mut kinds: BTreeMap<(String, String), (usize, Value, String)> = BTreeMap::new();
    for (i, source) in SOURCES.iter().enumerate() {
        let repo = mirror(mirrors, source.repository)?;
        git(
            &repo,
            &["cat-file", "-e", &format!("{}^{{commit}}", source.commit)],
        )
        .map_err(|e| format!("{}: pinned commit missing: {e}", source.repository))?;
        let mut found = 0;
        for file in files(&repo, source)? {
            let bytes = git(&repo, &["show", &format!("{}:{file}", source.commit)])?;
            let text = String::from_utf8(bytes)
                .map_err(|e| format!("{}:{file}: not UTF-8: {e}", source.repository))?;
            for doc in yaml_serde::Deserializer::from_str(&text) {
                let doc = Value::deserialize(doc)
                    .map_err(|e| format!("{}:{file}: {e}", source.repository))?;
                if doc.get("apiVersion").and_then(Value::as_str) != Some("apiextensions.k8s.io/v1")
                    || doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition")
                {
                    continue;
                }
                let text = |p: &str| doc.pointer(p).and_then(Value::as_str);
                let (Some(group), Some(kind)) = (text("/spec/group"), text("/spec/names/kind"))
                else {
                    return Err(format!(
                        "{}:{file}: a CRD without group or kind",
                        source.repository
                    ));
                };
                let versions: Vec<Value> = doc
                    .pointer("/spec/versions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(version)
                    .collect();
                let spec = json!({
                    "group": group,
                    "names": { "kind": kind },
                    "versions": versions,
                });
                let key = (group.to_owned(), kind.to_owned());
                let at = format!("{}:{file}", source.repository);
                if let Some((_, _, first)) = kinds.get(&key) {
                    return Err(format!("{kind}.{group} is defined twice: {first} and {at}"));
                }
                kinds.insert(key, (i, spec, at));
                found += 1;
            }
        }
        if found == 0 {
            return Err(format!(
                "{}: no v1 CRDs in {:?}",
                source.repository, source.paths
            ));
        }
    }
    let sources: Vec<Value> = SOURCES
        .iter()
        .map(|s| {
            json!({
                "project": s.project,
                "repository": s.repository,
                "commit": s.commit,
                "version": s.version,
                "licence": s.licence,
                "paths": s.paths,
            })
        })
        .collect();
    let crds: Vec<Value> = kinds
        .values()
        .map(|(i, spec, _)| json!({ "source": i, "spec": spec }))
        .collect();
    let document = json!({
        "generator": "xtask crds",
        "sources": sources,
        "crds": crds,
    });
    // Compact: the catalog is read by kubegate, people read the listing. serde_json's
    // maps are sorted (no `preserve_order`), so the bytes are stable.
    let text = serde_json::to_string(&document).map_err(|e| e.to_string())?;
    Ok(Generated {
        compressed: gzip(text.as_bytes())?,
        json_len: text.len(),
        listing: listing(&kinds),
        kinds: kinds.len(),
    })
}

fn listing(kinds: &BTreeMap<(String, String), (usize, Value, String)>) -> String {
    let mut out = String::from(
        "# Embedded CRD catalog: sources\n\n\
         Generated by `cargo run -p xtask -- crds` (do not edit). The CRDs below are \
         embedded in kubegate,\n\
         descriptions removed, as `schemas/crds.json.gz`; each stays under its upstream \
         licence.\n\
         The pins are default-branch snapshots: `version` is `git describe --tags` at the \
         commit.\n\n\
         | project | repository | commit | version | licence | paths | kinds |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (i, s) in SOURCES.iter().enumerate() {
        let n = kinds.values().filter(|(j, _, _)| *j == i).count();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {n} |\n",
            s.project,
            s.repository,
            s.commit,
            s.version,
            s.licence,
            s.paths.join(", ")
        ));
    }
    out.push_str("\n| kind | group | versions (served) | project |\n| --- | --- | --- | --- |\n");
    for ((group, kind), (i, spec, _)) in kinds {
        let versions: Vec<&str> = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"] == Value::Bool(true))
            .filter_map(|v| v["name"].as_str())
            .collect();
        out.push_str(&format!(
            "| {kind} | {group} | {} | {} |\n",
            versions.join(", "),
            SOURCES[*i].project
        ));
    }
    out
}

/// gzip (one member, no name, mtime 0) at level 9, with zlib-rs.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let config = zlib_rs::DeflateConfig {
        level: 9,
        window_bits: 31,
        ..Default::default()
    };
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    let (written, rc) = zlib_rs::compress_slice(&mut out, data, config);
    if rc != zlib_rs::ReturnCode::Ok {
        return Err(format!("gzip encoding failed: {rc:?}"));
    }
    let n = written.len();
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_dropped_only_as_keywords() {
        let mut s = json!({
            "description": "x", "type": "object",
            "properties": {
                "description": {"type": "string", "description": "a field called description"},
                "list": {"type": "array", "items": {"type": "object", "description": "y",
                    "default": {"description": "data"}}},
                "any": {"anyOf": [{"description": "z"}], "additionalProperties": {"description": "w"}}
            }
        });
        strip_descriptions(&mut s);
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object",
                        "default": {"description": "data"}}},
                    "any": {"anyOf": [{}], "additionalProperties": {}}
                }
            })
        );
    }

    #[test]
    fn gzip_is_deterministic_and_readable() {
        let data = b"{\"a\": 1}".repeat(100);
        let a = gzip(&data).unwrap();
        assert_eq!(a, gzip(&data).unwrap());
        assert_eq!(crate::gzip::gunzip(&a, crate::MAX_GUNZIP).unwrap(), data);
    }

    /// The committed catalog names exactly the pins of [`SOURCES`] (the upstream files are
    /// not in the repository; `xtask crds --check` regenerates from the mirrors).
    #[test]
    fn committed_catalog_matches_the_pins() {
        let root = crate::workspace_root();
        let bytes = std::fs::read(root.join(OUTPUT)).expect("the catalog is committed");
        let text = crate::gzip::gunzip(&bytes, crate::MAX_GUNZIP).expect("gzip");
        let doc: Value = serde_json::from_slice(&text).expect("JSON");
        let sources = doc["sources"].as_array().expect("sources");
        assert_eq!(sources.len(), SOURCES.len());
        for (got, want) in sources.iter().zip(SOURCES) {
            assert_eq!(got["repository"], want.repository);
            assert_eq!(got["commit"], want.commit);
            assert_eq!(got["version"], want.version);
            assert_eq!(got["licence"], want.licence);
            assert_eq!(got["project"], want.project);
            assert_eq!(got["paths"], json!(want.paths));
        }
        let listing = std::fs::read_to_string(root.join(LISTING)).expect("listing committed");
        for s in SOURCES {
            assert!(
                listing.contains(s.commit),
                "{LISTING} lacks {}",
                s.repository
            );
        }
    }

    /// Regenerates from the mirrors when they are on this machine and compares bytes.
    #[test]
    fn regeneration_gives_identical_bytes() {
        let mirrors = mirrors_dir(None);
        if !mirrors.is_dir() {
            println!("note: no mirrors at {}; skipping", mirrors.display());
            return;
        }
        let generated = match generate(&mirrors) {
            Ok(g) => g,
            Err(e) if e.starts_with("no mirror of") => {
                println!("note: {e}; skipping");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let root = crate::workspace_root();
        assert!(std::fs::read(root.join(OUTPUT)).unwrap() == generated.compressed);
        assert_eq!(
            std::fs::read_to_string(root.join(LISTING)).unwrap(),
            generated.listing
        );
    }
}
