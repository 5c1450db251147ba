// mimalloc keeps freed pages mapped for reuse; glibc malloc returns every large tensor buffer
// to the OS, so each training step page-faulted (and TLB-shot-down) its activations afresh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// candle's own thread pool (a barrier pool beside rayon's, for its elementwise ops) shares
/// the cores with rayon's gemm and fused-kernel workers: on 2 cores a third of the CPU sat idle
/// waiting at its barriers. One thread runs those ops on the caller; the heavy ones are
/// rayon kernels of Wick's own. If a user asks for more candle threads, its workers spin 256
/// times (not 25,000) before parking, so that they do not steal the cores from working
/// threads. Each is set unless the user set it.
const CANDLE_DEFAULTS: [(&str, &str); 2] = [
    ("CANDLE_NUM_THREADS", "1"),
    ("CANDLE_BARRIER_POOL_SPIN_LIMIT", "256"),
];

/// mimalloc's `mi_option_purge_delay` (`mi_option_e` in mimalloc.h; libmimalloc-sys 0.1.49
/// does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// A training step frees and re-allocates the same large buffers. mimalloc hands freed memory
/// back to the OS after 1 s by default, and steps page-faulted their buffers afresh (the
/// recipe ran 13-19% slower than with them kept: BENCHMARKS.md item 9); 10 s keeps them
/// through training while the desktop app still returns a finished run's memory soon after.
/// mimalloc reads its environment before `main`, so setting the variable here would do
/// nothing; a value the user exported (under this name or the older `MIMALLOC_RESET_DELAY`)
/// wins.
fn tune_allocator() {
    if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"]
        .iter()
        .all(|name| std::env::var_os(name).is_none())
    {
        // SAFETY: mimalloc's options are plain atomics, settable at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    for (key, value) in CANDLE_DEFAULTS {
        if std::env::var_os(key).is_none() {
            // SAFETY: first thing in main, before any thread exists that could read the
            // environment concurrently.
            unsafe { std::env::set_var(key, value) };
        }
    }
    wick::cli::main()
}
