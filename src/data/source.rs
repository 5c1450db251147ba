//! Which files make up a split: a single file, a glob, or a Hub-layout dataset folder.

use std::path::{Path, PathBuf};

use super::card::{self, Feature};
use super::error::{DataError, Result};

/// The file formats Wick reads, each through arrow's own reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Csv,
    Tsv,
    JsonLines,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("tsv") => Ok(Format::Tsv),
            Some("jsonl" | "json") => Ok(Format::JsonLines),
            _ => Err(DataError::UnknownFormat { path: path.into() }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::JsonLines => "json-lines",
        }
    }
}

/// The files of one split, in a stable order, and what the card says about them.
#[derive(Debug, Clone)]
pub struct SplitSource {
    pub files: Vec<PathBuf>,
    pub split: String,
    pub config: Option<String>,
    /// Features from the dataset card's `dataset_info`, when there is a card.
    pub card_features: Option<Vec<Feature>>,
}

impl SplitSource {
    /// A short human description, for messages.
    pub fn describe(&self) -> String {
        match self.files.as_slice() {
            [one] => one.display().to_string(),
            many => format!("{} files in {}", many.len(), common_parent(many)),
        }
    }
}

fn common_parent(files: &[PathBuf]) -> String {
    files
        .first()
        .and_then(|f| f.parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Resolves `data` (a file, a glob, or a dataset folder) to the files of `split`.
///
/// For a folder, the dataset card's `configs:` decide; without them, the Hub's file naming
/// (`{config}/{split}-NNNNN-of-NNNNN.parquet`, `data/{split}-*`) does. A single file or a
/// glob is the split itself, whatever `split` says.
pub fn resolve_split(data: &str, config: Option<&str>, split: &str) -> Result<SplitSource> {
    let path = Path::new(data);
    if path.is_dir() {
        return resolve_folder(path, config, split);
    }
    let files = if is_glob(data) {
        expand(data)?
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        return Err(DataError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        ));
    };
    for file in &files {
        Format::from_path(file)?;
    }
    Ok(SplitSource {
        files,
        split: split.to_string(),
        config: config.map(str::to_string),
        card_features: None,
    })
}

/// A split whose files are already known, described by the card in `dir` (when it has one).
pub fn split_from_files(
    files: &[PathBuf],
    dir: &Path,
    config: Option<&str>,
    split: &str,
) -> Result<SplitSource> {
    for file in files {
        Format::from_path(file)?;
    }
    let card = if dir.is_dir() {
        card::read_dir(dir)?
    } else {
        card::CardData::default()
    };
    Ok(SplitSource {
        files: files.to_vec(),
        split: split.to_string(),
        config: config.map(str::to_string),
        card_features: card
            .features_of(config.unwrap_or("default"))
            .map(<[_]>::to_vec),
    })
}

/// The configs of a dataset folder and the splits of each, for pickers and messages.
pub fn list_configs(dir: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let card = card::read_dir(dir)?;
    if !card.configs.is_empty() {
        return Ok(card
            .configs
            .iter()
            .map(|c| {
                let splits = c.data_files.iter().map(|(s, _)| s.clone()).collect();
                (c.name.clone(), splits)
            })
            .collect());
    }
    let mut configs = Vec::new();
    for entry in read_dir_sorted(dir)? {
        if entry.is_dir() {
            let splits = splits_in(&entry)?;
            if !splits.is_empty() {
                let name = entry.file_name().unwrap_or_default().to_string_lossy();
                configs.push((name.into_owned(), splits));
            }
        }
    }
    Ok(configs)
}

fn resolve_folder(dir: &Path, config: Option<&str>, split: &str) -> Result<SplitSource> {
    let card = card::read_dir(dir)?;
    let layout_err = |message: String| DataError::Layout {
        path: dir.to_path_buf(),
        message,
    };
    let (config_name, files) = if card.configs.is_empty() {
        by_file_naming(dir, config, split)?
    } else {
        let chosen = match config {
            Some(name) => card.config(Some(name)).ok_or_else(|| {
                layout_err(format!(
                    "no config '{name}' in the dataset card (configs: {})",
                    names(card.configs.iter().map(|c| c.name.as_str()))
                ))
            })?,
            None => match card.configs.as_slice() {
                [only] => only,
                many => many.iter().find(|c| c.default).ok_or_else(|| {
                    layout_err(format!(
                        "this dataset has several configs; choose one of {}",
                        names(many.iter().map(|c| c.name.as_str()))
                    ))
                })?,
            },
        };
        let patterns = chosen
            .data_files
            .iter()
            .find(|(s, _)| s == split)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                layout_err(format!(
                    "config '{}' has no split '{split}' (splits: {})",
                    chosen.name,
                    names(chosen.data_files.iter().map(|(s, _)| s.as_str()))
                ))
            })?;
        let mut files = Vec::new();
        for pattern in patterns {
            files.extend(expand(&dir.join(pattern).to_string_lossy())?);
        }
        (chosen.name.clone(), files)
    };
    for file in &files {
        Format::from_path(file)?;
    }
    Ok(SplitSource {
        files,
        split: split.to_string(),
        card_features: card.features_of(&config_name).map(<[_]>::to_vec),
        config: Some(config_name),
    })
}

/// The Hub's convention without a card: `{config}/{split}-*` or `data/{split}-*`.
fn by_file_naming(dir: &Path, config: Option<&str>, split: &str) -> Result<(String, Vec<PathBuf>)> {
    let candidates: Vec<(String, PathBuf)> = match config {
        Some(c) => vec![(c.to_string(), dir.join(c))],
        None => {
            let mut folders: Vec<_> = read_dir_sorted(dir)?
                .into_iter()
                .filter(|p| p.is_dir())
                .map(|p| {
                    (
                        p.file_name().unwrap_or_default().to_string_lossy().into(),
                        p,
                    )
                })
                .collect();
            // `data/` is the conventional home of a config-less dataset; try it first.
            folders.sort_by_key(|(name, _)| name != "data");
            folders
        }
    };
    let mut found = Vec::new();
    for (name, folder) in &candidates {
        let files = files_of_split(folder, split)?;
        if !files.is_empty() {
            found.push((name.clone(), files));
        }
    }
    let available = || {
        list_configs(dir)
            .map(|configs| {
                names(
                    configs
                        .iter()
                        .map(|(c, splits)| format!("{c}: {}", splits.join("/"))),
                )
            })
            .unwrap_or_default()
    };
    match found.len() {
        0 => Err(DataError::Layout {
            path: dir.into(),
            message: format!(
                "no files for split '{split}'{} (found: {})",
                config
                    .map(|c| format!(" of config '{c}'"))
                    .unwrap_or_default(),
                available()
            ),
        }),
        1 => Ok(found.remove(0)),
        _ if found[0].0 == "data" => Ok(found.remove(0)),
        _ => Err(DataError::Layout {
            path: dir.into(),
            message: format!(
                "several configs have a '{split}' split; choose one of {}",
                available()
            ),
        }),
    }
}

/// Files named `{split}-*` or `{split}.*` directly in `folder`.
fn files_of_split(folder: &Path, split: &str) -> Result<Vec<PathBuf>> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    Ok(read_dir_sorted(folder)?
        .into_iter()
        .filter(|p| p.is_file() && split_of(p).as_deref() == Some(split))
        .collect())
}

fn splits_in(folder: &Path) -> Result<Vec<String>> {
    let mut splits: Vec<String> = read_dir_sorted(folder)?
        .iter()
        .filter(|p| p.is_file() && Format::from_path(p).is_ok())
        .filter_map(|p| split_of(p))
        .collect();
    splits.dedup();
    Ok(splits)
}

/// `train-00000-of-00002.parquet` and `train.csv` are both the `train` split.
fn split_of(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    Some(stem.split('-').next().unwrap_or(stem).to_string())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| DataError::io(dir, e))?;
    entries.sort();
    Ok(entries)
}

fn expand(pattern: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob(pattern)
        .map_err(|err| DataError::Invalid(format!("bad glob {pattern}: {err}")))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|err| DataError::io(err.path().to_path_buf(), err.into()))?;
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::NoFiles {
            pattern: pattern.to_string(),
        });
    }
    Ok(files)
}

fn names<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let list: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}
