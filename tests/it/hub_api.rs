//! Search, repo details, the dataset viewer and its parquet fallback, and
//! refusals (traversal, pickle), all against the loopback mirror.

use crate::support;

use support::Hub;
use wick::hub::mirror::{Fault, FaultRule, MirrorOptions};
use wick::hub::{self, DatasetSpec, HubError, RepoId, RepoKind, RowsSource, SearchQuery, SortKey};

fn ids(hits: &[hub::RepoSummary]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn search_follows_next_links_until_the_limit() {
    let hub = Hub::new(); // pages of 3
    let mut query = SearchQuery::new(RepoKind::Dataset, "set-");
    query.limit = 100;
    let hits = hub::search(&hub.settings(), &query).unwrap();
    assert_eq!(
        ids(&hits),
        [
            "bulk/set-6",
            "bulk/set-5",
            "bulk/set-4",
            "bulk/set-3",
            "bulk/set-2",
            "bulk/set-1",
            "bulk/set-0"
        ],
        "sorted by downloads, descending, across 3 pages"
    );
    let pages = hub
        .mirror
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/api/datasets?"))
        .count();
    assert_eq!(pages, 3);

    query.limit = 4;
    let hits = hub::search(&hub.settings(), &query).unwrap();
    assert_eq!(hits.len(), 4);
}

#[test]
fn search_sorts_filters_and_reports_fields() {
    let hub = Hub::new();
    let settings = hub.settings();
    let mut query = SearchQuery::new(RepoKind::Dataset, "");
    query.sort = SortKey::Likes;
    query.limit = 2;
    assert_eq!(
        ids(&hub::search(&settings, &query).unwrap()),
        ["acme/plain", "bulk/set-0"]
    );

    query.sort = SortKey::Modified;
    query.limit = 1;
    assert_eq!(
        ids(&hub::search(&settings, &query).unwrap()),
        ["acme/pairs"]
    );

    let mut query = SearchQuery::new(RepoKind::Dataset, "");
    query.filter = vec!["text-classification".to_string()];
    query.author = Some("acme".to_string());
    let hits = hub::search(&settings, &query).unwrap();
    assert_eq!(ids(&hits), ["acme/pairs", "acme/gated-pairs"]);
    assert!(hits[1].gated);
    let pairs = &hits[0];
    assert_eq!((pairs.downloads, pairs.likes), (500, 7));
    assert_eq!(
        pairs.last_modified.as_deref(),
        Some("2025-03-01T00:00:00.000Z")
    );
    assert!(pairs.tags.contains(&"text-classification".to_string()));
    assert!(!pairs.gated && !pairs.private);

    let gated = hub::search(&settings, &SearchQuery::new(RepoKind::Model, "gated")).unwrap();
    assert_eq!(ids(&gated), ["acme/gated-bert"]);
    assert!(gated[0].gated);

    let models = hub::search(&settings, &SearchQuery::new(RepoKind::Model, "")).unwrap();
    assert_eq!(models.len(), 5);
}

#[test]
fn search_errors_name_the_url_and_status() {
    let hub = Hub::new();
    hub.mirror
        .add_fault(FaultRule::new("/api/models", Fault::Status(500)));
    let err = hub::search(&hub.settings(), &SearchQuery::new(RepoKind::Model, "x")).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, HubError::Status { status: 500, .. }),
        "{text}"
    );
    assert!(
        text.contains("/api/models") && text.contains("500"),
        "{text}"
    );
    let offline = hub.settings().with_offline(true);
    let err = hub::search(&offline, &SearchQuery::new(RepoKind::Model, "x")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("offline mode (HF_HUB_OFFLINE=1)"),
        "{err}"
    );
}

#[test]
fn dataset_details_have_files_configs_features_and_licence() {
    let hub = Hub::new();
    let repo = RepoId::parse("acme/pairs").unwrap();
    let details = hub::repo_details(&hub.settings(), RepoKind::Dataset, &repo, "main").unwrap();
    assert_eq!(details.id, "acme/pairs");
    assert_eq!(details.card.license.as_deref(), Some("mit"));
    let train = details
        .files
        .iter()
        .find(|f| f.path == "data/train-00000-of-00001.parquet")
        .unwrap();
    let on_disk =
        std::fs::metadata(hub.dir.path().join("datasets/acme/pairs").join(&train.path)).unwrap();
    assert_eq!(train.size, Some(on_disk.len()));
    assert!(
        !details.files.iter().any(|f| f.path.starts_with('.')),
        "hidden files are not served"
    );
    let config = details.card.config(None).unwrap();
    assert_eq!(config.name, "pairs");
    assert_eq!(config.data_files[1].0, "validation");
    let info = details.card.info("pairs").unwrap();
    assert_eq!(info.features[1].class_names, ["negative", "positive"]);
    assert_eq!(info.splits[0].num_examples, Some(4));

    let missing = RepoId::parse("acme/missing").unwrap();
    let err = hub::repo_details(&hub.settings(), RepoKind::Dataset, &missing, "main").unwrap_err();
    assert!(matches!(err, HubError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("acme/missing"), "{err}");
}

#[test]
fn viewer_gives_splits_info_and_first_rows() {
    let hub = Hub::new();
    let settings = hub.settings();
    let repo = RepoId::parse("acme/pairs").unwrap();
    let splits = hub::viewer_splits(&settings, &repo).unwrap();
    let names: Vec<_> = splits
        .iter()
        .map(|s| format!("{}/{}", s.config, s.split))
        .collect();
    assert_eq!(names, ["pairs/train", "pairs/validation"]);
    let info = hub::viewer_info(&settings, &repo, "pairs").unwrap();
    let label = info.features.iter().find(|f| f.name == "label").unwrap();
    assert_eq!(label.class_names, ["negative", "positive"]);

    let spec = DatasetSpec::parse("acme/pairs:pairs").unwrap();
    let rows = hub::first_rows(&settings, &spec, "validation", 5, None).unwrap();
    assert_eq!(rows.source, RowsSource::Viewer);
    assert_eq!(rows.columns, ["sentence", "label"]);
    assert_eq!(rows.rows.len(), 2);
    assert_eq!(rows.rows[0]["sentence"], "nice");
    // Without a config, the viewer's split list names it.
    let spec = DatasetSpec::parse("acme/pairs").unwrap();
    let rows = hub::first_rows(&settings, &spec, "train", 2, None).unwrap();
    assert_eq!(
        (rows.source, rows.config.as_str()),
        (RowsSource::Viewer, "pairs")
    );
    assert_eq!(rows.rows.len(), 2);
    assert!(
        !hub.home.path().join("hub/datasets--acme--pairs").exists(),
        "the viewer path downloads nothing"
    );
}

#[test]
fn first_rows_fall_back_to_downloaded_parquet_when_viewer_is_down() {
    let hub = Hub::new();
    hub.mirror
        .add_fault(FaultRule::new("/viewer/", Fault::Status(503)));
    let spec = DatasetSpec::parse("acme/pairs").unwrap();
    let rows = hub::first_rows(&hub.settings(), &spec, "train", 3, None).unwrap();
    let RowsSource::Parquet { path, reason } = &rows.source else {
        panic!("expected the parquet fallback, got {:?}", rows.source);
    };
    assert!(reason.contains("503"), "{reason}");
    assert!(path.starts_with(hub.cache().join("datasets--acme--pairs/snapshots")));
    assert_eq!(rows.rows.len(), 3);
    assert_eq!(rows.rows[0]["sentence"], "good");
    assert_eq!(rows.rows[2]["label"], 1);
}

#[test]
fn an_endpoint_without_a_viewer_reads_the_data_files_without_asking_one() {
    let hub = Hub::new();
    let mut settings = hub.settings();
    settings.viewer_url = String::new();
    let spec = DatasetSpec::parse("acme/pairs").unwrap();
    let rows = hub::first_rows(&settings, &spec, "train", 3, None).unwrap();
    let RowsSource::Parquet { reason, .. } = &rows.source else {
        panic!("expected the parquet fallback, got {:?}", rows.source);
    };
    assert_eq!(
        reason,
        &format!(
            "{} has no dataset viewer; rows come from the data files",
            settings.endpoint
        )
    );
    assert_eq!(rows.rows.len(), 3);
}

#[test]
fn viewer_never_receives_the_token() {
    let hub = Hub::new();
    let settings = hub.settings().with_token(Some(support::TOKEN));
    let repo = RepoId::parse("acme/pairs").unwrap();
    hub::viewer_splits(&settings, &repo).unwrap();
    // Same host, different origin: the viewer of a second mirror.
    let other = Hub::new();
    let settings = settings.with_viewer_url(&other.mirror.viewer_url());
    hub::viewer_splits(&settings, &repo).unwrap();
    hub::repo_details(&settings, RepoKind::Dataset, &repo, "main").unwrap();
    let viewer_calls: Vec<_> = hub
        .mirror
        .requests()
        .into_iter()
        .chain(other.mirror.requests())
        .filter(|r| r.target.starts_with("/viewer/"))
        .collect();
    assert_eq!(viewer_calls.len(), 2);
    assert!(
        viewer_calls.iter().all(|r| r.authorization.is_none()),
        "{viewer_calls:?}"
    );
    let api = hub
        .mirror
        .requests()
        .into_iter()
        .find(|r| r.target.starts_with("/api/datasets/"))
        .unwrap();
    assert_eq!(
        api.authorization.as_deref(),
        Some(format!("Bearer {}", support::TOKEN).as_str())
    );
}

#[test]
fn pickle_only_models_are_refused_before_any_download() {
    let hub = Hub::new();
    let err = hub::resolve_model(&hub.settings(), "acme/pickle-only", None).unwrap_err();
    assert!(matches!(err, HubError::PickleOnly { .. }), "{err}");
    assert!(
        err.to_string().contains("pickle weights are not supported"),
        "{err}"
    );
    assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
    assert!(!hub.cache().join("models--acme--pickle-only").exists());
}

#[test]
fn file_names_that_escape_the_cache_are_rejected() {
    let hub = Hub::new();
    let err = hub::resolve_model(&hub.settings(), "acme/evil-index", None).unwrap_err();
    assert!(matches!(err, HubError::UnsafePath { .. }), "{err}");
    assert!(!hub.home.path().join("escape.safetensors").exists());

    // Listings that name files outside the repo: `..` on the parquet branch,
    // a backslash matching a card's data_files glob.
    let evil = Hub::start(MirrorOptions {
        extra_siblings: vec![
            (
                "acme/plain".to_string(),
                "default/train/../../../../evil.parquet".to_string(),
            ),
            (
                "acme/pairs".to_string(),
                "data/train-\\..\\..\\x".to_string(),
            ),
        ],
        ..MirrorOptions::default()
    });
    for dataset in ["acme/plain", "acme/pairs"] {
        let err = hub::resolve_dataset(&evil.settings(), dataset, "train", None).unwrap_err();
        assert!(
            matches!(err, HubError::UnsafePath { .. }),
            "{dataset}: {err}"
        );
    }
    assert!(!evil.home.path().join("evil.parquet").exists());

    let resolves = |hub: &Hub| {
        hub.mirror
            .requests()
            .iter()
            .filter(|r| r.target.contains("/resolve/"))
            .count()
    };
    let before = resolves(&hub);
    for name in ["../config.json", "/etc/passwd", "a\\b.json"] {
        let err = hub::download_file(
            &hub.settings(),
            RepoKind::Model,
            "acme/tiny-bert",
            "main",
            name,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, HubError::UnsafePath { .. }), "{name}: {err}");
    }
    assert_eq!(resolves(&hub), before, "rejected before asking the server");
}

#[test]
fn mirror_binds_loopback_only_and_stops_when_dropped() {
    let hub = Hub::new();
    let addr = hub.mirror.addr();
    assert!(addr.ip().is_loopback() && addr.is_ipv4(), "{addr}");
    assert!(std::net::TcpStream::connect(addr).is_ok());
    let Hub { mirror, .. } = hub;
    drop(mirror);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed once the mirror is dropped"
    );
}

/// GET `path` from the mirror: status, X-Repo-Commit header, body.
fn get(hub: &Hub, method: &str, path: &str) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", hub.mirror.url());
    let mut response = match method {
        "HEAD" => agent.head(&url).call(),
        _ => agent.get(&url).call(),
    }
    .unwrap();
    let commit = response
        .headers()
        .get("x-repo-commit")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), commit, body)
}

/// What Python's `datasets` and `transformers` ask after `HEAD .../resolve/main/...`: files
/// at the commit id it returned, and `list_repo_tree` listings.
#[test]
fn files_resolve_by_commit_id_and_the_tree_api_lists_folders() {
    let hub = Hub::new();
    let (status, commit, _) = get(&hub, "HEAD", "/datasets/acme/pairs/resolve/main/README.md");
    assert_eq!(status, 200);
    let commit = commit.expect("X-Repo-Commit");
    let (status, at_commit, body) = get(
        &hub,
        "GET",
        &format!("/datasets/acme/pairs/resolve/{commit}/README.md"),
    );
    assert_eq!((status, at_commit.as_deref()), (200, Some(commit.as_str())));
    assert_eq!(body, support::CARD);
    let (status, _, _) = get(
        &hub,
        "GET",
        "/datasets/acme/pairs/resolve/0123abcd/README.md",
    );
    assert_eq!(status, 404, "an unknown commit is not found");
    let (status, _, info) = get(
        &hub,
        "GET",
        &format!("/api/datasets/acme/pairs/revision/{commit}"),
    );
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["sha"], commit.as_str());

    let listing = |path: &str| -> Vec<(String, String, u64)> {
        let (status, _, body) = get(&hub, "GET", path);
        assert_eq!(status, 200, "{path}: {body}");
        let entries: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        entries
            .iter()
            .map(|e| {
                assert_eq!(e["oid"].as_str().map(str::len), Some(40), "{e}");
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["path"].as_str().unwrap().to_string(),
                    e["size"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let parquet_size = |name: &str| {
        std::fs::metadata(hub.dir.path().join("datasets/acme/pairs/data").join(name))
            .unwrap()
            .len()
    };
    let train = "train-00000-of-00001.parquet";
    let validation = "validation-00000-of-00001.parquet";
    let readme_size = support::CARD.len() as u64;
    assert_eq!(
        listing(&format!(
            "/api/datasets/acme/pairs/tree/{commit}?recursive=false"
        )),
        [
            ("directory".into(), "data".into(), 0),
            ("file".into(), "README.md".into(), readme_size),
        ],
        "the root, one level"
    );
    assert_eq!(
        listing("/api/datasets/acme/pairs/tree/main/data?recursive=false&expand=false"),
        [
            ("file".into(), format!("data/{train}"), parquet_size(train)),
            (
                "file".into(),
                format!("data/{validation}"),
                parquet_size(validation)
            ),
        ]
    );
    assert_eq!(
        listing("/api/datasets/acme/pairs/tree/main?recursive=true").len(),
        4,
        "data/, README.md and the two parquet files"
    );
    assert_eq!(
        listing("/api/datasets/acme/plain/tree/refs%2Fconvert%2Fparquet/default?recursive=true"),
        [
            ("directory".into(), "default/train".into(), 0),
            (
                "file".into(),
                "default/train/0000.parquet".into(),
                std::fs::metadata(
                    hub.dir.path().join(
                        "datasets/acme/plain/.refs/convert/parquet/default/train/0000.parquet"
                    )
                )
                .unwrap()
                .len()
            ),
        ],
        "the parquet branch, by its name"
    );
    for missing in [
        "/api/datasets/acme/pairs/tree/main/nope",
        "/api/datasets/acme/pairs/tree/no-such-branch",
        "/api/datasets/acme/nope/tree/main",
    ] {
        assert_eq!(get(&hub, "GET", missing).0, 404, "{missing}");
    }
}
