//! The mirror's view of a Hub-layout folder: `models/owner/name/...` and
//! `datasets/owner/name/...`, scanned once at start. Files are served only
//! from this index, never by joining request paths to the disk, and only
//! what resolves inside the root is indexed: a link to `/etc` is not served.
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

/// Scan `root` for repos; unreadable entries, and links that lead out of
/// `root`, are skipped, not fatal.
pub(crate) fn scan(root: &Path) -> std::io::Result<Vec<MirrorRepo>> {
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a folder", root.display()),
        ));
    }
    let root = &root.canonicalize()?;
    let mut repos = Vec::new();
    for kind in [RepoKind::Model, RepoKind::Dataset] {
        let kind_dir = root.join(kind.plural());
        for owner in sorted_dirs(root, &kind_dir) {
            for name in sorted_dirs(root, &owner) {
                if let Some(repo) = scan_repo(root, kind, &owner, &name) {
                    repos.push(repo);
                }
            }
        }
    }
    Ok(repos)
}

/// `path` with every link followed, if that stays inside `root` (canonical):
/// what may be listed or opened.
pub(crate) fn inside_path(root: &Path, path: &Path) -> Option<PathBuf> {
    path.canonicalize()
        .ok()
        .filter(|real| real.starts_with(root))
}

fn read_inside(root: &Path, path: &Path) -> Option<String> {
    std::fs::read_to_string(inside_path(root, path)?).ok()
}

fn sorted_dirs(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !is_hidden(p) && inside_path(root, p).is_some())
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

fn scan_repo(root: &Path, kind: RepoKind, owner: &Path, name: &Path) -> Option<MirrorRepo> {
    let id = format!(
        "{}/{}",
        owner.file_name()?.to_str()?,
        name.file_name()?.to_str()?
    );
    let meta = read_inside(root, &name.join(".mirror.json"))
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let card = read_inside(root, &name.join("README.md")).and_then(|t| front_matter(&t));
    let mut revisions = BTreeMap::new();
    revisions.insert("main".to_string(), scan_revision(root, name));
    let parquet = name.join(PARQUET_DIR);
    if parquet.is_dir() {
        revisions.insert(
            "refs/convert/parquet".to_string(),
            scan_revision(root, &parquet),
        );
    }
    Some(MirrorRepo {
        kind,
        id,
        meta,
        card,
        revisions,
    })
}

fn scan_revision(root: &Path, dir: &Path) -> Revision {
    let files: BTreeMap<String, MirrorFile> = files_inside(root, dir)
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

/// Every visible regular file below `dir` that resolves inside `root`. Links to
/// folders are followed only inside `root`, and each folder once, so a link to
/// a parent cannot loop and a link to `/` is not walked.
fn files_inside(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        if !inside_path(root, &current).is_some_and(|real| seen.insert(real)) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for path in entries.flatten().map(|entry| entry.path()) {
            if is_hidden(&path) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() && inside_path(root, &path).is_some() {
                out.push(path);
            }
        }
    }
    out
}

fn index_file(dir: &Path, path: &Path) -> Option<MirrorFile> {
    let rel = path.strip_prefix(dir).ok()?;
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
