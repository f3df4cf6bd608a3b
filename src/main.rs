use std::process::ExitCode;

// glibc's allocator was a fifth of the profile of the built-in rules (regorus values are
// many small allocations freed across threads); mimalloc is what ruff and others ship with.
#[cfg(not(feature = "heap-profile"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// A build that counts the live heap by stage (src/heap.rs, scripts/heap-profile.sh).
#[cfg(feature = "heap-profile")]
#[global_allocator]
static GLOBAL: kubegate::heap::Counting = kubegate::heap::Counting;

// The binary's `unsafe`; see below.
#[allow(unsafe_code)]
fn main() -> ExitCode {
    // regorus builds `anyhow` errors on paths that are not failures (values that turn out
    // undefined); with RUST_BACKTRACE set, as it often is in CI, each one captures a
    // backtrace, which made the built-in rules over the corpus about 12% slower. kubegate
    // never prints those backtraces, so library capture is off unless asked for
    // explicitly; panics still honour RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first statement of `main`, before any other thread exists, so nothing
        // reads the environment concurrently.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    #[cfg(not(feature = "heap-profile"))]
    {
        // SAFETY: `mi_collect` is the C function of the mimalloc this binary allocates with
        // (linked by the `mimalloc` crate); it only gives the calling thread's unused pages
        // back, and may be called from any thread at any time. Declared here rather than
        // through `libmimalloc-sys`'s `extended` feature: depending on that crate directly
        // made a build whose runs on a large file took a quarter longer, for reasons not
        // found (BENCHMARKS.md).
        unsafe extern "C" {
            fn mi_collect(force: bool);
        }
        kubegate::memory::on_release(|| unsafe { mi_collect(true) });
    }
    #[cfg(feature = "heap-profile")]
    kubegate::heap::start();
    let code = kubegate::cli::main();
    #[cfg(feature = "heap-profile")]
    eprint!("{}", kubegate::heap::report());
    code
}
