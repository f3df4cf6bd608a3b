//! Giving freed memory back to the system between the stages of a run, and within them.
//!
//! The allocator keeps pages it freed for reuse; mimalloc purges them after a delay (a
//! second by default), longer than a whole run. Memory freed by one stage (the parse trees
//! of the files the render read, the loose files' documents) stayed resident while the
//! next stage grew: the corpus peaked at about 160 MB resident where its live heap peaks
//! under 90 MB. Asking every thread to collect at the end of two stages lowers that peak
//! to 139-144 MB for 1-2% of the run's time; collecting on each thread after every
//! megabyte of input it works through ([`worked_through`]) takes about 7 MB more off, for
//! about 1% (`BENCHMARKS.md`). Purging on every free instead (`purge_delay` 0) cost a
//! quarter of the run; a purge delay of 3 ms, 7%.
//!
//! The library does not choose the allocator: the binary registers how to collect
//! ([`on_release`]); without it (tests, benches, another program) [`release`] does nothing.

use std::sync::OnceLock;

static COLLECT: OnceLock<fn()> = OnceLock::new();

/// Registers how the calling thread's freed memory is returned to the system; the first
/// registration stands.
pub fn on_release(collect: fn()) {
    let _ = COLLECT.set(collect);
}

/// Returns freed memory to the system on every thread of `pool` and on the calling one:
/// at the end of a stage that freed much of what it built.
pub fn release(pool: &rayon::ThreadPool) {
    if let Some(collect) = COLLECT.get() {
        pool.broadcast(|_| collect());
        collect();
    }
}

/// How much input a thread works through between two returns of its freed memory
/// ([`worked_through`]).
const RETURN_EVERY: usize = 1 << 20;

thread_local! {
    /// Bytes of input the calling thread has worked through since it last returned its
    /// freed memory.
    static SINCE_RETURN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Notes that the calling thread is done with what it built from `bytes` of input (a file
/// checked, a resource file converted): once a thread has done so for a megabyte, it gives
/// its freed memory back. A large file's parse trees are freed when its check ends, and
/// the delay before the allocator purges them is longer than the stage: without this, the
/// first stage's resident memory grows by the trees of every large file it has checked.
pub fn worked_through(bytes: usize) {
    let since = SINCE_RETURN.get().saturating_add(bytes);
    if since < RETURN_EVERY {
        SINCE_RETURN.set(since);
        return;
    }
    SINCE_RETURN.set(0);
    if let Some(collect) = COLLECT.get() {
        collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const POOL: &str = "memory-release-test";
    static POOL_CALLS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        /// Whether the thread is a test's own (other tests' threads may collect meanwhile).
        static OURS: Cell<bool> = const { Cell::new(false) };
        /// Collections on this thread.
        static HERE: Cell<usize> = const { Cell::new(0) };
    }

    /// The hook every test registers (the first registration stands): counts the
    /// collections on the pool's threads, and on each test's own thread.
    fn count() {
        let pool = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with(POOL));
        if pool {
            POOL_CALLS.fetch_add(1, Ordering::SeqCst);
        }
        if OURS.get() {
            HERE.set(HERE.get() + 1);
        }
    }

    #[test]
    fn release_collects_on_every_thread_of_the_pool_and_on_the_caller() {
        on_release(count);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .thread_name(|i| format!("{POOL}-{i}"))
            .build()
            .unwrap();
        let calls = std::thread::spawn(move || {
            OURS.set(true);
            release(&pool);
            (POOL_CALLS.load(Ordering::SeqCst), HERE.get())
        })
        .join()
        .unwrap();
        // Each of the pool's three threads, and the caller.
        assert_eq!(calls, (3, 1));
    }

    #[test]
    fn a_thread_collects_once_per_megabyte_worked_through() {
        on_release(count);
        let collected = std::thread::spawn(|| {
            OURS.set(true);
            let mut seen = Vec::new();
            worked_through(RETURN_EVERY - 1);
            seen.push(HERE.get());
            worked_through(1);
            seen.push(HERE.get());
            // One large file: one collection, and the count starts again.
            worked_through(3 * RETURN_EVERY);
            seen.push(HERE.get());
            worked_through(RETURN_EVERY / 2);
            seen.push(HERE.get());
            seen
        })
        .join()
        .unwrap();
        assert_eq!(collected, [0, 1, 2, 2]);
    }
}
