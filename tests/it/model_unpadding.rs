//! Unpadding: first-token heads' encoders run every layer but attention on the real tokens
//! only (`model/packing.rs`). With dropout off the logits, the loss and every gradient must
//! equal the padded computation's up to float rounding: random shapes and lengths, rows with
//! only [CLS] (and [SEP]) real, a batch of one, every sequence task, BERT, RoBERTa and
//! DistilBERT, with the last layer on every row and on the first token alone.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wick::model::{Classifier, Dropout};
use wick::task::Task;

use crate::model_parity::assert_all_close;
use crate::model_rows::{SEQUENCE_TASKS, cases, compare_paths, families, is_key_bias, run};

#[test]
fn unpadded_encoders_match_the_padded_ones_for_every_sequence_head() {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_201);
    let mut worst = [0.0f64; 3];
    for family in families() {
        for task in SEQUENCE_TASKS {
            for (real, seq) in cases(&mut rng) {
                for full_last_layer in [false, true] {
                    compare_paths(
                        (&family, task, &real, seq),
                        |model| {
                            model.set_unpadded(true);
                            model.set_full_last_layer(full_last_layer);
                        },
                        |model| {
                            model.set_unpadded(false);
                            model.set_full_last_layer(full_last_layer);
                        },
                        &mut worst,
                    );
                }
            }
        }
    }
    println!(
        "unpadded vs padded, worst relative error: logits {:.2e}, loss {:.2e}, gradients {:.2e}",
        worst[0], worst[1], worst[2]
    );
}

#[test]
fn unpadded_tiny_bert_fixture_matches_the_padded_full_computation() {
    let dir = crate::support::tiny::fixtures().join("tiny-bert");
    let (mut fast, _) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    let mut full = fast.clone();
    full.set_unpadded(false);
    full.set_full_last_layer(true);
    fast.set_unpadded(true);
    let family = &families()[0];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let batch = crate::model_rows::random_batch(family, &[12, 2, 7, 1], 12, &mut rng);
    let labels = crate::model_rows::random_labels(Task::SingleLabelClassification, 4, &mut rng);
    let got = run(&fast, &batch, &labels);
    let want = run(&full, &batch, &labels);
    let pairs: Vec<_> = got
        .into_iter()
        .zip(want)
        .filter(|((name, _), _)| !is_key_bias(name))
        .map(|((name, got), (_, want))| (name, got, want))
        .collect();
    assert_all_close(
        "tiny-bert fixture, unpadded first token vs padded all rows",
        &pairs,
    );
}

#[test]
fn unpadded_dropout_is_seeded_and_keeps_the_padded_shapes() {
    // Dropout on: the masks differ from the padded path's (fewer elements are drawn), but the
    // same seed and step must replay the same logits, as resume needs.
    let temp = tempfile::tempdir().unwrap();
    let dir = crate::support::tiny::tiny_model(temp.path());
    let (model, _) = Classifier::load(&dir, &[], &Device::Cpu).unwrap();
    let family = &families()[0];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let batch = crate::model_rows::random_batch(family, &[9, 2, 5], 9, &mut rng);
    let logits = |step| -> Vec<Vec<f32>> {
        model
            .forward(
                &batch.ids,
                &batch.types,
                &batch.mask,
                &mut Dropout::train(4, step),
            )
            .unwrap()
            .to_vec2()
            .unwrap()
    };
    assert_eq!(logits(1), logits(1));
    assert_ne!(logits(1), logits(2));
    let off: Tensor = model
        .forward(&batch.ids, &batch.types, &batch.mask, &mut Dropout::off())
        .unwrap();
    assert_eq!(off.dims(), [3, 3]);
}
