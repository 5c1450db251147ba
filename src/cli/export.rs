//! `wick export accelerate`: a run or a config file as a 🤗 Accelerate project.

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

use super::train::load_config;
use crate::recipe::TrainConfig;
use crate::runs::RunDir;
use crate::train::accelerate::{AccelerateExport, export_accelerate};

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write a 🤗 Accelerate project that runs the same recipe with transformers' Trainer.
    ///
    /// The project: train.py (transformers' Trainer), accelerate_config.yaml (one machine,
    /// --num-processes GPUs), requirements.txt and a short README.md. Every Wick key becomes a TrainingArguments or EarlyStoppingCallback argument, or a
    /// Wick-only setting the script's data code uses; train.py says which beside each value.
    #[command(after_help = ACCELERATE_EXAMPLES)]
    Accelerate(AccelerateArgs),
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
    }
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
