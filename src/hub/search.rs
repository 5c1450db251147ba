//! `/api/models` and `/api/datasets` search, following `Link: rel="next"` pages.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{HubError, HubResult};
use super::http::{Http, next_link};
use super::id::RepoKind;
use super::settings::HubSettings;

/// Upper bound on pages, so a server that always says "next" cannot loop us.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    #[default]
    Downloads,
    Likes,
    Trending,
    Modified,
}

impl SortKey {
    /// The Hub API's name for the key.
    pub fn api_name(self) -> &'static str {
        match self {
            SortKey::Downloads => "downloads",
            SortKey::Likes => "likes",
            SortKey::Trending => "trendingScore",
            SortKey::Modified => "lastModified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub kind: RepoKind,
    pub search: Option<String>,
    pub author: Option<String>,
    /// Tags such as task ids (`text-classification`).
    pub filter: Vec<String>,
    pub sort: SortKey,
    pub limit: usize,
}

impl SearchQuery {
    pub fn new(kind: RepoKind, search: &str) -> Self {
        Self {
            kind,
            search: (!search.is_empty()).then(|| search.to_string()),
            author: None,
            filter: Vec::new(),
            sort: SortKey::Downloads,
            limit: 20,
        }
    }
}

/// One search hit. `gated` is `false`, `"auto"` or `"manual"` on the Hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSummary {
    pub id: String,
    pub downloads: u64,
    pub likes: u64,
    pub tags: Vec<String>,
    pub last_modified: Option<String>,
    pub gated: bool,
    pub private: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiSummary {
    id: String,
    #[serde(default)]
    downloads: Option<u64>,
    #[serde(default)]
    likes: Option<u64>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    gated: Option<serde_json::Value>,
    #[serde(default)]
    private: Option<bool>,
}

pub(crate) fn is_gated(value: &Option<serde_json::Value>) -> bool {
    match value {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => !s.is_empty() && s != "false",
        _ => false,
    }
}

/// Search the Hub; collects up to `query.limit` results across pages.
pub fn search(settings: &HubSettings, query: &SearchQuery) -> HubResult<Vec<RepoSummary>> {
    if settings.offline {
        return Err(HubError::OfflineNetwork {
            what: format!("searching {}", query.kind.plural()),
        });
    }
    let http = Http::new(settings)?;
    let mut url = Some(first_page_url(settings, query)?);
    let mut results = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(page_url) = url.take() else { break };
        let (page, headers): (Vec<ApiSummary>, _) =
            http.get_json(&page_url, &format!("{} search", query.kind.plural()))?;
        let empty = page.is_empty();
        results.extend(page.into_iter().map(|r| RepoSummary {
            id: r.id,
            downloads: r.downloads.unwrap_or(0),
            likes: r.likes.unwrap_or(0),
            tags: r.tags.unwrap_or_default(),
            last_modified: r.last_modified,
            gated: is_gated(&r.gated),
            private: r.private.unwrap_or(false),
        }));
        if results.len() >= query.limit || empty {
            break;
        }
        url = next_link(&headers, &page_url);
    }
    results.truncate(query.limit);
    Ok(results)
}

fn first_page_url(settings: &HubSettings, query: &SearchQuery) -> HubResult<String> {
    let base = format!("{}/api/{}", settings.endpoint, query.kind.plural());
    let mut url = Url::parse(&base).map_err(|e| HubError::BadResponse {
        url: base.clone(),
        message: format!("invalid endpoint: {e}"),
    })?;
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(search) = &query.search {
            pairs.append_pair("search", search);
        }
        if let Some(author) = &query.author {
            pairs.append_pair("author", author);
        }
        for tag in &query.filter {
            pairs.append_pair("filter", tag);
        }
        pairs.append_pair("sort", query.sort.api_name());
        pairs.append_pair("direction", "-1");
        pairs.append_pair("limit", &query.limit.max(1).to_string());
        for field in [
            "downloads",
            "likes",
            "tags",
            "lastModified",
            "gated",
            "private",
        ] {
            pairs.append_pair("expand[]", field);
        }
    }
    Ok(url.into())
}
