//! Dropout with masks drawn on the host from a seeded ChaCha stream.
//!
//! Candle's device RNG cannot be seeded per step, so resumed training would not replay the same
//! masks. Here each optimizer step gets its own stream `(seed, step)`: a resumed run recreates
//! the exact masks of the step it resumes at.

use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::Result;
use super::fused;

/// Fills `keep` with a dropout mask (1 = kept, 0 = dropped with probability `p`) from stream
/// `stream` of `seed`: fused kernels draw each chunk or block from its own stream, so their
/// masks do not depend on how the work is spread over threads.
pub(crate) fn draw_keep_mask(p: f32, seed: u64, stream: u64, keep: &mut [u8]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    for kept in keep {
        *kept = (rng.random::<f32>() >= p) as u8;
    }
}

/// What kept elements are multiplied by: `1 / (1 - p)`, or 0 when everything is dropped.
pub(crate) fn keep_scale(p: f32) -> f32 {
    if p >= 1.0 { 0.0 } else { 1.0 / (1.0 - p) }
}

/// Dropout for a kernel that draws its own masks (fused attention, dropout + residual): zero each element with
/// chance `p` (HF semantics, kept ones scaled by `1 / (1 - p)`), masks drawn from `seed` with
/// [`draw_keep_mask`], one stream per block of the kernel's work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropoutDraw {
    pub p: f32,
    pub seed: u64,
}

/// Either off (evaluation) or on with a deterministic mask stream.
#[derive(Debug, Clone)]
pub struct Dropout {
    rng: Option<ChaCha8Rng>,
    /// Whether the GPU generator has been seeded from `rng` for this step.
    device_seeded: bool,
}

impl Dropout {
    /// Evaluation mode: every dropout is the identity.
    pub fn off() -> Self {
        Self {
            rng: None,
            device_seeded: false,
        }
    }

    /// Training mode for one optimizer step; the same `(seed, step)` gives the same masks.
    /// Use one value for all micro-batches of a step (in order), or one per micro-batch with
    /// a distinct `step` index; either way a resumed run can rebuild it.
    pub fn train(seed: u64, step: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(step);
        Self {
            rng: Some(rng),
            device_seeded: false,
        }
    }

    /// A stream of its own drawn from this one (off when this is off): the same
    /// `(seed, step)` forks the same stream, so masks drawn from it replay on resume.
    pub fn fork(&mut self) -> Self {
        match self.rng.as_mut() {
            Some(rng) => Self::train(rng.random::<u64>(), 0),
            None => Self::off(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.rng.is_some()
    }

    /// For a kernel that draws its own masks (fused attention, dropout + residual): the
    /// probability and a seed
    /// from this stream, or `None` when this is off or `p` is zero.
    pub(crate) fn kernel_draw(&mut self, p: f64) -> Option<DropoutDraw> {
        let rng = self.rng.as_mut()?;
        (p > 0.0).then(|| DropoutDraw {
            p: p as f32,
            seed: rng.random::<u64>(),
        })
    }

    /// A residual connection: `dropout(xs)` cast to `residual`'s dtype, plus `residual`. On
    /// the CPU in f32 one fused kernel draws the mask in parallel and adds.
    pub fn apply_add(&mut self, xs: &Tensor, residual: &Tensor, p: f64) -> Result<Tensor> {
        if fused::usable(xs)
            && residual.dtype() == DType::F32
            && let Some(draw) = self.kernel_draw(p)
        {
            return Ok(fused::dropout_add(xs, residual, draw)?);
        }
        Ok((self.apply(xs, p)?.to_dtype(residual.dtype())? + residual)?)
    }

    /// HF/torch semantics: zero each element with probability `p`, scale kept ones by 1/(1-p).
    pub fn apply(&mut self, xs: &Tensor, p: f64) -> Result<Tensor> {
        let Some(rng) = self.rng.as_mut() else {
            return Ok(xs.clone());
        };
        if p <= 0.0 {
            return Ok(xs.clone());
        }
        let scale = if p >= 1.0 {
            0.0
        } else {
            (1.0 / (1.0 - p)) as f32
        };
        let p = p as f32;
        if !xs.device().is_cpu() {
            if !self.device_seeded {
                xs.device().set_seed(rng.random::<u64>())?;
                self.device_seeded = true;
            }
            return gpu_apply(xs, p, scale);
        }
        let mask: Vec<f32> = (0..xs.elem_count())
            .map(|_| if rng.random::<f32>() < p { 0.0 } else { scale })
            .collect();
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        Ok(xs.mul(&mask)?)
    }
}

/// On a GPU the masks are drawn on the device: host masks would cost a full-size upload per
/// dropout. The device generator is seeded from this step's stream at the step's first draw,
/// so a resumed run on the same GPU replays the same masks (they differ from the CPU's).
fn gpu_apply(xs: &Tensor, p: f32, scale: f32) -> Result<Tensor> {
    let uniform = Tensor::rand(0f32, 1f32, xs.shape(), xs.device())?;
    let keep = uniform.ge(p as f64)?.to_dtype(xs.dtype())?;
    Ok(xs.mul(&(keep * scale as f64)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn off_is_identity_and_on_is_seeded() {
        let x = Tensor::ones((64, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
        let off = Dropout::off().apply(&x, 0.5).unwrap();
        assert_eq!(off.to_vec2::<f32>().unwrap(), x.to_vec2::<f32>().unwrap());

        let a = Dropout::train(7, 3)
            .apply(&x, 0.25)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let b = Dropout::train(7, 3)
            .apply(&x, 0.25)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let c = Dropout::train(7, 4)
            .apply(&x, 0.25)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let flat: Vec<f32> = a.into_iter().flatten().collect();
        let dropped = flat.iter().filter(|v| **v == 0.0).count() as f64 / flat.len() as f64;
        assert!((dropped - 0.25).abs() < 0.03, "dropped fraction {dropped}");
        assert!(
            flat.iter()
                .all(|v| *v == 0.0 || (*v - 1.0 / 0.75).abs() < 1e-6)
        );
    }
}
