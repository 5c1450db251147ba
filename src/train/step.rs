//! One optimizer step, the course's hand-written loop: forward and loss per micro-batch,
//! backward into gradients summed over the accumulation group, then clipping and the AdamW
//! update. The trainer, the preflight and `wick bench train` all run these functions, so the
//! step exists once; the preflight and the bench time around the calls.
//!
//! A step without accumulation is a group of one micro-batch: its loss is divided by 1,
//! which changes no bit of the loss or of the gradients.

use candle_core::Tensor;

use super::{AdamW, Gradients, TrainError};
use crate::data::Batch;
use crate::model::{Classifier, Dropout};

/// The forward pass of one micro-batch with dropout on: the mean loss of the model's task, a
/// scalar tensor still on the device (reading it waits for the device).
pub fn forward_loss(
    model: &Classifier,
    batch: &Batch,
    dropout: &mut Dropout,
) -> Result<Tensor, TrainError> {
    let logits = model.forward(
        &batch.input_ids,
        &batch.token_type_ids,
        &batch.attention_mask,
        dropout,
    )?;
    Ok(model.loss(&logits, &batch.labels)?)
}

/// The backward pass of one micro-batch's `loss`, divided by the group's `micro_batches` so
/// that the group's summed gradients are those of its mean loss.
pub fn backward(
    model: &Classifier,
    loss: &Tensor,
    micro_batches: usize,
) -> Result<Gradients, TrainError> {
    let scaled = (loss / micro_batches as f64)?;
    Ok(Gradients::from_store(model.params(), &scaled.backward()?)?)
}

/// The forward and backward passes of one accumulation group, one micro-batch at a time:
/// the summed gradients and the group's mean loss.
#[derive(Debug)]
pub struct Accumulation {
    micro_batches: usize,
    grads: Option<Gradients>,
    loss: f64,
}

impl Accumulation {
    /// A group of `micro_batches` (at least one) micro-batches.
    pub fn new(micro_batches: usize) -> Self {
        Self {
            micro_batches: micro_batches.max(1),
            grads: None,
            loss: 0.0,
        }
    }

    /// Forward and backward over one micro-batch, added to the group.
    pub fn forward_backward(
        &mut self,
        model: &Classifier,
        batch: &Batch,
        dropout: &mut Dropout,
    ) -> Result<(), TrainError> {
        let loss = forward_loss(model, batch, dropout)?;
        let grads = backward(model, &loss, self.micro_batches)?;
        match self.grads.as_mut() {
            Some(total) => total.accumulate(&grads)?,
            None => self.grads = Some(grads),
        }
        self.loss += loss.to_scalar::<f32>()? as f64 / self.micro_batches as f64;
        Ok(())
    }

    /// The summed gradients and the mean loss; an error when no micro-batch was added.
    pub fn finish(self) -> Result<StepLoss, TrainError> {
        let grads = self
            .grads
            .ok_or_else(|| TrainError::Invalid("an empty batch group".into()))?;
        Ok(StepLoss {
            grads,
            loss: self.loss,
        })
    }
}

/// What the forward and backward passes of one optimizer step leave for the update.
#[derive(Debug)]
pub struct StepLoss {
    pub grads: Gradients,
    /// The mean loss over the group's micro-batches.
    pub loss: f64,
}

/// Clips the gradients to a global norm of `max_grad_norm` (none when it is 0) and returns
/// their norm before clipping, which the step reports log.
pub fn clip(grads: &mut Gradients, max_grad_norm: f64) -> Result<f64, TrainError> {
    Ok(if max_grad_norm > 0.0 {
        grads.clip(max_grad_norm)?
    } else {
        grads.global_norm()?
    })
}

/// The optimizer update at `learning_rate`.
pub fn update(
    optimizer: &mut AdamW,
    grads: &Gradients,
    learning_rate: f64,
) -> Result<(), TrainError> {
    Ok(optimizer.step(grads, learning_rate)?)
}

/// Clipping and the update, as one: returns the gradients' norm before clipping.
pub fn apply_update(
    optimizer: &mut AdamW,
    grads: &mut Gradients,
    learning_rate: f64,
    max_grad_norm: f64,
) -> Result<f64, TrainError> {
    let grad_norm = clip(grads, max_grad_norm)?;
    update(optimizer, grads, learning_rate)?;
    Ok(grad_norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{HostBatch, PadStats};
    use crate::model::ModelConfig;
    use candle_core::Device;

    fn tiny_model() -> Classifier {
        let config = ModelConfig::from_json(serde_json::json!({
            "model_type": "bert", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "initializer_range": 0.02, "pad_token_id": 0,
        }))
        .unwrap();
        Classifier::from_config_random(config, 2, 3, &Device::Cpu).unwrap()
    }

    /// `rows` rows of 6 tokens, ids and labels varying by row.
    fn batch(rows: std::ops::Range<u32>) -> Batch {
        let seq_len = 6;
        let host = HostBatch {
            rows: rows.clone().map(|r| r as usize).collect(),
            seq_len,
            input_ids: rows
                .clone()
                .flat_map(|r| (0..seq_len as u32).map(move |t| 2 + (r * 7 + t * 3) % 60))
                .collect(),
            token_type_ids: vec![0; rows.len() * seq_len],
            attention_mask: vec![1; rows.len() * seq_len],
            labels: crate::data::HostLabels::Classes(rows.clone().map(|r| r % 2).collect()),
            stats: PadStats {
                real_tokens: rows.len() * seq_len,
                pad_tokens: 0,
            },
        };
        host.to_device(&Device::Cpu).unwrap()
    }

    fn values(grads: &Gradients) -> Vec<Vec<f32>> {
        grads
            .as_slice()
            .iter()
            .map(|g| g.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    }

    /// The preflight and the bench run groups of one: the division by 1 must leave the loss
    /// and every gradient bit for bit as a plain backward pass gives them.
    #[test]
    fn a_group_of_one_is_bit_identical_to_a_plain_backward_pass() {
        let model = tiny_model();
        let batch = batch(0..4);
        let loss = forward_loss(&model, &batch, &mut Dropout::train(7, 0)).unwrap();
        let plain = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();

        let mut group = Accumulation::new(1);
        group
            .forward_backward(&model, &batch, &mut Dropout::train(7, 0))
            .unwrap();
        let StepLoss { grads, loss: mean } = group.finish().unwrap();
        assert_eq!(mean, loss.to_scalar::<f32>().unwrap() as f64);
        assert_eq!(values(&grads), values(&plain));
    }

    /// Two micro-batches of two rows are one batch of four: the same mean loss and gradients
    /// (up to rounding), dropout off so that both see the same network.
    #[test]
    fn two_micro_batches_give_the_mean_of_one_batch_of_both() {
        let model = tiny_model();
        let whole = batch(0..4);
        let mut one = Accumulation::new(1);
        one.forward_backward(&model, &whole, &mut Dropout::off())
            .unwrap();
        let one = one.finish().unwrap();

        let mut two = Accumulation::new(2);
        for half in [batch(0..2), batch(2..4)] {
            two.forward_backward(&model, &half, &mut Dropout::off())
                .unwrap();
        }
        let two = two.finish().unwrap();
        assert!(
            (one.loss - two.loss).abs() < 1e-6,
            "{} vs {}",
            one.loss,
            two.loss
        );
        for (a, b) in values(&one.grads).iter().zip(values(&two.grads)) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
        assert!(Accumulation::new(3).finish().is_err(), "an empty group");
    }

    #[test]
    fn clipping_reports_the_norm_before_it_and_zero_turns_it_off() {
        let model = tiny_model();
        let mut group = Accumulation::new(1);
        group
            .forward_backward(&model, &batch(0..4), &mut Dropout::off())
            .unwrap();
        let StepLoss { mut grads, .. } = group.finish().unwrap();
        let norm = grads.global_norm().unwrap();
        assert!(norm > 0.0);

        let mut unclipped = grads.clone();
        assert_eq!(clip(&mut unclipped, 0.0).unwrap(), norm);
        assert_eq!(values(&unclipped), values(&grads), "0 clips nothing");

        let max = norm / 4.0;
        assert_eq!(clip(&mut grads, max).unwrap(), norm);
        let after = grads.global_norm().unwrap();
        assert!((after - max).abs() < 1e-4 * max, "{after} vs {max}");
    }
}
