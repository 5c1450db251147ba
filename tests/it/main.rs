//! The integration tests, one binary with a module per area (as cargo's own test suite does):
//! every binary would link candle, arrow and egui again, which costs CI minutes. The fault
//! suite (`tests/faults`) stays a binary of its own.

#[path = "../support/mod.rs"]
mod support;

mod app_data_tasks;
mod app_hub_data;
mod app_layout;
mod app_lora;
mod app_monitor_tasks;
mod app_playground;
mod app_runs;
mod app_shell;
mod app_train;
mod data_inspect_tasks;
mod data_pipeline;
mod data_spm;
mod data_tasks;
mod data_wordpiece;
mod export_cli;
mod hub_api;
mod hub_cli;
mod hub_download;
mod hub_interop;
mod lora_ui;
mod model_architectures;
mod model_deberta;
mod model_inference;
mod model_lora;
mod model_modernbert;
mod model_parity;
mod model_precision;
mod model_rows;
mod model_tasks;
mod model_unpadding;
mod train_loop;
mod train_lora;
mod train_predict;
mod train_preflight;
mod train_resume;
mod train_tasks;
