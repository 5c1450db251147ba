//! Tiny Hub-layout folders built in temp dirs, and settings pointing at a mirror.
#![allow(dead_code)] // each test binary uses a different part

pub mod app;
pub mod tiny;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use wick::hub::HubSettings;
use wick::hub::mirror::{Mirror, MirrorOptions};

pub const TOKEN: &str = "hf_mirror_test_token_5e1f";

pub const CARD: &str = "---
license: mit
task_categories:
- text-classification
configs:
- config_name: pairs
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
dataset_info:
- config_name: pairs
  features:
  - name: sentence
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': negative
          '1': positive
  splits:
  - name: train
    num_examples: 4
  - name: validation
    num_examples: 2
---
# tiny pairs
";

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

pub fn write_parquet(path: &Path, sentences: &[&str], labels: &[i64]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sentence", DataType::Utf8, false),
        Field::new("label", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(sentences.to_vec())),
            Arc::new(Int64Array::from(labels.to_vec())),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Deterministic, non-repeating bytes (so a misplaced resume shows).
pub fn pattern_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 251 + seed as usize) % 256) as u8)
        .collect()
}

/// A small Hub: datasets with and without `configs:`, models single, sharded,
/// pickle-only, gated, and with a malicious shard index.
pub fn tiny_hub(root: &Path) {
    let ds = root.join("datasets/acme/pairs");
    write(&ds.join("README.md"), CARD);
    write_parquet(
        &ds.join("data/train-00000-of-00001.parquet"),
        &["good", "bad", "fine", "awful"],
        &[1, 0, 1, 0],
    );
    write_parquet(
        &ds.join("data/validation-00000-of-00001.parquet"),
        &["nice", "poor"],
        &[1, 0],
    );
    write(
        &ds.join(".mirror.json"),
        r#"{"downloads": 500, "likes": 7, "tags": ["text-classification"], "lastModified": "2025-03-01T00:00:00.000Z"}"#,
    );

    let plain = root.join("datasets/acme/plain");
    write(&plain.join("README.md"), "# no front matter\n");
    write_parquet(
        &plain.join(".refs/convert/parquet/default/train/0000.parquet"),
        &["x", "y", "z"],
        &[0, 1, 2],
    );
    write(
        &plain.join(".mirror.json"),
        r#"{"downloads": 20, "likes": 30}"#,
    );

    let gated_ds = root.join("datasets/acme/gated-pairs");
    write(&gated_ds.join("README.md"), CARD);
    write_parquet(
        &gated_ds.join("data/train-00000-of-00001.parquet"),
        &["s"],
        &[1],
    );
    write(
        &gated_ds.join(".mirror.json"),
        r#"{"gated": true, "downloads": 1}"#,
    );

    for i in 0..7u64 {
        let repo = root.join(format!("datasets/bulk/set-{i}"));
        write(&repo.join("README.md"), format!("# set {i}\n"));
        write(
            &repo.join(".mirror.json"),
            format!(
                r#"{{"downloads": {}, "likes": {}, "lastModified": "2024-0{}-01T00:00:00.000Z"}}"#,
                100 + i,
                10 - i,
                i + 1
            ),
        );
    }

    let tiny = root.join("models/acme/tiny-bert");
    write(
        &tiny.join("config.json"),
        r#"{"model_type": "bert", "hidden_size": 8}"#,
    );
    write(
        &tiny.join("tokenizer.json"),
        r#"{"version": "1.0", "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}"#,
    );
    write(&tiny.join("model.safetensors"), pattern_bytes(300_000, 1));
    write(
        &tiny.join(".mirror.json"),
        r#"{"downloads": 9, "tags": ["fill-mask"]}"#,
    );

    let sharded = root.join("models/acme/sharded");
    write(&sharded.join("config.json"), r#"{"model_type": "bert"}"#);
    write(
        &sharded.join("model.safetensors.index.json"),
        r#"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}"#,
    );
    write(
        &sharded.join("model-00001-of-00002.safetensors"),
        pattern_bytes(1000, 2),
    );
    write(
        &sharded.join("model-00002-of-00002.safetensors"),
        pattern_bytes(1500, 3),
    );

    let pickle = root.join("models/acme/pickle-only");
    write(&pickle.join("config.json"), r#"{"model_type": "bert"}"#);
    write(&pickle.join("pytorch_model.bin"), pattern_bytes(100, 4));

    let gated = root.join("models/acme/gated-bert");
    write(&gated.join("config.json"), r#"{"model_type": "bert"}"#);
    write(&gated.join("model.safetensors"), pattern_bytes(5000, 5));
    write(&gated.join(".mirror.json"), r#"{"gated": true}"#);

    let evil = root.join("models/acme/evil-index");
    write(&evil.join("config.json"), r#"{"model_type": "bert"}"#);
    write(
        &evil.join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "../../../../escape.safetensors"}}"#,
    );
}

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub mirror: Mirror,
}

impl Hub {
    pub fn start(options: MirrorOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        tiny_hub(dir.path());
        let mirror = Mirror::start(dir.path(), options).unwrap();
        Self {
            dir,
            home: tempfile::tempdir().unwrap(),
            mirror,
        }
    }

    pub fn new() -> Self {
        Self::start(MirrorOptions {
            token: Some(TOKEN.to_string()),
            page_size: 3,
            ..MirrorOptions::default()
        })
    }

    /// Settings for a fresh HF_HOME pointed at the mirror; no token.
    pub fn settings(&self) -> HubSettings {
        HubSettings::with_home(self.home.path())
            .with_endpoint(&self.mirror.url())
            .with_viewer_url(&self.mirror.viewer_url())
    }

    pub fn cache(&self) -> PathBuf {
        self.home.path().join("hub")
    }
}

/// `../shared/hub` next to the crate, if present.
pub fn shared_hub() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/hub");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED: ../shared/hub not found");
        None
    }
}
