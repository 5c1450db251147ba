//! The loss each task trains with, as transformers computes it in its `*For...` classes, built
//! from differentiable ops.

use candle_core::{D, DType, Tensor};

use super::error::{ModelError, Result};
use super::layers::cross_entropy;
use crate::task::Task;

/// Labels that token classification ignores: special tokens, padding and (by default) the
/// continuation pieces of a word, as in the course's `align_labels_with_tokens`.
pub const IGNORE_INDEX: i64 = -100;

/// The mean loss of `logits` against `labels` for `task`:
/// - single-label: cross-entropy; `logits [batch, classes]`, u32 `labels [batch]`;
/// - token classification: cross-entropy over the tokens whose label is not
///   [`IGNORE_INDEX`]; `logits [batch, seq, classes]`, i64 `labels [batch, seq]`;
/// - multi-label: BCE-with-logits averaged over every (row, class); f32 multi-hot
///   `labels [batch, classes]`;
/// - regression: mean squared error; `logits [batch, 1]`, f32 `labels [batch]`.
///
/// `class_weights` (f32 `[classes]`) weight the cross-entropy tasks like torch's
/// `CrossEntropyLoss(weight=...)`: the weighted sum over the batch divided by the sum of the
/// weights used.
pub fn task_loss(
    task: Task,
    logits: &Tensor,
    labels: &Tensor,
    class_weights: Option<&Tensor>,
) -> Result<Tensor> {
    if class_weights.is_some() && !task.uses_cross_entropy() {
        return Err(ModelError::Input(format!(
            "class weights apply to cross-entropy tasks, not to {}",
            task.title()
        )));
    }
    match task {
        Task::SingleLabelClassification => match class_weights {
            None => cross_entropy(logits, labels),
            Some(weights) => {
                check_class_weights(weights, logits.dim(D::Minus1)?)?;
                check_labels(labels, DType::U32, &logits.dims()[..1])?;
                let row_weights = weights.index_select(labels, 0)?;
                weighted_cross_entropy(logits, labels, &row_weights)
            }
        },
        Task::TokenClassification => {
            let (batch, seq, classes) = logits.dims3()?;
            check_labels(labels, DType::I64, &[batch, seq])?;
            let labels = labels.flatten_all()?;
            let valid = labels.ge(0i64)?;
            // Ignored positions point at class 0 with weight 0.
            let targets = (&labels * valid.to_dtype(DType::I64)?)?.to_dtype(DType::U32)?;
            let in_range = targets.max(0)?.to_scalar::<u32>()?;
            if in_range as usize >= classes {
                return Err(ModelError::Input(format!(
                    "token label {in_range} is out of range for {classes} classes"
                )));
            }
            let mut row_weights = valid.to_dtype(DType::F32)?;
            if let Some(weights) = class_weights {
                check_class_weights(weights, classes)?;
                row_weights = (row_weights * weights.index_select(&targets, 0)?)?;
            }
            let flat = logits.reshape((batch * seq, classes))?;
            weighted_cross_entropy(&flat, &targets, &row_weights)
        }
        Task::MultiLabelClassification => {
            check_labels(labels, DType::F32, logits.dims())?;
            bce_with_logits(&logits.to_dtype(DType::F32)?, labels)
        }
        Task::Regression => {
            let (batch, outputs) = logits.dims2()?;
            if outputs != 1 {
                return Err(ModelError::Input(format!(
                    "regression needs one output per row, the head has {outputs}"
                )));
            }
            check_labels(labels, DType::F32, &[batch])?;
            let error = (logits.to_dtype(DType::F32)?.squeeze(1)? - labels)?;
            Ok(error.sqr()?.mean_all()?)
        }
    }
}

fn check_labels(labels: &Tensor, dtype: DType, dims: &[usize]) -> Result<()> {
    if labels.dtype() != dtype || labels.dims() != dims {
        return Err(ModelError::Input(format!(
            "labels must be {dtype:?} {dims:?}, got {:?} {:?}",
            labels.dtype(),
            labels.dims()
        )));
    }
    if labels.elem_count() == 0 {
        return Err(ModelError::Input("a loss over an empty batch".into()));
    }
    Ok(())
}

fn check_class_weights(weights: &Tensor, classes: usize) -> Result<()> {
    if weights.dims() != [classes] || weights.dtype() != DType::F32 {
        return Err(ModelError::Input(format!(
            "class weights must be f32 [{classes}], got {:?} {:?}",
            weights.dtype(),
            weights.dims()
        )));
    }
    Ok(())
}

/// `sum_i w_i * nll_i / sum_i w_i` over rows, torch's weighted (and ignore-index) mean.
fn weighted_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    row_weights: &Tensor,
) -> Result<Tensor> {
    let logits = logits.to_dtype(DType::F32)?;
    let max = logits.max_keepdim(1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum_exp = shifted.exp()?.sum_keepdim(1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_sum_exp)?;
    let picked = log_probs.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    // Every token ignored (or weighted 0) gives torch NaN; dividing by 1 instead gives a zero
    // loss whose zero gradients still reach every parameter, so a run goes on.
    let total_weight = row_weights.sum_all()?.to_scalar::<f32>()?.max(0.0);
    let divisor = if total_weight > 0.0 {
        total_weight
    } else {
        1.0
    };
    Ok(((picked * row_weights)?.sum_all()? * (-1.0 / divisor as f64))?)
}

/// `mean(max(x, 0) - x * y + log(1 + exp(-|x|)))`, the stable form torch uses; its gradient
/// is `sigmoid(x) - y` (divided by the element count) everywhere but at exactly 0.
fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus_of_minus_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    let per_element = ((logits.relu()? - (logits * targets)?)? + softplus_of_minus_abs)?;
    Ok(per_element.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(values: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn bce_matches_torch_and_its_gradient_is_sigmoid_minus_target() {
        // torch.nn.functional.binary_cross_entropy_with_logits on these values.
        let x = Var::from_tensor(&t(&[2.0, -1.0, 0.5, -3.0], &[2, 2])).unwrap();
        let y = t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
        let loss = task_loss(Task::MultiLabelClassification, x.as_tensor(), &y, None).unwrap();
        let value = loss.to_scalar::<f32>().unwrap();
        assert!((value - 1.115_713_6).abs() < 1e-6, "{value}");
        let grad = loss.backward().unwrap();
        let got: Vec<f32> = grad
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        let want = [
            (sigmoid(2.0) - 1.0) / 4.0,
            sigmoid(-1.0) / 4.0,
            sigmoid(0.5) / 4.0,
            (sigmoid(-3.0) - 1.0) / 4.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn ignored_tokens_do_not_count_and_weights_follow_torch() {
        let logits = t(&[1.0, 0.0, 0.0, 2.0, 3.0, 1.0], &[1, 3, 2]);
        let labels = Tensor::new(&[[0i64, -100, 1]], &Device::Cpu).unwrap();
        let loss = task_loss(Task::TokenClassification, &logits, &labels, None)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // nll(row 0, class 0) = log(1 + e^-1); nll(row 2, class 1) = log(1 + e^2).
        let nll0 = (1.0f32 + (-1.0f32).exp()).ln();
        let nll2 = (1.0f32 + 2.0f32.exp()).ln();
        assert!((loss - (nll0 + nll2) / 2.0).abs() < 1e-6, "{loss}");

        let weights = t(&[1.0, 3.0], &[2]);
        let weighted = task_loss(Task::TokenClassification, &logits, &labels, Some(&weights))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (weighted - (nll0 + 3.0 * nll2) / 4.0).abs() < 1e-6,
            "{weighted}"
        );

        let all_ignored = Tensor::new(&[[-100i64, -100, -100]], &Device::Cpu).unwrap();
        let zero = task_loss(Task::TokenClassification, &logits, &all_ignored, None).unwrap();
        assert_eq!(zero.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn weighted_single_label_matches_torch() {
        // torch: F.cross_entropy(x, y, weight=w) with x=[[2,0],[0,1]], y=[0,1], w=[0.5,2]
        // gives 0.27599496.
        let logits = t(&[2.0, 0.0, 0.0, 1.0], &[2, 2]);
        let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
        let weights = t(&[0.5, 2.0], &[2]);
        let loss = task_loss(
            Task::SingleLabelClassification,
            &logits,
            &labels,
            Some(&weights),
        )
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
        let nll0 = (1.0f32 + (-2.0f32).exp()).ln();
        let nll1 = (1.0f32 + (-1.0f32).exp()).ln();
        assert!(
            (loss - (0.5 * nll0 + 2.0 * nll1) / 2.5).abs() < 1e-6,
            "{loss}"
        );
        assert!((loss - 0.275_994_96).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn regression_is_mse_and_wrong_shapes_are_errors() {
        let logits = t(&[1.0, 3.0], &[2, 1]);
        let labels = t(&[0.0, 1.0], &[2]);
        let loss = task_loss(Task::Regression, &logits, &labels, None).unwrap();
        assert_eq!(loss.to_scalar::<f32>().unwrap(), 2.5);

        let two_outputs = t(&[1.0, 3.0], &[1, 2]);
        let err = task_loss(Task::Regression, &two_outputs, &t(&[0.0], &[1]), None).unwrap_err();
        assert!(err.to_string().contains("one output"), "{err}");
        let err = task_loss(Task::MultiLabelClassification, &logits, &labels, None).unwrap_err();
        assert!(err.to_string().contains("labels must be"), "{err}");
        let err = task_loss(Task::Regression, &logits, &labels, Some(&labels)).unwrap_err();
        assert!(err.to_string().contains("class weights"), "{err}");
    }
}
