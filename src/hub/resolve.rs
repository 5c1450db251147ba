//! What other Wick code calls: a Hub dataset split or model -> local files,
//! downloading what is missing, serving from the cache when offline.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cache::{CacheRepo, snapshot_files};
use super::card::{CardData, matches_pattern};
use super::download::Downloader;
use super::error::{HubError, HubResult};
use super::id::{DatasetSpec, RepoId, RepoKind, check_repo_path};
use super::info::{RepoDetails, repo_details};
use super::progress::EventSink;
use super::settings::HubSettings;

/// Branch where the Hub keeps auto-converted parquet for datasets without `configs:`.
pub const PARQUET_BRANCH: &str = "refs/convert/parquet";

/// Tokenizer files fetched alongside the weights when the repo has them (`spm.model` and
/// `added_tokens.json`: DeBERTa-v3, which ships no `tokenizer.json`).
const TOKENIZER_FILES: [&str; 6] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "spm.model",
    "added_tokens.json",
];
const PICKLE_EXTENSIONS: [&str; 6] = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedDataset {
    pub repo: String,
    pub config: String,
    pub split: String,
    /// Revision the files come from: `main` or the parquet branch.
    pub revision: String,
    /// The cache snapshot folder holding the files.
    pub dir: PathBuf,
    /// The split's data files, in name order.
    pub files: Vec<PathBuf>,
}

/// `"owner/name[:config]"` + split -> the split's local files.
pub fn resolve_dataset(
    settings: &HubSettings,
    spec: &str,
    split: &str,
    sink: Option<EventSink>,
) -> HubResult<ResolvedDataset> {
    resolve_dataset_spec(settings, &DatasetSpec::parse(spec)?, split, sink)
}

pub fn resolve_dataset_spec(
    settings: &HubSettings,
    spec: &DatasetSpec,
    split: &str,
    sink: Option<EventSink>,
) -> HubResult<ResolvedDataset> {
    check_repo_path(&spec.repo.to_string(), split)?;
    if settings.offline {
        return cached_dataset(settings, spec, split);
    }
    let downloader = Downloader::new(settings, sink)?;
    let details = repo_details(settings, RepoKind::Dataset, &spec.repo, "main")?;
    if details.has_file("README.md") {
        // Keep the card in the cache so offline runs can read `configs:` too.
        downloader.file(RepoKind::Dataset, &spec.repo, "main", "README.md")?;
    }
    let (config, revision, names) = if details.card.configs.is_empty() {
        let config = spec.config.clone().unwrap_or_else(|| "default".to_string());
        let branch = repo_details(settings, RepoKind::Dataset, &spec.repo, PARQUET_BRANCH)?;
        let names = parquet_branch_files(&branch, &config, split);
        (config, PARQUET_BRANCH, names)
    } else {
        let (config, names) = card_split_files(&details.card, &details, spec, split)?;
        (config, "main", names)
    };
    if names.is_empty() {
        return Err(HubError::Data {
            what: format!("dataset {}:{config}", spec.repo),
            message: format!("no data files for split {split:?}"),
        });
    }
    // Check every name before fetching any, so a bad listing downloads nothing.
    for name in &names {
        check_repo_path(&spec.repo.to_string(), name)?;
    }
    let mut files = Vec::new();
    for name in &names {
        files.push(downloader.file(RepoKind::Dataset, &spec.repo, revision, name)?);
    }
    let dir = downloader
        .cache(RepoKind::Dataset, &spec.repo)
        .snapshot_of(revision)
        .unwrap_or_else(|| snapshot_root(&files[0], &names[0]));
    Ok(ResolvedDataset {
        repo: spec.repo.to_string(),
        config,
        split: split.to_string(),
        revision: revision.to_string(),
        dir,
        files,
    })
}

/// The data files a card's `configs:` names for one split.
fn card_split_files(
    card: &CardData,
    details: &RepoDetails,
    spec: &DatasetSpec,
    split: &str,
) -> HubResult<(String, Vec<String>)> {
    let config = card
        .config(spec.config.as_deref())
        .ok_or_else(|| HubError::Data {
            what: format!("dataset {}", spec.repo),
            message: format!(
                "{} (configs: {})",
                match &spec.config {
                    Some(name) => format!("no config {name:?} in the card"),
                    None => format!("several configs; name one as {}:CONFIG", spec.repo),
                },
                card.configs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let patterns = config
        .data_files
        .iter()
        .find(|(name, _)| name == split)
        .map(|(_, patterns)| patterns)
        .ok_or_else(|| HubError::Data {
            what: format!("dataset {}:{}", spec.repo, config.name),
            message: format!(
                "no split {split:?} (splits: {})",
                config
                    .data_files
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let mut names: Vec<String> = details
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|path| patterns.iter().any(|p| matches_pattern(p, path)))
        .collect();
    names.sort();
    Ok((config.name.clone(), names))
}

/// `{config}/{split}/*.parquet` (and `partial-{split}`) on the parquet branch.
fn parquet_branch_files(branch: &RepoDetails, config: &str, split: &str) -> Vec<String> {
    let prefixes = [
        format!("{config}/{split}/"),
        format!("{config}/partial-{split}/"),
    ];
    let mut names: Vec<String> = branch
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| p.ends_with(".parquet") && prefixes.iter().any(|pre| p.starts_with(pre)))
        .collect();
    names.sort();
    names
}

fn snapshot_root(file: &Path, name: &str) -> PathBuf {
    let mut dir = file.to_path_buf();
    for _ in 0..name.split('/').count() {
        dir.pop();
    }
    dir
}

fn cached_dataset(
    settings: &HubSettings,
    spec: &DatasetSpec,
    split: &str,
) -> HubResult<ResolvedDataset> {
    let cache = CacheRepo::new(&settings.hub_cache, RepoKind::Dataset, &spec.repo);
    let offline = || HubError::Offline {
        what: format!(
            "dataset {}{} split {split}",
            spec.repo,
            spec.config
                .as_ref()
                .map(|c| format!(":{c}"))
                .unwrap_or_default()
        ),
        cache: cache.root.clone(),
    };
    if let Some(dir) = cache.snapshot_of("main") {
        let card = super::card::read_dir(&dir).unwrap_or_default();
        if !card.configs.is_empty() {
            let details = local_details(&dir);
            let (config, names) = card_split_files(&card, &details, spec, split)?;
            if !names.is_empty() {
                return Ok(local_dataset(spec, config, split, "main", dir, &names));
            }
        }
    }
    let config = spec.config.clone().unwrap_or_else(|| "default".to_string());
    if let Some(dir) = cache.snapshot_of(PARQUET_BRANCH) {
        let names = parquet_branch_files(&local_details(&dir), &config, split);
        if !names.is_empty() {
            return Ok(local_dataset(
                spec,
                config,
                split,
                PARQUET_BRANCH,
                dir,
                &names,
            ));
        }
    }
    Err(offline())
}

fn local_details(dir: &Path) -> RepoDetails {
    RepoDetails {
        id: String::new(),
        kind: RepoKind::Dataset,
        sha: None,
        gated: false,
        private: false,
        downloads: 0,
        likes: 0,
        tags: Vec::new(),
        last_modified: None,
        files: snapshot_files(dir)
            .into_iter()
            .map(|path| super::info::RepoFile { path, size: None })
            .collect(),
        card: CardData::default(),
        from_cache: true,
    }
}

fn local_dataset(
    spec: &DatasetSpec,
    config: String,
    split: &str,
    revision: &str,
    dir: PathBuf,
    names: &[String],
) -> ResolvedDataset {
    ResolvedDataset {
        repo: spec.repo.to_string(),
        config,
        split: split.to_string(),
        revision: revision.to_string(),
        files: names.iter().map(|n| dir.join(n)).collect(),
        dir,
    }
}

/// `"owner/name"` -> the cache snapshot folder with config, tokenizer and
/// safetensors weights (single file or shards with their index).
pub fn resolve_model(
    settings: &HubSettings,
    id: &str,
    sink: Option<EventSink>,
) -> HubResult<PathBuf> {
    let repo = RepoId::parse(id)?;
    if settings.offline {
        return cached_model(settings, &repo);
    }
    let details = repo_details(settings, RepoKind::Model, &repo, "main")?;
    let weights = weight_plan(&details)?;
    let downloader = Downloader::new(settings, sink)?;
    let config = downloader.file(RepoKind::Model, &repo, "main", "config.json")?;
    for name in TOKENIZER_FILES.iter().filter(|n| details.has_file(n)) {
        downloader.file(RepoKind::Model, &repo, "main", name)?;
    }
    match weights {
        WeightPlan::Single => {
            downloader.file(RepoKind::Model, &repo, "main", SINGLE)?;
        }
        WeightPlan::Sharded => {
            let index = downloader.file(RepoKind::Model, &repo, "main", INDEX)?;
            for shard in shard_names(&repo, &index)? {
                downloader.file(RepoKind::Model, &repo, "main", &shard)?;
            }
        }
    }
    Ok(config.parent().map(Path::to_path_buf).unwrap_or(config))
}

const SINGLE: &str = "model.safetensors";
const INDEX: &str = "model.safetensors.index.json";

enum WeightPlan {
    Single,
    Sharded,
}

fn weight_plan(details: &RepoDetails) -> HubResult<WeightPlan> {
    if details.has_file(SINGLE) {
        return Ok(WeightPlan::Single);
    }
    if details.has_file(INDEX) {
        return Ok(WeightPlan::Sharded);
    }
    let pickles: Vec<&str> = details
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| PICKLE_EXTENSIONS.iter().any(|ext| p.ends_with(ext)))
        .collect();
    if pickles.is_empty() {
        Err(HubError::NoWeights {
            repo: details.id.clone(),
        })
    } else {
        Err(HubError::PickleOnly {
            repo: details.id.clone(),
            files: pickles.join(", "),
        })
    }
}

/// Shard file names from a safetensors index's `weight_map`, checked for safety.
fn shard_names(repo: &RepoId, index: &Path) -> HubResult<Vec<String>> {
    let text = std::fs::read_to_string(index).map_err(|e| HubError::io(index, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| HubError::Data {
        what: index.display().to_string(),
        message: format!("invalid index JSON: {e}"),
    })?;
    let map = json["weight_map"]
        .as_object()
        .ok_or_else(|| HubError::Data {
            what: index.display().to_string(),
            message: "no weight_map".to_string(),
        })?;
    let mut shards: Vec<String> = map
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    shards.sort();
    shards.dedup();
    for shard in &shards {
        check_repo_path(&repo.to_string(), shard)?;
        if !shard.ends_with(".safetensors") {
            return Err(HubError::PickleOnly {
                repo: repo.to_string(),
                files: shard.clone(),
            });
        }
    }
    Ok(shards)
}

fn cached_model(settings: &HubSettings, repo: &RepoId) -> HubResult<PathBuf> {
    let cache = CacheRepo::new(&settings.hub_cache, RepoKind::Model, repo);
    let offline = |what: String| HubError::Offline {
        what,
        cache: cache.root.clone(),
    };
    let dir = cache
        .snapshot_of("main")
        .ok_or_else(|| offline(format!("model {repo}")))?;
    if !dir.join("config.json").is_file() {
        return Err(offline(format!("config.json of model {repo}")));
    }
    if dir.join(SINGLE).is_file() {
        return Ok(dir);
    }
    if dir.join(INDEX).is_file() {
        let missing: Vec<String> = shard_names(repo, &dir.join(INDEX))?
            .into_iter()
            .filter(|s| !dir.join(s).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(offline(format!("{} of model {repo}", missing.join(", "))));
    }
    Err(offline(format!("safetensors weights of model {repo}")))
}
