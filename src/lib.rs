//! Wick: fine-tune pre-trained Hugging Face encoders on a workstation, with candle.
//!
//! The modules each hold one idea (see `ARCHITECTURE.md`):
//! - [`data`]: loading, tokenization, collation, cache;
//! - [`train`]: the training configuration and evaluation metrics;
//! - [`runs`]: run folders, metrics logs, trainer state and checkpoints;
//! - [`cli`]: the headless command line (`wick data`, `wick train`, `wick bench`, ...).

pub mod cli;
pub mod data;
pub mod runs;
pub mod train;
