//! Every hostile input at once, through the real binary: it must finish, exit 1 or 2, name
//! every hostile file in its report or its warnings, and still report the good file.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far more than the run needs (about a second): only a hang reaches it.
const BOUND: Duration = Duration::from_secs(120);

const GOOD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\nbogus: 1\n";

fn write(root: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(root.join(name), bytes).unwrap();
}

/// "Billion laughs": ten levels of ten aliases, 10^10 nodes once expanded.
fn alias_bomb() -> String {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for l in 1..=10 {
        s.push_str(&format!("a{l}: &a{l} ["));
        s.push_str(&vec![format!("*a{}", l - 1); 10].join(", "));
        s.push_str("]\n");
    }
    s
}

#[cfg(unix)]
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(unix)]
#[test]
fn every_hostile_input_at_once_is_reported_and_the_run_finishes() {
    use std::os::unix::fs::{PermissionsExt, symlink};

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // name, what must be said of it (in the JSON report or on stderr).
    let mut hostile: Vec<&str> = Vec::new();

    write(root, "bomb.yaml", alias_bomb().as_bytes());
    hostile.push("bomb.yaml");
    write(root, "deep-flow.yaml", "[".repeat(20_000).as_bytes());
    hostile.push("deep-flow.yaml");
    write(root, "deep-block.yaml", "- ".repeat(20_000).as_bytes());
    hostile.push("deep-block.yaml");
    // 100 MB, over the default --max-file-size (64 MiB), sparse: refused by its length.
    let huge = std::fs::File::create(root.join("huge.yaml")).unwrap();
    huge.set_len(100 * 1024 * 1024).unwrap();
    drop(huge);
    hostile.push("huge.yaml");
    let mut binary = b"\x7fELF\x02\x01\x01\0\0\0\0\0".to_vec();
    binary.extend((0..=255u8).cycle().take(4096));
    write(root, "binary.yaml", &binary);
    hostile.push("binary.yaml");
    // Latin-1: `é` and `ü` as single bytes, invalid UTF-8.
    write(
        root,
        "latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\ndata:\n  k: \xfc\n",
    );
    hostile.push("latin1.yaml");
    let fifo = Command::new("mkfifo")
        .arg(root.join("pipe.yaml"))
        .status()
        .is_ok_and(|s| s.success());
    if fifo {
        hostile.push("pipe.yaml");
    } else {
        println!("skipped the FIFO: mkfifo not found");
    }
    // A link to itself (ELOOP), and a directory link back up the tree.
    symlink("loop.yaml", root.join("loop.yaml")).unwrap();
    hostile.push("loop.yaml");
    std::fs::create_dir(root.join("dir")).unwrap();
    symlink("..", root.join("dir/up")).unwrap();
    hostile.push("dir/up");
    if is_root() {
        println!("skipped the unreadable file: running as root, which reads any file");
    } else {
        write(root, "unreadable.yaml", GOOD.as_bytes());
        std::fs::set_permissions(
            root.join("unreadable.yaml"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        hostile.push("unreadable.yaml");
    }
    write(root, "good.yaml", GOOD.as_bytes());

    let mut child = Command::new(env!("CARGO_BIN_EXE_kubegate"))
        .args([
            "check",
            "-f",
            "json",
            "--no-config",
            "--no-builtin-rules",
            ".",
        ])
        .current_dir(root)
        .env("PATH", common::path_without_helm())
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubegate runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubegate still ran after {BOUND:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = began.elapsed();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    println!("kubegate ran {took:?} on every hostile input; stderr:\n{stderr}");
    let code = status.code().unwrap_or(-1);
    println!("exit {code}");
    assert!(code == 1 || code == 2, "exit {code}\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    let findings = report["findings"].as_array().expect("findings");
    let of = |file: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["file"] == file)
            .map(|f| format!("{}: {}", f["rule"], f["message"]))
            .collect()
    };
    for name in &hostile {
        let said = !of(name).is_empty() || stderr.contains(name);
        assert!(
            said,
            "{name} is named neither in the report nor on stderr:\n{stdout}\n{stderr}"
        );
        println!("{name}: {:?}", of(name));
    }
    // What each hostile file must produce, where the report holds it.
    let rules = |file: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["file"] == file)
            .filter_map(|f| f["rule"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        rules("bomb.yaml").iter().any(|r| r == "yaml-limit"),
        "{stdout}"
    );
    assert!(
        rules("deep-flow.yaml")
            .iter()
            .any(|r| r.starts_with("yaml-")),
        "{stdout}"
    );
    assert!(
        rules("deep-block.yaml")
            .iter()
            .any(|r| r.starts_with("yaml-")),
        "{stdout}"
    );
    assert!(
        rules("huge.yaml").iter().any(|r| r == "yaml-limit"),
        "{stdout}"
    );
    assert!(
        rules("binary.yaml").iter().any(|r| r == "yaml-syntax"),
        "{stdout}"
    );
    assert!(
        rules("latin1.yaml").iter().any(|r| r == "yaml-syntax"),
        "{stdout}"
    );
    if fifo {
        assert!(stderr.contains("pipe.yaml: a FIFO"), "{stderr}");
    }
    assert!(stderr.contains("loop.yaml: "), "{stderr}");
    assert!(stderr.contains("dir/up: symbolic link loop"), "{stderr}");
    if !is_root() {
        assert!(
            !of("unreadable.yaml").is_empty() || stderr.contains("unreadable.yaml: "),
            "{stdout}\n{stderr}"
        );
    }
    assert!(
        rules("good.yaml")
            .iter()
            .any(|r| r == "schema-unknown-field"),
        "the good file's finding is missing:\n{stdout}\n{stderr}"
    );
    if !is_root() {
        std::fs::set_permissions(
            root.join("unreadable.yaml"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
}
