//! `wick train`: the trainer headless, with a progress bar and a summary table. It writes the
//! same run folder as the GUI.

use anyhow::{Result, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

use super::progress;
use crate::hub::HubSettings;
use crate::recipe::TrainConfig;
use crate::train::{Command, Event, Summary, TrainerOptions};

pub(super) const EXAMPLES: &str = "\
Examples:
  # The course recipe (MiniLM on GLUE/MRPC, Trainer's defaults, 3 epochs)
  wick train --config examples/mrpc-minilm.toml

  # Override keys without editing the file; bad keys and values are errors that name the key
  wick train --config examples/mrpc-minilm.toml --set learning_rate=3e-5 --set max_steps=200

  # Hub ids instead of local folders (downloaded into the shared HF cache)
  wick train --config examples/mrpc-minilm.toml \\
      --set model=sentence-transformers/all-MiniLM-L6-v2 --set dataset=nyu-mll/glue

  # Continue a stopped run exactly where its last checkpoint left it
  wick train --config examples/mrpc-minilm.toml --set resume_from_checkpoint=RUN_FOLDER/checkpoint-459

Every key, with its help and default, is written to the run folder's config.toml.";

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A flat TOML file of TrainingArguments keys plus model/dataset/columns (see examples/).
    #[arg(long)]
    pub config: PathBuf,
    /// Override one key, e.g. `--set learning_rate=3e-5 --set model=org/name`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Runs folder [default: $WICK_RUNS_DIR, else the OS data directory]; `output_dir` wins.
    #[arg(long)]
    pub runs_dir: Option<PathBuf>,
    /// Do not read or write the tokenized-split cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Train on this device (`cpu`, `cuda`, `cuda:N`), overriding the config's `device` key.
    #[arg(long)]
    pub device: Option<String>,
}

/// Reads the config, applies `--set`, and validates, so every error names its key.
pub fn load_config(path: &std::path::Path, overrides: &[String]) -> Result<TrainConfig> {
    let file = path.display().to_string();
    let mut config = TrainConfig::read_unvalidated(path)?;
    for item in overrides {
        config.apply_override(item)?;
    }
    // A bad value may come from the file or from a `--set`; name both when both were given.
    let source = if overrides.is_empty() {
        file
    } else {
        format!("{file} with --set")
    };
    config.validate_in(&source)?;
    Ok(config)
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let mut overrides = args.overrides.clone();
    if let Some(device) = &args.device {
        overrides.push(format!("device={device}"));
    }
    let config = load_config(&args.config, &overrides)?;
    let save_total_limit = config.save_total_limit;
    let handle = crate::train::spawn(
        config,
        TrainerOptions {
            runs_root: args.runs_dir.clone(),
            hub: HubSettings::from_env(),
            dataset_cache: !args.no_cache,
        },
    )?;
    let signals = stop_on_signals(handle.commands.clone())?;
    let mut preparing: Option<(String, ProgressBar)> = None;
    let mut bar: Option<ProgressBar> = None;
    let mut outcome = Err(anyhow!("the trainer stopped without a word"));
    for event in handle.events.iter() {
        match event {
            Event::Preparing { stage, done, total } => {
                if preparing.as_ref().is_none_or(|(s, _)| *s != stage) {
                    if let Some((_, old)) = preparing.take() {
                        old.finish_and_clear();
                    }
                    preparing = Some((stage.clone(), progress::bar(total, &stage, "")));
                }
                if let Some((_, b)) = &preparing {
                    b.set_length(total);
                    b.set_position(done);
                }
            }
            Event::Started(started) => {
                if let Some((_, old)) = preparing.take() {
                    old.finish_and_clear();
                }
                println!("run folder: {}", started.run_dir.display());
                println!(
                    "{} train rows, {} eval rows, labels [{}]; {} on {}",
                    started.train_rows,
                    started.eval_rows,
                    started.label_names.join(", "),
                    crate::app::widgets::parameters(
                        started.num_parameters,
                        started.trainable_parameters
                    ),
                    started.device
                );
                if !started.newly_initialized.is_empty() {
                    println!(
                        "newly initialized: {}",
                        started.newly_initialized.join(", ")
                    );
                }
                println!(
                    "{} optimizer steps ({} per epoch, {} warmup){}",
                    started.total_steps,
                    started.steps_per_epoch,
                    started.warmup_steps,
                    started
                        .resumed_at_step
                        .map(|s| format!(", resuming at step {s}"))
                        .unwrap_or_default()
                );
                let b = ProgressBar::new(started.total_steps);
                b.set_style(
                    ProgressStyle::with_template(
                        "{bar:30.cyan/blue} {pos}/{len} steps {elapsed_precise} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                if let Some(step) = started.resumed_at_step {
                    b.set_position(step);
                }
                bar = Some(b);
            }
            Event::Step(step) => {
                if let Some(b) = &bar {
                    b.set_position(step.step);
                    b.set_message(format!(
                        "epoch {:.2} loss {:.4} lr {:.2e} {:.1} samples/s ETA {}",
                        step.epoch,
                        step.loss,
                        step.learning_rate,
                        step.samples_per_s,
                        crate::runs::time::format_duration(step.eta_s)
                    ));
                }
            }
            Event::Eval(eval) => {
                let m = &eval.metrics;
                let shown: Vec<String> = m
                    .scalars
                    .iter()
                    .take(4)
                    .map(|(name, value)| format!("{name} {value:.4}"))
                    .collect();
                let line = format!(
                    "eval @ step {} (epoch {:.2}): loss {:.4} {}{}",
                    eval.step,
                    eval.epoch,
                    m.loss.unwrap_or(f64::NAN),
                    shown.join(" "),
                    if eval.is_best { "  (best)" } else { "" }
                );
                print_line(&bar, line);
            }
            Event::CheckpointSaved {
                step,
                path,
                deleted,
            } => {
                let mut line = format!("saved checkpoint at step {step}: {}", path.display());
                if !deleted.is_empty() {
                    let names: Vec<String> = deleted
                        .iter()
                        .filter_map(|p| p.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect();
                    line.push_str(&format!(
                        " (deleted {} to stay within save_total_limit = {})",
                        names.join(", "),
                        save_total_limit.unwrap_or_default()
                    ));
                }
                print_line(&bar, line);
            }
            Event::Warning { message } => {
                // On stderr, above whichever progress bar is drawing.
                let line = format!("warning: {message}");
                match bar.as_ref().or(preparing.as_ref().map(|(_, b)| b)) {
                    Some(b) if !b.is_hidden() => b.suspend(|| eprintln!("{line}")),
                    _ => eprintln!("{line}"),
                }
            }
            Event::Paused { step } => print_line(&bar, format!("paused at step {step}")),
            Event::Resumed { step } => print_line(&bar, format!("resumed at step {step}")),
            Event::Finished(summary) => {
                if let Some(b) = &bar {
                    b.finish();
                }
                print_summary(&summary);
                if summary.stopped_by_user {
                    print_resume_hint(&summary);
                }
                outcome = Ok(());
            }
            Event::Failed { reason } => {
                if let Some(b) = &bar {
                    b.abandon();
                }
                outcome = Err(anyhow!(reason));
            }
        }
    }
    handle.join();
    outcome?;
    // Stopped by a signal: checkpoint saved, summary printed; exit as the signal asks.
    if let Some(signal) = signals.received() {
        std::process::exit(128 + signal);
    }
    Ok(())
}

/// The first SIGINT (Ctrl-C) or SIGTERM asks the trainer to stop between steps: it saves a
/// checkpoint and marks the run `stopped`. A second one quits at once, saving nothing more
/// (the run then shows as interrupted, resumable from its last checkpoint).
fn stop_on_signals(commands: crossbeam_channel::Sender<Command>) -> Result<SignalWatch> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let watch = SignalWatch::default();
    let first = watch.first.clone();
    std::thread::Builder::new()
        .name("wick-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if first.set(signal).is_ok() {
                    eprintln!(
                        "\nstopping after this step and saving a checkpoint \
                         (press Ctrl-C again to quit at once)"
                    );
                    let _ = commands.send(Command::Stop);
                } else {
                    eprintln!("\nquitting now; the run resumes from its last checkpoint");
                    std::process::exit(128 + signal);
                }
            }
        })?;
    Ok(watch)
}

/// The first stop signal received, if any.
#[derive(Default)]
struct SignalWatch {
    first: std::sync::Arc<std::sync::OnceLock<i32>>,
}

impl SignalWatch {
    fn received(&self) -> Option<i32> {
        self.first.get().copied()
    }
}

fn print_resume_hint(summary: &Summary) {
    let checkpoint = summary
        .run_dir
        .join(crate::runs::checkpoints::checkpoint_name(
            summary.global_step,
        ));
    println!();
    println!("To continue this run where it stopped:");
    println!(
        "  wick train --config {} --set resume_from_checkpoint={}",
        summary.run_dir.join(crate::runs::CONFIG_FILE).display(),
        checkpoint.display()
    );
}

fn print_line(bar: &Option<ProgressBar>, line: String) {
    match bar {
        Some(b) if !b.is_hidden() => b.println(line),
        _ => println!("{line}"),
    }
}

fn print_summary(summary: &Summary) {
    let mut rows: Vec<(String, String)> = vec![
        ("run folder".into(), summary.run_dir.display().to_string()),
        ("global step".into(), summary.global_step.to_string()),
        ("epoch".into(), format!("{:.2}", summary.epoch)),
        ("train loss".into(), format!("{:.4}", summary.train_loss)),
        (
            "time".into(),
            crate::runs::RunDurations {
                training_s: Some(summary.train_runtime_s),
                wall_s: summary.wall_s,
            }
            .label(),
        ),
        (
            "train samples/s".into(),
            format!("{:.2}", summary.train_samples_per_s),
        ),
    ];
    if let Some(m) = &summary.last_eval {
        rows.push((
            "eval loss".into(),
            format!("{:.4}", m.loss.unwrap_or(f64::NAN)),
        ));
        for (name, value) in &m.scalars {
            let name = if *name == "matthews_correlation" {
                "mcc"
            } else {
                name
            };
            rows.push((format!("eval {name}"), format!("{value:.4}")));
        }
    }
    if let Some((name, value)) = &summary.best_metric {
        rows.push((format!("best {name}"), format!("{value:.4}")));
    }
    if let Some(path) = &summary.best_checkpoint {
        rows.push(("best checkpoint".into(), path.display().to_string()));
    }
    if summary.stopped_by_user {
        rows.push((
            "status".into(),
            "stopped (resumable from the last checkpoint)".into(),
        ));
    } else if summary.stopped_early {
        rows.push(("status".into(), "early stopping".into()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!();
    for (key, value) in rows {
        println!("  {key:<width$}  {value}");
    }
    if let Some(breakdown) = summary
        .last_eval
        .as_ref()
        .and_then(|m| m.breakdown.as_ref())
    {
        println!();
        for line in breakdown_lines(breakdown, SUMMARY_BREAKDOWN_ROWS) {
            println!("  {line}");
        }
    }
}

/// Rows of the final evaluation's breakdown the summary prints (by support).
const SUMMARY_BREAKDOWN_ROWS: usize = 12;

/// The breakdown as an aligned text table: its title, a header, and the `max_rows` rows
/// with the most support (then how many are left out).
fn breakdown_lines(breakdown: &crate::runs::Breakdown, max_rows: usize) -> Vec<String> {
    let rows = breakdown.by_support();
    let shown = &rows[..rows.len().min(max_rows)];
    let noun = breakdown.kind.noun();
    let width = shown
        .iter()
        .map(|r| r.name.chars().count())
        .chain([noun.len()])
        .max()
        .unwrap_or(0);
    let with_threshold = shown.iter().any(|r| r.threshold.is_some());
    let mut header = format!(
        "{noun:<width$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "precision", "recall", "f1", "support"
    );
    if with_threshold {
        header.push_str("  threshold");
    }
    let mut lines = vec![format!("{}:", breakdown.kind.title()), header];
    for row in shown {
        let mut line = format!(
            "{:<width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
            row.name, row.precision, row.recall, row.f1, row.support
        );
        if let Some(threshold) = row.threshold {
            line.push_str(&format!("  {threshold:>9.2}"));
        }
        lines.push(line);
    }
    if rows.len() > shown.len() {
        let more = rows.len() - shown.len();
        lines.push(format!(
            "({more} more {} with less support)",
            breakdown.kind.noun_for(more)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{Breakdown, BreakdownKind, BreakdownRow};

    fn row(name: &str, f1: f64, support: usize) -> BreakdownRow {
        BreakdownRow {
            name: name.into(),
            precision: f1,
            recall: f1,
            f1,
            support,
            threshold: None,
        }
    }

    #[test]
    fn the_summary_prints_the_breakdown_with_the_most_support_first() {
        let breakdown = Breakdown {
            kind: BreakdownKind::EntityTypes,
            rows: vec![
                row("LOC", 0.9, 1837),
                row("MISC", 0.75, 922),
                row("ORG", 0.8, 1341),
                row("PER", 0.95, 1842),
            ],
        };
        let lines = breakdown_lines(&breakdown, 3);
        assert_eq!(lines[0], "Per entity type:");
        assert_eq!(lines[1], "type  precision     recall         f1  support");
        assert_eq!(lines[2], "PER      0.9500     0.9500     0.9500     1842");
        assert!(lines[3].starts_with("LOC ") && lines[4].starts_with("ORG "));
        assert_eq!(lines[5], "(1 more type with less support)");
        assert_eq!(lines.len(), 6);
    }
}
