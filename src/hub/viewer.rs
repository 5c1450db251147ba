//! The dataset-viewer API (`/splits`, `/first-rows`, `/info`) at the
//! configured base URL, with a fallback to the first rows of the downloaded
//! parquet when the viewer is unavailable. The token is never sent there,
//! even when the viewer shares the endpoint's host.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::card::{ConfigInfo, Feature, SplitInfo};
use super::error::{HubError, HubResult};
use super::http::Http;
use super::id::{DatasetSpec, RepoId};
use super::progress::EventSink;
use super::settings::HubSettings;

/// One row as a JSON object, column name -> value.
pub type Row = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitName {
    pub config: String,
    pub split: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RowsSource {
    Viewer,
    /// Read from this downloaded parquet file; `reason` says why not the viewer.
    Parquet {
        path: PathBuf,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstRows {
    pub config: String,
    pub split: String,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub source: RowsSource,
}

fn viewer_url(settings: &HubSettings, path: &str, params: &[(&str, &str)]) -> HubResult<String> {
    if settings.viewer_url.is_empty() {
        return Err(HubError::NoViewer {
            endpoint: settings.endpoint.clone(),
        });
    }
    let base = format!("{}/{path}", settings.viewer_url);
    let mut url = url::Url::parse(&base).map_err(|e| HubError::BadResponse {
        url: base.clone(),
        message: format!("invalid viewer URL: {e}"),
    })?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.into())
}

fn offline_guard(settings: &HubSettings, what: &str) -> HubResult<()> {
    if settings.offline {
        return Err(HubError::OfflineNetwork {
            what: format!("the dataset viewer for {what}"),
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct SplitsResponse {
    splits: Vec<SplitName>,
}

pub fn viewer_splits(settings: &HubSettings, repo: &RepoId) -> HubResult<Vec<SplitName>> {
    offline_guard(settings, &repo.to_string())?;
    let url = viewer_url(settings, "splits", &[("dataset", &repo.to_string())])?;
    let (response, _): (SplitsResponse, _) =
        Http::anonymous(settings)?.get_json(&url, &format!("viewer splits of {repo}"))?;
    Ok(response.splits)
}

/// `/info`: features (with ClassLabel names) and split sizes of one config.
pub fn viewer_info(settings: &HubSettings, repo: &RepoId, config: &str) -> HubResult<ConfigInfo> {
    offline_guard(settings, &repo.to_string())?;
    let url = viewer_url(
        settings,
        "info",
        &[("dataset", &repo.to_string()), ("config", config)],
    )?;
    let (response, _): (Value, _) =
        Http::anonymous(settings)?.get_json(&url, &format!("viewer info of {repo}:{config}"))?;
    let info = &response["dataset_info"];
    let features = info["features"]
        .as_object()
        .map(|features| {
            features
                .iter()
                .map(|(name, f)| Feature {
                    name: name.clone(),
                    dtype: match f["_type"].as_str() {
                        Some("ClassLabel") => "class_label".to_string(),
                        Some("Value") => f["dtype"].as_str().unwrap_or("unknown").to_string(),
                        Some(other) => other.to_ascii_lowercase(),
                        None => "unknown".to_string(),
                    },
                    class_names: f["names"]
                        .as_array()
                        .map(|n| {
                            n.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let splits = info["splits"]
        .as_object()
        .map(|splits| {
            splits
                .iter()
                .map(|(name, s)| SplitInfo {
                    name: name.clone(),
                    num_examples: s["num_examples"].as_u64(),
                    num_bytes: s["num_bytes"].as_u64(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ConfigInfo {
        config_name: config.to_string(),
        features,
        splits,
    })
}

#[derive(Deserialize)]
struct FirstRowsResponse {
    #[serde(default)]
    features: Vec<ViewerFeature>,
    rows: Vec<ViewerRow>,
}

#[derive(Deserialize)]
struct ViewerFeature {
    name: String,
}

#[derive(Deserialize)]
struct ViewerRow {
    row: Map<String, Value>,
}

pub fn viewer_first_rows(
    settings: &HubSettings,
    repo: &RepoId,
    config: &str,
    split: &str,
) -> HubResult<FirstRows> {
    offline_guard(settings, &repo.to_string())?;
    let url = viewer_url(
        settings,
        "first-rows",
        &[
            ("dataset", &repo.to_string()),
            ("config", config),
            ("split", split),
        ],
    )?;
    let (response, _): (FirstRowsResponse, _) = Http::anonymous(settings)?.get_json(
        &url,
        &format!("viewer first rows of {repo}:{config}/{split}"),
    )?;
    let mut columns: Vec<String> = response.features.into_iter().map(|f| f.name).collect();
    if columns.is_empty()
        && let Some(first) = response.rows.first()
    {
        columns = first.row.keys().cloned().collect();
    }
    Ok(FirstRows {
        config: config.to_string(),
        split: split.to_string(),
        columns,
        rows: response.rows.into_iter().map(|r| r.row).collect(),
        source: RowsSource::Viewer,
    })
}

/// The config to ask the viewer about: the named one, else the first config
/// the viewer lists with this split.
fn viewer_config(settings: &HubSettings, spec: &DatasetSpec, split: &str) -> HubResult<String> {
    if let Some(config) = &spec.config {
        return Ok(config.clone());
    }
    viewer_splits(settings, &spec.repo)?
        .into_iter()
        .find(|s| s.split == split)
        .map(|s| s.config)
        .ok_or_else(|| HubError::NotFound {
            what: format!("split {split:?} of {}", spec.repo),
            url: format!("{}/splits", settings.viewer_url),
        })
}

/// First `n` rows of a split: from the viewer, else from its downloaded parquet.
pub fn first_rows(
    settings: &HubSettings,
    spec: &DatasetSpec,
    split: &str,
    n: usize,
    sink: Option<EventSink>,
) -> HubResult<FirstRows> {
    let viewer = viewer_config(settings, spec, split)
        .and_then(|config| viewer_first_rows(settings, &spec.repo, &config, split));
    let viewer_err = match viewer {
        Ok(mut rows) => {
            rows.rows.truncate(n);
            return Ok(rows);
        }
        Err(err) => err,
    };
    let resolved = super::resolve::resolve_dataset_spec(settings, spec, split, sink)?;
    // Parquet first (read lazily); else the split's first csv/tsv/jsonl file.
    let path = resolved
        .files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "parquet"))
        .or_else(|| resolved.files.first())
        .ok_or_else(|| HubError::Data {
            what: format!("{}:{}/{split}", spec.repo, resolved.config),
            message: format!("viewer unavailable ({viewer_err}) and the split has no data file"),
        })?;
    let (columns, rows) = if path.extension().is_some_and(|e| e == "parquet") {
        read_parquet_rows(path, n)?
    } else {
        read_text_rows(path, n)?
    };
    Ok(FirstRows {
        config: resolved.config.clone(),
        split: split.to_string(),
        columns,
        rows,
        source: RowsSource::Parquet {
            path: path.clone(),
            reason: viewer_err.to_string(),
        },
    })
}

/// The first `n` rows of a csv, tsv or jsonl file as JSON objects (the file is read whole).
fn read_text_rows(path: &Path, n: usize) -> HubResult<(Vec<String>, Vec<Row>)> {
    let data_err = |message: String| HubError::Data {
        what: path.display().to_string(),
        message,
    };
    let source = crate::data::resolve_split(&path.to_string_lossy(), None, "train")
        .map_err(|e| data_err(e.to_string()))?;
    let raw = crate::data::read_split(&source).map_err(|e| data_err(e.to_string()))?;
    let table = raw.table.slice(0, n.min(raw.table.num_rows()));
    record_batch_rows(&table).map_err(data_err)
}

fn record_batch_rows(batch: &arrow::array::RecordBatch) -> Result<(Vec<String>, Vec<Row>), String> {
    let columns = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    let rows = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
    };
    Ok((columns, rows))
}

/// The first `n` rows of a parquet file as JSON objects.
pub fn read_parquet_rows(path: &Path, n: usize) -> HubResult<(Vec<String>, Vec<Row>)> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let data_err = |message: String| HubError::Data {
        what: path.display().to_string(),
        message,
    };
    let file = File::open(path).map_err(|e| HubError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| data_err(format!("not a readable parquet file: {e}")))?;
    let columns: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let reader = builder
        .with_batch_size(n.clamp(1, 1024))
        .with_limit(n)
        .build()
        .map_err(|e| data_err(e.to_string()))?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let mut rows_seen = 0;
    for batch in reader {
        let batch = batch.map_err(|e| data_err(e.to_string()))?;
        rows_seen += batch.num_rows();
        writer.write(&batch).map_err(|e| data_err(e.to_string()))?;
        if rows_seen >= n {
            break;
        }
    }
    writer.finish().map_err(|e| data_err(e.to_string()))?;
    let bytes = writer.into_inner();
    let rows: Vec<Map<String, Value>> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| data_err(e.to_string()))?
    };
    Ok((columns, rows.into_iter().take(n).collect()))
}
