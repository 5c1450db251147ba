//! Repo details from `/api/{models,datasets}/{id}`: files with sizes, card
//! data (configs, dataset_info, licence), gating. Offline, from the cache.

use serde::{Deserialize, Serialize};

use super::cache::{CacheRepo, snapshot_files};
use super::card::CardData;
use super::error::{HubError, HubResult};
use super::http::Http;
use super::id::{RepoId, RepoKind};
use super::search::is_gated;
use super::settings::HubSettings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFile {
    pub path: String,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoDetails {
    pub id: String,
    pub kind: RepoKind,
    /// Commit of the revision asked for.
    pub sha: Option<String>,
    pub gated: bool,
    pub private: bool,
    pub downloads: u64,
    pub likes: u64,
    pub tags: Vec<String>,
    pub last_modified: Option<String>,
    pub files: Vec<RepoFile>,
    pub card: CardData,
    /// True when built from the local cache (offline), not the API.
    pub from_cache: bool,
}

impl RepoDetails {
    pub fn has_file(&self, path: &str) -> bool {
        self.files.iter().any(|f| f.path == path)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiRepo {
    id: Option<String>,
    sha: Option<String>,
    #[serde(default)]
    gated: Option<serde_json::Value>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    downloads: Option<u64>,
    #[serde(default)]
    likes: Option<u64>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    siblings: Option<Vec<ApiSibling>>,
    #[serde(default)]
    card_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ApiSibling {
    rfilename: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    lfs: Option<ApiLfs>,
}

#[derive(Deserialize)]
struct ApiLfs {
    size: Option<u64>,
}

/// Details of a repo at `revision` (`main` unless you need another branch).
pub fn repo_details(
    settings: &HubSettings,
    kind: RepoKind,
    repo: &RepoId,
    revision: &str,
) -> HubResult<RepoDetails> {
    if settings.offline {
        return cached_details(settings, kind, repo, revision);
    }
    let mut url = url::Url::parse(&settings.endpoint).map_err(|e| HubError::BadResponse {
        url: settings.endpoint.clone(),
        message: format!("invalid endpoint: {e}"),
    })?;
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("api").push(kind.plural());
        if let Some(owner) = &repo.owner {
            segments.push(owner);
        }
        segments.push(&repo.name);
        if revision != "main" {
            segments.push("revision").push(revision);
        }
    }
    url.query_pairs_mut().append_pair("blobs", "true");
    let (api, _): (ApiRepo, _) = Http::new(settings)?.get_json(
        url.as_str(),
        &format!("{} {repo}", super::download::kind_name(kind)),
    )?;
    let files = api
        .siblings
        .unwrap_or_default()
        .into_iter()
        .map(|s| RepoFile {
            size: s.size.or(s.lfs.and_then(|l| l.size)),
            path: s.rfilename,
        })
        .collect();
    Ok(RepoDetails {
        id: api.id.unwrap_or_else(|| repo.to_string()),
        kind,
        sha: api.sha,
        gated: is_gated(&api.gated),
        private: api.private.unwrap_or(false),
        downloads: api.downloads.unwrap_or(0),
        likes: api.likes.unwrap_or(0),
        tags: api.tags.unwrap_or_default(),
        last_modified: api.last_modified,
        files,
        card: api
            .card_data
            .as_ref()
            .map(CardData::from_json)
            .unwrap_or_default(),
        from_cache: false,
    })
}

/// What the cache knows: the snapshot's files and its README card.
fn cached_details(
    settings: &HubSettings,
    kind: RepoKind,
    repo: &RepoId,
    revision: &str,
) -> HubResult<RepoDetails> {
    let cache = CacheRepo::new(&settings.hub_cache, kind, repo);
    let snapshot = cache
        .snapshot_of(revision)
        .ok_or_else(|| HubError::Offline {
            what: format!("{} {repo}", super::download::kind_name(kind)),
            cache: cache.root.clone(),
        })?;
    let files = snapshot_files(&snapshot)
        .into_iter()
        .map(|path| RepoFile {
            size: std::fs::metadata(snapshot.join(&path))
                .ok()
                .map(|m| m.len()),
            path,
        })
        .collect();
    let card = super::card::read_dir(&snapshot).unwrap_or_default();
    Ok(RepoDetails {
        id: repo.to_string(),
        kind,
        sha: snapshot
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        gated: false,
        private: false,
        downloads: 0,
        likes: 0,
        tags: Vec::new(),
        last_modified: None,
        files,
        card,
        from_cache: true,
    })
}
