//! Merge-request features against real repositories built with the `git` CLI: the detected
//! base (and what a merge request cannot make it), `--changed-only`, `--new-only`,
//! `--filter-mode`, `--policies-from-base`, shallow clones, `--staged`, tracked files that
//! ignore files cannot hide, and running outside a repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables that would change which base kubegate finds or where Git looks.
const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_BASE_REF",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_HEAD_REF",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA",
    "GITHUB_STEP_SUMMARY",
    "NO_COLOR",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
];

/// Denies every `data` key whose value is `bad`, at that key's line.
const POLICY: &str = "package main\n\n\
    deny contains {\"msg\": sprintf(\"bad %s\", [k]), \"path\": [\"data\", k]} if {\n\
    \tsome k, v in input.data\n\tv == \"bad\"\n}\n";

/// The flags that make the deny rule above the only source of findings.
const ONLY_POLICY: &[&str] = &[
    "check",
    "--no-config",
    "--no-builtin-rules",
    "--policy",
    "policy",
    "-f",
    "concise",
];

fn git_available() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: git not found");
    }
    ok
}

/// A ConfigMap named `name` with `data` entries `key: value`, one a line from line 6.
fn configmap(name: &str, data: &[(&str, &str)]) -> String {
    let mut s = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n");
    for (k, v) in data {
        s.push_str(&format!("  {k}: {v}\n"));
    }
    s
}

struct Repo {
    root: PathBuf,
}

impl Repo {
    /// A new repository on `main` at `root` (created), with the policy committed.
    fn init(root: &Path) -> Self {
        std::fs::create_dir_all(root).unwrap();
        let repo = Self::at(root);
        repo.git(&["init", "-q", "-b", "main"]);
        repo.configure();
        repo.write("policy/p.rego", POLICY);
        repo
    }

    fn at(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn configure(&self) {
        self.git(&["config", "user.name", "Test"]);
        self.git(&["config", "user.email", "test@example.com"]);
        self.git(&["config", "commit.gpgsign", "false"]);
    }

    /// Runs git; panics unless it succeeds; returns its trimmed stdout.
    fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(&self.root);
        for v in CLEARED {
            cmd.env_remove(v);
        }
        let out = cmd.output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn write(&self, path: &str, text: &str) {
        let p = self.root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Runs kubegate in the worktree with CI variables cleared, then `envs` set.
    fn kubegate(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
        kubegate_in(&self.root, args, envs)
    }
}

fn kubegate_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for v in CLEARED {
        cmd.env_remove(v);
    }
    cmd.envs(envs.iter().copied());
    let out = output_within_deadline(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "kubegate panicked:\n{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Runs `cmd` to completion, killing it after a minute: a regression that blocks on a FIFO
/// or reads a device must fail the test, not hang CI.
fn output_within_deadline(mut cmd: Command) -> std::process::Output {
    use std::io::Read;
    let deadline = std::time::Duration::from_secs(60);
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
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kubegate") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubegate did not finish within {deadline:?}; killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `file:line rule` of each concise finding, sorted.
fn findings(concise: &str) -> Vec<String> {
    let mut out: Vec<String> = concise
        .lines()
        .map(|l| {
            let (loc, rest) = l.split_once(": ").unwrap_or_else(|| panic!("{l:?}"));
            let mut loc = loc.split(':');
            let (file, line) = (loc.next().unwrap(), loc.next().unwrap());
            let rule = &rest[rest.find('[').unwrap() + 1..rest.find(']').unwrap()];
            format!("{file}:{line} {rule}")
        })
        .collect();
    out.sort();
    out
}

/// The files with findings, sorted and deduplicated.
fn files(concise: &str) -> Vec<String> {
    let mut out: Vec<String> = findings(concise)
        .into_iter()
        .map(|f| f.split(':').next().unwrap().to_owned())
        .collect();
    out.dedup();
    out
}

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect::<Vec<_>>()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// main: `a.yaml` and `b.yaml`, each with one bad key.
fn two_files(root: &Path) -> Repo {
    let repo = Repo::init(root);
    repo.write("a.yaml", &configmap("a", &[("x", "bad")]));
    repo.write("b.yaml", &configmap("b", &[("x", "bad")]));
    repo.commit("base");
    repo
}

#[test]
fn base_flag_measures_changes_from_the_merge_base() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = two_files(tmp.path());
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("a.yaml", &configmap("a", &[("x", "bad"), ("w", "ok")]));
    repo.commit("feature");
    // main moves on after the branch point: its change is not the feature's.
    repo.git(&["checkout", "-q", "main"]);
    repo.write("b.yaml", &configmap("b", &[("x", "bad"), ("z", "ok")]));
    repo.commit("main moves");
    repo.git(&["checkout", "-q", "feature"]);

    let args = with(ONLY_POLICY, &["--base", "main", "--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["a.yaml:6 main.deny"], "{out}");
    assert!(err.contains("checked 1 file,"), "{err}");
    // Without --base and outside CI, the local `main` is the default branch.
    let args = with(ONLY_POLICY, &["--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!((code, files(&out)), (1, vec!["a.yaml".to_owned()]), "{err}");
    // A bad --base is a usage error.
    let args = with(ONLY_POLICY, &["--base", "nosuchref", "--changed-only", "."]);
    let (code, _, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nosuchref"), "{err}");
}

#[test]
fn base_is_detected_from_origin_head_of_a_clone() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The default branch is `trunk`: no `main` or `master` anywhere, only origin/HEAD.
    let upstream = Repo::at(&tmp.path().join("upstream"));
    std::fs::create_dir_all(&upstream.root).unwrap();
    upstream.git(&["init", "-q", "-b", "trunk"]);
    upstream.configure();
    upstream.write("policy/p.rego", POLICY);
    upstream.write("a.yaml", &configmap("a", &[("x", "bad")]));
    upstream.write("b.yaml", &configmap("b", &[("x", "bad")]));
    upstream.commit("base");
    let bare = tmp.path().join("origin.git");
    let work = tmp.path().join("work");
    upstream.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    upstream.git(&[
        "clone",
        "-q",
        bare.to_str().unwrap(),
        work.to_str().unwrap(),
    ]);
    let repo = Repo::at(&work);
    repo.configure();
    assert_eq!(
        repo.git(&["symbolic-ref", "refs/remotes/origin/HEAD"]),
        "refs/remotes/origin/trunk"
    );
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("b.yaml", &configmap("b", &[("x", "bad"), ("w", "bad")]));
    repo.write("c.yaml", &configmap("c", &[("x", "bad")]));
    repo.commit("feature");

    let args = with(ONLY_POLICY, &["--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        findings(&out),
        [
            "b.yaml:6 main.deny",
            "b.yaml:7 main.deny",
            "c.yaml:6 main.deny"
        ],
        "{out}"
    );
}

#[test]
fn gitlab_diff_base_sha_is_the_base() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = two_files(tmp.path());
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("a.yaml", &configmap("a", &[("x", "bad"), ("w", "ok")]));
    let first = repo.commit("feature 1");
    repo.write("b.yaml", &configmap("b", &[("x", "bad"), ("w", "ok")]));
    repo.commit("feature 2");

    let args = with(ONLY_POLICY, &["--changed-only", "."]);
    // The default branch: both files changed since main.
    let (_, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(files(&out), ["a.yaml", "b.yaml"], "{err}");
    // GitLab's diff base (here the first feature commit) wins over the default branch.
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", first.as_str()),
    ];
    let (code, out, err) = repo.kubegate(&refs(&args), &env);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["b.yaml:6 main.deny"], "{out}");
}

/// A `pull_request` event payload with these base and head shas, written to `path` (outside
/// the worktree, as the runner keeps it).
fn write_event(path: &Path, base: &str, head: &str) -> String {
    let json = serde_json::json!({
        "pull_request": {"number": 7, "base": {"sha": base, "ref": "main"}, "head": {"sha": head}}
    });
    std::fs::write(path, json.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// main: `a.yaml`, `b.yaml`; feature changes `a.yaml`, adds `c.yaml`; main then moves on
/// (`b.yaml`). Returns the repository, main's first tip and main's tip.
fn diverged(root: &Path) -> (Repo, String, String) {
    let repo = two_files(root);
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("a.yaml", &configmap("a", &[("x", "bad"), ("w", "ok")]));
    repo.write("c.yaml", &configmap("c", &[("x", "bad")]));
    repo.commit("feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("b.yaml", &configmap("b", &[("x", "bad"), ("z", "ok")]));
    let tip = repo.commit("main moves");
    (repo, first, tip)
}

/// The merge commit `actions/checkout` checks out for a `pull_request` event (GitHub's
/// `refs/pull/N/merge`, `GITHUB_SHA`): its first parent is the base branch's tip, which may be
/// newer than the event's `base.sha`.
#[test]
fn github_merge_commit_first_parent_is_the_base() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (repo, first, main_tip) = diverged(&tmp.path().join("repo"));
    let feature = repo.git(&["rev-parse", "feature"]);
    repo.git(&["checkout", "-q", "--detach", "main"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge abc into def",
        "feature",
    ]);
    assert_eq!(repo.git(&["rev-parse", "HEAD^1"]), main_tip);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    // No `main` branch left: only the merge commit's first parent can be the base.
    repo.git(&["branch", "-q", "-D", "main"]);
    // The event was sent when main was at its first commit; the merge ref is newer.
    let event_path = tmp.path().join("event.json");
    let event = write_event(&event_path, &first, &feature);
    let platform = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_REF", "refs/pull/7/merge"),
        ("GITHUB_SHA", merge.as_str()),
    ];

    let args = with(ONLY_POLICY, &["--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &platform);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        findings(&out),
        ["a.yaml:6 main.deny", "c.yaml:6 main.deny"],
        "{out}"
    );

    // A merge commit the platform did not make (GITHUB_SHA is another commit, or its second
    // parent is not the event's head) is not trusted: the event's base sha is the base, so
    // main's own move to b.yaml counts as part of the change here.
    let other_sha = [("GITHUB_SHA", first.as_str())];
    let wrong_head = write_event(&tmp.path().join("stale.json"), &first, &first);
    let wrong_head = [("GITHUB_EVENT_PATH", wrong_head.as_str())];
    for change in [&other_sha[..], &wrong_head[..]] {
        let mut env = platform.to_vec();
        env.retain(|(k, _)| !change.iter().any(|(c, _)| c == k));
        env.extend_from_slice(change);
        let (code, out, err) = repo.kubegate(&refs(&args), &env);
        assert_eq!(code, 1, "{change:?}: {err}");
        assert_eq!(
            files(&out),
            ["a.yaml", "b.yaml", "c.yaml"],
            "{change:?}: {out}"
        );
    }

    // actions/checkout's default depth of 1: the merge commit without its parents.
    repo.git(&["tag", "pr-merge", &merge]);
    let url = format!("file://{}", repo.root.display());
    let shallow_dir = tmp.path().join("shallow");
    repo.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "pr-merge",
        &url,
        shallow_dir.to_str().unwrap(),
    ]);
    let shallow = Repo::at(&shallow_dir);
    assert_eq!(shallow.git(&["rev-parse", "HEAD"]), merge);
    let (code, out, err) = shallow.kubegate(&refs(&args), &platform);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("merge commit of a pull request"), "{err}");
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("fetch-depth"), "{err}");
}

/// A merge request whose head is its own two-parent "Merge ..." commit (a workflow that
/// checks out `github.event.pull_request.head.sha`, or `pull_request_target`) cannot name its
/// own commit as the trusted base: the base is the event's `base.sha`, so the base's policy
/// runs, the policy change is flagged, and the finding fails the run.
#[test]
fn a_merge_request_merge_commit_cannot_choose_its_own_base() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    repo.write("m.yaml", &configmap("m", &[("x", "ok")]));
    let main_tip = repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // The merge request neuters the policy and adds the violation it would catch...
    repo.write("policy/p.rego", "package main\n");
    repo.write("m.yaml", &configmap("m", &[("x", "bad")]));
    repo.commit("feature");
    // ...then makes a merge commit whose first parent is that commit.
    repo.git(&["checkout", "-q", "-b", "side", "main"]);
    repo.write("side.txt", "side\n");
    repo.commit("side");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #7 from someone/side",
        "side",
    ]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let event = write_event(&tmp.path().join("event.json"), &main_tip, &head);
    let args = [
        "check",
        "--no-builtin-rules",
        "--policy",
        "policy",
        "-f",
        "concise",
        ".",
    ];
    // pull_request_target (GITHUB_SHA is the base's tip), and pull_request with the head
    // checked out instead of the merge ref (GITHUB_SHA is a merge commit not in this clone).
    let absent = "0123456789abcdef0123456789abcdef01234567";
    for (event_name, sha, git_ref) in [
        ("pull_request_target", main_tip.as_str(), "refs/heads/main"),
        ("pull_request", absent, "refs/pull/7/merge"),
    ] {
        let env = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event_name),
            ("GITHUB_EVENT_PATH", event.as_str()),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_REF", git_ref),
            ("GITHUB_SHA", sha),
        ];
        let (code, out, err) = repo.kubegate(&args, &env);
        assert_eq!(
            findings(&out),
            ["m.yaml:6 main.deny", "policy/p.rego:1 policy-changed"],
            "{event_name}: the base's policy runs and its change is flagged: {out}{err}"
        );
        assert_eq!(code, 1, "{event_name}: {err}");
    }
}

/// `pull_request_target`: the workflow runs on the base (`GITHUB_SHA` is its tip) and checks
/// out the pull request's head, here a branch that merged main into itself. The base is the
/// event's `base.sha`, not the first parent of that merge.
#[test]
fn pull_request_target_uses_the_event_base_sha() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, main_tip) = diverged(&tmp.path().join("repo"));
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'main' into feature",
        "main",
    ]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let event = write_event(&tmp.path().join("event.json"), &main_tip, &head);
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", main_tip.as_str()),
    ];
    let args = with(ONLY_POLICY, &["--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &env);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        findings(&out),
        ["a.yaml:6 main.deny", "c.yaml:6 main.deny"],
        "the feature's changes, not main's: {out}"
    );
}

#[test]
fn changed_only_checks_committed_staged_unstaged_untracked_and_renamed_files() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    for name in [
        "unchanged",
        "modified",
        "moved",
        "moved_edited",
        "deleted",
        "staged",
        "unstaged",
    ] {
        repo.write(
            &format!("{name}.yaml"),
            &configmap(name, &[("x", "bad"), ("pad1", "one"), ("pad2", "two")]),
        );
    }
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("modified.yaml", &configmap("modified", &[("x", "bad")]));
    repo.write("added.yaml", &configmap("added", &[("x", "bad")]));
    repo.git(&["mv", "moved.yaml", "moved_new.yaml"]);
    repo.git(&["mv", "moved_edited.yaml", "moved_edited_new.yaml"]);
    repo.write(
        "moved_edited_new.yaml",
        &configmap(
            "moved_edited",
            &[("x", "bad"), ("pad1", "one"), ("pad2", "two"), ("w", "ok")],
        ),
    );
    repo.git(&["rm", "-q", "deleted.yaml"]);
    repo.commit("feature");
    // Uncommitted: staged, unstaged, untracked.
    repo.write("staged.yaml", &configmap("staged", &[("x", "bad")]));
    repo.git(&["add", "staged.yaml"]);
    repo.write("unstaged.yaml", &configmap("unstaged", &[("x", "bad")]));
    repo.write("untracked.yaml", &configmap("untracked", &[("x", "bad")]));

    let args = with(ONLY_POLICY, &["--base", "main", "--changed-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        files(&out),
        [
            "added.yaml",
            "modified.yaml",
            "moved_edited_new.yaml",
            "moved_new.yaml",
            "staged.yaml",
            "unstaged.yaml",
            "untracked.yaml",
        ],
        "{out}"
    );
    assert!(err.contains("checked 7 files,"), "{err}");
    assert!(!err.contains("deleted"), "{err}");
    // Naming only unchanged files checks nothing and passes.
    let args = with(
        ONLY_POLICY,
        &["--base", "main", "--changed-only", "unchanged.yaml"],
    );
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("checked 0 files,"), "{err}");
}

#[test]
fn new_only_drops_findings_that_moved_or_were_renamed() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("m.yaml", &configmap("m", &[("old", "bad")]));
    repo.write("r.yaml", &configmap("r", &[("old", "bad"), ("pad", "one")]));
    repo.write("u.yaml", &configmap("u", &[("old", "bad")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // Lines inserted above the old finding move it from line 6 to line 8.
    repo.write(
        "m.yaml",
        &configmap(
            "m",
            &[("a", "ok"), ("b", "ok"), ("old", "bad"), ("new", "bad")],
        ),
    );
    repo.git(&["mv", "r.yaml", "r2.yaml"]);
    repo.commit("feature");

    // Without --new-only every finding shows.
    let all = with(ONLY_POLICY, &["--base", "main", "."]);
    let (_, out, _) = repo.kubegate(&refs(&all), &[]);
    assert_eq!(
        findings(&out),
        [
            "m.yaml:8 main.deny",
            "m.yaml:9 main.deny",
            "r2.yaml:6 main.deny",
            "u.yaml:6 main.deny"
        ],
        "{out}"
    );

    let args = with(ONLY_POLICY, &["--base", "main", "--new-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["m.yaml:9 main.deny"], "{out}");
    assert!(out.contains("bad new"), "{out}");
    // m.yaml's old one, r2.yaml's and unchanged u.yaml's.
    assert!(err.contains(", 3 not new (--new-only)"), "{err}");

    // Only existing findings: exit 0.
    repo.write("m.yaml", &configmap("m", &[("a", "ok"), ("old", "bad")]));
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains(", 3 not new (--new-only)"), "{err}");
}

/// Git calls `git mv` plus a small edit a rename (`R` in `git diff -M`); the old findings
/// of the file are not new.
#[test]
fn new_only_compares_a_renamed_and_edited_file_with_its_old_path() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    let data = [
        ("old", "bad"),
        ("p1", "one"),
        ("p2", "two"),
        ("p3", "three"),
    ];
    repo.write("e.yaml", &configmap("e", &data));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["mv", "e.yaml", "e2.yaml"]);
    let mut edited = data.to_vec();
    edited.push(("added", "bad"));
    repo.write("e2.yaml", &configmap("e", &edited));
    repo.commit("feature");
    let status = repo.git(&["diff", "--name-status", "-M", "main", "HEAD"]);
    assert!(status.starts_with('R'), "{status}");
    assert!(status.ends_with("e.yaml\te2.yaml"), "{status}");

    let args = with(ONLY_POLICY, &["--base", "main", "--new-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["e2.yaml:10 main.deny"], "{out}");
    assert!(err.contains(", 1 not new (--new-only)"), "{err}");
}

/// `f.yaml`: an old finding at line 6, one near the change at 17, the change adds 20.
fn filter_repo(root: &Path) -> Repo {
    let repo = Repo::init(root);
    let mut data: Vec<(String, &str)> = vec![("far".into(), "bad")];
    data.extend((1..=10).map(|i| (format!("k{i}"), "ok")));
    data.push(("near".into(), "bad"));
    data.push(("k11".into(), "ok"));
    data.push(("k12".into(), "ok"));
    let pairs = |d: &[(String, &str)]| -> String {
        let d: Vec<(&str, &str)> = d.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        configmap("f", &d)
    };
    repo.write("f.yaml", &pairs(&data));
    repo.write("u.yaml", &configmap("u", &[("x", "bad")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    data.push(("new".into(), "bad"));
    repo.write("f.yaml", &pairs(&data));
    repo.commit("feature");
    repo
}

#[test]
fn filter_modes_keep_findings_by_their_distance_to_the_change() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = filter_repo(tmp.path());
    let cases: [(&str, &[&str], usize); 4] = [
        ("added", &["f.yaml:20 main.deny"], 3),
        (
            "diff_context",
            &["f.yaml:17 main.deny", "f.yaml:20 main.deny"],
            2,
        ),
        (
            "file",
            &[
                "f.yaml:17 main.deny",
                "f.yaml:20 main.deny",
                "f.yaml:6 main.deny",
            ],
            1,
        ),
        (
            "nofilter",
            &[
                "f.yaml:17 main.deny",
                "f.yaml:20 main.deny",
                "f.yaml:6 main.deny",
                "u.yaml:6 main.deny",
            ],
            0,
        ),
    ];
    for (mode, want, outside) in cases {
        let args = with(ONLY_POLICY, &["--base", "main", "--filter-mode", mode, "."]);
        let (code, out, err) = repo.kubegate(&refs(&args), &[]);
        assert_eq!(code, 1, "{mode}: {err}");
        assert_eq!(findings(&out), want, "{mode}: {out}");
        let note = format!(", {outside} outside the change (--filter-mode)");
        assert_eq!(
            err.contains(&note),
            outside > 0,
            "{mode}: {note:?} in {err}"
        );
        if outside == 0 {
            assert!(!err.contains("outside the change"), "{mode}: {err}");
        }
    }
    // A clean result after filtering exits 0.
    let clean = tempfile::tempdir().unwrap();
    let repo = Repo::init(clean.path());
    repo.write("f.yaml", &configmap("f", &[("x", "bad"), ("pad", "one")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "f.yaml",
        &configmap("f", &[("x", "bad"), ("pad", "one"), ("p2", "ok")]),
    );
    repo.commit("feature");
    let args = with(
        ONLY_POLICY,
        &["--base", "main", "--filter-mode", "added", "."],
    );
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains(", 1 outside the change"), "{err}");
}

#[test]
fn policies_come_from_the_base_and_their_change_is_flagged() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("m.yaml", &configmap("m", &[("x", "bad")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // The merge request neuters the policy that would fail it.
    repo.write("policy/p.rego", "package main\n");
    repo.commit("feature");

    let run = |extra: &[&str], env: &[(&str, &str)]| {
        // No --no-config: see policies_from_base_ignore_no_config for why.
        let mut args = with(
            &[
                "check",
                "--no-builtin-rules",
                "--policy",
                "policy",
                "-f",
                "concise",
            ],
            &["--base", "main"],
        );
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        repo.kubegate(&refs(&args), env)
    };
    let (code, out, err) = run(&["--policies-from-base", "."], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        findings(&out),
        ["m.yaml:6 main.deny", "policy/p.rego:1 policy-changed"],
        "{out}"
    );
    assert!(
        out.contains("policy/p.rego:1:1: warning[policy-changed]"),
        "{out}"
    );
    assert!(out.contains("modifies `policy/p.rego`"), "{out}");

    let (code, out, err) = run(&["--policies-from-head", "."], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(findings(&out), ["policy/p.rego:1 policy-changed"], "{out}");

    // In CI, the base's policies are the default once a base is known...
    let (code, out, err) = run(&["."], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        findings(&out),
        ["m.yaml:6 main.deny", "policy/p.rego:1 policy-changed"],
        "{out}"
    );
    // ...and --policies-from-head opts out.
    let (code, out, err) = run(&["--policies-from-head", "."], &[("GITLAB_CI", "true")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(findings(&out), ["policy/p.rego:1 policy-changed"], "{out}");
}

/// `--no-config` turns off the config file only, never `--policies-from-base`.
#[test]
fn policies_from_base_ignore_no_config() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("m.yaml", &configmap("m", &[("x", "bad")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("policy/p.rego", "package main\n");
    repo.commit("feature");
    let args = with(
        ONLY_POLICY,
        &["--base", "main", "--policies-from-base", "."],
    );
    for env in [&[][..], &[("GITHUB_ACTIONS", "true")][..]] {
        let (code, out, err) = repo.kubegate(&refs(&args), env);
        assert_eq!(
            findings(&out),
            ["m.yaml:6 main.deny", "policy/p.rego:1 policy-changed"],
            "{env:?}: the base's deny rule must run: {out}"
        );
        assert_eq!(code, 1, "{env:?}: {err}");
    }
}

/// The warning lands on the lines the merge request changed in the policy, not on line 1.
#[test]
fn policy_changed_points_at_the_changed_lines() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("m.yaml", &configmap("m", &[("x", "ok")]));
    let policy = "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.data.x == \"bad\"\n\tmsg := \"bad\"\n}\n";
    repo.write("policy/p.rego", policy);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // Lines 6 and 7 replaced, and a line added at the end: two places.
    let changed = policy.replace(
        "input.data.x == \"bad\"\n\tmsg := \"bad\"",
        "false\n\tmsg := \"never\"",
    ) + "# relaxed\n";
    repo.write("policy/p.rego", &changed);
    repo.commit("feature");
    let args = with(
        ONLY_POLICY,
        &["--base", "main", "--policies-from-base", "."],
    );
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("policy/p.rego:6:1: warning[policy-changed]"),
        "on the first changed line: {out}"
    );
    assert!(out.contains("changed here and in one more place"), "{out}");
}

/// An error in the base's configuration names it as the base's, at its line; never the
/// temporary copy kubegate reads it from.
#[test]
fn an_error_in_the_base_config_names_the_base_file() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write(".kubegate.yaml", "rules:\n  disable:\n    - KG999\n");
    repo.write("m.yaml", &configmap("m", &[("x", "ok")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(".kubegate.yaml", "rules: {}\n");
    repo.commit("feature");
    let (code, _, err) = repo.kubegate(
        &["check", "--base", "main", "--policies-from-base", "m.yaml"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("base:.kubegate.yaml:3:"), "{err}");
    assert!(
        !err.contains(&std::env::temp_dir().display().to_string()),
        "{err}"
    );
}

#[test]
fn config_comes_from_the_base() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write(".kubegate.yaml", "rules:\n  disable:\n    - KG301\n");
    repo.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx:latest\n",
    );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(".kubegate.yaml", "rules: {}\n");
    repo.commit("feature");

    let run = |flag: &str| {
        repo.kubegate(
            &["check", "--base", "main", flag, "-f", "concise", "pod.yaml"],
            &[],
        )
    };
    let (code, out, err) = run("--policies-from-base");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("[KG301]"), "{out}");
    assert!(out.contains("KG102"), "other rules still run: {out}");
    assert!(
        out.contains(".kubegate.yaml:1:1: warning[policy-changed]"),
        "{out}"
    );
    let (code, out, err) = run("--policies-from-head");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("pod.yaml:8:14: warning[KG301]"),
        "the head's config enables KG301: {out}"
    );
    assert!(
        out.contains(".kubegate.yaml:1:1: warning[policy-changed]"),
        "{out}"
    );
}

#[test]
fn shallow_clone_without_the_history_exits_2_naming_the_fix() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = two_files(&tmp.path().join("full"));
    let root_commit = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("a.yaml", &configmap("a", &[("x", "bad"), ("w", "ok")]));
    repo.commit("feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("b.yaml", &configmap("b", &[("x", "bad"), ("w", "ok")]));
    repo.commit("main moves");
    let url = format!("file://{}", repo.root.display());
    let shallow_dir = tmp.path().join("shallow");
    repo.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        "--no-single-branch",
        "--branch",
        "feature",
        &url,
        shallow_dir.to_str().unwrap(),
    ]);
    let shallow = Repo::at(&shallow_dir);
    assert_eq!(
        shallow.git(&["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    shallow.git(&["rev-parse", "--verify", "-q", "refs/remotes/origin/main"]);

    let expect_shallow = |args: &[String], env: &[(&str, &str)]| {
        let (code, out, err) = shallow.kubegate(&refs(args), env);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("shallow clone"), "{err}");
        assert!(err.contains("fetch-depth"), "{err}");
        assert!(err.contains("GIT_DEPTH"), "{err}");
    };
    // origin/main is there, but not the history back to the merge-base.
    expect_shallow(
        &with(
            ONLY_POLICY,
            &["--base", "origin/main", "--changed-only", "."],
        ),
        &[],
    );
    // GitLab's diff base sha is not in the clone at all.
    expect_shallow(
        &with(ONLY_POLICY, &["--changed-only", "."]),
        &[
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", root_commit.as_str()),
        ],
    );
}

#[test]
fn staged_checks_the_index_not_the_worktree() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("m.yaml", &configmap("m", &[("x", "ok")]));
    repo.commit("base");
    // Staged: a bad key at line 7. Worktree: fixed again.
    repo.write("m.yaml", &configmap("m", &[("x", "ok"), ("w", "bad")]));
    repo.git(&["add", "m.yaml"]);
    repo.write("m.yaml", &configmap("m", &[("x", "ok"), ("w", "ok")]));

    let args = with(ONLY_POLICY, &["--staged", "m.yaml"]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["m.yaml:7 main.deny"], "{out}");
    let args = with(ONLY_POLICY, &["m.yaml"]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(
        (code, out.as_str()),
        (0, ""),
        "the worktree is clean: {err}"
    );

    // The other way round: a clean index passes though the worktree is bad.
    repo.write(
        "m.yaml",
        &configmap("m", &[("x", "ok"), ("w", "ok"), ("z", "ok")]),
    );
    repo.git(&["add", "m.yaml"]);
    repo.write("m.yaml", &configmap("m", &[("x", "bad")]));
    let args = with(ONLY_POLICY, &["--staged", "m.yaml"]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let args = with(ONLY_POLICY, &["m.yaml"]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(findings(&out), ["m.yaml:6 main.deny"], "{out}");
}

#[test]
fn changed_only_outside_a_repository_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("m.yaml"), configmap("m", &[("x", "ok")])).unwrap();
    for flag in ["--changed-only", "--new-only"] {
        let (code, out, err) = kubegate_in(tmp.path(), &["check", "--no-config", flag, "."], &[]);
        assert_eq!(code, 2, "{flag}: {out}{err}");
        assert!(
            err.contains(&format!("{flag} needs a Git repository")),
            "{flag}: {err}"
        );
    }
}

/// The change summary: objects added, changed and removed, and the RBAC grants a change
/// makes, with a role in an unchanged file resolved, in the markdown and JSON reports.
#[test]
fn change_summary_lists_objects_and_rbac_grants() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write(
        "rbac/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get, list]\n",
    );
    repo.write(
        "rbac/old.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: old\n  namespace: web\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects:\n  - kind: User\n    name: alice\n",
    );
    repo.write("cm.yaml", &configmap("c", &[("a", "v1")]));
    repo.write("gone.yaml", &configmap("gone", &[("a", "v1")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "rbac/bind.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: deployer-reads\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects:\n  - kind: ServiceAccount\n    name: deployer\n    namespace: ci\n",
    );
    repo.git(&["rm", "-q", "rbac/old.yaml", "gone.yaml"]);
    repo.write("cm.yaml", &configmap("c", &[("a", "v2")]));
    repo.commit("feature");

    let (code, out, err) = repo.kubegate(
        &[
            "check",
            "--no-config",
            "--no-builtin-rules",
            "--base",
            "main",
            "-f",
            "markdown",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}{out}");
    assert!(
        out.contains("1 object added, 1 changed, 2 removed."),
        "{out}"
    );
    assert!(
        out.contains("| added | ClusterRoleBinding |  | deployer-reads | rbac/bind.yaml |"),
        "{out}"
    );
    assert!(out.contains("| changed | ConfigMap |"), "{out}");
    assert!(
        out.contains("| removed | RoleBinding | web | old | rbac/old.yaml |"),
        "{out}"
    );
    assert!(
        out.contains(
            "ServiceAccount `ci/deployer` gains `get, list` on `secrets` cluster-wide via ClusterRoleBinding `deployer-reads` (ClusterRole `reader`)"
        ),
        "{out}"
    );
    assert!(
        out.contains("User `alice` loses `get, list` on `secrets` in namespace `web`"),
        "{out}"
    );

    let (code, out, err) = repo.kubegate(
        &[
            "check",
            "--no-config",
            "--no-builtin-rules",
            "--base",
            "main",
            "-f",
            "json",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = &json["changes"];
    assert_eq!(changes["added"].as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(
        changes["removed"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    let rbac = changes["rbac"].as_array().unwrap();
    assert_eq!(rbac.len(), 2, "{out}");
    assert!(rbac.iter().any(|g| g["change"] == "gains"
        && g["subject"]["name"] == "deployer"
        && g["scope"] == "cluster_wide"));

    // Without a base there is no change summary.
    let (_, out, _) = repo.kubegate(&["check", "--no-config", "-f", "json", "cm.yaml"], &[]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(json.get("changes").is_none(), "{out}");
}

/// `--new-only` and the rules that compare objects: a merge request that deletes the only
/// Deployment a Service selects introduces `dangling-service` on the Service, even though the
/// Service's own file barely changed; the base run sees the deleted Deployment.
#[test]
fn new_only_sees_deleted_files_for_rules_across_objects() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    let service = |port: u32| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    app: web\n  ports:\n    - port: {port}\n"
        )
    };
    repo.write("svc.yaml", &service(80));
    repo.write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n",
    );
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["rm", "-q", "deploy.yaml"]);
    repo.write("svc.yaml", &service(8080));
    repo.commit("feature");

    let (code, out, err) = repo.kubegate(
        &[
            "check",
            "--no-config",
            "--base",
            "main",
            "--new-only",
            "-f",
            "concise",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        findings(&out).contains(&"svc.yaml:7 KG507".to_owned()),
        "the Service dangles only since the change: {out}"
    );
}

/// Git ignores only untracked files, and the GitOps controller deploys every tracked one: a
/// `.gitignore` or `.ignore` that a merge request adds next to a tracked manifest, or over
/// its whole directory, does not hide it. Untracked ignored files stay skipped.
#[test]
fn ignore_files_cannot_hide_tracked_manifests() {
    if !git_available() {
        return;
    }
    let hiders: &[(&str, &str)] = &[
        (".gitignore", "cm.yaml\nscratch.yaml\n"),
        ("apps/.gitignore", "*\n"),
        (".gitignore", "apps/\n"),
        (".ignore", "apps/\n"),
        ("apps/.ignore", "*.yaml\n"),
    ];
    for (file, text) in hiders {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repo::init(tmp.path());
        repo.write("apps/cm.yaml", &configmap("cm", &[("x", "bad")]));
        repo.commit("base");
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.write(file, text);
        // Forced: `apps/.gitignore` with `*` ignores itself.
        repo.git(&["add", "-f", file]);
        repo.git(&["commit", "-q", "-m", "hide it"]);
        // An untracked file the ignore file covers is not the controller's business.
        repo.write("apps/scratch.yaml", &configmap("s", &[("x", "bad")]));
        let (code, out, err) = repo.kubegate(&refs(&with(ONLY_POLICY, &["."])), &[]);
        assert_eq!(
            findings(&out),
            ["apps/cm.yaml:6 main.deny"],
            "{file}: {text:?}: {out}{err}"
        );
        assert_eq!(code, 1, "{file}: {err}");
        assert!(err.contains("checked 1 file,"), "{file}: {err}");
        // Named as its directory, too. (An ignored directory named on the command line is
        // walked, as ripgrep walks it: scratch.yaml may show there, which is no loss.)
        let (code, out, _) = repo.kubegate(&refs(&with(ONLY_POLICY, &["apps"])), &[]);
        assert_eq!(code, 1, "{file}: {out}");
        assert!(
            findings(&out).contains(&"apps/cm.yaml:6 main.deny".to_owned()),
            "{file}: {out}"
        );
    }
}

/// The same in a merge request's CI run with `--changed-only --new-only`: the change adds a
/// violation to a tracked manifest and a `.gitignore` over it.
#[test]
fn ignore_files_cannot_hide_a_changed_manifest_in_ci() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    repo.write("apps/cm.yaml", &configmap("cm", &[("x", "ok")]));
    repo.write("apps/other.yaml", &configmap("o", &[("x", "bad")]));
    let main_tip = repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "apps/cm.yaml",
        &configmap("cm", &[("x", "ok"), ("w", "bad")]),
    );
    repo.write(".gitignore", "apps/\n");
    repo.write("apps/.ignore", "*.yaml\n");
    let head = repo.commit("feature");
    let event = write_event(&tmp.path().join("event.json"), &main_tip, &head);
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", main_tip.as_str()),
    ];
    let args = with(ONLY_POLICY, &["--changed-only", "--new-only", "."]);
    let (code, out, err) = repo.kubegate(&refs(&args), &env);
    assert_eq!(findings(&out), ["apps/cm.yaml:7 main.deny"], "{out}{err}");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("checked 1 file,"), "{err}");
}

/// A tracked symbolic link is hashed as Git hashes it, from its link text: one to
/// `/dev/zero` whose stat data no longer matches the index (so it is hashed, not trusted)
/// is neither read nor counted as changed.
#[cfg(unix)]
#[test]
fn a_tracked_symlink_is_hashed_from_its_link_text() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    std::os::unix::fs::symlink("/dev/zero", repo.root.join("policy/zero")).unwrap();
    repo.write("m.yaml", &configmap("m", &[("x", "ok")]));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("m.yaml", &configmap("m", &[("x", "bad")]));
    repo.commit("feature");
    // The link's own mtime moves: the index's stat data no longer vouches for it.
    let touched = Command::new("touch")
        .args(["-h", "-d", "2001-01-01 00:00:00"])
        .arg(repo.root.join("policy/zero"))
        .status()
        .is_ok_and(|s| s.success());
    if !touched {
        println!("skipped: touch -h not available");
        return;
    }
    let args = with(
        ONLY_POLICY,
        &[
            "--base",
            "main",
            "--policies-from-base",
            "--changed-only",
            "m.yaml",
        ],
    );
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(findings(&out), ["m.yaml:6 main.deny"], "{out}{err}");
    assert_eq!(code, 1, "{err}");
}

/// A CRD whose `spec.size` may not shrink and whose `spec.class` is immutable
/// (transition rules, `oldSelf`).
const VOLUME_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: volumes.example.io
spec:
  group: example.io
  scope: Namespaced
  names: {kind: Volume, plural: volumes}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
                x-kubernetes-validations:
                - rule: self >= oldSelf
                  message: a volume cannot shrink
              class:
                type: string
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: class is immutable
";

fn volume(name: &str, size: u32, class: &str) -> String {
    format!(
        "apiVersion: example.io/v1\nkind: Volume\nmetadata:\n  name: {name}\n  namespace: db\n\
         spec:\n  size: {size}\n  class: {class}\n"
    )
}

/// CRD transition rules compare a changed custom resource with its version at the base,
/// in the base version of its own file; a new object, an object of another file with the
/// same name, and a run outside a merge request are creates (the rules are skipped).
#[test]
fn transition_rules_compare_with_the_base_version_of_the_object() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("crds/volume.yaml", VOLUME_CRD);
    repo.write("prod/volume.yaml", &volume("data", 10, "ssd"));
    repo.write("staging/volume.yaml", &volume("data", 10, "ssd"));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    // prod shrinks and changes class; staging's same-named volume is unchanged; a new
    // volume in prod.
    repo.write(
        "prod/volume.yaml",
        &format!(
            "{}---\n{}",
            volume("data", 5, "hdd"),
            volume("logs", 1, "hdd")
        ),
    );
    repo.commit("feature");
    let base = [
        "check",
        "--no-config",
        "--no-builtin-rules",
        "-f",
        "concise",
        ".",
    ];
    let args = with(&base, &["--base", "main"]);
    let (code, out, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(
        findings(&out),
        [
            "prod/volume.yaml:7 schema-cel",
            "prod/volume.yaml:8 schema-cel"
        ],
        "{out}"
    );
    assert!(out.contains("a volume cannot shrink"), "{out}");
    assert!(out.contains("class is immutable"), "{out}");
    let args = with(&base, &["--base", "main", "--new-only"]);
    let (_, new_only, err) = repo.kubegate(&refs(&args), &[]);
    assert_eq!(findings(&new_only), findings(&out), "{err}");
    // Outside a merge request every object is a create.
    let (code, out, err) = repo.kubegate(&base, &[]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
}

/// Under `--changed-only` the CRDs of the files not checked still validate the custom
/// resources that are.
#[test]
fn changed_only_validates_custom_resources_with_the_crds_of_unchanged_files() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write("crds/volume.yaml", VOLUME_CRD);
    repo.write("prod/volume.yaml", &volume("data", 10, "ssd"));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "prod/volume.yaml",
        &volume("data", 10, "ssd").replace("size: 10", "size: ten"),
    );
    repo.commit("feature");
    let args = [
        "check",
        "--no-config",
        "--no-builtin-rules",
        "-f",
        "concise",
        "--changed-only",
        "--base",
        "main",
        ".",
    ];
    let (code, out, err) = repo.kubegate(&args, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(findings(&out), ["prod/volume.yaml:7 schema-type"], "{out}");
    assert!(err.contains("checked 1 file"), "{err}");
}

/// A config read at the merge request's base names its CRDs relative to its place in the
/// repository (it used to name a directory of the base's copy that holds only the config).
#[test]
fn crds_of_a_config_read_at_the_base_are_found() {
    if !git_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(tmp.path());
    repo.write(".kubegate.yaml", "crds: [crds]\n");
    repo.write("crds/volume.yaml", VOLUME_CRD);
    repo.write("prod/volume.yaml", &volume("data", 10, "ssd"));
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(
        "prod/volume.yaml",
        &volume("data", 10, "ssd").replace("size: 10", "size: ten"),
    );
    repo.commit("feature");
    let args = [
        "check",
        "--policies-from-base",
        "--base",
        "main",
        "--no-builtin-rules",
        "-f",
        "concise",
        "prod",
    ];
    let (code, out, err) = repo.kubegate(&args, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(findings(&out), ["prod/volume.yaml:7 schema-type"], "{out}");
}
