//! Resumed training is bit-identical: model + AdamW state saved after a step and restored in
//! fresh objects give exactly the parameters of an uninterrupted run (dropout on, CPU).

use std::path::Path;

use candle_core::{Device, Tensor};
use wick::model::{Classifier, Dropout, ModelConfig, cross_entropy};
use wick::train::config::LrSchedulerType;
use wick::train::{AdamW, AdamWConfig, Gradients, lr_at};

const SEED: u64 = 17;
const TOTAL: u64 = 6;

fn model() -> Classifier {
    let config = ModelConfig::from_json(serde_json::json!({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 24, "max_position_embeddings": 16,
        "pad_token_id": 0, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
    }))
    .unwrap();
    Classifier::from_config_random(config, 2, 3, &Device::Cpu).unwrap()
}

fn adamw_config() -> AdamWConfig {
    AdamWConfig {
        weight_decay: 0.01,
        ..AdamWConfig::default()
    }
}

/// One optimizer step made of two accumulated micro-batches, clipped, scheduled.
fn train_step(model: &Classifier, optimizer: &mut AdamW, step: u64) {
    let dev = Device::Cpu;
    let micro = [
        ([[2u32, 5, 9, 3, 0], [2, 7, 3, 0, 0]], [1u32, 0]),
        ([[2u32, 11, 12, 13, 3], [2, 4, 4, 3, 0]], [0u32, 1]),
    ];
    let mut dropout = Dropout::train(SEED, step);
    let mut total: Option<Gradients> = None;
    for (ids, labels) in micro {
        let ids = Tensor::new(&ids, &dev).unwrap();
        let mask = ids
            .ne(0u32)
            .unwrap()
            .to_dtype(candle_core::DType::U32)
            .unwrap();
        let logits = model
            .forward(&ids, &ids.zeros_like().unwrap(), &mask, &mut dropout)
            .unwrap();
        let loss = cross_entropy(&logits, &Tensor::new(&labels, &dev).unwrap()).unwrap();
        let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
        match total.as_mut() {
            None => total = Some(grads),
            Some(t) => t.accumulate(&grads).unwrap(),
        }
    }
    let mut grads = total.unwrap();
    grads.scale(0.5).unwrap();
    grads.clip(1.0).unwrap();
    optimizer
        .step(&grads, lr_at(LrSchedulerType::Linear, 1e-2, step, 1, TOTAL))
        .unwrap();
}

fn snapshot(model: &Classifier) -> Vec<Vec<f32>> {
    model
        .params()
        .iter()
        .map(|(_, v)| v.flatten_all().unwrap().to_vec1().unwrap())
        .collect()
}

#[test]
fn resumed_training_is_bit_identical() {
    let straight = model();
    let mut opt = AdamW::new(straight.params(), adamw_config()).unwrap();
    for step in 0..TOTAL {
        train_step(&straight, &mut opt, step);
    }

    let tmp = tempfile::tempdir().unwrap();
    let first = model();
    let mut opt = AdamW::new(first.params(), adamw_config()).unwrap();
    for step in 0..3 {
        train_step(&first, &mut opt, step);
    }
    first.save(tmp.path()).unwrap();
    let state = tmp.path().join("optimizer.safetensors");
    opt.save_state(&state).unwrap();

    let (resumed, _) = Classifier::load(tmp.path(), &[], &Device::Cpu).unwrap();
    let mut opt = AdamW::new(resumed.params(), adamw_config()).unwrap();
    opt.load_state(&state).unwrap();
    assert_eq!(opt.step_count(), 3);
    for step in 3..TOTAL {
        train_step(&resumed, &mut opt, step);
    }
    let (a, b) = (snapshot(&straight), snapshot(&resumed));
    let moved = snapshot(&model()) != a;
    assert!(moved, "training did not change the parameters");
    for ((name, _), (x, y)) in straight.params().iter().zip(a.iter().zip(&b)) {
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "{name} differs after resuming");
    }
}

#[test]
fn optimizer_state_must_match_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("optimizer.safetensors");
    let small = model();
    let mut opt = AdamW::new(small.params(), adamw_config()).unwrap();
    train_step(&small, &mut opt, 0);
    opt.save_state(&state).unwrap();

    // Another architecture size: shapes differ, the error names a tensor.
    let other = ModelConfig::from_json(serde_json::json!({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 24, "max_position_embeddings": 16
    }))
    .unwrap();
    let other = Classifier::from_config_random(other, 2, 3, &Device::Cpu).unwrap();
    let mut wrong = AdamW::new(other.params(), adamw_config()).unwrap();
    let msg = wrong.load_state(&state).unwrap_err().to_string();
    assert!(
        msg.contains("exp_avg.bert.embeddings.word_embeddings.weight"),
        "{msg}"
    );
    assert_eq!(
        wrong.step_count(),
        0,
        "a failed restore must not change the optimizer"
    );

    // Fewer parameters than the file: the leftover tensor is reported.
    let fewer: Vec<_> = small.params()[1..].to_vec();
    let mut partial = AdamW::new(&fewer, adamw_config()).unwrap();
    let msg = partial.load_state(&state).unwrap_err().to_string();
    assert!(msg.contains("unknown tensor"), "{msg}");

    let msg = partial
        .load_state(Path::new("/nonexistent/state"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/nonexistent/state"), "{msg}");
}
