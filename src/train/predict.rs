//! Inference with a trained model (`pipeline("text-classification")` or
//! `pipeline("token-classification", aggregation_strategy="simple")` in the course): a
//! checkpoint, an exported model, or a LoRA adapter on its base.

use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

use super::adapter_folder::{is_adapter_folder, load_adapter_model};
use super::entity_groups::{EntityGroup, TaggedToken, group_entities};
use super::evaluate::softmax;
use super::scores;
use crate::data::{DataError, TextTokenizer, TokenizeOptions, tokenize};
use crate::model::{Classifier, Dropout, ModelConfig, ModelError};
use crate::task::Task;

/// What a model folder must hold for [`Predictor::load`].
pub const MODEL_FOLDER_FILES: &[&str] = &["config.json", "model.safetensors", "tokenizer.json"];

/// Tokenizer files copied into an exported folder when the source has them.
pub(super) const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spm.model",
    "added_tokens.json",
];

/// The largest logit difference an export may show against its source.
pub const EXPORT_TOLERANCE: f32 = 1e-5;

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(
        "{} is not a model folder: no {}. Pick a checkpoint-N folder of a run or an exported model",
        dir.display(), missing.join(", no ")
    )]
    NotAModelFolder { dir: PathBuf, missing: Vec<String> },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error(
        "the exported model in {} does not reproduce the source: max |logit difference| = \
         {max_abs_diff:e} (allowed {EXPORT_TOLERANCE:e}) on {probe:?}", out_dir.display()
    )]
    ExportMismatch {
        out_dir: PathBuf,
        max_abs_diff: f32,
        probe: String,
    },
    #[error("{0}")]
    Invalid(String),
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PredictError + '_ {
    move |source| PredictError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One prediction: the most probable label, every label's probability (label-id order),
/// and the raw logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub probs: Vec<(String, f32)>,
    pub logits: Vec<f32>,
}

/// What a model says about one input, in its task's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPrediction {
    /// Single-label: the most probable class and every class's softmax probability.
    Class(Prediction),
    /// Multi-label: each label's sigmoid; those at or above `threshold` are predicted.
    Labels {
        probs: Vec<(String, f32)>,
        threshold: f32,
    },
    /// Regression: the predicted number.
    Score(f32),
    /// Token classification: the entities found, grouped as the "simple" aggregation does.
    Entities(Vec<EntityGroup>),
}

/// A model and its tokenizer, loaded once and used for many predictions.
#[derive(Debug)]
pub struct Predictor {
    dir: PathBuf,
    /// Where the tokenizer files were read (the folder, or for an adapter folder the
    /// checkpoint's or the base's).
    tokenizer_dir: PathBuf,
    pub(super) model: Classifier,
    tokenizer: TextTokenizer,
    max_length: usize,
}

/// `"cpu"`, `"cuda"` or `"cuda:N"` as a device (CUDA only in CUDA builds).
pub fn device_from_name(name: &str) -> Result<Device, PredictError> {
    let name = name.trim();
    if name.is_empty() || name.eq_ignore_ascii_case("cpu") {
        return Ok(Device::Cpu);
    }
    let ordinal = match name.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                PredictError::Invalid(format!("device \"{name}\": expected cpu, cuda or cuda:N"))
            })?,
        None => {
            return Err(PredictError::Invalid(format!(
                "device \"{name}\": expected cpu, cuda or cuda:N"
            )));
        }
    };
    Device::new_cuda(ordinal).map_err(|e| {
        PredictError::Invalid(format!("device \"{name}\": CUDA is not available ({e})"))
    })
}

/// The files of [`MODEL_FOLDER_FILES`] that `dir` lacks.
fn missing_model_files(dir: &Path) -> Vec<String> {
    if !dir.is_dir() {
        return vec!["such folder (it does not exist)".to_string()];
    }
    MODEL_FOLDER_FILES
        .iter()
        .filter(|name| !dir.join(name).is_file())
        // DeBERTa-v3 folders hold spm.model instead (see `TextTokenizer::load`).
        .filter(|name| !(**name == "tokenizer.json" && dir.join("spm.model").is_file()))
        .map(|name| name.to_string())
        .collect()
}

impl Predictor {
    /// Loads a run checkpoint (`checkpoint-N`) or an exported model folder: `config.json`
    /// with `id2label`, `model.safetensors` and `tokenizer.json`; or a LoRA adapter folder
    /// (a checkpoint's `adapter/`, an exported adapter) on the base model it names.
    pub fn load(dir: &Path, device: &Device) -> Result<Predictor, PredictError> {
        if is_adapter_folder(dir) {
            let adapter = load_adapter_model(dir, device)?;
            let tokenizer = TextTokenizer::load(&adapter.tokenizer_dir)?;
            return Self::new(
                dir,
                &adapter.tokenizer_dir,
                adapter.model,
                tokenizer,
                &adapter.config,
            );
        }
        let missing = missing_model_files(dir);
        if !missing.is_empty() {
            return Err(PredictError::NotAModelFolder {
                dir: dir.to_path_buf(),
                missing,
            });
        }
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let (model, _) = Classifier::load(dir, &[], device)?;
        let tokenizer = TextTokenizer::load(dir)?;
        Self::new(dir, dir, model, tokenizer, &config)
    }

    fn new(
        dir: &Path,
        tokenizer_dir: &Path,
        model: Classifier,
        tokenizer: TextTokenizer,
        config: &ModelConfig,
    ) -> Result<Self, PredictError> {
        // The same limit the trainer uses: the tokenizer's, within the position table.
        let position_limit = config
            .max_position_embeddings
            .saturating_sub(if config.is_roberta() { 2 } else { 0 });
        let max_length = tokenizer.model_max_length().min(position_limit);
        Ok(Predictor {
            dir: dir.to_path_buf(),
            tokenizer_dir: tokenizer_dir.to_path_buf(),
            // A predictor never trains: its forward records no autograd graph.
            model: model.for_inference()?,
            tokenizer,
            max_length,
        })
    }

    /// The folder the tokenizer files were read from.
    pub fn tokenizer_dir(&self) -> &Path {
        &self.tokenizer_dir
    }

    /// Whether the model carries LoRA adapters (it was loaded from an adapter folder).
    pub fn has_adapter(&self) -> bool {
        self.model.lora().is_some()
    }

    /// The folder this predictor was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Label names in id order.
    pub fn labels(&self) -> &[String] {
        self.model.labels()
    }

    pub fn task(&self) -> Task {
        self.model.task()
    }

    /// What the model says about `text` (with `pair` as the second sentence, for pair
    /// tasks; token classification reads one text).
    pub fn predict_task(
        &self,
        text: &str,
        pair: Option<&str>,
    ) -> Result<TaskPrediction, PredictError> {
        let labels = self.model.labels();
        Ok(match self.task() {
            Task::SingleLabelClassification => TaskPrediction::Class(self.predict(text, pair)?),
            Task::MultiLabelClassification => TaskPrediction::Labels {
                probs: labels
                    .iter()
                    .cloned()
                    .zip(self.logits(text, pair)?.into_iter().map(scores::sigmoid))
                    .collect(),
                threshold: scores::DEFAULT_THRESHOLD,
            },
            Task::Regression => {
                TaskPrediction::Score(self.logits(text, pair)?.first().copied().unwrap_or(0.0))
            }
            Task::TokenClassification => TaskPrediction::Entities(self.entities(text)?),
        })
    }

    /// Token classification: each token's most probable tag, grouped into entities.
    fn entities(&self, text: &str) -> Result<Vec<EntityGroup>, PredictError> {
        let encoding = self.tokenizer.encode_with_offsets(text, self.max_length)?;
        let logits = self
            .forward_one(&encoding.ids, &encoding.type_ids)?
            .squeeze(0)?
            .to_vec2::<f32>()?;
        let labels = self.model.labels();
        let tagged: Vec<TaggedToken> = logits
            .iter()
            .zip(&encoding.spans)
            .filter_map(|(row, span)| {
                let (start, end) = (*span)?;
                let probs = softmax(row);
                let (best, score) = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
                Some(TaggedToken {
                    tag: labels[best].clone(),
                    score: *score,
                    start,
                    end,
                })
            })
            .collect();
        Ok(group_entities(text, &tagged))
    }

    /// Classifies `text` (with `pair` as the second sentence, for pair tasks) with a
    /// single-label model.
    pub fn predict(&self, text: &str, pair: Option<&str>) -> Result<Prediction, PredictError> {
        if self.task() != Task::SingleLabelClassification {
            return Err(PredictError::Invalid(format!(
                "{} is a {} model; it has no single class to predict",
                self.dir.display(),
                self.task().title()
            )));
        }
        let logits = self.logits(text, pair)?;
        let probs = softmax(&logits);
        let best = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        let labels = self.model.labels();
        Ok(Prediction {
            label: labels[best].clone(),
            probs: labels.iter().cloned().zip(probs).collect(),
            logits,
        })
    }

    /// Raw logits for one input, in eval mode (no dropout), flattened (token classification:
    /// token by token, the labels of each together).
    pub fn logits(&self, text: &str, pair: Option<&str>) -> Result<Vec<f32>, PredictError> {
        let options = TokenizeOptions {
            max_length: Some(self.max_length),
            threads: 1,
            ..TokenizeOptions::default()
        };
        let pair_column = pair.map(|p| [p]);
        let tokens = tokenize(
            &self.tokenizer,
            &[text],
            pair_column.as_ref().map(|p| &p[..]),
            &options,
            &|_, _| {},
        )?;
        let type_ids: Vec<u32> = tokens.type_ids.iter().map(|&t| u32::from(t)).collect();
        let logits = self.forward_one(&tokens.ids, &type_ids)?;
        Ok(logits.flatten_all()?.to_vec1::<f32>()?)
    }

    /// The model on one encoded input (every token attended), in eval mode.
    fn forward_one(&self, ids: &[u32], type_ids: &[u32]) -> Result<Tensor, PredictError> {
        let device = self.model.device();
        let shape = (1, ids.len());
        Ok(self.model.forward(
            &Tensor::from_slice(ids, shape, device)?,
            &Tensor::from_slice(type_ids, shape, device)?,
            &Tensor::ones(shape, candle_core::DType::U32, device)?,
            &mut Dropout::off(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_predictor_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Predictor>();
    }

    #[test]
    fn device_names() {
        assert!(matches!(device_from_name("cpu"), Ok(Device::Cpu)));
        assert!(matches!(device_from_name(""), Ok(Device::Cpu)));
        let err = device_from_name("tpu").unwrap_err().to_string();
        assert!(err.contains("tpu"), "{err}");
    }

    #[test]
    fn a_folder_without_model_files_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = Predictor::load(dir.path(), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no model.safetensors, no tokenizer.json")
                && err.contains(&dir.path().display().to_string()),
            "{err}"
        );
        let err = Predictor::load(&dir.path().join("absent"), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn spm_model_stands_in_for_tokenizer_json() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["config.json", "model.safetensors", "spm.model"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert!(missing_model_files(dir.path()).is_empty());
    }
}
