//! Inference with a trained model (`pipeline("text-classification")` or
//! `pipeline("token-classification", aggregation_strategy="simple")` in the course), and
//! exporting a checkpoint as a Hugging Face model folder that is reloaded and checked.

use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

use super::entity_groups::{EntityGroup, TaggedToken, group_entities};
use super::evaluate::softmax;
use super::scores;
use crate::data::{DataError, TextTokenizer, TokenizeOptions, tokenize};
use crate::model::{Classifier, Dropout, ModelConfig, ModelError};
use crate::runs::RunDir;
use crate::task::Task;

/// What a model folder must hold for [`Predictor::load`].
pub const MODEL_FOLDER_FILES: &[&str] = &["config.json", "model.safetensors", "tokenizer.json"];

/// Tokenizer files copied into an exported folder when the source has them.
const TOKENIZER_FILES: &[&str] = &[
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

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PredictError + '_ {
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
    model: Classifier,
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
    /// with `id2label`, `model.safetensors` and `tokenizer.json`.
    pub fn load(dir: &Path, device: &Device) -> Result<Predictor, PredictError> {
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
        // The same limit the trainer uses: the tokenizer's, within the position table.
        let position_limit = config
            .max_position_embeddings
            .saturating_sub(if config.is_roberta() { 2 } else { 0 });
        let max_length = tokenizer.model_max_length().min(position_limit);
        Ok(Predictor {
            dir: dir.to_path_buf(),
            model,
            tokenizer,
            max_length,
        })
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

/// What [`export_model`] wrote and how closely the reloaded copy matched the source.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportCheck {
    pub files: Vec<PathBuf>,
    pub max_abs_logit_diff: f32,
}

/// Inputs the exported model must score like the source (single texts and a pair).
const PROBES: &[(&str, Option<&str>)] = &[
    ("the film was great", None),
    ("This is a short test sentence, with punctuation.", None),
    (
        "A man is playing a guitar.",
        Some("Someone plays an instrument."),
    ),
];

/// Writes `src_dir`'s model as a Hugging Face folder in `out_dir` (`config.json` with
/// `id2label`/`label2id`, `model.safetensors`, the tokenizer files and a `README.md` model
/// card), then reloads it and compares logits with the source on probe inputs. Fails when
/// they differ by more than [`EXPORT_TOLERANCE`].
pub fn export_model(
    src_dir: &Path,
    out_dir: &Path,
    device: &Device,
) -> Result<ExportCheck, PredictError> {
    let source = Predictor::load(src_dir, device)?;
    if same_folder(src_dir, out_dir) {
        return Err(PredictError::Invalid(format!(
            "{}: export into a different folder than the source",
            out_dir.display()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    source.model.save(out_dir)?;
    let mut files = vec![
        out_dir.join("config.json"),
        out_dir.join("model.safetensors"),
    ];
    for name in TOKENIZER_FILES {
        let from = src_dir.join(name);
        if from.is_file() {
            let to = out_dir.join(name);
            std::fs::copy(&from, &to).map_err(io_error(&to))?;
            files.push(to);
        }
    }
    // A LoRA checkpoint's adapter goes along, in its own folder as in the checkpoint.
    let adapter = src_dir.join(super::checkpoint::ADAPTER_DIR);
    if adapter.join(crate::model::ADAPTER_CONFIG_FILE).is_file() {
        let to_dir = out_dir.join(super::checkpoint::ADAPTER_DIR);
        std::fs::create_dir_all(&to_dir).map_err(io_error(&to_dir))?;
        for name in [
            crate::model::ADAPTER_CONFIG_FILE,
            crate::model::ADAPTER_WEIGHTS_FILE,
        ] {
            let to = to_dir.join(name);
            std::fs::copy(adapter.join(name), &to).map_err(io_error(&to))?;
            files.push(to);
        }
    }
    let card = out_dir.join("README.md");
    std::fs::write(&card, model_card(src_dir, &source)).map_err(io_error(&card))?;
    files.push(card);

    let exported = Predictor::load(out_dir, device)?;
    if exported.labels() != source.labels() {
        return Err(PredictError::Invalid(format!(
            "{}: the exported labels {:?} differ from the source's {:?}",
            out_dir.display(),
            exported.labels(),
            source.labels()
        )));
    }
    let mut max_abs_logit_diff = 0.0f32;
    for (text, pair) in PROBES {
        let expected = source.logits(text, *pair)?;
        let found = exported.logits(text, *pair)?;
        let diff = expected
            .iter()
            .zip(&found)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        if diff > EXPORT_TOLERANCE || diff.is_nan() || expected.len() != found.len() {
            return Err(PredictError::ExportMismatch {
                out_dir: out_dir.to_path_buf(),
                max_abs_diff: diff,
                probe: text.to_string(),
            });
        }
        max_abs_logit_diff = max_abs_logit_diff.max(diff);
    }
    Ok(ExportCheck {
        files,
        max_abs_logit_diff,
    })
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A short model card: what it is, where it came from (the run, when the source is one of
/// its checkpoints), its labels, and how to use it.
fn model_card(src_dir: &Path, source: &Predictor) -> String {
    let run = src_dir.parent().and_then(|run| RunDir::open(run).ok());
    let name = out_name(src_dir, run.as_ref());
    let pipeline = match source.task() {
        Task::TokenClassification => "token-classification",
        _ => "text-classification",
    };
    let mut front = vec![
        "library_name: transformers".to_string(),
        format!("pipeline_tag: {pipeline}"),
    ];
    let mut lines = vec![format!("# {name}"), String::new()];
    match &run {
        Some(run) => {
            let info = run.info();
            if looks_like_hub_id(&info.model) {
                front.push(format!("base_model: {}", info.model));
            }
            if looks_like_hub_id(&info.dataset) {
                front.push(format!("datasets:\n- {}", info.dataset));
            }
            let dataset = match &info.dataset_config {
                Some(config) => format!("{} ({config})", info.dataset),
                None => info.dataset.clone(),
            };
            lines.push(format!(
                "A {} model fine-tuned with Wick from `{}` on `{dataset}` \
                 (run `{}`, `{}`).",
                source.task().title(),
                info.model,
                run.name(),
                src_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            if let Some(best) = &info.best_metric {
                lines.push(String::new());
                lines.push(format!(
                    "Best {}: {:.4} at step {}.",
                    best.name, best.value, best.step
                ));
            }
        }
        None => lines.push(format!(
            "A {} model exported by Wick.",
            source.task().title()
        )),
    }
    lines.push(String::new());
    lines.push("## Labels".into());
    lines.push(String::new());
    for (id, label) in source.labels().iter().enumerate() {
        lines.push(format!("- {id}: {label}"));
    }
    lines.push(String::new());
    lines.push("## Usage".into());
    lines.push(String::new());
    lines.push("```python".into());
    lines.push("from transformers import pipeline".into());
    lines.push(String::new());
    lines.push(format!(
        "classifier = pipeline(\"{pipeline}\", model=\"path/to/this/folder\")"
    ));
    lines.push(
        match source.task() {
            // The pipeline squashes a single output through a sigmoid unless told not to.
            Task::Regression => "classifier(\"I've been waiting for a HuggingFace course my whole life.\", function_to_apply=\"none\")",
            // Every label's score, not only the best one.
            Task::MultiLabelClassification => "classifier(\"I've been waiting for a HuggingFace course my whole life.\", top_k=None)",
            _ => "classifier(\"I've been waiting for a HuggingFace course my whole life.\")",
        }
        .into(),
    );
    lines.push("```".into());
    format!("---\n{}\n---\n\n{}\n", front.join("\n"), lines.join("\n"))
}

fn out_name(src_dir: &Path, run: Option<&RunDir>) -> String {
    match run {
        Some(run) => run.name(),
        None => src_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into()),
    }
}

/// `owner/name` or `name` with Hub-safe characters (not a local path).
fn looks_like_hub_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
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
    fn hub_ids_are_told_from_paths() {
        assert!(looks_like_hub_id("bert-base-uncased"));
        assert!(looks_like_hub_id("glue"));
        assert!(looks_like_hub_id("nyu-mll/glue"));
        assert!(!looks_like_hub_id("/tmp/tiny-bert"));
        assert!(!looks_like_hub_id("./model"));
        assert!(!looks_like_hub_id("a/b/c"));
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
