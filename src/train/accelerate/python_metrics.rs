//! The exported train.py's per-task code against Wick's own: its `compute_metrics` of each
//! task, `align_labels_with_tokens` and the balanced class weights, run in Python on seeded
//! cases, must give what `train::scores`, `train::metrics` and `data` give. Only the script's
//! functions run (read out of train.py with `ast`), so this needs numpy but not torch:
//! `$WICK_PYTHON`, else `python3`; `SKIPPED: ...` when numpy is missing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::*;
use crate::train::metrics::{Metrics, compute_metrics};
use crate::train::scores::{self, sigmoid};

/// The Python side computes in float64 from the same float32 inputs; only summation order
/// differs.
const TOLERANCE: f64 = 1e-9;

const TAGS: &[&str] = &["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

/// Runs train.py's functions (not its imports, classes or `main`) on `cases`.
const HARNESS: &str = r#"
import ast, json, sys, types
import numpy as np

tree = ast.parse(open(sys.argv[1]).read())
kept = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Assign))]
namespace = {"np": np}
exec(compile(ast.Module(body=kept, type_ignores=[]), "train.py", "exec"), namespace)
cases = json.load(sys.stdin)

def pred(logits, labels):
    return types.SimpleNamespace(predictions=np.asarray(logits, dtype=np.float32), label_ids=np.asarray(labels))

out = {}
token = cases["token"]
out["token"] = namespace["make_token_metrics"](token["names"])(pred(token["logits"], token["labels"]))
multi = cases["multi"]
out["multi"] = namespace["multi_label_metrics"](pred(multi["logits"], np.asarray(multi["labels"], dtype=np.float32)))
reg = cases["regression"]
out["regression"] = namespace["regression_metrics"](pred(reg["predictions"], np.asarray(reg["labels"], dtype=np.float32)))
out["single"] = [namespace["single_label_metrics"](pred(c["logits"], c["labels"])) for c in cases["single"]]
out["align"] = []
for case in cases["align"]:
    namespace["WICK"]["label_all_tokens"] = case["label_all_tokens"]
    inside = namespace["inside_tags"](case["names"])
    word_ids = [None if w < 0 else w for w in case["word_ids"]]
    out["align"].append(namespace["align_labels_with_tokens"](case["tags"], word_ids, inside))
namespace["WICK"]["class_weights"] = "balanced"
balanced = cases["balanced"]
out["balanced"] = namespace["class_weights_for"]({"labels": balanced["labels"]}, balanced["names"], "token_classification")
print(json.dumps(out))
"#;

fn python() -> String {
    std::env::var("WICK_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn names() -> Vec<String> {
    TAGS.iter().map(|s| s.to_string()).collect()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

fn assert_close(what: &str, python: &Value, name: &str, wick: f64) {
    let found = python[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: Python gave no {name}: {python}"));
    assert!(
        (found - wick).abs() <= TOLERANCE * wick.abs().max(1.0),
        "{what} {name}: train.py {found}, Wick {wick}"
    );
}

/// Token classification: rows of logits and labels, -100 where nothing is trained.
fn token_case(rng: &mut ChaCha8Rng) -> (Vec<Vec<Vec<f32>>>, Vec<Vec<i64>>) {
    let (rows, length) = (40, 14);
    let mut logits = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..rows {
        let mut row_logits = Vec::new();
        let mut row_labels = Vec::new();
        for position in 0..length {
            // Gold tags run in short entities; the logits lean towards them, so most tags agree.
            let tag = if rng.random_bool(0.6) {
                0
            } else {
                rng.random_range(1..TAGS.len())
            };
            let ignored = position == 0 || position == length - 1 || rng.random_bool(0.2);
            row_labels.push(if ignored { -100 } else { tag as i64 });
            let mut scores: Vec<f32> = (0..TAGS.len())
                .map(|_| rng.random_range(-2.0f32..2.0))
                .collect();
            scores[tag] += 1.5;
            row_logits.push(scores);
        }
        logits.push(row_logits);
        labels.push(row_labels);
    }
    (logits, labels)
}

#[test]
fn train_py_metrics_alignment_and_weights_match_wick() {
    let dir = tempfile::tempdir().unwrap();
    export_accelerate(
        &TrainConfig::from_toml_str("model = \"a/b\"\ndataset = \"c/d\"\n").unwrap(),
        dir.path(),
        &AccelerateExport::default(),
    )
    .unwrap();
    let script = dir.path().join("train.py");
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let names = names();

    let (token_logits, token_labels) = token_case(&mut rng);
    let (mut gold, mut predicted) = (Vec::new(), Vec::new());
    for (row_logits, row_labels) in token_logits.iter().zip(&token_labels) {
        let (mut g, mut p) = (Vec::new(), Vec::new());
        for (scores, &label) in row_logits.iter().zip(row_labels) {
            if label >= 0 {
                g.push(names[label as usize].clone());
                p.push(names[argmax(scores)].clone());
            }
        }
        gold.push(g);
        predicted.push(p);
    }
    let entities = scores::entity_scores(&gold, &predicted, scores::guess_scheme(&names)).unwrap();
    assert!(entities.gold_entities > 20 && entities.correct_entities > 0);

    let (rows, labels) = (60, 5);
    let multi_logits: Vec<Vec<f32>> = (0..rows)
        .map(|_| {
            (0..labels)
                .map(|_| rng.random_range(-3.0f32..3.0))
                .collect()
        })
        .collect();
    let multi_targets: Vec<Vec<bool>> = multi_logits
        .iter()
        .map(|row| {
            row.iter()
                .map(|&x| rng.random_bool(f64::from(sigmoid(x)) * 0.8 + 0.05))
                .collect()
        })
        .collect();
    let probabilities: Vec<Vec<f32>> = multi_logits
        .iter()
        .map(|row| row.iter().map(|&x| sigmoid(x)).collect())
        .collect();
    let label_names: Vec<String> = (0..labels).map(|i| format!("l{i}")).collect();
    let half =
        scores::multilabel_scores(&probabilities, &multi_targets, &[0.5; 5], &label_names).unwrap();
    let tuned = scores::tune_thresholds(&probabilities, &multi_targets).unwrap();
    let tuned =
        scores::multilabel_scores(&probabilities, &multi_targets, &tuned, &label_names).unwrap();

    let targets: Vec<f32> = (0..50).map(|_| rng.random_range(0.0f32..5.0)).collect();
    // Ties on both sides, so the average ranks matter.
    let predictions: Vec<f32> = targets
        .iter()
        .map(|&t| ((t + rng.random_range(-1.5f32..1.5)) * 2.0).round() / 2.0)
        .collect();
    let regression = scores::regression_scores(&predictions, &targets).unwrap();

    let single: Vec<(Vec<Vec<f32>>, Vec<u32>)> = [2usize, 4]
        .iter()
        .map(|&classes| {
            let labels: Vec<u32> = (0..45)
                .map(|_| rng.random_range(0..classes as u32))
                .collect();
            let logits = labels
                .iter()
                .map(|&l| {
                    let mut row: Vec<f32> = (0..classes)
                        .map(|_| rng.random_range(-1.0f32..1.0))
                        .collect();
                    row[l as usize] += 0.6;
                    row
                })
                .collect();
            (logits, labels)
        })
        .collect();

    // [CLS] w0 w0 w1 w2 w2 w2 w3 [SEP], tags B-PER I-PER O B-LOC; and a word with no tag left
    // (truncated tags are never read past their end).
    let align = [
        (vec![-1, 0, 0, 1, 2, 2, 2, 3, -1], vec![1u32, 2, 0, 3]),
        (vec![-1, 0, 1, 1, 2, -1], vec![5u32, 6]),
    ];
    let inside = crate::data::inside_tags(&names);

    let token_rows: Vec<Vec<i32>> = token_labels
        .iter()
        .map(|row| row.iter().map(|&l| l as i32).collect())
        .collect();
    let mut counts = vec![0usize; names.len()];
    for &l in token_rows.iter().flatten() {
        if l >= 0 {
            counts[l as usize] += 1;
        }
    }
    // A class with no token: weight 1.
    counts[names.len() - 1] = 0;
    let balanced_rows: Vec<Vec<i32>> = token_rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|&l| {
                    if l as usize == names.len() - 1 {
                        -100
                    } else {
                        l
                    }
                })
                .collect()
        })
        .collect();
    let weights = scores::balanced_class_weights(&counts);

    let cases = json!({
        "token": {"names": names, "logits": token_logits, "labels": token_labels},
        "multi": {
            "logits": multi_logits,
            "labels": multi_targets.iter().map(|r| r.iter().map(|&t| u8::from(t)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        },
        "regression": {"predictions": predictions, "labels": targets},
        "single": single.iter().map(|(logits, labels)| json!({"logits": logits, "labels": labels})).collect::<Vec<_>>(),
        "align": align.iter().flat_map(|(word_ids, tags)| [false, true].map(|all| json!({
            "word_ids": word_ids, "tags": tags, "names": names, "label_all_tokens": all,
        }))).collect::<Vec<_>>(),
        "balanced": {"names": names, "labels": balanced_rows},
    });

    let python = python();
    let child = std::process::Command::new(&python)
        .args(["-c", HARNESS])
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("SKIPPED: {python} not found; cannot run train.py's metrics");
        return;
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // A Python that fails at `import numpy` closes the pipe; its stderr says why.
        let _ = stdin.write_all(cases.to_string().as_bytes());
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("No module named 'numpy'") {
        println!("SKIPPED: {python} has no numpy (set WICK_PYTHON); train.py's metrics not run");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();

    let token = &got["token"];
    for (name, wick) in [
        ("f1", entities.f1),
        ("precision", entities.precision),
        ("recall", entities.recall),
        ("accuracy", entities.token_accuracy),
    ] {
        assert_close("token classification", token, name, wick);
    }

    let multi = &got["multi"];
    for (name, wick) in [
        ("micro_f1", half.micro_f1),
        ("macro_f1", half.macro_f1),
        ("micro_precision", half.micro_precision),
        ("micro_recall", half.micro_recall),
        ("subset_accuracy", half.subset_accuracy),
        ("hamming_loss", half.hamming_loss),
        ("tuned_micro_f1", tuned.micro_f1),
    ] {
        assert_close("multi-label", multi, name, wick);
    }
    assert!(
        tuned.micro_f1 > half.micro_f1,
        "the tuned case tunes something"
    );

    let reg = &got["regression"];
    for (name, wick) in [
        ("pearson", regression.pearson.unwrap()),
        ("spearman", regression.spearman.unwrap()),
        ("rmse", regression.rmse),
        ("mse", regression.mse),
        ("mae", regression.mae),
    ] {
        assert_close("regression", reg, name, wick);
    }

    for (i, (logits, labels)) in single.iter().enumerate() {
        let predictions: Vec<u32> = logits.iter().map(|row| argmax(row) as u32).collect();
        let metrics = compute_metrics(&predictions, labels, logits[0].len()).unwrap();
        for name in Metrics::names_for(Task::SingleLabelClassification) {
            if *name == "loss" {
                continue;
            }
            assert_close(
                &format!("single-label case {i}"),
                &got["single"][i],
                name,
                metrics.get(name).unwrap(),
            );
        }
    }

    let mut python_alignments = got["align"].as_array().unwrap().iter();
    for (word_ids, tags) in &align {
        for all in [false, true] {
            let wick = crate::data::align_word_labels(word_ids, tags, all, &inside);
            let found: Vec<i32> =
                serde_json::from_value(python_alignments.next().unwrap().clone()).unwrap();
            assert_eq!(
                found, wick,
                "align {word_ids:?} {tags:?} label_all_tokens={all}"
            );
        }
    }

    // Float32 weights on both sides (serde_json's parsing may miss the last f64 bit).
    let found: Vec<f32> = serde_json::from_value::<Vec<f64>>(got["balanced"].clone())
        .unwrap()
        .into_iter()
        .map(|w| w as f32)
        .collect();
    assert_eq!(found, weights, "balanced class weights");
    assert_eq!(weights[names.len() - 1], 1.0);
}
