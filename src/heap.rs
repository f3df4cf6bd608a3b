//! The live heap of a run, by stage: built only with the `heap-profile` feature
//! (`scripts/heap-profile.sh`), never in a release.
//!
//! heaptrack tells where a run's memory was allocated, by call stack, but its recorder breaks
//! on the whole default check (its interpreter stops with `bad_alloc` a fraction of a second
//! in), and the mimalloc figures of `MIMALLOC_SHOW_STATS` are pages, not what holds them. This
//! build puts the system allocator behind a counter: every allocation's bytes are counted
//! under the stages open on the allocating thread ([`crate::timings::measure`]: the outermost
//! and the innermost), until freed, on whatever thread. At exit it reports on standard error
//! the live heap every 10 ms, its peak, and what each pair of stages held then (or at
//! `KUBEGATE_HEAP_AT` milliseconds, for a moment other than the peak).
//!
//! The figures are bytes asked for: the resident size adds the allocator's partly used pages
//! and the binary's own (`BENCHMARKS.md` compares both).

// The global allocator is `unsafe` by nature; see the SAFETY notes below.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use crate::timings::{STAGES, Stage};

/// A stage, or none (0), per position of a tag: outermost and innermost.
const KINDS: usize = STAGES.len() + 1;
/// Every (outermost, innermost) pair.
const TAGS: usize = KINDS * KINDS;
/// The live heap is sampled every this many milliseconds, for this many steps (20 s).
const STEP_MS: u128 = 10;
const STEPS: usize = 2000;
/// A new peak is recorded when the live heap passes the last by this much.
const PEAK_STEP: i64 = 256 << 10;

static LIVE: [AtomicI64; TAGS] = [const { AtomicI64::new(0) }; TAGS];
static AT_PEAK: [AtomicI64; TAGS] = [const { AtomicI64::new(0) }; TAGS];
static TOTAL: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);
static PEAK_MS: AtomicUsize = AtomicUsize::new(0);
static SERIES: [AtomicI64; STEPS] = [const { AtomicI64::new(0) }; STEPS];
static START: OnceLock<(Instant, Option<u128>)> = OnceLock::new();

thread_local! {
    /// The calling thread's tag: `outer * KINDS + inner`.
    static TAG: Cell<usize> = const { Cell::new(0) };
}

/// Restores the thread's tag when a measured stage ends.
pub struct Entered(usize);

impl Drop for Entered {
    fn drop(&mut self) {
        TAG.with(|t| t.set(self.0));
    }
}

/// Counts what the calling thread allocates under `stage` (inside the stages open on it) until
/// the returned guard is dropped.
pub fn enter(stage: Stage) -> Entered {
    let before = TAG.with(Cell::get);
    let inner = stage as usize + 1;
    let outer = match before / KINDS {
        0 => inner,
        outer => outer,
    };
    TAG.with(|t| t.set(outer * KINDS + inner));
    Entered(before)
}

/// Starts the clock of the report (the first call stands).
pub fn start() {
    let at = std::env::var("KUBEGATE_HEAP_AT")
        .ok()
        .and_then(|v| v.parse().ok());
    let _ = START.set((Instant::now(), at));
}

/// Where an allocation's tag is kept: in front of it, in a prefix as large as its alignment
/// (at least 16 bytes, so the block keeps the system allocator's own alignment).
fn prefix(layout: Layout) -> usize {
    layout.align().max(16)
}

fn counted(prefix: usize, layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().checked_add(prefix)?, prefix).ok()
}

fn record(tag: usize, bytes: i64) {
    LIVE[tag].fetch_add(bytes, Relaxed);
    let total = TOTAL.fetch_add(bytes, Relaxed) + bytes;
    if bytes <= 0 {
        return;
    }
    let (ms, at) = match START.get() {
        Some((start, at)) => (start.elapsed().as_millis(), *at),
        None => (0, None),
    };
    if let Some(slot) = SERIES.get((ms / STEP_MS) as usize) {
        slot.fetch_max(total, Relaxed);
    }
    let snapshot = match at {
        Some(at) => ms >= at && PEAK_MS.load(Relaxed) < at as usize,
        None => total > PEAK.load(Relaxed) + PEAK_STEP,
    };
    if snapshot {
        PEAK.store(total, Relaxed);
        PEAK_MS.store(ms as usize, Relaxed);
        for (live, kept) in LIVE.iter().zip(&AT_PEAK) {
            kept.store(live.load(Relaxed), Relaxed);
        }
    }
}

/// The system allocator, counting.
pub struct Counting;

// SAFETY: each block handed out is the system allocator's block of the layout `counted`
// makes, offset by `prefix(layout)` bytes: aligned as asked (the prefix is a multiple of the
// alignment) and as large as asked. The tag is written in the prefix's last word, inside the
// block. `dealloc` undoes the offset with the same layout, so the system allocator gets back
// exactly the pointer and layout it gave.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let prefix = prefix(layout);
        let Some(whole) = counted(prefix, layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `whole` has a non-zero size (it includes the prefix).
        let block = unsafe { System.alloc(whole) };
        if block.is_null() {
            return block;
        }
        let tag = TAG.try_with(Cell::get).unwrap_or(0);
        // SAFETY: the block is at least `prefix` bytes long and aligned to 16, so the last
        // word of the prefix is in it and aligned for a `usize`.
        unsafe {
            block.add(prefix - 8).cast::<usize>().write(tag);
        }
        record(tag % TAGS, layout.size() as i64);
        // SAFETY: `prefix` is within the block.
        unsafe { block.add(prefix) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let prefix = prefix(layout);
        // SAFETY: `ptr` came from `alloc` with this layout: the block starts `prefix` bytes
        // before it, and its tag is the word before `ptr`.
        let (block, tag) = unsafe {
            let block = ptr.sub(prefix);
            (block, block.add(prefix - 8).cast::<usize>().read())
        };
        record(tag % TAGS, -(layout.size() as i64));
        if let Some(whole) = counted(prefix, layout) {
            // SAFETY: the block and layout `alloc` got from the system allocator.
            unsafe { System.dealloc(block, whole) };
        }
    }
}

fn name(kind: usize) -> &'static str {
    match kind.checked_sub(1).and_then(|i| STAGES.get(i)) {
        Some(stage) => stage.name(),
        None => "(no stage)",
    }
}

/// The report: the peak (or the moment asked for), what each pair of stages held then, and
/// the live heap over time.
pub fn report() -> String {
    let mb = |b: i64| b as f64 / 1e6;
    let mut out = String::new();
    let at = START.get().and_then(|(_, at)| *at);
    let _ = writeln!(
        out,
        "kubegate: heap: {:.1} MB live {} {} ms (bytes asked for, system allocator)",
        mb(PEAK.load(Relaxed)),
        if at.is_some() { "at" } else { "at its peak," },
        PEAK_MS.load(Relaxed)
    );
    let mut held: Vec<(i64, usize)> = AT_PEAK
        .iter()
        .map(|b| b.load(Relaxed))
        .enumerate()
        .filter(|&(_, b)| b.abs() >= 50_000)
        .map(|(tag, b)| (b, tag))
        .collect();
    held.sort_unstable_by(|a, b| b.cmp(a));
    let _ = writeln!(out, "  {:>8}  outermost stage > innermost", "MB");
    for (bytes, tag) in held {
        let _ = writeln!(
            out,
            "  {:>8.2}  {} > {}",
            mb(bytes),
            name(tag / KINDS),
            name(tag % KINDS)
        );
    }
    let _ = write!(out, "kubegate: heap: live MB every {STEP_MS} ms:");
    let last = SERIES
        .iter()
        .rposition(|s| s.load(Relaxed) > 0)
        .unwrap_or(0);
    for (i, s) in SERIES[..=last].iter().enumerate() {
        let _ = write!(out, " {}", s.load(Relaxed) / 1_000_000);
        if i % 20 == 19 {
            out.push_str("\n ");
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_inside_another_counts_under_both() {
        let tag = |outer: Stage, inner: Stage| (outer as usize + 1) * KINDS + inner as usize + 1;
        assert_eq!(TAG.with(Cell::get), 0);
        {
            let _render = enter(Stage::Render);
            assert_eq!(TAG.with(Cell::get), tag(Stage::Render, Stage::Render));
            {
                let _parse = enter(Stage::Parse);
                assert_eq!(TAG.with(Cell::get), tag(Stage::Render, Stage::Parse));
                let _schema = enter(Stage::Schema);
                assert_eq!(TAG.with(Cell::get), tag(Stage::Render, Stage::Schema));
            }
            assert_eq!(TAG.with(Cell::get), tag(Stage::Render, Stage::Render));
        }
        assert_eq!(TAG.with(Cell::get), 0);
    }

    #[test]
    fn the_report_names_what_each_stage_held_at_the_peak() {
        let tag = (Stage::Render as usize + 1) * KINDS + Stage::Parse as usize + 1;
        record(tag, 3_000_000);
        let report = report();
        assert!(report.contains("3.00  render > parse"), "{report}");
        record(tag, -3_000_000);
        assert_eq!(LIVE[tag].load(Relaxed), 0);
        assert_eq!(name(0), "(no stage)");
    }
}
