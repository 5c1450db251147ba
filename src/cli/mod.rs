//! The headless command line. Errors are reported here, once, with `anyhow`.

pub mod hub;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Wick: fine-tune pre-trained Hugging Face models on your workstation.
#[derive(Parser, Debug)]
#[command(name = "wick", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Look at a dataset the way the trainer will see it.
    #[command(subcommand)]
    Data(DataCommand),
    /// Benchmarks; each ends with one JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The Hugging Face Hub: search, info, download, and a loopback mirror.
    #[command(subcommand)]
    Hub(hub::HubCommand),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Data(cmd) => match cmd {},
        Command::Bench(cmd) => match cmd {},
        Command::Hub(cmd) => hub::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
