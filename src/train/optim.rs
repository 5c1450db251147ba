//! AdamW as `torch.optim.AdamW` with the HF Trainer's parameter groups (no weight decay for
//! biases and LayerNorm weights), with state save/restore for bit-identical resumption.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use super::error::OptimError;
use super::grads::Gradients;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// HF `TrainingArguments` defaults.
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// HF Trainer leaves biases and normalisation weights out of weight decay.
pub fn uses_weight_decay(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("bias") || lower.contains("layernorm") || lower.contains("layer_norm") {
        return false;
    }
    !lower
        .split('.')
        .any(|part| part == "ln" || part.starts_with("ln_") || part.ends_with("_ln"))
}

#[derive(Debug)]
struct Slot {
    name: String,
    var: Var,
    decay: bool,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

#[derive(Debug)]
pub struct AdamW {
    slots: Vec<Slot>,
    config: AdamWConfig,
    step: u64,
}

const STEP_KEY: &str = "step";

impl AdamW {
    /// `params` in the same order as the gradients that `step` will receive.
    pub fn new(params: &[(String, Var)], config: AdamWConfig) -> Result<Self, OptimError> {
        let slots = params
            .iter()
            .map(|(name, var)| {
                let zeros = Tensor::zeros(var.shape(), DType::F32, var.device())?;
                Ok(Slot {
                    name: name.clone(),
                    var: var.clone(),
                    decay: uses_weight_decay(name),
                    exp_avg: zeros.clone(),
                    exp_avg_sq: zeros,
                })
            })
            .collect::<Result<Vec<_>, OptimError>>()?;
        Ok(Self {
            slots,
            config,
            step: 0,
        })
    }

    /// Number of steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// One update with learning rate `lr`, in the operation order of torch's single-tensor
    /// AdamW: decay, moments, bias-corrected step.
    pub fn step(&mut self, grads: &Gradients, lr: f64) -> Result<(), OptimError> {
        if grads.len() != self.slots.len() {
            return Err(OptimError::Mismatch(format!(
                "{} gradients for {} parameters",
                grads.len(),
                self.slots.len()
            )));
        }
        let c = self.config;
        let step = self.step + 1;
        let bias_correction1 = 1.0 - c.beta1.powi(step as i32);
        let bias_correction2_sqrt = (1.0 - c.beta2.powi(step as i32)).sqrt();
        let step_size = lr / bias_correction1;
        for (slot, grad) in self.slots.iter_mut().zip(grads.as_slice()) {
            if grad.dims() != slot.var.dims() {
                return Err(OptimError::Mismatch(format!(
                    "gradient for {} has shape {:?}, parameter has {:?}",
                    slot.name,
                    grad.dims(),
                    slot.var.dims()
                )));
            }
            let grad = grad.to_dtype(DType::F32)?;
            let mut param = slot.var.as_tensor().detach();
            if slot.decay && c.weight_decay != 0.0 {
                param = (param * (1.0 - lr * c.weight_decay))?;
            }
            // exp_avg.lerp_(grad, 1 - beta1)
            slot.exp_avg = (&slot.exp_avg + ((&grad - &slot.exp_avg)? * (1.0 - c.beta1))?)?;
            slot.exp_avg_sq = ((&slot.exp_avg_sq * c.beta2)? + (grad.sqr()? * (1.0 - c.beta2))?)?;
            let denom = ((slot.exp_avg_sq.sqrt()? / bias_correction2_sqrt)? + c.eps)?;
            let update = (slot.exp_avg.div(&denom)? * step_size)?;
            slot.var.set(&(param - update)?)?;
        }
        self.step = step;
        Ok(())
    }

    /// Writes the step count and both moments of every parameter (by name) to a safetensors
    /// file, through a temporary file and a rename.
    pub fn save_state(&self, path: &Path) -> Result<(), OptimError> {
        let file_error = |e: String| OptimError::StateFile {
            path: path.to_path_buf(),
            message: e,
        };
        let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.slots.len());
        for slot in &self.slots {
            tensors.push((
                format!("exp_avg.{}", slot.name),
                slot.exp_avg.to_device(&Device::Cpu)?,
            ));
            tensors.push((
                format!("exp_avg_sq.{}", slot.name),
                slot.exp_avg_sq.to_device(&Device::Cpu)?,
            ));
        }
        let metadata = HashMap::from([(STEP_KEY.to_string(), self.step.to_string())]);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        safetensors::serialize_to_file(
            tensors.iter().map(|(n, t)| (n.as_str(), t)),
            Some(metadata),
            &tmp,
        )
        .map_err(|e| file_error(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            file_error(e.to_string())
        })
    }

    /// Restores what `save_state` wrote. Every parameter must have both moments with its
    /// shape, and the file must hold nothing else, so a state cannot be applied to another
    /// model by accident.
    pub fn load_state(&mut self, path: &Path) -> Result<(), OptimError> {
        let file_error = |e: String| OptimError::StateFile {
            path: path.to_path_buf(),
            message: e,
        };
        let mismatch = |e: String| OptimError::StateMismatch {
            path: path.to_path_buf(),
            message: e,
        };
        let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| file_error(e.to_string()))?;
        let step: u64 = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(STEP_KEY))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| file_error("no step count in the metadata".into()))?;
        let device = self
            .slots
            .first()
            .map(|s| s.var.device().clone())
            .unwrap_or(Device::Cpu);
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &device)
            .map_err(|e| file_error(e.to_string()))?;
        let mut restored = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut take = |kind: &str| -> Result<Tensor, OptimError> {
                let key = format!("{kind}.{}", slot.name);
                let t = tensors
                    .remove(&key)
                    .ok_or_else(|| mismatch(format!("no tensor {key}")))?;
                if t.dims() != slot.var.dims() || t.dtype() != DType::F32 {
                    return Err(mismatch(format!(
                        "{key} is {:?} {:?}, parameter is F32 {:?}",
                        t.dtype(),
                        t.dims(),
                        slot.var.dims()
                    )));
                }
                Ok(t)
            };
            restored.push((take("exp_avg")?, take("exp_avg_sq")?));
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(mismatch(format!("unknown tensor {extra}")));
        }
        for (slot, (m, v)) in self.slots.iter_mut().zip(restored) {
            slot.exp_avg = m;
            slot.exp_avg_sq = v;
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_groups_follow_hf() {
        for name in [
            "bert.embeddings.LayerNorm.weight",
            "classifier.bias",
            "distilbert.transformer.layer.0.sa_layer_norm.weight",
            "distilbert.transformer.layer.0.output_layer_norm.weight",
            "h.0.ln_1.weight",
        ] {
            assert!(!uses_weight_decay(name), "{name}");
        }
        for name in [
            "bert.embeddings.word_embeddings.weight",
            "classifier.weight",
            "distilbert.transformer.layer.0.ffn.lin1.weight",
            "distilbert.transformer.layer.0.attention.q_lin.weight",
        ] {
            assert!(uses_weight_decay(name), "{name}");
        }
    }

    #[test]
    fn first_step_matches_hand_computation() {
        // After one step, m = 0.1 g, v = 0.001 g^2, so the update is lr * g / (|g| + eps')
        // with eps' = eps * sqrt(0.001) / 0.1 scaled back; checked against the closed form.
        let w = Var::new(&[0.5f32, -0.25], &Device::Cpu).unwrap();
        let params = vec![("w".to_string(), w.clone())];
        let loss = (w.as_tensor() * 3.0).unwrap().sum_all().unwrap();
        let grads = Gradients::from_store(&params, &loss.backward().unwrap()).unwrap();
        let config = AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(&params, config).unwrap();
        opt.step(&grads, 0.01).unwrap();
        let got = w.to_vec1::<f32>().unwrap();
        for (p0, p1) in [0.5f64, -0.25].iter().zip(got) {
            let g = 3.0f64;
            let decayed = p0 * (1.0 - 0.01 * 0.1);
            let m = 0.1 * g;
            let v = 0.001 * g * g;
            let denom = (v.sqrt() / (1.0f64 - 0.999).sqrt()) + 1e-8;
            let want = decayed - (0.01 / 0.1) * m / denom;
            assert!((p1 as f64 - want).abs() < 1e-6, "{p1} vs {want}");
        }
        assert_eq!(opt.step_count(), 1);
    }
}
