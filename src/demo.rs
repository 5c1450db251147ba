//! The offline demo: a small synthetic review dataset and a tiny, randomly initialised BERT,
//! generated on first use from fixed seeds. It trains in seconds with no network, so the
//! charts, the batch inspector and the playground can be tried anywhere. Nothing here is
//! pretrained, and the UI says so.

use candle_core::Device;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::{Path, PathBuf};

use crate::model::{Classifier, ModelConfig};
use crate::recipe::TrainConfig;

pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
const SUBJECTS: &[&str] = &[
    "the film",
    "the plot",
    "the acting",
    "the soundtrack",
    "the ending",
    "the story",
    "the cast",
    "the script",
    "the pacing",
    "the camera work",
];
const CUES: [&[&str]; 3] = [
    &["awful", "boring", "dull", "terrible", "weak", "painful"],
    &["okay", "average", "fine", "ordinary", "so so", "passable"],
    &[
        "great",
        "wonderful",
        "brilliant",
        "moving",
        "superb",
        "delightful",
    ],
];
const FILLERS: &[&str] = &[
    "i think",
    "honestly",
    "to be fair",
    "overall",
    "in the end",
    "for me",
    "sadly",
    "surprisingly",
    "as expected",
    "once again",
];
const TAILS: &[&str] = &[
    "",
    "and i would say so again",
    "for most of the time",
    "from start to finish",
    "if you ask me",
    "at least in parts",
    "which says a lot",
];

/// Where the demo's files are, once generated.
#[derive(Debug, Clone)]
pub struct DemoFiles {
    pub model_dir: PathBuf,
    pub dataset_dir: PathBuf,
}

/// Writes the demo model and dataset under `root` unless they are already there (each
/// folder is written to a temp name and renamed, so a crash leaves no half folder).
pub fn materialize(root: &Path) -> std::io::Result<DemoFiles> {
    let files = DemoFiles {
        model_dir: root.join("tiny-bert-random"),
        dataset_dir: root.join("synthetic-reviews"),
    };
    if !files.dataset_dir.join("data/validation.csv").is_file() {
        write_atomically(&files.dataset_dir, write_dataset)?;
    }
    if !files.model_dir.join("model.safetensors").is_file() {
        write_atomically(&files.model_dir, write_model)?;
    }
    Ok(files)
}

/// A config that trains the demo in seconds and evaluates every epoch.
/// Whether `config` still trains the demo's random model or its synthetic data (the
/// folder names [`materialize`] writes).
pub fn is_demo_recipe(config: &TrainConfig) -> bool {
    is_demo_model(&config.model) || is_demo_path(&config.dataset, "synthetic-reviews")
}

/// Whether `model` is the demo's random model.
pub fn is_demo_model(model: &str) -> bool {
    is_demo_path(model, "tiny-bert-random")
}

fn is_demo_path(value: &str, name: &str) -> bool {
    let path = Path::new(value);
    path.file_name().is_some_and(|n| n == name)
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "demo")
}

pub fn config(files: &DemoFiles) -> TrainConfig {
    TrainConfig {
        model: files.model_dir.display().to_string(),
        dataset: files.dataset_dir.display().to_string(),
        run_name: Some("offline-demo".into()),
        learning_rate: 2e-3,
        num_train_epochs: 4.0,
        per_device_train_batch_size: 16,
        per_device_eval_batch_size: 32,
        warmup_ratio: 0.1,
        weight_decay: 0.01,
        logging_steps: 2,
        eval_strategy: crate::recipe::IntervalStrategy::Epoch,
        save_strategy: crate::recipe::SaveStrategy::Epoch,
        save_total_limit: Some(2),
        load_best_model_at_end: true,
        metric_for_best_model: Some("accuracy".into()),
        ..TrainConfig::default()
    }
}

fn write_atomically(
    dir: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let temp = parent.join(format!(
        ".{}.partial",
        dir.file_name()
            .map_or_else(|| "demo".into(), |n| n.to_string_lossy())
    ));
    if temp.exists() {
        std::fs::remove_dir_all(&temp)?;
    }
    std::fs::create_dir_all(&temp)?;
    write(&temp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&temp, dir)
}

/// One review with its label; the cue word decides the label, the rest is noise.
fn review(rng: &mut ChaCha8Rng) -> (String, usize) {
    let label = rng.random_range(0..LABELS.len());
    let subject = SUBJECTS.choose(rng).copied().unwrap_or("the film");
    let cue = CUES[label].choose(rng).copied().unwrap_or("fine");
    let filler = FILLERS.choose(rng).copied().unwrap_or("");
    let tail = TAILS.choose(rng).copied().unwrap_or("");
    let text = format!("{filler} {subject} was {cue} {tail}");
    (text.split_whitespace().collect::<Vec<_>>().join(" "), label)
}

fn write_dataset(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("data"))?;
    for (split, rows, seed) in [("train", 640, 11u64), ("validation", 160, 12)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut csv = String::from("text,label\n");
        for _ in 0..rows {
            let (text, label) = review(&mut rng);
            csv.push_str(&format!("{text},{}\n", LABELS[label]));
        }
        std::fs::write(dir.join(format!("data/{split}.csv")), csv)?;
    }
    std::fs::write(
        dir.join("README.md"),
        "# Synthetic reviews (Wick offline demo)\n\nGenerated sentences such as \"overall the \
         plot was great\"; the label follows the adjective. Made by Wick from a fixed seed \
         so the app can be tried without a network. Not real data.\n",
    )
}

fn vocabulary() -> Vec<String> {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let words = SUBJECTS
        .iter()
        .chain(CUES.iter().flat_map(|c| c.iter()))
        .chain(FILLERS)
        .chain(TAILS)
        .flat_map(|phrase| phrase.split_whitespace())
        .chain(["was", ".", ",", "!", "?", "not", "very", "really"]);
    for word in words {
        if !vocab.iter().any(|v| v == word) {
            vocab.push(word.to_string());
        }
    }
    // Letters and digits as word pieces, so any typed text still tokenizes.
    for c in ('a'..='z').chain('0'..='9') {
        vocab.push(c.to_string());
        vocab.push(format!("##{c}"));
    }
    vocab
}

fn write_model(dir: &Path) -> std::io::Result<()> {
    let vocab = vocabulary();
    let vocab_map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, token)| (token.clone(), json!(i)))
        .collect();
    let special = |content: &str, id: usize| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special("[PAD]", 0), special("[UNK]", 1), special("[CLS]", 2),
                         special("[SEP]", 3), special("[MASK]", 4)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab_map}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string())?;
    std::fs::write(
        dir.join("tokenizer_config.json"),
        json!({"model_max_length": 64, "do_lower_case": true, "tokenizer_class": "BertTokenizer"})
            .to_string(),
    )?;
    let id2label: serde_json::Map<String, serde_json::Value> = LABELS
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), json!(l)))
        .collect();
    let config = json!({
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "vocab_size": vocab.len(),
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "id2label": id2label,
    });
    std::fs::write(dir.join("config.json"), config.to_string())?;
    let model_config = ModelConfig::from_file(&dir.join("config.json")).map_err(io_error)?;
    let model =
        Classifier::from_config_random(model_config, LABELS.len(), 20_261_126, &Device::Cpu)
            .map_err(io_error)?;
    model.save(dir).map_err(io_error)?;
    std::fs::write(
        dir.join("README.md"),
        "# tiny-bert-random (Wick offline demo)\n\nA 2-layer, 64-wide BERT initialised at \
         random from a fixed seed by Wick. It is not pretrained: it learns the synthetic demo \
         data in seconds and nothing else.\n",
    )
}

fn io_error(err: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_files_are_generated_once_and_deterministically() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let files_a = materialize(a.path()).unwrap();
        let files_b = materialize(b.path()).unwrap();
        for name in ["model.safetensors", "tokenizer.json", "config.json"] {
            assert_eq!(
                std::fs::read(files_a.model_dir.join(name)).unwrap(),
                std::fs::read(files_b.model_dir.join(name)).unwrap(),
                "{name} differs between two generations"
            );
        }
        let csv = std::fs::read_to_string(files_a.dataset_dir.join("data/train.csv")).unwrap();
        assert_eq!(csv.lines().count(), 641);
        let modified = std::fs::metadata(files_a.model_dir.join("model.safetensors"))
            .unwrap()
            .modified()
            .unwrap();
        materialize(a.path()).unwrap();
        let again = std::fs::metadata(files_a.model_dir.join("model.safetensors"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(modified, again, "a second call reuses the files");
        config(&files_a).validate().unwrap();
    }
}
