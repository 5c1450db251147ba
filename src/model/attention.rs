//! Multi-head self-attention shared by every encoder family.

use candle_core::Tensor;

use super::dropout::Dropout;
use super::error::Result;
use super::layers::{Linear, Rows, softmax_last_dim};
use super::params::ParamTable;

#[derive(Debug, Clone)]
pub(crate) struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    heads: usize,
    head_dim: usize,
    dropout_p: f64,
}

impl SelfAttention {
    /// `names` are the query/key/value projection names (BERT `...self.query`, DistilBERT
    /// `...q_lin`).
    pub fn new(
        table: &ParamTable,
        names: [&str; 3],
        heads: usize,
        head_dim: usize,
        dropout_p: f64,
    ) -> Result<Self> {
        Ok(Self {
            query: Linear::new(table, names[0])?,
            key: Linear::new(table, names[1])?,
            value: Linear::new(table, names[2])?,
            heads,
            head_dim,
            dropout_p,
        })
    }

    /// `xs` `[batch, seq, hidden]`, `mask` additive `[batch, 1, 1, seq]`; returns the context
    /// `[batch, rows, hidden]` before the output projection, for the query `rows` (keys and
    /// values always come from every token).
    pub fn forward(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        dropout: &mut Dropout,
        rows: Rows,
    ) -> Result<Tensor> {
        let (batch, seq, hidden) = xs.dims3()?;
        let queries = rows.select(xs)?;
        let query_len = queries.dim(1)?;
        let split = |t: Tensor, len: usize| -> Result<Tensor> {
            Ok(t.reshape((batch, len, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(self.query.forward(&queries)?, query_len)?;
        let k = split(self.key.forward(xs)?, seq)?;
        let v = split(self.value.forward(xs)?, seq)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        let probs = softmax_last_dim(&scores)?;
        let probs = dropout.apply(&probs, self.dropout_p)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, query_len, hidden))?;
        Ok(context)
    }
}
