//! Multi-label scores, as scikit-learn computes them on indicator matrices
//! (`f1_score(average="micro"|"macro", zero_division=0)`, `accuracy_score` = subset
//! accuracy, `hamming_loss`), and per-label thresholds tuned on a split.
//!
//! A label is predicted when its probability is at least its threshold (`p >= t`, the
//! course's `probs >= 0.5`). Probabilities are the sigmoids of the logits.

use serde::{Deserialize, Serialize};

use super::{ScoreError, ratio};

/// The threshold a label is predicted at unless tuned (the course's `probs >= 0.5`).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// A logit's probability, as `torch.sigmoid`: what every multi-label threshold applies to.
pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

/// One label's scores at its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows that carry this label.
    pub support: usize,
    /// Rows predicted to carry it.
    pub predicted: usize,
    pub threshold: f32,
}

/// Multi-label scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelReport {
    /// F1 over all (row, label) decisions pooled.
    pub micro_f1: f64,
    /// Unweighted mean of the per-label F1 over every label, a label that never occurs
    /// and is never predicted scoring 0 (sklearn's `average="macro", zero_division=0`).
    pub macro_f1: f64,
    pub micro_precision: f64,
    pub micro_recall: f64,
    /// Share of rows whose whole label set is right.
    pub subset_accuracy: f64,
    /// Share of (row, label) decisions that are wrong.
    pub hamming_loss: f64,
    pub per_label: Vec<LabelScores>,
    pub num_examples: usize,
}

/// Scores of `probabilities[row][label]` against `targets[row][label]` at `thresholds`
/// (one per label). Every row has one entry per name in `label_names`.
pub fn multilabel_scores(
    probabilities: &[Vec<f32>],
    targets: &[Vec<bool>],
    thresholds: &[f32],
    label_names: &[String],
) -> Result<MultiLabelReport, ScoreError> {
    const WHAT: &str = "multilabel_scores";
    let num_labels = label_names.len();
    check_shapes(WHAT, probabilities, targets, num_labels)?;
    if thresholds.len() != num_labels {
        return Err(ScoreError::CountMismatch {
            what: WHAT,
            left: "thresholds",
            left_len: thresholds.len(),
            right: "labels",
            right_len: num_labels,
        });
    }
    if let Some((label, &value)) = thresholds.iter().enumerate().find(|(_, t)| !t.is_finite()) {
        return Err(ScoreError::BadThreshold {
            what: WHAT,
            label,
            value,
        });
    }

    let mut counts = vec![Counts::default(); num_labels];
    let mut exact_rows = 0;
    for (row_probabilities, row_targets) in probabilities.iter().zip(targets) {
        let mut row_exact = true;
        for label in 0..num_labels {
            let predicted = row_probabilities[label] >= thresholds[label];
            counts[label].add(predicted, row_targets[label]);
            row_exact &= predicted == row_targets[label];
        }
        exact_rows += usize::from(row_exact);
    }

    let total = counts.iter().fold(Counts::default(), |a, c| a.plus(c));
    let per_label: Vec<LabelScores> = counts
        .iter()
        .zip(label_names)
        .zip(thresholds)
        .map(|((c, name), &threshold)| LabelScores {
            name: name.clone(),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            support: c.support(),
            predicted: c.predicted(),
            threshold,
        })
        .collect();
    let rows = probabilities.len() as f64;
    Ok(MultiLabelReport {
        micro_f1: total.f1(),
        macro_f1: per_label.iter().map(|l| l.f1).sum::<f64>() / num_labels as f64,
        micro_precision: total.precision(),
        micro_recall: total.recall(),
        subset_accuracy: exact_rows as f64 / rows,
        hamming_loss: (total.false_positives + total.false_negatives) as f64
            / (rows * num_labels as f64),
        per_label,
        num_examples: probabilities.len(),
    })
}

/// The thresholds [`tune_thresholds`] tries: 0.05, 0.10, ..., 0.95 (each the `f32`
/// nearest `k / 20`).
pub fn threshold_grid() -> Vec<f32> {
    (1..GRID_DIVISIONS)
        .map(|k| k as f32 / GRID_DIVISIONS as f32)
        .collect()
}

const GRID_DIVISIONS: u16 = 20;

/// Per label, the grid threshold ([`threshold_grid`]) that maximizes that label's F1 on
/// this split. Ties go to the threshold closest to 0.5, then to the lower one, so a label
/// whose F1 does not depend on the threshold (no positives at all, say) keeps 0.5.
/// A coarse grid rather than every midpoint between probabilities: the thresholds are
/// tuned and reported on the evaluation split, and a fine search would overfit it.
pub fn tune_thresholds(
    probabilities: &[Vec<f32>],
    targets: &[Vec<bool>],
) -> Result<Vec<f32>, ScoreError> {
    let num_labels = targets.first().map_or(0, Vec::len);
    check_shapes("tune_thresholds", probabilities, targets, num_labels)?;
    // Closest to 0.5 first, lower before higher; a later candidate must do strictly better.
    // (Ordered on the grid's integers: the f32 distances to 0.5 of 0.45 and 0.55 differ.)
    let mut steps: Vec<u16> = (1..GRID_DIVISIONS).collect();
    steps.sort_by_key(|&k| (k.abs_diff(GRID_DIVISIONS / 2), k));
    let grid: Vec<f32> = steps
        .into_iter()
        .map(|k| k as f32 / GRID_DIVISIONS as f32)
        .collect();
    let thresholds = (0..num_labels)
        .map(|label| {
            let mut best = (f64::NEG_INFINITY, 0.5);
            for &threshold in &grid {
                let mut counts = Counts::default();
                for (p, t) in probabilities.iter().zip(targets) {
                    counts.add(p[label] >= threshold, t[label]);
                }
                if counts.f1() > best.0 {
                    best = (counts.f1(), threshold);
                }
            }
            best.1
        })
        .collect();
    Ok(thresholds)
}

/// Same number of rows, `num_labels` entries per row, finite probabilities, some rows.
fn check_shapes(
    what: &'static str,
    probabilities: &[Vec<f32>],
    targets: &[Vec<bool>],
    num_labels: usize,
) -> Result<(), ScoreError> {
    if probabilities.len() != targets.len() {
        return Err(ScoreError::CountMismatch {
            what,
            left: "rows of probabilities",
            left_len: probabilities.len(),
            right: "rows of targets",
            right_len: targets.len(),
        });
    }
    if probabilities.is_empty() {
        return Err(ScoreError::Empty { what });
    }
    if num_labels == 0 {
        return Err(ScoreError::NoLabels { what });
    }
    for (row, (p, t)) in probabilities.iter().zip(targets).enumerate() {
        for (len, of) in [(p.len(), "probabilities"), (t.len(), "targets")] {
            if len != num_labels {
                return Err(ScoreError::RowLengthMismatch {
                    what,
                    row,
                    expected: num_labels,
                    expected_of: "labels",
                    found: len,
                    found_of: of,
                });
            }
        }
        if let Some((column, &value)) = p.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ScoreError::NotFinite {
                what,
                of: "probability",
                row,
                column: Some(column),
                value,
            });
        }
    }
    Ok(())
}

/// One label's confusion counts.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    fn plus(self, other: &Counts) -> Counts {
        Counts {
            true_positives: self.true_positives + other.true_positives,
            false_positives: self.false_positives + other.false_positives,
            false_negatives: self.false_negatives + other.false_negatives,
        }
    }

    fn support(&self) -> usize {
        self.true_positives + self.false_negatives
    }

    fn predicted(&self) -> usize {
        self.true_positives + self.false_positives
    }

    fn precision(&self) -> f64 {
        ratio(self.true_positives as f64, self.predicted() as f64)
    }

    fn recall(&self) -> f64 {
        ratio(self.true_positives as f64, self.support() as f64)
    }

    /// sklearn >= 1.3: 2tp / (2tp + fp + fn), 0 when nothing is predicted or true.
    fn f1(&self) -> f64 {
        ratio(
            2.0 * self.true_positives as f64,
            (self.predicted() + self.support()) as f64,
        )
    }
}

#[cfg(test)]
#[path = "multilabel_tests.rs"]
mod tests;
