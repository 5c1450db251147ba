//! Encoder models (BERT, DistilBERT, RoBERTa, XLM-RoBERTa) with a head per task (sequence
//! classification, multi-label, regression, token classification) built from differentiable
//! candle ops so that training matches PyTorch.

mod attention;
mod bert;
mod classifier;
mod config;
mod deberta;
mod deberta_attention;
mod distilbert;
mod dropout;
mod error;
mod fast_math;
mod fused;
mod fused_attention;
mod fused_linear;
mod layers;
mod lora;
mod loss;
mod modernbert;
mod modernbert_config;
mod packing;
mod params;
mod peft;
mod roberta;
mod rotary;
#[cfg(test)]
mod test_support;
mod token_head;
mod weights;

pub use classifier::{Classifier, DEFAULT_HEAD_SEED, EncoderOutput, LoadReport};
pub use config::{Activation, Architecture, ModelConfig};
pub use dropout::Dropout;
pub use error::{ModelError, Result};
pub use layers::cross_entropy;
pub use lora::{LoraConfig, default_target_modules, is_saved, target_module_names};
pub use loss::{IGNORE_INDEX, task_loss};
pub use peft::{ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE};
