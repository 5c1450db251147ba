//! Gradients aligned with `Classifier::params()`: accumulation and torch-style clipping. The
//! clip coefficient is kept as a pending factor that the optimizer applies as it reads each
//! gradient (the same f32 product torch's in-place `mul_` makes), which saves a pass that
//! would rewrite every gradient.

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};

use super::optim_error::OptimError;

/// One gradient per parameter, in the order of the parameter list it was built from.
#[derive(Debug, Clone)]
pub struct Gradients {
    grads: Vec<Tensor>,
    /// What every gradient is still to be multiplied by: 1, or the clip coefficient.
    pending_scale: f32,
}

impl Gradients {
    /// Picks each parameter's gradient out of a backward pass. Every parameter must have one:
    /// a missing gradient means the graph was cut somewhere, which must not go unnoticed.
    pub fn from_store(params: &[(String, Var)], store: &GradStore) -> Result<Self, OptimError> {
        let grads = params
            .iter()
            .map(|(name, var)| {
                store
                    .get(var.as_tensor())
                    // Detached so the backward graph can be freed.
                    .map(|g| g.detach())
                    .ok_or_else(|| OptimError::MissingGradient(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            grads,
            pending_scale: 1.0,
        })
    }

    /// The gradients before the pending scale (see [`Gradients::pending_scale`]).
    pub fn as_slice(&self) -> &[Tensor] {
        &self.grads
    }

    /// The factor the optimizer multiplies each gradient by as it reads it: 1, or the clip
    /// coefficient once [`Gradients::clip`] clipped.
    pub fn pending_scale(&self) -> f32 {
        self.pending_scale
    }

    /// Applies the pending scale to the tensors themselves.
    fn settle(&mut self) -> Result<(), OptimError> {
        if self.pending_scale != 1.0 {
            let factor = self.pending_scale as f64;
            self.pending_scale = 1.0;
            self.scale(factor)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.grads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// Adds `other` element-wise (gradient accumulation over micro-batches).
    pub fn accumulate(&mut self, other: &Gradients) -> Result<(), OptimError> {
        let mut other = other.clone();
        other.settle()?;
        self.settle()?;
        if self.grads.len() != other.grads.len() {
            return Err(OptimError::Mismatch(format!(
                "{} gradients vs {}",
                self.grads.len(),
                other.grads.len()
            )));
        }
        for (i, (mine, theirs)) in self.grads.iter_mut().zip(&other.grads).enumerate() {
            if mine.dims() != theirs.dims() {
                return Err(OptimError::Mismatch(format!(
                    "gradient {i} has shape {:?} vs {:?}",
                    mine.dims(),
                    theirs.dims()
                )));
            }
            *mine = (&*mine + theirs)?;
        }
        Ok(())
    }

    /// Multiplies every gradient by `factor` (e.g. 1/accumulation steps).
    pub fn scale(&mut self, factor: f64) -> Result<(), OptimError> {
        for g in &mut self.grads {
            *g = (&*g * factor)?;
        }
        Ok(())
    }

    /// L2 norm over all gradients together (with the pending scale).
    pub fn global_norm(&self) -> Result<f64, OptimError> {
        let mut sum = 0.0f64;
        // Off the CPU the per-tensor sums stay on the device and are read back once.
        let mut device_sum: Option<Tensor> = None;
        for g in &self.grads {
            if let Some(sq) = cpu_sum_of_squares(g) {
                sum += sq as f64;
                continue;
            }
            let sq = g.to_dtype(DType::F32)?.sqr()?.sum_all()?;
            if g.device().is_cpu() {
                sum += sq.to_scalar::<f32>()? as f64;
                continue;
            }
            device_sum = Some(match device_sum {
                Some(acc) => (acc + sq)?,
                None => sq,
            });
        }
        if let Some(acc) = device_sum {
            sum += acc.to_scalar::<f32>()? as f64;
        }
        Ok(sum.sqrt() * self.pending_scale as f64)
    }

    /// torch `clip_grad_norm_`: scale by `max_norm / (norm + 1e-6)` when that is below 1 (as
    /// the pending scale; once per step, as torch clips: a second clip would multiply two
    /// rounded coefficients).
    /// Returns the norm before clipping. A non-finite norm is an error (torch would NaN
    /// every parameter).
    pub fn clip(&mut self, max_norm: f64) -> Result<f64, OptimError> {
        let norm = self.global_norm()?;
        if !norm.is_finite() {
            return Err(OptimError::NonFinite(norm));
        }
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            // torch multiplies in f32 by the coefficient rounded to f32; so does the optimizer.
            self.pending_scale *= coef as f32;
        }
        Ok(norm)
    }
}

/// Sum of squares of a contiguous f32 CPU tensor read straight from its storage (no temporary
/// tensors), with candle's f32 accumulation replaced by fixed-size f64 partial sums added in
/// order, so the result does not depend on thread scheduling.
fn cpu_sum_of_squares(g: &Tensor) -> Option<f32> {
    use rayon::prelude::*;
    if !g.device().is_cpu() || g.dtype() != DType::F32 {
        return None;
    }
    let (storage, layout) = g.storage_and_layout();
    let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(data)) = &*storage else {
        return None;
    };
    let (a, b) = layout.contiguous_offsets()?;
    let partials: Vec<f64> = data[a..b]
        .par_chunks(1 << 14)
        .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
        .collect();
    Some(partials.iter().sum::<f64>() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn params() -> Vec<(String, Var)> {
        vec![
            ("a".into(), Var::new(&[1.0f32, 2.0], &Device::Cpu).unwrap()),
            ("b".into(), Var::new(&[3.0f32], &Device::Cpu).unwrap()),
        ]
    }

    fn grads_of(p: &[(String, Var)], k: f64) -> Gradients {
        let loss = ((p[0].1.as_tensor().sqr().unwrap().sum_all().unwrap()
            + p[1].1.as_tensor().sum_all().unwrap())
        .unwrap()
            * k)
            .unwrap();
        Gradients::from_store(p, &loss.backward().unwrap()).unwrap()
    }

    #[test]
    fn accumulate_norm_and_clip() {
        let p = params();
        let mut g = grads_of(&p, 1.0); // a: [2, 4], b: [1]
        g.accumulate(&grads_of(&p, 2.0)).unwrap(); // a: [6, 12], b: [3]
        assert_eq!(g.as_slice()[0].to_vec1::<f32>().unwrap(), vec![6.0, 12.0]);
        let norm = g.global_norm().unwrap();
        assert!((norm - (36.0f64 + 144.0 + 9.0).sqrt()).abs() < 1e-5);
        let pre = g.clip(1.0).unwrap();
        assert_eq!(pre, norm);
        assert!((g.global_norm().unwrap() - 1.0).abs() < 1e-5);
        assert!((g.pending_scale() as f64 - 1.0 / norm).abs() < 1e-6);
        // Accumulating settles the pending scale into the tensors.
        let mut settled = g.clone();
        settled.accumulate(&grads_of(&p, 1.0)).unwrap(); // + [2, 4], [1]
        assert_eq!(settled.pending_scale(), 1.0);
        let a = settled.as_slice()[0].to_vec1::<f32>().unwrap();
        assert!((a[0] as f64 - (6.0 / norm + 2.0)).abs() < 1e-6, "{a:?}");
        // Already below the limit: untouched.
        let before = g.as_slice()[0].to_vec1::<f32>().unwrap();
        g.clip(10.0).unwrap();
        assert_eq!(g.as_slice()[0].to_vec1::<f32>().unwrap(), before);
    }

    #[test]
    fn missing_gradient_is_an_error() {
        let p = params();
        let loss = p[0].1.as_tensor().sum_all().unwrap();
        let err = Gradients::from_store(&p, &loss.backward().unwrap()).unwrap_err();
        assert!(err.to_string().contains('b'), "{err}");
    }
}
