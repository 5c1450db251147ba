//! Training: the run configuration, the optimisation step (gradients, AdamW, schedules),
//! evaluation metrics, checkpoints, and the background loop that ties them together.
//!
//! A front end calls [`spawn`] and talks to the trainer thread through the two enums of
//! [`events`]: [`Command`] in, [`Event`] out. The trainer never touches a UI.

pub mod accelerate;
mod adapter_folder;
mod checkpoint;
pub mod device;
mod entity_groups;
mod evaluate;
pub mod events;
mod export;
pub mod flow;
mod grads;
pub mod inputs;
pub mod metrics;
mod optim;
mod optim_error;
pub mod predict;
pub mod preflight;
mod prepare;
pub mod preview;
mod schedule;
pub mod scores;
mod split_predictions;
pub mod step;
mod train_error;
mod trainer;

pub use accelerate::{AccelerateExport, ExportError, export_accelerate};
pub use checkpoint::{ADAPTER_DIR, Position, SchedulerState};
// The recipe moved to `crate::recipe`; these keep the older paths working.
pub use crate::recipe::TrainConfig;
pub use crate::recipe::{config, presets};
pub use adapter_folder::is_adapter_folder;
pub use device::{DeviceError, DeviceInfo, GpuSample, GpuSampler, Precision, available_devices};
pub use entity_groups::{EntityGroup, TaggedToken, group_entities};
pub use evaluate::{Evaluation, TaskOutputs, evaluate, softmax};
pub use events::{Command, EvalReport, Event, Started, StepReport, Summary};
pub use export::{ExportCheck, ExportForm, adapter_of, export_model};
pub use grads::Gradients;
pub use inputs::{RecipeInputs, split_request, train_order};
pub use optim::{AdamW, AdamWConfig, uses_weight_decay};
pub use optim_error::OptimError;
pub use predict::{PredictError, Prediction, Predictor, TaskPrediction, device_from_name};
pub use preflight::{PreflightReport, preflight};
pub use schedule::lr_at;
pub use train_error::TrainError;
pub use trainer::{TrainerHandle, TrainerOptions, run_to_end, spawn};
