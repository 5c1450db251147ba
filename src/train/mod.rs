//! Training: the run configuration, the optimisation step (gradients, AdamW, schedules),
//! evaluation metrics, and the background loop that ties them together.

pub mod config;
mod error;
mod grads;
pub mod metrics;
mod optim;
mod schedule;

pub use error::OptimError;
pub use grads::Gradients;
pub use optim::{AdamW, AdamWConfig, uses_weight_decay};
pub use schedule::{SchedulerType, lr_at, warmup_steps_from};
