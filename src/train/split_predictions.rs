//! The evaluation split's rows as [`Predictions`] for `predictions.json`: each task's
//! outputs from an [`Evaluation`], gold answers from the split, texts (or words) from its
//! original columns.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use serde_json::Value;

use super::evaluate::{Evaluation, TaskOutputs};
use super::scores;
use super::train_error::TrainError;
use crate::data::TokenizedSplit;
use crate::runs::{
    ClassOutput, EntitySpan, LabelsOutput, PredictionRow, Predictions, RowOutput, ScoreOutput,
    TagsOutput,
};
use crate::task::Task;

/// Which weights made the predictions: their step and checkpoint folder name.
pub struct PredictedBy {
    pub step: u64,
    pub checkpoint: Option<String>,
}

/// The rows of `split` with what `evaluation` says of them. `word_ids` (token
/// classification, one per token of each row, -1 for special tokens) place each word's
/// first piece; without them, the labelled tokens are taken as the words' first pieces,
/// which they are unless every piece is labelled (`label_all_tokens`).
pub fn split_predictions(
    split: &TokenizedSplit,
    evaluation: &Evaluation,
    by: PredictedBy,
    word_ids: Option<&[Vec<i32>]>,
) -> Result<Predictions, TrainError> {
    let task = split.task();
    let mapping = &split.meta.mapping;
    let names = &split.meta.labels.names;
    let pairs = mapping
        .text_pair
        .as_deref()
        .map(|column| column_texts(split, column))
        .transpose()?;
    let mismatch = || {
        TrainError::Invalid(format!(
            "split '{}' is {} but its evaluation holds another task's outputs",
            split.meta.split,
            task.title()
        ))
    };
    let (outputs, texts, threshold, tuned_thresholds): (Vec<RowOutput>, Vec<String>, _, _) =
        match (task, &evaluation.outputs) {
            (Task::SingleLabelClassification, TaskOutputs::Classes) => {
                let labels = split.label_ids().ok_or_else(mismatch)?;
                let outputs = (0..split.len())
                    .map(|row| {
                        RowOutput::Class(ClassOutput {
                            label: labels[row],
                            prediction: evaluation.predictions[row],
                            probs: evaluation.probabilities[row].clone(),
                        })
                    })
                    .collect();
                (outputs, column_texts(split, &mapping.text)?, None, None)
            }
            (
                Task::MultiLabelClassification,
                TaskOutputs::Labels {
                    probabilities,
                    tuned_thresholds,
                },
            ) => {
                let outputs = (0..split.len())
                    .map(|row| {
                        RowOutput::Labels(labels_output(split.class_set(row), &probabilities[row]))
                    })
                    .collect();
                (
                    outputs,
                    column_texts(split, &mapping.text)?,
                    Some(scores::DEFAULT_THRESHOLD),
                    Some(tuned_thresholds.clone()),
                )
            }
            (Task::Regression, TaskOutputs::Scores(values)) => {
                let outputs = (0..split.len())
                    .map(|row| {
                        RowOutput::Score(ScoreOutput {
                            score: split.score(row).unwrap_or(f32::NAN),
                            predicted_score: values[row],
                        })
                    })
                    .collect();
                (outputs, column_texts(split, &mapping.text)?, None, None)
            }
            (Task::TokenClassification, TaskOutputs::Tags(predicted)) => {
                let words = column_words(split, &mapping.text)?;
                let scheme = scores::guess_scheme(names);
                let outputs = (0..split.len())
                    .map(|row| {
                        let (tags, predicted_tags) = word_tags(
                            split.token_labels(row),
                            &predicted[row],
                            word_ids.map(|ids| ids[row].as_slice()),
                        );
                        RowOutput::Tags(TagsOutput {
                            entities: entities(&tags, names, scheme),
                            predicted_entities: entities(&predicted_tags, names, scheme),
                            words: words[row].clone(),
                            tags,
                            predicted_tags,
                        })
                    })
                    .collect();
                let texts = words.iter().map(|w| w.join(" ")).collect();
                (outputs, texts, None, None)
            }
            _ => return Err(mismatch()),
        };
    let mut metrics = evaluation.metrics.to_log_entries("eval_");
    metrics.insert("eval_runtime".into(), Value::from(evaluation.runtime_s));
    let rows = outputs
        .into_iter()
        .zip(texts)
        .enumerate()
        .map(|(row, (output, text))| PredictionRow {
            row,
            output,
            text,
            text_pair: pairs.as_ref().map(|p| p[row].clone()),
        })
        .collect();
    Ok(Predictions {
        split: split.meta.split.clone(),
        step: by.step,
        checkpoint: by.checkpoint,
        label_names: names.clone(),
        metrics,
        task,
        threshold,
        tuned_thresholds,
        breakdown: evaluation.metrics.breakdown.clone(),
        rows,
    })
}

/// A multi-label row: its gold ids (sorted), each label's probability, and the labels at
/// or above [`scores::DEFAULT_THRESHOLD`] (as the metrics count a positive).
fn labels_output(gold: &[u32], probabilities: &[f32]) -> LabelsOutput {
    let mut labels = gold.to_vec();
    labels.sort_unstable();
    labels.dedup();
    LabelsOutput {
        labels,
        probs: probabilities.to_vec(),
        predicted: predicted_set(probabilities),
    }
}

fn predicted_set(probabilities: &[f32]) -> Vec<u32> {
    (0..probabilities.len() as u32)
        .filter(|&label| probabilities[label as usize] >= scores::DEFAULT_THRESHOLD)
        .collect()
}

/// Gold and predicted tag ids per word of one row. `labels` are the row's per-token labels
/// (-100: not scored), `predicted` the predictions at the labelled tokens in order; a
/// word's tags are its first piece's (from `word_ids` when given, else each labelled token
/// starts a word).
fn word_tags(labels: &[i32], predicted: &[u32], word_ids: Option<&[i32]>) -> (Vec<u32>, Vec<u32>) {
    let labelled: Vec<usize> = (0..labels.len()).filter(|&p| labels[p] >= 0).collect();
    // Each position's index among the labelled ones, found once rather than per word.
    let mut order = vec![None; labels.len()];
    for (i, &position) in labelled.iter().enumerate() {
        order[position] = Some(i);
    }
    let prediction_at = |position: usize| order[position].and_then(|i| predicted.get(i).copied());
    match word_ids {
        None => labelled
            .iter()
            .zip(predicted)
            .map(|(&position, &prediction)| (labels[position] as u32, prediction))
            .unzip(),
        Some(word_ids) => {
            let mut previous = -1;
            let mut tags = (Vec::new(), Vec::new());
            for (position, &word) in word_ids.iter().enumerate().take(labels.len()) {
                let starts_word = word >= 0 && word != previous;
                previous = word;
                if !starts_word {
                    continue;
                }
                // A first piece without a label (a tag past the word list) ends the words.
                match (labels[position], prediction_at(position)) {
                    (label, Some(prediction)) if label >= 0 => {
                        tags.0.push(label as u32);
                        tags.1.push(prediction);
                    }
                    _ => break,
                }
            }
            tags
        }
    }
}

/// The lenient entities of a row's tag ids, as the metrics read them.
fn entities(tags: &[u32], names: &[String], scheme: scores::TagScheme) -> Vec<EntitySpan> {
    let tags: Vec<String> = tags
        .iter()
        .map(|&id| names.get(id as usize).cloned().unwrap_or_default())
        .collect();
    scores::entity_spans(&tags, scheme)
        .into_iter()
        .map(|entity| EntitySpan {
            kind: entity.kind,
            start: entity.start,
            end: entity.end,
        })
        .collect()
}

/// A text column as strings (any Arrow string or binary type; a null reads as "").
fn column_texts(split: &TokenizedSplit, column: &str) -> Result<Vec<String>, TrainError> {
    let array = column_array(split, column)?;
    Ok(strings(split, column, array)?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// A list-of-words column (`tokens` in CoNLL-2003) as each row's words (a null reads as
/// no words).
pub(super) fn column_words(
    split: &TokenizedSplit,
    column: &str,
) -> Result<Vec<Vec<String>>, TrainError> {
    let array = column_array(split, column)?;
    let Some((offsets, values)) = crate::data::list_parts(array) else {
        return Err(TrainError::Invalid(format!(
            "split '{}': column '{column}' is {}, not a list of words",
            split.meta.split,
            array.data_type()
        )));
    };
    let words = strings(split, column, values)?;
    Ok((0..array.len())
        .map(|row| {
            if array.is_null(row) {
                return Vec::new();
            }
            words[offsets[row]..offsets[row + 1]]
                .iter()
                .map(|w| w.clone().unwrap_or_default())
                .collect()
        })
        .collect())
}

fn column_array<'a>(split: &'a TokenizedSplit, column: &str) -> Result<&'a ArrayRef, TrainError> {
    split.table.column_by_name(column).ok_or_else(|| {
        TrainError::Invalid(format!(
            "split '{}': no column '{column}' to take texts from",
            split.meta.split
        ))
    })
}

fn strings(
    split: &TokenizedSplit,
    column: &str,
    array: &ArrayRef,
) -> Result<Vec<Option<String>>, TrainError> {
    let strings = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| {
        TrainError::Invalid(format!(
            "split '{}': column '{column}' is not text: {e}",
            split.meta.split
        ))
    })?;
    let strings = strings.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IGNORED: i32 = -100;

    #[test]
    fn each_labelled_token_is_a_words_first_piece_by_default() {
        // [CLS] Hugging ##Face is in New York [SEP], the course's chapter 7 example, cut
        // after "New" by max_length: "York" has no tag.
        let labels = [IGNORED, 1, IGNORED, 0, 0, 3, IGNORED];
        let predicted = [1, 0, 0, 4];
        assert_eq!(
            word_tags(&labels, &predicted, None),
            (vec![1, 0, 0, 3], vec![1, 0, 0, 4])
        );
    }

    #[test]
    fn with_every_piece_labelled_the_word_ids_pick_the_first_pieces() {
        // label_all_tokens: "##Face" carries I-ORG (2) too, and its prediction is not the
        // word's.
        let word_ids = [-1, 0, 0, 1, 2, 3, 4, -1];
        let labels = [IGNORED, 1, 2, 0, 0, 3, 4, IGNORED];
        let predicted = [1, 0, 0, 0, 3, 0];
        assert_eq!(
            word_tags(&labels, &predicted, Some(&word_ids)),
            (vec![1, 0, 0, 3, 4], vec![1, 0, 0, 3, 0])
        );
        // A word cut by max_length after its first piece keeps that piece's tag.
        let word_ids = [-1, 0, 0, 1, -1];
        let labels = [IGNORED, 1, 2, 0, IGNORED];
        assert_eq!(
            word_tags(&labels, &[1, 2, 0], Some(&word_ids)),
            (vec![1, 0], vec![1, 0])
        );
    }

    #[test]
    fn a_multi_label_row_predicts_the_labels_at_or_above_one_half() {
        let row = labels_output(&[2, 0], &[0.5, 0.49, 0.9]);
        assert_eq!(row.labels, [0, 2]);
        assert_eq!(row.predicted, [0, 2]);
        assert_eq!(row.probs, [0.5, 0.49, 0.9]);
        assert!(labels_output(&[], &[0.1, 0.2]).predicted.is_empty());
    }

    #[test]
    fn entities_are_read_as_seqeval_reads_them() {
        let names: Vec<String> = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
            .map(String::from)
            .to_vec();
        let span = |kind: &str, start, end| EntitySpan {
            kind: kind.into(),
            start,
            end,
        };
        // B-PER I-PER O I-LOC B-LOC: a dangling I- starts an entity (lenient).
        assert_eq!(
            entities(&[1, 2, 0, 4, 3], &names, scores::TagScheme::Iob2),
            [span("PER", 0, 2), span("LOC", 3, 4), span("LOC", 4, 5)]
        );
        assert!(entities(&[0, 0], &names, scores::TagScheme::Iob2).is_empty());
    }
}
