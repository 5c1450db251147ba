//! `Metrics`: one evaluation's scalar metrics by name, per task. `compute_metrics` is the
//! single-label one, matching scikit-learn (the GLUE metric of 🤗 `evaluate` calls
//! `accuracy_score`, `f1_score`, `matthews_corrcoef`); the other tasks' are built by
//! `train::evaluate` from `train::scores`.

use serde_json::{Map, Value};

use super::scores::{self, ClassScores, ScoreError};
use crate::runs::{Breakdown, BreakdownKind, BreakdownRow};
use crate::task::Task;

/// How precision, recall and F1 are averaged over classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Averaging {
    /// Two labels: scores of the positive class 1 (sklearn `average="binary"`).
    Binary,
    /// Unweighted mean over the labels present in labels or predictions
    /// (sklearn `average="macro"`).
    Macro,
}

/// Evaluation metrics of one evaluation pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub task: Task,
    /// Scalar metrics by name (no `eval_` prefix), in [`Metrics::names_for`] order; a metric
    /// that is undefined on this split (a correlation of constant values) is left out.
    pub scalars: Vec<(&'static str, f64)>,
    /// Single-label: `confusion_matrix[true][predicted]` counts, `num_labels` square.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// Single-label: how precision, recall and F1 average over classes.
    pub averaging: Option<Averaging>,
    pub num_examples: usize,
    /// Mean evaluation loss; the loop fills it in (`compute_metrics` never sees logits).
    pub loss: Option<f64>,
    /// Scores per class, label or entity type (none for regression). Shown in tables,
    /// kept in `predictions.json`, never logged as scalars (28 labels would flood the charts).
    pub breakdown: Option<Breakdown>,
}

/// Each task's metric names, without the `eval_` prefix; the first after `loss` is the
/// task's headline metric.
const SINGLE_LABEL: &[&str] = &[
    "loss",
    "accuracy",
    "f1",
    "precision",
    "recall",
    "matthews_correlation",
    "macro_f1",
];
/// seqeval's overall (micro) entity scores, and accuracy over the labelled tokens, with the
/// names of the course's `compute_metrics` for NER.
const TOKEN: &[&str] = &["loss", "f1", "precision", "recall", "accuracy"];
const MULTI_LABEL: &[&str] = &[
    "loss",
    "micro_f1",
    "macro_f1",
    "micro_precision",
    "micro_recall",
    "subset_accuracy",
    "hamming_loss",
    "tuned_micro_f1",
];
const REGRESSION: &[&str] = &["loss", "pearson", "spearman", "rmse", "mse", "mae"];

/// Why metrics cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("compute_metrics: {predictions} predictions but {labels} labels")]
    LengthMismatch { predictions: usize, labels: usize },
    #[error("compute_metrics: no examples to evaluate")]
    Empty,
    #[error("compute_metrics: {what} {value} is out of range for {num_labels} labels")]
    OutOfRange {
        what: &'static str,
        value: u32,
        num_labels: usize,
    },
}

/// Accuracy, F1/precision/recall (binary for 2 labels, else macro), MCC and
/// the confusion matrix. Zero divisions give 0, as sklearn's `zero_division`. The
/// per-class breakdown names the classes by id; [`compute_class_metrics`] names them.
pub fn compute_metrics(
    predictions: &[u32],
    labels: &[u32],
    num_labels: usize,
) -> Result<Metrics, MetricsError> {
    let names: Vec<String> = (0..num_labels).map(|k| k.to_string()).collect();
    compute_class_metrics(predictions, labels, &names)
}

/// [`compute_metrics`] with the classes' names (one per label id) in the breakdown.
pub fn compute_class_metrics(
    predictions: &[u32],
    labels: &[u32],
    label_names: &[String],
) -> Result<Metrics, MetricsError> {
    let num_labels = label_names.len();
    let per_class = scores::per_class(predictions, labels, label_names).map_err(metrics_error)?;
    // per_class has checked every id against num_labels.
    let mut confusion = vec![vec![0u64; num_labels]; num_labels];
    for (&p, &l) in predictions.iter().zip(labels) {
        confusion[l as usize][p as usize] += 1;
    }

    let n = labels.len() as f64;
    let correct: u64 = (0..num_labels).map(|k| confusion[k][k]).sum();
    let (averaging, precision, recall, f1) = if num_labels == 2 {
        let positive = &per_class[1];
        (
            Averaging::Binary,
            positive.precision,
            positive.recall,
            positive.f1,
        )
    } else {
        // sklearn's `unique_labels`: the classes in the labels or the predictions.
        let present: Vec<&ClassScores> = per_class
            .iter()
            .filter(|c| c.support + c.predicted > 0)
            .collect();
        let mean = |f: fn(&ClassScores) -> f64| {
            present.iter().map(|c| f(c)).sum::<f64>() / present.len().max(1) as f64
        };
        (
            Averaging::Macro,
            mean(|c| c.precision),
            mean(|c| c.recall),
            scores::macro_f1(&per_class),
        )
    };

    Ok(Metrics {
        task: Task::SingleLabelClassification,
        scalars: vec![
            ("accuracy", correct as f64 / n),
            ("f1", f1),
            ("precision", precision),
            ("recall", recall),
            ("matthews_correlation", matthews(&confusion)),
            ("macro_f1", scores::macro_f1(&per_class)),
        ],
        confusion_matrix: confusion,
        averaging: Some(averaging),
        num_examples: labels.len(),
        loss: None,
        breakdown: Some(Breakdown {
            kind: BreakdownKind::Classes,
            rows: per_class.into_iter().map(class_row).collect(),
        }),
    })
}

fn class_row(class: ClassScores) -> BreakdownRow {
    BreakdownRow {
        name: class.name,
        precision: class.precision,
        recall: class.recall,
        f1: class.f1,
        support: class.support,
        threshold: None,
    }
}

/// `per_class`'s complaints in `compute_metrics`' words.
fn metrics_error(err: ScoreError) -> MetricsError {
    match err {
        ScoreError::CountMismatch {
            left_len,
            right_len,
            ..
        } => MetricsError::LengthMismatch {
            predictions: left_len,
            labels: right_len,
        },
        ScoreError::OutOfRange {
            of,
            value,
            num_labels,
            ..
        } => MetricsError::OutOfRange {
            what: of,
            value,
            num_labels,
        },
        _ => MetricsError::Empty,
    }
}

/// Multiclass Matthews correlation (sklearn `matthews_corrcoef`), 0 when undefined.
fn matthews(confusion: &[Vec<u64>]) -> f64 {
    let k = confusion.len();
    let true_counts: Vec<f64> = confusion
        .iter()
        .map(|row| row.iter().sum::<u64>() as f64)
        .collect();
    let pred_counts: Vec<f64> = (0..k)
        .map(|j| confusion.iter().map(|row| row[j]).sum::<u64>() as f64)
        .collect();
    let correct: f64 = (0..k).map(|i| confusion[i][i] as f64).sum();
    let samples: f64 = true_counts.iter().sum();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_ytyp = correct * samples - dot(&true_counts, &pred_counts);
    let cov_ypyp = samples * samples - dot(&pred_counts, &pred_counts);
    let cov_ytyt = samples * samples - dot(&true_counts, &true_counts);
    if cov_ypyp * cov_ytyt == 0.0 {
        return 0.0;
    }
    cov_ytyp / (cov_ytyt * cov_ypyp).sqrt()
}

impl Metrics {
    /// The metric names of `task` (each also accepted with an `eval_` prefix), `loss` first,
    /// then the headline metric.
    pub fn names_for(task: Task) -> &'static [&'static str] {
        match task {
            Task::SingleLabelClassification => SINGLE_LABEL,
            Task::TokenClassification => TOKEN,
            Task::MultiLabelClassification => MULTI_LABEL,
            Task::Regression => REGRESSION,
        }
    }

    /// Whether `name` (e.g. `"f1"` or `"eval_f1"`) is a metric Wick computes for `task`
    /// (`mcc` is an alias of `matthews_correlation`).
    pub fn is_known_for(task: Task, name: &str) -> bool {
        let name = canonical(name);
        Self::names_for(task).contains(&name)
    }

    /// The metric a run of `task` is judged by (`f1` for single-label and entities,
    /// `micro_f1`, `pearson`).
    pub fn headline(task: Task) -> &'static str {
        Self::names_for(task)[1]
    }

    /// A metric by name, `eval_` prefix optional; `mcc` is an alias of
    /// `matthews_correlation`. `loss` is `None` until the loop sets it.
    pub fn get(&self, name: &str) -> Option<f64> {
        match canonical(name) {
            "loss" => self.loss,
            name => self
                .scalars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v),
        }
    }

    /// The scalar metrics as HF log keys with `prefix` (e.g. `"eval_"`):
    /// `eval_loss`, `eval_accuracy`, ... (loss only when set).
    pub fn to_log_entries(&self, prefix: &str) -> Map<String, Value> {
        Self::names_for(self.task)
            .iter()
            .filter_map(|name| Some((format!("{prefix}{name}"), self.get(name)?)))
            .map(|(key, value)| (key, Value::from(value)))
            .collect()
    }
}

fn canonical(name: &str) -> &str {
    match strip_eval(name) {
        "mcc" => "matthews_correlation",
        other => other,
    }
}

fn strip_eval(name: &str) -> &str {
    name.strip_prefix("eval_").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Expected values from scikit-learn 1.9.1 (`average="binary"`/`"macro"`, `zero_division=0`).
    fn check(p: &[u32], l: &[u32], k: usize, expected: [f64; 5], confusion: &[&[u64]]) {
        let m = compute_metrics(p, l, k).unwrap();
        let got = ["accuracy", "f1", "precision", "recall", "mcc"].map(|n| m.get(n).unwrap());
        for (name, (g, e)) in ["accuracy", "f1", "precision", "recall", "mcc"]
            .iter()
            .zip(got.iter().zip(expected))
        {
            assert!(close(*g, e), "{name}: got {g}, sklearn {e}");
        }
        let confusion: Vec<Vec<u64>> = confusion.iter().map(|row| row.to_vec()).collect();
        assert_eq!(m.confusion_matrix, confusion);
        assert_eq!(m.num_examples, l.len());
    }

    #[test]
    fn binary_matches_sklearn() {
        check(
            &[1, 0, 1, 1, 0, 0, 1, 0, 1, 1],
            &[1, 0, 0, 1, 0, 1, 1, 1, 1, 0],
            2,
            [
                0.6,
                0.6666666666666666,
                0.6666666666666666,
                0.6666666666666666,
                0.16666666666666666,
            ],
            &[&[2, 2], &[2, 4]],
        );
    }

    #[test]
    fn multiclass_macro_matches_sklearn() {
        check(
            &[0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2],
            &[0, 2, 2, 1, 1, 0, 2, 0, 1, 0, 1, 2],
            3,
            [
                0.6666666666666666,
                0.6746031746031745,
                0.7000000000000001,
                0.6666666666666666,
                0.5052911526399114,
            ],
            &[&[3, 1, 0], &[0, 2, 2], &[0, 1, 3]],
        );
    }

    #[test]
    fn no_positive_predictions_give_zero_not_nan() {
        check(
            &[0, 0, 0, 0],
            &[0, 1, 0, 1],
            2,
            [0.5, 0.0, 0.0, 0.0, 0.0],
            &[&[2, 0], &[2, 0]],
        );
    }

    #[test]
    fn macro_ignores_classes_absent_from_labels_and_predictions() {
        check(
            &[0, 1, 0, 1],
            &[0, 1, 1, 1],
            3,
            [
                0.75,
                0.7333333333333334,
                0.75,
                0.8333333333333333,
                0.5773502691896258,
            ],
            &[&[1, 0, 0], &[1, 2, 0], &[0, 0, 0]],
        );
    }

    #[test]
    fn single_class_all_correct_has_zero_mcc() {
        check(
            &[1, 1, 1],
            &[1, 1, 1],
            2,
            [1.0, 1.0, 1.0, 1.0, 0.0],
            &[&[0, 0], &[0, 3]],
        );
    }

    /// The breakdown is `scores::per_class`'s: sklearn 1.9.1
    /// `precision_recall_fscore_support(labels, predictions, labels=[0, 1, 2, 3],
    /// average=None, zero_division=0)` (as `classes::tests::per_class_and_macro_f1_match_sklearn`).
    #[test]
    fn the_breakdown_holds_each_class_as_sklearn_scores_it() {
        let predictions = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2];
        let labels = [0, 2, 2, 1, 1, 0, 2, 0, 1, 0, 1, 2];
        let names: Vec<String> = ["neg", "neu", "pos", "unused"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = compute_class_metrics(&predictions, &labels, &names).unwrap();
        let breakdown = m.breakdown.as_ref().unwrap();
        assert_eq!(breakdown.kind, BreakdownKind::Classes);
        let sklearn = [
            ("neg", 1.0, 0.75, 0.8571428571428571, 4),
            ("neu", 0.5, 0.5, 0.5, 4),
            ("pos", 0.6, 0.75, 0.6666666666666666, 4),
            ("unused", 0.0, 0.0, 0.0, 0),
        ];
        for (row, e) in breakdown.rows.iter().zip(sklearn) {
            assert_eq!(
                (row.name.as_str(), row.support, row.threshold),
                (e.0, e.4, None)
            );
            assert!(
                close(row.precision, e.1) && close(row.recall, e.2) && close(row.f1, e.3),
                "{row:?} vs {e:?}"
            );
        }
        assert_eq!(breakdown.rows.len(), 4);
        // Unnamed, the classes are their ids; the scores are the same.
        let by_id = compute_metrics(&predictions, &labels, 4).unwrap();
        assert_eq!(by_id.breakdown.as_ref().unwrap().rows[3].name, "3");
        assert_eq!(by_id.scalars, m.scalars);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            compute_metrics(&[0, 1], &[0], 2),
            Err(MetricsError::LengthMismatch {
                predictions: 2,
                labels: 1
            })
        );
        assert_eq!(compute_metrics(&[], &[], 2), Err(MetricsError::Empty));
        assert!(matches!(
            compute_metrics(&[0, 2], &[0, 1], 2),
            Err(MetricsError::OutOfRange {
                what: "prediction",
                value: 2,
                ..
            })
        ));
        assert!(matches!(
            compute_metrics(&[0, 1], &[5, 1], 2),
            Err(MetricsError::OutOfRange {
                what: "label",
                value: 5,
                ..
            })
        ));
    }

    #[test]
    fn get_accepts_eval_prefix_and_loss() {
        let mut m = compute_metrics(&[1, 0, 1], &[1, 1, 1], 2).unwrap();
        assert_eq!(m.get("accuracy"), m.get("eval_accuracy"));
        assert!(close(m.get("eval_accuracy").unwrap(), 2.0 / 3.0));
        assert_eq!(m.get("mcc"), m.get("matthews_correlation"));
        assert_eq!(m.get("eval_loss"), None);
        m.loss = Some(0.25);
        assert_eq!(m.get("loss"), Some(0.25));
        assert_eq!(m.get("bleu"), None);
        let task = Task::SingleLabelClassification;
        for name in Metrics::names_for(task) {
            assert!(
                m.get(name).is_some() && Metrics::is_known_for(task, &format!("eval_{name}")),
                "{name}"
            );
        }
        assert!(!Metrics::is_known_for(task, "eval_bleu"));
        assert!(!Metrics::is_known_for(task, "pearson"));
        assert!(Metrics::is_known_for(Task::Regression, "eval_pearson"));
        let log = m.to_log_entries("eval_");
        assert_eq!(log.get("eval_loss"), Some(&Value::from(0.25)));
        assert_eq!(log.len(), Metrics::names_for(task).len());
    }
}
