//! What the Data panel previews, computed below the UI: the training split's columns and
//! guessed roles, and "Tokenize": the same preparation the trainer runs ([`RecipeInputs`])
//! through the tokenized-split cache, then the epoch's batches in the sampler's order, a
//! length histogram with the max_length cut, the class balance and the padding cost of three
//! batching strategies. Progress goes to a callback; the app turns it into its status bar.
//! The task the data points to is guessed from the columns' types alone, so the Data panel
//! says it (and why) as soon as the columns are read, and again for each choice of columns.

mod balance;

pub use balance::{Balance, SKEW_RATIO, ScoreBucket, ScoreSummary, Skew, TaskBalance};

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

use super::{RecipeInputs, TrainError, split_request, train_order};
use crate::data::{
    self, CacheStatus, Collator, ColumnMapping, ColumnOverrides, DatasetCache, LengthBucket,
    LengthSummary, Padding, PaddingReport, RawSplit, TaskGuess, TextTokenizer, TokenizedSplit,
};
use crate::hub::{self, EventSink, HubSettings};
use crate::recipe::TrainConfig;
use crate::task::Task;

/// Buckets of the length histogram.
const HISTOGRAM_BUCKETS: usize = 24;

/// Progress as `(detail, done, total)`; `total` is 0 when unknown.
pub type Progress = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// The training split's columns and the guessed roles.
#[derive(Debug, Clone)]
pub struct ColumnsView {
    pub columns: Vec<String>,
    /// The guess, or why nothing could be guessed.
    pub guess: Result<ColumnMapping, String>,
    pub rows: usize,
    /// The split's columns without their rows: all that guessing the task reads.
    pub shape: Option<RawSplit>,
}

impl ColumnsView {
    /// What the data says the task is for the recipe's columns (the guessed ones where
    /// the recipe names none); `None` until a text and a label column are known.
    pub fn task_guess(&self, recipe: &TrainConfig) -> Option<Result<TaskGuess, String>> {
        let shape = self.shape.as_ref()?;
        let guessed = self.guess.as_ref().ok();
        let mapping = ColumnMapping {
            text: recipe
                .text_column
                .clone()
                .or_else(|| guessed.map(|g| g.text.clone()))?,
            text_pair: recipe.text_pair_column.clone(),
            label: recipe
                .label_column
                .clone()
                .or_else(|| guessed.map(|g| g.label.clone()))?,
        };
        Some(data::guess_task(shape, &mapping).map_err(|e| e.to_string()))
    }
}

/// A Tokenize result: the prepared split (kept for stepping through batches) and the numbers.
#[derive(Debug)]
pub struct Tokenized {
    pub prepared: Arc<Prepared>,
    pub report: Report,
    pub first_batch: BatchView,
}

/// What batch stepping needs, shared with the jobs that collate batches.
pub struct Prepared {
    pub split: TokenizedSplit,
    pub tokenizer: TextTokenizer,
    pub collator: Collator,
    /// The epoch's batches, in the order training takes them.
    pub batches: Vec<Vec<usize>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("rows", &self.split.len())
            .field("batches", &self.batches.len())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    /// The recipe settings this was computed for (see [`signature`]).
    pub signature: String,
    pub cache_hit: bool,
    pub cache_detail: String,
    pub seconds: f64,
    pub rows: usize,
    pub split: String,
    pub max_length: usize,
    pub mapping: ColumnMapping,
    pub label_source: String,
    /// The task the split was prepared for, and why (the data's guess, or the recipe).
    pub task: Task,
    pub task_reason: String,
    pub summary: LengthSummary,
    pub histogram: Vec<LengthBucket>,
    /// Per class, and what else the task's balance view shows.
    pub balance: Balance,
    pub padding: PaddingReport,
    pub batch_size: usize,
    pub order: String,
}

/// One collated batch, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchView {
    pub index: usize,
    pub total: usize,
    pub seq_len: usize,
    pub real_tokens: usize,
    pub pad_tokens: usize,
    pub rows: Vec<RowView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowView {
    pub row: usize,
    /// The row's label in words (a class, a score, a set of labels, or a tag count).
    pub label: String,
    /// Token classification: each token's aligned label name, `None` for -100 (not trained
    /// on: special tokens, padding, later pieces of a word).
    pub token_labels: Option<Vec<Option<String>>>,
    pub pieces: Vec<String>,
    pub ids: Vec<u32>,
    pub attention_mask: Vec<u32>,
    pub type_ids: Vec<u32>,
}

impl RowView {
    /// Why token `t` is not trained on, for a -100 in the inspector; `None` when it is.
    pub fn ignored_because(&self, t: usize) -> Option<&'static str> {
        let labels = self.token_labels.as_ref()?;
        if labels.get(t)?.is_some() {
            return None;
        }
        Some(if self.attention_mask.get(t) == Some(&0) {
            "-100: not trained on (padding)"
        } else if self.pieces.get(t).is_some_and(|p| p.starts_with("##")) {
            "-100: not trained on (a later piece of a word)"
        } else {
            "-100: not trained on (a special token, or a later piece of a word)"
        })
    }
}

/// How the batch inspector pads (training always pads dynamically).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PreviewPadding {
    #[default]
    Dynamic,
    MaxLength,
}

/// The dataset, config and split the columns are read from; the columns are asked for again
/// when it changes.
pub fn columns_key(recipe: &TrainConfig) -> String {
    format!(
        "{}|{:?}|{}",
        recipe.dataset, recipe.dataset_config, recipe.train_split
    )
}

/// The recipe settings a preview depends on; a different one marks the preview stale.
pub fn signature(recipe: &TrainConfig, padding: PreviewPadding) -> String {
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}|{}|{:?}|{:?}|{:?}|{}",
        columns_key(recipe),
        recipe.model,
        recipe.text_column,
        recipe.text_pair_column,
        recipe.label_column,
        recipe.max_length,
        recipe.pad_to_multiple_of,
        recipe.group_by_length,
        recipe.per_device_train_batch_size,
        padding,
        recipe.resolved_data_seed(),
        recipe.dataloader_drop_last,
        recipe.holdout_percentage(),
        recipe.task,
        recipe.label_all_tokens,
    )
}

/// The training split's columns and guessed roles (downloading the split when needed;
/// `progress` hears about the download).
pub fn read_columns(
    cfg: &TrainConfig,
    settings: &HubSettings,
    progress: Progress,
) -> Result<ColumnsView, TrainError> {
    let request = split_request(cfg, settings, &cfg.train_split, None, Some(sink(progress)))?;
    let source = data::split_source(&request)?;
    let raw = data::read_split(&source)?;
    let columns = raw
        .table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let guess =
        ColumnMapping::resolve(&raw, &ColumnOverrides::default()).map_err(|e| e.to_string());
    let shape = RawSplit {
        source: raw.source.clone(),
        table: arrow::record_batch::RecordBatch::new_empty(raw.table.schema()),
        file_rows: Vec::new(),
        hf_metadata: raw.hf_metadata.clone(),
    };
    Ok(ColumnsView {
        columns,
        guess,
        rows: raw.num_rows(),
        shape: Some(shape),
    })
}

/// Tokenize: the trainer's preparation of the training split (through the tokenized-split
/// cache), then the preview's numbers and first batch. `progress` hears about downloads and
/// then `("tokenizing", rows done, rows)`.
pub fn tokenize_preview(
    cfg: &TrainConfig,
    settings: &HubSettings,
    padding: PreviewPadding,
    progress: Progress,
) -> Result<Tokenized, TrainError> {
    let started = Instant::now();
    let inputs = RecipeInputs::load(cfg, settings, Some(sink(progress.clone())))?;
    let cache = DatasetCache::in_datasets_cache(&settings.datasets_cache);
    let split = inputs.prepare_split(
        cfg,
        settings,
        &cfg.train_split,
        None,
        Some(&cache),
        Some(sink(progress.clone())),
        &|done, total| progress("tokenizing", done as u64, total as u64),
    )?;
    let split = super::inputs::rows_that_train(cfg, split)?;
    let seconds = started.elapsed().as_secs_f64();
    let training_collator = inputs.collator(cfg);
    let collator = Collator {
        padding: match padding {
            PreviewPadding::Dynamic => Padding::Longest,
            PreviewPadding::MaxLength => Padding::MaxLength,
        },
        ..training_collator.clone()
    };
    let batch_size = cfg.per_device_train_batch_size.max(1) as usize;
    let data_seed = cfg.resolved_data_seed();
    let lengths = split.lengths();
    let order = train_order(cfg, data_seed);
    let batches = data::epoch_batches(&lengths, batch_size, order, 0, cfg.dataloader_drop_last);
    let (cache_hit, cache_detail) = match &split.cache {
        CacheStatus::Hit { path } => (true, format!("read from {}", path.display())),
        CacheStatus::Miss { path, reason } => (
            false,
            match reason {
                Some(reason) => format!("tokenized and written to {} ({reason})", path.display()),
                None => format!("tokenized and written to {}", path.display()),
            },
        ),
        CacheStatus::Disabled => (false, "cache disabled".into()),
    };
    let report = Report {
        signature: signature(cfg, padding),
        cache_hit,
        cache_detail,
        seconds,
        rows: split.len(),
        split: cfg.train_split.clone(),
        max_length: split.meta.max_length,
        mapping: split.meta.mapping.clone(),
        label_source: split.meta.labels.source.to_string(),
        task: split.meta.task,
        task_reason: split.meta.task_reason.clone(),
        summary: LengthSummary::of(&lengths, split.meta.max_length),
        histogram: data::length_histogram(&lengths, HISTOGRAM_BUCKETS),
        balance: Balance::of(&split),
        padding: data::padding_report(&split, &training_collator, batch_size, data_seed),
        batch_size,
        order: match order {
            data::Order::GroupedByLength { .. } => "epoch 1, grouped by length".into(),
            _ => "epoch 1, shuffled".into(),
        },
    };
    let prepared = Arc::new(Prepared {
        split,
        tokenizer: inputs.tokenizer,
        collator,
        batches,
    });
    let first_batch = batch_view(&prepared, 0);
    Ok(Tokenized {
        prepared,
        report,
        first_batch,
    })
}

/// Download progress as `progress("downloading FILE", bytes, total)`.
fn sink(progress: Progress) -> EventSink {
    hub::download_progress_sink(move |detail, done, total| progress(&detail, done, total))
}

/// Collates batch `index` of the epoch and names its pieces.
pub fn batch_view(prepared: &Prepared, index: usize) -> BatchView {
    let total = prepared.batches.len();
    let index = index.min(total.saturating_sub(1));
    let rows = prepared.batches.get(index).cloned().unwrap_or_default();
    let batch = prepared.collator.collate(&prepared.split, &rows);
    let names = &prepared.split.meta.labels.names;
    let rows = (0..batch.len())
        .map(|i| {
            let ids = batch.row(&batch.input_ids, i).to_vec();
            RowView {
                row: batch.rows[i],
                label: batch.labels.describe_row(i, batch.seq_len, names),
                token_labels: batch.labels.token_row(i, batch.seq_len).map(|labels| {
                    labels
                        .iter()
                        .map(|&l| {
                            usize::try_from(l)
                                .ok()
                                .map(|l| names.get(l).cloned().unwrap_or_else(|| l.to_string()))
                        })
                        .collect()
                }),
                pieces: ids.iter().map(|&id| prepared.tokenizer.piece(id)).collect(),
                attention_mask: batch.row(&batch.attention_mask, i).to_vec(),
                type_ids: batch.row(&batch.token_type_ids, i).to_vec(),
                ids,
            }
        })
        .collect();
    BatchView {
        index,
        total,
        seq_len: batch.seq_len,
        real_tokens: batch.stats.real_tokens,
        pad_tokens: batch.stats.pad_tokens,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_changes_with_what_the_preview_depends_on() {
        let recipe = TrainConfig::default();
        let base = signature(&recipe, PreviewPadding::Dynamic);
        assert_ne!(base, signature(&recipe, PreviewPadding::MaxLength));
        let mut bigger = recipe.clone();
        bigger.per_device_train_batch_size += 1;
        assert_ne!(base, signature(&bigger, PreviewPadding::Dynamic));
        let mut lr = recipe.clone();
        lr.learning_rate *= 2.0;
        assert_eq!(base, signature(&lr, PreviewPadding::Dynamic));
        let mut task = recipe.clone();
        task.task = Some(Task::TokenClassification);
        assert_ne!(base, signature(&task, PreviewPadding::Dynamic));
        let mut all_tokens = recipe.clone();
        all_tokens.label_all_tokens = true;
        assert_ne!(base, signature(&all_tokens, PreviewPadding::Dynamic));
        let mut weights = recipe.clone();
        weights.class_weights = crate::recipe::ClassWeights::Balanced;
        assert_eq!(
            base,
            signature(&weights, PreviewPadding::Dynamic),
            "weights change the loss, not the batches"
        );
    }
}
