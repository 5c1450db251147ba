//! `wick data inspect`: what the tokenizer and the collator make of a dataset: the task the
//! data reads as (and why), the balance of its labels per task, and the first padded batch
//! (for token classification with each sub-token's aligned label, -100 where not trained on).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::progress;
use crate::data::{
    self, Collator, ColumnOverrides, DatasetCache, HostBatch, Order, Padding, SplitRequest,
    TextTokenizer, TokenizeOptions, TokenizedSplit,
};
use crate::hub::{self, HubSettings};
use crate::task::Task;
use crate::train::preview::{Balance, TaskBalance};

pub(super) const EXAMPLES: &str = "\
Examples:
  # A Hub-layout folder on disk
  wick data inspect --data ../shared/hub/datasets/nyu-mll/glue --config mrpc --split validation \\
      --tokenizer ../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2

  # Hub ids (downloaded through the cache), one JSON object for scripts
  wick data inspect --data nyu-mll/glue:mrpc --tokenizer sentence-transformers/all-MiniLM-L6-v2 --json

  # Your own CSV, naming the columns
  wick data inspect --data reviews.csv --text-column review --label-column stars \\
      --tokenizer distilbert/distilbert-base-uncased

  # Named entities: each sub-token with its aligned tag
  wick data inspect --data ../shared/hub/datasets/eriktks/conll2003 --split validation \\
      --tokenizer ../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2";

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A data file (parquet, csv, tsv, jsonl), a glob, a Hub-layout dataset folder, or a Hub
    /// dataset id (`nyu-mll/glue:mrpc`), downloaded through the cache.
    #[arg(long)]
    pub data: String,
    /// Dataset config (e.g. `mrpc`), when the folder has several.
    #[arg(long)]
    pub config: Option<String>,
    /// Split to inspect.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// A model folder holding `tokenizer.json` (or DeBERTa-v3's `spm.model`), the file itself, or
    /// a Hub model id.
    #[arg(long)]
    pub tokenizer: String,
    /// Truncate to this many tokens [default: the tokenizer's model_max_length].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Rows in the padded batch shown.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Pad every batch to a multiple of this.
    #[arg(long)]
    pub pad_to_multiple_of: Option<usize>,
    /// Pad to the longest row (dynamic) or always to max_length.
    #[arg(long, value_enum, default_value = "longest")]
    pub padding: PaddingArg,
    /// Column with the (first) text [default: guessed].
    #[arg(long)]
    pub text_column: Option<String>,
    /// Column with the second text of a pair [default: guessed].
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// Column with the class label [default: guessed].
    #[arg(long)]
    pub label_column: Option<String>,
    /// The task (single_label_classification, multi_label_classification, regression,
    /// token_classification) [default: read off the label column's type].
    #[arg(long, value_parser = parse_task)]
    pub task: Option<Task>,
    /// Token classification: label every piece of a word (B- becomes I-), not only the first.
    #[arg(long)]
    pub label_all_tokens: bool,
    /// Tokenizer threads [default: one per core].
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seed of the shuffled epoch used for the padding comparison.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Do not read or write the tokenized-split cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn parse_task(name: &str) -> Result<Task, String> {
    Task::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Task::ALL.iter().map(|t| t.name()).collect();
        format!("unknown task '{name}': one of {}", names.join(", "))
    })
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PaddingArg {
    Longest,
    MaxLength,
}

pub fn inspect(args: &InspectArgs) -> Result<()> {
    let settings = HubSettings::from_env();
    let sink = progress::download_sink();
    let model_dir = hub::local_model(&settings, &args.tokenizer, Some(sink.clone()))?;
    let tokenizer = TextTokenizer::load(&model_dir)?;
    let local = hub::local_split(
        &settings,
        &args.data,
        args.config.as_deref(),
        &args.split,
        Some(sink),
    )?;
    let request = SplitRequest {
        data: local.data,
        config: local.config,
        files: local.files,
        split: args.split.clone(),
        columns: ColumnOverrides {
            text: args.text_column.clone(),
            text_pair: args.text_pair_column.clone(),
            label: args.label_column.clone(),
        },
        labels: None,
        task: args.task,
        label_all_tokens: args.label_all_tokens,
    };
    let options = TokenizeOptions {
        max_length: args.max_length,
        threads: args.threads,
        ..TokenizeOptions::default()
    };
    let cache = (!args.no_cache).then(|| DatasetCache::in_datasets_cache(&settings.datasets_cache));
    let bar = progress::bar(0, "tokenizing", "rows");
    let split = data::prepare_split(
        &request,
        &tokenizer,
        &options,
        cache.as_ref(),
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();

    let collator = Collator {
        padding: match args.padding {
            PaddingArg::Longest => Padding::Longest,
            PaddingArg::MaxLength => Padding::MaxLength,
        },
        pad_to_multiple_of: args.pad_to_multiple_of,
        ..Collator::new(&tokenizer, split.meta.max_length)
    };
    let first_rows = data::epoch_batches(
        &split.lengths(),
        args.batch_size,
        Order::Sequential,
        0,
        false,
    )
    .into_iter()
    .next()
    .unwrap_or_default();
    let batch = collator.collate(&split, &first_rows);
    let padding = data::padding_report(&split, &collator, args.batch_size, args.seed);
    let lengths = split.lengths();
    let summary = data::LengthSummary::of(&lengths, split.meta.max_length);
    let histogram = data::length_histogram(&lengths, 12);
    let task_balance = Balance::of(&split);

    if args.json {
        fn rows<'a>(batch: &HostBatch, field: &'a [u32]) -> Vec<&'a [u32]> {
            (0..batch.len()).map(|i| batch.row(field, i)).collect()
        }
        let balance = class_balance_rows(&split);
        let out = json!({
            "data": args.data,
            "config": split.meta.config,
            "split": split.meta.split,
            "rows": split.len(),
            "files": split.meta.files,
            "cache": if split.cache.is_hit() { "hit" } else { "miss" },
            "features": split.features().iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
            "columns": split.meta.mapping,
            "label_names": split.meta.labels.names,
            "label_source": split.meta.labels.source,
            "task": split.meta.task.name(),
            "task_reason": split.meta.task_reason,
            // Kept for single-label (its old readers); `balance` has every task's counts.
            "class_balance": (split.task() == Task::SingleLabelClassification).then(|| balance.iter().map(|(id, name, n)| json!({"id": id, "name": name, "rows": n})).collect::<Vec<_>>()),
            "balance": balance_json(&task_balance),
            "max_length": split.meta.max_length,
            "lengths": summary,
            "length_histogram": histogram,
            "first_batch": {
                "rows": batch.rows,
                "input_ids": rows(&batch, &batch.input_ids),
                "attention_mask": rows(&batch, &batch.attention_mask),
                "token_type_ids": rows(&batch, &batch.token_type_ids),
                "labels": batch.labels,
            },
            "padding": {
                "batch_size": args.batch_size,
                "dynamic": {"real_tokens": padding.dynamic.real_tokens, "pad_tokens": padding.dynamic.pad_tokens, "waste": padding.dynamic.waste()},
                "max_length": {"real_tokens": padding.max_length.real_tokens, "pad_tokens": padding.max_length.pad_tokens, "waste": padding.max_length.waste()},
                "grouped": {"real_tokens": padding.grouped.real_tokens, "pad_tokens": padding.grouped.pad_tokens, "waste": padding.grouped.waste()},
            },
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }

    print_overview(&split);
    print_balance(&task_balance);
    println!(
        "\nToken lengths (max_length {}): min {}, median {}, p95 {}, max {}; {} rows reach max_length",
        split.meta.max_length,
        summary.min,
        summary.median,
        summary.p95,
        summary.max,
        summary.truncated_rows
    );
    let widest = histogram.iter().map(|b| b.rows).max().unwrap_or(1).max(1);
    for bucket in &histogram {
        let cut = if (bucket.from..bucket.to).contains(&split.meta.max_length) {
            "  <- max_length"
        } else {
            ""
        };
        println!(
            "  {:>4}-{:<4} {:>7} {}{cut}",
            bucket.from,
            bucket.to - 1,
            bucket.rows,
            "#".repeat(bucket.rows * 40 / widest)
        );
    }
    println!(
        "\nFirst batch: {} rows, padded to {} tokens ({} real, {} pad)",
        batch.len(),
        batch.seq_len,
        batch.stats.real_tokens,
        batch.stats.pad_tokens
    );
    print_token_grid(&batch, &split, &tokenizer);
    println!(
        "\nPadding over one shuffled epoch (batch size {}):",
        args.batch_size
    );
    for (name, stats) in [
        ("dynamic", padding.dynamic),
        ("max_length", padding.max_length),
        ("grouped", padding.grouped),
    ] {
        println!(
            "  {name:<11} {:>9} real {:>9} pad  {:>5.1}% waste",
            stats.real_tokens,
            stats.pad_tokens,
            stats.waste() * 100.0
        );
    }
    Ok(())
}

fn class_balance_rows(split: &TokenizedSplit) -> Vec<(usize, String, usize)> {
    split
        .class_balance()
        .into_iter()
        .enumerate()
        .map(|(id, n)| (id, split.meta.labels.names[id].clone(), n))
        .collect()
}

fn print_overview(split: &TokenizedSplit) {
    let meta = &split.meta;
    println!(
        "{} rows from {} file(s){}, split '{}' (cache {})",
        split.len(),
        meta.files.len(),
        meta.config
            .as_ref()
            .map(|c| format!(", config '{c}'"))
            .unwrap_or_default(),
        meta.split,
        if split.cache.is_hit() { "hit" } else { "miss" }
    );
    println!("\nFeatures:");
    for (name, dtype) in split.features() {
        let role = if name == meta.mapping.text {
            "  <- text".to_string()
        } else if meta.mapping.text_pair.as_deref() == Some(name.as_str()) {
            "  <- text pair".to_string()
        } else if name == meta.mapping.label {
            format!(
                "  <- label ({}: {})",
                meta.labels.source,
                meta.labels.names.join(", ")
            )
        } else {
            String::new()
        };
        println!("  {name:<20} {dtype:<12}{role}");
    }
    println!("\nTask: {}: {}", meta.task.name(), meta.task_reason);
}

/// The balance of the labels as the task reads them, with the skew that calls for
/// `class_weights = "balanced"`.
fn print_balance(balance: &Balance) {
    let bars = |counts: &[(String, usize)], total: usize, ids: bool| {
        let total = total.max(1);
        for (id, (name, n)) in counts.iter().enumerate() {
            let id = if ids {
                format!("{id:>3}")
            } else {
                "   ".into()
            };
            println!(
                "  {id} {name:<24} {n:>7}  {:>5.1}%  {}",
                *n as f64 * 100.0 / total as f64,
                "#".repeat(n * 40 / total)
            );
        }
    };
    match &balance.detail {
        TaskBalance::Classes => {
            println!("\nClass balance (rows per class):");
            bars(&balance.classes, balance.rows, true);
        }
        TaskBalance::LabelSets {
            rows_without_labels,
            mean_labels_per_row,
        } => {
            println!("\nRows per label ({mean_labels_per_row:.2} labels per row on average):");
            let mut counts = balance.classes.clone();
            counts.push(("(no label)".into(), *rows_without_labels));
            bars(&counts, balance.rows, false);
        }
        TaskBalance::Entities {
            per_type,
            rows_without_entities,
        } => {
            let entities: usize = per_type.iter().map(|(_, n)| n).sum();
            println!(
                "\nEntities per type ({entities} in {} rows; {rows_without_entities} rows have none):",
                balance.rows
            );
            bars(per_type, entities, false);
            println!("\nTags (tokens trained on):");
            let tokens = balance.classes.iter().map(|(_, n)| n).sum();
            bars(&balance.classes, tokens, true);
        }
        TaskBalance::Scores(scores) => {
            println!(
                "\nScores: min {:.4}, mean {:.4}, max {:.4} over {} rows",
                scores.min, scores.mean, scores.max, balance.rows
            );
            let widest = scores
                .histogram
                .iter()
                .map(|b| b.rows)
                .max()
                .unwrap_or(1)
                .max(1);
            for bucket in &scores.histogram {
                println!(
                    "  {:>9.4} - {:<9.4} {:>7} {}",
                    bucket.from,
                    bucket.to,
                    bucket.rows,
                    "#".repeat(bucket.rows * 40 / widest)
                );
            }
        }
    }
    if let Some(skew) = balance.skew() {
        let weights: Vec<String> = balance
            .classes
            .iter()
            .zip(balance.balanced_weights())
            .map(|((name, _), w)| format!("{name} {w:.3}"))
            .collect();
        println!(
            "\nSkewed classes: {}. class_weights = \"balanced\" would weigh them {}.",
            skew.describe(balance.unit()),
            weights.join(", ")
        );
    }
}

/// The per-task balance for `--json`: counts as objects, the kind of balance named.
fn balance_json(balance: &Balance) -> serde_json::Value {
    let counts = |counts: &[(String, usize)], unit: &str| -> Vec<serde_json::Value> {
        counts
            .iter()
            .map(|(name, n)| json!({"name": name, unit: n}))
            .collect()
    };
    let mut out = match &balance.detail {
        TaskBalance::Classes => {
            json!({"kind": "classes", "classes": counts(&balance.classes, "rows")})
        }
        TaskBalance::LabelSets {
            rows_without_labels,
            mean_labels_per_row,
        } => json!({
            "kind": "label_sets",
            "labels": counts(&balance.classes, "rows"),
            "rows_without_labels": rows_without_labels,
            "mean_labels_per_row": mean_labels_per_row,
        }),
        TaskBalance::Entities {
            per_type,
            rows_without_entities,
        } => json!({
            "kind": "entities",
            "entities": per_type.iter().map(|(kind, n)| json!({"type": kind, "entities": n})).collect::<Vec<_>>(),
            "rows_without_entities": rows_without_entities,
            "tags": counts(&balance.classes, "tokens"),
        }),
        TaskBalance::Scores(scores) => json!({
            "kind": "scores",
            "min": scores.min,
            "max": scores.max,
            "mean": scores.mean,
            "histogram": scores.histogram,
        }),
    };
    out["rows"] = balance.rows.into();
    out["skewed"] = balance.skew().is_some().into();
    if balance.task.uses_cross_entropy() {
        out["balanced_weights"] = balance.balanced_weights().into();
    }
    out
}

/// Each row as aligned columns: piece, (token classification: the aligned label, -100 where
/// not trained on), id, mask, type id. Wraps long rows.
fn print_token_grid(batch: &HostBatch, split: &TokenizedSplit, tokenizer: &TextTokenizer) {
    const WIDTH: usize = 110;
    for i in 0..batch.len() {
        println!(
            "\n  row {} ({})",
            batch.rows[i],
            batch
                .labels
                .describe_row(i, batch.seq_len, &split.meta.labels.names)
        );
        let ids = batch.row(&batch.input_ids, i);
        let mask = batch.row(&batch.attention_mask, i);
        let types = batch.row(&batch.token_type_ids, i);
        let names = &split.meta.labels.names;
        let token_labels = batch.labels.token_row(i, batch.seq_len);
        let tag = |t: usize| match token_labels.map(|labels| labels[t]) {
            Some(label) => usize::try_from(label)
                .ok()
                .and_then(|l| names.get(l).cloned())
                .unwrap_or_else(|| label.to_string()),
            None => String::new(),
        };
        let rows: &[&str] = if token_labels.is_some() {
            &["piece", "label", "id", "mask", "type"]
        } else {
            &["piece", "id", "mask", "type"]
        };
        let cells: Vec<Vec<String>> = (0..batch.seq_len)
            .map(|t| {
                let mut cell = vec![tokenizer.piece(ids[t])];
                if token_labels.is_some() {
                    cell.push(tag(t));
                }
                cell.extend([
                    ids[t].to_string(),
                    mask[t].to_string(),
                    types[t].to_string(),
                ]);
                cell
            })
            .collect();
        let mut start = 0;
        while start < cells.len() {
            let mut end = start;
            let mut used = 8;
            while end < cells.len() {
                let w = cells[end]
                    .iter()
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(1)
                    + 1;
                if used + w > WIDTH && end > start {
                    break;
                }
                used += w;
                end += 1;
            }
            for (k, name) in rows.iter().enumerate() {
                let line: String = cells[start..end]
                    .iter()
                    .map(|c| {
                        let w = c.iter().map(|s| s.chars().count()).max().unwrap_or(1);
                        format!("{:<w$} ", c[k])
                    })
                    .collect();
                println!("    {name:<5} {}", line.trim_end());
            }
            start = end;
        }
    }
}
