#!/usr/bin/env bash
# How training throughput and peak memory scale with batch and sequence length: for each
# shape, `benches/torch_train_bench.py` (torch, CPU, fp32) then `wick bench train --synthetic`
# on the same work, back to back (the VM's speed drifts: compare within a row). Prints one
# markdown row per shape: samples/s of each, the ratio, Wick's phase medians and both peak
# RSS figures (whole process, /usr/bin/time).
#
# Needs a venv with torch (the one scripts/bench-vs-torch.sh makes) and /usr/bin/time. torch
# is pinned to 2 threads and Wick uses its default pool (the physical cores): on a machine
# with more than 2 cores, set RAYON_NUM_THREADS=2 for Wick or raise torch's --threads.
# Usage: scripts/bench-scaling.sh SIZE STEPS WARMUP SHAPE...   (SHAPE = BATCHxSEQ)
#   scripts/bench-scaling.sh minilm 8 2 8x64 8x128 16x128 32x128 8x256 16x256 32x256
#   scripts/bench-scaling.sh base 4 1 8x128 16x128 32x128 8x256 16x256
set -euo pipefail
cd "$(dirname "$0")/.."
size="$1" steps="$2" warmup="$3"
shift 3
venv="${WICK_TORCH_VENV:-$HOME/.cache/wick-torch-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wick-target}"
cargo build --release --locked
wick="$CARGO_TARGET_DIR/release/wick"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
field() { python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))" "$@"; }
rss() { awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$1"; }
echo "| batch | seq | torch samples/s | Wick samples/s | Wick/torch | Wick fwd / bwd / clip / opt ms | peak RSS torch / Wick MB |"
echo "|---|---|---|---|---|---|---|"
for shape in "$@"; do
  batch="${shape%x*}" seq="${shape#*x}"
  OMP_NUM_THREADS=2 /usr/bin/time -v -o "$scratch/torch.time" "$venv/bin/python" benches/torch_train_bench.py \
    --size "$size" --batch "$batch" --seq "$seq" --device cpu --precision fp32 --threads 2 \
    --steps "$steps" --warmup "$warmup" >"$scratch/torch.json" 2>/dev/null
  /usr/bin/time -v -o "$scratch/wick.time" "$wick" bench train --synthetic --size "$size" \
    --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" >"$scratch/wick.json" 2>/dev/null
  t=$(field "$scratch/torch.json" 'd["samples_per_s"]')
  w=$(field "$scratch/wick.json" 'd["samples_per_s"]')
  phases=$(field "$scratch/wick.json" '" / ".join("%.0f" % d["phase_ms"][k] for k in ("forward", "backward", "clip", "optimizer"))')
  python3 -c "print(f'| $batch | $seq | {$t:.2f} | {$w:.2f} | **{$w/$t:.2f}** | $phases | $(rss "$scratch/torch.time") / $(rss "$scratch/wick.time") |')"
done
