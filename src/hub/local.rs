//! Turning the `model` / `dataset` values a user types (a path or a Hub id) into local
//! folders and files, downloading through the cache when needed.

use std::path::PathBuf;

use super::{
    EventSink, HubResult, HubSettings, Source, classify_source, resolve_dataset, resolve_model,
};

/// Where a split's data lives locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSplit {
    /// A file, glob or dataset folder (for a Hub dataset: its snapshot folder).
    pub data: String,
    pub config: Option<String>,
    /// The split's files when the Hub named them; empty for local data.
    pub files: Vec<PathBuf>,
}

/// A model folder for `value`: the path itself, or the Hub snapshot of `owner/name`.
pub fn local_model(
    settings: &HubSettings,
    value: &str,
    sink: Option<EventSink>,
) -> HubResult<PathBuf> {
    match classify_source(value) {
        Source::Local(path) => Ok(path),
        Source::Hub(id) => resolve_model(settings, &id, sink),
    }
}

/// The data of one split for `value`: a local path as is, or `owner/name[:config]`
/// downloaded (only that split's files). `config` applies when `value` names none.
pub fn local_split(
    settings: &HubSettings,
    value: &str,
    config: Option<&str>,
    split: &str,
    sink: Option<EventSink>,
) -> HubResult<LocalSplit> {
    match classify_source(value) {
        Source::Local(path) => Ok(LocalSplit {
            data: path.display().to_string(),
            config: config.map(str::to_string),
            files: Vec::new(),
        }),
        Source::Hub(id) => {
            let spec = match (id.contains(':'), config) {
                (false, Some(config)) => format!("{id}:{config}"),
                _ => id,
            };
            let resolved = resolve_dataset(settings, &spec, split, sink)?;
            Ok(LocalSplit {
                data: resolved.dir.display().to_string(),
                config: Some(resolved.config),
                files: resolved.files,
            })
        }
    }
}
