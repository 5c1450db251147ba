//! Wick: fine-tune pre-trained Hugging Face encoders on a workstation, with candle.
//!
//! The modules each hold one idea (see `ARCHITECTURE.md`):
//! - [`task`]: what a run fine-tunes a model to do (the head, labels, loss and metrics follow);
//! - [`recipe`]: the run's configuration (`TrainConfig`), its keys, validation and presets;
//! - [`data`]: loading, tokenization, collation, cache;
//! - [`hub`]: the Hugging Face Hub: search, details, downloads, cache, mirror;
//! - [`model`]: encoders with classification heads, HF-compatible load/save;
//! - [`train`]: optimizer, schedules, the loop, metrics, checkpoints;
//! - [`runs`]: run folders, metrics logs, trainer state and checkpoint bookkeeping;
//! - [`app`]: the egui desktop app (six panels over the same engine);
//! - [`demo`]: the offline demo's synthetic data and tiny random model;
//! - [`cli`]: the headless command line (`wick data`, `wick train`, `wick bench`, ...);
//! - [`fault`]: named crash points for the fault tests (`WICK_FAULT`);
//! - [`panics`]: a caught panic in words.
//!
//! Lower modules never import higher ones; `layers.rs` lists who may import whom and a test
//! holds the source to it.

pub mod app;
pub mod cli;
pub mod data;
pub mod demo;
pub mod fault;
pub mod hub;
pub mod model;
pub mod panics;
pub mod recipe;
pub mod runs;
pub mod task;
pub mod train;

#[cfg(test)]
mod layers;
