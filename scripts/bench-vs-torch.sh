#!/usr/bin/env bash
# The course recipe (MiniLM, MRPC, batch 8, dynamic padding, seed 42) for N optimizer steps,
# torch's Trainer and `wick bench train` alternated back to back (the VM's speed drifts, so
# only ratios from one run count), 2 threads each. Prints each side's samples/s and the ratio.
#
# Needs ../shared/hub and, the first time, PyPI for a venv with torch, transformers, datasets
# and accelerate (the Trainer refuses to start without accelerate).
# Usage: scripts/bench-vs-torch.sh [STEPS=30] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-30}"
rounds="${2:-2}"
hub="$(realpath ../shared/hub)"
venv="${WICK_TORCH_VENV:-$HOME/.cache/wick-torch-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch transformers datasets accelerate
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wick-target}"
cargo build --release --locked
wick="$CARGO_TARGET_DIR/release/wick"
scratch="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
"$wick" hub serve "$hub" --port "$port" >"$scratch/mirror.log" 2>&1 &
mirror=$!
trap 'kill $mirror 2>/dev/null; rm -rf "$scratch"' EXIT
sleep 1
export HF_ENDPOINT="http://127.0.0.1:$port" HF_HOME="$scratch/hf" OMP_NUM_THREADS=2
for round in $(seq "$rounds"); do
  t=$(HF_HUB_OFFLINE=1 "$venv/bin/python" scripts/trainer_bench.py "$hub" "$steps" "$scratch/torch" 2>/dev/null \
      | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["train_samples_per_second"])')
  w=$("$wick" bench train --steps "$steps" 2>/dev/null \
      | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["train_samples_per_s"])')
  python3 -c "print(f'round $round: torch {$t:.2f} samples/s, wick {$w:.2f} samples/s, wick/torch {$w/$t:.3f}')"
done
