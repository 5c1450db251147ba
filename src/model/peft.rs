//! peft's adapter layout: `adapter_config.json` (a `LoraConfig`) and
//! `adapter_model.safetensors` with the trainable tensors under
//! `base_model.model.<name>`: `<module>.lora_A.weight`, `<module>.lora_B.weight`, and the
//! `modules_to_save` parameters under their own names (peft strips
//! `modules_to_save.default.` when saving). `PeftModel.from_pretrained` reads it.

use std::path::Path;

use candle_core::{DType, Device};
use serde_json::{Value, json};

use super::classifier::Classifier;
use super::error::{ModelError, Result};
use super::lora::{LoraConfig, default_modules_to_save};
use super::weights;
use crate::task::Task;

pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// peft's prefix for a `PeftModel`'s wrapped model.
const PREFIX: &str = "base_model.model.";

/// peft's `task_type` for a Wick task.
fn task_type(task: Task) -> &'static str {
    if task.per_token() {
        "TOKEN_CLS"
    } else {
        "SEQ_CLS"
    }
}

impl LoraConfig {
    /// The `adapter_config.json` peft writes for these settings (peft fills in the rest).
    pub fn to_peft_json(&self, task: Task) -> Value {
        json!({
            "peft_type": "LORA",
            "task_type": task_type(task),
            "base_model_name_or_path": self.base_model_name_or_path,
            "r": self.r,
            "lora_alpha": self.lora_alpha,
            "lora_dropout": self.lora_dropout,
            "target_modules": self.target_modules,
            "use_rslora": self.use_rslora,
            "modules_to_save": self.modules_to_save,
            "bias": "none",
            "fan_in_fan_out": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "use_dora": false,
            "lora_bias": false,
            "layers_to_transform": null,
            "layers_pattern": null,
            "rank_pattern": {},
            "alpha_pattern": {},
            "exclude_modules": null,
        })
    }

    /// Reads peft's `adapter_config.json`, refusing what Wick's LoRA does not do (DoRA,
    /// biases, per-layer ranks, regex targets, ...).
    pub fn from_peft_json(value: &Value, path: &Path) -> Result<Self> {
        let bad = |message: String| ModelError::Adapter {
            path: path.to_path_buf(),
            message,
        };
        let get = |key: &str| value.get(key).filter(|v| !v.is_null());
        if let Some(kind) = get("peft_type").and_then(Value::as_str)
            && kind != "LORA"
        {
            return Err(bad(format!("peft_type {kind:?} is not LORA")));
        }
        for (key, plain) in [
            ("use_dora", json!(false)),
            ("fan_in_fan_out", json!(false)),
            ("bias", json!("none")),
            ("lora_bias", json!(false)),
        ] {
            if let Some(v) = get(key)
                && *v != plain
            {
                return Err(bad(format!("{key} = {v} is not supported (only {plain})")));
            }
        }
        for key in [
            "rank_pattern",
            "alpha_pattern",
            "layers_to_transform",
            "exclude_modules",
            "target_parameters",
            "trainable_token_indices",
        ] {
            let empty = match get(key) {
                None => true,
                Some(Value::Object(m)) => m.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(_) => false,
            };
            if !empty {
                return Err(bad(format!("{key} is not supported")));
            }
        }
        let r = get("r")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no integer r".into()))? as usize;
        let lora_alpha = match get("lora_alpha") {
            None => 8.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(format!("lora_alpha {v} is not a number")))?,
        };
        let lora_dropout = match get("lora_dropout") {
            None => 0.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(format!("lora_dropout {v} is not a number")))?,
        };
        let strings = |key: &str| -> Result<Vec<String>> {
            match get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(format!("{key} holds {v}, not a name")))
                    })
                    .collect(),
                Some(Value::String(_)) => Err(bad(format!(
                    "{key} as a regular expression is not supported; list the module names"
                ))),
                Some(v) => Err(bad(format!("{key} is {v}, not a list of names"))),
            }
        };
        let target_modules = strings("target_modules")?;
        let mut modules_to_save = strings("modules_to_save")?;
        // PeftModelForSequenceClassification / TokenClassification add these on load.
        if matches!(
            get("task_type").and_then(Value::as_str),
            Some("SEQ_CLS" | "TOKEN_CLS")
        ) {
            for name in default_modules_to_save() {
                if !modules_to_save.contains(&name) {
                    modules_to_save.push(name);
                }
            }
        }
        let use_rslora = get("use_rslora").and_then(Value::as_bool).unwrap_or(false);
        let base_model_name_or_path = get("base_model_name_or_path")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Self {
            r,
            lora_alpha,
            lora_dropout,
            target_modules,
            use_rslora,
            modules_to_save,
            base_model_name_or_path,
        })
    }
}

impl Classifier {
    /// Writes the adapter in peft's layout into `dir` (each file atomically). An error when
    /// the model has no adapters.
    pub fn save_adapter(&self, dir: &Path) -> Result<()> {
        let Some(config) = self.lora() else {
            return Err(ModelError::Lora(
                "this model has no adapters to save".into(),
            ));
        };
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let tensors: Vec<_> = self
            .params()
            .iter()
            .map(|(name, var)| (format!("{PREFIX}{name}"), var.as_tensor().clone()))
            .collect();
        weights::write_safetensors(&dir.join(ADAPTER_WEIGHTS_FILE), &tensors)?;
        weights::write_json(
            &dir.join(ADAPTER_CONFIG_FILE),
            &config.to_peft_json(self.task()),
        )
    }

    /// This (plain) model with the peft adapter saved in `dir`: its settings from
    /// `adapter_config.json`, every trainable tensor from `adapter_model.safetensors`. The
    /// file must hold exactly the adapter's tensors, with their shapes.
    pub fn with_adapter(self, dir: &Path) -> Result<Self> {
        let config_path = dir.join(ADAPTER_CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path).map_err(|source| ModelError::Io {
            path: config_path.clone(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: config_path.clone(),
            source,
        })?;
        let config = LoraConfig::from_peft_json(&value, &config_path)?;
        let model = self.with_lora(&config, 0)?;
        model.load_adapter_weights(&dir.join(ADAPTER_WEIGHTS_FILE))?;
        Ok(model)
    }

    /// Sets every trainable tensor from a peft `adapter_model.safetensors`.
    pub fn load_adapter_weights(&self, path: &Path) -> Result<()> {
        let bad = |message: String| ModelError::Adapter {
            path: path.to_path_buf(),
            message,
        };
        let mut tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
            ModelError::Safetensors {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        let mut values = Vec::with_capacity(self.params().len());
        for (name, var) in self.params() {
            let key = format!("{PREFIX}{name}");
            let tensor = tensors
                .remove(&key)
                .ok_or_else(|| bad(format!("no tensor {key}")))?;
            let tensor = weights::checked_f32(&key, &tensor, var.dims())?;
            values.push(tensor.to_device(self.device())?.to_dtype(DType::F32)?);
        }
        let mut extra: Vec<_> = tensors.into_keys().collect();
        extra.sort();
        if let Some(first) = extra.first() {
            return Err(bad(format!(
                "tensor {first} is not a parameter of this adapter ({} unknown)",
                extra.len()
            )));
        }
        for ((_, var), value) in self.params().iter().zip(values) {
            var.set(&value)?;
        }
        Ok(())
    }
}
