//! Runs: every run in the runs folder, with its task and headline metric. Rename, delete,
//! open the folder; tick several runs to overlay their curves, see the config keys that
//! differ and (for two runs) the validation examples their task's comparison picks
//! (flipped predictions, changed label sets, changed errors, entities found by one run
//! only); fork a run from a checkpoint or resume it; export the overlay as PNG and the
//! metrics as CSV.
//!
//! Listing and loading a run's files happen on tasks the panel owns (a newer request
//! replaces an older one); a loaded run is cached by its path and the sizes of
//! `metrics.jsonl` and `predictions.json`, so a run still training reloads when it logs
//! more.

use egui::RichText;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::accelerate::AccelerateForm;
use crate::app::charts::Series;
use crate::app::jobs::{self, Task, TaskError};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::recipe::TrainConfig;
use crate::runs::compare::{self, CompareError, ExampleDiff, PREDICTIONS_FILE, Predictions, XAxis};
use crate::runs::{
    BrokenRun, CheckpointEntry, LogRecord, METRICS_FILE, RunDir, RunSummary, RunsError,
};

mod curves;
mod diff;
mod export;
mod manage;
mod table;

pub use curves::default_panels;
pub use export::{ExportError, save_png_crop};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Png,
    Csv,
}

/// What decides whether a cached run is stale: its logs' sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub metrics_len: u64,
    pub predictions_len: Option<u64>,
}

impl Fingerprint {
    fn of(run: &Path) -> Self {
        Self {
            metrics_len: std::fs::metadata(run.join(METRICS_FILE)).map_or(0, |m| m.len()),
            predictions_len: std::fs::metadata(run.join(PREDICTIONS_FILE))
                .ok()
                .map(|m| m.len()),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub summary: RunSummary,
    pub fingerprint: Fingerprint,
    /// Training time and wall time (`runs::RunDurations`).
    pub durations: crate::runs::RunDurations,
    /// What the run trains for: `run.json`'s task, else its config's, else single-label
    /// (runs written before tasks).
    pub task: crate::task::Task,
    /// The task's headline metric at the run's last evaluation.
    pub headline: Option<Headline>,
    /// LoRA settings and adapter size; `None` for full fine-tuning (or an unreadable config).
    pub lora: Option<crate::runs::RunLora>,
}

/// A run's headline metric (`Metrics::headline` of its task) as last logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The logged key, e.g. `eval_pearson`.
    pub key: String,
    pub value: f64,
    pub step: Option<u64>,
}

impl Headline {
    fn of(run: &Path, task: crate::task::Task) -> Option<Self> {
        let key = format!("eval_{}", crate::train::metrics::Metrics::headline(task));
        let (value, step) = compare::last_logged(&run.join(METRICS_FILE), &key)?;
        Some(Self { key, value, step })
    }
}

impl RunRow {
    /// The run's name (`run_name`), else its folder's.
    pub fn display_name(&self) -> &str {
        self.summary
            .info
            .run_name
            .as_deref()
            .unwrap_or(&self.summary.name)
    }
}

/// A run's files, read on a job.
#[derive(Debug)]
pub struct LoadedRun {
    pub records: Vec<LogRecord>,
    /// Unreadable lines of `metrics.jsonl`, skipped.
    pub skipped_lines: usize,
    pub config: Result<TrainConfig, RunsError>,
    pub checkpoints: Result<Vec<CheckpointEntry>, RunsError>,
    pub predictions: Result<Option<Predictions>, RunsError>,
    pub has_elapsed: bool,
    pub curve_keys: Vec<String>,
}

fn load_run(path: &Path) -> Result<LoadedRun, RunsError> {
    let run = RunDir::open(path)?;
    let read = crate::runs::read_metrics(&run.metrics_path())?;
    let records = read.records;
    Ok(LoadedRun {
        has_elapsed: compare::has_elapsed(&records),
        curve_keys: compare::curve_keys(&records),
        skipped_lines: read.bad_lines.len() + usize::from(read.torn_last_line.is_some()),
        records,
        config: run.config(),
        checkpoints: run.checkpoints().and_then(|c| c.list()),
        predictions: compare::read_predictions(path),
    })
}

/// Why a run's files could not be read.
#[derive(Debug, thiserror::Error)]
enum ReadFailed {
    #[error(transparent)]
    Runs(#[from] RunsError),
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// A run's files being read, for the fingerprint they had when the read started.
struct Loading {
    fingerprint: Fingerprint,
    task: Task<Result<Arc<LoadedRun>, RunsError>>,
}

/// The runs folder as listed: readable runs, and folders that are not.
type Listing = (Vec<RunRow>, Vec<BrokenRun>);

fn list(root: &Path) -> Result<Listing, RunsError> {
    let listing = crate::runs::list_runs(root)?;
    let rows = listing
        .runs
        .into_iter()
        .map(|summary| {
            let task = compare::run_task(&summary);
            RunRow {
                fingerprint: Fingerprint::of(&summary.path),
                durations: summary.info.durations(),
                headline: Headline::of(&summary.path, task),
                lora: crate::runs::read_run_lora(&summary.path).ok().flatten(),
                task,
                summary,
            }
        })
        .collect();
    Ok((rows, listing.broken))
}

/// A confirmed-or-not delete.
struct DeleteRequest {
    path: PathBuf,
    name: String,
    /// Who writes the run, asked when the dialog opened (not every frame: that is file
    /// I/O). `runs::delete_run` takes the lock itself, so a run started since is refused.
    in_use_by: Option<u32>,
}

/// One panel of the compare grid: a series key and each loaded run's curve of it (the
/// run's index in the selection picks its colour).
struct PanelCurves {
    key: String,
    curves: Vec<(usize, PathBuf, Series)>,
}

/// The compare grid's curves, rebuilt only when the selection, the data, the panels, the
/// axes or the smoothing change.
struct OverlayCache {
    key: Vec<(PathBuf, Fingerprint)>,
    panels: Vec<String>,
    x_axis: XAxis,
    smoothing_bits: u64,
    series: Vec<PanelCurves>,
    /// Selected runs without `elapsed_s`, left out of a wall-time overlay.
    without_wall_time: Vec<String>,
}

/// Two runs' per-example comparison (their task's), for the runs' files as fingerprinted.
struct PairCache {
    key: [(PathBuf, Fingerprint); 2],
    result: Result<ExampleDiff, CompareError>,
}

#[derive(Default)]
struct Runtime {
    rows: Option<Vec<RunRow>>,
    broken: Vec<BrokenRun>,
    /// The folder being listed; a newer refresh replaces it (the older result is discarded).
    listing: Option<Task<Result<Listing, RunsError>>>,
    /// Ticked runs, in the order they were ticked (A, B, ...).
    selected: Vec<PathBuf>,
    /// The run the manage section is about (the last one clicked or ticked).
    focused: Option<PathBuf>,
    cache: HashMap<PathBuf, (Fingerprint, Arc<LoadedRun>)>,
    load_errors: HashMap<PathBuf, ReadFailed>,
    /// Runs being read; a newer read of the same run replaces (cancels) the older one.
    loading: HashMap<PathBuf, Loading>,
    /// The selection changed outside the table (the tour, the UI benchmark): load on the
    /// next frame, as a click would.
    selection_changed: bool,
    rename_text: String,
    rename_for: Option<PathBuf>,
    delete: Option<DeleteRequest>,
    /// The confirmed delete, while it runs; its result is the deleted run's path.
    deleting: Option<Task<Result<PathBuf, RunsError>>>,
    opening: Option<Task<Result<(), manage::OpenFolderError>>>,
    checkpoint_step: Option<u64>,
    plot_rect: Option<egui::Rect>,
    pixels_per_point: f32,
    pending_png: Option<export::PendingPng>,
    saving_png: Option<Task<Result<PathBuf, export::ExportError>>>,
    saving_csv: Option<Task<Result<PathBuf, export::ExportError>>>,
    /// A save dialog for the PNG or the CSV path.
    picking: Option<Task<(Export, Option<PathBuf>)>>,
    overlay: Option<OverlayCache>,
    /// Ticked runs hidden from every compare panel (still ticked for the diffs).
    hidden: std::collections::HashSet<PathBuf>,
    pair: Option<PairCache>,
    alert: Option<Alert>,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct RunsPanel {
    /// The compare grid's panels, one series each (`loss`, `eval_loss`, `eval_accuracy`,
    /// ...); empty picks [`default_panels`].
    pub panels: Vec<String>,
    /// EMA weight applied to every compared curve (as Monitor's and TensorBoard's slider).
    pub smoothing: f64,
    pub x_axis: XAxis,
    pub png_path: String,
    pub csv_path: String,
    /// "Export as Accelerate project…" for the focused run.
    pub accelerate: AccelerateForm,
    #[serde(skip)]
    rt: Runtime,
}

impl Default for RunsPanel {
    fn default() -> Self {
        Self {
            panels: Vec::new(),
            smoothing: 0.0,
            x_axis: XAxis::Step,
            png_path: String::new(),
            csv_path: String::new(),
            accelerate: AccelerateForm::default(),
            rt: Runtime::default(),
        }
    }
}

impl RunsPanel {
    /// The runs listed (after the first listing arrives).
    pub fn rows(&self) -> Option<&[RunRow]> {
        self.rt.rows.as_deref()
    }

    /// The ticked runs, in tick order.
    pub fn selected(&self) -> &[PathBuf] {
        &self.rt.selected
    }

    /// Whether a run's files are loaded (and current).
    pub fn is_loaded(&self, path: &Path) -> bool {
        self.rt.cache.contains_key(path)
    }

    /// Ticks these runs for comparison (beside any already ticked), as clicking their
    /// checkboxes does (for the screenshot tour and the UI benchmark), and manages the last;
    /// they load over the next frames.
    pub fn select_for_overlay(&mut self, paths: &[PathBuf]) {
        for path in paths {
            if !self.rt.selected.contains(path) {
                self.rt.selected.push(path.clone());
            }
        }
        self.rt.focused = paths.last().cloned();
        self.rt.selection_changed = true;
    }

    /// Points in the overlay as last drawn.
    pub fn overlay_points(&self) -> usize {
        self.rt.overlay.as_ref().map_or(0, |overlay| {
            overlay
                .series
                .iter()
                .flat_map(|panel| &panel.curves)
                .map(|(_, _, s)| s.points.len())
                .sum()
        })
    }

    /// The runs folder changed: list it again.
    pub fn refresh(&mut self, cx: &mut Cx) {
        let root = cx.runs_root.to_path_buf();
        self.rt.listing = Some(
            cx.jobs
                .task("runs-list", "listing runs", move |_| list(&root)),
        );
    }

    /// Takes the results of the panel's finished tasks; called every frame, whichever tab
    /// shows.
    pub fn poll(&mut self, cx: &mut Cx) {
        match jobs::poll_slot(&mut self.rt.listing) {
            Some(Ok(Ok(listing))) => self.listed(cx, listing),
            Some(Ok(Err(err))) => self.listing_failed(cx, err.to_string()),
            Some(Err(err)) => self.listing_failed(cx, err.to_string()),
            None => {}
        }
        self.poll_loads();
        self.poll_manage(cx);
        self.poll_exports(cx);
        self.accelerate.poll(cx);
    }

    fn listed(&mut self, cx: &mut Cx, (rows, broken): Listing) {
        let exists = |p: &PathBuf| rows.iter().any(|r| &r.summary.path == p);
        self.rt.selected.retain(exists);
        if self.rt.focused.as_ref().is_some_and(|p| !exists(p)) {
            self.rt.focused = None;
        }
        self.rt.cache.retain(|path, (fingerprint, _)| {
            rows.iter()
                .any(|r| &r.summary.path == path && r.fingerprint == *fingerprint)
        });
        self.rt.rows = Some(rows);
        self.rt.broken = broken;
        self.ensure_loaded(cx);
    }

    fn listing_failed(&mut self, cx: &mut Cx, detail: String) {
        cx.toasts.error("Could not list the runs", detail.clone());
        self.rt.alert = Some(Alert::error("Could not list the runs", detail));
        self.rt.rows.get_or_insert_with(Vec::new);
    }

    /// Caches the runs whose files were read, and remembers why the others could not be.
    fn poll_loads(&mut self) {
        let finished: Vec<_> = self
            .rt
            .loading
            .iter_mut()
            .filter_map(|(path, loading)| {
                let result = loading.task.poll()?;
                Some((path.clone(), loading.fingerprint, result))
            })
            .collect();
        for (path, fingerprint, result) in finished {
            self.rt.loading.remove(&path);
            match result
                .map_err(ReadFailed::from)
                .and_then(|read| read.map_err(ReadFailed::from))
            {
                Ok(loaded) => {
                    self.rt.load_errors.remove(&path);
                    self.rt.cache.insert(path, (fingerprint, loaded));
                }
                Err(err) => {
                    self.rt.load_errors.insert(path, err);
                }
            }
        }
    }

    /// Starts loading the ticked and focused runs that are not cached (or are stale).
    fn ensure_loaded(&mut self, cx: &mut Cx) {
        let Some(rows) = &self.rt.rows else { return };
        let wanted = self.rt.selected.iter().chain(self.rt.focused.iter());
        for path in wanted {
            let Some(row) = rows.iter().find(|r| &r.summary.path == path) else {
                continue;
            };
            let fingerprint = row.fingerprint;
            let cached = self
                .rt
                .cache
                .get(path)
                .is_some_and(|(f, _)| *f == fingerprint);
            let reading = self
                .rt
                .loading
                .get(path)
                .is_some_and(|loading| loading.fingerprint == fingerprint);
            if cached || reading {
                continue;
            }
            let label = format!("reading {}", row.summary.name);
            let run = path.clone();
            let task = cx
                .jobs
                .task("runs-load", label, move |_| load_run(&run).map(Arc::new));
            self.rt
                .loading
                .insert(path.clone(), Loading { fingerprint, task });
        }
    }

    fn row(&self, path: &Path) -> Option<&RunRow> {
        self.rt
            .rows
            .as_ref()?
            .iter()
            .find(|r| r.summary.path == path)
    }

    fn loaded(&self, path: &Path) -> Option<&Arc<LoadedRun>> {
        self.rt.cache.get(path).map(|(_, loaded)| loaded)
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Runs",
            "Every run in the runs folder. Tick runs to compare them; click a row to manage it.",
        );
        widgets::alert(ui, &mut self.rt.alert);
        ui.horizontal(|ui| {
            if ui
                .button("Refresh")
                .on_hover_text("List the runs folder again")
                .clicked()
            {
                self.refresh(cx);
            }
            if self.rt.listing.is_some() {
                ui.spinner();
            }
            // A long path ends in "…" rather than widening the page; the tooltip has it whole.
            let folder = format!("runs folder: {}", cx.runs_root.display());
            ui.add(egui::Label::new(widgets::muted(ui, &folder)).truncate())
                .on_hover_text(folder);
        });
        let Some(rows) = &self.rt.rows else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Listing runs…");
            });
            return;
        };
        if rows.is_empty() {
            widgets::empty_state(
                ui,
                "No runs yet. Put a recipe together in Train and press Start;\n\
                 finished, stopped and failed runs all show up here.",
            );
            ui.vertical_centered(|ui| {
                if ui.button("Go to Train").clicked() {
                    cx.actions.push(Action::Navigate(Tab::Train));
                }
            });
            self.broken_note(ui);
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("runs-page")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let before = (self.rt.selected.clone(), self.rt.focused.clone());
                self.table(ui);
                self.broken_note(ui);
                let changed = (self.rt.selected.clone(), self.rt.focused.clone()) != before;
                if changed || std::mem::take(&mut self.rt.selection_changed) {
                    self.ensure_loaded(cx);
                }
                ui.add_space(8.0);
                self.manage_section(ui, cx);
                ui.add_space(8.0);
                self.compare_section(ui, cx);
            });
        self.delete_dialog(ui, cx);
    }

    fn broken_note(&self, ui: &mut egui::Ui) {
        if self.rt.broken.is_empty() {
            return;
        }
        ui.collapsing(
            format!(
                "⚠ {} folder(s) in the runs folder are not readable runs",
                self.rt.broken.len()
            ),
            |ui| {
                for broken in &self.rt.broken {
                    ui.label(
                        RichText::new(format!("{}: {}", broken.path.display(), broken.reason))
                            .small(),
                    );
                }
            },
        );
    }
}
