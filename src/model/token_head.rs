//! The token-classification head of BERT, RoBERTa/XLM-R and DistilBERT
//! (`*ForTokenClassification`): dropout, then one linear layer on every token.

use candle_core::Tensor;

use super::config::ModelConfig;
use super::dropout::Dropout;
use super::error::Result;
use super::layers::Linear;
use super::params::{ParamTable, SpecList};

pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) {
    list.start_head();
    list.linear("classifier", c.hidden_size, num_labels);
}

#[derive(Debug, Clone)]
pub(crate) struct TokenHead {
    classifier: Linear,
    dropout_p: f64,
}

impl TokenHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        Ok(Self {
            classifier: Linear::new(table, "classifier")?,
            dropout_p: c.token_head_dropout(),
        })
    }

    /// Logits `[batch, seq, labels]` from the last hidden state `[batch, seq, hidden]`.
    pub fn forward(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        self.classifier
            .forward(&dropout.apply(hidden, self.dropout_p)?)
    }
}
