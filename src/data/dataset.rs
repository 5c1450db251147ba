//! From a split request to a tokenized, labelled, cached table: the `datasets.map` step.

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, UInt8Array, UInt32Array};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema, UInt8Type, UInt32Type};
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
use super::tokenize::{TextTokenizer, TokenColumns, TokenizeOptions, tokenize};

/// Columns that tokenization adds next to the original ones.
pub const INPUT_IDS: &str = "input_ids";
pub const TOKEN_TYPE_IDS: &str = "token_type_ids";
pub const ATTENTION_MASK: &str = "attention_mask";
pub const LABELS: &str = "labels";
const ADDED: [&str; 4] = [INPUT_IDS, TOKEN_TYPE_IDS, ATTENTION_MASK, LABELS];

/// Schema metadata key holding [`SplitMeta`] in a cached table.
const META_KEY: &str = "wick";
/// Bumped whenever the cached table layout or tokenization semantics change.
const CACHE_FORMAT: u32 = 1;

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
    pub tokenizer: String,
    pub max_length: usize,
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
    labels: ScalarBuffer<u32>,
}

impl TokenizedSplit {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
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

    pub fn label(&self, row: usize) -> u32 {
        self.labels[row]
    }

    pub fn label_ids(&self) -> &[u32] {
        &self.labels
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

    /// Rows per class, in class-id order.
    pub fn class_balance(&self) -> Vec<usize> {
        labels::class_balance(&self.labels, self.meta.labels.len())
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
        let labels = table
            .column_by_name(LABELS)
            .and_then(|c| c.as_primitive_opt::<UInt32Type>())
            .ok_or_else(|| bad(LABELS))?
            .values()
            .clone();
        let offsets = ids_list.offsets().clone();
        // Row slicing below trusts these invariants; check them once here.
        if ids_list.offset() != 0
            || types_list.offsets() != &offsets
            || ids.len() != offsets.last() as usize
            || type_ids.len() != ids.len()
            || labels.len() != ids_list.len()
            || labels.iter().any(|&l| l as usize >= meta.labels.len())
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
    let label_set = match &request.labels {
        Some(names) => LabelSet {
            names: names.clone(),
            source: LabelSource::Given,
        },
        None => labels::label_set(raw, &mapping.label)?,
    };
    let label_ids = labels::encode_labels(raw, &mapping.label, &label_set)?;
    let first = text_column(raw, &mapping.text)?;
    let second = mapping
        .text_pair
        .as_deref()
        .map(|c| text_column(raw, c))
        .transpose()?;
    let tokens = tokenize(tokenizer, &first, second.as_deref(), options, progress)?;
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
        tokenizer: tokenizer.path().display().to_string(),
        max_length: options.resolved_max_length(tokenizer),
    };
    let table = with_token_columns(&raw.table, tokens, label_ids, &meta)?;
    Ok((table, meta))
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
    label_ids: Vec<u32>,
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
    let list = |item: &Arc<Field>, values: ArrayRef| -> Result<ArrayRef> {
        ListArray::try_new(item.clone(), offsets.clone(), values, None)
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| DataError::Invalid(format!("building token columns: {e}")))
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
        (LABELS, Arc::new(UInt32Array::from(label_ids))),
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
