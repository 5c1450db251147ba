//! Evaluation: the model in eval mode (no dropout) over a split in dataset order, then
//! `compute_metrics` on the predictions.

use candle_core::{D, Device};
use std::time::Instant;

use super::metrics::{Metrics, compute_metrics};
use super::train_error::TrainError;
use crate::data::{Collator, Order, TokenizedSplit, epoch_batches};
use crate::model::{Classifier, Dropout, cross_entropy};

/// Metrics (with `loss` set), the predicted class and class probabilities of every row,
/// and the wall time.
pub struct Evaluation {
    pub metrics: Metrics,
    pub predictions: Vec<u32>,
    /// Softmax of each row's logits, in label-id order.
    pub probabilities: Vec<Vec<f32>>,
    pub runtime_s: f64,
}

pub fn evaluate(
    model: &Classifier,
    split: &TokenizedSplit,
    collator: &Collator,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let start = Instant::now();
    let mut predictions = Vec::with_capacity(split.len());
    let mut probabilities = Vec::with_capacity(split.len());
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
        let loss = cross_entropy(&logits, &batch.labels)?.to_scalar::<f32>()? as f64;
        loss_sum += loss * rows.len() as f64;
        predictions.extend(logits.argmax(D::Minus1)?.to_vec1::<u32>()?);
        probabilities.extend(logits.to_vec2::<f32>()?.iter().map(|row| softmax(row)));
    }
    let mut metrics = compute_metrics(&predictions, split.label_ids(), split.meta.labels.len())?;
    metrics.loss = Some(loss_sum / split.len().max(1) as f64);
    Ok(Evaluation {
        metrics,
        predictions,
        probabilities,
        runtime_s: start.elapsed().as_secs_f64(),
    })
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
    use super::softmax;

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
