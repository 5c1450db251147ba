//! Parity with PyTorch/transformers on the tiny-bert fixtures (dropout off), one per task
//! (sequence classification, token classification, multi-label, regression): logits, loss,
//! every gradient, the gradient norm, and every parameter after clip(0.1) + one AdamW step.
//! The MiniLM test checks a real pretrained BERT's encoder outputs when `../shared` exists.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use wick::model::{Classifier, Dropout, task_loss};
use wick::task::Task;
use wick::train::{AdamW, AdamWConfig, Gradients};

pub(crate) const RTOL: f64 = 1e-4;

fn fixture_dir() -> PathBuf {
    fixture("tiny-bert")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub(crate) fn load_tensors(path: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub(crate) fn ids(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

/// Entries smaller than this fraction of a tensor's largest magnitude are judged against that
/// floor instead of their own size: an f32 sum carries rounding proportional to its largest
/// terms, so an entry that cancels down to 1e-4 of the scale keeps an absolute error of ~1e-7
/// of the scale, which is f32 rounding and not a modelling difference.
pub(crate) const FLOOR_FRACTION: f64 = 1e-2;

#[derive(Debug)]
pub(crate) struct Worst {
    /// max |a - b| / max(|b|, floor)
    pub(crate) rel: f64,
    index: usize,
    got: f64,
    want: f64,
    /// max |a - b| / max |b|, for the report
    scale_rel: f64,
}

pub(crate) fn worst_error(got: &Tensor, want: &Tensor) -> Worst {
    assert_eq!(got.dims(), want.dims(), "shape");
    let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
    let want: Vec<f32> = want
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let floor = (FLOOR_FRACTION * scale).max(1e-30);
    let mut worst = Worst {
        rel: -1.0,
        index: 0,
        got: 0.0,
        want: 0.0,
        scale_rel: 0.0,
    };
    let mut max_abs = 0.0f64;
    for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
        assert!(a.is_finite(), "non-finite value at {i}");
        let abs = (a as f64 - b as f64).abs();
        max_abs = max_abs.max(abs);
        let rel = abs / (b.abs() as f64).max(floor);
        if rel > worst.rel {
            worst = Worst {
                rel,
                index: i,
                got: a as f64,
                want: b as f64,
                scale_rel: 0.0,
            };
        }
    }
    worst.scale_rel = max_abs / scale.max(1e-30);
    worst
}

/// Checks every named pair, prints the worst offender, and fails if any exceeds `RTOL`.
pub(crate) fn assert_all_close(what: &str, pairs: &[(String, Tensor, Tensor)]) {
    let mut overall: Option<(String, Worst)> = None;
    let mut failures = Vec::new();
    for (name, got, want) in pairs {
        let w = worst_error(got, want);
        if w.rel > RTOL {
            failures.push(format!(
                "{name}[{}]: got {:e} want {:e} (rel {:.2e})",
                w.index, w.got, w.want, w.rel
            ));
        }
        if overall.as_ref().is_none_or(|(_, o)| w.rel > o.rel) {
            overall = Some((name.clone(), w));
        }
    }
    if let Some((name, w)) = &overall {
        println!(
            "{what}: {} tensors, worst relative error {:.3e} at {name}[{}] (got {:e}, want {:e}; \
             max abs error {:.2e} of that tensor's largest value)",
            pairs.len(),
            w.rel,
            w.index,
            w.got,
            w.want,
            w.scale_rel
        );
    }
    assert!(
        failures.is_empty(),
        "{what} outside {RTOL}:\n{}",
        failures.join("\n")
    );
}

/// The key bias cannot change attention (softmax is shift-invariant per query), so its exact
/// gradient is zero and both frameworks only produce rounding noise there.
fn is_key_bias(name: &str) -> bool {
    name.ends_with("attention.self.key.bias")
}

#[test]
fn tiny_bert_step_matches_pytorch() {
    let model = one_step_matches_pytorch("tiny-bert", Task::SingleLabelClassification, 41);
    assert_eq!(model.labels(), ["neg", "neu", "pos"]);
}

#[test]
fn tiny_bert_token_classification_step_matches_pytorch() {
    // BertForTokenClassification: no pooler, a classifier on every token, -100 ignored.
    let model = one_step_matches_pytorch("tiny-bert-token", Task::TokenClassification, 39);
    assert_eq!(model.labels(), ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]);
}

#[test]
fn tiny_bert_multi_label_step_matches_pytorch() {
    let model =
        one_step_matches_pytorch("tiny-bert-multilabel", Task::MultiLabelClassification, 41);
    assert_eq!(model.labels(), ["sports", "politics", "tech", "health"]);
}

#[test]
fn tiny_bert_regression_step_matches_pytorch() {
    let model = one_step_matches_pytorch("tiny-bert-regression", Task::Regression, 41);
    assert_eq!(model.num_labels(), 1);
}

/// The fixture's labels in the dtype the task's loss takes.
fn labels_for(task: Task, labels: &Tensor) -> Tensor {
    let dtype = match task {
        Task::SingleLabelClassification => DType::U32,
        Task::TokenClassification => DType::I64,
        Task::MultiLabelClassification | Task::Regression => DType::F32,
    };
    labels.to_dtype(dtype).unwrap()
}

/// Loads `tests/fixtures/<name>` (whose config names the task), then checks logits, loss,
/// every gradient, the norm and the clipped AdamW step against `<name>-step.safetensors`.
fn one_step_matches_pytorch(name: &str, task: Task, parameters: usize) -> Classifier {
    let dir = fixture(name);
    let (model, report) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    assert!(report.newly_initialized.is_empty(), "{report:?}");
    assert!(report.unused.is_empty(), "{report:?}");
    assert_eq!(
        model.task(),
        task,
        "the task read from {name}'s config.json"
    );
    let reference = load_tensors(&dir.join(format!("{name}-step.safetensors")));
    let r = |name: &str| {
        reference
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"))
            .clone()
    };

    // The fixture's gradient names are exactly our parameter names.
    let ours: BTreeSet<String> = model.params().iter().map(|(n, _)| n.clone()).collect();
    let theirs: BTreeSet<String> = reference
        .keys()
        .filter_map(|k| k.strip_prefix("grad.").map(str::to_string))
        .collect();
    assert_eq!(ours.len(), parameters);
    assert_eq!(ours, theirs);

    let logits = model
        .forward(
            &ids(&r("input_ids")),
            &ids(&r("token_type_ids")),
            &ids(&r("attention_mask")),
            &mut Dropout::off(),
        )
        .unwrap();
    assert_all_close("logits", &[("logits".into(), logits.clone(), r("logits"))]);

    let loss = task_loss(task, &logits, &labels_for(task, &r("labels")), None).unwrap();
    assert_all_close(
        "loss",
        &[("loss".into(), loss.reshape(1).unwrap(), r("loss"))],
    );

    let mut grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    let mut pairs = Vec::new();
    for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
        let want = r(&format!("grad.{name}"));
        if is_key_bias(name) {
            for t in [g, &want] {
                let max = t
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    max < 1e-9,
                    "{name}: gradient {max} should be rounding noise"
                );
            }
        } else {
            pairs.push((name.clone(), g.clone(), want));
        }
    }
    assert_eq!(pairs.len(), parameters - 2);
    assert_all_close("gradients (key biases checked as ~0 above)", &pairs);

    let norm = grads.clip(0.1).unwrap();
    let norm_t = Tensor::new(&[norm as f32], &Device::Cpu).unwrap();
    assert_all_close("grad_norm", &[("grad_norm".into(), norm_t, r("grad_norm"))]);

    // End to end: our clipped gradients through our AdamW. Where a gradient is comparable to
    // eps (1e-8), Adam's g / (|g| + eps) turns the gradients' f32 rounding (checked above)
    // into parameter differences, so each entry may also differ by that propagated amount:
    // lr * |dg| * eps / (|g| + eps)^2, the first-order change of the update.
    let lr = 1e-3;
    let mut optimizer = AdamW::new(model.params(), adamw_config()).unwrap();
    let torch_grads = torch_clipped_grads(&model, &r);
    optimizer.step(&grads, lr).unwrap();
    let mut worst = (0.0f64, String::new());
    for (((name, var), ours), theirs) in model
        .params()
        .iter()
        .zip(grads.as_slice())
        .zip(&torch_grads)
    {
        let got: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = r(&format!("after.{name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let g: Vec<f32> = ours.flatten_all().unwrap().to_vec1().unwrap();
        let gt: Vec<f32> = theirs.flatten_all().unwrap().to_vec1().unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        for i in 0..got.len() {
            let (g, dg) = (g[i].abs() as f64, (g[i] - gt[i]).abs() as f64);
            let propagated = lr * dg * 1e-8 / (g + 1e-8).powi(2);
            let allowed = if is_key_bias(name) {
                // Its gradient is rounding noise (checked above), of a size near eps, so
                // Adam's g / (|g| + eps) is noise too: each framework moves the entry by up
                // to one first step (lr) from the same start, in a direction the noise picks
                // (which AVX-512 matmul kernels change).
                2.0 * lr
            } else {
                RTOL * (want[i].abs() as f64).max(FLOOR_FRACTION * scale) + propagated
            };
            let err = (got[i] - want[i]).abs() as f64;
            assert!(
                err <= allowed,
                "{name}[{i}]: got {} want {} (allowed {allowed:e})",
                got[i],
                want[i]
            );
            let rel = err / (want[i].abs() as f64).max(FLOOR_FRACTION * scale);
            if rel > worst.0 && !is_key_bias(name) {
                worst = (
                    rel,
                    format!("{name}[{i}] (propagated allowance {propagated:.1e})"),
                );
            }
        }
    }
    println!(
        "parameters after clip + AdamW (end to end, key biases aside): worst relative error \
         {:.3e} at {}",
        worst.0, worst.1
    );
    model
}

fn adamw_config() -> AdamWConfig {
    AdamWConfig {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    }
}

/// PyTorch's gradients from the fixture, clipped to 0.1 with PyTorch's norm.
fn torch_clipped_grads(model: &Classifier, r: &dyn Fn(&str) -> Tensor) -> Vec<Tensor> {
    let norm = r("grad_norm")
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0] as f64;
    let coef = 0.1 / (norm + 1e-6);
    model
        .params()
        .iter()
        .map(|(name, _)| (r(&format!("grad.{name}")) * coef).unwrap())
        .collect()
}

#[test]
fn adamw_on_pytorch_gradients_matches_pytorch() {
    // The optimizer alone: PyTorch's own clipped gradients through our AdamW must give
    // PyTorch's updated parameters.
    let dir = fixture_dir();
    let (model, _) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    let reference = load_tensors(&dir.join("tiny-bert-step.safetensors"));
    let r = |name: &str| reference[name].clone();
    let params = model.params();
    let grads: Vec<_> = torch_clipped_grads(&model, &r);
    // Build a Gradients value through a backward pass whose gradients are exactly `grads`:
    // d/dp sum(p * g) = g.
    let surrogate = params
        .iter()
        .zip(&grads)
        .map(|((_, p), g)| (p.as_tensor() * g).unwrap().sum_all().unwrap())
        .reduce(|a, b| (a + b).unwrap())
        .unwrap();
    let grads = Gradients::from_store(params, &surrogate.backward().unwrap()).unwrap();
    let mut optimizer = AdamW::new(params, adamw_config()).unwrap();
    optimizer.step(&grads, 1e-3).unwrap();
    let pairs: Vec<_> = params
        .iter()
        .map(|(name, var)| {
            (
                name.clone(),
                var.as_tensor().clone(),
                r(&format!("after.{name}")),
            )
        })
        .collect();
    assert_all_close("parameters after AdamW on PyTorch's gradients", &pairs);
}

#[test]
fn minilm_encoder_matches_pytorch() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let model_dir = shared.join("hub/models/sentence-transformers/all-MiniLM-L6-v2");
    let reference_file = shared.join("reference/minilm-forward.safetensors");
    if !model_dir.is_dir() || !reference_file.is_file() {
        println!("SKIPPED: ../shared not found");
        return;
    }
    let labels = vec!["not_equivalent".to_string(), "equivalent".to_string()];
    let (model, report) = Classifier::load(&model_dir, &labels, &Device::Cpu).unwrap();
    // A bare BertModel checkpoint: the classifier is new, nothing else is.
    assert_eq!(
        report.newly_initialized,
        ["classifier.weight", "classifier.bias"]
    );
    assert!(report.unused.is_empty(), "{report:?}");

    let reference = load_tensors(&reference_file);
    let r = |name: &str| reference[name].clone();
    let out = model
        .forward_encoder(
            &ids(&r("input_ids")),
            &ids(&r("token_type_ids")),
            &ids(&r("attention_mask")),
            &mut Dropout::off(),
        )
        .unwrap();
    // Real tokens are what pooling and the classifier read; padding positions are computed too
    // but never consumed, and collect slightly more f32 noise (measured 1.0e-4 vs 3.2e-5), so
    // they get a 10x looser bound.
    let mask = r("attention_mask")
        .to_dtype(DType::F32)
        .unwrap()
        .unsqueeze(2)
        .unwrap();
    let real = |t: &Tensor| t.broadcast_mul(&mask).unwrap();
    let pads = |t: &Tensor| t.broadcast_mul(&(1.0 - &mask).unwrap()).unwrap();
    let (got, want) = (out.last_hidden_state, r("last_hidden_state"));
    assert_all_close(
        "MiniLM last_hidden_state (real tokens)",
        &[("last_hidden_state".into(), real(&got), real(&want))],
    );
    let w = worst_error(&pads(&got), &pads(&want));
    println!(
        "MiniLM last_hidden_state (padding positions): worst relative error {:.3e}",
        w.rel
    );
    assert!(w.rel <= 10.0 * RTOL, "padding positions: {w:?}");
    assert_all_close(
        "MiniLM pooler_output",
        &[(
            "pooler_output".into(),
            out.pooler_output.unwrap(),
            r("pooler_output"),
        )],
    );
}
