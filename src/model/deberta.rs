//! DeBERTa-v2/v3 (`model_type = "deberta-v2"`): embeddings without absolute positions or token
//! types when the config says so, disentangled relative attention (`deberta_attention.rs`),
//! LayerNorm on the relative embeddings, and HF's classification head: `ContextPooler`
//! (dropout, dense, activation on [CLS]) then dropout and `classifier`.

use candle_core::{DType, Tensor};
use serde_json::Value;

use super::config::{Activation, ModelConfig, Reader};
use super::deberta_attention::{
    AttentionKinds, DisentangledAttention, RelativeInputs, RelativePositions,
};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::layers::{Embedding, LayerNorm, Linear, activation, first_token};
use super::params::{Init, ParamSpec, ParamTable, SpecList};

const P: &str = "deberta.";

/// The DebertaV2Config keys that BERT has no equivalent of, with HF's defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DebertaOptions {
    /// Absolute position embeddings added to the input (`position_biased_input`, default
    /// true; false in DeBERTa-v3).
    pub position_biased_input: bool,
    /// Width of the embeddings; projected to `hidden_size` (no bias) when it differs.
    pub embedding_size: usize,
    /// `None` when `relative_attention` is false.
    pub relative: Option<RelativePositions>,
    pub c2p: bool,
    pub p2c: bool,
    pub share_att_key: bool,
    /// `norm_rel_ebd` contains `layer_norm`: `encoder.LayerNorm` normalises the relative
    /// embeddings.
    pub norm_rel_ebd: bool,
    pub pooler_act: PoolerActivation,
    pub pooler_dropout: f64,
}

/// `pooler_hidden_act`: any hidden activation, or tanh (BERT's pooler's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PoolerActivation {
    Hidden(Activation),
    Tanh,
}

impl PoolerActivation {
    fn parse(name: &str) -> Result<Self> {
        if name == "tanh" {
            return Ok(Self::Tanh);
        }
        Activation::parse(name).map(Self::Hidden).map_err(|_| {
            ModelError::Config(format!(
                "unsupported pooler_hidden_act {name:?}; supported: tanh, gelu, gelu_new, \
                 gelu_pytorch_tanh, gelu_fast, relu, silu"
            ))
        })
    }

    fn apply(self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Self::Hidden(act) => activation(xs, act),
            Self::Tanh => Ok(xs.tanh()?),
        }
    }
}

/// A signed integer key (`-1` means "unset" in DebertaV2Config).
fn opt_i64(r: &Reader, key: &str) -> Result<Option<i64>> {
    match r.0.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| Reader::bad(key, "an integer", v)),
    }
}

/// `pos_att_type` as a list or HF's older `"p2c|c2p"` string.
fn pos_att_types(r: &Reader) -> Result<Vec<String>> {
    let key = "pos_att_type";
    match r.0.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split('|').map(|t| t.trim().to_lowercase()).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_lowercase())
                    .ok_or_else(|| Reader::bad(key, "a list of strings", v))
            })
            .collect(),
        Some(v) => Err(Reader::bad(key, "a list of strings", v)),
    }
}

impl DebertaOptions {
    /// Reads and checks the DeBERTa keys; `c` holds the common ones, already read.
    pub fn read(r: &Reader, c: &ModelConfig) -> Result<Self> {
        if let Some(n) = r.opt_usize("conv_kernel_size")?
            && n > 0
        {
            return Err(ModelError::Config(format!(
                "conv_kernel_size {n}: DeBERTa-v2's convolution layer (the v2 xlarge/xxlarge \
                 models) is not supported; DeBERTa-v3 models have none"
            )));
        }
        let head_dim = c.hidden_size / c.num_attention_heads.max(1);
        if let Some(n) = r.opt_usize("attention_head_size")?
            && n != head_dim
        {
            return Err(ModelError::Config(format!(
                "attention_head_size {n} differs from hidden_size / num_attention_heads = \
                 {head_dim}; not supported"
            )));
        }
        // HF's classifier reads `hidden_size` features from the pooler.
        if let Some(n) = r.opt_usize("pooler_hidden_size")?
            && n != c.hidden_size
        {
            return Err(ModelError::Config(format!(
                "pooler_hidden_size {n} differs from hidden_size {}; not supported",
                c.hidden_size
            )));
        }
        let embedding_size = r.opt_usize("embedding_size")?.unwrap_or(c.hidden_size);
        if embedding_size == 0 {
            return Err(ModelError::Config("embedding_size must be positive".into()));
        }
        let types = pos_att_types(r)?;
        let relative = if r.opt_bool("relative_attention")?.unwrap_or(false) {
            let max_relative_positions = match opt_i64(r, "max_relative_positions")? {
                Some(n) if n >= 1 => n as usize,
                _ => c.max_position_embeddings,
            };
            let buckets = match opt_i64(r, "position_buckets")? {
                Some(n) if n > 0 => Some(n as usize),
                _ => None,
            };
            if let Some(b) = buckets
                && (b < 2 || max_relative_positions <= b / 2 + 1)
            {
                return Err(ModelError::Config(format!(
                    "position_buckets {b} needs at least 2 buckets and max_relative_positions \
                     ({max_relative_positions}) above position_buckets / 2 + 1"
                )));
            }
            Some(RelativePositions {
                buckets,
                max_relative_positions,
            })
        } else {
            None
        };
        let norm_rel_ebd = r
            .opt_string("norm_rel_ebd")?
            .unwrap_or_else(|| "none".into())
            .to_lowercase()
            .split('|')
            .any(|t| t.trim() == "layer_norm");
        Ok(Self {
            position_biased_input: r.opt_bool("position_biased_input")?.unwrap_or(true),
            embedding_size,
            relative,
            c2p: types.iter().any(|t| t == "c2p"),
            p2c: types.iter().any(|t| t == "p2c"),
            share_att_key: r.opt_bool("share_att_key")?.unwrap_or(false),
            norm_rel_ebd,
            pooler_act: PoolerActivation::parse(
                &r.opt_string("pooler_hidden_act")?
                    .unwrap_or_else(|| "gelu".into()),
            )?,
            pooler_dropout: r.prob("pooler_dropout", 0.0)?,
        })
    }

    pub fn of(c: &ModelConfig) -> Result<Self> {
        Self::read(&Reader(c.raw()), c)
    }

    fn attention_kinds(&self) -> AttentionKinds {
        AttentionKinds {
            relative: self.relative.is_some(),
            c2p: self.c2p,
            p2c: self.p2c,
            share_att_key: self.share_att_key,
        }
    }
}

/// Encoder tensors in HF state-dict order.
pub(crate) fn encoder_specs(c: &ModelConfig, list: &mut SpecList) -> Result<()> {
    let o = DebertaOptions::of(c)?;
    let (h, e) = (c.hidden_size, o.embedding_size);
    list.embedding(
        &format!("{P}embeddings.word_embeddings"),
        c.vocab_size,
        e,
        c.pad_token_id,
    );
    if o.position_biased_input {
        list.embedding(
            &format!("{P}embeddings.position_embeddings"),
            c.max_position_embeddings,
            e,
            None,
        );
    }
    if c.type_vocab_size > 0 {
        list.embedding(
            &format!("{P}embeddings.token_type_embeddings"),
            c.type_vocab_size,
            e,
            None,
        );
    }
    if e != h {
        // `embed_proj` has no bias, so it is not a `SpecList::linear`.
        list.specs.push(ParamSpec {
            name: format!("{P}embeddings.embed_proj.weight"),
            shape: vec![h, e],
            init: Init::Normal,
            head: false,
            linear: false,
        });
    }
    list.layer_norm(&format!("{P}embeddings.LayerNorm"), h);
    for i in 0..c.num_hidden_layers {
        let l = format!("{P}encoder.layer.{i}.");
        for proj in ["query_proj", "key_proj", "value_proj"] {
            list.linear(&format!("{l}attention.self.{proj}"), h, h);
        }
        if o.relative.is_some() && !o.share_att_key {
            if o.c2p {
                list.linear(&format!("{l}attention.self.pos_key_proj"), h, h);
            }
            if o.p2c {
                list.linear(&format!("{l}attention.self.pos_query_proj"), h, h);
            }
        }
        list.linear(&format!("{l}attention.output.dense"), h, h);
        list.layer_norm(&format!("{l}attention.output.LayerNorm"), h);
        list.linear(&format!("{l}intermediate.dense"), h, c.intermediate_size);
        list.linear(&format!("{l}output.dense"), c.intermediate_size, h);
        list.layer_norm(&format!("{l}output.LayerNorm"), h);
    }
    if let Some(relative) = o.relative {
        list.embedding(
            &format!("{P}encoder.rel_embeddings"),
            2 * relative.span(),
            h,
            None,
        );
    }
    if o.norm_rel_ebd {
        list.layer_norm(&format!("{P}encoder.LayerNorm"), h);
    }
    Ok(())
}

/// `ContextPooler` (at the checkpoint's root, not under `deberta.`) and the classifier.
pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) {
    list.start_head();
    list.linear("pooler.dense", c.hidden_size, c.hidden_size);
    list.linear("classifier", c.hidden_size, num_labels);
}

#[derive(Debug, Clone)]
struct Layer {
    attention: DisentangledAttention,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

#[derive(Debug, Clone)]
pub(crate) struct DebertaEncoder {
    word: Embedding,
    position: Option<Embedding>,
    token_type: Option<Embedding>,
    /// `embed_proj.weight` `[hidden, embedding_size]`, when the sizes differ.
    embed_proj: Option<Tensor>,
    norm: LayerNorm,
    layers: Vec<Layer>,
    /// The relative embedding table and how positions index it.
    relative: Option<(Tensor, RelativePositions)>,
    rel_norm: Option<LayerNorm>,
    act: Activation,
    heads: usize,
    hidden_dropout: f64,
    max_positions: usize,
}

impl DebertaEncoder {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let o = DebertaOptions::of(c)?;
        let eps = c.layer_norm_eps;
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = format!("{P}encoder.layer.{i}.");
                Ok(Layer {
                    attention: DisentangledAttention::new(
                        table,
                        &format!("{l}attention.self."),
                        o.attention_kinds(),
                        c.num_attention_heads,
                        c.head_dim(),
                        c.attention_probs_dropout_prob,
                        c.hidden_dropout_prob,
                    )?,
                    attention_out: Linear::new(table, &format!("{l}attention.output.dense"))?,
                    attention_norm: LayerNorm::new(
                        table,
                        &format!("{l}attention.output.LayerNorm"),
                        eps,
                    )?,
                    intermediate: Linear::new(table, &format!("{l}intermediate.dense"))?,
                    output: Linear::new(table, &format!("{l}output.dense"))?,
                    output_norm: LayerNorm::new(table, &format!("{l}output.LayerNorm"), eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embedding = |name: &str| Embedding::new(table, &format!("{P}embeddings.{name}"), None);
        Ok(Self {
            word: Embedding::new(
                table,
                &format!("{P}embeddings.word_embeddings"),
                c.pad_token_id,
            )?,
            position: o
                .position_biased_input
                .then(|| embedding("position_embeddings"))
                .transpose()?,
            token_type: (c.type_vocab_size > 0)
                .then(|| embedding("token_type_embeddings"))
                .transpose()?,
            embed_proj: (o.embedding_size != c.hidden_size)
                .then(|| table.get(&format!("{P}embeddings.embed_proj.weight")))
                .transpose()?,
            norm: LayerNorm::new(table, &format!("{P}embeddings.LayerNorm"), eps)?,
            layers,
            relative: o
                .relative
                .map(|positions| {
                    Ok::<_, ModelError>((
                        table.get(&format!("{P}encoder.rel_embeddings.weight"))?,
                        positions,
                    ))
                })
                .transpose()?,
            rel_norm: o
                .norm_rel_ebd
                .then(|| LayerNorm::new(table, &format!("{P}encoder.LayerNorm"), eps))
                .transpose()?,
            act: c.hidden_act,
            heads: c.num_attention_heads,
            hidden_dropout: c.hidden_dropout_prob,
            max_positions: c.max_position_embeddings,
        })
    }

    /// HF `DebertaV2Embeddings`: word (+ positions) (+ token types), projection, LayerNorm,
    /// then padding positions zeroed by the mask, then dropout. f32.
    fn embed(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
        compute: DType,
    ) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        let mut embeddings = self.word.forward(input_ids)?;
        if let Some(position) = &self.position {
            if seq > self.max_positions {
                return Err(ModelError::Input(format!(
                    "sequence of {seq} tokens exceeds the model's {} positions",
                    self.max_positions
                )));
            }
            let positions = Tensor::arange(0u32, seq as u32, input_ids.device())?
                .unsqueeze(0)?
                .broadcast_as((batch, seq))?
                .contiguous()?;
            embeddings = (embeddings + position.forward(&positions)?)?;
        }
        if let Some(token_type) = &self.token_type {
            embeddings = (embeddings + token_type.forward(token_type_ids)?)?;
        }
        if let Some(weight) = &self.embed_proj {
            let weight = weight.to_dtype(compute)?;
            embeddings = embeddings
                .to_dtype(compute)?
                .broadcast_matmul(&weight.t()?)?
                .to_dtype(DType::F32)?;
        }
        let keep = attention_mask
            .ne(0u32)?
            .to_dtype(DType::F32)?
            .unsqueeze(2)?;
        let embeddings = self.norm.forward(&embeddings)?.broadcast_mul(&keep)?;
        dropout.apply(&embeddings, self.hidden_dropout)
    }

    /// Last hidden state `[batch, seq, hidden]`, f32. `attention_mask` is the u32 input mask,
    /// `key_mask` its additive `[batch, 1, 1, seq]` form in `compute`; as in BERT, matmuls,
    /// attention and activations run in `compute`, the residual stream and LayerNorm in f32.
    /// `token_type_ids` are ignored when the model has no token types.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        key_mask: &Tensor,
        dropout: &mut Dropout,
        compute: DType,
    ) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        let mut xs = self.embed(input_ids, token_type_ids, attention_mask, dropout, compute)?;
        // HF masks query rows of padding too (`mask * mask^T`): such rows attend uniformly.
        let mask = key_mask.broadcast_minimum(&key_mask.transpose(2, 3)?)?;
        let relative = match &self.relative {
            Some((table, positions)) => {
                let embeddings = match &self.rel_norm {
                    Some(norm) => norm.forward(table)?,
                    None => table.clone(),
                };
                let (c2p_index, p2c_index) =
                    positions.gather_indices(batch, self.heads, seq, input_ids.device())?;
                Some(RelativeInputs {
                    embeddings,
                    c2p_index,
                    p2c_index,
                })
            }
            None => None,
        };
        for layer in &self.layers {
            let context = layer.attention.forward(
                &xs.to_dtype(compute)?,
                &mask,
                relative.as_ref(),
                dropout,
            )?;
            let attended = dropout.apply_add(
                &layer.attention_out.forward(&context)?,
                &xs,
                self.hidden_dropout,
            )?;
            let xs1 = layer.attention_norm.forward(&attended)?;
            let inner = activation(
                &layer.intermediate.forward(&xs1.to_dtype(compute)?)?,
                self.act,
            )?;
            let out =
                dropout.apply_add(&layer.output.forward(&inner)?, &xs1, self.hidden_dropout)?;
            xs = layer.output_norm.forward(&out)?;
        }
        Ok(xs)
    }
}

/// `DebertaV2ForSequenceClassification`'s head.
#[derive(Debug, Clone)]
pub(crate) struct DebertaHead {
    pooler: Linear,
    pooler_act: PoolerActivation,
    pooler_dropout: f64,
    classifier: Linear,
    /// `cls_dropout`, else `hidden_dropout_prob`.
    dropout_p: f64,
}

impl DebertaHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let o = DebertaOptions::of(c)?;
        Ok(Self {
            pooler: Linear::new(table, "pooler.dense")?,
            pooler_act: o.pooler_act,
            pooler_dropout: o.pooler_dropout,
            classifier: Linear::new(table, "classifier")?,
            dropout_p: c.head_dropout(),
        })
    }

    /// `ContextPooler`: dropout on [CLS], dense, `pooler_hidden_act`.
    pub fn pool(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let cls = dropout.apply(&first_token(hidden)?, self.pooler_dropout)?;
        self.pooler_act.apply(&self.pooler.forward(&cls)?)
    }

    pub fn forward(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let pooled = self.pool(hidden, dropout)?;
        let pooled = dropout.apply(&pooled, self.dropout_p)?;
        self.classifier.forward(&pooled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v3_json() -> Value {
        json!({
            "model_type": "deberta-v2", "vocab_size": 100, "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 64, "relative_attention": true, "position_buckets": 16,
            "pos_att_type": ["p2c", "c2p"], "share_att_key": true, "norm_rel_ebd": "layer_norm",
            "position_biased_input": false
        })
    }

    #[test]
    fn reads_v3_keys_with_hf_defaults() {
        let c = ModelConfig::from_json(v3_json()).unwrap();
        assert_eq!(c.type_vocab_size, 0);
        assert_eq!(c.pad_token_id, Some(0));
        assert_eq!(c.layer_norm_eps, 1e-7);
        let o = DebertaOptions::of(&c).unwrap();
        assert!(o.c2p && o.p2c && o.share_att_key && o.norm_rel_ebd);
        assert!(!o.position_biased_input);
        assert_eq!(
            o.relative,
            Some(RelativePositions {
                buckets: Some(16),
                max_relative_positions: 64
            })
        );
        assert_eq!(o.pooler_act, PoolerActivation::Hidden(Activation::Gelu));
        let mut list = SpecList::new();
        encoder_specs(&c, &mut list).unwrap();
        let rel = list
            .specs
            .iter()
            .find(|s| s.name == "deberta.encoder.rel_embeddings.weight")
            .unwrap();
        assert_eq!(rel.shape, [32, 8]);
        assert!(
            !list
                .specs
                .iter()
                .any(|s| s.name.contains("position_embeddings"))
        );
        assert!(!list.specs.iter().any(|s| s.name.contains("token_type")));
    }

    #[test]
    fn old_string_forms_and_unsupported_keys() {
        let mut v = v3_json();
        v["pos_att_type"] = json!("c2p|p2c");
        v["pad_token_id"] = Value::Null;
        v["share_att_key"] = json!(false);
        let c = ModelConfig::from_json(v).unwrap();
        assert_eq!(c.pad_token_id, None);
        let mut list = SpecList::new();
        encoder_specs(&c, &mut list).unwrap();
        assert!(
            list.specs
                .iter()
                .any(|s| s.name.ends_with("pos_key_proj.weight"))
        );
        assert!(
            list.specs
                .iter()
                .any(|s| s.name.ends_with("pos_query_proj.bias"))
        );

        let mut v = v3_json();
        v["conv_kernel_size"] = json!(3);
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(err.contains("conv_kernel_size"), "{err}");

        let mut v = v3_json();
        v["pos_att_type"] = json!(7);
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(err.contains("pos_att_type"), "{err}");
    }
}
