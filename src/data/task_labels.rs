//! What the label column says about the task, and the labels in the form each task trains on:
//! a class per row, a number per row, a set of classes per row, or a class per word aligned
//! to the word's sub-tokens.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use super::columns::ColumnMapping;
use super::error::{DataError, Result};
use super::labels::{self, LabelSet, as_ints, as_strings, label_array};
use super::read::RawSplit;
use crate::task::Task;

/// The task the data points to, and why, in words for the Data panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskGuess {
    pub task: Task,
    pub reason: String,
}

/// Reads the task off the column types: a list of classes beside a word list is token
/// classification, a list of classes per row is multi-label, a float is regression, anything
/// else one class per row.
pub fn guess_task(raw: &RawSplit, mapping: &ColumnMapping) -> Result<TaskGuess> {
    let label = label_array(raw, &mapping.label)?;
    let column = &mapping.label;
    let text_is_words = raw
        .table
        .column_by_name(&mapping.text)
        .is_some_and(|text| is_list(text.data_type()));
    let (task, reason) = if label.data_type().is_floating() {
        (
            Task::Regression,
            format!("`{column}` holds a number ({}) per row", label.data_type()),
        )
    } else if is_list(label.data_type()) && text_is_words {
        (
            Task::TokenClassification,
            format!(
                "`{column}` holds a class per word of the word list `{}`",
                mapping.text
            ),
        )
    } else if is_list(label.data_type()) {
        (
            Task::MultiLabelClassification,
            format!("`{column}` holds a list of classes per row"),
        )
    } else {
        (
            Task::SingleLabelClassification,
            format!("`{column}` holds one class per row"),
        )
    };
    Ok(TaskGuess { task, reason })
}

fn is_list(data_type: &DataType) -> bool {
    matches!(data_type, DataType::List(_) | DataType::LargeList(_))
}

/// Labels per row of a sequence-level task, before tokenization.
#[derive(Debug, Clone, PartialEq)]
pub enum RowLabels {
    Classes(Vec<u32>),
    Scores(Vec<f32>),
    ClassSets(Vec<Vec<u32>>),
}

/// The label column in the form a sequence-level `task` needs, every row checked: classes
/// against `labels`, numbers for regression. Token classification's tags come from
/// [`encode_word_tags`].
pub fn encode_for_task(
    raw: &RawSplit,
    column: &str,
    task: Task,
    labels: &LabelSet,
) -> Result<RowLabels> {
    match task {
        Task::SingleLabelClassification => Ok(RowLabels::Classes(labels::encode_labels(
            raw, column, labels,
        )?)),
        Task::Regression => Ok(RowLabels::Scores(scores(raw, column)?)),
        Task::MultiLabelClassification => {
            Ok(RowLabels::ClassSets(class_lists(raw, column, labels)?))
        }
        Task::TokenClassification => Err(DataError::Invalid(
            "token classification's tags are read per word (encode_word_tags)".into(),
        )),
    }
}

/// A tag per word for token classification, checked against `labels` and against each row's
/// word count (`word_counts`, from the word list column).
pub fn encode_word_tags(
    raw: &RawSplit,
    column: &str,
    labels: &LabelSet,
    word_counts: &[usize],
) -> Result<Vec<Vec<u32>>> {
    let tags = class_lists(raw, column, labels)?;
    for (row, (tags, &words)) in tags.iter().zip(word_counts).enumerate() {
        if words == 0 {
            let (path, at) = raw.locate(row);
            return Err(DataError::EmptyLabelList {
                path,
                at,
                column: column.into(),
            });
        }
        if tags.len() != words {
            let (path, at) = raw.locate(row);
            return Err(DataError::TagCountMismatch {
                path,
                at,
                column: column.into(),
                tags: tags.len(),
                words,
            });
        }
    }
    Ok(tags)
}

/// A number per row; text that does not parse as one is an error naming its row.
fn scores(raw: &RawSplit, column: &str) -> Result<Vec<f32>> {
    let array = label_array(raw, column)?;
    let not_a_number = |row: usize, value: String| {
        let (path, at) = raw.locate(row);
        DataError::NotANumber {
            path,
            at,
            column: column.into(),
            value,
        }
    };
    let null = |row: usize| {
        let (path, at) = raw.locate(row);
        DataError::NullLabel {
            path,
            at,
            column: column.into(),
        }
    };
    let values: Vec<Option<f64>> = if let Some(strings) = as_strings(&array) {
        strings
            .iter()
            .enumerate()
            .map(|(row, value)| match value {
                None => Ok(None),
                Some(text) => text
                    .trim()
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| not_a_number(row, format!("{text:?}"))),
            })
            .collect::<Result<_>>()?
    } else if array.data_type().is_numeric() {
        let cast = arrow::compute::cast(&array, &DataType::Float64)
            .map_err(|e| DataError::Invalid(format!("reading '{column}' as numbers: {e}")))?;
        cast.as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect()
    } else {
        return Err(DataError::WrongLabelForm {
            path: raw.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            found: array.data_type().to_string(),
            needs: "regression needs a number per row",
        });
    };
    values
        .into_iter()
        .enumerate()
        .map(|(row, value)| match value {
            None => Err(null(row)),
            Some(v) if !v.is_finite() => Err(not_a_number(row, v.to_string())),
            Some(v) => Ok(v as f32),
        })
        .collect()
}

/// A list of classes per row (ids in range, or names from `labels`).
fn class_lists(raw: &RawSplit, column: &str, labels: &LabelSet) -> Result<Vec<Vec<u32>>> {
    let array = label_array(raw, column)?;
    let (offsets, values) = match labels::list_parts(&array) {
        Some(parts) => parts,
        None => {
            return Err(DataError::WrongLabelForm {
                path: raw.source.files.first().cloned().unwrap_or_default(),
                column: column.into(),
                found: array.data_type().to_string(),
                needs: "multi-label and token classification need a list of classes per row",
            });
        }
    };
    let ids: Vec<Option<i64>> = if let Some(strings) = as_strings(values) {
        strings
            .iter()
            .map(|name| {
                name.map(|name| {
                    labels
                        .names
                        .iter()
                        .position(|n| n == name)
                        .map_or(-1, |i| i as i64)
                })
            })
            .collect()
    } else {
        as_ints(values).ok_or_else(|| DataError::BadLabelType {
            path: raw.source.files.first().cloned().unwrap_or_default(),
            column: column.into(),
            found: format!("a list of {}", values.data_type()),
        })?
    };
    let names = || as_strings(values);
    (0..array.len())
        .map(|row| {
            let located = || raw.locate(row);
            if array.is_null(row) {
                let (path, at) = located();
                return Err(DataError::NullLabel {
                    path,
                    at,
                    column: column.into(),
                });
            }
            ids[offsets[row]..offsets[row + 1]]
                .iter()
                .enumerate()
                .map(|(item, id)| match id {
                    Some(id) if (0..labels.len() as i64).contains(id) => Ok(*id as u32),
                    Some(_) if names().is_some() => {
                        let (path, at) = located();
                        let label = names()
                            .and_then(|n| n[offsets[row] + item].map(str::to_string))
                            .unwrap_or_default();
                        Err(DataError::UnknownLabel {
                            path,
                            at,
                            label,
                            names: labels.listing(),
                        })
                    }
                    Some(id) => {
                        let (path, at) = located();
                        Err(DataError::LabelOutOfRange {
                            path,
                            at,
                            label: *id,
                            num_labels: labels.len(),
                            names: labels.listing(),
                        })
                    }
                    None => {
                        let (path, at) = located();
                        Err(DataError::NullLabel {
                            path,
                            at,
                            column: column.into(),
                        })
                    }
                })
                .collect()
        })
        .collect()
}

/// For each class, the class its later word pieces get when every piece is labelled: a
/// `B-X` tag's `I-X` (as run_ner.py's `b_to_i_label`), the class itself otherwise.
pub fn inside_tags(names: &[String]) -> Vec<u32> {
    use super::tags::tag_parts;
    names
        .iter()
        .enumerate()
        .map(|(id, name)| match tag_parts(name) {
            (Some('B'), kind) => names
                .iter()
                .position(|n| tag_parts(n) == (Some('I'), kind))
                .unwrap_or(id) as u32,
            _ => id as u32,
        })
        .collect()
}

/// Labels per sub-token, the course's `align_labels_with_tokens`: special tokens (`word_id`
/// -1) get -100; a word's first piece gets its tag; later pieces get -100, or with
/// `label_all_tokens` the tag's inside form (`inside`, from [`inside_tags`]).
pub fn align_word_labels(
    word_ids: &[i32],
    tags: &[u32],
    label_all_tokens: bool,
    inside: &[u32],
) -> Vec<i32> {
    const IGNORED: i32 = -100;
    let mut previous = -1;
    word_ids
        .iter()
        .map(|&word| {
            let label = if word < 0 {
                IGNORED
            } else if word != previous {
                tags.get(word as usize).map_or(IGNORED, |&t| t as i32)
            } else if label_all_tokens {
                tags.get(word as usize).map_or(IGNORED, |&t| {
                    inside.get(t as usize).copied().unwrap_or(t) as i32
                })
            } else {
                IGNORED
            };
            previous = word;
            label
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_piece_of_a_word_carries_its_tag() {
        // [CLS] Hugging ##Face is in New York [SEP]: the course's chapter 7 example.
        let names: Vec<String> = ["O", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
            .map(String::from)
            .to_vec();
        let word_ids = [-1, 0, 0, 1, 2, 3, 4, -1];
        let tags = [1, 0, 0, 3, 4];
        let inside = inside_tags(&names);
        assert_eq!(inside, [0, 2, 2, 4, 4]);
        assert_eq!(
            align_word_labels(&word_ids, &tags, false, &inside),
            [-100, 1, -100, 0, 0, 3, 4, -100]
        );
        assert_eq!(
            align_word_labels(&word_ids, &tags, true, &inside),
            [-100, 1, 2, 0, 0, 3, 4, -100]
        );
    }
}
