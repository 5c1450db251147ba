//! Why a training run could not start or go on. The trainer thread turns each into one
//! `Event::Failed` with this message; front ends show it as is.

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
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
