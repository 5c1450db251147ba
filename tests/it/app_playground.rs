//! The Playground driven like a user: pick a trained run and checkpoint, type a text,
//! Predict, then Export and see the reload check.

use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use wick::hub::HubSettings;
use wick::train::config::TrainConfig;

use crate::support;
use support::app::{harness, has_label, has_label_containing, wait_for};
use support::tiny::{tiny_dataset, tiny_model, train_to_end};

/// Trains the tiny BERT for two epochs (checkpoints 5 and 10) into `<data_dir>/runs`.
fn train_tiny_run(scratch: &Path, data_dir: &Path) {
    train_run(
        scratch,
        data_dir,
        "tiny-run",
        "num_train_epochs = 2\nsave_strategy = \"epoch\"",
    );
}

/// Trains the tiny BERT (5 steps an epoch, evaluated each epoch) into
/// `<data_dir>/runs/<name>`, with `extra` TOML lines.
fn train_run(scratch: &Path, data_dir: &Path, name: &str, extra: &str) {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
per_device_train_batch_size = 8
eval_strategy = "epoch"
seed = 11
{extra}
"#,
        model = tiny_model(scratch).display(),
        data = tiny_dataset(scratch).display(),
        out = data_dir.join("runs").join(name).display()
    );
    let config = TrainConfig::from_toml_str(&text).unwrap();
    train_to_end(config, scratch, &data_dir.join("runs"));
}

#[test]
fn predict_with_a_checkpoint_then_export_it() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    train_tiny_run(scratch.path(), &data_dir);

    let mut harness = harness(
        &data_dir,
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the run to be listed", |h| {
        has_label(h, "Checkpoint")
    });
    // The only run is picked by itself.
    assert_eq!(
        harness.state().state.playground.run.as_deref(),
        Some("tiny-run")
    );

    harness.get_by_label("Checkpoint").click();
    harness.run_steps(2);
    harness.get_by_label("checkpoint-5").click();
    harness.run_steps(2);
    wait_for(&mut harness, "checkpoint-5 to load", |h| {
        has_label_containing(h, "checkpoint-5 loaded")
    });

    let text = harness.get_by_label("Text");
    text.focus();
    text.type_text("the film was great");
    harness.run_steps(2);
    let pair = harness.get_by_label("Text pair (optional)");
    pair.focus();
    pair.type_text("a fun story");
    harness.run_steps(2);
    harness.get_by_label("▶ Predict").click();
    wait_for(&mut harness, "a prediction", |h| has_label(h, "Predicted:"));
    assert!(has_label_containing(&harness, "by checkpoint-5"));
    assert!(has_label_containing(&harness, "with the pair"));
    for label in ["neg", "neu", "pos"] {
        assert!(has_label(&harness, label), "a probability row for {label}");
    }
    let probabilities: Vec<f32> = harness
        .query_all_by_label_contains("%")
        .filter_map(|node| {
            let text = node.accesskit_node().label().unwrap_or_default();
            text.trim_end_matches('%').parse::<f32>().ok()
        })
        .collect();
    assert_eq!(
        probabilities.len(),
        3,
        "one bar per label: {probabilities:?}"
    );
    let sum: f32 = probabilities.iter().sum();
    assert!((sum - 100.0).abs() < 0.2, "{probabilities:?}");

    let out = scratch.path().join("exported/tiny");
    let field = harness.get_by_label("Export folder");
    field.focus();
    field.type_text(&out.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("Export model…").click();
    wait_for(&mut harness, "the export confirmation", |h| {
        has_label_containing(h, "Exported 4 files; reloaded: max |Δlogit| = 0")
    });
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "README.md",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    assert!(
        !has_label_containing(&harness, "failed"),
        "no error alert after a good export"
    );
}

#[test]
fn without_trained_runs_the_playground_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(dir.path(), HubSettings::with_home(&dir.path().join("hf")));
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the empty state", |h| {
        has_label_containing(h, "No run has a saved checkpoint yet")
    });
    harness.get_by_label("Go to Train").click();
    harness.run_steps(2);
    assert_eq!(harness.state().state.tab, wick::app::Tab::Train);
}

#[test]
fn a_checkpoint_that_does_not_load_shows_an_alert() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    train_tiny_run(scratch.path(), &data_dir);
    // Damage the weights after the fact: the run still lists, loading must fail clearly.
    for step in [5, 10] {
        let weights = data_dir.join(format!("runs/tiny-run/checkpoint-{step}/model.safetensors"));
        let len = std::fs::metadata(&weights).unwrap().len() as usize;
        std::fs::write(&weights, vec![b'x'; len]).unwrap();
    }

    let mut harness = harness(
        &data_dir,
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the load error", |h| {
        has_label_containing(h, "Could not load checkpoint-")
    });
    assert!(has_label_containing(&harness, "model.safetensors"));
    assert!(
        harness
            .state()
            .toasts()
            .items()
            .iter()
            .any(|t| t.title.contains("Could not load checkpoint-"))
    );
}

/// A run cut short by max_steps offers its final model; a run that saved nothing is named
/// with the reason instead of missing from the list.
#[test]
fn a_short_run_offers_its_final_model_and_an_unsaved_run_says_why() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    train_run(
        scratch.path(),
        &data_dir,
        "short-run",
        "num_train_epochs = 1\nmax_steps = 3\nsave_strategy = \"epoch\"",
    );
    train_run(
        scratch.path(),
        &data_dir,
        "unsaved-run",
        "max_steps = 2\nsave_strategy = \"no\"",
    );

    let mut harness = harness(
        &data_dir,
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the run to be listed", |h| {
        has_label(h, "Checkpoint")
    });
    assert_eq!(
        harness.state().state.playground.run.as_deref(),
        Some("short-run")
    );
    assert_eq!(
        harness.get_by_label("Checkpoint").value().as_deref(),
        Some("final (checkpoint-3)")
    );
    assert!(has_label(
        &harness,
        "unsaved-run: no checkpoint: save_strategy = \"no\""
    ));
}
