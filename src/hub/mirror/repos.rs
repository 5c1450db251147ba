//! The mirror's view of a Hub-layout folder: `models/owner/name/...` and
//! `datasets/owner/name/...`, scanned once at start. Files are served only
//! from this index, never by joining request paths to the disk.
//!
//! Optional per repo: `.mirror.json` (`downloads`, `likes`, `tags`, `gated`,
//! `private`, `lastModified`) and `.refs/convert/parquet/` (that branch).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::hub::card::front_matter;
use crate::hub::id::RepoKind;

pub(crate) const PARQUET_DIR: &str = ".refs/convert/parquet";

#[derive(Debug, Clone)]
pub(crate) struct MirrorFile {
    pub path: String,
    pub size: u64,
    pub etag: String,
    pub disk: PathBuf,
}

#[derive(Debug, Clone)]
pub(crate) struct Revision {
    pub commit: String,
    pub files: BTreeMap<String, MirrorFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepoMeta {
    #[serde(default)]
    pub downloads: u64,
    #[serde(default)]
    pub likes: u64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub gated: bool,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub last_modified: Option<String>,
    #[serde(default)]
    pub trending_score: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct MirrorRepo {
    pub kind: RepoKind,
    pub id: String,
    pub meta: RepoMeta,
    pub card: Option<Value>,
    /// `main` and, when present, `refs/convert/parquet`.
    pub revisions: BTreeMap<String, Revision>,
}

impl MirrorRepo {
    pub fn main(&self) -> &Revision {
        &self.revisions["main"]
    }

    /// A revision by branch name (`main`, `refs/convert/parquet`) or by commit id, as the
    /// Python clients ask for files at the commit a `HEAD` on `main` told them.
    pub fn revision(&self, name: &str) -> Option<&Revision> {
        self.revisions
            .get(name)
            .or_else(|| self.revisions.values().find(|r| r.commit == name))
    }

    pub fn tags(&self) -> Vec<String> {
        let mut tags = self.meta.tags.clone();
        if let Some(card) = &self.card {
            for key in ["tags", "task_categories", "pipeline_tag", "language"] {
                match card.get(key) {
                    Some(Value::String(s)) => tags.push(s.clone()),
                    Some(Value::Sequence(items)) => {
                        tags.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)))
                    }
                    _ => {}
                }
            }
        }
        tags.sort();
        tags.dedup();
        tags
    }

    pub fn last_modified(&self) -> String {
        self.meta
            .last_modified
            .clone()
            .unwrap_or_else(|| "2024-01-01T00:00:00.000Z".to_string())
    }
}

/// Scan `root` for repos; unreadable entries are skipped, not fatal.
pub(crate) fn scan(root: &Path) -> std::io::Result<Vec<MirrorRepo>> {
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a folder", root.display()),
        ));
    }
    let mut repos = Vec::new();
    for kind in [RepoKind::Model, RepoKind::Dataset] {
        let kind_dir = root.join(kind.plural());
        for owner in sorted_dirs(&kind_dir) {
            for name in sorted_dirs(&owner) {
                if let Some(repo) = scan_repo(kind, &owner, &name) {
                    repos.push(repo);
                }
            }
        }
    }
    Ok(repos)
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !is_hidden(p))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'))
}

fn scan_repo(kind: RepoKind, owner: &Path, name: &Path) -> Option<MirrorRepo> {
    let id = format!(
        "{}/{}",
        owner.file_name()?.to_str()?,
        name.file_name()?.to_str()?
    );
    let meta = std::fs::read_to_string(name.join(".mirror.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let card = std::fs::read_to_string(name.join("README.md"))
        .ok()
        .and_then(|t| front_matter(&t));
    let mut revisions = BTreeMap::new();
    revisions.insert("main".to_string(), scan_revision(name));
    let parquet = name.join(PARQUET_DIR);
    if parquet.is_dir() {
        revisions.insert("refs/convert/parquet".to_string(), scan_revision(&parquet));
    }
    Some(MirrorRepo {
        kind,
        id,
        meta,
        card,
        revisions,
    })
}

fn scan_revision(dir: &Path) -> Revision {
    let files: BTreeMap<String, MirrorFile> = crate::hub::cache::walk_files(dir, is_hidden)
        .iter()
        .filter_map(|path| index_file(dir, path))
        .map(|file| (file.path.clone(), file))
        .collect();
    // A stable fake commit: same content, same id; 40 hex like git.
    let mut hasher = blake3::Hasher::new();
    for file in files.values() {
        hasher.update(file.path.as_bytes());
        hasher.update(file.etag.as_bytes());
    }
    let commit = hasher.finalize().to_hex()[..40].to_string();
    Revision { commit, files }
}

fn index_file(root: &Path, path: &Path) -> Option<MirrorFile> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    let mut hasher = blake3::Hasher::new();
    let file = std::fs::File::open(path).ok()?;
    hasher.update_reader(file).ok()?;
    Some(MirrorFile {
        path: parts.join("/"),
        size: std::fs::metadata(path).ok()?.len(),
        etag: hasher.finalize().to_hex().to_string(),
        disk: path.to_path_buf(),
    })
}
