//! Cache interop with Python's huggingface_hub, both ways, through the
//! loopback mirror. Skips (with a message) when huggingface_hub is missing:
//! `python3 -m pip install "huggingface_hub>=0.26,<2"`. Set WICK_PYTHON to
//! use another interpreter.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Hub;
use wick::hub::{self, RepoKind};

fn python() -> Option<String> {
    let python = std::env::var("WICK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", "import huggingface_hub"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        println!(
            "SKIPPED: `{python} -c \"import huggingface_hub\"` failed; \
             install with: python3 -m pip install \"huggingface_hub>=0.26,<2\""
        );
        None
    }
}

/// Run `hf_hub_download` in Python with an explicit environment; returns the path it prints.
fn py_download(
    python: &str,
    home: &Path,
    endpoint: Option<&str>,
    repo_type: &str,
    repo: &str,
    file: &str,
) -> PathBuf {
    let offline = endpoint.is_none();
    let script = format!(
        "from huggingface_hub import hf_hub_download\n\
         print(hf_hub_download({repo:?}, {file:?}, repo_type={repo_type:?}, local_files_only={}))",
        if offline { "True" } else { "False" }
    );
    let mut command = Command::new(python);
    command
        .args(["-c", &script])
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env("HF_HOME", home)
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_XET", "1");
    match endpoint {
        Some(url) => command.env("HF_ENDPOINT", url).env("HF_HUB_OFFLINE", "0"),
        None => command.env("HF_HUB_OFFLINE", "1"),
    };
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "python failed for {repo}/{file}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

#[test]
fn python_finds_what_wick_downloaded() {
    let Some(python) = python() else { return };
    let hub = Hub::new();
    let settings = hub.settings();
    let model_dir = hub::resolve_model(&settings, "acme/tiny-bert", None).unwrap();
    let dataset = hub::resolve_dataset(&settings, "acme/pairs", "train", None).unwrap();
    let requests = hub.mirror.requests().len();

    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let found = py_download(
            &python,
            hub.home.path(),
            None,
            "model",
            "acme/tiny-bert",
            file,
        );
        assert_eq!(found, model_dir.join(file));
    }
    let found = py_download(
        &python,
        hub.home.path(),
        None,
        "dataset",
        "acme/pairs",
        "data/train-00000-of-00001.parquet",
    );
    assert_eq!(found, dataset.files[0]);
    assert_eq!(
        hub.mirror.requests().len(),
        requests,
        "Python answered from the cache"
    );
}

#[test]
fn wick_finds_what_python_downloaded() {
    let Some(python) = python() else { return };
    let hub = Hub::new();
    let url = hub.mirror.url();
    let mut from_python = Vec::new();
    for file in [
        "config.json",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        from_python.push(py_download(
            &python,
            hub.home.path(),
            Some(&url),
            "model",
            "acme/sharded",
            file,
        ));
    }
    let requests = hub.mirror.requests().len();
    let offline = hub.settings().with_offline(true);
    let dir = hub::resolve_model(&offline, "acme/sharded", None).unwrap();
    assert_eq!(dir, from_python[0].parent().unwrap());
    let file = hub::download_file(
        &offline,
        RepoKind::Model,
        "acme/sharded",
        "main",
        "model-00002-of-00002.safetensors",
        None,
    )
    .unwrap();
    assert_eq!(file, from_python[3]);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        support::pattern_bytes(1500, 3)
    );
    // Online too, Wick takes Python's blobs as cache hits (no GET of a body).
    hub::download_file(
        &hub.settings(),
        RepoKind::Model,
        "acme/sharded",
        "main",
        "model-00001-of-00002.safetensors",
        None,
    )
    .unwrap();
    assert!(
        hub.mirror.requests()[requests..]
            .iter()
            .all(|r| r.method == "HEAD")
    );
}
