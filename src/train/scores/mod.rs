//! Scores for the tasks beyond single-label classification, as pure functions over
//! predictions and labels: entity-level precision/recall/F1 for token classification
//! (`entities`, as seqeval), multi-label scores and per-label thresholds (`multilabel`,
//! as scikit-learn), regression correlations and errors (`regression`, as scipy and
//! scikit-learn), and per-class scores and class weights for imbalanced data (`classes`).
//!
//! Nothing here knows about tensors or runs; evaluation turns logits into the inputs
//! (argmax, sigmoid, the -100 positions dropped) and calls these. Every report is
//! `Serialize` for `metrics.jsonl` and the Runs panel. Undefined ratios are 0, as
//! scikit-learn's `zero_division=0`; undefined correlations are `None`, never NaN.
//!
//! `scripts/scores_reference.py` computes the same scores with seqeval, scikit-learn and
//! scipy; `tests/fixtures/scores/reference.json` holds its answers so the comparison also
//! runs without Python (`python_check.rs`).

pub mod classes;
pub mod entities;
pub mod multilabel;
pub mod regression;

#[cfg(test)]
mod python_check;

pub use classes::{ClassScores, balanced_class_weights, macro_f1, per_class};
pub use entities::{
    Entity, EntityReport, TagScheme, TypeScores, entity_scores, entity_scores_with, entity_spans,
    entity_types, guess_scheme, tag_parts,
};
pub use multilabel::{
    DEFAULT_THRESHOLD, LabelScores, MultiLabelReport, multilabel_scores, sigmoid, threshold_grid,
    tune_thresholds,
};
pub use regression::{RegressionReport, regression_scores};

/// Why scores cannot be computed. Each names the function and the row (and column) at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error("{what}: no examples to score")]
    Empty { what: &'static str },
    #[error("{what}: no labels to score (the label names are empty)")]
    NoLabels { what: &'static str },
    #[error("{what}: the threshold of label {label} is {value}, not a finite number")]
    BadThreshold {
        what: &'static str,
        label: usize,
        value: f32,
    },
    #[error("{what}: {left_len} {left} but {right_len} {right}")]
    CountMismatch {
        what: &'static str,
        left: &'static str,
        left_len: usize,
        right: &'static str,
        right_len: usize,
    },
    #[error("{what}: row {row} has {expected} {expected_of} but {found} {found_of}")]
    RowLengthMismatch {
        what: &'static str,
        row: usize,
        expected: usize,
        expected_of: &'static str,
        found: usize,
        found_of: &'static str,
    },
    #[error("{what}: {of} at row {row}{} is {value}, not a finite number", column_suffix(*.column))]
    NotFinite {
        what: &'static str,
        of: &'static str,
        row: usize,
        column: Option<usize>,
        value: f32,
    },
    #[error("{what}: {of} {value} at row {row} is out of range for {num_labels} labels")]
    OutOfRange {
        what: &'static str,
        of: &'static str,
        row: usize,
        value: u32,
        num_labels: usize,
    },
    #[error(
        "entity_scores: {of} tag {tag:?} at row {row}, position {position} is not valid in \
         strict {scheme:?} mode (allowed prefixes: {allowed})"
    )]
    InvalidTag {
        of: &'static str,
        row: usize,
        position: usize,
        tag: String,
        scheme: TagScheme,
        allowed: &'static str,
    },
}

fn column_suffix(column: Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

/// `numerator / denominator`, 0 when the denominator is 0 (scikit-learn's `zero_division=0`).
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}
