//! `wick data inspect`: what the tokenizer and the collator make of a dataset.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::progress;
use crate::data::{
    self, Collator, ColumnOverrides, DatasetCache, HostBatch, Order, Padding, SplitRequest,
    TextTokenizer, TokenizeOptions, TokenizedSplit,
};
use crate::hub::{self, HubSettings};

pub(super) const EXAMPLES: &str = "\
Examples:
  # A Hub-layout folder on disk
  wick data inspect --data ../shared/hub/datasets/nyu-mll/glue --config mrpc --split validation \\
      --tokenizer ../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2

  # Hub ids (downloaded through the cache), one JSON object for scripts
  wick data inspect --data nyu-mll/glue:mrpc --tokenizer sentence-transformers/all-MiniLM-L6-v2 --json

  # Your own CSV, naming the columns
  wick data inspect --data reviews.csv --text-column review --label-column stars \\
      --tokenizer distilbert/distilbert-base-uncased";

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
        task: None,
        label_all_tokens: false,
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
            "class_balance": balance.iter().map(|(id, name, n)| json!({"id": id, "name": name, "rows": n})).collect::<Vec<_>>(),
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
    println!("\nClass balance:");
    let total = split.len().max(1);
    for (id, name, rows) in class_balance_rows(split) {
        println!(
            "  {id:>3} {name:<24} {rows:>7}  {:>5.1}%  {}",
            rows as f64 * 100.0 / total as f64,
            "#".repeat(rows * 40 / total)
        );
    }
}

/// Each row as aligned columns: piece, id, mask, type id. Wraps long rows.
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
        let cells: Vec<[String; 4]> = (0..batch.seq_len)
            .map(|t| {
                [
                    tokenizer.piece(ids[t]),
                    ids[t].to_string(),
                    mask[t].to_string(),
                    types[t].to_string(),
                ]
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
            for (k, name) in ["piece", "id", "mask", "type"].iter().enumerate() {
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
