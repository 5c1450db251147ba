//! Multi-head self-attention shared by every encoder family.

use candle_core::{DType, Tensor};

use super::dropout::Dropout;
use super::error::Result;
use super::fused;
use super::fused_attention::{self, AttentionSpec, Segment};
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
    /// `Rows::FirstOnly`). Keys and values always come from every token. On the CPU in f32
    /// one fused op computes it all (`fused`; not under `WICK_NO_FUSED`); elsewhere packed rows
    /// are unpacked (zero at padding, which the mask hides) for the scores and the context.
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
        if fused::usable(&q) {
            return self.fused(&q, &k, &v, mask, dropout, rows, packing, (batch, seq));
        }
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

    /// The same attention as one fused CPU op (`fused_attention`): each sequence a segment of
    /// rows in the projections' own layout, packed rows without any mask.
    #[allow(clippy::too_many_arguments)]
    fn fused(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: &Tensor,
        dropout: &mut Dropout,
        rows: Rows,
        packing: Option<&Packing>,
        (batch, seq): (usize, usize),
    ) -> Result<Tensor> {
        let keys = |b: usize| match packing {
            Some(packing) => packing.row_range(b),
            None => b * seq..(b + 1) * seq,
        };
        let segments = (0..batch)
            .map(|b| Segment {
                queries: match rows {
                    Rows::All => keys(b),
                    Rows::FirstOnly => b..b + 1,
                },
                keys: keys(b),
            })
            .collect();
        // Packed rows are all real tokens; the padded layout keeps its additive mask.
        let key_bias = match packing {
            Some(_) => None,
            None => Some(mask.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?),
        };
        let spec = AttentionSpec {
            heads: self.heads,
            head_dim: self.head_dim,
            segments,
            key_bias,
            dropout: dropout.kernel_draw(self.dropout_p),
        };
        let flat = |t: &Tensor| -> Result<Tensor> {
            let width = t.dim(2)?;
            Ok(t.reshape((t.elem_count() / width, width))?)
        };
        let context = fused_attention::attention(&flat(q)?, &flat(k)?, &flat(v)?, spec)?;
        Ok(context.reshape(q.shape())?)
    }
}
