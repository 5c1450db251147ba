//! Wick: fine-tune pre-trained Hugging Face encoders on a workstation, with candle.
//!
//! The modules each hold one idea (see `ARCHITECTURE.md`):
//! - [`data`]: loading, tokenization, collation, cache;
//! - [`hub`]: the Hugging Face Hub: search, details, downloads, cache, mirror;
//! - [`cli`]: the headless command line (`wick data`, `wick train`, `wick bench`, ...).

pub mod cli;
pub mod data;
pub mod hub;
