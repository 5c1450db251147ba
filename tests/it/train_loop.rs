//! The trainer engine end to end on a tiny BERT: events, the run folder, resume equivalence,
//! commands, and failures that must become `Event::Failed` with a readable reason.

use std::path::Path;
use std::time::Duration;
use wick::hub::HubSettings;
use wick::runs::checkpoints::REQUIRED_CHECKPOINT_FILES;
use wick::runs::{RunStatus, read_metrics};
use wick::train::config::{IntervalStrategy, SaveStrategy, TrainConfig};
use wick::train::{Command, Event, TrainerOptions};

use crate::support;
use support::tiny::{fixtures, tiny_dataset, tiny_model};

fn config(dir: &Path, output: &str) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
num_train_epochs = 3
per_device_train_batch_size = 4
per_device_eval_batch_size = 5
gradient_accumulation_steps = 2
warmup_ratio = 0.1
weight_decay = 0.01
logging_steps = 2
eval_strategy = "epoch"
save_strategy = "epoch"
seed = 7
"#,
        model = tiny_model(dir).display(),
        data = tiny_dataset(dir).display(),
        out = dir.join(output).display()
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

fn options(dir: &Path) -> TrainerOptions {
    TrainerOptions {
        runs_root: Some(dir.join("runs")),
        hub: HubSettings::with_home(&dir.join("hf")).with_offline(true),
        dataset_cache: true,
    }
}

/// Runs to the end, answering each event with `on_event`; returns every event.
fn run(
    config: TrainConfig,
    options: TrainerOptions,
    mut on_event: impl FnMut(&Event, &crossbeam_channel::Sender<Command>),
) -> Vec<Event> {
    let handle = wick::train::spawn(config, options).unwrap();
    let mut events = Vec::new();
    loop {
        let event = handle
            .events
            .recv_timeout(Duration::from_secs(600))
            .expect("the trainer reports within 10 minutes");
        on_event(&event, &handle.commands);
        let last = matches!(event, Event::Finished(_) | Event::Failed { .. });
        events.push(event);
        if last {
            break;
        }
    }
    handle.join();
    events
}

fn failure(events: &[Event]) -> Option<&str> {
    events.iter().find_map(|e| match e {
        Event::Failed { reason } => Some(reason.as_str()),
        _ => None,
    })
}

fn final_weights(run_dir: &Path, step: u64) -> Vec<u8> {
    std::fs::read(run_dir.join(format!("checkpoint-{step}/model.safetensors"))).unwrap()
}

#[test]
fn a_run_reports_events_and_writes_an_hf_style_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let events = run(config(dir.path(), "run"), options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);
    let Event::Started(started) = &events
        .iter()
        .find(|e| !matches!(e, Event::Preparing { .. }))
        .unwrap()
    else {
        panic!("Started comes before any step");
    };
    // 40 rows / batch 4 = 10 batches, accumulation 2 -> 5 optimizer steps an epoch.
    assert_eq!(
        (
            started.steps_per_epoch,
            started.total_steps,
            started.warmup_steps
        ),
        (5, 15, 2)
    );
    assert_eq!(started.label_names, vec!["neg", "neu", "pos"]);
    let steps: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) => Some(s.step),
            _ => None,
        })
        .collect();
    assert_eq!(steps, (1..=15).collect::<Vec<_>>());
    let evals = events
        .iter()
        .filter(|e| matches!(e, Event::Eval(_)))
        .count();
    assert_eq!(evals, 3);
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("ends with Finished")
    };
    assert_eq!(summary.global_step, 15);
    assert!((summary.epoch - 3.0).abs() < 1e-9);

    let run_dir = dir.path().join("run");
    // One definition of the run's durations: the summary's and run.json's agree.
    let durations = wick::runs::RunDir::open(&run_dir)
        .unwrap()
        .info()
        .durations();
    // (serde_json's float parsing may differ in the last bit.)
    let recorded = durations
        .training_s
        .expect("run.json has the training time");
    assert!((recorded - summary.train_runtime_s).abs() < 1e-9);
    assert!(summary.train_runtime_s > 0.0);
    assert_eq!(durations.wall_s, summary.wall_s);
    assert!(summary.wall_s.is_some());
    assert!(run_dir.join("config.toml").is_file());
    for step in [5, 10, 15] {
        for file in REQUIRED_CHECKPOINT_FILES {
            assert!(
                run_dir.join(format!("checkpoint-{step}/{file}")).is_file(),
                "checkpoint-{step}/{file}"
            );
        }
        assert!(
            run_dir
                .join(format!("checkpoint-{step}/tokenizer.json"))
                .is_file()
        );
    }
    let log = read_metrics(&run_dir.join("metrics.jsonl")).unwrap();
    assert!(log.torn_last_line.is_none());
    let train_lines: Vec<_> = log
        .records
        .iter()
        .filter(|r| r.contains_key("loss"))
        .collect();
    assert_eq!(train_lines.len(), 7, "logging_steps = 2 over 15 steps");
    for key in ["step", "epoch", "loss", "learning_rate", "grad_norm"] {
        assert!(train_lines[0].contains_key(key), "{key}");
    }
    let eval_lines: Vec<_> = log
        .records
        .iter()
        .filter(|r| r.contains_key("eval_loss"))
        .collect();
    assert_eq!(eval_lines.len(), 3);
    for key in [
        "eval_accuracy",
        "eval_f1",
        "eval_precision",
        "eval_recall",
        "eval_matthews_correlation",
        "epoch",
        "step",
    ] {
        assert!(eval_lines[0].contains_key(key), "{key}");
    }
    assert!(log.records.last().unwrap().contains_key("train_runtime"));
    // Every line carries wall-clock seconds since the run started, for time overlays.
    let elapsed: Vec<f64> = log
        .records
        .iter()
        .map(|r| r["elapsed_s"].as_f64().expect("elapsed_s on every line"))
        .collect();
    assert!(elapsed.windows(2).all(|w| w[0] <= w[1]), "{elapsed:?}");
    // The checkpoint's trainer_state.json carries HF's log_history.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("checkpoint-15/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["global_step"], 15);
    assert_eq!(state["log_history"].as_array().unwrap().len(), 7 + 3);
    assert!(
        state["log_history"][0].get("elapsed_s").is_none(),
        "log_history keeps HF's keys"
    );
    // trainer.predict(validation) with the final model.
    let predictions = wick::runs::read_predictions(&run_dir)
        .unwrap()
        .expect("predictions.json");
    assert_eq!(predictions.split, "validation");
    assert_eq!(predictions.step, 15);
    assert_eq!(predictions.checkpoint.as_deref(), Some("checkpoint-15"));
    assert_eq!(predictions.label_names, vec!["neg", "neu", "pos"]);
    assert_eq!(predictions.rows.len(), 12);
    assert_eq!(
        predictions.metrics["eval_accuracy"], eval_lines[2]["eval_accuracy"],
        "the same model on the same split"
    );
    for (i, row) in predictions.rows.iter().enumerate() {
        assert_eq!(row.row, i);
        let class = row.class().expect("a single-label row");
        assert_eq!(
            class.label as usize,
            (i + 1000) % 3,
            "tiny_dataset's label rule"
        );
        let sum: f32 = class.probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {i}: {:?}", class.probs);
        let argmax = (0..3)
            .max_by(|&a, &b| class.probs[a].total_cmp(&class.probs[b]))
            .unwrap();
        assert_eq!(class.prediction as usize, argmax, "row {i}");
        assert!(row.text.starts_with("the film was "), "{}", row.text);
        assert!(row.text_pair.is_some());
    }
    // The trained model is an HF folder that loads back.
    let labels: Vec<String> = vec!["neg".into(), "neu".into(), "pos".into()];
    wick::model::Classifier::load(
        &run_dir.join("checkpoint-15"),
        &labels,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let info = wick::runs::RunDir::open(&run_dir).unwrap();
    assert_eq!(info.info().status, RunStatus::Finished);
}

/// The steps at which `metrics.jsonl` has a record with `key`.
fn steps_with(run_dir: &Path, key: &str) -> Vec<u64> {
    read_metrics(&run_dir.join("metrics.jsonl"))
        .unwrap()
        .records
        .iter()
        .filter(|r| r.contains_key(key))
        .map(|r| r["step"].as_u64().unwrap())
        .collect()
}

fn checkpoint_steps(run_dir: &Path) -> Vec<u64> {
    let mut steps: Vec<u64> = std::fs::read_dir(run_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix("checkpoint-")?.parse().ok()
        })
        .collect();
    steps.sort_unstable();
    steps
}

/// The course preset's `max_steps = 30` of a 459-step epoch, in small: HF's Trainer ends
/// the cut epoch, so the "epoch" strategies still log, evaluate and save at the last step.
#[test]
fn a_run_cut_short_by_max_steps_still_evaluates_and_saves_at_its_last_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "short");
    cfg.num_train_epochs = 1.0;
    cfg.max_steps = 3; // of the epoch's 5
    cfg.logging_strategy = IntervalStrategy::Epoch;
    let events = run(cfg, options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);
    let run_dir = dir.path().join("short");
    assert_eq!(steps_with(&run_dir, "eval_loss"), [3]);
    assert_eq!(steps_with(&run_dir, "loss"), [3]);
    assert_eq!(checkpoint_steps(&run_dir), [3]);
    let predictions = wick::runs::read_predictions(&run_dir)
        .unwrap()
        .expect("predictions.json");
    assert_eq!(predictions.step, 3);
    assert_eq!(predictions.checkpoint.as_deref(), Some("checkpoint-3"));
}

/// "steps" strategies: the last step is saved, but logged and evaluated only on a
/// multiple (DefaultFlowCallback.on_step_end).
#[test]
fn steps_strategies_save_the_last_step_and_evaluate_only_on_multiples() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "steps");
    cfg.num_train_epochs = 1.0;
    cfg.max_steps = 3;
    cfg.eval_strategy = IntervalStrategy::Steps;
    cfg.eval_steps = Some(2);
    cfg.save_strategy = SaveStrategy::Steps;
    cfg.save_steps = 2;
    let events = run(cfg, options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);
    let run_dir = dir.path().join("steps");
    assert_eq!(steps_with(&run_dir, "loss"), [2], "logging_steps = 2");
    assert_eq!(steps_with(&run_dir, "eval_loss"), [2]);
    assert_eq!(steps_with(&run_dir, "train_loss"), [3], "the summary line");
    assert_eq!(checkpoint_steps(&run_dir), [2, 3]);
    let predictions = wick::runs::read_predictions(&run_dir).unwrap().unwrap();
    assert_eq!(predictions.checkpoint.as_deref(), Some("checkpoint-3"));
}

#[test]
fn a_stopped_and_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let full = config(dir.path(), "full");
    let events = run(full.clone(), options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);

    // Same config, stopped by the user after step 6 (mid-epoch, mid-schedule).
    let mut interrupted = full.clone();
    interrupted.output_dir = Some(dir.path().join("interrupted").display().to_string());
    let events = run(
        interrupted.clone(),
        options(dir.path()),
        |event, commands| {
            if let Event::Step(s) = event
                && s.step == 6
            {
                commands.send(Command::Stop).unwrap();
            }
        },
    );
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("a stop finishes cleanly: {:?}", failure(&events))
    };
    assert!(summary.stopped_by_user);
    let stopped_at = summary.global_step;
    assert!((6..15).contains(&stopped_at), "stopped at {stopped_at}");
    let checkpoint = dir
        .path()
        .join(format!("interrupted/checkpoint-{stopped_at}"));
    assert!(checkpoint.is_dir());

    let mut resumed = interrupted;
    resumed.resume_from_checkpoint = Some(checkpoint.display().to_string());
    let events = run(resumed, options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);
    let Some(Event::Started(started)) = events.iter().find(|e| matches!(e, Event::Started(_)))
    else {
        panic!()
    };
    assert_eq!(started.resumed_at_step, Some(stopped_at));

    assert!(
        final_weights(&dir.path().join("full"), 15)
            == final_weights(&dir.path().join("interrupted"), 15),
        "resumed weights differ from the uninterrupted run"
    );
    let evals = |run: &str| -> Vec<serde_json::Value> {
        read_metrics(&dir.path().join(run).join("metrics.jsonl"))
            .unwrap()
            .records
            .into_iter()
            .filter(|r| r.contains_key("eval_loss"))
            .map(|mut r| {
                r.remove("wall_time");
                r.remove("elapsed_s");
                r.remove("eval_runtime");
                r.remove("eval_samples_per_second");
                serde_json::Value::Object(r)
            })
            .collect()
    };
    assert_eq!(evals("full"), evals("interrupted"));
    // The resumed session's clock goes on from the stopped one's.
    let elapsed: Vec<f64> = read_metrics(&dir.path().join("interrupted/metrics.jsonl"))
        .unwrap()
        .records
        .iter()
        .map(|r| r["elapsed_s"].as_f64().unwrap())
        .collect();
    assert!(elapsed.windows(2).all(|w| w[0] <= w[1]), "{elapsed:?}");
}

#[test]
fn pause_eval_now_save_now_and_resume_are_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "run");
    cfg.num_train_epochs = 1.0;
    cfg.save_strategy = wick::train::config::SaveStrategy::No;
    let mut sent = false;
    let events = run(cfg, options(dir.path()), |event, commands| match event {
        Event::Step(s) if s.step == 1 && !sent => {
            sent = true;
            for command in [
                Command::Pause,
                Command::EvalNow,
                Command::SaveNow,
                Command::Resume,
            ] {
                commands.send(command).unwrap();
            }
        }
        _ => {}
    });
    assert_eq!(failure(&events), None);
    let position = |f: &dyn Fn(&Event) -> bool| events.iter().position(f).unwrap();
    let paused = position(&|e| matches!(e, Event::Paused { .. }));
    let eval = position(&|e| matches!(e, Event::Eval(_)));
    let saved = position(&|e| matches!(e, Event::CheckpointSaved { .. }));
    let resumed = position(&|e| matches!(e, Event::Resumed { .. }));
    assert!(
        paused < eval && eval < saved && saved < resumed,
        "{paused} {eval} {saved} {resumed}"
    );
    assert!(matches!(events.last(), Some(Event::Finished(_))));
}

#[test]
fn a_diverging_run_fails_with_a_clear_message_and_keeps_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "run");
    cfg.learning_rate = 1e30;
    cfg.warmup_ratio = 0.0;
    let events = run(cfg, options(dir.path()), |_, _| {});
    let reason = failure(&events).expect("a NaN loss stops the run");
    assert!(
        reason.contains("loss became") && reason.contains("learning_rate"),
        "{reason}"
    );
    let info = wick::runs::RunDir::open(&dir.path().join("run")).unwrap();
    assert_eq!(info.info().status, RunStatus::Failed);
}

#[test]
fn bad_settings_fail_at_start_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "run");
    cfg.metric_for_best_model = Some("bleu".into());
    let events = run(cfg, options(dir.path()), |_, _| {});
    let reason = failure(&events).unwrap();
    assert!(
        reason.contains("metric_for_best_model") && reason.contains("bleu"),
        "{reason}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Step(_))));

    let mut cfg = config(dir.path(), "run2");
    cfg.model = dir.path().join("no-such-model").display().to_string();
    let reason_missing = failure(&run(cfg, options(dir.path()), |_, _| {}))
        .unwrap()
        .to_string();
    assert!(reason_missing.contains("no-such-model"), "{reason_missing}");

    let mut cfg = config(dir.path(), "run3");
    cfg.device = "cuda".into();
    let reason_cuda = failure(&run(cfg, options(dir.path()), |_, _| {}))
        .unwrap()
        .to_string();
    assert!(
        reason_cuda.contains("cuda") && reason_cuda.contains("cpu"),
        "{reason_cuda}"
    );

    let mut cfg = config(dir.path(), "run4");
    cfg.dataloader_drop_last = true;
    cfg.per_device_train_batch_size = 64;
    let reason_empty = failure(&run(cfg, options(dir.path()), |_, _| {}))
        .unwrap()
        .to_string();
    assert!(
        reason_empty.contains("dataloader_drop_last"),
        "{reason_empty}"
    );

    // Unknown keys and bad values are refused before any thread starts, naming the key.
    let err = TrainConfig::from_toml_str("model = \"m\"\ndataset = \"d\"\nlearning_rat = 1e-5\n")
        .unwrap_err();
    assert!(err.to_string().contains("learning_rat"), "{err}");
    let err = TrainConfig::from_toml_str(
        "model = \"m\"\ndataset = \"d\"\nper_device_train_batch_size = 0\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("per_device_train_batch_size"),
        "{err}"
    );
}

#[test]
fn hub_ids_train_end_to_end_through_a_loopback_mirror() {
    // A Hub-layout folder served on 127.0.0.1; the trainer sees only ids and an endpoint.
    let dir = tempfile::tempdir().unwrap();
    let hub_root = dir.path().join("hub");
    let model = tiny_model(dir.path());
    let model_repo = hub_root.join("models/wick-test/tiny-bert");
    std::fs::create_dir_all(&model_repo).unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, model_repo.join(path.file_name().unwrap())).unwrap();
    }
    let data_repo = hub_root.join("datasets/wick-test/reviews");
    std::fs::create_dir_all(&data_repo).unwrap();
    let data = tiny_dataset(dir.path());
    std::fs::create_dir_all(data_repo.join("data")).unwrap();
    for split in ["train", "validation"] {
        std::fs::copy(
            data.join(format!("data/{split}.csv")),
            data_repo.join(format!("data/{split}.csv")),
        )
        .unwrap();
    }
    std::fs::write(
        data_repo.join("README.md"),
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.csv\n  - split: validation\n    path: data/validation.csv\n---\n",
    )
    .unwrap();
    let mirror = wick::hub::mirror::Mirror::start(&hub_root, Default::default()).unwrap();

    let mut cfg = config(dir.path(), "run");
    cfg.model = "wick-test/tiny-bert".into();
    cfg.dataset = "wick-test/reviews".into();
    cfg.max_steps = 2;
    let mut opts = options(dir.path());
    opts.hub = HubSettings::with_home(&dir.path().join("hf-home")).with_endpoint(&mirror.url());
    let events = run(cfg.clone(), opts.clone(), |_, _| {});
    assert_eq!(failure(&events), None);
    let cache = dir.path().join("hf-home/hub");
    assert!(
        cache
            .join("models--wick-test--tiny-bert/refs/main")
            .is_file()
    );
    assert!(
        cache
            .join("datasets--wick-test--reviews/refs/main")
            .is_file()
    );

    // Offline, the same ids are served from the cache.
    drop(mirror);
    cfg.output_dir = Some(dir.path().join("run-offline").display().to_string());
    opts.hub = opts.hub.with_offline(true);
    assert_eq!(failure(&run(cfg, opts, |_, _| {})), None);
}

#[test]
fn early_stopping_ends_the_run_and_the_best_checkpoint_survives_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "run");
    // No evaluation can beat the first by a threshold this large: patience runs out at once.
    cfg.early_stopping_threshold = 100.0;
    cfg.load_best_model_at_end = true;
    cfg.metric_for_best_model = Some("eval_loss".into());
    cfg.early_stopping_patience = Some(1);
    cfg.save_total_limit = Some(1);
    cfg.validate().unwrap();
    let events = run(cfg, options(dir.path()), |_, _| {});
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("{:?}", failure(&events))
    };
    assert!(summary.stopped_early);
    assert_eq!(
        summary.global_step, 10,
        "stops after the second of three epochs"
    );
    let best = summary.best_checkpoint.clone().expect("a best checkpoint");
    assert!(best.is_dir(), "{}", best.display());
    // save_total_limit = 1 keeps the best and the latest, nothing else.
    let run_dir = dir.path().join("run");
    assert!(run_dir.join("checkpoint-10").is_dir());
    let checkpoints = std::fs::read_dir(&run_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("checkpoint-")
        })
        .count();
    let expected = if best.ends_with("checkpoint-10") {
        1
    } else {
        2
    };
    assert_eq!(checkpoints, expected);
}

/// `wick train` as a user runs it: the binary, a config file, `--set`, exit codes.
#[test]
fn the_train_command_runs_a_config_file_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "cli-run");
    let file = dir.path().join("run.toml");
    std::fs::write(&file, cfg.to_toml_string()).unwrap();
    let wick = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
            .args(args)
            .env("HF_HOME", dir.path().join("hf"))
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let file_arg = file.display().to_string();
    let out = wick(&[
        "train",
        "--config",
        &file_arg,
        "--set",
        "num_train_epochs=1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "run folder",
        "5 optimizer steps",
        "eval @ step 5",
        "eval accuracy",
        "train samples/s",
        "Per class:",
        "precision     recall         f1  support",
    ] {
        assert!(
            stdout.contains(needle),
            "'{needle}' missing from:\n{stdout}"
        );
    }
    assert!(
        dir.path()
            .join("cli-run/checkpoint-5/model.safetensors")
            .is_file()
    );

    let out = wick(&["train", "--config", &file_arg, "--set", "learning_rat=1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("learning_rat") && stderr.contains("learning_rate"),
        "{stderr}"
    );

    let out = wick(&[
        "train",
        "--config",
        &file_arg,
        "--set",
        "lr_scheduler_type=exponential",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lr_scheduler_type"));
}

/// `wick data inspect --json` gives the first batch as nested arrays, as DataCollatorWithPadding
/// pads it.
#[test]
fn the_inspect_command_prints_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
        .args([
            "data",
            "inspect",
            "--json",
            "--config",
            "mrpc",
            "--split",
            "validation",
        ])
        .arg("--data")
        .arg(fixtures().join("glue"))
        .arg("--tokenizer")
        .arg(fixtures().join("minilm-tokenizer"))
        .env("HF_HOME", dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["rows"], 408);
    assert_eq!(
        json["label_names"],
        serde_json::json!(["not_equivalent", "equivalent"])
    );
    assert_eq!(json["class_balance"][1]["rows"], 279);
    let ids = json["first_batch"]["input_ids"].as_array().unwrap();
    assert_eq!((ids.len(), ids[0].as_array().unwrap().len()), (8, 74));
    assert_eq!(json["features"][0]["type"], "string");
}

#[test]
fn local_data_without_an_eval_split_holds_out_a_seeded_share_of_train() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "held-out");
    // Only the training file: no validation split to evaluate on.
    let train_file = tiny_dataset(dir.path()).join("data/train.csv");
    cfg.dataset = train_file.display().to_string();
    cfg.eval_split = None;
    cfg.validation_split_percentage = Some(10);
    let events = run(cfg.clone(), options(dir.path()), |_, _| {});
    assert_eq!(failure(&events), None);
    let Some(Event::Started(started)) = events.iter().find(|e| matches!(e, Event::Started(_)))
    else {
        panic!("a Started event")
    };
    assert_eq!(
        (started.train_rows, started.eval_rows),
        (36, 4),
        "10% of 40 rows"
    );
    let run_dir = dir.path().join("held-out");
    assert_eq!(
        steps_with(&run_dir, "eval_loss").len(),
        3,
        "evaluated each epoch"
    );
    let predictions = wick::runs::read_predictions(&run_dir).unwrap().unwrap();
    assert_eq!(predictions.split, "train[held out 10%]");
    assert_eq!(predictions.rows.len(), 4);
    // Exactly the seeded draw's rows of train, in dataset order.
    let csv = std::fs::read_to_string(&train_file).unwrap();
    let first_texts: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    let drawn = wick::data::holdout_rows(40, 10, cfg.resolved_data_seed()).unwrap();
    let expected: Vec<&str> = drawn.eval.iter().map(|&row| first_texts[row]).collect();
    let held_out: Vec<&str> = predictions.rows.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(held_out, expected);
    // The run's config says so, and a second run with the same seed holds out the same rows.
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        saved.contains("validation_split_percentage = 10"),
        "{saved}"
    );
    cfg.output_dir = Some(dir.path().join("again").display().to_string());
    assert_eq!(
        failure(&run(cfg.clone(), options(dir.path()), |_, _| {})),
        None
    );
    let again = wick::runs::read_predictions(&dir.path().join("again"))
        .unwrap()
        .unwrap();
    let texts = |p: &wick::runs::Predictions| -> Vec<String> {
        p.rows.iter().map(|r| r.text.clone()).collect()
    };
    assert_eq!(texts(&again), texts(&predictions));

    // A resume draws the same rows: one whose seed would draw others is refused.
    cfg.output_dir = Some(dir.path().join("stopped").display().to_string());
    let events = run(cfg.clone(), options(dir.path()), |event, commands| {
        if let Event::Step(s) = event
            && s.step == 4
        {
            commands.send(Command::Stop).unwrap();
        }
    });
    assert_eq!(failure(&events), None);
    let mut reseeded = cfg.clone();
    reseeded.seed += 1;
    reseeded.resume_from_checkpoint = Some("latest".into());
    let events = run(reseeded, options(dir.path()), |_, _| {});
    let reason = failure(&events).expect("a resume that would hold out other rows fails");
    assert!(reason.contains("validation_split_percentage"), "{reason}");
    let mut resumed = cfg.clone();
    resumed.resume_from_checkpoint = Some("latest".into());
    assert_eq!(failure(&run(resumed, options(dir.path()), |_, _| {})), None);
}
