//! The screenshot tour's stops (`WICK_TOUR_DIR`, `scripts/screenshots.sh`): the states a
//! person should see each panel in, at the default size and at the smallest window.

use std::path::PathBuf;

use super::{MIN_WINDOW_SIZE, Tab, WickApp, panels, tour};
use crate::recipe::TrainConfig;

/// The screenshot tour's stops, in order: the first run, then each panel in use.
pub fn stops() -> Vec<tour::Stop> {
    use panels::hub::SearchKind;
    use std::time::Duration;
    fn show(app: &mut WickApp, tab: Tab) {
        app.state.welcome_dismissed = true;
        app.state.tab = tab;
    }
    /// A second demo run with another learning rate, for Monitor live and for Runs.
    /// Trains the offline demo again, changed by `adjust`, from Monitor.
    fn demo_run(app: &mut WickApp, adjust: fn(&mut TrainConfig)) {
        show(app, Tab::Monitor);
        match crate::demo::materialize(&app.demo_root()) {
            Ok(files) => {
                let mut config = crate::demo::config(&files);
                adjust(&mut config);
                app.start_training(config);
            }
            Err(err) => app
                .toasts
                .error("Could not write the offline demo's files", err.to_string()),
        }
    }
    /// A second demo run with another learning rate, for Monitor live and for Runs.
    fn second_demo_run(app: &mut WickApp) {
        demo_run(app, |config| {
            config.learning_rate = 5e-4;
            // Long enough (about ten seconds) for the tour to catch it training.
            config.num_train_epochs = 40.0;
            config.run_name = Some("offline-demo-lr5e-4".into());
        });
    }
    /// A run that max_steps cuts inside its first epoch: it still evaluates and saves at
    /// its last step (Trainer's flow), which Runs shows.
    const SHORT_RUN: &str = "offline-demo-max-steps-25";
    let mut stops = vec![
        tour::Stop {
            name: "welcome",
            enter: |app| app.state.welcome_dismissed = false,
            ready: |_| true,
            max_wait: Duration::from_secs(5),
            resize_to: None,
        },
        tour::Stop {
            name: "monitor-finished",
            enter: |app| app.start_demo(),
            ready: |app| app.state.monitor.live_run().is_some() && !app.state.monitor.is_training(),
            max_wait: Duration::from_secs(180),
            resize_to: None,
        },
        tour::Stop {
            name: "hub",
            enter: |app| {
                show(app, Tab::Hub);
                app.with_cx(|state, cx| state.hub.search_for(cx, SearchKind::Datasets, "glue"));
            },
            ready: |app| {
                app.with_cx(|state, cx| state.hub.select_first_result(cx))
                    && app.state.hub.has_details()
                    && !app.is_busy()
            },
            max_wait: Duration::from_secs(60),
            resize_to: None,
        },
        tour::Stop {
            name: "data",
            enter: |app| {
                show(app, Tab::Data);
                if !app.hub.offline {
                    // The course recipe, through the configured endpoint (a mirror here).
                    app.state.recipe = TrainConfig::default();
                    crate::recipe::presets::Preset::CourseRecipe.apply(&mut app.state.recipe);
                }
            },
            ready: |app| {
                // Tokenize once the panel has read the columns (its first frames' job).
                if app.state.data.report().is_none() {
                    if !app.is_busy() {
                        app.with_cx(|state, cx| state.data.tokenize_now(cx));
                    }
                    return false;
                }
                app.state.data.batch_view().is_some() && !app.is_busy()
            },
            max_wait: Duration::from_secs(300),
            resize_to: None,
        },
        tour::Stop {
            name: "train",
            enter: |app| {
                show(app, Tab::Train);
                app.with_cx(|state, cx| state.train.preflight_now(cx));
            },
            ready: |app| app.state.train.preflight_report().is_some() && !app.is_busy(),
            max_wait: Duration::from_secs(300),
            resize_to: None,
        },
        tour::Stop {
            name: "monitor-live",
            enter: second_demo_run,
            ready: |app| {
                app.state
                    .monitor
                    .progress_fraction()
                    .is_some_and(|f| f > 0.55)
                    || !app.state.monitor.is_training()
            },
            max_wait: Duration::from_secs(180),
            resize_to: None,
        },
        tour::Stop {
            name: "runs",
            enter: |app| show(app, Tab::Runs),
            ready: |app| {
                if app.state.monitor.is_training() {
                    return false;
                }
                let runs: Vec<PathBuf> = app
                    .state
                    .runs
                    .rows()
                    .map(|rows| rows.iter().map(|r| r.summary.path.clone()).collect())
                    .unwrap_or_default();
                if runs.len() < 2 {
                    return false;
                }
                app.state.runs.select_for_overlay(&runs[..2]);
                app.state.runs.overlay_points() > 0 && !app.is_busy()
            },
            max_wait: Duration::from_secs(120),
            resize_to: None,
        },
        tour::Stop {
            name: "runs-short-run",
            enter: |app| {
                demo_run(app, |config| {
                    config.max_steps = 25;
                    config.run_name = Some(SHORT_RUN.into());
                })
            },
            ready: |app| {
                if app.state.monitor.is_training() {
                    return false;
                }
                app.state.tab = Tab::Runs;
                let short = app.state.runs.rows().and_then(|rows| {
                    rows.iter()
                        .find(|row| row.summary.info.run_name.as_deref() == Some(SHORT_RUN))
                        .map(|row| row.summary.path.clone())
                });
                let Some(short) = short else {
                    return false;
                };
                // Ticked beside the two runs before it, and the one managed.
                if !app.state.runs.selected().contains(&short) {
                    app.state.runs.select_for_overlay(&[short]);
                }
                app.state.runs.overlay_points() > 0 && !app.is_busy()
            },
            max_wait: Duration::from_secs(120),
            resize_to: None,
        },
        tour::Stop {
            name: "playground",
            enter: |app| show(app, Tab::Playground),
            ready: |app| {
                if !app.state.playground.has_prediction() {
                    if !app.is_busy() {
                        app.with_cx(|state, cx| {
                            state.playground.predict_now(
                                cx,
                                "honestly the soundtrack was superb from start to finish",
                            )
                        });
                    }
                    return false;
                }
                true
            },
            max_wait: Duration::from_secs(60),
            resize_to: None,
        },
    ];
    // The same panels again in the smallest window Wick supports.
    type Enter = fn(&mut WickApp);
    let small_window: [(&'static str, Enter); 6] = [
        ("small-hub", |app| show(app, Tab::Hub)),
        ("small-data", |app| show(app, Tab::Data)),
        ("small-train", |app| show(app, Tab::Train)),
        ("small-monitor", |app| show(app, Tab::Monitor)),
        ("small-runs", |app| show(app, Tab::Runs)),
        ("small-playground", |app| show(app, Tab::Playground)),
    ];
    stops.extend(
        small_window
            .into_iter()
            .enumerate()
            .map(|(index, (name, enter))| tour::Stop {
                name,
                enter,
                ready: |app| !app.is_busy(),
                max_wait: Duration::from_secs(30),
                resize_to: (index == 0).then_some(MIN_WINDOW_SIZE),
            }),
    );
    // Last, as it leaves the recipe invalid: every form error listed at once.
    stops.push(tour::Stop {
        name: "small-train-errors",
        enter: |app| {
            show(app, Tab::Train);
            let recipe = &mut app.state.recipe;
            recipe.learning_rate = -1.0;
            recipe.per_device_train_batch_size = 0;
            recipe.warmup_ratio = 3.0;
        },
        ready: |_| true,
        max_wait: Duration::from_secs(10),
        resize_to: None,
    });
    stops
}
