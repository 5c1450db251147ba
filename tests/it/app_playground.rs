//! The Playground driven like a user: pick a trained run and checkpoint, type a text,
//! Predict, then Export and see the reload check.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::{Path, PathBuf};
use wick::app::WickApp;
use wick::hub::HubSettings;
use wick::train::config::TrainConfig;
use wick::train::{Predictor, TaskPrediction};

use crate::support;
use support::app::{cut_at_smallest_window, harness, has_label, has_label_containing, wait_for};
use support::tiny::{
    tiny_dataset, tiny_encoder, tiny_model, tiny_multilabel_dataset, tiny_ner_dataset,
    tiny_regression_dataset, train_to_end,
};

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

/// A run of a task beyond single-label classification: the tiny encoder (no head, so the
/// task's head is new) trained on `data` for `epochs` into `<data_dir>/runs/<name>`; returns
/// its checkpoint.
fn train_task_run(
    scratch: &Path,
    data_dir: &Path,
    name: &str,
    data: &Path,
    epochs: u32,
) -> PathBuf {
    let out = data_dir.join("runs").join(name);
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
num_train_epochs = {epochs}
per_device_train_batch_size = 4
eval_strategy = "epoch"
save_strategy = "epoch"
save_total_limit = 1
seed = 3
"#,
        model = tiny_encoder(scratch).display(),
        data = data.display(),
        out = out.display()
    );
    let config = TrainConfig::from_toml_str(&text).unwrap();
    train_to_end(config, scratch, &data_dir.join("runs"));
    std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("checkpoint-"))
        })
        .expect("the run saved a checkpoint")
}

/// The Playground open on the only run, its checkpoint loaded.
fn playground_on(scratch: &Path, data_dir: &Path) -> Harness<'static, WickApp> {
    let mut harness = harness(
        data_dir,
        HubSettings::with_home(&scratch.join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the checkpoint to load", |h| {
        has_label_containing(h, " loaded · ")
    });
    harness
}

/// Types `text` (and `pair`) and presses Predict; waits for the answer.
fn predict(harness: &mut Harness<'static, WickApp>, text: &str, pair: Option<&str>) {
    let field = harness.get_by_label("Text");
    field.focus();
    field.type_text(text);
    harness.run_steps(2);
    if let Some(pair) = pair {
        let field = harness.get_by_label("Text pair (optional)");
        field.focus();
        field.type_text(pair);
        harness.run_steps(2);
    }
    harness.get_by_label("▶ Predict").click();
    wait_for(harness, "a prediction", |h| {
        has_label_containing(h, "by checkpoint-")
    });
}

fn assert_fits(harness: &mut Harness<'static, WickApp>, what: &str) {
    let cut = cut_at_smallest_window(harness);
    assert!(
        cut.is_empty(),
        "{what} at 800x600 cuts:\n{}",
        cut.join("\n")
    );
}

#[test]
fn entities_are_highlighted_in_the_text_and_listed_with_type_and_score() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    let data = tiny_ner_dataset(scratch.path());
    let checkpoint = train_task_run(scratch.path(), &data_dir, "ner-run", &data, 12);
    let text = "the great film was awful fun";
    let predictor = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    let TaskPrediction::Entities(expected) = predictor.predict_task(text, None).unwrap() else {
        panic!("a token classifier answers with entities");
    };
    assert!(!expected.is_empty(), "the tiny NER model finds entities");

    let mut harness = playground_on(scratch.path(), &data_dir);
    assert!(has_label_containing(&harness, "token classification"));
    assert!(
        !has_label(&harness, "Text pair (optional)"),
        "no pair for token classification"
    );
    predict(&mut harness, text, None);
    assert!(has_label_containing(
        &harness,
        "aggregation_strategy=\"simple\""
    ));
    // The legend names every entity type of the model.
    for kind in ["PER", "LOC"] {
        assert!(has_label(&harness, kind), "{kind} in the legend");
    }
    // The text, each entity followed by its type.
    let mut inline = String::new();
    let mut cursor = 0;
    for entity in &expected {
        inline.push_str(&text[cursor..entity.end]);
        inline.push_str(&entity.kind);
        cursor = entity.end;
    }
    inline.push_str(&text[cursor..]);
    assert!(
        has_label(&harness, &inline),
        "the highlighted text {inline:?}"
    );
    // One row per entity: its text and score as the pipeline's "simple" aggregation gives.
    for entity in &expected {
        assert!(has_label(&harness, &entity.text), "{entity:?} listed");
        assert!(
            has_label(&harness, &format!("{:.3}", entity.score)),
            "{entity:?}'s score"
        );
    }
    assert_fits(&mut harness, "the entities view");
}

#[test]
fn multi_label_shows_each_labels_probability_against_the_threshold() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    let data = tiny_multilabel_dataset(scratch.path());
    let checkpoint = train_task_run(scratch.path(), &data_dir, "tags-run", &data, 8);
    let text = "the film great dull";
    let predictor = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    let TaskPrediction::Labels { probs, threshold } = predictor.predict_task(text, None).unwrap()
    else {
        panic!("a multi-label model answers with labels");
    };

    assert_eq!(threshold, 0.5, "the default threshold");
    // The run ended by predicting the eval split with this checkpoint and tuning each
    // label's threshold there: the Playground applies those.
    let run = checkpoint.parent().unwrap();
    let written = wick::runs::read_predictions(run).unwrap().unwrap();
    assert_eq!(
        written.checkpoint.as_deref(),
        checkpoint.file_name().and_then(|n| n.to_str())
    );
    let tuned = written
        .tuned_thresholds
        .expect("tuned thresholds in predictions.json");
    assert_eq!(tuned.len(), probs.len());

    let mut harness = playground_on(scratch.path(), &data_dir);
    assert!(has_label_containing(&harness, "multi-label classification"));
    predict(&mut harness, text, None);
    let chosen: Vec<&str> = probs
        .iter()
        .zip(&tuned)
        .filter(|((_, p), t)| p >= t)
        .map(|((l, _), _)| l.as_str())
        .collect();
    if chosen.is_empty() {
        assert!(has_label(&harness, "no label"));
    } else {
        assert!(
            has_label(&harness, &chosen.join(", ")),
            "predicted {chosen:?}"
        );
    }
    for (label, prob) in &probs {
        assert!(has_label(&harness, label), "a row for {label}");
        assert!(
            has_label(&harness, &format!("{:.1}%", prob * 100.0)),
            "{label}'s bar says {prob}"
        );
    }
    for t in &tuned {
        assert!(
            has_label(&harness, &format!("threshold {t:.2}")),
            "the tuned threshold {t} is shown"
        );
    }
    assert!(has_label_containing(
        &harness,
        "thresholds tuned on the eval split"
    ));
    assert_fits(&mut harness, "the multi-label view");
}

#[test]
fn regression_shows_the_predicted_number_for_a_pair() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    let data = tiny_regression_dataset(scratch.path());
    let checkpoint = train_task_run(scratch.path(), &data_dir, "score-run", &data, 4);
    let (text, pair) = ("the film was great", "great great fun");
    let predictor = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    let TaskPrediction::Score(score) = predictor.predict_task(text, Some(pair)).unwrap() else {
        panic!("a regression model answers with a number");
    };

    let mut harness = playground_on(scratch.path(), &data_dir);
    assert!(has_label_containing(&harness, "regression"));
    predict(&mut harness, text, Some(pair));
    assert!(
        has_label(&harness, &format!("{score:.4}")),
        "the score {score}"
    );
    assert!(has_label_containing(&harness, "with the pair"));
    assert_fits(&mut harness, "the regression view");
}

/// A LoRA run: the Playground offers the merged model or the base with the adapter (the same
/// prediction either way), and exports the adapter alone in peft's layout.
#[test]
fn a_lora_run_predicts_with_its_adapter_on_the_base_and_exports_it() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("app");
    train_run(
        scratch.path(),
        &data_dir,
        "lora-run",
        "num_train_epochs = 1\nsave_strategy = \"epoch\"\nuse_lora = true\nlora_r = 4",
    );
    let mut harness = harness(
        &data_dir,
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label("▶  Playground").click();
    wait_for(&mut harness, "the LoRA run's weights picker", |h| {
        has_label(h, "Weights")
    });
    wait_for(&mut harness, "the merged model to load", |h| {
        has_label_containing(h, "checkpoint-5 loaded")
    });
    let text = harness.get_by_label("Text");
    text.focus();
    text.type_text("the film was great");
    harness.run_steps(2);
    harness.get_by_label("▶ Predict").click();
    wait_for(&mut harness, "a prediction", |h| has_label(h, "Predicted:"));
    let merged = predicted_percentages(&harness);

    harness.get_by_label("Weights").click();
    harness.run_steps(2);
    harness.get_by_label("base + adapter").click();
    harness.run_steps(2);
    wait_for(&mut harness, "the adapter on its base to load", |h| {
        has_label_containing(h, "checkpoint-5's adapter on its base model loaded")
    });
    assert!(!has_label_containing(
        &harness,
        "its adapter on the base model"
    ));
    harness.get_by_label("▶ Predict").click();
    wait_for(&mut harness, "the adapter's prediction", |h| {
        has_label_containing(h, "its adapter on the base model")
    });
    assert_eq!(predicted_percentages(&harness), merged);

    harness.get_by_label("LoRA adapter (peft)").click();
    let out = scratch.path().join("exported/adapter");
    let field = harness.get_by_label("Export folder");
    field.focus();
    field.type_text(&out.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("Export model…").click();
    wait_for(&mut harness, "the export confirmation", |h| {
        has_label_containing(h, "reloaded: max |Δlogit|")
    });
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "config.json",
    ] {
        assert!(out.join(file).is_file(), "the export lacks {file}");
    }
    assert!(!out.join("model.safetensors").exists());
}

/// The probability rows' percentages, in order.
fn predicted_percentages(harness: &Harness<'static, WickApp>) -> Vec<String> {
    harness
        .query_all_by_label_contains("%")
        .filter_map(|node| node.accesskit_node().label())
        .filter(|label| label.trim_end_matches('%').parse::<f32>().is_ok())
        .collect()
}
