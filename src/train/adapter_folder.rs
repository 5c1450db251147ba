//! A LoRA adapter folder in peft's layout (`adapter_config.json`,
//! `adapter_model.safetensors`) as a model to run: the base model it names
//! (`base_model_name_or_path`: a local folder, or a Hub id already in the HF cache) with the
//! adapter set on it. The fine-tuned labels and task come from the `config.json` beside the
//! adapter: in the folder (an adapter exported by Wick) or one up (a checkpoint's `adapter/`).

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::predict::PredictError;
use crate::hub::{self, HubSettings, Source};
use crate::model::{
    ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, Classifier, DEFAULT_HEAD_SEED, LoraConfig,
    ModelConfig,
};

/// True for a folder that holds an adapter and no full model.
pub fn is_adapter_folder(dir: &Path) -> bool {
    dir.join(ADAPTER_CONFIG_FILE).is_file() && !dir.join("model.safetensors").is_file()
}

/// The adapter's settings as peft wrote them.
pub(super) fn read_adapter_config(
    dir: &Path,
) -> Result<(LoraConfig, serde_json::Value), PredictError> {
    let path = dir.join(ADAPTER_CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| PredictError::Io {
        path: path.clone(),
        source,
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| PredictError::Invalid(format!("{}: {e}", path.display())))?;
    Ok((LoraConfig::from_peft_json(&value, &path)?, value))
}

/// What it takes to run an adapter folder.
pub(super) struct AdapterModel {
    pub model: Classifier,
    /// The fine-tuned model's `config.json` (labels, task, position table).
    pub config: ModelConfig,
    /// Where the tokenizer files are: beside the adapter, one up, else the base's.
    pub tokenizer_dir: PathBuf,
}

/// The base named by `dir`'s adapter with the adapter on it.
pub(super) fn load_adapter_model(
    dir: &Path,
    device: &Device,
) -> Result<AdapterModel, PredictError> {
    let (lora, _) = read_adapter_config(dir)?;
    let base_value = lora.base_model_name_or_path.as_deref().ok_or_else(|| {
        PredictError::Invalid(format!(
            "{}: no base_model_name_or_path, so the base model is unknown",
            dir.join(ADAPTER_CONFIG_FILE).display()
        ))
    })?;
    let base = resolve_base(base_value, dir)?.dir().to_path_buf();
    let described = [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .find(|d| d.join("config.json").is_file())
        .ok_or_else(|| {
            PredictError::Invalid(format!(
                "{}: no config.json with the fine-tuned labels beside the adapter (Wick writes \
                 one with every adapter it exports; copy the fine-tuned model's there)",
                dir.display()
            ))
        })?;
    let config = ModelConfig::from_file(&described.join("config.json"))?;
    let (model, _) = Classifier::load_for(
        &base,
        Some(config.task),
        &config.id2label,
        DEFAULT_HEAD_SEED,
        device,
    )?;
    // The settings read above, then the weights (`Classifier::with_adapter` would read the
    // config again).
    let model = model.with_lora(&lora, 0)?;
    model.load_adapter_weights(&dir.join(ADAPTER_WEIGHTS_FILE))?;
    let tokenizer_dir = [Some(dir), dir.parent(), Some(base.as_path())]
        .into_iter()
        .flatten()
        .find(|d| d.join("tokenizer.json").is_file() || d.join("spm.model").is_file())
        .unwrap_or(&base)
        .to_path_buf();
    Ok(AdapterModel {
        model,
        config,
        tokenizer_dir,
    })
}

/// An adapter's base model, found.
pub(super) enum Base {
    Local(PathBuf),
    Hub { id: String, dir: PathBuf },
}

impl Base {
    pub fn dir(&self) -> &Path {
        match self {
            Base::Local(dir) | Base::Hub { dir, .. } => dir,
        }
    }

    /// How an exported adapter names it: the folder as an absolute path, or the Hub id.
    pub fn written(&self) -> String {
        match self {
            Base::Local(dir) => dir
                .canonicalize()
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
            Base::Hub { id, .. } => id.clone(),
        }
    }
}

/// The base model `value` names: a local folder (absolute, or relative to the adapter folder,
/// else to the working folder, as adapters written before paths were made absolute name
/// it), else a Hub id in the HF cache (nothing is downloaded here).
pub(super) fn resolve_base(value: &str, adapter_dir: &Path) -> Result<Base, PredictError> {
    let path = Path::new(value);
    let candidates = if path.is_absolute() {
        vec![path.to_path_buf()]
    } else {
        vec![adapter_dir.join(path), path.to_path_buf()]
    };
    if let Some(dir) = candidates.iter().find(|p| p.is_dir()) {
        return if dir.join("config.json").is_file() {
            Ok(Base::Local(dir.clone()))
        } else {
            Err(PredictError::Invalid(format!(
                "the adapter's base model {} is not a model folder (no config.json)",
                dir.display()
            )))
        };
    }
    match hub::classify_source(value) {
        Source::Hub(id) => {
            let settings = HubSettings::from_env().with_offline(true);
            let dir = hub::local_model(&settings, &id, None).map_err(|e| {
                PredictError::Invalid(format!(
                    "the adapter's base model {id} is not in the HF cache ({e}); download it \
                     in the Hub panel or with `wick hub download model {id}`"
                ))
            })?;
            Ok(Base::Hub { id, dir })
        }
        Source::Local(_) => Err(PredictError::Invalid(format!(
            "the adapter's base model {value} was not found (looked for {})",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
    }
}

/// `value` (a run's `model`) as an adapter config names its base: a local folder as an
/// absolute path, so that the adapter loads from anywhere on this machine; a Hub id as is.
pub fn portable_base(value: &str) -> String {
    match hub::classify_source(value) {
        Source::Local(path) => std::path::absolute(&path)
            .map(|p| p.canonicalize().unwrap_or(p))
            .unwrap_or(path)
            .display()
            .to_string(),
        Source::Hub(id) => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_base_is_written_absolute_and_a_hub_id_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        let written = portable_base(&base.display().to_string());
        assert!(Path::new(&written).is_absolute(), "{written}");
        assert_eq!(
            portable_base("sentence-transformers/all-MiniLM-L6-v2"),
            "sentence-transformers/all-MiniLM-L6-v2"
        );
        assert!(Path::new(&portable_base("./some/relative/model")).is_absolute());
    }

    #[test]
    fn a_base_that_is_not_there_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_base("/no/such/base", dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/no/such/base"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = resolve_base("empty", dir.path()).err().unwrap().to_string();
        assert!(err.contains("no config.json"), "{err}");
        // Relative to the adapter folder, found there.
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        std::fs::write(base.join("config.json"), "{}").unwrap();
        let found = resolve_base("base", dir.path()).ok().unwrap();
        assert_eq!(found.dir(), base);
        assert!(Path::new(&found.written()).is_absolute());
    }

    #[test]
    fn the_runs_module_names_the_adapter_files_as_peft_does() {
        // `runs` sits below `model` and keeps its own copies of the names.
        assert_eq!(
            crate::runs::lora::ADAPTER_WEIGHTS_FILE,
            crate::model::ADAPTER_WEIGHTS_FILE
        );
        assert_eq!(crate::runs::lora::ADAPTER_CONFIG_FILE, ADAPTER_CONFIG_FILE);
        assert_eq!(crate::runs::ADAPTER_DIR, super::super::ADAPTER_DIR);
    }

    #[test]
    fn an_adapter_folder_is_told_from_a_model_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_adapter_folder(dir.path()));
        std::fs::write(dir.path().join(ADAPTER_CONFIG_FILE), "{}").unwrap();
        assert!(is_adapter_folder(dir.path()));
        std::fs::write(dir.path().join("model.safetensors"), "").unwrap();
        assert!(!is_adapter_folder(dir.path()));
    }
}
