//! Value and cross-key checks, following `TrainingArguments.__post_init__`
//! and `EarlyStoppingCallback.on_train_begin` where HF has the same rule.

use super::{ConfigError, IntervalStrategy, SaveStrategy, TrainConfig};

/// The `device` key, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    /// CUDA device ordinal (`"cuda"` is ordinal 0).
    Cuda(usize),
}

impl DeviceSpec {
    /// Parses "cpu", "cuda" or "cuda:N".
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "cpu" => Some(Self::Cpu),
            "cuda" => Some(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda),
        }
    }
}

impl TrainConfig {
    /// The parsed `device` (validated, so `None` only for unvalidated configs).
    pub fn device_spec(&self) -> Option<DeviceSpec> {
        DeviceSpec::parse(&self.device)
    }

    /// [`Self::validate`], naming `file` (where the values came from) in the error.
    pub fn validate_in(&self, file: &str) -> Result<(), ConfigError> {
        match self.problems_in(file).into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every value and cross-key problem at once, in the order of the checks (the first is
    /// what [`Self::validate`] reports); at most one per key. A form lists them all.
    pub fn problems(&self) -> Vec<ConfigError> {
        self.problems_in(super::INLINE)
    }

    /// [`Self::problems`], naming `file` in each error.
    pub fn problems_in(&self, file: &str) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        for (key, value) in [("model", &self.model), ("dataset", &self.dataset)] {
            if value.trim().is_empty() {
                problems.push(ConfigError::Missing {
                    file: file.into(),
                    key: key.into(),
                });
            }
        }
        let mut bad =
            |key: &str, message: &str| problems.push(ConfigError::bad(file, key, message));

        if self.train_split.trim().is_empty() {
            bad("train_split", "must not be empty");
        }
        if let super::ClassWeights::Given(weights) = &self.class_weights
            && (weights.is_empty() || !weights.iter().all(|w| w.is_finite() && *w >= 0.0))
        {
            bad(
                "class_weights",
                "must list one non-negative number per class",
            );
        }
        if self.lora_r == 0 {
            bad("lora_r", "must be at least 1");
        }
        if !(self.lora_alpha.is_finite() && self.lora_alpha > 0.0) {
            bad("lora_alpha", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            bad("lora_dropout", "must be in [0, 1)");
        }
        if self.class_weights != super::ClassWeights::None
            && self.task.is_some_and(|task| !task.uses_cross_entropy())
        {
            bad(
                "class_weights",
                "apply to single-label and token classification (their loss is cross-entropy)",
            );
        }
        for (key, value) in [
            ("max_length", self.max_length),
            ("pad_to_multiple_of", self.pad_to_multiple_of),
            ("tokenize_threads", self.tokenize_threads),
        ] {
            if value == Some(0) {
                bad(key, "must be at least 1 (or unset)");
            }
        }
        let device = self.device_spec();
        if device.is_none() {
            bad("device", "must be \"cpu\", \"cuda\" or \"cuda:N\"");
        }

        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            bad("learning_rate", "must be a positive number");
        }
        if self.max_steps == 0 || self.max_steps < -1 {
            bad("max_steps", "must be -1 (use num_train_epochs) or positive");
        }
        if self.max_steps < 0 && !(self.num_train_epochs.is_finite() && self.num_train_epochs > 0.0)
        {
            bad("num_train_epochs", "must be positive (or set max_steps)");
        }
        for (key, value) in [
            (
                "per_device_train_batch_size",
                self.per_device_train_batch_size,
            ),
            (
                "per_device_eval_batch_size",
                self.per_device_eval_batch_size,
            ),
            (
                "gradient_accumulation_steps",
                self.gradient_accumulation_steps,
            ),
        ] {
            if value == 0 {
                bad(key, "must be at least 1");
            }
        }
        for (key, value) in [
            ("weight_decay", self.weight_decay),
            ("max_grad_norm", self.max_grad_norm),
            ("early_stopping_threshold", self.early_stopping_threshold),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                bad(key, "must be a number >= 0");
            }
        }
        for (key, value) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&value) {
                bad(key, "must be in [0, 1)");
            }
        }
        if !(self.adam_epsilon.is_finite() && self.adam_epsilon > 0.0) {
            bad("adam_epsilon", "must be a positive number");
        }
        if !(self.warmup_steps.is_finite() && self.warmup_steps >= 0.0)
            || (self.warmup_steps >= 1.0 && self.warmup_steps.fract() != 0.0)
        {
            bad(
                "warmup_steps",
                "must be a whole number of steps, or a ratio in [0, 1)",
            );
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            bad("warmup_ratio", "must be in [0, 1]");
        }

        if self.logging_strategy == IntervalStrategy::Steps && self.logging_steps == 0 {
            bad(
                "logging_steps",
                "must be at least 1 with logging_strategy = \"steps\"",
            );
        }
        if let Some(percent) = self.validation_split_percentage {
            if !(1..=50).contains(&percent) {
                bad("validation_split_percentage", "must be between 1 and 50");
            } else if self.eval_split.is_some() {
                bad(
                    "validation_split_percentage",
                    "holds out part of train only when there is no eval_split; clear one of them",
                );
            }
        }
        if self.eval_strategy != IntervalStrategy::No && !self.has_eval_data() {
            bad(
                "eval_strategy",
                "needs an eval_split or a validation_split_percentage to evaluate on",
            );
        }
        if self.eval_steps == Some(0) {
            bad(
                "eval_steps",
                "must be at least 1 (or unset = logging_steps)",
            );
        } else if self.eval_strategy == IntervalStrategy::Steps && self.resolved_eval_steps() == 0 {
            bad(
                "eval_steps",
                "must be set (or logging_steps above 0) with eval_strategy = \"steps\"",
            );
        }
        if self.save_strategy == SaveStrategy::Steps && self.save_steps == 0 {
            bad(
                "save_steps",
                "must be at least 1 with save_strategy = \"steps\"",
            );
        }
        if self.save_total_limit == Some(0) {
            bad(
                "save_total_limit",
                "must be at least 1 (or unset = keep all)",
            );
        }
        if self
            .metric_for_best_model
            .as_deref()
            .is_some_and(|m| m.contains(char::is_whitespace))
        {
            bad(
                "metric_for_best_model",
                "must be a metric name like \"eval_f1\"",
            );
        }
        problems.extend(self.validate_best_model(file).err());
        problems.extend(self.validate_early_stopping(file).err());

        if device == Some(DeviceSpec::Cpu) {
            if self.bf16 {
                problems.push(ConfigError::bad(
                    file,
                    "bf16",
                    "needs a CUDA device (mixed precision)",
                ));
            }
            if self.tf32 {
                problems.push(ConfigError::bad(file, "tf32", "needs a CUDA device"));
            }
        }
        // One per key: the first check that names it says what to fix first.
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert(p.key().unwrap_or_default().to_string()));
        problems
    }

    /// HF: with `load_best_model_at_end` (and save_strategy != "best"), saving
    /// must happen exactly when evaluating.
    fn validate_best_model(&self, file: &str) -> Result<(), ConfigError> {
        let best_needed = self.load_best_model_at_end || self.save_strategy == SaveStrategy::Best;
        if best_needed && self.eval_strategy == IntervalStrategy::No {
            let key = if self.load_best_model_at_end {
                "load_best_model_at_end"
            } else {
                "save_strategy"
            };
            return Err(ConfigError::bad(
                file,
                key,
                "needs eval_strategy \"steps\" or \"epoch\"",
            ));
        }
        if !self.load_best_model_at_end || self.save_strategy == SaveStrategy::Best {
            return Ok(());
        }
        let same = matches!(
            (self.eval_strategy, self.save_strategy),
            (IntervalStrategy::Steps, SaveStrategy::Steps)
                | (IntervalStrategy::Epoch, SaveStrategy::Epoch)
        );
        if !same {
            return Err(ConfigError::bad(
                file,
                "load_best_model_at_end",
                format!(
                    "needs save_strategy to match eval_strategy ({:?} vs {:?})",
                    self.save_strategy, self.eval_strategy
                ),
            ));
        }
        if self.eval_strategy == IntervalStrategy::Steps
            && !self.save_steps.is_multiple_of(self.resolved_eval_steps())
        {
            return Err(ConfigError::bad(
                file,
                "save_steps",
                format!(
                    "must be a multiple of eval_steps ({}) with load_best_model_at_end",
                    self.resolved_eval_steps()
                ),
            ));
        }
        Ok(())
    }

    /// HF's `EarlyStoppingCallback` asserts these at train begin; Wick says it up front.
    fn validate_early_stopping(&self, file: &str) -> Result<(), ConfigError> {
        let Some(patience) = self.early_stopping_patience else {
            return Ok(());
        };
        let key = "early_stopping_patience";
        if patience == 0 {
            return Err(ConfigError::bad(file, key, "must be at least 1 (or unset)"));
        }
        if !self.load_best_model_at_end {
            return Err(ConfigError::bad(
                file,
                key,
                "needs load_best_model_at_end = true",
            ));
        }
        Ok(())
    }
}
