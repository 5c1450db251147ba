//! `wick data inspect` per task: the task and its reason, the balance as the task reads it
//! (entities per type, rows per label, scores), and for token classification a `label` row
//! in the token grid (the tag, or -100 where the loss skips the token). Expected numbers
//! are counted from the jsonl files the tests write.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::tiny::{
    tiny_model, tiny_multilabel_dataset, tiny_ner_dataset, tiny_regression_dataset,
    tiny_split_word_dataset,
};

/// `wick data inspect` on `dataset` with the tiny tokenizer, offline, no cache.
fn inspect(scratch: &Path, dataset: &Path, extra: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["data", "inspect", "--no-cache"])
        .arg("--data")
        .arg(dataset)
        .arg("--tokenizer")
        .arg(tiny_model(scratch))
        .args(extra)
        .env("HF_HOME", scratch.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn inspect_json(scratch: &Path, dataset: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&inspect(scratch, dataset, &args).stdout).expect("one JSON object")
}

fn train_rows(dataset: &Path) -> Vec<Value> {
    std::fs::read_to_string(dataset.join("data/train.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// `[{key: name, count: n}, ...]` as a map.
fn counts(value: &Value, key: &str, count: &str) -> BTreeMap<String, usize> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item[key].as_str().unwrap().to_string(),
                item[count].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

#[test]
fn inspect_json_names_the_task_and_counts_entities_per_type() {
    let scratch = tempfile::tempdir().unwrap();
    let dataset = tiny_ner_dataset(scratch.path());
    let json = inspect_json(scratch.path(), &dataset, &[]);
    assert_eq!(json["task"], "token_classification");
    assert_eq!(
        json["task_reason"],
        "`ner_tags` holds a class per word of the word list `tokens`"
    );

    // Every entity of this file starts with B- and every word is one piece.
    let mut entities: BTreeMap<String, usize> = BTreeMap::new();
    let mut tags: BTreeMap<String, usize> = BTreeMap::new();
    for row in train_rows(&dataset) {
        for tag in strings(&row["ner_tags"]) {
            if let Some(kind) = tag.strip_prefix("B-") {
                *entities.entry(kind.to_string()).or_default() += 1;
            }
            *tags.entry(tag).or_default() += 1;
        }
    }
    let balance = &json["balance"];
    assert_eq!(balance["kind"], "entities");
    assert_eq!(counts(&balance["entities"], "type", "entities"), entities);
    assert_eq!(counts(&balance["tags"], "name", "tokens"), tags);
    assert_eq!(balance["rows"], 40);
    assert_eq!(balance["skewed"], true, "O outnumbers the entity tags");
    let weights = balance["balanced_weights"].as_array().unwrap();
    assert_eq!(weights.len(), tags.len());
}

#[test]
fn inspect_prints_each_sub_tokens_label_under_it() {
    let scratch = tempfile::tempdir().unwrap();
    let dataset = tiny_split_word_dataset(scratch.path());
    let out = inspect(scratch.path(), &dataset, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Task: token_classification: `ner_tags` holds a class per word of the word list `tokens`"
        ),
        "{text}"
    );
    assert!(
        text.contains("Entities per type (2 in 2 rows; 0 rows have none):"),
        "{text}"
    );
    let grid_row = |name: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|line| line.trim_start().starts_with(&format!("{name} ")))
            .map(|line| line.split_whitespace().skip(1).map(String::from).collect())
            .collect()
    };
    let pieces = grid_row("piece");
    let labels = grid_row("label");
    assert_eq!(
        pieces[0],
        [
            "[CLS]", "great", "z", "##o", "##r", "##r", "##o", "was", "fun", "[SEP]"
        ]
    );
    // The course's alignment: the first piece of a word gets its tag, the rest -100.
    assert_eq!(
        labels[0],
        [
            "-100", "B-PER", "I-PER", "-100", "-100", "-100", "-100", "O", "O", "-100"
        ]
    );
    assert_eq!(
        labels[1],
        [
            "-100", "B-LOC", "-100", "-100", "-100", "-100", "-100", "-100", "-100", "-100"
        ]
    );

    let out = inspect(scratch.path(), &dataset, &["--label-all-tokens"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let first_labels = text
        .lines()
        .find(|line| line.trim_start().starts_with("label "))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>();
    assert_eq!(
        first_labels,
        [
            "-100", "B-PER", "I-PER", "I-PER", "I-PER", "I-PER", "I-PER", "O", "O", "-100"
        ]
    );
}

#[test]
fn inspect_json_gives_rows_per_label_and_score_summaries() {
    let scratch = tempfile::tempdir().unwrap();
    let tags = tiny_multilabel_dataset(scratch.path());
    let json = inspect_json(scratch.path(), &tags, &[]);
    assert_eq!(json["task"], "multi_label_classification");
    let mut per_label: BTreeMap<String, usize> = BTreeMap::new();
    let mut without = 0;
    for row in train_rows(&tags) {
        let labels = strings(&row["labels"]);
        without += usize::from(labels.is_empty());
        for label in labels {
            *per_label.entry(label).or_default() += 1;
        }
    }
    let balance = &json["balance"];
    assert_eq!(balance["kind"], "label_sets");
    assert_eq!(counts(&balance["labels"], "name", "rows"), per_label);
    assert_eq!(balance["rows_without_labels"], without);
    assert!(
        balance.get("balanced_weights").is_none(),
        "BCE takes no weights"
    );

    let scores = tiny_regression_dataset(scratch.path());
    let json = inspect_json(scratch.path(), &scores, &[]);
    assert_eq!(json["task"], "regression");
    let labels: Vec<f64> = train_rows(&scores)
        .iter()
        .map(|r| r["label"].as_f64().unwrap())
        .collect();
    let balance = &json["balance"];
    assert_eq!(balance["kind"], "scores");
    let min = labels.iter().copied().fold(f64::INFINITY, f64::min);
    let max = labels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = labels.iter().sum::<f64>() / labels.len() as f64;
    assert_eq!(balance["min"].as_f64(), Some(min));
    assert_eq!(balance["max"].as_f64(), Some(max));
    assert!((balance["mean"].as_f64().unwrap() - mean).abs() < 1e-6);
    let histogram = balance["histogram"].as_array().unwrap();
    let rows: u64 = histogram.iter().map(|b| b["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 40);

    // --task overrides the guess, and the reason says so: whole-number stars as scores.
    let stars = scratch.path().join("stars.csv");
    let mut csv = String::from("text,label\n");
    for n in 0..10 {
        csv.push_str(&format!("the film was fine,{}\n", n % 5));
    }
    std::fs::write(&stars, csv).unwrap();
    let json = inspect_json(scratch.path(), &stars, &[]);
    assert_eq!(json["task"], "single_label_classification");
    let json = inspect_json(scratch.path(), &stars, &["--task", "regression"]);
    assert_eq!(json["task"], "regression");
    let reason = json["task_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("set in the recipe (the data suggests single-label classification"),
        "{reason}"
    );
    assert_eq!(json["balance"]["max"].as_f64(), Some(4.0));
}
