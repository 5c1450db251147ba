#!/usr/bin/env bash
# Runs ON the GPU machine, from the repository root: Wick's CUDA binary and the PyTorch
# reference (benches/torch_train_bench.py, a copy of ../shared/reference/torch_train_bench.py)
# side by side on the same synthetic work, BERT-base at seq 128 and batch 32 by default, in
# fp32, tf32 and bf16. Prints every JSON line and a table with the Wick/torch ratios; the lines
# also go to $OUT/gpu-bench.jsonl when $OUT is set (the device tool's output folder).
#
#   scripts/gpu-bench.sh [path/to/wick]     # default target/cuda/wick-cuda (scripts/build-cuda.sh)
#
# Environment: SIZE (base), BATCH (32), SEQ (128), STEPS (50), WARMUP (10),
# PRECISIONS ("fp32 tf32 bf16"), PYTHON (torch's python; default /opt/torch/.venv/bin/python3
# when it exists, else python3), WICK_CUDA_LIBS (the CUDA 13 libraries; default torch's).
set -uo pipefail

BIN=${1:-target/cuda/wick-cuda}
SIZE=${SIZE:-base}
BATCH=${BATCH:-32}
SEQ=${SEQ:-128}
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
PRECISIONS=${PRECISIONS:-fp32 tf32 bf16}
TORCH_VENV=/opt/torch/.venv
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $TORCH_VENV/bin/python3 ]]; then PYTHON=$TORCH_VENV/bin/python3; else PYTHON=python3; fi
fi
# Wick links libcudart/libcublas/libcurand 13 dynamically; torch's CUDA 13 wheels carry them.
CUDA_LIBS=${WICK_CUDA_LIBS:-$("$PYTHON" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13", "lib"))' 2>/dev/null || echo "$TORCH_VENV/lib/python3.12/site-packages/nvidia/cu13/lib")}
export LD_LIBRARY_PATH=$CUDA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
RESULTS=${OUT:-/tmp}/gpu-bench.jsonl
: >"$RESULTS"

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader || true
echo "python: $PYTHON ($("$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1))"
echo "CUDA libraries: $CUDA_LIBS"
if [[ ! -x $BIN ]]; then
  echo "error: no Wick binary at $BIN (build it here with scripts/build-cuda.sh and carry it)" >&2
  exit 1
fi
if ! "$BIN" --version; then
  echo "error: $BIN does not start; missing libraries:" >&2
  ldd "$BIN" | grep 'not found' >&2
  exit 1
fi

status=0
for precision in $PRECISIONS; do
  common=(--size "$SIZE" --batch "$BATCH" --seq "$SEQ" --device cuda --precision "$precision"
    --steps "$STEPS" --warmup "$WARMUP")
  echo "== $precision: torch"
  if ! "$PYTHON" benches/torch_train_bench.py "${common[@]}" | tee -a "$RESULTS"; then status=1; fi
  echo "== $precision: wick"
  if ! "$BIN" bench train --synthetic "${common[@]}" | tee -a "$RESULTS"; then status=1; fi
done

echo "== summary"
"$PYTHON" - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault(r["precision"], {})[r["impl"]] = r
print(f"{'precision':9} {'torch samples/s':>16} {'wick samples/s':>15} {'ratio':>6} {'torch MFU':>9} {'wick MFU':>8} {'torch MiB':>9} {'wick MiB':>8}")
for p, d in by.items():
    t, w = d.get("torch", {}), d.get("wick", {})
    ts, ws = t.get("samples_per_s"), w.get("samples_per_s")
    f = lambda v, spec: format(v, spec) if isinstance(v, (int, float)) else "-"
    print(f"{p:9} {f(ts, '16.1f')} {f(ws, '15.1f')} {f(ws / ts if ts and ws else None, '6.3f')} "
          f"{f(t.get('mfu'), '9.3f')} {f(w.get('mfu'), '8.3f')} {f(t.get('peak_mem_mb'), '9.0f')} {f(w.get('peak_mem_mb'), '8.0f')}")
PY
exit $status
