//! The headless command line. Errors are reported here, once, with `anyhow`.

mod bench;
mod bench_train;
mod bench_ui;
mod data;
pub mod hub;
mod progress;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Wick: fine-tune pre-trained Hugging Face models on your workstation.
#[derive(Parser, Debug)]
#[command(name = "wick", version, about, long_about = None)]
pub struct Cli {
    /// Without a command, the desktop app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Look at a dataset the way the trainer will see it.
    #[command(subcommand)]
    Data(DataCommand),
    /// Fine-tune a model: `wick train --config examples/mrpc-minilm.toml [--set key=value]`.
    ///
    /// Prints a progress bar with loss and ETA, writes a run folder (config.toml,
    /// metrics.jsonl, checkpoint-STEP/), and ends with a summary table.
    Train(train::TrainArgs),
    /// Benchmarks; each ends with one JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The Hugging Face Hub: search, info, download, and a loopback mirror.
    #[command(subcommand)]
    Hub(hub::HubCommand),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Features, label names, class balance, token lengths, the first padded batch as a token
    /// grid, and the padding cost of dynamic, max-length and length-grouped batching.
    ///
    /// Example: wick data inspect --data ../shared/hub/datasets/nyu-mll/glue --config mrpc
    ///          --split validation --tokenizer ../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2
    Inspect(data::InspectArgs),
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Tokenize MRPC train x50 with the MiniLM tokenizer; compare with datasets.map(batched=True).
    Tokenize(bench::TokenizeBenchArgs),
    /// Training throughput: the MRPC recipe (default) or `--synthetic` fixed-shape batches
    /// like torch_train_bench.py; prints per-phase times and ends with one JSON line.
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
