//! The app's shell driven through the accessibility tree: navigation, settings, saved
//! state that does not parse, and a live run feeding Monitor.

use egui_kittest::kittest::Queryable;
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;

mod support;
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
    let token_file = dir.path().join("hf_token");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), "hf_abc123");
    assert_eq!(
        harness.state().hub_settings().token.as_deref(),
        Some("hf_abc123")
    );
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
}
