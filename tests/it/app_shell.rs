//! The app's shell driven through the accessibility tree: navigation, settings, saved
//! state that does not parse, and a live run feeding Monitor.

use egui_kittest::kittest::Queryable;
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;

use crate::support;
use support::app::{harness, has_label_containing, wait_for};

#[test]
fn every_panel_is_reachable_from_the_navigation() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(dir.path(), HubSettings::with_home(&dir.path().join("hf")));
    harness.run_steps(2);
    for tab in Tab::ALL {
        harness.get_by_label(&tab.nav_label()).click();
        harness.run_steps(2);
        assert_eq!(harness.state().state.tab, tab);
    }
}

#[test]
fn settings_open_in_a_window_and_keep_the_token_private() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(dir.path(), HubSettings::with_home(&dir.path().join("hf")));
    harness.run_steps(2);
    harness.get_by_label("⚙ Settings").click();
    harness.run_steps(2);
    let field = harness.get_by_label("Hub token");
    field.focus();
    field.type_text("hf_abc123");
    harness.run_steps(2);
    // Masked: the secret is not in the accessibility tree as text.
    assert!(harness.query_by_value("hf_abc123").is_none());
    harness.get_by_label("Save token").click();
    harness.run_steps(2);
    // In huggingface_hub's token file under HF_HOME, where `wick train` and `wick hub` read it.
    let token_file = dir.path().join("hf/token");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), "hf_abc123");
    assert!(!dir.path().join("hf_token").exists());
    assert_eq!(
        harness.state().hub_settings().token.as_deref(),
        Some("hf_abc123")
    );
    assert!(!harness.state().saved_state().contains("hf_abc123"));
    let hf_home = dir.path().join("hf").display().to_string();
    let cli = HubSettings::from_vars(|key| (key == "HF_HOME").then(|| hf_home.clone()));
    assert_eq!(cli.token.as_deref(), Some("hf_abc123"));
}

#[test]
fn a_token_saved_in_settings_opens_gated_repos_for_wick_hub() {
    let hub = support::Hub::new();
    let dir = tempfile::tempdir().unwrap();
    let wick_hub_download = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
            .args(["hub", "download", "model", "acme/gated-bert"])
            .env_remove("HF_TOKEN")
            .env_remove("HUGGING_FACE_HUB_TOKEN")
            .env_remove("HF_TOKEN_PATH")
            .env_remove("HF_HUB_DISABLE_IMPLICIT_TOKEN")
            .env_remove("HF_HUB_CACHE")
            .env_remove("HUGGINGFACE_HUB_CACHE")
            .env("HF_HOME", hub.home.path())
            .env("HF_ENDPOINT", hub.mirror.url())
            .env("HF_HUB_OFFLINE", "0")
            .output()
            .unwrap()
    };
    assert!(
        !wick_hub_download().status.success(),
        "gated without a token"
    );

    let mut harness = harness(dir.path(), hub.settings());
    harness.run_steps(2);
    harness.get_by_label("⚙ Settings").click();
    harness.run_steps(2);
    let field = harness.get_by_label("Hub token");
    field.focus();
    field.type_text(support::TOKEN);
    harness.run_steps(2);
    harness.get_by_label("Save token").click();
    harness.run_steps(2);

    let out = wick_hub_download();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(snapshot.join("model.safetensors").is_file());
}

#[test]
fn a_token_the_app_kept_in_its_data_folder_moves_to_the_shared_file_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hf_token"), "hf_from_an_older_wick\n").unwrap();
    let options = wick::app::AppOptions {
        data_dir: dir.path().to_path_buf(),
        env_hub: HubSettings::with_home(&dir.path().join("hf")),
        devices: vec!["cpu".into()],
    };
    let app = WickApp::new(&egui::Context::default(), options.clone(), None);
    assert_eq!(
        app.hub_settings().token.as_deref(),
        Some("hf_from_an_older_wick")
    );
    assert!(!dir.path().join("hf_token").exists());
    let shared = dir.path().join("hf/token");
    assert_eq!(
        std::fs::read_to_string(&shared).unwrap(),
        "hf_from_an_older_wick"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        app.toasts()
            .items()
            .iter()
            .any(|t| t.title.contains("Hub token moved to"))
    );
    // Once: the next start finds nothing to move and says nothing.
    let again = WickApp::new(&egui::Context::default(), options, None);
    assert_eq!(
        again.hub_settings().token.as_deref(),
        Some("hf_from_an_older_wick")
    );
    assert!(again.toasts().items().is_empty());
}

#[test]
fn a_saved_state_that_does_not_parse_gives_defaults_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let options = wick::app::AppOptions {
        data_dir: dir.path().to_path_buf(),
        env_hub: HubSettings::with_home(&dir.path().join("hf")),
        devices: vec!["cpu".into()],
    };
    let app = WickApp::new(
        &egui::Context::default(),
        options.clone(),
        Some("{not json"),
    );
    assert_eq!(app.state.tab, Tab::Hub);
    assert!(
        app.toasts()
            .items()
            .iter()
            .any(|t| t.title.contains("could not be read"))
    );
    // And a good one round-trips.
    let mut app = WickApp::new(&egui::Context::default(), options.clone(), None);
    app.state.tab = Tab::Runs;
    app.state.recipe.learning_rate = 3e-5;
    let saved = app.saved_state();
    let again = WickApp::new(&egui::Context::default(), options, Some(&saved));
    assert_eq!(again.state.tab, Tab::Runs);
    assert_eq!(again.state.recipe.learning_rate, 3e-5);
    assert!(again.toasts().items().is_empty());
}

#[test]
fn a_demo_run_feeds_monitor_until_it_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    let files = wick::demo::materialize(&dir.path().join("demo")).unwrap();
    let mut config = wick::demo::config(&files);
    config.num_train_epochs = 1.0;
    assert!(harness.state_mut().start_training(config));
    harness.run_steps(2);
    assert_eq!(harness.state().state.tab, Tab::Monitor);
    wait_for(&mut harness, "Monitor to show training points", |h| {
        h.state()
            .state
            .monitor
            .live_run()
            .is_some_and(|run| !run.train_loss.is_empty())
    });
    assert!(has_label_containing(&harness, "step"));
    wait_for(&mut harness, "the demo run to finish", |h| {
        !h.state().state.monitor.is_training()
    });
    let run = harness.state().state.monitor.live_run().unwrap();
    assert!(
        matches!(run.phase, wick::app::panels::monitor::Phase::Finished(_)),
        "{:?}",
        run.phase
    );
    assert!(
        !run.eval_metrics.is_empty(),
        "evaluated at the end of the epoch"
    );
    // The run's two durations, named as everywhere else (runs::RunDurations).
    harness.run_steps(2);
    assert!(
        has_label_containing(&harness, "· training ") && has_label_containing(&harness, " · wall "),
        "the finished line names training time and wall time"
    );
}

#[test]
fn first_launch_welcomes_and_the_offline_demo_trains_without_a_network() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: any network use would fail.
    let unplugged = HubSettings::with_home(&dir.path().join("hf"))
        .with_endpoint("http://127.0.0.1:9")
        .with_viewer_url("http://127.0.0.1:9/viewer");
    let mut harness = harness(dir.path(), unplugged);
    harness.run_steps(2);
    assert!(harness.state().shows_welcome());
    assert!(has_label_containing(&harness, "Welcome to Wick"));
    harness.get_by_label("Start the offline demo").click();
    wait_for(&mut harness, "the demo run to start", |h| {
        h.state().state.monitor.live_run().is_some()
    });
    assert_eq!(harness.state().state.tab, Tab::Monitor);
    wait_for(&mut harness, "the demo run to finish", |h| {
        !h.state().state.monitor.is_training()
    });
    let run = harness.state().state.monitor.live_run().unwrap();
    assert!(
        matches!(run.phase, wick::app::panels::monitor::Phase::Finished(_)),
        "{:?}",
        run.phase
    );
    let accuracy = run.eval_metrics["eval_accuracy"].last().unwrap()[1];
    println!(
        "offline demo: eval_accuracy {accuracy:.3} after {} steps",
        run.train_loss.points.len()
    );
    // The demo's cue words decide the label: a working trainer learns them.
    assert!(accuracy > 0.6, "eval_accuracy {accuracy}");
    assert!(!harness.state().shows_welcome(), "a run exists now");
    assert!(
        dir.path()
            .join("demo/tiny-bert-random/model.safetensors")
            .is_file()
    );
}

#[test]
fn the_hub_panel_names_its_endpoint_and_settings_test_the_connection() {
    let hub = support::Hub::new();
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(dir.path(), hub.settings());
    harness.state_mut().state.welcome_dismissed = true;
    harness.run_steps(2);
    harness.get_by_label(&Tab::Hub.nav_label()).click();
    harness.run_steps(2);
    let endpoint = hub.mirror.url();
    assert!(has_label_containing(
        &harness,
        &format!("Endpoint: {endpoint} (dataset viewer {endpoint}/viewer)")
    ));

    harness.get_by_label("⚙ Settings").click();
    harness.run_steps(2);
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the connection test", |h| {
        has_label_containing(h, &format!("reached {endpoint} in "))
    });

    // Another endpoint: a mirror without a viewer, where nothing answers.
    let field = harness.get_by_label("Hub endpoint");
    field.focus();
    field.type_text("http://127.0.0.1:1");
    harness.run_steps(2);
    assert_eq!(harness.state().hub_settings().viewer_url, "");
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the failed connection test", |h| {
        has_label_containing(
            h,
            "could not reach http://127.0.0.1:1: nothing answers there (connection refused)",
        )
    });
    assert!(has_label_containing(
        &harness,
        "Endpoint: http://127.0.0.1:1 (no dataset viewer"
    ));
}
