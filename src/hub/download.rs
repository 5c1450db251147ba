//! File downloads into the shared cache, in huggingface_hub's layout.
//!
//! One `HEAD` on the resolve URL gives the file's ETag, commit and size. The
//! ETag and the commit become path components (`blobs/<etag>`,
//! `snapshots/<commit>/`, `refs/<revision>`), so they are checked first, and no
//! later response's headers are ever read for a path. The body then comes with
//! plain GETs into `blobs/<etag>.incomplete` under the per-blob lock (from byte
//! 0, or continued with HTTP Range after a cut), is checked for size and
//! renamed; the snapshot link and the ref follow.
//!
//! Wick used hf-hub for the body once; it sends its own second `HEAD` and built
//! cache paths from that answer unchecked, so a hostile server could write
//! anywhere (issue 17).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use url::Url;

use super::cache::{CacheRepo, create_parent, is_commit_hash};
use super::error::{HubError, HubResult};
use super::http::{Http, header, transport};
use super::id::{RepoId, RepoKind, check_repo_path};
use super::progress::{EventSink, Reporter};
use super::settings::HubSettings;

/// Transfer attempts within one call; a cut beyond that keeps the partial file.
const MAX_ATTEMPTS: usize = 4;

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
    sink: Option<EventSink>,
}

impl Downloader {
    pub fn new(settings: &HubSettings, sink: Option<EventSink>) -> HubResult<Self> {
        Ok(Self {
            settings: settings.clone(),
            http: Http::new(settings)?,
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
        if file_len(&cache.blob(&meta.etag)) == Some(meta.size) {
            reporter.cache_hit();
        } else {
            if file_len(&cache.incomplete(&meta.etag)).unwrap_or(0) == 0 {
                reporter.started(Some(meta.size));
            }
            self.fetch_blob(&cache, &meta, filename, &reporter)?;
        }
        let path = cache.finalize(revision, &meta.commit, filename, &meta.etag)?;
        self.checked(&cache, path, &meta, filename, &reporter)
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
        let unsafe_name = |name: &str, reason: &'static str| HubError::UnsafePath {
            repo: repo.to_string(),
            name: name.to_string(),
            reason,
        };
        if !is_safe_etag(&etag) {
            return Err(unsafe_name(
                &etag,
                "an ETag must be a plain hex or quoted token",
            ));
        }
        if !is_commit_hash(&commit) {
            return Err(unsafe_name(&commit, "X-Repo-Commit must be 40 hex digits"));
        }
        Ok(FileMeta {
            url,
            etag,
            commit,
            size,
        })
    }

    /// Fill `blobs/<etag>.incomplete` (from byte 0, or continuing a partial
    /// file with Range requests), then rename it to the blob.
    fn fetch_blob(
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
        if meta.size == 0 {
            // Nothing to fetch, but an empty file is still a blob.
            std::fs::File::create(&partial).map_err(|e| HubError::io(&partial, e))?;
        }
        let mut last_cut = None;
        for _ in 0..MAX_ATTEMPTS {
            let have = file_len(&partial).unwrap_or(0);
            if have == meta.size {
                break;
            }
            let from = if have > meta.size { 0 } else { have };
            if from > 0 {
                reporter.resumed(from, meta.size);
            } else {
                reporter.restart_at(0);
            }
            match self.fetch_range(meta, &partial, from, filename, reporter) {
                Ok(()) => {}
                // A cut is not fatal: the next attempt starts where this one stopped.
                Err(cut @ (HubError::Transport { .. } | HubError::Unreachable { .. })) => {
                    last_cut = Some(cut)
                }
                Err(HubError::Status { status, url, body }) if status >= 500 => {
                    last_cut = Some(HubError::Status { status, url, body });
                }
                Err(other) => return Err(other),
            }
        }
        let have = file_len(&partial).unwrap_or(0);
        if have != meta.size {
            return Err(match last_cut {
                // Nothing arrived at all: the transport error says more than "0 bytes".
                Some(err) if have == 0 => err,
                _ => HubError::Incomplete {
                    file: filename.to_string(),
                    url: meta.url.clone(),
                    got: have,
                    expected: meta.size,
                },
            });
        }
        std::fs::rename(&partial, &blob).map_err(|e| HubError::io(&blob, e))
    }

    /// One GET of the body from byte `from` (a Range request unless 0),
    /// written to `partial`. A connection that closes early is a `Transport`
    /// error; a complete answer that is shorter than the `HEAD` said is a
    /// changed file or a broken proxy, and the partial file is dropped.
    fn fetch_range(
        &self,
        meta: &FileMeta,
        partial: &Path,
        from: u64,
        filename: &str,
        reporter: &Reporter,
    ) -> HubResult<()> {
        let mut headers = vec![("Accept-Encoding", "identity".to_string())];
        if from > 0 {
            headers.push(("Range", format!("bytes={from}-")));
        }
        let (url, mut response) = self.http.send(false, &meta.url, &headers, true)?;
        let status = response.status().as_u16();
        let start = match status {
            200 => 0,
            206 if from > 0 && content_range_start(response.headers()) == Some(from) => from,
            _ => {
                super::http::check_status(&mut response, &url, filename)?;
                return Err(HubError::BadResponse {
                    url,
                    message: format!("HTTP {status} without the requested range"),
                });
            }
        };
        let body_len =
            header(response.headers(), "content-length").and_then(|s| s.trim().parse::<u64>().ok());
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
        while have < meta.size {
            let n = reader.read(&mut buf).map_err(|e| transport(&url, e))?;
            if n == 0 {
                break;
            }
            let take = n.min((meta.size - have) as usize);
            file.write_all(&buf[..take])
                .map_err(|e| HubError::io(partial, e))?;
            have += take as u64;
            reporter.progress(have, Some(meta.size), false);
        }
        file.sync_all().map_err(|e| HubError::io(partial, e))?;
        if have < meta.size {
            if body_len.is_some_and(|len| start + len == have) {
                let _ = std::fs::remove_file(partial);
                return Err(HubError::SizeMismatch {
                    file: filename.to_string(),
                    actual: have,
                    expected: meta.size,
                });
            }
            return Err(transport(
                &url,
                format!("connection closed at byte {have} of {}", meta.size),
            ));
        }
        Ok(())
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

/// An ETag becomes a file name (`blobs/<etag>`): allow only a plain token of
/// letters, digits, `-` and `_` (hex digests, quoted or not, pass).
fn is_safe_etag(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
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
        assert!(is_safe_etag("a3f5e0c2d1"));
        assert!(is_safe_etag(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        ));
        assert!(is_safe_etag("abc-12_x"));
        for bad in [
            "", "../x", "a/b", ".hidden", "a\\b", "x..y", "a.b", "..", "a b", "a\0b",
        ] {
            assert!(!is_safe_etag(bad), "{bad}");
        }
        assert!(!is_safe_etag(&"a".repeat(129)));
    }
}
