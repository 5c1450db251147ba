//! Unpadding: the linear layers, LayerNorm, dropout and the FFN run on the real tokens only,
//! packed into `[1, n_real, hidden]`. On the CPU in f32 attention takes each row's packed
//! tokens as one segment (`fused_attention`); elsewhere it unpacks keys, values and queries into the
//! padded `[batch, seq, hidden]` layout (padding rows zero, masked as before) and packs its
//! context back. Exact up to float rounding: a padded position never reaches a real one.
//! Packing and unpacking are `index_select`s, whose backward is candle's `index_add`.

use candle_core::{Device, Tensor};

use super::error::Result;

#[derive(Debug, Clone)]
pub(crate) struct Packing {
    /// Flat positions (`row * seq + column`) of the real tokens, row by row: `[n_real]`.
    real: Tensor,
    /// For each padded position its packed index, or `n_real` (a zero row) for padding:
    /// `[batch * seq]`.
    scatter: Tensor,
    /// The packed index of each row's first token: `[batch]`.
    firsts: Tensor,
    /// Each row's packed tokens: `row_starts[r]..row_starts[r + 1]`.
    row_starts: Vec<usize>,
    batch: usize,
    seq: usize,
    real_count: usize,
}

impl Packing {
    /// The packing of a u32 `attention_mask` `[batch, seq]`, or `None` where it would not be
    /// exact or would save nothing: a row whose first token is padding (first-token heads
    /// read position 0, whatever the mask), or a batch without padding.
    pub fn new(attention_mask: &Tensor) -> Result<Option<Self>> {
        let (batch, seq) = attention_mask.dims2()?;
        let rows = attention_mask.to_vec2::<u32>()?;
        if rows.iter().any(|row| row.first() == Some(&0)) || rows.iter().flatten().all(|m| *m != 0)
        {
            return Ok(None);
        }
        let real_count = rows.iter().flatten().filter(|m| **m != 0).count();
        let mut real = Vec::with_capacity(real_count);
        let mut scatter = Vec::with_capacity(batch * seq);
        let mut firsts = Vec::with_capacity(batch);
        let mut row_starts = Vec::with_capacity(batch + 1);
        for (r, row) in rows.iter().enumerate() {
            firsts.push(real.len() as u32);
            row_starts.push(real.len());
            for (c, m) in row.iter().enumerate() {
                if *m != 0 {
                    scatter.push(real.len() as u32);
                    real.push((r * seq + c) as u32);
                } else {
                    scatter.push(real_count as u32);
                }
            }
        }
        row_starts.push(real.len());
        let device: &Device = attention_mask.device();
        Ok(Some(Self {
            real: Tensor::from_vec(real, real_count, device)?,
            scatter: Tensor::from_vec(scatter, batch * seq, device)?,
            firsts: Tensor::from_vec(firsts, batch, device)?,
            row_starts,
            batch,
            seq,
            real_count,
        }))
    }

    /// The padded layout's `(batch, seq)`.
    pub fn padded_dims(&self) -> (usize, usize) {
        (self.batch, self.seq)
    }

    /// Row `r`'s tokens in the packed layout.
    pub fn row_range(&self, r: usize) -> std::ops::Range<usize> {
        self.row_starts[r]..self.row_starts[r + 1]
    }

    /// `[batch, seq, ...]` → `[1, n_real, ...]` (ids, positions or hidden states).
    pub fn pack(&self, xs: &Tensor) -> Result<Tensor> {
        let mut dims = xs.dims().to_vec();
        let flat_dims: Vec<usize> = [self.batch * self.seq]
            .into_iter()
            .chain(dims.drain(2..))
            .collect();
        let packed = xs.reshape(flat_dims)?.index_select(&self.real, 0)?;
        Ok(packed.unsqueeze(0)?)
    }

    /// `[1, n_real, hidden]` → `[batch, seq, hidden]`, zero at padding.
    pub fn unpack(&self, xs: &Tensor) -> Result<Tensor> {
        let hidden = xs.dim(2)?;
        let rows = xs.reshape((self.real_count, hidden))?;
        let zero = Tensor::zeros((1, hidden), xs.dtype(), xs.device())?;
        let padded = Tensor::cat(&[&rows, &zero], 0)?.index_select(&self.scatter, 0)?;
        Ok(padded.reshape((self.batch, self.seq, hidden))?)
    }

    /// Each row's first token from `[1, n_real, hidden]`: `[batch, 1, hidden]`.
    pub fn firsts(&self, xs: &Tensor) -> Result<Tensor> {
        let hidden = xs.dim(2)?;
        let rows = xs.reshape((self.real_count, hidden))?;
        Ok(rows
            .index_select(&self.firsts, 0)?
            .reshape((self.batch, 1, hidden))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_real_tokens_and_unpacks_with_zero_padding() {
        let device = &Device::Cpu;
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 0, 0], [1, 1, 1]], device).unwrap();
        let packing = Packing::new(&mask).unwrap().unwrap();
        let xs = Tensor::arange(0f32, 9.0, device)
            .unwrap()
            .reshape((3, 3, 1))
            .unwrap();
        let packed = packing.pack(&xs).unwrap();
        assert_eq!(packed.dims(), [1, 6, 1]);
        let flat: Vec<f32> = packed.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(flat, [0.0, 1.0, 3.0, 6.0, 7.0, 8.0]);
        let unpacked: Vec<f32> = packing
            .unpack(&packed)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(unpacked, [0.0, 1.0, 0.0, 3.0, 0.0, 0.0, 6.0, 7.0, 8.0]);
        let firsts: Vec<f32> = packing
            .firsts(&packed)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(firsts, [0.0, 3.0, 6.0]);
        let ranges: Vec<_> = (0..3).map(|r| packing.row_range(r)).collect();
        assert_eq!(ranges, [0..2, 2..3, 3..6]);
        let ids = Tensor::new(&[[5u32, 6, 0], [7, 0, 0], [8, 9, 10]], device).unwrap();
        let ids: Vec<u32> = packing
            .pack(&ids)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(ids, [5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn no_packing_without_padding_or_with_a_padded_first_token() {
        let device = &Device::Cpu;
        let full = Tensor::new(&[[1u32, 1], [1, 1]], device).unwrap();
        assert!(Packing::new(&full).unwrap().is_none());
        let left_padded = Tensor::new(&[[1u32, 1], [0, 1]], device).unwrap();
        assert!(Packing::new(&left_padded).unwrap().is_none());
    }
}
