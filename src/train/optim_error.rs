//! Errors of the optimisation step: gradients, optimizer state files.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    #[error("parameter {0} received no gradient (is it used by the forward pass?)")]
    MissingGradient(String),
    #[error("gradient lists do not match: {0}")]
    Mismatch(String),
    #[error("optimizer state {path} does not match the model: {message}")]
    StateMismatch { path: PathBuf, message: String },
    #[error("cannot read or write optimizer state {path}: {message}")]
    StateFile { path: PathBuf, message: String },
    #[error("non-finite gradient norm {0}")]
    NonFinite(f64),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
