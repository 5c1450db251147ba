//! Training checkpoints in HF layout, plus what Wick needs to continue exactly: the optimizer
//! moments, the schedule position and the data position.
//!
//! ```text
//! checkpoint-459/
//!   config.json  model.safetensors  tokenizer.json   the model, loadable by transformers
//!   adapter/adapter_config.json                       LoRA runs: the adapter in peft's layout
//!   adapter/adapter_model.safetensors                 (in a folder of its own: transformers
//!                                                     would apply an adapter it finds beside
//!                                                     model.safetensors on top of it)
//!   trainer_state.json                                HF's format, with log_history
//!   optimizer.safetensors                             AdamW step count and moments (f32)
//!   scheduler.json  rng_state.json                    schedule and data position, seeds
//!   train_totals.json                                 loss sum, samples and seconds so far
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::AdamW;
use super::train_error::TrainError;
use crate::model::Classifier;
use crate::runs::checkpoints::{
    OPTIMIZER_FILE, RNG_STATE_FILE, SCHEDULER_FILE, TRAINER_STATE_FILE,
};
use crate::runs::{Checkpoint, Checkpoints, TrainerState};

/// Wick's own file; optional, so checkpoints written before it still resume.
pub const TOTALS_FILE: &str = "train_totals.json";

/// The folder of a LoRA run's checkpoint that holds the adapter (`PeftModel.from_pretrained`
/// reads it).
pub const ADAPTER_DIR: &str = crate::runs::ADAPTER_DIR;

/// Where the data loader stands, and the seeds that make the rest reproducible.
/// Dropout masks derive from `(seed, global_step)` and batch order from `(data_seed, epoch)`,
/// so these numbers are the whole random state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub global_step: u64,
    /// The epoch in progress (0-based).
    pub epoch: u64,
    /// Optimizer steps already taken in `epoch`.
    pub step_in_epoch: u64,
    pub seed: u64,
    pub data_seed: u64,
}

/// `scheduler.json`: enough to check that a resumed run uses the same schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerState {
    pub lr_scheduler_type: String,
    pub base_learning_rate: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
    /// HF's `LambdaLR.last_epoch`: optimizer steps taken.
    pub last_epoch: u64,
}

/// `train_totals.json`: what the end-of-run summary averages over. Kept in the checkpoint so
/// that a resumed run reports the same `train_loss` as an uninterrupted one, not the mean of
/// the steps after the resume. Older checkpoints lack the file and read as zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainTotals {
    /// Sum of every optimizer step's loss (the mean over its accumulated batches).
    pub loss_sum: f64,
    /// Optimizer steps in `loss_sum`.
    pub steps: u64,
    pub samples: u64,
    /// Seconds spent in training steps (evaluation and saving excluded), all sessions.
    pub train_seconds: f64,
}

impl TrainTotals {
    /// The mean training loss, as Trainer's `train_loss` (0 before any step).
    pub fn mean_loss(&self) -> f64 {
        if self.steps > 0 {
            self.loss_sum / self.steps as f64
        } else {
            0.0
        }
    }
}

/// Everything a checkpoint holds besides the model.
pub struct TrainingState<'a> {
    pub optimizer: &'a AdamW,
    pub scheduler: &'a SchedulerState,
    pub position: &'a Position,
    pub trainer_state: &'a TrainerState,
    pub totals: &'a TrainTotals,
    /// `tokenizer.json` and friends, copied so the checkpoint is a complete model folder.
    pub tokenizer_files: &'a [PathBuf],
}

/// Writes a checkpoint under a temporary name and renames it into place when complete.
pub fn save(
    checkpoints: &Checkpoints,
    model: &Classifier,
    state: &TrainingState,
) -> Result<Checkpoint, TrainError> {
    let temp = checkpoints.begin(state.position.global_step)?;
    // Under LoRA `save` writes the merged model (the checkpoint stays a loadable model
    // folder) and the adapter goes into `adapter/`; a resume reads the adapter.
    model.save(temp.path())?;
    if model.lora().is_some() {
        model.save_adapter(&temp.path().join(ADAPTER_DIR))?;
    }
    crate::fault::point("mid-checkpoint");
    for file in state.tokenizer_files {
        if let Some(name) = file.file_name() {
            std::fs::copy(file, temp.path().join(name)).map_err(|e| {
                TrainError::Invalid(format!(
                    "copying {} into the checkpoint: {e}",
                    file.display()
                ))
            })?;
        }
    }
    state.optimizer.save_state(&temp.file(OPTIMIZER_FILE))?;
    write_json(&temp.file(SCHEDULER_FILE), state.scheduler)?;
    write_json(&temp.file(RNG_STATE_FILE), state.position)?;
    write_json(&temp.file(TOTALS_FILE), state.totals)?;
    state.trainer_state.save(&temp.file(TRAINER_STATE_FILE))?;
    Ok(checkpoints.commit(temp)?)
}

/// What [`load`] restores into a fresh session.
pub struct Restored {
    pub position: Position,
    pub scheduler: SchedulerState,
    pub trainer_state: TrainerState,
    pub totals: TrainTotals,
}

/// Reads the optimizer, schedule and position of a checkpoint; the model weights are loaded
/// by [`Classifier::load`] from the same folder.
pub fn load(dir: &Path, optimizer: &mut AdamW) -> Result<Restored, TrainError> {
    optimizer.load_state(&dir.join(OPTIMIZER_FILE))?;
    Ok(Restored {
        position: read_json(&dir.join(RNG_STATE_FILE))?,
        scheduler: read_json(&dir.join(SCHEDULER_FILE))?,
        trainer_state: TrainerState::load(&dir.join(TRAINER_STATE_FILE))?,
        totals: match dir.join(TOTALS_FILE) {
            path if path.is_file() => read_json(&path)?,
            _ => TrainTotals::default(),
        },
    })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| TrainError::Invalid(e.to_string()))?;
    std::fs::write(path, text)
        .map_err(|e| TrainError::Invalid(format!("writing {}: {e}", path.display())))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrainError::Invalid(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| TrainError::Invalid(format!("{} does not parse: {e}", path.display())))
}
