//! A chart pulled from an OCI registry, as `helm pull oci://…` and Flux's source-controller
//! pull it (the OCI distribution API):
//! - the version: a digest when pinned, else the tag written exactly (`+` stored as `_`),
//!   else the highest tag the constraint allows (`GET /v2/<name>/tags/list`);
//! - the manifest (`GET /v2/<name>/manifests/<tag or digest>`), whose layer of media type
//!   `application/vnd.cncf.helm.chart.content.v1.tar+gzip` is the chart archive
//!   (`GET /v2/<name>/blobs/<digest>`), checked against its digest;
//! - a registry asking for a token (`401` with `WWW-Authenticate: Bearer realm=…`) gets
//!   the anonymous pull flow: a token from the realm (its host must be allowed too), sent
//!   to the registry only. No user credentials, ever.
//!
//! The registry is spoken to over https, or over plain http when the allowed entry for its
//! host says `http://` (as Flux's `insecure: true` does). Pulled charts are cached like a chart repository's,
//! under `oci/`.

use sha2::{Digest, Sha256};
use url::Url;

use super::chart::{Pulled, hex, unpack_cached};
use super::{Error, Network, semver};

/// The media type of a Helm chart's content layer.
const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// `oci://host[:port]/path/chart`: the registry's base URL and the repository name.
fn split(reference: &str, net: &Network) -> Result<(Url, String), Error> {
    let rest = reference
        .trim()
        .strip_prefix("oci://")
        .unwrap_or(reference.trim());
    let (host, name) = rest
        .split_once('/')
        .ok_or_else(|| Error::Failed(format!("`{reference}` names no repository")))?;
    let name = name.trim_matches('/');
    if name.is_empty()
        || name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::Failed(format!("`{reference}` names no repository")));
    }
    let https = Url::parse(&format!("https://{host}/"))
        .map_err(|e| Error::Failed(format!("`{reference}`: {e}")))?;
    // Plain http when the allowed entry for the host says `http://` (a registry has no
    // scheme of its own in `oci://`), else https.
    let http = Url::parse(&format!("http://{host}/"))
        .map_err(|e| Error::Failed(format!("`{reference}`: {e}")))?;
    let base = if net.allows(&http).is_ok() {
        http
    } else {
        net.allows(&https)?;
        https
    };
    Ok((base, name.to_owned()))
}

/// Which version of a chart in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Want {
    /// A manifest digest (`sha256:…`): exactly that.
    Digest(String),
    /// A tag as written (`latest`, `6.5.0`).
    Tag(String),
    /// A version or a constraint (empty: the highest).
    Version(String),
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Want::Digest(d) => write!(f, "digest {d}"),
            Want::Tag(t) => write!(f, "tag {t}"),
            Want::Version(v) if v.trim().is_empty() => f.write_str("*"),
            Want::Version(v) => f.write_str(v),
        }
    }
}

/// Pulls chart `reference` (`oci://host/path/chart`) at `want`.
pub fn pull(net: &Network, reference: &str, want: &Want) -> Result<Pulled, Error> {
    let (wanted, digest, tag) = match want {
        Want::Digest(d) => ("", Some(d.as_str()), None),
        Want::Tag(t) => ("", None, Some(t.as_str())),
        Want::Version(v) => (v.as_str(), None, None),
    };
    let (base, name) = split(reference, net)?;
    let chart = name.rsplit('/').next().unwrap_or(&name).to_owned();
    let store = net
        .cache
        .join("oci")
        .join(short_hash(&format!("{base}{name}")));
    let wanted = wanted.trim();
    // What names one chart for good: a digest, or a version written exactly (a tag such as
    // `latest` moves).
    let pinned = digest
        .map(str::to_owned)
        .or_else(|| semver::Version::parse(wanted).map(|_| wanted.to_owned()))
        .or_else(|| {
            tag.filter(|t| semver::Version::parse(t).is_some())
                .map(str::to_owned)
        });
    if let Some(p) = &pinned
        && let Some(hit) = super::chart::from_cache(net, &store, &chart, p, reference)
    {
        return Ok(hit);
    }
    let mut session = Session {
        net,
        base: &base,
        name: &name,
        token: None,
    };
    let (reference_in_registry, version) = match (digest, tag) {
        (Some(d), _) => (d.to_owned(), d.to_owned()),
        (None, Some(t)) => (t.replace('+', "_"), t.to_owned()),
        (None, None) => {
            let exact = semver::Version::parse(wanted).is_some();
            let version = if exact {
                wanted.to_owned()
            } else {
                let tags = session.tags()?;
                semver::pick(wanted, &tags)
                    .map_err(Error::Failed)?
                    .ok_or_else(|| {
                        Error::Failed(format!(
                            "chart `{reference}` has no tag matching `{}`",
                            if wanted.is_empty() { "*" } else { wanted }
                        ))
                    })?
                    .to_owned()
            };
            (version.replace('+', "_"), version)
        }
    };
    let manifest = session.get(&format!("manifests/{reference_in_registry}"), MANIFEST)?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| Error::Failed(format!("`{reference}`: the manifest is not JSON: {e}")))?;
    let layer = manifest
        .get("layers")
        .and_then(|l| l.as_array())
        .and_then(|l| {
            l.iter()
                .find(|x| x.get("mediaType").and_then(|m| m.as_str()) == Some(CHART_LAYER))
        })
        .and_then(|l| l.get("digest").and_then(|d| d.as_str()))
        .ok_or_else(|| {
            Error::Failed(format!(
                "`{reference}:{version}` is not a Helm chart (no `{CHART_LAYER}` layer)"
            ))
        })?
        .to_owned();
    let archive = session.get(&format!("blobs/{layer}"), "*/*")?;
    let got = format!("sha256:{}", hex(&Sha256::digest(&archive)));
    if !got.eq_ignore_ascii_case(&layer) {
        return Err(Error::Failed(format!(
            "`{reference}:{version}`: the chart's digest is {got}, not the manifest's {layer}"
        )));
    }
    let key = pinned.unwrap_or_else(|| version.clone());
    let dir = unpack_cached(&store, &chart, &key, &archive, net.max_bytes)
        .map_err(|m| Error::Failed(format!("`{reference}:{version}`: {m}")))?;
    Ok(Pulled {
        dir,
        name: chart,
        version,
        url: reference.to_owned(),
    })
}

/// Requests to one repository of a registry, with the anonymous token once one is asked.
struct Session<'a> {
    net: &'a Network,
    base: &'a Url,
    name: &'a str,
    token: Option<String>,
}

impl Session<'_> {
    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(&format!("v2/{}/{path}", self.name))
            .map_err(|e| Error::Failed(e.to_string()))
    }

    /// The body at `/v2/<name>/<path>`, after the token dance when the registry asks.
    fn get(&mut self, path: &str, accept: &str) -> Result<Vec<u8>, Error> {
        let url = self.url(path)?;
        for _ in 0..2 {
            let mut headers = vec![("Accept", accept.to_owned())];
            if let Some(t) = &self.token {
                headers.push(("Authorization", format!("Bearer {t}")));
            }
            let answer = self.net.get_with(url.as_str(), &headers)?;
            if answer.status == 200 {
                return Ok(answer.body);
            }
            if self.token.is_some() {
                break;
            }
            let Some(challenge) = answer.challenge else {
                break;
            };
            self.token = Some(self.anonymous_token(&challenge)?);
        }
        Err(Error::Failed(format!(
            "`{url}`: the registry refuses anonymous pulls (private charts need credentials, \
             which kubegate does not send)"
        )))
    }

    /// A token for pulling, from the realm of `challenge` (`Bearer realm="…",service="…"`).
    fn anonymous_token(&self, challenge: &str) -> Result<String, Error> {
        let params = bearer_params(challenge).ok_or_else(|| {
            Error::Failed(format!(
                "`{}`: unsupported authentication `{challenge}`",
                self.base
            ))
        })?;
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Error::Failed(format!("`{}`: no token realm", self.base)))?;
        let mut url =
            Url::parse(&realm).map_err(|e| Error::Failed(format!("token realm `{realm}`: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &format!("repository:{}:pull", self.name));
        }
        let answer = self.net.get_with(url.as_str(), &[])?;
        if answer.status != 200 {
            return Err(Error::Failed(format!("`{url}`: no anonymous token")));
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::Failed(format!("`{url}`: the token is not JSON: {e}")))?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| Error::Failed(format!("`{url}`: no token in the answer")))
    }

    /// Every tag of the repository that reads as a version (`_` for `+`), following
    /// pagination (`Link: <…>; rel="next"` is not needed: `n` is asked large).
    fn tags(&mut self) -> Result<Vec<String>, Error> {
        let body = self.get("tags/list?n=10000", "application/json")?;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Failed(format!("the tag list is not JSON: {e}")))?;
        Ok(json
            .get("tags")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .map(|t| t.replace('_', "+"))
            .collect())
    }
}

/// The parameters of a `Bearer` challenge.
fn bearer_params(challenge: &str) -> Option<Vec<(String, String)>> {
    let rest = challenge.trim().strip_prefix("Bearer ")?;
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.push((key.trim().to_ascii_lowercase(), value.to_owned()));
        s = next.trim_start_matches([',', ' ']).trim();
    }
    Some(out)
}

fn short_hash(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read() {
        let p = bearer_params(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.example.com/token".into())
        );
        assert_eq!(p[1], ("service".into(), "registry.example.com".into()));
        assert_eq!(p.len(), 3);
        assert!(bearer_params("Basic realm=x").is_none());
    }
}
