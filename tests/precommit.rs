//! The hooks of `.pre-commit-hooks.yaml`, run by the real `pre-commit` (from PyPI) on a
//! fixture repository: the hook fails on a bad manifest with the finding in its output, passes
//! on a good one, never modifies a file, and the policies hook recompiles the policies and
//! checks the whole repository again.
//!
//! pre-commit installs a `language: rust` hook with `cargo install --bins --root ENV --path .`
//! in its own clone of the hook repository. To keep that affordable the test
//! - builds once for all its runs (one `PRE_COMMIT_HOME`), and keeps the built hook across
//!   test runs as long as the hook repository's commit is the same (`CARGO_TARGET_TMPDIR`);
//! - keeps cargo's target directory across runs, so a new commit rebuilds only kubegate;
//! - builds unoptimised (`CARGO_PROFILE_RELEASE_*`): the hook's behaviour, not its speed, is
//!   under test;
//! - resolves dependencies offline (`CARGO_NET_OFFLINE`): pre-commit does not pass `--locked`,
//!   so cargo would otherwise ask the registry for the newest compatible crates on every build.
//!
//! Without `pre-commit` on the PATH the test says that it did not run, and passes;
//! `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;
use common::root;

struct Out {
    code: i32,
    text: String,
}

/// Runs `program` in `dir` with stdout and stderr together (as pre-commit shows them).
fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &Path)]) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    // Variables that would change what git, pre-commit or kubegate do here.
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GITHUB_ACTIONS",
        "SKIP",
        "PRE_COMMIT_HOME",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Out {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "-c",
        "user.name=kubegate tests",
        "-c",
        "user.email=tests@kubegate.invalid",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
    ];
    all.extend_from_slice(args);
    // Fixed dates: the same tree on the same parent gives the same commit, so the hook that
    // pre-commit built for it can be reused by the next test run.
    let date = Path::new("2000-01-01T00:00:00Z");
    let out = run(
        dir,
        "git",
        &all,
        &[("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)],
    );
    assert_eq!(
        out.code,
        0,
        "git {args:?} in {}:\n{}",
        dir.display(),
        out.text
    );
    out.text.trim().to_string()
}

/// A clone of this checkout's HEAD with the working tree's `.pre-commit-hooks.yaml`, committed:
/// pre-commit only installs hooks from a commit. The source built is HEAD's (CI checks a
/// clean clone, where the two are the same).
fn hook_repository(work: &Path) -> (PathBuf, String) {
    let repo = work.join("hook-repo");
    if repo.exists() {
        std::fs::remove_dir_all(&repo).unwrap();
    }
    git(
        work,
        &[
            "clone",
            "--quiet",
            root().to_str().unwrap(),
            repo.to_str().unwrap(),
        ],
    );
    std::fs::copy(
        root().join(".pre-commit-hooks.yaml"),
        repo.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    if !git(&repo, &["status", "--porcelain"]).is_empty() {
        git(&repo, &["add", ".pre-commit-hooks.yaml"]);
        git(
            &repo,
            &["commit", "--quiet", "-m", "hooks under test", "--no-verify"],
        );
    }
    let rev = git(&repo, &["rev-parse", "HEAD"]);
    (repo, rev)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn hooks_run_through_pre_commit() {
    let probe = Command::new("pre-commit").arg("--version").output();
    let Ok(version) = probe.as_ref().map(|o| String::from_utf8_lossy(&o.stdout)) else {
        eprintln!(
            "the pre-commit hook test did not run: `pre-commit` is not installed \
             (pip install pre-commit; .ci/run does)"
        );
        return;
    };
    eprintln!("pre-commit hook test with {}", version.trim());

    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("precommit");
    std::fs::create_dir_all(&work).unwrap();
    let (hook_repo, rev) = hook_repository(&work);

    // pre-commit's store: reused while the hook repository's commit stays the same.
    let home = work.join("pre-commit-home");
    let marker = work.join("pre-commit-home.rev");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(rev.as_str()) {
        if home.exists() {
            std::fs::remove_dir_all(&home).unwrap();
        }
        std::fs::write(&marker, &rev).unwrap();
    }
    let target = work.join("cargo-target");
    let zero = Path::new("0");
    let env: Vec<(&str, &Path)> = vec![
        ("PRE_COMMIT_HOME", &home),
        ("PRE_COMMIT_COLOR", Path::new("never")),
        ("CARGO_TARGET_DIR", &target),
        ("CARGO_NET_OFFLINE", Path::new("true")),
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", zero),
        ("CARGO_PROFILE_RELEASE_LTO", Path::new("false")),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", Path::new("256")),
        ("CARGO_PROFILE_RELEASE_DEBUG", zero),
        ("CARGO_PROFILE_RELEASE_INCREMENTAL", Path::new("false")),
    ];

    // The repository a user commits to.
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    copy_dir(&root().join("fixtures/precommit"), repo);
    std::fs::write(repo.join(".kubegate.yaml"), "policies: [policy]\n").unwrap();
    let config = format!(
        "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: kubegate\n      - id: kubegate-policies\n",
        serde_json::to_string(hook_repo.to_str().unwrap()).unwrap()
    );
    std::fs::write(repo.join(".pre-commit-config.yaml"), config).unwrap();
    git(repo, &["init", "--quiet"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "--quiet", "-m", "manifests"]);
    let snapshot = |repo: &Path| {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for name in git(repo, &["ls-files"]).lines() {
            files.push((name.to_string(), std::fs::read(repo.join(name)).unwrap()));
        }
        files
    };
    let before = snapshot(repo);
    let pre_commit = |args: &[&str]| {
        let mut all = vec!["run", "--color", "never"];
        all.extend_from_slice(args);
        let start = Instant::now();
        let out = run(repo, "pre-commit", &all, &env);
        eprintln!(
            "pre-commit {} ({:.1}s, exit {}):\n{}",
            all.join(" "),
            start.elapsed().as_secs_f64(),
            out.code,
            out.text
        );
        assert!(
            !out.text.contains("files were modified by this hook"),
            "{}",
            out.text
        );
        out
    };

    // The first run installs the hook (cargo builds kubegate, unless a previous test run did).
    let good = pre_commit(&["kubegate", "--files", "good.yaml"]);
    assert_eq!(good.code, 0, "the hook fails on good.yaml:\n{}", good.text);
    assert!(good.text.contains("Passed"), "{}", good.text);

    let bad = pre_commit(&["kubegate", "--files", "good.yaml", "bad.yaml"]);
    assert_eq!(bad.code, 1, "{}", bad.text);
    assert!(bad.text.contains("kubegate...") && bad.text.contains("Failed"));
    assert!(
        bad.text
            .contains("bad.yaml:10:3: error[schema-unknown-field] unknown field `spec.replica`"),
        "the finding is not in the hook's output:\n{}",
        bad.text
    );
    assert!(!bad.text.contains("good.yaml:"), "{}", bad.text);

    // Every hook on every file: kubegate fails on bad.yaml; the policies hook (whose files
    // are the policy and the configuration) checks the whole repository and fails too.
    let all = pre_commit(&["--all-files"]);
    assert_eq!(all.code, 1, "{}", all.text);
    assert_eq!(all.text.matches("Failed").count(), 2, "{}", all.text);
    assert!(
        all.text
            .contains("bad.yaml:10:3: error[schema-unknown-field]")
    );

    assert_eq!(
        snapshot(repo),
        before,
        "a hook changed a file of the repository"
    );
    assert_eq!(git(repo, &["status", "--porcelain"]), "");

    // The policies hook, once bad.yaml is fixed (here: removed).
    git(repo, &["rm", "--quiet", "bad.yaml"]);
    git(repo, &["commit", "--quiet", "-m", "no bad manifest"]);
    let policies = pre_commit(&["kubegate-policies", "--files", "policy/owner.rego"]);
    assert_eq!(policies.code, 0, "{}", policies.text);

    // A policy that does not compile fails the commit (kubegate exits 2: an error of the run).
    std::fs::write(
        repo.join("policy/broken.rego"),
        "package main\n\ndeny contains msg if {\n\tinput.kind = = \"Pod\"\n}\n",
    )
    .unwrap();
    let broken = pre_commit(&["kubegate-policies", "--files", "policy/broken.rego"]);
    assert_eq!(broken.code, 1, "{}", broken.text);
    assert!(broken.text.contains("- exit code: 2"), "{}", broken.text);
    assert!(
        broken.text.contains("policy/broken.rego") && broken.text.contains("does not compile"),
        "{}",
        broken.text
    );
    std::fs::remove_file(repo.join("policy/broken.rego")).unwrap();

    // A policy that rejects a manifest nobody touched fails the commit that changes the policy.
    std::fs::write(
        repo.join("policy/mode.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\
         \tinput.data.mode == \"fast\"\n\tmsg := \"mode fast is retired\"\n}\n",
    )
    .unwrap();
    let newly = pre_commit(&["kubegate-policies", "--files", "policy/mode.rego"]);
    assert_eq!(newly.code, 1, "{}", newly.text);
    assert!(
        newly.text.contains("good.yaml") && newly.text.contains("mode fast is retired"),
        "{}",
        newly.text
    );
    // Only the files that pre-commit's `files` pattern selects start the policies hook.
    let skipped = pre_commit(&["kubegate-policies", "--files", "good.yaml"]);
    assert_eq!(skipped.code, 0, "{}", skipped.text);
    assert!(skipped.text.contains("Skipped"), "{}", skipped.text);
}
