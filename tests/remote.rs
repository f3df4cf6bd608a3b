//! Charts pulled from the network, opt-in (`--allow-host`): a real HTTP chart repository
//! served on the loopback interface by this test (an `index.yaml` and `.tgz` archives built
//! here), and kubegate pulling from it as Flux's source-controller would.
//!
//! What is shown: the Flux pattern (a `HelmRelease` with inline values and its
//! `HelmRepository`) rendered, with the finding on the values line; the version a range
//! resolves to named in the findings; the cache (a second run of a pinned chart makes no
//! request); and the refusals (no `--allow-host`, host not allowed, plain HTTP not
//! allowed, a redirect to another host, an oversized body, a timeout, a digest mismatch),
//! each a finding at the line that asked, with no request sent where none may be.
//!
//! The rendering tests need helm (`KUBEGATE_TEST_HELM`, else `helm` on `PATH`; they print
//! `skipped` without one, unless `KUBEGATE_REQUIRE_HELM` is set). The fetch tests below them
//! use the library directly and need nothing.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubegate::fetch::{Error, HostRule, Network};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// A chart repository on the loopback interface
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    Redirect(String),
    /// Waits this long before answering.
    Slow(Duration),
    /// A body that never ends (until the client hangs up, or 256 MiB).
    Endless,
    /// The body, to a request with `Authorization: Bearer <token>`; else `401` with a
    /// challenge naming `realm`.
    Token {
        token: String,
        realm: String,
        body: Vec<u8>,
    },
}

/// An HTTP/1.1 server on 127.0.0.1, one thread per connection, answering each path from
/// `routes` (404 otherwise), paths under `/git/` with `git http-backend` (Git's own smart
/// HTTP server) over the bare repositories of `git_root`, and logging every path asked.
struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<Vec<String>>>,
    git_root: Arc<Mutex<Option<PathBuf>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the loopback interface");
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let git_root: Arc<Mutex<Option<PathBuf>>> = Arc::default();
        let (r, h, g) = (routes.clone(), hits.clone(), git_root.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, h, g) = (r.clone(), h.clone(), g.clone());
                std::thread::spawn(move || serve(stream, &r, &h, &g));
            }
        });
        Server {
            addr,
            routes,
            hits,
            git_root,
        }
    }

    /// Serves the bare repositories under `root` at `/git/<name>.git`.
    fn serve_git(&self, root: &Path) {
        *self.git_root.lock().unwrap() = Some(root.to_path_buf());
    }

    fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://127.0.0.1:PORT`: the entry that allows this server, plain HTTP included.
    fn allow(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Reply>>,
    hits: &Mutex<Vec<String>>,
    git_root: &Mutex<Option<PathBuf>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut headers = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    // A request carrying credentials is logged with a mark.
    let authorized = headers.iter().any(|(k, _)| k == "authorization");
    hits.lock().unwrap().push(if authorized {
        format!("{path} (authorized)")
    } else {
        path.clone()
    });
    let mut out = stream;
    let git = git_root.lock().unwrap().clone();
    if let (Some(root), Some(rest)) = (git, path.strip_prefix("/git")) {
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_ok() {
            let _ = out.write_all(&git_http_backend(&root, &method, rest, &headers, &body));
        }
        return;
    }
    let mut reply = routes.lock().unwrap().get(&path).cloned();
    let mut challenge = None;
    if let Some(Reply::Token { token, realm, body }) = &reply {
        let sent = headers
            .iter()
            .any(|(k, v)| k == "authorization" && *v == format!("Bearer {token}"));
        if sent {
            reply = Some(Reply::Body(body.clone()));
        } else {
            challenge = Some(format!(
                "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\"\r\n"
            ));
            reply = None;
        }
    }
    if let Some(c) = challenge {
        let _ = out.write_all(
            format!(
                "HTTP/1.1 401 Unauthorized\r\n{c}Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        return;
    }
    let head = |status: &str, extra: &str, len: Option<usize>| {
        let len = len.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
        format!("HTTP/1.1 {status}\r\n{extra}{len}Connection: close\r\n\r\n")
    };
    let _ = match reply {
        None => out.write_all(head("404 Not Found", "", Some(0)).as_bytes()),
        Some(Reply::Body(b)) => out
            .write_all(head("200 OK", "", Some(b.len())).as_bytes())
            .and_then(|()| out.write_all(&b)),
        Some(Reply::Redirect(to)) => {
            out.write_all(head("302 Found", &format!("Location: {to}\r\n"), Some(0)).as_bytes())
        }
        Some(Reply::Slow(d)) => {
            std::thread::sleep(d);
            out.write_all(head("200 OK", "", Some(2)).as_bytes())
                .and_then(|()| out.write_all(b"{}"))
        }
        Some(Reply::Token { .. }) => Ok(()),
        Some(Reply::Endless) => {
            let chunk = vec![b'#'; 64 << 10];
            out.write_all(head("200 OK", "", None).as_bytes())
                .and_then(|()| {
                    for _ in 0..4096 {
                        out.write_all(&chunk)?;
                    }
                    Ok(())
                })
        }
    };
}

/// One request answered by `git http-backend` (a CGI program), as an HTTP response.
fn git_http_backend(
    root: &Path,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let (path_info, query) = path.split_once('?').unwrap_or((path, ""));
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in headers {
        match k.as_str() {
            "content-type" => cmd.env("CONTENT_TYPE", v),
            _ => cmd.env(
                format!("HTTP_{}", k.to_ascii_uppercase().replace('-', "_")),
                v,
            ),
        };
    }
    let mut child = cmd.spawn().expect("git http-backend runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let cgi = child.wait_with_output().unwrap().stdout;
    // CGI headers, a blank line, the body: the `Status:` header becomes the status line.
    let split = cgi
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| cgi.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
        .unwrap_or((cgi.len(), 0));
    let head = String::from_utf8_lossy(&cgi[..split.0]).into_owned();
    let content = &cgi[split.0 + split.1..];
    let mut status = "200 OK".to_owned();
    let mut out = String::new();
    for l in head.lines() {
        match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            Some(_) => out.push_str(&format!("{}\r\n", l.trim_end())),
            None => {}
        }
    }
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{out}Content-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    )
    .into_bytes();
    response.extend_from_slice(content);
    response
}

/// A gzipped tar archive holding `files` (path, text).
fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut out = vec![0u8; tar.len() + 4096];
    let config = zlib_rs::DeflateConfig {
        window_bits: 31,
        ..Default::default()
    };
    let n = zlib_rs::compress_slice(&mut out, &tar, config).0.len();
    out.truncate(n);
    out
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `podinfo` chart at `version`: one Deployment whose container takes
/// `.Values.securityContext` as it is.
fn podinfo(version: &str) -> Vec<u8> {
    tgz(&[
        (
            "podinfo/Chart.yaml",
            &format!("apiVersion: v2\nname: podinfo\nversion: {version}\n"),
        ),
        ("podinfo/values.yaml", "securityContext: {}\n"),
        (
            "podinfo/templates/deployment.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:{{ .Chart.Version }}
          {{- with .Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
",
        ),
    ])
}

/// A chart repository under `/charts/` serving podinfo 6.4.0, 6.5.0 and 7.0.0 (each entry
/// with its digest).
fn chart_repository() -> Server {
    let server = Server::start();
    let mut index = String::from("apiVersion: v1\nentries:\n  podinfo:\n");
    for v in ["7.0.0", "6.5.0", "6.4.0"] {
        let archive = podinfo(v);
        index.push_str(&format!(
            "  - name: podinfo\n    version: {v}\n    digest: {}\n    urls:\n    - podinfo-{v}.tgz\n",
            sha256(&archive)
        ));
        server.route(&format!("/charts/podinfo-{v}.tgz"), Reply::Body(archive));
    }
    server.route("/charts/index.yaml", Reply::Body(index.into_bytes()));
    server
}

// ---------------------------------------------------------------------------------------
// A repository shaped like Flux's example
// ---------------------------------------------------------------------------------------

/// The HelmRelease of the repository: `version` of podinfo, with `privileged: true` in its
/// inline values, at line 20.
const RELEASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 50m
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      version: \"VERSION\"
      sourceRef:
        kind: HelmRepository
        name: podinfo
  values:
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: true
      privileged: true
";

/// A Flux-style repository: `apps/podinfo/repository.yaml` (the HelmRepository at `url`)
/// and `apps/podinfo/release.yaml` ([`RELEASE`] at `version`).
fn flux_repository(url: &str, version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let apps = dir.path().join("apps/podinfo");
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::write(
        apps.join("repository.yaml"),
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 5m
  url: {url}
"
        ),
    )
    .unwrap();
    std::fs::write(
        apps.join("release.yaml"),
        RELEASE.replace("VERSION", version),
    )
    .unwrap();
    dir
}

#[derive(Debug)]
struct Finding {
    rule: String,
    file: String,
    line: u64,
    message: String,
    rendered: Vec<String>,
}

struct Checked {
    code: i32,
    findings: Vec<Finding>,
    fetched: Vec<Value>,
    stderr: String,
}

/// `kubegate check . -f json --helm <helm> <extra>` in `dir`, with `cache` as cache.
fn check(dir: &Path, helm: &Path, cache: &Path, extra: &[&str]) -> Checked {
    check_with(dir, Some(helm), cache, extra)
}

/// [`check`], with `--helm` only when given.
fn check_with(dir: &Path, helm: Option<&Path>, cache: &Path, extra: &[&str]) -> Checked {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(["check", ".", "--no-config", "-f", "json"]);
    if let Some(helm) = helm {
        cmd.arg("--helm").arg(helm);
    }
    cmd.arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null());
    for v in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_STEP_SUMMARY",
        "NO_COLOR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    let out = cmd.output().expect("kubegate runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "kubegate panicked:\n{stderr}");
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{stdout}\n{stderr}"));
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Finding {
            rule: f["rule"].as_str().unwrap().to_owned(),
            file: f["file"].as_str().unwrap().to_owned(),
            line: f["line"].as_u64().unwrap(),
            message: f["message"].as_str().unwrap().to_owned(),
            rendered: f["rendered"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let fetched = report["fetched"].as_array().cloned().unwrap_or_default();
    Checked {
        code: out.status.code().unwrap_or(-1),
        findings,
        fetched,
        stderr,
    }
}

fn listing(fs: &[Finding]) -> String {
    fs.iter()
        .map(|f| format!("  {}:{} {} {}\n", f.file, f.line, f.rule, f.message))
        .collect()
}

fn helm_or_skip() -> Option<PathBuf> {
    common::helm()
}

/// [`check`] with `server` allowed.
fn check_allowing(server: &Server, dir: &Path, helm: &Path, cache: &Path) -> Checked {
    check(dir, helm, cache, &["--allow-host", &server.allow()])
}

/// The findings of `rule`.
fn of_rule<'a>(c: &'a Checked, rule: &str) -> Vec<&'a Finding> {
    c.findings.iter().filter(|f| f.rule == rule).collect()
}

/// Flux's pattern: the HelmRelease's inline values make the container privileged. The
/// chart, `>=6.0.0 <7.0.0`, resolves to 6.5.0 (not 7.0.0, not 6.4.0) as source-controller
/// resolves it; the finding is on the values line of the HelmRelease (line 20), and the
/// rendering it comes from names the version. Findings written by the chart's template are
/// reported at the line naming the chart (11), with the template's file and line.
#[test]
fn a_flux_helm_release_from_a_chart_repository_is_rendered_with_its_values() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let repo = flux_repository(&server.url("/charts/"), ">=6.0.0 <7.0.0");
    let cache = tempfile::tempdir().unwrap();
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    assert_eq!(r.code, 1, "{}{}", listing(&r.findings), r.stderr);
    let release = "apps/podinfo/release.yaml";
    let privileged: Vec<&Finding> = r.findings.iter().filter(|f| f.rule == "KG101").collect();
    assert_eq!(privileged.len(), 1, "{}", listing(&r.findings));
    assert_eq!(
        (privileged[0].file.as_str(), privileged[0].line),
        (release, 20)
    );
    assert!(
        privileged[0]
            .rendered
            .iter()
            .any(|r| r.contains("podinfo 6.5.0 from")),
        "the version used is named: {:?}",
        privileged[0].rendered
    );
    // The image tag is written by the template: reported at `chart: podinfo`, naming it.
    let from_template: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.message.contains("of chart podinfo 6.5.0 from"))
        .collect();
    assert!(!from_template.is_empty(), "{}", listing(&r.findings));
    for f in &from_template {
        assert_eq!(
            (f.file.as_str(), f.line),
            (release, 11),
            "{}",
            listing(&r.findings)
        );
        assert!(
            f.message.contains("templates/deployment.yaml:"),
            "{}",
            f.message
        );
    }
    // No finding names a path of the cache.
    let shown = cache.path().to_string_lossy().into_owned();
    assert!(
        r.findings
            .iter()
            .all(|f| !f.file.contains(&shown) && !f.message.contains(&shown)),
        "{}",
        listing(&r.findings)
    );
    assert_eq!(
        server.hits(),
        ["/charts/index.yaml", "/charts/podinfo-6.5.0.tgz"],
        "the index, then the one archive"
    );
    let outcomes: Vec<(&str, &str)> = r
        .fetched
        .iter()
        .map(|f| (f["url"].as_str().unwrap(), f["outcome"].as_str().unwrap()))
        .collect();
    assert!(
        outcomes.contains(&(&server.url("/charts/podinfo-6.5.0.tgz"), "fetched")),
        "{outcomes:?}"
    );
}

/// Argo CD's form: an `Application` whose source is `repoURL` + `chart` +
/// `targetRevision` (`6.*`: 6.5.0), with `helm.valuesObject`. A second Application naming
/// the same repository with another constraint reads the index once.
#[test]
fn an_argo_cd_application_of_a_helm_repository_chart_is_rendered() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let dir = tempfile::tempdir().unwrap();
    let app = |name: &str, revision: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: web
  source:
    repoURL: {}
    chart: podinfo
    targetRevision: \"{revision}\"
    helm:
      valuesObject:
        securityContext:
          privileged: true
",
            server.url("/charts")
        )
    };
    std::fs::write(dir.path().join("web.yaml"), app("web", "6.*")).unwrap();
    std::fs::write(dir.path().join("api.yaml"), app("api", "~6.4.0")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = check(
        dir.path(),
        &helm,
        cache.path(),
        &["--allow-host", &server.allow()],
    );
    let privileged: Vec<(&str, u64, &Vec<String>)> = r
        .findings
        .iter()
        .filter(|f| f.rule == "KG101")
        .map(|f| (f.file.as_str(), f.line, &f.rendered))
        .collect();
    assert_eq!(privileged.len(), 2, "{}", listing(&r.findings));
    assert_eq!((privileged[0].0, privileged[0].1), ("api.yaml", 18));
    assert!(
        privileged[0].2[0].contains("podinfo 6.4.0 from"),
        "{:?}",
        privileged[0].2
    );
    assert_eq!((privileged[1].0, privileged[1].1), ("web.yaml", 18));
    assert!(
        privileged[1].2[0].contains("podinfo 6.5.0 from"),
        "{:?}",
        privileged[1].2
    );
    let mut hits = server.hits();
    hits.sort();
    assert_eq!(
        hits,
        [
            "/charts/index.yaml",
            "/charts/podinfo-6.4.0.tgz",
            "/charts/podinfo-6.5.0.tgz"
        ]
    );
}

/// A pinned version is pulled once: the second run finds it in the cache and sends no
/// request at all, with the same findings.
#[test]
fn a_pinned_chart_is_pulled_once_then_read_from_the_cache() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let repo = flux_repository(&server.url("/charts/"), "6.4.0");
    let cache = tempfile::tempdir().unwrap();
    let allow = server.allow();
    let first = check(repo.path(), &helm, cache.path(), &["--allow-host", &allow]);
    assert_eq!(server.hits().len(), 2, "{:?}", server.hits());
    let second = check(repo.path(), &helm, cache.path(), &["--allow-host", &allow]);
    assert_eq!(server.hits().len(), 2, "no request: {:?}", server.hits());
    let places = |c: &Checked| -> Vec<(String, u64, String)> {
        c.findings
            .iter()
            .map(|f| (f.file.clone(), f.line, f.rule.clone()))
            .collect()
    };
    assert_eq!(places(&first), places(&second));
    assert!(
        places(&first).iter().any(|p| p.2 == "KG101"),
        "{}",
        listing(&first.findings)
    );
    assert_eq!(
        second.fetched[0]["outcome"], "cached",
        "{:?}",
        second.fetched
    );
}

/// A cache inside the checked directory (GitLab caches only inside the project) is not
/// part of the repository: the second run, with the chart unpacked there, reports the same.
#[test]
fn a_cache_inside_the_checked_paths_is_not_checked() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let repo = flux_repository(&server.url("/charts/"), "6.5.0");
    let cache = repo.path().join(".kubegate-cache");
    let allow = server.allow();
    let first = check(repo.path(), &helm, &cache, &["--allow-host", &allow]);
    assert!(cache.join("charts").is_dir());
    let second = check(repo.path(), &helm, &cache, &["--allow-host", &allow]);
    let files =
        |c: &Checked| -> Vec<String> { c.findings.iter().map(|f| f.file.clone()).collect() };
    assert_eq!(
        files(&first),
        files(&second),
        "{}",
        listing(&second.findings)
    );
    assert!(
        second
            .findings
            .iter()
            .all(|f| !f.file.contains(".kubegate-cache")),
        "{}",
        listing(&second.findings)
    );
}

/// Offline by default: without `--allow-host` nothing is requested and the HelmRelease is
/// checked as a manifest only, as before.
#[test]
fn without_allow_host_nothing_is_fetched() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let repo = flux_repository(&server.url("/charts/"), "6.5.0");
    let cache = tempfile::tempdir().unwrap();
    let r = check(repo.path(), &helm, cache.path(), &[]);
    assert!(server.hits().is_empty(), "{:?}", server.hits());
    assert!(r.fetched.is_empty());
    assert!(
        r.findings
            .iter()
            .all(|f| f.rule != "KG101" && !f.rule.starts_with("remote-")),
        "{}",
        listing(&r.findings)
    );
}

/// Refusals are findings at the line naming the chart, and nothing is sent where it may
/// not go: another host allowed only; plain HTTP to a host allowed for https only; the
/// repository redirecting to a host that is not allowed.
#[test]
fn refused_fetches_are_findings_at_the_chart_line_and_send_nothing() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let elsewhere = chart_repository();
    let cache = tempfile::tempdir().unwrap();
    let release = "apps/podinfo/release.yaml";
    let refused = |r: &Checked, why: &str| {
        let fs: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.rule.starts_with("remote-"))
            .collect();
        assert_eq!(fs.len(), 1, "{}", listing(&r.findings));
        assert_eq!(
            (fs[0].rule.as_str(), fs[0].file.as_str(), fs[0].line),
            ("remote-refused", release, 11)
        );
        assert!(fs[0].message.contains(why), "{}", fs[0].message);
        assert!(r.findings.iter().all(|f| f.rule != "KG101"));
    };
    let repo = flux_repository(&server.url("/charts/"), "6.5.0");
    let r = check(
        repo.path(),
        &helm,
        cache.path(),
        &["--allow-host", "charts.example.com"],
    );
    refused(&r, "not among the allowed hosts");
    let https_only = server.addr.to_string();
    let r = check(
        repo.path(),
        &helm,
        cache.path(),
        &["--allow-host", &https_only],
    );
    refused(&r, "https only");
    assert!(server.hits().is_empty(), "{:?}", server.hits());
    // A redirect to a server on `localhost`, which is not allowed: never asked.
    server.route(
        "/moved/index.yaml",
        Reply::Redirect(format!(
            "http://localhost:{}/charts/index.yaml",
            elsewhere.addr.port()
        )),
    );
    let repo = flux_repository(&server.url("/moved/"), "6.5.0");
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    refused(&r, "redirects to");
    assert_eq!(server.hits(), ["/moved/index.yaml"]);
    assert!(elsewhere.hits().is_empty(), "{:?}", elsewhere.hits());
    assert_eq!(r.fetched[0]["outcome"], "refused", "{:?}", r.fetched);
}

/// A fetch that fails is a `remote-failed` warning at the chart line, and the run goes on
/// (the HelmRelease is still checked as a manifest): a version the repository does not
/// have, an archive whose digest is not the index's.
#[test]
fn failed_fetches_are_warnings_and_the_run_goes_on() {
    let Some(helm) = helm_or_skip() else { return };
    let server = chart_repository();
    let cache = tempfile::tempdir().unwrap();
    let repo = flux_repository(&server.url("/charts/"), "9.9.9");
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    let failed: Vec<&Finding> = of_rule(&r, "remote-failed");
    assert_eq!(failed.len(), 1, "{}", listing(&r.findings));
    assert_eq!(failed[0].line, 11);
    assert!(
        failed[0].message.contains("no version matching `9.9.9`"),
        "{}",
        failed[0].message
    );
    assert!(
        failed[0].message.contains("7.0.0, 6.5.0, 6.4.0"),
        "{}",
        failed[0].message
    );
    // The archive is not what the index says.
    server.route("/charts/podinfo-6.5.0.tgz", Reply::Body(podinfo("6.5.1")));
    let repo = flux_repository(&server.url("/charts/"), "6.5.0");
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    let failed: Vec<&Finding> = of_rule(&r, "remote-failed");
    assert_eq!(failed.len(), 1, "{}", listing(&r.findings));
    assert!(
        failed[0].message.contains("is not the digest"),
        "{}",
        failed[0].message
    );
    assert!(r.findings.iter().all(|f| f.rule != "KG101"));
    // Nothing of the refused archive was cached.
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    assert!(r.findings.iter().any(|f| f.rule == "remote-failed"));
}

// ---------------------------------------------------------------------------------------
// OCI registries
// ---------------------------------------------------------------------------------------

/// The OCI manifest of a chart archive.
fn manifest_of(archive: &[u8]) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:00","size":2}},"layers":[{{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"sha256:{}","size":{}}}]}}"#,
        sha256(archive),
        archive.len()
    )
}

/// An OCI registry serving `charts/podinfo` 6.4.0 and 6.5.0 (the distribution API: tag
/// list, manifests, blobs), each manifest only with the anonymous token `t0k3n` its
/// `/token` realm hands out.
fn oci_registry() -> Server {
    let server = Server::start();
    let realm = server.url("/token");
    server.route(
        "/v2/charts/podinfo/tags/list?n=10000",
        Reply::Body(
            br#"{"name":"charts/podinfo","tags":["6.4.0","6.5.0","7.0.0-rc.1","latest"]}"#.to_vec(),
        ),
    );
    server.route(
        "/token?service=test&scope=repository%3Acharts%2Fpodinfo%3Apull",
        Reply::Body(br#"{"token":"t0k3n"}"#.to_vec()),
    );
    for v in ["6.4.0", "6.5.0"] {
        let archive = podinfo(v);
        let digest = format!("sha256:{}", sha256(&archive));
        let manifest = manifest_of(&archive);
        let by_digest = format!(
            "/v2/charts/podinfo/manifests/sha256:{}",
            sha256(manifest.as_bytes())
        );
        for path in [format!("/v2/charts/podinfo/manifests/{v}"), by_digest] {
            server.route(
                &path,
                Reply::Token {
                    token: "t0k3n".into(),
                    realm: realm.clone(),
                    body: manifest.clone().into_bytes(),
                },
            );
        }
        server.route(
            &format!("/v2/charts/podinfo/blobs/{digest}"),
            Reply::Body(archive),
        );
    }
    server
}

/// A HelmRepository of type `oci` (Flux), a range resolved against the registry's tags
/// (6.5.0: not the prerelease, not `latest`), the anonymous token flow; and an Argo CD
/// Application naming the registry without a scheme, at 6.4.0. Each finding on its values
/// line, naming the version.
#[test]
fn charts_of_an_oci_registry_are_pulled_with_the_anonymous_token_flow() {
    let Some(helm) = helm_or_skip() else { return };
    let server = oci_registry();
    let repo = flux_repository(&format!("oci://{}/charts", server.addr), ">=6.0.0 <7.0.0");
    let release = repo.path().join("apps/podinfo/repository.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    std::fs::write(&release, text.replace("spec:\n", "spec:\n  type: oci\n")).unwrap();
    std::fs::write(
        repo.path().join("argo.yaml"),
        format!(
            "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: api
spec:
  destination:
    namespace: web
  source:
    repoURL: {}/charts
    chart: podinfo
    targetRevision: 6.4.0
    helm:
      valuesObject:
        securityContext:
          privileged: true
",
            server.addr
        ),
    )
    .unwrap();
    // A HelmRelease whose chartRef names an OCIRepository (in a file of its own) pinned by
    // the digest of 6.4.0's manifest.
    std::fs::write(
        repo.path().join("oci-repository.yaml"),
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: pinned
spec:
  url: oci://{}/charts/podinfo
  ref:
    digest: sha256:{}
",
            server.addr,
            sha256(manifest_of(&podinfo("6.4.0")).as_bytes())
        ),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("pinned.yaml"),
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: pinned
spec:
  chartRef:
    kind: OCIRepository
    name: pinned
  values:
    securityContext:
      privileged: true
",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = check_allowing(&server, repo.path(), &helm, cache.path());
    let privileged: Vec<(&str, u64, &str)> = of_rule(&r, "KG101")
        .into_iter()
        .map(|f| (f.file.as_str(), f.line, f.rendered[0].as_str()))
        .collect();
    assert_eq!(privileged.len(), 3, "{}{}", listing(&r.findings), r.stderr);
    assert_eq!(
        (privileged[0].0, privileged[0].1),
        ("apps/podinfo/release.yaml", 20)
    );
    assert!(
        privileged[0].2.contains("podinfo 6.5.0 from oci://"),
        "{}",
        privileged[0].2
    );
    assert_eq!((privileged[1].0, privileged[1].1), ("argo.yaml", 15));
    assert!(
        privileged[1].2.contains("podinfo 6.4.0 from oci://"),
        "{}",
        privileged[1].2
    );
    assert_eq!((privileged[2].0, privileged[2].1), ("pinned.yaml", 11));
    assert!(
        privileged[2].2.contains("podinfo sha256:"),
        "{}",
        privileged[2].2
    );
    // The token was asked for, then sent.
    assert!(
        server.hits().iter().any(|h| h.starts_with("/token?")),
        "{:?}",
        server.hits()
    );
    // Pinned (6.4.0) and cached: the second run asks the registry only for the range.
    let before = server.hits().len();
    check_allowing(&server, repo.path(), &helm, cache.path());
    let again: Vec<String> = server.hits()[before..].to_vec();
    assert!(again.iter().all(|h| !h.contains("6.4.0")), "{again:?}");
}

// ---------------------------------------------------------------------------------------
// Remote kustomize bases: a Git repository over smart HTTP, and a single file
// ---------------------------------------------------------------------------------------

/// A Deployment whose container runs privileged at line 18.
const BASE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
          securityContext: {privileged: true}
";

/// Serves a bare repository `base.git` under `/git/`, whose `deploy/` directory is a
/// kustomization of [`BASE_DEPLOYMENT`], tagged `v1.0.0`. Returns the directory holding it.
fn git_repository(server: &Server) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("deploy")).unwrap();
    std::fs::write(
        work.join("deploy/kustomization.yaml"),
        "resources: [deployment.yaml]\n",
    )
    .unwrap();
    std::fs::write(work.join("deploy/deployment.yaml"), BASE_DEPLOYMENT).unwrap();
    // 100 kB that do not compress, for the size limit.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(work.join("noise.bin"), noise).unwrap();
    common::git(&work, &["init", "-q", "-b", "main"]);
    common::git(&work, &["add", "-A"]);
    common::git(&work, &["commit", "-q", "-m", "base"]);
    common::git(&work, &["tag", "v1.0.0"]);
    common::git(root.path(), &["clone", "-q", "--bare", "work", "base.git"]);
    server.serve_git(root.path());
    root
}

/// A repository whose kustomization lists `entry` (line 4) under `resources`.
fn overlay(entry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {entry}
namePrefix: prod-
"
        ),
    )
    .unwrap();
    dir
}

/// A remote base at a tag, over Git's smart HTTP: cloned once, rendered with the overlay,
/// and its finding reported at the `resources` entry that pulled it (line 4), with the
/// base's file and line in the message. The second run reads the checkout from the cache.
#[test]
fn a_remote_git_base_is_rendered_and_reported_at_its_resources_entry() {
    let server = Server::start();
    let _repo = git_repository(&server);
    let url = server.url("/git/base.git//deploy?ref=v1.0.0");
    let dir = overlay(&url);
    let cache = tempfile::tempdir().unwrap();
    let first = check_with(
        dir.path(),
        None,
        cache.path(),
        &["--allow-host", &server.allow()],
    );
    let privileged = of_rule(&first, "KG101");
    assert_eq!(
        privileged.len(),
        1,
        "{}{}",
        listing(&first.findings),
        first.stderr
    );
    assert_eq!(
        (privileged[0].file.as_str(), privileged[0].line),
        ("kustomization.yaml", 4)
    );
    assert!(
        privileged[0].message.contains(&format!(
            "(at deploy/deployment.yaml:18 of {}@v1.0.0)",
            server.url("/git/base.git")
        )),
        "{}",
        privileged[0].message
    );
    assert!(
        server.hits().iter().any(|h| h.contains("git-upload-pack")),
        "{:?}",
        server.hits()
    );
    let asked = server.hits().len();
    let second = check_with(
        dir.path(),
        None,
        cache.path(),
        &["--allow-host", &server.allow()],
    );
    assert_eq!(
        server.hits().len(),
        asked,
        "no request: {:?}",
        server.hits()
    );
    assert_eq!(
        of_rule(&second, "KG101").len(),
        1,
        "{}",
        listing(&second.findings)
    );
    assert_eq!(
        second.fetched[0]["outcome"], "cached",
        "{:?}",
        second.fetched
    );
    // Offline, as before: a warning, and nothing asked.
    let offline = check_with(dir.path(), None, cache.path(), &[]);
    assert_eq!(server.hits().len(), asked);
    assert_eq!(
        of_rule(&offline, "kustomize-remote").len(),
        1,
        "{}",
        listing(&offline.findings)
    );
    assert!(of_rule(&offline, "KG101").is_empty());
}

/// In CI the allowed hosts come from the merge request's base: a merge request that adds
/// its own host to `.kubegate.yaml` fetches nothing (the base's configuration has none) and
/// is told its configuration change was not used; once the base allows the host, it is.
#[test]
fn a_merge_request_cannot_allow_a_host_of_its_own() {
    let server = Server::start();
    let _repo = git_repository(&server);
    let dir = overlay(&server.url("/git/base.git//deploy?ref=v1.0.0"));
    let d = dir.path();
    let config = format!("network:\n  allowHosts: [\"{}\"]\n", server.allow());
    common::git(d, &["init", "-q", "-b", "main"]);
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-q", "-m", "base"]);
    common::git(d, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(d.join(".kubegate.yaml"), &config).unwrap();
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-q", "-m", "allow my host"]);
    let cache = tempfile::tempdir().unwrap();
    let in_ci = || {
        let out = Command::new(env!("CARGO_BIN_EXE_kubegate"))
            .args(["check", ".", "--base", "main", "-f", "json", "--cache-dir"])
            .arg(cache.path())
            .current_dir(d)
            .env("GITHUB_ACTIONS", "true")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_BASE_REF")
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}:{} {}",
                    f["file"].as_str().unwrap(),
                    f["line"],
                    f["rule"].as_str().unwrap()
                )
            })
            .collect::<Vec<String>>()
    };
    let found = in_ci();
    assert!(
        server.hits().is_empty(),
        "nothing fetched: {:?}",
        server.hits()
    );
    assert!(
        found.contains(&"kustomization.yaml:4 kustomize-remote".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&".kubegate.yaml:1 policy-changed".to_owned()),
        "{found:?}"
    );
    assert!(!found.iter().any(|f| f.ends_with("KG101")), "{found:?}");
    // The base allows it: fetched, and the base's objects checked.
    common::git(d, &["checkout", "-q", "main"]);
    std::fs::write(d.join(".kubegate.yaml"), &config).unwrap();
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-q", "-m", "allow the host"]);
    common::git(d, &["checkout", "-q", "-b", "feature2"]);
    std::fs::write(d.join("notes.txt"), "x\n").unwrap();
    common::git(d, &["add", "-A"]);
    common::git(d, &["commit", "-q", "-m", "notes"]);
    let found = in_ci();
    assert!(
        found.contains(&"kustomization.yaml:4 KG101".to_owned()),
        "{found:?}"
    );
    assert!(!server.hits().is_empty());
}

/// A single file over HTTP (kustomize's other remote form), a host that is not allowed,
/// and a Git reference that does not exist: each at the entry's line.
#[test]
fn remote_files_refusals_and_failures_are_at_the_entry() {
    let server = Server::start();
    let _repo = git_repository(&server);
    server.route(
        "/raw/deployment.yaml",
        Reply::Body(BASE_DEPLOYMENT.as_bytes().to_vec()),
    );
    let cache = tempfile::tempdir().unwrap();
    let allow = ["--allow-host", &server.allow()];
    let dir = overlay(&server.url("/raw/deployment.yaml"));
    let r = check_with(dir.path(), None, cache.path(), &allow);
    let privileged = of_rule(&r, "KG101");
    assert_eq!(privileged.len(), 1, "{}", listing(&r.findings));
    assert_eq!(privileged[0].line, 4);
    assert!(
        privileged[0].message.contains("(at deployment.yaml:18 of"),
        "{}",
        privileged[0].message
    );
    let dir = overlay("https://github.com/org/repo//deploy?ref=v1");
    let r = check_with(dir.path(), None, cache.path(), &allow);
    let refused = of_rule(&r, "remote-refused");
    assert_eq!(refused.len(), 1, "{}", listing(&r.findings));
    assert_eq!(
        (refused[0].file.as_str(), refused[0].line),
        ("kustomization.yaml", 4)
    );
    let dir = overlay(&server.url("/git/base.git//deploy?ref=v9.9.9"));
    let r = check_with(dir.path(), None, cache.path(), &allow);
    let failed = of_rule(&r, "remote-failed");
    assert_eq!(failed.len(), 1, "{}", listing(&r.findings));
    assert!(
        failed[0].message.contains("git fetch"),
        "{}",
        failed[0].message
    );
    // A repository larger than --max-file-size is stopped.
    let dir = overlay(&server.url("/git/base.git//deploy?ref=v1.0.0"));
    let small = ["--allow-host", &server.allow(), "--max-file-size", "50000"];
    let r = check_with(dir.path(), None, cache.path(), &small);
    let failed = of_rule(&r, "remote-failed");
    assert_eq!(failed.len(), 1, "{}", listing(&r.findings));
    assert!(
        failed[0].message.contains("larger than 50000 bytes"),
        "{}",
        failed[0].message
    );
}

// ---------------------------------------------------------------------------------------
// The fetch itself, without helm
// ---------------------------------------------------------------------------------------

fn network(allow: &[&str], timeout: Duration, max: u64) -> Network {
    Network::new(
        allow.iter().map(|a| HostRule::parse(a).unwrap()).collect(),
        timeout,
        max,
        tempfile::tempdir().unwrap().keep(),
    )
}

#[test]
fn a_body_over_the_size_limit_is_cut_off() {
    let server = Server::start();
    server.route("/endless", Reply::Endless);
    server.route("/big", Reply::Body(vec![b'x'; 100_000]));
    let net = network(&[&server.allow()], Duration::from_secs(20), 10_000);
    for path in ["/endless", "/big"] {
        match net.get(&server.url(path)) {
            Err(Error::Failed(m)) => assert!(m.contains("larger than 10000 bytes"), "{m}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    server.route("/small", Reply::Body(vec![b'x'; 10_000]));
    assert_eq!(net.get(&server.url("/small")).unwrap().len(), 10_000);
}

#[test]
fn a_slow_answer_times_out() {
    let server = Server::start();
    server.route("/slow", Reply::Slow(Duration::from_secs(5)));
    let net = network(&[&server.allow()], Duration::from_millis(300), 1 << 20);
    let started = std::time::Instant::now();
    match net.get(&server.url("/slow")) {
        Err(Error::Failed(m)) => assert!(m.contains("no answer within"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn redirects_are_followed_only_to_allowed_hosts() {
    let a = Server::start();
    let b = Server::start();
    b.route("/there", Reply::Body(b"ok".to_vec()));
    a.route("/same", Reply::Redirect("/here".into()));
    a.route("/here", Reply::Body(b"here".to_vec()));
    a.route("/to-b", Reply::Redirect(b.url("/there")));
    a.route("/loop", Reply::Redirect("/loop".into()));
    let net = network(&[&a.allow()], Duration::from_secs(5), 1 << 20);
    assert_eq!(net.get(&a.url("/same")).unwrap(), b"here");
    // b listens on 127.0.0.1 too, but another port: not allowed.
    match net.get(&a.url("/to-b")) {
        Err(Error::Refused(m)) => assert!(m.contains("redirects to"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(b.hits().is_empty());
    assert!(matches!(net.get(&a.url("/loop")), Err(Error::Failed(m)) if m.contains("redirects")));
    // Both allowed: followed, and a token for `a` is not handed to `b`.
    let net = network(&[&a.allow(), &b.allow()], Duration::from_secs(5), 1 << 20);
    assert_eq!(net.get(&a.url("/to-b")).unwrap(), b"ok");
    let auth = [("Authorization", "Bearer secret".to_owned())];
    let answer = net.get_with(&a.url("/to-b"), &auth).unwrap();
    assert_eq!(answer.body, b"ok");
    assert!(
        a.hits().contains(&"/to-b (authorized)".to_owned()),
        "{:?}",
        a.hits()
    );
    assert_eq!(
        b.hits(),
        ["/there", "/there"],
        "no credentials to another host"
    );
}
