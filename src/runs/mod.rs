//! Run folders: the resolved config, run status, the metrics log, the
//! trainer state and crash-safe checkpoints.
//!
//! ```text
//! <runs root>/20261126-073440-mrpc-minilm/
//!   config.toml        full resolved TrainConfig (never a token)
//!   run.json           status, times, best metric (RunInfo)
//!   .lock              held by the process writing the run (RunLock)
//!   metrics.jsonl      one HF log_history entry per line (MetricsLog)
//!   predictions.json   the final model on the eval split, row by row (Predictions)
//!   checkpoint-459/    model.safetensors, config.json, trainer_state.json, ...
//!     adapter/         LoRA runs: the adapter in peft's layout (RunLora)
//!   tmp-checkpoint-918/  a checkpoint being written (ignored, cleaned)
//! ```

pub mod checkpoints;
pub mod compare;
mod fsio;
pub mod lock;
pub mod lora;
pub mod metrics_log;
pub mod predictions;
mod run_dir;
pub mod time;
pub mod trainer_state;

pub use checkpoints::{Checkpoint, CheckpointEntry, Checkpoints, TempCheckpointDir};
pub use lock::{RunLock, lock_holder};
pub use lora::{ADAPTER_DIR, AdapterFile, RunLora, read_run_lora};
pub use metrics_log::{LogRecord, MetricsLog, MetricsRead, read_metrics};
pub use predictions::{
    Breakdown, BreakdownKind, BreakdownRow, ClassOutput, EntitySpan, LabelsOutput,
    PREDICTIONS_FILE, PredictionRow, Predictions, RowOutput, ScoreOutput, TagsOutput,
    read_predictions, write_predictions,
};
pub use run_dir::{
    BestMetric, BrokenRun, CONFIG_FILE, METRICS_FILE, RUN_INFO_FILE, RunDir, RunDurations, RunInfo,
    RunListing, RunStatus, RunSummary, delete_run, list_runs, run_folder_name,
};
pub use trainer_state::TrainerState;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the default runs root.
pub const RUNS_DIR_ENV: &str = "WICK_RUNS_DIR";

/// An error about a run folder or one of its files; it names the path.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Config(#[from] crate::recipe::ConfigError),
}

impl RunsError {
    /// `map_err` helper that attaches `path` to an I/O error.
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunsError + '_ {
        move |source| RunsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        RunsError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The platform data folder's `runs` (e.g. `~/.local/share/wick/runs`).
pub fn default_runs_root() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "wick", "wick").map(|dirs| dirs.data_dir().join("runs"))
}

/// The runs root: an explicit path, else `env_value` (the caller passes
/// `WICK_RUNS_DIR`'s value), else the platform default.
pub fn runs_root_from(explicit: Option<&Path>, env_value: Option<OsString>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| env_value.filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(default_runs_root)
}

/// [`runs_root_from`] with the process environment (for the CLI/GUI edge).
pub fn runs_root(explicit: Option<&Path>) -> Option<PathBuf> {
    runs_root_from(explicit, std::env::var_os(RUNS_DIR_ENV))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_root_prefers_explicit_then_env() {
        let explicit = Path::new("/explicit/runs");
        assert_eq!(
            runs_root_from(Some(explicit), Some("/env".into())).unwrap(),
            explicit
        );
        assert_eq!(
            runs_root_from(None, Some("/env/runs".into())).unwrap(),
            Path::new("/env/runs")
        );
        assert_eq!(runs_root_from(None, Some("".into())), default_runs_root());
        if let Some(default) = default_runs_root() {
            assert!(default.ends_with("runs"), "{}", default.display());
        }
    }
}
