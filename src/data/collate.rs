//! `DataCollatorWithPadding`: pad each batch to its longest row (or to `max_length`), rounded up
//! to `pad_to_multiple_of`, and count what the padding costs.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::dataset::{SplitLabels, TokenizedSplit};
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
    pub labels: HostLabels,
    pub stats: PadStats,
}

/// A batch's labels, in the form its task's loss takes (in JSON, the values themselves; a
/// multi-hot batch as its class count and values).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HostLabels {
    /// A class id per row: u32 `[rows]`.
    Classes(Vec<u32>),
    /// A number per row: f32 `[rows]`.
    Scores(Vec<f32>),
    /// Multi-hot rows: f32 `[rows, classes]`.
    MultiHot { classes: usize, values: Vec<f32> },
    /// A class per token, padded with -100: i64 `[rows, seq_len]`.
    Tokens(Vec<i64>),
}

impl HostLabels {
    /// Row `i`'s class, when the batch has one class per row.
    pub fn class(&self, i: usize) -> Option<u32> {
        match self {
            HostLabels::Classes(ids) => ids.get(i).copied(),
            _ => None,
        }
    }

    /// Row `i`'s label in words: `label 1 = equivalent`, `score 3.80`, `labels joy, love`,
    /// or how many of its tokens carry a tag.
    pub fn describe_row(&self, i: usize, seq_len: usize, names: &[String]) -> String {
        let name = |id: usize| names.get(id).map_or("?", String::as_str);
        match self {
            HostLabels::Classes(ids) => format!("label {} = {}", ids[i], name(ids[i] as usize)),
            HostLabels::Scores(scores) => format!("score {:.3}", scores[i]),
            HostLabels::MultiHot { classes, values } => {
                let on: Vec<&str> = (0..*classes)
                    .filter(|&c| values[i * classes + c] > 0.5)
                    .map(name)
                    .collect();
                if on.is_empty() {
                    "no labels".into()
                } else {
                    format!("labels {}", on.join(", "))
                }
            }
            HostLabels::Tokens(values) => {
                let row = &values[i * seq_len..(i + 1) * seq_len];
                let tagged = row.iter().filter(|&&l| l >= 0).count();
                format!("{tagged} tokens tagged, the rest -100")
            }
        }
    }

    /// Labels of a batch of `size` copies of the batch's first row.
    pub fn repeat_first(&self, size: usize, seq_len: usize) -> HostLabels {
        match self {
            HostLabels::Classes(ids) => HostLabels::Classes(ids[..1].repeat(size)),
            HostLabels::Scores(scores) => HostLabels::Scores(scores[..1].repeat(size)),
            HostLabels::MultiHot { classes, values } => HostLabels::MultiHot {
                classes: *classes,
                values: values[..*classes].repeat(size),
            },
            HostLabels::Tokens(values) => HostLabels::Tokens(values[..seq_len].repeat(size)),
        }
    }

    /// Placeholder labels of the right form for one row of `seq_len` tokens (class 0,
    /// score 0, no labels, every token class 0), for timing a step on synthetic input.
    pub fn placeholder(task: crate::task::Task, classes: usize, seq_len: usize) -> HostLabels {
        use crate::task::Task;
        match task {
            Task::SingleLabelClassification => HostLabels::Classes(vec![0]),
            Task::Regression => HostLabels::Scores(vec![0.0]),
            Task::MultiLabelClassification => HostLabels::MultiHot {
                classes,
                values: vec![0.0; classes],
            },
            Task::TokenClassification => HostLabels::Tokens(vec![0; seq_len]),
        }
    }

    /// Row `i`'s label per token (token classification), -100 where none.
    pub fn token_row(&self, i: usize, seq_len: usize) -> Option<&[i64]> {
        match self {
            HostLabels::Tokens(values) => Some(&values[i * seq_len..(i + 1) * seq_len]),
            _ => None,
        }
    }
}

/// A batch on a device: `u32` tensors `[batch, seq]`, labels as [`HostLabels`] says.
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
            labels: collate_labels(split, rows, seq_len),
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

/// Labels padded like `DataCollatorForTokenClassification` (-100) and multi-hot encoded.
fn collate_labels(split: &TokenizedSplit, rows: &[usize], seq_len: usize) -> HostLabels {
    match split.labels() {
        SplitLabels::Classes(ids) => HostLabels::Classes(rows.iter().map(|&r| ids[r]).collect()),
        SplitLabels::Scores(scores) => {
            HostLabels::Scores(rows.iter().map(|&r| scores[r]).collect())
        }
        SplitLabels::ClassSets { .. } => {
            let classes = split.meta.labels.len();
            let mut values = vec![0.0; rows.len() * classes];
            for (i, &row) in rows.iter().enumerate() {
                for &class in split.class_set(row) {
                    values[i * classes + class as usize] = 1.0;
                }
            }
            HostLabels::MultiHot { classes, values }
        }
        SplitLabels::Tokens(_) => {
            let mut values = Vec::with_capacity(rows.len() * seq_len);
            for &row in rows {
                let labels = split.token_labels(row);
                values.extend(labels.iter().map(|&l| l as i64));
                values.extend(std::iter::repeat_n(-100, seq_len - labels.len()));
            }
            HostLabels::Tokens(values)
        }
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
            labels: match &self.labels {
                HostLabels::Classes(ids) => Tensor::from_slice(ids, self.rows.len(), device)?,
                HostLabels::Scores(scores) => Tensor::from_slice(scores, self.rows.len(), device)?,
                HostLabels::MultiHot { classes, values } => {
                    Tensor::from_slice(values, (self.rows.len(), *classes), device)?
                }
                HostLabels::Tokens(values) => Tensor::from_slice(values, shape, device)?,
            },
            rows: self.rows.clone(),
            stats: self.stats,
        })
    }
}
