//! Every panel, in the state a person uses it in, laid out at Wick's smallest window
//! (800x600): no widget is cut at the right edge. Each test fills a panel the way a user
//! would (a search with details open, a tokenized dataset, a preflight, a finished run, two
//! compared runs, a prediction), then checks the small window and the default one.

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::hub::mirror::{Mirror, MirrorOptions};
use wick::train::config::TrainConfig;

use crate::support;
use support::app::{add_trainable_repos, cut_at_smallest_window, harness, has_label, wait_for};
use support::tiny::{tiny_dataset, tiny_model, train_to_end};

const DEFAULT_SIZE: egui::Vec2 = egui::vec2(1280.0, 820.0);

/// Fails, listing the cut widgets, when the panel does not fit the smallest window; then
/// puts the window back to its default size.
fn assert_fits_smallest_window(harness: &mut Harness<'static, WickApp>, what: &str) {
    let cut = cut_at_smallest_window(harness);
    harness.set_size(DEFAULT_SIZE);
    harness.run_steps(3);
    assert!(
        cut.is_empty(),
        "{what} at 800x600 cuts {} widget(s):\n{}",
        cut.len(),
        cut.join("\n")
    );
}

fn app(data_dir: &Path, hub: HubSettings, tab: Tab) -> Harness<'static, WickApp> {
    let mut harness = harness(data_dir, hub);
    harness.state_mut().state.welcome_dismissed = true;
    harness.state_mut().state.tab = tab;
    harness.run_steps(3);
    harness
}

fn click(harness: &mut Harness<'static, WickApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

fn tiny_config(scratch: &Path, run_name: &str, learning_rate: f64) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
run_name = "{run_name}"
learning_rate = {learning_rate}
num_train_epochs = 2
per_device_train_batch_size = 8
logging_steps = 2
eval_strategy = "epoch"
save_strategy = "epoch"
seed = 5
"#,
        model = tiny_model(scratch).display(),
        data = tiny_dataset(scratch).display(),
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

/// The tiny Hub, the trainable repos, and a model whose id is as long as real ones.
fn hub_with_long_ids() -> support::Hub {
    let dir = tempfile::tempdir().unwrap();
    support::tiny_hub(dir.path());
    add_trainable_repos(dir.path());
    support::app::copy_dir(
        &dir.path().join("models/acme/tiny-bert-real"),
        &dir.path()
            .join("models/acme/sentence-transformers-paraphrase-multilingual-MiniLM-L12-v2"),
    );
    let mirror = Mirror::start(dir.path(), MirrorOptions::default()).unwrap();
    support::Hub {
        dir,
        home: tempfile::tempdir().unwrap(),
        mirror,
    }
}

/// Realistic run names: the folder name adds a timestamp in front.
const LONG_RUN_NAME: &str = "minilm-mrpc-lr2e-5-warmup0.1-wd0.01-seed42";

/// Two finished tiny runs with long names in `<data_dir>/runs`; returns their folders.
fn two_runs(scratch: &Path, data_dir: &Path) -> [PathBuf; 2] {
    let runs_root = data_dir.join("runs");
    [
        train_to_end(
            tiny_config(scratch, LONG_RUN_NAME, 1e-3),
            scratch,
            &runs_root,
        ),
        train_to_end(
            tiny_config(scratch, "minilm-mrpc-lr5e-5-no-warmup-seed7", 3e-3),
            scratch,
            &runs_root,
        ),
    ]
}

fn offline(scratch: &Path) -> HubSettings {
    HubSettings::with_home(&scratch.join("hf")).with_offline(true)
}

#[test]
fn hub_fits_the_smallest_window() {
    let hub = hub_with_long_ids();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), hub.settings(), Tab::Hub);

    // Models: a long id in the results and in the details.
    click(&mut harness, "Models");
    let field = harness.get_by_label("Search the Hub");
    field.focus();
    field.type_text("acme");
    harness.run_steps(2);
    click(&mut harness, "Search");
    let long_id = "acme/sentence-transformers-paraphrase-multilingual-MiniLM-L12-v2";
    wait_for(&mut harness, "the long model id in the results", |h| {
        has_label(h, long_id)
    });
    click(&mut harness, long_id);
    wait_for(&mut harness, "the model's details", |h| {
        h.state().state.hub.has_details() && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Hub with a model's details");

    // Datasets: details with features and first rows.
    click(&mut harness, "Datasets");
    click(&mut harness, "Search");
    wait_for(&mut harness, "acme/reviews in the results", |h| {
        has_label(h, "acme/reviews")
    });
    click(&mut harness, "acme/reviews");
    wait_for(&mut harness, "the dataset's details", |h| {
        has_label(h, "Dataset acme/reviews") && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Hub with a dataset's details");
}

#[test]
fn data_fits_the_smallest_window_with_a_report_and_a_batch() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Data);
    harness.state_mut().state.recipe = tiny_config(scratch.path(), LONG_RUN_NAME, 1e-3);
    wait_for(&mut harness, "the columns", |h| {
        has_label(h, "Text column") && !h.state().is_busy()
    });
    click(&mut harness, "Tokenize");
    wait_for(&mut harness, "the batch inspector", |h| {
        h.state().state.data.batch_view().is_some() && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Data with a report and a batch");
}

#[test]
fn train_fits_the_smallest_window_with_a_preflight_and_with_errors() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Train);
    harness.state_mut().state.recipe = tiny_config(scratch.path(), LONG_RUN_NAME, 1e-3);
    harness.run_steps(2);
    click(&mut harness, "Run preflight");
    wait_for(&mut harness, "the preflight result", |h| {
        h.state().state.train.preflight_report().is_some() && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Train with a preflight result");
    assert_form_clear_of_side_column(&mut harness);

    let recipe = &mut harness.state_mut().state.recipe;
    recipe.learning_rate = -1.0;
    recipe.per_device_train_batch_size = 0;
    recipe.warmup_ratio = 3.0;
    harness.run_steps(3);
    assert_fits_smallest_window(&mut harness, "Train with invalid values");
}

/// At the smallest window Train's side column (presets, TOML file, Run) sits beside the
/// form's fields or under them, never over them.
fn assert_form_clear_of_side_column(harness: &mut Harness<'static, WickApp>) {
    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    harness.run_steps(4);
    let bounds = |harness: &Harness<'static, WickApp>, label: &str| {
        let b = harness
            .get_by_label(label)
            .accesskit_node()
            .bounding_box()
            .unwrap_or_else(|| panic!("{label} has no bounds"));
        egui::Rect::from_min_max(
            egui::pos2(b.x0 as f32, b.y0 as f32),
            egui::pos2(b.x1 as f32, b.y1 as f32),
        )
    };
    let field = bounds(harness, "per_device_train_batch_size");
    let side = bounds(harness, "Presets");
    harness.set_size(DEFAULT_SIZE);
    harness.run_steps(3);
    assert!(
        field.width() >= 200.0,
        "the form's fields are {} points wide",
        field.width()
    );
    assert!(
        side.min.x >= field.max.x || side.min.y >= field.max.y,
        "the side column (Presets at {side:?}) covers the form's field at {field:?}"
    );
}

#[test]
fn monitor_fits_the_smallest_window_after_a_run() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Monitor);
    assert!(
        harness
            .state_mut()
            .start_training(tiny_config(scratch.path(), LONG_RUN_NAME, 2e-3))
    );
    wait_for(&mut harness, "the run to finish", |h| {
        h.state().state.monitor.live_run().is_some() && !h.state().state.monitor.is_training()
    });
    assert_fits_smallest_window(&mut harness, "Monitor after a run");
}

#[test]
fn runs_fits_the_smallest_window_comparing_two_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let runs = two_runs(scratch.path(), data_dir.path());
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Runs);
    wait_for(&mut harness, "two runs listed", |h| {
        h.state()
            .state
            .runs
            .rows()
            .is_some_and(|rows| rows.len() == 2)
    });
    harness.state_mut().state.runs.select_for_overlay(&runs);
    wait_for(&mut harness, "the compare grid", |h| {
        h.state().state.runs.overlay_points() > 0 && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Runs with two runs compared");

    // Further down: the export fields, the config diff and the per-example diff.
    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    harness.run_steps(3);
    for stop in ["Export metrics CSV", "Confusion matrix delta (B − A)"] {
        harness.get_by_label(stop).scroll_to_me();
        harness.run_steps(3);
        let cut = cut_at_smallest_window(&mut harness);
        assert!(
            cut.is_empty(),
            "Runs scrolled to {stop:?} at 800x600 cuts {} widget(s):\n{}",
            cut.len(),
            cut.join("\n")
        );
    }
}

#[test]
fn playground_fits_the_smallest_window_with_a_prediction() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    two_runs(scratch.path(), data_dir.path());
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Playground);
    harness.state_mut().state.playground.text =
        "honestly the soundtrack was superb from start to finish".into();
    wait_for(&mut harness, "the runs to pick from", |h| {
        has_label(h, "▶ Predict") && !h.state().is_busy()
    });
    click(&mut harness, "▶ Predict");
    wait_for(&mut harness, "a prediction", |h| {
        h.state().state.playground.has_prediction()
    });
    assert_fits_smallest_window(&mut harness, "Playground with a prediction");
}

#[test]
fn data_fits_the_smallest_window_with_token_labels_and_the_class_weights_offer() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), offline(scratch.path()), Tab::Data);
    harness.state_mut().state.recipe = TrainConfig {
        model: tiny_model(scratch.path()).display().to_string(),
        dataset: support::tiny::tiny_ner_dataset(scratch.path())
            .display()
            .to_string(),
        ..Default::default()
    };
    wait_for(&mut harness, "the columns", |h| {
        has_label(h, "Label every piece") && !h.state().is_busy()
    });
    click(&mut harness, "Tokenize");
    wait_for(&mut harness, "the batch inspector", |h| {
        h.state().state.data.batch_view().is_some() && !h.state().is_busy()
    });
    assert_fits_smallest_window(&mut harness, "Data with token labels");

    // Further down: the entity counts and the class-weights offer.
    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    harness.run_steps(3);
    harness
        .get_by_label("Weight the classes (class_weights = balanced)")
        .scroll_to_me();
    harness.run_steps(6);
    let cut = cut_at_smallest_window(&mut harness);
    assert!(
        cut.is_empty(),
        "Data scrolled to the class-weights offer at 800x600 cuts {} widget(s):\n{}",
        cut.len(),
        cut.join("\n")
    );
}
