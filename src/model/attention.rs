//! Multi-head self-attention shared by every encoder family.

use candle_core::Tensor;

use super::dropout::Dropout;
use super::error::Result;
use super::layers::{Linear, Rows, softmax_last_dim};
use super::packing::Packing;
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

    /// `xs` `[batch, seq, hidden]` (or packed `[1, n_real, hidden]` with its `packing`),
    /// `mask` additive `[batch, 1, 1, seq]`; returns the context before the output
    /// projection for the query `rows`, in `xs`'s layout (`[batch, 1, hidden]` for
    /// `Rows::FirstOnly`). Keys and values always come from every token; packed ones are
    /// unpacked (zero at padding, which the mask hides) for the scores and the context.
    pub fn forward(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        dropout: &mut Dropout,
        rows: Rows,
        packing: Option<&Packing>,
    ) -> Result<Tensor> {
        let hidden = xs.dim(2)?;
        let (batch, seq) = match packing {
            Some(packing) => packing.padded_dims(),
            None => (xs.dim(0)?, xs.dim(1)?),
        };
        let queries = rows.select(xs, packing)?;
        let (mut q, mut k, mut v) = (
            self.query.forward(&queries)?,
            self.key.forward(xs)?,
            self.value.forward(xs)?,
        );
        if let Some(packing) = packing {
            if rows == Rows::All {
                q = packing.unpack(&q)?;
            }
            k = packing.unpack(&k)?;
            v = packing.unpack(&v)?;
        }
        let query_len = q.dim(1)?;
        let split = |t: Tensor, len: usize| -> Result<Tensor> {
            Ok(t.reshape((batch, len, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(q, query_len)?;
        let k = split(k, seq)?;
        let v = split(v, seq)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?;
        let probs = softmax_last_dim(&scores)?;
        let probs = dropout.apply(&probs, self.dropout_p)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, query_len, hidden))?;
        match (packing, rows) {
            (Some(packing), Rows::All) => packing.pack(&context),
            _ => Ok(context),
        }
    }
}
