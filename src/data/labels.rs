//! Label names (from `ClassLabel` metadata or the data itself), label ids and class balance.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use serde::Serialize;
use std::collections::BTreeSet;

use super::error::{DataError, Result};
use super::read::RawSplit;

/// Where the label names came from; the Data panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// `ClassLabel` in the parquet schema metadata (`huggingface` key).
    ParquetMetadata,
    /// `class_label` in the dataset card's `dataset_info.features`.
    DatasetCard,
    /// Given by the caller (e.g. the training split's names reused for evaluation).
    Given,
    /// Sorted distinct values of a string label column, as `class_encode_column` does.
    DistinctStrings,
    /// Integer labels without names: `0..=max`.
    IntegerRange,
    /// A number per row (regression): one output, named after the column.
    Scores,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LabelSet {
    pub names: Vec<String>,
    pub source: LabelSource,
}

impl std::fmt::Display for LabelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LabelSource::ParquetMetadata => "ClassLabel from the parquet metadata",
            LabelSource::DatasetCard => "ClassLabel from the dataset card",
            LabelSource::Given => "given",
            LabelSource::DistinctStrings => "distinct values",
            LabelSource::IntegerRange => "integer labels without names",
            LabelSource::Scores => "a number per row",
        })
    }
}

impl LabelSet {
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub(crate) fn listing(&self) -> String {
        let shown: Vec<String> = self
            .names
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, n)| format!("{i}={n}"))
            .collect();
        let more = self.names.len().saturating_sub(10);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    }
}

/// Finds the label names for `column`: ClassLabel metadata first, then the card, then the data.
pub fn label_set(split: &RawSplit, column: &str) -> Result<LabelSet> {
    if let Some(names) = split
        .hf_metadata
        .as_deref()
        .and_then(|json| class_label_from_metadata(json, column))
    {
        return Ok(LabelSet {
            names,
            source: LabelSource::ParquetMetadata,
        });
    }
    let from_card = split.source.card_features.as_ref().and_then(|features| {
        features
            .iter()
            .find(|f| f.name == column && !f.class_names.is_empty())
            .map(|f| f.class_names.clone())
    });
    if let Some(names) = from_card {
        return Ok(LabelSet {
            names,
            source: LabelSource::DatasetCard,
        });
    }
    let array = label_array(split, column)?;
    let path = || split.source.files.first().cloned().unwrap_or_default();
    if array.data_type().is_floating() {
        return Ok(LabelSet {
            names: vec![column.to_string()],
            source: LabelSource::Scores,
        });
    }
    // A list per row (multi-label, or tags per word): the names of its items.
    let array = list_values(&array).unwrap_or(array);
    if let Some(strings) = as_strings(&array) {
        let names: BTreeSet<&str> = strings.iter().flatten().copied().collect();
        return Ok(LabelSet {
            names: names.into_iter().map(str::to_string).collect(),
            source: LabelSource::DistinctStrings,
        });
    }
    let ints = as_ints(&array).ok_or_else(|| DataError::BadLabelType {
        path: path(),
        column: column.into(),
        found: array.data_type().to_string(),
    })?;
    let max = ints.iter().flatten().copied().max().unwrap_or(0).max(0);
    Ok(LabelSet {
        names: (0..=max).map(|i| i.to_string()).collect(),
        source: LabelSource::IntegerRange,
    })
}

/// `{"info": {"features": {"label": {"_type": "ClassLabel", "names": [...]}}}}`, as written by
/// 🤗 Datasets (older versions omit `info`).
fn class_label_from_metadata(json: &str, column: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let features = value
        .get("info")
        .and_then(|i| i.get("features"))
        .or_else(|| value.get("features"))?;
    let mut feature = features.get(column)?;
    // `Sequence(ClassLabel)` (datasets 2-4) or `List(ClassLabel)` (datasets 5).
    if matches!(
        feature.get("_type").and_then(|t| t.as_str()),
        Some("Sequence" | "List" | "LargeList")
    ) {
        feature = feature.get("feature")?;
    }
    if feature.get("_type")?.as_str()? != "ClassLabel" {
        return None;
    }
    feature
        .get("names")?
        .as_array()?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

pub(crate) fn label_array(split: &RawSplit, column: &str) -> Result<ArrayRef> {
    split
        .table
        .column_by_name(column)
        .cloned()
        .ok_or_else(|| DataError::MissingColumn {
            path: split.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            available: split
                .table
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A list column's row offsets (row `i` is `values[offsets[i]..offsets[i + 1]]`) and its
/// flattened items; `None` for other columns.
pub fn list_parts(array: &ArrayRef) -> Option<(Vec<usize>, &ArrayRef)> {
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
            Some((offsets, list.values()))
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
            Some((offsets, list.values()))
        }
        _ => None,
    }
}

/// The items of a list column, flattened (`None` for other columns).
pub(crate) fn list_values(array: &ArrayRef) -> Option<ArrayRef> {
    match array.data_type() {
        DataType::List(_) => Some(array.as_list::<i32>().values().clone()),
        DataType::LargeList(_) => Some(array.as_list::<i64>().values().clone()),
        _ => None,
    }
}

pub(crate) fn as_strings(array: &ArrayRef) -> Option<Vec<Option<&str>>> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().iter().collect()),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().iter().collect()),
        DataType::Utf8View => Some(array.as_string_view().iter().collect()),
        _ => None,
    }
}

pub(crate) fn as_ints(array: &ArrayRef) -> Option<Vec<Option<i64>>> {
    if !array.data_type().is_integer() {
        return None;
    }
    let cast = arrow::compute::cast(array, &DataType::Int64).ok()?;
    Some(
        cast.as_primitive::<arrow::datatypes::Int64Type>()
            .iter()
            .collect(),
    )
}

/// Turns the label column into class ids, checking every row against `labels`.
pub fn encode_labels(split: &RawSplit, column: &str, labels: &LabelSet) -> Result<Vec<u32>> {
    let array = label_array(split, column)?;
    let null = |row: usize| {
        let (path, at) = split.locate(row);
        DataError::NullLabel {
            path,
            at,
            column: column.into(),
        }
    };
    if let Some(strings) = as_strings(&array) {
        return strings
            .iter()
            .enumerate()
            .map(|(row, value)| {
                let value = value.ok_or_else(|| null(row))?;
                labels
                    .names
                    .iter()
                    .position(|n| n == value)
                    .map(|i| i as u32)
                    .ok_or_else(|| {
                        let (path, at) = split.locate(row);
                        DataError::UnknownLabel {
                            path,
                            at,
                            label: value.into(),
                            names: labels.listing(),
                        }
                    })
            })
            .collect();
    }
    let ints = as_ints(&array).ok_or_else(|| DataError::BadLabelType {
        path: split.source.files.first().cloned().unwrap_or_default(),
        column: column.into(),
        found: array.data_type().to_string(),
    })?;
    ints.iter()
        .enumerate()
        .map(|(row, value)| {
            let value = value.ok_or_else(|| null(row))?;
            if (0..labels.len() as i64).contains(&value) {
                Ok(value as u32)
            } else {
                let (path, at) = split.locate(row);
                Err(DataError::LabelOutOfRange {
                    path,
                    at,
                    label: value,
                    num_labels: labels.len(),
                    names: labels.listing(),
                })
            }
        })
        .collect()
}

/// How many rows each class has, in class-id order.
pub fn class_balance(label_ids: &[u32], num_labels: usize) -> Vec<usize> {
    let mut counts = vec![0; num_labels];
    for &id in label_ids {
        if let Some(c) = counts.get_mut(id as usize) {
            *c += 1;
        }
    }
    counts
}
