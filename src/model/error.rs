//! Errors raised while reading, building, running or saving a model.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("bad model config: {0}")]
    Config(String),
    #[error("unsupported model_type {found:?}; supported: {supported}")]
    UnsupportedModelType { found: String, supported: String },
    #[error(
        "{dir} only has pickle weights (pytorch_model.bin): pickle weights are not supported; convert to safetensors"
    )]
    PickleWeights { dir: PathBuf },
    #[error("no model.safetensors or model.safetensors.index.json in {dir}")]
    NoWeights { dir: PathBuf },
    #[error("cannot read safetensors file {path}: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("tensor {name} is missing from the weights in {dir}")]
    MissingTensor { name: String, dir: PathBuf },
    #[error("tensor {name}: the checkpoint has shape {found:?} but the model expects {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensors {first} and {second} both map to parameter {name}")]
    DuplicateTensor {
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "{dir}: {labels_from} has {labels} labels ({names}), but the model's classification head has {head_labels}{head_names}; start from a model without that head, or check the label column"
    )]
    HeadLabelCount {
        dir: PathBuf,
        labels_from: &'static str,
        labels: usize,
        names: String,
        head_labels: usize,
        /// ` (a, b)` when config.json names the head's labels, else empty.
        head_names: String,
    },
    #[error("bad labels: {0}")]
    Labels(String),
    #[error("bad model input: {0}")]
    Input(String),
    #[error("LoRA: {0}")]
    Lora(String),
    #[error("adapter {path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
