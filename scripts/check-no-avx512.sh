#!/usr/bin/env bash
# The release binary is built with gemm's AVX-512 kernels (Cargo.toml: gemm "x86-v4"); gemm
# picks its kernels at run time, so the same binary must still train on a CPU without
# AVX-512. This runs a short synthetic training step under QEMU emulating a Haswell CPU
# (AVX2, no AVX-512): an AVX-512 instruction there would stop it with SIGILL.
#
# Needs: qemu-user (Debian package). Usage: scripts/check-no-avx512.sh [path/to/wick]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-x86_64 >/dev/null || { echo "missing qemu-x86_64: apt-get install -y qemu-user" >&2; exit 1; }
wick="${1:-}"
if [ -z "$wick" ]; then
  cargo build --release --locked
  wick="${CARGO_TARGET_DIR:-target}/release/wick"
fi
qemu-x86_64 -cpu Haswell "$wick" bench train --synthetic --size tiny --batch 4 --seq 32 --steps 2 --warmup 1 >/dev/null
echo "ok: $wick trains on an emulated Haswell (no AVX-512)"
