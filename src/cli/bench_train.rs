//! `wick bench train`: training throughput, either the MRPC recipe through the trainer engine
//! or synthetic fixed-shape batches doing the work of `torch_train_bench.py`.

use anyhow::{Result, anyhow, bail};
use candle_core::{DType, Device, Tensor};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

use super::bench::peak_rss_mb;
use crate::hub::HubSettings;
use crate::model::{Classifier, Dropout, ModelConfig, cross_entropy};
use crate::train::{AdamW, AdamWConfig, Event, Gradients, TrainerOptions};

pub(super) const EXAMPLES: &str = "\
Examples:
  # The MRPC recipe for 100 optimizer steps, against the torch Trainer reference
  wick bench train --steps 100

  # Fixed-shape random batches, like ../shared/reference/torch_train_bench.py --size minilm
  wick bench train --synthetic --size minilm --batch 8 --seq 128 --steps 20";

#[derive(Args, Debug)]
pub struct TrainBenchArgs {
    /// Recipe mode: the training config (eval and saving are switched off).
    #[arg(long, default_value = "examples/mrpc-minilm.toml")]
    pub config: PathBuf,
    /// Extra `key=value` overrides for the recipe.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Recipe: stop after this many optimizer steps [default: one epoch].
    /// Synthetic: timed steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// The torch reference (`train_metrics.train_samples_per_second`).
    #[arg(
        long,
        default_value = "../shared/reference/minilm-mrpc-trainer-cpu.json"
    )]
    pub reference: PathBuf,
    /// Random-init BERT on fixed-shape random batches, like `torch_train_bench.py`.
    #[arg(long)]
    pub synthetic: bool,
    /// Synthetic: model size, `tiny`, `minilm` or `base`.
    #[arg(long, default_value = "minilm")]
    pub size: String,
    /// Synthetic: batch size.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Synthetic: sequence length of every batch.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Synthetic: `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Synthetic: only `fp32` today.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Synthetic: untimed steps before timing.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
}

pub fn train(args: &TrainBenchArgs) -> Result<()> {
    if args.synthetic {
        synthetic(args)
    } else {
        recipe(args)
    }
}

fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn recipe(args: &TrainBenchArgs) -> Result<()> {
    let runs = std::env::temp_dir().join(format!("wick-bench-train-{}", std::process::id()));
    let mut overrides: Vec<String> = vec![
        "eval_strategy=no".into(),
        "save_strategy=no".into(),
        "num_train_epochs=1".into(),
        "logging_steps=1000000".into(),
    ];
    if let Some(steps) = args.steps {
        overrides.push(format!("max_steps={steps}"));
    }
    overrides.extend(args.overrides.iter().cloned());
    let config = super::train::load_config(&args.config, &overrides)?;
    let handle = crate::train::spawn(
        config,
        TrainerOptions {
            runs_root: Some(runs.clone()),
            hub: HubSettings::from_env(),
            dataset_cache: true,
        },
    )?;
    let mut step_ms = Vec::new();
    let mut last: Option<Instant> = None;
    let mut tokens_per_s = f64::NAN;
    let mut summary = None;
    for event in handle.events.iter() {
        match event {
            Event::Started(s) => {
                eprintln!(
                    "training {} steps of {} rows on {}",
                    s.total_steps, s.train_rows, s.device
                );
                last = Some(Instant::now());
            }
            Event::Step(step) => {
                let now = Instant::now();
                if let Some(prev) = last {
                    step_ms.push(now.duration_since(prev).as_secs_f64() * 1e3);
                }
                last = Some(now);
                tokens_per_s = step.tokens_per_s;
            }
            Event::Finished(s) => {
                summary = Some(s);
                break;
            }
            Event::Failed { reason } => bail!("training failed: {reason}"),
            _ => {}
        }
    }
    handle.join();
    let _ = std::fs::remove_dir_all(&runs);
    let summary = summary.ok_or_else(|| anyhow!("the trainer stopped without a summary"))?;
    let reference: Option<f64> = std::fs::read_to_string(&args.reference)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["train_metrics"]["train_samples_per_second"].as_f64());
    let samples = summary.train_samples_per_s;
    let med = median(&mut step_ms);
    println!(
        "wick  {samples:.2} samples/s, {tokens_per_s:.0} tokens/s, median step {med:.1} ms, {} steps",
        summary.global_step
    );
    if let Some(r) = reference {
        println!(
            "torch {r:.2} samples/s (ratio wick/torch {:.3})",
            samples / r
        );
    }
    let out = json!({
        "impl": "wick", "mode": "recipe", "steps": summary.global_step,
        "train_samples_per_s": samples, "tokens_per_s": tokens_per_s,
        "step_ms": med, "peak_rss_mb": peak_rss_mb(),
        "torch_train_samples_per_s": reference,
        "ratio": reference.map(|r| samples / r),
        "threads": rayon::current_num_threads(),
    });
    println!("{out}");
    Ok(())
}

fn size_config(size: &str) -> Result<ModelConfig> {
    let (h, l, a, i) = match size {
        "base" => (768, 12, 12, 3072),
        "minilm" => (384, 6, 12, 1536),
        "tiny" => (128, 2, 2, 512),
        _ => bail!("--size must be base, minilm or tiny"),
    };
    Ok(ModelConfig::from_json(json!({
        "model_type": "bert", "vocab_size": 30522, "hidden_size": h, "num_hidden_layers": l,
        "num_attention_heads": a, "intermediate_size": i, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "initializer_range": 0.02, "pad_token_id": 0,
    }))?)
}

fn synthetic(args: &TrainBenchArgs) -> Result<()> {
    if args.precision != "fp32" {
        bail!("only --precision fp32 is supported");
    }
    let device = match args.device.as_str() {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0)?,
        other => bail!("unknown device {other}"),
    };
    let steps = args.steps.unwrap_or(20).max(1);
    let config = size_config(&args.size)?;
    let model = Classifier::from_config_random(config, 2, 0, &device)?;
    let n_params = model.num_parameters();
    let mut optimizer = AdamW::new(model.params(), AdamWConfig::default())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let (b, s) = (args.batch, args.seq);
    let ids: Vec<u32> = (0..b * s).map(|_| rng.random_range(1000..30000)).collect();
    let labels: Vec<u32> = (0..b).map(|_| rng.random_range(0..2)).collect();
    let ids = Tensor::from_vec(ids, (b, s), &device)?;
    let types = Tensor::zeros((b, s), DType::U32, &device)?;
    let mask = Tensor::ones((b, s), DType::U32, &device)?;
    let labels = Tensor::from_vec(labels, b, &device)?;
    let mut phases = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut times = Vec::new();
    for i in 0..args.warmup + steps {
        let t0 = Instant::now();
        let mut dropout = Dropout::train(42, i);
        let logits = model.forward(&ids, &types, &mask, &mut dropout)?;
        let loss = cross_entropy(&logits, &labels)?;
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let store = loss.backward()?;
        let mut grads = Gradients::from_store(model.params(), &store)?;
        drop(store);
        let t2 = Instant::now();
        grads.clip(1.0)?;
        let t3 = Instant::now();
        optimizer.step(&grads, 5e-5)?;
        device.synchronize()?;
        let t4 = Instant::now();
        if i >= args.warmup {
            for (k, (a, z)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4)].iter().enumerate() {
                phases[k].push(z.duration_since(*a).as_secs_f64() * 1e3);
            }
            times.push(t4.duration_since(t0).as_secs_f64());
        }
    }
    let med = median(&mut times);
    let names = ["forward", "backward", "clip", "optimizer"];
    let mut phase_ms = serde_json::Map::new();
    for (name, xs) in names.iter().zip(phases.iter_mut()) {
        let m = median(xs);
        eprintln!("{name:>10}: {m:8.1} ms");
        phase_ms.insert((*name).into(), json!(m));
    }
    let out = json!({
        "impl": "wick", "size": args.size, "params": n_params, "batch": b, "seq": s,
        "device": args.device, "precision": args.precision,
        "step_ms": med * 1e3, "samples_per_s": b as f64 / med,
        "tokens_per_s": (b * s) as f64 / med,
        "peak_mem_mb": peak_rss_mb(), "mfu": serde_json::Value::Null,
        "phase_ms": phase_ms, "threads": rayon::current_num_threads(),
    });
    println!("{out}");
    Ok(())
}
