//! Building blocks whose gradients reach every parameter.
//!
//! Candle's fused `layer_norm`/`softmax_last_dim` kernels have no backward pass, so gradients
//! would silently stop at them: on the CPU in f32 these blocks use Wick's own fused ops with
//! hand-written backward (`fused`, `fused_linear`), elsewhere compositions of differentiable
//! candle ops.

use candle_core::{D, DType, Tensor};

use super::config::Activation;
use super::error::{ModelError, Result};
use super::fused;
use super::fused_linear;
use super::lora::{self, LoraAdapter};
use super::packing::Packing;
use super::params::ParamTable;

/// `y = x W^T + b`, weights laid out `[out, in]` like torch.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Tensor,
    /// `None` for `bias=False` linears (ModernBERT).
    bias: Option<Tensor>,
    /// A LoRA adapter whose output adds to the layer's (`lora_target_modules`).
    adapter: Option<LoraAdapter>,
}

impl Linear {
    pub fn new(table: &ParamTable, name: &str) -> Result<Self> {
        Self::with_bias(table, name, true)
    }

    /// `has_bias = false`: a `nn.Linear(..., bias=False)`, with only `{name}.weight`.
    pub fn with_bias(table: &ParamTable, name: &str, has_bias: bool) -> Result<Self> {
        Ok(Self {
            weight: table.get(&format!("{name}.weight"))?,
            bias: if has_bias {
                Some(table.get(&format!("{name}.bias"))?)
            } else {
                None
            },
            adapter: table.adapter(name),
        })
    }

    /// Computes in `xs`'s dtype: under bf16 the f32 master weight is cast per call, and the
    /// cast's backward hands an f32 gradient to the master. On the CPU in f32 a layer with a
    /// bias and no LoRA adapter is one fused op (`fused_linear`).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if let (Some(bias), None) = (&self.bias, &self.adapter)
            && fused_linear::usable(xs, &self.weight, bias)
        {
            return Ok(fused_linear::linear(xs, &self.weight, bias)?);
        }
        let dims = xs.dims().to_vec();
        let Some((last, lead)) = dims.split_last() else {
            return Err(ModelError::Input(
                "a linear layer needs an input of rank >= 1".into(),
            ));
        };
        let rows: usize = lead.iter().product();
        let flat = xs.reshape((rows, *last))?;
        let mut out = if self.weight.track_op() {
            self.trained_forward(&flat)?
        } else {
            // A frozen base layer (LoRA): its weight takes no gradient, only its input does.
            lora::frozen_linear(&flat, &self.weight, self.bias.as_ref())?
        };
        if let Some(adapter) = &self.adapter {
            out = (out + adapter.forward(&flat)?)?;
        }
        let mut out_dims = lead.to_vec();
        out_dims.push(self.weight.dim(0)?);
        Ok(out.reshape(out_dims)?)
    }

    /// `flat W^T + b` on `[rows, in]` with both parameters in the autograd graph.
    fn trained_forward(&self, flat: &Tensor) -> Result<Tensor> {
        let xs = flat;
        Ok(match &self.bias {
            // Without a bias (ModernBERT) the matmul runs in the input's dtype.
            None => flat.matmul(&self.weight.to_dtype(xs.dtype())?.t()?)?,
            Some(bias) if xs.dtype() == self.weight.dtype() => {
                flat.matmul(&self.weight.t()?)?.broadcast_add(bias)?
            }
            Some(bias) => {
                // The bias is added in f32: its gradient is a sum over every row, and candle
                // sums reduced-precision tensors in that precision.
                let weight = self.weight.to_dtype(xs.dtype())?;
                flat.matmul(&weight.t()?)?
                    .to_dtype(DType::F32)?
                    .broadcast_add(bias)?
                    .to_dtype(xs.dtype())?
            }
        })
    }
}

/// LayerNorm over the last dimension with the biased variance, as torch. Always in f32: a
/// reduced-precision input is cast up first, so the statistics and the output are f32.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(table: &ParamTable, name: &str, eps: f64) -> Result<Self> {
        Self::with_bias(table, name, eps, true)
    }

    /// `has_bias = false`: torch's `LayerNorm(bias=False)`, with only `{name}.weight`; the
    /// bias is a constant zero, which is not a parameter and so takes no gradient.
    pub fn with_bias(table: &ParamTable, name: &str, eps: f64, has_bias: bool) -> Result<Self> {
        let weight = table.get(&format!("{name}.weight"))?;
        let bias = if has_bias {
            table.get(&format!("{name}.bias"))?
        } else {
            weight.zeros_like()?
        };
        Ok(Self { weight, bias, eps })
    }

    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = &xs.to_dtype(DType::F32)?;
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
/// Reduced-precision inputs are computed in f32 and cast back, so the statistics are f32.
pub(crate) fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    if xs.dtype() != DType::F32 {
        return Ok(softmax_last_dim(&xs.to_dtype(DType::F32)?)?.to_dtype(xs.dtype())?);
    }
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

/// Additive attention mask `[batch, 1, 1, seq]` in `dtype`: 0 for tokens, the dtype's minimum
/// for padding (HF's convention; a finite value, so fully-masked rows cannot produce NaN or
/// -inf in reduced precision either).
pub(crate) fn additive_mask(attention_mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (batch, seq) = attention_mask.dims2()?;
    let keep = attention_mask.ne(0u32)?.to_dtype(DType::F32)?;
    let mask = ((keep - 1.0)? * -dtype_min(dtype)?)?;
    Ok(mask.to_dtype(dtype)?.reshape((batch, 1, 1, seq))?)
}

/// The most negative finite value of a float dtype, exactly representable in f32.
pub(crate) fn dtype_min(dtype: DType) -> Result<f64> {
    Ok(match dtype {
        DType::F32 => f32::MIN as f64,
        // half's bf16::MIN and f16::MIN (candle does not re-export `half`).
        DType::BF16 => -3.389_531_389_251_535_5e38,
        DType::F16 => -65504.0,
        other => {
            return Err(ModelError::Input(format!(
                "no attention mask for compute dtype {other:?}"
            )));
        }
    })
}

/// The positions whose output an encoder layer computes. Heads that read only the first
/// token ([CLS], `<s>`) need the last layer's output at that row alone: its keys and values
/// still come from every token, but the queries, the attention output, the residual,
/// LayerNorm and the FFN run on one row per sequence. Exact: row 0's output depends on the
/// other rows only through keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    All,
    FirstOnly,
}

impl Rows {
    /// `xs` (padded `[batch, seq, ...]`, or packed `[1, n_real, ...]` with its `packing`)
    /// narrowed to these rows: `[batch, 1, ...]` for `FirstOnly`.
    pub fn select(self, xs: &Tensor, packing: Option<&Packing>) -> Result<Tensor> {
        Ok(match (self, packing) {
            (Rows::All, _) => xs.clone(),
            (Rows::FirstOnly, None) => xs.narrow(1, 0, 1)?,
            (Rows::FirstOnly, Some(packing)) => packing.firsts(xs)?,
        })
    }

    /// The rows layer `index` of `count` computes: `self` for the last, all for the others.
    pub fn for_layer(self, index: usize, count: usize) -> Rows {
        if index + 1 == count { self } else { Rows::All }
    }
}

/// First token of each sequence: `[batch, seq, hidden]` → `[batch, hidden]`.
pub(crate) fn first_token(hidden: &Tensor) -> Result<Tensor> {
    Ok(hidden.narrow(1, 0, 1)?.squeeze(1)?)
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
        let add = additive_mask(&mask, DType::F32)
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
    fn bf16_masked_rows_are_finite() {
        let mask = Tensor::new(&[[0u32, 0, 0], [1, 1, 0]], &Device::Cpu).unwrap();
        let add = additive_mask(&mask, DType::BF16).unwrap();
        assert_eq!(add.dtype(), DType::BF16);
        let values: Vec<f32> = add
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
        assert!(values[0] < -3.3e38, "{values:?}");
        // Scores plus the mask in bf16, as attention does: the fully masked row becomes uniform
        // (not NaN), the other row ignores its padded key.
        let scores = Tensor::new(
            &[[[[2.5f32, -1.0, 7.0]]], [[[0.5, 0.25, 9.0]]]],
            &Device::Cpu,
        )
        .unwrap()
        .to_dtype(DType::BF16)
        .unwrap();
        let probs = softmax_last_dim(&scores.broadcast_add(&add).unwrap()).unwrap();
        assert_eq!(probs.dtype(), DType::BF16);
        let p: Vec<f32> = probs
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(p.iter().all(|v| v.is_finite()), "{p:?}");
        for v in &p[..3] {
            assert!((v - 1.0 / 3.0).abs() < 4e-3, "{p:?}");
        }
        assert_eq!(p[5], 0.0, "{p:?}");
        assert!((p[3] + p[4] - 1.0).abs() < 8e-3, "{p:?}");
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
