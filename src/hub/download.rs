//! File downloads into the shared cache.
//!
//! hf-hub 1.0 (`HFClientSync`) does the normal download: it writes
//! `blobs/<etag>.incomplete`, renames it, links the snapshot and writes the
//! ref. It cannot resume (it truncates `.incomplete`) and does not check the
//! size, so Wick first asks for the file's metadata itself, resumes partial
//! blobs with HTTP Range (ureq, same layout and lock), and checks the size of
//! every file it hands out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hf_hub::progress::Progress;
use hf_hub::{HFClientSync, HFError};
use url::Url;

use super::cache::{CacheRepo, create_parent};
use super::error::{HubError, HubResult};
use super::http::{Http, header, transport};
use super::id::{RepoId, RepoKind, check_repo_path};
use super::progress::{EventSink, HfProgress, Reporter};
use super::settings::HubSettings;

/// Resume attempts within one call; a cut beyond that keeps the partial file.
const MAX_RESUMES: usize = 3;

/// What a `HEAD` on the resolve URL says about a file.
#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    pub url: String,
    pub etag: String,
    pub commit: String,
    pub size: u64,
}

pub(crate) struct Downloader {
    settings: HubSettings,
    http: Http,
    client: HFClientSync,
    sink: Option<EventSink>,
}

impl Downloader {
    pub fn new(settings: &HubSettings, sink: Option<EventSink>) -> HubResult<Self> {
        let mut builder = hf_hub::HFClient::builder()
            .endpoint(settings.endpoint.clone())
            .cache_dir(settings.hub_cache.clone())
            .retry_max_attempts(2);
        if let Some(token) = &settings.token {
            builder = builder.token(token.clone());
        }
        let client = builder.build_sync().map_err(|e| HubError::Client {
            context: format!("client for {}", settings.endpoint),
            message: e.to_string(),
        })?;
        Ok(Self {
            settings: settings.clone(),
            http: Http::new(settings)?,
            client,
            sink,
        })
    }

    pub fn cache(&self, kind: RepoKind, repo: &RepoId) -> CacheRepo {
        CacheRepo::new(&self.settings.hub_cache, kind, repo)
    }

    /// The local path of `filename` at `revision`, downloading it if needed.
    pub fn file(
        &self,
        kind: RepoKind,
        repo: &RepoId,
        revision: &str,
        filename: &str,
    ) -> HubResult<PathBuf> {
        let repo_name = repo.to_string();
        check_repo_path(&repo_name, filename)?;
        check_repo_path(&repo_name, revision)?;
        let cache = self.cache(kind, repo);
        if self.settings.offline {
            return cache
                .cached_file(revision, filename)
                .ok_or_else(|| HubError::Offline {
                    what: format!("{filename} of {} {repo_name}", kind_name(kind)),
                    cache: cache.root.clone(),
                });
        }
        let reporter = Reporter::new(self.sink.clone(), &repo_name, filename);
        let meta = self.head(kind, repo, revision, filename)?;
        let blob = cache.blob(&meta.etag);
        let incomplete = cache.incomplete(&meta.etag);
        if file_len(&blob) == Some(meta.size) {
            reporter.cache_hit();
            let path = cache.finalize(revision, &meta.commit, filename, &meta.etag)?;
            return self.checked(&cache, path, &meta, filename, &reporter);
        }
        if file_len(&incomplete).unwrap_or(0) == 0 {
            reporter.started(Some(meta.size));
            match self.hf_download(kind, repo, revision, filename, &reporter) {
                Ok(path) => return self.checked(&cache, path, &meta, filename, &reporter),
                Err(err) if file_len(&incomplete).unwrap_or(0) == 0 => {
                    return Err(map_hf_error(err, &repo_name, filename, &meta.url));
                }
                // A cut mid-body leaves a partial blob: continue it below.
                Err(_) => {}
            }
        }
        self.resume(&cache, &meta, filename, &reporter)?;
        let path = cache.finalize(revision, &meta.commit, filename, &meta.etag)?;
        self.checked(&cache, path, &meta, filename, &reporter)
    }

    fn hf_download(
        &self,
        kind: RepoKind,
        repo: &RepoId,
        revision: &str,
        filename: &str,
        reporter: &Arc<Reporter>,
    ) -> Result<PathBuf, HFError> {
        let owner = repo.owner.clone().unwrap_or_default();
        let progress = Progress::new(HfProgress(Arc::clone(reporter)));
        match kind {
            RepoKind::Model => self
                .client
                .model(owner, repo.name.clone())
                .download_file()
                .filename(filename)
                .revision(revision)
                .progress(progress)
                .send(),
            RepoKind::Dataset => self
                .client
                .dataset(owner, repo.name.clone())
                .download_file()
                .filename(filename)
                .revision(revision)
                .progress(progress)
                .send(),
        }
    }

    /// `HEAD` the resolve URL: etag, commit and size, checked for safety.
    pub fn head(
        &self,
        kind: RepoKind,
        repo: &RepoId,
        revision: &str,
        filename: &str,
    ) -> HubResult<FileMeta> {
        let url = resolve_url(&self.settings.endpoint, kind, repo, revision, filename)?;
        let what = format!("{filename} in {} {repo}", kind_name(kind));
        let headers = [("Accept-Encoding", "identity".to_string())];
        let (final_url, mut response) = self.http.send(true, &url, &headers, false)?;
        let status = response.status();
        if !status.is_success() && !status.is_redirection() {
            // 401/403 are about the repo (gated/private), not the file.
            let subject = match status.as_u16() {
                401 | 403 => repo.to_string(),
                _ => what.clone(),
            };
            super::http::check_status(&mut response, &final_url, &subject)?;
        }
        let h = response.headers();
        let bad = |message: &str| HubError::BadResponse {
            url: final_url.clone(),
            message: format!("{message} for {what}"),
        };
        let etag = header(h, "x-linked-etag")
            .or_else(|| header(h, "etag"))
            .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            .ok_or_else(|| bad("no ETag"))?;
        let commit = header(h, "x-repo-commit").ok_or_else(|| bad("no X-Repo-Commit"))?;
        let size = header(h, "x-linked-size")
            .or_else(|| header(h, "content-length"))
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| bad("no file size"))?;
        for (label, value) in [("ETag", &etag), ("X-Repo-Commit", &commit)] {
            if !is_safe_token(value) {
                return Err(HubError::UnsafePath {
                    repo: repo.to_string(),
                    name: value.clone(),
                    reason: if label == "ETag" {
                        "bad ETag"
                    } else {
                        "bad X-Repo-Commit"
                    },
                });
            }
        }
        Ok(FileMeta {
            url,
            etag,
            commit,
            size,
        })
    }

    /// Continue `blobs/<etag>.incomplete` with Range requests, then rename it.
    fn resume(
        &self,
        cache: &CacheRepo,
        meta: &FileMeta,
        filename: &str,
        reporter: &Reporter,
    ) -> HubResult<()> {
        let _lock = cache.lock(&meta.etag)?;
        let blob = cache.blob(&meta.etag);
        if file_len(&blob) == Some(meta.size) {
            // Another process finished it while we waited for the lock.
            return Ok(());
        }
        let partial = cache.incomplete(&meta.etag);
        create_parent(&partial)?;
        for _ in 0..MAX_RESUMES {
            let have = file_len(&partial).unwrap_or(0);
            if have == meta.size {
                break;
            }
            let from = if have > meta.size { 0 } else { have };
            reporter.resumed(from, meta.size);
            // A cut here is not fatal: the next attempt starts where this one stopped.
            let _ = self.fetch_range(meta, &partial, from, filename, reporter);
        }
        let have = file_len(&partial).unwrap_or(0);
        if have != meta.size {
            return Err(HubError::Incomplete {
                file: filename.to_string(),
                url: meta.url.clone(),
                got: have,
                expected: meta.size,
            });
        }
        std::fs::rename(&partial, &blob).map_err(|e| HubError::io(&blob, e))
    }

    fn fetch_range(
        &self,
        meta: &FileMeta,
        partial: &Path,
        from: u64,
        filename: &str,
        reporter: &Reporter,
    ) -> HubResult<()> {
        let headers = [
            ("Range", format!("bytes={from}-")),
            ("Accept-Encoding", "identity".to_string()),
        ];
        let (url, mut response) = self.http.send(false, &meta.url, &headers, true)?;
        let status = response.status().as_u16();
        let start = match status {
            206 if content_range_start(response.headers()) == Some(from) => from,
            200 => 0,
            _ => {
                super::http::check_status(&mut response, &url, filename)?;
                return Err(HubError::BadResponse {
                    url,
                    message: format!("HTTP {status} without the requested range"),
                });
            }
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(start == 0)
            .append(start > 0)
            .open(partial)
            .map_err(|e| HubError::io(partial, e))?;
        let mut reader = response.body_mut().as_reader();
        let mut have = start;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|e| transport(&url, e))?;
            if n == 0 {
                break;
            }
            let take = n.min(meta.size.saturating_sub(have) as usize);
            file.write_all(&buf[..take])
                .map_err(|e| HubError::io(partial, e))?;
            have += take as u64;
            reporter.progress(have, Some(meta.size), false);
            if have >= meta.size {
                break;
            }
        }
        file.sync_all().map_err(|e| HubError::io(partial, e))
    }

    /// Hand out a file only if its size is the server's; else drop it.
    fn checked(
        &self,
        cache: &CacheRepo,
        path: PathBuf,
        meta: &FileMeta,
        filename: &str,
        reporter: &Reporter,
    ) -> HubResult<PathBuf> {
        let actual = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if actual != meta.size {
            let _ = std::fs::remove_file(cache.blob(&meta.etag));
            let _ = std::fs::remove_file(&path);
            return Err(HubError::SizeMismatch {
                file: filename.to_string(),
                actual,
                expected: meta.size,
            });
        }
        reporter.progress(meta.size, Some(meta.size), true);
        reporter.finished(&path);
        Ok(path)
    }
}

pub(crate) fn kind_name(kind: RepoKind) -> &'static str {
    match kind {
        RepoKind::Model => "model",
        RepoKind::Dataset => "dataset",
    }
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// ETags and commits become file names: allow only a plain token.
fn is_safe_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && !value.contains("..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn content_range_start(headers: &ureq::http::HeaderMap) -> Option<u64> {
    let value = header(headers, "content-range")?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// `{endpoint}/{datasets/}{repo}/resolve/{revision}/{file}`, each part escaped.
pub(crate) fn resolve_url(
    endpoint: &str,
    kind: RepoKind,
    repo: &RepoId,
    revision: &str,
    filename: &str,
) -> HubResult<String> {
    let mut url = Url::parse(endpoint).map_err(|e| HubError::BadResponse {
        url: endpoint.to_string(),
        message: format!("invalid endpoint: {e}"),
    })?;
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| HubError::BadResponse {
                url: endpoint.to_string(),
                message: "endpoint cannot have a path".to_string(),
            })?;
        segments.pop_if_empty();
        if kind == RepoKind::Dataset {
            segments.push("datasets");
        }
        if let Some(owner) = &repo.owner {
            segments.push(owner);
        }
        segments.push(&repo.name).push("resolve").push(revision);
        segments.extend(filename.split('/'));
    }
    Ok(url.into())
}

fn map_hf_error(err: HFError, repo: &str, filename: &str, url: &str) -> HubError {
    match err {
        HFError::AuthRequired { .. } => HubError::Unauthorized {
            repo: repo.to_string(),
            url: url.to_string(),
            status: 401,
        },
        HFError::Forbidden { .. } => HubError::Unauthorized {
            repo: repo.to_string(),
            url: url.to_string(),
            status: 403,
        },
        HFError::RepoNotFound { .. } | HFError::EntryNotFound { .. } => HubError::NotFound {
            what: format!("{filename} in {repo}"),
            url: url.to_string(),
        },
        other => HubError::Client {
            context: format!("downloading {filename} from {url}"),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_urls_escape_revision_and_keep_file_path() {
        let repo = RepoId::parse("nyu-mll/glue").unwrap();
        let url = resolve_url(
            "http://127.0.0.1:9",
            RepoKind::Dataset,
            &repo,
            "refs/convert/parquet",
            "mrpc/train/0000.parquet",
        )
        .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:9/datasets/nyu-mll/glue/resolve/refs%2Fconvert%2Fparquet/mrpc/train/0000.parquet"
        );
        let model = RepoId::parse("o/m").unwrap();
        let url =
            resolve_url("https://h/", RepoKind::Model, &model, "main", "config.json").unwrap();
        assert_eq!(url, "https://h/o/m/resolve/main/config.json");
    }

    #[test]
    fn etags_must_be_plain_tokens() {
        assert!(is_safe_token("a3f5e0c2d1"));
        for bad in ["", "../x", "a/b", ".hidden", "a\\b", "x..y"] {
            assert!(!is_safe_token(bad), "{bad}");
        }
    }
}
