//! DistilBERT encoder (no token types, no pooler) and its classification head:
//! `pre_classifier` + ReLU + dropout + `classifier` on [CLS].

use candle_core::{DType, Tensor};

use super::attention::SelfAttention;
use super::config::{Activation, ModelConfig};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::layers::first_token;
use super::layers::{Embedding, LayerNorm, Linear, Rows, activation};
use super::packing::Packing;
use super::params::{ParamTable, SpecList};

const P: &str = "distilbert.";

pub(crate) fn encoder_specs(c: &ModelConfig, list: &mut SpecList) {
    let h = c.hidden_size;
    list.embedding(
        &format!("{P}embeddings.word_embeddings"),
        c.vocab_size,
        h,
        c.pad_token_id,
    );
    list.embedding(
        &format!("{P}embeddings.position_embeddings"),
        c.max_position_embeddings,
        h,
        None,
    );
    list.layer_norm(&format!("{P}embeddings.LayerNorm"), h);
    for i in 0..c.num_hidden_layers {
        let l = format!("{P}transformer.layer.{i}.");
        for proj in ["q_lin", "k_lin", "v_lin", "out_lin"] {
            list.linear(&format!("{l}attention.{proj}"), h, h);
        }
        list.layer_norm(&format!("{l}sa_layer_norm"), h);
        list.linear(&format!("{l}ffn.lin1"), h, c.intermediate_size);
        list.linear(&format!("{l}ffn.lin2"), c.intermediate_size, h);
        list.layer_norm(&format!("{l}output_layer_norm"), h);
    }
}

pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) {
    list.start_head();
    list.linear("pre_classifier", c.hidden_size, c.hidden_size);
    list.linear("classifier", c.hidden_size, num_labels);
}

#[derive(Debug, Clone)]
struct Block {
    attention: SelfAttention,
    out_lin: Linear,
    sa_norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    output_norm: LayerNorm,
}

#[derive(Debug, Clone)]
pub(crate) struct DistilBertEncoder {
    word: Embedding,
    position: Embedding,
    norm: LayerNorm,
    blocks: Vec<Block>,
    act: Activation,
    dropout_p: f64,
    max_positions: usize,
}

impl DistilBertEncoder {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        let eps = c.layer_norm_eps;
        let blocks = (0..c.num_hidden_layers)
            .map(|i| {
                let l = format!("{P}transformer.layer.{i}.");
                Ok(Block {
                    attention: SelfAttention::new(
                        table,
                        [
                            &format!("{l}attention.q_lin"),
                            &format!("{l}attention.k_lin"),
                            &format!("{l}attention.v_lin"),
                        ],
                        c.num_attention_heads,
                        c.head_dim(),
                        c.attention_probs_dropout_prob,
                    )?,
                    out_lin: Linear::new(table, &format!("{l}attention.out_lin"))?,
                    sa_norm: LayerNorm::new(table, &format!("{l}sa_layer_norm"), eps)?,
                    lin1: Linear::new(table, &format!("{l}ffn.lin1"))?,
                    lin2: Linear::new(table, &format!("{l}ffn.lin2"))?,
                    output_norm: LayerNorm::new(table, &format!("{l}output_layer_norm"), eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word: Embedding::new(
                table,
                &format!("{P}embeddings.word_embeddings"),
                c.pad_token_id,
            )?,
            position: Embedding::new(table, &format!("{P}embeddings.position_embeddings"), None)?,
            norm: LayerNorm::new(table, &format!("{P}embeddings.LayerNorm"), eps)?,
            blocks,
            act: c.hidden_act,
            dropout_p: c.hidden_dropout_prob,
            max_positions: c.max_position_embeddings,
        })
    }

    /// Last hidden state, f32; see `BertEncoder::forward` for what runs in `compute` and
    /// what `last_rows` and `packing` do.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        mask: &Tensor,
        dropout: &mut Dropout,
        compute: DType,
        last_rows: Rows,
        packing: Option<&Packing>,
    ) -> Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
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
        let (ids, positions) = match packing {
            Some(packing) => (packing.pack(input_ids)?, packing.pack(&positions)?),
            None => (input_ids.clone(), positions),
        };
        let embeddings = (self.word.forward(&ids)? + self.position.forward(&positions)?)?;
        let mut xs = dropout.apply(&self.norm.forward(&embeddings)?, self.dropout_p)?;
        for (index, block) in self.blocks.iter().enumerate() {
            let rows = last_rows.for_layer(index, self.blocks.len());
            let context =
                block
                    .attention
                    .forward(&xs.to_dtype(compute)?, mask, dropout, rows, packing)?;
            let attended = block.out_lin.forward(&context)?.to_dtype(DType::F32)?;
            let sa = block
                .sa_norm
                .forward(&(attended + rows.select(&xs, packing)?)?)?;
            let inner = activation(&block.lin1.forward(&sa.to_dtype(compute)?)?, self.act)?;
            let ffn = dropout.apply_add(&block.lin2.forward(&inner)?, &sa, self.dropout_p)?;
            xs = block.output_norm.forward(&ffn)?;
        }
        match (packing, last_rows) {
            (Some(packing), Rows::All) => packing.unpack(&xs),
            _ => Ok(xs),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DistilBertHead {
    pre_classifier: Linear,
    classifier: Linear,
    dropout_p: f64,
}

impl DistilBertHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        Ok(Self {
            pre_classifier: Linear::new(table, "pre_classifier")?,
            classifier: Linear::new(table, "classifier")?,
            dropout_p: c.head_dropout(),
        })
    }

    pub fn forward(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let xs = self.pre_classifier.forward(&first_token(hidden)?)?.relu()?;
        let xs = dropout.apply(&xs, self.dropout_p)?;
        self.classifier.forward(&xs)
    }
}
