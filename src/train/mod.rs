//! Training: the run configuration, the optimisation step (gradients, AdamW, schedules),
//! evaluation metrics, checkpoints, and the background loop that ties them together.
//!
//! A front end calls [`spawn`] and talks to the trainer thread through the two enums of
//! [`events`]: [`Command`] in, [`Event`] out. The trainer never touches a UI.

pub mod accelerate;
mod checkpoint;
pub mod config;
mod error;
mod evaluate;
pub mod events;
mod grads;
pub mod metrics;
mod optim;
mod schedule;
mod train_error;
mod trainer;

pub use accelerate::{AccelerateExport, ExportError, export_accelerate};
pub use checkpoint::{Position, SchedulerState};
pub use error::OptimError;
pub use evaluate::{Evaluation, evaluate};
pub use events::{Command, EvalReport, Event, Started, StepReport, Summary};
pub use grads::Gradients;
pub use optim::{AdamW, AdamWConfig, uses_weight_decay};
pub use schedule::lr_at;
pub use train_error::TrainError;
pub use trainer::{TrainerHandle, TrainerOptions, run_to_end, spawn};
