//! The evaluation split's rows as [`Predictions`] for `predictions.json`: ids and
//! probabilities from an [`Evaluation`], texts from the split's original columns.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use serde_json::Value;

use super::evaluate::Evaluation;
use super::train_error::TrainError;
use crate::data::TokenizedSplit;
use crate::runs::{PredictionRow, Predictions};

/// Which weights made the predictions: their step and checkpoint folder name.
pub struct PredictedBy {
    pub step: u64,
    pub checkpoint: Option<String>,
}

/// `None` for the tasks whose rows `predictions.json` cannot hold yet (it has one class per
/// row).
pub fn split_predictions(
    split: &TokenizedSplit,
    evaluation: &Evaluation,
    by: PredictedBy,
) -> Result<Option<Predictions>, TrainError> {
    let Some(labels) = split.label_ids() else {
        return Ok(None);
    };
    let mapping = &split.meta.mapping;
    let texts = column_texts(split, &mapping.text)?;
    let pairs = mapping
        .text_pair
        .as_deref()
        .map(|column| column_texts(split, column))
        .transpose()?;
    let mut metrics = evaluation.metrics.to_log_entries("eval_");
    metrics.insert("eval_runtime".into(), Value::from(evaluation.runtime_s));
    let rows = (0..split.len())
        .map(|row| PredictionRow {
            row,
            label: labels[row],
            prediction: evaluation.predictions[row],
            probs: evaluation.probabilities[row].clone(),
            text: texts[row].clone(),
            text_pair: pairs.as_ref().map(|p| p[row].clone()),
        })
        .collect();
    Ok(Some(Predictions {
        split: split.meta.split.clone(),
        step: by.step,
        checkpoint: by.checkpoint,
        label_names: split.meta.labels.names.clone(),
        metrics,
        rows,
    }))
}

/// A text column as strings (any Arrow string or binary type; a null reads as "").
fn column_texts(split: &TokenizedSplit, column: &str) -> Result<Vec<String>, TrainError> {
    let array = split.table.column_by_name(column).ok_or_else(|| {
        TrainError::Invalid(format!(
            "split '{}': no column '{column}' to take texts from",
            split.meta.split
        ))
    })?;
    let strings = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| {
        TrainError::Invalid(format!(
            "split '{}': column '{column}' is not text: {e}",
            split.meta.split
        ))
    })?;
    let strings = strings.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| {
            if strings.is_null(i) {
                String::new()
            } else {
                strings.value(i).to_string()
            }
        })
        .collect())
}
