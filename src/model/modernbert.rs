//! ModernBERT (HF `ModernBertModel` + `ModernBertForSequenceClassification`'s head): token
//! embeddings + norm (no positions), pre-norm layers with rotary attention (global, or a
//! sliding window of `|i - j| <= local_attention / 2`) and a GeGLU MLP, a final norm; the head
//! pools (`cls` or `mean`), then dense, activation, norm, dropout, classifier.

use candle_core::{D, DType, Tensor};

use super::config::{Activation, ModelConfig};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::layers::{
    Embedding, LayerNorm, Linear, activation, additive_mask, dtype_min, first_token,
    softmax_last_dim,
};
use super::modernbert_config::{AttentionKind, ModernBertSettings, Pooling};
use super::params::{Init, ParamTable, SpecList};
use super::rotary::Rotary;

const P: &str = "model.";

/// HF `ModernBertPreTrainedModel._init_weights`: truncated normals with per-module stds.
struct Inits {
    /// Embeddings, `Wqkv`, `Wi`: `initializer_range`.
    input: Init,
    /// Both `Wo` and `head.dense`: `initializer_range / sqrt(2 * num_layers)`.
    output: Init,
    /// The classifier: `hidden_size^-0.5`.
    final_output: Init,
}

impl Inits {
    fn new(c: &ModelConfig, s: &ModernBertSettings) -> Self {
        let trunc = |std: f64| Init::TruncNormal {
            std,
            cutoff: s.init_cutoff,
        };
        let range = c.initializer_range;
        Self {
            input: trunc(range),
            output: trunc(range / (2.0 * c.num_hidden_layers as f64).sqrt()),
            final_output: trunc((c.hidden_size as f64).powf(-0.5)),
        }
    }
}

/// Encoder tensors in HF state-dict order. Layer 0 has no `attn_norm` (HF's `nn.Identity`).
pub(crate) fn encoder_specs(c: &ModelConfig, list: &mut SpecList) -> Result<()> {
    let s = ModernBertSettings::from_config(c)?;
    let init = Inits::new(c, &s);
    let h = c.hidden_size;
    // HF's trunc_normal_ overwrites the whole table, the padding row included.
    list.embedding_with_init(
        &format!("{P}embeddings.tok_embeddings"),
        c.vocab_size,
        h,
        init.input,
    );
    list.layer_norm_with_bias(&format!("{P}embeddings.norm"), h, s.norm_bias);
    for i in 0..c.num_hidden_layers {
        let l = format!("{P}layers.{i}.");
        if i > 0 {
            list.layer_norm_with_bias(&format!("{l}attn_norm"), h, s.norm_bias);
        }
        let attention_bias = s.attention_bias;
        list.linear_with_bias(
            &format!("{l}attn.Wqkv"),
            h,
            3 * h,
            attention_bias,
            init.input,
        );
        list.linear_with_bias(&format!("{l}attn.Wo"), h, h, attention_bias, init.output);
        list.layer_norm_with_bias(&format!("{l}mlp_norm"), h, s.norm_bias);
        let inner = c.intermediate_size;
        list.linear_with_bias(&format!("{l}mlp.Wi"), h, 2 * inner, s.mlp_bias, init.input);
        list.linear_with_bias(&format!("{l}mlp.Wo"), inner, h, s.mlp_bias, init.output);
    }
    list.layer_norm_with_bias(&format!("{P}final_norm"), h, s.norm_bias);
    Ok(())
}

/// The head: `head.dense` (bias per `classifier_bias`), `head.norm`, and `classifier`, which
/// always has a bias in HF.
pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) -> Result<()> {
    let s = ModernBertSettings::from_config(c)?;
    let init = Inits::new(c, &s);
    let h = c.hidden_size;
    list.start_head();
    list.linear_with_bias("head.dense", h, h, s.classifier_bias, init.output);
    list.layer_norm_with_bias("head.norm", h, s.norm_bias);
    list.linear_with_bias("classifier", h, num_labels, true, init.final_output);
    Ok(())
}

#[derive(Debug, Clone)]
struct Layer {
    /// `None` for layer 0, whose input is the (already normed) embeddings.
    attn_norm: Option<LayerNorm>,
    wqkv: Linear,
    wo: Linear,
    mlp_norm: LayerNorm,
    wi: Linear,
    mlp_wo: Linear,
    kind: AttentionKind,
}

#[derive(Debug, Clone)]
pub(crate) struct ModernBertEncoder {
    tokens: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    settings: ModernBertSettings,
    heads: usize,
    head_dim: usize,
    intermediate: usize,
    act: Activation,
    attention_dropout: f64,
    mlp_dropout: f64,
    /// Rotary tables up to `max_position_embeddings`, built once: a step takes the first
    /// `seq` rows instead of recomputing them.
    global_rotary: Rotary,
    local_rotary: Rotary,
}

impl ModernBertEncoder {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let s = ModernBertSettings::from_config(c)?;
        let eps = c.layer_norm_eps;
        let norm = |name: &str| LayerNorm::with_bias(table, name, eps, s.norm_bias);
        let layers = s
            .layer_kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let l = format!("{P}layers.{i}.");
                Ok(Layer {
                    attn_norm: if i == 0 {
                        None
                    } else {
                        Some(norm(&format!("{l}attn_norm"))?)
                    },
                    wqkv: Linear::with_bias(table, &format!("{l}attn.Wqkv"), s.attention_bias)?,
                    wo: Linear::with_bias(table, &format!("{l}attn.Wo"), s.attention_bias)?,
                    mlp_norm: norm(&format!("{l}mlp_norm"))?,
                    wi: Linear::with_bias(table, &format!("{l}mlp.Wi"), s.mlp_bias)?,
                    mlp_wo: Linear::with_bias(table, &format!("{l}mlp.Wo"), s.mlp_bias)?,
                    kind,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let device = table
            .get(&format!("{P}embeddings.tok_embeddings.weight"))?
            .device()
            .clone();
        let positions = c.max_position_embeddings;
        Ok(Self {
            global_rotary: Rotary::new(s.global_rope_theta, c.head_dim(), positions, &device)?,
            local_rotary: Rotary::new(s.local_rope_theta, c.head_dim(), positions, &device)?,
            tokens: Embedding::new(
                table,
                &format!("{P}embeddings.tok_embeddings"),
                c.pad_token_id,
            )?,
            embedding_norm: norm(&format!("{P}embeddings.norm"))?,
            layers,
            final_norm: norm(&format!("{P}final_norm"))?,
            heads: c.num_attention_heads,
            head_dim: c.head_dim(),
            intermediate: c.intermediate_size,
            act: c.hidden_act,
            attention_dropout: c.attention_probs_dropout_prob,
            mlp_dropout: c.hidden_dropout_prob,
            settings: s,
        })
    }

    /// Last hidden state `[batch, seq, hidden]`, f32, after the final norm. `attention_mask`
    /// is the u32 `[batch, seq]` mask (1 = token). Matmuls, attention and activations run in
    /// `compute`; embeddings, the residual stream, norms and rotary stay f32.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
        compute: DType,
    ) -> Result<Tensor> {
        let (_, seq) = input_ids.dims2()?;
        let device = input_ids.device();
        let s = &self.settings;
        // Longer inputs than the tables (HF enforces no limit either) get tables of their own.
        let rotary_for = |tables: &Rotary, theta: f64| -> Result<Rotary> {
            match tables.first(seq)? {
                Some(rotary) => Ok(rotary),
                None => Rotary::new(theta, self.head_dim, seq, device),
            }
        };
        let global = rotary_for(&self.global_rotary, s.global_rope_theta)?;
        let local = rotary_for(&self.local_rotary, s.local_rope_theta)?;
        let global_mask = additive_mask(attention_mask, compute)?;
        let local_mask = sliding_window_mask(attention_mask, s.half_window, compute)?;

        let embeddings = self
            .embedding_norm
            .forward(&self.tokens.forward(input_ids)?)?;
        let mut xs = dropout.apply(&embeddings, s.embedding_dropout)?;
        for layer in &self.layers {
            let (rotary, mask) = match layer.kind {
                AttentionKind::Global => (&global, &global_mask),
                AttentionKind::Local => (&local, &local_mask),
            };
            let normed = match &layer.attn_norm {
                Some(norm) => norm.forward(&xs)?,
                None => xs.clone(),
            };
            let attended =
                self.attention(layer, &normed.to_dtype(compute)?, rotary, mask, dropout)?;
            xs = (xs + attended.to_dtype(DType::F32)?)?;
            let mlp = self.mlp(
                layer,
                &layer.mlp_norm.forward(&xs)?.to_dtype(compute)?,
                dropout,
            )?;
            xs = (xs + mlp.to_dtype(DType::F32)?)?;
        }
        self.final_norm.forward(&xs)
    }

    /// HF `ModernBertAttention` (eager): one `Wqkv` projection split into q, k, v, rotary on q
    /// and k, scaled dot products plus the additive mask, softmax, `Wo`.
    fn attention(
        &self,
        layer: &Layer,
        xs: &Tensor,
        rotary: &Rotary,
        mask: &Tensor,
        dropout: &mut Dropout,
    ) -> Result<Tensor> {
        let (batch, seq, hidden) = xs.dims3()?;
        let qkv = layer
            .wqkv
            .forward(xs)?
            .reshape((batch, seq, 3, self.heads, self.head_dim))?;
        let part = |i: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(2, i, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = rotary.apply(&part(0)?)?;
        let k = rotary.apply(&part(1)?)?;
        let v = part(2)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        let probs = dropout.apply(&softmax_last_dim(&scores)?, self.attention_dropout)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, seq, hidden))?;
        dropout.apply(&layer.wo.forward(&context)?, self.attention_dropout)
    }

    /// HF `ModernBertMLP`: `Wi` → halves (input, gate) → `act(input) * gate` → dropout → `Wo`.
    fn mlp(&self, layer: &Layer, xs: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let both = layer.wi.forward(xs)?;
        let input = both.narrow(D::Minus1, 0, self.intermediate)?;
        let gate = both.narrow(D::Minus1, self.intermediate, self.intermediate)?;
        let inner = (activation(&input, self.act)? * gate)?;
        layer
            .mlp_wo
            .forward(&dropout.apply(&inner, self.mlp_dropout)?)
    }
}

/// Additive mask `[batch, 1, seq, seq]` in `dtype` for local layers: a key counts when it is a
/// token and within `half_window` of the query (HF's bidirectional sliding window). Built from
/// one keep/drop decision per entry, so a query with no key in reach gets a finite, uniform
/// row (as in HF) rather than the sum of two minima, which would overflow to -inf.
pub(crate) fn sliding_window_mask(
    attention_mask: &Tensor,
    half_window: usize,
    dtype: DType,
) -> Result<Tensor> {
    let (batch, seq) = attention_mask.dims2()?;
    // |i - j| <= half_window, computed on the device (an s x s host table would be large at
    // ModernBERT's 8k positions).
    let positions = Tensor::arange(0f32, seq as f32, attention_mask.device())?;
    let distance = positions
        .reshape((seq, 1))?
        .broadcast_sub(&positions.reshape((1, seq))?)?
        .abs()?;
    let window = distance
        .le(half_window as f64)?
        .to_dtype(DType::F32)?
        .reshape((1, 1, seq, seq))?;
    let tokens = attention_mask
        .ne(0u32)?
        .to_dtype(DType::F32)?
        .reshape((batch, 1, 1, seq))?;
    let keep = tokens.broadcast_mul(&window)?;
    Ok(((keep - 1.0)? * -dtype_min(dtype)?)?.to_dtype(dtype)?)
}

/// HF `ModernBertPredictionHead` + dropout + `classifier`, after pooling.
#[derive(Debug, Clone)]
pub(crate) struct ModernBertHead {
    dense: Linear,
    act: Activation,
    norm: LayerNorm,
    classifier: Linear,
    pooling: Pooling,
    dropout_p: f64,
}

impl ModernBertHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let s = ModernBertSettings::from_config(c)?;
        Ok(Self {
            dense: Linear::with_bias(table, "head.dense", s.classifier_bias)?,
            act: s.classifier_activation,
            norm: LayerNorm::with_bias(table, "head.norm", c.layer_norm_eps, s.norm_bias)?,
            classifier: Linear::new(table, "classifier")?,
            pooling: s.pooling,
            dropout_p: c.head_dropout(),
        })
    }

    /// `[batch, seq, hidden]` → `[batch, hidden]`: the first token, or the mean over the
    /// tokens `attention_mask` (u32) keeps. The mean is taken in f32 and returned in
    /// `hidden`'s dtype.
    pub fn pool(&self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        match self.pooling {
            Pooling::Cls => first_token(hidden),
            Pooling::Mean => {
                let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.to_dtype(DType::F32)?.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?;
                if counts.min_all()?.to_scalar::<f32>()? <= 0.0 {
                    return Err(ModelError::Input(
                        "mean pooling needs at least one token per row in attention_mask".into(),
                    ));
                }
                Ok(summed.broadcast_div(&counts)?.to_dtype(hidden.dtype())?)
            }
        }
    }

    /// dense → activation → norm → dropout → classifier, on any `[..., hidden]` (pooled rows,
    /// or every token as `ModernBertForTokenClassification` does).
    pub fn classify(&self, features: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let compute = features.dtype();
        let xs = activation(&self.dense.forward(features)?, self.act)?;
        let xs = self.norm.forward(&xs)?.to_dtype(compute)?;
        let xs = dropout.apply(&xs, self.dropout_p)?;
        self.classifier.forward(&xs)
    }

    /// Logits `[batch, num_labels]` of `ModernBertForSequenceClassification`.
    pub fn forward(
        &self,
        hidden: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
    ) -> Result<Tensor> {
        self.classify(&self.pool(hidden, attention_mask)?, dropout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Architecture;
    use crate::model::weights::canonical_name;
    use candle_core::Device;

    #[test]
    fn sliding_window_keeps_tokens_within_half_the_window() {
        // 5 positions, the last one padding, half window 1 (local_attention = 2).
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 0]], &Device::Cpu).unwrap();
        let add = sliding_window_mask(&mask, 1, DType::F32)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let kept: Vec<Vec<u8>> = add
            .iter()
            .map(|row| row.iter().map(|v| u8::from(*v == 0.0)).collect())
            .collect();
        assert_eq!(
            kept,
            [
                [1, 1, 0, 0, 0],
                [1, 1, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 0, 1, 0],
            ]
        );
        // Dropped entries are the dtype's minimum, never -inf, also in bf16.
        assert!(add.iter().flatten().all(|v| *v == 0.0 || *v == f32::MIN));
        let bf16 = sliding_window_mask(&mask, 0, DType::BF16)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(bf16.iter().all(|v| v.is_finite()), "{bf16:?}");
    }

    #[test]
    fn checkpoint_names_keep_the_head_beside_the_encoder() {
        let arch = Architecture::ModernBert;
        for (file, canonical) in [
            (
                "model.layers.0.attn.Wqkv.weight",
                "model.layers.0.attn.Wqkv.weight",
            ),
            (
                "layers.0.attn.Wqkv.weight",
                "model.layers.0.attn.Wqkv.weight",
            ),
            (
                "embeddings.tok_embeddings.weight",
                "model.embeddings.tok_embeddings.weight",
            ),
            ("head.dense.weight", "head.dense.weight"),
            ("decoder.bias", "decoder.bias"),
            ("classifier.weight", "classifier.weight"),
        ] {
            assert_eq!(canonical_name(file, arch).unwrap(), canonical, "{file}");
        }
    }

    #[test]
    fn a_hub_config_gets_hfs_defaults() {
        let config = ModelConfig::from_json(serde_json::json!({
            "model_type": "modernbert", "vocab_size": 100, "hidden_size": 8,
            "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
            "pad_token_id": 3
        }))
        .unwrap();
        assert_eq!(config.type_vocab_size, 0);
        assert_eq!(config.max_position_embeddings, 8192);
        assert_eq!(config.layer_norm_eps, 1e-5);
        assert_eq!(config.head_dropout(), 0.0);
        assert_eq!(config.hidden_act, Activation::Gelu);
        // HF's pad_token_id default (50283) lies outside a small vocabulary.
        let err = ModelConfig::from_json(serde_json::json!({
            "model_type": "modernbert", "vocab_size": 100, "hidden_size": 8,
            "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("pad_token_id 50283"), "{err}");
        // ModernBERT's own keys are checked when the config is read.
        let err = ModelConfig::from_json(serde_json::json!({
            "model_type": "modernbert", "vocab_size": 100, "hidden_size": 8,
            "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
            "pad_token_id": 3, "classifier_pooling": "max"
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("classifier_pooling"), "{err}");
    }
}
