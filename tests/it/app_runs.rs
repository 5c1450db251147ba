//! The Runs panel driven through the accessibility tree, on two real tiny runs trained by
//! the lib's trainer: listing, overlay, config diff, per-example diff, CSV export, rename,
//! fork and delete (refused while a process writes the run); and for each task beyond
//! single-label, two runs' `predictions.json` checked against the data and their diff
//! (entities found by one run only, the largest error changes, changed label sets).

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::runs::{RunDir, RunStatus};
use wick::train::config::TrainConfig;

use crate::support;
use support::app::{harness, has_label, has_label_containing, wait_for};
use support::tiny::{
    tiny_dataset, tiny_encoder, tiny_model, tiny_multilabel_dataset, tiny_ner_dataset,
    tiny_regression_dataset, train_to_end,
};

fn config(dir: &Path, run_name: &str, learning_rate: f64) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
run_name = "{run_name}"
learning_rate = {learning_rate}
num_train_epochs = 1
per_device_train_batch_size = 4
per_device_eval_batch_size = 6
logging_steps = 2
eval_strategy = "epoch"
save_strategy = "epoch"
seed = 7
"#,
        model = tiny_model(dir).display(),
        data = tiny_dataset(dir).display(),
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

/// Replaces the trainer's `predictions.json` with one for the tiny validation split (12
/// rows) that is right except on the `wrong` rows, so the flips to expect are known.
fn write_predictions(run: &Path, wrong: &[usize]) {
    let path = run.join("predictions.json");
    let rows: Vec<serde_json::Value> = (0..12)
        .map(|i| {
            let label = (i + 1000) % 3;
            let prediction = if wrong.contains(&i) { (label + 1) % 3 } else { label };
            serde_json::json!({"row": i, "label": label, "prediction": prediction,
                "probs": [0.2, 0.3, 0.5], "text": format!("the film was number {i}"), "text_pair": null})
        })
        .collect();
    let doc = serde_json::json!({"split": "validation", "step": 10, "checkpoint": "checkpoint-10",
        "label_names": ["neg", "neu", "pos"], "metrics": {}, "rows": rows});
    std::fs::write(path, doc.to_string()).unwrap();
}

fn open_runs(harness: &mut Harness<'static, WickApp>, expected_rows: usize) {
    harness.run_steps(2);
    harness.get_by_label(&Tab::Runs.nav_label()).click();
    wait_for(harness, "the runs to be listed", |h| {
        h.state()
            .state
            .runs
            .rows()
            .is_some_and(|rows| rows.len() == expected_rows)
    });
}

fn tick(harness: &mut Harness<'static, WickApp>, name: &str) {
    // The table's checkbox comes first; the overlay's legend has one of the same name.
    harness
        .get_all_by_role_and_label(egui::accesskit::Role::CheckBox, name)
        .next()
        .unwrap()
        .click_accesskit();
    harness.run_steps(2);
}

fn click(harness: &mut Harness<'static, WickApp>, label: &str) {
    harness.get_by_label(label).click_accesskit();
    harness.run_steps(2);
}

fn set_text(harness: &mut Harness<'static, WickApp>, label: &str, text: &str) {
    let field = harness.get_by_label(label);
    field.focus();
    field.set_text_value_accesskit(text);
    harness.run_steps(2);
}

/// The compare grid: one panel per series (loss first), a tooltip over a panel listing every
/// shown run's value at that x, and a run hidden from the legend leaves every panel.
fn compare_grid_has_a_panel_per_series_a_colour_per_run_hide_and_a_hover_readout(
    harness: &mut Harness<'static, WickApp>,
) {
    let panels = harness.state().state.runs.panels.clone();
    assert!(
        panels.len() >= 2 && panels[0] == "loss",
        "panels: {panels:?}"
    );
    assert!(has_label(harness, "Smoothing"));
    let loss_plot = egui::Id::unique(("runs-compare", "loss"));
    let memory =
        egui_plot::PlotMemory::load(&harness.ctx, loss_plot).expect("the loss panel is drawn");
    let frame = *memory.transform().frame();
    let hover = |harness: &mut Harness<'static, WickApp>| {
        harness.hover_at(frame.center() + egui::vec2(3.0, 0.0));
        harness.run_steps(2);
        harness.hover_at(frame.center());
        harness.run_steps(40);
    };
    let readout = |harness: &Harness<'static, WickApp>| {
        harness
            .query_all_by_label_contains("lr-small: ")
            .next()
            .map(|node| format!("{:?}", node.accesskit_node().value()))
    };
    hover(harness);
    assert!(
        has_label_containing(harness, "lr-small: ") && has_label_containing(harness, "lr-big: "),
        "the hover readout lists both runs"
    );
    // Smoothing (EMA) applies to the compared curves: the same x reads another value.
    let raw = readout(harness);
    harness.state_mut().state.runs.smoothing = 0.9;
    hover(harness);
    let smoothed = readout(harness);
    assert!(
        raw.is_some() && smoothed.is_some() && raw != smoothed,
        "{raw:?} vs {smoothed:?}"
    );
    harness.state_mut().state.runs.smoothing = 0.0;
    // The legend's checkbox comes after the table's.
    harness
        .get_all_by_role_and_label(egui::accesskit::Role::CheckBox, "lr-big")
        .nth(1)
        .unwrap()
        .click_accesskit();
    harness.run_steps(2);
    hover(harness);
    assert!(
        has_label_containing(harness, "lr-small: ") && !has_label_containing(harness, "lr-big: "),
        "a hidden run leaves the readout"
    );
    harness
        .get_all_by_role_and_label(egui::accesskit::Role::CheckBox, "lr-big")
        .nth(1)
        .unwrap()
        .click_accesskit();
    harness.hover_at(egui::pos2(1.0, 1.0));
    harness.run_steps(2);
}

#[test]
fn two_real_runs_are_listed_compared_exported_renamed_forked_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let small = train_to_end(config(dir.path(), "lr-small", 1e-3), dir.path(), &runs_root);
    let big = train_to_end(config(dir.path(), "lr-big", 3e-3), dir.path(), &runs_root);
    write_predictions(&small, &[0, 1]);
    write_predictions(&big, &[0, 2, 5]);

    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    open_runs(&mut harness, 2);
    assert!(has_label(&harness, "lr-small") && has_label(&harness, "lr-big"));
    assert!(has_label(&harness, "finished"), "the status column");

    // Tick both: A = lr-small, B = lr-big.
    tick(&mut harness, "lr-small");
    tick(&mut harness, "lr-big");
    wait_for(&mut harness, "both runs' files to be read", |h| {
        let runs = &h.state().state.runs;
        runs.selected().len() == 2 && runs.selected().iter().all(|p| runs.is_loaded(p))
    });
    assert!(has_label(&harness, "Curves") && has_label(&harness, "Series"));
    compare_grid_has_a_panel_per_series_a_colour_per_run_hide_and_a_hover_readout(&mut harness);
    // The config diff shows learning_rate and nothing else (run_name and output_dir are noise).
    assert!(
        has_label(&harness, "learning_rate"),
        "the config diff names learning_rate"
    );
    for same in [
        "seed",
        "model",
        "num_train_epochs",
        "run_name",
        "output_dir",
    ] {
        assert!(!has_label(&harness, same), "{same} is not a difference");
    }
    assert!(has_label(&harness, "0.001") && has_label(&harness, "0.003"));
    // Per-example diff: rows 1, 2 and 5 flipped (row 0 is wrong in both, the same way).
    assert!(
        has_label_containing(
            &harness,
            "3 of 12 validation examples flipped: B fixed 1, broke 2"
        ),
        "the flip summary"
    );
    assert!(has_label(&harness, "Confusion matrix delta (B − A)"));

    // CSV export of both runs.
    let csv_path = dir.path().join("metrics.csv");
    set_text(&mut harness, "CSV file", &csv_path.display().to_string());
    click(&mut harness, "Export metrics CSV");
    wait_for(&mut harness, "the CSV file", |_| csv_path.exists());
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("run,step,epoch,elapsed_s,"), "{header}");
    assert!(
        header.contains(",loss,") && header.contains("eval_loss"),
        "{header}"
    );
    assert!(
        csv.lines().any(|l| l.starts_with("lr-small,"))
            && csv.lines().any(|l| l.starts_with("lr-big,"))
    );

    // Rename the focused run (lr-big, ticked last): run.json changes, the folder does not.
    set_text(&mut harness, "Run name", "big learning rate");
    click(&mut harness, "Rename");
    wait_for(&mut harness, "the renamed run in the table", |h| {
        has_label(h, "big learning rate")
    });
    let info = RunDir::open(&big).unwrap().info().clone();
    assert_eq!(info.run_name.as_deref(), Some("big learning rate"));
    assert!(big.is_dir());

    // Fork from its checkpoint: the recipe trains from those weights as a new run.
    wait_for(&mut harness, "the checkpoint picker", |h| {
        has_label(h, "Fork…")
    });
    click(&mut harness, "Fork…");
    assert_eq!(harness.state().state.tab, Tab::Train);
    let recipe = &harness.state().state.recipe;
    let checkpoint = PathBuf::from(&recipe.model);
    assert_eq!(checkpoint.parent(), Some(big.as_path()));
    let step = checkpoint
        .file_name()
        .unwrap()
        .to_string_lossy()
        .strip_prefix("checkpoint-")
        .expect("the model is a checkpoint folder")
        .to_string();
    assert_eq!(
        recipe.run_name.as_deref(),
        Some(format!("big learning rate-fork-{step}").as_str())
    );
    assert_eq!(
        (
            recipe.output_dir.as_deref(),
            recipe.resume_from_checkpoint.as_deref()
        ),
        (None, None)
    );
    assert_eq!(recipe.learning_rate, 3e-3);

    // Delete lr-small (unticking it focuses it) after confirming.
    harness.get_by_label(&Tab::Runs.nav_label()).click();
    harness.run_steps(2);
    tick(&mut harness, "lr-small");
    click(&mut harness, "Delete…");
    assert!(has_label(&harness, "Delete this run?"));
    click(&mut harness, "Delete run");
    wait_for(&mut harness, "lr-small to leave the table", |h| {
        h.state()
            .state
            .runs
            .rows()
            .is_some_and(|rows| rows.len() == 1)
    });
    assert!(!small.exists());
    assert!(big.exists());
}

#[test]
fn a_run_being_trained_is_not_deleted_and_shows_as_interrupted_once_its_writer_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let config = TrainConfig {
        model: "acme/tiny".into(),
        dataset: "acme/reviews".into(),
        run_name: Some("crashed run".into()),
        ..TrainConfig::default()
    };
    // A created run holds its folder's lock, as a trainer does while it trains.
    let run = RunDir::create(&runs_root, "20260101-000000-crashed", &config).unwrap();
    assert_eq!(run.info().status, RunStatus::Running);
    let path = run.path().to_path_buf();

    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    open_runs(&mut harness, 1);
    assert!(has_label(&harness, "running"));
    tick(&mut harness, "crashed run");
    click(&mut harness, "Delete…");
    let pid = std::process::id();
    assert!(has_label_containing(
        &harness,
        &format!("Process {pid} is training this run now")
    ));
    let delete = harness.get_by_label("Delete run");
    assert!(
        delete.accesskit_node().is_disabled(),
        "refused while the run is written"
    );
    click(&mut harness, "Delete run");
    harness.run_steps(5);
    assert!(path.exists());
    click(&mut harness, "Cancel");

    // The writer dies without a word: run.json still says running, nobody holds the lock.
    drop(run);
    click(&mut harness, "Refresh");
    wait_for(&mut harness, "the run to show as interrupted", |h| {
        has_label(h, "interrupted")
    });
    click(&mut harness, "Delete…");
    click(&mut harness, "Delete run");
    wait_for(&mut harness, "the run to be deleted", |h| {
        h.state().state.runs.rows().is_some_and(<[_]>::is_empty)
    });
    assert!(!path.exists());
    assert!(has_label_containing(&harness, "No runs yet"));
}

/// At the smallest window the table keeps the run, its task, status, metric and duration in
/// view (nothing cut past the edge), and the run's tooltip gives the columns it leaves out;
/// the default window shows every column.
#[test]
fn a_narrow_table_keeps_its_key_columns_and_the_run_tooltip_has_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        model: "acme/tiny-bert".into(),
        dataset: "acme/reviews".into(),
        run_name: Some("narrow run".into()),
        ..TrainConfig::default()
    };
    // Its writer gone at once: listed as interrupted.
    drop(RunDir::create(&dir.path().join("runs"), "20260101-000000-narrow", &config).unwrap());
    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    let all = [
        "Run (tick to compare)",
        "Task",
        "Model",
        "Dataset",
        "Status",
        "Last eval",
        "Training time",
        "Started (UTC)",
    ];
    let kept = [
        "Run (tick to compare)",
        "Task",
        "Status",
        "Last eval",
        "Training time",
    ];
    let assert_in_view = |harness: &Harness<'static, WickApp>, titles: &[&str], width: f32| {
        for title in titles {
            let rect = harness.get_by_label(title).rect();
            assert!(rect.max.x <= width, "{title} ends at x {}", rect.max.x);
        }
    };

    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    open_runs(&mut harness, 1);
    assert_in_view(&harness, &kept, wick::app::MIN_WINDOW_SIZE.x);
    for left_out in ["Model", "Dataset", "Started (UTC)"] {
        assert!(!has_label(&harness, left_out), "{left_out} is left out");
    }
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "narrow run")
        .hover();
    harness.run_steps(40);
    for line in [
        "Folder: 20260101-000000-narrow",
        "Model: tiny-bert",
        "Dataset: reviews",
        "Started (UTC): 20",
    ] {
        assert!(
            has_label_containing(&harness, line),
            "the tooltip has {line:?}"
        );
    }

    harness.hover_at(egui::pos2(1.0, 1.0));
    harness.set_size(egui::vec2(1280.0, 820.0));
    harness.run_steps(3);
    assert_in_view(&harness, &all, 1280.0);
}

/// A run folder with no logs yet (its lock released, as after a crash).
fn empty_run(runs_root: &Path, name: &str) -> PathBuf {
    let config = TrainConfig {
        model: "acme/tiny".into(),
        dataset: "acme/reviews".into(),
        run_name: Some(name.into()),
        ..TrainConfig::default()
    };
    let run = RunDir::create(runs_root, &format!("20260101-000000-{name}"), &config).unwrap();
    run.path().to_path_buf()
}

/// The panel takes its tasks' results every frame, whichever tab shows: the runs are listed
/// and a ticked run is read while Train is open.
#[test]
fn runs_are_listed_and_read_while_another_tab_shows() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let path = empty_run(&runs_root, "elsewhere");
    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    harness.run_steps(2);
    harness.get_by_label(&Tab::Train.nav_label()).click();
    harness.run_steps(1);
    assert_eq!(harness.state().state.tab, Tab::Train);
    wait_for(
        &mut harness,
        "the runs to be listed off the Runs tab",
        |h| {
            h.state()
                .state
                .runs
                .rows()
                .is_some_and(|rows| rows.len() == 1)
        },
    );
    harness
        .state_mut()
        .state
        .runs
        .select_for_overlay(std::slice::from_ref(&path));
    // The read starts when Runs is drawn next (as a click would), then finishes off it.
    harness.get_by_label(&Tab::Runs.nav_label()).click();
    harness.run_steps(1);
    harness.get_by_label(&Tab::Train.nav_label()).click();
    wait_for(
        &mut harness,
        "the ticked run to be read off the Runs tab",
        |h| h.state().state.tab == Tab::Train && h.state().state.runs.is_loaded(&path),
    );
}

/// A CSV export that cannot be written says why (the path and the OS's reason), in an alert
/// and a toast, and the panel keeps working.
#[test]
fn a_csv_export_that_cannot_be_written_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let path = empty_run(&runs_root, "unsaved");
    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    open_runs(&mut harness, 1);
    tick(&mut harness, "unsaved");
    wait_for(&mut harness, "the run's files to be read", |h| {
        h.state().state.runs.is_loaded(&path)
    });
    let csv_path = dir.path().join("no-such-folder").join("metrics.csv");
    set_text(&mut harness, "CSV file", &csv_path.display().to_string());
    click(&mut harness, "Export metrics CSV");
    wait_for(&mut harness, "the export's error", |h| {
        has_label(h, "Could not save the metrics")
    });
    assert!(has_label_containing(
        &harness,
        &format!("{}: ", csv_path.display())
    ));
    assert!(!csv_path.exists());
}

/// Two runs of a task's tiny data (`tiny_encoder`, so the head is the task's), named
/// `<prefix>-a` and `<prefix>-b`, in `runs_root`; B's recipe adds `extra_b`.
fn two_task_runs(
    dir: &Path,
    data: &Path,
    prefix: &str,
    runs_root: &Path,
    extra_b: &str,
) -> [PathBuf; 2] {
    let model = tiny_encoder(dir);
    ["a", "b"].map(|side| {
        let text = format!(
            r#"
model = "{model}"
dataset = "{data}"
run_name = "{prefix}-{side}"
learning_rate = {lr}
num_train_epochs = 2
per_device_train_batch_size = 4
logging_steps = 5
eval_strategy = "epoch"
save_strategy = "epoch"
save_total_limit = 1
seed = 3
{extra}
"#,
            model = model.display(),
            data = data.display(),
            lr = if side == "a" { 1e-3 } else { 3e-3 },
            extra = if side == "b" { extra_b } else { "" },
        );
        let config = TrainConfig::from_toml_str(&text).expect("test config is valid");
        train_to_end(config, dir, runs_root)
    })
}

/// The rows of a tiny dataset's `validation.jsonl`.
fn validation_rows(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("data/validation.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The last evaluation's value of `key` in a run's `metrics.jsonl`.
fn last_logged(run: &Path, key: &str) -> serde_json::Value {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|record| record.get(key).cloned())
        .next_back()
        .unwrap_or_else(|| panic!("{key} was logged"))
}

/// Opens Runs with two runs, ticks both (A first) and waits for their files.
fn compare_two(dir: &Path, names: [&str; 2]) -> Harness<'static, WickApp> {
    let mut harness = harness(
        dir,
        HubSettings::with_home(&dir.join("hf")).with_offline(true),
    );
    open_runs(&mut harness, 2);
    for name in names {
        tick(&mut harness, name);
    }
    wait_for(&mut harness, "both runs' files to be read", |h| {
        let runs = &h.state().state.runs;
        runs.selected().len() == 2 && runs.selected().iter().all(|p| runs.is_loaded(p))
    });
    harness
}

/// Labels reading `task` in the table's task column (under its header).
fn task_cells(harness: &Harness<'static, WickApp>, task: &str) -> usize {
    let column = harness.get_by_label("Task").rect().min.x;
    harness
        .query_all_by_role_and_label(egui::accesskit::Role::Label, task)
        .filter(|node| (node.rect().min.x - column).abs() < 1.0)
        .count()
}

/// Scrolls the page to the label containing `text` (a table's rows are drawn only in view).
fn scroll_to(harness: &mut Harness<'static, WickApp>, text: &str) {
    harness.get_by_label_contains(text).scroll_to_me();
    harness.run_steps(3);
}

/// At 800x600, scrolled to `stop`, nothing is cut at the right edge.
fn fits_smallest_window_at(harness: &mut Harness<'static, WickApp>, stop: &str) {
    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    harness.run_steps(3);
    harness.get_by_label_contains(stop).scroll_to_me();
    harness.run_steps(3);
    let cut = support::app::cut_at_smallest_window(harness);
    assert!(
        cut.is_empty(),
        "Runs scrolled to {stop:?} at 800x600 cuts {} widget(s):\n{}",
        cut.len(),
        cut.join("\n")
    );
}

/// The entities of IOB2 tags as (type, start, end) word spans.
fn iob2_entities(tags: &[&str]) -> Vec<(String, usize, usize)> {
    let mut entities: Vec<(String, usize, usize)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        match tag.split_once('-') {
            Some(("I", kind)) if entities.last().is_some_and(|e| e.0 == kind && e.2 == i) => {
                entities.last_mut().unwrap().2 = i + 1;
            }
            Some((_, kind)) => entities.push((kind.to_string(), i, i + 1)),
            None => {}
        }
    }
    entities
}

/// Token rows as the data has them: its words, its tags (by name), the entities IOB2 reads
/// off them, and a predicted tag per word.
fn check_token_rows(rows: &[serde_json::Value], names: &[String], gold: &[serde_json::Value]) {
    for (row, data_row) in rows.iter().zip(gold) {
        assert_eq!(row["words"], data_row["tokens"]);
        let tags: Vec<&str> = row["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| names[id.as_u64().unwrap() as usize].as_str())
            .collect();
        assert_eq!(serde_json::json!(tags), data_row["ner_tags"]);
        assert_eq!(
            row["predicted_tags"].as_array().unwrap().len(),
            tags.len(),
            "a prediction per word"
        );
        let entities: Vec<(String, usize, usize)> = row["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["start"].as_u64().unwrap() as usize,
                    e["end"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(entities, iob2_entities(&tags), "row {}", row["row"]);
    }
}

#[test]
fn two_token_classifiers_list_the_entities_one_found_and_the_other_missed() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let data = tiny_ner_dataset(dir.path());
    // Validation words of several pieces ("great" "##l" "##y"), so that the tokens that
    // carry a label are not the words when every piece is labelled.
    let validation = data.join("data/validation.jsonl");
    let pieces: Vec<String> = std::fs::read_to_string(&validation)
        .unwrap()
        .lines()
        .map(|line| {
            let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
            for word in row["tokens"].as_array_mut().unwrap() {
                match word.as_str() {
                    Some("great") => *word = "greatly".into(),
                    Some("film") => *word = "films".into(),
                    _ => {}
                }
            }
            row.to_string()
        })
        .collect();
    std::fs::write(&validation, pieces.join("\n") + "\n").unwrap();
    // B labels every piece of a word: its words come from the tokenizer's word ids.
    let [a, b] = two_task_runs(
        dir.path(),
        &data,
        "ner",
        &runs_root,
        "label_all_tokens = true",
    );

    // The trainer's files: the data's words, gold tags and entities, a tag per word.
    let gold = validation_rows(&data);
    for run in [&b, &a] {
        let written = read_json(&run.join("predictions.json"));
        assert_eq!(written["task"], "token_classification");
        assert_eq!(written["metrics"]["eval_f1"], last_logged(run, "eval_f1"));
        let names: Vec<String> = serde_json::from_value(written["label_names"].clone()).unwrap();
        let rows = written["rows"].as_array().unwrap();
        assert_eq!(rows.len(), gold.len());
        check_token_rows(rows, &names, &gold);
    }
    let written = read_json(&a.join("predictions.json"));
    let names: Vec<String> = serde_json::from_value(written["label_names"].clone()).unwrap();
    let rows = written["rows"].as_array().unwrap();
    let info = wick::runs::RunDir::open(&a).unwrap().info().clone();
    assert_eq!(info.task, Some(wick::task::Task::TokenClassification));

    // Both runs right on every entity, but B misses the first entity of one row and A that
    // of another.
    let with_entities: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i]["entities"].as_array().unwrap().is_empty())
        .collect();
    assert!(with_entities.len() >= 2, "the tiny data has entities");
    let (missed_by_b, missed_by_a) = (with_entities[0], with_entities[1]);
    let outside = names.iter().position(|n| n == "O").unwrap();
    let perfect_but = |missed_row: usize| {
        let mut doc = written.clone();
        for (i, row) in doc["rows"].as_array_mut().unwrap().iter_mut().enumerate() {
            row["predicted_tags"] = row["tags"].clone();
            row["predicted_entities"] = row["entities"].clone();
            if i == missed_row {
                let entity = row["predicted_entities"].as_array_mut().unwrap().remove(0);
                for word in entity["start"].as_u64().unwrap()..entity["end"].as_u64().unwrap() {
                    row["predicted_tags"][word as usize] = serde_json::json!(outside);
                }
            }
        }
        doc
    };
    let first_entity = |row: usize| {
        let entity = &rows[row]["entities"][0];
        let words = &rows[row]["words"];
        let text: Vec<&str> = (entity["start"].as_u64().unwrap()..entity["end"].as_u64().unwrap())
            .map(|w| words[w as usize].as_str().unwrap())
            .collect();
        format!(
            "{} \"{}\"",
            entity["kind"].as_str().unwrap(),
            text.join(" ")
        )
    };
    std::fs::write(
        a.join("predictions.json"),
        perfect_but(missed_by_a).to_string(),
    )
    .unwrap();
    std::fs::write(
        b.join("predictions.json"),
        perfect_but(missed_by_b).to_string(),
    )
    .unwrap();

    let mut harness = compare_two(dir.path(), ["ner-a", "ner-b"]);
    // The table: each run's task and its headline metric (entity F1).
    assert_eq!(task_cells(&harness, "entities"), 2, "the task column");
    assert!(
        has_label_containing(&harness, "f1 0."),
        "the headline metric"
    );
    assert!(
        harness
            .state()
            .state
            .runs
            .panels
            .contains(&"eval_f1".to_string()),
        "the compare grid shows entity F1: {:?}",
        harness.state().state.runs.panels
    );
    let summary = format!(
        "Of {} gold entities in 12 validation examples, A found 1 that B missed and B found 1 that A missed",
        rows.iter()
            .map(|r| r["entities"].as_array().unwrap().len())
            .sum::<usize>()
    );
    assert!(has_label_containing(&harness, &summary), "{summary}");
    // Both runs' final scores per entity type, folded; opened, each type's F1 in A and B.
    let breakdown = wick::runs::read_predictions(&a)
        .unwrap()
        .unwrap()
        .breakdown
        .expect("the final evaluation per entity type");
    let title = "Final F1 per entity type, A and B";
    scroll_to(&mut harness, title);
    harness.get_by_label(title).click();
    harness.run_steps(3);
    for header in ["F1 A", "F1 B", "B − A"] {
        assert!(has_label(&harness, header), "{header}");
    }
    for row in &breakdown.rows {
        assert!(has_label(&harness, &row.name), "a row for {}", row.name);
        assert!(has_label(&harness, &format!("{:.4}", row.f1)));
    }
    assert!(
        has_label(&harness, "+0.0000"),
        "the same evaluation in both"
    );
    fits_smallest_window_at(&mut harness, title);
    assert!(has_label(&harness, "Per entity type"));
    scroll_to(&mut harness, "Per entity type");
    for (row, side) in [
        (missed_by_b, "A found, B missed: "),
        (missed_by_a, "B found, A missed: "),
    ] {
        assert!(
            has_label(&harness, &format!("row {row}")),
            "row {row} is listed"
        );
        let found = format!("{side}{}", first_entity(row));
        assert!(has_label(&harness, &found), "{found}");
    }
    // Each listed row shows its words with the gold tags and both runs'.
    assert!(has_label_containing(&harness, "gold  "));
    assert!(has_label_containing(&harness, "   A  ") && has_label_containing(&harness, "   B  "));
    fits_smallest_window_at(&mut harness, "Per entity type");
}

#[test]
fn two_regressors_list_the_rows_whose_error_changed_most() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let data = tiny_regression_dataset(dir.path());
    let [a, b] = two_task_runs(dir.path(), &data, "sts", &runs_root, "");

    // The trainer's file: the data's scores and texts, a finite prediction each.
    let written = read_json(&b.join("predictions.json"));
    assert_eq!(written["task"], "regression");
    assert_eq!(
        written["metrics"]["eval_pearson"],
        last_logged(&b, "eval_pearson")
    );
    let gold = validation_rows(&data);
    let rows = written["rows"].as_array().unwrap();
    assert_eq!(rows.len(), gold.len());
    for (row, data_row) in rows.iter().zip(&gold) {
        assert_eq!(row["score"].as_f64(), data_row["label"].as_f64());
        assert_eq!(row["text"], data_row["sentence1"]);
        assert_eq!(row["text_pair"], data_row["sentence2"]);
        assert!(row["predicted_score"].as_f64().unwrap().is_finite());
    }

    // A is 0.25 off everywhere; B too, but 2.25 off on row 3 and exact on row 7.
    let off_by = |offsets: &dyn Fn(usize) -> f64| {
        let mut doc = written.clone();
        for (i, row) in doc["rows"].as_array_mut().unwrap().iter_mut().enumerate() {
            row["predicted_score"] = serde_json::json!(row["score"].as_f64().unwrap() + offsets(i));
        }
        doc
    };
    let a_doc = off_by(&|_| 0.25);
    let b_doc = off_by(&|i| match i {
        3 => 2.25,
        7 => 0.0,
        _ => 0.25,
    });
    std::fs::write(a.join("predictions.json"), a_doc.to_string()).unwrap();
    std::fs::write(b.join("predictions.json"), b_doc.to_string()).unwrap();

    let mut harness = compare_two(dir.path(), ["sts-a", "sts-b"]);
    assert_eq!(task_cells(&harness, "regression"), 2);
    assert!(
        harness
            .state()
            .state
            .runs
            .panels
            .contains(&"eval_pearson".to_string()),
        "{:?}",
        harness.state().state.runs.panels
    );
    // MAE: A 0.25; B (10 x 0.25 + 2.25 + 0) / 12 = 0.3958.
    assert!(
        has_label_containing(
            &harness,
            "Mean absolute error over 12 validation examples: A 0.2500, B 0.3958. B is closer to \
             the gold score on 1 and further on 1."
        ),
        "the summary"
    );
    scroll_to(&mut harness, "Mean absolute error over");
    // Row 3 first: its error grew by 2; then row 7, closer by 0.25.
    let score = |row: usize| gold[row]["label"].as_f64().unwrap();
    assert!(has_label(&harness, "+2.000") && has_label(&harness, "-0.250"));
    assert!(has_label(&harness, &format!("{:.3}", score(3) + 2.25)));
    let top = harness.get_by_label("+2.000").rect().min.y;
    let next = harness.get_by_label("-0.250").rect().min.y;
    assert!(top < next, "the largest change comes first");
    fits_smallest_window_at(&mut harness, "Mean absolute error over");
}

#[test]
fn two_multi_label_runs_list_the_rows_whose_label_set_changed() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let data = tiny_multilabel_dataset(dir.path());
    let [a, b] = two_task_runs(dir.path(), &data, "tags", &runs_root, "");

    // The trainer's file: the data's label sets, a probability per label, the set at 0.5.
    let written = read_json(&a.join("predictions.json"));
    assert_eq!(written["task"], "multi_label_classification");
    assert_eq!(written["threshold"], 0.5);
    assert_eq!(written["tuned_thresholds"].as_array().unwrap().len(), 3);
    assert_eq!(
        written["metrics"]["eval_micro_f1"],
        last_logged(&a, "eval_micro_f1")
    );
    let names: Vec<String> = serde_json::from_value(written["label_names"].clone()).unwrap();
    assert_eq!(names, ["anger", "boredom", "joy"]);
    let gold = validation_rows(&data);
    let rows = written["rows"].as_array().unwrap();
    for (row, data_row) in rows.iter().zip(&gold) {
        let mut expected: Vec<usize> = data_row["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| {
                names
                    .iter()
                    .position(|n| n == name.as_str().unwrap())
                    .unwrap()
            })
            .collect();
        expected.sort_unstable();
        assert_eq!(row["labels"], serde_json::json!(expected));
        let probs: Vec<f64> = serde_json::from_value(row["probs"].clone()).unwrap();
        let at_half: Vec<usize> = (0..3).filter(|&i| probs[i] >= 0.5).collect();
        assert_eq!(row["predicted"], serde_json::json!(at_half));
        assert_eq!(row["text"], data_row["text"]);
    }

    // A right on every row; B drops "joy" from row 3 (gold anger, joy) and adds it to row 4.
    let predicted = |changes: &[(usize, &[u64])]| {
        let mut doc = written.clone();
        for (i, row) in doc["rows"].as_array_mut().unwrap().iter_mut().enumerate() {
            row["predicted"] = match changes.iter().find(|(r, _)| *r == i) {
                Some((_, set)) => serde_json::json!(set),
                None => row["labels"].clone(),
            };
        }
        doc
    };
    assert_eq!(rows[3]["labels"], serde_json::json!([0, 2]), "anger, joy");
    assert_eq!(rows[4]["labels"], serde_json::json!([1]), "boredom");
    std::fs::write(a.join("predictions.json"), predicted(&[]).to_string()).unwrap();
    std::fs::write(
        b.join("predictions.json"),
        predicted(&[(3, &[0]), (4, &[1, 2])]).to_string(),
    )
    .unwrap();

    let mut harness = compare_two(dir.path(), ["tags-a", "tags-b"]);
    assert_eq!(task_cells(&harness, "multi-label"), 2);
    assert!(has_label_containing(&harness, "micro_f1 0."));
    assert!(
        harness
            .state()
            .state
            .runs
            .panels
            .contains(&"eval_micro_f1".to_string()),
        "{:?}",
        harness.state().state.runs.panels
    );
    assert!(
        has_label_containing(
            &harness,
            "2 of 12 validation examples changed their predicted labels (at threshold 0.5): B got \
             0 sets exactly right that A did not, A got 2 that B did not"
        ),
        "the summary"
    );
    scroll_to(&mut harness, "changed their predicted labels");
    for right in ["anger, joy (right)", "boredom (right)"] {
        assert!(has_label(&harness, right), "A's {right}");
    }
    assert!(has_label(&harness, "boredom, joy"), "B's set for row 4");
    fits_smallest_window_at(&mut harness, "changed their predicted labels");
}
