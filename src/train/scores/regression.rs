//! Regression scores: Pearson and Spearman correlation as scipy's `pearsonr` and
//! `spearmanr` (average ranks for ties), MSE, RMSE and MAE as scikit-learn's. The f32
//! inputs are widened to f64 first, and everything is computed in f64.

use serde::{Deserialize, Serialize};

use super::ScoreError;

/// Regression scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// `None` where the correlation is undefined (scipy's NaN): a constant input, or
    /// fewer than two rows. Never NaN, so the JSON stays valid.
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
    pub num_examples: usize,
}

/// Scores of `predictions` against `targets`, row by row. Non-finite values are an error
/// naming the row (a diverged model should fail loudly, not report NaN).
pub fn regression_scores(
    predictions: &[f32],
    targets: &[f32],
) -> Result<RegressionReport, ScoreError> {
    const WHAT: &str = "regression_scores";
    if predictions.len() != targets.len() {
        return Err(ScoreError::CountMismatch {
            what: WHAT,
            left: "predictions",
            left_len: predictions.len(),
            right: "targets",
            right_len: targets.len(),
        });
    }
    if predictions.is_empty() {
        return Err(ScoreError::Empty { what: WHAT });
    }
    for (of, values) in [("prediction", predictions), ("target", targets)] {
        if let Some((row, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ScoreError::NotFinite {
                what: WHAT,
                of,
                row,
                column: None,
                value,
            });
        }
    }
    let x: Vec<f64> = predictions.iter().map(|&v| f64::from(v)).collect();
    let y: Vec<f64> = targets.iter().map(|&v| f64::from(v)).collect();
    let n = x.len() as f64;
    let mse = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / n;
    let mae = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
    Ok(RegressionReport {
        pearson: pearson(&x, &y),
        spearman: pearson(&average_ranks(&x), &average_ranks(&y)),
        mse,
        rmse: mse.sqrt(),
        mae,
        num_examples: x.len(),
    })
}

/// scipy's `pearsonr` statistic: centred vectors scaled by their norms, the dot product
/// clipped to [-1, 1]; `None` for a constant input or fewer than two values.
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let constant = |v: &[f64]| v.iter().all(|&a| a == v[0]);
    if x.len() < 2 || constant(x) || constant(y) {
        return None;
    }
    let centred = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let centred: Vec<f64> = v.iter().map(|a| a - mean).collect();
        // Scaled by the largest deviation first, as scipy, so the squares cannot overflow.
        let largest = centred.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        let norm = largest
            * centred
                .iter()
                .map(|a| (a / largest).powi(2))
                .sum::<f64>()
                .sqrt();
        centred.into_iter().map(move |a| a / norm)
    };
    let r: f64 = centred(x).zip(centred(y)).map(|(a, b)| a * b).sum();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// 1-based ranks, ties sharing the mean of their ranks (scipy's `rankdata(method="average")`).
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// scipy 1.17.1 `pearsonr`/`spearmanr`, sklearn 1.9.1 `mean_squared_error`,
    /// `root_mean_squared_error`, `mean_absolute_error` on these float32 values as float64.
    #[test]
    fn scores_match_scipy_and_sklearn() {
        let report =
            regression_scores(&[2.5, 0.0, 2.0, 8.0, 2.0], &[3.0, -0.5, 2.0, 7.0, 4.0]).unwrap();
        let expected = [
            0.9239606119685823,
            0.8207826816681234,
            1.1,
            1.0488088481701516,
            0.8,
        ];
        let got = [
            report.pearson.unwrap(),
            report.spearman.unwrap(),
            report.mse,
            report.rmse,
            report.mae,
        ];
        for (g, e) in got.iter().zip(expected) {
            assert!(close(*g, e), "got {got:?}, scipy/sklearn {expected:?}");
        }
        assert_eq!(report.num_examples, 5);
    }

    #[test]
    fn tied_values_share_their_average_rank() {
        // scipy.stats.rankdata([2.0, 1.0, 2.0, 3.0, 2.0]) = [3., 1., 3., 5., 3.]
        assert_eq!(
            average_ranks(&[2.0, 1.0, 2.0, 3.0, 2.0]),
            vec![3.0, 1.0, 3.0, 5.0, 3.0]
        );
        // [1.5, 1.5, 3.5, 3.5]
        assert_eq!(
            average_ranks(&[0.0, 0.0, 1.0, 1.0]),
            vec![1.5, 1.5, 3.5, 3.5]
        );
        assert!(average_ranks(&[]).is_empty());
    }

    #[test]
    fn a_constant_input_has_no_correlation_but_its_errors_are_scored() {
        // scipy: nan (ConstantInputWarning) for both; sklearn: mse 1.5, mae 1.0
        let report = regression_scores(&[1.0, 1.0, 1.0, 1.0], &[0.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((report.pearson, report.spearman), (None, None));
        assert!(
            close(report.mse, 1.5) && close(report.mae, 1.0),
            "{report:?}"
        );
        let report = regression_scores(&[0.0, 1.0], &[5.0, 5.0]).unwrap();
        assert_eq!((report.pearson, report.spearman), (None, None));
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"pearson\":null"), "{json}");
        assert_eq!(
            serde_json::from_str::<RegressionReport>(&json).unwrap(),
            report
        );
    }

    #[test]
    fn one_row_has_errors_but_no_correlation() {
        let report = regression_scores(&[1.0], &[3.0]).unwrap();
        assert_eq!((report.pearson, report.spearman), (None, None));
        assert!(close(report.mse, 4.0) && close(report.rmse, 2.0) && close(report.mae, 2.0));
    }

    #[test]
    fn two_rows_correlate_perfectly() {
        // scipy: pearsonr -1.0, spearmanr -0.9999999999999999
        let report = regression_scores(&[1.0, 2.0], &[10.0, 0.0]).unwrap();
        assert!(close(report.pearson.unwrap(), -1.0) && close(report.spearman.unwrap(), -1.0));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_row() {
        assert!(matches!(
            regression_scores(&[], &[]),
            Err(ScoreError::Empty { .. })
        ));
        assert!(matches!(
            regression_scores(&[1.0], &[1.0, 2.0]),
            Err(ScoreError::CountMismatch { .. })
        ));
        let err = regression_scores(&[1.0, 2.0, 3.0], &[1.0, f32::INFINITY, 0.0]).unwrap_err();
        assert!(
            matches!(
                err,
                ScoreError::NotFinite {
                    of: "target",
                    row: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("target at row 1"), "{err}");
    }
}
