//! Hugging Face Hub client: search, repo details, dataset-viewer rows,
//! downloads into the cache shared with Python's huggingface_hub, offline
//! mode, and a loopback mirror of the Hub for tests and air-gapped machines; also what a
//! repo offers for training and which splits "Use for training" takes, for the app and the
//! CLI alike.
//!
//! Every call takes a [`HubSettings`] explicitly (see [`HubSettings::from_env`]).
//! The API is blocking (ureq); nothing here starts an async runtime.

mod cache;
mod choice;
mod download;
pub mod error;
mod http;
pub mod id;
pub mod info;
pub mod mirror;
mod overview;
pub mod progress;
pub mod resolve;
pub mod search;
pub mod settings;
pub mod viewer;

pub use crate::data::card;
pub use card::{CardConfig, CardData, ConfigInfo, Feature, SplitInfo};
pub use error::{HubError, HubResult};
pub use id::{DatasetSpec, RepoId, RepoKind, Source, classify_source, is_hub_id};
mod local;
pub use choice::{
    DatasetChoice, check_local_data, download_dataset, eval_split_of, train_split_of,
};
pub use info::{RepoDetails, RepoFile, repo_details};
pub use local::{LocalSplit, local_model, local_split};
pub use overview::{
    DatasetDetails, ModelDetails, SplitRow, TASKS, config_info, dataset_details, model_details,
};
pub use progress::{EventSink, HubEvent, channel_sink, download_progress_sink};
pub use resolve::{
    PARQUET_BRANCH, ResolvedDataset, resolve_dataset, resolve_dataset_spec, resolve_model,
};
pub use search::{RepoSummary, SearchQuery, SortKey, search};
pub use settings::HubSettings;
pub use viewer::{
    FirstRows, RowsSource, SplitName, first_rows, read_parquet_rows, viewer_first_rows,
    viewer_info, viewer_splits,
};

use std::path::PathBuf;

/// Download one file of a repo at `revision` into the cache; returns its
/// snapshot path. Offline, returns the cached file or a plain error.
pub fn download_file(
    settings: &HubSettings,
    kind: RepoKind,
    repo: &str,
    revision: &str,
    filename: &str,
    sink: Option<EventSink>,
) -> HubResult<PathBuf> {
    let repo = RepoId::parse(repo)?;
    download::Downloader::new(settings, sink)?.file(kind, &repo, revision, filename)
}
