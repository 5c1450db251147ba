//! `wick runs`: the runs folder as a table, the same listing the Runs panel shows (with
//! runs that nobody writes any more marked `interrupted`, each run's task, and a line
//! with the LoRA settings and adapter size under each LoRA run).

use anyhow::{Result, anyhow};
use clap::Args;
use std::path::PathBuf;

use crate::runs::{RunSummary, list_runs};

pub(super) const EXAMPLES: &str = "\
Examples:
  wick runs                          # the runs in $WICK_RUNS_DIR or the OS data folder
  wick runs --runs-dir ./my-runs

An interrupted run resumes from its latest checkpoint:
  wick train --config RUN_FOLDER/config.toml --set resume_from_checkpoint=RUN_FOLDER/checkpoint-STEP";

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// Runs folder [default: $WICK_RUNS_DIR, else the OS data directory].
    #[arg(long)]
    pub runs_dir: Option<PathBuf>,
}

pub fn list(args: &RunsArgs) -> Result<()> {
    let root = crate::runs::runs_root(args.runs_dir.as_deref())
        .ok_or_else(|| anyhow!("no runs folder: pass --runs-dir or set WICK_RUNS_DIR"))?;
    let listing = list_runs(&root)?;
    if listing.runs.is_empty() && listing.broken.is_empty() {
        println!("no runs in {}", root.display());
        return Ok(());
    }
    let rows: Vec<[String; 6]> = listing.runs.iter().map(row).collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2, w3, w4) = (
        width(0).max(3),
        width(1).max(6),
        width(2).max(4),
        width(3).max(7),
        width(4).max(4),
    );
    println!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  best",
        "run", "status", "task", "started", "time"
    );
    for (run, [name, status, task, started, time, best]) in listing.runs.iter().zip(&rows) {
        println!("{name:<w0$}  {status:<w1$}  {task:<w2$}  {started:<w3$}  {time:<w4$}  {best}");
        // LoRA runs get a line of their own; full fine-tuning runs nothing extra.
        if let Ok(Some(lora)) = crate::runs::read_run_lora(&run.path) {
            println!("  {}", lora.label(crate::app::widgets::bytes));
        }
    }
    for broken in &listing.broken {
        println!(
            "{}  (not a readable run: {})",
            broken.path.display(),
            broken.reason
        );
    }
    Ok(())
}

fn row(run: &RunSummary) -> [String; 6] {
    let status = match run.in_use_by {
        Some(pid) => format!("running (process {pid})"),
        None => run.info.status.label().to_string(),
    };
    let best = run
        .info
        .best_metric
        .as_ref()
        .map(|b| format!("{} {:.4} @ {}", b.name, b.value, b.step))
        .unwrap_or_else(|| "–".into());
    [
        run.name.clone(),
        status,
        crate::runs::compare::run_task(run).name().to_string(),
        run.info.started_at.clone(),
        run.info.durations().label(),
        best,
    ]
}
