//! What a person sees of LoRA, below the app: the preflight's comparison with full
//! fine-tuning (trainable vs total parameters, the full step measured on the same batch, the
//! progress phases that count it) and the runs reader's view of a real LoRA run.

use std::path::Path;
use std::sync::{Arc, Mutex};

use wick::hub::HubSettings;
use wick::train::TrainConfig;
use wick::train::preflight::{PreflightProgress, PreflightReport, preflight};

use crate::support::tiny::{tiny_dataset, tiny_model, train_to_end};

/// The preflight's step phases (downloads and tokenizing report rows, not phases).
const PHASES: &[&str] = &[
    "warm-up step",
    "measuring memory",
    "measuring the worst-case step",
    "measuring a typical step",
    "measuring full fine-tuning",
    "done",
];

fn tiny_config(dir: &Path, use_lora: bool) -> TrainConfig {
    TrainConfig {
        model: tiny_model(dir).display().to_string(),
        dataset: tiny_dataset(dir).display().to_string(),
        per_device_train_batch_size: 4,
        num_train_epochs: 1.0,
        use_lora,
        lora_r: 4,
        lora_alpha: 8.0,
        ..TrainConfig::default()
    }
}

/// Runs the preflight, returning its report and the `(stage, done, total)` of each phase.
fn run_preflight(config: &TrainConfig, dir: &Path) -> (PreflightReport, Vec<(String, u64, u64)>) {
    let phases = Arc::new(Mutex::new(Vec::new()));
    let sink = phases.clone();
    let progress: PreflightProgress = Arc::new(move |stage: &str, done, total| {
        if PHASES.contains(&stage) {
            sink.lock().unwrap().push((stage.to_string(), done, total));
        }
    });
    let hub = HubSettings::with_home(&dir.join("hf")).with_offline(true);
    let report = preflight(config, &hub, progress).expect("preflight runs");
    let phases = phases.lock().unwrap().clone();
    (report, phases)
}

/// The number of values in a safetensors file: what full fine-tuning trains.
fn values_in(path: &Path) -> usize {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .unwrap()
        .values()
        .map(|t| t.elem_count())
        .sum()
}

/// Every phase counts toward one total, in order, ending at it.
fn assert_honest_phases(phases: &[(String, u64, u64)], total: u64) {
    assert!(!phases.is_empty());
    for window in phases.windows(2) {
        assert!(window[0].1 < window[1].1, "phases go forward: {phases:?}");
    }
    assert!(phases.iter().all(|p| p.2 == total), "{phases:?}");
    assert_eq!(phases.last().unwrap(), &("done".to_string(), total, total));
}

#[test]
fn a_lora_preflight_measures_full_fine_tuning_on_the_same_batch() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), true);
    let (report, phases) = run_preflight(&config, dir.path());
    println!("{report:#?}");
    let full = report
        .full_fine_tuning
        .as_ref()
        .expect("a LoRA recipe is compared with full fine-tuning");
    // Full fine-tuning trains every value of the model file; LoRA adds adapters to them
    // and trains only those and the head.
    let model_values = values_in(&tiny_model(dir.path()).join("model.safetensors"));
    assert_eq!(full.trainable_parameters, model_values);
    assert!(
        report.num_parameters > model_values,
        "the adapters add values"
    );
    assert!(report.trainable_parameters < report.num_parameters);
    assert!(report.trainable_parameters < full.trainable_parameters);
    assert!(full.worst_step_time_s > 0.0 && report.worst_step_time_s > 0.0);
    // On Linux's CPU both peaks are measured (the peak can be reset), or neither.
    let memory = report.memory.as_ref().expect("CPU memory is measured");
    assert_eq!(full.lora_peak.is_some(), memory.peak_reset);
    assert_eq!(full.full_peak.is_some(), memory.peak_reset);
    assert!(
        phases
            .iter()
            .any(|(stage, ..)| stage == "measuring full fine-tuning"),
        "{phases:?}"
    );
    assert_honest_phases(&phases, 6);
}

#[test]
fn a_full_fine_tuning_preflight_has_no_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let (report, phases) = run_preflight(&tiny_config(dir.path(), false), dir.path());
    assert_eq!(report.full_fine_tuning, None);
    assert_eq!(report.trainable_parameters, report.num_parameters);
    assert_eq!(
        report.num_parameters,
        values_in(&tiny_model(dir.path()).join("model.safetensors"))
    );
    assert_honest_phases(&phases, 5);
}

/// MiniLM (22.7M parameters) on MRPC: LoRA's step peaks below full fine-tuning's, which
/// keeps a gradient and two AdamW moments for every weight. Peaks are the process's, so
/// run this filter alone for clean figures.
#[test]
fn a_lora_preflight_on_minilm_saves_memory_against_full_fine_tuning() {
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
        per_device_train_batch_size: 2,
        max_length: Some(128),
        use_lora: true,
        lora_r: 8,
        lora_alpha: 16.0,
        ..TrainConfig::default()
    };
    let (report, _) = run_preflight(&config, dir.path());
    let full = report.full_fine_tuning.as_ref().unwrap();
    println!(
        "MiniLM/MRPC batch 2 x {} tokens: {} of {} parameters train (full: {}); \
         step {:.3} s vs full {:.3} s; peak {:?} vs full {:?} (saves {:?} bytes)",
        report.worst_seq_len,
        report.trainable_parameters,
        report.num_parameters,
        full.trainable_parameters,
        report.worst_step_time_s,
        full.worst_step_time_s,
        full.lora_peak,
        full.full_peak,
        full.saved_bytes()
    );
    assert!(report.trainable_parameters * 100 < full.trainable_parameters);
    // The peaks are the whole test process's: other tests running beside this one move them,
    // so the saving is printed (run this filter alone to read it), not asserted.
    assert!(full.full_peak.is_some() && full.lora_peak.is_some());
}

/// A real LoRA run read by `runs::read_run_lora`: its settings, and the adapter the trainer
/// wrote in its newest checkpoint, whose size is the file's.
#[test]
fn the_runs_reader_sees_a_real_lora_run_and_its_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let runs_root = dir.path().join("runs");
    let mut config = tiny_config(dir.path(), true);
    config.lora_target_modules = vec!["query".into(), "value".into()];
    let run = train_to_end(config, dir.path(), &runs_root);
    let lora = wick::runs::read_run_lora(&run)
        .unwrap()
        .expect("a LoRA run");
    let newest = wick::runs::Checkpoints::open(&run)
        .unwrap()
        .latest()
        .unwrap()
        .expect("the run saved a checkpoint");
    let weights = newest
        .path
        .join(wick::train::ADAPTER_DIR)
        .join("adapter_model.safetensors");
    let adapter = lora.adapter.as_ref().expect("an adapter");
    assert_eq!(adapter.step, newest.step);
    assert_eq!(adapter.bytes, std::fs::metadata(&weights).unwrap().len());
    assert_eq!((lora.r, lora.alpha), (4, 8.0));
    assert_eq!(lora.target_modules, ["query", "value"]);
    // peft's file name, which the reader must know by itself.
    assert_eq!(
        wick::runs::lora::ADAPTER_WEIGHTS_FILE,
        "adapter_model.safetensors"
    );

    // The full run beside it has no LoRA.
    let full = train_to_end(tiny_config(dir.path(), false), dir.path(), &runs_root);
    assert_eq!(wick::runs::read_run_lora(&full).unwrap(), None);

    // `wick runs` prints the LoRA line under the LoRA run only.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["runs", "--runs-dir"])
        .arg(&runs_root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let lora_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with("LoRA r=4"))
        .collect();
    assert_eq!(lora_lines.len(), 1, "{text}");
    let run_name = run.file_name().unwrap().to_string_lossy();
    assert!(
        lines[lora_lines[0] - 1].starts_with(run_name.as_ref()),
        "the LoRA line follows its run:\n{text}"
    );
    assert!(
        lines[lora_lines[0]].contains(&format!(
            "({})",
            newest.path.file_name().unwrap().to_string_lossy()
        )),
        "{text}"
    );
}
