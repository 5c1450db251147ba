//! Building blocks made only of differentiable candle ops.
//!
//! Candle's fused `layer_norm`/`softmax_last_dim` kernels have no backward pass, so gradients
//! would silently stop at them; everything here is composed from ops that do.

use candle_core::{D, DType, Tensor};

use super::config::Activation;
use super::error::{ModelError, Result};
use super::fused;
use super::params::ParamTable;

/// `y = x W^T + b`, weights laid out `[out, in]` like torch.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn new(table: &ParamTable, name: &str) -> Result<Self> {
        Ok(Self {
            weight: table.get(&format!("{name}.weight"))?,
            bias: table.get(&format!("{name}.bias"))?,
        })
    }

    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let Some((last, lead)) = dims.split_last() else {
            return Err(ModelError::Input(
                "a linear layer needs an input of rank >= 1".into(),
            ));
        };
        let rows: usize = lead.iter().product();
        let flat = xs.reshape((rows, *last))?;
        let out = flat.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?;
        let mut out_dims = lead.to_vec();
        out_dims.push(self.weight.dim(0)?);
        Ok(out.reshape(out_dims)?)
    }
}

/// LayerNorm over the last dimension with the biased variance, as torch.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(table: &ParamTable, name: &str, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: table.get(&format!("{name}.weight"))?,
            bias: table.get(&format!("{name}.bias"))?,
            eps,
        })
    }

    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if fused::usable(xs) {
            return Ok(fused::layer_norm(xs, &self.weight, &self.bias, self.eps)?);
        }
        let mean = xs.mean_keepdim(D::Minus1)?;
        let centered = xs.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)?)
    }
}

/// Embedding lookup. Like torch's `padding_idx`, the padding row receives no gradient.
#[derive(Debug, Clone)]
pub(crate) struct Embedding {
    table: Tensor,
    padding_idx: Option<u32>,
}

impl Embedding {
    pub fn new(table: &ParamTable, name: &str, padding_idx: Option<u32>) -> Result<Self> {
        Ok(Self {
            table: table.get(&format!("{name}.weight"))?,
            padding_idx,
        })
    }

    /// `ids`: u32 `[batch, seq]` → `[batch, seq, hidden]`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let rows = self.table.dim(0)?;
        let flat = ids.flatten_all()?;
        let max_id = flat.max(0)?.to_scalar::<u32>()?;
        if max_id as usize >= rows {
            return Err(ModelError::Input(format!(
                "id {max_id} is out of range for an embedding table of {rows} rows"
            )));
        }
        let mut out = self.table.index_select(&flat, 0)?;
        if let Some(pad) = self.padding_idx {
            // Same values, but padding positions read a detached copy so no gradient flows.
            let is_pad = flat.eq(pad)?.unsqueeze(1)?.broadcast_as(out.shape())?;
            out = is_pad.where_cond(&out.detach(), &out)?;
        }
        Ok(out.reshape((batch, seq, self.table.dim(1)?))?)
    }
}

pub(crate) fn activation(xs: &Tensor, act: Activation) -> Result<Tensor> {
    Ok(match act {
        Activation::Gelu => gelu_erf(xs)?,
        Activation::GeluTanh => gelu_tanh(xs)?,
        Activation::Relu => xs.relu()?,
        Activation::Silu => xs.silu()?,
    })
}

/// HF `gelu`: `x/2 * (1 + erf(x/sqrt(2)))`.
pub(crate) fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    if fused::usable(xs) {
        return Ok(fused::gelu_erf(xs)?);
    }
    let erf = (xs * std::f64::consts::FRAC_1_SQRT_2)?.erf()?;
    Ok(((xs * 0.5)? * (erf + 1.0)?)?)
}

/// HF `gelu_new`: `x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`.
pub(crate) fn gelu_tanh(xs: &Tensor) -> Result<Tensor> {
    let inner = ((xs + (xs.powf(3.0)? * 0.044715)?)? * (2.0 / std::f64::consts::PI).sqrt())?;
    Ok(((xs * 0.5)? * (inner.tanh()? + 1.0)?)?)
}

/// Softmax over the last dimension. The max is detached: softmax is shift-invariant, so the
/// result and its gradient are unchanged, and the max only guards against overflow.
pub(crate) fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    if fused::usable(xs) {
        return Ok(fused::softmax_last_dim(xs)?);
    }
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let exp = xs.broadcast_sub(&max)?.exp()?;
    Ok(exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)?)
}

/// Mean cross-entropy of `logits` `[batch, classes]` against u32 `labels` `[batch]`.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let (batch, classes) = logits.dims2()?;
    if labels.dims() != [batch] || labels.dtype() != DType::U32 {
        return Err(ModelError::Input(format!(
            "labels must be u32 [{batch}], got {:?} {:?}",
            labels.dtype(),
            labels.dims()
        )));
    }
    if batch == 0 {
        return Err(ModelError::Input("cross_entropy of an empty batch".into()));
    }
    let max_label = labels.max(0)?.to_scalar::<u32>()?;
    if max_label as usize >= classes {
        return Err(ModelError::Input(format!(
            "label {max_label} is out of range for {classes} classes"
        )));
    }
    let logits = logits.to_dtype(DType::F32)?;
    let max = logits.max_keepdim(1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum_exp = shifted.exp()?.sum_keepdim(1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_sum_exp)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?;
    Ok((picked.sum_all()? * (-1.0 / batch as f64))?)
}

/// Additive attention mask `[batch, 1, 1, seq]`: 0 for tokens, the dtype's minimum for padding
/// (HF's convention; a finite value so fully-masked rows cannot produce NaN).
pub(crate) fn additive_mask(attention_mask: &Tensor) -> Result<Tensor> {
    let (batch, seq) = attention_mask.dims2()?;
    let keep = attention_mask.ne(0u32)?.to_dtype(DType::F32)?;
    let mask = ((keep - 1.0)? * -(f32::MIN as f64))?;
    Ok(mask.reshape((batch, 1, 1, seq))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn gelu_matches_reference_values() {
        // torch.nn.functional.gelu on these inputs.
        let x = Tensor::new(&[-3.0f32, -1.0, 0.0, 0.5, 2.0], &Device::Cpu).unwrap();
        let y = gelu_erf(&x).unwrap().to_vec1::<f32>().unwrap();
        let want = [-0.004049696, -0.15865526, 0.0, 0.34573123, 1.9544997];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gelu_tanh_matches_its_formula() {
        let x = [-3.0f64, -1.0, 0.0, 0.5, 2.0];
        let t = Tensor::new(&x.map(|v| v as f32), &Device::Cpu).unwrap();
        let y = gelu_tanh(&t).unwrap().to_vec1::<f32>().unwrap();
        for (v, got) in x.iter().zip(y) {
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3));
            let want = 0.5 * v * (1.0 + inner.tanh());
            assert!((got as f64 - want).abs() < 1e-6, "{v}: {got} vs {want}");
        }
    }

    #[test]
    fn additive_mask_is_finite() {
        let mask = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        let add = additive_mask(&mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(add, vec![0.0, 0.0, f32::MIN]);
        // A fully masked row still gives a finite (uniform) softmax, not NaN.
        let scores = Tensor::new(&[[f32::MIN, f32::MIN]], &Device::Cpu).unwrap();
        let p = softmax_last_dim(&scores).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(p, vec![vec![0.5, 0.5]]);
    }

    #[test]
    fn softmax_and_cross_entropy_are_differentiable() {
        let w = Var::new(&[[1.0f32, 2.0, 0.5], [0.0, -1.0, 3.0]], &Device::Cpu).unwrap();
        let labels = Tensor::new(&[1u32, 2], &Device::Cpu).unwrap();
        let loss = cross_entropy(w.as_tensor(), &labels).unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(w.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        // d loss / d logits = (softmax - onehot) / batch.
        let p = softmax_last_dim(w.as_tensor())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (r, label) in [1usize, 2].iter().enumerate() {
            for c in 0..3 {
                let onehot = if c == *label { 1.0 } else { 0.0 };
                let want = (p[r][c] - onehot) / 2.0;
                assert!(
                    (g[r][c] - want).abs() < 1e-6,
                    "{r},{c}: {} vs {want}",
                    g[r][c]
                );
            }
        }
        let loss = loss.to_scalar::<f32>().unwrap();
        let want = -(p[0][1].ln() + p[1][2].ln()) / 2.0;
        assert!((loss - want).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_rejects_bad_labels() {
        let logits = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
        let labels = Tensor::new(&[0u32, 3], &Device::Cpu).unwrap();
        assert!(cross_entropy(&logits, &labels).is_err());
    }
}
