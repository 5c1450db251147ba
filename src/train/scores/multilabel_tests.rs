//! Expected values from scikit-learn 1.9.1 (`f1_score`, `precision_score`, `recall_score`
//! with `zero_division=0`, `accuracy_score`, `hamming_loss`, `precision_recall_fscore_support`).

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("label{i}")).collect()
}

fn bools(rows: &[&[u8]]) -> Vec<Vec<bool>> {
    rows.iter()
        .map(|row| row.iter().map(|&v| v == 1).collect())
        .collect()
}

#[test]
fn scores_match_sklearn_at_one_half() {
    let probabilities = vec![
        vec![0.9, 0.2, 0.6],
        vec![0.4, 0.7, 0.1],
        vec![0.8, 0.3, 0.5],
        vec![0.1, 0.6, 0.2],
    ];
    let targets = bools(&[&[1, 0, 1], &[0, 1, 0], &[1, 1, 0], &[0, 0, 0]]);
    let report = multilabel_scores(&probabilities, &targets, &[0.5; 3], &names(3)).unwrap();
    let got = [
        report.micro_f1,
        report.macro_f1,
        report.micro_precision,
        report.micro_recall,
        report.subset_accuracy,
        report.hamming_loss,
    ];
    let sklearn = [
        0.7272727272727273,
        0.7222222222222222,
        0.6666666666666666,
        0.8,
        0.5,
        0.25,
    ];
    for (g, e) in got.iter().zip(sklearn) {
        assert!(close(*g, e), "got {got:?}, sklearn {sklearn:?}");
    }
    let per_label: Vec<(f64, f64, f64, usize)> = report
        .per_label
        .iter()
        .map(|l| (l.precision, l.recall, l.f1, l.support))
        .collect();
    let sklearn = [
        (1.0, 1.0, 1.0, 2),
        (0.5, 0.5, 0.5, 2),
        (0.5, 1.0, 0.6666666666666666, 1),
    ];
    for (g, e) in per_label.iter().zip(sklearn) {
        assert!(
            close(g.0, e.0) && close(g.1, e.1) && close(g.2, e.2) && g.3 == e.3,
            "{g:?} vs {e:?}"
        );
    }
    assert_eq!(report.per_label[2].name, "label2");
    assert_eq!(report.num_examples, 4);
}

#[test]
fn a_probability_equal_to_the_threshold_is_predicted() {
    let report = multilabel_scores(&[vec![0.5]], &bools(&[&[1]]), &[0.5], &names(1)).unwrap();
    assert_eq!(report.per_label[0].predicted, 1);
    assert!(close(report.micro_f1, 1.0));
}

#[test]
fn a_label_never_true_nor_predicted_scores_zero_in_the_macro_mean() {
    // sklearn: macro 0.3333333333333333, micro 0.6666666666666666, subset 0.5, hamming 0.25
    let probabilities = vec![vec![0.9, 0.1], vec![0.9, 0.1]];
    let targets = bools(&[&[1, 0], &[0, 0]]);
    let report = multilabel_scores(&probabilities, &targets, &[0.5, 0.5], &names(2)).unwrap();
    assert!(close(report.macro_f1, 1.0 / 3.0), "{report:?}");
    assert!(close(report.micro_f1, 2.0 / 3.0));
    assert!(close(report.subset_accuracy, 0.5));
    assert!(close(report.hamming_loss, 0.25));
    let silent = &report.per_label[1];
    assert_eq!(
        (silent.precision, silent.recall, silent.f1),
        (0.0, 0.0, 0.0)
    );
}

#[test]
fn thresholds_maximize_each_labels_f1_and_ties_go_towards_one_half() {
    // Label 0: F1 is 0.8 for thresholds in (0.2, 0.3] (0.25 and 0.3 on the grid), less
    // elsewhere; 0.3 is closer to 0.5. Label 1 has no positives: F1 is 0 everywhere.
    // Label 2: every threshold in (0.2, 0.8] separates perfectly; 0.5 is among them.
    let probabilities = vec![
        vec![0.3, 0.9, 0.8],
        vec![0.7, 0.1, 0.9],
        vec![0.2, 0.4, 0.2],
        vec![0.6, 0.6, 0.1],
    ];
    let targets = bools(&[&[1, 0, 1], &[1, 0, 1], &[0, 0, 0], &[0, 0, 0]]);
    assert_eq!(
        tune_thresholds(&probabilities, &targets).unwrap(),
        vec![0.3, 0.5, 0.5]
    );
}

#[test]
fn equal_f1_at_equal_distance_picks_the_lower_threshold() {
    // Positives at 0.9 and 0.47, negatives at 0.52 and 0.53. F1 = 2/3 at every threshold
    // up to 0.45 (all predicted: tp 2, fp 2) and from 0.55 to 0.9 (tp 1, fn 1), 0.4 at
    // 0.5 (tp 1, fp 2, fn 1), 0 at 0.95: 0.45 and 0.55 tie as closest, the lower wins.
    let probabilities = vec![vec![0.9], vec![0.47], vec![0.52], vec![0.53]];
    let targets = bools(&[&[1], &[1], &[0], &[0]]);
    assert_eq!(
        tune_thresholds(&probabilities, &targets).unwrap(),
        vec![0.45]
    );
}

#[test]
fn the_grid_is_five_hundredths_apart() {
    let grid = threshold_grid();
    assert_eq!(grid.len(), 19);
    assert_eq!((grid[0], grid[9], grid[18]), (0.05, 0.5, 0.95));
}

#[test]
fn bad_input_is_an_error_naming_the_row() {
    let p = vec![vec![0.5, 0.5], vec![0.5]];
    let t = bools(&[&[1, 0], &[1, 0]]);
    let err = multilabel_scores(&p, &t, &[0.5, 0.5], &names(2)).unwrap_err();
    assert!(
        matches!(err, ScoreError::RowLengthMismatch { row: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("row 1"), "{err}");
    assert!(matches!(
        multilabel_scores(&[], &[], &[0.5], &names(1)),
        Err(ScoreError::Empty { .. })
    ));
    assert!(matches!(
        multilabel_scores(&p[..1], &t, &[0.5, 0.5], &names(2)),
        Err(ScoreError::CountMismatch { .. })
    ));
    assert!(matches!(
        multilabel_scores(&p[..1], &t[..1], &[0.5], &names(2)),
        Err(ScoreError::CountMismatch { .. })
    ));
    let nan = vec![vec![0.5, f32::NAN]];
    let err = multilabel_scores(&nan, &t[..1], &[0.5, 0.5], &names(2)).unwrap_err();
    assert!(
        matches!(
            err,
            ScoreError::NotFinite {
                row: 0,
                column: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("row 0, column 1"), "{err}");
    assert!(matches!(
        multilabel_scores(&[vec![]], &[vec![]], &[], &[]),
        Err(ScoreError::NoLabels { .. })
    ));
    let err = multilabel_scores(&p[..1], &t[..1], &[0.5, f32::NAN], &names(2)).unwrap_err();
    assert!(
        matches!(err, ScoreError::BadThreshold { label: 1, .. }),
        "{err:?}"
    );
    assert!(matches!(
        tune_thresholds(&[], &[]),
        Err(ScoreError::Empty { .. })
    ));
    assert!(matches!(
        tune_thresholds(&p, &t),
        Err(ScoreError::RowLengthMismatch { row: 1, .. })
    ));
}
