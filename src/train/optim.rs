//! AdamW as `torch.optim.AdamW` with the HF Trainer's parameter groups (no weight decay for
//! biases and LayerNorm weights), with state save/restore for bit-identical resumption.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use rayon::prelude::*;

use super::grads::Gradients;
use super::optim_error::OptimError;

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
        // ModernBERT's LayerNorms: `norm`, `attn_norm`, `mlp_norm`, `final_norm`.
        && !lower.split('.').any(|part| part == "norm" || part.ends_with("_norm"))
}

/// Per-parameter state. For CPU parameters the moments live on the host as f32: the update is
/// one fused pass over host memory (candle would need ~10 full-size tensor passes per
/// parameter), and the exact float operation order of torch is explicit. For GPU parameters
/// they stay on the device (`device_moments`) and the update is made of tensor ops, so a
/// step never copies parameters or gradients to the host.
#[derive(Debug)]
struct Slot {
    name: String,
    var: Var,
    decay: bool,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    /// `(exp_avg, exp_avg_sq)` on the parameter's device, instead of the host vectors.
    device_moments: Option<(Tensor, Tensor)>,
}

impl Slot {
    fn new(name: &str, var: &Var, on_device: bool) -> Result<Self, OptimError> {
        let device_moments = if on_device {
            let zeros = || Tensor::zeros(var.shape(), DType::F32, var.device());
            Some((zeros()?, zeros()?))
        } else {
            None
        };
        let host_len = if on_device { 0 } else { var.elem_count() };
        Ok(Self {
            name: name.to_string(),
            var: var.clone(),
            decay: uses_weight_decay(name),
            exp_avg: vec![0.0; host_len],
            exp_avg_sq: vec![0.0; host_len],
            device_moments,
        })
    }

    /// The moments as host vectors, wherever they live.
    fn host_moments(&self) -> Result<(Vec<f32>, Vec<f32>), OptimError> {
        Ok(match &self.device_moments {
            Some((m, v)) => (m.flatten_all()?.to_vec1()?, v.flatten_all()?.to_vec1()?),
            None => (self.exp_avg.clone(), self.exp_avg_sq.clone()),
        })
    }

    fn set_host_moments(&mut self, m: Vec<f32>, v: Vec<f32>) -> Result<(), OptimError> {
        if self.device_moments.is_some() {
            let shape = self.var.shape().clone();
            let device = self.var.device();
            self.device_moments = Some((
                Tensor::from_vec(m, shape.clone(), device)?,
                Tensor::from_vec(v, shape, device)?,
            ));
        } else {
            self.exp_avg = m;
            self.exp_avg_sq = v;
        }
        Ok(())
    }

    /// The update as tensor ops on the parameter's device, in torch's order.
    fn device_step(
        &mut self,
        grad: &Tensor,
        s: StepScalars,
        decay: bool,
    ) -> Result<(), OptimError> {
        let Some((m, v)) = self.device_moments.as_mut() else {
            return Err(OptimError::Mismatch(format!(
                "{}: no device moments",
                self.name
            )));
        };
        let mut g = grad.to_dtype(DType::F32)?;
        if s.grad_scale != 1.0 {
            g = g.affine(s.grad_scale as f64, 0.0)?;
        }
        let mut p = self.var.as_tensor().detach();
        if decay {
            p = p.affine(s.decay_factor as f64, 0.0)?;
        }
        // m.lerp_(g, 1 - b1) = m + (1 - b1) * (g - m)
        *m = (&*m + (g.sub(m)? * s.one_minus_beta1 as f64)?)?;
        *v = ((&*v * s.beta2 as f64)? + (g.sqr()? * s.one_minus_beta2 as f64)?)?;
        let denom = v
            .sqrt()?
            .affine(1.0 / s.bias_correction2_sqrt as f64, s.eps as f64)?;
        let p = (p + (m.div(&denom)? * s.neg_step_size as f64)?)?;
        self.var.set(&p)?;
        Ok(())
    }
}

/// Test hook: keep moments as device tensors even for CPU parameters.
#[cfg(test)]
static FORCE_DEVICE_MOMENTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn moments_on_device(var: &Var) -> bool {
    #[cfg(test)]
    if FORCE_DEVICE_MOMENTS.load(std::sync::atomic::Ordering::Relaxed) {
        return true;
    }
    !var.device().is_cpu()
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
    /// The gradients' pending clip coefficient (`Gradients::pending_scale`).
    grad_scale: f32,
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
    // clip_grad_norm_'s `g.mul_(clip_coef)`, folded in (a product by 1 changes nothing).
    let g = g * s.grad_scale;
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
            .map(|(name, var)| Slot::new(name, var, moments_on_device(var)))
            .collect::<Result<Vec<_>, _>>()?;
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
            grad_scale: grads.pending_scale(),
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
            if slot.device_moments.is_some() {
                slot.device_step(grad, scalars, decay)?;
                continue;
            }
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
            let (m, v) = slot.host_moments()?;
            for (kind, values) in [("exp_avg", &m), ("exp_avg_sq", &v)] {
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
            slot.set_host_moments(m, v)?;
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
            "model.layers.1.attn_norm.weight",
            "model.final_norm.weight",
            "head.norm.weight",
        ] {
            assert!(!uses_weight_decay(name), "{name}");
        }
        for name in [
            "bert.embeddings.word_embeddings.weight",
            "classifier.weight",
            "distilbert.transformer.layer.0.ffn.lin1.weight",
            "distilbert.transformer.layer.0.attention.q_lin.weight",
            "model.layers.0.attn.Wqkv.weight",
            "head.dense.weight",
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

    /// The GPU path (moments as device tensors, tensor-op update) against the fused host
    /// path, on the CPU: same parameters after three steps with weight decay, and the same
    /// saved state.
    #[test]
    fn a_pending_clip_scale_updates_as_gradients_scaled_beforehand() {
        // In place on the host and with device moments: clipping's pending factor, applied as
        // the update reads each gradient, gives the same bits as gradients scaled first.
        let _hook = HOOK.lock().unwrap_or_else(|e| e.into_inner());
        for on_device in [false, true] {
            let run = |pending: bool| -> Vec<f32> {
                FORCE_DEVICE_MOMENTS.store(on_device, std::sync::atomic::Ordering::Relaxed);
                let w = Var::new(&[[0.5f32, -0.25, 2.0], [1e-3, -4.0, 0.0]], &Device::Cpu).unwrap();
                let params = vec![("layer.weight".to_string(), w.clone())];
                let mut opt = AdamW::new(&params, AdamWConfig::default()).unwrap();
                FORCE_DEVICE_MOMENTS.store(false, std::sync::atomic::Ordering::Relaxed);
                assert_eq!(opt.slots[0].device_moments.is_some(), on_device);
                for step in 0..3 {
                    let loss = (w.as_tensor().powf(3.0).unwrap() * (step as f64 + 1.0))
                        .unwrap()
                        .sum_all()
                        .unwrap();
                    let mut grads =
                        Gradients::from_store(&params, &loss.backward().unwrap()).unwrap();
                    let mut clipped = grads.clone();
                    clipped.clip(0.5).unwrap();
                    let coef = clipped.pending_scale();
                    assert!(coef < 1.0);
                    if pending {
                        grads = clipped;
                    } else {
                        grads.scale(coef as f64).unwrap();
                    }
                    opt.step(&grads, 1e-2).unwrap();
                }
                w.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            };
            assert_eq!(run(true), run(false), "device moments: {on_device}");
        }
    }

    /// Serializes the tests that set `FORCE_DEVICE_MOMENTS` (tests run in parallel).
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn device_moments_match_the_host_update() {
        let _hook = HOOK.lock().unwrap_or_else(|e| e.into_inner());
        let run = |on_device: bool, dir: &Path| -> (Vec<f32>, Vec<u8>) {
            FORCE_DEVICE_MOMENTS.store(on_device, std::sync::atomic::Ordering::Relaxed);
            let w = Var::new(&[[0.5f32, -0.25, 2.0], [1e-3, -4.0, 0.0]], &Device::Cpu).unwrap();
            let params = vec![("layer.weight".to_string(), w.clone())];
            let config = AdamWConfig {
                weight_decay: 0.01,
                ..AdamWConfig::default()
            };
            let mut opt = AdamW::new(&params, config).unwrap();
            FORCE_DEVICE_MOMENTS.store(false, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(opt.slots[0].device_moments.is_some(), on_device);
            for step in 0..3 {
                let loss = (w.as_tensor().sqr().unwrap() * (step as f64 + 1.0))
                    .unwrap()
                    .sum_all()
                    .unwrap();
                let grads = Gradients::from_store(&params, &loss.backward().unwrap()).unwrap();
                opt.step(&grads, 1e-2).unwrap();
            }
            let path = dir.join(format!("state-{on_device}.safetensors"));
            opt.save_state(&path).unwrap();
            // Loading back into a fresh optimizer of the same kind round-trips.
            let mut again = AdamW::new(&params, config).unwrap();
            again.load_state(&path).unwrap();
            assert_eq!(again.step_count(), 3);
            let flat = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (flat, std::fs::read(&path).unwrap())
        };
        let dir = tempfile::tempdir().unwrap();
        let (host, host_state) = run(false, dir.path());
        let (device, device_state) = run(true, dir.path());
        for (a, b) in host.iter().zip(&device) {
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                "{host:?} vs {device:?}"
            );
        }
        assert_eq!(host_state.len(), device_state.len());
    }
}
