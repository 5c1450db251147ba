//! The headless command line. Errors are reported here, once, with `anyhow`.

mod bench;
mod bench_train;
mod bench_ui;
mod data;
mod export;
pub mod hub;
mod progress;
mod runs;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Wick: fine-tune pre-trained 🤗 Hugging Face encoders for text classification on your
/// workstation.
///
/// Run without a command to open the desktop app. The commands below do the same work
/// headless, for scripts, servers and CI; they share the desktop app's run folders, config
/// files and Hugging Face cache.
#[derive(Parser, Debug)]
#[command(name = "wick", version, about, long_about, after_help = TOP_EXAMPLES)]
pub struct Cli {
    /// Without a command, the desktop app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

const TOP_EXAMPLES: &str = "\
Examples:
  wick train --config examples/mrpc-minilm.toml      # the course recipe: MiniLM on GLUE/MRPC
  wick data inspect --data nyu-mll/glue:mrpc --tokenizer sentence-transformers/all-MiniLM-L6-v2
  wick hub search models bert --filter text-classification
  wick export accelerate RUN_FOLDER my-project --num-processes 8

Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE as in huggingface_hub;
WICK_RUNS_DIR for the runs folder. `wick <command> --help` shows each command's options.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Look at a dataset the way the trainer will see it.
    #[command(subcommand)]
    Data(DataCommand),
    /// Fine-tune a model from a config file (TrainingArguments keys), headless.
    ///
    /// Prints a progress bar with loss and ETA, writes a run folder (config.toml,
    /// metrics.jsonl, checkpoint-STEP/), and ends with a summary table.
    #[command(after_help = train::EXAMPLES)]
    Train(train::TrainArgs),
    /// The runs folder: each run's status (running, finished, stopped, failed, or
    /// interrupted: killed without a word) and best metric.
    #[command(after_help = runs::EXAMPLES)]
    Runs(runs::RunsArgs),
    /// Hand a run or a config off to 🤗 Accelerate (a Python project for a GPU cluster).
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// The Hugging Face Hub: search, info, download, and a loopback mirror.
    #[command(subcommand)]
    Hub(hub::HubCommand),
    /// Benchmarks against the PyTorch reference; each ends with one JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Features, label names, class balance, token lengths, the first padded batch as a token
    /// grid, and the padding cost of dynamic, max-length and length-grouped batching.
    #[command(after_help = data::EXAMPLES)]
    Inspect(data::InspectArgs),
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Tokenize MRPC train x50 with the MiniLM tokenizer; compare with datasets.map(batched=True).
    #[command(after_help = bench::EXAMPLES)]
    Tokenize(bench::TokenizeBenchArgs),
    /// Training throughput: the MRPC recipe (default) or `--synthetic` fixed-shape batches
    /// like torch_train_bench.py; prints per-phase times and ends with one JSON line.
    #[command(after_help = bench_train::EXAMPLES)]
    Train(bench_train::TrainBenchArgs),
    /// Frame time of the desktop app (layout + tessellation, p50/p99) with long runs
    /// overlaid in Runs while a real run trains; ends with one JSON line.
    Ui(bench_ui::UiBenchArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        return report(crate::app::run_native());
    };
    report(match command {
        Command::Data(DataCommand::Inspect(args)) => data::inspect(&args),
        Command::Bench(BenchCommand::Tokenize(args)) => bench::tokenize(&args),
        Command::Bench(BenchCommand::Train(args)) => bench_train::train(&args),
        Command::Bench(BenchCommand::Ui(args)) => bench_ui::ui(&args),
        Command::Hub(cmd) => hub::run(cmd),
        Command::Train(args) => train::train(&args),
        Command::Runs(args) => runs::list(&args),
        Command::Export(cmd) => export::run(cmd),
    })
}

/// Prints an error once, at the edge, and turns it into the exit code.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
