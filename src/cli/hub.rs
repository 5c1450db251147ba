//! `wick hub ...`: search, inspect and download from the Hugging Face Hub,
//! and serve a Hub-layout folder as a loopback mirror.

use std::path::PathBuf;

use super::progress::DownloadBars;
use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};

use crate::hub::mirror::{Mirror, MirrorOptions};
use crate::hub::{
    self, DatasetSpec, HubSettings, RepoId, RepoKind, RowsSource, SearchQuery, SortKey,
};

#[derive(Subcommand, Debug)]
pub enum HubCommand {
    /// Search models or datasets on the Hub.
    #[command(after_help = "\
Examples:
  wick hub search models bert --filter text-classification --limit 10
  wick hub search datasets glue --sort likes
  HF_ENDPOINT=http://127.0.0.1:8080 wick hub search datasets     # everything a mirror serves")]
    Search {
        /// `model` or `dataset`.
        kind: KindArg,
        /// Text to look for in repo ids.
        #[arg(default_value = "")]
        query: String,
        /// Order of the results (most first).
        #[arg(long, value_enum, default_value_t = SortArg::Downloads)]
        sort: SortArg,
        /// Most results to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only repos of this owner.
        #[arg(long)]
        author: Option<String>,
        /// Tag such as a task (`text-classification`); repeat to require several.
        #[arg(long)]
        filter: Vec<String>,
    },
    /// Show a repo: files, card configs, features, splits and first rows.
    #[command(after_help = "\
Examples:
  wick hub info model sentence-transformers/all-MiniLM-L6-v2
  wick hub info dataset nyu-mll/glue:mrpc --split validation --rows 3")]
    Info {
        /// `model` or `dataset`.
        kind: KindArg,
        /// `owner/name`, for datasets optionally `owner/name:config`.
        id: String,
        /// Split whose first rows to show (datasets).
        #[arg(long, default_value = "train")]
        split: String,
        /// How many first rows to show (datasets).
        #[arg(long, default_value_t = 5)]
        rows: usize,
    },
    /// Download a dataset split or a model's config, tokenizer and safetensors weights into
    /// the shared Hugging Face cache (resumable; Python's huggingface_hub finds them there).
    #[command(after_help = "\
Examples:
  wick hub download model sentence-transformers/all-MiniLM-L6-v2
  wick hub download dataset nyu-mll/glue --config mrpc --split validation")]
    Download {
        /// `model` or `dataset`.
        kind: KindArg,
        /// `owner/name` (datasets: optionally `owner/name:config`).
        id: String,
        /// Dataset config (subset), e.g. `mrpc`.
        #[arg(long)]
        config: Option<String>,
        /// Dataset split to download.
        #[arg(long, default_value = "train")]
        split: String,
    },
    /// Serve a Hub-layout folder on 127.0.0.1 (point HF_ENDPOINT at it): for air-gapped
    /// machines and tests. Wick and Python's huggingface_hub, datasets and transformers can
    /// download from it. Links that lead out of the folder are not served.
    #[command(after_help = "\
Examples:
  wick hub serve ../shared/hub --port 8080 &
  HF_ENDPOINT=http://127.0.0.1:8080 wick train --config examples/mrpc-minilm.toml \\
      --set model=sentence-transformers/all-MiniLM-L6-v2 --set dataset=nyu-mll/glue

The folder holds models/OWNER/NAME/ and datasets/OWNER/NAME/ in Hub layout.")]
    Serve {
        /// Folder in Hub layout (`models/owner/name/...`, `datasets/owner/name/...`).
        dir: PathBuf,
        /// Port on 127.0.0.1; 0 picks a free one (printed at start).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Token that opens repos marked gated in their `.mirror.json`
        /// (default: the WICK_MIRROR_TOKEN variable).
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KindArg {
    #[value(alias = "models")]
    Model,
    #[value(alias = "datasets")]
    Dataset,
}

impl From<KindArg> for RepoKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Model => RepoKind::Model,
            KindArg::Dataset => RepoKind::Dataset,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SortArg {
    Downloads,
    Likes,
    Trending,
    Modified,
}

impl From<SortArg> for SortKey {
    fn from(sort: SortArg) -> Self {
        match sort {
            SortArg::Downloads => SortKey::Downloads,
            SortArg::Likes => SortKey::Likes,
            SortArg::Trending => SortKey::Trending,
            SortArg::Modified => SortKey::Modified,
        }
    }
}

pub fn run(command: HubCommand) -> Result<()> {
    let settings = HubSettings::from_env();
    match command {
        HubCommand::Search {
            kind,
            query,
            sort,
            limit,
            author,
            filter,
        } => {
            let mut q = SearchQuery::new(kind.into(), &query);
            q.sort = sort.into();
            q.limit = limit;
            q.author = author;
            q.filter = filter;
            let hits = hub::search(&settings, &q)?;
            for hit in &hits {
                let mut flags = String::new();
                if hit.gated {
                    flags.push_str(" [gated]");
                }
                if hit.private {
                    flags.push_str(" [private]");
                }
                println!(
                    "{}{flags}\n  downloads {}  likes {}  modified {}\n  tags: {}",
                    hit.id,
                    hit.downloads,
                    hit.likes,
                    hit.last_modified.as_deref().unwrap_or("?"),
                    hit.tags.join(", ")
                );
            }
            eprintln!("{} result(s)", hits.len());
            Ok(())
        }
        HubCommand::Info {
            kind: KindArg::Dataset,
            id,
            split,
            rows,
        } => dataset_info(&settings, &id, &split, rows),
        HubCommand::Info {
            kind: KindArg::Model,
            id,
            ..
        } => {
            let repo = RepoId::parse(&id)?;
            let details = hub::repo_details(&settings, RepoKind::Model, &repo, "main")?;
            print_files(&details);
            Ok(())
        }
        HubCommand::Download {
            kind: KindArg::Dataset,
            id,
            config,
            split,
        } => {
            let mut spec = DatasetSpec::parse(&id)?;
            if config.is_some() {
                spec.config = config;
            }
            let bars = DownloadBars::new();
            let resolved = hub::resolve_dataset_spec(&settings, &spec, &split, Some(bars.sink()))?;
            println!(
                "{}:{} split {} ({})",
                resolved.repo, resolved.config, resolved.split, resolved.revision
            );
            for file in &resolved.files {
                println!("{}", file.display());
            }
            Ok(())
        }
        HubCommand::Download {
            kind: KindArg::Model,
            id,
            ..
        } => {
            let bars = DownloadBars::new();
            let dir = hub::resolve_model(&settings, &id, Some(bars.sink()))?;
            println!("{}", dir.display());
            Ok(())
        }
        HubCommand::Serve { dir, port, token } => {
            let options = MirrorOptions {
                port,
                token: token.or_else(|| std::env::var("WICK_MIRROR_TOKEN").ok()),
                log_to_stderr: true,
                ..MirrorOptions::default()
            };
            let mirror = Mirror::start(&dir, options)
                .with_context(|| format!("serving {}", dir.display()))?;
            for id in mirror.repo_ids() {
                eprintln!("serving {id}");
            }
            eprintln!(
                "listening on {} (loopback only: other machines cannot connect)",
                mirror.addr()
            );
            println!("HF_ENDPOINT={}", mirror.url());
            println!("{}={}", hub::settings::VIEWER_URL_VAR, mirror.viewer_url());
            mirror.wait();
            Ok(())
        }
    }
}

fn print_files(details: &hub::RepoDetails) {
    let mut flags = String::new();
    if details.gated {
        flags.push_str(" [gated]");
    }
    if details.private {
        flags.push_str(" [private]");
    }
    if details.from_cache {
        flags.push_str(" [from cache]");
    }
    println!("{}{flags}", details.id);
    if let Some(sha) = &details.sha {
        println!("commit: {sha}");
    }
    println!(
        "licence: {}",
        details.card.license.as_deref().unwrap_or("(not stated)")
    );
    println!("files:");
    for file in &details.files {
        match file.size {
            Some(size) => println!("  {}  ({})", file.path, indicatif::HumanBytes(size)),
            None => println!("  {}", file.path),
        }
    }
}

fn dataset_info(settings: &HubSettings, id: &str, split: &str, rows: usize) -> Result<()> {
    let mut spec = DatasetSpec::parse(id)?;
    let details = hub::repo_details(settings, RepoKind::Dataset, &spec.repo, "main")?;
    print_files(&details);
    for config in &details.card.configs {
        println!(
            "config {}{}:",
            config.name,
            if config.default { " (default)" } else { "" }
        );
        for (split, patterns) in &config.data_files {
            println!("  {split}: {}", patterns.join(", "));
        }
    }
    if spec.config.is_none() {
        spec.config = details.card.config(None).map(|c| c.name.clone());
    }
    let config = spec.config.clone().unwrap_or_else(|| "default".to_string());
    match hub::viewer_splits(settings, &spec.repo) {
        Ok(splits) => {
            let names: Vec<String> = splits
                .iter()
                .map(|s| format!("{}/{}", s.config, s.split))
                .collect();
            println!("viewer splits: {}", names.join(", "));
        }
        Err(e) => eprintln!("viewer splits unavailable: {e}"),
    }
    let info = hub::config_info(settings, &details, &spec.repo, &config);
    if let Some(info) = info {
        println!("features of {config}:");
        for f in &info.features {
            if f.class_names.is_empty() {
                println!("  {}: {}", f.name, f.dtype);
            } else {
                println!("  {}: {} [{}]", f.name, f.dtype, f.class_names.join(", "));
            }
        }
        for s in &info.splits {
            let n = s
                .num_examples
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into());
            println!("  split {}: {n} rows", s.name);
        }
    }
    let bars = DownloadBars::new();
    let first = hub::first_rows(settings, &spec, split, rows, Some(bars.sink()))?;
    match &first.source {
        RowsSource::Viewer => println!(
            "first rows of {}/{} (dataset viewer):",
            first.config, first.split
        ),
        RowsSource::Parquet { path, reason } => {
            eprintln!("viewer unavailable: {reason}");
            println!(
                "first rows of {}/{} (from {}):",
                first.config,
                first.split,
                path.display()
            );
        }
    }
    for row in &first.rows {
        println!("  {}", serde_json::Value::Object(row.clone()));
    }
    Ok(())
}
