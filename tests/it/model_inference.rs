//! `Classifier::for_inference`: the weights detached from autograd, for evaluation and
//! prediction. Its logits must be the trained model's, bit for bit (the same ops on the same
//! storage), record no graph, and follow the weights after an optimizer step.

use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wick::model::{Classifier, Dropout, ModelConfig};
use wick::task::Task;
use wick::train::{AdamW, AdamWConfig, Gradients};

use crate::model_rows::{families, random_batch};

#[test]
fn the_inference_copy_gives_the_same_logits_without_a_graph_and_follows_updates() {
    for family in families() {
        for task in [Task::SingleLabelClassification, Task::TokenClassification] {
            let what = format!("{} {task}", family.name);
            let mut config = ModelConfig::from_json(family.config.clone()).unwrap();
            config.task = task;
            let model = Classifier::from_config_random(config, 3, 5, &Device::Cpu).unwrap();
            let inference = model.for_inference().unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let batch = random_batch(&family, &[7, 3, 9], 9, &mut rng);
            let logits = |m: &Classifier| {
                m.forward(&batch.ids, &batch.types, &batch.mask, &mut Dropout::off())
                    .unwrap()
            };
            let trained = logits(&model);
            let inferred = logits(&inference);
            assert!(
                trained.track_op(),
                "{what}: the trained model records its graph"
            );
            assert!(
                !inferred.track_op(),
                "{what}: the inference copy records a graph"
            );
            let flat = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(flat(&trained), flat(&inferred), "{what}: logits differ");

            // One optimizer step on the model: the copy, made before it, sees the new weights.
            let loss = trained.sqr().unwrap().sum_all().unwrap();
            let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
            let mut optimizer = AdamW::new(model.params(), AdamWConfig::default()).unwrap();
            optimizer.step(&grads, 1e-2).unwrap();
            let after = logits(&model);
            assert_ne!(
                flat(&after),
                flat(&trained),
                "{what}: the step changed nothing"
            );
            assert_eq!(
                flat(&after),
                flat(&logits(&inference)),
                "{what}: the copy is stale"
            );
        }
    }
}
