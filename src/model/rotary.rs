//! Rotary position embeddings (RoPE, the "rotate half" layout of HF's `apply_rotary_pos_emb`),
//! made of differentiable ops: candle's fused `rope` has no backward, so queries and keys
//! would get no gradient through it. The cos/sin tables are constants.

use candle_core::{D, DType, Device, Tensor};

use super::error::{ModelError, Result};

/// cos and sin of `position * inv_freq`, each `[seq, head_dim]` f32 (the half-size table
/// repeated twice, HF's `cat((freqs, freqs), -1)`).
#[derive(Debug, Clone)]
pub(crate) struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    /// Tables for positions `0..seq` with base `theta`, computed in f32 as HF does
    /// (`inv_freq = 1 / theta^(arange(0, dim, 2) / dim)`, `freqs = position * inv_freq`).
    pub fn new(theta: f64, head_dim: usize, seq: usize, device: &Device) -> Result<Self> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(ModelError::Config(format!(
                "rotary embeddings need an even head size, got {head_dim}"
            )));
        }
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(seq * head_dim);
        let mut sin = Vec::with_capacity(seq * head_dim);
        for position in 0..seq {
            let angles: Vec<f32> = inv_freq.iter().map(|f| position as f32 * f).collect();
            for _ in 0..2 {
                cos.extend(angles.iter().map(|a| (*a as f64).cos() as f32));
                sin.extend(angles.iter().map(|a| (*a as f64).sin() as f32));
            }
        }
        Ok(Self {
            cos: Tensor::from_vec(cos, (seq, head_dim), device)?,
            sin: Tensor::from_vec(sin, (seq, head_dim), device)?,
        })
    }

    /// The tables of positions `0..seq`, when these tables reach that far.
    pub fn first(&self, seq: usize) -> Result<Option<Self>> {
        if seq > self.cos.dim(0)? {
            return Ok(None);
        }
        Ok(Some(Self {
            cos: self.cos.narrow(0, 0, seq)?,
            sin: self.sin.narrow(0, 0, seq)?,
        }))
    }

    /// `x * cos + rotate_half(x) * sin` for `xs` `[batch, heads, seq, head_dim]`, computed in
    /// f32 (as HF does under autocast) and returned in `xs`'s dtype.
    pub fn apply(&self, xs: &Tensor) -> Result<Tensor> {
        let (_, _, seq, head_dim) = xs.dims4()?;
        if self.cos.dims() != [seq, head_dim] {
            return Err(ModelError::Input(format!(
                "rotary tables are {:?}, the input has {seq} positions of size {head_dim}",
                self.cos.dims()
            )));
        }
        let rotated = rotate(&xs.to_dtype(DType::F32)?, &self.cos, &self.sin)?;
        Ok(rotated.to_dtype(xs.dtype())?)
    }
}

/// `x * cos + rotate_half(x) * sin`, in the dtype of its arguments.
fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    Ok((x.broadcast_mul(cos)? + rotate_half(x)?.broadcast_mul(sin)?)?)
}

/// HF `rotate_half`: `cat(-x2, x1)` over the last dimension's two halves.
fn rotate_half(xs: &Tensor) -> Result<Tensor> {
    let half = xs.dim(D::Minus1)? / 2;
    let x1 = xs.narrow(D::Minus1, 0, half)?;
    let x2 = xs.narrow(D::Minus1, half, half)?;
    Ok(Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn input(dtype: DType) -> Tensor {
        let values: Vec<f32> = (0..2 * 3 * 5 * 8)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        Tensor::from_vec(values, (2, 3, 5, 8), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    #[test]
    fn forward_matches_candles_fused_rope() {
        let rotary = Rotary::new(10_000.0, 8, 5, &Device::Cpu).unwrap();
        let xs = input(DType::F32);
        let ours = rotary.apply(&xs).unwrap();
        // candle's kernel takes the half tables.
        let cos = rotary.cos.narrow(1, 0, 4).unwrap().contiguous().unwrap();
        let sin = rotary.sin.narrow(1, 0, 4).unwrap().contiguous().unwrap();
        let fused = candle_nn::rotary_emb::rope(&xs, &cos, &sin).unwrap();
        let diff = (ours - fused)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{diff}");
    }

    #[test]
    fn tables_match_hf_values() {
        // HF ModernBertRotaryEmbedding, head_dim 4, theta 10000: inv_freq = [1, 0.01].
        let rotary = Rotary::new(10_000.0, 4, 3, &Device::Cpu).unwrap();
        let cos = rotary.cos.to_vec2::<f32>().unwrap();
        let sin = rotary.sin.to_vec2::<f32>().unwrap();
        assert_eq!(cos[0], [1.0; 4]);
        let want_cos = [2f64.cos(), 0.02f64.cos(), 2f64.cos(), 0.02f64.cos()];
        let want_sin = [2f64.sin(), 0.02f64.sin(), 2f64.sin(), 0.02f64.sin()];
        for k in 0..4 {
            assert!((cos[2][k] as f64 - want_cos[k]).abs() < 1e-6, "{cos:?}");
            assert!((sin[2][k] as f64 - want_sin[k]).abs() < 1e-6, "{sin:?}");
        }
    }

    /// The backward of the composed op against central finite differences, in f64 so that the
    /// difference quotient is exact to ~1e-9.
    #[test]
    fn gradient_matches_finite_differences() {
        let rotary = Rotary::new(10_000.0, 8, 5, &Device::Cpu).unwrap();
        let cos = rotary.cos.to_dtype(DType::F64).unwrap();
        let sin = rotary.sin.to_dtype(DType::F64).unwrap();
        let x = Var::from_tensor(&input(DType::F64)).unwrap();
        let weights = (input(DType::F64).sin().unwrap() * 3.0).unwrap();
        // apply() casts to f32; this runs the same composed op in f64.
        let loss_of = |x: &Tensor| -> Tensor {
            let rotated = rotate(x, &cos, &sin).unwrap();
            (rotated * &weights).unwrap().sum_all().unwrap()
        };
        let grads = loss_of(x.as_tensor()).backward().unwrap();
        let analytic: Vec<f64> = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
        let h = 1e-6;
        for i in (0..base.len()).step_by(7) {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                let t = Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap();
                loss_of(&t).to_scalar::<f64>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "entry {i}: analytic {} numeric {numeric}",
                analytic[i]
            );
        }
        // Every entry gets a gradient (none stops at the op).
        assert!(analytic.iter().all(|g| g.is_finite()));
        assert!(analytic.iter().filter(|g| **g != 0.0).count() > analytic.len() / 2);
    }

    #[test]
    fn bf16_inputs_come_back_in_bf16() {
        let rotary = Rotary::new(160_000.0, 8, 5, &Device::Cpu).unwrap();
        let out = rotary.apply(&input(DType::BF16)).unwrap();
        assert_eq!(out.dtype(), DType::BF16);
    }

    #[test]
    fn odd_head_sizes_are_refused() {
        assert!(Rotary::new(10_000.0, 7, 5, &Device::Cpu).is_err());
    }
}
