#!/usr/bin/env bash
# Checks that a model Wick trains for each task reloads in Python transformers with the same
# logits; not part of CI (it needs torch and transformers, and trains on real data).
#
#   1. builds wick (or takes WICK_BIN);
#   2. per task, trains a tiny run with `wick train` (MiniLM, 10 steps, no evaluation) from
#      the examples' local ../shared paths: CoNLL-2003 (token classification), GoEmotions
#      (multi-label), STS-B (regression);
#   3. exports its final checkpoint with `wick export model` (which reloads the folder in Wick
#      and compares logits) and prints Wick's logits for a few texts (`--logits-for`);
#   4. loads the exported folder with AutoModelForTokenClassification /
#      AutoModelForSequenceClassification and compares the logits, the task (problem_type,
#      architecture) and the labels; prints the max |logit difference| per task.
#
# Usage: scripts/check-task-exports.sh [token] [multi] [regression]   (default: all three)
#
# Environment:
#   WICK_BIN           a wick binary to use instead of `cargo build --release`
#   WICK_PYTHON        a Python with torch and transformers     [python3]
#   WICK_CHECK_DIR     work folder (runs, models, logs)         [target/task-export-check]
#   WICK_TOLERANCE     the largest |logit difference| allowed   [1e-4]
set -euo pipefail
cd "$(dirname "$0")/.."

python=${WICK_PYTHON:-python3}
work=${WICK_CHECK_DIR:-target/task-export-check}
tolerance=${WICK_TOLERANCE:-1e-4}
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(token multi regression)

say() { printf '\n== %s\n' "$*"; }

if ! "$python" -c "import torch, transformers" 2>/dev/null; then
    echo "error: $python cannot import torch and transformers; set WICK_PYTHON" >&2
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

# Each task: the example, the class transformers must load, and probe texts (a tab separates
# the two texts of a pair).
example_of() {
    case $1 in
        token) echo conll2003-minilm ;;
        multi) echo go-emotions-minilm ;;
        regression) echo stsb-minilm ;;
        *) echo "unknown task $1 (token, multi, regression)" >&2; return 1 ;;
    esac
}
probes_of() {
    case $1 in
        token)
            printf '%s\n' "Hugging Face Inc. is a company based in New York City ." \
                "EU rejects German call to boycott British lamb ."
            ;;
        multi)
            printf '%s\n' "Thank you so much, I love it!" "This is so annoying and sad."
            ;;
        regression)
            printf '%s\t%s\n' "A man is playing a guitar." "Someone plays an instrument." \
                "A woman is slicing an onion." "Two dogs run on the beach."
            ;;
    esac
}

failed=0
for task in "${tasks[@]}"; do
    example=$(example_of "$task")
    run=$work/runs/$example
    say "$task: wick train --config examples/$example.toml (10 steps, no evaluation)"
    if ! "$wick" train --config "examples/$example.toml" \
        --set max_steps=10 --set per_device_train_batch_size=8 --set logging_steps=5 \
        --set eval_strategy=no --set save_strategy=steps --set save_steps=10 \
        --set load_best_model_at_end=false --set output_dir="$run" \
        > "$work/$example.train.log" 2>&1; then
        tail -20 "$work/$example.train.log" >&2
        echo "FAILED: $task: wick train" >&2
        failed=1
        continue
    fi
    tail -3 "$work/$example.train.log"

    say "$task: wick export model $run/checkpoint-10"
    probe_args=()
    while IFS= read -r probe; do
        probe_args+=(--logits-for "$probe")
    done < <(probes_of "$task")
    model=$work/models/$example
    if ! "$wick" export model "$run/checkpoint-10" "$model" "${probe_args[@]}" \
        > "$work/$example.export.out" 2> "$work/$example.export.log"; then
        cat "$work/$example.export.log" >&2
        echo "FAILED: $task: wick export model" >&2
        failed=1
        continue
    fi
    grep -v '^{' "$work/$example.export.out" | head -1

    say "$task: transformers reloads $model"
    if ! "$python" - "$model" "$tolerance" "$work/$example.export.out" <<'EOF'; then
import json, sys

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

folder, tolerance, printed = sys.argv[1], float(sys.argv[2]), sys.argv[3]
# `wick export model --logits-for` prints one JSON line per text after its report.
lines = [json.loads(line) for line in open(printed) if line.startswith("{")]
task = lines[0]["task"]
config = AutoConfig.from_pretrained(folder)
labels = [config.id2label[i] for i in range(config.num_labels)]
problems = []
if labels != lines[0]["labels"]:
    problems.append(f"labels: transformers {labels}, Wick {lines[0]['labels']}")
if task == "token_classification":
    model_class = AutoModelForTokenClassification
    if not any(a.endswith("ForTokenClassification") for a in config.architectures or []):
        problems.append(f"architectures {config.architectures}: not a token classifier")
else:
    model_class = AutoModelForSequenceClassification
    if config.problem_type != task:
        problems.append(f"problem_type {config.problem_type!r}, Wick's task {task!r}")
model = model_class.from_pretrained(folder).eval()
tokenizer = AutoTokenizer.from_pretrained(folder)
worst = 0.0
for line in lines:
    encoded = tokenizer(line["text"], line["pair"], truncation=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits[0]
    if task != "token_classification":
        logits = logits.reshape(-1)
    wick = torch.tensor(line["logits"], dtype=torch.float32)
    if wick.shape != logits.shape:
        problems.append(f"{line['text']!r}: logits {tuple(logits.shape)} in transformers, {tuple(wick.shape)} in Wick")
        continue
    diff = (wick - logits).abs().max().item()
    worst = max(worst, diff)
    print(f"  {line['text'][:48]!r}: logits {tuple(logits.shape)}, max |difference| {diff:.3e}")
print(f"{task}: {model_class.__name__}, {len(labels)} labels, max |logit difference| {worst:.3e} over {len(lines)} texts")
if worst > tolerance:
    problems.append(f"max |logit difference| {worst:.3e} > {tolerance:g}")
for problem in problems:
    print(f"  problem: {problem}")
sys.exit(1 if problems else 0)
EOF
        echo "FAILED: $task: transformers does not reproduce Wick" >&2
        failed=1
        continue
    fi
    echo "OK: $task"
done
exit "$failed"
