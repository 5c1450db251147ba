// mimalloc keeps freed pages mapped for reuse; glibc malloc returns every large tensor buffer
// to the OS, so each training step page-faulted (and TLB-shot-down) its activations afresh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// candle's barrier pool spins 25,000 times before parking an idle worker; with 2 cores and
/// rayon's (gemm's) workers also running, the spinning threads steal the cores from the
/// working ones (a third of all CPU samples). 256 spins measured about 2x faster steps.
/// Set unless the user set it.
const CANDLE_SPIN_LIMIT: (&str, &str) = ("CANDLE_BARRIER_POOL_SPIN_LIMIT", "256");

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
    let (key, value) = CANDLE_SPIN_LIMIT;
    if std::env::var_os(key).is_none() {
        // SAFETY: first thing in main, before any thread exists that could read the
        // environment concurrently.
        unsafe { std::env::set_var(key, value) };
    }
    wick::cli::main()
}
