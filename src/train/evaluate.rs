//! Evaluation: the model in eval mode (no dropout) over a split in dataset order, then the
//! task's metrics on what it predicted.

use candle_core::{D, Device, Tensor};
use std::time::Instant;

use super::metrics::{Metrics, compute_class_metrics};
use super::scores;
use super::train_error::TrainError;
use crate::data::{Collator, Order, TokenizedSplit, epoch_batches};
use crate::model::{Classifier, Dropout};
use crate::runs::{Breakdown, BreakdownKind, BreakdownRow};
use crate::task::Task;

/// Metrics (with `loss` set), the predicted class and class probabilities of every row
/// (single-label; empty for the other tasks, whose outputs are in `outputs`), and the
/// wall time.
pub struct Evaluation {
    pub metrics: Metrics,
    pub predictions: Vec<u32>,
    /// Softmax of each row's logits, in label-id order.
    pub probabilities: Vec<Vec<f32>>,
    /// What the model said for each row, per task.
    pub outputs: TaskOutputs,
    pub runtime_s: f64,
}

/// Each row's outputs for the tasks beyond single-label, in split order.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutputs {
    /// Single-label: in [`Evaluation::predictions`] and [`Evaluation::probabilities`].
    Classes,
    /// Multi-label: each label's sigmoid per row, and each label's threshold tuned on the
    /// split (the metrics' `tuned_micro_f1`).
    Labels {
        probabilities: Vec<Vec<f32>>,
        tuned_thresholds: Vec<f32>,
    },
    /// Regression: the predicted number per row.
    Scores(Vec<f32>),
    /// Token classification: per row, the predicted label id of each token that carries a
    /// label (a word's first piece, unless every piece is labelled): what the metrics
    /// score, in token order.
    Tags(Vec<Vec<u32>>),
}

/// What the model said for each row, kept per task until the split is done.
enum Outputs {
    /// Single-label: argmax and softmax per row.
    Classes {
        predictions: Vec<u32>,
        probabilities: Vec<Vec<f32>>,
    },
    /// Multi-label: a sigmoid per label per row.
    Sigmoids(Vec<Vec<f32>>),
    /// Regression: the one output per row.
    Scores(Vec<f32>),
    /// Token classification: gold and predicted tag names per row, over the tokens that
    /// carry a label (a word's first piece, unless every piece is labelled).
    Tags {
        gold: Vec<Vec<String>>,
        predicted: Vec<Vec<String>>,
        predicted_ids: Vec<Vec<u32>>,
    },
}

pub fn evaluate(
    model: &Classifier,
    split: &TokenizedSplit,
    collator: &Collator,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let start = Instant::now();
    // The same weights without autograd: no graph, no intermediates kept for a backward.
    let model = &model.for_inference()?;
    let task = model.task();
    let names = &split.meta.labels.names;
    let mut outputs = match task {
        Task::SingleLabelClassification => Outputs::Classes {
            predictions: Vec::with_capacity(split.len()),
            probabilities: Vec::with_capacity(split.len()),
        },
        Task::MultiLabelClassification => Outputs::Sigmoids(Vec::with_capacity(split.len())),
        Task::Regression => Outputs::Scores(Vec::with_capacity(split.len())),
        Task::TokenClassification => Outputs::Tags {
            gold: Vec::with_capacity(split.len()),
            predicted: Vec::with_capacity(split.len()),
            predicted_ids: Vec::with_capacity(split.len()),
        },
    };
    let mut loss_sum = 0.0;
    for rows in epoch_batches(&split.lengths(), batch_size, Order::Sequential, 0, false) {
        let batch = collator.collate(split, &rows).to_device(device)?;
        let logits = model.forward(
            &batch.input_ids,
            &batch.token_type_ids,
            &batch.attention_mask,
            &mut Dropout::off(),
        )?;
        // The per-example mean, weighted by batch size, as HF's evaluation loop averages it.
        let loss = model.loss(&logits, &batch.labels)?.to_scalar::<f32>()? as f64;
        loss_sum += loss * rows.len() as f64;
        collect(&mut outputs, &logits, split, &rows, names)?;
    }
    let (mut metrics, predictions, probabilities, task_outputs) = match outputs {
        Outputs::Classes {
            predictions,
            probabilities,
        } => {
            let labels = split.label_ids().ok_or_else(|| {
                TrainError::Invalid("a single-label model on a split of another task".into())
            })?;
            let metrics = compute_class_metrics(&predictions, labels, names)?;
            (metrics, predictions, probabilities, TaskOutputs::Classes)
        }
        Outputs::Sigmoids(sigmoids) => {
            let targets: Vec<Vec<bool>> = (0..split.len())
                .map(|row| {
                    let mut hot = vec![false; names.len()];
                    for &class in split.class_set(row) {
                        hot[class as usize] = true;
                    }
                    hot
                })
                .collect();
            let (metrics, tuned_thresholds) = multi_label_metrics(&sigmoids, &targets, names)?;
            let outputs = TaskOutputs::Labels {
                probabilities: sigmoids,
                tuned_thresholds,
            };
            (metrics, vec![], vec![], outputs)
        }
        Outputs::Scores(values) => {
            let targets: Vec<f32> = (0..split.len())
                .map(|row| split.score(row).unwrap_or(f32::NAN))
                .collect();
            let metrics = regression_metrics(&values, &targets)?;
            (metrics, vec![], vec![], TaskOutputs::Scores(values))
        }
        Outputs::Tags {
            gold,
            predicted,
            predicted_ids,
        } => {
            let metrics = token_metrics(&gold, &predicted, names)?;
            (metrics, vec![], vec![], TaskOutputs::Tags(predicted_ids))
        }
    };
    metrics.loss = Some(loss_sum / split.len().max(1) as f64);
    Ok(Evaluation {
        metrics,
        predictions,
        probabilities,
        outputs: task_outputs,
        runtime_s: start.elapsed().as_secs_f64(),
    })
}

/// Adds one batch's outputs (`logits` of `rows`, in order).
fn collect(
    outputs: &mut Outputs,
    logits: &Tensor,
    split: &TokenizedSplit,
    rows: &[usize],
    names: &[String],
) -> Result<(), TrainError> {
    match outputs {
        Outputs::Classes {
            predictions,
            probabilities,
        } => {
            predictions.extend(logits.argmax(D::Minus1)?.to_vec1::<u32>()?);
            probabilities.extend(logits.to_vec2::<f32>()?.iter().map(|row| softmax(row)));
        }
        Outputs::Sigmoids(sigmoids) => sigmoids.extend(
            logits
                .to_vec2::<f32>()?
                .into_iter()
                .map(|row| row.into_iter().map(scores::sigmoid).collect::<Vec<_>>()),
        ),
        Outputs::Scores(values) => values.extend(logits.squeeze(1)?.to_vec1::<f32>()?),
        Outputs::Tags {
            gold,
            predicted,
            predicted_ids,
        } => {
            let argmax = logits.argmax(D::Minus1)?.to_vec2::<u32>()?;
            for (i, &row) in rows.iter().enumerate() {
                let labels = split.token_labels(row);
                let (mut g, mut p, mut ids) = (Vec::new(), Vec::new(), Vec::new());
                for (position, &label) in labels.iter().enumerate() {
                    if label >= 0 {
                        g.push(names[label as usize].clone());
                        p.push(names[argmax[i][position] as usize].clone());
                        ids.push(argmax[i][position]);
                    }
                }
                gold.push(g);
                predicted.push(p);
                predicted_ids.push(ids);
            }
        }
    }
    Ok(())
}

fn scores_error(err: scores::ScoreError) -> TrainError {
    TrainError::Invalid(format!("evaluation: {err}"))
}

/// seqeval's overall entity scores (the scheme guessed from the tag names) and the accuracy
/// over labelled tokens, with the scores per entity type.
fn token_metrics(
    gold: &[Vec<String>],
    predicted: &[Vec<String>],
    names: &[String],
) -> Result<Metrics, TrainError> {
    let report = scores::entity_scores(gold, predicted, scores::guess_scheme(names))
        .map_err(scores_error)?;
    Ok(Metrics {
        task: Task::TokenClassification,
        scalars: vec![
            ("f1", report.f1),
            ("precision", report.precision),
            ("recall", report.recall),
            ("accuracy", report.token_accuracy),
        ],
        confusion_matrix: Vec::new(),
        averaging: None,
        num_examples: gold.len(),
        loss: None,
        breakdown: Some(entity_breakdown(&report)),
    })
}

/// Scores at the default threshold (0.5), and the micro F1 with each label's threshold tuned
/// on this split (what tuning would buy), with those thresholds; the breakdown holds each
/// label's scores at its tuned threshold.
fn multi_label_metrics(
    sigmoids: &[Vec<f32>],
    targets: &[Vec<bool>],
    names: &[String],
) -> Result<(Metrics, Vec<f32>), TrainError> {
    let half = vec![scores::DEFAULT_THRESHOLD; names.len()];
    let report =
        scores::multilabel_scores(sigmoids, targets, &half, names).map_err(scores_error)?;
    let tuned = scores::tune_thresholds(sigmoids, targets).map_err(scores_error)?;
    let tuned_report =
        scores::multilabel_scores(sigmoids, targets, &tuned, names).map_err(scores_error)?;
    let metrics = Metrics {
        task: Task::MultiLabelClassification,
        scalars: vec![
            ("micro_f1", report.micro_f1),
            ("macro_f1", report.macro_f1),
            ("micro_precision", report.micro_precision),
            ("micro_recall", report.micro_recall),
            ("subset_accuracy", report.subset_accuracy),
            ("hamming_loss", report.hamming_loss),
            ("tuned_micro_f1", tuned_report.micro_f1),
        ],
        confusion_matrix: Vec::new(),
        averaging: None,
        num_examples: sigmoids.len(),
        loss: None,
        breakdown: Some(label_breakdown(&tuned_report)),
    };
    Ok((metrics, tuned))
}

fn regression_metrics(predictions: &[f32], targets: &[f32]) -> Result<Metrics, TrainError> {
    let report = scores::regression_scores(predictions, targets).map_err(scores_error)?;
    let mut scalars = Vec::new();
    // An undefined correlation (constant predictions) is left out rather than logged as NaN.
    if let Some(pearson) = report.pearson {
        scalars.push(("pearson", pearson));
    }
    if let Some(spearman) = report.spearman {
        scalars.push(("spearman", spearman));
    }
    scalars.extend([
        ("rmse", report.rmse),
        ("mse", report.mse),
        ("mae", report.mae),
    ]);
    Ok(Metrics {
        task: Task::Regression,
        scalars,
        confusion_matrix: Vec::new(),
        averaging: None,
        num_examples: predictions.len(),
        loss: None,
        breakdown: None,
    })
}

/// seqeval's scores per entity type, by type name.
pub fn entity_breakdown(report: &scores::EntityReport) -> Breakdown {
    let rows = report
        .per_type
        .iter()
        .map(|(kind, scores)| BreakdownRow {
            name: kind.clone(),
            precision: scores.precision,
            recall: scores.recall,
            f1: scores.f1,
            support: scores.support,
            threshold: None,
        })
        .collect();
    Breakdown {
        kind: BreakdownKind::EntityTypes,
        rows,
    }
}

/// Each label's scores at its threshold, in label order.
pub fn label_breakdown(report: &scores::MultiLabelReport) -> Breakdown {
    let rows = report
        .per_label
        .iter()
        .map(|label| BreakdownRow {
            name: label.name.clone(),
            precision: label.precision,
            recall: label.recall,
            f1: label.f1,
            support: label.support,
            threshold: Some(label.threshold),
        })
        .collect();
    Breakdown {
        kind: BreakdownKind::Labels,
        rows,
    }
}

/// Class probabilities from logits, shifted by the maximum so that large logits do not
/// overflow (what `torch.softmax` computes).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|row| row.iter().map(|t| t.to_string()).collect())
            .collect()
    }

    /// name, precision, recall, f1, support, threshold.
    type RowNumbers<'a> = (&'a str, f64, f64, f64, usize, Option<f32>);

    fn row_numbers(breakdown: &Breakdown) -> Vec<RowNumbers<'_>> {
        breakdown
            .rows
            .iter()
            .map(|r| {
                let (p, rc, f) = (r.precision, r.recall, r.f1);
                (r.name.as_str(), p, rc, f, r.support, r.threshold)
            })
            .collect()
    }

    /// seqeval 1.2.2's `classification_report` of its docstring example (as
    /// `scores::entities_tests::seqeval_docstring_example_scores_half`).
    #[test]
    fn token_metrics_break_down_per_entity_type_as_seqeval() {
        let gold = strings(&[
            &["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
            &["B-PER", "I-PER", "O"],
        ]);
        let predicted = strings(&[
            &["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
            &["B-PER", "I-PER", "O"],
        ]);
        let names = strings(&[&["O", "B-MISC", "I-MISC", "B-PER", "I-PER"]]).remove(0);
        let metrics = token_metrics(&gold, &predicted, &names).unwrap();
        let breakdown = metrics.breakdown.as_ref().unwrap();
        assert_eq!(breakdown.kind, BreakdownKind::EntityTypes);
        assert_eq!(
            row_numbers(breakdown),
            [
                ("MISC", 0.0, 0.0, 0.0, 1, None),
                ("PER", 1.0, 1.0, 1.0, 1, None)
            ]
        );
    }

    /// Each label at its tuned threshold (the thresholds of
    /// `multilabel_tests::thresholds_maximize_each_labels_f1_and_ties_go_towards_one_half`):
    /// label 0 at 0.3 predicts rows 0, 1, 3 (tp 2, fp 1: P 2/3, R 1, F1 0.8); label 1 has
    /// no positives; label 2 at 0.5 is exact.
    #[test]
    fn multi_label_metrics_break_down_per_label_at_the_tuned_thresholds() {
        let sigmoids = vec![
            vec![0.3, 0.9, 0.8],
            vec![0.7, 0.1, 0.9],
            vec![0.2, 0.4, 0.2],
            vec![0.6, 0.6, 0.1],
        ];
        let targets: Vec<Vec<bool>> = [[1, 0, 1], [1, 0, 1], [0, 0, 0], [0, 0, 0]]
            .iter()
            .map(|row| row.iter().map(|&v| v == 1).collect())
            .collect();
        let names = strings(&[&["joy", "anger", "love"]]).remove(0);
        let (metrics, tuned) = multi_label_metrics(&sigmoids, &targets, &names).unwrap();
        assert_eq!(tuned, [0.3, 0.5, 0.5]);
        let breakdown = metrics.breakdown.as_ref().unwrap();
        assert_eq!(breakdown.kind, BreakdownKind::Labels);
        let rows = row_numbers(breakdown);
        assert_eq!(rows[0].0, "joy");
        assert!((rows[0].1 - 2.0 / 3.0).abs() < 1e-12 && rows[0].2 == 1.0);
        assert!((rows[0].3 - 0.8).abs() < 1e-12);
        assert_eq!((rows[0].4, rows[0].5), (2, Some(0.3)));
        assert_eq!(rows[1], ("anger", 0.0, 0.0, 0.0, 0, Some(0.5)));
        assert_eq!(rows[2], ("love", 1.0, 1.0, 1.0, 2, Some(0.5)));
        // The scalars stay at the default threshold.
        let at_half =
            scores::multilabel_scores(&sigmoids, &targets, &[scores::DEFAULT_THRESHOLD; 3], &names)
                .unwrap();
        assert_eq!(metrics.get("micro_f1"), Some(at_half.micro_f1));
    }

    #[test]
    fn regression_has_no_breakdown() {
        let metrics = regression_metrics(&[1.0, 2.0, 3.0], &[1.5, 2.0, 2.5]).unwrap();
        assert_eq!(metrics.breakdown, None);
    }

    #[test]
    fn softmax_sums_to_one_and_survives_large_logits() {
        let probs = softmax(&[1.0, 2.0, 3.0]);
        let expected = [0.090_030_57, 0.244_728_48, 0.665_240_94];
        for (p, e) in probs.iter().zip(expected) {
            assert!((p - e).abs() < 1e-6, "{probs:?}");
        }
        let big = softmax(&[1000.0, 1000.0]);
        assert_eq!(big, vec![0.5, 0.5]);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
