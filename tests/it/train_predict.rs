//! Inference and export on a tiny BERT trained for a few steps: probabilities, the argmax
//! label, an exported folder that reloads to the same logits, and clear errors.

use std::path::{Path, PathBuf};
use wick::train::config::TrainConfig;
use wick::train::{ExportForm, Predictor, export_model};

use crate::support;
use support::tiny::{tiny_dataset, tiny_model, train_to_end};

/// Trains the tiny BERT for one epoch (5 steps) and returns its last checkpoint.
fn trained_checkpoint(dir: &Path) -> PathBuf {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
num_train_epochs = 1
per_device_train_batch_size = 8
eval_strategy = "epoch"
save_strategy = "epoch"
seed = 3
"#,
        model = tiny_model(dir).display(),
        data = tiny_dataset(dir).display(),
        out = dir.join("run").display()
    );
    let config = TrainConfig::from_toml_str(&text).unwrap();
    train_to_end(config, dir, &dir.join("runs"));
    dir.join("run/checkpoint-5")
}

#[test]
fn predictions_are_probabilities_and_the_label_is_their_argmax() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = trained_checkpoint(dir.path());
    let predictor = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    assert_eq!(predictor.labels(), ["neg", "neu", "pos"]);
    for (text, pair) in [
        ("the film was great", Some("a fun story great")),
        ("the film was awful", None),
        ("", None),
    ] {
        let prediction = predictor.predict(text, pair).unwrap();
        let names: Vec<&str> = prediction.probs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["neg", "neu", "pos"]);
        let sum: f32 = prediction.probs.iter().map(|(_, p)| p).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{text}: {:?}", prediction.probs);
        let (best, _) = prediction
            .probs
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(&prediction.label, best, "{text}");
        assert_eq!(prediction.logits.len(), 3);
        let top_logit = prediction
            .logits
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        let label_id = names.iter().position(|n| *n == prediction.label).unwrap();
        assert_eq!(prediction.logits[label_id], top_logit);
    }
    // The pair changes the input, hence the logits.
    assert_ne!(
        predictor.logits("the film was great", None).unwrap(),
        predictor
            .logits("the film was great", Some("awful dull"))
            .unwrap()
    );
}

#[test]
fn an_exported_model_reloads_to_the_same_logits() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = trained_checkpoint(dir.path());
    let out = dir.path().join("export/my-model");
    let check = export_model(
        &checkpoint,
        &out,
        ExportForm::Merged,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(check.max_abs_logit_diff, 0.0);
    let mut names: Vec<String> = check
        .files
        .iter()
        .map(|f| {
            assert!(f.is_file(), "{}", f.display());
            f.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.md",
            "config.json",
            "model.safetensors",
            "tokenizer.json"
        ]
    );
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        std::fs::read(checkpoint.join("model.safetensors")).unwrap(),
        "bit-identical weights"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"]["2"], "pos");
    assert_eq!(config["label2id"]["neu"], 1);
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\n"), "{card}");
    assert!(card.contains("- 0: neg") && card.contains("run"), "{card}");

    // No optimizer or trainer state in an exported model.
    assert!(!out.join("optimizer.safetensors").exists());
    let reloaded = Predictor::load(&out, &candle_core::Device::Cpu).unwrap();
    let source = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    assert_eq!(
        reloaded.predict("the film was fine", None).unwrap(),
        source.predict("the film was fine", None).unwrap()
    );
}

#[test]
fn bad_folders_get_errors_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = Predictor::load(&empty, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not a model folder") && err.contains("config.json"),
        "{err}"
    );

    // A model folder with broken weights names the file.
    let broken = tiny_model(dir.path());
    std::fs::write(broken.join("model.safetensors"), b"not safetensors").unwrap();
    let err = Predictor::load(&broken, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    let err = export_model(
        &empty,
        &dir.path().join("out"),
        ExportForm::Merged,
        &candle_core::Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is not a model folder"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing written on failure"
    );
}

#[test]
fn exporting_onto_the_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let err = export_model(
        &model,
        &model,
        ExportForm::Merged,
        &candle_core::Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("different folder"), "{err}");
}
