//! `DataCollatorWithPadding`: pad each batch to its longest row (or to `max_length`), rounded up
//! to `pad_to_multiple_of`, and count what the padding costs.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::dataset::TokenizedSplit;
use super::error::Result;
use super::tokenize::TextTokenizer;

/// How far each batch is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// To the longest row of the batch (`padding="longest"`, the collator's default).
    #[default]
    Longest,
    /// To `max_length`, whatever the batch holds (`padding="max_length"`).
    MaxLength,
}

/// Real and pad tokens in a batch or an epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PadStats {
    pub real_tokens: usize,
    pub pad_tokens: usize,
}

impl PadStats {
    /// The fraction of the padded tensor that is padding.
    pub fn waste(&self) -> f64 {
        let total = self.real_tokens + self.pad_tokens;
        if total == 0 {
            0.0
        } else {
            self.pad_tokens as f64 / total as f64
        }
    }

    pub fn add(&mut self, other: PadStats) {
        self.real_tokens += other.real_tokens;
        self.pad_tokens += other.pad_tokens;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collator {
    pub padding: Padding,
    pub max_length: usize,
    pub pad_to_multiple_of: Option<usize>,
    pub pad_id: u32,
    pub pad_type_id: u32,
}

/// A padded batch in host memory, row-major `[rows, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// Dataset rows in this batch, in order.
    pub rows: Vec<usize>,
    pub seq_len: usize,
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    pub attention_mask: Vec<u32>,
    pub labels: Vec<u32>,
    pub stats: PadStats,
}

/// A batch on a device: `u32` tensors `[batch, seq]`, labels `[batch]`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
    pub labels: Tensor,
    pub rows: Vec<usize>,
    pub stats: PadStats,
}

impl Collator {
    /// Dynamic padding with the tokenizer's pad ids.
    pub fn new(tokenizer: &TextTokenizer, max_length: usize) -> Self {
        Collator {
            padding: Padding::Longest,
            max_length,
            pad_to_multiple_of: None,
            pad_id: tokenizer.pad_id(),
            pad_type_id: tokenizer.pad_type_id(),
        }
    }

    /// The padded length of a batch whose longest row has `longest` tokens.
    pub fn padded_length(&self, longest: usize) -> usize {
        let target = match self.padding {
            Padding::Longest => longest,
            Padding::MaxLength => self.max_length.max(longest),
        };
        match self.pad_to_multiple_of {
            Some(m) if m > 1 => target.div_ceil(m) * m,
            _ => target,
        }
    }

    /// The padding cost of a batch of these row lengths, without building it.
    pub fn stats_for(&self, lengths: impl Iterator<Item = usize> + Clone) -> PadStats {
        let rows = lengths.clone().count();
        let real: usize = lengths.clone().sum();
        let padded = self.padded_length(lengths.max().unwrap_or(0));
        PadStats {
            real_tokens: real,
            pad_tokens: padded * rows - real,
        }
    }

    pub fn collate(&self, split: &TokenizedSplit, rows: &[usize]) -> HostBatch {
        let longest = rows.iter().map(|&r| split.ids(r).len()).max().unwrap_or(0);
        let seq_len = self.padded_length(longest);
        let size = rows.len() * seq_len;
        let mut batch = HostBatch {
            rows: rows.to_vec(),
            seq_len,
            input_ids: Vec::with_capacity(size),
            token_type_ids: Vec::with_capacity(size),
            attention_mask: Vec::with_capacity(size),
            labels: rows.iter().map(|&r| split.label(r)).collect(),
            stats: PadStats::default(),
        };
        for &row in rows {
            let ids = split.ids(row);
            let pad = seq_len - ids.len();
            batch.input_ids.extend_from_slice(ids);
            batch
                .input_ids
                .extend(std::iter::repeat_n(self.pad_id, pad));
            batch
                .token_type_ids
                .extend(split.type_ids(row).iter().map(|&t| t as u32));
            batch
                .token_type_ids
                .extend(std::iter::repeat_n(self.pad_type_id, pad));
            batch
                .attention_mask
                .extend(std::iter::repeat_n(1, ids.len()));
            batch.attention_mask.extend(std::iter::repeat_n(0, pad));
            batch.stats.real_tokens += ids.len();
            batch.stats.pad_tokens += pad;
        }
        batch
    }
}

impl HostBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i` of a `[rows, seq_len]` field.
    pub fn row<'a>(&self, field: &'a [u32], i: usize) -> &'a [u32] {
        &field[i * self.seq_len..(i + 1) * self.seq_len]
    }

    pub fn to_device(&self, device: &Device) -> Result<Batch> {
        let shape = (self.rows.len(), self.seq_len);
        Ok(Batch {
            input_ids: Tensor::from_slice(&self.input_ids, shape, device)?,
            token_type_ids: Tensor::from_slice(&self.token_type_ids, shape, device)?,
            attention_mask: Tensor::from_slice(&self.attention_mask, shape, device)?,
            labels: Tensor::from_slice(&self.labels, self.rows.len(), device)?,
            rows: self.rows.clone(),
            stats: self.stats,
        })
    }
}
