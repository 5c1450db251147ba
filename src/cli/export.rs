//! `wick export accelerate`: a run or a config file as a 🤗 Accelerate project.

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

use super::train::load_config;
use crate::recipe::TrainConfig;
use crate::runs::RunDir;
use crate::train::accelerate::{AccelerateExport, export_accelerate};
use crate::train::{ExportForm, Predictor, device_from_name, export_model};

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write a 🤗 Accelerate project that runs the same recipe with transformers' Trainer.
    ///
    /// The project: train.py (transformers' Trainer), accelerate_config.yaml (one machine,
    /// --num-processes GPUs), requirements.txt and a short README.md. Every Wick key becomes a TrainingArguments or EarlyStoppingCallback argument, or a
    /// Wick-only setting the script's data code uses; train.py says which beside each value.
    #[command(after_help = ACCELERATE_EXAMPLES)]
    Accelerate(AccelerateArgs),
    /// Write a checkpoint as a Hugging Face model folder (config.json, model.safetensors,
    /// tokenizer, model card), reload it and compare its logits with the checkpoint's.
    ///
    /// A LoRA run's checkpoint exports as the merged model (the default) or, with
    /// --form adapter, as its adapter in peft's layout (adapter_config.json,
    /// adapter_model.safetensors, the fine-tuned config.json for the labels, tokenizer, card),
    /// checked by putting it back on its base.
    ///
    /// With --logits-for, also print the exported model's raw logits for each text as one JSON
    /// line (token classification: one row per token, special tokens included), to compare
    /// with transformers.
    #[command(after_help = MODEL_EXAMPLES)]
    Model(ModelArgs),
}

const MODEL_EXAMPLES: &str = "\
Examples:
  wick export model RUN_FOLDER/checkpoint-459 mrpc-model
  # Logits to compare with AutoModelFor*.from_pretrained(\"mrpc-model\"); a tab separates a pair
  wick export model RUN_FOLDER/checkpoint-459 mrpc-model --logits-for $'A man plays.\\tSomeone plays.'
  # A LoRA run: its adapter alone, for PeftModel.from_pretrained(base, \"mrpc-adapter\")
  wick export model LORA_RUN_FOLDER/checkpoint-1377 mrpc-adapter --form adapter";

#[derive(Args, Debug)]
pub struct ModelArgs {
    /// A run's checkpoint-N folder, or another model folder Wick wrote.
    #[arg(value_name = "CHECKPOINT")]
    pub source: PathBuf,
    /// Folder to write the model into (created if needed).
    #[arg(value_name = "OUT_DIR")]
    pub out_dir: PathBuf,
    /// Device to load the model on (`cpu`, `cuda`, `cuda:N`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// `merged`: the whole model (LoRA merged into its weights); `adapter`: a LoRA run's
    /// adapter alone, in peft's layout.
    #[arg(long, value_enum, default_value_t = FormArg::Merged)]
    pub form: FormArg,
    /// Print the exported model's logits for this text as a JSON line; a tab separates the two
    /// texts of a pair. Repeatable.
    #[arg(long = "logits-for", value_name = "TEXT")]
    pub logits_for: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormArg {
    Merged,
    Adapter,
}

impl From<FormArg> for ExportForm {
    fn from(form: FormArg) -> Self {
        match form {
            FormArg::Merged => ExportForm::Merged,
            FormArg::Adapter => ExportForm::Adapter,
        }
    }
}

const ACCELERATE_EXAMPLES: &str = "\
Examples:
  # A finished (or stopped) run, for a node with 8 GPUs
  wick export accelerate ~/.local/share/wick/runs/20261126-073440-mrpc-minilm mrpc-project --num-processes 8

  # A config file, with the Hub ids instead of local folders
  wick export accelerate examples/mrpc-minilm.toml mrpc-project \\
      --set model=sentence-transformers/all-MiniLM-L6-v2 --set dataset=nyu-mll/glue

  # Then, on the cluster
  cd mrpc-project && pip install -r requirements.txt
  accelerate launch --config_file accelerate_config.yaml train.py";

#[derive(Args, Debug)]
pub struct AccelerateArgs {
    /// A run folder (it holds config.toml and run.json) or a config .toml file.
    #[arg(value_name = "RUN_OR_CONFIG")]
    pub source: PathBuf,
    /// Folder to write the project into (created if needed; the four files are replaced).
    #[arg(value_name = "OUT_DIR")]
    pub out_dir: PathBuf,
    /// Processes (one per GPU) in accelerate_config.yaml.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub num_processes: u32,
    /// Override one key before exporting, as for `wick train`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

pub fn run(command: ExportCommand) -> Result<()> {
    match command {
        ExportCommand::Accelerate(args) => accelerate(&args),
        ExportCommand::Model(args) => model(&args),
    }
}

fn model(args: &ModelArgs) -> Result<()> {
    let device = device_from_name(&args.device)?;
    let check = export_model(&args.source, &args.out_dir, args.form.into(), &device)?;
    println!(
        "exported {} to {} (reloaded: max |logit difference| {:e}):",
        args.source.display(),
        args.out_dir.display(),
        check.max_abs_logit_diff
    );
    for path in &check.files {
        println!("  {}", path.display());
    }
    if args.logits_for.is_empty() {
        return Ok(());
    }
    let exported = Predictor::load(&args.out_dir, &device)?;
    let labels = exported.labels().len().max(1);
    for item in &args.logits_for {
        let (text, pair) = match item.split_once('\t') {
            Some((text, pair)) => (text, Some(pair)),
            None => (item.as_str(), None),
        };
        let logits = exported.logits(text, pair)?;
        let rows: Vec<&[f32]> = logits.chunks(labels).collect();
        let logits = if exported.task().per_token() {
            serde_json::json!(rows)
        } else {
            serde_json::json!(rows.first().copied().unwrap_or_default())
        };
        let line = serde_json::json!({
            "text": text,
            "pair": pair,
            "task": exported.task().name(),
            "labels": exported.labels(),
            "logits": logits,
        });
        println!("{line}");
    }
    Ok(())
}

fn accelerate(args: &AccelerateArgs) -> Result<()> {
    let config = read_run_or_config(&args.source, &args.overrides)?;
    let options = AccelerateExport {
        num_processes: args.num_processes,
        source: Some(args.source.display().to_string()),
    };
    let written = export_accelerate(&config, &args.out_dir, &options)?;
    println!(
        "exported {} to {}:",
        args.source.display(),
        args.out_dir.display()
    );
    for path in &written {
        println!("  {}", path.display());
    }
    println!(
        "run it with:\n  cd {} && pip install -r requirements.txt\n  accelerate launch --config_file accelerate_config.yaml train.py",
        args.out_dir.display()
    );
    Ok(())
}

/// A run folder's saved configuration, or a config file read as `wick train` reads it; then
/// `--set` overrides, validated.
fn read_run_or_config(source: &Path, overrides: &[String]) -> Result<TrainConfig> {
    if source.is_file() {
        return load_config(source, overrides);
    }
    if !source.is_dir() {
        bail!("{}: no such run folder or config file", source.display());
    }
    if source.join("run.json").is_file() {
        let mut config = RunDir::open(source)?.config()?;
        for item in overrides {
            config.apply_override(item)?;
        }
        let mut file = source.join(crate::runs::CONFIG_FILE).display().to_string();
        if !overrides.is_empty() {
            file.push_str(" with --set");
        }
        config.validate_in(&file)?;
        return Ok(config);
    }
    let config_file = source.join("config.toml");
    if config_file.is_file() {
        return load_config(&config_file, overrides);
    }
    Err(anyhow!(
        "{}: not a run folder (it has no run.json or config.toml); give a run folder or a config .toml file",
        source.display()
    ))
}
