//! Downloads through the loopback mirror: cache layout, progress, resume
//! after a cut, offline hits and misses, gated repos and where the token goes.

use crate::support;

use std::path::Path;

use support::{Hub, TOKEN, pattern_bytes};
use wick::hub::mirror::{Fault, FaultRule, Mirror, MirrorOptions};
use wick::hub::{self, HubError, HubEvent, RepoKind};

const MODEL: &str = "models--acme--tiny-bert";

fn download(
    hub: &Hub,
    settings: &hub::HubSettings,
    file: &str,
) -> Result<std::path::PathBuf, HubError> {
    hub::download_file(
        settings,
        RepoKind::Model,
        "acme/tiny-bert",
        "main",
        file,
        None,
    )
    .inspect(|p| assert!(p.starts_with(hub.cache())))
}

fn blobs(cache_repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache_repo.join("blobs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn download_lands_in_the_huggingface_cache_layout() {
    let hub = Hub::new();
    let path = download(&hub, &hub.settings(), "model.safetensors").unwrap();
    let repo = hub.cache().join(MODEL);
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert_eq!(commit.len(), 40);
    assert_eq!(
        path,
        repo.join("snapshots")
            .join(&commit)
            .join("model.safetensors")
    );
    let link = std::fs::read_link(&path).unwrap();
    assert!(
        link.is_relative() && link.starts_with("../../blobs"),
        "{}",
        link.display()
    );
    assert_eq!(std::fs::read(&path).unwrap(), pattern_bytes(300_000, 1));
    let blob_names = blobs(&repo);
    assert_eq!(blob_names.len(), 1);
    assert!(!blob_names[0].ends_with(".incomplete"));
}

#[test]
fn progress_events_carry_bytes_total_and_rate() {
    let hub = Hub::new();
    hub.mirror.add_fault(
        FaultRule::new(
            "model.safetensors",
            Fault::Slow {
                chunk: 30_000,
                pause_ms: 20,
            },
        )
        .method("GET"),
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    hub::download_file(
        &hub.settings(),
        RepoKind::Model,
        "acme/tiny-bert",
        "main",
        "model.safetensors",
        Some(hub::channel_sink(tx)),
    )
    .unwrap();
    let events: Vec<HubEvent> = rx.try_iter().collect();
    assert!(
        matches!(
            &events[0],
            HubEvent::Started {
                total: Some(300_000),
                ..
            }
        ),
        "{events:?}"
    );
    let progress: Vec<(u64, Option<u64>, f64)> = events
        .iter()
        .filter_map(|e| match e {
            HubEvent::Progress {
                bytes,
                total,
                bytes_per_sec,
                ..
            } => Some((*bytes, *total, *bytes_per_sec)),
            _ => None,
        })
        .collect();
    assert!(
        progress.len() >= 3,
        "slow bytes should give several updates: {progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "monotonic: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .all(|p| p.1 == Some(300_000) && (p.2 > 0.0 || p.0 == 0))
    );
    assert_eq!(progress.last().unwrap().0, 300_000);
    assert!(matches!(events.last(), Some(HubEvent::Finished { .. })));

    // Second time: a cache hit, no body transferred.
    let (tx, rx) = crossbeam_channel::unbounded();
    let gets_before = hub
        .mirror
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    hub::download_file(
        &hub.settings(),
        RepoKind::Model,
        "acme/tiny-bert",
        "main",
        "model.safetensors",
        Some(hub::channel_sink(tx)),
    )
    .unwrap();
    assert!(
        rx.try_iter()
            .any(|e| matches!(e, HubEvent::CacheHit { .. }))
    );
    assert_eq!(
        hub.mirror
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .count(),
        gets_before
    );
}

#[test]
fn a_cut_connection_is_resumed_with_a_range_request() {
    let hub = Hub::new();
    hub.mirror.add_fault(
        FaultRule::new("model.safetensors", Fault::CutAfter(100_000))
            .method("GET")
            .times(1),
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    let path = hub::download_file(
        &hub.settings(),
        RepoKind::Model,
        "acme/tiny-bert",
        "main",
        "model.safetensors",
        Some(hub::channel_sink(tx)),
    )
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), pattern_bytes(300_000, 1));
    let ranges: Vec<String> = hub
        .mirror
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    let from: u64 = ranges[0]
        .strip_prefix("bytes=")
        .unwrap()
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 100_000, "resumed from {from}");
    assert!(
        rx.try_iter()
            .any(|e| matches!(e, HubEvent::Resumed { total: 300_000, .. }))
    );
    assert!(
        blobs(&hub.cache().join(MODEL))
            .iter()
            .all(|b| !b.ends_with(".incomplete"))
    );
}

#[test]
fn repeated_cuts_fail_clearly_keep_nothing_cached_and_resume_later() {
    let hub = Hub::new();
    hub.mirror
        .add_fault(FaultRule::new("model.safetensors", Fault::CutAfter(20_000)).method("GET"));
    let err = download(&hub, &hub.settings(), "model.safetensors").unwrap_err();
    assert!(
        matches!(
            err,
            HubError::Incomplete {
                expected: 300_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    let repo = hub.cache().join(MODEL);
    let names = blobs(&repo);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".incomplete"), "{names:?}");
    let partial = std::fs::metadata(repo.join("blobs").join(&names[0]))
        .unwrap()
        .len();
    assert!(partial > 0 && partial < 300_000);
    // Not a cache hit, online or offline.
    let offline = hub.settings().with_offline(true);
    assert!(matches!(
        download(&hub, &offline, "model.safetensors"),
        Err(HubError::Offline { .. })
    ));

    hub.mirror.clear_faults();
    let path = download(&hub, &hub.settings(), "model.safetensors").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), pattern_bytes(300_000, 1));
    let last_range = hub
        .mirror
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .next_back()
        .unwrap();
    assert_eq!(
        last_range,
        format!("bytes={partial}-"),
        "the next run continues the partial file"
    );
}

#[test]
fn a_short_but_well_formed_body_is_not_kept() {
    let hub = Hub::new();
    hub.mirror
        .add_fault(FaultRule::new("model.safetensors", Fault::ShortBody(1000)).method("GET"));
    let err = download(&hub, &hub.settings(), "model.safetensors").unwrap_err();
    assert!(
        matches!(
            err,
            HubError::SizeMismatch {
                actual: 1000,
                expected: 300_000,
                ..
            }
        ),
        "{err}"
    );
    let repo = hub.cache().join(MODEL);
    assert!(blobs(&repo).is_empty(), "{:?}", blobs(&repo));
    let offline = hub.settings().with_offline(true);
    assert!(matches!(
        download(&hub, &offline, "model.safetensors"),
        Err(HubError::Offline { .. })
    ));
}

#[test]
fn offline_serves_cache_hits_and_names_misses() {
    let hub = Hub::new();
    hub::resolve_model(&hub.settings(), "acme/tiny-bert", None).unwrap();
    let online_requests = hub.mirror.requests().len();
    let offline = hub.settings().with_offline(true);
    let dir = hub::resolve_model(&offline, "acme/tiny-bert", None).unwrap();
    assert!(dir.join("config.json").is_file() && dir.join("tokenizer.json").is_file());
    assert!(dir.join("model.safetensors").is_file());
    assert!(download(&hub, &offline, "config.json").is_ok());
    assert_eq!(
        hub.mirror.requests().len(),
        online_requests,
        "offline makes no requests"
    );

    let err = hub::resolve_model(&offline, "acme/sharded", None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "offline mode (HF_HUB_OFFLINE=1): model acme/sharded is not in the cache at"
        ),
        "{text}"
    );
    assert!(text.contains("models--acme--sharded"), "{text}");
    let err = download(&hub, &offline, "missing.json").unwrap_err();
    assert!(
        err.to_string()
            .contains("missing.json of model acme/tiny-bert is not in the cache"),
        "{err}"
    );
    let err = hub::resolve_dataset(&offline, "acme/pairs", "train", None).unwrap_err();
    assert!(
        err.to_string()
            .contains("dataset acme/pairs split train is not in the cache"),
        "{err}"
    );
}

#[test]
fn sharded_models_fetch_the_index_and_every_shard() {
    let hub = Hub::new();
    let dir = hub::resolve_model(&hub.settings(), "acme/sharded", None).unwrap();
    assert_eq!(
        std::fs::read(dir.join("model-00001-of-00002.safetensors")).unwrap(),
        pattern_bytes(1000, 2)
    );
    assert_eq!(
        std::fs::read(dir.join("model-00002-of-00002.safetensors")).unwrap(),
        pattern_bytes(1500, 3)
    );
    assert!(dir.join("model.safetensors.index.json").is_file());
    assert!(
        !dir.join("tokenizer.json").exists(),
        "absent files are not invented"
    );
    let offline = hub.settings().with_offline(true);
    assert_eq!(
        hub::resolve_model(&offline, "acme/sharded", None).unwrap(),
        dir
    );
}

#[test]
fn dataset_splits_come_from_card_configs_or_the_parquet_branch() {
    let hub = Hub::new();
    let settings = hub.settings();
    let train = hub::resolve_dataset(&settings, "acme/pairs:pairs", "train", None).unwrap();
    assert_eq!(train.config, "pairs");
    assert_eq!(train.revision, "main");
    assert_eq!(train.files.len(), 1);
    assert!(train.files[0].ends_with("data/train-00000-of-00001.parquet"));
    let (_, rows) = hub::read_parquet_rows(&train.files[0], 10).unwrap();
    assert_eq!(rows.len(), 4);
    let err = hub::resolve_dataset(&settings, "acme/pairs", "test", None).unwrap_err();
    assert!(
        err.to_string()
            .contains("no split \"test\" (splits: train, validation)"),
        "{err}"
    );

    let plain = hub::resolve_dataset(&settings, "acme/plain", "train", None).unwrap();
    assert_eq!(plain.revision, hub::PARQUET_BRANCH);
    assert!(plain.files[0].ends_with("default/train/0000.parquet"));
    let refs = hub
        .cache()
        .join("datasets--acme--plain/refs/refs/convert/parquet");
    assert!(
        refs.is_file(),
        "the branch ref is recorded like huggingface_hub does"
    );

    // Both resolve offline from the cache, README card included.
    let offline = settings.with_offline(true);
    assert_eq!(
        hub::resolve_dataset(&offline, "acme/pairs", "train", None)
            .unwrap()
            .files,
        train.files
    );
    assert_eq!(
        hub::resolve_dataset(&offline, "acme/plain", "train", None)
            .unwrap()
            .files,
        plain.files
    );
}

#[test]
fn gated_repos_need_the_token_and_get_it() {
    let hub = Hub::new();
    let err = hub::resolve_model(&hub.settings(), "acme/gated-bert", None).unwrap_err();
    assert!(
        matches!(err, HubError::Unauthorized { status: 401, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("acme/gated-bert") && text.contains("HF_TOKEN"),
        "{text}"
    );

    let wrong = hub.settings().with_token(Some("hf_wrong"));
    assert!(matches!(
        hub::resolve_model(&wrong, "acme/gated-bert", None),
        Err(HubError::Unauthorized { .. })
    ));

    let settings = hub.settings().with_token(Some(TOKEN));
    let dir = hub::resolve_model(&settings, "acme/gated-bert", None).unwrap();
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        pattern_bytes(5000, 5)
    );
    // Gated datasets: the split download needs the token too; the viewer
    // (which never gets it) refuses, so first rows come from the parquet.
    let err = hub::resolve_dataset(&hub.settings(), "acme/gated-pairs", "train", None).unwrap_err();
    assert!(matches!(err, HubError::Unauthorized { .. }), "{err}");
    let spec = hub::DatasetSpec::parse("acme/gated-pairs:pairs").unwrap();
    let rows = hub::first_rows(&settings, &spec, "train", 5, None).unwrap();
    assert!(
        matches!(rows.source, hub::RowsSource::Parquet { .. }),
        "{:?}",
        rows.source
    );
    assert_eq!(rows.rows.len(), 1);
    let text = format!(
        "{err} {settings:?} {}",
        serde_json::to_string(&settings).unwrap()
    );
    assert!(
        !text.contains(TOKEN),
        "the token leaks into errors, Debug or JSON"
    );
}

#[test]
fn the_token_does_not_follow_redirects_to_other_hosts() {
    let hub = Hub::new();
    // A second server on another port is another origin (like a CDN).
    let other_dir = tempfile::tempdir().unwrap();
    support::tiny_hub(other_dir.path());
    let other = Mirror::start(other_dir.path(), MirrorOptions::default()).unwrap();
    let target = format!("{}/acme/tiny-bert/resolve/main/config.json", other.url());
    hub.mirror.add_fault(
        FaultRule::new("/resolve/main/config.json", Fault::RedirectTo(target)).method("GET"),
    );
    let settings = hub.settings().with_token(Some(TOKEN));
    let path = download(&hub, &settings, "config.json").unwrap();
    assert!(std::fs::read_to_string(path).unwrap().contains("bert"));
    let at_other = other.requests();
    assert!(!at_other.is_empty(), "the redirect was followed");
    assert!(
        at_other.iter().all(|r| r.authorization.is_none()),
        "{at_other:?}"
    );
    assert!(
        hub.mirror
            .requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
}

#[test]
fn server_errors_and_missing_files_are_clear() {
    let hub = Hub::new();
    let err = download(&hub, &hub.settings(), "nope.json").unwrap_err();
    assert!(matches!(err, HubError::NotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("nope.json in model acme/tiny-bert"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("/acme/tiny-bert/resolve/main/nope.json"),
        "{err}"
    );

    hub.mirror
        .add_fault(FaultRule::new("config.json", Fault::Status(500)));
    let err = download(&hub, &hub.settings(), "config.json").unwrap_err();
    assert!(matches!(err, HubError::Status { status: 500, .. }), "{err}");
    assert!(
        !hub.cache().join(MODEL).join("blobs").exists()
            || blobs(&hub.cache().join(MODEL)).is_empty()
    );

    let err = hub::resolve_model(&hub.settings(), "acme/does-not-exist", None).unwrap_err();
    assert!(matches!(err, HubError::NotFound { .. }), "{err}");
}

#[test]
fn real_mrpc_and_minilm_through_the_mirror() {
    let Some(shared) = support::shared_hub() else {
        return;
    };
    let mirror = Mirror::start(&shared, MirrorOptions::default()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let settings = hub::HubSettings::with_home(home.path())
        .with_endpoint(&mirror.url())
        .with_viewer_url(&mirror.viewer_url());
    let cache = home.path().join("hub");

    for (split, rows) in [("train", 3668), ("validation", 408)] {
        let resolved = hub::resolve_dataset(&settings, "nyu-mll/glue:mrpc", split, None).unwrap();
        assert!(
            resolved
                .dir
                .starts_with(cache.join("datasets--nyu-mll--glue/snapshots"))
        );
        assert_eq!(resolved.files.len(), 1);
        assert!(resolved.files[0].ends_with(format!("mrpc/{split}-00000-of-00001.parquet")));
        let file = std::fs::File::open(&resolved.files[0]).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().file_metadata().num_rows(), rows);
    }
    let (columns, first) = hub::read_parquet_rows(
        &hub::resolve_dataset(&settings, "nyu-mll/glue:mrpc", "validation", None)
            .unwrap()
            .files[0],
        2,
    )
    .unwrap();
    assert!(columns.contains(&"sentence1".to_string()) && first.len() == 2);

    let dir =
        hub::resolve_model(&settings, "sentence-transformers/all-MiniLM-L6-v2", None).unwrap();
    assert!(
        dir.starts_with(cache.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots"))
    );
    tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&weights).unwrap();
    assert!(tensors.len() > 10);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["hidden_size"], 384);
}

#[test]
fn an_empty_file_downloads_as_an_empty_blob() {
    let dir = tempfile::tempdir().unwrap();
    support::tiny_hub(dir.path());
    support::write(&dir.path().join("models/acme/tiny-bert/empty.txt"), "");
    let mirror = Mirror::start(dir.path(), MirrorOptions::default()).unwrap();
    let hub = Hub {
        dir,
        home: tempfile::tempdir().unwrap(),
        mirror,
    };
    let path = download(&hub, &hub.settings(), "empty.txt").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    let offline = hub.settings().with_offline(true);
    assert_eq!(download(&hub, &offline, "empty.txt").unwrap(), path);
}
