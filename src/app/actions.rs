//! What the app does when asked: the panels' [`Action`]s, starting a run (the trainer thread
//! and the forwarder that hands its events to Monitor), and the offline demo.

use super::{Action, Tab, WickApp, jobs};
use crate::recipe::TrainConfig;
use crate::train::TrainerOptions;

impl WickApp {
    pub(super) fn dispatch_actions(&mut self, mut actions: Vec<Action>) {
        while !actions.is_empty() {
            let mut follow_ups = Vec::new();
            for action in actions {
                match action {
                    Action::Navigate(tab) => self.state.tab = tab,
                    Action::OpenSettings => self.settings_window.open = true,
                    Action::StartTraining(config) => {
                        if self.start_training(*config) {
                            follow_ups.push(Action::RunsChanged);
                        }
                    }
                    Action::RunsChanged => {
                        let runs_root = self.runs_root();
                        self.runs_exist = std::fs::read_dir(&runs_root)
                            .map(|mut entries| {
                                entries
                                    .any(|e| e.is_ok_and(|e| e.path().join("run.json").is_file()))
                            })
                            .unwrap_or(false);
                        self.with_cx(|state, cx| {
                            state.runs.refresh(cx);
                            state.playground.refresh(cx);
                        });
                    }
                }
            }
            actions = follow_ups;
        }
    }

    /// Starts the trainer thread and a forwarder that hands its events to Monitor (waking
    /// the UI), and shows Monitor. Returns false, with a toast, when it
    /// cannot start.
    pub fn start_training(&mut self, config: TrainConfig) -> bool {
        if self.state.monitor.is_training() {
            self.toasts.error(
                "A run is already training",
                "Stop it in Monitor first; Wick trains one run at a time.",
            );
            return false;
        }
        if let Err(err) = config.validate() {
            self.toasts
                .error("The configuration is not valid", err.to_string());
            return false;
        }
        let options = TrainerOptions {
            runs_root: Some(self.runs_root()),
            hub: self.hub.clone(),
            dataset_cache: true,
        };
        let handle = match crate::train::spawn(config.clone(), options) {
            Ok(handle) => handle,
            Err(err) => {
                self.toasts
                    .error("Could not start the trainer thread", err.to_string());
                return false;
            }
        };
        let commands = handle.commands.clone();
        // Monitor reads the events; the forwarder only wakes the UI as each one arrives.
        let (events_tx, events) = crossbeam_channel::unbounded();
        let wake = self.jobs.waker();
        let forwarder = std::thread::Builder::new()
            .name("wick-trainer-events".into())
            .spawn(move || {
                for event in handle.events.iter() {
                    if events_tx.send(event).is_err() {
                        // Monitor follows a newer run; this one's events go unread.
                        continue;
                    }
                    wake();
                }
                handle.join();
            });
        if let Err(err) = forwarder {
            // Without the forwarder nobody would see the events: stop the run.
            let _ = commands.send(crate::train::Command::Stop);
            self.toasts
                .error("Could not start the trainer thread", err.to_string());
            return false;
        }
        self.state.monitor.attach(commands, events, config);
        self.state.tab = Tab::Monitor;
        true
    }

    /// Generates the offline demo's data and model (first time only) on a job, then trains.
    pub fn start_demo(&mut self) {
        if self.demo.is_some() {
            return;
        }
        let root = self.demo_root();
        self.demo = Some(
            self.jobs
                .task("demo", "preparing the offline demo", move |_| {
                    crate::demo::materialize(&root)
                }),
        );
    }

    /// Where the offline demo's data and model are written (once).
    pub(super) fn demo_root(&self) -> std::path::PathBuf {
        self.options.data_dir.join("demo")
    }

    /// Starts the demo's run once its files are written.
    pub(super) fn poll_demo(&mut self) {
        match jobs::poll_slot(&mut self.demo) {
            Some(Ok(Ok(files))) => {
                let config = crate::demo::config(&files);
                self.state.recipe = config.clone();
                self.state.welcome_dismissed = true;
                self.dispatch_actions(vec![Action::StartTraining(Box::new(config))]);
            }
            Some(Ok(Err(err))) => self.toasts.error(
                "Could not write the offline demo's files",
                format!("{}: {err}", self.demo_root().display()),
            ),
            Some(Err(err)) => self
                .toasts
                .error("Could not write the offline demo's files", err.to_string()),
            None => {}
        }
    }
}
