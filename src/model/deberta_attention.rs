//! DeBERTa's disentangled self-attention: content-to-content scores plus content-to-position
//! (c2p) and position-to-content (p2c) scores read from shared relative-position embeddings
//! at log-bucketed relative distances, as transformers' `DisentangledSelfAttention`.

use candle_core::{Device, Tensor};

use super::dropout::Dropout;
use super::error::Result;
use super::layers::{Linear, softmax_last_dim};
use super::params::ParamTable;

/// HF `make_log_bucket_position` for one relative distance. Distances up to `buckets / 2` keep
/// their value; longer ones share log-spaced buckets up to `max_position`. Computed in f32,
/// as torch does, so that `ceil` lands on the same bucket.
pub(crate) fn log_bucket(relative: i64, buckets: usize, max_position: usize) -> i64 {
    let mid = (buckets / 2) as i64;
    let distance = relative.abs();
    if distance <= mid {
        return relative;
    }
    let log_base = (((max_position - 1) as f64 / mid as f64) as f32).ln();
    let scaled = (distance as f32 / mid as f32).ln() / log_base * (mid - 1) as f32;
    relative.signum() * (scaled.ceil() as i64 + mid)
}

/// How relative positions are bucketed and how many embedding rows each side has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RelativePositions {
    /// `position_buckets` when positive, else no bucketing.
    pub buckets: Option<usize>,
    /// `max_relative_positions`, or `max_position_embeddings` when the config says -1.
    pub max_relative_positions: usize,
}

impl RelativePositions {
    /// HF `att_span` (`pos_ebd_size`): the relative embedding table has twice this many rows.
    pub fn span(&self) -> usize {
        self.buckets.unwrap_or(self.max_relative_positions)
    }

    /// HF `build_relative_position`: query `i` to key `j` is `i - j`, bucketed.
    fn relative(&self, i: usize, j: usize) -> i64 {
        let relative = i as i64 - j as i64;
        match self.buckets {
            Some(buckets) => log_bucket(relative, buckets, self.max_relative_positions),
            None => relative,
        }
    }

    /// The gather indices `[batch, heads, seq, seq]` into the `2 * span` position scores:
    /// c2p reads `clamp(r(i, j) + span)`, p2c `clamp(-r(i, j) + span)` (transposed later).
    pub fn gather_indices(
        &self,
        batch: usize,
        heads: usize,
        seq: usize,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let span = self.span() as i64;
        let clamp = |v: i64| v.clamp(0, 2 * span - 1) as u32;
        let mut c2p = Vec::with_capacity(seq * seq);
        let mut p2c = Vec::with_capacity(seq * seq);
        for i in 0..seq {
            for j in 0..seq {
                let r = self.relative(i, j);
                c2p.push(clamp(r + span));
                p2c.push(clamp(-r + span));
            }
        }
        let expand = |values: Vec<u32>| -> Result<Tensor> {
            Ok(Tensor::from_vec(values, (1, 1, seq, seq), device)?
                .broadcast_as((batch, heads, seq, seq))?
                .contiguous()?)
        };
        Ok((expand(c2p)?, expand(p2c)?))
    }
}

/// What every layer's attention shares: the (normalised) relative embeddings and the gather
/// indices for this batch's sequence length.
#[derive(Debug, Clone)]
pub(crate) struct RelativeInputs {
    /// `[2 * span, hidden]`, f32.
    pub embeddings: Tensor,
    pub c2p_index: Tensor,
    pub p2c_index: Tensor,
}

#[derive(Debug, Clone)]
pub(crate) struct DisentangledAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    /// Projects relative embeddings into keys for c2p (`key_proj` when `share_att_key`).
    pos_key: Option<Linear>,
    /// Projects relative embeddings into queries for p2c (`query_proj` when shared).
    pos_query: Option<Linear>,
    heads: usize,
    head_dim: usize,
    /// HF `scaled_size_sqrt`: sqrt(head_dim * (1 + c2p + p2c)), also without relative
    /// attention.
    scale: f64,
    dropout_p: f64,
    /// Dropout on the relative embeddings (HF `pos_dropout`, `hidden_dropout_prob`).
    pos_dropout_p: f64,
}

/// Which relative terms a layer computes and how its position projections are named.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionKinds {
    pub relative: bool,
    pub c2p: bool,
    pub p2c: bool,
    pub share_att_key: bool,
}

impl DisentangledAttention {
    /// `prefix` is `...attention.self.`.
    pub fn new(
        table: &ParamTable,
        prefix: &str,
        kinds: AttentionKinds,
        heads: usize,
        head_dim: usize,
        dropout_p: f64,
        pos_dropout_p: f64,
    ) -> Result<Self> {
        let query = Linear::new(table, &format!("{prefix}query_proj"))?;
        let key = Linear::new(table, &format!("{prefix}key_proj"))?;
        let value = Linear::new(table, &format!("{prefix}value_proj"))?;
        let position_projection = |wanted: bool, shared: &Linear, own: &str| -> Result<_> {
            Ok(match (kinds.relative && wanted, kinds.share_att_key) {
                (false, _) => None,
                (true, true) => Some(shared.clone()),
                (true, false) => Some(Linear::new(table, &format!("{prefix}{own}"))?),
            })
        };
        let pos_key = position_projection(kinds.c2p, &key, "pos_key_proj")?;
        let pos_query = position_projection(kinds.p2c, &query, "pos_query_proj")?;
        let scale_factor = 1 + usize::from(kinds.c2p) + usize::from(kinds.p2c);
        // torch takes this square root in f32.
        let scale = ((head_dim * scale_factor) as f32).sqrt() as f64;
        Ok(Self {
            query,
            key,
            value,
            pos_key,
            pos_query,
            heads,
            head_dim,
            scale,
            dropout_p,
            pos_dropout_p,
        })
    }

    /// `xs` `[batch, seq, hidden]`; `mask` additive `[batch, 1, seq, seq]` (padded queries
    /// and keys both masked, as HF); `relative` when the model has relative attention.
    /// Returns the context `[batch, seq, hidden]` before the output projection.
    pub fn forward(
        &self,
        xs: &Tensor,
        mask: &Tensor,
        relative: Option<&RelativeInputs>,
        dropout: &mut Dropout,
    ) -> Result<Tensor> {
        let (batch, seq, hidden) = xs.dims3()?;
        let (heads, head_dim) = (self.heads, self.head_dim);
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, seq, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(self.query.forward(xs)?)?;
        let k = split(self.key.forward(xs)?)?;
        let v = split(self.value.forward(xs)?)?;
        let inv_scale = 1.0 / self.scale;
        let mut scores = (q.matmul(&k.t()?)? * inv_scale)?;
        if let Some(relative) = relative {
            let bias = self.relative_bias(&q, &k, relative, dropout)?;
            if let Some(bias) = bias {
                scores = (scores + bias)?;
            }
        }
        let scores = scores.broadcast_add(mask)?;
        let probs = dropout.apply(&softmax_last_dim(&scores)?, self.dropout_p)?;
        Ok(probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, seq, hidden))?)
    }

    /// HF `disentangled_attention_bias`: (c2p + p2c) / scale, `[batch, heads, seq, seq]`.
    fn relative_bias(
        &self,
        q: &Tensor,
        k: &Tensor,
        relative: &RelativeInputs,
        dropout: &mut Dropout,
    ) -> Result<Option<Tensor>> {
        let (batch, heads, seq, head_dim) = q.dims4()?;
        let embeddings = dropout
            .apply(&relative.embeddings, self.pos_dropout_p)?
            .to_dtype(q.dtype())?;
        let rows = embeddings.dim(0)?;
        let per_head = |projection: &Linear| -> Result<Tensor> {
            Ok(projection
                .forward(&embeddings)?
                .reshape((rows, heads, head_dim))?
                .transpose(0, 1)?
                .contiguous()?)
        };
        // Content `[batch, heads, seq, d]` against positions `[heads, rows, d]`, one matmul per
        // head over batch * seq rows: `[batch, heads, seq, rows]`.
        let against = |content: &Tensor, positions: &Tensor| -> Result<Tensor> {
            Ok(content
                .transpose(0, 1)?
                .contiguous()?
                .reshape((heads, batch * seq, head_dim))?
                .matmul(&positions.t()?)?
                .reshape((heads, batch, seq, rows))?
                .transpose(0, 1)?
                .contiguous()?)
        };
        let inv_scale = 1.0 / self.scale;
        let mut bias: Option<Tensor> = None;
        if let Some(pos_key) = &self.pos_key {
            let c2p = against(q, &per_head(pos_key)?)?.gather(&relative.c2p_index, 3)?;
            bias = Some((c2p * inv_scale)?);
        }
        if let Some(pos_query) = &self.pos_query {
            let p2c = against(k, &per_head(pos_query)?)?
                .gather(&relative.p2c_index, 3)?
                .transpose(2, 3)?;
            let p2c = (p2c * inv_scale)?;
            bias = Some(match bias {
                Some(c2p) => (c2p + p2c)?,
                None => p2c,
            });
        }
        Ok(bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For each bucket past `buckets / 2`, the first distance that falls in it, from torch
    /// (transformers 5.24 `make_log_bucket_position` over -max+1..max).
    fn first_distances(buckets: usize, max_position: usize) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut last = log_bucket(0, buckets, max_position);
        for d in 1..max_position as i64 {
            let b = log_bucket(d, buckets, max_position);
            assert_eq!(
                log_bucket(-d, buckets, max_position),
                -b,
                "odd symmetry at {d}"
            );
            if b != last && d > (buckets / 2) as i64 {
                out.push((d, b));
            }
            last = b;
        }
        out
    }

    #[test]
    fn log_buckets_match_torch() {
        assert_eq!(
            first_distances(16, 64),
            [
                (9, 9),
                (11, 10),
                (15, 11),
                (20, 12),
                (27, 13),
                (35, 14),
                (47, 15)
            ]
        );
        // deberta-v3-base: 256 buckets over 512 positions. Buckets 129..=255 start at:
        let starts: [i64; 127] = [
            129, 130, 131, 133, 134, 136, 137, 139, 140, 142, 143, 145, 146, 148, 150, 151, 153,
            155, 156, 158, 160, 161, 163, 165, 167, 169, 170, 172, 174, 176, 178, 180, 182, 184,
            186, 188, 190, 192, 194, 196, 198, 201, 203, 205, 207, 210, 212, 214, 216, 219, 221,
            224, 226, 229, 231, 234, 236, 239, 241, 244, 247, 249, 252, 255, 258, 260, 263, 266,
            269, 272, 275, 278, 281, 284, 287, 290, 294, 297, 300, 303, 307, 310, 313, 317, 320,
            324, 327, 331, 335, 338, 342, 346, 349, 353, 357, 361, 365, 369, 373, 377, 381, 385,
            390, 394, 398, 403, 407, 411, 416, 420, 425, 430, 434, 439, 444, 449, 454, 459, 464,
            469, 474, 479, 484, 490, 495, 500, 506,
        ];
        let want: Vec<(i64, i64)> = starts.iter().zip(129..).map(|(&d, b)| (d, b)).collect();
        assert_eq!(first_distances(256, 512), want);
        assert_eq!(log_bucket(511, 256, 512), 255);
    }

    #[test]
    fn gather_indices_clamp_to_the_table() {
        let positions = RelativePositions {
            buckets: None,
            max_relative_positions: 2,
        };
        let (c2p, p2c) = positions.gather_indices(1, 1, 4, &Device::Cpu).unwrap();
        let c2p = c2p.flatten_all().unwrap().to_vec1::<u32>().unwrap();
        let p2c = p2c.flatten_all().unwrap().to_vec1::<u32>().unwrap();
        // span 2, 4 rows: r + 2 clamped to 0..=3.
        assert_eq!(c2p[..4], [2, 1, 0, 0]);
        assert_eq!(c2p[12..], [3, 3, 3, 2]);
        assert_eq!(p2c[..4], [2, 3, 3, 3]);
    }
}
