//! Wick: fine-tune pre-trained Hugging Face encoders on a workstation, with candle.
//!
//! The modules each hold one idea (see `ARCHITECTURE.md`):
//! - [`data`]: loading, tokenization, collation, cache;
//! - [`model`]: encoders with classification heads, HF-compatible load/save;
//! - [`train`]: gradients, AdamW and learning-rate schedules;
//! - [`cli`]: the headless command line (`wick data`, `wick train`, `wick bench`, ...).

pub mod cli;
pub mod data;
pub mod model;
pub mod train;
