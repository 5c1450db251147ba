//! `wick bench ...`: measurements that end with one JSON line, printed next to the reference.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::progress;
use crate::data::{self, DatasetCache, RawSplit, SplitRequest, TextTokenizer, TokenizeOptions};

pub(super) const EXAMPLES: &str = "\
Examples:
  # Against ../shared/reference/minilm-mrpc-trainer-cpu.json (datasets.map on this machine)
  wick bench tokenize

  # One thread, without the WordPiece fast path
  wick bench tokenize --threads 1 --no-fast-path";

#[derive(Args, Debug)]
pub struct TokenizeBenchArgs {
    /// The MRPC dataset folder.
    #[arg(long, default_value = "../shared/hub/datasets/nyu-mll/glue")]
    pub data: String,
    #[arg(long, default_value = "mrpc")]
    pub config: String,
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Model folder with `tokenizer.json`.
    #[arg(
        long,
        default_value = "../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2"
    )]
    pub tokenizer: PathBuf,
    /// How many copies of the split to tokenize (the reference uses 50).
    #[arg(long, default_value_t = 50)]
    pub repeat: usize,
    /// Tokenizer threads [default: one per core].
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Send every row through the `tokenizers` crate, without the exact BERT WordPiece fast
    /// path (for comparison; the ids are the same).
    #[arg(long)]
    pub no_fast_path: bool,
    /// The torch/datasets reference (`tokenize_map_s`, `tokenize_map_rows`).
    #[arg(
        long,
        default_value = "../shared/reference/minilm-mrpc-trainer-cpu.json"
    )]
    pub reference: PathBuf,
}

/// Tokenizes MRPC train repeated `repeat` times, as `datasets.map(batched=True)` did in the
/// reference, then times a cached re-open of the split.
pub fn tokenize(args: &TokenizeBenchArgs) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let mut tokenizer = TextTokenizer::load(&args.tokenizer)?;
    if args.no_fast_path {
        tokenizer.set_fast_path(false);
    }
    let request = SplitRequest {
        data: args.data.clone(),
        config: Some(args.config.clone()),
        split: args.split.clone(),
        ..SplitRequest::default()
    };
    let source = data::resolve_split(&request.data, request.config.as_deref(), &request.split)?;
    let once = data::read_split(&source)?;
    let tables = vec![once.table.clone(); args.repeat];
    let repeated = RawSplit {
        table: arrow::compute::concat_batches(&once.table.schema(), &tables)?,
        file_rows: vec![(source.files[0].clone(), once.num_rows() * args.repeat)],
        ..once.clone()
    };
    let rows = repeated.num_rows();
    let options = TokenizeOptions {
        threads: args.threads,
        ..TokenizeOptions::default()
    };
    let bar = progress::bar(rows as u64, "tokenizing", "pairs");
    let start = Instant::now();
    let (table, _) = data::tokenize_raw(
        &repeated,
        &request,
        &tokenizer,
        &options,
        String::new(),
        &|done, _| bar.set_position(done as u64),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(table);

    let reopen_ms = cached_reopen_ms(&request, &tokenizer)?;
    let reference = read_reference(&args.reference);
    let pairs_per_s = rows as f64 / seconds;
    let reference_pairs_per_s = reference.map(|(s, r)| r / s);
    let ratio = reference_pairs_per_s.map(|r| pairs_per_s / r);
    println!(
        "wick:      {rows} pairs in {seconds:.2} s = {pairs_per_s:.0} pairs/s ({} threads, WordPiece fast path {})",
        if args.threads == 0 {
            rayon::current_num_threads()
        } else {
            args.threads
        },
        if tokenizer.fast_path() { "on" } else { "off" }
    );
    match reference {
        Some((s, r)) => println!(
            "reference: {r:.0} pairs in {s:.2} s = {:.0} pairs/s (datasets.map(batched=True)); ratio {:.2}x",
            r / s,
            ratio.unwrap_or(0.0)
        ),
        None => println!(
            "reference: {} not found; no ratio",
            args.reference.display()
        ),
    }
    println!(
        "cached re-open of {} {}: {reopen_ms:.1} ms",
        args.config, args.split
    );
    println!(
        "{}",
        json!({
            "bench": "tokenize",
            "pairs_per_s": pairs_per_s,
            "seconds": seconds,
            "rows": rows,
            "peak_rss_mb": peak_rss_mb(),
            "reference_pairs_per_s": reference_pairs_per_s,
            "ratio": ratio,
            "cached_reopen_ms": reopen_ms,
            "fast_path": tokenizer.fast_path(),
        })
    );
    Ok(())
}

/// Tokenizes the split once into a private cache, then times the second, cached, load.
fn cached_reopen_ms(request: &SplitRequest, tokenizer: &TextTokenizer) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("wick-bench-cache-{}", std::process::id()));
    let cache = DatasetCache::in_datasets_cache(&dir);
    let options = TokenizeOptions::default();
    data::prepare_split(request, tokenizer, &options, Some(&cache), &|_, _| {})?;
    let start = Instant::now();
    let split = data::prepare_split(request, tokenizer, &options, Some(&cache), &|_, _| {})?;
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    let hit = split.cache.is_hit();
    drop(split);
    let _ = std::fs::remove_dir_all(&dir);
    if !hit {
        bail!("the second load was not a cache hit");
    }
    Ok(elapsed)
}

/// `(tokenize_map_s, tokenize_map_rows)` from the reference JSON, when it is there.
fn read_reference(path: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((
        value.get("tokenize_map_s")?.as_f64()?,
        value.get("tokenize_map_rows")?.as_f64()?,
    ))
}

/// Peak resident memory of this process (VmHWM), in MiB; `None` off Linux.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
