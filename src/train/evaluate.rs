//! Evaluation: the model in eval mode (no dropout) over a split in dataset order, then
//! `compute_metrics` on the predictions.

use candle_core::{D, Device};
use std::time::Instant;

use super::metrics::{Metrics, compute_metrics};
use super::train_error::TrainError;
use crate::data::{Collator, Order, TokenizedSplit, epoch_batches};
use crate::model::{Classifier, Dropout, cross_entropy};

/// Metrics (with `loss` set), the predicted class of every row, and the wall time.
pub struct Evaluation {
    pub metrics: Metrics,
    pub predictions: Vec<u32>,
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
    }
    let mut metrics = compute_metrics(&predictions, split.label_ids(), split.meta.labels.len())?;
    metrics.loss = Some(loss_sum / split.len().max(1) as f64);
    Ok(Evaluation {
        metrics,
        predictions,
        runtime_s: start.elapsed().as_secs_f64(),
    })
}
