//! Exporting a checkpoint as a Hugging Face folder that is reloaded and checked against
//! the source's logits: the full model (LoRA merged into its weights), or, for a LoRA run, the
//! adapter alone in peft's layout.

use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::adapter_folder::{is_adapter_folder, read_adapter_config, resolve_base};
use super::checkpoint::ADAPTER_DIR;
use super::predict::{EXPORT_TOLERANCE, PredictError, Predictor, TOKENIZER_FILES, io_error};
use crate::model::{ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE};
use crate::runs::RunDir;
use crate::task::Task;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExportForm {
    /// The whole model, adapters merged into the weights: loads with `AutoModelFor...`.
    #[default]
    Merged,
    /// A LoRA run's adapter and head in peft's layout (with the fine-tuned `config.json` for
    /// the labels): loads with `PeftModel.from_pretrained` onto the base model it names.
    Adapter,
}

impl ExportForm {
    pub fn title(self) -> &'static str {
        match self {
            Self::Merged => "Merged model",
            Self::Adapter => "LoRA adapter (peft)",
        }
    }
}

/// The folder of `src_dir`'s adapter: its `adapter/` (a LoRA checkpoint), or itself (an
/// adapter folder); `None` for a model trained in full.
pub fn adapter_of(src_dir: &Path) -> Option<PathBuf> {
    let inside = src_dir.join(ADAPTER_DIR);
    if inside.join(ADAPTER_CONFIG_FILE).is_file() {
        Some(inside)
    } else {
        is_adapter_folder(src_dir).then(|| src_dir.to_path_buf())
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

/// Writes `src_dir`'s model as a Hugging Face folder in `out_dir`, then reloads it and
/// compares logits with the source on probe inputs; fails when they differ by more than
/// [`EXPORT_TOLERANCE`]. `Merged`: `config.json` with `id2label`/`label2id`,
/// `model.safetensors`, the tokenizer files and a `README.md` model card. `Adapter`:
/// `adapter_config.json` (naming the base by an absolute path or its Hub id),
/// `adapter_model.safetensors`, the fine-tuned `config.json`, the tokenizer files and a card;
/// the reload puts the adapter on the base.
pub fn export_model(
    src_dir: &Path,
    out_dir: &Path,
    form: ExportForm,
    device: &Device,
) -> Result<ExportCheck, PredictError> {
    let source = Predictor::load(src_dir, device)?;
    if overlapping(src_dir, out_dir) {
        return Err(PredictError::Invalid(format!(
            "{}: export into a different folder than the source, neither inside it nor \
             holding it (the source's files would be overwritten)",
            out_dir.display()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    // The other form's files from an earlier export would decide what loads: peft-aware
    // transformers prefers an adapter_config.json, Wick a model.safetensors.
    let stale: &[&str] = match form {
        ExportForm::Merged => &[ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE],
        ExportForm::Adapter => &["model.safetensors"],
    };
    for name in stale {
        let path = out_dir.join(name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    let mut files = match form {
        ExportForm::Merged => {
            source.model.save(out_dir)?;
            vec![
                out_dir.join("config.json"),
                out_dir.join("model.safetensors"),
            ]
        }
        ExportForm::Adapter => write_adapter(src_dir, out_dir, &source)?,
    };
    for name in TOKENIZER_FILES {
        // An adapter folder's tokenizer may be one up (a checkpoint's) or the base's.
        let from = source.tokenizer_dir().join(name);
        if from.is_file() {
            let to = out_dir.join(name);
            std::fs::copy(&from, &to).map_err(io_error(&to))?;
            files.push(to);
        }
    }
    let card = out_dir.join("README.md");
    std::fs::write(&card, model_card(src_dir, &source, form, out_dir)).map_err(io_error(&card))?;
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

/// Whether `out` is `src`, lies inside it, or holds it (compared as absolute paths, through
/// links where they exist).
fn overlapping(src: &Path, out: &Path) -> bool {
    let resolved = |path: &Path| {
        path.canonicalize()
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let (src, out) = (resolved(src), resolved(out));
    out.starts_with(&src) || src.starts_with(&out)
}

/// Writes the adapter of `src_dir` (see [`adapter_of`]) into `out_dir` in peft's layout,
/// its base named so that it loads from anywhere, and the fine-tuned `config.json` beside it.
fn write_adapter(
    src_dir: &Path,
    out_dir: &Path,
    source: &Predictor,
) -> Result<Vec<PathBuf>, PredictError> {
    let adapter = adapter_of(src_dir).ok_or_else(|| {
        PredictError::Invalid(format!(
            "{} was trained in full (no {ADAPTER_DIR}/{ADAPTER_CONFIG_FILE}): it has no \
             adapter to export; export the merged model",
            src_dir.display()
        ))
    })?;
    let (lora, mut config) = read_adapter_config(&adapter)?;
    // The base as the reload below finds it: an absolute folder, or the Hub id.
    if let Some(value) = lora.base_model_name_or_path.as_deref() {
        let base = resolve_base(value, &adapter)?;
        config["base_model_name_or_path"] = serde_json::Value::String(base.written());
    }
    let config_path = out_dir.join(ADAPTER_CONFIG_FILE);
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| PredictError::Invalid(format!("{}: {e}", config_path.display())))?;
    std::fs::write(&config_path, text).map_err(io_error(&config_path))?;
    let weights = out_dir.join(ADAPTER_WEIGHTS_FILE);
    std::fs::copy(adapter.join(ADAPTER_WEIGHTS_FILE), &weights).map_err(io_error(&weights))?;
    // The labels and the task, for Wick and for the card's `from_pretrained` arguments;
    // peft and transformers read the base's config, not this one.
    source.model.save_config(out_dir)?;
    Ok(vec![config_path, weights, out_dir.join("config.json")])
}

/// A short model card: what it is, where it came from (the run, when the source is one of
/// its checkpoints), its labels, and how to use it.
fn model_card(src_dir: &Path, source: &Predictor, form: ExportForm, out_dir: &Path) -> String {
    let run = src_dir.parent().and_then(|run| RunDir::open(run).ok());
    let name = out_name(src_dir, run.as_ref());
    let pipeline = match source.task() {
        Task::TokenClassification => "token-classification",
        _ => "text-classification",
    };
    let library = match form {
        ExportForm::Merged => "transformers",
        ExportForm::Adapter => "peft",
    };
    let mut front = vec![
        format!("library_name: {library}"),
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
    match form {
        ExportForm::Merged => lines.extend(pipeline_usage(pipeline, source.task())),
        ExportForm::Adapter => lines.extend(peft_usage(source, out_dir)),
    }
    lines.push("```".into());
    format!("---\n{}\n---\n\n{}\n", front.join("\n"), lines.join("\n"))
}

/// The merged model through `pipeline`.
fn pipeline_usage(pipeline: &str, task: Task) -> Vec<String> {
    vec![
        "from transformers import pipeline".into(),
        String::new(),
        format!("classifier = pipeline(\"{pipeline}\", model=\"path/to/this/folder\")"),
        match task {
            // The pipeline squashes a single output through a sigmoid unless told not to.
            Task::Regression => "classifier(\"I've been waiting for a HuggingFace course my whole life.\", function_to_apply=\"none\")",
            // Every label's score, not only the best one.
            Task::MultiLabelClassification => "classifier(\"I've been waiting for a HuggingFace course my whole life.\", top_k=None)",
            _ => "classifier(\"I've been waiting for a HuggingFace course my whole life.\")",
        }
        .into(),
    ]
}

/// The adapter on its base with peft: the base loads with this head's labels and task.
fn peft_usage(source: &Predictor, out_dir: &Path) -> Vec<String> {
    let class = match source.task() {
        Task::TokenClassification => "AutoModelForTokenClassification",
        _ => "AutoModelForSequenceClassification",
    };
    let base = read_adapter_config(out_dir)
        .ok()
        .and_then(|(lora, _)| lora.base_model_name_or_path)
        .unwrap_or_else(|| "BASE_MODEL".into());
    let labels = source.labels();
    let id2label: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(id, label)| format!("{id}: {label:?}"))
        .collect();
    let label2id: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(id, label)| format!("{label:?}: {id}"))
        .collect();
    let problem_type = match source.task() {
        Task::TokenClassification => String::new(),
        task => format!(", problem_type=\"{}\"", task.name()),
    };
    vec![
        "from peft import PeftModel".into(),
        format!("from transformers import AutoTokenizer, {class}"),
        String::new(),
        format!("base = {class}.from_pretrained("),
        format!("    {base:?}, num_labels={}{problem_type},", labels.len()),
        format!("    id2label={{{}}},", id2label.join(", ")),
        format!("    label2id={{{}}},", label2id.join(", ")),
        ")".into(),
        "model = PeftModel.from_pretrained(base, \"path/to/this/folder\")".into(),
        "tokenizer = AutoTokenizer.from_pretrained(\"path/to/this/folder\")".into(),
        "# model.merge_and_unload() gives the plain model".into(),
    ]
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
