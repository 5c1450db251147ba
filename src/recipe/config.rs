//! `TrainConfig`: the flat TOML table that `wick train --config run.toml` reads.
//!
//! Keys that mirror `transformers.TrainingArguments` keep its names and its
//! defaults (transformers 5.x, `training_args.py` and the `TrainingArguments`
//! reference docs); the rest are Wick-only (see [`KEYS`]).

mod keys;
mod validate;

pub use keys::{KEYS, KeyInfo, KeyOrigin, closest_key, key_info};
pub use validate::DeviceSpec;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

use crate::task::Task;

/// When to log, evaluate (HF `IntervalStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalStrategy {
    No,
    Steps,
    Epoch,
}

/// When to save a checkpoint (HF `SaveStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveStrategy {
    No,
    Steps,
    Epoch,
    /// Save whenever `metric_for_best_model` improves.
    Best,
}

/// Learning-rate schedule (the subset of HF `SchedulerType` Wick implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedulerType {
    Linear,
    Cosine,
    Constant,
    ConstantWithWarmup,
}

/// Weights of the classes in the cross-entropy loss (`class_weights`), as
/// `CrossEntropyLoss(weight=...)` takes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ClassWeights {
    /// Every class weighs 1.
    #[default]
    None,
    /// `n_samples / (n_classes * count)` from the training split, as sklearn's
    /// `compute_class_weight("balanced")`.
    Balanced,
    /// One weight per class, in class-id order.
    Given(Vec<f64>),
}

impl Serialize for ClassWeights {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClassWeights::None => serializer.serialize_str("none"),
            ClassWeights::Balanced => serializer.serialize_str("balanced"),
            ClassWeights::Given(weights) => weights.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Name(String),
            List(Vec<f64>),
        }
        match Written::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected \"none\", \"balanced\" or a list of numbers")
        })? {
            Written::Name(name) => match name.as_str() {
                "none" => Ok(ClassWeights::None),
                "balanced" => Ok(ClassWeights::Balanced),
                other => Err(serde::de::Error::custom(format!(
                    "expected \"none\", \"balanced\" or a list of numbers, got {other:?}"
                ))),
            },
            Written::List(weights) => Ok(ClassWeights::Given(weights)),
        }
    }
}

/// The whole training configuration. See [`KEYS`] for one line of help per key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub model: String,
    pub dataset: String,
    pub dataset_config: Option<String>,
    pub train_split: String,
    /// Written as "" when unset: its default is not unset.
    #[serde(with = "empty_string_is_none")]
    pub eval_split: Option<String>,
    /// With no `eval_split`: the share of the training split held out for evaluation.
    pub validation_split_percentage: Option<u32>,
    pub text_column: Option<String>,
    pub text_pair_column: Option<String>,
    pub label_column: Option<String>,
    /// What to train for; unset reads it off the label column.
    pub task: Option<Task>,
    /// Token classification: label every piece of a word, not only the first.
    pub label_all_tokens: bool,
    pub class_weights: ClassWeights,
    pub max_length: Option<u32>,
    pub pad_to_multiple_of: Option<u32>,
    pub tokenize_threads: Option<u32>,
    pub device: String,
    pub output_dir: Option<String>,
    pub run_name: Option<String>,

    pub learning_rate: f64,
    pub num_train_epochs: f64,
    pub max_steps: i64,
    pub per_device_train_batch_size: u32,
    pub per_device_eval_batch_size: u32,
    pub gradient_accumulation_steps: u32,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    pub max_grad_norm: f64,
    pub lr_scheduler_type: LrSchedulerType,
    /// Integer steps, or a ratio of the total when in (0, 1) (transformers 5).
    pub warmup_steps: f64,
    pub warmup_ratio: f64,
    pub logging_strategy: IntervalStrategy,
    pub logging_steps: u64,
    pub logging_first_step: bool,
    pub eval_strategy: IntervalStrategy,
    pub eval_steps: Option<u64>,
    pub save_strategy: SaveStrategy,
    pub save_steps: u64,
    pub save_total_limit: Option<u32>,
    pub load_best_model_at_end: bool,
    pub metric_for_best_model: Option<String>,
    pub greater_is_better: Option<bool>,
    pub seed: u64,
    pub data_seed: Option<u64>,
    pub dataloader_drop_last: bool,
    pub group_by_length: bool,
    pub resume_from_checkpoint: Option<String>,
    pub bf16: bool,
    pub tf32: bool,

    pub early_stopping_patience: Option<u32>,
    pub early_stopping_threshold: f64,

    /// Train LoRA adapters (peft's `LoraConfig`) instead of every weight.
    pub use_lora: bool,
    pub lora_r: u32,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    /// Module names; empty = the architecture's default. Also written as one string of
    /// names separated by commas or spaces.
    #[serde(deserialize_with = "module_names")]
    pub lora_target_modules: Vec<String>,
    pub use_rslora: bool,
    /// Modules trained in full beside the adapters (peft adds the head: classifier, score).
    #[serde(deserialize_with = "module_names")]
    pub modules_to_save: Vec<String>,
}

/// A list of names, or one string of names separated by commas or spaces (what a form
/// field holds).
fn module_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        List(Vec<String>),
        Text(String),
    }
    let names = match Written::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("expected a list of module names"))?
    {
        Written::List(names) => names,
        Written::Text(text) => text
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::to_string)
            .collect(),
    };
    Ok(names
        .into_iter()
        .map(|n| n.trim().trim_matches(['"', '\'', '[', ']']).to_string())
        .filter(|n| !n.is_empty())
        .collect())
}

impl Default for TrainConfig {
    /// Trainer's defaults (transformers 5.x `TrainingArguments`); `model` and
    /// `dataset` are empty and must be set.
    fn default() -> Self {
        Self {
            model: String::new(),
            dataset: String::new(),
            dataset_config: None,
            train_split: "train".into(),
            eval_split: Some("validation".into()),
            validation_split_percentage: None,
            text_column: None,
            text_pair_column: None,
            label_column: None,
            task: None,
            label_all_tokens: false,
            class_weights: ClassWeights::None,
            max_length: None,
            pad_to_multiple_of: None,
            tokenize_threads: None,
            device: "cpu".into(),
            output_dir: None,
            run_name: None,
            learning_rate: 5e-5,
            num_train_epochs: 3.0,
            max_steps: -1,
            per_device_train_batch_size: 8,
            per_device_eval_batch_size: 8,
            gradient_accumulation_steps: 1,
            weight_decay: 0.0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 1.0,
            lr_scheduler_type: LrSchedulerType::Linear,
            warmup_steps: 0.0,
            warmup_ratio: 0.0,
            logging_strategy: IntervalStrategy::Steps,
            logging_steps: 500,
            logging_first_step: false,
            eval_strategy: IntervalStrategy::No,
            eval_steps: None,
            save_strategy: SaveStrategy::Steps,
            save_steps: 500,
            save_total_limit: None,
            load_best_model_at_end: false,
            metric_for_best_model: None,
            greater_is_better: None,
            seed: 42,
            data_seed: None,
            dataloader_drop_last: false,
            group_by_length: false,
            resume_from_checkpoint: None,
            bf16: false,
            tf32: false,
            early_stopping_patience: None,
            early_stopping_threshold: 0.0,
            use_lora: false,
            lora_r: 8,
            lora_alpha: 8.0,
            lora_dropout: 0.0,
            lora_target_modules: Vec::new(),
            use_rslora: false,
            modules_to_save: Vec::new(),
        }
    }
}

/// A configuration error; every variant names the file (when there is one) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: unknown key `{key}`{}", suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        file: String,
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("{file}: bad value for `{key}`: {message}")]
    BadValue {
        file: String,
        key: String,
        message: String,
    },
    #[error("{file}: missing required key `{key}`")]
    Missing { file: String, key: String },
    #[error("--set {arg:?}: expected key=value")]
    BadOverride { arg: String },
}

impl ConfigError {
    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. }
            | Self::BadValue { key, .. }
            | Self::Missing { key, .. } => Some(key),
            _ => None,
        }
    }

    fn bad(file: &str, key: &str, message: impl Into<String>) -> Self {
        Self::BadValue {
            file: file.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Where values came from when there is no file.
const INLINE: &str = "<config>";
const OVERRIDE: &str = "--set";

impl TrainConfig {
    /// Parses a TOML document and validates it. Unknown keys and bad values are
    /// errors naming the key.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config = Self::parse_unvalidated(text, INLINE)?;
        config.validate_in(INLINE)?;
        Ok(config)
    }

    /// Reads, parses and validates `path`; local-looking paths in it are made
    /// relative to the file's folder (see [`Self::resolve_paths_relative_to`]).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let config = Self::read_unvalidated(path)?;
        config.validate_in(&path.display().to_string())?;
        Ok(config)
    }

    /// Reads and parses `path` without cross-key validation (the one reader of recipe files:
    /// the CLI applies `--set` before validating, the Train form shows every problem);
    /// local-looking paths are made relative to the file's folder.
    pub fn read_unvalidated(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut config = Self::parse_unvalidated(&text, &file)?;
        config.resolve_paths_relative_to(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses without cross-key validation: the CLI applies `--set` overrides
    /// first, then calls [`Self::validate`].
    pub fn parse_unvalidated(text: &str, file: &str) -> Result<Self, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    file: file.into(),
                    message: e.message().to_string(),
                })?;
        let mut config = Self::default();
        for (key, value) in table {
            config.set_value(&key, Some(value), file)?;
        }
        Ok(config)
    }

    /// Applies one `key=value` override. The value is read as a TOML value;
    /// anything that is not valid TOML (or does not fit a string key) is taken
    /// as a bare string, so `model=org/name` works. An empty value unsets an
    /// optional key (`eval_split=` means no evaluation split) and resets any
    /// other key to its default.
    pub fn apply_override(&mut self, arg: &str) -> Result<(), ConfigError> {
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride { arg: arg.into() })?;
        let (key, raw) = (key.trim(), raw.trim());
        if raw.is_empty() {
            return match self.set_value(key, Some(toml::Value::String(String::new())), OVERRIDE) {
                Err(ConfigError::BadValue { .. }) => self.set_value(key, None, OVERRIDE),
                other => other,
            };
        }
        let parsed = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"));
        match parsed {
            Some(value) => {
                let as_string = !matches!(value, toml::Value::String(_));
                match self.set_value(key, Some(value), OVERRIDE) {
                    Err(ConfigError::BadValue { .. }) if as_string => {
                        self.set_value(key, Some(toml::Value::String(raw.into())), OVERRIDE)
                    }
                    other => other,
                }
            }
            None => self.set_value(key, Some(toml::Value::String(raw.into())), OVERRIDE),
        }
    }

    /// Sets (or with `None` resets) one key. Every other field is already
    /// valid, so a deserialization error is about this key.
    fn set_value(
        &mut self,
        key: &str,
        value: Option<toml::Value>,
        file: &str,
    ) -> Result<(), ConfigError> {
        if key_info(key).is_none() {
            return Err(ConfigError::UnknownKey {
                file: file.into(),
                key: key.into(),
                suggestion: closest_key(key),
            });
        }
        let mut updated = self
            .with_value(key, value)
            .map_err(|message| ConfigError::bad(file, key, self.expected_value(key, message)))?;
        updated.normalize_empty_strings();
        *self = updated;
        Ok(())
    }

    /// A copy with `key` set (or reset); serde's message when the value does not fit.
    fn with_value(&self, key: &str, value: Option<toml::Value>) -> Result<Self, String> {
        let mut table = toml::Table::try_from(self).map_err(|e| e.to_string())?;
        match value {
            Some(value) => table.insert(key.into(), value),
            None => table.remove(key),
        };
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())
    }

    /// What `key` takes, in plain words, for a value that did not fit. serde says "invalid
    /// type: string \"fast\", expected f64"; people need "must be a number". The kind is
    /// found by trying one value of each kind on a copy, so new keys need no list here.
    fn expected_value(&self, key: &str, serde_message: String) -> String {
        let variants = match key {
            "eval_strategy" | "logging_strategy" => Some(variant_names(&[
                IntervalStrategy::No,
                IntervalStrategy::Steps,
                IntervalStrategy::Epoch,
            ])),
            "save_strategy" => Some(variant_names(&[
                SaveStrategy::No,
                SaveStrategy::Steps,
                SaveStrategy::Epoch,
                SaveStrategy::Best,
            ])),
            "lr_scheduler_type" => Some(variant_names(&[
                LrSchedulerType::Linear,
                LrSchedulerType::Cosine,
                LrSchedulerType::Constant,
                LrSchedulerType::ConstantWithWarmup,
            ])),
            "task" => Some(variant_names(&Task::ALL)),
            "class_weights" => {
                return "must be \"none\", \"balanced\" or a list of numbers, one per class".into();
            }
            "lora_target_modules" | "modules_to_save" => {
                return "must be a list of module names, like [\"query\", \"value\"]".into();
            }
            _ => None,
        };
        if let Some(variants) = variants {
            return format!("must be one of: {variants}");
        }
        let takes = |value: toml::Value| self.with_value(key, Some(value)).is_ok();
        if takes(toml::Value::Float(0.5)) {
            "must be a number (like 0.1 or 5e-5)".into()
        } else if takes(toml::Value::Integer(-1)) {
            "must be a whole number".into()
        } else if takes(toml::Value::Integer(1)) {
            "must be a whole number (0 or more)".into()
        } else if takes(toml::Value::Boolean(true)) {
            "must be true or false".into()
        } else if takes(toml::Value::String("x".into())) {
            "must be text".into()
        } else {
            serde_message
        }
    }

    /// Optional strings given as "" mean unset (`eval_split = ""` disables eval).
    fn normalize_empty_strings(&mut self) {
        for field in [
            &mut self.dataset_config,
            &mut self.eval_split,
            &mut self.text_column,
            &mut self.text_pair_column,
            &mut self.label_column,
            &mut self.output_dir,
            &mut self.run_name,
            &mut self.metric_for_best_model,
            &mut self.resume_from_checkpoint,
        ] {
            if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *field = None;
            }
        }
    }

    /// Checks values and cross-key rules (as `TrainingArguments.__post_init__`). Errors name
    /// no file; a config read from one is validated with [`Self::validate_in`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_in(INLINE)
    }

    /// The full resolved configuration as TOML: every key, with its help as a
    /// comment; unset optional keys are written commented out. Parsing the
    /// result gives back the same configuration.
    pub fn to_toml_string(&self) -> String {
        let table = toml::Table::try_from(self).unwrap_or_default();
        let mut out =
            String::from("# Wick training configuration (all keys; see `wick train --help`).\n");
        for info in KEYS {
            out.push_str(&format!("\n# {}\n", info.help));
            match table.get(info.name) {
                Some(value) => out.push_str(&format!("{} = {}\n", info.name, value)),
                None => out.push_str(&format!("# {} = (unset)\n", info.name)),
            }
        }
        out
    }

    /// `metric_for_best_model`, defaulting to "loss" when a best model is
    /// needed. HF defaults it for `load_best_model_at_end`; Wick also does for
    /// `save_strategy = "best"`, which has nothing to compare otherwise.
    pub fn resolved_metric_for_best_model(&self) -> Option<String> {
        match &self.metric_for_best_model {
            Some(metric) => Some(metric.clone()),
            None if self.load_best_model_at_end || self.save_strategy == SaveStrategy::Best => {
                Some("loss".into())
            }
            None => None,
        }
    }

    /// `greater_is_better`, derived like HF (false for metrics ending in "loss") and also false
    /// for the regression errors (see [`greater_is_better_for`]).
    pub fn resolved_greater_is_better(&self) -> Option<bool> {
        self.greater_is_better.or_else(|| {
            self.resolved_metric_for_best_model()
                .map(|m| greater_is_better_for(&m))
        })
    }

    /// `eval_steps`, defaulting to `logging_steps` (HF).
    pub fn resolved_eval_steps(&self) -> u64 {
        self.eval_steps.unwrap_or(self.logging_steps)
    }

    /// Token length to truncate to: `max_length` if set, else 512; never more
    /// than the model's limit (`model_max`: position embeddings or the
    /// tokenizer's `model_max_length`, which is sometimes a huge sentinel).
    pub fn resolved_max_length(&self, model_max: Option<usize>) -> usize {
        const DEFAULT_CAP: usize = 512;
        let wanted = self.max_length.map_or(DEFAULT_CAP, |m| m as usize);
        model_max.map_or(wanted, |limit| wanted.min(limit)).max(1)
    }

    /// Whether the run has rows to evaluate on: an eval split, or a held-out share of train.
    pub fn has_eval_data(&self) -> bool {
        self.eval_split.as_deref().is_some_and(|s| !s.is_empty())
            || self.validation_split_percentage.is_some()
    }

    /// The share of train held out for evaluation: `validation_split_percentage`, when
    /// there is no eval split (an eval split wins).
    pub fn holdout_percentage(&self) -> Option<u32> {
        match self.eval_split.as_deref() {
            Some(split) if !split.is_empty() => None,
            _ => self.validation_split_percentage,
        }
    }

    /// `data_seed`, defaulting to `seed` (HF).
    pub fn resolved_data_seed(&self) -> u64 {
        self.data_seed.unwrap_or(self.seed)
    }

    /// Training batches per epoch for `num_train_rows` examples.
    pub fn batches_per_epoch(&self, num_train_rows: u64) -> u64 {
        let batch = u64::from(self.per_device_train_batch_size.max(1));
        if self.dataloader_drop_last {
            num_train_rows / batch
        } else {
            num_train_rows.div_ceil(batch)
        }
    }

    /// Optimizer steps per epoch: ceil(batches / accumulation), at least 1
    /// (HF `Trainer.set_initial_training_values`).
    pub fn optimizer_steps_per_epoch(&self, num_train_rows: u64) -> u64 {
        let accumulation = u64::from(self.gradient_accumulation_steps.max(1));
        self.batches_per_epoch(num_train_rows)
            .div_ceil(accumulation)
            .max(1)
    }

    /// Total optimizer steps: `max_steps` when positive, else
    /// ceil(num_train_epochs * steps per epoch) (HF).
    pub fn total_optimizer_steps(&self, num_train_rows: u64) -> u64 {
        if self.max_steps > 0 {
            return self.max_steps as u64;
        }
        let per_epoch = self.optimizer_steps_per_epoch(num_train_rows) as f64;
        (self.num_train_epochs * per_epoch).ceil().max(0.0) as u64
    }

    /// Epochs the loop iterates (HF: ceil of the fractional value, or enough
    /// epochs to reach `max_steps`).
    pub fn num_epochs_to_iterate(&self, num_train_rows: u64) -> u64 {
        let per_epoch = self.optimizer_steps_per_epoch(num_train_rows);
        if self.max_steps > 0 {
            (self.max_steps as u64).div_ceil(per_epoch)
        } else {
            self.num_train_epochs.ceil().max(0.0) as u64
        }
    }

    /// Warmup steps for a run of `total` optimizer steps (HF `get_warmup_steps`):
    /// `warmup_steps` if >= 1, ceil(warmup_steps * total) if it is a ratio in
    /// (0, 1), else ceil(warmup_ratio * total).
    pub fn warmup_steps_for(&self, total: u64) -> u64 {
        let ratio = if self.warmup_steps >= 1.0 {
            return self.warmup_steps as u64;
        } else if self.warmup_steps > 0.0 {
            self.warmup_steps
        } else {
            self.warmup_ratio
        };
        (ratio * total as f64).ceil() as u64
    }

    /// Makes local-looking `model`, `dataset`, `output_dir` and
    /// `resume_from_checkpoint` values relative to `dir` (the config file's
    /// folder). Local `model` and `dataset` folders are made absolute, so that a run's saved
    /// config (and a LoRA adapter's base) names the same folders from anywhere; `output_dir`
    /// keeps its form (the Accelerate export keeps a relative one for the cluster).
    /// Local-looking: starts with `.` or is absolute, or exists under `dir`; anything else
    /// (`org/name`) stays a Hub id.
    pub fn resolve_paths_relative_to(&mut self, dir: &Path) {
        let resolve = |value: &mut String, always_local: bool| {
            let path = Path::new(value.as_str());
            if path.is_absolute() {
                return;
            }
            let joined = dir.join(path);
            // Data and model folders: absolute (output folders stay as written).
            let joined = if always_local {
                joined
            } else {
                std::path::absolute(&joined).unwrap_or(joined)
            };
            if always_local || value.starts_with('.') || joined.exists() {
                *value = joined.display().to_string();
            }
        };
        resolve(&mut self.model, false);
        resolve(&mut self.dataset, false);
        if let Some(out) = self.output_dir.as_mut() {
            resolve(out, true);
        }
        if let Some(resume) = self
            .resume_from_checkpoint
            .as_mut()
            .filter(|r| r.as_str() != "latest")
        {
            resolve(resume, true);
        }
    }

    /// The output folder, if set, as a path.
    pub fn output_dir_path(&self) -> Option<PathBuf> {
        self.output_dir.as_ref().map(PathBuf::from)
    }
}

/// `Option<String>` stored as a string, "" meaning `None`, for keys whose
/// default is `Some`: TOML has no null to write an explicit unset with.
mod empty_string_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_deref().unwrap_or(""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Some(text).filter(|t| !t.trim().is_empty()))
    }
}

/// Whether a larger value of metric `name` (`eval_` prefix optional) is better. HF's rule is
/// "not a loss"; Wick also counts the regression errors (`rmse`, `mse`, `mae`) as lower is
/// better, where HF would keep the worst checkpoint unless told otherwise.
pub fn greater_is_better_for(name: &str) -> bool {
    let bare = name.strip_prefix("eval_").unwrap_or(name);
    !(bare.ends_with("loss") || matches!(bare, "rmse" | "mse" | "mae"))
}

/// The names a unit enum is written with in TOML, comma separated.
fn variant_names<T: Serialize>(values: &[T]) -> String {
    values
        .iter()
        .filter_map(|v| toml::Value::try_from(v).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
