//! The screenshot tour's stops (`WICK_TOUR_DIR`, `scripts/screenshots.sh`): the states a
//! person should see each panel in, at the default size and at the smallest window, then
//! Data, Monitor and Playground for each task beyond single-label classification.

use std::path::PathBuf;

use super::{MIN_WINDOW_SIZE, Tab, WickApp, panels, tour, tour_data};
use crate::recipe::TrainConfig;
use crate::task::Task as ModelTask;

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
    stops.extend(task_stops());
    stops.extend(lora_stops());
    stops
}

/// The LoRA demo run's name.
const LORA_RUN: &str = "offline-demo-lora";

/// The offline demo with LoRA: its preflight (LoRA vs full fine-tuning), the run in Runs with
/// its badge, and the Playground predicting with the adapter on the base.
fn lora_stops() -> Vec<tour::Stop> {
    use std::time::Duration;
    fn lora_recipe(app: &mut WickApp) -> Option<TrainConfig> {
        match crate::demo::materialize(&app.demo_root()) {
            Ok(files) => {
                let mut config = crate::demo::config(&files);
                config.use_lora = true;
                config.lora_r = 8;
                config.lora_alpha = 16.0;
                // The frozen random base learns through its adapters only: more steps, a
                // higher rate (it reaches about 0.9 accuracy, as full fine-tuning does).
                config.learning_rate = 5e-3;
                config.num_train_epochs = 8.0;
                config.run_name = Some(LORA_RUN.into());
                Some(config)
            }
            Err(err) => {
                app.toasts
                    .error("Could not write the offline demo's files", err.to_string());
                None
            }
        }
    }
    vec![
        tour::Stop {
            name: "lora-train",
            enter: |app| {
                app.state.tab = Tab::Train;
                if let Some(config) = lora_recipe(app) {
                    app.state.recipe = config;
                }
                app.with_cx(|state, cx| state.train.preflight_now(cx));
            },
            ready: |app| app.state.train.preflight_report().is_some() && !app.is_busy(),
            max_wait: Duration::from_secs(120),
            resize_to: None,
        },
        tour::Stop {
            name: "lora-runs",
            enter: |app| {
                if let Some(config) = lora_recipe(app) {
                    app.start_training(config);
                }
            },
            ready: |app| {
                if app.state.monitor.is_training() {
                    return false;
                }
                app.state.tab = Tab::Runs;
                let listed = app.state.runs.rows().is_some_and(|rows| {
                    rows.iter()
                        .any(|row| row.summary.info.run_name.as_deref() == Some(LORA_RUN))
                });
                listed && !app.is_busy()
            },
            max_wait: Duration::from_secs(180),
            resize_to: None,
        },
        tour::Stop {
            name: "lora-playground",
            enter: |app| {
                app.state.tab = Tab::Playground;
                app.state.playground.weights = panels::playground::WeightsPick::BaseWithAdapter;
            },
            ready: |app| {
                if !app.state.playground.select_run(LORA_RUN) {
                    return false;
                }
                if app.state.playground.has_prediction() {
                    return !app.is_busy();
                }
                if !app.is_busy() {
                    app.with_cx(|state, cx| {
                        state.playground.predict_now(
                            cx,
                            "honestly the soundtrack was superb from start to finish",
                        )
                    });
                }
                false
            },
            max_wait: Duration::from_secs(90),
            resize_to: None,
        },
        tour::Stop {
            name: "small-lora-playground",
            enter: |app| app.state.tab = Tab::Playground,
            ready: |app| !app.is_busy(),
            max_wait: Duration::from_secs(30),
            resize_to: Some(MIN_WINDOW_SIZE),
        },
        tour::Stop {
            name: "small-lora-runs",
            enter: |app| app.state.tab = Tab::Runs,
            ready: |app| !app.is_busy(),
            max_wait: Duration::from_secs(30),
            resize_to: None,
        },
    ]
}

/// The tour run of `task` (its files written on first use), or a toast saying why not.
fn task_run(app: &mut WickApp, task: ModelTask) -> Option<tour_data::TaskRun> {
    match tour_data::task_run(&app.demo_root(), task) {
        Ok(run) => run,
        Err(err) => {
            app.toasts.error(
                format!("Could not write the tour's {} files", task.title()),
                err.to_string(),
            );
            None
        }
    }
}

/// Data with the task's data tokenized, Monitor after training it, and the Playground with a
/// prediction, for entities, multi-label and regression, back at the default window size.
fn task_stops() -> Vec<tour::Stop> {
    use std::time::Duration;
    type Enter = fn(&mut WickApp);
    type Ready = fn(&mut WickApp) -> bool;
    /// Data: the task's recipe, its columns read and a batch tokenized.
    fn data_enter(app: &mut WickApp, task: ModelTask) {
        app.state.welcome_dismissed = true;
        app.state.tab = Tab::Data;
        if let Some(run) = task_run(app, task) {
            app.state.recipe = run.config;
        }
    }
    fn data_ready(app: &mut WickApp) -> bool {
        if app.state.data.report().is_none() {
            if !app.is_busy() {
                app.with_cx(|state, cx| state.data.tokenize_now(cx));
            }
            return false;
        }
        app.state.data.batch_view().is_some() && !app.is_busy()
    }
    fn monitor_enter(app: &mut WickApp, task: ModelTask) {
        if let Some(run) = task_run(app, task) {
            app.start_training(run.config);
        }
    }
    fn monitor_ready(app: &mut WickApp, task: ModelTask) -> bool {
        let run_name = task_run(app, task).and_then(|r| r.config.run_name);
        let monitor = &app.state.monitor;
        monitor
            .live_run()
            .is_some_and(|run| run.config.run_name == run_name)
            && !monitor.is_training()
    }
    fn playground_enter(app: &mut WickApp) {
        app.state.tab = Tab::Playground;
    }
    /// Picks the task's run once the Playground lists it, then predicts its text.
    fn playground_ready(app: &mut WickApp, task: ModelTask) -> bool {
        let Some(run) = task_run(app, task) else {
            return false;
        };
        let name = run.config.run_name.unwrap_or_default();
        if !app.state.playground.select_run(&name) {
            return false;
        }
        if app.state.playground.has_prediction() {
            return !app.is_busy();
        }
        if !app.is_busy() {
            app.with_cx(|state, cx| state.playground.predict_now(cx, run.try_text));
        }
        false
    }
    let tasks: [(Enter, Enter, Ready, Ready); 3] = [
        (
            |app| data_enter(app, ModelTask::TokenClassification),
            |app| monitor_enter(app, ModelTask::TokenClassification),
            |app| monitor_ready(app, ModelTask::TokenClassification),
            |app| playground_ready(app, ModelTask::TokenClassification),
        ),
        (
            |app| data_enter(app, ModelTask::MultiLabelClassification),
            |app| monitor_enter(app, ModelTask::MultiLabelClassification),
            |app| monitor_ready(app, ModelTask::MultiLabelClassification),
            |app| playground_ready(app, ModelTask::MultiLabelClassification),
        ),
        (
            |app| data_enter(app, ModelTask::Regression),
            |app| monitor_enter(app, ModelTask::Regression),
            |app| monitor_ready(app, ModelTask::Regression),
            |app| playground_ready(app, ModelTask::Regression),
        ),
    ];
    let names: [[&'static str; 3]; 3] = [
        ["ner-data", "ner-monitor", "ner-playground"],
        [
            "multilabel-data",
            "multilabel-monitor",
            "multilabel-playground",
        ],
        [
            "regression-data",
            "regression-monitor",
            "regression-playground",
        ],
    ];
    let mut stops = Vec::new();
    for ((data, monitor, trained, predicted), [data_name, monitor_name, playground_name]) in
        tasks.into_iter().zip(names)
    {
        let first = stops.is_empty();
        stops.push(tour::Stop {
            name: data_name,
            enter: data,
            ready: data_ready,
            max_wait: Duration::from_secs(120),
            // Back from the smallest window to the default size.
            resize_to: first.then_some(egui::vec2(1280.0, 820.0)),
        });
        stops.push(tour::Stop {
            name: monitor_name,
            enter: monitor,
            ready: trained,
            max_wait: Duration::from_secs(300),
            resize_to: None,
        });
        stops.push(tour::Stop {
            name: playground_name,
            enter: playground_enter,
            ready: predicted,
            max_wait: Duration::from_secs(90),
            resize_to: None,
        });
    }
    stops
}
