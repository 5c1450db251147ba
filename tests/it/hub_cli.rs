//! `wick hub ...` end to end against the loopback mirror. The environment is
//! set on the child process only.

use crate::support;

use std::process::{Command, Output};

use support::Hub;

fn wick(hub: &Hub, offline: bool, args: &[&str]) -> Output {
    wick_with(hub, offline, args, &[])
}

/// `wick` with the token variables cleared, then `vars` set.
fn wick_with(hub: &Hub, offline: bool, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(args)
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .env_remove("HF_HUB_DISABLE_IMPLICIT_TOKEN")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env_remove("HF_DATASETS_CACHE")
        .env("HF_HOME", hub.home.path())
        .env("HF_ENDPOINT", hub.mirror.url())
        .env("WICK_HF_VIEWER_URL", hub.mirror.viewer_url())
        .env("HF_HUB_OFFLINE", if offline { "1" } else { "0" })
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn search_info_and_download_from_the_command_line() {
    let hub = Hub::new();
    let out = stdout(&wick(
        &hub,
        false,
        &[
            "hub", "search", "datasets", "set-", "--limit", "4", "--sort", "likes",
        ],
    ));
    let ids: Vec<&str> = out.lines().filter(|l| l.starts_with("bulk/")).collect();
    assert_eq!(
        ids,
        ["bulk/set-0", "bulk/set-1", "bulk/set-2", "bulk/set-3"],
        "{out}"
    );

    let out = stdout(&wick(&hub, false, &["hub", "search", "models", "gated"]));
    assert!(out.contains("acme/gated-bert [gated]"), "{out}");

    let out = stdout(&wick(
        &hub,
        false,
        &["hub", "info", "dataset", "acme/pairs", "--rows", "2"],
    ));
    for expected in [
        "licence: mit",
        "config pairs:",
        "train: data/train-*",
        "label: class_label [negative, positive]",
        "split train: 4 rows",
        "viewer splits: pairs/train, pairs/validation",
        "(dataset viewer)",
        "\"sentence\":\"good\"",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    let out = stdout(&wick(
        &hub,
        false,
        &["hub", "download", "model", "acme/tiny-bert"],
    ));
    let dir = std::path::PathBuf::from(out.trim());
    assert!(dir.starts_with(hub.cache().join("models--acme--tiny-bert/snapshots")));
    assert!(dir.join("model.safetensors").is_file());

    let out = stdout(&wick(
        &hub,
        false,
        &[
            "hub",
            "download",
            "dataset",
            "acme/pairs",
            "--split",
            "validation",
        ],
    ));
    assert!(
        out.contains("data/validation-00000-of-00001.parquet"),
        "{out}"
    );
}

#[test]
fn the_cli_reads_the_token_the_app_saves_in_huggingface_hubs_order() {
    let hub = Hub::new();
    let gated = ["hub", "download", "model", "acme/gated-bert"];
    let refused = |vars: &[(&str, &str)], why: &str| {
        let out = wick_with(&hub, false, &gated, vars);
        assert!(!out.status.success(), "{why}: {out:?}");
    };
    refused(&[], "no token anywhere");

    // Where the app's Settings save it: the store of the app's effective Hub settings.
    let app_hub = wick::app::settings::Settings::default().hub(&hub.settings());
    app_hub.token_store().save(support::TOKEN).unwrap();
    assert_eq!(app_hub.token_store().path(), hub.home.path().join("token"));

    refused(
        &[("HF_TOKEN", "hf_wrong")],
        "HF_TOKEN comes before the file",
    );
    refused(
        &[("HUGGING_FACE_HUB_TOKEN", "hf_wrong")],
        "the older variable comes before the file too",
    );
    refused(
        &[("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")],
        "no implicit token when disabled",
    );
    let moved = hub.home.path().join("moved-token");
    refused(
        &[("HF_TOKEN_PATH", moved.to_str().unwrap())],
        "HF_TOKEN_PATH names another file",
    );

    let out = stdout(&wick_with(&hub, false, &gated, &[("HF_TOKEN", " ")]));
    let dir = std::path::PathBuf::from(out.trim());
    assert!(dir.join("model.safetensors").is_file(), "{out}");
}

#[test]
fn offline_command_line_is_plain_about_misses() {
    let hub = Hub::new();
    let out = wick(&hub, true, &["hub", "download", "model", "acme/tiny-bert"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "offline mode (HF_HUB_OFFLINE=1): model acme/tiny-bert is not in the cache at"
        ),
        "{err}"
    );
    assert!(hub.mirror.requests().is_empty(), "offline asks nobody");
    let out = wick(
        &hub,
        false,
        &["hub", "download", "model", "acme/pickle-only"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("pickle weights are not supported"));
}

#[test]
fn hub_serve_runs_the_mirror_for_people() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    support::tiny_hub(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args([
            "hub",
            "serve",
            dir.path().to_str().unwrap(),
            "--token",
            "hf_serve",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line.trim().strip_prefix("HF_ENDPOINT=").map(str::to_string);
    let home = tempfile::tempdir().unwrap();
    let result = endpoint.as_deref().map(|url| {
        let settings = wick::hub::HubSettings::with_home(home.path()).with_endpoint(url);
        let anonymous = wick::hub::resolve_model(&settings, "acme/gated-bert", None);
        let with_token = wick::hub::resolve_model(
            &settings.with_token(Some("hf_serve")),
            "acme/gated-bert",
            None,
        );
        (
            anonymous.is_err(),
            with_token.map(|d| d.join("model.safetensors").is_file()),
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(url_is_loopback(endpoint.as_deref()), "{line}");
    let (anonymous_refused, with_token) = result.unwrap();
    assert!(anonymous_refused);
    assert!(with_token.unwrap());
}

fn url_is_loopback(url: Option<&str>) -> bool {
    url.is_some_and(|u| u.starts_with("http://127.0.0.1:"))
}
