//! Helm charts inside `kubegate check`: each chart of the checked paths is rendered by the real
//! `helm template` (named in `.kubegate.yaml`, by a Flux `HelmRelease` or an Argo CD
//! `Application`, else once with its default values) and every finding is reported in the
//! chart's own files: at the template line that writes the offending key, or, when the value
//! comes from a values file, at the line of the values file that sets it. A chart helm cannot
//! render is a finding at the place helm names, and the rest of the run goes on.
//!
//! Fixtures are under `tests/helm/<case>/` (copied to a temporary directory, where kubegate
//! runs with the path `.`); the expected lines and columns are those of the fixture files.
//! Every test runs with helm v4 (`KUBEGATE_TEST_HELM`, else `helm` on `PATH`) and, when
//! `KUBEGATE_TEST_HELM3` is set, with helm v3 too, expecting the same findings. Without helm
//! the tests print `skipped` and pass, unless `KUBEGATE_REQUIRE_HELM` is set (CI sets it).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Run, git, root};
use serde_json::Value;

/// Variables that change what kubegate reports or how (CI detection, colours).
const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_BASE_REF",
    "GITHUB_EVENT_PATH",
    "GITHUB_STEP_SUMMARY",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA",
    "NO_COLOR",
];

use common::helm;

/// A helm binary and the version it reports (for failure messages).
struct Helm {
    path: PathBuf,
    version: String,
}

impl Helm {
    fn new(path: PathBuf) -> Self {
        let out = Command::new(&path)
            .args(["version", "--template", "{{ .Version }}"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        assert!(
            out.status.success(),
            "{} version: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Helm { path, version }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("helm's path is UTF-8")
    }
}

/// Every helm to run each test with: [`helm`], then `KUBEGATE_TEST_HELM3` when set. Empty
/// when helm is missing.
fn helms() -> &'static [Helm] {
    static HELMS: OnceLock<Vec<Helm>> = OnceLock::new();
    HELMS.get_or_init(|| {
        let Some(first) = helm() else {
            return Vec::new();
        };
        let mut all = vec![Helm::new(first)];
        if let Some(p) = std::env::var_os("KUBEGATE_TEST_HELM3").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "KUBEGATE_TEST_HELM3={} is not a file",
                p.display()
            );
            all.push(Helm::new(p));
        }
        all
    })
}

/// Runs `test` once with each helm; returns (after [`helm`] printed `skipped`) when there is
/// none.
fn with_each_helm(test: impl Fn(&Helm)) {
    if helm().is_none() {
        return;
    }
    for h in helms() {
        test(h);
    }
}

/// Copies `tests/helm/<case>` into a new temporary directory.
fn fixture(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("tests/helm").join(case), dir.path());
    dir
}

/// Copies the directory `from` (hidden files included) into `to`, creating it.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs kubegate in `dir` with `args`, CI variables cleared and `envs` set, killing it after
/// a minute (a render that never ends must fail the test, not hang CI).
fn kubegate(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for v in CLEARED {
        cmd.env_remove(v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = output_within(cmd, Duration::from_secs(60));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kubegate panicked:\n{}",
        run.stderr
    );
    run
}

fn output_within(mut cmd: Command, deadline: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubegate runs");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kubegate") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubegate did not finish within {deadline:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `kubegate check . --no-config -f json --helm <helm>` in `dir`, then `extra`.
fn check(dir: &Path, helm: &Helm, extra: &[&str]) -> Run {
    let mut args = vec![
        "check",
        ".",
        "--no-config",
        "-f",
        "json",
        "--helm",
        helm.arg(),
    ];
    args.extend_from_slice(extra);
    kubegate(dir, &args, &[])
}

/// `kubegate check . --config <config> -f json --helm <helm>` in `dir`.
fn check_with_config(dir: &Path, helm: &Helm, config: &str) -> Run {
    kubegate(
        dir,
        &[
            "check",
            ".",
            "--config",
            config,
            "-f",
            "json",
            "--helm",
            helm.arg(),
        ],
        &[],
    )
}

#[derive(Debug, Clone)]
struct Finding {
    file: String,
    line: u64,
    column: u64,
    rule: String,
    severity: String,
    message: String,
    rendered: Vec<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}] {} (rendered: {:?})",
            self.file,
            self.line,
            self.column,
            self.severity,
            self.rule,
            self.message,
            self.rendered
        )
    }
}

/// Every finding of a JSON report.
fn findings(r: &Run) -> Vec<Finding> {
    let report: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
            r.code, r.stdout, r.stderr
        )
    });
    report["findings"]
        .as_array()
        .expect("findings is an array")
        .iter()
        .map(|f| Finding {
            file: f["file"].as_str().unwrap().to_owned(),
            line: f["line"].as_u64().unwrap(),
            column: f["column"].as_u64().unwrap(),
            rule: f["rule"].as_str().unwrap().to_owned(),
            severity: f["severity"].as_str().unwrap().to_owned(),
            message: f["message"].as_str().unwrap_or("").to_owned(),
            rendered: f["rendered"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The findings, one a line, for failure messages.
fn listing(fs: &[Finding]) -> String {
    fs.iter().map(|f| format!("  {f}\n")).collect()
}

/// The report's findings, checked for the basics: kubegate ran with `helm` and exited `code`.
fn report(r: &Run, helm: &Helm, code: i32) -> Vec<Finding> {
    let fs = findings(r);
    assert_eq!(
        r.code,
        code,
        "exit code with helm {}; findings:\n{}stderr:\n{}",
        helm.version,
        listing(&fs),
        r.stderr
    );
    fs
}

/// The findings of `rule` are exactly one at each of `places` (`(file, line, column)`), and
/// no other: the place the author must edit, once however many renderings produce it.
fn assert_only(fs: &[Finding], helm: &Helm, rule: &str, places: &[(&str, u64, u64)]) {
    let mut got: Vec<(String, u64, u64)> = fs
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.file.clone(), f.line, f.column))
        .collect();
    got.sort();
    let mut want: Vec<(String, u64, u64)> = places
        .iter()
        .map(|&(f, l, c)| (f.to_owned(), l, c))
        .collect();
    want.sort();
    assert_eq!(
        got,
        want,
        "{rule} findings with helm {}; all findings:\n{}",
        helm.version,
        listing(fs)
    );
}

/// The one finding of `rule` at `file:line:column`.
fn one<'a>(
    fs: &'a [Finding],
    helm: &Helm,
    (file, line, column): (&str, u64, u64),
    rule: &str,
) -> &'a Finding {
    let at: Vec<&Finding> = fs
        .iter()
        .filter(|f| f.rule == rule && f.file == file && f.line == line && f.column == column)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "want one {rule} at {file}:{line}:{column} with helm {}; all findings:\n{}",
        helm.version,
        listing(fs)
    );
    at[0]
}

/// `f` was rendered from the chart in `chart_dir`.
fn assert_rendered_from(f: &Finding, helm: &Helm, chart_dir: &str) {
    assert!(
        f.rendered.iter().any(|r| r.contains(chart_dir)),
        "with helm {}, `rendered` of {f} does not name {chart_dir}",
        helm.version
    );
}

fn is_helm_rule(rule: &str) -> bool {
    rule.starts_with("helm-")
}

// ---------------------------------------------------------------------------------------
// Where findings land
// ---------------------------------------------------------------------------------------

/// The main story: production's values file makes the container privileged. The template
/// writes `{{- toYaml .Values.securityContext | nindent 12 }}`, so the finding is at the line
/// of values-prod.yaml that sets it (chart/values-prod.yaml line 3 `  privileged: true`, the
/// value at column 15), not in the template and not in the rendered text.
#[test]
fn a_value_from_a_values_file_is_reported_at_its_line_in_that_file() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        let r = check_with_config(dir.path(), helm, ".kubegate.yaml");
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("chart/values-prod.yaml", 3, 15)]);
        let f = one(&fs, helm, ("chart/values-prod.yaml", 3, 15), "KG101");
        assert_eq!(f.severity, "error");
        assert_rendered_from(f, helm, "chart");
        assert!(
            !fs.iter().any(|f| is_helm_rule(&f.rule)),
            "the chart renders; findings:\n{}",
            listing(&fs)
        );
    });
}

/// The same rendering named by deploy/prod.kubegate.yaml (`chart: ../chart`, `values:
/// [../chart/values-prod.yaml]`): paths are relative to the configuration file, so the
/// finding is the same, chart/values-prod.yaml 3:15.
#[test]
fn configured_paths_are_relative_to_the_configuration_file() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        let r = check_with_config(dir.path(), helm, "deploy/prod.kubegate.yaml");
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("chart/values-prod.yaml", 3, 15)]);
    });
}

/// A `helm:` entry naming a directory that is not a chart is said on stderr, and the run
/// goes on with the others (the chart's default rendering here).
#[test]
fn a_configured_chart_that_is_not_a_chart_is_a_warning() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        write(
            dir.path(),
            "wrong.kubegate.yaml",
            "helm:\n  - chart: deploy\n    values: [chart/values-prod.yaml]\n",
        );
        let r = check_with_config(dir.path(), helm, "wrong.kubegate.yaml");
        let fs = report(&r, helm, 0);
        assert!(
            r.stderr.contains("warning: configuration `helm:` names")
                && r.stderr.contains("which is not a chart"),
            "{}",
            r.stderr
        );
        assert!(
            fs.iter().any(|f| f.file.starts_with("chart/")),
            "{}",
            listing(&fs)
        );
    });
}

/// Without the configuration nothing names a rendering, so the chart is rendered once with
/// its values.yaml, whose securityContext is not privileged: no KG101 at all (and the chart
/// was rendered: its other findings are in chart/).
#[test]
fn the_default_rendering_uses_the_charts_own_values_only() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        let r = check(dir.path(), helm, &[]);
        let fs = findings(&r);
        assert_only(&fs, helm, "KG101", &[]);
        assert!(
            fs.iter()
                .any(|f| f.file.starts_with("chart/") && !is_helm_rule(&f.rule)),
            "with helm {}, the chart was not rendered; findings:\n{}",
            helm.version,
            listing(&fs)
        );
        assert!(
            !fs.iter().any(|f| is_helm_rule(&f.rule)),
            "findings:\n{}",
            listing(&fs)
        );
    });
}

/// Two values files set `securityContext.privileged: true`: the later one wins (as with
/// `helm template -f values-prod.yaml -f values-gpu.yaml`), so the finding is at
/// chart/values-gpu.yaml line 5 `  privileged: true` (value at column 15), not at
/// values-prod.yaml line 3.
#[test]
fn the_later_values_file_that_sets_a_value_is_where_it_is_reported() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        let r = check_with_config(dir.path(), helm, "gpu.kubegate.yaml");
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("chart/values-gpu.yaml", 5, 15)]);
    });
}

/// `set: ["securityContext.privileged=false"]` in the configuration beats the values files,
/// as `--set` does: nothing is privileged.
#[test]
fn set_in_the_configuration_overrides_the_values_files() {
    with_each_helm(|helm| {
        let dir = fixture("values-file");
        let r = check_with_config(dir.path(), helm, "set.kubegate.yaml");
        let fs = findings(&r);
        assert_only(&fs, helm, "KG101", &[]);
        assert!(
            fs.iter()
                .any(|f| f.file.starts_with("chart/") && !is_helm_rule(&f.rule)),
            "with helm {}, the chart was not rendered; findings:\n{}",
            helm.version,
            listing(&fs)
        );
    });
}

/// Mistakes written in the template itself land on the template's line. The chart's
/// directory is charts/agent but its name is node-agent (helm names templates by chart
/// name). templates/deployment.yaml line 9 `  replica: {{ .Values.replicaCount }}`: an
/// unknown field, at the key (column 3) even though the value comes from values.yaml; line
/// 20 `      hostNetwork: true`: KG105 at the value (column 20).
#[test]
fn a_mistake_written_in_a_template_is_reported_at_the_template_line() {
    with_each_helm(|helm| {
        let dir = fixture("literal");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        let template = "charts/agent/templates/deployment.yaml";
        assert_only(&fs, helm, "schema-unknown-field", &[(template, 9, 3)]);
        assert_only(&fs, helm, "KG105", &[(template, 20, 20)]);
        assert_rendered_from(
            one(&fs, helm, (template, 20, 20), "KG105"),
            helm,
            "charts/agent",
        );
    });
}

/// Two releases of one chart (two-releases.kubegate.yaml: agent-eu and agent-us) render the
/// same template lines: each problem is reported once, KG105 at the same place as above
/// (templates/deployment.yaml 20:20), the unknown field once too.
#[test]
fn a_template_rendered_by_two_releases_is_reported_once() {
    with_each_helm(|helm| {
        let dir = fixture("literal");
        let r = check_with_config(dir.path(), helm, "two-releases.kubegate.yaml");
        let fs = report(&r, helm, 1);
        let template = "charts/agent/templates/deployment.yaml";
        assert_only(&fs, helm, "KG105", &[(template, 20, 20)]);
        assert_rendered_from(
            one(&fs, helm, (template, 20, 20), "KG105"),
            helm,
            "charts/agent",
        );
        // Once too; where: see a_mistake_written_in_a_template_is_reported_at_the_template_line.
        let unknown = fs.iter().filter(|f| f.rule == "schema-unknown-field");
        assert_eq!(unknown.count(), 1, "findings:\n{}", listing(&fs));
    });
}

/// `hostNetwork: {{ .Values.hostNetwork }}` and `containerPort: {{ .Values.port }}`: scalar
/// leaves whose values come from metrics/values.yaml. Line 6 `hostNetwork: true` (KG105, the
/// value at column 14); line 9 `port: metrics`, a string where the schema wants an integer
/// (schema-type, the value at column 7).
#[test]
fn a_scalar_from_values_is_reported_at_its_values_line() {
    with_each_helm(|helm| {
        let dir = fixture("scalar");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG105", &[("metrics/values.yaml", 6, 14)]);
        assert_only(&fs, helm, "schema-type", &[("metrics/values.yaml", 9, 7)]);
        assert_rendered_from(
            one(&fs, helm, ("metrics/values.yaml", 6, 14), "KG105"),
            helm,
            "metrics",
        );
    });
}

/// `{{- with .Values.podSecurityContext }} securityContext: {{- toYaml . | nindent 8 }}`:
/// toYaml sorts the keys (fsGroup comes before runAsUser in the rendered text, after it in
/// the file), the finding still lands on chart/values.yaml line 7 `  runAsUser: 0` (KG103,
/// the value at column 14).
#[test]
fn a_map_from_values_through_with_and_to_yaml_is_reported_at_its_key() {
    with_each_helm(|helm| {
        let dir = fixture("with");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 0);
        assert_only(&fs, helm, "KG103", &[("chart/values.yaml", 7, 14)]);
        assert_eq!(
            one(&fs, helm, ("chart/values.yaml", 7, 14), "KG103").severity,
            "warning"
        );
    });
}

/// Containers from a list in the values (`range`), labels from a `_helpers.tpl` define
/// (`include`), env values that are templates (`tpl (toYaml .) $`):
/// - shop/values.yaml line 8 `      privileged: true`, the second container's (KG101, column 19);
/// - shop/templates/_helpers.tpl line 6 `cost-center: 4711`, a number where a label must be a
///   string: the `include "shop.labels"` of shop/templates/deployment.yaml line 6 is followed
///   into its define, where the value is (column 14);
/// - shop/values.yaml line 15 `    value: "hunter2-{{ .Release.Namespace }}"`, a literal
///   password after tpl (KG602 at the value, column 12), although the rendered text differs.
#[test]
fn range_include_and_tpl_are_traced_to_their_lines() {
    with_each_helm(|helm| {
        let dir = fixture("range-include-tpl");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("shop/values.yaml", 8, 19)]);
        assert_only(
            &fs,
            helm,
            "schema-type",
            &[("shop/templates/_helpers.tpl", 6, 14)],
        );
        assert_only(&fs, helm, "KG602", &[("shop/values.yaml", 15, 12)]);
    });
}

/// The vendored subchart charts/ingress-proxy takes its values from the parent's values.yaml
/// under `ingress-proxy:`. platform/values.yaml line 10 `    privileged: true` (KG101, column
/// 17) and line 9 `      add: [NET_ADMIN]`, a flow sequence toYaml rewrites as a block
/// (KG111 at the item, column 13). The subchart is rendered as part of the parent only, not
/// on its own (where its values.yaml's `securityContext: {}` applies): every finding's
/// `rendered` names the parent.
#[test]
fn a_subchart_value_set_by_the_parent_is_reported_in_the_parents_values() {
    with_each_helm(|helm| {
        let dir = fixture("subchart");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("platform/values.yaml", 10, 17)]);
        assert_only(&fs, helm, "KG111", &[("platform/values.yaml", 9, 13)]);
        assert_rendered_from(
            one(&fs, helm, ("platform/values.yaml", 10, 17), "KG101"),
            helm,
            "platform",
        );
        assert!(
            fs.iter().all(|f| f
                .rendered
                .iter()
                .all(|r| !r.starts_with("platform/charts/"))),
            "the subchart was rendered on its own; findings:\n{}",
            listing(&fs)
        );
    });
}

/// An application chart built on a library chart (type: library) vendored as
/// charts/billing/charts/common; the library's source charts/common is not rendered on its
/// own (helm refuses: "library charts are not installable"). The define in
/// charts/billing/charts/common/templates/_deployment.tpl writes line 24 `      hostPID: true`
/// (KG106, at the value, column 16) and the container's securityContext from
/// charts/billing/values.yaml line 5 `  runAsUser: 0` (KG103, column 14): the whole
/// Deployment is the one line `{{ include "common.deployment" . }}` of
/// charts/billing/templates/deployment.yaml, followed into the library's define, whose
/// `with .Values.securityContext` is the billing chart's values (the root context is
/// passed).
#[test]
fn a_library_charts_define_is_reported_at_its_line_and_the_library_is_not_rendered_alone() {
    with_each_helm(|helm| {
        let dir = fixture("library");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(
            &fs,
            helm,
            "KG106",
            &[(
                "charts/billing/charts/common/templates/_deployment.tpl",
                24,
                16,
            )],
        );
        assert_only(&fs, helm, "KG103", &[("charts/billing/values.yaml", 5, 14)]);
        assert!(
            !fs.iter().any(|f| f.file.starts_with("charts/common/")),
            "the library chart is not rendered on its own; findings:\n{}",
            listing(&fs)
        );
    });
}

/// A chart in `helm create`'s shape: labels, selector labels (included by the labels) and the
/// container are defines of web/templates/_helpers.tpl, included with the root context by
/// web/templates/deployment.yaml and web/templates/service.yaml. Each finding is at the line
/// the author edits, inside the define or in the values:
/// - `cost-center: 4711` (line 16 of _helpers.tpl, column 14), a number where a label must be
///   a string, in the labels of the Deployment and of the Service;
/// - the container's `hostPort: 8080` (line 36, column 17, KG110) and
///   `allowPrivilegeEscalation: true` (line 38, column 31, KG102), literal in the define;
/// - `privileged: true`, from `{{- toYaml .Values.securityContext | nindent 4 }}` inside the
///   define: web/values.yaml line 10, column 15 (KG101);
/// - the container's missing liveness probe at its item, `- name:` (line 31, column 3).
#[test]
fn a_key_written_by_a_define_is_reported_at_the_defines_line() {
    with_each_helm(|helm| {
        let dir = fixture("define");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        let helpers = "web/templates/_helpers.tpl";
        assert_only(&fs, helm, "schema-type", &[(helpers, 16, 14)]);
        assert_only(&fs, helm, "KG110", &[(helpers, 36, 17)]);
        assert_only(&fs, helm, "KG102", &[(helpers, 38, 31)]);
        assert_only(&fs, helm, "KG101", &[("web/values.yaml", 10, 15)]);
        // About the whole container: its item in the define (line 31, column 3).
        assert_only(&fs, helm, "KG405", &[(helpers, 31, 3)]);
        assert_rendered_from(
            one(&fs, helm, ("web/values.yaml", 10, 15), "KG101"),
            helm,
            "web",
        );
    });
}

/// Flux: two HelmReleases render ./charts/app from the GitRepository (paths relative to the
/// repository). apps/prod/app.yaml sets `privileged: true` inline in spec.values (line 19,
/// value at column 19); apps/staging/app.yaml lists `valuesFiles` (relative to the
/// repository too), the last of which, charts/app/values-staging.yaml, sets `hostNetwork:
/// true` (line 2, column 14). Each finding once (prod has hostNetwork false).
#[test]
fn a_flux_helm_release_renders_its_chart_with_its_values() {
    with_each_helm(|helm| {
        let dir = fixture("flux");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("apps/prod/app.yaml", 19, 19)]);
        assert_only(
            &fs,
            helm,
            "KG105",
            &[("charts/app/values-staging.yaml", 2, 14)],
        );
        assert_rendered_from(
            one(&fs, helm, ("apps/prod/app.yaml", 19, 19), "KG101"),
            helm,
            "charts/app",
        );
    });
}

/// Flux builds a chart from a GitRepository with exactly its `valuesFiles`: the chart's own
/// values.yaml is merged only when listed (source-controller replaces the chart's values).
/// apps/api.yaml lists only charts/api/values-prod.yaml, so the `runAsNonRoot: true` of
/// charts/api/values.yaml is not deployed: KG104 (neither the container nor its pod sets
/// runAsNonRoot) is reported, at the container's line of the template (line 16, column 11).
/// The chart's default rendering would merge values.yaml and pass.
#[test]
fn a_flux_helm_release_with_values_files_does_not_merge_the_charts_values() {
    with_each_helm(|helm| {
        let dir = fixture("flux-values-files");
        let r = check(dir.path(), helm, &[]);
        // Warnings only: exit 0.
        let fs = report(&r, helm, 0);
        assert_only(
            &fs,
            helm,
            "KG104",
            &[("charts/api/templates/deployment.yaml", 16, 11)],
        );
        assert_rendered_from(
            one(
                &fs,
                helm,
                ("charts/api/templates/deployment.yaml", 16, 11),
                "KG104",
            ),
            helm,
            "HelmRelease api",
        );
    });
}

/// Argo CD: an Application whose source path is the chart charts/guestbook, with
/// `helm.valueFiles: [values-prod.yaml]` (relative to the chart) and `valuesObject`.
/// charts/guestbook/values-prod.yaml line 3 `  privileged: true` (KG101, column 15);
/// apps/guestbook.yaml line 17 `          runAsUser: 0` in valuesObject (KG103, column 22).
#[test]
fn an_argo_cd_application_renders_its_chart_with_its_value_files() {
    with_each_helm(|helm| {
        let dir = fixture("argo");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(
            &fs,
            helm,
            "KG101",
            &[("charts/guestbook/values-prod.yaml", 3, 15)],
        );
        assert_only(&fs, helm, "KG103", &[("apps/guestbook.yaml", 17, 22)]);
        assert_rendered_from(
            one(
                &fs,
                helm,
                ("charts/guestbook/values-prod.yaml", 3, 15),
                "KG101",
            ),
            helm,
            "charts/guestbook",
        );
    });
}

/// Flux `valuesFrom`, each as the repository holds it (tests/helm/flux-values-from):
/// apps/web/release.yaml renders charts/web with, in order, the ConfigMap web-values
/// (apps/web/values.yaml, a literal block whose line 11 `      privileged: true` is KG101 at
/// column 19), the Secret web-secret's `security.yaml` (base64 in apps/web/secret.yaml: its
/// `runAsUser: 0` is KG103 at the data line 8, column 18), the ConfigMap web-generated that
/// apps/web/kustomization.yaml generates from generated-values.yaml (line 1
/// `hostNetwork: true`, KG105 at column 14), a ConfigMap the repository does not hold (line
/// 23: a `helm-values-missing` info), an optional one (nothing), and a `targetPath` entry
/// (`image.tag` from web-values' `tag`, seen in KG302's message).
#[test]
fn a_flux_helm_release_takes_values_from_the_repositorys_configmaps_and_secrets() {
    with_each_helm(|helm| {
        let dir = fixture("flux-values-from");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("apps/web/values.yaml", 11, 19)]);
        assert_only(&fs, helm, "KG103", &[("apps/web/secret.yaml", 8, 18)]);
        assert_only(
            &fs,
            helm,
            "KG105",
            &[("apps/web/generated-values.yaml", 1, 14)],
        );
        assert_only(
            &fs,
            helm,
            "helm-values-missing",
            &[("apps/web/release.yaml", 23, 7)],
        );
        let missing = one(
            &fs,
            helm,
            ("apps/web/release.yaml", 23, 7),
            "helm-values-missing",
        );
        assert!(
            missing.message.contains("web-cluster-values") && missing.severity == "info",
            "{missing}"
        );
        let image = fs.iter().find(|f| f.rule == "KG302").expect("KG302");
        assert!(
            image.message.contains("ghcr.io/example/web:1.0-debug"),
            "targetPath sets image.tag: {image}"
        );
        assert_rendered_from(
            one(&fs, helm, ("apps/web/values.yaml", 11, 19), "KG101"),
            helm,
            "HelmRelease web",
        );
    });
}

/// A HelmRelease's `spec.chartRef` naming a Flux HelmChart of the repository
/// (tests/helm/flux-chart-ref/apps/web.yaml): the HelmChart's chart path and `valuesFiles`
/// (charts/web/values-prod.yaml line 3, `privileged: true`, KG101 at column 15), then the
/// release's inline values (line 27, `hostNetwork: true`, KG105 at column 18).
#[test]
fn a_flux_helm_release_renders_the_helm_chart_its_chart_ref_names() {
    with_each_helm(|helm| {
        let dir = fixture("flux-chart-ref");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(
            &fs,
            helm,
            "KG101",
            &[("charts/web/values-prod.yaml", 3, 15)],
        );
        assert_only(&fs, helm, "KG105", &[("apps/web.yaml", 27, 18)]);
    });
}

/// Argo CD multi-source (tests/helm/argo-multi-source): apps/api.yaml renders charts/api with
/// `$values/envs/prod/values.yaml` from the source `ref: values`, the same repository
/// (its URL without `.git`): line 3 `  privileged: true` is KG101 at column 15. The
/// `$shared/...` file is in another repository: a `helm-values-missing` info at its
/// valueFiles entry (line 19, column 13). `helm.values` is a literal block: its
/// `hostNetwork: true` is KG105 at its line in the Application (21, column 24).
#[test]
fn an_argo_cd_multi_source_application_reads_values_of_this_repository() {
    with_each_helm(|helm| {
        let dir = fixture("argo-multi-source");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("envs/prod/values.yaml", 3, 15)]);
        assert_only(&fs, helm, "KG105", &[("apps/api.yaml", 21, 24)]);
        assert_only(
            &fs,
            helm,
            "helm-values-missing",
            &[("apps/api.yaml", 19, 13)],
        );
        assert_rendered_from(
            one(&fs, helm, ("envs/prod/values.yaml", 3, 15), "KG101"),
            helm,
            "release api-prod",
        );
    });
}

/// `--changed-only` re-renders what a change reaches: the flux fixture committed on main,
/// then on a branch a change to the chart's template only. The unchanged HelmRelease
/// apps/prod/app.yaml still renders it with its inline values (KG101 at line 19, column
/// 19), and the chart is not rendered with its defaults (release-name). A change to the
/// HelmRelease only re-renders its chart too; a change elsewhere renders no chart.
#[test]
fn changed_only_re_renders_the_releases_a_change_reaches() {
    with_each_helm(|helm| {
        let dir = fixture("flux");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "base"]);
        git(d, &["checkout", "-q", "-b", "change"]);
        let only = ["--base", "main", "--changed-only"];
        // The chart's template only.
        let template = d.join("charts/app/templates/deployment.yaml");
        let text = std::fs::read_to_string(&template).unwrap();
        std::fs::write(
            &template,
            text.replace("replicas:", "revisionHistoryLimit: 3\n  replicas:"),
        )
        .unwrap();
        git(d, &["commit", "-q", "-am", "template"]);
        let fs = report(&check(d, helm, &only), helm, 1);
        assert_only(&fs, helm, "KG101", &[("apps/prod/app.yaml", 19, 19)]);
        assert!(
            fs.iter()
                .all(|f| f.rendered.iter().all(|r| !r.contains("release-name"))),
            "no default rendering of a chart a HelmRelease renders:\n{}",
            listing(&fs)
        );
        // The HelmRelease only.
        git(d, &["reset", "-q", "--hard", "main"]);
        let release = d.join("apps/prod/app.yaml");
        let text = std::fs::read_to_string(&release).unwrap();
        std::fs::write(&release, text.replace("replicaCount: 3", "replicaCount: 4")).unwrap();
        git(d, &["commit", "-q", "-am", "release"]);
        let fs = report(&check(d, helm, &only), helm, 1);
        assert_only(&fs, helm, "KG101", &[("apps/prod/app.yaml", 19, 19)]);
        // Neither: nothing rendered.
        git(d, &["reset", "-q", "--hard", "main"]);
        std::fs::write(d.join("README.md"), "notes\n").unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "notes"]);
        let r = check(d, helm, &only);
        let fs = report(&r, helm, 0);
        assert!(fs.is_empty(), "{}", listing(&fs));
    });
}

/// The demo (`kubegate check fixtures/demo`, from the repository): the Flux HelmRelease in
/// fixtures/demo/releases/demo.yaml renders ./fixtures/demo/chart (a path from the
/// repository's root) with values.yaml then values-prod.yaml, whose line 4
/// `  privileged: true` is the chart's one error (KG101, the value at column 15).
#[test]
fn the_demo_chart_is_rendered_by_its_helm_release() {
    with_each_helm(|helm| {
        let r = kubegate(
            &root(),
            &["check", "fixtures/demo", "-f", "json", "--helm", helm.arg()],
            &[],
        );
        let fs = report(&r, helm, 1);
        let values = "fixtures/demo/chart/values-prod.yaml";
        assert_only(&fs, helm, "KG101", &[(values, 4, 15)]);
        assert_rendered_from(
            one(&fs, helm, (values, 4, 15), "KG101"),
            helm,
            "fixtures/demo/chart",
        );
        let chart_errors: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.file.starts_with("fixtures/demo/chart/") && f.severity == "error")
            .collect();
        assert_eq!(
            chart_errors.len(),
            1,
            "with helm {}; all findings:\n{}",
            helm.version,
            listing(&fs)
        );
    });
}

// ---------------------------------------------------------------------------------------
// Charts helm cannot render: a finding each, and the run goes on
// ---------------------------------------------------------------------------------------

/// A plain manifest next to the broken charts, with a mistake at apps/web.yaml line 6
/// (`  replica: 3`, column 3): it is still checked.
const WEB: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replica: 3
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
";

/// A temporary directory holding apps/web.yaml and each `(case, dir)`: the chart
/// tests/helm/errors/<case> copied to <dir> (a directory named otherwise than the chart, as
/// helm names templates by chart name).
fn broken(charts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "apps/web.yaml", WEB);
    for (case, to) in charts {
        copy_dir(
            &root().join("tests/helm/errors").join(case),
            &dir.path().join(to),
        );
    }
    dir
}

/// The run went on: the plain manifest was checked (exit 1 from findings, not 2).
fn assert_other_files_checked(fs: &[Finding], helm: &Helm) {
    one(fs, helm, ("apps/web.yaml", 6, 3), "schema-unknown-field");
}

/// `{{ .Values.farewell | trimm | quote }}`: helm's parse error names
/// parse-function/templates/cm.yaml:7 (no column; column 1), in charts/greeter.
#[test]
fn a_template_parse_error_is_reported_at_the_line_helm_names() {
    with_each_helm(|helm| {
        let dir = broken(&[("parse-function", "charts/greeter")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        let f = one(
            &fs,
            helm,
            ("charts/greeter/templates/cm.yaml", 7, 1),
            "helm-error",
        );
        assert_eq!(f.severity, "error");
        assert!(f.message.contains("trimm"), "{f}");
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/greeter/templates/cm.yaml", 7, 1)],
        );
    });
}

/// An action left open on the last line (7) of templates/cm.yaml: helm says `parse error at
/// (parse/templates/cm.yaml:8): unclosed action started at parse/templates/cm.yaml:7`. Line
/// 8 does not exist in the file; the finding is where the action starts, line 7 (column 1).
#[test]
fn an_unclosed_action_is_reported_where_it_starts() {
    with_each_helm(|helm| {
        let dir = broken(&[("parse", "charts/parse")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/parse/templates/cm.yaml", 7, 1)],
        );
    });
}

/// `{{ required "endpoint is required: set .Values.endpoint" .Values.endpoint }}` with no
/// endpoint in values.yaml: helm names required/templates/cm.yaml:7:15. helm's columns are
/// 0-based byte offsets (Go's text/template `ErrorContext`): 1-based, that is column 16,
/// where `required` is written, in charts/api.
#[test]
fn a_missing_required_value_is_reported_at_the_required_call() {
    with_each_helm(|helm| {
        let dir = broken(&[("required", "charts/api")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        let f = one(
            &fs,
            helm,
            ("charts/api/templates/cm.yaml", 7, 16),
            "helm-error",
        );
        assert!(f.message.contains("endpoint is required"), "{f}");
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/api/templates/cm.yaml", 7, 16)],
        );
    });
}

/// Line 6 `  motd: "Grüß Gott, {{ required "visitor is required" .Values.visitor }}!"`: helm
/// names column 25, a byte offset (`ü` and `ß` are two bytes each); kubegate's columns count
/// code points from 1, so `required` is at column 24.
#[test]
fn a_helm_column_after_non_ascii_text_counts_code_points() {
    with_each_helm(|helm| {
        let dir = broken(&[("required-utf8", "charts/motd")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/motd/templates/cm.yaml", 6, 24)],
        );
    });
}

/// values.yaml line 3 `port: http` breaks values.schema.json (`"port": {"type": "integer"}`).
/// helm names the value by its path (v4 `- at '/port': got string, want integer`, v3 `- port:
/// Invalid type. Expected: integer, given: string`): the finding is at that value, column 7.
#[test]
fn a_values_schema_violation_is_reported_at_the_value() {
    with_each_helm(|helm| {
        let dir = broken(&[("schema", "charts/api")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        let f = one(&fs, helm, ("charts/api/values.yaml", 3, 7), "helm-error");
        assert!(f.message.contains("port"), "{f}");
        assert_only(&fs, helm, "helm-error", &[("charts/api/values.yaml", 3, 7)]);
    });
}

/// Chart.yaml line 3 `description: a chart: whose description is not quoted` is not YAML:
/// kubegate's own reader reports it (yaml-syntax at 3:21, as for any YAML file) and the run
/// goes on. helm fails on it too; a helm-error, if any, may only be about that file.
#[test]
fn a_chart_yaml_that_is_not_yaml_is_a_finding_and_the_run_goes_on() {
    with_each_helm(|helm| {
        let dir = broken(&[("chart-yaml", "charts/api")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        one(&fs, helm, ("charts/api/Chart.yaml", 3, 21), "yaml-syntax");
        for f in fs.iter().filter(|f| is_helm_rule(&f.rule)) {
            assert!(
                f.file == "charts/api/Chart.yaml" && f.rule == "helm-error",
                "with helm {}: {f}",
                helm.version
            );
        }
    });
}

/// values.yaml line 4 `motd: welcome: have fun` is not YAML: yaml-syntax at 4:14 from
/// kubegate's reader, the run goes on; a helm-error, if any, may only be about values.yaml.
#[test]
fn a_values_file_that_is_not_yaml_is_a_finding_and_the_run_goes_on() {
    with_each_helm(|helm| {
        let dir = broken(&[("values-yaml", "charts/api")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        one(&fs, helm, ("charts/api/values.yaml", 4, 14), "yaml-syntax");
        for f in fs.iter().filter(|f| is_helm_rule(&f.rule)) {
            assert!(
                f.file == "charts/api/values.yaml" && f.rule == "helm-error",
                "with helm {}: {f}",
                helm.version
            );
        }
    });
}

/// Chart.yaml lists `redis` (line 6 `  - name: redis`, the name at column 11) but charts/
/// has no copy: a helm-dependency-missing warning there, and the chart is not rendered (no
/// helm-error about it).
#[test]
fn a_dependency_not_vendored_is_a_warning_at_its_name() {
    with_each_helm(|helm| {
        let dir = broken(&[("dependency-missing", "charts/cache")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        let f = one(
            &fs,
            helm,
            ("charts/cache/Chart.yaml", 6, 11),
            "helm-dependency-missing",
        );
        assert_eq!(f.severity, "warning");
        assert!(f.message.contains("redis"), "{f}");
        assert_only(&fs, helm, "helm-error", &[]);
    });
}

/// An exec error inside a define reached through `include`: helm names both frames
/// (exec-include/templates/cm.yaml:6:8, the include, then _helpers.tpl:3:16, the nil
/// pointer in `.Values.owner.team`). The finding is at the innermost, where the failing
/// expression is written: charts/labels/templates/_helpers.tpl line 3, column 17 (helm's 16
/// is 0-based; it points at `.owner`).
#[test]
fn an_exec_error_through_include_is_reported_in_the_define() {
    with_each_helm(|helm| {
        let dir = broken(&[("exec-include", "charts/labels")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/labels/templates/_helpers.tpl", 3, 17)],
        );
    });
}

/// The second document of yaml/templates/cm.yaml renders `motd: welcome: have fun`, which
/// is not YAML. helm says `YAML parse error on yaml/templates/cm.yaml: ... yaml: line 7`,
/// the line within the rendered document, which helm does not print: the template's line
/// cannot be known, so the finding is at its first line (its message quotes helm's).
#[test]
fn invalid_yaml_in_a_rendered_document_is_reported_at_the_template_line() {
    with_each_helm(|helm| {
        let dir = broken(&[("yaml", "charts/motd")]);
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[("charts/motd/templates/cm.yaml", 1, 1)],
        );
    });
}

/// Every broken chart at once, with a good one: each is a finding at its place, the good
/// chart and the plain manifest are still checked, and the run exits 1, not 2. Columns are
/// helm's plus one (helm's are 0-based): the nil pointer of exec/templates/cm.yaml is at
/// 6:19 (helm: 6:18, `.database` of `.Values.database.primary.host`); a subchart's error is
/// in the subchart's file (exec-subchart/charts/worker/templates/cm.yaml 6:20); a
/// values.schema.json violation is at the value (`port: http`, values.yaml 3:7) or, for a
/// missing property, at the values' root (values.yaml 1:1); an incompatible kubeVersion at
/// Chart.yaml's `kubeVersion:` value (5:14); the library chart is not rendered on its own (no
/// finding).
#[test]
fn every_broken_chart_is_a_finding_and_the_run_goes_on() {
    with_each_helm(|helm| {
        let dir = broken(&[
            ("parse-function", "charts/greeter"),
            ("exec", "charts/db"),
            ("exec-subchart", "charts/queue"),
            ("required", "charts/api"),
            ("fail-include", "charts/mode"),
            ("schema", "charts/port"),
            ("schema-required", "charts/name"),
            ("kube-version", "charts/legacy"),
            ("dependency-missing", "charts/cache"),
            ("library", "charts/library"),
        ]);
        copy_dir(
            &root().join("tests/helm/scalar/metrics"),
            &dir.path().join("charts/metrics"),
        );
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        assert_only(
            &fs,
            helm,
            "helm-error",
            &[
                ("charts/greeter/templates/cm.yaml", 7, 1),
                ("charts/db/templates/cm.yaml", 6, 19),
                ("charts/queue/charts/worker/templates/cm.yaml", 6, 20),
                ("charts/api/templates/cm.yaml", 7, 16),
                // `fail` inside a define: helm names the caller's position, the `include`.
                ("charts/mode/templates/cm.yaml", 6, 12),
                ("charts/port/values.yaml", 3, 7),
                ("charts/name/values.yaml", 1, 1),
                ("charts/legacy/Chart.yaml", 5, 14),
            ],
        );
        assert_only(
            &fs,
            helm,
            "helm-dependency-missing",
            &[("charts/cache/Chart.yaml", 6, 11)],
        );
        // The good chart rendered (see a_scalar_from_values_is_reported_at_its_values_line).
        assert_only(&fs, helm, "KG105", &[("charts/metrics/values.yaml", 6, 14)]);
        assert!(
            !fs.iter().any(|f| f.file.starts_with("charts/library/")),
            "findings:\n{}",
            listing(&fs)
        );
    });
}

/// Processes still running with `dir` in their command line or as their working directory
/// (Linux; elsewhere none are found).
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        if cmdline.contains(&needle) || cwd.starts_with(dir) {
            out.push(format!("{}: {cmdline}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// tests/helm/bad/slow loops 400 million times (helm needs about half a minute). With
/// `--helm-timeout 2` kubegate stops helm after 2 seconds: a helm-error at slow/Chart.yaml
/// line 1 mentioning the timeout; the plain manifest is still checked. helm ignores SIGTERM
/// while it renders (it prints "Release ... has been cancelled." and goes on), so stopping
/// it takes a kill: no helm process is left running.
#[test]
fn a_render_that_takes_too_long_is_stopped_and_reported() {
    with_each_helm(|helm| {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &root().join("tests/helm/bad/slow"),
            &dir.path().join("slow"),
        );
        write(dir.path(), "apps/web.yaml", WEB);
        let started = Instant::now();
        let r = check(dir.path(), helm, &["--helm-timeout", "2"]);
        let took = started.elapsed();
        let fs = report(&r, helm, 1);
        assert_other_files_checked(&fs, helm);
        let f = one(&fs, helm, ("slow/Chart.yaml", 1, 1), "helm-error");
        let message = f.message.to_lowercase();
        assert!(
            message.contains("timeout") || message.contains("timed out"),
            "{f}"
        );
        assert!(
            took < Duration::from_secs(15),
            "with helm {}, kubegate took {took:?} with --helm-timeout 2",
            helm.version
        );
        let mut left = processes_under(dir.path());
        let waited = Instant::now();
        while !left.is_empty() && waited.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(100));
            left = processes_under(dir.path());
        }
        assert!(left.is_empty(), "helm left running: {left:?}");
    });
}

/// `--helm` names a helm that does not exist: a usage error (exit 2) naming it, since the
/// user asked for that binary explicitly. (Needs no helm: runs everywhere.)
#[test]
fn an_explicit_helm_that_does_not_exist_is_a_usage_error() {
    let dir = fixture("scalar");
    let r = kubegate(
        dir.path(),
        &[
            "check",
            ".",
            "--no-config",
            "-f",
            "json",
            "--helm",
            "/nonexistent/helm",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/nonexistent/helm"), "{}", r.stderr);
}

/// No `--helm` and no helm on `PATH` (an empty directory): one helm-not-found info per chart,
/// at its Chart.yaml line 1 (platform and metrics; not the vendored subchart
/// platform/charts/ingress-proxy, rendered as part of its parent), nothing rendered, and
/// exit 0 since nothing else is wrong. (Needs no helm: runs everywhere.)
#[test]
fn without_helm_each_chart_is_an_info() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &root().join("tests/helm/subchart/platform"),
        &dir.path().join("platform"),
    );
    copy_dir(
        &root().join("tests/helm/scalar/metrics"),
        &dir.path().join("metrics"),
    );
    let empty = tempfile::tempdir().unwrap();
    let r = kubegate(
        dir.path(),
        &["check", ".", "--no-config", "-f", "json"],
        &[("PATH", empty.path())],
    );
    let fs = findings(&r);
    assert_eq!(
        r.code,
        0,
        "findings:\n{}stderr:\n{}",
        listing(&fs),
        r.stderr
    );
    let mut got: Vec<String> = fs
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {} {}",
                f.file, f.line, f.column, f.severity, f.rule
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "metrics/Chart.yaml:1:1 info helm-not-found",
            "platform/Chart.yaml:1:1 info helm-not-found",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// kustomize `helmCharts`
// ---------------------------------------------------------------------------------------

/// overlay/kustomization.yaml renders the vendored chart overlay/charts/web through
/// `helmCharts` with `valuesFile: values-prod.yaml`, which sets `securityContext.privileged`
/// (overlay/values-prod.yaml line 3 `  privileged: true`, value at column 15): the KG101
/// finding is there, on the object kustomize rendered (namespace and labels applied), once.
/// The chart belongs to the kustomization: the helm stage does not render it again with its
/// default values, and its templates are not checked as loose files.
#[test]
fn a_helm_charts_value_from_its_values_file_is_reported_at_that_line() {
    with_each_helm(|helm| {
        let dir = fixture("kustomize-helmcharts");
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("overlay/values-prod.yaml", 3, 15)]);
        let f = one(&fs, helm, ("overlay/values-prod.yaml", 3, 15), "KG101");
        assert_rendered_from(f, helm, "overlay");
        assert!(
            !fs.iter().any(|f| is_helm_rule(&f.rule)
                || f.rule.starts_with("kustomize-")
                || f.rule.starts_with("yaml")),
            "with helm {}, the chart renders once, through the kustomization; findings:\n{}",
            helm.version,
            listing(&fs)
        );
        assert!(
            !fs.iter().any(|f| f
                .rendered
                .iter()
                .any(|r| r.contains("release release-name"))),
            "with helm {}, the chart was rendered with its default values too; findings:\n{}",
            helm.version,
            listing(&fs)
        );
    });
}

/// The same chart with `valuesInline` setting the value instead (overlay/kustomization.yaml
/// line 8 `      privileged: true`, value at column 19): reported in the kustomization.
#[test]
fn a_helm_charts_inline_value_is_reported_in_the_kustomization() {
    with_each_helm(|helm| {
        let dir = fixture("kustomize-helmcharts");
        write(
            dir.path(),
            "overlay/kustomization.yaml",
            "helmCharts:\n\
             - name: web\n\
             \x20 releaseName: shop\n\
             \x20 namespace: storefront\n\
             \x20 valuesInline:\n\
             \x20   replicaCount: 2\n\
             \x20   securityContext:\n\
             \x20     privileged: true\n\
             namespace: storefront\n",
        );
        let r = check(dir.path(), helm, &[]);
        let fs = report(&r, helm, 1);
        assert_only(&fs, helm, "KG101", &[("overlay/kustomization.yaml", 8, 19)]);
    });
}

/// Without helm, the `helmCharts` field is an info (`kustomize-helm`) and the rest renders.
#[test]
fn helm_charts_without_helm_is_an_info() {
    let dir = fixture("kustomize-helmcharts");
    let empty = tempfile::tempdir().unwrap();
    let r = kubegate(
        dir.path(),
        &["check", ".", "--no-config", "-f", "json"],
        &[("PATH", empty.path())],
    );
    let fs = findings(&r);
    let infos: Vec<String> = fs
        .iter()
        .filter(|f| f.rule == "kustomize-helm" || is_helm_rule(&f.rule))
        .map(|f| {
            format!(
                "{}:{}:{} {} {}",
                f.file, f.line, f.column, f.severity, f.rule
            )
        })
        .collect();
    assert_eq!(
        infos,
        ["overlay/kustomization.yaml:3:3 info kustomize-helm"],
        "findings:\n{}",
        listing(&fs)
    );
}
