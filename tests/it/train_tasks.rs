//! Each task end to end on tiny data: the task read off the data, a run trained to the end
//! with the task's loss, its metrics logged under the task's names, the checkpoint's
//! `config.json` naming the task so transformers reloads it right, and the Predictor
//! answering in the task's terms.

use std::path::Path;

use wick::recipe::TrainConfig;
use wick::task::Task;
use wick::train::{Predictor, TaskPrediction};

use crate::support::tiny::{
    tiny_dataset, tiny_encoder, tiny_multilabel_dataset, tiny_ner_dataset, tiny_regression_dataset,
    train_to_end,
};

fn config(dir: &Path, data: &Path, extra: &str) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
num_train_epochs = 4
per_device_train_batch_size = 4
logging_steps = 5
eval_strategy = "epoch"
save_strategy = "epoch"
save_total_limit = 1
seed = 3
{extra}
"#,
        model = tiny_encoder(dir).display(),
        data = data.display(),
        out = dir.join("run").display()
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

/// The last evaluation's `eval_*` numbers from `metrics.jsonl`.
fn last_eval(run: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|record| record.as_object().cloned())
        .find(|record| record.contains_key("eval_loss"))
        .expect("an evaluation was logged")
}

fn first_loss(run: &Path) -> f64 {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|record| record.get("loss").and_then(|l| l.as_f64()))
        .expect("a training loss was logged")
}

fn checkpoint(run: &Path) -> std::path::PathBuf {
    std::fs::read_dir(run)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint-"))
        })
        .max()
        .expect("a checkpoint was saved")
}

fn saved_config(checkpoint: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(checkpoint.join("config.json")).unwrap()).unwrap()
}

#[test]
fn named_entities_train_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_ner_dataset(dir.path());
    let run = train_to_end(
        {
            let mut cfg = config(dir.path(), &data, "");
            cfg.num_train_epochs = 12.0;
            cfg
        },
        dir.path(),
        dir.path(),
    );
    let eval = last_eval(&run);
    for key in ["eval_f1", "eval_precision", "eval_recall", "eval_accuracy"] {
        assert!(eval.contains_key(key), "{key} missing from {eval:?}");
    }
    assert!(
        eval["eval_f1"].as_f64().unwrap() > 0.5,
        "a tiny model learns word-cued entities: {eval:?}"
    );
    let saved = checkpoint(&run);
    let config = saved_config(&saved);
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    assert!(config.get("problem_type").is_none(), "{config}");
    assert_eq!(config["id2label"]["0"], "B-LOC");

    let predictor = Predictor::load(&saved, &candle_core::Device::Cpu).unwrap();
    assert_eq!(predictor.task(), Task::TokenClassification);
    let TaskPrediction::Entities(entities) = predictor
        .predict_task("the great film was awful fun", None)
        .unwrap()
    else {
        panic!("a token classifier answers with entities");
    };
    let found: Vec<(&str, &str)> = entities
        .iter()
        .map(|e| (e.kind.as_str(), e.text.as_str()))
        .collect();
    assert!(found.contains(&("PER", "great")), "{found:?}");

    // predictions.json keeps the final evaluation per entity type; its supports count the
    // gold entities of the rows, and metrics.jsonl stays scalars only.
    let predictions = wick::runs::read_predictions(&run).unwrap().unwrap();
    let breakdown = predictions.breakdown.expect("a breakdown per entity type");
    assert_eq!(breakdown.kind, wick::runs::BreakdownKind::EntityTypes);
    let types = wick::train::scores::entity_types(&predictions.label_names);
    for row in &breakdown.rows {
        assert!(types.contains(&row.name), "{} in {types:?}", row.name);
        let gold = predictions
            .rows
            .iter()
            .filter_map(|r| match &r.output {
                wick::runs::RowOutput::Tags(tags) => Some(tags),
                _ => None,
            })
            .flat_map(|tags| &tags.entities)
            .filter(|e| e.kind == row.name)
            .count();
        assert_eq!(row.support, gold, "{} support", row.name);
    }
    assert!(
        eval.keys()
            .all(|k| !types.iter().any(|t| k.contains(t.as_str())))
    );
}

#[test]
fn multi_label_trains_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_multilabel_dataset(dir.path());
    let run = train_to_end(config(dir.path(), &data, ""), dir.path(), dir.path());
    let eval = last_eval(&run);
    for key in [
        "eval_micro_f1",
        "eval_macro_f1",
        "eval_subset_accuracy",
        "eval_hamming_loss",
        "eval_tuned_micro_f1",
    ] {
        assert!(eval.contains_key(key), "{key} missing from {eval:?}");
    }
    assert!(
        eval["eval_loss"].as_f64().unwrap() < first_loss(&run),
        "{eval:?}"
    );
    let config = saved_config(&checkpoint(&run));
    assert_eq!(config["problem_type"], "multi_label_classification");
    assert_eq!(config["num_labels"], 3);
    let predictor = Predictor::load(&checkpoint(&run), &candle_core::Device::Cpu).unwrap();
    let TaskPrediction::Labels { probs, threshold } = predictor
        .predict_task("the film great awful", None)
        .unwrap()
    else {
        panic!("a multi-label model answers with one probability per label");
    };
    assert_eq!(threshold, 0.5);
    let names: Vec<&str> = probs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["anger", "boredom", "joy"]);

    // Per label at its tuned threshold, in predictions.json beside the thresholds.
    let predictions = wick::runs::read_predictions(&run).unwrap().unwrap();
    let breakdown = predictions.breakdown.expect("a breakdown per label");
    assert_eq!(breakdown.kind, wick::runs::BreakdownKind::Labels);
    let thresholds: Vec<Option<f32>> = breakdown.rows.iter().map(|r| r.threshold).collect();
    let tuned = predictions.tuned_thresholds.unwrap();
    assert_eq!(
        thresholds,
        tuned.iter().copied().map(Some).collect::<Vec<_>>()
    );
    for (label, row) in breakdown.rows.iter().enumerate() {
        assert_eq!(row.name, names[label]);
        let carrying = predictions
            .rows
            .iter()
            .filter(|r| match &r.output {
                wick::runs::RowOutput::Labels(l) => l.labels.contains(&(label as u32)),
                _ => false,
            })
            .count();
        assert_eq!(row.support, carrying, "{} support", row.name);
    }
}

#[test]
fn regression_trains_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_regression_dataset(dir.path());
    let run = train_to_end(config(dir.path(), &data, ""), dir.path(), dir.path());
    let eval = last_eval(&run);
    for key in ["eval_pearson", "eval_spearman", "eval_rmse", "eval_mse"] {
        assert!(eval.contains_key(key), "{key} missing from {eval:?}");
    }
    let config = saved_config(&checkpoint(&run));
    assert_eq!(config["problem_type"], "regression");
    assert_eq!(config["num_labels"], 1);
    let predictor = Predictor::load(&checkpoint(&run), &candle_core::Device::Cpu).unwrap();
    assert!(matches!(
        predictor.predict_task("the film was great", Some("great great")),
        Ok(TaskPrediction::Score(score)) if score.is_finite()
    ));
}

#[test]
fn class_weights_balance_the_loss_and_a_task_set_in_the_recipe_wins() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = train_to_end(
        config(
            dir.path(),
            &data,
            "class_weights = \"balanced\"\nmax_steps = 4",
        ),
        dir.path(),
        dir.path(),
    );
    assert!(last_eval(&run).contains_key("eval_macro_f1"));

    // A float label read as classes: the recipe's task overrides the guess.
    let scores = tiny_regression_dataset(dir.path());
    let mut cfg = config(dir.path(), &scores, "max_steps = 2");
    cfg.output_dir = Some(dir.path().join("as-classes").display().to_string());
    cfg.task = Some(Task::SingleLabelClassification);
    let err = std::panic::catch_unwind(|| train_to_end(cfg, dir.path(), dir.path()))
        .expect_err("float scores are not class ids");
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("label"), "{message}");
}
