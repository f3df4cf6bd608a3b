//! What `kubegate check` walks and reads: hidden folders but never `.git`, `.ignore` but not
//! `.gitignore` outside a repository, symbolic links only when they stay inside the checked
//! directories, special files (FIFOs, devices) never opened for reading, `--exclude` and the
//! config's `exclude` normalised and warned about when they match nothing.
//!
//! Every run has a deadline: a regression that blocks on a FIFO or reads `/dev/zero` must
//! fail the test, not hang CI.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one run may take; the runs here take well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs kubegate in `dir`, killing it at the deadline; panics if it was killed.
fn kubegate(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_BASE_REF",
        "GITHUB_EVENT_PATH",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        "NO_COLOR",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
    ] {
        cmd.env_remove(v);
    }
    let mut child = cmd.spawn().expect("kubegate runs");
    // Drain both pipes on their own threads so a chatty child cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
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
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kubegate {args:?} did not finish within {DEADLINE:?}; killed.\nstderr so far:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kubegate panicked:\n{}",
        run.stderr
    );
    run
}

/// A ConfigMap with an unknown top-level field: one schema error at line 5.
const BAD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nbogus: 1\n";

/// Only schema findings, in the concise format, whatever config a test directory holds.
const CHECK: &[&str] = &[
    "check",
    "-f",
    "concise",
    "--no-builtin-rules",
    "--no-config",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    CHECK.iter().copied().chain(extra.iter().copied()).collect()
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The files with findings, sorted and deduplicated.
fn files(concise: &str) -> Vec<String> {
    let mut out: Vec<String> = concise
        .lines()
        .map(|l| l.split(':').next().unwrap().to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(unix)]
#[test]
fn a_symlink_to_dev_zero_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "good.yaml", BAD);
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.yaml")).unwrap();
    let r = kubegate(root, &args(&["."]));
    assert_eq!(files(&r.stdout), ["good.yaml"], "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("warning: zero.yaml: ") && r.stderr.contains("outside"),
        "the link is named, with why: {}",
        r.stderr
    );
    // A skipped link is a warning, not an error of the run.
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Named on the command line, /dev/zero is an error that says what it is.
    let r = kubegate(root, &args(&["zero.yaml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("character device"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_directory_outside_the_root_is_not_walked() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "outside/secret.yaml", BAD);
    let root = tmp.path().join("root");
    write(&root, "ok.yaml", BAD);
    std::os::unix::fs::symlink("../outside", root.join("link")).unwrap();
    let r = kubegate(&root, &args(&["."]));
    assert_eq!(files(&r.stdout), ["ok.yaml"], "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("warning: link: ") && r.stderr.contains("outside"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_root_are_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "real/pod.yaml", BAD);
    std::os::unix::fs::symlink("real/pod.yaml", root.join("alias.yaml")).unwrap();
    std::os::unix::fs::symlink("real", root.join("dir-alias")).unwrap();
    let r = kubegate(root, &args(&["."]));
    assert_eq!(
        files(&r.stdout),
        ["alias.yaml", "dir-alias/pod.yaml", "real/pod.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(!r.stderr.contains("kubegate: warning"), "{}", r.stderr);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn a_symlink_into_the_git_directory_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    if !git(root, &["init", "-q"]) {
        println!("skipped: git not found");
        return;
    }
    write(root, ".git/leak.yaml", BAD);
    std::os::unix::fs::symlink(".git/leak.yaml", root.join("leak.yaml")).unwrap();
    write(root, "ok.yaml", BAD);
    let r = kubegate(root, &args(&["."]));
    assert_eq!(files(&r.stdout), ["ok.yaml"], "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("warning: leak.yaml: "), "{}", r.stderr);
}

/// A tracked link that ignore files hid from the walk is added back from the index under
/// the same rules: out of the root, it is a warning, never a read.
#[cfg(unix)]
#[test]
fn a_tracked_symlink_added_back_from_the_index_is_still_checked_for_where_it_points() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let committed = git(root, &["init", "-q"]) && {
        write(root, "apps/cm.yaml", BAD);
        std::os::unix::fs::symlink("/dev/zero", root.join("apps/zero.yaml")).unwrap();
        git(root, &["add", "-A"])
            && git(
                root,
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.com",
                    "-c",
                    "commit.gpgsign=false",
                    "commit",
                    "-q",
                    "-m",
                    "base",
                ],
            )
    };
    if !committed {
        println!("skipped: git not found");
        return;
    }
    write(root, ".gitignore", "apps/\n");
    let r = kubegate(root, &args(&["."]));
    assert_eq!(
        files(&r.stdout),
        ["apps/cm.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("warning: apps/zero.yaml: ") && r.stderr.contains("outside"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// A configured path (`paths: deploy` in CI) that the merge request replaced by a symbolic
/// link out of the repository is an error, not a walk (or read) of wherever it points.
#[cfg(unix)]
#[test]
fn a_root_that_links_out_of_the_repository_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "outside/secret.yaml", BAD);
    let root = tmp.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    if !git(&root, &["init", "-q"]) {
        println!("skipped: git not found");
        return;
    }
    write(&root, "ok.yaml", BAD);
    std::os::unix::fs::symlink("../outside", root.join("deploy")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.yaml", root.join("app.yaml")).unwrap();
    let r = kubegate(&root, &args(&["deploy", "app.yaml", "ok.yaml"]));
    assert_eq!(files(&r.stdout), ["ok.yaml"], "{}{}", r.stdout, r.stderr);
    for link in ["deploy", "app.yaml"] {
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with(&format!("kubegate: error: {link}: "))
                    && l.contains("outside the repository")),
            "{link}: {}",
            r.stderr
        );
    }
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[cfg(unix)]
fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(unix)]
#[test]
fn a_fifo_in_the_tree_does_not_block_and_is_counted_as_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "good.yaml", BAD);
    if !mkfifo(&root.join("pipe.yaml")) {
        println!("skipped: mkfifo not found");
        return;
    }
    let r = kubegate(root, &args(&["."]));
    assert_eq!(files(&r.stdout), ["good.yaml"], "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("warning: pipe.yaml: ") && r.stderr.contains("FIFO (named pipe)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("1 special file"), "{}", r.stderr);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn a_fifo_named_on_the_command_line_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "good.yaml", BAD);
    if !mkfifo(&root.join("pipe.yaml")) {
        println!("skipped: mkfifo not found");
        return;
    }
    let r = kubegate(root, &args(&["pipe.yaml", "good.yaml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: pipe.yaml: ") && r.stderr.contains("FIFO (named pipe)"),
        "{}",
        r.stderr
    );
    // The rest of the run completes.
    assert_eq!(files(&r.stdout), ["good.yaml"], "{}", r.stdout);
    // `-` is still standard input.
    let r = kubegate(root, &args(&["-"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn hidden_directories_are_checked_but_never_git() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    if !git(root, &["init", "-q"]) {
        println!("skipped: git not found");
        return;
    }
    write(root, ".prod/pod.yaml", BAD);
    write(root, ".hidden.yaml", BAD);
    write(root, ".git/bad.yaml", BAD);
    write(root, "sub/.git", "gitdir: ../.git/modules/sub\n");
    let r = kubegate(root, &args(&["."]));
    assert_eq!(
        files(&r.stdout),
        [".hidden.yaml", ".prod/pod.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// Outside a repository nothing is tracked: `.ignore` applies as in ripgrep, `.gitignore`
/// does not (there is no Git to ignore anything).
#[test]
fn outside_a_repository_dot_ignore_applies_and_gitignore_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for dir in ["a", "b", "c"] {
        write(root, &format!("{dir}/cm.yaml"), BAD);
    }
    write(root, ".gitignore", "a/\n");
    write(root, ".ignore", "b/\n");
    let r = kubegate(root, &args(&["."]));
    assert_eq!(
        files(&r.stdout),
        ["a/cm.yaml", "c/cm.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn exclude_accepts_a_leading_dot_slash_and_absolute_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    for path in ["a/cm.yaml", "b/cm.yaml", "c/b/cm.yaml", "d.yaml"] {
        write(&root, path, BAD);
    }
    let abs_b = root.join("b").to_string_lossy().into_owned();
    let abs_d = root.join("d.yaml").to_string_lossy().into_owned();
    // `./b` is `/b`: anchored, so `c/b` stays.
    for exclude in [
        "./b",
        "./b/",
        "./b/**",
        abs_b.as_str(),
        &format!("{abs_b}/"),
    ] {
        let r = kubegate(&root, &args(&["--exclude", exclude, "."]));
        assert_eq!(
            files(&r.stdout),
            ["a/cm.yaml", "c/b/cm.yaml", "d.yaml"],
            "--exclude {exclude}: {}{}",
            r.stdout,
            r.stderr
        );
        assert!(
            !r.stderr.contains("kubegate: warning"),
            "{exclude}: {}",
            r.stderr
        );
    }
    let r = kubegate(
        &root,
        &args(&["--exclude", &abs_d, "--exclude", "./a", "."]),
    );
    assert_eq!(
        files(&r.stdout),
        ["b/cm.yaml", "c/b/cm.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
    // Unanchored globs keep gitignore semantics: `b` is any directory named b.
    let r = kubegate(&root, &args(&["--exclude", "b", "."]));
    assert_eq!(
        files(&r.stdout),
        ["a/cm.yaml", "d.yaml"],
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn an_exclude_that_matches_nothing_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "a/cm.yaml", BAD);
    let r = kubegate(
        root,
        &args(&["--exclude", "nosuch/", "--exclude", "a/*.yml", "."]),
    );
    assert_eq!(files(&r.stdout), ["a/cm.yaml"], "{}", r.stdout);
    for glob in ["nosuch/", "a/*.yml"] {
        assert!(
            r.stderr
                .contains(&format!("warning: --exclude `{glob}`: matches no file")),
            "{glob}: {}",
            r.stderr
        );
    }
    // A warning does not change the exit code.
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn config_exclude_is_normalised_and_warned_about_too() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "a/cm.yaml", BAD);
    write(root, "b/cm.yaml", BAD);
    write(root, ".kubegate.yaml", "exclude:\n  - ./b\n  - vendor/**\n");
    let r = kubegate(root, &["check", "-f", "concise", "--no-builtin-rules", "."]);
    assert_eq!(files(&r.stdout), ["a/cm.yaml"], "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("warning: config exclude `vendor/**`: matches no file"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("`./b`"), "{}", r.stderr);
    assert_eq!(r.code, 1, "{}", r.stderr);
}
