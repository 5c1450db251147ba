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

/// mimalloc's option numbers (`mi_option_e` in mimalloc.h, v3).
const MI_OPTION_ALLOW_LARGE_OS_PAGES: libmimalloc_sys::mi_option_t = 6;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// A training step frees and re-allocates the same large buffers: never purge freed memory
/// (by default it is handed back after 10 ms, so every step page-faulted its activations
/// afresh), and back it with transparent huge pages. mimalloc reads its environment before
/// `main`, so setting `MIMALLOC_*` here would do nothing; a value the user exported wins.
fn tune_allocator() {
    for (option, env, value) in [
        (MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY", -1),
        (
            MI_OPTION_ALLOW_LARGE_OS_PAGES,
            "MIMALLOC_ALLOW_LARGE_OS_PAGES",
            1,
        ),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: mimalloc's options are plain atomics, settable at any time.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
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
