//! HF `trainer_state.json` (transformers `TrainerState`), so checkpoints
//! look like the Python Trainer's and tools that read them keep working.

use super::RunsError;
use super::fsio::write_atomic;
use super::metrics_log::LogRecord;
use crate::recipe::TrainConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

const EARLY_STOPPING: &str = "EarlyStoppingCallback";
const PATIENCE_COUNTER: &str = "early_stopping_patience_counter";

/// `TrainerState`; fields in alphabetical order, as HF writes them
/// (`json.dumps(asdict(state), indent=2, sort_keys=True)`). Unknown fields
/// from newer transformers are ignored, missing ones default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainerState {
    pub best_global_step: Option<u64>,
    pub best_metric: Option<f64>,
    /// Path of the best checkpoint folder, e.g. `<run>/checkpoint-459`.
    pub best_model_checkpoint: Option<String>,
    pub epoch: Option<f64>,
    pub eval_steps: u64,
    pub global_step: u64,
    pub is_hyper_param_search: bool,
    pub is_local_process_zero: bool,
    pub is_world_process_zero: bool,
    pub log_history: Vec<LogRecord>,
    pub logging_steps: u64,
    pub max_steps: u64,
    pub num_input_tokens_seen: u64,
    pub num_train_epochs: u64,
    pub save_steps: u64,
    /// `{"TrainerControl": {"args": {...}, "attributes": {}}, "EarlyStoppingCallback": ...}`.
    pub stateful_callbacks: BTreeMap<String, Value>,
    pub total_flos: f64,
    pub train_batch_size: Option<u64>,
    pub trial_name: Option<String>,
    pub trial_params: Option<Value>,
}

impl Default for TrainerState {
    fn default() -> Self {
        Self {
            best_global_step: None,
            best_metric: None,
            best_model_checkpoint: None,
            epoch: Some(0.0),
            eval_steps: 500,
            global_step: 0,
            is_hyper_param_search: false,
            is_local_process_zero: true,
            is_world_process_zero: true,
            log_history: Vec::new(),
            logging_steps: 500,
            max_steps: 0,
            num_input_tokens_seen: 0,
            num_train_epochs: 0,
            save_steps: 500,
            stateful_callbacks: BTreeMap::new(),
            total_flos: 0.0,
            train_batch_size: None,
            trial_name: None,
            trial_params: None,
        }
    }
}

impl TrainerState {
    /// A fresh state for a run of `max_steps` optimizer steps over
    /// `num_train_epochs` epochs (both from [`TrainConfig`]'s helpers).
    pub fn new(config: &TrainConfig, max_steps: u64, num_train_epochs: u64) -> Self {
        let mut state = Self {
            eval_steps: config.resolved_eval_steps(),
            logging_steps: config.logging_steps,
            save_steps: config.save_steps,
            max_steps,
            num_train_epochs,
            train_batch_size: Some(u64::from(config.per_device_train_batch_size)),
            ..Self::default()
        };
        if let Some(patience) = config.early_stopping_patience {
            state.set_early_stopping(patience, config.early_stopping_threshold, 0);
        }
        state
    }

    pub fn load(path: &Path) -> Result<Self, RunsError> {
        let text = std::fs::read_to_string(path).map_err(RunsError::io(path))?;
        serde_json::from_str(&text).map_err(|e| RunsError::invalid(path, e.to_string()))
    }

    /// Writes the state atomically, pretty-printed with sorted keys like HF.
    pub fn save(&self, path: &Path) -> Result<(), RunsError> {
        let mut json = serde_json::to_string_pretty(self)
            .map_err(|e| RunsError::invalid(path, e.to_string()))?;
        json.push('\n');
        write_atomic(path, json.as_bytes())
    }

    /// Updates the best metric like HF `Trainer._determine_best_metric`;
    /// returns whether `value` is a new best.
    pub fn update_best(
        &mut self,
        value: f64,
        greater_is_better: bool,
        checkpoint: Option<String>,
    ) -> bool {
        if !self.is_improvement(value, greater_is_better, 0.0) {
            return false;
        }
        self.best_metric = Some(value);
        self.best_global_step = Some(self.global_step);
        self.best_model_checkpoint = checkpoint;
        true
    }

    /// Advances the early-stopping counter like HF `EarlyStoppingCallback`:
    /// reset on an improvement larger than `threshold` over the best so far,
    /// else +1. Call it before [`Self::update_best`] for the same evaluation
    /// (HF's callback runs before the best metric is updated). Returns the
    /// counter; training stops when it reaches the patience.
    pub fn record_early_stopping(&mut self, value: f64, greater_is_better: bool) -> u32 {
        let (patience, threshold) = self.early_stopping_args().unwrap_or((u32::MAX, 0.0));
        let counter = if self.is_improvement(value, greater_is_better, threshold) {
            0
        } else {
            self.early_stopping_counter().unwrap_or(0).saturating_add(1)
        };
        self.set_early_stopping(patience, threshold, counter);
        counter
    }

    /// The saved patience counter, if early stopping is on.
    pub fn early_stopping_counter(&self) -> Option<u32> {
        self.stateful_callbacks
            .get(EARLY_STOPPING)?
            .pointer(&format!("/attributes/{PATIENCE_COUNTER}"))?
            .as_u64()
            .map(|c| c as u32)
    }

    fn early_stopping_args(&self) -> Option<(u32, f64)> {
        let args = self.stateful_callbacks.get(EARLY_STOPPING)?.get("args")?;
        let patience = args.get("early_stopping_patience")?.as_u64()? as u32;
        let threshold = args.get("early_stopping_threshold")?.as_f64()?;
        Some((patience, threshold))
    }

    /// Stores the callback state in HF's `stateful_callbacks` layout.
    pub fn set_early_stopping(&mut self, patience: u32, threshold: f64, counter: u32) {
        self.stateful_callbacks.insert(
            EARLY_STOPPING.into(),
            json!({
                "args": {"early_stopping_patience": patience, "early_stopping_threshold": threshold},
                "attributes": {PATIENCE_COUNTER: counter},
            }),
        );
    }

    /// A value that is not a number (an undefined correlation) never improves.
    fn is_improvement(&self, value: f64, greater_is_better: bool, threshold: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        match self.best_metric {
            None => true,
            Some(best) => {
                let better = if greater_is_better {
                    value > best
                } else {
                    value < best
                };
                better && (value - best).abs() > threshold
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `trainer_state.json` in the layout transformers writes (the fields of
    /// its `TrainerState` dataclass; `TrainerControl` as `TrainerControl.state()`),
    /// with hand-written values.
    const HF_STATE: &str = r#"{
  "best_global_step": 918,
  "best_metric": 0.8774,
  "best_model_checkpoint": "out/checkpoint-918",
  "epoch": 2.0,
  "eval_steps": 500,
  "global_step": 918,
  "is_hyper_param_search": false,
  "is_local_process_zero": true,
  "is_world_process_zero": true,
  "log_history": [
    {"epoch": 1.0, "grad_norm": 9.1, "learning_rate": 3.3e-05, "loss": 0.55, "step": 459},
    {"epoch": 1.0, "eval_accuracy": 0.84, "eval_f1": 0.88, "eval_loss": 0.39, "eval_runtime": 1.2, "eval_samples_per_second": 340.0, "eval_steps_per_second": 42.5, "step": 459}
  ],
  "logging_steps": 500,
  "max_steps": 1377,
  "num_input_tokens_seen": 0,
  "num_train_epochs": 3,
  "save_steps": 500,
  "stateful_callbacks": {
    "TrainerControl": {
      "args": {"should_epoch_stop": false, "should_evaluate": false, "should_log": false, "should_save": true, "should_training_stop": false},
      "attributes": {}
    }
  },
  "total_flos": 120000000000000.0,
  "train_batch_size": 8,
  "trial_name": null,
  "trial_params": null
}"#;

    #[test]
    fn reads_hf_state_and_writes_it_back_equal() {
        let state: TrainerState = serde_json::from_str(HF_STATE).unwrap();
        assert_eq!(
            (state.global_step, state.max_steps, state.num_train_epochs),
            (918, 1377, 3)
        );
        assert_eq!(
            state.best_model_checkpoint.as_deref(),
            Some("out/checkpoint-918")
        );
        assert_eq!(state.log_history[1]["eval_f1"], json!(0.88));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trainer_state.json");
        state.save(&path).unwrap();
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written, serde_json::from_str::<Value>(HF_STATE).unwrap());
        assert_eq!(TrainerState::load(&path).unwrap(), state);
    }

    #[test]
    fn new_state_takes_steps_from_config() {
        let config = TrainConfig::from_toml_str(
            "model = \"m\"\ndataset = \"d\"\nlogging_steps = 50\neval_strategy = \"epoch\"\nsave_strategy = \"epoch\"\n\
             load_best_model_at_end = true\nearly_stopping_patience = 2\nper_device_train_batch_size = 16\n",
        )
        .unwrap();
        let state = TrainerState::new(&config, 1377, 3);
        assert_eq!(
            (state.logging_steps, state.eval_steps, state.save_steps),
            (50, 50, 500)
        );
        assert_eq!(state.train_batch_size, Some(16));
        assert_eq!(state.early_stopping_counter(), Some(0));
        assert!(state.is_world_process_zero && state.is_local_process_zero);
    }

    #[test]
    fn an_undefined_metric_is_never_best_and_counts_against_patience() {
        let mut state = TrainerState::default();
        state.set_early_stopping(3, 0.0, 0);
        // The trainer's order: patience first, then the best. The first evaluation's
        // pearson is undefined (constant predictions).
        assert_eq!(state.record_early_stopping(f64::NAN, true), 1);
        assert!(!state.update_best(f64::NAN, true, None));
        assert_eq!(state.record_early_stopping(0.3, true), 0);
        assert!(state.update_best(0.3, true, None));
        assert_eq!(state.record_early_stopping(f64::NAN, true), 1);
        assert!(!state.update_best(f64::NAN, true, None));
        assert_eq!(state.best_metric, Some(0.3));
    }

    #[test]
    fn best_metric_and_patience_follow_hf() {
        let mut state = TrainerState::default();
        state.set_early_stopping(2, 0.01, 0);
        // Lower is better (eval_loss).
        for (step, loss, counter, new_best) in [
            (100, 0.50, 0, true),
            (200, 0.495, 1, true), // better, but by less than the threshold
            (300, 0.60, 2, false),
            (400, 0.40, 0, true),
        ] {
            state.global_step = step;
            assert_eq!(
                state.record_early_stopping(loss, false),
                counter,
                "step {step}"
            );
            let checkpoint = format!("run/checkpoint-{step}");
            assert_eq!(
                state.update_best(loss, false, Some(checkpoint)),
                new_best,
                "step {step}"
            );
        }
        assert_eq!(
            (state.best_metric, state.best_global_step),
            (Some(0.40), Some(400))
        );
        assert_eq!(
            state.best_model_checkpoint.as_deref(),
            Some("run/checkpoint-400")
        );
        assert_eq!(state.early_stopping_counter(), Some(0));
    }
}
