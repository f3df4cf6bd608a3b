//! Running the user's `helm`: bounded in time and in output, and never on the network.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one `helm template` gave.
#[derive(Debug)]
pub enum Outcome {
    /// Exit 0: what it printed.
    Rendered(String),
    /// It failed: its standard error.
    Failed(String),
    /// Stopped after the timeout.
    TimedOut,
    /// It printed more than the limit: stopped.
    TooLarge(u64),
    /// It could not be started.
    NotRun(String),
}

/// The `helm` to run: `explicit` (`--helm`), else the first `helm` on `PATH`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(if cfg!(windows) { "helm.exe" } else { "helm" }))
        .find(|p| p.is_file())
}

/// Runs `helm` with `args` in `dir`, stopped after `timeout` or once its output passes
/// `max_output` bytes. Proxies point at a closed port, so a chart cannot make helm fetch
/// anything (a remote `$ref` of a `values.schema.json`, say).
pub fn run(
    helm: &Path,
    args: &[String],
    dir: &Path,
    timeout: Duration,
    max_output: u64,
) -> Outcome {
    let mut cmd = Command::new(helm);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::NotRun(format!("cannot run {}: {e}", helm.display())),
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Outcome::NotRun("no pipe to helm".into());
    };
    // Both pipes drained on their own threads, so a chatty stderr cannot block helm.
    let over = Arc::new(AtomicBool::new(false));
    let flag = over.clone();
    let out = std::thread::spawn(move || {
        let read = read_capped(stdout, max_output);
        if read.is_err() {
            flag.store(true, Ordering::Relaxed);
        }
        read
    });
    let err = std::thread::spawn(move || read_capped(stderr, 1 << 20));
    let started = Instant::now();
    let status = loop {
        if over.load(Ordering::Relaxed) {
            break None;
        }
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < timeout => {}
            Ok(None) | Err(_) => break None,
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = out.join().unwrap_or(Ok(Vec::new()));
    let err = err.join().unwrap_or(Ok(Vec::new()));
    match (status, out) {
        (_, Err(n)) => Outcome::TooLarge(n),
        (None, _) => Outcome::TimedOut,
        (Some(status), Ok(_)) if !status.success() => {
            let err = err.unwrap_or_default();
            Outcome::Failed(String::from_utf8_lossy(&err).into_owned())
        }
        (Some(_), Ok(bytes)) => Outcome::Rendered(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Reads `r` to its end, or `Err(bytes read)` once more than `max` bytes came (the rest is
/// not read: the pipe closes and the writer stops).
fn read_capped(r: impl Read, max: u64) -> Result<Vec<u8>, u64> {
    let mut buf = Vec::new();
    let mut limited = r.take(max + 1);
    let _ = limited.read_to_end(&mut buf);
    if buf.len() as u64 > max {
        Err(buf.len() as u64)
    } else {
        Ok(buf)
    }
}
