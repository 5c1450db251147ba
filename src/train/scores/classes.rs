//! Per-class scores and class weights for imbalanced single-label data, as scikit-learn's
//! `precision_recall_fscore_support(average=None, zero_division=0)`,
//! `f1_score(average="macro")` and `compute_class_weight("balanced")`.

use serde::{Deserialize, Serialize};

use super::{ScoreError, ratio};

/// One class's one-vs-rest scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub name: String,
    pub precision: f64,
    /// The share of this class's rows found; under imbalance the number to watch.
    pub recall: f64,
    pub f1: f64,
    /// Rows labelled with this class.
    pub support: usize,
    /// Rows predicted as this class.
    pub predicted: usize,
}

/// Scores of every class in `label_names` (in that order), absent ones included with
/// zeros. Labels and predictions are class ids below `label_names.len()`.
pub fn per_class(
    predictions: &[u32],
    labels: &[u32],
    label_names: &[String],
) -> Result<Vec<ClassScores>, ScoreError> {
    const WHAT: &str = "per_class";
    if predictions.len() != labels.len() {
        return Err(ScoreError::CountMismatch {
            what: WHAT,
            left: "predictions",
            left_len: predictions.len(),
            right: "labels",
            right_len: labels.len(),
        });
    }
    if labels.is_empty() {
        return Err(ScoreError::Empty { what: WHAT });
    }
    let num_labels = label_names.len();
    let mut true_positives = vec![0usize; num_labels];
    let mut support = vec![0usize; num_labels];
    let mut predicted = vec![0usize; num_labels];
    for (row, (&p, &l)) in predictions.iter().zip(labels).enumerate() {
        for (of, value) in [("prediction", p), ("label", l)] {
            if value as usize >= num_labels {
                return Err(ScoreError::OutOfRange {
                    what: WHAT,
                    of,
                    row,
                    value,
                    num_labels,
                });
            }
        }
        support[l as usize] += 1;
        predicted[p as usize] += 1;
        true_positives[l as usize] += usize::from(p == l);
    }
    Ok(label_names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let tp = true_positives[k] as f64;
            ClassScores {
                name: name.clone(),
                precision: ratio(tp, predicted[k] as f64),
                recall: ratio(tp, support[k] as f64),
                // sklearn >= 1.3: 2tp / (2tp + fp + fn) = 2tp / (predicted + support).
                f1: ratio(2.0 * tp, (predicted[k] + support[k]) as f64),
                support: support[k],
                predicted: predicted[k],
            }
        })
        .collect())
}

/// The unweighted mean F1 over the classes that occur in the labels or the predictions,
/// as sklearn's `f1_score(average="macro")` without `labels=` (and `compute_metrics`).
/// 0 when no class occurs.
pub fn macro_f1(classes: &[ClassScores]) -> f64 {
    let present: Vec<f64> = classes
        .iter()
        .filter(|c| c.support + c.predicted > 0)
        .map(|c| c.f1)
        .collect();
    ratio(present.iter().sum(), present.len() as f64)
}

/// Cross-entropy weights from class counts: `n_samples / (n_classes * count)`, sklearn's
/// `compute_class_weight("balanced")`, where `n_classes` counts the classes that occur.
/// sklearn refuses a class with no rows; here it gets weight 1 (the mean weight per row
/// under this scheme), so the vector keeps one entry per class, nothing is infinite, and
/// the weight never matters in training, where no row has that class.
pub fn balanced_class_weights(counts: &[usize]) -> Vec<f32> {
    let samples: usize = counts.iter().sum();
    let present = counts.iter().filter(|&&c| c > 0).count();
    counts
        .iter()
        .map(|&count| {
            if count == 0 {
                1.0
            } else {
                (samples as f64 / (present as f64 * count as f64)) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn names(n: usize) -> Vec<String> {
        ["neg", "neu", "pos", "unused"][..n]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// sklearn 1.9.1 `precision_recall_fscore_support(labels, predictions,
    /// labels=[0, 1, 2, 3], average=None, zero_division=0)`, and `f1_score(...,
    /// average="macro")` (labels 0-2 present): 0.6746031746031745.
    #[test]
    fn per_class_and_macro_f1_match_sklearn() {
        let predictions = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2];
        let labels = [0, 2, 2, 1, 1, 0, 2, 0, 1, 0, 1, 2];
        let classes = per_class(&predictions, &labels, &names(4)).unwrap();
        let sklearn = [
            (1.0, 0.75, 0.8571428571428571, 4),
            (0.5, 0.5, 0.5, 4),
            (0.6, 0.75, 0.6666666666666666, 4),
            (0.0, 0.0, 0.0, 0),
        ];
        for (c, e) in classes.iter().zip(sklearn) {
            assert!(
                close(c.precision, e.0) && close(c.recall, e.1) && close(c.f1, e.2),
                "{c:?} vs {e:?}"
            );
            assert_eq!(c.support, e.3);
        }
        assert_eq!(classes[3].name, "unused");
        assert!(close(macro_f1(&classes), 0.6746031746031745));
    }

    #[test]
    fn a_class_only_predicted_counts_in_the_macro_mean() {
        // sklearn f1_score([0, 0], [0, 1], average="macro") = 0.3333333333333333
        let classes = per_class(&[0, 1], &[0, 0], &names(3)).unwrap();
        assert!(close(macro_f1(&classes), 1.0 / 3.0), "{classes:?}");
        assert_eq!(macro_f1(&[]), 0.0);
    }

    #[test]
    fn balanced_weights_match_sklearn_and_a_missing_class_gets_one() {
        // compute_class_weight("balanced", classes=[0, 1], y=[1, 1, 1, 1, 0, 0]) = [1.5, 0.75]
        assert_eq!(balanced_class_weights(&[2, 4]), vec![1.5, 0.75]);
        // Same y with an empty class 2 between: sklearn refuses; the others keep theirs.
        assert_eq!(balanced_class_weights(&[2, 0, 4]), vec![1.5, 1.0, 0.75]);
        // y = [0]*1 + [1]*2 + [2]*7: [3.3333333333333335, 1.6666666666666667, 0.47619047619047616]
        let weights = balanced_class_weights(&[1, 2, 7]);
        let sklearn = [
            3.3333333333333335f64,
            1.6666666666666667,
            0.47619047619047616,
        ];
        for (w, e) in weights.iter().zip(sklearn) {
            assert_eq!(*w, e as f32);
        }
        assert!(balanced_class_weights(&[]).is_empty());
        assert_eq!(balanced_class_weights(&[0, 0]), vec![1.0, 1.0]);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_row() {
        let err = per_class(&[0, 3], &[0, 1], &names(3)).unwrap_err();
        assert!(
            matches!(
                err,
                ScoreError::OutOfRange {
                    of: "prediction",
                    row: 1,
                    value: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("at row 1"), "{err}");
        assert!(matches!(
            per_class(&[0], &[0, 1], &names(2)),
            Err(ScoreError::CountMismatch { .. })
        ));
        assert!(matches!(
            per_class(&[], &[], &names(2)),
            Err(ScoreError::Empty { .. })
        ));
    }
}
