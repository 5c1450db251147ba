// mimalloc keeps freed pages mapped for reuse; glibc malloc returns every large tensor buffer
// to the OS, so each training step page-faulted (and TLB-shot-down) its activations afresh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wick::cli::main()
}
