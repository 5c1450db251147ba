//! Comparing runs: the config keys that differ, the validation examples each task's
//! comparison picks (single-label: predictions that flipped and the confusion-matrix delta;
//! multi-label: predicted label sets that changed; regression: the rows whose error changed
//! most; token classification: entities found by one run and missed by the other), curves
//! from `metrics.jsonl` records, and the CSV export of several runs' metrics. Pure
//! functions; the Runs panel calls them.

use super::metrics_log::LogRecord;
use crate::recipe::{KEYS, TrainConfig};
use crate::task::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Keys left out of the config diff: they differ between any two runs (the run's folder
/// and name) and say nothing about how the runs trained.
pub const NOISE_KEYS: &[&str] = &["output_dir", "run_name"];

/// One key whose value differs between the compared configs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDiff {
    pub key: &'static str,
    /// One value per compared config, as TOML text; `None` when unset.
    pub values: Vec<Option<String>>,
}

/// The keys (in [`KEYS`] order, without [`NOISE_KEYS`]) whose values differ between `a`
/// and `b`.
pub fn config_diff(a: &TrainConfig, b: &TrainConfig) -> Vec<KeyDiff> {
    config_diff_many(&[a, b])
}

/// [`config_diff`] for any number of configs: keys where not all values are equal.
pub fn config_diff_many(configs: &[&TrainConfig]) -> Vec<KeyDiff> {
    let tables: Vec<toml::Table> = configs
        .iter()
        .map(|c| toml::Table::try_from(c).unwrap_or_default())
        .collect();
    KEYS.iter()
        .filter(|info| !NOISE_KEYS.contains(&info.name))
        .filter_map(|info| {
            let values: Vec<Option<&toml::Value>> =
                tables.iter().map(|t| t.get(info.name)).collect();
            let first = values.first()?;
            if values.iter().all(|v| v == first) {
                return None;
            }
            Some(KeyDiff {
                key: info.name,
                values: values
                    .into_iter()
                    .map(|v| v.map(|v| v.to_string()))
                    .collect(),
            })
        })
        .collect()
}

pub use super::predictions::{
    ClassOutput, EntitySpan, LabelsOutput, PREDICTIONS_FILE, PredictionRow, Predictions, RowOutput,
    ScoreOutput, TagsOutput, read_predictions,
};

/// Why two runs' predictions cannot be compared example by example.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("the runs predicted different splits ({a} and {b})")]
    Split { a: String, b: String },
    #[error("the runs were trained for different tasks ({} and {})", a.title(), b.title())]
    Task { a: Task, b: Task },
    #[error("the runs have different label names ({a:?} and {b:?})")]
    LabelNames { a: Vec<String>, b: Vec<String> },
    #[error("the runs predicted a different number of rows ({a} and {b})")]
    RowCount { a: usize, b: usize },
    #[error(
        "row {index} differs between the runs ({detail}): they did not use the same validation data"
    )]
    Row { index: usize, detail: String },
    #[error("row {row}: label or prediction {value} is not one of the {classes} classes")]
    ClassOutOfRange {
        row: u64,
        value: usize,
        classes: usize,
    },
    #[error("this comparison is for {} runs, not {}", expected.title(), found.title())]
    NotForTask { expected: Task, found: Task },
}

/// A validation example whose prediction differs between run A and run B.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    pub row: u64,
    pub text: String,
    pub text_pair: Option<String>,
    pub label: usize,
    pub prediction_a: usize,
    pub prediction_b: usize,
}

impl Flip {
    pub fn a_is_right(&self) -> bool {
        self.prediction_a == self.label
    }

    pub fn b_is_right(&self) -> bool {
        self.prediction_b == self.label
    }
}

/// Every flipped example, and how many B fixed and broke.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flips {
    pub rows: Vec<Flip>,
    /// A was wrong, B is right.
    pub fixed: usize,
    /// A was right, B is wrong.
    pub broken: usize,
    /// Both wrong, with different wrong answers.
    pub both_wrong: usize,
    /// Rows compared.
    pub total: usize,
}

/// Whether two rows hold the same gold answer (scores bit for bit, NaN equal to NaN).
fn same_gold(a: &RowOutput, b: &RowOutput) -> bool {
    match (a, b) {
        (RowOutput::Class(a), RowOutput::Class(b)) => a.label == b.label,
        (RowOutput::Labels(a), RowOutput::Labels(b)) => a.labels == b.labels,
        (RowOutput::Score(a), RowOutput::Score(b)) => a.score.to_bits() == b.score.to_bits(),
        (RowOutput::Tags(a), RowOutput::Tags(b)) => a.words == b.words && a.tags == b.tags,
        _ => false,
    }
}

/// Checks that `a` and `b` predicted the same examples of one task with the same gold
/// answers.
fn check_comparable(a: &Predictions, b: &Predictions) -> Result<(), CompareError> {
    if a.split != b.split {
        return Err(CompareError::Split {
            a: a.split.clone(),
            b: b.split.clone(),
        });
    }
    if a.task != b.task {
        return Err(CompareError::Task {
            a: a.task,
            b: b.task,
        });
    }
    if a.label_names != b.label_names {
        return Err(CompareError::LabelNames {
            a: a.label_names.clone(),
            b: b.label_names.clone(),
        });
    }
    if a.rows.len() != b.rows.len() {
        return Err(CompareError::RowCount {
            a: a.rows.len(),
            b: b.rows.len(),
        });
    }
    let classes = a.label_names.len();
    for (index, (ra, rb)) in a.rows.iter().zip(&b.rows).enumerate() {
        if ra.row != rb.row {
            return Err(CompareError::Row {
                index,
                detail: format!("row id {} and row id {}", ra.row, rb.row),
            });
        }
        if !same_gold(&ra.output, &rb.output) {
            return Err(CompareError::Row {
                index,
                detail: format!("row id {} has other gold answers", ra.row),
            });
        }
        for r in [ra, rb] {
            let Some(class) = r.class() else { continue };
            if let Some(&value) = [class.label as usize, class.prediction as usize]
                .iter()
                .find(|&&v| v >= classes)
            {
                return Err(CompareError::ClassOutOfRange {
                    row: r.row as u64,
                    value,
                    classes,
                });
            }
        }
    }
    Ok(())
}

/// Refuses predictions of another task than `expected` (after [`check_comparable`]).
fn check_task(a: &Predictions, expected: Task) -> Result<(), CompareError> {
    if a.task != expected {
        return Err(CompareError::NotForTask {
            expected,
            found: a.task,
        });
    }
    Ok(())
}

/// The rows of `a` and `b`, paired, once they are known to be comparable for `task`.
fn paired<'p>(
    a: &'p Predictions,
    b: &'p Predictions,
    task: Task,
) -> Result<impl Iterator<Item = (&'p PredictionRow, &'p PredictionRow)>, CompareError> {
    check_comparable(a, b)?;
    check_task(a, task)?;
    Ok(a.rows.iter().zip(&b.rows))
}

/// The examples whose prediction differs between `a` and `b`, in row order.
pub fn prediction_flips(a: &Predictions, b: &Predictions) -> Result<Flips, CompareError> {
    let mut flips = Flips {
        total: a.rows.len(),
        ..Flips::default()
    };
    for (ra, rb) in paired(a, b, Task::SingleLabelClassification)? {
        let (Some(ca), Some(cb)) = (ra.class(), rb.class()) else {
            continue;
        };
        if ca.prediction == cb.prediction {
            continue;
        }
        let flip = Flip {
            row: ra.row as u64,
            text: ra.text.clone(),
            text_pair: ra.text_pair.clone(),
            label: ca.label as usize,
            prediction_a: ca.prediction as usize,
            prediction_b: cb.prediction as usize,
        };
        match (flip.a_is_right(), flip.b_is_right()) {
            (false, true) => flips.fixed += 1,
            (true, false) => flips.broken += 1,
            _ => flips.both_wrong += 1,
        }
        flips.rows.push(flip);
    }
    Ok(flips)
}

/// The confusion matrix of one run: `[gold][predicted]` counts (single-label).
pub fn confusion(p: &Predictions) -> Vec<Vec<u64>> {
    let n = p.label_names.len();
    let mut matrix = vec![vec![0u64; n]; n];
    for class in p.rows.iter().filter_map(PredictionRow::class) {
        let (label, prediction) = (class.label as usize, class.prediction as usize);
        if label < n && prediction < n {
            matrix[label][prediction] += 1;
        }
    }
    matrix
}

/// B's confusion matrix minus A's, `[gold][predicted]`: positive on the diagonal means B
/// gets more of that class right.
pub fn confusion_delta(a: &Predictions, b: &Predictions) -> Result<Vec<Vec<i64>>, CompareError> {
    check_comparable(a, b)?;
    check_task(a, Task::SingleLabelClassification)?;
    let (ca, cb) = (confusion(a), confusion(b));
    Ok(ca
        .iter()
        .zip(&cb)
        .map(|(ra, rb)| {
            ra.iter()
                .zip(rb)
                .map(|(&x, &y)| y as i64 - x as i64)
                .collect()
        })
        .collect())
}

/// A multi-label example whose predicted label set differs between run A and run B.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSetChange {
    pub row: u64,
    pub text: String,
    pub text_pair: Option<String>,
    /// The gold label ids.
    pub labels: Vec<u32>,
    pub predicted_a: Vec<u32>,
    pub predicted_b: Vec<u32>,
}

impl LabelSetChange {
    /// The whole set is right (what subset accuracy counts).
    pub fn a_is_right(&self) -> bool {
        self.predicted_a == self.labels
    }

    pub fn b_is_right(&self) -> bool {
        self.predicted_b == self.labels
    }
}

/// Every multi-label example whose predicted set changed, and how many B got exactly
/// right that A did not (and the other way).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSetDiff {
    pub rows: Vec<LabelSetChange>,
    /// A's set was wrong, B's is right.
    pub fixed: usize,
    /// A's set was right, B's is wrong.
    pub broken: usize,
    /// Both wrong, differently.
    pub both_wrong: usize,
    pub total: usize,
}

/// The multi-label examples whose predicted label set differs between `a` and `b`, in row
/// order.
pub fn label_set_changes(a: &Predictions, b: &Predictions) -> Result<LabelSetDiff, CompareError> {
    let mut diff = LabelSetDiff {
        total: a.rows.len(),
        ..LabelSetDiff::default()
    };
    for (ra, rb) in paired(a, b, Task::MultiLabelClassification)? {
        let (RowOutput::Labels(la), RowOutput::Labels(lb)) = (&ra.output, &rb.output) else {
            continue;
        };
        if la.predicted == lb.predicted {
            continue;
        }
        let change = LabelSetChange {
            row: ra.row as u64,
            text: ra.text.clone(),
            text_pair: ra.text_pair.clone(),
            labels: la.labels.clone(),
            predicted_a: la.predicted.clone(),
            predicted_b: lb.predicted.clone(),
        };
        match (change.a_is_right(), change.b_is_right()) {
            (false, true) => diff.fixed += 1,
            (true, false) => diff.broken += 1,
            _ => diff.both_wrong += 1,
        }
        diff.rows.push(change);
    }
    Ok(diff)
}

/// A regression example: the gold score and both runs' predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreChange {
    pub row: u64,
    pub text: String,
    pub text_pair: Option<String>,
    pub score: f32,
    pub prediction_a: f32,
    pub prediction_b: f32,
}

impl ScoreChange {
    pub fn error_a(&self) -> f32 {
        (self.prediction_a - self.score).abs()
    }

    pub fn error_b(&self) -> f32 {
        (self.prediction_b - self.score).abs()
    }

    /// B's absolute error minus A's: negative when B is closer.
    pub fn error_change(&self) -> f32 {
        self.error_b() - self.error_a()
    }
}

/// Every regression example, the one whose absolute error changed most first, and how many
/// B brought closer to the gold score or moved away from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreDiff {
    pub rows: Vec<ScoreChange>,
    pub closer: usize,
    pub further: usize,
    /// Mean absolute error of each run over the rows with finite numbers.
    pub mae_a: f64,
    pub mae_b: f64,
    pub total: usize,
}

/// The regression examples ordered by how much their absolute error changed from `a` to
/// `b` (largest change first; rows with a non-finite number last, in row order).
pub fn score_changes(a: &Predictions, b: &Predictions) -> Result<ScoreDiff, CompareError> {
    let mut diff = ScoreDiff {
        total: a.rows.len(),
        ..ScoreDiff::default()
    };
    let (mut sum_a, mut sum_b, mut finite) = (0.0f64, 0.0f64, 0usize);
    for (ra, rb) in paired(a, b, Task::Regression)? {
        let (RowOutput::Score(sa), RowOutput::Score(sb)) = (&ra.output, &rb.output) else {
            continue;
        };
        let change = ScoreChange {
            row: ra.row as u64,
            text: ra.text.clone(),
            text_pair: ra.text_pair.clone(),
            score: sa.score,
            prediction_a: sa.predicted_score,
            prediction_b: sb.predicted_score,
        };
        let delta = change.error_change();
        if delta.is_finite() {
            sum_a += change.error_a() as f64;
            sum_b += change.error_b() as f64;
            finite += 1;
            if delta < 0.0 {
                diff.closer += 1;
            } else if delta > 0.0 {
                diff.further += 1;
            }
        }
        diff.rows.push(change);
    }
    if finite > 0 {
        diff.mae_a = sum_a / finite as f64;
        diff.mae_b = sum_b / finite as f64;
    }
    // Stable: equal changes keep row order.
    diff.rows.sort_by(|x, y| {
        let key = |c: &ScoreChange| {
            let d = c.error_change().abs();
            if d.is_finite() { d } else { -1.0 }
        };
        key(y).total_cmp(&key(x))
    });
    Ok(diff)
}

/// A token-classification example where one run found a gold entity (type and words
/// exactly) that the other missed.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityChange {
    pub row: u64,
    pub words: Vec<String>,
    /// Gold tag ids per scored word, and each run's.
    pub tags: Vec<u32>,
    pub tags_a: Vec<u32>,
    pub tags_b: Vec<u32>,
    /// Gold entities A got exactly right and B did not.
    pub found_by_a_only: Vec<EntitySpan>,
    /// Gold entities B got exactly right and A did not.
    pub found_by_b_only: Vec<EntitySpan>,
}

impl EntityChange {
    /// The words an entity covers, joined by spaces.
    pub fn entity_text(&self, entity: &EntitySpan) -> String {
        self.words
            .get(entity.start..entity.end.min(self.words.len()))
            .unwrap_or_default()
            .join(" ")
    }
}

/// Per entity type: gold entities, and those found by one run and missed by the other.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityTypeCounts {
    pub gold: usize,
    pub found_by_a_only: usize,
    pub found_by_b_only: usize,
}

/// The entities found by one run and missed by the other, row by row and per type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityDiff {
    pub rows: Vec<EntityChange>,
    /// By entity type (every type in the gold entities).
    pub per_type: BTreeMap<String, EntityTypeCounts>,
    pub found_by_a_only: usize,
    pub found_by_b_only: usize,
    pub gold_entities: usize,
    pub total: usize,
}

/// For each row, the gold entities that one run predicted exactly (same type, same words)
/// and the other did not.
pub fn entity_changes(a: &Predictions, b: &Predictions) -> Result<EntityDiff, CompareError> {
    let mut diff = EntityDiff {
        total: a.rows.len(),
        ..EntityDiff::default()
    };
    for (ra, rb) in paired(a, b, Task::TokenClassification)? {
        let (RowOutput::Tags(ta), RowOutput::Tags(tb)) = (&ra.output, &rb.output) else {
            continue;
        };
        let found = |predicted: &[EntitySpan]| -> HashSet<&EntitySpan> {
            let predicted: HashSet<&EntitySpan> = predicted.iter().collect();
            ta.entities
                .iter()
                .filter(|e| predicted.contains(e))
                .collect()
        };
        let (found_a, found_b) = (found(&ta.predicted_entities), found(&tb.predicted_entities));
        for entity in &ta.entities {
            let counts = diff.per_type.entry(entity.kind.clone()).or_default();
            counts.gold += 1;
            match (found_a.contains(entity), found_b.contains(entity)) {
                (true, false) => counts.found_by_a_only += 1,
                (false, true) => counts.found_by_b_only += 1,
                _ => {}
            }
        }
        diff.gold_entities += ta.entities.len();
        // Gold order (by position), so the row reads left to right.
        let only = |this: &HashSet<&EntitySpan>, other: &HashSet<&EntitySpan>| {
            ta.entities
                .iter()
                .filter(|e| this.contains(e) && !other.contains(e))
                .cloned()
                .collect::<Vec<_>>()
        };
        let (only_a, only_b) = (only(&found_a, &found_b), only(&found_b, &found_a));
        if only_a.is_empty() && only_b.is_empty() {
            continue;
        }
        diff.found_by_a_only += only_a.len();
        diff.found_by_b_only += only_b.len();
        diff.rows.push(EntityChange {
            row: ra.row as u64,
            words: ta.words.clone(),
            tags: ta.tags.clone(),
            tags_a: ta.predicted_tags.clone(),
            tags_b: tb.predicted_tags.clone(),
            found_by_a_only: only_a,
            found_by_b_only: only_b,
        });
    }
    Ok(diff)
}

/// Two runs' per-example comparison, for their task.
#[derive(Debug, Clone, PartialEq)]
pub enum ExampleDiff {
    /// Single-label: the flipped examples and the confusion-matrix delta (B − A).
    Classes {
        flips: Flips,
        confusion_delta: Vec<Vec<i64>>,
    },
    LabelSets(LabelSetDiff),
    Scores(ScoreDiff),
    Entities(EntityDiff),
}

/// The comparison that fits the runs' task.
pub fn example_diff(a: &Predictions, b: &Predictions) -> Result<ExampleDiff, CompareError> {
    check_comparable(a, b)?;
    Ok(match a.task {
        Task::SingleLabelClassification => ExampleDiff::Classes {
            flips: prediction_flips(a, b)?,
            confusion_delta: confusion_delta(a, b)?,
        },
        Task::MultiLabelClassification => ExampleDiff::LabelSets(label_set_changes(a, b)?),
        Task::Regression => ExampleDiff::Scores(score_changes(a, b)?),
        Task::TokenClassification => ExampleDiff::Entities(entity_changes(a, b)?),
    })
}

/// The task a listed run trains for: `run.json` says it; runs written before tasks may
/// name it in their config, else they are single-label.
pub fn run_task(summary: &super::RunSummary) -> Task {
    summary
        .info
        .task
        .or_else(|| {
            TrainConfig::read_unvalidated(&summary.path.join(super::CONFIG_FILE))
                .ok()?
                .task
        })
        .unwrap_or_default()
}

/// What a curve's x axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum XAxis {
    #[default]
    Step,
    Epoch,
    /// `elapsed_s`: seconds since the run started (absent in older logs).
    WallTime,
}

impl XAxis {
    pub fn key(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::WallTime => "elapsed_s",
        }
    }
}

/// The `(x, y)` points of `y_key` in `records`, in log order, skipping records without
/// either value (a NaN loss is skipped too: it cannot be drawn).
pub fn curve(records: &[LogRecord], y_key: &str, x: XAxis) -> Vec<[f64; 2]> {
    records
        .iter()
        .filter_map(|r| {
            let x = r.get(x.key())?.as_f64()?;
            let y = r.get(y_key)?.as_f64()?;
            (x.is_finite() && y.is_finite()).then_some([x, y])
        })
        .collect()
}

/// Whether any record has `elapsed_s` (wall-time x axis available).
pub fn has_elapsed(records: &[LogRecord]) -> bool {
    records
        .iter()
        .any(|r| r.get("elapsed_s").is_some_and(Value::is_number))
}

/// The series a run's log can be drawn as: `loss`, `eval_loss`, each `eval_*` metric,
/// `learning_rate`, `grad_norm` (those present, in that order).
pub fn curve_keys(records: &[LogRecord]) -> Vec<String> {
    const NOT_METRICS: &[&str] = &[
        "eval_loss",
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
    ];
    let present: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| {
            r.iter()
                .filter(|(_, v)| v.is_number())
                .map(|(k, _)| k.as_str())
        })
        .collect();
    let mut keys: Vec<String> = ["loss", "eval_loss"]
        .into_iter()
        .filter(|k| present.contains(k))
        .map(String::from)
        .collect();
    keys.extend(
        present
            .iter()
            .filter(|k| k.starts_with("eval_") && !NOT_METRICS.contains(k))
            .map(|k| k.to_string()),
    );
    keys.extend(
        ["learning_rate", "grad_norm"]
            .into_iter()
            .filter(|k| present.contains(k))
            .map(String::from),
    );
    keys
}

/// The last value of `key` in a `metrics.jsonl` and its record's `step`, read from the end
/// of the file backwards (a long run's log need not be read whole to list it). `None` when
/// no complete line has it, or the file cannot be read.
pub fn last_logged(metrics_path: &Path, key: &str) -> Option<(f64, Option<u64>)> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = std::fs::File::open(metrics_path).ok()?;
    let mut end = file.metadata().ok()?.len();
    let quoted = format!("\"{key}\"");
    // Bytes after the last line break read so far: the start of a line cut by the chunk.
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(&mut chunk).ok()?;
        chunk.extend_from_slice(&carry);
        // The first piece may be the end of an earlier line: keep it for the next chunk.
        let first_break = if start == 0 {
            None
        } else {
            chunk.iter().position(|&b| b == b'\n')
        };
        let (head, lines) = match first_break {
            Some(i) => chunk.split_at(i + 1),
            None if start == 0 => (&[][..], &chunk[..]),
            None => (&chunk[..], &[][..]),
        };
        for line in lines.split(|&b| b == b'\n').rev() {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            if !line.contains(&quoted) {
                continue;
            }
            let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some(value) = record.get(key).and_then(Value::as_f64) {
                return Some((value, record.get("step").and_then(Value::as_u64)));
            }
        }
        carry = head.to_vec();
        end = start;
    }
    None
}

/// Several runs' metrics as CSV: columns `run, step, epoch, elapsed_s`, then every other
/// key any record has (sorted); one row per record, empty cells where a record lacks a key.
pub fn metrics_csv(runs: &[(String, &[LogRecord])]) -> String {
    const FIRST: &[&str] = &["step", "epoch", "elapsed_s"];
    let others: BTreeSet<&str> = runs
        .iter()
        .flat_map(|(_, records)| records.iter().flat_map(|r| r.keys().map(String::as_str)))
        .filter(|k| !FIRST.contains(k))
        .collect();
    let columns: Vec<&str> = FIRST.iter().copied().chain(others).collect();
    let mut out = String::from("run");
    for column in &columns {
        out.push(',');
        out.push_str(&csv_field(column));
    }
    out.push('\n');
    for (name, records) in runs {
        for record in records.iter() {
            out.push_str(&csv_field(name));
            for column in &columns {
                out.push(',');
                match record.get(*column) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => out.push_str(&csv_field(s)),
                    Some(value) => out.push_str(&csv_field(&value.to_string())),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(text: &str) -> TrainConfig {
        TrainConfig::from_toml_str(&format!("model = \"m\"\ndataset = \"d\"\n{text}")).unwrap()
    }

    #[test]
    fn config_diff_lists_only_differing_keys_in_key_order_without_noise() {
        let a = config("learning_rate = 2e-5\nrun_name = \"a\"\noutput_dir = \"/x\"\nseed = 1");
        let b = config("learning_rate = 3e-5\nrun_name = \"b\"\nseed = 1\nmax_length = 128");
        let diff = config_diff(&a, &b);
        let keys: Vec<&str> = diff.iter().map(|d| d.key).collect();
        assert_eq!(keys, ["max_length", "learning_rate"]);
        assert_eq!(diff[0].values, [None, Some("128".to_string())]);
        assert_eq!(
            diff[1].values,
            [Some("0.00002".to_string()), Some("0.00003".to_string())]
        );
        assert!(config_diff(&a, &a).is_empty());
        let c = config("learning_rate = 2e-5\nseed = 9");
        let three = config_diff_many(&[&a, &a, &c]);
        assert_eq!(three.iter().map(|d| d.key).collect::<Vec<_>>(), ["seed"]);
    }

    /// A run's predictions of `task` over `outputs`, one row each.
    fn run_of(task: Task, label_names: &[&str], outputs: Vec<RowOutput>) -> Predictions {
        Predictions {
            split: "validation".into(),
            step: 10,
            checkpoint: None,
            label_names: label_names.iter().map(|n| n.to_string()).collect(),
            metrics: Default::default(),
            task,
            threshold: None,
            tuned_thresholds: None,
            breakdown: None,
            rows: outputs
                .into_iter()
                .enumerate()
                .map(|(i, output)| PredictionRow {
                    row: i,
                    output,
                    text: format!("text {i}"),
                    text_pair: None,
                })
                .collect(),
        }
    }

    fn predictions(predicted: &[usize]) -> Predictions {
        let labels = [0, 1, 1, 0];
        let outputs = predicted
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                RowOutput::Class(ClassOutput {
                    label: labels[i],
                    prediction: p as u32,
                    probs: vec![0.5, 0.5],
                })
            })
            .collect();
        run_of(Task::SingleLabelClassification, &["neg", "pos"], outputs)
    }

    fn set_class(p: &mut Predictions, row: usize, label: Option<u32>, prediction: Option<u32>) {
        if let RowOutput::Class(class) = &mut p.rows[row].output {
            if let Some(label) = label {
                class.label = label;
            }
            if let Some(prediction) = prediction {
                class.prediction = prediction;
            }
        }
    }

    #[test]
    fn flips_count_fixed_and_broken_examples() {
        let a = predictions(&[0, 0, 1, 1]);
        let b = predictions(&[1, 1, 1, 0]);
        let flips = prediction_flips(&a, &b).unwrap();
        assert_eq!(
            flips.rows.iter().map(|f| f.row).collect::<Vec<_>>(),
            [0, 1, 3]
        );
        assert_eq!(
            (flips.fixed, flips.broken, flips.both_wrong, flips.total),
            (2, 1, 0, 4)
        );
        assert!(flips.rows[0].a_is_right() && !flips.rows[0].b_is_right());
        assert_eq!(flips.rows[1].text, "text 1");
        assert!(prediction_flips(&a, &a).unwrap().rows.is_empty());
    }

    #[test]
    fn confusion_delta_is_b_minus_a() {
        let a = predictions(&[0, 0, 1, 1]);
        let b = predictions(&[1, 1, 1, 0]);
        assert_eq!(confusion(&a), vec![vec![1, 1], vec![1, 1]]);
        assert_eq!(confusion(&b), vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(
            confusion_delta(&a, &b).unwrap(),
            vec![vec![0, 0], vec![-1, 1]]
        );
    }

    #[test]
    fn incomparable_predictions_are_refused() {
        let a = predictions(&[0, 0, 1, 1]);
        let mut other = predictions(&[0, 0, 1, 1]);
        other.split = "test".into();
        assert!(matches!(
            prediction_flips(&a, &other),
            Err(CompareError::Split { .. })
        ));
        let mut other = predictions(&[0, 0, 1]);
        other.rows.truncate(3);
        assert_eq!(
            prediction_flips(&a, &other),
            Err(CompareError::RowCount { a: 4, b: 3 })
        );
        let mut other = predictions(&[0, 0, 1, 1]);
        other.label_names.reverse();
        assert!(matches!(
            confusion_delta(&a, &other),
            Err(CompareError::LabelNames { .. })
        ));
        let mut other = predictions(&[0, 0, 1, 1]);
        set_class(&mut other, 2, Some(0), None);
        let err = prediction_flips(&a, &other).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        let mut other = predictions(&[0, 0, 1, 5]);
        set_class(&mut other, 3, None, Some(5));
        assert!(matches!(
            prediction_flips(&a, &other),
            Err(CompareError::ClassOutOfRange { value: 5, .. })
        ));
    }

    #[test]
    fn runs_of_different_tasks_are_refused_and_each_diff_keeps_to_its_task() {
        let classes = predictions(&[0, 0, 1, 1]);
        let scores = run_of(
            Task::Regression,
            &["neg", "pos"],
            (0..4)
                .map(|_| {
                    RowOutput::Score(ScoreOutput {
                        score: 1.0,
                        predicted_score: 1.0,
                    })
                })
                .collect(),
        );
        assert_eq!(
            example_diff(&classes, &scores),
            Err(CompareError::Task {
                a: Task::SingleLabelClassification,
                b: Task::Regression
            })
        );
        assert!(matches!(
            prediction_flips(&scores, &scores),
            Err(CompareError::NotForTask { .. })
        ));
        assert!(matches!(
            entity_changes(&classes, &classes),
            Err(CompareError::NotForTask { .. })
        ));
        assert!(matches!(
            example_diff(&classes, &classes),
            Ok(ExampleDiff::Classes { .. })
        ));
    }

    fn labels_row(gold: &[u32], predicted: &[u32]) -> RowOutput {
        RowOutput::Labels(LabelsOutput {
            labels: gold.to_vec(),
            probs: vec![0.5; 3],
            predicted: predicted.to_vec(),
        })
    }

    #[test]
    fn label_sets_that_changed_are_listed_with_both_sets_and_the_gold() {
        let names = ["joy", "anger", "boredom"];
        let gold: [&[u32]; 4] = [&[0], &[0, 2], &[], &[1]];
        let run = |predicted: [&[u32]; 4]| {
            let rows = gold
                .iter()
                .zip(predicted)
                .map(|(g, p)| labels_row(g, p))
                .collect();
            run_of(Task::MultiLabelClassification, &names, rows)
        };
        // Row 0 the same; 1 fixed by B; 2 broken by B; 3 wrong both ways.
        let a = run([&[0], &[0], &[], &[2]]);
        let b = run([&[0], &[0, 2], &[1], &[0]]);
        let diff = label_set_changes(&a, &b).unwrap();
        assert_eq!(
            diff.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(
            (diff.fixed, diff.broken, diff.both_wrong, diff.total),
            (1, 1, 1, 4)
        );
        let fixed = &diff.rows[0];
        assert_eq!(
            (
                fixed.labels.as_slice(),
                fixed.predicted_a.as_slice(),
                fixed.predicted_b.as_slice()
            ),
            (&[0, 2][..], &[0][..], &[0, 2][..])
        );
        assert!(!fixed.a_is_right() && fixed.b_is_right());
        // Other gold sets: not the same data.
        let other = run_of(
            Task::MultiLabelClassification,
            &names,
            vec![
                labels_row(&[0], &[0]),
                labels_row(&[0, 1], &[0]),
                labels_row(&[], &[]),
                labels_row(&[1], &[1]),
            ],
        );
        assert!(matches!(
            label_set_changes(&a, &other),
            Err(CompareError::Row { index: 1, .. })
        ));
    }

    #[test]
    fn regression_rows_are_ordered_by_how_much_their_error_changed() {
        let run = |predicted: [f32; 4]| {
            let gold = [1.0, 2.0, 3.0, 4.0];
            let rows = gold
                .iter()
                .zip(predicted)
                .map(|(&score, predicted_score)| {
                    RowOutput::Score(ScoreOutput {
                        score,
                        predicted_score,
                    })
                })
                .collect();
            run_of(Task::Regression, &["score"], rows)
        };
        // Errors A: 0.5, 0, 1, 0; B: 0.25, 2, 1, NaN.
        let a = run([1.5, 2.0, 2.0, 4.0]);
        let b = run([0.75, 4.0, 4.0, f32::NAN]);
        let diff = score_changes(&a, &b).unwrap();
        let order: Vec<u64> = diff.rows.iter().map(|r| r.row).collect();
        // |change|: row 1 is 2, row 0 is 0.25, row 2 is 0 (the same error on the other
        // side), the NaN last.
        assert_eq!(order, [1, 0, 2, 3]);
        assert_eq!((diff.closer, diff.further, diff.total), (1, 1, 4));
        let worst = &diff.rows[0];
        assert_eq!(
            (worst.score, worst.prediction_a, worst.prediction_b),
            (2.0, 2.0, 4.0)
        );
        assert_eq!(worst.error_change(), 2.0);
        assert_eq!(diff.rows[1].error_change(), -0.25);
        // Over the three finite rows: A (0.5 + 0 + 1) / 3, B (0.25 + 2 + 1) / 3.
        assert!((diff.mae_a - 0.5).abs() < 1e-9, "{}", diff.mae_a);
        assert!((diff.mae_b - 3.25 / 3.0).abs() < 1e-9, "{}", diff.mae_b);
    }

    fn span(kind: &str, start: usize, end: usize) -> EntitySpan {
        EntitySpan {
            kind: kind.into(),
            start,
            end,
        }
    }

    /// A token row: words, gold tags and entities, and a run's tags and entities.
    fn tags_row(
        words: &[&str],
        tags: &[u32],
        entities: &[EntitySpan],
        predicted_tags: &[u32],
        predicted_entities: &[EntitySpan],
    ) -> RowOutput {
        RowOutput::Tags(TagsOutput {
            words: words.iter().map(|w| w.to_string()).collect(),
            tags: tags.to_vec(),
            predicted_tags: predicted_tags.to_vec(),
            entities: entities.to_vec(),
            predicted_entities: predicted_entities.to_vec(),
        })
    }

    #[test]
    fn entities_found_by_one_run_and_missed_by_the_other_are_listed_and_counted_by_type() {
        // O B-PER I-PER B-LOC I-LOC
        let names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
        let words = ["Ada", "Lovelace", "visited", "New", "York"];
        let gold_tags = [1, 2, 0, 3, 4];
        let gold = [span("PER", 0, 2), span("LOC", 3, 5)];
        let second_words = ["Bob", "left"];
        let second_gold = [span("PER", 0, 1)];
        let run = |first: (&[u32], &[EntitySpan]), second: (&[u32], &[EntitySpan])| {
            run_of(
                Task::TokenClassification,
                &names,
                vec![
                    tags_row(&words, &gold_tags, &gold, first.0, first.1),
                    tags_row(&second_words, &[1, 0], &second_gold, second.0, second.1),
                ],
            )
        };
        // A: Ada Lovelace right, "New York" cut short to "New"; Bob right.
        let a = run(
            (&[1, 2, 0, 3, 0], &[span("PER", 0, 2), span("LOC", 3, 4)]),
            (&[1, 0], &[span("PER", 0, 1)]),
        );
        // B: only "Ada" as a person (wrong span), New York right; Bob right.
        let b = run(
            (&[1, 0, 0, 3, 4], &[span("PER", 0, 1), span("LOC", 3, 5)]),
            (&[1, 0], &[span("PER", 0, 1)]),
        );
        let diff = entity_changes(&a, &b).unwrap();
        assert_eq!(diff.rows.len(), 1, "row 1 is the same in both runs");
        let row = &diff.rows[0];
        assert_eq!(row.row, 0);
        assert_eq!(row.found_by_a_only, [span("PER", 0, 2)]);
        assert_eq!(row.found_by_b_only, [span("LOC", 3, 5)]);
        assert_eq!(row.entity_text(&row.found_by_a_only[0]), "Ada Lovelace");
        assert_eq!(row.entity_text(&row.found_by_b_only[0]), "New York");
        assert_eq!(
            (row.tags_a.as_slice(), row.tags_b.as_slice()),
            (&[1, 2, 0, 3, 0][..], &[1, 0, 0, 3, 4][..])
        );
        assert_eq!((diff.found_by_a_only, diff.found_by_b_only), (1, 1));
        assert_eq!((diff.gold_entities, diff.total), (3, 2));
        let counts = |kind: &str| {
            let c = &diff.per_type[kind];
            (c.gold, c.found_by_a_only, c.found_by_b_only)
        };
        assert_eq!(counts("PER"), (2, 1, 0));
        assert_eq!(counts("LOC"), (1, 0, 1));
        // Swapping the runs swaps the sides.
        let swapped = entity_changes(&b, &a).unwrap();
        assert_eq!(swapped.rows[0].found_by_a_only, [span("LOC", 3, 5)]);
        assert!(entity_changes(&a, &a).unwrap().rows.is_empty());
    }

    fn records(values: Value) -> Vec<LogRecord> {
        values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect()
    }

    #[test]
    fn curves_pick_the_axis_and_skip_missing_values() {
        let log = records(json!([
            {"step": 2, "epoch": 0.5, "loss": 0.9, "learning_rate": 1e-3, "grad_norm": 2.0, "elapsed_s": 1.5},
            {"step": 4, "epoch": 1.0, "eval_loss": 0.7, "eval_accuracy": 0.6, "eval_runtime": 0.1},
            {"step": 4, "epoch": 1.0, "loss": "NaN"},
        ]));
        assert_eq!(curve(&log, "loss", XAxis::Step), [[2.0, 0.9]]);
        assert_eq!(curve(&log, "eval_loss", XAxis::Epoch), [[1.0, 0.7]]);
        assert_eq!(curve(&log, "loss", XAxis::WallTime), [[1.5, 0.9]]);
        assert!(curve(&log, "eval_loss", XAxis::WallTime).is_empty());
        assert!(has_elapsed(&log));
        assert!(!has_elapsed(&log[1..]));
        assert_eq!(
            curve_keys(&log),
            [
                "loss",
                "eval_loss",
                "eval_accuracy",
                "learning_rate",
                "grad_norm"
            ]
        );
    }

    #[test]
    fn the_last_logged_value_is_found_from_the_end_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        assert_eq!(last_logged(&path, "eval_f1"), None);
        // Long enough that the eval lines sit in different 64 KiB chunks, and a line is
        // cut by a chunk's start.
        let mut text = String::new();
        for step in 1..=4000u64 {
            text.push_str(&format!(
                "{{\"step\":{step},\"loss\":0.5,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n"
            ));
            if step % 1000 == 0 {
                text.push_str(&format!(
                    "{{\"step\":{step},\"eval_f1\":{}}}\n",
                    step as f64 / 10_000.0
                ));
            }
        }
        // A torn last line is not read.
        text.push_str("{\"step\":4001,\"eval_f1\":0.9");
        std::fs::write(&path, &text).unwrap();
        assert!(text.len() > 3 * 64 * 1024);
        assert_eq!(last_logged(&path, "eval_f1"), Some((0.4, Some(4000))));
        assert_eq!(last_logged(&path, "eval_pearson"), None);
        std::fs::write(&path, "{\"step\":2,\"eval_f1\":0.25}").unwrap();
        assert_eq!(last_logged(&path, "eval_f1"), Some((0.25, Some(2))));
    }

    #[test]
    fn a_runs_task_comes_from_run_json_then_its_config_else_single_label() {
        let root = tempfile::tempdir().unwrap();
        let make = |name: &str, config_task: Option<Task>, run_task: Option<Task>| {
            let mut cfg = config("");
            cfg.task = config_task;
            let mut run = super::super::RunDir::create(root.path(), name, &cfg).unwrap();
            if let Some(task) = run_task {
                run.set_task(task).unwrap();
            }
        };
        make("old", None, None);
        make("old-with-config", Some(Task::Regression), None);
        make("new", None, Some(Task::TokenClassification));
        make(
            "both",
            Some(Task::Regression),
            Some(Task::MultiLabelClassification),
        );
        let listing = super::super::list_runs(root.path()).unwrap();
        let task_of = |name: &str| run_task(listing.runs.iter().find(|r| r.name == name).unwrap());
        assert_eq!(task_of("old"), Task::SingleLabelClassification);
        assert_eq!(task_of("old-with-config"), Task::Regression);
        assert_eq!(task_of("new"), Task::TokenClassification);
        assert_eq!(task_of("both"), Task::MultiLabelClassification);
        // run.json keeps it.
        let text = std::fs::read_to_string(root.path().join("new/run.json")).unwrap();
        assert!(
            text.contains("\"task\": \"token_classification\""),
            "{text}"
        );
    }

    #[test]
    fn csv_has_the_fixed_columns_then_the_union_of_keys() {
        let a = records(json!([{"step": 2, "epoch": 0.5, "loss": 0.9}]));
        let b = records(json!([{"step": 2, "elapsed_s": 3.0, "eval_f1": 0.7, "note": "x,y"}]));
        let csv = metrics_csv(&[("run a".into(), &a[..]), ("b".into(), &b[..])]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "run,step,epoch,elapsed_s,eval_f1,loss,note");
        assert_eq!(lines[1], "run a,2,0.5,,,0.9,");
        assert_eq!(lines[2], "b,2,,3.0,0.7,,\"x,y\"");
        assert_eq!(lines.len(), 3);
    }
}
