//! AdamW as `torch.optim.AdamW` with the HF Trainer's parameter groups (no weight decay for
//! biases and LayerNorm weights), with state save/restore for bit-identical resumption.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use rayon::prelude::*;

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

/// Per-parameter state. Moments live on the host as f32: the update is one fused pass over
/// host memory (candle would need ~10 full-size tensor passes per parameter), and the exact
/// float operation order of torch is explicit.
#[derive(Debug)]
struct Slot {
    name: String,
    var: Var,
    decay: bool,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
}

#[derive(Debug)]
pub struct AdamW {
    slots: Vec<Slot>,
    config: AdamWConfig,
    step: u64,
}

const STEP_KEY: &str = "step";

/// Scalars of one step, rounded to f32 where torch's f32 kernels round them.
#[derive(Clone, Copy)]
struct StepScalars {
    decay_factor: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
    neg_step_size: f32,
}

/// torch single-tensor AdamW on one element:
/// `p *= 1 - lr*wd; m.lerp_(g, 1-b1); v = v*b2 + (1-b2)*g*g;`
/// `p += -lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)`.
#[inline]
fn update(p: &mut f32, m: &mut f32, v: &mut f32, g: f32, s: StepScalars, decay: bool) {
    if decay {
        *p *= s.decay_factor;
    }
    *m += s.one_minus_beta1 * (g - *m);
    *v = *v * s.beta2 + s.one_minus_beta2 * g * g;
    let denom = v.sqrt() / s.bias_correction2_sqrt + s.eps;
    *p += s.neg_step_size * (*m / denom);
}

const CHUNK: usize = 1 << 14;

/// The update over whole buffers. Element-wise, so splitting across threads cannot change
/// the result.
fn update_all(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], s: StepScalars, decay: bool) {
    p.par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, m), v), g)| {
            for i in 0..p.len() {
                update(&mut p[i], &mut m[i], &mut v[i], g[i], s, decay);
            }
        });
}

/// The AdamW update applied to a CPU parameter's storage in place.
struct InPlaceUpdate<'a> {
    moments: std::cell::RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
    scalars: StepScalars,
    decay: bool,
}

impl candle_core::InplaceOp2 for InPlaceUpdate<'_> {
    fn name(&self) -> &'static str {
        "wick-adamw"
    }

    fn cpu_fwd(
        &self,
        dst: &mut candle_core::CpuStorage,
        dst_l: &candle_core::Layout,
        src: &candle_core::CpuStorage,
        src_l: &candle_core::Layout,
    ) -> candle_core::Result<()> {
        let (candle_core::CpuStorage::F32(p), candle_core::CpuStorage::F32(g)) = (dst, src) else {
            candle_core::bail!("adamw: f32 parameters and gradients only");
        };
        let (Some((p0, p1)), Some((g0, g1))) =
            (dst_l.contiguous_offsets(), src_l.contiguous_offsets())
        else {
            candle_core::bail!("adamw: contiguous parameters and gradients only");
        };
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        if p1 - p0 != m.len() || g1 - g0 != m.len() {
            candle_core::bail!("adamw: size mismatch");
        }
        update_all(&mut p[p0..p1], m, v, &g[g0..g1], self.scalars, self.decay);
        Ok(())
    }
}

impl AdamW {
    /// `params` in the same order as the gradients that `step` will receive.
    pub fn new(params: &[(String, Var)], config: AdamWConfig) -> Result<Self, OptimError> {
        let slots = params
            .iter()
            .map(|(name, var)| Slot {
                name: name.clone(),
                var: var.clone(),
                decay: uses_weight_decay(name),
                exp_avg: vec![0.0; var.elem_count()],
                exp_avg_sq: vec![0.0; var.elem_count()],
            })
            .collect();
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

    /// One update with learning rate `lr`, with the operation order of torch's single-tensor
    /// AdamW: decoupled decay, moments, bias-corrected step.
    pub fn step(&mut self, grads: &Gradients, lr: f64) -> Result<(), OptimError> {
        if grads.len() != self.slots.len() {
            return Err(OptimError::Mismatch(format!(
                "{} gradients for {} parameters",
                grads.len(),
                self.slots.len()
            )));
        }
        for (slot, grad) in self.slots.iter().zip(grads.as_slice()) {
            if grad.dims() != slot.var.dims() {
                return Err(OptimError::Mismatch(format!(
                    "gradient for {} has shape {:?}, parameter has {:?}",
                    slot.name,
                    grad.dims(),
                    slot.var.dims()
                )));
            }
        }
        let c = self.config;
        let step = self.step + 1;
        // torch computes these in Python floats (f64) and hands them to f32 kernels.
        let bias_correction1 = 1.0 - c.beta1.powf(step as f64);
        let bias_correction2 = 1.0 - c.beta2.powf(step as f64);
        let scalars = StepScalars {
            decay_factor: (1.0 - lr * c.weight_decay) as f32,
            one_minus_beta1: (1.0 - c.beta1) as f32,
            beta2: c.beta2 as f32,
            one_minus_beta2: (1.0 - c.beta2) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            eps: c.eps as f32,
            neg_step_size: (-lr / bias_correction1) as f32,
        };
        for (slot, grad) in self.slots.iter_mut().zip(grads.as_slice()) {
            let decay = slot.decay && c.weight_decay != 0.0;
            let var = slot.var.as_tensor();
            if var.device().is_cpu() && var.dtype() == DType::F32 && var.is_contiguous() {
                // In place on the parameter's own buffer: no copies, no allocation.
                let grad = grad.to_dtype(DType::F32)?.contiguous()?;
                let op = InPlaceUpdate {
                    moments: std::cell::RefCell::new((&mut slot.exp_avg, &mut slot.exp_avg_sq)),
                    scalars,
                    decay,
                };
                var.inplace_op2(&grad, &op)?;
                continue;
            }
            let g: Vec<f32> = grad.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let mut p: Vec<f32> = slot.var.as_tensor().flatten_all()?.to_vec1()?;
            update_all(
                &mut p,
                &mut slot.exp_avg,
                &mut slot.exp_avg_sq,
                &g,
                scalars,
                decay,
            );
            let shape = slot.var.shape().clone();
            slot.var
                .set(&Tensor::from_vec(p, shape, slot.var.device())?)?;
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
            let shape = slot.var.shape().clone();
            for (kind, values) in [("exp_avg", &slot.exp_avg), ("exp_avg_sq", &slot.exp_avg_sq)] {
                let t = Tensor::from_slice(values, shape.clone(), &Device::Cpu)?;
                tensors.push((format!("{kind}.{}", slot.name), t));
            }
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
    /// model by accident. On error the optimizer is unchanged.
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
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| file_error(e.to_string()))?;
        let mut restored = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut take = |kind: &str| -> Result<Vec<f32>, OptimError> {
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
                Ok(t.flatten_all()?.to_vec1()?)
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
