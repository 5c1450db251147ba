//! LoRA in the app: Monitor's header tells trainable from total parameters, and the Runs
//! table marks LoRA runs with a badge whose tooltip names the settings and the newest
//! adapter's size (or that there is no checkpoint yet); full fine-tuning runs get neither.
//! Both panels still fit the 800x600 window.

use std::path::Path;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::runs::RunDir;
use wick::train::config::TrainConfig;

use crate::support;
use support::app::{cut_at_smallest_window, harness, has_label_containing, wait_for};
use support::tiny::{tiny_dataset, tiny_model, train_to_end};

fn config(scratch: &Path, run_name: &str, use_lora: bool) -> TrainConfig {
    TrainConfig {
        model: tiny_model(scratch).display().to_string(),
        dataset: tiny_dataset(scratch).display().to_string(),
        run_name: Some(run_name.into()),
        per_device_train_batch_size: 8,
        num_train_epochs: 1.0,
        use_lora,
        lora_r: 4,
        lora_alpha: 8.0,
        lora_target_modules: vec!["query".into(), "value".into()],
        ..TrainConfig::default()
    }
}

fn offline(scratch: &Path) -> HubSettings {
    HubSettings::with_home(&scratch.join("hf")).with_offline(true)
}

fn app(data_dir: &Path, scratch: &Path, tab: Tab) -> Harness<'static, WickApp> {
    let mut harness = harness(data_dir, offline(scratch));
    harness.state_mut().state.welcome_dismissed = true;
    harness.state_mut().state.tab = tab;
    harness.run_steps(3);
    harness
}

fn assert_fits(harness: &mut Harness<'static, WickApp>, what: &str) {
    let cut = cut_at_smallest_window(harness);
    harness.set_size(egui::vec2(1280.0, 820.0));
    harness.run_steps(3);
    assert!(
        cut.is_empty(),
        "{what} at 800x600 cuts:\n{}",
        cut.join("\n")
    );
}

/// Values in the tiny model's file, and in its head (`classifier.*`).
fn tiny_model_values(scratch: &Path) -> (usize, usize) {
    let tensors = candle_core::safetensors::load(
        tiny_model(scratch).join("model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let all = tensors.values().map(|t| t.elem_count()).sum();
    let head = tensors
        .iter()
        .filter(|(name, _)| name.starts_with("classifier."))
        .map(|(_, t)| t.elem_count())
        .sum();
    (all, head)
}

#[test]
fn monitor_says_how_many_of_a_lora_runs_parameters_train() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    // The tiny BERT: hidden 32, 2 layers; r=4 on query and value adds A (4x32) and B (32x4)
    // per module and layer.
    let (model_values, head_values) = tiny_model_values(scratch.path());
    let adapters = 2 * (4 * 32 + 32 * 4) * 2;
    assert_eq!(model_values + adapters, 53_443);
    assert_eq!(adapters + head_values, 1_123);
    let mut harness = app(data_dir.path(), scratch.path(), Tab::Monitor);
    assert!(
        harness
            .state_mut()
            .start_training(config(scratch.path(), "lora-monitor", true))
    );
    wait_for(&mut harness, "the run to finish", |h| {
        h.state().state.monitor.live_run().is_some() && !h.state().state.monitor.is_training()
    });
    // 1123 / 53443 = 2.10%.
    assert!(
        has_label_containing(&harness, "53.4k parameters, 1.1k trainable (2.10%)"),
        "Monitor's header tells trainable from total parameters"
    );
    assert_fits(&mut harness, "Monitor after a LoRA run");
}

#[test]
fn monitor_says_only_the_total_for_full_fine_tuning() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), scratch.path(), Tab::Monitor);
    assert!(
        harness
            .state_mut()
            .start_training(config(scratch.path(), "full-monitor", false))
    );
    wait_for(&mut harness, "the run to finish", |h| {
        h.state().state.monitor.live_run().is_some() && !h.state().state.monitor.is_training()
    });
    assert_eq!(tiny_model_values(scratch.path()).0, 52_419);
    assert!(has_label_containing(&harness, "52.4k parameters ·"));
    assert!(!has_label_containing(&harness, "trainable"));
}

#[test]
fn lora_runs_wear_a_badge_with_their_settings_and_adapter_size() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let runs_root = data_dir.path().join("runs");
    // A long name, as people give: the badge must still show after it.
    let lora_run = train_to_end(
        config(
            scratch.path(),
            "minilm-mrpc-lora-r4-alpha8-lr2e-4-warmup0.1-seed42",
            true,
        ),
        scratch.path(),
        &runs_root,
    );
    train_to_end(
        config(scratch.path(), "full-fine-tuning", false),
        scratch.path(),
        &runs_root,
    );
    // A LoRA run whose writer died before its first checkpoint.
    drop(
        RunDir::create(
            &runs_root,
            "20260101-000000-lora-early",
            &config(scratch.path(), "lora-early", true),
        )
        .unwrap(),
    );
    let checkpoint = wick::runs::Checkpoints::open(&lora_run)
        .unwrap()
        .latest()
        .unwrap()
        .expect("the LoRA run saved a checkpoint");
    let adapter_bytes = std::fs::metadata(
        checkpoint
            .path
            .join("adapter")
            .join("adapter_model.safetensors"),
    )
    .unwrap()
    .len();
    let checkpoint_name = checkpoint.path.file_name().unwrap().to_string_lossy();

    let mut harness = app(data_dir.path(), scratch.path(), Tab::Runs);
    wait_for(&mut harness, "three runs listed", |h| {
        h.state()
            .state
            .runs
            .rows()
            .is_some_and(|rows| rows.len() == 3)
    });
    harness.run_steps(3);
    let badges = harness.query_all_by_label("LoRA").count();
    assert_eq!(
        badges, 2,
        "the two LoRA runs wear a badge, the full run none"
    );
    // The long name is cut before its badge, which stays inside the run's column.
    let next_column = harness.get_by_label("Task").rect().min.x;
    for badge in harness.query_all_by_label("LoRA") {
        let rect = badge.rect();
        assert!(
            rect.max.x <= next_column,
            "badge at {rect:?}, Task at {next_column}"
        );
    }

    let expected = [
        format!(
            "LoRA r=4, α=8 on query, value · adapter {} ({checkpoint_name})",
            wick::app::widgets::bytes(adapter_bytes)
        ),
        "LoRA r=4, α=8 on query, value · no checkpoint yet".to_string(),
    ];
    let mut seen = Vec::new();
    for index in 0..2 {
        harness
            .query_all_by_label("LoRA")
            .nth(index)
            .unwrap()
            .hover();
        harness.run_steps(40);
        seen.extend(
            expected
                .iter()
                .filter(|text| has_label_containing(&harness, text)),
        );
        harness.hover_at(egui::pos2(1.0, 1.0));
        harness.run_steps(5);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        2,
        "each badge's tooltip: {expected:?}, saw {seen:?}"
    );
    assert_fits(&mut harness, "Runs with LoRA badges");
}

/// The Train panel's preflight card compares a LoRA recipe with full fine-tuning, measured,
/// and still fits the smallest window.
#[test]
fn the_preflight_card_compares_lora_with_full_fine_tuning() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), scratch.path(), Tab::Train);
    harness.state_mut().state.recipe = config(scratch.path(), "lora-preflight", true);
    harness.run_steps(2);
    harness.get_by_label("Run preflight").click();
    harness.run_steps(2);
    wait_for(&mut harness, "the preflight result", |h| {
        h.state().state.train.preflight_report().is_some() && !h.state().is_busy()
    });
    let report = harness
        .state()
        .state
        .train
        .preflight_report()
        .unwrap()
        .clone();
    let full = report
        .full_fine_tuning
        .clone()
        .expect("LoRA is compared with full fine-tuning");
    for text in ["53.4k parameters, 1.1k trainable (2.10%)", "step ", " vs "] {
        assert!(
            has_label_containing(&harness, text),
            "the card shows {text:?}"
        );
    }
    assert!(has_label_containing(
        &harness,
        &format!(
            "{:.3} s vs {:.3} s",
            report.worst_step_time_s, full.worst_step_time_s
        )
    ));
    if let (Some(lora), Some(all)) = (full.lora_peak, full.full_peak) {
        assert!(has_label_containing(
            &harness,
            &format!(
                "peak {} vs {}",
                wick::app::widgets::bytes(lora),
                wick::app::widgets::bytes(all)
            )
        ));
    }
    assert_fits(&mut harness, "Train with a LoRA preflight");
}

/// The LoRA group names the model's layers: its default targets and every name
/// `lora_target_modules` takes, read from the model's config (a missing model says so).
#[test]
fn the_lora_group_lists_the_models_layer_names() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), scratch.path(), Tab::Train);
    harness.state_mut().state.recipe = config(scratch.path(), "lora-form", true);
    harness.run_steps(2);
    // The recipe turned LoRA on: its group is open without a click.
    wait_for(&mut harness, "the layer names", |h| {
        has_label_containing(h, "This bert model: adapters on query, value by default")
    });
    assert!(has_label_containing(
        &harness,
        "lora_target_modules takes any of dense, key, query, value."
    ));
    assert_fits(&mut harness, "Train with the LoRA group open");
    harness.state_mut().state.recipe.model = scratch.path().join("absent").display().to_string();
    wait_for(&mut harness, "the missing model's note", |h| {
        has_label_containing(h, "The model's layer names:")
    });
}
