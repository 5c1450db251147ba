//! BERT-style encoder (also used by RoBERTa/XLM-R, which differ only in position ids and head)
//! and the BERT sequence-classification head: pooler dense + tanh on [CLS], dropout, linear.

use candle_core::{DType, Tensor};

use super::attention::SelfAttention;
use super::config::{Activation, ModelConfig};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::layers::{Embedding, LayerNorm, Linear, Rows, activation, first_token};
use super::packing::Packing;
use super::params::{ParamTable, SpecList};
use super::roberta;

/// Encoder tensors of BERT and RoBERTa, in HF state-dict order.
pub(crate) fn encoder_specs(c: &ModelConfig, list: &mut SpecList) {
    let p = c.architecture.prefix();
    let h = c.hidden_size;
    let position_pad = if c.is_roberta() { c.pad_token_id } else { None };
    list.embedding(
        &format!("{p}embeddings.word_embeddings"),
        c.vocab_size,
        h,
        c.pad_token_id,
    );
    list.embedding(
        &format!("{p}embeddings.position_embeddings"),
        c.max_position_embeddings,
        h,
        position_pad,
    );
    list.embedding(
        &format!("{p}embeddings.token_type_embeddings"),
        c.type_vocab_size,
        h,
        None,
    );
    list.layer_norm(&format!("{p}embeddings.LayerNorm"), h);
    for i in 0..c.num_hidden_layers {
        let l = format!("{p}encoder.layer.{i}.");
        list.linear(&format!("{l}attention.self.query"), h, h);
        list.linear(&format!("{l}attention.self.key"), h, h);
        list.linear(&format!("{l}attention.self.value"), h, h);
        list.linear(&format!("{l}attention.output.dense"), h, h);
        list.layer_norm(&format!("{l}attention.output.LayerNorm"), h);
        list.linear(&format!("{l}intermediate.dense"), h, c.intermediate_size);
        list.linear(&format!("{l}output.dense"), c.intermediate_size, h);
        list.layer_norm(&format!("{l}output.LayerNorm"), h);
    }
}

/// BERT head: the pooler (part of `bert.` in checkpoints) and the classifier.
pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) {
    list.start_head();
    list.linear(
        &format!("{}pooler.dense", c.architecture.prefix()),
        c.hidden_size,
        c.hidden_size,
    );
    list.linear("classifier", c.hidden_size, num_labels);
}

#[derive(Debug, Clone)]
struct Layer {
    attention: SelfAttention,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

#[derive(Debug, Clone)]
pub(crate) struct BertEncoder {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    act: Activation,
    hidden_dropout: f64,
    max_positions: usize,
    /// RoBERTa: positions count from `padding_idx + 1` and pads keep `padding_idx`.
    roberta_padding_idx: Option<u32>,
}

impl BertEncoder {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let p = c.architecture.prefix();
        let eps = c.layer_norm_eps;
        let roberta_padding_idx = if c.is_roberta() {
            Some(c.roberta_padding_idx()?)
        } else {
            None
        };
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = format!("{p}encoder.layer.{i}.");
                Ok(Layer {
                    attention: SelfAttention::new(
                        table,
                        [
                            &format!("{l}attention.self.query"),
                            &format!("{l}attention.self.key"),
                            &format!("{l}attention.self.value"),
                        ],
                        c.num_attention_heads,
                        c.head_dim(),
                        c.attention_probs_dropout_prob,
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
        Ok(Self {
            word: Embedding::new(
                table,
                &format!("{p}embeddings.word_embeddings"),
                c.pad_token_id,
            )?,
            position: Embedding::new(
                table,
                &format!("{p}embeddings.position_embeddings"),
                roberta_padding_idx,
            )?,
            token_type: Embedding::new(
                table,
                &format!("{p}embeddings.token_type_embeddings"),
                None,
            )?,
            norm: LayerNorm::new(table, &format!("{p}embeddings.LayerNorm"), eps)?,
            layers,
            act: c.hidden_act,
            hidden_dropout: c.hidden_dropout_prob,
            max_positions: c.max_position_embeddings,
            roberta_padding_idx,
        })
    }

    fn position_ids(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        let ids = match self.roberta_padding_idx {
            Some(pad) => roberta::position_ids(input_ids, pad)?,
            None => Tensor::arange(0u32, seq as u32, input_ids.device())?
                .unsqueeze(0)?
                .broadcast_as((batch, seq))?
                .contiguous()?,
        };
        let last = ids
            .max_keepdim(1)?
            .max_keepdim(0)?
            .flatten_all()?
            .to_vec1::<u32>()?;
        if let Some(&last) = last.first()
            && last as usize >= self.max_positions
        {
            return Err(ModelError::Input(format!(
                "sequence of {seq} tokens needs position {last}, but the model has only {} positions",
                self.max_positions
            )));
        }
        Ok(ids)
    }

    /// Last hidden state `[batch, seq, hidden]`, f32 (`[batch, 1, hidden]` when the last
    /// layer computes only the first token's row: `last_rows`). Matmuls, attention and
    /// activations run in `compute` (the `mask` must be in it too); embeddings, the residual
    /// stream and LayerNorm stay f32, as under torch autocast. With a `packing`, every
    /// layer runs on the real tokens only (`packing.rs`; attention unpacks them where it is
    /// not fused); padding comes out zero.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        mask: &Tensor,
        dropout: &mut Dropout,
        compute: DType,
        last_rows: Rows,
        packing: Option<&Packing>,
    ) -> Result<Tensor> {
        let positions = self.position_ids(input_ids)?;
        let pack = |ids: &Tensor| match packing {
            Some(packing) => packing.pack(ids),
            None => Ok(ids.clone()),
        };
        // HF adds token types first, then positions.
        let embeddings = ((self.word.forward(&pack(input_ids)?)?
            + self.token_type.forward(&pack(token_type_ids)?)?)?
            + self.position.forward(&pack(&positions)?)?)?;
        let mut xs = dropout.apply(&self.norm.forward(&embeddings)?, self.hidden_dropout)?;
        for (index, layer) in self.layers.iter().enumerate() {
            let rows = last_rows.for_layer(index, self.layers.len());
            let context =
                layer
                    .attention
                    .forward(&xs.to_dtype(compute)?, mask, dropout, rows, packing)?;
            let attended = dropout.apply_add(
                &layer.attention_out.forward(&context)?,
                &rows.select(&xs, packing)?,
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
        match (packing, last_rows) {
            (Some(packing), Rows::All) => packing.unpack(&xs),
            _ => Ok(xs),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BertHead {
    pooler: Linear,
    classifier: Linear,
    dropout_p: f64,
}

impl BertHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        Ok(Self {
            pooler: Linear::new(table, &format!("{}pooler.dense", c.architecture.prefix()))?,
            classifier: Linear::new(table, "classifier")?,
            dropout_p: c.head_dropout(),
        })
    }

    /// `tanh(dense(h[CLS]))`, BERT's `pooler_output`.
    pub fn pool(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.pooler.forward(&first_token(hidden)?)?.tanh()?)
    }

    pub fn forward(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let pooled = dropout.apply(&self.pool(hidden)?, self.dropout_p)?;
        self.classifier.forward(&pooled)
    }
}

/// Token types must be u32 and inside the type vocabulary; keeps the error readable.
pub(crate) fn check_token_types(token_type_ids: &Tensor, type_vocab_size: usize) -> Result<()> {
    if token_type_ids.dtype() != DType::U32 {
        return Err(ModelError::Input("token_type_ids must be u32".into()));
    }
    if token_type_ids.elem_count() == 0 {
        return Ok(());
    }
    let max = token_type_ids.flatten_all()?.max(0)?.to_scalar::<u32>()?;
    if max as usize >= type_vocab_size {
        return Err(ModelError::Input(format!(
            "token type {max} is outside type_vocab_size {type_vocab_size}"
        )));
    }
    Ok(())
}
