//! `--timings`: where a run's time goes, per stage and per rule, printed on standard error.
//!
//! The stages of a run overlap: files are parsed, validated and checked on every worker
//! thread while kustomizations render and the built-in rules compile beside them. So each
//! stage is measured where its work runs, as the time spent in it summed over the threads
//! that ran it: wall time, and the thread's CPU time where the platform gives one. A stage
//! measured inside another (a worker that picks up a parse while it waits in a render) counts
//! only for the inner one. When timing is off, which is always but under `--timings`, a
//! measurement costs one relaxed atomic load.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A stage of a run, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Discover,
    Read,
    Parse,
    Schema,
    /// Compiling the built-in rules (on a thread of its own, beside discover and read).
    CompileRules,
    /// Converting objects to the values the Rego rules read.
    RuleInput,
    Rules,
    UserPolicies,
    Render,
    /// Loading the admission policies of the run and evaluating them.
    Admission,
    /// Comparing with the merge request's base and judging the change.
    Changes,
    Report,
}

pub(crate) const STAGES: [Stage; 12] = [
    Stage::Discover,
    Stage::Read,
    Stage::Parse,
    Stage::Schema,
    Stage::CompileRules,
    Stage::RuleInput,
    Stage::Rules,
    Stage::UserPolicies,
    Stage::Render,
    Stage::Admission,
    Stage::Changes,
    Stage::Report,
];

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Discover => "discover",
            Stage::Read => "read",
            Stage::Parse => "parse",
            Stage::Schema => "schema",
            Stage::CompileRules => "compile rules",
            Stage::RuleInput => "rule input",
            Stage::Rules => "rules",
            Stage::UserPolicies => "user policies",
            Stage::Render => "render",
            Stage::Admission => "admission",
            Stage::Changes => "merge request",
            Stage::Report => "report",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

struct Totals {
    wall: [AtomicU64; STAGES.len()],
    cpu: [AtomicU64; STAGES.len()],
    /// Per rule id: evaluations and wall time.
    rules: Mutex<BTreeMap<String, (u64, Duration)>>,
}

static TOTALS: Totals = Totals {
    wall: [const { AtomicU64::new(0) }; STAGES.len()],
    cpu: [const { AtomicU64::new(0) }; STAGES.len()],
    rules: Mutex::new(BTreeMap::new()),
};

/// Turns timing on for the rest of the process (`--timings`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether timing is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One open measurement of this thread: where it started, and what inner ones took.
struct Open {
    wall: Instant,
    cpu: Option<Duration>,
    inner_wall: Duration,
    inner_cpu: Duration,
}

thread_local! {
    static OPEN: RefCell<Vec<Open>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f`, counting its time for `stage` (less the stages measured inside it).
pub fn measure<T>(stage: Stage, f: impl FnOnce() -> T) -> T {
    #[cfg(feature = "heap-profile")]
    let _heap = crate::heap::enter(stage);
    if !enabled() {
        return f();
    }
    OPEN.with_borrow_mut(|open| {
        open.push(Open {
            wall: Instant::now(),
            cpu: thread_cpu(),
            inner_wall: Duration::ZERO,
            inner_cpu: Duration::ZERO,
        })
    });
    let out = f();
    OPEN.with_borrow_mut(|open| {
        let Some(m) = open.pop() else { return };
        let wall = m.wall.elapsed();
        let cpu = match (m.cpu, thread_cpu()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        if let Some(outer) = open.last_mut() {
            outer.inner_wall += wall;
            outer.inner_cpu += cpu;
        }
        add(
            stage,
            wall.saturating_sub(m.inner_wall),
            cpu.saturating_sub(m.inner_cpu),
        );
    });
    out
}

/// Adds time measured elsewhere to `stage`.
pub fn add(stage: Stage, wall: Duration, cpu: Duration) {
    let i = stage as usize;
    TOTALS.wall[i].fetch_add(wall.as_nanos() as u64, Ordering::Relaxed);
    TOTALS.cpu[i].fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
}

/// Counts one evaluation of rule `id` that took `wall`.
pub fn rule(id: &str, wall: Duration) {
    let mut rules = TOTALS.rules.lock().unwrap_or_else(|p| p.into_inner());
    let entry = rules.entry(id.to_owned()).or_default();
    entry.0 += 1;
    entry.1 += wall;
}

/// This thread's CPU time so far, where the platform tells it.
#[cfg(unix)]
#[allow(unsafe_code)]
fn thread_cpu() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(unix))]
fn thread_cpu() -> Option<Duration> {
    None
}

/// The report: a table of stages, then the ten slowest rules. `total` is the run's wall
/// time, `threads` the worker threads it had.
pub fn report(total: Duration, threads: usize) -> String {
    use std::fmt::Write;
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kubegate: timings: {} wall in all, {threads} worker thread{}; each stage's time is summed over the threads that ran it",
        ms(total),
        if threads == 1 { "" } else { "s" }
    );
    let _ = writeln!(s, "  {:<14} {:>11} {:>11}", "stage", "wall", "cpu");
    let cpu_known = thread_cpu().is_some();
    for stage in STAGES {
        let i = stage as usize;
        let wall = Duration::from_nanos(TOTALS.wall[i].load(Ordering::Relaxed));
        let cpu = Duration::from_nanos(TOTALS.cpu[i].load(Ordering::Relaxed));
        if wall.is_zero() {
            continue;
        }
        let cpu = if cpu_known { ms(cpu) } else { "-".to_owned() };
        let _ = writeln!(s, "  {:<14} {:>11} {:>11}", stage.name(), ms(wall), cpu);
    }
    let rules = TOTALS.rules.lock().unwrap_or_else(|p| p.into_inner());
    let mut slowest: Vec<(&String, &(u64, Duration))> = rules.iter().collect();
    slowest.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| a.0.cmp(b.0)));
    if !slowest.is_empty() {
        let _ = writeln!(
            s,
            "  slowest rules (each evaluated on its own, so their sum exceeds `rules`):"
        );
        let _ = writeln!(s, "  {:<40} {:>11} {:>8}", "rule", "wall", "objects");
        for (id, (count, wall)) in slowest.into_iter().take(10) {
            let _ = writeln!(s, "  {:<40} {:>11} {:>8}", id, ms(*wall), count);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_stages_are_not_counted_twice() {
        enable();
        let before = TOTALS.wall[Stage::Report as usize].load(Ordering::Relaxed);
        let before_inner = TOTALS.wall[Stage::Changes as usize].load(Ordering::Relaxed);
        let started = Instant::now();
        measure(Stage::Report, || {
            std::thread::sleep(Duration::from_millis(2));
            measure(Stage::Changes, || {
                std::thread::sleep(Duration::from_millis(20))
            });
        });
        let elapsed = started.elapsed().as_nanos() as u64;
        let outer = TOTALS.wall[Stage::Report as usize].load(Ordering::Relaxed) - before;
        let inner = TOTALS.wall[Stage::Changes as usize].load(Ordering::Relaxed) - before_inner;
        assert!(inner >= 20_000_000, "{inner}");
        // Counted once: the outer stage holds only its own time, so the two add up to no
        // more than the whole (counted twice, they would exceed it by the inner 20 ms).
        assert!(outer + inner <= elapsed, "{outer} + {inner} > {elapsed}");
        assert!(outer > 0);
        assert!(report(Duration::from_millis(30), 2).contains("merge request"));
    }
}
