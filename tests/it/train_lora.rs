//! `use_lora = true` through the trainer on tiny data: checkpoints hold the adapter in peft's
//! layout beside the merged model, only the adapters and the head train, and a stopped and
//! resumed run ends bit-identical to an uninterrupted one (adapters, head, AdamW state).

use std::path::Path;
use std::time::Duration;

use candle_core::Device;
use wick::hub::HubSettings;
use wick::model::{Classifier, Dropout};
use wick::recipe::TrainConfig;
use wick::train::{Command, Event, ExportForm, Predictor, TrainerOptions, export_model};

use crate::support::tiny::{tiny_dataset, tiny_model};

fn config(dir: &Path, output: &str) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-2
num_train_epochs = 2
per_device_train_batch_size = 4
gradient_accumulation_steps = 2
weight_decay = 0.01
logging_steps = 2
eval_strategy = "epoch"
save_strategy = "epoch"
seed = 7
use_lora = true
lora_r = 4
lora_alpha = 8
lora_dropout = 0.1
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

fn run(
    config: TrainConfig,
    dir: &Path,
    mut on_event: impl FnMut(&Event, &crossbeam_channel::Sender<Command>),
) -> Vec<Event> {
    let handle = wick::train::spawn(config, options(dir)).unwrap();
    let mut events = Vec::new();
    loop {
        let event = handle
            .events
            .recv_timeout(Duration::from_secs(600))
            .expect("the trainer reports within 10 minutes");
        on_event(&event, &handle.commands);
        if let Event::Failed { reason } = &event {
            panic!("the LoRA run failed: {reason}");
        }
        let last = matches!(event, Event::Finished(_));
        events.push(event);
        if last {
            break;
        }
    }
    handle.join();
    events
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_lora_run_checkpoints_peft_adapters_and_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let full = config(dir.path(), "full");
    let events = run(full.clone(), dir.path(), |_, _| {});
    let Some(Event::Started(started)) = events.iter().find(|e| matches!(e, Event::Started(_)))
    else {
        panic!("no Started event")
    };
    // tiny-bert's 52419 weights plus 4 adapters of r 4 on 32-wide query/value.
    assert_eq!(started.num_parameters, 52419 + 4 * 256);
    // The adapters and the classifier (3 x 32 + 3).
    assert_eq!(started.trainable_parameters, 4 * 256 + 99);
    // 40 rows / batch 4 / accumulation 2: 5 steps an epoch, 10 in all.
    assert_eq!(started.total_steps, 10);

    let last = dir.path().join("full/checkpoint-10");
    let adapter_dir = last.join(wick::train::ADAPTER_DIR);
    for file in [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "config.json",
        "model.safetensors",
    ] {
        assert!(last.join(file).is_file(), "checkpoint lacks {file}");
    }
    // Not beside model.safetensors: transformers would apply it on top of the merged model.
    assert!(!last.join("adapter_config.json").exists());
    let adapter: serde_json::Value =
        serde_json::from_slice(&read(&adapter_dir.join("adapter_config.json"))).unwrap();
    assert_eq!(adapter["peft_type"], "LORA");
    assert_eq!(
        adapter["target_modules"],
        serde_json::json!(["query", "value"])
    );
    let tensors =
        candle_core::safetensors::load(adapter_dir.join("adapter_model.safetensors"), &Device::Cpu)
            .unwrap();
    let mut keys: Vec<&String> = tensors.keys().collect();
    keys.sort();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert!(keys.contains(&&"base_model.model.classifier.weight".to_string()));
    assert!(keys.contains(
        &&"base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight".to_string()
    ));

    // The checkpoint's model.safetensors is the merged model: it answers as the base with
    // the adapter does, and the frozen base (e.g. the embeddings) did not move.
    let base_dir = tiny_model(dir.path());
    let (base, _) = Classifier::load(&base_dir, &[], &Device::Cpu).unwrap();
    let (merged, _) = Classifier::load(&last, &[], &Device::Cpu).unwrap();
    let with_adapter = base.clone().with_adapter(&adapter_dir).unwrap();
    let ids = candle_core::Tensor::new(&[[2u32, 7, 9, 11, 3]], &Device::Cpu).unwrap();
    let ones = ids.ones_like().unwrap();
    let logits = |m: &Classifier| -> Vec<f32> {
        m.forward(&ids, &ids.zeros_like().unwrap(), &ones, &mut Dropout::off())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    for (a, b) in logits(&merged).iter().zip(logits(&with_adapter)) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let weight = |m: &Classifier, name: &str| -> Vec<f32> {
        m.params()
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let embeddings = "bert.embeddings.word_embeddings.weight";
    assert_eq!(weight(&merged, embeddings), weight(&base, embeddings));
    let query = "bert.encoder.layer.0.attention.self.query.weight";
    assert_ne!(
        weight(&merged, query),
        weight(&base, query),
        "the adapter merged in"
    );

    // Stopped after step 3 and resumed: the same adapters, head, merged model and moments.
    let mut interrupted = full.clone();
    interrupted.output_dir = Some(dir.path().join("interrupted").display().to_string());
    let events = run(interrupted.clone(), dir.path(), |event, commands| {
        if let Event::Step(s) = event
            && s.step == 3
        {
            commands.send(Command::Stop).unwrap();
        }
    });
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("a stop finishes cleanly")
    };
    let stopped_at = summary.global_step;
    assert!((3..10).contains(&stopped_at), "stopped at {stopped_at}");
    let checkpoint = dir
        .path()
        .join(format!("interrupted/checkpoint-{stopped_at}"));
    assert!(
        checkpoint
            .join("adapter/adapter_model.safetensors")
            .is_file()
    );

    // Other adapter scaling would load (the shapes match) and make another model: refused.
    let mut rescaled = interrupted.clone();
    rescaled.resume_from_checkpoint = Some(checkpoint.display().to_string());
    rescaled.lora_alpha *= 2.0;
    let handle = wick::train::spawn(rescaled, options(dir.path())).unwrap();
    let reason = loop {
        match handle
            .events
            .recv_timeout(Duration::from_secs(600))
            .expect("the trainer reports within 10 minutes")
        {
            Event::Failed { reason } => break reason,
            Event::Finished(_) => panic!("a resume with another lora_alpha trained"),
            _ => {}
        }
    };
    handle.join();
    assert!(
        reason.contains("lora_alpha") && reason.contains("the recipe says"),
        "{reason}"
    );

    let mut resumed = interrupted;
    resumed.resume_from_checkpoint = Some(checkpoint.display().to_string());
    let events = run(resumed, dir.path(), |_, _| {});
    let Some(Event::Started(started)) = events.iter().find(|e| matches!(e, Event::Started(_)))
    else {
        panic!("no Started event")
    };
    assert_eq!(started.resumed_at_step, Some(stopped_at));
    assert!(
        started.newly_initialized.is_empty(),
        "the head comes from the adapter: {:?}",
        started.newly_initialized
    );
    let resumed_last = dir.path().join("interrupted/checkpoint-10");
    for file in [
        "adapter/adapter_model.safetensors",
        "model.safetensors",
        "optimizer.safetensors",
    ] {
        assert!(
            read(&last.join(file)) == read(&resumed_last.join(file)),
            "{file} differs between the uninterrupted and the resumed run"
        );
    }
}

/// The preflight runs the LoRA step and tells trainable from total parameters.
#[test]
fn the_preflight_measures_the_lora_step() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "preflight");
    let progress: wick::train::preflight::PreflightProgress = std::sync::Arc::new(|_, _, _| {});
    let hub = HubSettings::with_home(&dir.path().join("hf")).with_offline(true);
    let report = wick::train::preflight::preflight(&config, &hub, progress).unwrap();
    assert_eq!(report.num_parameters, 52419 + 4 * 256);
    assert_eq!(report.trainable_parameters, 4 * 256 + 99);
    assert!(report.step_time_s > 0.0);
}

/// Export from a LoRA checkpoint in both forms: the merged model (no adapter beside it) and
/// the adapter alone, which reloads on its base (named by an absolute path) to the source's
/// logits, and is the checkpoint's adapter tensor for tensor. A full checkpoint has no
/// adapter to export.
#[test]
fn a_lora_checkpoint_exports_as_the_merged_model_or_as_its_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "run");
    cfg.num_train_epochs = 1.0;
    run(cfg, dir.path(), |_, _| {});
    let checkpoint = dir.path().join("run/checkpoint-5");

    let merged = dir.path().join("merged");
    let check = export_model(&checkpoint, &merged, ExportForm::Merged, &Device::Cpu).unwrap();
    assert!(
        check.max_abs_logit_diff <= 1e-5,
        "{}",
        check.max_abs_logit_diff
    );
    assert!(merged.join("model.safetensors").is_file());
    assert!(
        !merged.join("adapter").exists(),
        "the merged form carries no adapter"
    );

    let adapter = dir.path().join("adapter");
    let check = export_model(&checkpoint, &adapter, ExportForm::Adapter, &Device::Cpu).unwrap();
    assert!(
        check.max_abs_logit_diff <= 1e-5,
        "{}",
        check.max_abs_logit_diff
    );
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "config.json",
        "tokenizer.json",
        "README.md",
    ] {
        assert!(
            adapter.join(file).is_file(),
            "the adapter export lacks {file}"
        );
    }
    assert!(
        !adapter.join("model.safetensors").exists(),
        "the adapter form has no full weights"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    let base = config["base_model_name_or_path"].as_str().unwrap();
    assert!(Path::new(base).is_absolute(), "{base}");
    let card = std::fs::read_to_string(adapter.join("README.md")).unwrap();
    assert!(
        card.contains("library_name: peft") && card.contains("PeftModel.from_pretrained"),
        "{card}"
    );

    // The same tensors as the checkpoint's adapter, and the same predictions.
    let exported = Classifier::load(&tiny_model(dir.path()), &[], &Device::Cpu)
        .unwrap()
        .0
        .with_adapter(&adapter)
        .unwrap();
    let in_checkpoint = Classifier::load(&tiny_model(dir.path()), &[], &Device::Cpu)
        .unwrap()
        .0
        .with_adapter(&checkpoint.join("adapter"))
        .unwrap();
    for ((name, a), (_, b)) in exported.params().iter().zip(in_checkpoint.params()) {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(a, b, "{name}");
    }
    let source = Predictor::load(&checkpoint, &Device::Cpu).unwrap();
    for loaded in [&adapter, &checkpoint.join("adapter")] {
        let on_base = Predictor::load(loaded, &Device::Cpu).unwrap();
        assert!(
            on_base.has_adapter(),
            "{} loads as an adapter",
            loaded.display()
        );
        assert_eq!(on_base.labels(), source.labels());
        let want = source.logits("a fine small test", None).unwrap();
        let got = on_base.logits("a fine small test", None).unwrap();
        let diff = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff <= 1e-5, "{}: {diff}", loaded.display());
    }

    // Into the checkpoint's own adapter folder (inside the source): refused, nothing lost.
    let before = read(&checkpoint.join("adapter/adapter_model.safetensors"));
    let err = export_model(
        &checkpoint,
        &checkpoint.join("adapter"),
        ExportForm::Adapter,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("different folder"), "{err}");
    assert_eq!(
        read(&checkpoint.join("adapter/adapter_model.safetensors")),
        before
    );

    // One form over the other: the other's files go, so what loads is what was exported.
    export_model(&checkpoint, &adapter, ExportForm::Merged, &Device::Cpu).unwrap();
    assert!(adapter.join("model.safetensors").is_file());
    assert!(!adapter.join("adapter_config.json").exists());
    export_model(&checkpoint, &merged, ExportForm::Adapter, &Device::Cpu).unwrap();
    assert!(!merged.join("model.safetensors").exists());
    assert!(
        Predictor::load(&merged, &Device::Cpu)
            .unwrap()
            .has_adapter()
    );

    // From the checkpoint's adapter folder: the tokenizer comes from the checkpoint.
    let again = dir.path().join("from-adapter");
    export_model(
        &checkpoint.join("adapter"),
        &again,
        ExportForm::Adapter,
        &Device::Cpu,
    )
    .unwrap();
    assert!(again.join("tokenizer.json").is_file());

    // A folder with the merged model only has no adapter to export.
    let plain = dir.path().join("plain");
    export_model(&checkpoint, &plain, ExportForm::Merged, &Device::Cpu).unwrap();
    let err = export_model(
        &plain,
        &dir.path().join("again"),
        ExportForm::Adapter,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no adapter to export"), "{err}");
}
