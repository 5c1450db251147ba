//! Every architecture with every task's head: the logits' shape, a loss whose gradients reach
//! every parameter, and a save that reloads as the task's HF class with the same logits.

use candle_core::{DType, Device, Tensor};
use serde_json::{Value, json};
use wick::model::{Classifier, Dropout, ModelConfig, task_loss};
use wick::task::Task;
use wick::train::Gradients;

fn configs() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Bert",
            json!({"model_type": "bert", "vocab_size": 50, "hidden_size": 16,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
                "max_position_embeddings": 40, "type_vocab_size": 2, "pad_token_id": 0}),
        ),
        (
            "DistilBert",
            json!({"model_type": "distilbert", "vocab_size": 50, "dim": 16, "n_layers": 2,
                "n_heads": 4, "hidden_dim": 32, "max_position_embeddings": 40,
                "pad_token_id": 0}),
        ),
        (
            "Roberta",
            json!({"model_type": "roberta", "vocab_size": 50, "hidden_size": 16,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
                "max_position_embeddings": 42, "type_vocab_size": 1, "pad_token_id": 1}),
        ),
        (
            "ModernBert",
            json!({"model_type": "modernbert", "vocab_size": 50, "hidden_size": 16,
                "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
                "max_position_embeddings": 32, "pad_token_id": 0, "local_attention": 4,
                "global_rope_theta": 1000.0, "local_rope_theta": 100.0}),
        ),
        (
            "DebertaV2",
            json!({"model_type": "deberta-v2", "vocab_size": 50, "hidden_size": 16,
                "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
                "max_position_embeddings": 64, "relative_attention": true,
                "position_buckets": 8, "pos_att_type": ["p2c", "c2p"], "share_att_key": true,
                "norm_rel_ebd": "layer_norm", "position_biased_input": false,
                "type_vocab_size": 0}),
        ),
    ]
}

/// Two rows of 6 tokens, the second padded after 4 (pad id 1 for RoBERTa, else 0).
fn batch(pad: u32) -> (Tensor, Tensor, Tensor) {
    let ids = Tensor::new(
        &[[2u32, 7, 9, 11, 13, 3], [2, 21, 22, 3, pad, pad]],
        &Device::Cpu,
    );
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], &Device::Cpu);
    let ids = ids.unwrap();
    let types = ids.zeros_like().unwrap();
    (ids, types, mask.unwrap())
}

fn labels_for(task: Task) -> (usize, Tensor) {
    let device = &Device::Cpu;
    match task {
        Task::SingleLabelClassification => (3, Tensor::new(&[2u32, 0], device).unwrap()),
        Task::MultiLabelClassification => (
            3,
            Tensor::new(&[[1f32, 0., 1.], [0., 0., 1.]], device).unwrap(),
        ),
        Task::Regression => (1, Tensor::new(&[0.5f32, 3.0], device).unwrap()),
        Task::TokenClassification => (
            3,
            Tensor::new(
                &[[-100i64, 1, 2, 0, 1, -100], [-100, 0, 1, -100, -100, -100]],
                device,
            )
            .unwrap(),
        ),
    }
}

#[test]
fn every_architecture_trains_every_task_and_reloads_as_its_hf_class() {
    for (family, json) in configs() {
        for task in Task::ALL {
            let what = format!("{family} {task}");
            let mut config = ModelConfig::from_json(json.clone()).unwrap();
            config.task = task;
            let (num_labels, labels) = labels_for(task);
            let model = Classifier::from_config_random(config, num_labels, 5, &Device::Cpu)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let pad = json["pad_token_id"].as_u64().unwrap_or(0) as u32;
            let (ids, types, mask) = batch(pad);
            let logits = model
                .forward(&ids, &types, &mask, &mut Dropout::off())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let want: &[usize] = if task.per_token() {
                &[2, 6, num_labels]
            } else {
                &[2, num_labels]
            };
            assert_eq!(logits.dims(), want, "{what}");
            let loss = task_loss(task, &logits, &labels, None).unwrap();
            let grads = Gradients::from_store(model.params(), &loss.backward().unwrap())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
                let finite = g
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .all(|v| v.is_finite());
                assert!(finite, "{what}: {name} has a non-finite gradient");
            }

            let dir = tempfile::tempdir().unwrap();
            model.save(dir.path()).unwrap();
            let saved: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.path().join("config.json")).unwrap(),
            )
            .unwrap();
            let head = if task.per_token() {
                "ForTokenClassification"
            } else {
                "ForSequenceClassification"
            };
            assert_eq!(
                saved["architectures"][0],
                format!("{family}{head}"),
                "{what}"
            );
            assert_eq!(
                saved.get("problem_type").and_then(Value::as_str),
                task.problem_type(),
                "{what}"
            );
            let (back, report) = Classifier::load(dir.path(), &[], &Device::Cpu).unwrap();
            assert_eq!(back.task(), task, "{what}");
            assert!(report.newly_initialized.is_empty(), "{what}: {report:?}");
            let again = back
                .forward(&ids, &types, &mask, &mut Dropout::off())
                .unwrap();
            let diff = (again - &logits)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert_eq!(diff, 0.0, "{what}: reloaded logits differ");
        }
    }
}
