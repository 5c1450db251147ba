//! The huggingface_hub cache layout, shared with Python:
//! `<hub_cache>/<kind>s--owner--name/{blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/<revision>}`
//! and `<hub_cache>/.locks/<folder>/<etag>.lock`.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::{HubError, HubResult};
use super::id::{RepoId, RepoKind};

pub(crate) struct CacheRepo {
    pub root: PathBuf,
    locks: PathBuf,
}

impl CacheRepo {
    pub fn new(hub_cache: &Path, kind: RepoKind, repo: &RepoId) -> Self {
        let folder = repo.cache_folder(kind);
        Self {
            root: hub_cache.join(&folder),
            locks: hub_cache.join(".locks").join(folder),
        }
    }

    pub fn blob(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(etag)
    }

    /// Partial downloads live next to the blob and never count as cached.
    pub fn incomplete(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(format!("{etag}.incomplete"))
    }

    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    pub fn read_ref(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_string());
        }
        let text = std::fs::read_to_string(self.root.join("refs").join(revision)).ok()?;
        // The ref names a snapshot folder: a commit id, nothing that could climb out.
        let commit = text.trim();
        is_commit_hash(commit).then(|| commit.to_string())
    }

    pub fn write_ref(&self, revision: &str, commit: &str) -> HubResult<()> {
        if is_commit_hash(revision) {
            return Ok(());
        }
        let path = self.root.join("refs").join(revision);
        create_parent(&path)?;
        std::fs::write(&path, commit).map_err(|e| HubError::io(&path, e))
    }

    /// The snapshot of `revision`, if the cache knows it.
    pub fn snapshot_of(&self, revision: &str) -> Option<PathBuf> {
        let dir = self.snapshot_dir(&self.read_ref(revision)?);
        dir.is_dir().then_some(dir)
    }

    /// A complete cached file (a dangling link does not count).
    pub fn cached_file(&self, revision: &str, filename: &str) -> Option<PathBuf> {
        let path = self.snapshot_of(revision)?.join(filename);
        path.is_file().then_some(path)
    }

    /// Point `snapshots/<commit>/<filename>` at the blob with a relative link,
    /// as huggingface_hub does, and record `refs/<revision>`.
    pub fn finalize(
        &self,
        revision: &str,
        commit: &str,
        filename: &str,
        etag: &str,
    ) -> HubResult<PathBuf> {
        self.write_ref(revision, commit)?;
        let pointer = self.snapshot_dir(commit).join(filename);
        create_parent(&pointer)?;
        let depth = filename.split('/').count() + 1; // snapshots/<commit>/<dirs...>
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(etag);
        let _ = std::fs::remove_file(&pointer);
        link_or_copy(&target, &self.blob(etag), &pointer)?;
        Ok(pointer)
    }

    /// The same per-blob lock file huggingface_hub takes.
    pub fn lock(&self, etag: &str) -> HubResult<File> {
        let path = self.locks.join(format!("{etag}.lock"));
        create_parent(&path)?;
        let file = File::create(&path).map_err(|e| HubError::io(&path, e))?;
        file.lock().map_err(|e| HubError::io(&path, e))?;
        Ok(file)
    }
}

#[cfg(unix)]
fn link_or_copy(relative: &Path, _blob: &Path, pointer: &Path) -> HubResult<()> {
    std::os::unix::fs::symlink(relative, pointer).map_err(|e| HubError::io(pointer, e))
}

#[cfg(not(unix))]
fn link_or_copy(_relative: &Path, blob: &Path, pointer: &Path) -> HubResult<()> {
    // Windows needs privileges for symlinks; huggingface_hub copies too.
    std::fs::copy(blob, pointer)
        .map(|_| ())
        .map_err(|e| HubError::io(pointer, e))
}

pub(crate) fn create_parent(path: &Path) -> HubResult<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e)),
        None => Ok(()),
    }
}

pub(crate) fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())
}

/// Every file under a snapshot, as repo-relative `a/b.ext` names.
pub(crate) fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk_files(dir)
        .iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(dir).ok()?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            Some(parts.join("/"))
        })
        .collect();
    out.sort();
    out
}

/// Every regular file below `dir`. Unreadable folders are passed over: callers
/// list what is there.
pub(crate) fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for path in entries.flatten().map(|entry| entry.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_followed_only_to_commit_ids() {
        let dir = tempfile::tempdir().unwrap();
        let repo = CacheRepo::new(dir.path(), RepoKind::Model, &RepoId::parse("o/m").unwrap());
        let commit = "0123456789abcdef0123456789abcdef01234567";
        repo.write_ref("main", commit).unwrap();
        assert_eq!(repo.read_ref("main").as_deref(), Some(commit));
        for bad in ["../../../x", "..", "abc", "main", ""] {
            std::fs::write(repo.root.join("refs/main"), bad).unwrap();
            assert_eq!(repo.read_ref("main"), None, "{bad:?}");
        }
    }
}
