//! Why a training run could not start or go on. The trainer thread turns each into one
//! `Event::Failed` with this message; front ends show it as is.

use crate::recipe::TrainConfig;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] crate::recipe::ConfigError),
    #[error(transparent)]
    Device(#[from] super::device::DeviceError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Optim(#[from] super::OptimError),
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    #[error(transparent)]
    Runs(#[from] crate::runs::RunsError),
    #[error(transparent)]
    Metrics(#[from] super::metrics::MetricsError),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error(
        "the training loss became {loss} at step {step} (learning rate {learning_rate:.3e}); \
         the run stopped. {hint}"
    )]
    NonFiniteLoss {
        step: u64,
        loss: f64,
        learning_rate: f64,
        /// What to change, naming only settings not already so.
        hint: String,
    },
    #[error(
        "{} already finished ({finished_at}): there is nothing to resume. To train it \
         further, fork it from a checkpoint (a new run).",
        run.display()
    )]
    AlreadyFinished {
        run: std::path::PathBuf,
        finished_at: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    /// The loss of `step` is NaN or infinite: the error, with a hint that names only the
    /// settings `cfg` does not already have.
    pub fn non_finite_loss(step: u64, loss: f64, learning_rate: f64, cfg: &TrainConfig) -> Self {
        TrainError::NonFiniteLoss {
            step,
            loss,
            learning_rate,
            hint: divergence_hint(cfg),
        }
    }
}

/// What to try against a diverging run, naming only settings that are not already so.
pub(super) fn divergence_hint(cfg: &TrainConfig) -> String {
    let mut tries = vec![format!(
        "a lower learning_rate (now {:e}, e.g. {:e})",
        cfg.learning_rate,
        cfg.learning_rate / 10.0
    )];
    if cfg.max_grad_norm <= 0.0 || cfg.max_grad_norm > 1.0 {
        tries.push("max_grad_norm = 1.0".into());
    }
    if cfg.warmup_steps == 0.0 && cfg.warmup_ratio == 0.0 {
        tries.push("warmup_ratio = 0.1".into());
    }
    if cfg.bf16 {
        tries.push("bf16 = false".into());
    }
    format!("Try {}.", tries.join(", or "))
}
