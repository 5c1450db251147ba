//! DeBERTa-v2/v3: parity with transformers' `DebertaV2ForSequenceClassification` on the
//! tiny-deberta-v2 fixture in ../shared (logits, loss, every gradient, grad_norm, clip + AdamW
//! as the fixture's header says), and loading: Wick's own save, and pretrained layouts without
//! the classification head (`DebertaV2ForMaskedLM`, bare `DebertaV2Model`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde_json::{Value, json};
use wick::model::{Classifier, Dropout, ModelConfig, cross_entropy};
use wick::train::{AdamW, AdamWConfig, Gradients, uses_weight_decay};

use crate::model_parity::{FLOOR_FRACTION, RTOL, assert_all_close, ids, load_tensors, worst_error};

fn shared_fixture() -> Option<(PathBuf, PathBuf)> {
    // Copied from ../shared/reference into tests/fixtures so CI runs it.
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference");
    let model = reference.join("tiny-deberta-v2");
    let step = reference.join("tiny-deberta-v2-step.safetensors");
    if model.is_dir() && step.is_file() {
        Some((model, step))
    } else {
        println!("SKIPPED: tests/fixtures/reference/tiny-deberta-v2 not found");
        None
    }
}

/// The optimizer settings and decay split the fixture's header records (key "fixture").
struct StepSettings {
    lr: f64,
    max_grad_norm: f64,
    adamw: AdamWConfig,
    no_decay: BTreeSet<String>,
}

fn step_settings(step_file: &Path) -> StepSettings {
    let bytes = std::fs::read(step_file).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let header = metadata
        .metadata()
        .as_ref()
        .expect("fixture has no metadata");
    let fixture: Value = serde_json::from_str(&header["fixture"]).unwrap();
    let optimizer = &fixture["optimizer"];
    assert_eq!(optimizer["name"], "AdamW", "{fixture}");
    let number = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    StepSettings {
        lr: number(&optimizer["lr"]),
        max_grad_norm: number(&optimizer["max_grad_norm"]),
        adamw: AdamWConfig {
            beta1: number(&optimizer["betas"][0]),
            beta2: number(&optimizer["betas"][1]),
            eps: number(&optimizer["eps"]),
            weight_decay: number(&optimizer["weight_decay"]),
        },
        no_decay: fixture["no_decay"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect(),
    }
}

#[test]
fn tiny_deberta_v2_step_matches_pytorch() {
    let Some((dir, step_file)) = shared_fixture() else {
        return;
    };
    let (model, report) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    assert!(report.newly_initialized.is_empty(), "{report:?}");
    assert!(report.unused.is_empty(), "{report:?}");
    assert_eq!(model.labels(), ["neg", "neu", "pos"]);
    let reference = load_tensors(&step_file);
    let r = |name: &str| {
        reference
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"))
            .clone()
    };
    let settings = step_settings(&step_file);

    // Every parameter has a reference gradient, and none is extra.
    let ours: BTreeSet<String> = model.params().iter().map(|(n, _)| n.clone()).collect();
    let theirs: BTreeSet<String> = reference
        .keys()
        .filter_map(|k| k.strip_prefix("grad.").map(str::to_string))
        .collect();
    assert_eq!(ours, theirs);
    // Wick's AdamW decays exactly what Trainer decayed.
    for name in &ours {
        assert_eq!(
            uses_weight_decay(name),
            !settings.no_decay.contains(name),
            "{name}"
        );
    }

    // The fixture has no token types (type_vocab_size 0); any ids are ignored.
    let input_ids = ids(&r("input_ids"));
    let token_type_ids = input_ids.ones_like().unwrap();
    let logits = model
        .forward(
            &input_ids,
            &token_type_ids,
            &ids(&r("attention_mask")),
            &mut Dropout::off(),
        )
        .unwrap();
    assert_all_close("logits", &[("logits".into(), logits.clone(), r("logits"))]);

    let loss = cross_entropy(&logits, &ids(&r("labels"))).unwrap();
    assert_all_close(
        "loss",
        &[("loss".into(), loss.reshape(1).unwrap(), r("loss"))],
    );

    let mut grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    let pairs: Vec<_> = model
        .params()
        .iter()
        .zip(grads.as_slice())
        .map(|((name, _), g)| (name.clone(), g.clone(), r(&format!("grad.{name}"))))
        .collect();
    assert_all_close("gradients", &pairs);

    let norm = grads.clip(settings.max_grad_norm).unwrap();
    let norm_t = Tensor::new(&[norm as f32], &Device::Cpu).unwrap();
    assert_all_close("grad_norm", &[("grad_norm".into(), norm_t, r("grad_norm"))]);

    // Our clipped gradients through our AdamW, end to end. As in model_parity, an entry whose
    // gradient is comparable to eps may also differ by the gradient's f32 rounding carried
    // through Adam's g / (|g| + eps).
    let torch_norm = r("grad_norm")
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0] as f64;
    let coef = (settings.max_grad_norm / (torch_norm + 1e-6)).min(1.0);
    let lr = settings.lr;
    let eps = settings.adamw.eps;
    let mut optimizer = AdamW::new(model.params(), settings.adamw).unwrap();
    optimizer.step(&grads, lr).unwrap();
    let mut worst = (0.0f64, String::new());
    for ((name, var), ours) in model.params().iter().zip(grads.as_slice()) {
        let got: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = r(&format!("after.{name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let g: Vec<f32> = ours.flatten_all().unwrap().to_vec1().unwrap();
        let gt: Vec<f32> = (r(&format!("grad.{name}")) * coef)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        for i in 0..got.len() {
            let (g, dg) = (g[i].abs() as f64, (g[i] - gt[i]).abs() as f64);
            let propagated = lr * dg * eps / (g + eps).powi(2);
            let floor = (want[i].abs() as f64).max(FLOOR_FRACTION * scale);
            let allowed = RTOL * floor + propagated;
            let err = (got[i] - want[i]).abs() as f64;
            assert!(
                err <= allowed,
                "{name}[{i}]: got {} want {} (allowed {allowed:e})",
                got[i],
                want[i]
            );
            if err / floor > worst.0 {
                worst = (
                    err / floor,
                    format!("{name}[{i}] (propagated allowance {propagated:.1e})"),
                );
            }
        }
    }
    println!(
        "parameters after clip + AdamW (end to end): worst relative error {:.3e} at {}",
        worst.0, worst.1
    );
}

/// A tiny DeBERTa-v3-style config (relative attention with log buckets, shared keys,
/// LayerNorm on relative embeddings, no absolute positions, no token types).
fn v3_config() -> Value {
    json!({
        "model_type": "deberta-v2", "vocab_size": 50, "hidden_size": 16,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
        "max_position_embeddings": 64, "relative_attention": true, "position_buckets": 8,
        "max_relative_positions": -1, "pos_att_type": ["p2c", "c2p"], "share_att_key": true,
        "norm_rel_ebd": "layer_norm", "position_biased_input": false, "type_vocab_size": 0,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.2
    })
}

/// Two rows of 12 tokens, the second padded after 7; seeded ids below the vocabulary.
fn batch() -> (Tensor, Tensor, Tensor) {
    let ids: Vec<u32> = (0..24).map(|i| (i * 7 + 3) % 49 + 1).collect();
    let mut mask = vec![1u32; 24];
    mask[19..].fill(0);
    let ids: Vec<u32> = ids.iter().zip(&mask).map(|(i, m)| i * m).collect();
    let types: Vec<u32> = (0..24).map(|i| u32::from(i % 12 >= 6)).collect();
    let t = |v: Vec<u32>| Tensor::from_vec(v, (2, 12), &Device::Cpu).unwrap();
    (t(ids), t(types), t(mask))
}

fn random_model(config: Value) -> Classifier {
    let config = ModelConfig::from_json(config).unwrap();
    Classifier::from_config_random(config, 3, 7, &Device::Cpu).unwrap()
}

fn logits(model: &Classifier) -> Vec<f32> {
    let (ids, types, mask) = batch();
    model
        .forward(&ids, &types, &mask, &mut Dropout::off())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn hidden(model: &Classifier) -> Tensor {
    let (ids, types, mask) = batch();
    model
        .forward_encoder(&ids, &types, &mask, &mut Dropout::off())
        .unwrap()
        .last_hidden_state
}

#[test]
fn deberta_saved_by_wick_reloads_with_the_same_logits() {
    let model = random_model(v3_config());
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        saved["architectures"][0],
        "DebertaV2ForSequenceClassification"
    );
    assert_eq!(saved["position_buckets"], 8);
    let (reloaded, report) = Classifier::load(dir.path(), &[], &Device::Cpu).unwrap();
    assert!(report.newly_initialized.is_empty(), "{report:?}");
    assert!(report.unused.is_empty(), "{report:?}");
    // The ContextPooler is saved at the root, as HF names it.
    let names: Vec<&str> = reloaded.params().iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"pooler.dense.weight"), "{names:?}");
    assert_eq!(logits(&reloaded), logits(&model));
}

/// Rewrites a saved model as a pretrained checkpoint without the classification head:
/// `rename` maps each encoder tensor's name, `extra` adds tensors of another head.
fn headless_copy(
    source: &Path,
    target: &Path,
    architecture: &str,
    rename: impl Fn(&str) -> String,
    extra: &[(&str, &[usize])],
) {
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(source.join("config.json")).unwrap())
            .unwrap();
    let object = config.as_object_mut().unwrap();
    for key in ["id2label", "label2id", "num_labels"] {
        object.remove(key);
    }
    object.insert("architectures".into(), json!([architecture]));
    std::fs::write(target.join("config.json"), config.to_string()).unwrap();
    let mut tensors: HashMap<String, Tensor> = load_tensors(&source.join("model.safetensors"))
        .into_iter()
        .filter(|(name, _)| name.starts_with("deberta."))
        .map(|(name, t)| (rename(&name), t))
        .collect();
    for (name, shape) in extra {
        tensors.insert(
            name.to_string(),
            Tensor::zeros(*shape, DType::F32, &Device::Cpu).unwrap(),
        );
    }
    candle_core::safetensors::save(&tensors, target.join("model.safetensors")).unwrap();
}

#[test]
fn deberta_v3_base_layouts_load_with_a_new_head() {
    let model = random_model(v3_config());
    let source = tempfile::tempdir().unwrap();
    model.save(source.path()).unwrap();
    let head = [
        "pooler.dense.weight",
        "pooler.dense.bias",
        "classifier.weight",
        "classifier.bias",
    ];
    let labels = vec!["no".to_string(), "yes".to_string()];

    // microsoft/deberta-v3-* ship DebertaV2ForMaskedLM weights: the encoder under `deberta.`
    // plus an LM head (and, in the originals, the RTD discriminator's mask_predictions).
    let lm_head: [(&str, &[usize]); 6] = [
        ("lm_predictions.lm_head.bias", &[50]),
        ("lm_predictions.lm_head.dense.weight", &[16, 16]),
        ("lm_predictions.lm_head.dense.bias", &[16]),
        ("lm_predictions.lm_head.LayerNorm.weight", &[16]),
        ("lm_predictions.lm_head.LayerNorm.bias", &[16]),
        ("mask_predictions.classifier.weight", &[1, 16]),
    ];
    let masked_lm = tempfile::tempdir().unwrap();
    headless_copy(
        source.path(),
        masked_lm.path(),
        "DebertaV2ForMaskedLM",
        str::to_string,
        &lm_head,
    );
    let (loaded, report) = Classifier::load(masked_lm.path(), &labels, &Device::Cpu).unwrap();
    assert_eq!(report.newly_initialized, head);
    let mut unused: Vec<&str> = lm_head.iter().map(|(n, _)| *n).collect();
    unused.sort();
    assert_eq!(report.unused, unused);
    assert_eq!(loaded.labels(), labels);
    let w = worst_error(&hidden(&loaded), &hidden(&model));
    assert_eq!(w.rel, 0.0, "encoder outputs differ: {w:?}");

    // A bare DebertaV2Model: the same tensors without the `deberta.` prefix.
    let bare = tempfile::tempdir().unwrap();
    headless_copy(
        source.path(),
        bare.path(),
        "DebertaV2Model",
        |name| name.trim_start_matches("deberta.").to_string(),
        &[],
    );
    let (loaded, report) = Classifier::load(bare.path(), &labels, &Device::Cpu).unwrap();
    assert_eq!(report.newly_initialized, head);
    assert!(report.unused.is_empty(), "{report:?}");
    let w = worst_error(&hidden(&loaded), &hidden(&model));
    assert_eq!(w.rel, 0.0, "encoder outputs differ: {w:?}");
}

#[test]
fn deberta_v2_options_give_every_parameter_a_gradient() {
    // The paths v3 does not take: absolute positions, token types, an embedding projection,
    // separate position projections, unbucketed relative positions clamped at a small span.
    let mut config = v3_config();
    let object = config.as_object_mut().unwrap();
    object.insert("position_biased_input".into(), json!(true));
    object.insert("type_vocab_size".into(), json!(2));
    object.insert("embedding_size".into(), json!(12));
    object.insert("share_att_key".into(), json!(false));
    object.insert("position_buckets".into(), json!(-1));
    object.insert("max_relative_positions".into(), json!(4));
    object.insert("norm_rel_ebd".into(), json!("none"));
    let model = random_model(config);
    let names: BTreeSet<&str> = model.params().iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "deberta.embeddings.position_embeddings.weight",
        "deberta.embeddings.token_type_embeddings.weight",
        "deberta.embeddings.embed_proj.weight",
        "deberta.encoder.layer.1.attention.self.pos_key_proj.weight",
        "deberta.encoder.layer.1.attention.self.pos_query_proj.bias",
    ] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    assert!(!names.contains("deberta.encoder.LayerNorm.weight"));
    let rel = &model
        .params()
        .iter()
        .find(|(n, _)| n == "deberta.encoder.rel_embeddings.weight")
        .unwrap()
        .1;
    assert_eq!(rel.dims(), [8, 16]);

    let (ids, types, mask) = batch();
    let logits = model
        .forward(&ids, &types, &mask, &mut Dropout::off())
        .unwrap();
    let labels = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
    let loss = cross_entropy(&logits, &labels).unwrap();
    let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
        let max = g
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // The c2p key bias's exact gradient is zero (see `gradient_is_exactly_zero`).
        let reaches = max > 0.0 || name.ends_with("pos_key_proj.bias");
        assert!(max.is_finite() && reaches, "{name}: gradient {max}");
    }
    // A token type outside the type vocabulary is refused, naming it.
    let bad_types = Tensor::full(2u32, (2, 12), &Device::Cpu).unwrap();
    let err = model
        .forward(&ids, &bad_types, &mask, &mut Dropout::off())
        .unwrap_err()
        .to_string();
    assert!(err.contains("token type"), "{err}");
}

/// An interpreter with torch and transformers (`WICK_PYTHON`, else `python3`), or why not.
fn python_with_transformers() -> Option<String> {
    let python = std::env::var("WICK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = std::process::Command::new(&python)
        .args([
            "-c",
            "import torch, safetensors, transformers; transformers.DebertaV2Config",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        println!(
            "SKIPPED: `{python}` cannot import torch, safetensors and transformers \
             (set WICK_PYTHON to an interpreter that can)"
        );
        None
    }
}

/// Biases that only add a constant to each query's scores, which softmax ignores: their exact
/// gradient is zero, and both frameworks hold rounding noise there. The c2p key bias (or, with
/// shared keys, the key bias and the relative LayerNorm's bias) does so unless p2c reads keys.
fn gradient_is_exactly_zero(variant: &str, name: &str) -> bool {
    let no_p2c = matches!(variant, "c2p-only" | "no-relative");
    name.ends_with("pos_key_proj.bias")
        || (no_p2c && name.ends_with("attention.self.key_proj.bias"))
        || (variant == "c2p-only" && name == "deberta.encoder.LayerNorm.bias")
}

#[test]
fn deberta_variants_match_pytorch() {
    // The DeBERTa configurations the v3-style fixture does not take (see the script),
    // generated by transformers at test time: logits, loss and every gradient.
    let Some(python) = python_with_transformers() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deberta_variants.py");
    let run = std::process::Command::new(&python)
        .arg(&script)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for variant in ["v2-options", "c2p-only", "no-relative"] {
        let (model, report) =
            Classifier::load(&out.path().join(variant), &[], &Device::Cpu).unwrap();
        assert!(report.newly_initialized.is_empty(), "{variant}: {report:?}");
        assert!(report.unused.is_empty(), "{variant}: {report:?}");
        let reference = load_tensors(&out.path().join(format!("{variant}-step.safetensors")));
        let r = |name: &str| reference[name].clone();
        let logits = model
            .forward(
                &ids(&r("input_ids")),
                &ids(&r("token_type_ids")),
                &ids(&r("attention_mask")),
                &mut Dropout::off(),
            )
            .unwrap();
        assert_all_close(
            &format!("{variant} logits"),
            &[("logits".into(), logits.clone(), r("logits"))],
        );
        let loss = cross_entropy(&logits, &ids(&r("labels"))).unwrap();
        assert_all_close(
            &format!("{variant} loss"),
            &[("loss".into(), loss.reshape(1).unwrap(), r("loss"))],
        );
        let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
        let theirs = reference.keys().filter(|k| k.starts_with("grad.")).count();
        assert_eq!(model.params().len(), theirs, "{variant}");
        let mut pairs = Vec::new();
        for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
            let want = r(&format!("grad.{name}"));
            if gradient_is_exactly_zero(variant, name) {
                for t in [g, &want] {
                    let max = t.abs().unwrap().max_all().unwrap();
                    let max = max.to_scalar::<f32>().unwrap();
                    assert!(
                        max < 1e-7,
                        "{name}: gradient {max} should be rounding noise"
                    );
                }
            } else {
                pairs.push((name.clone(), g.clone(), want));
            }
        }
        assert_all_close(&format!("{variant} gradients"), &pairs);
    }
}

#[test]
fn deberta_runs_in_bf16_with_f32_master_gradients() {
    // Mixed precision through the relative terms (gathers, the pairwise padding mask) on the
    // CPU: bf16 logits and gradients near f32's, every gradient f32 and finite. The padded row
    // checks that fully masked query rows stay finite in bf16.
    let model = random_model(v3_config());
    let mut bf16 = model.clone();
    bf16.set_compute_dtype(DType::BF16).unwrap();
    let (ids, types, mask) = batch();
    let labels = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
    let run = |m: &Classifier| {
        let logits = m.forward(&ids, &types, &mask, &mut Dropout::off()).unwrap();
        let loss = cross_entropy(&logits, &labels).unwrap();
        let grads = Gradients::from_store(m.params(), &loss.backward().unwrap()).unwrap();
        (logits, grads)
    };
    let (logits32, grads32) = run(&model);
    let (logits16, grads16) = run(&bf16);
    assert_eq!(logits16.dtype(), DType::F32);
    let scale_relative = |got: &Tensor, want: &Tensor| {
        let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap();
        let scale = want.abs().unwrap().max_all().unwrap();
        diff.to_scalar::<f32>().unwrap() / scale.to_scalar::<f32>().unwrap().max(1e-30)
    };
    let logits_err = scale_relative(&logits16, &logits32);
    assert!(logits_err < 3e-2, "bf16 logits off by {logits_err:.2e}");
    let mut worst = 0.0f32;
    for ((name, _), (g16, g32)) in model
        .params()
        .iter()
        .zip(grads16.as_slice().iter().zip(grads32.as_slice()))
    {
        assert_eq!(g16.dtype(), DType::F32, "{name}");
        let finite = g16.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(finite.iter().all(|v| v.is_finite()), "{name}");
        worst = worst.max(scale_relative(g16, g32));
    }
    println!("bf16 against f32: logits {logits_err:.2e}, worst gradient {worst:.2e}");
    assert!(worst < 0.1, "bf16 gradients off by {worst:.2e}");
}
