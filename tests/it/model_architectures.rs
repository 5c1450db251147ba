//! Each architecture on a tiny random config: save/reload, checkpoint name variants, missing
//! heads, shape errors, dropout determinism, padding invariance and gradient coverage.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde_json::{Value, json};
use wick::model::{Classifier, Dropout, ModelConfig, ModelError, cross_entropy};
use wick::train::Gradients;

struct Arch {
    config: Value,
    pad: u32,
    prefix: &'static str,
    head: &'static [&'static str],
    /// Tensors whose gradient is zero in exact arithmetic (softmax ignores a key bias).
    zero_grad_suffixes: &'static [&'static str],
}

fn bert() -> Arch {
    Arch {
        config: json!({
            "model_type": "bert", "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 40,
            "type_vocab_size": 2, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "initializer_range": 0.2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu"
        }),
        pad: 0,
        prefix: "bert.",
        head: &[
            "bert.pooler.dense.weight",
            "bert.pooler.dense.bias",
            "classifier.weight",
            "classifier.bias",
        ],
        zero_grad_suffixes: &["attention.self.key.bias"],
    }
}

fn distilbert() -> Arch {
    Arch {
        config: json!({
            "model_type": "distilbert", "vocab_size": 50, "dim": 16, "n_layers": 2, "n_heads": 4,
            "hidden_dim": 32, "max_position_embeddings": 40, "pad_token_id": 0, "dropout": 0.1,
            "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "initializer_range": 0.2,
            "activation": "gelu"
        }),
        pad: 0,
        prefix: "distilbert.",
        head: &[
            "pre_classifier.weight",
            "pre_classifier.bias",
            "classifier.weight",
            "classifier.bias",
        ],
        zero_grad_suffixes: &["attention.k_lin.bias"],
    }
}

fn roberta() -> Arch {
    Arch {
        config: json!({
            "model_type": "roberta", "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 42,
            "type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.2, "layer_norm_eps": 1e-5, "hidden_act": "gelu"
        }),
        pad: 1,
        prefix: "roberta.",
        head: &[
            "classifier.dense.weight",
            "classifier.dense.bias",
            "classifier.out_proj.weight",
            "classifier.out_proj.bias",
        ],
        zero_grad_suffixes: &["attention.self.key.bias"],
    }
}

fn labels() -> Vec<String> {
    ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
}

fn random_model(arch: &Arch, seed: u64) -> Classifier {
    let config = ModelConfig::from_json(arch.config.clone()).unwrap();
    Classifier::from_config_random(config, 3, seed, &Device::Cpu).unwrap()
}

/// Two rows: one full, one ending in three pads. Token types are zero where the type
/// vocabulary has a single entry.
fn batch(arch: &Arch) -> (Tensor, Tensor, Tensor) {
    let p = arch.pad;
    let ids = Tensor::new(
        &[[3u32, 7, 9, 11, 13, 4, 5], [3, 21, 22, 4, p, p, p]],
        &Device::Cpu,
    )
    .unwrap();
    let types = if arch.config.get("type_vocab_size") == Some(&json!(2)) {
        Tensor::new(
            &[[0u32, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0]],
            &Device::Cpu,
        )
        .unwrap()
    } else {
        ids.zeros_like().unwrap()
    };
    let mask = Tensor::new(
        &[[1u32, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]],
        &Device::Cpu,
    )
    .unwrap();
    (ids, types, mask)
}

fn logits(model: &Classifier, arch: &Arch, dropout: &mut Dropout) -> Vec<Vec<f32>> {
    let (ids, types, mask) = batch(arch);
    model
        .forward(&ids, &types, &mask, dropout)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn tensors_of(model: &Classifier) -> HashMap<String, Tensor> {
    model
        .params()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect()
}

/// A checkpoint folder with `config` and the given tensors.
fn write_checkpoint(dir: &Path, config: &Value, tensors: &HashMap<String, Tensor>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(config).unwrap(),
    )
    .unwrap();
    candle_core::safetensors::save(tensors, dir.join("model.safetensors")).unwrap();
}

fn shapes_and_save_reload(arch: &Arch) {
    let model = random_model(arch, 1);
    let out = logits(&model, arch, &mut Dropout::off());
    assert_eq!((out.len(), out[0].len()), (2, 3));
    assert!(out.iter().flatten().all(|v| v.is_finite()));
    assert!(model.num_parameters() > 0);
    let expected: usize = model.params().iter().map(|(_, v)| v.elem_count()).sum();
    assert_eq!(model.num_parameters(), expected);
    assert!(
        model
            .params()
            .iter()
            .all(|(n, _)| n.starts_with(arch.prefix) || arch.head.contains(&n.as_str()))
    );

    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(saved["num_labels"], json!(3));
    // transformers refuses safetensors files without `format: pt` metadata.
    let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let format = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned());
    assert_eq!(format.as_deref(), Some("pt"));
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files.len(),
        2,
        "only config.json and model.safetensors: {files:?}"
    );
    assert_eq!(saved["id2label"]["1"], json!("LABEL_1"));
    let (back, report) = Classifier::load(tmp.path(), &[], &Device::Cpu).unwrap();
    assert!(
        report.newly_initialized.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert_eq!(back.labels(), model.labels());
    assert_eq!(
        logits(&back, arch, &mut Dropout::off()),
        out,
        "reloaded logits differ"
    );

    // Relabelled save keeps the weights and writes the new labels.
    let (relabelled, _) = Classifier::load(tmp.path(), &labels(), &Device::Cpu).unwrap();
    let tmp2 = tempfile::tempdir().unwrap();
    relabelled.save(tmp2.path()).unwrap();
    let (again, _) = Classifier::load(tmp2.path(), &[], &Device::Cpu).unwrap();
    assert_eq!(again.labels(), labels().as_slice());
    assert_eq!(logits(&again, arch, &mut Dropout::off()), out);
}

fn checkpoint_variants(arch: &Arch) {
    let model = random_model(arch, 2);
    let reference = logits(&model, arch, &mut Dropout::off());
    let all = tensors_of(&model);
    let tmp = tempfile::tempdir().unwrap();

    // Legacy gamma/beta names and no encoder prefix load to the very same model.
    let legacy: HashMap<String, Tensor> = all
        .iter()
        .map(|(name, t)| {
            let mut name = name.strip_prefix(arch.prefix).unwrap_or(name).to_string();
            if name.contains("LayerNorm") || name.contains("layer_norm") {
                name = name.replace(".weight", ".gamma").replace(".bias", ".beta");
            }
            (name, t.clone())
        })
        .collect();
    let dir = tmp.path().join("legacy");
    write_checkpoint(&dir, &arch.config, &legacy);
    let (loaded, report) = Classifier::load(&dir, &labels(), &Device::Cpu).unwrap();
    assert!(
        report.newly_initialized.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert_eq!(logits(&loaded, arch, &mut Dropout::off()), reference);

    // A bare encoder checkpoint (plus a buffer and a foreign tensor): the head is new, the
    // foreign tensor is reported unused, the buffer is ignored.
    let mut base: HashMap<String, Tensor> = all
        .iter()
        .filter(|(n, _)| !arch.head.contains(&n.as_str()))
        .map(|(n, t)| (n.strip_prefix(arch.prefix).unwrap().to_string(), t.clone()))
        .collect();
    base.insert(
        "embeddings.position_ids".into(),
        Tensor::arange(0i64, 40, &Device::Cpu).unwrap(),
    );
    base.insert(
        "lm_head.bias".into(),
        Tensor::zeros(50, DType::F32, &Device::Cpu).unwrap(),
    );
    let dir = tmp.path().join("base");
    write_checkpoint(&dir, &arch.config, &base);
    let (fresh, report) = Classifier::load_with_seed(&dir, &labels(), 5, &Device::Cpu).unwrap();
    let mut new = report.newly_initialized.clone();
    new.sort();
    let mut want: Vec<String> = arch.head.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(new, want);
    assert_eq!(report.unused, ["lm_head.bias"]);
    assert_eq!(fresh.labels(), labels().as_slice());
    let (fresh_again, _) = Classifier::load_with_seed(&dir, &labels(), 5, &Device::Cpu).unwrap();
    assert_eq!(
        logits(&fresh, arch, &mut Dropout::off()),
        logits(&fresh_again, arch, &mut Dropout::off()),
        "head initialisation is not reproducible from its seed"
    );
    // Fresh head weights are zero-mean with std initializer_range; biases are zero.
    for (name, var) in fresh.params() {
        if arch.head.contains(&name.as_str()) && name.ends_with("bias") {
            assert!(
                var.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .all(|v| *v == 0.0)
            );
        }
    }

    // Wrong number of labels: said in labels, naming the folder, not as a tensor shape.
    let dir = tmp.path().join("saved");
    model.save(&dir).unwrap();
    let err =
        Classifier::load(&dir, &["x".to_string(), "y".to_string()], &Device::Cpu).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ModelError::HeadLabelCount {
                labels: 2,
                head_labels: 3,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("saved") && msg.contains("2 labels (x, y)") && msg.contains("has 3"),
        "{msg}"
    );

    // A missing encoder tensor is an error naming it.
    let mut broken = all.clone();
    let victim = format!("{}embeddings.word_embeddings.weight", arch.prefix);
    broken.remove(&victim);
    let dir = tmp.path().join("broken");
    write_checkpoint(&dir, &arch.config, &broken);
    let msg = Classifier::load(&dir, &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&victim), "{msg}");
}

fn dropout_and_padding(arch: &Arch) {
    let model = random_model(arch, 3);
    let off = logits(&model, arch, &mut Dropout::off());
    let on_a = logits(&model, arch, &mut Dropout::train(11, 4));
    let on_b = logits(&model, arch, &mut Dropout::train(11, 4));
    let on_c = logits(&model, arch, &mut Dropout::train(11, 5));
    assert_ne!(on_a, off, "dropout on should change the logits");
    assert_eq!(on_a, on_b, "same (seed, step) must give the same masks");
    assert_ne!(on_a, on_c, "another step must give other masks");

    // Padding is invisible: the padded row equals the same sequence run alone.
    let (ids, types, mask) = batch(arch);
    let alone = |t: &Tensor| t.narrow(0, 1, 1).unwrap().narrow(1, 0, 4).unwrap();
    let single: Vec<Vec<f32>> = model
        .forward(
            &alone(&ids),
            &alone(&types),
            &alone(&mask),
            &mut Dropout::off(),
        )
        .unwrap()
        .to_vec2()
        .unwrap();
    for (a, b) in single[0].iter().zip(&off[1]) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "padded {b} vs alone {a}"
        );
    }
}

fn gradients_reach_every_parameter(arch: &Arch) {
    let model = random_model(arch, 4);
    let (_, types, mask) = batch(arch);
    // Put the pad id at an attended position too: like torch's `padding_idx`, its embedding
    // row must still get no gradient (masked positions get none anyway).
    let p = arch.pad;
    let ids = Tensor::new(
        &[[3u32, 7, p, 11, 13, 4, 5], [3, 21, 22, 4, p, p, p]],
        &Device::Cpu,
    )
    .unwrap();
    let out = model
        .forward(&ids, &types, &mask, &mut Dropout::off())
        .unwrap();
    let loss = cross_entropy(&out, &Tensor::new(&[2u32, 0], &Device::Cpu).unwrap()).unwrap();
    let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    let mut largest = 0.0f32;
    let mut mathematically_zero = Vec::new();
    for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
        let values: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(
            values.iter().all(|v| v.is_finite()),
            "{name}: non-finite gradient"
        );
        let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if arch.zero_grad_suffixes.iter().any(|s| name.ends_with(s)) {
            mathematically_zero.push((name.clone(), max));
        } else {
            assert!(max > 0.0, "{name}: zero gradient");
            largest = largest.max(max);
        }
        // Like torch's padding_idx, the padding row of the word embeddings learns nothing.
        if name.ends_with("word_embeddings.weight") {
            let row = g.get(arch.pad as usize).unwrap().to_vec1::<f32>().unwrap();
            assert!(
                row.iter().all(|v| *v == 0.0),
                "{name}: padding row has a gradient"
            );
        }
    }
    assert!(!mathematically_zero.is_empty());
    for (name, max) in mathematically_zero {
        assert!(
            max <= 1e-5 * largest,
            "{name}: gradient {max} should be rounding noise"
        );
    }
}

#[test]
fn bert_save_reload_and_shapes() {
    shapes_and_save_reload(&bert());
}

#[test]
fn bert_checkpoint_variants_and_errors() {
    checkpoint_variants(&bert());
}

#[test]
fn bert_dropout_and_padding() {
    dropout_and_padding(&bert());
}

#[test]
fn bert_gradients_reach_every_parameter() {
    gradients_reach_every_parameter(&bert());
}

#[test]
fn distilbert_save_reload_and_shapes() {
    shapes_and_save_reload(&distilbert());
}

#[test]
fn distilbert_checkpoint_variants_and_errors() {
    checkpoint_variants(&distilbert());
}

#[test]
fn distilbert_dropout_and_padding() {
    dropout_and_padding(&distilbert());
}

#[test]
fn distilbert_gradients_reach_every_parameter() {
    gradients_reach_every_parameter(&distilbert());
}

#[test]
fn roberta_save_reload_and_shapes() {
    shapes_and_save_reload(&roberta());
}

#[test]
fn roberta_checkpoint_variants_and_errors() {
    checkpoint_variants(&roberta());
}

#[test]
fn roberta_dropout_and_padding() {
    dropout_and_padding(&roberta());
}

#[test]
fn roberta_gradients_reach_every_parameter() {
    gradients_reach_every_parameter(&roberta());
}

#[test]
fn xlm_roberta_uses_the_roberta_layout() {
    let mut arch = roberta();
    arch.config["model_type"] = json!("xlm-roberta");
    let model = random_model(&arch, 6);
    assert!(
        model
            .params()
            .iter()
            .any(|(n, _)| n == "roberta.embeddings.word_embeddings.weight")
    );
    let tmp = tempfile::tempdir().unwrap();
    model.save(tmp.path()).unwrap();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        saved["architectures"][0],
        json!("XLMRobertaForSequenceClassification")
    );
}

#[test]
fn sharded_checkpoints_load() {
    let arch = bert();
    let model = random_model(&arch, 8);
    let all = tensors_of(&model);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.json"), arch.config.to_string()).unwrap();
    let mut shards = [HashMap::new(), HashMap::new()];
    let mut weight_map = serde_json::Map::new();
    for (i, (name, t)) in all.iter().enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", i % 2 + 1);
        shards[i % 2].insert(name.clone(), t.clone());
        weight_map.insert(name.clone(), json!(file));
    }
    for (i, shard) in shards.iter().enumerate() {
        let file = dir.join(format!("model-0000{}-of-00002.safetensors", i + 1));
        candle_core::safetensors::save(shard, file).unwrap();
    }
    let index = json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let (loaded, report) = Classifier::load(dir, &labels(), &Device::Cpu).unwrap();
    assert!(
        report.newly_initialized.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert_eq!(
        logits(&loaded, &arch, &mut Dropout::off()),
        logits(&model, &arch, &mut Dropout::off())
    );

    // A shard named in the index but absent is an error naming the file.
    std::fs::remove_file(dir.join("model-00002-of-00002.safetensors")).unwrap();
    let msg = Classifier::load(dir, &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("model-00002-of-00002.safetensors"), "{msg}");
}

#[test]
fn loading_rejects_bad_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.json"), bert().config.to_string()).unwrap();
    std::fs::write(dir.join("pytorch_model.bin"), b"not really").unwrap();
    let msg = Classifier::load(dir, &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("pickle weights are not supported; convert to safetensors"),
        "{msg}"
    );

    let mut gpt = bert().config;
    gpt["model_type"] = json!("gpt2");
    std::fs::write(dir.join("config.json"), gpt.to_string()).unwrap();
    let msg = Classifier::load(dir, &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("gpt2") && msg.contains("bert, distilbert, roberta, xlm-roberta"),
        "{msg}"
    );

    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let msg = Classifier::load(dir, &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("config.json"), "{msg}");

    let empty = tempfile::tempdir().unwrap();
    let msg = Classifier::load(empty.path(), &labels(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("config.json"), "{msg}");
}

#[test]
fn forward_rejects_bad_inputs() {
    let arch = bert();
    let model = random_model(&arch, 7);
    let (ids, types, mask) = batch(&arch);
    let short = mask.narrow(1, 0, 3).unwrap();
    assert!(
        model
            .forward(&ids, &types, &short, &mut Dropout::off())
            .is_err()
    );
    let as_f32 = ids.to_dtype(DType::F32).unwrap();
    assert!(
        model
            .forward(&as_f32, &types, &mask, &mut Dropout::off())
            .is_err()
    );
    let out_of_vocab = (ids.clone() + 100.0).unwrap();
    assert!(
        model
            .forward(&out_of_vocab, &types, &mask, &mut Dropout::off())
            .is_err()
    );
    let too_long = Tensor::zeros((1, 41), DType::U32, &Device::Cpu).unwrap();
    let msg = model
        .forward(
            &too_long,
            &too_long,
            &too_long.ones_like().unwrap(),
            &mut Dropout::off(),
        )
        .unwrap_err()
        .to_string();
    assert!(msg.contains("position"), "{msg}");
}
