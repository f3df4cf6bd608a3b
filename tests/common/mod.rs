//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, when this checkout has it (CI always does; a user's clone may not).
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    p.is_dir().then_some(p)
}

/// `PATH` without the directories that hold a `helm`: the same findings on every machine
/// (charts are `helm-not-found`); the tests that render charts pass `--helm`.
pub fn path_without_helm() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| !d.join("helm").exists());
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Runs kubegate in `dir` with `args`, feeding `stdin`, without colour-related environment
/// and without a `helm` on `PATH`.
pub fn kubegate_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", path_without_helm())
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_ACTIONS")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubegate runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input)
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("kubegate finishes");
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

pub fn kubegate(args: &[&str]) -> Run {
    kubegate_in(&root(), args, None)
}

/// Runs git in `dir` with a fixed identity and no system configuration; panics unless it
/// succeeds.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The helm the tests run with: `KUBEGATE_TEST_HELM`, else `helm` on `PATH`. `None` (after
/// printing `skipped`) when there is none; a panic instead when `KUBEGATE_REQUIRE_HELM` is set.
pub fn helm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBEGATE_TEST_HELM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "KUBEGATE_TEST_HELM={} is not a file",
            p.display()
        );
        return Some(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("helm"))
            .find(|p| p.is_file())
    });
    if on_path.is_none() {
        assert!(
            std::env::var_os("KUBEGATE_REQUIRE_HELM").is_none(),
            "KUBEGATE_REQUIRE_HELM is set but no helm was found: set KUBEGATE_TEST_HELM"
        );
        eprintln!("skipped: helm not found (set KUBEGATE_TEST_HELM)");
    }
    on_path
}
