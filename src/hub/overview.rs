//! What a repo holds, for choosing one to train on: a dataset's configs, splits with sizes,
//! features and first rows; a model's size, pipeline tag and weight format. The app's Hub
//! panel shows these and `wick hub info` prints the same facts.

use super::card::{ConfigInfo, Feature};
use super::error::HubResult;
use super::id::{DatasetSpec, RepoId, RepoKind};
use super::info::{RepoDetails, repo_details};
use super::progress::EventSink;
use super::settings::HubSettings;
use super::viewer::{FirstRows, first_rows, viewer_info, viewer_splits};
use super::{HubError, choice};

/// Task tags Wick trains for, in the order offered; a model's pipeline tag is the first of
/// its tags in this list.
pub const TASKS: &[&str] = &[
    "text-classification",
    "zero-shot-classification",
    "sentence-similarity",
    "token-classification",
    "question-answering",
    "fill-mask",
    "feature-extraction",
];

#[derive(Debug)]
pub struct DatasetDetails {
    pub repo: RepoDetails,
    pub configs: Vec<String>,
    pub config: Option<String>,
    pub splits: Vec<SplitRow>,
    pub features: Vec<Feature>,
    /// The first rows of `preview_split`, or why they could not be read.
    pub preview_split: String,
    pub rows: HubResult<FirstRows>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SplitRow {
    pub name: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ModelDetails {
    pub repo: RepoDetails,
    pub total_bytes: u64,
    pub pipeline_tag: Option<String>,
    pub safetensors: bool,
}

/// The features and split sizes of `config`: from the card, which keeps feature order (the
/// viewer's JSON object may not), else from the dataset viewer.
pub fn config_info(
    settings: &HubSettings,
    details: &RepoDetails,
    repo: &RepoId,
    config: &str,
) -> Option<ConfigInfo> {
    details
        .card
        .info(config)
        .cloned()
        .or_else(|| viewer_info(settings, repo, config).ok())
}

/// A dataset's card, configs, splits with sizes, features and the first `preview_rows` rows
/// of its training split. The rows may fail on their own without failing the rest.
pub fn dataset_details(
    settings: &HubSettings,
    id: &str,
    config: Option<String>,
    preview_rows: usize,
    sink: Option<EventSink>,
) -> Result<DatasetDetails, HubError> {
    let spec = DatasetSpec::parse(id)?;
    let repo = repo_details(settings, RepoKind::Dataset, &spec.repo, "main")?;
    // Offline or without a viewer this is empty; the card may still say enough.
    let viewer_splits = viewer_splits(settings, &spec.repo).unwrap_or_default();
    let mut configs: Vec<String> = repo.card.configs.iter().map(|c| c.name.clone()).collect();
    for s in &viewer_splits {
        if !configs.contains(&s.config) {
            configs.push(s.config.clone());
        }
    }
    let config = config
        .or(spec.config.clone())
        .or_else(|| repo.card.config(None).map(|c| c.name.clone()))
        .or_else(|| configs.first().cloned());
    let config_name = config.clone().unwrap_or_else(|| "default".to_string());
    let info = config_info(settings, &repo, &spec.repo, &config_name);
    let mut names: Vec<String> = match repo.card.config(Some(&config_name)) {
        Some(card_config) => card_config
            .data_files
            .iter()
            .map(|(s, _)| s.clone())
            .collect(),
        None => viewer_splits
            .iter()
            .filter(|s| s.config == config_name)
            .map(|s| s.split.clone())
            .collect(),
    };
    if names.is_empty()
        && let Some(info) = &info
    {
        names = info.splits.iter().map(|s| s.name.clone()).collect();
    }
    let splits = names
        .iter()
        .map(|name| {
            let sizes = info
                .as_ref()
                .and_then(|i| i.splits.iter().find(|s| &s.name == name));
            SplitRow {
                name: name.clone(),
                rows: sizes.and_then(|s| s.num_examples),
                bytes: sizes.and_then(|s| s.num_bytes),
            }
        })
        .collect();
    let preview_split = choice::train_split_of(&names);
    let preview_spec = DatasetSpec {
        repo: spec.repo.clone(),
        config: config.clone(),
    };
    let rows = first_rows(settings, &preview_spec, &preview_split, preview_rows, sink);
    Ok(DatasetDetails {
        repo,
        configs,
        config,
        splits,
        features: info.map(|i| i.features).unwrap_or_default(),
        preview_split,
        rows,
    })
}

/// A model's files, total size, pipeline tag and whether it has safetensors weights.
pub fn model_details(settings: &HubSettings, id: &str) -> Result<ModelDetails, HubError> {
    let repo_id = RepoId::parse(id)?;
    let repo = repo_details(settings, RepoKind::Model, &repo_id, "main")?;
    let total_bytes = repo.files.iter().filter_map(|f| f.size).sum();
    let pipeline_tag = repo
        .tags
        .iter()
        .find(|t| TASKS.contains(&t.as_str()))
        .cloned();
    let safetensors =
        repo.has_file("model.safetensors") || repo.has_file("model.safetensors.index.json");
    Ok(ModelDetails {
        repo,
        total_bytes,
        pipeline_tag,
        safetensors,
    })
}
