#!/usr/bin/env bash
# Checks the hand-off to 🤗 Accelerate end to end; not part of CI (it installs torch from PyPI,
# about 3 GB with the CUDA libraries it pulls in).
#
#   1. builds wick and serves ../shared/hub with `wick hub serve` (a loopback Hub mirror);
#   2. exports an example with Hub ids and a tiny step budget (8 steps, an evaluation at the
#      end) using `wick export accelerate`;
#   3. installs the export's requirements.txt (torch, transformers, datasets, accelerate) in a venv;
#   4. runs `accelerate launch` on the exported project with HF_ENDPOINT at the mirror and an
#      empty HF_HOME, and checks that it trained the example's task and evaluated with its
#      metrics.
#
# Usage: scripts/check-accelerate-export.sh [mrpc|tasks|lora|all]
#   mrpc   examples/mrpc-minilm.toml, single-label (the default)
#   lora   examples/mrpc-minilm-lora.toml: peft's get_peft_model, only adapters and head train
#   tasks  one example per other task: examples/conll2003-minilm.toml (token classification,
#          eriktks/conll2003), examples/go-emotions-minilm.toml (multi-label,
#          google-research-datasets/go_emotions simplified), examples/stsb-minilm.toml
#          (regression, nyu-mll/glue stsb)
#   all    all of them
#
# Environment:
#   WICK_SHARED_HUB       Hub-layout folder to serve       [../shared/hub]
#   WICK_ACCELERATE_VENV  venv to create or reuse           [~/.cache/wick/accelerate-venv]
#   WICK_BIN              a wick binary to use instead of `cargo build --release`
#   WICK_LAUNCH_ARGS      extra `accelerate launch` flags   [--cpu]
#   WICK_CHECK_DIR        work folder (export, HF_HOME, log) [target/accelerate-check]
set -euo pipefail
cd "$(dirname "$0")/.."

shared_hub=${WICK_SHARED_HUB:-../shared/hub}
venv=${WICK_ACCELERATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wick/accelerate-venv}
launch_args=${WICK_LAUNCH_ARGS:---cpu}
work=${WICK_CHECK_DIR:-target/accelerate-check}
mode=${1:-mrpc}
case $mode in
    mrpc | tasks | lora | all) ;;
    *) echo "usage: $0 [mrpc|tasks|lora|all]" >&2; exit 2 ;;
esac

say() { printf '\n== %s\n' "$*"; }

if [ ! -d "$shared_hub/models" ] || [ ! -d "$shared_hub/datasets" ]; then
    echo "error: $shared_hub is not a Hub-layout folder (models/, datasets/); set WICK_SHARED_HUB" >&2
    exit 1
fi

say "building wick"
if [ -n "${WICK_BIN:-}" ]; then
    wick=$WICK_BIN
else
    cargo build --release --bin wick
    wick=${CARGO_TARGET_DIR:-target}/release/wick
fi
"$wick" --version

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

say "serving $shared_hub"
"$wick" hub serve "$shared_hub" > "$work/mirror.out" 2> "$work/mirror.log" &
mirror_pid=$!
trap 'kill "$mirror_pid" 2>/dev/null || true' EXIT
endpoint=
for _ in $(seq 1 100); do
    endpoint=$(sed -n 's/^HF_ENDPOINT=//p' "$work/mirror.out")
    [ -n "$endpoint" ] && break
    kill -0 "$mirror_pid" 2>/dev/null || { cat "$work/mirror.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$endpoint" ] || { echo "error: the mirror did not start" >&2; exit 1; }
echo "HF_ENDPOINT=$endpoint"

# Each example: its file, Hub dataset id and config, the task train.py must report, and the
# eval metric it must log (the task's headline, under Wick's name).
examples=()
if [ "$mode" = lora ] || [ "$mode" = all ]; then
    examples+=("mrpc-minilm-lora nyu-mll/glue mrpc single_label_classification eval_f1")
fi
if [ "$mode" = mrpc ] || [ "$mode" = all ]; then
    examples+=("mrpc-minilm nyu-mll/glue mrpc single_label_classification eval_f1")
fi
if [ "$mode" = tasks ] || [ "$mode" = all ]; then
    examples+=(
        "conll2003-minilm eriktks/conll2003 - token_classification eval_f1"
        "go-emotions-minilm google-research-datasets/go_emotions simplified multi_label_classification eval_tuned_micro_f1"
        "stsb-minilm nyu-mll/glue stsb regression eval_pearson"
    )
fi

# Exports one example into $work/<name>.
export_example() {
    local name=$1 dataset=$2 config=$3
    local config_args=(--set "dataset=$dataset")
    [ "$config" != - ] && config_args+=(--set "dataset_config=$config")
    "$wick" export accelerate "examples/$name.toml" "$work/$name" --num-processes 1 \
        --set model=sentence-transformers/all-MiniLM-L6-v2 "${config_args[@]}" \
        --set max_steps=8 --set logging_steps=2 \
        --set eval_strategy=steps --set eval_steps=8 --set save_strategy=no
}

for example in "${examples[@]}"; do
    read -r name dataset config _ _ <<< "$example"
    say "exporting examples/$name.toml (Hub ids, 8 steps, evaluation at step 8)"
    export_example "$name" "$dataset" "$config"
done

first=${examples[0]%% *}
say "installing $work/$first/requirements.txt into $venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet -r "$work/$first/requirements.txt"
"$venv/bin/python" - <<'EOF'
import accelerate, datasets, huggingface_hub, torch, transformers
for m in (torch, transformers, datasets, accelerate, huggingface_hub):
    print(f"{m.__name__} {m.__version__}")
EOF

failed=0
for example in "${examples[@]}"; do
    read -r name _ _ task metric <<< "$example"
    say "$name: accelerate launch --config_file accelerate_config.yaml $launch_args train.py"
    log=$work/$name.log
    status=0
    (
        cd "$work/$name"
        # shellcheck disable=SC2086 # launch_args is a list of flags
        env -u HF_TOKEN -u HF_HUB_OFFLINE \
            HF_HOME="$work/hf-home" HF_ENDPOINT="$endpoint" HF_HUB_DISABLE_TELEMETRY=1 \
            "$venv/bin/accelerate" launch --config_file accelerate_config.yaml $launch_args train.py
    ) > "$log" 2>&1 || status=$?

    say "$name: result (full log: $log)"
    grep -E "train rows|^\{'loss'|'loss':|^train: |^eval @ " "$log" | tr '\r' '\n' | grep -E "train rows|'loss'|^train: |^eval @ " || true
    if [ "$status" -ne 0 ]; then
        tail -30 "$log" >&2
        echo "FAILED: $name: accelerate launch exited with $status" >&2
        failed=1
        continue
    fi
    if ! grep -q "^task $task " "$log"; then
        echo "FAILED: $name: train.py did not train $task" >&2
        failed=1
    elif ! grep -q "^train: global step 8" "$log" || ! grep -qE "^eval @ step 8: (.*, )?$metric " "$log"; then
        echo "FAILED: $name: the run did not report 8 steps and $metric at step 8" >&2
        failed=1
    elif [[ $name == *-lora ]] && ! grep -q "^trainable params: " "$log"; then
        echo "FAILED: $name: peft did not wrap the model (no 'trainable params' line)" >&2
        failed=1
    else
        echo "OK: $name trained $task for 8 steps and evaluated ($metric) through the mirror"
    fi
done
requests=$(grep -c "resolve" "$work/mirror.log" || true)
echo "mirror: $requests resolve requests"
exit "$failed"
