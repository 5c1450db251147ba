//! Preflight on the tiny BERT: one real step, step counts that agree with the trainer's, an
//! ETA that is step time × steps, and clear errors for a model that is not there.

use std::path::Path;
use std::sync::{Arc, Mutex};
use wick::hub::HubSettings;
use wick::train::TrainConfig;
use wick::train::preflight::{BatchSource, PreflightProgress, preflight};

use crate::support;
use support::tiny::{tiny_dataset, tiny_model};

fn config(dir: &Path) -> TrainConfig {
    TrainConfig {
        model: tiny_model(dir).display().to_string(),
        dataset: tiny_dataset(dir).display().to_string(),
        per_device_train_batch_size: 6,
        gradient_accumulation_steps: 2,
        num_train_epochs: 2.5,
        ..TrainConfig::default()
    }
}

fn hub(dir: &Path) -> HubSettings {
    HubSettings::with_home(&dir.join("hf")).with_offline(true)
}

fn recording() -> (PreflightProgress, Arc<Mutex<Vec<String>>>) {
    let stages = Arc::new(Mutex::new(Vec::new()));
    let sink = stages.clone();
    let progress: PreflightProgress = Arc::new(move |stage: &str, _, _| {
        sink.lock().unwrap().push(stage.to_string());
    });
    (progress, stages)
}

#[test]
fn preflight_measures_a_real_step_on_the_longest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let (progress, stages) = recording();
    let report = preflight(&config, &hub(dir.path()), progress).expect("preflight runs");
    println!("{report:#?}");

    assert_eq!(
        report.batch_source,
        BatchSource::LongestRows {
            split: "train".into()
        }
    );
    assert_eq!(
        report.train_rows,
        Some(40),
        "tiny_dataset has 40 train rows"
    );
    assert_eq!(report.batch_size, 6);
    // 40 rows / 6 = 7 batches, / 2 accumulation = 4 steps per epoch; 2.5 epochs = 10.
    assert_eq!(
        report.steps_per_epoch,
        Some(config.optimizer_steps_per_epoch(40))
    );
    assert_eq!(report.total_steps, Some(config.total_optimizer_steps(40)));
    assert_eq!(report.total_steps, Some(10));
    assert!(report.step_time_s > 0.0 && report.worst_step_time_s > 0.0);
    let eta = report.eta_s.expect("an ETA when the rows are known");
    assert!(
        (eta - report.step_time_s * 10.0).abs() <= 1e-9 * eta.max(1.0),
        "ETA {eta} = step time {} x 10 steps",
        report.step_time_s
    );
    // The worst case is the longest row; a typical batch is never longer.
    assert!(report.worst_seq_len >= report.typical_seq_len);
    assert!(report.worst_seq_len <= report.max_length);
    assert!(report.num_parameters > 0);
    let memory = report.memory.expect("CPU memory is measured");
    assert!(memory.peak >= memory.rss_before.min(memory.rss_after));
    assert!(
        report.largest_batch.is_none_or(|b| b.estimated),
        "on CPU the largest batch is an estimate"
    );
    let stages = stages.lock().unwrap();
    assert!(stages.iter().any(|s| s == "warm-up step"), "{stages:?}");
    assert!(stages.iter().any(|s| s == "tokenizing train"), "{stages:?}");
}

#[test]
fn unreadable_data_falls_back_to_full_length_synthetic_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.dataset = dir.path().join("no-such-data").display().to_string();
    config.max_length = Some(24);
    config.max_steps = 5;
    let (progress, _) = recording();
    let report = preflight(&config, &hub(dir.path()), progress).expect("preflight runs");
    match &report.batch_source {
        BatchSource::Synthetic { reason } => assert!(reason.contains("no-such-data"), "{reason}"),
        other => panic!("expected synthetic rows, got {other:?}"),
    }
    assert_eq!(report.worst_seq_len, 24, "full length: max_length");
    assert_eq!(report.train_rows, None);
    assert_eq!(report.steps_per_epoch, None);
    assert_eq!(
        report.total_steps,
        Some(5),
        "max_steps is known without data"
    );
    assert!(report.eta_s.is_some_and(|eta| eta > 0.0));
}

#[test]
fn a_bad_model_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    let missing = dir.path().join("no-such-model");
    config.model = missing.display().to_string();
    let (progress, _) = recording();
    let err = preflight(&config, &hub(dir.path()), progress).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no-such-model"), "{message}");
    assert!(message.contains("config.json"), "{message}");
}

#[test]
fn preflight_on_minilm_and_mrpc_from_shared() {
    let hub_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/hub");
    let model = hub_dir.join("models/sentence-transformers/all-MiniLM-L6-v2");
    let data = hub_dir.join("datasets/nyu-mll/glue");
    if !model.is_dir() || !data.is_dir() {
        eprintln!("SKIPPED: ../shared/hub (MiniLM and GLUE) not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        model: model.display().to_string(),
        dataset: data.display().to_string(),
        dataset_config: Some("mrpc".into()),
        // Small batches keep this test quick; the figures scale with the batch.
        per_device_train_batch_size: 2,
        ..TrainConfig::default()
    };
    let (progress, _) = recording();
    let report = preflight(&config, &hub(dir.path()), progress).expect("preflight runs");
    println!("{report:#?}");
    // MRPC train: 3668 rows; batch 2: 1834 steps per epoch, 3 epochs.
    assert_eq!(report.train_rows, Some(3668));
    assert_eq!(report.total_steps, Some(5502));
    assert_eq!(report.max_length, 512);
    assert!(report.worst_seq_len > report.typical_seq_len, "{report:?}");
    assert!(
        report
            .memory
            .as_ref()
            .is_some_and(|m| m.peak > m.rss_before)
    );
}

#[test]
fn preflight_warns_when_the_recipe_keeps_no_loss_line_and_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_steps = 5;
    config.logging_steps = 50;
    config.save_strategy = wick::train::config::SaveStrategy::No;
    let (progress, _) = recording();
    let report = preflight(&config, &hub(dir.path()), progress).expect("preflight runs");
    let warnings = report.warnings.join("\n");
    assert!(
        warnings.contains("logging_steps = 50 is more than the run's 5 steps"),
        "{warnings}"
    );
    assert!(
        warnings.contains("save_strategy = \"no\": no checkpoint"),
        "{warnings}"
    );

    config.logging_steps = 1;
    config.save_strategy = wick::train::config::SaveStrategy::Steps;
    let (progress, _) = recording();
    let report = preflight(&config, &hub(dir.path()), progress).expect("preflight runs");
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.contains("logging") || w.contains("save")),
        "{:?}",
        report.warnings
    );
}
