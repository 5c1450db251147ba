// mimalloc keeps freed pages mapped for reuse; glibc malloc returns every large tensor buffer
// to the OS, so each training step page-faulted (and TLB-shot-down) its activations afresh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Defaults for the CPU runtime, unless the user set them:
/// - candle's barrier pool spins 25,000 times before parking an idle worker; with 2 cores and
///   rayon's (gemm's) workers also running, the spinning threads steal the cores from the
///   working ones (a third of all CPU samples). 256 spins measured about 2x faster steps.
/// - mimalloc never hands freed memory back (same step, same buffers, no page faults).
const RUNTIME_DEFAULTS: [(&str, &str); 2] = [
    ("CANDLE_BARRIER_POOL_SPIN_LIMIT", "256"),
    ("MIMALLOC_PURGE_DELAY", "-1"),
];

fn main() -> std::process::ExitCode {
    for (key, value) in RUNTIME_DEFAULTS {
        if std::env::var_os(key).is_none() {
            // SAFETY: first thing in main, before any thread exists that could read the
            // environment concurrently.
            unsafe { std::env::set_var(key, value) };
        }
    }
    wick::cli::main()
}
