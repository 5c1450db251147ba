//! Monitor: the run in progress, live. Charts of train loss (raw and EMA), eval loss, eval
//! metrics, learning rate, grad norm and throughput; progress and ETA; Pause, Resume, Stop,
//! Save now and Eval now; and a note when eval loss rises while the metric still improves.
//! The eval charts and the latest evaluation's numbers use the run's task's metrics
//! (`Metrics::names_for`), headline first.

use crossbeam_channel::{Receiver, Sender};
use egui::{Color32, RichText};
use egui_plot::VLine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::app::charts::{self, Series};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::recipe::{IntervalStrategy, TrainConfig};
use crate::runs::Breakdown;
use crate::task::Task as ModelTask;
use crate::train::metrics::Metrics;
use crate::train::{Command, EvalReport, Event, Started, StepReport, Summary};

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct MonitorPanel {
    /// EMA weight for the smoothed train loss, as TensorBoard's slider.
    pub smoothing: f64,
    pub show_raw_loss: bool,
    /// What lives only while the app runs (not persisted).
    #[serde(skip)]
    runtime: MonitorRuntime,
}

/// MonitorPanel's state that lives only while the app runs.
#[derive(Default)]
struct MonitorRuntime {
    run: Option<LiveRun>,
    /// The live run's events, forwarded from its trainer thread (which wakes the UI).
    events: Option<Receiver<Event>>,
}

impl Default for MonitorPanel {
    fn default() -> Self {
        Self {
            smoothing: 0.6,
            show_raw_loss: true,
            runtime: MonitorRuntime::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Preparing {
        stage: String,
        done: u64,
        total: u64,
    },
    Training,
    Paused,
    Finished(Box<Summary>),
    Failed(String),
}

/// The run this session started, as its events describe it.
pub struct LiveRun {
    commands: Sender<Command>,
    pub config: TrainConfig,
    pub started: Option<Box<Started>>,
    pub phase: Phase,
    pub last_step: Option<StepReport>,
    pub train_loss: Series,
    /// The smoothed train loss, extended as steps arrive (not recomputed every frame).
    train_loss_ema: charts::Ema,
    pub eval_loss: Series,
    pub learning_rate: Series,
    pub grad_norm: Series,
    pub samples_per_s: Series,
    /// `eval_f1`, `eval_accuracy`, ... by name (shown in [`LiveRun::eval_metric_names`]
    /// order).
    pub eval_metrics: BTreeMap<String, Series>,
    pub evals: Vec<EvalReport>,
    /// Steps with a saved checkpoint, and where.
    pub checkpoints: BTreeMap<u64, PathBuf>,
    /// What the trainer warned about (a loss that explodes, a capped setting).
    pub warnings: Vec<String>,
    /// A command sent and not yet acknowledged (e.g. "Saving…").
    pending: Option<&'static str>,
    alert: Option<Alert>,
    /// Salts the chart ids (see [`RUN_SERIAL`]).
    serial: u64,
}

impl LiveRun {
    fn new(commands: Sender<Command>, config: TrainConfig) -> Self {
        Self {
            commands,
            config,
            started: None,
            phase: Phase::Preparing {
                stage: "starting".into(),
                done: 0,
                total: 0,
            },
            last_step: None,
            train_loss: Series::new("train loss"),
            train_loss_ema: charts::Ema::named("train loss (EMA)"),
            eval_loss: Series::new("eval loss"),
            learning_rate: Series::new("learning rate"),
            grad_norm: Series::new("grad norm"),
            samples_per_s: Series::new("samples/s"),
            eval_metrics: BTreeMap::new(),
            evals: Vec::new(),
            checkpoints: BTreeMap::new(),
            warnings: Vec::new(),
            pending: None,
            alert: None,
            serial: RUN_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    pub fn is_active(&self) -> bool {
        !matches!(self.phase, Phase::Finished(_) | Phase::Failed(_))
    }

    fn name(&self) -> String {
        self.started
            .as_ref()
            .and_then(|s| s.run_dir.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "new run".into())
    }

    /// The run's task, as its evaluations report it (none before the first).
    pub fn task(&self) -> Option<ModelTask> {
        self.evals.last().map(|e| e.metrics.task)
    }

    /// The eval metric series' names in the task's order (`Metrics::names_for`: the
    /// headline first), any other after them by name.
    pub fn eval_metric_names(&self) -> Vec<String> {
        let order = self.task().map_or(&[][..], Metrics::names_for);
        let rank = |name: &str| {
            order
                .iter()
                .position(|n| *n == name.trim_start_matches("eval_"))
                .unwrap_or(order.len())
        };
        let mut names: Vec<String> = self.eval_metrics.keys().cloned().collect();
        // BTreeMap keys are sorted by name; a stable sort keeps that among equal ranks.
        names.sort_by_key(|name| rank(name));
        names
    }

    /// The metric the overfitting note watches, with its direction: `metric_for_best_model`
    /// when it is one of the task's metrics (not the loss itself), else the task's headline.
    fn watched_metric(&self) -> Option<(String, bool)> {
        let task = self.task()?;
        let config = self.started.as_ref().map_or(&self.config, |s| &s.config);
        let chosen = config
            .metric_for_best_model
            .as_deref()
            .map(|m| m.trim_start_matches("eval_"))
            .filter(|m| *m != "loss" && Metrics::is_known_for(task, m));
        Some(match chosen {
            Some(name) => (
                format!("eval_{name}"),
                config
                    .greater_is_better
                    .unwrap_or_else(|| higher_is_better(name)),
            ),
            None => {
                let headline = Metrics::headline(task);
                (format!("eval_{headline}"), higher_is_better(headline))
            }
        })
    }

    fn apply(&mut self, event: Event) -> Option<Notice> {
        match event {
            Event::Preparing { stage, done, total } => {
                self.phase = Phase::Preparing { stage, done, total };
            }
            Event::Started(started) => {
                self.started = Some(started);
                self.phase = Phase::Training;
            }
            Event::Step(step) => {
                let x = step.step as f64;
                self.train_loss.push(x, step.loss);
                self.learning_rate.push(x, step.learning_rate);
                self.grad_norm.push(x, step.grad_norm);
                self.samples_per_s.push(x, step.samples_per_s);
                self.last_step = Some(step);
            }
            Event::Eval(report) => {
                let x = report.step as f64;
                for (name, value) in report.metrics.to_log_entries("eval_") {
                    let Some(value) = value.as_f64() else {
                        continue;
                    };
                    if name == "eval_loss" {
                        self.eval_loss.push(x, value);
                    } else {
                        self.eval_metrics
                            .entry(name.clone())
                            .or_insert_with(|| Series::new(name))
                            .push(x, value);
                    }
                }
                if self.pending == Some("Evaluating…") {
                    self.pending = None;
                }
                self.evals.push(report);
            }
            Event::CheckpointSaved { step, path, .. } => {
                self.checkpoints.insert(step, path);
                if self.pending == Some("Saving…") {
                    self.pending = None;
                }
            }
            Event::Warning { message } => {
                self.warnings.push(message.clone());
                return Some(Notice::Warning { message });
            }
            Event::Paused { .. } => {
                self.phase = Phase::Paused;
                self.pending = None;
            }
            Event::Resumed { .. } => {
                self.phase = Phase::Training;
                self.pending = None;
            }
            Event::Finished(summary) => {
                self.pending = None;
                let notice = Notice::Finished {
                    name: self.name(),
                    stopped: summary.stopped_by_user,
                };
                self.phase = Phase::Finished(summary);
                return Some(notice);
            }
            Event::Failed { reason } => {
                self.pending = None;
                self.alert = Some(Alert::error("The run failed", reason.clone()));
                self.phase = Phase::Failed(reason.clone());
                return Some(Notice::Failed { reason });
            }
        }
        None
    }

    fn send(&mut self, command: Command, pending: Option<&'static str>) {
        if self.commands.send(command).is_err() {
            self.alert = Some(Alert::error(
                "The trainer is not listening",
                "Its thread has ended; the run folder holds what was saved.",
            ));
        } else {
            self.pending = pending;
        }
    }

    /// Fraction of optimizer steps done.
    fn fraction(&self) -> Option<f32> {
        match &self.phase {
            Phase::Preparing { done, total, .. } if *total > 0 => {
                Some(*done as f32 / *total as f32)
            }
            Phase::Preparing { .. } => None,
            Phase::Finished(_) => Some(1.0),
            _ => self
                .last_step
                .map(|s| s.step as f32 / s.total_steps.max(1) as f32),
        }
    }
}

enum Notice {
    Finished { name: String, stopped: bool },
    Failed { reason: String },
    Warning { message: String },
}

/// Whether a larger value of the metric `name` is better: the recipe's one rule.
pub use crate::recipe::greater_is_better_for as higher_is_better;

/// Eval loss going up while the chosen metric still improves: the model grows confident on
/// what it gets wrong, the usual first sign of overfitting.
#[derive(Debug, Clone, PartialEq)]
pub struct OverfitNote {
    /// The step of the lowest eval loss so far, and that loss.
    pub lowest_loss: (u64, f64),
    /// The latest eval loss.
    pub latest_loss: (u64, f64),
    /// The improving metric's name, and its latest value.
    pub metric: (String, f64),
    /// Best evaluation by the metric: step and checkpoint folder, if it was saved.
    pub best_step: u64,
    pub best_checkpoint: Option<PathBuf>,
}

/// Checks the evaluations so far (in order) against the note's rule: the latest eval loss is
/// above the lowest one by more than 1%, and the metric at the latest evaluation is at its
/// best so far (higher is better unless `greater_is_better` is false).
pub fn overfit_note(
    evals: &[EvalReport],
    metric: &str,
    greater_is_better: bool,
    checkpoints: &BTreeMap<u64, PathBuf>,
) -> Option<OverfitNote> {
    if metric == "eval_loss" || evals.len() < 2 {
        return None;
    }
    let loss = |e: &EvalReport| e.metrics.loss;
    let value = |e: &EvalReport| e.metrics.get(metric.trim_start_matches("eval_"));
    let latest = evals.last()?;
    let latest_loss = loss(latest)?;
    let (lowest_step, lowest_loss) = evals
        .iter()
        .filter_map(|e| Some((e.step, loss(e)?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    if lowest_step == latest.step || latest_loss <= lowest_loss * 1.01 {
        return None;
    }
    let better = |a: f64, b: f64| if greater_is_better { a > b } else { a < b };
    let latest_value = value(latest)?;
    let best = evals
        .iter()
        .filter_map(|e| Some((e.step, value(e)?)))
        .reduce(|best, e| if better(e.1, best.1) { e } else { best })?;
    let improving = evals
        .iter()
        .filter(|e| e.step < latest.step && e.step >= lowest_step)
        .filter_map(value)
        .all(|earlier| !better(earlier, latest_value));
    if !improving || best.1 != latest_value {
        return None;
    }
    Some(OverfitNote {
        lowest_loss: (lowest_step, lowest_loss),
        latest_loss: (latest.step, latest_loss),
        metric: (metric.to_string(), latest_value),
        best_step: best.0,
        best_checkpoint: checkpoints.get(&best.0).cloned(),
    })
}

impl MonitorPanel {
    /// Follows a new run: its commands go to `commands`, its events arrive on `events`.
    /// The previous run's events, if any still come, are no longer read.
    pub fn attach(
        &mut self,
        commands: Sender<Command>,
        events: Receiver<Event>,
        config: TrainConfig,
    ) {
        self.runtime.run = Some(LiveRun::new(commands, config));
        self.runtime.events = Some(events);
    }

    /// Takes in the events that arrived since the last frame.
    pub fn poll(&mut self, cx: &mut Cx) {
        let Some(events) = &self.runtime.events else {
            return;
        };
        let arrived: Vec<Event> = events.try_iter().collect();
        for event in arrived {
            self.on_event(event, cx);
        }
    }

    pub fn is_training(&self) -> bool {
        self.runtime.run.as_ref().is_some_and(LiveRun::is_active)
    }

    pub fn live_run(&self) -> Option<&LiveRun> {
        self.runtime.run.as_ref()
    }

    pub fn progress_fraction(&self) -> Option<f32> {
        self.runtime
            .run
            .as_ref()
            .filter(|r| r.is_active())?
            .fraction()
    }

    pub fn on_event(&mut self, event: Event, cx: &mut Cx) {
        let Some(run) = self.runtime.run.as_mut() else {
            return;
        };
        let checkpoint = matches!(event, Event::CheckpointSaved { .. });
        match run.apply(event) {
            Some(Notice::Finished { name, stopped }) => {
                if stopped {
                    cx.toasts
                        .info(format!("{name} stopped; it can be resumed from Runs"));
                } else {
                    cx.toasts.success(format!("{name} finished"));
                }
                cx.actions.push(Action::RunsChanged);
            }
            Some(Notice::Failed { reason }) => {
                cx.toasts.error("The run failed", reason);
                cx.actions.push(Action::RunsChanged);
            }
            Some(Notice::Warning { message }) => cx.toasts.warning("Training warning", message),
            None if checkpoint => cx.actions.push(Action::RunsChanged),
            None => {}
        }
    }

    /// What the active run is doing, for the status bar's activity corner: "training ·
    /// step 3/30", "paused · step 3/30"; `None` when no run is active.
    pub fn activity(&self) -> Option<String> {
        let run = self.runtime.run.as_ref()?;
        activity_text(&run.phase, run.last_step.as_ref())
    }

    /// The status bar's part: the active run's step, loss and ETA.
    pub fn status_line(&self, ui: &mut egui::Ui) {
        let Some(run) = &self.runtime.run else {
            ui.label(widgets::muted(ui, "no active run"));
            return;
        };
        let name = run.name();
        match &run.phase {
            Phase::Preparing { stage, done, total } => {
                ui.spinner();
                let progress = if *total > 0 {
                    format!(" {:.0}%", 100.0 * *done as f64 / *total as f64)
                } else {
                    String::new()
                };
                ui.label(format!("{name}: {stage}{progress}"));
            }
            Phase::Training | Phase::Paused => {
                let paused = if run.phase == Phase::Paused {
                    " (paused)"
                } else {
                    ""
                };
                match run.last_step {
                    Some(s) => ui.label(format!(
                        "⏺ {name}{paused}  step {}/{} · loss {:.4} · ETA {}",
                        s.step,
                        s.total_steps,
                        s.loss,
                        eta_text(&run.phase, s.eta_s)
                    )),
                    None => ui.label(format!("⏺ {name}{paused}  first step…")),
                };
            }
            Phase::Finished(summary) => {
                ui.label(widgets::muted(
                    ui,
                    format!(
                        "{name} {} at step {}",
                        if summary.stopped_by_user {
                            "stopped"
                        } else {
                            "finished"
                        },
                        summary.global_step
                    ),
                ));
            }
            Phase::Failed(_) => {
                ui.label(
                    RichText::new(format!("{name} failed"))
                        .color(crate::app::toasts::Level::Error.color(ui.visuals().dark_mode)),
                );
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Monitor",
            subtitle(self.runtime.run.as_ref().map(|run| &run.phase)),
        );
        let Some(run) = self.runtime.run.as_mut() else {
            widgets::empty_state(
                ui,
                "No run in this session yet. Put a recipe together in Train and press Start;\n\
                 past runs are in Runs.",
            );
            ui.vertical_centered(|ui| {
                if ui.button("Go to Train").clicked() {
                    cx.actions.push(Action::Navigate(Tab::Train));
                }
            });
            return;
        };
        widgets::alert(ui, &mut run.alert);
        header(ui, run, cx);
        ui.separator();
        if let Some(note) = overfit_note_for(run) {
            overfit_banner(ui, &note);
        }
        for warning in &run.warnings {
            let color = crate::app::toasts::Level::Warning.color(ui.visuals().dark_mode);
            ui.label(RichText::new(format!("⚠ {warning}")).color(color));
        }
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut self.show_raw_loss, "Raw loss");
            let smoothing = ui.label("Smoothing");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).fixed_decimals(2))
                .labelled_by(smoothing.id)
                .on_hover_text("EMA weight of the smoothed train loss (as TensorBoard's)");
        });
        egui::ScrollArea::vertical().show(ui, |ui| {
            run.train_loss_ema
                .update(&run.train_loss.points, self.smoothing);
            charts_grid(ui, run, self.show_raw_loss);
        });
    }
}

fn overfit_note_for(run: &LiveRun) -> Option<OverfitNote> {
    let (metric, greater_is_better) = run.watched_metric()?;
    overfit_note(&run.evals, &metric, greater_is_better, &run.checkpoints)
}

fn overfit_banner(ui: &mut egui::Ui, note: &OverfitNote) {
    let color = crate::app::toasts::Level::Warning.color(ui.visuals().dark_mode);
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("⚠ Possible overfitting").strong().color(color));
            ui.label(format!(
                "Eval loss rose from {:.4} (step {}) to {:.4} (step {}) while {} still \
                 improves ({:.4}): the model grows confident on the examples it gets wrong.",
                note.lowest_loss.1,
                note.lowest_loss.0,
                note.latest_loss.1,
                note.latest_loss.0,
                note.metric.0,
                note.metric.1,
            ));
            match &note.best_checkpoint {
                Some(path) => ui.label(format!(
                    "Best checkpoint by {}: {} (step {}).",
                    note.metric.0,
                    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
                    note.best_step
                )),
                None => ui.label(format!(
                    "The best evaluation (step {}) has no checkpoint yet; \"Save now\" keeps this one.",
                    note.best_step
                )),
            };
        });
}

fn header(ui: &mut egui::Ui, run: &mut LiveRun, cx: &mut Cx) {
    let name = run.name();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&name).strong().size(16.0));
        if let Some(started) = &run.started {
            ui.label(widgets::muted(
                ui,
                format!(
                    "{} · {} · {} · {} · {} train / {} eval rows",
                    crate::app::short_name(&started.config.model),
                    crate::app::short_name(&started.config.dataset),
                    started.device,
                    widgets::parameters(started.num_parameters, started.trainable_parameters),
                    started.train_rows,
                    started.eval_rows
                ),
            ));
        }
    });
    ui.horizontal_wrapped(|ui| {
        let active = run.is_active();
        let training = run.phase == Phase::Training;
        let paused = run.phase == Phase::Paused;
        let idle = run.pending.is_none();
        if ui
            .add_enabled(training && idle, egui::Button::new("⏸ Pause"))
            .on_hover_text("Pause between steps; nothing is lost")
            .clicked()
        {
            run.send(Command::Pause, Some("Pausing…"));
        }
        if ui
            .add_enabled(paused && idle, egui::Button::new("▶ Resume"))
            .clicked()
        {
            run.send(Command::Resume, Some("Resuming…"));
        }
        if ui
            .add_enabled(active && idle, egui::Button::new("⏹ Stop"))
            .on_hover_text("Stop after this step and save a checkpoint to resume from")
            .clicked()
        {
            run.send(Command::Stop, Some("Stopping…"));
        }
        if ui
            .add_enabled((training || paused) && idle, egui::Button::new("Save now"))
            .on_hover_text("Write a checkpoint at the current step")
            .clicked()
        {
            run.send(Command::SaveNow, Some("Saving…"));
        }
        let has_eval = run.started.as_ref().is_some_and(|s| s.eval_rows > 0);
        if ui
            .add_enabled(
                (training || paused) && idle && has_eval,
                egui::Button::new("Eval now"),
            )
            .on_hover_text("Evaluate on the eval split at the current step")
            .clicked()
        {
            run.send(Command::EvalNow, Some("Evaluating…"));
        }
        if let Some(pending) = run.pending {
            ui.spinner();
            ui.label(pending);
        }
        if !active {
            if ui.button("Open in Runs").clicked() {
                cx.actions.push(Action::Navigate(Tab::Runs));
            }
            if matches!(run.phase, Phase::Finished(_)) && ui.button("Try in Playground").clicked() {
                cx.actions.push(Action::Navigate(Tab::Playground));
            }
        }
    });
    progress_row(ui, run);
    latest_eval_row(ui, run);
    latest_breakdown(ui, run);
}

/// Rows a breakdown table shows at most (by support); the rest are counted below it.
pub const BREAKDOWN_ROWS: usize = 30;

/// The latest evaluation's scores per entity type, label or class, folded under its title.
fn latest_breakdown(ui: &mut egui::Ui, run: &LiveRun) {
    let Some(latest) = run.evals.last() else {
        return;
    };
    let Some(breakdown) = &latest.metrics.breakdown else {
        return;
    };
    egui::CollapsingHeader::new(format!(
        "{} · {} {}",
        breakdown.kind.title(),
        breakdown.rows.len(),
        breakdown.kind.noun_for(breakdown.rows.len())
    ))
    .id_salt(("monitor-breakdown", run.serial))
    .show(ui, |ui| {
        egui::ScrollArea::vertical()
            .id_salt("monitor-breakdown-rows")
            .max_height(170.0)
            .show(ui, |ui| {
                breakdown_table(ui, "monitor-breakdown-grid", breakdown)
            });
    });
}

/// A breakdown as a table, largest support first, at most [`BREAKDOWN_ROWS`] rows:
/// name, precision, recall, F1, support (and the threshold, for labels).
pub fn breakdown_table(ui: &mut egui::Ui, id: &str, breakdown: &Breakdown) {
    let rows = breakdown.by_support();
    let with_threshold = rows.iter().any(|r| r.threshold.is_some());
    egui::Grid::new(id)
        .num_columns(if with_threshold { 6 } else { 5 })
        .spacing([14.0, 2.0])
        .striped(true)
        .show(ui, |ui| {
            let mut headers = vec![
                breakdown.kind.noun(),
                "precision",
                "recall",
                "f1",
                "support",
            ];
            if with_threshold {
                headers.push("threshold");
            }
            for header in headers {
                ui.label(RichText::new(header).strong());
            }
            ui.end_row();
            for row in rows.iter().take(BREAKDOWN_ROWS) {
                ui.label(&row.name);
                for value in [row.precision, row.recall, row.f1] {
                    ui.label(format!("{value:.4}"));
                }
                ui.label(row.support.to_string());
                if let Some(threshold) = row.threshold {
                    ui.label(format!("{threshold:.2}"));
                }
                ui.end_row();
            }
        });
    if rows.len() > BREAKDOWN_ROWS {
        ui.label(widgets::muted(ui, {
            let more = rows.len() - BREAKDOWN_ROWS;
            format!(
                "{more} more {} with less support",
                breakdown.kind.noun_for(more)
            )
        }));
    }
}

/// The latest evaluation's numbers, the task's headline metric first and strong:
/// "Latest eval (step 30): f1 0.8123 · precision 0.79 · … · loss 0.3120".
fn latest_eval_row(ui: &mut egui::Ui, run: &LiveRun) {
    let Some(latest) = run.evals.last() else {
        return;
    };
    let metrics = &latest.metrics;
    let names = Metrics::names_for(metrics.task);
    let headline = Metrics::headline(metrics.task);
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Latest eval (step {}):", latest.step));
        let mut first = true;
        // Loss last: the headline leads, as in the charts.
        for name in names[1..].iter().chain(&names[..1]) {
            let Some(value) = metrics.get(name) else {
                continue;
            };
            if !first {
                ui.label(widgets::muted(ui, "·"));
            }
            first = false;
            let text = RichText::new(format!("{name} {value:.4}"));
            ui.label(if *name == headline {
                text.strong()
            } else {
                text
            });
        }
    });
}

fn progress_row(ui: &mut egui::Ui, run: &LiveRun) {
    match &run.phase {
        Phase::Preparing { stage, done, total } => {
            ui.horizontal_wrapped(|ui| {
                if *total > 0 {
                    ui.add(
                        egui::ProgressBar::new(*done as f32 / *total as f32)
                            .show_percentage()
                            .desired_width(320.0),
                    );
                } else {
                    ui.spinner();
                }
                ui.label(stage);
            });
        }
        Phase::Training | Phase::Paused => {
            let Some(step) = run.last_step else {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("running the first step…");
                });
                return;
            };
            ui.horizontal_wrapped(|ui| {
                ui.add(
                    egui::ProgressBar::new(step.step as f32 / step.total_steps.max(1) as f32)
                        .text(format!("step {} / {}", step.step, step.total_steps))
                        .desired_width(320.0),
                );
                ui.label(format!(
                    "epoch {:.2} · {:.1} samples/s · elapsed {} · ETA {}",
                    step.epoch,
                    step.samples_per_s,
                    widgets::duration(step.elapsed_s),
                    eta_text(&run.phase, step.eta_s)
                ));
            });
        }
        Phase::Finished(summary) => {
            let durations = crate::runs::RunDurations {
                training_s: Some(summary.train_runtime_s),
                wall_s: summary.wall_s,
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "{} at step {} (epoch {:.2}) · train loss {:.4} · {} · {:.1} samples/s",
                    if summary.stopped_by_user {
                        "Stopped"
                    } else if summary.stopped_early {
                        "Stopped early (patience ran out)"
                    } else {
                        "Finished"
                    },
                    summary.global_step,
                    summary.epoch,
                    summary.train_loss,
                    durations.label(),
                    summary.train_samples_per_s
                ))
                .on_hover_text(crate::runs::RunDurations::EXPLAINED);
                if let Some((name, value)) = &summary.best_metric {
                    ui.label(format!("· best {name} {value:.4}"));
                }
            });
        }
        Phase::Failed(reason) => {
            ui.label(
                RichText::new(format!("Failed: {reason}")).color(Color32::from_rgb(220, 80, 70)),
            );
        }
    }
}

/// Each LiveRun gets a new number, which salts its charts' ids: a new run starts with
/// fresh, auto-fitted charts instead of the last run's zoom and pan.
static RUN_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One chart of the Monitor grid.
enum Chart {
    Loss,
    EvalMetric(String),
    /// No evaluation has reported yet: says when the first one comes.
    EvalPending,
    LearningRate,
    GradNorm,
    Throughput,
}

impl LiveRun {
    /// The id of the plot `chart` of this run.
    pub fn plot_id(&self, chart: &str) -> egui::Id {
        egui::Id::unique(("monitor-plot", chart, self.serial))
    }

    /// What the eval charts wait for: "first evaluation at step 459", from the recipe.
    pub fn first_eval_text(&self) -> String {
        let config = self.started.as_ref().map_or(&self.config, |s| &s.config);
        match config.eval_strategy {
            IntervalStrategy::No => "No evaluation in this recipe (eval_strategy = \"no\")".into(),
            IntervalStrategy::Steps => format!(
                "Waiting for the first evaluation, at step {}",
                config.resolved_eval_steps()
            ),
            IntervalStrategy::Epoch => match self.started.as_ref() {
                Some(started) if started.steps_per_epoch > 0 => format!(
                    "Waiting for the first evaluation, at step {} (end of epoch 1)",
                    started.steps_per_epoch
                ),
                _ => "Waiting for the first evaluation, at the end of epoch 1".into(),
            },
        }
    }

    fn charts(&self) -> Vec<Chart> {
        let mut charts = vec![Chart::Loss];
        if self.eval_metrics.is_empty() {
            charts.push(Chart::EvalPending);
        }
        charts.extend(self.eval_metric_names().into_iter().map(Chart::EvalMetric));
        charts.extend([Chart::LearningRate, Chart::GradNorm, Chart::Throughput]);
        charts
    }
}

fn charts_grid(ui: &mut egui::Ui, run: &LiveRun, show_raw: bool) {
    let charts = run.charts();
    charts::chart_grid(
        ui,
        "monitor-charts",
        charts.len(),
        420.0,
        |ui, index, width| {
            chart_ui(ui, run, &charts[index], show_raw, [width, 190.0]);
        },
    );
}

fn chart_ui(ui: &mut egui::Ui, run: &LiveRun, chart: &Chart, show_raw: bool, size: [f32; 2]) {
    let dark = ui.visuals().dark_mode;
    let accent = widgets::accent(dark);
    let eval_color = charts::series_color("eval_loss");
    let best_step = run
        .evals
        .iter()
        .filter(|e| e.is_best)
        .map(|e| e.step)
        .next_back();
    let (key, title, empty_text): (String, String, Option<String>) = match chart {
        Chart::Loss => (
            "loss".into(),
            "Loss".into(),
            run.train_loss
                .is_empty()
                .then(|| "Waiting for the first training step".into()),
        ),
        Chart::EvalMetric(name) => (format!("metric-{name}"), name.clone(), None),
        Chart::EvalPending => (
            "metrics".into(),
            "Eval metrics".into(),
            Some(run.first_eval_text()),
        ),
        Chart::LearningRate => (
            "lr".into(),
            "Learning rate".into(),
            run.learning_rate
                .is_empty()
                .then(|| "Waiting for the first training step".into()),
        ),
        Chart::GradNorm => (
            "grad-norm".into(),
            "Grad norm (before clipping)".into(),
            run.grad_norm
                .is_empty()
                .then(|| "Waiting for the first training step".into()),
        ),
        Chart::Throughput => (
            "throughput".into(),
            "Throughput (samples/s)".into(),
            run.samples_per_s
                .is_empty()
                .then(|| "Waiting for the first training step".into()),
        ),
    };
    let id = run.plot_id(&key);
    ui.horizontal(|ui| {
        ui.label(RichText::new(&title).strong());
        if empty_text.is_none() {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                charts::reset_view_button(ui, id);
            });
        }
    });
    if let Some(text) = empty_text {
        // An empty frame with -10..10 axes tells nothing; say what the chart waits for.
        let (rect, _) = ui.allocate_exact_size(size.into(), egui::Sense::hover());
        ui.painter().rect_stroke(
            rect,
            4.0,
            ui.visuals().widgets.noninteractive.bg_stroke,
            egui::StrokeKind::Inside,
        );
        ui.put(rect, egui::Label::new(widgets::muted(ui, text)).wrap());
        return;
    }
    if let Chart::Loss = chart {
        let mut entries = Vec::new();
        if show_raw {
            entries.push(("train loss", accent.gamma_multiply(0.35)));
        }
        entries.push(("train loss (EMA)", accent));
        if !run.eval_loss.is_empty() {
            entries.push(("eval loss", eval_color));
        }
        charts::legend_row(ui, &entries);
    }
    // Every chart spans the whole run, so they line up and fill in as it trains.
    let total_steps = run.started.as_ref().map_or(0, |s| s.total_steps) as f64;
    let drawn: Vec<&charts::Series> = match chart {
        Chart::Loss => vec![&run.train_loss, &run.eval_loss],
        Chart::EvalMetric(name) => run.eval_metrics.get(name).into_iter().collect(),
        Chart::EvalPending => Vec::new(),
        Chart::LearningRate => vec![&run.learning_rate],
        Chart::GradNorm => vec![&run.grad_norm],
        Chart::Throughput => vec![&run.samples_per_s],
    };
    let plot = charts::fit_flat(charts::plot(id), charts::flat_band(drawn))
        .width(size[0])
        .height(size[1])
        .include_x(0.0)
        .include_x(total_steps)
        .link_cursor(egui::Id::unique(("monitor-x", run.serial)), [true, false])
        .x_axis_label("step");
    plot.show(ui, |plot_ui| {
        let best_line = |plot_ui: &mut egui_plot::PlotUi| {
            if let Some(step) = best_step {
                plot_ui.vline(
                    VLine::new("best checkpoint", step as f64)
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
        };
        match chart {
            Chart::Loss => {
                if show_raw {
                    charts::draw_line(
                        plot_ui,
                        &run.train_loss,
                        Some(accent.gamma_multiply(0.35)),
                        1.0,
                    );
                }
                charts::draw_line(plot_ui, &run.train_loss_ema.series, Some(accent), 2.0);
                charts::draw_line_with_markers(plot_ui, &run.eval_loss, eval_color);
                best_line(plot_ui);
            }
            Chart::EvalMetric(name) => {
                if let Some(series) = run.eval_metrics.get(name) {
                    charts::draw_line_with_markers(plot_ui, series, charts::series_color(name));
                }
                best_line(plot_ui);
            }
            Chart::EvalPending => {}
            Chart::LearningRate => {
                charts::draw_line(
                    plot_ui,
                    &run.learning_rate,
                    Some(Color32::from_rgb(160, 120, 230)),
                    2.0,
                );
            }
            Chart::GradNorm => {
                charts::draw_line(
                    plot_ui,
                    &run.grad_norm,
                    Some(Color32::from_rgb(90, 190, 160)),
                    1.5,
                );
                let clip = run
                    .started
                    .as_ref()
                    .map_or(run.config.max_grad_norm, |s| s.config.max_grad_norm);
                if clip > 0.0 {
                    plot_ui.hline(
                        egui_plot::HLine::new("max_grad_norm", clip)
                            .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
            }
            Chart::Throughput => {
                charts::draw_line(
                    plot_ui,
                    &run.samples_per_s,
                    Some(Color32::from_rgb(230, 120, 150)),
                    1.5,
                );
            }
        }
    });
}

/// The ETA as shown: "paused" while the run is paused, since no time passes toward the end.
fn eta_text(phase: &Phase, eta_s: f64) -> String {
    match phase {
        Phase::Paused => "paused".into(),
        _ => widgets::duration(eta_s),
    }
}

fn activity_text(phase: &Phase, last_step: Option<&StepReport>) -> Option<String> {
    let verb = match phase {
        Phase::Preparing { .. } => return Some("preparing the run".into()),
        Phase::Training => "training",
        Phase::Paused => "paused",
        Phase::Finished(_) | Phase::Failed(_) => return None,
    };
    Some(match last_step {
        Some(step) => format!("{verb} · step {}/{}", step.step, step.total_steps),
        None => format!("{verb} · first step"),
    })
}

/// The panel's subtitle: what the run is doing, and that it ended.
fn subtitle(phase: Option<&Phase>) -> &'static str {
    match phase {
        None | Some(Phase::Preparing { .. } | Phase::Training) => {
            "The run in progress: every logged step and evaluation, as it happens."
        }
        Some(Phase::Paused) => "The run is paused: Resume to go on from this step.",
        Some(Phase::Finished(summary)) if summary.stopped_by_user => {
            "The run stopped: every logged step and evaluation, until the stop."
        }
        Some(Phase::Finished(_)) => "The run finished: every logged step and evaluation.",
        Some(Phase::Failed(_)) => {
            "The run failed: every logged step and evaluation, until the failure."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::compute_metrics;
    use egui_kittest::kittest::Queryable;

    fn eval(step: u64, loss: f64, accuracy: f64) -> EvalReport {
        let mut metrics = compute_metrics(&[0, 1], &[0, 1], 2).unwrap();
        metrics.loss = Some(loss);
        metrics.scalars[0] = ("accuracy", accuracy);
        EvalReport {
            step,
            epoch: step as f64 / 100.0,
            metrics,
            runtime_s: 1.0,
            samples_per_s: 1.0,
            is_best: false,
        }
    }

    /// A regression evaluation: its loss and rmse; pearson falls as the steps go on.
    fn regression_eval(step: u64, loss: f64, rmse: f64) -> EvalReport {
        EvalReport {
            metrics: Metrics {
                task: ModelTask::Regression,
                scalars: vec![
                    ("pearson", 0.9 - step as f64 / 100.0),
                    ("spearman", 0.7),
                    ("rmse", rmse),
                    ("mse", rmse * rmse),
                    ("mae", rmse * 0.8),
                ],
                confusion_matrix: Vec::new(),
                averaging: None,
                num_examples: 12,
                loss: Some(loss),
                breakdown: None,
            },
            ..eval(step, loss, 0.0)
        }
    }

    #[test]
    fn losses_and_errors_are_better_lower() {
        for name in ["eval_loss", "rmse", "mse", "eval_mae", "hamming_loss"] {
            assert!(!higher_is_better(name), "{name}");
        }
        for name in [
            "f1",
            "eval_micro_f1",
            "pearson",
            "subset_accuracy",
            "eval_accuracy",
        ] {
            assert!(higher_is_better(name), "{name}");
        }
    }

    #[test]
    fn a_regression_run_charts_its_own_metrics_headline_first_and_watches_them() {
        let mut run = live_run(TrainConfig::default(), 10);
        assert_eq!(run.watched_metric(), None, "no task before an evaluation");
        // Eval loss rises at step 30 while rmse keeps falling: the note names rmse only when
        // it is chosen (pearson, the headline, falls too).
        for report in [
            regression_eval(10, 0.50, 0.90),
            regression_eval(20, 0.40, 0.80),
            regression_eval(30, 0.45, 0.70),
        ] {
            run.apply(Event::Eval(report));
        }
        assert_eq!(
            run.eval_metric_names(),
            [
                "eval_pearson",
                "eval_spearman",
                "eval_rmse",
                "eval_mse",
                "eval_mae"
            ]
        );
        assert_eq!(run.watched_metric(), Some(("eval_pearson".into(), true)));
        assert_eq!(overfit_note_for(&run), None);

        run.config.metric_for_best_model = Some("eval_rmse".into());
        assert_eq!(run.watched_metric(), Some(("eval_rmse".into(), false)));
        let note = overfit_note_for(&run).expect("rmse still falls while the loss rises");
        assert_eq!(note.metric, ("eval_rmse".into(), 0.70));
        assert_eq!(note.lowest_loss, (20, 0.40));

        // A metric the task does not have falls back to the headline.
        run.config.metric_for_best_model = Some("accuracy".into());
        assert_eq!(run.watched_metric(), Some(("eval_pearson".into(), true)));
    }

    fn step(step: u64, total_steps: u64) -> StepReport {
        StepReport {
            step,
            total_steps,
            epoch: 0.1,
            loss: 0.7,
            learning_rate: 1e-5,
            grad_norm: 1.0,
            samples_per_s: 10.0,
            tokens_per_s: 100.0,
            eta_s: 90.0,
            elapsed_s: 3.0,
            gpu_memory_used_bytes: None,
            gpu_utilization_percent: None,
        }
    }

    fn live_run(config: TrainConfig, steps: u64) -> LiveRun {
        let (commands, _) = crossbeam_channel::unbounded();
        let mut run = LiveRun::new(commands, config);
        run.phase = Phase::Training;
        for i in 1..=steps {
            let mut report = step(i, steps);
            report.learning_rate = 2e-5 * (1.0 - i as f64 / steps as f64);
            report.grad_norm = 0.6 + 0.8 * ((i % 5) as f64 / 4.0);
            run.apply(Event::Step(report));
        }
        run
    }

    fn charts_harness(run: &LiveRun) -> egui_kittest::Harness<'_> {
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(900.0, 600.0))
            .build_ui(move |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| charts_grid(ui, run, true));
            });
        harness.run();
        harness
    }

    fn wheel(harness: &mut egui_kittest::Harness<'_>, at: egui::Pos2, modifiers: egui::Modifiers) {
        harness.hover_at(at);
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -60.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers,
        });
        harness.run();
    }

    #[test]
    fn the_wheel_over_a_chart_leaves_it_fitted_ctrl_wheel_zooms_and_reset_view_fits_again() {
        let run = live_run(TrainConfig::default(), 60);
        let id = run.plot_id("lr");
        let mut harness = charts_harness(&run);
        let memory = |h: &egui_kittest::Harness<'_>| {
            egui_plot::PlotMemory::load(&h.ctx, id).expect("the learning rate plot")
        };
        let before = memory(&harness);
        assert!(before.auto_bounds.all());
        let center = before.transform().frame().center();
        wheel(&mut harness, center, egui::Modifiers::NONE);
        let after = memory(&harness);
        assert!(
            after.auto_bounds.all(),
            "a plain wheel must not pan the chart"
        );
        assert_eq!(after.bounds(), before.bounds());

        let center = after.transform().frame().center();
        wheel(&mut harness, center, egui::Modifiers::COMMAND);
        assert!(
            !memory(&harness).auto_bounds.all(),
            "Ctrl/Cmd + wheel zooms"
        );

        // Buttons in chart order: Loss, Learning rate, ... (the eval box waits, without one).
        harness
            .get_all_by_label("Reset view")
            .nth(1)
            .unwrap()
            .click();
        harness.run();
        assert!(
            memory(&harness).auto_bounds.all(),
            "Reset view fits the data again"
        );

        let next = live_run(TrainConfig::default(), 1);
        assert_ne!(next.plot_id("lr"), id, "a new run starts with fresh charts");
    }

    #[test]
    fn an_empty_eval_chart_says_when_the_first_evaluation_comes() {
        let config = TrainConfig {
            eval_strategy: IntervalStrategy::Steps,
            eval_steps: Some(459),
            ..TrainConfig::default()
        };
        let run = live_run(config, 3);
        let harness = charts_harness(&run);
        harness.get_by_label("Waiting for the first evaluation, at step 459");
        let no_eval = live_run(TrainConfig::default(), 0);
        let harness = charts_harness(&no_eval);
        harness.get_by_label_contains("No evaluation in this recipe");
        assert_eq!(
            harness
                .get_all_by_label("Waiting for the first training step")
                .count(),
            4
        );
    }

    #[test]
    fn each_eval_metric_gets_its_own_panel() {
        let mut run = live_run(TrainConfig::default(), 3);
        run.apply(Event::Eval(eval(3, 0.5, 0.75)));
        let harness = charts_harness(&run);
        for name in ["eval_accuracy", "eval_f1"] {
            harness.get_by_label(name);
            assert!(
                egui_plot::PlotMemory::load(&harness.ctx, run.plot_id(&format!("metric-{name}")))
                    .is_some(),
                "{name} has a plot"
            );
        }
        assert!(harness.query_by_label("Eval metrics").is_none());
    }

    #[test]
    fn the_status_bar_says_training_or_paused_with_the_step() {
        let at = step(3, 30);
        assert_eq!(
            activity_text(&Phase::Training, Some(&at)).as_deref(),
            Some("training · step 3/30")
        );
        assert_eq!(
            activity_text(&Phase::Paused, Some(&at)).as_deref(),
            Some("paused · step 3/30")
        );
        assert_eq!(
            activity_text(&Phase::Training, None).as_deref(),
            Some("training · first step")
        );
        assert_eq!(activity_text(&Phase::Failed("x".into()), Some(&at)), None);
    }

    #[test]
    fn while_paused_the_eta_reads_paused() {
        assert_eq!(eta_text(&Phase::Paused, 90.0), "paused");
        assert_eq!(eta_text(&Phase::Training, 90.0), widgets::duration(90.0));
    }

    #[test]
    fn the_subtitle_says_how_the_run_ended() {
        assert!(subtitle(None).contains("in progress"));
        assert!(subtitle(Some(&Phase::Training)).contains("in progress"));
        assert!(subtitle(Some(&Phase::Paused)).contains("paused"));
        assert!(subtitle(Some(&Phase::Failed("x".into()))).starts_with("The run failed"));
    }

    #[test]
    fn note_when_eval_loss_rises_and_the_metric_improves() {
        let evals = [
            eval(100, 0.50, 0.70),
            eval(200, 0.42, 0.78),
            eval(300, 0.47, 0.81),
        ];
        let checkpoints = BTreeMap::from([(300, PathBuf::from("/r/checkpoint-300"))]);
        let note = overfit_note(&evals, "eval_accuracy", true, &checkpoints).expect("a note");
        assert_eq!(note.lowest_loss, (200, 0.42));
        assert_eq!(note.latest_loss, (300, 0.47));
        assert_eq!(note.best_step, 300);
        assert_eq!(
            note.best_checkpoint,
            Some(PathBuf::from("/r/checkpoint-300"))
        );
    }

    #[test]
    fn a_warning_becomes_a_notice_and_every_one_stays_listed() {
        let (commands, _receiver) = crossbeam_channel::unbounded();
        let mut run = LiveRun::new(commands, TrainConfig::default());
        let warn = |message: &str| Event::Warning {
            message: message.into(),
        };
        let notice = run.apply(warn("max_length capped"));
        assert!(
            matches!(notice, Some(Notice::Warning { ref message }) if message == "max_length capped")
        );
        run.apply(warn("second"));
        assert_eq!(run.warnings, ["max_length capped", "second"]);
        assert!(run.alert.is_none(), "a warning is no error");
        assert!(run.is_active(), "a warning does not end the run");
    }

    #[test]
    fn no_note_when_loss_falls_or_the_metric_drops_too() {
        let falling = [eval(100, 0.50, 0.70), eval(200, 0.42, 0.78)];
        assert_eq!(
            overfit_note(&falling, "eval_accuracy", true, &BTreeMap::new()),
            None
        );
        let both_worse = [
            eval(100, 0.50, 0.70),
            eval(200, 0.42, 0.78),
            eval(300, 0.47, 0.74),
        ];
        assert_eq!(
            overfit_note(&both_worse, "eval_accuracy", true, &BTreeMap::new()),
            None
        );
        let noise = [eval(100, 0.420, 0.70), eval(200, 0.421, 0.78)];
        assert_eq!(
            overfit_note(&noise, "eval_accuracy", true, &BTreeMap::new()),
            None
        );
        assert_eq!(
            overfit_note(&both_worse, "eval_loss", false, &BTreeMap::new()),
            None
        );
    }
}
