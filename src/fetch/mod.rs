//! What a repository pins on the network, fetched only when allowed (`--allow-host`,
//! `network.allowHosts`): Helm charts from chart repositories, for now.
//!
//! Off by default. When on, every request goes through [`Network::get`], which enforces the
//! whole policy itself rather than trusting the HTTP client's defaults:
//! - the host (and port) must match an allowed entry; `https` only, unless the entry says
//!   `http://`;
//! - redirects are followed by hand, each hop checked like the first (ureq's own are off);
//! - every response is bounded in size ([`Network::max_bytes`]) and in time
//!   ([`Network::timeout`], from DNS to the last byte);
//! - no credentials are ever sent.
//!
//! What is fetched is cached on disk ([`Network::cache`]) under a name made of what was
//! asked for, and every request (or cache hit) is logged for the reports ([`Fetch`]).

pub mod archive;
pub mod chart;
pub mod gzip;
pub mod kustomize;
pub mod oci;
pub mod semver;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use serde::Serialize;
use url::Url;

/// Redirects followed for one request before giving up.
const MAX_REDIRECTS: usize = 5;

/// One allowed host: `[http://|https://]HOST[:PORT]`, `HOST` a glob (`*.example.com`).
#[derive(Debug, Clone)]
pub struct HostRule {
    /// The entry as written.
    pub text: String,
    /// Plain HTTP is allowed too (the entry starts with `http://`).
    http: bool,
    host: GlobMatcher,
    /// `None`: any port.
    port: Option<u16>,
}

impl HostRule {
    /// Parses an entry of `--allow-host` or `network.allowHosts`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let text = entry.trim();
        let (http, rest) = if let Some(r) = text.strip_prefix("http://") {
            (true, r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (false, r)
        } else {
            (false, text)
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty()
            || rest.contains(['/', '?', '#', '@'])
            || rest.contains(char::is_whitespace)
        {
            return Err(format!(
                "`{entry}` is not a host: give `HOST`, `HOST:PORT` or `http://HOST[:PORT]` \
                 (HOST may be a glob such as `*.example.com`)"
            ));
        }
        // `[::1]:8080`, `[::1]`, `host:8080`, `host:*`, `host`.
        let (host, port) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => match p.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None => return Err(format!("`{entry}`: a port must follow `]:`")),
                },
                None => return Err(format!("`{entry}`: `[` without `]`")),
            },
            None => match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (rest, None),
            },
        };
        let port = match port {
            None | Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`{entry}`: `{p}` is not a port"))?,
            ),
        };
        let host = Glob::new(&host.to_ascii_lowercase())
            .map_err(|e| format!("`{entry}`: {e}"))?
            .compile_matcher();
        Ok(Self {
            text: text.to_owned(),
            http,
            host,
            port,
        })
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.host.is_match(host.to_ascii_lowercase())
            && self
                .port
                .is_none_or(|p| url.port_or_known_default() == Some(p))
            && (url.scheme() == "https" || (url.scheme() == "http" && self.http))
    }
}

/// A body, or why there is none.
type Once = Result<std::sync::Arc<[u8]>, Error>;

/// What a server answered: `200` with its body, or `401` with its challenge.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `WWW-Authenticate`, on a `401`.
    pub challenge: Option<String>,
    pub body: Vec<u8>,
}

/// One request made, or answered from the cache, for the reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fetch {
    /// What was asked for: a URL, or `<repository URL> <chart>@<version>`.
    pub url: String,
    /// `fetched`, `cached`, `refused` or `failed`.
    pub outcome: &'static str,
    /// Bytes received (0 from the cache or when nothing came).
    pub bytes: u64,
    /// Why, when refused or failed; the version picked, when fetched or cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Why a request was not made or did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The policy forbids it (host, scheme, redirect): nothing was sent there.
    Refused(String),
    /// It was tried and failed (network, status, size, time, content).
    Failed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}

/// The network as a run may use it.
#[derive(Debug)]
pub struct Network {
    pub rules: Vec<HostRule>,
    /// From the first byte asked to the last received, per request (redirects included).
    pub timeout: Duration,
    /// The most one response may hold.
    pub max_bytes: u64,
    /// Where fetched things are kept between runs.
    pub cache: PathBuf,
    agent: ureq::Agent,
    log: Mutex<Vec<Fetch>>,
    /// What [`Self::get_once`] got, by URL: a chart repository's index is read once a run
    /// however many objects name its charts.
    once: Mutex<std::collections::HashMap<String, Once>>,
    /// Remote kustomize entries, each fetched once a run ([`kustomize::pull`]).
    bases: Mutex<std::collections::HashMap<String, std::sync::Arc<Pulling>>>,
}

/// A remote kustomize entry being fetched, or fetched.
type Pulling = std::sync::OnceLock<Result<kustomize::Pulled, Error>>;

impl Network {
    pub fn new(rules: Vec<HostRule>, timeout: Duration, max_bytes: u64, cache: PathBuf) -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("kubegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            rules,
            timeout,
            max_bytes,
            cache,
            agent,
            log: Mutex::new(Vec::new()),
            once: Mutex::default(),
            bases: Mutex::default(),
        }
    }

    /// The rule allowing `url`, or why none does.
    pub fn allows(&self, url: &Url) -> Result<(), Error> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::Refused(format!(
                "`{url}`: only https (or http where allowed) is fetched"
            )));
        }
        if self.rules.iter().any(|r| r.matches(url)) {
            return Ok(());
        }
        let host = url.host_str().unwrap_or("");
        let https_would = url.scheme() == "http"
            && self.rules.iter().any(|r| {
                let mut u = url.clone();
                u.set_scheme("https").is_ok() && r.matches(&u)
            });
        Err(Error::Refused(if https_would {
            format!(
                "`{url}`: host `{host}` is allowed over https only (allow `http://{host}` to \
                 fetch it over plain http)"
            )
        } else {
            format!("`{url}`: host `{host}` is not among the allowed hosts (--allow-host)")
        }))
    }

    /// The body of `url`, following allowed redirects; bounded in size and time.
    pub fn get(&self, url: &str) -> Result<Vec<u8>, Error> {
        match self.get_with(url, &[])? {
            Answer {
                status: 200, body, ..
            } => Ok(body),
            // Logged as failed by `get_with`: nothing more to say.
            Answer { status, .. } => Err(Error::Failed(format!("`{url}`: HTTP {status}"))),
        }
    }

    /// [`Self::get`] with request headers, also answering `401` (with the server's
    /// `WWW-Authenticate` challenge) rather than failing. An `Authorization` header goes to
    /// `url`'s host only, never across a redirect to another.
    pub fn get_with(&self, url: &str, headers: &[(&str, String)]) -> Result<Answer, Error> {
        let result = self.get_unlogged(url, headers);
        self.record(Fetch {
            url: url.to_owned(),
            outcome: match &result {
                Ok(a) if a.status == 200 => "fetched",
                Ok(_) => "failed",
                Err(Error::Refused(_)) => "refused",
                Err(Error::Failed(_)) => "failed",
            },
            bytes: result.as_ref().map_or(0, |a| a.body.len() as u64),
            detail: match &result {
                Ok(a) if a.status != 200 => Some(format!("HTTP {}", a.status)),
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
        });
        result
    }

    /// [`Self::get`], once a run per URL: later calls get the first answer.
    pub fn get_once(&self, url: &str) -> Result<std::sync::Arc<[u8]>, Error> {
        if let Some(got) = self.once.lock().unwrap_or_else(|p| p.into_inner()).get(url) {
            return got.clone();
        }
        let got = self.get(url).map(std::sync::Arc::from);
        self.once
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_owned(), got.clone());
        got
    }

    fn get_unlogged(&self, url: &str, headers: &[(&str, String)]) -> Result<Answer, Error> {
        let mut current =
            Url::parse(url).map_err(|e| Error::Failed(format!("`{url}` is not a URL: {e}")))?;
        let origin = current.origin();
        let started = std::time::Instant::now();
        for _ in 0..=MAX_REDIRECTS {
            self.allows(&current)?;
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::Failed(format!(
                    "`{url}`: no answer within {}s (--fetch-timeout)",
                    self.timeout.as_secs_f64()
                )));
            }
            let mut request = self
                .agent
                .get(current.as_str())
                .config()
                .timeout_global(Some(left))
                .build();
            for (name, value) in headers {
                if name.eq_ignore_ascii_case("authorization") && current.origin() != origin {
                    continue;
                }
                request = request.header(*name, value);
            }
            let response = request.call();
            let mut response = match response {
                Ok(r) => r,
                Err(ureq::Error::Timeout(_)) => {
                    return Err(Error::Failed(format!(
                        "`{current}`: no answer within {}s (--fetch-timeout)",
                        self.timeout.as_secs_f64()
                    )));
                }
                Err(e) => return Err(Error::Failed(format!("`{current}`: {e}"))),
            };
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                let Some(location) = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                else {
                    return Err(Error::Failed(format!(
                        "`{current}`: redirect ({status}) without a Location"
                    )));
                };
                let next = current.join(location).map_err(|e| {
                    Error::Failed(format!("`{current}`: redirect to `{location}`: {e}"))
                })?;
                if let Err(Error::Refused(why)) = self.allows(&next) {
                    return Err(Error::Refused(format!("`{current}` redirects to {why}")));
                }
                current = next;
                continue;
            }
            if status == 401 {
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|c| c.to_str().ok())
                    .map(str::to_owned);
                return Ok(Answer {
                    status,
                    challenge,
                    body: Vec::new(),
                });
            }
            if status != 200 {
                return Err(Error::Failed(format!("`{current}`: HTTP {status}")));
            }
            if let Some(len) = response
                .headers()
                .get("content-length")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.parse::<u64>().ok())
                && len > self.max_bytes
            {
                return Err(Error::Failed(self.too_large(&current)));
            }
            let mut body = Vec::new();
            let read = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .reader()
                .take(self.max_bytes + 1)
                .read_to_end(&mut body);
            return match read {
                Ok(_) if body.len() as u64 > self.max_bytes => {
                    Err(Error::Failed(self.too_large(&current)))
                }
                Ok(_) => Ok(Answer {
                    status,
                    challenge: None,
                    body,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut || is_timeout(&e) => {
                    Err(Error::Failed(format!(
                        "`{current}`: no answer within {}s (--fetch-timeout)",
                        self.timeout.as_secs_f64()
                    )))
                }
                Err(e) => Err(Error::Failed(format!("`{current}`: {e}"))),
            };
        }
        Err(Error::Failed(format!(
            "`{url}`: more than {MAX_REDIRECTS} redirects"
        )))
    }

    fn too_large(&self, url: &Url) -> String {
        format!(
            "`{url}`: larger than {} bytes (--max-file-size)",
            self.max_bytes
        )
    }

    /// Logs an answer that did not need the network (a cache hit), or a refusal made
    /// before any request.
    pub fn record(&self, fetch: Fetch) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fetch);
    }

    /// Everything asked of the network in this run, sorted (the order of parallel requests
    /// is not the report's).
    pub fn log(&self) -> Vec<Fetch> {
        let mut all = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        all.sort();
        all.dedup();
        all
    }
}

/// Where fetched things are kept unless `--cache-dir` says: `$KUBEGATE_CACHE_DIR`, else the
/// user's cache directory (`$XDG_CACHE_HOME` or `~/.cache`, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows) under `kubegate`. Unlike the compiled rules' cache, it is
/// used in CI too: a job that restores it makes no request for pinned charts.
pub fn default_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("KUBEGATE_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(d) => Some(PathBuf::from(d)),
        None => crate::policy::cache::user_dir(),
    }
}

/// Whether an I/O error from ureq's body reader is its timeout.
fn is_timeout(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_rules_match_host_port_and_scheme() {
        let r = HostRule::parse("*.example.com").unwrap();
        assert!(r.matches(&url("https://charts.example.com/index.yaml")));
        assert!(r.matches(&url("https://CHARTS.example.com:8443/x")));
        assert!(!r.matches(&url("http://charts.example.com/index.yaml")));
        assert!(!r.matches(&url("https://example.org/")));
        let r = HostRule::parse("http://127.0.0.1:8080").unwrap();
        assert!(r.matches(&url("http://127.0.0.1:8080/a")));
        assert!(r.matches(&url("https://127.0.0.1:8080/a")));
        assert!(!r.matches(&url("http://127.0.0.1:8081/a")));
        let r = HostRule::parse("http://[::1]:*").unwrap();
        assert!(r.matches(&url("http://[::1]:9/a")));
        for bad in ["", "https://", "a/b", "user@host", "host:port", "[::1"] {
            assert!(HostRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_say_why() {
        let n = Network::new(
            vec![HostRule::parse("charts.example.com").unwrap()],
            Duration::from_secs(1),
            10,
            PathBuf::new(),
        );
        assert!(n.allows(&url("https://charts.example.com/x")).is_ok());
        let Err(Error::Refused(m)) = n.allows(&url("http://charts.example.com/x")) else {
            panic!()
        };
        assert!(m.contains("https only"), "{m}");
        let Err(Error::Refused(m)) = n.allows(&url("https://evil.example.net/x")) else {
            panic!()
        };
        assert!(m.contains("not among the allowed hosts"), "{m}");
        assert!(matches!(
            n.allows(&url("file:///etc/passwd")),
            Err(Error::Refused(_))
        ));
        // Refused before any request: logged as such.
        assert!(matches!(
            n.get("https://evil.example.net/x"),
            Err(Error::Refused(_))
        ));
        assert_eq!(n.log()[0].outcome, "refused");
    }
}
