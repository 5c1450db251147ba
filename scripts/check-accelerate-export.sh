#!/usr/bin/env bash
# Checks the hand-off to 🤗 Accelerate end to end; not part of CI (it installs torch from PyPI,
# about 3 GB with the CUDA libraries it pulls in).
#
#   1. builds wick and serves ../shared/hub with `wick hub serve` (a loopback Hub mirror);
#   2. exports examples/mrpc-minilm.toml with Hub ids and a tiny step budget (8 steps, an
#      evaluation at the end) using `wick export accelerate`;
#   3. installs the export's requirements.txt (torch, transformers, datasets, accelerate) in a venv;
#   4. runs `accelerate launch` on the exported project with HF_ENDPOINT at the mirror and an
#      empty HF_HOME, and checks that it trained and evaluated.
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

say "exporting examples/mrpc-minilm.toml (Hub ids, 8 steps, evaluation at step 8)"
"$wick" export accelerate examples/mrpc-minilm.toml "$work/project" --num-processes 1 \
    --set model=sentence-transformers/all-MiniLM-L6-v2 \
    --set dataset=nyu-mll/glue --set dataset_config=mrpc \
    --set max_steps=8 --set logging_steps=2 \
    --set eval_strategy=steps --set eval_steps=8 --set save_strategy=no

say "installing $work/project/requirements.txt into $venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet -r "$work/project/requirements.txt"
"$venv/bin/python" - <<'EOF'
import accelerate, datasets, huggingface_hub, torch, transformers
for m in (torch, transformers, datasets, accelerate, huggingface_hub):
    print(f"{m.__name__} {m.__version__}")
EOF

say "accelerate launch --config_file accelerate_config.yaml $launch_args train.py"
log=$work/train.log
status=0
(
    cd "$work/project"
    # shellcheck disable=SC2086 # launch_args is a list of flags
    env -u HF_TOKEN -u HF_HUB_OFFLINE \
        HF_HOME="$work/hf-home" HF_ENDPOINT="$endpoint" HF_HUB_DISABLE_TELEMETRY=1 \
        "$venv/bin/accelerate" launch --config_file accelerate_config.yaml $launch_args train.py
) > "$log" 2>&1 || status=$?

say "result (full log: $log)"
grep -E "train rows|^\{'loss'|'loss':|^train: |^eval @ " "$log" | tr '\r' '\n' | grep -E "train rows|'loss'|^train: |^eval @ " || true
requests=$(grep -c "resolve" "$work/mirror.log" || true)
echo "mirror: $requests resolve requests"
if [ "$status" -ne 0 ]; then
    tail -30 "$log" >&2
    echo "FAILED: accelerate launch exited with $status" >&2
    exit 1
fi
if ! grep -q "^train: global step 8" "$log" || ! grep -q "^eval @ step 8" "$log"; then
    echo "FAILED: the run did not report 8 steps and an evaluation at step 8" >&2
    exit 1
fi
echo "OK: the exported project trained 8 steps and evaluated through the mirror"
