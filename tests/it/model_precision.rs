//! bf16 mixed precision on what candle's CPU backend can run: the same forward and backward as
//! f32 on the tiny-bert fixture within bf16 tolerance, f32 master gradients, and no NaN from
//! padding masks in reduced precision. (The GPU checks of the same properties wait for a
//! CUDA device; see BENCHMARKS.md.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use wick::model::{Classifier, Dropout, cross_entropy};
use wick::train::Gradients;

/// bf16 keeps 8 significant bits (relative rounding 2^-9); through two layers the errors add
/// up to a few of those. The tolerance for bf16 against f32.
const BF16_RTOL: f64 = 1e-2;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

fn inputs() -> HashMap<String, Tensor> {
    let path = fixture_dir().join("tiny-bert-step.safetensors");
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn u32s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

fn model(dtype: DType) -> Classifier {
    let (mut model, _) = Classifier::load(&fixture_dir(), &[], &Device::Cpu).unwrap();
    model.set_compute_dtype(dtype).unwrap();
    model
}

/// `|a - b|` over the whole tensor, relative to `b`'s largest magnitude (elementwise relative
/// error is meaningless for entries that cancel to ~0).
fn scale_relative(got: &Tensor, want: &Tensor) -> f64 {
    let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
    let want: Vec<f32> = want.flatten_all().unwrap().to_vec1().unwrap();
    assert!(got.iter().all(|v| v.is_finite()), "non-finite values");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let diff = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    diff / scale.max(1e-30)
}

/// `||a - b|| / ||b||` (the L2 norm over the whole tensor).
fn norm_relative(got: &Tensor, want: &Tensor) -> f64 {
    let diff = (got - want).unwrap().sqr().unwrap().sum_all().unwrap();
    let norm = want.sqr().unwrap().sum_all().unwrap();
    let (diff, norm) = (
        diff.to_scalar::<f32>().unwrap() as f64,
        norm.to_scalar::<f32>().unwrap() as f64,
    );
    (diff / norm.max(1e-60)).sqrt()
}

/// Logits, loss and all gradients of one forward/backward with dropout off.
fn step(model: &Classifier, r: &HashMap<String, Tensor>) -> (Tensor, f32, Vec<Tensor>) {
    let logits = model
        .forward(
            &u32s(&r["input_ids"]),
            &u32s(&r["token_type_ids"]),
            &u32s(&r["attention_mask"]),
            &mut Dropout::off(),
        )
        .unwrap();
    let loss = cross_entropy(&logits, &u32s(&r["labels"])).unwrap();
    let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    (
        logits,
        loss.to_scalar::<f32>().unwrap(),
        grads.as_slice().to_vec(),
    )
}

#[test]
fn bf16_matches_f32_within_bf16_tolerance() {
    let r = inputs();
    let mask: Vec<Vec<f32>> = r["attention_mask"]
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2()
        .unwrap();
    assert!(
        mask.iter().flatten().any(|v| *v == 0.0),
        "the fixture should have padding, so the mask is exercised"
    );
    let f32_model = model(DType::F32);
    let bf16_model = model(DType::BF16);
    assert_eq!(bf16_model.compute_dtype(), DType::BF16);
    let (logits32, loss32, grads32) = step(&f32_model, &r);
    let (logits16, loss16, grads16) = step(&bf16_model, &r);

    assert_eq!(logits16.dtype(), DType::F32, "logits come back in f32");
    let logit_err = scale_relative(&logits16, &logits32);
    let loss_err = ((loss16 - loss32) / loss32).abs() as f64;
    println!("bf16 vs f32: logits {logit_err:.2e}, loss {loss_err:.2e}");
    assert!(logit_err < BF16_RTOL, "logits differ by {logit_err:.3e}");
    assert!(loss_err < BF16_RTOL, "loss {loss16} vs {loss32}");

    // Norm-relative per tensor (`WICK_PRINT_ERRORS=1` lists them all).
    let mut worst = (0.0f64, String::new());
    for (((name, var), g16), g32) in f32_model.params().iter().zip(&grads16).zip(&grads32) {
        // Master weights stay f32, and so do their gradients (the casts' backward).
        assert_eq!(var.dtype(), DType::F32, "{name}");
        assert_eq!(g16.dtype(), DType::F32, "{name}");
        // The key bias's exact gradient is zero (softmax is shift-invariant): only noise.
        if name.ends_with("attention.self.key.bias") {
            continue;
        }
        let err = norm_relative(g16, g32);
        if std::env::var_os("WICK_PRINT_ERRORS").is_some() {
            println!(
                "{name}: {err:.2e} (max-based {:.2e})",
                scale_relative(g16, g32)
            );
        }
        if err > worst.0 {
            worst = (err, name.clone());
        }
    }
    println!("bf16 vs f32: worst gradient {:.2e} at {}", worst.0, worst.1);
    // Gradients pass through bf16 twice (activations and upstream gradients are both rounded
    // before each weight-gradient matmul), so they get twice the forward's budget; measured
    // here: 1.4e-2 at worst (a weight), biases below 1e-2 (they are summed in f32).
    assert!(
        worst.0 < 2.0 * BF16_RTOL,
        "gradient {} differs by {:.3e}",
        worst.1,
        worst.0
    );
}

#[test]
fn fully_padded_rows_stay_finite_in_bf16() {
    let r = inputs();
    let ids = u32s(&r["input_ids"]);
    // Every position of every row masked: each attention row is all dtype-min, which must give
    // a uniform softmax, not NaN (as -inf would).
    let mask = ids.zeros_like().unwrap();
    let types = u32s(&r["token_type_ids"]);
    let bf16_model = model(DType::BF16);
    let logits = bf16_model
        .forward(&ids, &types, &mask, &mut Dropout::off())
        .unwrap();
    let values: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
    assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
    let loss = cross_entropy(&logits, &u32s(&r["labels"])).unwrap();
    let grads = Gradients::from_store(bf16_model.params(), &loss.backward().unwrap()).unwrap();
    assert!(grads.global_norm().unwrap().is_finite());
}

#[test]
fn compute_dtype_must_be_a_float() {
    let mut m = model(DType::F32);
    let err = m.set_compute_dtype(DType::U32).unwrap_err().to_string();
    assert!(err.contains("f32, bf16 or f16"), "{err}");
    assert_eq!(m.compute_dtype(), DType::F32);
}
