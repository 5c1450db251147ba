//! `predictions.json`: the final model's prediction for every row of the evaluation split,
//! like the course's `trainer.predict(tokenized_datasets["validation"])`. The Runs panel
//! compares two runs row by row with it.
//!
//! A row holds what its task predicts. Single-label (the header has no `task`, as files
//! written before the other tasks):
//!
//! ```json
//! {"split": "validation", "step": 918, "checkpoint": "checkpoint-918",
//!  "label_names": ["not_equivalent", "equivalent"], "metrics": {"eval_accuracy": 0.86},
//!  "rows": [{"row": 0, "label": 1, "prediction": 1, "probs": [0.1, 0.9],
//!            "text": "...", "text_pair": "..."}]}
//! ```
//!
//! The other tasks name themselves in the header (`"task": "regression"`) and their rows
//! carry, besides `row`, `text` and `text_pair`:
//! - multi-label: `labels` (the gold ids), `probs` (each label's sigmoid) and `predicted`
//!   (the ids at the header's `threshold`, 0.5); the header adds `tuned_thresholds`, each
//!   label's threshold tuned on this split;
//! - regression: `score` (gold) and `predicted_score`;
//! - token classification: `words`, `tags` and `predicted_tags` (label ids per word; a word's
//!   prediction is its first piece's, as the metrics score it; words cut off by `max_length`
//!   have none, so the tags may be fewer than the words), and the entity spans over those
//!   words, `entities` (gold) and `predicted_entities` (`{"kind", "start", "end"}`, word
//!   indices, end exclusive); `text` is the words joined by spaces.

use super::RunsError;
use super::fsio::write_atomic;
use crate::task::Task;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::io::ErrorKind;
use std::path::Path;

pub const PREDICTIONS_FILE: &str = "predictions.json";

/// One evaluation row: its index, what the model said about it, and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionRow {
    /// Row index in the split, in dataset order.
    pub row: usize,
    /// The task's gold answer and prediction (its keys sit beside `row` in the file).
    #[serde(flatten)]
    pub output: RowOutput,
    pub text: String,
    pub text_pair: Option<String>,
}

impl PredictionRow {
    /// The single-label part, `None` for rows of other tasks.
    pub fn class(&self) -> Option<&ClassOutput> {
        match &self.output {
            RowOutput::Class(class) => Some(class),
            _ => None,
        }
    }
}

/// A row's gold answer and prediction, per task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RowOutput {
    Class(ClassOutput),
    Labels(LabelsOutput),
    Score(ScoreOutput),
    Tags(TagsOutput),
}

impl RowOutput {
    pub fn task(&self) -> Task {
        match self {
            RowOutput::Class(_) => Task::SingleLabelClassification,
            RowOutput::Labels(_) => Task::MultiLabelClassification,
            RowOutput::Score(_) => Task::Regression,
            RowOutput::Tags(_) => Task::TokenClassification,
        }
    }
}

/// Single-label: the gold label id, the predicted id, and the class probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassOutput {
    pub label: u32,
    pub prediction: u32,
    /// Softmax of the logits, one per label name.
    pub probs: Vec<f32>,
}

/// Multi-label: the gold label ids, each label's probability, and the ids predicted at the
/// file's `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsOutput {
    pub labels: Vec<u32>,
    /// Sigmoid of each label's logit, one per label name.
    pub probs: Vec<f32>,
    pub predicted: Vec<u32>,
}

/// Regression: the gold score and the predicted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOutput {
    #[serde(deserialize_with = "number_or_nan")]
    pub score: f32,
    #[serde(deserialize_with = "number_or_nan")]
    pub predicted_score: f32,
}

/// Token classification: the words, gold and predicted tag ids per scored word, and the
/// entities both make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagsOutput {
    pub words: Vec<String>,
    /// One per scored word: the first `tags.len()` words (later ones were cut off by
    /// `max_length`).
    pub tags: Vec<u32>,
    pub predicted_tags: Vec<u32>,
    pub entities: Vec<EntitySpan>,
    pub predicted_entities: Vec<EntitySpan>,
}

/// An entity over words `start..end` (end exclusive) of type `kind` (`PER`, `LOC`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntitySpan {
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

/// What a [`Breakdown`]'s rows are: entity types, labels or classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakdownKind {
    /// Token classification: seqeval's scores per entity type.
    EntityTypes,
    /// Multi-label: each label's scores at its threshold tuned on the eval split.
    Labels,
    /// Single-label: each class's one-vs-rest scores.
    Classes,
}

impl BreakdownKind {
    /// The table's title.
    pub fn title(self) -> &'static str {
        match self {
            BreakdownKind::EntityTypes => "Per entity type",
            BreakdownKind::Labels => "Per label (threshold tuned on eval)",
            BreakdownKind::Classes => "Per class",
        }
    }

    /// The header of the name column.
    pub fn noun(self) -> &'static str {
        match self {
            BreakdownKind::EntityTypes => "type",
            BreakdownKind::Labels => "label",
            BreakdownKind::Classes => "class",
        }
    }

    /// The noun for `n` rows of this kind: "class" for 1, "classes" for 3, "types" for 2.
    pub fn noun_for(self, n: usize) -> &'static str {
        match (n, self) {
            (1, _) => self.noun(),
            (_, BreakdownKind::EntityTypes) => "types",
            (_, BreakdownKind::Labels) => "labels",
            (_, BreakdownKind::Classes) => "classes",
        }
    }
}

/// One entity type's, label's or class's scores in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold entities of the type, rows carrying the label, or rows of the class.
    pub support: usize,
    /// Multi-label: the threshold these scores are taken at (tuned on the eval split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

/// An evaluation's scores per entity type, label or class: what the averages hide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub kind: BreakdownKind,
    /// In label (or type name) order.
    pub rows: Vec<BreakdownRow>,
}

impl Breakdown {
    /// The rows by support, largest first (ties by name), as tables show them.
    pub fn by_support(&self) -> Vec<&BreakdownRow> {
        let mut rows: Vec<&BreakdownRow> = self.rows.iter().collect();
        rows.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.name.cmp(&b.name)));
        rows
    }
}

/// serde_json writes a non-finite float as `null`; read it back as NaN.
fn number_or_nan<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(deserializer)?.unwrap_or(f32::NAN))
}

/// The content of `predictions.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Left out for single-label, so that its files read as they always did.
    #[serde(skip_serializing_if = "is_single_label")]
    pub task: Task,
    /// Multi-label: the threshold `predicted` was taken at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// Multi-label: each label's threshold tuned on this split (for the tuned micro F1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuned_thresholds: Option<Vec<f32>>,
    /// The final evaluation's scores per entity type, label or class (absent in files
    /// written before it, and for regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
    pub rows: Vec<PredictionRow>,
}

fn is_single_label(task: &Task) -> bool {
    *task == Task::SingleLabelClassification
}

/// The file as read: the header, and rows read by the header's task.
#[derive(Deserialize)]
struct RawPredictions {
    split: String,
    step: u64,
    checkpoint: Option<String>,
    label_names: Vec<String>,
    metrics: Map<String, Value>,
    #[serde(default)]
    task: Task,
    #[serde(default)]
    threshold: Option<f32>,
    #[serde(default)]
    tuned_thresholds: Option<Vec<f32>>,
    #[serde(default)]
    breakdown: Option<Breakdown>,
    rows: Vec<Value>,
}

/// The task-independent keys of a row.
#[derive(Deserialize)]
struct RowCommon {
    row: usize,
    text: String,
    #[serde(default)]
    text_pair: Option<String>,
}

impl RawPredictions {
    fn into_predictions(self) -> Result<Predictions, String> {
        let task = self.task;
        let rows = self
            .rows
            .into_iter()
            .enumerate()
            .map(|(index, value)| read_row(task, value).map_err(|e| format!("rows[{index}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Predictions {
            split: self.split,
            step: self.step,
            checkpoint: self.checkpoint,
            label_names: self.label_names,
            metrics: self.metrics,
            task,
            threshold: self.threshold,
            tuned_thresholds: self.tuned_thresholds,
            breakdown: self.breakdown,
            rows,
        })
    }
}

fn read_row(task: Task, value: Value) -> Result<PredictionRow, serde_json::Error> {
    fn part<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
        T::deserialize(value)
    }
    let common: RowCommon = part(&value)?;
    let output = match task {
        Task::SingleLabelClassification => RowOutput::Class(part(&value)?),
        Task::MultiLabelClassification => RowOutput::Labels(part(&value)?),
        Task::Regression => RowOutput::Score(part(&value)?),
        Task::TokenClassification => RowOutput::Tags(part(&value)?),
    };
    Ok(PredictionRow {
        row: common.row,
        output,
        text: common.text,
        text_pair: common.text_pair,
    })
}

impl Predictions {
    /// Checks what the reader relies on: each row of the header's task, ids within the
    /// label names, one probability per label, a tag per predicted tag, spans within them.
    fn check(&self, path: &Path) -> Result<(), RunsError> {
        let classes = self.label_names.len();
        let invalid = |row: usize, message: String| {
            Err(RunsError::invalid(path, format!("row {row}: {message}")))
        };
        let out_of_range = |ids: &[u32]| ids.iter().copied().find(|&id| id as usize >= classes);
        for row in &self.rows {
            if row.output.task() != self.task {
                return invalid(
                    row.row,
                    format!("a {} row in a {} file", row.output.task(), self.task),
                );
            }
            match &row.output {
                RowOutput::Class(class) => {
                    if class.label as usize >= classes || class.prediction as usize >= classes {
                        return invalid(
                            row.row,
                            format!(
                                "label {} / prediction {} outside the {classes} label names",
                                class.label, class.prediction
                            ),
                        );
                    }
                    if class.probs.len() != classes {
                        return invalid(
                            row.row,
                            format!("{} probabilities for {classes} labels", class.probs.len()),
                        );
                    }
                }
                RowOutput::Labels(labels) => {
                    if let Some(id) =
                        out_of_range(&labels.labels).or(out_of_range(&labels.predicted))
                    {
                        return invalid(
                            row.row,
                            format!("label {id} outside the {classes} label names"),
                        );
                    }
                    if labels.probs.len() != classes {
                        return invalid(
                            row.row,
                            format!("{} probabilities for {classes} labels", labels.probs.len()),
                        );
                    }
                }
                RowOutput::Score(_) => {}
                RowOutput::Tags(tags) => {
                    if tags.tags.len() != tags.predicted_tags.len()
                        || tags.tags.len() > tags.words.len()
                    {
                        return invalid(
                            row.row,
                            format!(
                                "{} words, {} tags and {} predicted tags",
                                tags.words.len(),
                                tags.tags.len(),
                                tags.predicted_tags.len()
                            ),
                        );
                    }
                    if let Some(id) =
                        out_of_range(&tags.tags).or(out_of_range(&tags.predicted_tags))
                    {
                        return invalid(
                            row.row,
                            format!("tag {id} outside the {classes} label names"),
                        );
                    }
                    let scored = tags.tags.len();
                    if let Some(span) = tags
                        .entities
                        .iter()
                        .chain(&tags.predicted_entities)
                        .find(|s| s.start >= s.end || s.end > scored)
                    {
                        return invalid(
                            row.row,
                            format!(
                                "entity {} over words {}..{} outside its {scored} tagged words",
                                span.kind, span.start, span.end
                            ),
                        );
                    }
                }
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
    let raw: RawPredictions =
        serde_json::from_slice(&bytes).map_err(|e| RunsError::invalid(&path, e.to_string()))?;
    let predictions = raw
        .into_predictions()
        .map_err(|e| RunsError::invalid(&path, e))?;
    predictions.check(&path)?;
    Ok(Some(predictions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn breakdown_nouns_agree_with_their_count() {
        assert_eq!(BreakdownKind::Classes.noun_for(3), "classes");
        assert_eq!(BreakdownKind::Classes.noun_for(1), "class");
        assert_eq!(BreakdownKind::EntityTypes.noun_for(4), "types");
        assert_eq!(BreakdownKind::Labels.noun_for(0), "labels");
    }

    fn header(task: Task, label_names: &[&str], rows: Vec<PredictionRow>) -> Predictions {
        Predictions {
            split: "validation".into(),
            step: 918,
            checkpoint: Some("checkpoint-918".into()),
            label_names: label_names.iter().map(|n| n.to_string()).collect(),
            metrics: json!({"eval_accuracy": 0.5}).as_object().unwrap().clone(),
            task,
            threshold: None,
            tuned_thresholds: None,
            breakdown: None,
            rows,
        }
    }

    fn class_row(row: usize, label: u32, prediction: u32, probs: Vec<f32>) -> PredictionRow {
        PredictionRow {
            row,
            output: RowOutput::Class(ClassOutput {
                label,
                prediction,
                probs,
            }),
            text: ["a", "c"][row].into(),
            text_pair: (row == 0).then(|| "b".to_string()),
        }
    }

    fn sample() -> Predictions {
        header(
            Task::SingleLabelClassification,
            &["not_equivalent", "equivalent"],
            vec![
                class_row(0, 1, 1, vec![0.25, 0.75]),
                class_row(1, 0, 1, vec![0.5, 0.5]),
            ],
        )
    }

    fn written(dir: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(PREDICTIONS_FILE)).unwrap()).unwrap()
    }

    #[test]
    fn written_predictions_read_back_with_the_documented_keys() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_predictions(dir.path()).unwrap(), None);
        write_predictions(dir.path(), &sample()).unwrap();
        assert_eq!(read_predictions(dir.path()).unwrap(), Some(sample()));

        let raw = written(dir.path());
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

    /// A file written before the other tasks (this text is what that version wrote) reads
    /// as single-label and is written back byte for byte.
    #[test]
    fn an_older_single_label_file_reads_and_writes_back_the_same_bytes() {
        let old = r#"{"split":"validation","step":918,"checkpoint":"checkpoint-918","label_names":["not_equivalent","equivalent"],"metrics":{"eval_accuracy":0.5},"rows":[{"row":0,"label":1,"prediction":1,"probs":[0.25,0.75],"text":"a","text_pair":"b"},{"row":1,"label":0,"prediction":1,"probs":[0.5,0.5],"text":"c","text_pair":null}]}"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PREDICTIONS_FILE), old).unwrap();
        let read = read_predictions(dir.path()).unwrap().unwrap();
        assert_eq!(read, sample());
        let other = tempfile::tempdir().unwrap();
        write_predictions(other.path(), &read).unwrap();
        assert_eq!(
            std::fs::read_to_string(other.path().join(PREDICTIONS_FILE)).unwrap(),
            old
        );
    }

    fn tags_row() -> PredictionRow {
        PredictionRow {
            row: 0,
            output: RowOutput::Tags(TagsOutput {
                words: vec!["Ada".into(), "met".into(), "Bob".into(), "today".into()],
                tags: vec![1, 0, 1, 0],
                predicted_tags: vec![1, 0, 0],
                entities: vec![
                    EntitySpan {
                        kind: "PER".into(),
                        start: 0,
                        end: 1,
                    },
                    EntitySpan {
                        kind: "PER".into(),
                        start: 2,
                        end: 3,
                    },
                ],
                predicted_entities: vec![EntitySpan {
                    kind: "PER".into(),
                    start: 0,
                    end: 1,
                }],
            }),
            text: "Ada met Bob today".into(),
            text_pair: None,
        }
    }

    #[test]
    fn every_task_round_trips_and_names_itself_in_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut multi = header(
            Task::MultiLabelClassification,
            &["joy", "anger", "boredom"],
            vec![PredictionRow {
                row: 0,
                output: RowOutput::Labels(LabelsOutput {
                    labels: vec![0, 2],
                    probs: vec![0.9, 0.6, 0.1],
                    predicted: vec![0, 1],
                }),
                text: "great dull".into(),
                text_pair: None,
            }],
        );
        multi.threshold = Some(0.5);
        multi.tuned_thresholds = Some(vec![0.5, 0.7, 0.05]);
        let regression = header(
            Task::Regression,
            &["score"],
            vec![PredictionRow {
                row: 0,
                output: RowOutput::Score(ScoreOutput {
                    score: 2.5,
                    predicted_score: 1.75,
                }),
                text: "a".into(),
                text_pair: Some("b".into()),
            }],
        );
        let mut tokens = header(Task::TokenClassification, &["O", "B-PER"], vec![tags_row()]);
        // The last word was cut off by max_length: it has no tags.
        if let RowOutput::Tags(tags) = &mut tokens.rows[0].output {
            tags.tags.pop();
        }
        let expected = [
            json!({"row": 0, "labels": [0, 2], "probs": [0.9, 0.6, 0.1], "predicted": [0, 1],
                   "text": "great dull", "text_pair": null}),
            json!({"row": 0, "score": 2.5, "predicted_score": 1.75, "text": "a", "text_pair": "b"}),
            json!({"row": 0, "words": ["Ada", "met", "Bob", "today"], "tags": [1, 0, 1],
                   "predicted_tags": [1, 0, 0],
                   "entities": [{"kind": "PER", "start": 0, "end": 1},
                                {"kind": "PER", "start": 2, "end": 3}],
                   "predicted_entities": [{"kind": "PER", "start": 0, "end": 1}],
                   "text": "Ada met Bob today", "text_pair": null}),
        ];
        for (predictions, row) in [multi, regression, tokens].into_iter().zip(expected) {
            write_predictions(dir.path(), &predictions).unwrap();
            assert_eq!(
                read_predictions(dir.path()).unwrap().as_ref(),
                Some(&predictions)
            );
            let raw = written(dir.path());
            assert_eq!(raw["task"], json!(predictions.task.name()));
            assert_eq!(raw["rows"][0], row, "{}", predictions.task);
        }
        let raw = {
            let mut multi = header(Task::MultiLabelClassification, &["a"], vec![]);
            multi.threshold = Some(0.5);
            multi.tuned_thresholds = Some(vec![0.25]);
            write_predictions(dir.path(), &multi).unwrap();
            written(dir.path())
        };
        assert_eq!(
            (&raw["threshold"], &raw["tuned_thresholds"]),
            (&json!(0.5), &json!([0.25]))
        );
    }

    #[test]
    fn a_bad_file_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PREDICTIONS_FILE), "{not json").unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(err.contains(PREDICTIONS_FILE), "{err}");

        let mut bad = sample();
        bad.rows[0] = class_row(0, 1, 2, vec![0.25, 0.75]);
        write_predictions(dir.path(), &bad).unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("row 0") && err.contains("prediction 2"),
            "{err}"
        );

        // A regression file whose row lacks its predicted score.
        let text = r#"{"split":"validation","step":1,"checkpoint":null,"label_names":["score"],
            "metrics":{},"task":"regression","rows":[{"row":0,"score":1.0,"text":"a"}]}"#;
        std::fs::write(dir.path().join(PREDICTIONS_FILE), text).unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("rows[0]") && err.contains("predicted_score"),
            "{err}"
        );

        // An entity past the tagged words.
        let mut tokens = header(Task::TokenClassification, &["O", "B-PER"], vec![tags_row()]);
        if let RowOutput::Tags(tags) = &mut tokens.rows[0].output {
            tags.predicted_tags.pop();
            tags.tags.truncate(2);
            tags.predicted_tags.truncate(2);
        }
        write_predictions(dir.path(), &tokens).unwrap();
        let err = read_predictions(dir.path()).unwrap_err().to_string();
        assert!(err.contains("entity PER over words 2..3"), "{err}");
    }

    #[test]
    fn the_breakdown_round_trips_and_sorts_by_support() {
        let dir = tempfile::tempdir().unwrap();
        let row = |name: &str, support: usize, threshold: Option<f32>| BreakdownRow {
            name: name.into(),
            precision: 0.5,
            recall: 0.25,
            f1: 1.0 / 3.0,
            support,
            threshold,
        };
        let mut predictions = sample();
        predictions.breakdown = Some(Breakdown {
            kind: BreakdownKind::Labels,
            rows: vec![
                row("b", 3, Some(0.35)),
                row("a", 3, Some(0.5)),
                row("c", 9, None),
            ],
        });
        write_predictions(dir.path(), &predictions).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PREDICTIONS_FILE)).unwrap();
        assert!(text.contains(r#""kind":"labels""#), "{text}");
        let read = read_predictions(dir.path()).unwrap().unwrap();
        assert_eq!(read, predictions);
        let breakdown = read.breakdown.unwrap();
        let order: Vec<&str> = breakdown
            .by_support()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(order, ["c", "a", "b"]);
    }
}
