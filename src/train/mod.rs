//! The optimisation step: gradients, AdamW, learning-rate schedules.

mod error;
mod grads;
mod optim;
mod schedule;

pub use error::OptimError;
pub use grads::Gradients;
pub use optim::{AdamW, AdamWConfig, uses_weight_decay};
pub use schedule::{SchedulerType, lr_at, warmup_steps_from};
