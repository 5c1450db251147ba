#!/usr/bin/env bash
# Builds Wick with `--features cuda` on a machine without a CUDA toolkit (or GPU).
#
# NVIDIA publishes the CUDA 13.0 compiler, headers and libraries as PyPI wheels; this script
# unpacks them into a toolkit root, adds a libcuda.so link stub (the real driver library only
# exists on GPU machines), builds a release binary for Hopper (sm_90a) into its own target
# dir, strips it, checks that it fits the device machine's 64 MiB carry limit, and prints
# what it links.
#
#   scripts/build-cuda.sh                 # toolkit (once) + build
#   scripts/build-cuda.sh --toolkit-only  # only assemble the toolkit
#
# Environment: WICK_CUDA_WORK (toolkit work dir, default ~/.cache/wick-cuda13),
# WICK_CUDA_TARGET (cargo target dir, default target/cuda), CUDA_COMPUTE_CAP (default 90),
# WICK_CUDA_COMPRESS=0 to keep fatbins uncompressed (compressed ones need driver >= 580).
#
# With a system CUDA toolkit none of this is needed:
#   CUDA_COMPUTE_CAP=90 cargo build --release --features cuda
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WICK_CUDA_WORK:-$HOME/.cache/wick-cuda13}
ROOT=$WORK/root
TARGET=${WICK_CUDA_TARGET:-$REPO/target/cuda}
LIMIT_BYTES=$((64 * 1024 * 1024))

# Same pins as torch 2.11's cuda-toolkit==13.0.2, so the binary finds matching sonames in the
# GPU machine's torch venv.
WHEELS=(
  nvidia-cuda-nvcc==13.0.88     # nvcc, ptxas, fatbinary, nvlink
  nvidia-nvvm==13.0.88          # cicc, libdevice
  nvidia-cuda-crt==13.0.88      # include/crt
  nvidia-cuda-cccl==13.0.85     # cub / thrust / libcu++
  nvidia-cuda-runtime==13.0.96  # libcudart + cuda.h, cuda_bf16.h
  nvidia-cublas==13.1.0.3       # libcublas, libcublasLt
  nvidia-curand==10.4.0.35      # libcurand
  nvidia-cuda-nvrtc==13.0.88    # libnvrtc (cudarc)
)

step() { printf '\n== %s\n' "$*"; }

assemble_toolkit() {
  if [[ -x $ROOT/bin/nvcc && -f $ROOT/lib/stubs/libcuda.so ]]; then
    step "toolkit already assembled in $ROOT"
    return
  fi
  step "downloading CUDA 13.0 wheels into $WORK/wheels"
  mkdir -p "$WORK/wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK/wheels" "${WHEELS[@]}"

  step "unpacking into $ROOT"
  rm -rf "$WORK/unpack" "$ROOT"
  mkdir -p "$WORK/unpack"
  for wheel in "$WORK"/wheels/nvidia_*.whl; do
    unzip -q -o "$wheel" -d "$WORK/unpack"   # unzip keeps nvcc's executable bits
  done
  mv "$WORK/unpack/nvidia/cu13" "$ROOT"
  rm -rf "$WORK/unpack"
  ln -s lib "$ROOT/lib64"                   # nvcc.profile and cudaforge look in lib64
  (
    cd "$ROOT/lib"
    for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
      ln -sf "$so" "${so%.so.*}.so"         # the linker wants unversioned names
    done
  )

  step "building a libcuda.so.1 link stub from cuda.h"
  # Every driver-API entry point of this cuda.h, as an empty function: enough to link; the
  # real libcuda.so.1 comes from the driver on the GPU machine.
  mkdir -p "$ROOT/lib/stubs"
  gcc -E -P -I"$ROOT/include" "$ROOT/include/cuda.h" |
    grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d ' (' | sort -u |
    sed 's/.*/void &(void){}/' >"$WORK/libcuda_stub.c"
  gcc -shared -fPIC -o "$ROOT/lib/stubs/libcuda.so" -Wl,-soname,libcuda.so.1 "$WORK/libcuda_stub.c"
}

toolkit_env() {
  export CUDA_ROOT=$ROOT CUDA_HOME=$ROOT CUDA_PATH=$ROOT
  export NVCC=$ROOT/bin/nvcc
  export PATH=$ROOT/bin:$PATH               # shadow any older system nvcc
  export LD_LIBRARY_PATH=$ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}   # cudaforge turns 90 into sm_90a
  if [[ ${WICK_CUDA_COMPRESS:-1} == 1 ]]; then
    # zstd fatbins: candle-kernels' sm_90a SASS shrinks from ~33 MB to ~6 MB.
    export NVCC_APPEND_FLAGS="--compress-mode=size"
  fi
  export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}
  nvcc --version | tail -1
}

build() {
  step "cargo build --release --features cuda (target dir $TARGET, CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP)"
  local started=$SECONDS
  # cudaforge's cache does not notice NVCC_APPEND_FLAGS changes: use a fresh target dir then.
  CARGO_TARGET_DIR=$TARGET cargo build --release --features cuda --bin wick --manifest-path "$REPO/Cargo.toml"
  echo "build took $((SECONDS - started)) s"

  local bin=$TARGET/release/wick
  local out=$TARGET/wick-cuda
  cp "$bin" "$out"
  strip "$out"
  local size
  size=$(stat -c %s "$out")
  step "binary $out: $size bytes ($((size / 1024 / 1024)) MiB)"
  if ((size >= LIMIT_BYTES)); then
    echo "error: $out is $size bytes, over the 64 MiB carry limit (try WICK_CUDA_COMPRESS=1)" >&2
    exit 1
  fi

  step "NEEDED"
  readelf -d "$out" | grep NEEDED
  step "ldd (with the wheel toolkit's libraries on LD_LIBRARY_PATH; libcuda comes from the driver)"
  ldd "$out" || true
  step "embedded PTX targets"
  strings -a "$out" | grep -E '^\.target' | sort | uniq -c || true
}

assemble_toolkit
toolkit_env
if [[ ${1:-} == --toolkit-only ]]; then
  exit 0
fi
build
