//! Training: the run configuration.

pub mod config;
