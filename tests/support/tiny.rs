//! A tiny trainable BERT (the PyTorch fixture) with a WordPiece tokenizer, and a tiny
//! dataset whose labels follow its words.

use std::path::{Path, PathBuf};

pub const WORDS: &[&str] = &[
    "the", "film", "was", "good", "bad", "great", "awful", "plot", "and", "acting", "is", "a",
    "story", "fine", "dull", "fun",
];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A tiny BERT folder (the PyTorch fixture with dropout switched on) plus a WordPiece
/// tokenizer whose ids fit its 1000-row vocabulary.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny-bert");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        fixtures().join("tiny-bert/model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tiny-bert/config.json")).unwrap(),
    )
    .unwrap();
    config["hidden_dropout_prob"] = 0.1.into();
    config["attention_probs_dropout_prob"] = 0.1.into();
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();

    let mut tokenizer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("minilm-tokenizer/tokenizer.json")).unwrap(),
    )
    .unwrap();
    let mut vocab = serde_json::Map::new();
    for (i, token) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .enumerate()
    {
        vocab.insert(token.to_string(), i.into());
    }
    let letters = ('a'..='z').flat_map(|c| [c.to_string(), format!("##{c}")]);
    for token in WORDS
        .iter()
        .map(|w| w.to_string())
        .chain(letters)
        .chain([".".to_string(), ",".to_string()])
    {
        let id = vocab.len();
        vocab.entry(token).or_insert(id.into());
    }
    tokenizer["model"]["vocab"] = vocab.into();
    for added in tokenizer["added_tokens"].as_array_mut().unwrap() {
        let content = added["content"].as_str().unwrap().to_string();
        let id = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .position(|t| *t == content)
            .unwrap();
        added["id"] = id.into();
    }
    tokenizer["post_processor"]["special_tokens"]["[CLS]"]["ids"] = serde_json::json!([2]);
    tokenizer["post_processor"]["special_tokens"]["[SEP]"]["ids"] = serde_json::json!([3]);
    tokenizer["padding"] = serde_json::Value::Null;
    tokenizer["truncation"] = serde_json::Value::Null;
    std::fs::write(model.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    model
}

/// Pairs whose label follows the words in them, so a model can learn something.
pub fn tiny_dataset(dir: &Path) -> PathBuf {
    let data = dir.join("reviews");
    std::fs::create_dir_all(data.join("data")).unwrap();
    for (split, rows, offset) in [("train", 40, 0), ("validation", 12, 1000)] {
        let mut csv = String::from("sentence1,sentence2,label\n");
        for i in 0..rows {
            let n = i + offset;
            let label = ["neg", "neu", "pos"][n % 3];
            let cue = ["awful", "fine", "great"][n % 3];
            let filler: Vec<&str> = (0..(3 + n % 5))
                .map(|k| WORDS[(n * 7 + k * 3) % 11])
                .collect();
            csv.push_str(&format!(
                "the film was {cue},{} {cue},{label}\n",
                filler.join(" ")
            ));
        }
        std::fs::write(data.join(format!("data/{split}.csv")), csv).unwrap();
    }
    data
}

/// Trains `config` to the end with the lib's trainer, offline with its HF cache under
/// `scratch`, recording runs in `runs_root`; returns the run folder. Panics, naming the
/// reason, when the run fails.
pub fn train_to_end(
    config: wick::recipe::TrainConfig,
    scratch: &Path,
    runs_root: &Path,
) -> PathBuf {
    let options = wick::train::TrainerOptions {
        runs_root: Some(runs_root.to_path_buf()),
        hub: wick::hub::HubSettings::with_home(&scratch.join("hf")).with_offline(true),
        dataset_cache: true,
    };
    let handle = wick::train::spawn(config, options).unwrap();
    let mut run_dir = None;
    loop {
        match handle
            .events
            .recv_timeout(std::time::Duration::from_secs(600))
        {
            Ok(wick::train::Event::Started(started)) => run_dir = Some(started.run_dir.clone()),
            Ok(wick::train::Event::Finished(_)) => break,
            Ok(wick::train::Event::Failed { reason }) => panic!("the tiny run failed: {reason}"),
            Ok(_) => {}
            Err(err) => panic!("no trainer event within 10 minutes: {err}"),
        }
    }
    handle.join();
    run_dir.expect("the trainer reports its run folder")
}

/// [`tiny_model`] without its classification head (a pre-trained encoder, as MiniLM is), so
/// that any task's head starts fresh at the data's label count.
pub fn tiny_encoder(dir: &Path) -> PathBuf {
    let model = tiny_model(dir);
    let weights = model.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights, &candle_core::Device::Cpu).unwrap();
    let encoder: std::collections::HashMap<String, candle_core::Tensor> = tensors
        .into_iter()
        .filter(|(name, _)| !name.starts_with("classifier."))
        .collect();
    candle_core::safetensors::save(&encoder, &weights).unwrap();
    model
}

/// Writes `train.jsonl` and `validation.jsonl` under `dir/<name>/data` from `row(n)`.
fn jsonl_dataset(dir: &Path, name: &str, row: impl Fn(usize) -> serde_json::Value) -> PathBuf {
    let data = dir.join(name);
    std::fs::create_dir_all(data.join("data")).unwrap();
    for (split, rows, offset) in [("train", 40, 0), ("validation", 12, 1000)] {
        let lines: Vec<String> = (offset..offset + rows)
            .map(|n| row(n).to_string())
            .collect();
        std::fs::write(
            data.join(format!("data/{split}.jsonl")),
            lines.join("\n") + "\n",
        )
        .unwrap();
    }
    data
}

/// Named entities in CoNLL-2003's layout (`tokens`, `ner_tags` as tag names): "great" and
/// "awful" are persons and places whose tags a model can learn from the word itself.
pub fn tiny_ner_dataset(dir: &Path) -> PathBuf {
    jsonl_dataset(dir, "entities", |n| {
        let mut tokens = Vec::new();
        let mut tags = Vec::new();
        for k in 0..(4 + n % 4) {
            let word = WORDS[(n * 5 + k * 3) % WORDS.len()];
            let tag = match word {
                "great" => "B-PER",
                "awful" => "B-LOC",
                "fun" if tags.last() == Some(&"B-LOC") => "I-LOC",
                _ => "O",
            };
            tokens.push(word);
            tags.push(tag);
        }
        serde_json::json!({"id": n.to_string(), "tokens": tokens, "ner_tags": tags})
    })
}

/// Several labels per text (`text`, `labels` as a list of names), each cued by a word.
pub fn tiny_multilabel_dataset(dir: &Path) -> PathBuf {
    jsonl_dataset(dir, "tags", |n| {
        let mut labels = Vec::new();
        let mut words = vec!["the", "film"];
        for (bit, (word, label)) in [("great", "joy"), ("awful", "anger"), ("dull", "boredom")]
            .into_iter()
            .enumerate()
        {
            if (n >> bit) & 1 == 1 {
                words.push(word);
                labels.push(label);
            }
        }
        words.push(WORDS[n % WORDS.len()]);
        serde_json::json!({"text": words.join(" "), "labels": labels})
    })
}

/// Sentence pairs with a float similarity score (`sentence1`, `sentence2`, `label`), the
/// score following how many cue words the pair shares.
pub fn tiny_regression_dataset(dir: &Path) -> PathBuf {
    jsonl_dataset(dir, "similarity", |n| {
        let cue = ["awful", "fine", "great"][n % 3];
        let shared = n % 4;
        let second: Vec<&str> = (0..4)
            .map(|k| {
                if k < shared {
                    cue
                } else {
                    WORDS[(n + k * 5) % 11]
                }
            })
            .collect();
        serde_json::json!({
            "sentence1": format!("the film was {cue}"),
            "sentence2": second.join(" "),
            "label": shared as f64 * 1.25,
        })
    })
}

/// Two rows of named entities (train only) whose words the tiny tokenizer knows whole or
/// splits into letters: "zorro" is z ##o ##r ##r ##o, so later pieces of a word show.
pub fn tiny_split_word_dataset(dir: &Path) -> PathBuf {
    let data = dir.join("split-words");
    std::fs::create_dir_all(data.join("data")).unwrap();
    let rows = [
        serde_json::json!({"tokens": ["great", "zorro", "was", "fun"], "ner_tags": ["B-PER", "I-PER", "O", "O"]}),
        serde_json::json!({"tokens": ["awful"], "ner_tags": ["B-LOC"]}),
    ];
    let lines: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(data.join("data/train.jsonl"), lines.join("\n") + "\n").unwrap();
    data
}
