//! The two enums that cross the channel between a front end (GUI or CLI) and the trainer
//! thread: [`Command`] goes in, [`Event`] comes out.

use std::path::PathBuf;

use super::metrics::Metrics;
use crate::recipe::TrainConfig;

/// What a front end may ask of a running trainer. Each is handled between optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    /// Stop after the current step; a checkpoint is saved so the run can be resumed.
    Stop,
    SaveNow,
    EvalNow,
}

/// What the trainer reports, in order: `Preparing`*, `Started`, then `Step`/`Eval`/
/// `CheckpointSaved`/`Paused`/`Resumed`, and exactly one `Finished` or `Failed`. A `Warning`
/// may come at any point before the end.
#[derive(Debug, Clone)]
pub enum Event {
    /// Data or model preparation before the first step (`total` 0 when unknown).
    Preparing {
        stage: String,
        done: u64,
        total: u64,
    },
    Started(Box<Started>),
    /// Something the user should know that does not stop the run (`max_length` capped to the
    /// model's positions, a loss that explodes); said once, in words, and kept in `run.json`.
    Warning {
        message: String,
    },
    Step(StepReport),
    Eval(EvalReport),
    CheckpointSaved {
        step: u64,
        path: PathBuf,
        /// Older checkpoints deleted to stay within `save_total_limit` (before writing this
        /// one when the limit would be exceeded anyway, so a nearly full disk still saves).
        deleted: Vec<PathBuf>,
    },
    Paused {
        step: u64,
    },
    Resumed {
        step: u64,
    },
    Finished(Box<Summary>),
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Started {
    /// The fully resolved configuration the run uses.
    pub config: TrainConfig,
    pub run_dir: PathBuf,
    pub device: String,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub warmup_steps: u64,
    pub train_rows: usize,
    pub eval_rows: usize,
    pub label_names: Vec<String>,
    pub num_parameters: usize,
    /// The parameters that train (all of them, or LoRA's adapters and saved modules).
    pub trainable_parameters: usize,
    /// Tensors that the pre-trained weights did not have (usually the new head).
    pub newly_initialized: Vec<String>,
    /// Set when continuing from a checkpoint: its global step.
    pub resumed_at_step: Option<u64>,
}

/// One optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    pub step: u64,
    pub total_steps: u64,
    /// Fractional epoch, as HF logs it.
    pub epoch: f64,
    /// Mean training loss of this step's batches.
    pub loss: f64,
    /// The learning rate this step used.
    pub learning_rate: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub samples_per_s: f64,
    /// Non-padding tokens per second.
    pub tokens_per_s: f64,
    pub eta_s: f64,
    pub elapsed_s: f64,
    /// GPU memory in use after this step (NVML, whole device); `None` on the CPU.
    pub gpu_memory_used_bytes: Option<u64>,
    /// GPU utilisation percent over NVML's last sample period; `None` on the CPU.
    pub gpu_utilization_percent: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct EvalReport {
    pub step: u64,
    pub epoch: f64,
    pub metrics: Metrics,
    pub runtime_s: f64,
    pub samples_per_s: f64,
    /// Whether this evaluation improved `metric_for_best_model`.
    pub is_best: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub run_dir: PathBuf,
    pub global_step: u64,
    pub epoch: f64,
    /// Mean training loss over every step of the run (all sessions, as `train_totals.json`
    /// keeps them).
    pub train_loss: f64,
    /// Seconds in training steps over the whole run (see [`crate::runs::RunDurations`]).
    pub train_runtime_s: f64,
    /// From the run's start to its end (see [`crate::runs::RunDurations`]).
    pub wall_s: Option<f64>,
    pub train_samples_per_s: f64,
    pub best_metric: Option<(String, f64)>,
    pub best_checkpoint: Option<PathBuf>,
    pub last_eval: Option<Metrics>,
    pub stopped_by_user: bool,
    pub stopped_early: bool,
}
