//! `wick bench train`: training throughput, either the MRPC recipe through the trainer engine
//! or synthetic fixed-shape batches doing the work of `torch_train_bench.py`.

use anyhow::{Result, anyhow, bail};
use candle_core::{DType, Tensor};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

use super::bench::peak_rss_mb;
use crate::data::{Batch, PadStats};
use crate::hub::HubSettings;
use crate::model::{Classifier, Dropout, ModelConfig};
use crate::recipe::DeviceSpec;
use crate::train::{AdamW, AdamWConfig, Event, GpuSampler, Precision, TrainerOptions, step};

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
    /// Synthetic: BERT size, `base`, `minilm` or `tiny`.
    #[arg(long, default_value = "minilm")]
    pub size: String,
    /// Synthetic: batch size.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Synthetic: sequence length of every batch.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// `cpu`, `cuda` or `cuda:N`. Recipe mode: overrides the config's `device`.
    #[arg(long)]
    pub device: Option<String>,
    /// `fp32`, `tf32` or `bf16`. Recipe mode: sets the config's `tf32`/`bf16`.
    #[arg(long)]
    pub precision: Option<String>,
    /// Synthetic: untimed steps before the timed ones.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// Synthetic: the GPU's dense bf16 peak for MFU (the H200's measured 790 TFLOP/s).
    #[arg(long, default_value_t = 790.0)]
    pub peak_tflops: f64,
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
    if let Some(device) = &args.device {
        overrides.push(format!("device={device}"));
    }
    if let Some(name) = &args.precision {
        let p = parse_precision(name)?;
        overrides.push(format!("bf16={}", p.bf16));
        overrides.push(format!("tf32={}", p.tf32));
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

fn parse_precision(name: &str) -> Result<Precision> {
    Precision::parse(name)
        .ok_or_else(|| anyhow!("--precision must be fp32, tf32 or bf16, got {name:?}"))
}

/// The GPU's peak memory in use while the bench ran (NVML, whole device, so it includes the
/// CUDA context; torch's figure is its allocator's `max_memory_allocated`).
#[derive(Default)]
struct GpuPeak {
    sampler: Option<GpuSampler>,
    peak_bytes: u64,
    utilization: Vec<f64>,
}

impl GpuPeak {
    fn sample(&mut self) {
        if let Some(s) = self.sampler.as_ref().and_then(GpuSampler::sample) {
            self.peak_bytes = self.peak_bytes.max(s.memory_used_bytes);
            self.utilization.push(f64::from(s.utilization_percent));
        }
    }
}

/// The work of `torch_train_bench.py`: random-init `BertForSequenceClassification` (2 labels),
/// AdamW (lr 5e-5, no weight decay), clipping at 1.0, dropout on, cross-entropy on random
/// labels, fixed-shape batches of random ids with a full attention mask.
fn synthetic(args: &TrainBenchArgs) -> Result<()> {
    let device_name = args.device.clone().unwrap_or_else(|| "cpu".into());
    let spec = DeviceSpec::parse(&device_name)
        .ok_or_else(|| anyhow!("--device must be cpu, cuda or cuda:N, got {device_name:?}"))?;
    let precision_name = args.precision.clone().unwrap_or_else(|| "fp32".into());
    let precision = parse_precision(&precision_name)?;
    let device = crate::train::device::open(spec, precision)?;
    let mut gpu = GpuPeak {
        sampler: GpuSampler::for_device(&device),
        ..GpuPeak::default()
    };
    let steps = args.steps.unwrap_or(20).max(1);
    let config = size_config(&args.size)?;
    let mut model = Classifier::from_config_random(config, 2, 0, &device)?;
    model.set_compute_dtype(precision.compute_dtype())?;
    let n_params = model.num_parameters();
    let mut optimizer = AdamW::new(model.params(), AdamWConfig::default())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let (b, s) = (args.batch, args.seq);
    let ids: Vec<u32> = (0..b * s).map(|_| rng.random_range(1000..30000)).collect();
    let labels: Vec<u32> = (0..b).map(|_| rng.random_range(0..2)).collect();
    let batch = Batch {
        input_ids: Tensor::from_vec(ids, (b, s), &device)?,
        token_type_ids: Tensor::zeros((b, s), DType::U32, &device)?,
        attention_mask: Tensor::ones((b, s), DType::U32, &device)?,
        labels: Tensor::from_vec(labels, b, &device)?,
        rows: (0..b).collect(),
        stats: PadStats {
            real_tokens: b * s,
            pad_tokens: 0,
        },
    };
    let mut phases = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut times = Vec::new();
    // The trainer's step (`train::step`), one phase at a time, each waited for.
    for i in 0..args.warmup + steps {
        let t0 = Instant::now();
        let mut dropout = Dropout::train(42, i);
        let loss = step::forward_loss(&model, &batch, &mut dropout)?;
        let loss_value = loss.to_scalar::<f32>()?;
        if !loss_value.is_finite() {
            bail!("step {i}: the loss is {loss_value}");
        }
        let t1 = Instant::now();
        let mut grads = step::backward(&model, &loss, 1)?;
        device.synchronize()?;
        let t2 = Instant::now();
        step::clip(&mut grads, 1.0)?;
        device.synchronize()?;
        let t3 = Instant::now();
        step::update(&mut optimizer, &grads, 5e-5)?;
        device.synchronize()?;
        let t4 = Instant::now();
        if i >= args.warmup {
            for (k, (a, z)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4)].iter().enumerate() {
                phases[k].push(z.duration_since(*a).as_secs_f64() * 1e3);
            }
            times.push(t4.duration_since(t0).as_secs_f64());
            gpu.sample();
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
    let on_gpu = !device.is_cpu();
    // As the torch script: forward + backward over the weights only (attention scores left out).
    let flops = 6.0 * n_params as f64 * (b * s) as f64;
    let out = json!({
        "impl": "wick", "size": args.size, "params": n_params, "batch": b, "seq": s,
        "device": device_name, "precision": precision_name,
        "step_ms": med * 1e3, "samples_per_s": b as f64 / med,
        "tokens_per_s": (b * s) as f64 / med,
        "peak_mem_mb": on_gpu.then(|| gpu.peak_bytes as f64 / (1024.0 * 1024.0)),
        "mfu": on_gpu.then(|| flops / med / 1e12 / args.peak_tflops),
        "peak_rss_mb": peak_rss_mb(),
        "gpu_util_pct": on_gpu.then(|| median(&mut gpu.utilization)),
        "phase_ms": phase_ms, "threads": rayon::current_num_threads(),
    });
    println!("{out}");
    Ok(())
}
