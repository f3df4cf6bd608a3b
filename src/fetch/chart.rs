//! A chart pulled from a Helm chart repository (an HTTP `index.yaml` and its archives), as
//! Flux's source-controller and `helm pull --repo` pull it:
//! - the index is `<repository URL>/index.yaml` (query kept);
//! - the version is the one written exactly, else the highest the constraint allows
//!   ([`super::semver::pick`]);
//! - the archive is `urls[0]` of that entry, resolved against the repository URL (an
//!   absolute URL may name another host: it must be allowed too);
//! - its SHA-256 must equal the entry's `digest` when the index gives one.
//!
//! Pulled charts are unpacked into the cache, under the repository URL's hash, as
//! `<name>-<version>/`: a pinned version already there needs no request at all.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::{Error, Fetch, Network, archive, semver};

/// A chart ready to render: its directory (holding `Chart.yaml`) and what it is.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub dir: PathBuf,
    pub name: String,
    pub version: String,
    /// The archive's URL, or the repository's when it came from the cache.
    pub url: String,
}

/// Pulls chart `name` at `wanted` (a version or a constraint; empty is `*`) from the chart
/// repository at `repo`.
pub fn pull(net: &Network, repo: &str, name: &str, wanted: &str) -> Result<Pulled, Error> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || name.starts_with('.')
    {
        return Err(Error::Failed(format!("`{name}` is not a chart name")));
    }
    let repo_url = Url::parse(repo.trim())
        .map_err(|e| Error::Failed(format!("`{repo}` is not a URL: {e}")))?;
    let base = with_trailing_slash(&repo_url);
    let store = net.cache.join("charts").join(short_hash(base.as_str()));
    let wanted = wanted.trim();
    // A pinned version already unpacked: no request.
    let from_cache = |version: &str| {
        from_cache(
            net,
            &store,
            name,
            version,
            &format!("{base} {name}@{version}"),
        )
    };
    if semver::Version::parse(wanted).is_some()
        && let Some(p) = from_cache(wanted)
    {
        return Ok(p);
    }
    // Refused before anything is sent when the repository itself is not allowed.
    net.allows(&base)?;
    let mut index_url = base
        .join("index.yaml")
        .map_err(|e| Error::Failed(e.to_string()))?;
    index_url.set_query(repo_url.query());
    let index = net.get_once(index_url.as_str())?;
    let entries =
        entries(&index, name).map_err(|m| Error::Failed(format!("`{index_url}`: {m}")))?;
    let versions: Vec<String> = entries.iter().map(|e| e.version.clone()).collect();
    let version = semver::pick(wanted, &versions)
        .map_err(Error::Failed)?
        .ok_or_else(|| {
            Error::Failed(format!(
                "chart `{name}` has no version matching `{}` in `{index_url}` (it has {})",
                if wanted.is_empty() { "*" } else { wanted },
                listed(&versions)
            ))
        })?
        .to_owned();
    let entry = entries
        .iter()
        .find(|e| e.version == version)
        .ok_or_else(|| Error::Failed("index changed under us".into()))?;
    if let Some(p) = from_cache(&version) {
        return Ok(p);
    }
    let Some(first) = entry.urls.first() else {
        return Err(Error::Failed(format!(
            "`{index_url}`: chart `{name}` {version} lists no download URL"
        )));
    };
    let archive_url = base
        .join(first)
        .map_err(|e| Error::Failed(format!("`{first}` in `{index_url}`: {e}")))?;
    let bytes = net.get(archive_url.as_str())?;
    if let Some(want) = &entry.digest {
        let got = hex(&Sha256::digest(&bytes));
        if !got.eq_ignore_ascii_case(want) {
            return Err(Error::Failed(format!(
                "`{archive_url}`: SHA-256 {got} is not the digest {want} the index gives"
            )));
        }
    }
    let dir = unpack_cached(&store, name, &version, &bytes, net.max_bytes)
        .map_err(|m| Error::Failed(format!("`{archive_url}`: {m}")))?;
    Ok(Pulled {
        dir,
        name: name.to_owned(),
        version,
        url: archive_url.to_string(),
    })
}

/// One version of a chart in an index.
#[derive(Debug)]
struct Entry {
    version: String,
    urls: Vec<String>,
    digest: Option<String>,
}

/// The versions of chart `name` in an `index.yaml` (entries without a version skipped, as
/// helm skips invalid entries).
fn entries(index: &[u8], name: &str) -> Result<Vec<Entry>, String> {
    let text = std::str::from_utf8(index).map_err(|_| "the index is not UTF-8".to_owned())?;
    let (docs, issues) = crate::parse::yaml::parse(text, &crate::parse::Limits::default());
    if let Some(i) = issues.first() {
        return Err(format!("the index is not valid YAML: {}", i.message));
    }
    let Some(doc) = docs.first() else {
        return Err("the index is empty".into());
    };
    if doc
        .value
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err("the index has no apiVersion: not a chart repository index".into());
    }
    let list = doc
        .value
        .pointer(&format!(
            "/entries/{}",
            name.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no chart `{name}` in the index"))?;
    Ok(list
        .iter()
        .filter_map(|e| {
            let version = match e.get("version")? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let urls = e
                .get("urls")
                .and_then(Value::as_array)
                .map(|u| {
                    u.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let digest = e
                .get("digest")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(|d| d.trim_start_matches("sha256:").to_owned());
            Some(Entry {
                version,
                urls,
                digest,
            })
        })
        .collect())
}

/// Chart `name` at `version` from `store` when unpacked there (logged as a cache hit of
/// `shown`), with no request.
pub(crate) fn from_cache(
    net: &Network,
    store: &Path,
    name: &str,
    version: &str,
    shown: &str,
) -> Option<Pulled> {
    let dir = cached(store, name, version)?;
    net.record(Fetch {
        url: shown.to_owned(),
        outcome: "cached",
        bytes: 0,
        detail: Some(format!("version {version}")),
    });
    Some(Pulled {
        dir,
        name: name.to_owned(),
        version: version.to_owned(),
        url: shown.to_owned(),
    })
}

/// The chart directory of `name` `version` in `store`, when unpacked there.
fn cached(store: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let dir = store.join(entry_dir(name, version)?).join(name);
    dir.join("Chart.yaml").is_file().then_some(dir)
}

/// `<name>-<version>`, when both are safe as one path component.
fn entry_dir(name: &str, version: &str) -> Option<String> {
    let safe = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    };
    // A digest (`sha256:…`) names its entry with `-` for `:`.
    let version = version.replace(':', "-");
    (safe(name) && safe(&version)).then(|| format!("{name}-{version}"))
}

/// Unpacks the archive into the store, atomically: a half-written chart is never seen.
pub(crate) fn unpack_cached(
    store: &Path,
    name: &str,
    version: &str,
    tgz: &[u8],
    max: u64,
) -> Result<PathBuf, String> {
    let entry =
        entry_dir(name, version).ok_or_else(|| format!("version `{version}` cannot be cached"))?;
    std::fs::create_dir_all(store).map_err(|e| format!("cache {}: {e}", store.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(store)
        .map_err(|e| format!("cache {}: {e}", store.display()))?;
    let tar = super::gzip::gunzip(tgz, max)?;
    archive::unpack(&tar, tmp.path(), max)?;
    if !tmp.path().join(name).join("Chart.yaml").is_file() {
        return Err(format!("the archive holds no `{name}/Chart.yaml`"));
    }
    let final_dir = store.join(&entry);
    match std::fs::rename(tmp.path(), &final_dir) {
        Ok(()) => {
            // Renamed away: nothing left for the guard to remove.
            let _ = tmp.keep();
        }
        // Another run unpacked it meanwhile: theirs is as good.
        Err(_) if final_dir.join(name).join("Chart.yaml").is_file() => {}
        Err(e) => return Err(format!("cache {}: {e}", final_dir.display())),
    }
    Ok(final_dir.join(name))
}

fn with_trailing_slash(u: &Url) -> Url {
    let mut u = u.clone();
    u.set_query(None);
    u.set_fragment(None);
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    u
}

fn short_hash(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))[..16].to_owned()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn listed(versions: &[String]) -> String {
    match versions.len() {
        0 => "none".into(),
        n if n <= 5 => versions.join(", "),
        n => format!("{}, … ({n} in all)", versions[..5].join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entries_are_read_as_helm_reads_them() {
        let index = br#"apiVersion: v1
entries:
  podinfo:
  - version: 6.5.0
    urls: [podinfo-6.5.0.tgz]
    digest: sha256:abc
  - version: 6.4.0
    urls: ["https://elsewhere.example/podinfo-6.4.0.tgz"]
  - name: no version here
  other:
  - version: 1.0.0
"#;
        let e = entries(index, "podinfo").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].digest.as_deref(), Some("abc"));
        assert_eq!(e[1].urls[0], "https://elsewhere.example/podinfo-6.4.0.tgz");
        assert!(entries(index, "missing").unwrap_err().contains("no chart"));
        assert!(
            entries(b"entries: {}\n", "x")
                .unwrap_err()
                .contains("apiVersion")
        );
    }

    #[test]
    fn cache_names_are_single_safe_components() {
        assert_eq!(
            entry_dir("podinfo", "6.5.0+build.1").as_deref(),
            Some("podinfo-6.5.0+build.1")
        );
        assert_eq!(entry_dir("podinfo", "../x"), None);
        assert_eq!(entry_dir("..", "1.0.0"), None);
        assert_eq!(
            with_trailing_slash(&Url::parse("https://h/a/b?x=1").unwrap()).as_str(),
            "https://h/a/b/"
        );
    }
}
