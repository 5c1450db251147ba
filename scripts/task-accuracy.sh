#!/usr/bin/env bash
# Runs each task example to the end with `wick train` and with the torch Trainer
# (scripts/torch_task_reference.py) on this CPU, then prints every final metric side by side.
# Not part of CI: it trains MiniLM on CoNLL-2003, GoEmotions and STS-B (an hour or more on two
# cores) and needs a Python with torch, transformers, datasets, accelerate, seqeval,
# scikit-learn and scipy.
#
#   scripts/task-accuracy.sh [stsb conll2003 go-emotions]
#
# Environment:
#   WICK_BIN      a wick binary (default: cargo build --release, target/release/wick)
#   WICK_PYTHON   the Python for the torch side            [python3]
#   WICK_OUT      where runs and references go             [target/task-accuracy]
#   SKIP_TORCH=1  reuse the torch references already in WICK_OUT
set -euo pipefail
cd "$(dirname "$0")/.."

python=${WICK_PYTHON:-python3}
out=${WICK_OUT:-target/task-accuracy}
tasks=("$@")
[ ${#tasks[@]} -gt 0 ] || tasks=(stsb conll2003 go-emotions)

if [ -n "${WICK_BIN:-}" ]; then
    wick=$WICK_BIN
else
    cargo build --release --bin wick
    wick=${CARGO_TARGET_DIR:-target}/release/wick
fi
mkdir -p "$out"

for task in "${tasks[@]}"; do
    example=examples/$task-minilm.toml
    [ -f "$example" ] || { echo "error: no $example" >&2; exit 1; }
    if [ "${SKIP_TORCH:-0}" != 1 ] || [ ! -f "$out/torch-$task/reference.json" ]; then
        echo "== torch: $example"
        "$python" scripts/torch_task_reference.py "$example" "$out/torch-$task" \
            > "$out/torch-$task.log" 2>&1
    fi
    echo "== wick: $example"
    rm -rf "$out/wick-$task"
    HF_HUB_OFFLINE=1 "$wick" train --config "$example" --set "output_dir=$PWD/$out/wick-$task" \
        > "$out/wick-$task.log" 2>&1
done

"$python" - "$out" "${tasks[@]}" <<'EOF'
import json, sys
out, tasks = sys.argv[1], sys.argv[2:]
for task in tasks:
    torch = json.load(open(f"{out}/torch-{task}/reference.json"))
    evals = [json.loads(l) for l in open(f"{out}/wick-{task}/metrics.jsonl") if '"eval_loss"' in l]
    wick = evals[-1]
    print(f"\n{task} ({torch['task']}): torch {torch['train_samples_per_second']:.1f} samples/s")
    print(f"  {'metric':<22}{'wick':>10}{'torch':>10}{'wick - torch':>14}")
    for key, value in torch["final_eval"].items():
        if key in wick and not key.endswith(("runtime", "per_second")) and key != "epoch":
            print(f"  {key:<22}{wick[key]:>10.4f}{value:>10.4f}{wick[key] - value:>+14.4f}")
EOF
