//! LoRA against peft 0.21.2 on tiny-bert (`tests/fixtures/tiny-bert-lora`, copied from
//! `../shared/reference`): r 4, alpha 8 on `query`/`value`, the classifier in
//! `modules_to_save`. One step from peft's own initial adapters: logits, loss, every
//! trainable gradient, the norm, clip(0.1) + AdamW, a second backward after the step, and
//! `merge_and_unload`'s logits; peft's saved adapter loads onto tiny-bert and gives them too;
//! Wick's saved adapter and merged model reload to the same logits; the frozen base gets no
//! gradients.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use wick::model::{Classifier, Dropout, LoraConfig};
use wick::train::{AdamW, AdamWConfig, Gradients};

use crate::model_parity::{FLOOR_FRACTION, RTOL, assert_all_close, ids, load_tensors};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn adapter_dir() -> PathBuf {
    fixtures().join("tiny-bert-lora")
}

fn base() -> Classifier {
    Classifier::load(&fixtures().join("tiny-bert"), &[], &Device::Cpu)
        .unwrap()
        .0
}

/// The settings the fixture was made with.
fn fixture_config() -> LoraConfig {
    LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        target_modules: vec!["query".into(), "value".into()],
        use_rslora: false,
        modules_to_save: vec!["classifier".into(), "classifier".into(), "score".into()],
        base_model_name_or_path: Some("tiny-bert".into()),
    }
}

/// peft's in-memory name of one of our trainable parameters.
fn peft_name(ours: &str) -> String {
    let name = ours
        .replace(".lora_A.", ".lora_A.default.")
        .replace(".lora_B.", ".lora_B.default.");
    let name = match name.strip_prefix("classifier.") {
        Some(rest) => format!("classifier.modules_to_save.default.{rest}"),
        None => name,
    };
    format!("base_model.model.{name}")
}

struct Reference(HashMap<String, Tensor>);

impl Reference {
    fn load() -> Self {
        Self(load_tensors(
            &adapter_dir().join("tiny-bert-lora-step.safetensors"),
        ))
    }

    fn get(&self, name: &str) -> Tensor {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"))
            .clone()
    }

    fn param(&self, kind: &str, ours: &str) -> Tensor {
        self.get(&format!("{kind}.{}", peft_name(ours)))
    }
}

fn logits(model: &Classifier, r: &Reference) -> Tensor {
    model
        .forward(
            &ids(&r.get("input_ids")),
            &ids(&r.get("token_type_ids")),
            &ids(&r.get("attention_mask")),
            &mut Dropout::off(),
        )
        .unwrap()
}

fn loss_and_grads(model: &Classifier, r: &Reference) -> (Tensor, Gradients) {
    let loss = model
        .loss(
            &logits(model, r),
            &r.get("labels").to_dtype(DType::U32).unwrap(),
        )
        .unwrap();
    let grads = Gradients::from_store(model.params(), &loss.backward().unwrap()).unwrap();
    (loss, grads)
}

fn grad_pairs(
    model: &Classifier,
    grads: &Gradients,
    r: &Reference,
    kind: &str,
) -> Vec<(String, Tensor, Tensor)> {
    model
        .params()
        .iter()
        .zip(grads.as_slice())
        .map(|((name, _), g)| (name.clone(), g.clone(), r.param(kind, name)))
        .collect()
}

/// tiny-bert with the fixture's adapters, set to peft's initial values.
fn model_at_peft_init(r: &Reference) -> Classifier {
    let model = base().with_lora(&fixture_config(), 7).unwrap();
    for (name, var) in model.params() {
        var.set(&r.param("before", name)).unwrap();
    }
    model
}

#[test]
fn tiny_bert_lora_step_matches_peft() {
    let r = Reference::load();
    let model = base().with_lora(&fixture_config(), 7).unwrap();

    // The 10 trainable tensors are peft's, by name and shape.
    let ours: BTreeSet<String> = model.params().iter().map(|(n, _)| peft_name(n)).collect();
    let theirs: BTreeSet<String> =
        r.0.keys()
            .filter_map(|k| k.strip_prefix("grad.").map(str::to_string))
            .collect();
    assert_eq!(ours, theirs);
    assert_eq!(model.params().len(), 10);
    let trainable = model.num_trainable_parameters();
    let total = model.num_parameters();
    // 4 adapters of 4x32 + 32x4, the classifier 3x32 + 3.
    assert_eq!(trainable, 4 * 256 + 99);
    assert_eq!(total, base().num_parameters() + 4 * 256);
    println!("trainable parameters: {trainable} of {total}");

    // Our own init draws A like peft (uniform within 1/sqrt(fan_in)) and B = 0; the
    // classifier starts from tiny-bert's, as peft's copy does.
    for (name, var) in model.params() {
        let values: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
        let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
        if name.contains("lora_A") {
            let bound = 1.0 / 32f32.sqrt();
            assert!(max <= bound && max > 0.8 * bound, "{name}: {max}");
        } else if name.contains("lora_B") {
            assert_eq!(max, 0.0, "{name}");
        } else {
            let want: Vec<f32> = r
                .param("before", name)
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(values, want, "{name}");
        }
    }

    let model = model_at_peft_init(&r);
    let first = logits(&model, &r);
    assert_all_close("logits", &[("logits".into(), first, r.get("logits"))]);
    let (loss, mut grads) = loss_and_grads(&model, &r);
    assert_all_close(
        "loss",
        &[("loss".into(), loss.reshape(1).unwrap(), r.get("loss"))],
    );
    // lora_B = 0, so lora_A's gradient is exactly zero, in both.
    for ((name, _), g) in model.params().iter().zip(grads.as_slice()) {
        if name.contains("lora_A") {
            let max = g
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert_eq!(max, 0.0, "{name}");
        }
    }
    assert_all_close("gradients", &grad_pairs(&model, &grads, &r, "grad"));

    let norm = grads.clip(0.1).unwrap();
    assert_all_close(
        "grad_norm",
        &[(
            "grad_norm".into(),
            Tensor::new(&[norm as f32], &Device::Cpu).unwrap(),
            r.get("grad_norm"),
        )],
    );
    let lr = 1e-3;
    let mut optimizer = AdamW::new(
        model.params(),
        AdamWConfig {
            weight_decay: 0.01,
            ..AdamWConfig::default()
        },
    )
    .unwrap();
    let torch_coef = 0.1 / (r.get("grad_norm").to_vec1::<f32>().unwrap()[0] as f64 + 1e-6);
    optimizer.step(&grads, lr).unwrap();
    // As model_parity: where a gradient is comparable to eps, Adam's g / (|g| + eps) turns the
    // gradients' rounding (checked above) into parameter differences of up to
    // lr * |dg| * eps / (|g| + eps)^2.
    let mut worst = (0.0f64, String::new());
    for ((name, var), ours) in model.params().iter().zip(grads.as_slice()) {
        let flat = |t: &Tensor| -> Vec<f32> { t.flatten_all().unwrap().to_vec1().unwrap() };
        let got = flat(var.as_tensor());
        let want = flat(&r.param("after", name));
        let g = flat(ours);
        let gt = flat(&(r.param("grad", name) * torch_coef).unwrap());
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        for i in 0..got.len() {
            let (gi, dg) = (g[i].abs() as f64, (g[i] - gt[i]).abs() as f64);
            let propagated = lr * dg * 1e-8 / (gi + 1e-8).powi(2);
            let floor = (want[i].abs() as f64).max(FLOOR_FRACTION * scale);
            let err = (got[i] - want[i]).abs() as f64;
            assert!(
                err <= RTOL * floor + propagated,
                "{name}[{i}]: got {} want {}",
                got[i],
                want[i]
            );
            if err / floor > worst.0 {
                worst = (err / floor, format!("{name}[{i}]"));
            }
        }
    }
    println!(
        "parameters after clip + AdamW: worst relative error {:.3e} at {}",
        worst.0, worst.1
    );

    // A second backward after the step: now lora_A's gradient is not zero.
    let (loss2, grads2) = loss_and_grads(&model, &r);
    assert_all_close(
        "loss2",
        &[("loss2".into(), loss2.reshape(1).unwrap(), r.get("loss2"))],
    );
    assert_all_close(
        "gradients after the step",
        &grad_pairs(&model, &grads2, &r, "grad2"),
    );

    // merge_and_unload after the step.
    let merged = model.merged().unwrap();
    assert!(merged.lora().is_none());
    assert_eq!(merged.params().len(), base().params().len());
    assert_all_close(
        "merged logits",
        &[(
            "merged_logits".into(),
            logits(&merged, &r),
            r.get("merged_logits"),
        )],
    );
}

#[test]
fn peft_saved_adapter_loads_onto_tiny_bert_and_gives_the_merged_logits() {
    let r = Reference::load();
    let model = base().with_adapter(&adapter_dir()).unwrap();
    let config = model.lora().unwrap();
    assert_eq!((config.r, config.lora_alpha), (4, 8.0));
    assert_eq!(config.target_modules, ["query", "value"]);
    assert_eq!(model.lora_targets().len(), 4);
    // The file is peft's after-step state.
    let pairs: Vec<_> = model
        .params()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone(), r.param("after", n)))
        .collect();
    assert_all_close("adapter tensors vs after.*", &pairs);
    assert_all_close(
        "adapter model logits",
        &[("logits".into(), logits(&model, &r), r.get("merged_logits"))],
    );
    assert_all_close(
        "its merged model's logits",
        &[(
            "logits".into(),
            logits(&model.merged().unwrap(), &r),
            r.get("merged_logits"),
        )],
    );
}

#[test]
fn wick_saved_adapter_and_merged_model_reload_to_the_same_logits() {
    let r = Reference::load();
    let model = base().with_adapter(&adapter_dir()).unwrap();
    let want = logits(&model, &r);
    let dir = tempfile::tempdir().unwrap();

    let adapter = dir.path().join("adapter");
    model.save_adapter(&adapter).unwrap();
    // peft's key names, exactly as peft saved the fixture.
    let keys = |path: &Path| -> BTreeSet<String> { load_tensors(path).into_keys().collect() };
    assert_eq!(
        keys(&adapter.join("adapter_model.safetensors")),
        keys(&adapter_dir().join("adapter_model.safetensors"))
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "SEQ_CLS");
    assert_eq!(config["r"], 4);
    assert_eq!(config["base_model_name_or_path"], "tiny-bert");
    let reloaded = base().with_adapter(&adapter).unwrap();
    assert_eq!(
        logits(&reloaded, &r).to_vec2::<f32>().unwrap(),
        want.to_vec2::<f32>().unwrap(),
        "an adapter reloads bit for bit"
    );

    let merged_dir = dir.path().join("merged");
    model.save(&merged_dir).unwrap();
    let (merged, report) = Classifier::load(&merged_dir, &[], &Device::Cpu).unwrap();
    assert!(
        report.newly_initialized.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert!(merged.lora().is_none());
    assert_all_close(
        "merged model reloaded vs the adapter model",
        &[("logits".into(), logits(&merged, &r), want)],
    );
}

#[test]
fn adapters_that_do_not_fit_are_refused_by_name() {
    let mut config = fixture_config();
    config.target_modules = vec!["query_proj".into()];
    let err = base().with_lora(&config, 0).unwrap_err().to_string();
    assert!(
        err.contains("query_proj") && err.contains("query, value"),
        "{err}"
    );
    let mut config = fixture_config();
    config.modules_to_save.push("poolr".into());
    let err = base().with_lora(&config, 0).unwrap_err().to_string();
    assert!(err.contains("poolr"), "{err}");
    config.modules_to_save.pop();
    config.modules_to_save.push("pooler".into());
    let with_pooler = base().with_lora(&config, 0).unwrap();
    assert!(
        with_pooler
            .params()
            .iter()
            .any(|(n, _)| n == "bert.pooler.dense.weight")
    );

    let dir = tempfile::tempdir().unwrap();
    for file in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(adapter_dir().join(file), dir.path().join(file)).unwrap();
    }
    let config_path = dir.path().join("adapter_config.json");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, text.replace("\"r\": 4", "\"r\": 8")).unwrap();
    let err = base().with_adapter(dir.path()).unwrap_err().to_string();
    assert!(err.contains("lora_A.weight"), "{err}");
    std::fs::write(
        &config_path,
        text.replace("\"use_dora\": false", "\"use_dora\": true"),
    )
    .unwrap();
    let err = base().with_adapter(dir.path()).unwrap_err().to_string();
    assert!(err.contains("use_dora"), "{err}");
}

/// Elements held by a backward pass's gradient store.
fn store_elements(model: &Classifier, r: &Reference) -> (usize, candle_core::backprop::GradStore) {
    let loss = model
        .loss(
            &logits(model, r),
            &r.get("labels").to_dtype(DType::U32).unwrap(),
        )
        .unwrap();
    let store = loss.backward().unwrap();
    let ids: Vec<_> = store.get_ids().copied().collect();
    let elements = ids
        .iter()
        .map(|id| store.get_id(*id).unwrap().elem_count())
        .sum();
    (elements, store)
}

#[test]
fn the_frozen_base_gets_no_gradients() {
    let r = Reference::load();
    let full = base();
    let (full_elements, _) = store_elements(&full, &r);
    let lora = model_at_peft_init(&r);
    let (lora_elements, store) = store_elements(&lora, &r);
    // No linear weight or embedding of the base has a gradient.
    for (name, tensor) in lora.frozen_params() {
        if tensor.rank() == 2 {
            assert!(store.get(tensor).is_none(), "{name} got a gradient");
        }
    }
    println!(
        "gradient store of one backward on tiny-bert: {full_elements} elements in full \
         fine-tuning, {lora_elements} with LoRA ({} trainable of {})",
        lora.num_trainable_parameters(),
        lora.num_parameters()
    );
    assert!(lora_elements < full_elements);
}

/// MiniLM (22.7M parameters) on 8 MRPC pairs of 74 tokens: the gradient store of one backward
/// in full fine-tuning and with LoRA's defaults (r 8 on query and value, the classifier
/// saved), and the time of forward + backward. Needs `../shared`.
#[test]
fn minilm_lora_backward_keeps_far_fewer_gradients() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let model_dir = shared.join("hub/models/sentence-transformers/all-MiniLM-L6-v2");
    let reference_file = shared.join("reference/minilm-forward.safetensors");
    if !model_dir.is_dir() || !reference_file.is_file() {
        println!("SKIPPED: ../shared not found");
        return;
    }
    let reference = load_tensors(&reference_file);
    let input = |name: &str| ids(&reference[name]);
    let labels = Tensor::new(&[0u32, 1, 1, 0, 1, 0, 0, 1], &Device::Cpu).unwrap();
    let labels_names = vec!["no".to_string(), "yes".to_string()];
    let measure = |model: &Classifier| -> (usize, usize, f64) {
        let started = std::time::Instant::now();
        let logits = model
            .forward(
                &input("input_ids"),
                &input("token_type_ids"),
                &input("attention_mask"),
                &mut Dropout::off(),
            )
            .unwrap();
        let store = model.loss(&logits, &labels).unwrap().backward().unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let elements = store
            .get_ids()
            .map(|id| store.get_id(*id).unwrap().elem_count())
            .sum();
        let trained = model
            .params()
            .iter()
            .map(|(_, v)| store.get(v.as_tensor()).unwrap().elem_count())
            .sum();
        (elements, trained, seconds)
    };
    let (full, _) = Classifier::load(&model_dir, &labels_names, &Device::Cpu).unwrap();
    let full_total = full.num_parameters();
    let (full_store, full_trained, full_s) = measure(&full);
    let lora = full.with_lora(&LoraConfig::default(), 0).unwrap();
    // Trained enough to make B non-zero is not needed: the store's size does not depend on it.
    let (lora_store, lora_trained, lora_s) = measure(&lora);
    println!(
        "MiniLM, batch 8x74: full fine-tuning {full_trained} trainable of {full_total}, \
         gradient store {full_store} elements ({:.1} MB), forward+backward {full_s:.2} s; \
         LoRA r 8 query/value {lora_trained} trainable of {}, gradient store {lora_store} \
         elements ({:.1} MB), {lora_s:.2} s",
        full_store as f64 * 4e-6,
        lora.num_parameters(),
        lora_store as f64 * 4e-6,
    );
    assert!(lora_store * 5 < full_store, "{lora_store} vs {full_store}");
}

/// An interpreter with torch, transformers and peft (`WICK_PYTHON`, else `python3`), or why
/// not.
fn python_with_peft() -> Option<String> {
    let python = std::env::var("WICK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import torch, safetensors, transformers, peft"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "SKIPPED: `{python}` cannot import torch, safetensors, transformers and peft \
             (set WICK_PYTHON to an interpreter that can)"
        );
    }
    ok.then_some(python)
}

/// Both export forms in Python (scripts/check_peft_export.py): Wick's adapter loads with
/// `PeftModel.from_pretrained` and its merged model with `AutoModelForSequenceClassification`,
/// each giving Wick's logits. rsLoRA, r 2 and `dense` as a target (which peft also matches
/// on the pooler) with non-zero `B`s, so that peft's matching and scale are both exercised.
#[test]
fn wick_adapters_load_in_peft_and_merged_models_in_transformers() {
    let Some(python) = python_with_peft() else {
        return;
    };
    let r = Reference::load();
    let config = LoraConfig {
        r: 2,
        lora_alpha: 16.0,
        use_rslora: true,
        target_modules: vec!["query".into(), "value".into(), "dense".into()],
        ..LoraConfig::default()
    };
    let model = base().with_lora(&config, 3).unwrap();
    assert_eq!(
        model.lora_targets().len(),
        2 * 5 + 1,
        "{:?}",
        model.lora_targets()
    );
    // Non-zero, fixed `B`s (peft starts them at zero).
    for (name, var) in model.params() {
        if name.contains("lora_B") {
            let values: Vec<f32> = (0..var.elem_count())
                .map(|i| 0.05 * ((i as f32) * 0.7 + name.len() as f32).sin())
                .collect();
            var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
    }
    let want = logits(&model, &r);
    let dir = tempfile::tempdir().unwrap();
    // A LoRA checkpoint's layout: the merged model, the adapter in `adapter/` (transformers
    // must load the merged weights alone, even with peft installed).
    let merged = dir.path().join("checkpoint");
    let adapter = merged.join(wick::train::ADAPTER_DIR);
    model.save(&merged).unwrap();
    model.save_adapter(&adapter).unwrap();
    let expected = dir.path().join("expected.safetensors");
    let tensors: HashMap<String, Tensor> = ["input_ids", "token_type_ids", "attention_mask"]
        .iter()
        .map(|n| (n.to_string(), r.get(n)))
        .chain([("logits".to_string(), want)])
        .collect();
    candle_core::safetensors::save(&tensors, &expected).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_peft_export.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args([fixtures().join("tiny-bert"), adapter, merged, expected])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "the Python check failed:\n{text}");
}

/// Every architecture takes LoRA with its default targets: the linear layers the form's help
/// names exist, the head trains as peft's `modules_to_save` rule says, every trainable tensor
/// gets a gradient (adapter dropout on), and the merged model answers as the adapter model.
#[test]
fn every_architecture_takes_its_default_adapters_and_merges() {
    use serde_json::json;
    let cases = [
        (
            json!({"model_type": "bert", "vocab_size": 50, "hidden_size": 16,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
                "max_position_embeddings": 16, "pad_token_id": 0}),
            &["query", "key", "value", "dense", "classifier"][..],
            &["classifier.weight", "classifier.bias"][..],
        ),
        (
            json!({"model_type": "distilbert", "vocab_size": 50, "dim": 16, "n_layers": 2,
                "n_heads": 4, "hidden_dim": 32, "max_position_embeddings": 16,
                "pad_token_id": 0}),
            &[
                "q_lin",
                "k_lin",
                "v_lin",
                "out_lin",
                "lin1",
                "lin2",
                "pre_classifier",
                "classifier",
            ][..],
            // peft's plain `endswith("classifier")` takes pre_classifier too.
            &[
                "pre_classifier.weight",
                "pre_classifier.bias",
                "classifier.weight",
                "classifier.bias",
            ][..],
        ),
        (
            json!({"model_type": "roberta", "vocab_size": 50, "hidden_size": 16,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
                "max_position_embeddings": 24, "type_vocab_size": 1, "pad_token_id": 1}),
            &["query", "key", "value", "dense", "out_proj"][..],
            &[
                "classifier.dense.weight",
                "classifier.dense.bias",
                "classifier.out_proj.weight",
                "classifier.out_proj.bias",
            ][..],
        ),
        (
            json!({"model_type": "modernbert", "vocab_size": 50, "hidden_size": 32,
                "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                "global_attn_every_n_layers": 2, "local_attention": 16,
                "max_position_embeddings": 64, "pad_token_id": 0, "classifier_bias": false}),
            &["Wqkv", "Wo", "Wi", "dense", "classifier"][..],
            &["classifier.weight", "classifier.bias"][..],
        ),
        (
            json!({"model_type": "deberta-v2", "vocab_size": 50, "hidden_size": 32,
                "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                "max_position_embeddings": 64, "pad_token_id": 0, "relative_attention": true,
                "position_buckets": 16, "pos_att_type": ["p2c", "c2p"], "share_att_key": true,
                "norm_rel_ebd": "layer_norm", "position_biased_input": false,
                "type_vocab_size": 0, "max_relative_positions": -1}),
            &[
                "query_proj",
                "key_proj",
                "value_proj",
                "dense",
                "classifier",
            ][..],
            &["classifier.weight", "classifier.bias"][..],
        ),
    ];
    let help = wick::recipe::KEYS
        .iter()
        .find(|k| k.name == "lora_target_modules")
        .unwrap()
        .help;
    let ids = Tensor::new(&[[2u32, 5, 9, 7, 3, 0], [2, 4, 3, 0, 0, 0]], &Device::Cpu).unwrap();
    let mask = ids.ne(0u32).unwrap().to_dtype(DType::U32).unwrap();
    let types = ids.zeros_like().unwrap();
    for (config, linear_names, saved) in cases {
        let config = wick::model::ModelConfig::from_json(config).unwrap();
        let arch = config.architecture;
        let model = Classifier::from_config_random(config, 3, 1, &Device::Cpu).unwrap();
        let names: BTreeSet<String> = model
            .linear_modules()
            .unwrap()
            .iter()
            .map(|m| m.rsplit('.').next().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = linear_names.iter().map(|s| s.to_string()).collect();
        assert_eq!(names, want, "{arch:?}");
        for name in linear_names {
            let head = ["classifier", "pre_classifier", "out_proj"].contains(name);
            assert!(head || help.contains(name), "the form's help lacks {name}");
        }

        let base_logits: Vec<f32> = model
            .forward(&ids, &types, &mask, &mut Dropout::off())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let lora = model
            .with_lora(
                &LoraConfig {
                    lora_dropout: 0.1,
                    ..LoraConfig::default()
                },
                5,
            )
            .unwrap();
        let defaults = wick::model::default_target_modules(arch);
        assert_eq!(lora.lora_targets().len(), 2 * defaults.len(), "{arch:?}");
        let full: Vec<&str> = lora
            .params()
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.contains(".lora_"))
            .collect();
        assert_eq!(full, saved, "{arch:?}");
        for (name, var) in lora.params() {
            if name.contains("lora_B") {
                let values: Vec<f32> = (0..var.elem_count())
                    .map(|i| 0.1 * (i as f32 * 0.37).cos())
                    .collect();
                var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
        let logits = lora
            .forward(&ids, &types, &mask, &mut Dropout::train(9, 0))
            .unwrap();
        let loss = lora
            .loss(&logits, &Tensor::new(&[0u32, 2], &Device::Cpu).unwrap())
            .unwrap();
        let grads = Gradients::from_store(lora.params(), &loss.backward().unwrap()).unwrap();
        for ((name, _), g) in lora.params().iter().zip(grads.as_slice()) {
            let max = g
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(max > 0.0, "{arch:?}: {name} has a zero gradient");
        }
        let off = |m: &Classifier| m.forward(&ids, &types, &mask, &mut Dropout::off()).unwrap();
        let adapted: Vec<f32> = off(&lora).flatten_all().unwrap().to_vec1().unwrap();
        assert_ne!(
            adapted, base_logits,
            "{arch:?}: the adapters change nothing"
        );
        assert_all_close(
            &format!("{arch:?} merged vs adapter logits"),
            &[("logits".into(), off(&lora.merged().unwrap()), off(&lora))],
        );
    }
}

/// Mixed precision with adapters: bf16 matmuls through the frozen layers and the adapters,
/// f32 gradients for the f32 adapter masters, logits near f32's.
#[test]
fn lora_under_bf16_stays_near_f32_with_f32_gradients() {
    let r = Reference::load();
    let model = base().with_adapter(&adapter_dir()).unwrap();
    let want: Vec<f32> = logits(&model, &r).flatten_all().unwrap().to_vec1().unwrap();
    let mut half = model.clone();
    half.set_compute_dtype(DType::BF16).unwrap();
    let got: Vec<f32> = logits(&half, &r).flatten_all().unwrap().to_vec1().unwrap();
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 0.05 * scale, "{g} vs {w}");
    }
    let (_, grads) = loss_and_grads(&half, &r);
    for ((name, _), g) in half.params().iter().zip(grads.as_slice()) {
        assert_eq!(g.dtype(), DType::F32, "{name}");
    }
}

/// `lora_dropout` drops the adapters' input (tiny-bert's own dropout is 0, so only the
/// adapters draw masks), reproducibly from `(seed, step)`.
#[test]
fn lora_dropout_masks_the_adapter_input_reproducibly() {
    let r = Reference::load();
    let mut config = fixture_config();
    config.lora_dropout = 0.5;
    let model = base().with_lora(&config, 0).unwrap();
    let adapter = base().with_adapter(&adapter_dir()).unwrap();
    for ((_, mine), (_, trained)) in model.params().iter().zip(adapter.params()) {
        mine.set(trained.as_tensor()).unwrap();
    }
    let run = |dropout: &mut Dropout| -> Vec<f32> {
        model
            .forward(
                &ids(&r.get("input_ids")),
                &ids(&r.get("token_type_ids")),
                &ids(&r.get("attention_mask")),
                dropout,
            )
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let off = run(&mut Dropout::off());
    let on = run(&mut Dropout::train(11, 3));
    assert_ne!(on, off, "the adapters' input was not dropped");
    assert_eq!(on, run(&mut Dropout::train(11, 3)), "the same (seed, step)");
    assert_ne!(on, run(&mut Dropout::train(11, 4)), "another step");
    assert_eq!(off, run(&mut Dropout::off()), "no stream is left behind");
}
