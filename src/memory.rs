//! Giving freed memory back to the system between the stages of a run.
//!
//! The allocator keeps pages it freed for reuse; mimalloc purges them after a delay (a
//! second by default), longer than a whole run. Memory freed by one stage (the parse trees
//! of the files the render read, the loose files' documents) stayed resident while the
//! next stage grew: the corpus peaked at about 160 MB resident where its live heap peaks
//! under 90 MB. Asking every thread to collect at the end of two stages lowers that peak
//! to 139-144 MB for 1-2% of the run's time (`BENCHMARKS.md`). Purging on every free
//! instead (`purge_delay` 0) cost a quarter of the run.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn release_collects_on_every_thread_of_the_pool_and_on_the_caller() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        const POOL: &str = "memory-release-test";
        thread_local!(static CALLER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        // Counted only on this test's threads: other tests may release meanwhile.
        on_release(|| {
            let ours = CALLER.get()
                || std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with(POOL));
            if ours {
                CALLS.fetch_add(1, Ordering::SeqCst);
            }
        });
        CALLER.set(true);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .thread_name(|i| format!("{POOL}-{i}"))
            .build()
            .unwrap();
        release(&pool);
        assert_eq!(CALLS.load(Ordering::SeqCst), 4);
    }
}
