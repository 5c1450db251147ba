//! The [CLS]-only last layer: sequence heads that read only the first token (BERT's pooler,
//! RoBERTa's `classifier.dense`, DistilBERT's `pre_classifier`) let the last encoder layer
//! compute that row alone. With dropout off it must give the logits, the loss and every
//! gradient of the full computation (`Classifier::set_full_last_layer(true)`), up to float
//! rounding: random shapes and lengths, rows with only [CLS] (and [SEP]) real, a batch of one,
//! for each sequence task.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use wick::model::{Classifier, Dropout, ModelConfig, task_loss};
use wick::task::Task;
use wick::train::Gradients;

use crate::model_parity::{assert_all_close, worst_error};

const VOCAB: u32 = 60;
pub(crate) const SEQUENCE_TASKS: [Task; 3] = [
    Task::SingleLabelClassification,
    Task::MultiLabelClassification,
    Task::Regression,
];

pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) config: Value,
    pad: u32,
    cls: u32,
    sep: u32,
    token_types: u32,
}

pub(crate) fn families() -> Vec<Family> {
    vec![
        Family {
            name: "bert",
            config: json!({
                "model_type": "bert", "vocab_size": VOCAB, "hidden_size": 24,
                "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 40,
                "max_position_embeddings": 40, "type_vocab_size": 2, "pad_token_id": 0,
                "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
                "initializer_range": 0.2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"
            }),
            pad: 0,
            cls: 2,
            sep: 3,
            token_types: 2,
        },
        Family {
            name: "roberta",
            config: json!({
                "model_type": "roberta", "vocab_size": VOCAB, "hidden_size": 24,
                "num_hidden_layers": 2, "num_attention_heads": 3, "intermediate_size": 40,
                "max_position_embeddings": 42, "type_vocab_size": 1, "pad_token_id": 1,
                "bos_token_id": 0, "eos_token_id": 2, "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "initializer_range": 0.2,
                "layer_norm_eps": 1e-5, "hidden_act": "gelu"
            }),
            pad: 1,
            cls: 0,
            sep: 2,
            token_types: 1,
        },
        Family {
            name: "distilbert",
            config: json!({
                "model_type": "distilbert", "vocab_size": VOCAB, "dim": 24, "n_layers": 2,
                "n_heads": 4, "hidden_dim": 40, "max_position_embeddings": 40,
                "pad_token_id": 0, "dropout": 0.1, "attention_dropout": 0.1,
                "seq_classif_dropout": 0.2, "initializer_range": 0.2, "activation": "gelu"
            }),
            pad: 0,
            cls: 2,
            sep: 3,
            token_types: 1,
        },
    ]
}

/// A padded batch: `real[b]` tokens per row ([CLS] first, [SEP] last), the rest padding.
pub(crate) struct Batch {
    pub(crate) ids: Tensor,
    pub(crate) types: Tensor,
    pub(crate) mask: Tensor,
}

pub(crate) fn random_batch(
    family: &Family,
    real: &[usize],
    seq: usize,
    rng: &mut ChaCha8Rng,
) -> Batch {
    let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for &len in real {
        for position in 0..seq {
            let id = match position {
                0 => family.cls,
                p if p + 1 == len && len > 1 => family.sep,
                p if p < len => rng.random_range(5..VOCAB),
                _ => family.pad,
            };
            ids.push(id);
            types.push(if position < len && position > len / 2 {
                family.token_types - 1
            } else {
                0
            });
            mask.push(u32::from(position < len));
        }
    }
    let shape = (real.len(), seq);
    let device = &Device::Cpu;
    Batch {
        ids: Tensor::from_vec(ids, shape, device).unwrap(),
        types: Tensor::from_vec(types, shape, device).unwrap(),
        mask: Tensor::from_vec(mask, shape, device).unwrap(),
    }
}

pub(crate) fn random_labels(task: Task, batch: usize, rng: &mut ChaCha8Rng) -> Tensor {
    let device = &Device::Cpu;
    match task {
        Task::SingleLabelClassification => {
            let labels: Vec<u32> = (0..batch).map(|_| rng.random_range(0..3)).collect();
            Tensor::from_vec(labels, batch, device).unwrap()
        }
        Task::MultiLabelClassification => {
            let labels: Vec<f32> = (0..batch * 3)
                .map(|_| f32::from(u8::from(rng.random_bool(0.5))))
                .collect();
            Tensor::from_vec(labels, (batch, 3), device).unwrap()
        }
        Task::Regression => {
            let labels: Vec<f32> = (0..batch).map(|_| rng.random_range(-2.0..3.0)).collect();
            Tensor::from_vec(labels, batch, device).unwrap()
        }
        Task::TokenClassification => unreachable!("token heads read every row"),
    }
}

/// Logits, loss and every gradient (named), with dropout off.
pub(crate) fn run(model: &Classifier, batch: &Batch, labels: &Tensor) -> Vec<(String, Tensor)> {
    let logits = model
        .forward(&batch.ids, &batch.types, &batch.mask, &mut Dropout::off())
        .unwrap();
    let loss = task_loss(model.task(), &logits, labels, None).unwrap();
    let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    let mut out = vec![
        ("logits".to_string(), logits),
        ("loss".to_string(), loss.reshape(1).unwrap()),
    ];
    for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
        out.push((format!("grad.{name}"), g.clone()));
    }
    out
}

/// Key biases cannot change attention (softmax is shift-invariant per query): their exact
/// gradient is zero, so both paths give rounding noise, small against the largest gradient.
pub(crate) fn is_key_bias(name: &str) -> bool {
    name.ends_with("attention.self.key.bias") || name.ends_with("attention.k_lin.bias")
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Random-init weights (`initializer_range` 0.2) amplify f32 rounding: the same full
/// computation with three more padding columns (which changes only gemm's blocking) was
/// measured at up to 8e-5 in this metric, so the tolerance sits above that; a wrong row, a
/// lost residual or a missing gradient path is off by far more.
pub(crate) const ROUNDING_RTOL: f64 = 1e-3;

/// One case: the same random model and batch run as `configure_got` and `configure_want`
/// leave it; `worst` keeps the largest error seen for logits, loss and gradients.
pub(crate) fn compare_paths(
    case: (&Family, Task, &[usize], usize),
    configure_got: impl Fn(&mut Classifier),
    configure_want: impl Fn(&mut Classifier),
    worst: &mut [f64; 3],
) {
    let (family, task, real, seq) = case;
    let what = format!("{} {task} rows {real:?} seq {seq}", family.name);
    let mut rng = ChaCha8Rng::seed_from_u64(real.iter().sum::<usize>() as u64 * 31 + seq as u64);
    let mut config = ModelConfig::from_json(family.config.clone()).unwrap();
    config.task = task;
    let labels_count = if task == Task::Regression { 1 } else { 3 };
    let mut got_model = Classifier::from_config_random(config, labels_count, 11, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    // A shallow clone: the same parameter variables.
    let mut want_model = got_model.clone();
    configure_got(&mut got_model);
    configure_want(&mut want_model);

    let batch = random_batch(family, real, seq, &mut rng);
    let labels = random_labels(task, real.len(), &mut rng);
    let got = run(&got_model, &batch, &labels);
    let want = run(&want_model, &batch, &labels);
    let largest_grad = want
        .iter()
        .filter(|(name, _)| name.starts_with("grad."))
        .map(|(_, g)| max_abs(g))
        .fold(0.0f32, f32::max);
    for ((name, got), (_, want)) in got.into_iter().zip(want) {
        if is_key_bias(&name) {
            for t in [&got, &want] {
                let noise = max_abs(t);
                assert!(
                    noise <= 1e-5 * largest_grad,
                    "{what}: {name} is {noise}, not rounding noise against {largest_grad}"
                );
            }
            continue;
        }
        let error = worst_error(&got, &want).rel;
        assert!(
            error <= ROUNDING_RTOL,
            "{what}: {name} differs by {error:.2e} (relative, floored as in model_parity)"
        );
        let group = match name.as_str() {
            "logits" => 0,
            "loss" => 1,
            _ => 2,
        };
        worst[group] = worst[group].max(error);
    }
}

/// The shapes every comparison runs: a batch of one unpadded and padded, random shapes
/// with a row of only [CLS] + [SEP] real and one of only [CLS], and a fully padded row.
pub(crate) fn cases(rng: &mut ChaCha8Rng) -> Vec<(Vec<usize>, usize)> {
    let seq = rng.random_range(3..10);
    let mut cases = vec![(vec![seq], seq), (vec![4], 9)];
    for _ in 0..2 {
        let batch = rng.random_range(2..5);
        let seq = rng.random_range(4..14);
        let mut real: Vec<usize> = (0..batch).map(|_| rng.random_range(2..=seq)).collect();
        real[0] = seq;
        real[1] = 2;
        if batch > 2 {
            real[2] = 1;
        }
        cases.push((real, seq));
    }
    // A fully padded row (its mask all zeros; unpadding then keeps the padded layout).
    cases.push((vec![6, 0, 3], 6));
    cases
}

#[test]
fn first_token_last_layer_matches_all_rows_for_every_sequence_head() {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_130);
    let mut worst = [0.0f64; 3];
    for family in families() {
        for task in SEQUENCE_TASKS {
            for (real, seq) in cases(&mut rng) {
                for unpadded in [false, true] {
                    compare_paths(
                        (&family, task, &real, seq),
                        |model| model.set_unpadded(unpadded),
                        |model| {
                            model.set_unpadded(unpadded);
                            model.set_full_last_layer(true);
                        },
                        &mut worst,
                    );
                }
            }
        }
    }
    println!(
        "first token vs all rows, worst relative error: logits {:.2e}, loss {:.2e}, \
         gradients {:.2e}",
        worst[0], worst[1], worst[2]
    );
}

#[test]
fn first_token_last_layer_matches_all_rows_on_the_pytorch_tiny_bert_fixture() {
    // The PyTorch fixture's weights (initializer_range 0.02, as HF initialises).
    let dir = crate::support::tiny::fixtures().join("tiny-bert");
    let (mut first_only, _) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    let mut all_rows = first_only.clone();
    all_rows.set_full_last_layer(true);
    for model in [&mut first_only, &mut all_rows] {
        model.set_unpadded(false);
    }
    let family = &families()[0];
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let batch = random_batch(family, &[12, 2, 7, 1], 12, &mut rng);
    let labels = random_labels(Task::SingleLabelClassification, 4, &mut rng);
    let got = run(&first_only, &batch, &labels);
    let want = run(&all_rows, &batch, &labels);
    let pairs: Vec<_> = got
        .into_iter()
        .zip(want)
        .filter(|((name, _), _)| !is_key_bias(name))
        .map(|((name, got), (_, want))| (name, got, want))
        .collect();
    assert_all_close("tiny-bert fixture, first token vs all rows", &pairs);
}
