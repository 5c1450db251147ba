//! The Train panel driven through the accessibility tree: presets change the fields, bad
//! values are all listed in words and disable Start without moving the fields, TOML export and import round-trip,
//! preflight shows its card, and Start trains the recipe until Monitor shows it finished.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::train::TrainConfig;

use crate::support;
use support::app::{harness, has_label, has_label_containing, wait_for};
use support::tiny::{tiny_dataset, tiny_model};

const START: &str = "▶ Start training";

/// The app on the Train tab, offline, with `recipe` as the run being put together.
fn on_train(dir: &Path, recipe: TrainConfig) -> Harness<'static, WickApp> {
    let mut harness = harness(
        dir,
        HubSettings::with_home(&dir.join("hf")).with_offline(true),
    );
    harness.state_mut().state.recipe = recipe;
    harness.run_steps(2);
    harness.get_by_label(&Tab::Train.nav_label()).click();
    harness.run_steps(3);
    assert_eq!(harness.state().state.tab, Tab::Train);
    harness
}

fn named(model: &str, dataset: &str) -> TrainConfig {
    TrainConfig {
        model: model.into(),
        dataset: dataset.into(),
        ..TrainConfig::default()
    }
}

/// A recipe on the tiny BERT and the tiny review pairs, made in `dir`.
fn tiny_recipe(dir: &Path) -> TrainConfig {
    TrainConfig {
        per_device_train_batch_size: 4,
        ..named(
            &tiny_model(dir).display().to_string(),
            &tiny_dataset(dir).display().to_string(),
        )
    }
}

fn field(harness: &Harness<'static, WickApp>, key: &str) -> String {
    harness
        .get_by_label(key)
        .value()
        .unwrap_or_else(|| panic!("the {key} field has no value"))
}

fn start_enabled(harness: &Harness<'static, WickApp>) -> bool {
    !harness.get_by_label(START).accesskit_node().is_disabled()
}

fn set_field(harness: &mut Harness<'static, WickApp>, key: &str, text: &str) {
    let node = harness.get_by_label(key);
    node.focus();
    node.set_text_value_accesskit(text);
    harness.run_steps(3);
}

#[test]
fn presets_change_the_fields_and_keep_the_chosen_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = named("acme/model", "acme/data");
    recipe.learning_rate = 1e-3;
    let mut harness = on_train(dir.path(), recipe);
    assert_eq!(field(&harness, "learning_rate"), "1e-3");
    assert_eq!(field(&harness, "max_steps"), "-1");

    harness.get_by_label("Quick test").click();
    harness.run_steps(3);
    assert_eq!(field(&harness, "max_steps"), "30");

    harness
        .get_by_label("Careful (warmup + early stopping)")
        .click();
    harness.run_steps(3);
    assert_eq!(field(&harness, "num_train_epochs"), "5");
    assert_eq!(field(&harness, "max_steps"), "-1");
    assert!(harness.state().state.recipe.load_best_model_at_end);

    harness.get_by_label("Course recipe (chapter 3)").click();
    harness.run_steps(3);
    assert_eq!(field(&harness, "learning_rate"), "5e-5");
    assert_eq!(field(&harness, "num_train_epochs"), "3");
    assert_eq!(field(&harness, "per_device_train_batch_size"), "8");
    assert_eq!(
        field(&harness, "model"),
        "acme/model",
        "the chosen model stays"
    );
    assert_eq!(
        field(&harness, "dataset"),
        "acme/data",
        "the chosen data stays"
    );
    assert!(start_enabled(&harness));
}

#[test]
fn the_course_recipe_fills_in_minilm_and_mrpc_when_nothing_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = on_train(dir.path(), TrainConfig::default());
    assert!(!start_enabled(&harness), "no model or data yet");
    assert!(
        has_label(&harness, "model is required"),
        "the problems box says the model is required"
    );
    harness.get_by_label("Course recipe (chapter 3)").click();
    harness.run_steps(3);
    assert_eq!(
        field(&harness, "model"),
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(field(&harness, "dataset"), "nyu-mll/glue");
    assert_eq!(field(&harness, "dataset_config"), "mrpc");
    assert!(start_enabled(&harness));
}

#[test]
fn an_invalid_value_is_listed_in_words_and_disables_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = on_train(dir.path(), named("acme/model", "acme/data"));
    assert!(start_enabled(&harness));

    // A value that is not a number: the recipe keeps the old one.
    set_field(&mut harness, "learning_rate", "fast");
    assert!(!start_enabled(&harness));
    assert!(
        has_label(
            &harness,
            "learning_rate must be a number (like 0.1 or 5e-5)"
        ),
        "the parse error in words"
    );
    assert!(
        !has_label_containing(&harness, "invalid type"),
        "not serde's"
    );
    assert_eq!(harness.state().state.recipe.learning_rate, 5e-5);

    // A number that validation refuses.
    set_field(&mut harness, "learning_rate", "-1");
    assert!(has_label(
        &harness,
        "learning_rate must be a positive number"
    ));
    assert!(!start_enabled(&harness));
    harness.get_by_label(START).click();
    harness.run_steps(3);
    assert_eq!(harness.state().state.tab, Tab::Train, "Start did nothing");

    set_field(&mut harness, "learning_rate", "2e-5");
    assert!(start_enabled(&harness));
    assert_eq!(harness.state().state.recipe.learning_rate, 2e-5);

    // In a closed group: it opens on click and the error is listed.
    harness.get_by_label("Advanced").click();
    harness.run_steps(3);
    set_field(&mut harness, "max_length", "0");
    assert!(has_label(
        &harness,
        "max_length must be at least 1 (or unset)"
    ));
    assert!(!start_enabled(&harness));
    set_field(&mut harness, "max_length", "");
    assert!(start_enabled(&harness));
    assert_eq!(harness.state().state.recipe.max_length, None);
}

/// The top of the field named `key`, in points.
fn field_top(harness: &Harness<'static, WickApp>, key: &str) -> f64 {
    harness
        .get_by_label(key)
        .accesskit_node()
        .bounding_box()
        .unwrap_or_else(|| panic!("the {key} field has no bounds"))
        .y0
}

#[test]
fn every_error_is_listed_at_once_and_no_field_moves() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = on_train(dir.path(), named("acme/model", "acme/data"));
    let seed_top = field_top(&harness, "seed");
    let max_steps_top = field_top(&harness, "max_steps");

    set_field(&mut harness, "learning_rate", "0");
    set_field(&mut harness, "per_device_train_batch_size", "many");
    set_field(&mut harness, "max_steps", "-5");
    harness.state_mut().state.recipe.warmup_ratio = 3.0;
    harness.run_steps(3);

    for sentence in [
        "learning_rate must be a positive number",
        "per_device_train_batch_size must be a whole number (0 or more)",
        "max_steps must be -1 (use num_train_epochs) or positive",
        "warmup_ratio must be in [0, 1]",
    ] {
        assert!(has_label(&harness, sentence), "{sentence} is listed");
    }
    assert!(has_label(&harness, "⚠ Fix 4 things before Start"));
    assert!(!has_label_containing(&harness, "invalid"), "no serde text");
    assert!(!start_enabled(&harness));
    // Fields under (and between) the invalid ones stay where they were.
    assert_eq!(field_top(&harness, "seed"), seed_top);
    assert_eq!(field_top(&harness, "max_steps"), max_steps_top);
    // The list is at the body text size, not the small one.
    let line = harness.get_by_label("learning_rate must be a positive number");
    let height = line.accesskit_node().bounding_box().unwrap().height();
    assert!(height >= 15.0, "the error line is {height} points high");
}

#[test]
fn export_then_import_round_trips_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = named(&dir.path().join("model").display().to_string(), "acme/data");
    recipe.learning_rate = 3e-5;
    recipe.max_length = Some(64);
    recipe.eval_split = None;
    recipe.warmup_ratio = 0.1;
    recipe.lr_scheduler_type = wick::train::config::LrSchedulerType::Cosine;
    let mut harness = on_train(dir.path(), recipe.clone());
    let file = dir.path().join("exported.toml");
    set_field(&mut harness, "TOML path", &file.display().to_string());

    harness.get_by_label("Save as TOML…").click();
    wait_for(&mut harness, "the exported file", |_| file.is_file());
    wait_for(&mut harness, "the export to be reported", |h| {
        h.state()
            .toasts()
            .items()
            .iter()
            .any(|t| t.title.starts_with("Exported"))
    });
    // What `wick train --config` reads from it is the same recipe.
    let read_back = TrainConfig::from_file(&file).expect("the exported file is valid");
    assert_eq!(read_back, recipe);

    harness.state_mut().state.recipe.learning_rate = 1.0;
    harness.state_mut().state.recipe.model = "other/model".into();
    harness.run_steps(2);
    harness.get_by_label("Open TOML…").click();
    wait_for(&mut harness, "the imported recipe", |h| {
        h.state().state.recipe.learning_rate == 3e-5
    });
    assert_eq!(harness.state().state.recipe, recipe);
    assert_eq!(field(&harness, "learning_rate"), "3e-5");
}

#[test]
fn importing_a_file_with_an_unknown_key_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "model = \"m\"\nlearning_rat = 1e-4\n").unwrap();
    let mut harness = on_train(dir.path(), named("acme/model", "acme/data"));
    set_field(&mut harness, "TOML path", &file.display().to_string());
    harness.get_by_label("Open TOML…").click();
    wait_for(&mut harness, "the import error", |h| {
        has_label(h, "⚠ Could not import the recipe")
    });
    assert!(has_label_containing(
        &harness,
        "did you mean `learning_rate`"
    ));
    assert_eq!(
        harness.state().state.recipe.model,
        "acme/model",
        "unchanged"
    );
}

#[test]
fn preflight_on_the_tiny_model_shows_its_result_card() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = on_train(dir.path(), tiny_recipe(dir.path()));
    harness.get_by_label("Run preflight").click();
    wait_for(&mut harness, "the preflight result", |h| {
        h.state().state.train.preflight_report().is_some()
    });
    assert!(has_label(&harness, "Preflight result"));
    assert!(has_label(&harness, "Step time"));
    assert!(has_label(&harness, "ETA"));
    assert!(has_label_containing(
        &harness,
        "longest rows of the train split"
    ));
    let report = harness.state().state.train.preflight_report().unwrap();
    // 40 rows, batch 4: 10 steps per epoch, 3 epochs.
    assert_eq!(report.total_steps, Some(30));
    assert!(report.step_time_s > 0.0);
    assert!(has_label(&harness, "30 (10 per epoch)"));
}

#[test]
fn preflight_says_when_the_recipe_saves_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = tiny_recipe(dir.path());
    recipe.save_strategy = wick::train::config::SaveStrategy::No;
    recipe.load_best_model_at_end = false;
    let mut harness = on_train(dir.path(), recipe);
    harness.get_by_label("Run preflight").click();
    wait_for(&mut harness, "the preflight result", |h| {
        h.state().state.train.preflight_report().is_some()
    });
    assert!(has_label_containing(
        &harness,
        "save_strategy = \"no\": no checkpoint"
    ));
}

#[test]
fn start_trains_the_recipe_and_monitor_shows_it_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = tiny_recipe(dir.path());
    recipe.max_steps = 6;
    recipe.logging_steps = 1;
    recipe.eval_strategy = wick::train::config::IntervalStrategy::Steps;
    recipe.eval_steps = Some(6);
    recipe.save_strategy = wick::train::config::SaveStrategy::No;
    let mut harness = on_train(dir.path(), recipe.clone());
    harness.get_by_label(START).click();
    harness.run_steps(2);
    assert_eq!(harness.state().state.tab, Tab::Monitor);
    wait_for(&mut harness, "Monitor to show training points", |h| {
        h.state()
            .state
            .monitor
            .live_run()
            .is_some_and(|run| !run.train_loss.is_empty())
    });
    wait_for(&mut harness, "the run to finish", |h| {
        !h.state().state.monitor.is_training()
    });
    let run = harness.state().state.monitor.live_run().unwrap();
    assert_eq!(run.config, recipe, "Start trains exactly the recipe");
    match &run.phase {
        wick::app::panels::monitor::Phase::Finished(summary) => {
            assert_eq!(summary.global_step, 6)
        }
        other => panic!("expected a finished run, got {other:?}"),
    }
    assert!(!run.eval_metrics.is_empty(), "evaluated at step 6");
    harness.run_steps(2);
    assert!(
        has_label(
            &harness,
            "The run finished: every logged step and evaluation."
        ),
        "the Monitor subtitle says the run ended"
    );
    assert!(!has_label(&harness, "training · step 6/6"));
}

#[test]
fn the_recipe_exports_as_an_accelerate_project() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = on_train(dir.path(), tiny_recipe(dir.path()));
    let out = dir.path().join("accelerate-project");
    set_field(&mut harness, "Project folder", &out.display().to_string());
    harness
        .get_by_label("Export as Accelerate project…")
        .click();
    wait_for(&mut harness, "the export to finish", |h| {
        has_label_containing(h, "Wrote 4 files")
    });
    for file in [
        "train.py",
        "accelerate_config.yaml",
        "requirements.txt",
        "README.md",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let script = std::fs::read_to_string(out.join("train.py")).unwrap();
    assert!(script.contains("per_device_train_batch_size"), "{script}");
}
