//! The packaging around the binary: the GitHub Action (`action.yml`), the GitLab CI/CD
//! component (`templates/kubegate.yml`), the `Dockerfile` and `.pre-commit-hooks.yaml`.
//!
//! The action's scripts run here under bash as the runner runs them (`bash --noprofile
//! --norc -eo pipefail`), with the runner's files and variables, stand-ins for `curl` and
//! `cargo`, and the real kubegate. Linters (actionlint, check-jsonschema, shellcheck,
//! hadolint) run when they are on the PATH; each says so when it is not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

mod common;
use common::root;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(&read(path))
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// The names used as `<open> <prefix>NAME <close>` in `text`, e.g. `${{ inputs.NAME }}`.
fn references(text: &str, open: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in text.split(open).skip(1) {
        let inner = part.trim_start();
        if let Some(rest) = inner.strip_prefix(prefix) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// Whether `tool` runs; when not, says that the check using it did not run.
fn have(tool: &str, check: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("{check} did not run: `{tool}` is not installed");
    }
    ok
}

// ---------------------------------------------------------------------------------------
// GitHub Action: metadata

const ACTION_INPUTS: &[&str] = &[
    "paths",
    "policies",
    "data",
    "config",
    "format",
    "outputs",
    "fail-on",
    "kubernetes-version",
    "sarif-file",
    "changed-only",
    "new-only",
    "filter-mode",
    "base",
    "version",
    "args",
];
const ACTION_OUTPUTS: &[&str] = &["errors", "warnings", "infos", "sarif-file", "exit-code"];

fn action() -> Value {
    let docs = yaml_documents("action.yml");
    assert_eq!(docs.len(), 1);
    docs.into_iter().next().unwrap()
}

#[test]
fn action_metadata_is_complete() {
    let a = action();
    assert_eq!(str_at(&a, "/name"), "kubegate");
    let description = str_at(&a, "/description");
    // The Marketplace shows 125 characters.
    assert!(
        !description.is_empty() && description.len() <= 125,
        "{description}"
    );
    let icon = str_at(&a, "/branding/icon");
    assert!(!icon.is_empty());
    let colors = [
        "white",
        "black",
        "yellow",
        "blue",
        "green",
        "orange",
        "red",
        "purple",
        "gray-dark",
    ];
    assert!(colors.contains(&str_at(&a, "/branding/color")));

    let inputs = a["inputs"].as_object().expect("inputs");
    let names: BTreeSet<&str> = inputs.keys().map(String::as_str).collect();
    assert_eq!(names, ACTION_INPUTS.iter().copied().collect());
    for (name, input) in inputs {
        assert!(
            name.chars().next().unwrap().is_ascii_lowercase()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "input id {name}"
        );
        let d = input["description"].as_str().unwrap_or_default();
        assert!(!d.trim().is_empty(), "input {name} has no description");
        // Optional, with a string default, so the scripts see a defined value.
        assert_eq!(input["required"], Value::Bool(false), "input {name}");
        assert!(input["default"].is_string(), "input {name}");
    }

    let outputs = a["outputs"].as_object().expect("outputs");
    let names: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(names, ACTION_OUTPUTS.iter().copied().collect());
    for (name, output) in outputs {
        assert!(
            !output["description"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(
            output["value"].as_str().unwrap(),
            format!("${{{{ steps.run.outputs.{name} }}}}")
        );
    }
}

#[test]
fn action_scripts_take_inputs_only_through_env() {
    let a = action();
    assert_eq!(str_at(&a, "/runs/using"), "composite");
    let steps = a["runs"]["steps"].as_array().unwrap();
    let declared: BTreeSet<String> = a["inputs"].as_object().unwrap().keys().cloned().collect();
    let mut used = BTreeSet::new();
    for step in steps {
        let id = str_at(step, "/id");
        // No other action runs inside this one: nothing to pin, nothing to trust.
        assert!(step.get("uses").is_none(), "step {id} uses an action");
        let script = str_at(step, "/run");
        assert_eq!(str_at(step, "/shell"), "bash", "step {id}");
        assert!(
            !script.contains("${{"),
            "step {id}: an expression inside `run:` is pasted into the script before it runs"
        );
        let env = step["env"]
            .as_object()
            .map(|e| e.iter())
            .into_iter()
            .flatten();
        for (var, value) in env {
            let value = value.as_str().unwrap();
            let refs = references(value, "${{", "inputs.");
            used.extend(refs.iter().cloned());
            // The variable is read by the script.
            assert!(script.contains(&format!("${var}")) || script.contains(&format!("${{{var}")));
            // Whole-value expressions only: no text around them to be misread.
            assert!(value.starts_with("${{") && value.ends_with("}}") && refs.len() <= 1);
        }
        assert!(
            step.get("if").is_none(),
            "step {id}: conditions are not simulated"
        );
    }
    assert_eq!(used, declared, "inputs declared and inputs passed differ");
}

// ---------------------------------------------------------------------------------------
// GitHub Action: the scripts, run as the runner runs them

/// One simulated job: a workspace, the runner's files, stand-ins for curl and cargo.
struct Runner {
    dir: tempfile::TempDir,
}

struct StepRun {
    code: i32,
    log: String,
    outputs: BTreeMap<String, String>,
}

impl Runner {
    fn new() -> Runner {
        let r = Runner {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["workspace", "temp", "stubs", "releases"] {
            std::fs::create_dir(r.path(d)).unwrap();
        }
        let real = env!("CARGO_BIN_EXE_kubegate");
        // curl: serves the files under releases/ by their name, 404 for the others.
        r.write_exe(
            "stubs/curl",
            r#"#!/usr/bin/env bash
out="" url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --output) out="$2"; shift ;;
    --write-out|--proto|--retry) shift ;;
    -*) ;;
    *) url="$1" ;;
  esac
  shift
done
echo "curl $url" >> "$STUB_LOG"
file="$STUB_RELEASES/${url##*/}"
if [ -f "$file" ]; then cp "$file" "$out"; printf 200; else printf 404; fi
"#,
        );
        // cargo: records the command and "installs" kubegate into --root.
        r.write_exe(
            "stubs/cargo",
            &format!(
                r#"#!/usr/bin/env bash
echo "cargo $*" >> "$STUB_LOG"
root=""
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root="$2"; fi
  shift
done
mkdir -p "$root/bin"
printf '#!/bin/sh\nexec "{real}" "$@"\n' > "$root/bin/kubegate"
chmod +x "$root/bin/kubegate"
"#
            ),
        );
        // What kubegate a release holds: a script that records its arguments, then runs the
        // real one.
        r.write_exe(
            "kubegate",
            &format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$STUB_ARGS\"\nexec '{real}' \"$@\"\n"),
        );
        r
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_exe(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        let status = Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        assert!(status.success());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("stub.log")).unwrap_or_default()
    }

    /// Publishes a release archive of the recording kubegate, with the release's
    /// `SHA256SUMS` (listing another asset too).
    fn publish(&self, version: &str, sha256: Option<&str>) -> String {
        let asset = format!("kubegate-v{version}-x86_64-unknown-linux-musl.tar.gz");
        let archive = self.path("releases").join(&asset);
        let ok = Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(self.dir.path())
            .arg("kubegate")
            .status()
            .unwrap();
        assert!(ok.success());
        let digest = Command::new("sha256sum").arg(&archive).output().unwrap();
        let digest = String::from_utf8(digest.stdout).unwrap();
        let digest = sha256.unwrap_or(digest.split(' ').next().unwrap());
        // As the release workflow writes it: `sha256sum kubegate-v*.tar.gz > SHA256SUMS`.
        let other = format!("kubegate-v{version}-aarch64-apple-darwin.tar.gz");
        std::fs::write(
            self.path("releases").join("SHA256SUMS"),
            format!("{}  {other}\n{digest}  {asset}\n", "1".repeat(64)),
        )
        .unwrap();
        asset
    }

    /// Runs step `id` of action.yml with `inputs` (the others take their defaults) and the
    /// outputs of earlier steps.
    fn step(&self, id: &str, inputs: &[(&str, &str)], earlier: &[&StepRun]) -> StepRun {
        let a = action();
        let step = a["runs"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap();
        let script = self.path(&format!("temp/{id}.sh"));
        std::fs::write(&script, str_at(step, "/run")).unwrap();
        let output = self.path(&format!("temp/{id}.output"));
        std::fs::write(&output, "").unwrap();

        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .current_dir(self.path("workspace"))
            .stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("GITHUB_") || k.starts_with("RUNNER_") || k.starts_with("INPUT_") {
                cmd.env_remove(k);
            }
        }
        let path = format!(
            "{}:{}",
            self.path("stubs").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_WORKSPACE", self.path("workspace"))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_PATH", self.path("temp/github_path"))
            .env("GITHUB_STEP_SUMMARY", self.path("temp/summary.md"))
            .env("GITHUB_RUN_ID", "42")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", self.path("temp"))
            .env("STUB_LOG", self.path("stub.log"))
            .env("STUB_RELEASES", self.path("releases"))
            .env("STUB_ARGS", self.path("args.txt"));
        let env = step["env"]
            .as_object()
            .map(|e| e.iter())
            .into_iter()
            .flatten();
        for (var, expr) in env {
            let expr = expr.as_str().unwrap();
            let inner = expr.trim_start_matches("${{").trim_end_matches("}}").trim();
            let value = if let Some(input) = inner.strip_prefix("inputs.") {
                inputs
                    .iter()
                    .find(|(k, _)| *k == input)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| str_at(&a, &format!("/inputs/{input}/default")).into())
            } else if let Some(rest) = inner.strip_prefix("steps.") {
                let (_, name) = rest.split_once(".outputs.").unwrap();
                earlier
                    .iter()
                    .find_map(|s| s.outputs.get(name))
                    .cloned()
                    .unwrap_or_default()
            } else {
                panic!("expression {expr} is not simulated")
            };
            cmd.env(var, value);
        }
        let out = cmd.output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs = parse_github_output(&std::fs::read_to_string(&output).unwrap());
        StepRun {
            code: out.status.code().unwrap_or(-1),
            log,
            outputs,
        }
    }

    /// What the install step outputs once it has installed the recording kubegate: the
    /// input of the run step.
    fn installed(&self) -> StepRun {
        StepRun {
            code: 0,
            log: String::new(),
            outputs: [(
                "bin".to_string(),
                self.path("kubegate").display().to_string(),
            )]
            .into(),
        }
    }

    fn install(&self, version: &str) -> StepRun {
        self.step("install", &[("version", version)], &[])
    }
}

/// Parses `$GITHUB_OUTPUT` as the runner does: `name=value`, or `name<<DELIMITER` followed
/// by the value's lines and the delimiter alone on a line.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let l = lines.next().expect("unterminated multiline output");
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            assert!(!out.contains_key(name), "output {name} written twice");
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else {
            assert!(line.is_empty(), "bad GITHUB_OUTPUT line {line:?}");
        }
    }
    out
}

fn has_bash() -> bool {
    have("bash", "the action's scripts test")
}

#[test]
fn action_builds_from_its_own_checkout_when_there_is_no_release() {
    if !has_bash() {
        return;
    }
    let r = Runner::new();
    let version = env!("CARGO_PKG_VERSION");
    let install = r.install("");
    assert_eq!(install.code, 0, "{}", install.log);
    let root_dir = r.path(&format!("temp/kubegate-{version}"));
    assert_eq!(
        install.outputs["bin"],
        root_dir.join("bin/kubegate").display().to_string()
    );
    let log = r.log();
    assert!(
        log.contains(&format!(
            "curl https://github.com/kubegate/kubegate/releases/download/v{version}/\
             kubegate-v{version}-x86_64-unknown-linux-musl.tar.gz"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "cargo install --locked --root {} --path {}",
            root_dir.display(),
            root().display()
        )),
        "{log}"
    );
    let path = std::fs::read_to_string(r.path("temp/github_path")).unwrap();
    assert_eq!(path, format!("{}\n", root_dir.join("bin").display()));

    // Another version, without a release: built from its tag, still --locked.
    let r = Runner::new();
    let install = r.install("v9.8.7");
    assert_eq!(install.code, 0, "{}", install.log);
    assert!(
        r.log().contains(&format!(
            "cargo install --locked --root {} --git https://github.com/kubegate/kubegate --tag v9.8.7 kubegate",
            r.path("temp/kubegate-9.8.7").display()
        )),
        "{}",
        r.log()
    );
}

#[test]
fn action_installs_a_release_only_when_its_checksum_matches() {
    if !has_bash() {
        return;
    }
    let r = Runner::new();
    let asset = r.publish("1.2.3", None);
    let install = r.install("1.2.3");
    assert_eq!(install.code, 0, "{}", install.log);
    assert!(install.log.contains("release binary"), "{}", install.log);
    assert!(
        r.log().contains(
            "curl https://github.com/kubegate/kubegate/releases/download/v1.2.3/SHA256SUMS"
        ),
        "{}",
        r.log()
    );
    assert!(r.log().contains(&format!(
        "curl https://github.com/kubegate/kubegate/releases/download/v1.2.3/{asset}"
    )));
    assert!(!r.log().contains("cargo"), "{}", r.log());
    let bin = PathBuf::from(&install.outputs["bin"]);
    assert!(bin.ends_with("kubegate-1.2.3/bin/kubegate") && bin.is_file());

    let r = Runner::new();
    r.publish("1.2.3", Some(&"0".repeat(64)));
    let install = r.install("1.2.3");
    assert_eq!(install.code, 2, "{}", install.log);
    assert!(install.log.contains("SHA-256 mismatch"), "{}", install.log);
    assert!(!install.outputs.contains_key("bin"));
    assert!(!r.path("temp/kubegate-1.2.3/bin/kubegate").exists());

    // A SHA256SUMS that does not list the asset: refused, never installed unchecked.
    let r = Runner::new();
    let asset = r.publish("1.2.3", None);
    let sums = r.path("releases/SHA256SUMS");
    let listed = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(
        &sums,
        listed.replace(&asset, "kubegate-v1.2.3-other.tar.gz"),
    )
    .unwrap();
    let install = r.install("1.2.3");
    assert_eq!(install.code, 2, "{}", install.log);
    assert!(install.log.contains("does not list"), "{}", install.log);
    assert!(!r.path("temp/kubegate-1.2.3/bin/kubegate").exists());

    // Not a version: refused before anything is fetched or built.
    let r = Runner::new();
    let install = r.install("1.0; touch pwned");
    assert_eq!(install.code, 2, "{}", install.log);
    assert_eq!(r.log(), "");
}

fn copy_fixture(r: &Runner, names: &[&str]) {
    for n in names {
        std::fs::copy(
            root().join("fixtures/precommit").join(n),
            r.path("workspace").join(n),
        )
        .unwrap();
    }
}

#[test]
fn action_runs_kubegate_and_reports_counts_and_exit_code() {
    if !has_bash() {
        return;
    }
    let r = Runner::new();
    copy_fixture(&r, &["good.yaml", "bad.yaml"]);
    std::fs::create_dir(r.path("workspace/policy")).unwrap();
    std::fs::copy(
        root().join("fixtures/precommit/policy/owner.rego"),
        r.path("workspace/policy/owner.rego"),
    )
    .unwrap();
    let installed = r.installed();
    let run = r.step(
        "run",
        &[
            ("paths", "  bad.yaml\n\ngood.yaml  \n"),
            ("policies", "policy\n"),
            ("outputs", "concise=reports/kubegate.txt\n"),
            ("fail-on", "error"),
            ("kubernetes-version", "1.35"),
            ("sarif-file", "kubegate.sarif"),
            ("changed-only", "false"),
            ("new-only", "false"),
            ("args", "--no-inline-suppressions\n  -j 1"),
        ],
        &[&installed],
    );
    let args = std::fs::read_to_string(r.path("args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let report = args
        .iter()
        .find_map(|a| a.strip_prefix("json="))
        .expect("a json report for the counts");
    assert_eq!(
        args,
        [
            "check",
            "--policy",
            "policy",
            "--output",
            "concise=reports/kubegate.txt",
            "--fail-on",
            "error",
            "--kubernetes-version",
            "1.35",
            "--output",
            "sarif=kubegate.sarif",
            "--output",
            &format!("json={report}"),
            "--no-inline-suppressions",
            "-j",
            "1",
            "--",
            "bad.yaml",
            "good.yaml",
        ]
    );
    assert!(report.starts_with(&r.path("temp").display().to_string()));
    assert!(
        !Path::new(report).exists(),
        "the json report is left behind"
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["exit-code"], "1");

    // The counts are the json report's.
    let direct = common::kubegate_in(
        &r.path("workspace"),
        &[
            "check",
            "--policy",
            "policy",
            "--kubernetes-version",
            "1.35",
            "-f",
            "json",
            "bad.yaml",
            "good.yaml",
        ],
        None,
    );
    let json: Value = serde_json::from_str(&direct.stdout).unwrap();
    let counts = &json["summary"]["findings"];
    for (output, severity) in [
        ("errors", "error"),
        ("warnings", "warning"),
        ("infos", "info"),
    ] {
        assert_eq!(
            run.outputs[output],
            counts[severity].to_string(),
            "{output}"
        );
    }
    assert_eq!(run.outputs["errors"], "1");
    assert!(r.path("workspace/reports/kubegate.txt").is_file());
    assert!(r.path("workspace/kubegate.sarif").is_file());
    assert_eq!(run.outputs["sarif-file"], "kubegate.sarif");

    // A clean run: exit 0, all defaults (paths `.`).
    std::fs::remove_file(r.path("workspace/bad.yaml")).unwrap();
    let clean = r.step("run", &[], &[&installed]);
    assert_eq!(clean.code, 0, "{}", clean.log);
    assert_eq!(clean.outputs["exit-code"], "0");
    assert_eq!(clean.outputs["errors"], "0");
    assert_eq!(clean.outputs["sarif-file"], "");
    let args = std::fs::read_to_string(r.path("args.txt")).unwrap();
    assert!(args.ends_with("--\n.\n"), "{args}");
}

#[test]
fn action_maps_merge_request_inputs_to_flags() {
    if !has_bash() {
        return;
    }
    let r = Runner::new();
    copy_fixture(&r, &["good.yaml"]);
    let installed = r.installed();
    r.step(
        "run",
        &[
            ("paths", "good.yaml"),
            ("changed-only", "true"),
            ("new-only", "true"),
            ("filter-mode", "diff_context"),
            ("base", "origin/main"),
        ],
        &[&installed],
    );
    let args = std::fs::read_to_string(r.path("args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let at = args
        .iter()
        .position(|a| *a == "--changed-only")
        .expect("--changed-only");
    assert_eq!(
        args[at..at + 6],
        [
            "--changed-only",
            "--new-only",
            "--filter-mode",
            "diff_context",
            "--base",
            "origin/main"
        ]
    );

    // Anything but true or false is refused before kubegate runs.
    let r = Runner::new();
    let run = r.step("run", &[("new-only", "yes")], &[&installed]);
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.log.contains("the new-only input must be true or false"),
        "{}",
        run.log
    );
    assert!(!r.path("args.txt").exists());
}

#[test]
fn action_inputs_are_never_evaluated() {
    if !has_bash() {
        return;
    }
    let r = Runner::new();
    copy_fixture(&r, &["good.yaml"]);
    let installed = r.installed();
    let run = r.step(
        "run",
        &[
            ("paths", "good.yaml\n$(touch pwned1)\n`touch pwned2`\n*"),
            ("args", "$(touch${IFS}pwned3) ;touch pwned4 *"),
            ("config", "x\"; touch pwned5; \""),
            ("sarif-file", "out.sarif\nerrors=666"),
        ],
        &[&installed],
    );
    for entry in walk(r.dir.path()) {
        assert!(
            !entry
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pwned"),
            "an input was run as a command: {}",
            entry.display()
        );
    }
    let args = std::fs::read_to_string(r.path("args.txt")).unwrap();
    assert!(
        args.contains("\n$(touch pwned1)\n`touch pwned2`\n*\n"),
        "{args}"
    );
    assert!(
        args.contains("\n$(touch${IFS}pwned3)\n;touch\npwned4\n*\n"),
        "{args}"
    );
    assert_eq!(run.code, 2, "{}", run.log);
    assert_eq!(
        run.outputs.get("exit-code").map(String::as_str),
        Some("2"),
        "{:?}\n{}",
        run.outputs,
        run.log
    );
    assert_ne!(run.outputs.get("errors").map(String::as_str), Some("666"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn action_passes_linters() {
    if have("actionlint", "actionlint on action.yml") {
        // actionlint checks workflows; one that uses this action makes it read action.yml.
        let dir = tempfile::tempdir().unwrap();
        let wf = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&wf).unwrap();
        std::fs::create_dir(dir.path().join("kubegate")).unwrap();
        std::fs::copy(
            root().join("action.yml"),
            dir.path().join("kubegate/action.yml"),
        )
        .unwrap();
        let mut with = String::new();
        for name in ACTION_INPUTS {
            with.push_str(&format!("          {name}: x\n"));
        }
        let mut env = String::new();
        for name in ACTION_OUTPUTS {
            env.push_str(&format!(
                "          {}: ${{{{ steps.kubegate.outputs.{name} }}}}\n",
                name.replace('-', "_").to_uppercase()
            ));
        }
        std::fs::write(
            wf.join("check.yml"),
            format!(
                "on: pull_request\npermissions: {{contents: read}}\njobs:\n  check:\n    \
                 runs-on: ubuntu-latest\n    steps:\n      - uses: ./kubegate\n        \
                 id: kubegate\n        with:\n{with}      - if: always()\n        \
                 run: echo \"$ERRORS\"\n        env:\n{env}"
            ),
        )
        .unwrap();
        let init = Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(init.success());
        let out = Command::new("actionlint")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if have("check-jsonschema", "check-jsonschema on action.yml") {
        let out = Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(root().join("action.yml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if have("shellcheck", "shellcheck on the action's scripts") {
        let dir = tempfile::tempdir().unwrap();
        for step in action()["runs"]["steps"].as_array().unwrap() {
            let file = dir.path().join(format!("{}.sh", str_at(step, "/id")));
            std::fs::write(&file, str_at(step, "/run")).unwrap();
            let out = Command::new("shellcheck")
                .args(["--shell", "bash"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Releases and workflows

const WORKFLOWS: &[&str] = &[".github/workflows/release.yml", ".github/workflows/ci.yml"];

/// The targets the release workflow builds.
fn release_targets() -> BTreeSet<String> {
    let wf = &yaml_documents(".github/workflows/release.yml")[0];
    wf.pointer("/jobs/build/strategy/matrix/include")
        .and_then(Value::as_array)
        .expect("jobs.build.strategy.matrix.include")
        .iter()
        .map(|i| str_at(i, "/target").to_owned())
        .collect()
}

/// The `target=...` assignments of a script.
fn assigned_targets(script: &str) -> BTreeSet<String> {
    script
        .split("target=")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

#[test]
fn release_assets_are_what_the_installers_download() {
    let targets = release_targets();
    assert_eq!(targets.len(), 5, "{targets:?}");
    let wf = read(".github/workflows/release.yml");
    // One archive per target, named by scripts/release-build.sh, and one SHA256SUMS.
    assert!(
        wf.contains("bash scripts/release-build.sh \"$TARGET\""),
        "{wf}"
    );
    assert!(
        wf.contains("sha256sum kubegate-v*.tar.gz > SHA256SUMS"),
        "{wf}"
    );
    let build = read("scripts/release-build.sh");
    assert!(build.contains(r#"asset="kubegate-v$version-$target.tar.gz""#));

    // The action: the same targets, the same names, the release's SHA256SUMS.
    let install = str_at(&action()["runs"]["steps"][0], "/run").to_owned();
    assert_eq!(
        assigned_targets(&install),
        targets,
        "action.yml's runner targets"
    );
    assert!(install.contains(r#"asset="kubegate-v$version-$target.tar.gz""#));
    assert!(install.contains(r#""$download/SHA256SUMS""#));

    // The GitLab component: the same names and sums (it runs on Linux runners).
    let component = read(COMPONENT);
    let linux: BTreeSet<String> = targets
        .iter()
        .filter(|t| t.contains("-linux-"))
        .cloned()
        .collect();
    assert_eq!(
        assigned_targets(&component),
        linux,
        "the component's targets"
    );
    assert!(component.contains(r#"asset="kubegate-v$KUBEGATE_VERSION-$target.tar.gz""#));
    assert!(component.contains("/SHA256SUMS"));
}

#[test]
fn workflows_pin_actions_by_commit() {
    for path in WORKFLOWS {
        for line in read(path).lines() {
            let Some(used) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")
            else {
                continue;
            };
            let used = used.split('#').next().unwrap().trim();
            if used.starts_with("./") {
                continue;
            }
            let (_, rev) = used
                .split_once('@')
                .unwrap_or_else(|| panic!("{path}: {used}"));
            assert!(
                rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
                "{path}: `{used}` is not pinned by a commit"
            );
        }
    }
}

#[test]
fn workflows_pass_linters() {
    if have("check-jsonschema", "check-jsonschema on the workflows") {
        let out = Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(WORKFLOWS.iter().map(|w| root().join(w)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if have(
        "shellcheck",
        "shellcheck on scripts/, .ci/run and the workflows' scripts",
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Every script of the repository, then the workflows' `run:` steps.
        let mut files = vec![root().join(".ci/run")];
        for entry in std::fs::read_dir(root().join("scripts")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sh") {
                files.push(path);
            }
        }
        for path in WORKFLOWS {
            let wf = &yaml_documents(path)[0];
            for (job, spec) in wf["jobs"].as_object().unwrap() {
                let steps = spec["steps"].as_array().unwrap();
                for (i, step) in steps.iter().enumerate() {
                    if let Some(run) = step.get("run").and_then(Value::as_str) {
                        // `${{ }}` never appears in a run: inputs go through env.
                        assert!(!run.contains("${{"), "{path}: {job} step {i}");
                        let file = dir.path().join(format!("{job}-{i}.sh"));
                        std::fs::write(&file, run).unwrap();
                        files.push(file);
                    }
                }
            }
        }
        let out = Command::new("shellcheck")
            .args(["--shell", "bash"])
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if have("actionlint", "actionlint on the workflows") {
        let out = Command::new("actionlint")
            .current_dir(root())
            .args(WORKFLOWS)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The crate's version, from Cargo.toml.
fn crate_version() -> String {
    read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("version in Cargo.toml")
        .to_owned()
}

#[test]
fn release_build_packages_the_host_binary_under_its_asset_name() {
    if !has_bash() {
        return;
    }
    // The release workflow's build, for this machine's target (the dev profile: the test
    // build has compiled it already).
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8(rustc.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap();
    let version = crate_version();
    let out = tempfile::tempdir().unwrap();
    let run = |version: &str| {
        Command::new("bash")
            .arg(root().join("scripts/release-build.sh"))
            .args([host.as_str(), version])
            .arg(out.path())
            .env("KUBEGATE_BUILD_PROFILE", "dev")
            .output()
            .unwrap()
    };
    let built = run(&version);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let asset = out
        .path()
        .join(format!("kubegate-v{version}-{host}.tar.gz"));
    assert!(asset.is_file());
    let listed = Command::new("tar")
        .arg("-tzf")
        .arg(&asset)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "kubegate\n");
    let unpacked = tempfile::tempdir().unwrap();
    let ok = Command::new("tar")
        .arg("-xzf")
        .arg(&asset)
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let v = Command::new(unpacked.path().join("kubegate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("kubegate {version}")
    );

    // A tag that is not the crate's version builds nothing.
    let wrong = run("99.0.0");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not the crate's version"));
    assert!(
        !out.path()
            .join(format!("kubegate-v99.0.0-{host}.tar.gz"))
            .exists()
    );
}

// ---------------------------------------------------------------------------------------
// GitLab CI/CD component

const COMPONENT: &str = "templates/kubegate.yml";

#[test]
fn gitlab_component_has_inputs_and_a_reporting_job() {
    let docs = yaml_documents(COMPONENT);
    assert_eq!(docs.len(), 2, "a spec header, `---`, then the jobs");
    let inputs = docs[0]["spec"]["inputs"].as_object().expect("spec:inputs");
    assert_eq!(
        docs[0].as_object().unwrap().len(),
        1,
        "the header holds only spec"
    );
    for name in [
        "stage", "image", "version", "paths", "policies", "args", "fail-on",
    ] {
        assert!(inputs.contains_key(name), "input {name}");
    }
    for (name, input) in inputs {
        assert!(
            !input["description"].as_str().unwrap_or_default().is_empty(),
            "input {name} has no description"
        );
        // Every input has a default: including the component needs no inputs.
        assert!(input.get("default").is_some(), "input {name}");
    }
    assert_eq!(inputs["stage"]["default"], "test");

    let jobs = docs[1].as_object().unwrap();
    assert_eq!(jobs.len(), 1);
    let (name, job) = jobs.iter().next().unwrap();
    assert_eq!(name, "$[[ inputs.job-name ]]");
    assert_eq!(job["stage"], "$[[ inputs.stage ]]");
    assert_eq!(job["image"]["name"], "$[[ inputs.image ]]");
    let rules = serde_json::to_string(&job["rules"]).unwrap();
    assert!(rules.contains(r#"$CI_PIPELINE_SOURCE == \"merge_request_event\""#));
    assert!(rules.contains("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"));
    let artifacts = &job["artifacts"];
    assert_eq!(artifacts["when"], "always");
    assert_eq!(
        artifacts["reports"]["codequality"],
        "gl-code-quality-report.json"
    );
    assert_eq!(artifacts["reports"]["junit"], "kubegate-junit.xml");
    let script = job["script"].as_array().unwrap();
    let script: Vec<&str> = script.iter().map(|s| s.as_str().unwrap()).collect();
    let script = script.join("\n");
    assert!(script.contains("--output gitlab=gl-code-quality-report.json"));
    assert!(script.contains("--output junit=kubegate-junit.xml"));

    // Inputs reach the script only as variables.
    assert!(
        !script.contains("$[["),
        "an input is pasted into the script"
    );
    let text = read(COMPONENT);
    let body = text.split("\n---\n").nth(1).unwrap();
    let used = references(body, "$[[", "inputs.");
    let declared: BTreeSet<String> = inputs.keys().cloned().collect();
    assert_eq!(used, declared, "inputs declared and inputs used differ");
    // The runner reads GIT_DEPTH: the whole history, so the merge request's base is there.
    assert_eq!(job["variables"]["GIT_DEPTH"], "0");
    for (var, value) in job["variables"].as_object().unwrap() {
        if var == "GIT_DEPTH" {
            continue;
        }
        assert!(
            script.contains(&format!("${var}")) || script.contains(&format!("${{{var}")),
            "{var} is not used"
        );
        let value = value.as_str().unwrap();
        assert!(value.starts_with("$[[") && value.ends_with("]]"), "{var}");
    }
}

/// Runs the component's script with `sh`, the job's variables as `variables`, and a
/// `kubegate` on the PATH that records its arguments and runs the real one.
fn run_component_script(variables: &[(&str, &str)]) -> (i32, Vec<String>, PathBuf) {
    run_component(variables, None)
}

/// [`run_component_script`]; with `release`, that `kubegate` is not on the PATH but
/// published as the release of version 1.2.3 (served by a stand-in `curl`), with a
/// SHA256SUMS that lists `release` as its digest when given one, else the true one.
fn run_component(
    variables: &[(&str, &str)],
    release: Option<Option<&str>>,
) -> (i32, Vec<String>, PathBuf) {
    let docs = yaml_documents(COMPONENT);
    let inputs = &docs[0]["spec"]["inputs"];
    let job = docs[1].as_object().unwrap().values().next().unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let project = dir.join("project");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    for n in ["good.yaml", "bad.yaml"] {
        std::fs::copy(root().join("fixtures/precommit").join(n), project.join(n)).unwrap();
    }
    let fake = match release {
        None => bin.join("kubegate"),
        Some(_) => dir.join("kubegate"),
    };
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] || printf '%s\\n' \"$@\" > '{}'\nexec '{}' \"$@\"\n",
            dir.join("args.txt").display(),
            env!("CARGO_BIN_EXE_kubegate")
        ),
    )
    .unwrap();
    assert!(
        Command::new("chmod")
            .arg("+x")
            .arg(&fake)
            .status()
            .unwrap()
            .success()
    );
    if let Some(digest) = release {
        let releases = dir.join("releases");
        std::fs::create_dir_all(&releases).unwrap();
        let asset = "kubegate-v1.2.3-x86_64-unknown-linux-musl.tar.gz";
        let ok = Command::new("tar")
            .arg("-czf")
            .arg(releases.join(asset))
            .arg("-C")
            .arg(&dir)
            .arg("kubegate")
            .status()
            .unwrap();
        assert!(ok.success());
        let sum = Command::new("sha256sum")
            .arg(releases.join(asset))
            .output()
            .unwrap();
        let sum = String::from_utf8(sum.stdout).unwrap();
        let sum = digest.unwrap_or_else(|| sum.split(' ').next().unwrap());
        std::fs::write(releases.join("SHA256SUMS"), format!("{sum}  {asset}\n")).unwrap();
        let curl = bin.join("curl");
        std::fs::write(
            &curl,
            format!(
                "#!/bin/sh\nout=\"\" url=\"\"\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    \
                 --output) out=\"$2\"; shift ;;\n    --proto|--retry) shift ;;\n    -*) ;;\n    \
                 *) url=\"$1\" ;;\n  esac\n  shift\ndone\necho \"curl $url\" >> '{log}'\n\
                 cp '{releases}'/\"${{url##*/}}\" \"$out\"\n",
                log = dir.join("curl.log").display(),
                releases = releases.display(),
            ),
        )
        .unwrap();
        assert!(
            Command::new("chmod")
                .arg("+x")
                .arg(&curl)
                .status()
                .unwrap()
                .success()
        );
    }
    let script: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script.join("\n"))
        .current_dir(&project)
        .stdin(Stdio::null())
        .env("CI_PROJECT_DIR", &project)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        );
    // Each variable is its input's default unless given.
    for (var, value) in job["variables"].as_object().unwrap() {
        if var == "GIT_DEPTH" {
            continue;
        }
        let input = value
            .as_str()
            .unwrap()
            .trim_start_matches("$[[ inputs.")
            .trim_end_matches(" ]]");
        let given = variables.iter().find(|(k, _)| k == var);
        // GitLab writes a boolean input as `true` or `false`.
        let v = match (given, &inputs[input]["default"]) {
            (Some((_, v)), _) => v.to_string(),
            (None, Value::String(d)) => d.clone(),
            (None, d) => d.to_string(),
        };
        cmd.env(var, v);
    }
    let out = cmd.output().unwrap();
    let args = std::fs::read_to_string(dir.join("args.txt")).unwrap_or_default();
    let args = args.lines().map(String::from).collect();
    (out.status.code().unwrap_or(-1), args, dir)
}

#[test]
fn gitlab_component_script_passes_inputs_as_arguments() {
    if !have("sh", "the GitLab component's script test") {
        return;
    }
    let (code, args, dir) = run_component_script(&[
        ("KUBEGATE_PATHS", "good.yaml bad.yaml"),
        ("KUBEGATE_FAIL_ON", "warning"),
        ("KUBEGATE_ARGS", "--no-inline-suppressions -j 1"),
        ("KUBEGATE_FORMAT", "concise"),
    ]);
    assert_eq!(
        args,
        [
            "check",
            "--format",
            "concise",
            "--output",
            "gitlab=gl-code-quality-report.json",
            "--output",
            "junit=kubegate-junit.xml",
            "--fail-on",
            "warning",
            "--no-inline-suppressions",
            "-j",
            "1",
            "--",
            "good.yaml",
            "bad.yaml",
        ]
    );
    assert_eq!(code, 1, "exit {code}");
    for report in ["gl-code-quality-report.json", "kubegate-junit.xml"] {
        assert!(dir.join("project").join(report).is_file(), "{report}");
    }
    std::fs::remove_dir_all(dir).unwrap();

    // Defaults: the whole project, nothing evaluated.
    let (_, args, dir) = run_component_script(&[
        ("KUBEGATE_POLICIES", "$(touch pwned) *"),
        ("KUBEGATE_CONFIG", "`touch pwned`"),
    ]);
    assert!(args.ends_with(&["--".into(), ".".into()]), "{args:?}");
    assert!(args.contains(&"$(touch".to_string()) && args.contains(&"*".to_string()));
    assert!(args.contains(&"`touch pwned`".to_string()));
    assert!(walk(&dir).iter().all(|p| !p.ends_with("pwned")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gitlab_component_passes_merge_request_inputs() {
    if !have("sh", "the GitLab component's script test") {
        return;
    }
    let (_, args, dir) = run_component_script(&[
        ("KUBEGATE_PATHS", "good.yaml"),
        ("KUBEGATE_CHANGED_ONLY", "true"),
        ("KUBEGATE_NEW_ONLY", "true"),
        ("KUBEGATE_FILTER_MODE", "added"),
        ("KUBEGATE_BASE", "origin/main"),
    ]);
    let at = args
        .iter()
        .position(|a| a == "--changed-only")
        .expect("--changed-only");
    assert_eq!(
        args[at..at + 6],
        [
            "--changed-only",
            "--new-only",
            "--filter-mode",
            "added",
            "--base",
            "origin/main"
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
    // Off by default.
    let (_, args, dir) = run_component_script(&[("KUBEGATE_PATHS", "good.yaml")]);
    assert!(
        !args.iter().any(|a| a.contains("only") || a == "--base"),
        "{args:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gitlab_component_installs_a_release_only_when_its_checksum_matches() {
    if !have("sh", "the GitLab component's release test")
        || !have("sha256sum", "the GitLab component's release test")
    {
        return;
    }
    if !matches!(std::env::consts::ARCH, "x86_64") {
        eprintln!("the GitLab component's release test did not run: not an x86_64 machine");
        return;
    }
    let version = [
        ("KUBEGATE_VERSION", "1.2.3"),
        ("KUBEGATE_PATHS", "good.yaml"),
    ];
    let (code, args, dir) = run_component(&version, Some(None));
    assert_eq!(code, 0, "exit {code}");
    assert_eq!(args.last().map(String::as_str), Some("good.yaml"));
    let log = std::fs::read_to_string(dir.join("curl.log")).unwrap();
    let releases = "https://github.com/kubegate/kubegate/releases/download/v1.2.3";
    assert_eq!(
        log,
        format!(
            "curl {releases}/kubegate-v1.2.3-x86_64-unknown-linux-musl.tar.gz\n\
             curl {releases}/SHA256SUMS\n"
        )
    );
    assert!(dir.join("project/.kubegate-bin/bin/kubegate").is_file());
    std::fs::remove_dir_all(dir).unwrap();

    // A digest that does not match: nothing installed, nothing run, exit 2.
    let (code, args, dir) = run_component(&version, Some(Some(&"0".repeat(64))));
    assert_eq!(code, 2, "exit {code}");
    assert!(args.is_empty(), "{args:?}");
    assert!(!dir.join("project/.kubegate-bin/bin/kubegate").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gitlab_component_passes_the_ci_schema() {
    if !have(
        "check-jsonschema",
        "check-jsonschema on the GitLab component",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, doc) in yaml_documents(COMPONENT).iter().enumerate() {
        let file = dir.path().join(format!("document-{i}.json"));
        std::fs::write(&file, serde_json::to_string(doc).unwrap()).unwrap();
        let out = Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.gitlab-ci"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Dockerfile

#[test]
fn dockerfile_builds_locked_in_stages_and_runs_unprivileged() {
    let text = read("Dockerfile");
    // Instructions, with continuation lines joined and comments dropped.
    let mut instructions: Vec<(String, String)> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && pending.is_empty()) {
            continue;
        }
        pending.push_str(t.trim_end_matches('\\'));
        pending.push(' ');
        if !t.ends_with('\\') {
            let (op, rest) = pending.trim().split_once(' ').unwrap();
            instructions.push((op.to_uppercase(), rest.trim().to_string()));
            pending.clear();
        }
    }
    let froms: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(froms.len() >= 2, "a build stage and a runtime stage");
    let runs: Vec<&str> = instructions
        .iter()
        .filter(|(op, _)| op == "RUN")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo build --release --locked"))
    );
    assert!(
        runs.iter()
            .all(|r| !r.contains("cargo build") || r.contains("--locked"))
    );

    let last = &instructions[*froms.last().unwrap()..];
    let last_of = |op: &str| {
        last.iter()
            .rev()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("the runtime stage has no {op}"))
    };
    let user = last_of("USER");
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "USER {user}");
    assert_eq!(last_of("ENTRYPOINT"), r#"["kubegate"]"#);
    assert_eq!(last_of("WORKDIR"), "/work");

    // Everything copied from the context is let in by .dockerignore, and target/ is not.
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(patterns.first(), Some(&"*"), "an allow list");
    let allowed: Vec<&str> = patterns[1..]
        .iter()
        .map(|p| p.strip_prefix('!').expect("only exceptions after `*`"))
        .map(|p| p.trim_end_matches('/'))
        .collect();
    assert!(!allowed.iter().any(|a| a.starts_with("target")));
    for (op, args) in &instructions {
        if op != "COPY" || args.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(root().join(src).exists(), "COPY {src}: no such file");
            assert!(
                allowed.iter().any(|a| src == a
                    || Path::new(src).starts_with(a)
                    || Path::new(a).starts_with(src)),
                "COPY {src} is excluded by .dockerignore"
            );
        }
    }
    // And every allowed path exists.
    for a in &allowed {
        assert!(
            root().join(a).exists(),
            ".dockerignore lets in {a}, which does not exist"
        );
    }

    if have("hadolint", "hadolint on the Dockerfile") {
        let out = Command::new("hadolint")
            .arg(root().join("Dockerfile"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------
// pre-commit manifest (the hooks run for real in tests/precommit.rs)

#[test]
fn pre_commit_hooks_are_declared() {
    let docs = yaml_documents(".pre-commit-hooks.yaml");
    let hooks = docs[0].as_array().unwrap();
    let hook = |id: &str| {
        hooks
            .iter()
            .find(|h| h["id"] == id)
            .unwrap_or_else(|| panic!("no hook {id}"))
    };
    let main = hook("kubegate");
    assert_eq!(main["language"], "rust");
    assert_eq!(main["entry"], "kubegate check");
    assert_eq!(main["types_or"], serde_json::json!(["yaml", "json"]));
    assert_eq!(main["require_serial"], true);
    assert!(main.get("pass_filenames").is_none_or(|p| p == true));
    let policies = hook("kubegate-policies");
    assert_eq!(policies["pass_filenames"], false);
    assert!(policies["files"].as_str().unwrap().contains(r"\.rego"));
    assert_eq!(hook("kubegate-system")["language"], "system");
    for h in hooks {
        for key in ["id", "name", "entry", "language", "description"] {
            assert!(h[key].is_string(), "{key} of {}", h["id"]);
        }
        // A validator never rewrites files: no hook asks for --fix.
        assert!(!h["entry"].as_str().unwrap().contains("--fix"));
    }

    if have("pre-commit", "pre-commit validate-manifest") {
        let out = Command::new("pre-commit")
            .arg("validate-manifest")
            .arg(root().join(".pre-commit-hooks.yaml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `link/hot-functions.txt`, which build.rs turns into a linker script for release builds
/// (CI builds none): one symbol name a line, sorted and distinct as
/// `scripts/gen-hot-functions.sh` writes them, with nothing a linker script's syntax or
/// globs would read (build.rs refuses such a line and the release build fails), and the
/// functions a check runs among them.
#[test]
fn hot_function_list_is_symbol_names() {
    let text = read("link/hot-functions.txt");
    let names: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for name in &names {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_$.".contains(&b)),
            "not a symbol name: {name:?}"
        );
    }
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "not sorted and distinct"
    );
    for module in [
        "_ZN8kubegate5check",
        "_ZN8kubegate5parse",
        "_ZN8kubegate6render",
        "_ZN10jsonschema",
        "_ZN7regorus",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(module)),
            "no function of {module}"
        );
    }
}
