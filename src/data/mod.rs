//! Loading, tokenization, collation, cache: everything between "a dataset on disk" and "a batch
//! of tensors".
//!
//! The flow mirrors the course's `load_dataset` → `map(tokenize, batched=True)` →
//! `DataCollatorWithPadding`:
//! [`resolve_split`] finds the files, [`prepare_split`] reads, labels, tokenizes and caches
//! them, [`epoch_batches`] orders rows, and [`Collator`] pads them into a [`Batch`].

mod cache;
pub mod card;
mod collate;
mod columns;
mod dataset;
mod error;
mod holdout;
mod labels;
mod read;
mod sampler;
mod sentencepiece;
mod source;
mod spm_tokenizer;
mod stats;
pub mod tags;
mod task_labels;
mod tokenize;
mod wordpiece;

pub use cache::{CacheStatus, DatasetCache};
pub use collate::{Batch, Collator, HostBatch, HostLabels, PadStats, Padding};
pub use columns::{
    ColumnMapping, ColumnOverrides, GUESSED_LABEL_COLUMNS, GUESSED_TEXT_COLUMNS, GUESSED_TEXT_PAIRS,
};
pub use dataset::{
    SplitLabels, SplitMeta, SplitRequest, TokenizedSplit, prepare_split, split_source, tokenize_raw,
};
pub use error::{DataError, Result, RowLocation};
pub use holdout::{Holdout, hold_out, holdout_rows};
pub use labels::{LabelSet, LabelSource, class_balance, list_parts};
pub use read::{HF_METADATA_KEY, RawSplit, read_split};
pub use sampler::{Order, epoch_batches};
pub use source::{Format, SplitSource, list_configs, resolve_split, split_from_files};
pub use stats::{LengthBucket, LengthSummary, PaddingReport, length_histogram, padding_report};
pub use task_labels::{RowLabels, TaskGuess, align_word_labels, guess_task, inside_tags};
pub use tokenize::{
    DEFAULT_MAX_LENGTH, OffsetEncoding, TextTokenizer, TokenColumns, TokenizeOptions, tokenize,
    tokenize_words,
};
