//! `predictions.json`: the final model's prediction for every row of the evaluation split,
//! like the course's `trainer.predict(tokenized_datasets["validation"])`. The Runs panel
//! compares two runs row by row with it.
//!
//! ```json
//! {"split": "validation", "step": 918, "checkpoint": "checkpoint-918",
//!  "label_names": ["not_equivalent", "equivalent"], "metrics": {"eval_accuracy": 0.86},
//!  "rows": [{"row": 0, "label": 1, "prediction": 1, "probs": [0.1, 0.9],
//!            "text": "...", "text_pair": "..."}]}
//! ```

use super::RunsError;
use super::fsio::write_atomic;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::ErrorKind;
use std::path::Path;

pub const PREDICTIONS_FILE: &str = "predictions.json";

/// One evaluation row: its gold label id, the predicted id, and the class probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// Row index in the split, in dataset order.
    pub row: usize,
    pub label: u32,
    pub prediction: u32,
    /// Softmax of the logits, one per label name.
    pub probs: Vec<f32>,
    pub text: String,
    #[serde(default)]
    pub text_pair: Option<String>,
}

/// The content of `predictions.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    /// The split predicted, e.g. `validation`.
    pub split: String,
    /// The global step whose weights made the predictions.
    pub step: u64,
    /// The checkpoint folder holding those weights (`checkpoint-918`), if one was saved.
    pub checkpoint: Option<String>,
    pub label_names: Vec<String>,
    /// `eval_`-prefixed metrics over these rows (`eval_loss`, `eval_accuracy`, ...).
    pub metrics: Map<String, Value>,
    pub rows: Vec<PredictionRow>,
}

impl Predictions {
    /// Checks what the reader relies on: ids within the label names, one probability each.
    fn check(&self, path: &Path) -> Result<(), RunsError> {
        let classes = self.label_names.len();
        for row in &self.rows {
            if row.label as usize >= classes || row.prediction as usize >= classes {
                return Err(RunsError::invalid(
                    path,
                    format!(
                        "row {}: label {} / prediction {} outside the {classes} label names",
                        row.row, row.label, row.prediction
                    ),
                ));
            }
            if row.probs.len() != classes {
                return Err(RunsError::invalid(
                    path,
                    format!(
                        "row {}: {} probabilities for {classes} labels",
                        row.row,
                        row.probs.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Writes `run_dir/predictions.json` atomically.
pub fn write_predictions(run_dir: &Path, predictions: &Predictions) -> Result<(), RunsError> {
    let path = run_dir.join(PREDICTIONS_FILE);
    let bytes =
        serde_json::to_vec(predictions).map_err(|e| RunsError::invalid(&path, e.to_string()))?;
    write_atomic(&path, &bytes)
}

/// Reads `run_dir/predictions.json`; `Ok(None)` when the run has none (no eval split, still
/// training, or trained before Wick wrote predictions).
pub fn read_predictions(run_dir: &Path) -> Result<Option<Predictions>, RunsError> {
    let path = run_dir.join(PREDICTIONS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RunsError::io(&path)(e)),
    };
    let predictions: Predictions =
        serde_json::from_slice(&bytes).map_err(|e| RunsError::invalid(&path, e.to_string()))?;
    predictions.check(&path)?;
    Ok(Some(predictions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Predictions {
        Predictions {
            split: "validation".into(),
            step: 918,
            checkpoint: Some("checkpoint-918".into()),
            label_names: vec!["not_equivalent".into(), "equivalent".into()],
            metrics: json!({"eval_accuracy": 0.5}).as_object().unwrap().clone(),
            rows: vec![
                PredictionRow {
                    row: 0,
                    label: 1,
                    prediction: 1,
                    probs: vec![0.25, 0.75],
                    text: "a".into(),
                    text_pair: Some("b".into()),
                },
                PredictionRow {
                    row: 1,
                    label: 0,
                    prediction: 1,
                    probs: vec![0.5, 0.5],
                    text: "c".into(),
                    text_pair: None,
                },
            ],
        }
    }

    #[test]
    fn written_predictions_read_back_with_the_documented_keys() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_predictions(dir.path()).unwrap(), None);
        write_predictions(dir.path(), &sample()).unwrap();
        assert_eq!(read_predictions(dir.path()).unwrap(), Some(sample()));

        let raw: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(PREDICTIONS_FILE)).unwrap())
                .unwrap();
        let mut keys: Vec<&str> = raw
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "checkpoint",
                "label_names",
                "metrics",
                "rows",
                "split",
                "step"
            ]
        );
        assert_eq!(
            raw["rows"][1],
            json!({"row": 1, "label": 0, "prediction": 1, "probs": [0.5, 0.5],
                   "text": "c", "text_pair": null})
        );
    }

    #[test]
    fn a_bad_file_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PREDICTIONS_FILE), "{not json").unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(err.contains(PREDICTIONS_FILE), "{err}");

        let mut bad = sample();
        bad.rows[0].prediction = 2;
        write_predictions(dir.path(), &bad).unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("row 0") && err.contains("prediction 2"),
            "{err}"
        );
    }
}
