//! The recipe: what a run is made of, as the flat TOML table that `wick train --config
//! run.toml` reads and the Train form edits. Its keys (with help and defaults), reading and
//! writing TOML, validation, the named presets and the edits (fork, resume, reset, the copy
//! written to a file) live here, on the ground floor: `runs`, `train`, `app` and `cli`
//! depend on it, and it depends on none of them.

pub mod config;
pub mod edits;
pub mod form;
pub mod presets;

pub use config::{
    ClassWeights, ConfigError, DeviceSpec, IntervalStrategy, KEYS, KeyInfo, KeyOrigin,
    LrSchedulerType, SaveStrategy, TrainConfig, closest_key, greater_is_better_for, key_info,
};
pub use presets::Preset;
