//! Training: the run configuration and evaluation metrics.

pub mod config;
pub mod metrics;
