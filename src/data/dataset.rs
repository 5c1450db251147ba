//! From a split request to a tokenized, labelled, cached table: the `datasets.map` step.

use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Int32Array, ListArray, RecordBatch, UInt8Array,
    UInt32Array,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Float32Type, Int32Type, Schema, UInt8Type, UInt32Type};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::cache::{CacheStatus, DatasetCache};
use super::columns::{ColumnMapping, ColumnOverrides};
use super::error::{DataError, Result};
use super::labels::{self, LabelSet, LabelSource};
use super::read::{RawSplit, read_split};
use super::source::{SplitSource, resolve_split, split_from_files};
use super::task_labels::{
    RowLabels, align_word_labels, encode_for_task, encode_word_tags, guess_task, inside_tags,
};
use super::tokenize::{TextTokenizer, TokenColumns, TokenizeOptions, tokenize, tokenize_words};
use crate::task::Task;

/// Columns that tokenization adds next to the original ones.
pub const INPUT_IDS: &str = "input_ids";
pub const TOKEN_TYPE_IDS: &str = "token_type_ids";
pub const ATTENTION_MASK: &str = "attention_mask";
/// The labels in the task's form. Not `labels`: a dataset's own label column is often named
/// that (GoEmotions), and it stays among the original columns.
pub const LABELS: &str = "wick_labels";
const ADDED: [&str; 4] = [INPUT_IDS, TOKEN_TYPE_IDS, ATTENTION_MASK, LABELS];

/// Schema metadata key holding [`SplitMeta`] in a cached table.
const META_KEY: &str = "wick";
/// Bumped whenever the cached table layout or tokenization semantics change.
const CACHE_FORMAT: u32 = 2;

/// Which split to load and how its columns map to roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitRequest {
    /// A file, a glob, or a Hub-layout dataset folder.
    pub data: String,
    pub config: Option<String>,
    pub split: String,
    pub columns: ColumnOverrides,
    /// Label names to use instead of discovering them; an evaluation split reuses the
    /// training split's so that ids agree.
    pub labels: Option<Vec<String>>,
    /// The split's files when they are already known (a Hub download); `data` is then the
    /// folder whose dataset card describes them.
    #[serde(default)]
    pub files: Vec<std::path::PathBuf>,
    /// The task; `None` reads it off the label column ([`guess_task`]).
    #[serde(default)]
    pub task: Option<Task>,
    /// Token classification: label every piece of a word, not only the first.
    #[serde(default)]
    pub label_all_tokens: bool,
}

/// What a tokenized split is, stored with it in the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitMeta {
    pub format: u32,
    pub fingerprint: String,
    pub files: Vec<String>,
    pub config: Option<String>,
    pub split: String,
    pub mapping: ColumnMapping,
    pub labels: LabelSet,
    pub task: Task,
    /// Why the data points to `task` (or that the recipe chose it).
    pub task_reason: String,
    pub tokenizer: String,
    pub max_length: usize,
}

/// The labels of a tokenized split, in the form its task trains on.
#[derive(Debug, Clone)]
pub enum SplitLabels {
    /// A class id per row.
    Classes(ScalarBuffer<u32>),
    /// A number per row.
    Scores(ScalarBuffer<f32>),
    /// Class ids per row: row `i` is `ids[offsets[i]..offsets[i + 1]]`.
    ClassSets {
        offsets: OffsetBuffer<i32>,
        ids: ScalarBuffer<u32>,
    },
    /// A class per token, aligned with `input_ids` (-100: not trained on).
    Tokens(ScalarBuffer<i32>),
}

/// A tokenized split: the original columns plus `input_ids`, `token_type_ids`,
/// `attention_mask` and `labels`, with fast row access for the collator.
#[derive(Debug, Clone)]
pub struct TokenizedSplit {
    pub table: RecordBatch,
    pub meta: SplitMeta,
    pub cache: CacheStatus,
    ids: ScalarBuffer<u32>,
    type_ids: ScalarBuffer<u8>,
    offsets: OffsetBuffer<i32>,
    labels: SplitLabels,
}

impl TokenizedSplit {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn task(&self) -> Task {
        self.meta.task
    }

    /// Token ids of row `row`.
    pub fn ids(&self, row: usize) -> &[u32] {
        let (start, end) = self.bounds(row);
        &self.ids[start..end]
    }

    pub fn type_ids(&self, row: usize) -> &[u8] {
        let (start, end) = self.bounds(row);
        &self.type_ids[start..end]
    }

    pub fn labels(&self) -> &SplitLabels {
        &self.labels
    }

    /// The class ids of a single-label split (`None` for other tasks).
    pub fn label_ids(&self) -> Option<&[u32]> {
        match &self.labels {
            SplitLabels::Classes(ids) => Some(ids),
            _ => None,
        }
    }

    /// Row `row`'s number (regression).
    pub fn score(&self, row: usize) -> Option<f32> {
        match &self.labels {
            SplitLabels::Scores(scores) => Some(scores[row]),
            _ => None,
        }
    }

    /// Row `row`'s classes (multi-label).
    pub fn class_set(&self, row: usize) -> &[u32] {
        match &self.labels {
            SplitLabels::ClassSets { offsets, ids } => {
                &ids[offsets[row] as usize..offsets[row + 1] as usize]
            }
            _ => &[],
        }
    }

    /// Row `row`'s label per token (token classification; -100 where not trained on).
    pub fn token_labels(&self, row: usize) -> &[i32] {
        match &self.labels {
            SplitLabels::Tokens(labels) => {
                let (start, end) = self.bounds(row);
                &labels[start..end]
            }
            _ => &[],
        }
    }

    /// Token count of each row (before padding).
    pub fn lengths(&self) -> Vec<usize> {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .collect()
    }

    pub fn total_tokens(&self) -> usize {
        self.ids.len()
    }

    /// Per class, in class-id order: rows of that class (single-label), rows having it
    /// (multi-label), or words tagged with it (token classification). Empty for regression.
    pub fn class_balance(&self) -> Vec<usize> {
        let classes = self.meta.labels.len();
        match &self.labels {
            SplitLabels::Classes(ids) => labels::class_balance(ids, classes),
            SplitLabels::Scores(_) => Vec::new(),
            SplitLabels::ClassSets { ids, .. } => labels::class_balance(ids, classes),
            SplitLabels::Tokens(labels) => {
                let trained: Vec<u32> = labels
                    .iter()
                    .filter(|&&l| l >= 0)
                    .map(|&l| l as u32)
                    .collect();
                labels::class_balance(&trained, classes)
            }
        }
    }

    /// The original columns with their Arrow types (without the tokenization columns).
    pub fn features(&self) -> Vec<(String, String)> {
        self.table
            .schema()
            .fields()
            .iter()
            .filter(|f| !ADDED.contains(&f.name().as_str()))
            .map(|f| (f.name().clone(), hf_dtype(f.data_type())))
            .collect()
    }

    /// The rows `rows`, in that order, as a split of their own named `split` (a held-out
    /// share of train, say).
    pub fn select(&self, rows: &[usize], split: &str) -> Result<TokenizedSplit> {
        let indices = UInt32Array::from_iter_values(rows.iter().map(|&row| row as u32));
        let table = arrow::compute::take_record_batch(&self.table, &indices)
            .map_err(|err| DataError::Invalid(format!("selecting rows of {split}: {err}")))?;
        let meta = SplitMeta {
            split: split.to_string(),
            ..self.meta.clone()
        };
        Self::from_table(table, meta, self.cache.clone())
    }

    fn bounds(&self, row: usize) -> (usize, usize) {
        (self.offsets[row] as usize, self.offsets[row + 1] as usize)
    }

    fn from_table(table: RecordBatch, meta: SplitMeta, cache: CacheStatus) -> Result<Self> {
        let bad = |what: &str| DataError::Cache {
            path: cache_path(&cache).into(),
            message: format!("the table has no valid '{what}' column"),
        };
        let list = |name: &str| -> Result<ListArray> {
            table
                .column_by_name(name)
                .and_then(|c| c.as_list_opt::<i32>())
                .cloned()
                .ok_or_else(|| bad(name))
        };
        let ids_list = list(INPUT_IDS)?;
        let types_list = list(TOKEN_TYPE_IDS)?;
        let ids = ids_list
            .values()
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| bad(INPUT_IDS))?
            .values()
            .clone();
        let type_ids = types_list
            .values()
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| bad(TOKEN_TYPE_IDS))?
            .values()
            .clone();
        let offsets = ids_list.offsets().clone();
        let column = table.column_by_name(LABELS).ok_or_else(|| bad(LABELS))?;
        let classes = meta.labels.len();
        let rows = ids_list.len();
        let (labels, labels_fit) = match meta.task {
            Task::SingleLabelClassification => {
                let ids = column
                    .as_primitive_opt::<UInt32Type>()
                    .ok_or_else(|| bad(LABELS))?
                    .values()
                    .clone();
                let fit = ids.len() == rows && ids.iter().all(|&l| (l as usize) < classes);
                (SplitLabels::Classes(ids), fit)
            }
            Task::Regression => {
                let scores = column
                    .as_primitive_opt::<Float32Type>()
                    .ok_or_else(|| bad(LABELS))?
                    .values()
                    .clone();
                let fit = scores.len() == rows;
                (SplitLabels::Scores(scores), fit)
            }
            Task::MultiLabelClassification => {
                let list = column.as_list_opt::<i32>().ok_or_else(|| bad(LABELS))?;
                let ids = list
                    .values()
                    .as_primitive_opt::<UInt32Type>()
                    .ok_or_else(|| bad(LABELS))?
                    .values()
                    .clone();
                let label_offsets = list.offsets().clone();
                let fit = list.offset() == 0
                    && list.len() == rows
                    && ids.len() == label_offsets.last() as usize
                    && ids.iter().all(|&l| (l as usize) < classes);
                (
                    SplitLabels::ClassSets {
                        offsets: label_offsets,
                        ids,
                    },
                    fit,
                )
            }
            Task::TokenClassification => {
                let list = column.as_list_opt::<i32>().ok_or_else(|| bad(LABELS))?;
                let labels = list
                    .values()
                    .as_primitive_opt::<Int32Type>()
                    .ok_or_else(|| bad(LABELS))?
                    .values()
                    .clone();
                let fit = list.offsets() == &offsets
                    && labels.len() == offsets.last() as usize
                    && labels
                        .iter()
                        .all(|&l| l == -100 || (0..classes as i32).contains(&l));
                (SplitLabels::Tokens(labels), fit)
            }
        };
        // Row slicing below trusts these invariants; check them once here.
        if ids_list.offset() != 0
            || types_list.offsets() != &offsets
            || ids.len() != offsets.last() as usize
            || type_ids.len() != ids.len()
            || !labels_fit
        {
            return Err(DataError::Cache {
                path: cache_path(&cache).into(),
                message: "token columns are inconsistent".into(),
            });
        }
        Ok(TokenizedSplit {
            table,
            meta,
            cache,
            ids,
            type_ids,
            offsets,
            labels,
        })
    }
}

/// The 🤗 Datasets name of an Arrow type (`string`, `int64`, ...), which users know.
fn hf_dtype(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Boolean => "bool".into(),
        other if other.is_primitive() => other.to_string().to_lowercase(),
        other => other.to_string(),
    }
}

fn cache_path(status: &CacheStatus) -> &Path {
    match status {
        CacheStatus::Hit { path } | CacheStatus::Miss { path, .. } => path,
        CacheStatus::Disabled => Path::new("(no cache)"),
    }
}

/// The files (and card features) a request names: its Hub files when known, else whatever
/// `data` resolves to. What [`prepare_split`] reads; the Data panel reads columns from it too.
pub fn split_source(request: &SplitRequest) -> Result<SplitSource> {
    if request.files.is_empty() {
        resolve_split(&request.data, request.config.as_deref(), &request.split)
    } else {
        split_from_files(
            &request.files,
            Path::new(&request.data),
            request.config.as_deref(),
            &request.split,
        )
    }
}

/// Loads, validates, labels and tokenizes a split, through the cache when one is given.
///
/// `progress(done, total)` reports tokenized rows.
pub fn prepare_split(
    request: &SplitRequest,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
    cache: Option<&DatasetCache>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TokenizedSplit> {
    let source = split_source(request)?;
    let max_length = options.resolved_max_length(tokenizer);
    let fingerprint = fingerprint(&source.files, request, tokenizer, max_length)?;

    let mut miss_reason = None;
    if let Some(cache) = cache {
        match cache.load(&fingerprint) {
            Ok(Some(table)) => match cached_meta(&table, &fingerprint) {
                Ok(meta) => {
                    let status = CacheStatus::Hit {
                        path: cache.path_for(&fingerprint),
                    };
                    match TokenizedSplit::from_table(table, meta, status) {
                        Ok(split) => return Ok(split),
                        Err(err) => miss_reason = Some(err.to_string()),
                    }
                }
                Err(reason) => miss_reason = Some(reason),
            },
            Ok(None) => {}
            Err(reason) => miss_reason = Some(reason),
        }
        if miss_reason.is_some() {
            cache.discard(&fingerprint);
        }
    }

    let raw = read_split(&source)?;
    let (table, meta) = tokenize_raw(
        &raw,
        request,
        tokenizer,
        options,
        fingerprint.clone(),
        progress,
    )?;
    let status = match cache {
        Some(cache) => CacheStatus::Miss {
            path: cache.store(&fingerprint, &table)?,
            reason: miss_reason,
        },
        None => CacheStatus::Disabled,
    };
    TokenizedSplit::from_table(table, meta, status)
}

/// The `map` step on a split already in memory: labels, texts, tokens, and the new table.
pub fn tokenize_raw(
    raw: &RawSplit,
    request: &SplitRequest,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
    fingerprint: String,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(RecordBatch, SplitMeta)> {
    let mapping = ColumnMapping::resolve(raw, &request.columns)?;
    let guess = guess_task(raw, &mapping)?;
    let (task, task_reason) = match request.task {
        Some(task) if task != guess.task => (
            task,
            format!(
                "set in the recipe (the data suggests {}: {})",
                guess.task.title(),
                guess.reason
            ),
        ),
        _ => (guess.task, guess.reason),
    };
    let label_set = match (&request.labels, task) {
        (Some(names), _) => LabelSet {
            names: names.clone(),
            source: LabelSource::Given,
        },
        // One output, whatever the column holds (floats, integer ratings, numeric text).
        (None, Task::Regression) => LabelSet {
            names: vec![mapping.label.clone()],
            source: LabelSource::Scores,
        },
        (None, _) => labels::label_set(raw, &mapping.label)?,
    };
    if task.per_token() && label_set.source == LabelSource::IntegerRange {
        // Entities are read off tag names (B-PER, I-PER, O): "0".."8" would make every
        // token an entity and the scores meaningless.
        return Err(DataError::Invalid(format!(
            "{}: the tags in '{}' are integers without names; token classification needs \
             them (O, B-PER, I-PER, ...): give the column ClassLabel names in the dataset \
             card or the parquet metadata, or write the tags as strings",
            raw.source
                .files
                .first()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            mapping.label
        )));
    }
    let (tokens, labels) = if task.per_token() {
        if let Some(pair) = &mapping.text_pair {
            return Err(DataError::Invalid(format!(
                "token classification reads one word list ('{}'); unset text_pair_column \
                 ('{pair}')",
                mapping.text
            )));
        }
        let words = word_lists(raw, &mapping.text)?;
        let counts: Vec<usize> = words.iter().map(Vec::len).collect();
        let tags = encode_word_tags(raw, &mapping.label, &label_set, &counts)?;
        let (tokens, word_ids) = tokenize_words(tokenizer, &words, options, progress)?;
        let inside = inside_tags(&label_set.names);
        let mut aligned = Vec::with_capacity(word_ids.len());
        for (row, tags) in tags.iter().enumerate() {
            let span = tokens.offsets[row] as usize..tokens.offsets[row + 1] as usize;
            aligned.extend(align_word_labels(
                &word_ids[span],
                tags,
                request.label_all_tokens,
                &inside,
            ));
        }
        (tokens, LabelColumn::Tokens(aligned))
    } else {
        let labels = encode_for_task(raw, &mapping.label, task, &label_set)?;
        let first = text_column(raw, &mapping.text)?;
        let second = mapping
            .text_pair
            .as_deref()
            .map(|c| text_column(raw, c))
            .transpose()?;
        let tokens = tokenize(tokenizer, &first, second.as_deref(), options, progress)?;
        (tokens, LabelColumn::Rows(labels))
    };
    let source = &raw.source;
    let meta = SplitMeta {
        format: CACHE_FORMAT,
        fingerprint,
        files: source
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        config: source.config.clone(),
        split: source.split.clone(),
        mapping,
        labels: label_set,
        task,
        task_reason,
        tokenizer: tokenizer.path().display().to_string(),
        max_length: options.resolved_max_length(tokenizer),
    };
    let table = with_token_columns(&raw.table, tokens, labels, &meta)?;
    Ok((table, meta))
}

/// Labels before they become the table's `labels` column.
enum LabelColumn {
    Rows(RowLabels),
    /// Per token, aligned with the token columns.
    Tokens(Vec<i32>),
}

/// The words of each row of a list-of-strings column (`tokens` in CoNLL-2003).
fn word_lists<'a>(raw: &'a RawSplit, column: &str) -> Result<Vec<Vec<&'a str>>> {
    let array = raw
        .table
        .column_by_name(column)
        .ok_or_else(|| DataError::MissingColumn {
            path: raw.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            available: String::new(),
        })?;
    let not_words = || DataError::NotWordList {
        path: raw.source.files.first().cloned().unwrap_or_default(),
        column: column.into(),
        found: array.data_type().to_string(),
    };
    let (offsets, values) = labels::list_parts(array).ok_or_else(not_words)?;
    let words: Vec<Option<&str>> = labels::as_strings(values).ok_or_else(not_words)?;
    (0..array.len())
        .map(|row| {
            let null = || {
                let (path, at) = raw.locate(row);
                DataError::NullText {
                    path,
                    at,
                    column: column.into(),
                }
            };
            if array.is_null(row) {
                return Err(null());
            }
            words[offsets[row]..offsets[row + 1]]
                .iter()
                .map(|w| w.ok_or_else(null))
                .collect()
        })
        .collect()
}

fn cached_meta(table: &RecordBatch, fingerprint: &str) -> Result<SplitMeta, String> {
    let json = table
        .schema()
        .metadata()
        .get(META_KEY)
        .cloned()
        .ok_or("no Wick metadata")?;
    let meta: SplitMeta =
        serde_json::from_str(&json).map_err(|e| format!("bad Wick metadata: {e}"))?;
    if meta.format != CACHE_FORMAT || meta.fingerprint != fingerprint {
        return Err("written by another version of Wick or for other inputs".into());
    }
    Ok(meta)
}

/// Content hashes of every data file and of the tokenizer, plus every parameter that changes
/// the result: a changed byte anywhere makes a new fingerprint.
fn fingerprint(
    files: &[std::path::PathBuf],
    request: &SplitRequest,
    tokenizer: &TextTokenizer,
    max_length: usize,
) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(format!("wick-tokenized-split/{CACHE_FORMAT}\n").as_bytes());
    for file in files {
        let handle = std::fs::File::open(file).map_err(|e| DataError::io(file, e))?;
        let mut file_hasher = blake3::Hasher::new();
        file_hasher
            .update_reader(handle)
            .map_err(|e| DataError::io(file, e))?;
        hasher.update(file_hasher.finalize().as_bytes());
    }
    let params = serde_json::json!({
        "config": request.config,
        "split": request.split,
        "columns": request.columns,
        "labels": request.labels,
        "task": request.task,
        "label_all_tokens": request.label_all_tokens,
        "tokenizer": tokenizer.file_hash(),
        "max_length": max_length,
        "truncation": "longest_first",
    });
    hasher.update(params.to_string().as_bytes());
    Ok(hasher.finalize().to_hex()[..32].to_string())
}

/// The text of `column`, row by row; a null or non-text cell is an error naming its row.
fn text_column<'a>(raw: &'a RawSplit, column: &str) -> Result<Vec<&'a str>> {
    let array = raw
        .table
        .column_by_name(column)
        .ok_or_else(|| DataError::MissingColumn {
            path: raw.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            available: String::new(),
        })?;
    let null = |row: usize| {
        let (path, at) = raw.locate(row);
        DataError::NullText {
            path,
            at,
            column: column.into(),
        }
    };
    let collect = |iter: &mut dyn Iterator<Item = Option<&'a str>>| {
        iter.enumerate()
            .map(|(row, v)| v.ok_or_else(|| null(row)))
            .collect::<Result<Vec<_>>>()
    };
    match array.data_type() {
        DataType::Utf8 => collect(&mut array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => collect(&mut array.as_string::<i64>().iter()),
        DataType::Utf8View => collect(&mut array.as_string_view().iter()),
        // Parquet files may store text as raw bytes; those must still be UTF-8.
        DataType::Binary | DataType::LargeBinary => {
            let cells: Vec<Option<&[u8]>> = match array.data_type() {
                DataType::Binary => array.as_binary::<i32>().iter().collect(),
                _ => array.as_binary::<i64>().iter().collect(),
            };
            cells
                .into_iter()
                .enumerate()
                .map(|(row, cell)| {
                    let bytes = cell.ok_or_else(|| null(row))?;
                    std::str::from_utf8(bytes).map_err(|err| {
                        let (path, at) = raw.locate(row);
                        DataError::NonUtf8Cell {
                            path,
                            at,
                            column: column.into(),
                            message: err.to_string(),
                        }
                    })
                })
                .collect()
        }
        other => Err(DataError::NotText {
            path: raw.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            found: other.to_string(),
        }),
    }
}

/// The original table plus the tokenization columns, with `meta` in the schema metadata.
fn with_token_columns(
    original: &RecordBatch,
    tokens: TokenColumns,
    labels: LabelColumn,
    meta: &SplitMeta,
) -> Result<RecordBatch> {
    let schema = original.schema();
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in schema.fields().iter().zip(original.columns()) {
        // A pre-tokenized dataset's own token columns are replaced, not duplicated.
        if !ADDED.contains(&field.name().as_str()) {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(tokens.offsets));
    let item_u32 = Arc::new(Field::new("item", DataType::UInt32, false));
    let item_u8 = Arc::new(Field::new("item", DataType::UInt8, false));
    let mask = vec![1u8; tokens.ids.len()];
    let list_with = |offsets: &OffsetBuffer<i32>, item: &Arc<Field>, values: ArrayRef| {
        ListArray::try_new(item.clone(), offsets.clone(), values, None)
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| DataError::Invalid(format!("building token columns: {e}")))
    };
    let list = |item: &Arc<Field>, values: ArrayRef| list_with(&offsets, item, values);
    let labels: ArrayRef = match labels {
        LabelColumn::Rows(RowLabels::Classes(ids)) => Arc::new(UInt32Array::from(ids)),
        LabelColumn::Rows(RowLabels::Scores(scores)) => Arc::new(Float32Array::from(scores)),
        LabelColumn::Rows(RowLabels::ClassSets(sets)) => {
            let set_offsets = OffsetBuffer::from_lengths(sets.iter().map(Vec::len));
            let ids: Vec<u32> = sets.into_iter().flatten().collect();
            list_with(&set_offsets, &item_u32, Arc::new(UInt32Array::from(ids)))?
        }
        LabelColumn::Tokens(aligned) => {
            let item_i32 = Arc::new(Field::new("item", DataType::Int32, false));
            list(&item_i32, Arc::new(Int32Array::from(aligned)))?
        }
    };
    let added: [(&str, ArrayRef); 4] = [
        (
            INPUT_IDS,
            list(&item_u32, Arc::new(UInt32Array::from(tokens.ids)))?,
        ),
        (
            TOKEN_TYPE_IDS,
            list(&item_u8, Arc::new(UInt8Array::from(tokens.type_ids)))?,
        ),
        (
            ATTENTION_MASK,
            list(&item_u8, Arc::new(UInt8Array::from(mask)))?,
        ),
        (LABELS, labels),
    ];
    for (name, column) in added {
        fields.push(Arc::new(Field::new(
            name,
            column.data_type().clone(),
            false,
        )));
        columns.push(column);
    }
    let metadata = HashMap::from([(
        META_KEY.to_string(),
        serde_json::to_string(meta).map_err(|e| DataError::Invalid(e.to_string()))?,
    )]);
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, metadata)),
        columns,
    )
    .map_err(|e| DataError::Invalid(format!("building the tokenized table: {e}")))
}
