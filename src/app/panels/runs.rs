//! Runs: every run in the runs folder. Rename, delete, open the folder; tick several runs
//! to overlay their curves, see the config keys that differ and (for two runs) the
//! validation examples whose prediction flipped; fork a run from a checkpoint or resume
//! it; export the overlay as PNG and the metrics as CSV.
//!
//! Listing and loading a run's files happen on jobs; a loaded run is cached by its path and
//! the sizes of `metrics.jsonl` and `predictions.json`, so a run still training reloads
//! when it logs more.

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::accelerate::AccelerateForm;
use crate::app::charts::{self, PALETTE, Series};
use crate::app::jobs::{self, JobId};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::runs::compare::{
    self, CompareError, Flips, KeyDiff, NOISE_KEYS, PREDICTIONS_FILE, Predictions, XAxis,
};
use crate::runs::{
    BrokenRun, CheckpointEntry, LogRecord, METRICS_FILE, RunDir, RunStatus, RunSummary,
};
use crate::train::TrainConfig;

#[derive(Debug)]
pub enum Msg {
    Listed {
        generation: u64,
        result: Result<(Vec<RunRow>, Vec<BrokenRun>), String>,
    },
    Loaded {
        path: PathBuf,
        fingerprint: Fingerprint,
        result: Result<Arc<LoadedRun>, String>,
    },
    Deleted {
        path: PathBuf,
        result: Result<(), String>,
    },
    OpenFailed(String),
    /// The window's pixels, for the PNG export.
    Screenshot(Arc<egui::ColorImage>),
    Saved {
        what: Export,
        result: Result<PathBuf, String>,
    },
    Picked {
        what: Export,
        path: Option<PathBuf>,
    },
}

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
    /// Finished minus started, when both are known.
    pub duration_s: Option<f64>,
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
    pub config: Result<TrainConfig, String>,
    pub checkpoints: Result<Vec<CheckpointEntry>, String>,
    pub predictions: Result<Option<Predictions>, String>,
    pub has_elapsed: bool,
    pub curve_keys: Vec<String>,
}

fn load_run(path: &Path) -> Result<LoadedRun, String> {
    let run = RunDir::open(path).map_err(|e| e.to_string())?;
    let read = crate::runs::read_metrics(&run.metrics_path()).map_err(|e| e.to_string())?;
    let records = read.records;
    Ok(LoadedRun {
        has_elapsed: compare::has_elapsed(&records),
        curve_keys: compare::curve_keys(&records),
        skipped_lines: read.bad_lines.len() + usize::from(read.torn_last_line.is_some()),
        records,
        config: run.config().map_err(|e| e.to_string()),
        checkpoints: run
            .checkpoints()
            .and_then(|c| c.list())
            .map_err(|e| e.to_string()),
        predictions: compare::read_predictions(path).map_err(|e| e.to_string()),
    })
}

fn list(root: &Path) -> Result<(Vec<RunRow>, Vec<BrokenRun>), String> {
    let listing = crate::runs::list_runs(root).map_err(|e| e.to_string())?;
    let rows = listing
        .runs
        .into_iter()
        .map(|summary| {
            let started = crate::runs::time::parse_rfc3339(&summary.info.started_at);
            let finished = summary
                .info
                .finished_at
                .as_deref()
                .and_then(crate::runs::time::parse_rfc3339);
            RunRow {
                fingerprint: Fingerprint::of(&summary.path),
                duration_s: started.zip(finished).map(|(s, f)| (f - s).max(0) as f64),
                summary,
            }
        })
        .collect();
    Ok((rows, listing.broken))
}

/// The recipe for a fork: the run's config training from `checkpoint`'s weights as a new
/// run (fresh optimizer and schedule), named `<name>-fork-<step>`.
pub fn fork_config(
    config: &TrainConfig,
    run_name: &str,
    checkpoint: &CheckpointEntry,
) -> TrainConfig {
    let mut fork = config.clone();
    fork.model = checkpoint.path.display().to_string();
    fork.resume_from_checkpoint = None;
    fork.output_dir = None;
    fork.run_name = Some(format!("{run_name}-fork-{}", checkpoint.step));
    fork
}

/// The recipe that resumes a run from `checkpoint` (optimizer, schedule and data order
/// restored; the trainer continues in the same run folder).
pub fn resume_config(config: &TrainConfig, checkpoint: &CheckpointEntry) -> TrainConfig {
    let mut resume = config.clone();
    resume.resume_from_checkpoint = Some(checkpoint.path.display().to_string());
    resume
}

/// Crops a screenshot to `rect` (in points) and writes it as PNG. The rectangle is
/// clamped to the image; an empty crop is an error.
pub fn save_png_crop(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
    path: &Path,
) -> Result<(), String> {
    let [width, height] = image.size;
    let to_px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (to_px(rect.min.x, width), to_px(rect.max.x, width));
    let (y0, y1) = (to_px(rect.min.y, height), to_px(rect.max.y, height));
    if x1 <= x0 || y1 <= y0 {
        return Err(format!(
            "the chart is not on screen (rect {rect:?} in a {width}x{height} image)"
        ));
    }
    let cropped = image.region_by_pixels([x0, y0], [x1 - x0, y1 - y0]);
    let bytes: Vec<u8> = cropped.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw((x1 - x0) as u32, (y1 - y0) as u32, bytes)
        .ok_or_else(|| "the screenshot has the wrong size".to_string())?;
    buffer
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn series_title(key: &str) -> String {
    match key {
        "loss" => "train loss".into(),
        "eval_loss" => "eval loss".into(),
        "learning_rate" => "learning rate".into(),
        "grad_norm" => "grad norm".into(),
        other => other.into(),
    }
}

/// The compare grid's first panels: train loss, eval loss, the first eval metric and the
/// learning rate (those the runs have), then others, four at most.
pub fn default_panels(keys: &[String]) -> Vec<String> {
    let metric = keys
        .iter()
        .find(|k| k.starts_with("eval_") && *k != "eval_loss")
        .cloned();
    let mut panels: Vec<String> = ["loss", "eval_loss"]
        .iter()
        .map(|k| k.to_string())
        .chain(metric)
        .chain(["learning_rate".to_string()])
        .filter(|k| keys.contains(k))
        .collect();
    for key in keys {
        if panels.len() >= 4 {
            break;
        }
        if !panels.contains(key) {
            panels.push(key.clone());
        }
    }
    panels.truncate(4);
    panels
}

/// The colour of the run ticked `index`-th: the same in the table, the legend and every panel.
fn run_color(index: usize) -> egui::Color32 {
    PALETTE[index % PALETTE.len()]
}

fn color_swatch(ui: &mut egui::Ui, color: egui::Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
    ui.painter().line_segment(
        [rect.left_center(), rect.right_center()],
        egui::Stroke::new(3.0, color),
    );
}

/// One compare panel: its title, Reset view, the visible runs' curves, and on hover a
/// tooltip with every visible run's value at the pointer's x.
fn compare_panel(
    ui: &mut egui::Ui,
    panel: &PanelCurves,
    hidden: &std::collections::HashSet<PathBuf>,
    x_label: &str,
    size: [f32; 2],
) {
    let id = egui::Id::unique(("runs-compare", &panel.key));
    ui.horizontal(|ui| {
        ui.label(RichText::new(series_title(&panel.key)).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            charts::reset_view_button(ui, id);
        });
    });
    let visible: Vec<&(usize, PathBuf, Series)> = panel
        .curves
        .iter()
        .filter(|(_, path, _)| !hidden.contains(path))
        .collect();
    let band = charts::flat_band(visible.iter().map(|(_, _, series)| series));
    let shown = charts::fit_flat(charts::plot(id), band)
        .width(size[0])
        .height(size[1])
        .x_axis_label(x_label)
        .link_cursor(egui::Id::unique("runs-compare-x"), [true, false])
        // The tooltip below says x and every run's y; the plot's own label would repeat it.
        .show_x(false)
        .show_y(false)
        .show(ui, |plot_ui| {
            for (index, _, series) in &visible {
                charts::draw_line(plot_ui, series, Some(run_color(*index)), 2.0);
            }
            plot_ui.pointer_coordinate()
        });
    if let Some(pointer) = shown.inner
        && shown.response.hovered()
    {
        let values: Vec<(egui::Color32, String, f64)> = visible
            .iter()
            .filter_map(|(index, _, series)| {
                let [_, y] = charts::value_at(&series.points, pointer.x)?;
                Some((run_color(*index), series.name.clone(), y))
            })
            .collect();
        if !values.is_empty() {
            shown.response.on_hover_ui_at_pointer(|ui| {
                let decimals = if x_label == "step" { 0 } else { 2 };
                ui.label(format!("{x_label} {:.*}", decimals, pointer.x));
                for (color, name, y) in values {
                    ui.horizontal(|ui| {
                        color_swatch(ui, color);
                        ui.label(format!("{name}: {y:.4}"));
                    });
                }
            });
        }
    }
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

/// Two runs' per-example comparison: flips, confusion delta (B − A), label names.
type PairDiff = (Flips, Vec<Vec<i64>>, Vec<String>);

struct PairCache {
    key: [(PathBuf, Fingerprint); 2],
    result: Result<PairDiff, CompareError>,
}

#[derive(Default)]
struct Runtime {
    rows: Option<Vec<RunRow>>,
    broken: Vec<BrokenRun>,
    generation: u64,
    listing_job: Option<JobId>,
    /// Ticked runs, in the order they were ticked (A, B, ...).
    selected: Vec<PathBuf>,
    /// The run the manage section is about (the last one clicked or ticked).
    focused: Option<PathBuf>,
    cache: HashMap<PathBuf, (Fingerprint, Arc<LoadedRun>)>,
    load_errors: HashMap<PathBuf, String>,
    loading: HashMap<PathBuf, Fingerprint>,
    /// The selection changed outside the table (the tour, the UI benchmark): load on the
    /// next frame, as a click would.
    selection_changed: bool,
    rename_text: String,
    rename_for: Option<PathBuf>,
    delete: Option<DeleteRequest>,
    deleting: Option<PathBuf>,
    checkpoint_step: Option<u64>,
    plot_rect: Option<egui::Rect>,
    pixels_per_point: f32,
    pending_png: Option<PathBuf>,
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

    /// Ticks these runs for comparison, as clicking their checkboxes does (for the
    /// screenshot tour and the UI benchmark); they load over the next frames.
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
        self.rt.generation += 1;
        let generation = self.rt.generation;
        let root = cx.runs_root.to_path_buf();
        self.rt.listing_job = Some(cx.jobs.spawn("runs-list", "listing runs", move |r| {
            r.send(jobs::Msg::Runs(Msg::Listed {
                generation,
                result: list(&root),
            }));
        }));
    }

    pub fn on_msg(&mut self, msg: Msg, cx: &mut Cx) {
        match msg {
            Msg::Listed { generation, result } => {
                if generation != self.rt.generation {
                    return;
                }
                match result {
                    Ok((rows, broken)) => {
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
                    Err(err) => {
                        cx.toasts.error("Could not list the runs", err.clone());
                        self.rt.alert = Some(Alert::error("Could not list the runs", err));
                        self.rt.rows.get_or_insert_with(Vec::new);
                    }
                }
            }
            Msg::Loaded {
                path,
                fingerprint,
                result,
            } => {
                if self.rt.loading.get(&path) == Some(&fingerprint) {
                    self.rt.loading.remove(&path);
                }
                match result {
                    Ok(loaded) => {
                        self.rt.load_errors.remove(&path);
                        self.rt.cache.insert(path, (fingerprint, loaded));
                    }
                    Err(err) => {
                        self.rt.load_errors.insert(path, err);
                    }
                }
            }
            Msg::Deleted { path, result } => {
                self.rt.deleting = None;
                match result {
                    Ok(()) => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        cx.toasts.success(format!("Deleted {name}"));
                    }
                    Err(err) => {
                        cx.toasts.error("Could not delete the run", err.clone());
                        self.rt.alert = Some(Alert::error("Could not delete the run", err));
                    }
                }
                cx.actions.push(Action::RunsChanged);
            }
            Msg::OpenFailed(err) => {
                cx.toasts.error("Could not open the folder", err);
            }
            Msg::Screenshot(image) => {
                let (Some(path), Some(rect)) = (self.rt.pending_png.take(), self.rt.plot_rect)
                else {
                    return;
                };
                let ppp = self.rt.pixels_per_point.max(0.1);
                cx.jobs.spawn("runs-png", "saving the chart", move |r| {
                    let result = save_png_crop(&image, rect, ppp, &path).map(|()| path);
                    r.send(jobs::Msg::Runs(Msg::Saved {
                        what: Export::Png,
                        result,
                    }));
                });
            }
            Msg::Saved { what, result } => {
                let kind = match what {
                    Export::Png => "chart",
                    Export::Csv => "metrics",
                };
                match result {
                    Ok(path) => cx
                        .toasts
                        .success(format!("Saved the {kind} to {}", path.display())),
                    Err(err) => {
                        cx.toasts
                            .error(format!("Could not save the {kind}"), err.clone());
                        self.rt.alert =
                            Some(Alert::error(format!("Could not save the {kind}"), err));
                    }
                }
            }
            Msg::Picked { what, path } => {
                if let Some(path) = path {
                    let text = path.display().to_string();
                    match what {
                        Export::Png => self.png_path = text,
                        Export::Csv => self.csv_path = text,
                    }
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
            if cached || self.rt.loading.get(path) == Some(&fingerprint) {
                continue;
            }
            self.rt.loading.insert(path.clone(), fingerprint);
            let path = path.clone();
            let label = format!("reading {}", row.summary.name);
            cx.jobs.spawn("runs-load", label, move |r| {
                let result = load_run(&path).map(Arc::new);
                r.send(jobs::Msg::Runs(Msg::Loaded {
                    path,
                    fingerprint,
                    result,
                }));
            });
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
            ui.label(widgets::muted(
                ui,
                format!("runs folder: {}", cx.runs_root.display()),
            ));
            if self
                .rt
                .listing_job
                .is_some_and(|job| cx.jobs.is_running(job))
            {
                ui.spinner();
            }
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

    fn table(&mut self, ui: &mut egui::Ui) {
        let Some(rows) = self.rt.rows.as_ref() else {
            return;
        };
        let selected = &mut self.rt.selected;
        let focused = &mut self.rt.focused;
        let dark = ui.visuals().dark_mode;
        let height = (rows.len() as f32 * 24.0 + 30.0).min(260.0);
        ui.push_id("runs-table", |ui| {
            ui.set_max_height(height);
            TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::initial(250.0).at_least(140.0).clip(true))
                .column(Column::initial(150.0).at_least(60.0).clip(true))
                .column(Column::initial(150.0).at_least(60.0).clip(true))
                .column(Column::initial(80.0).at_least(60.0))
                .column(Column::initial(170.0).at_least(80.0).clip(true))
                .column(Column::initial(80.0).at_least(50.0))
                .column(Column::remainder().at_least(110.0))
                .max_scroll_height(height)
                .header(22.0, |mut header| {
                    for title in [
                        "Run (tick to compare)",
                        "Model",
                        "Dataset",
                        "Status",
                        "Best metric",
                        "Duration",
                        "Started (UTC)",
                    ] {
                        header.col(|ui| {
                            ui.strong(title);
                        });
                    }
                })
                .body(|body| {
                    body.rows(24.0, rows.len(), |mut row| {
                        let run = &rows[row.index()];
                        let path = &run.summary.path;
                        let info = &run.summary.info;
                        row.set_selected(focused.as_ref() == Some(path));
                        let mut ticked = selected.contains(path);
                        let color = selected.iter().position(|p| p == path).map(run_color);
                        row.col(|ui| {
                            if let Some(color) = color {
                                color_swatch(ui, color);
                            }
                            let response = ui
                                .checkbox(&mut ticked, run.display_name())
                                .on_hover_text(format!("Folder: {}", run.summary.name));
                            if response.changed() {
                                if ticked {
                                    selected.push(path.clone());
                                } else {
                                    selected.retain(|p| p != path);
                                }
                                *focused = Some(path.clone());
                            }
                        });
                        row.col(|ui| {
                            ui.label(crate::app::short_name(&info.model))
                                .on_hover_text(&info.model);
                        });
                        row.col(|ui| {
                            let dataset = match &info.dataset_config {
                                Some(c) => {
                                    format!("{} ({c})", crate::app::short_name(&info.dataset))
                                }
                                None => crate::app::short_name(&info.dataset).to_string(),
                            };
                            ui.label(dataset).on_hover_text(&info.dataset);
                        });
                        row.col(|ui| {
                            let (text, level) = status_text(info.status);
                            let response = ui.label(RichText::new(text).color(level.color(dark)));
                            if let Some(err) = &info.error {
                                response.on_hover_text(err);
                            }
                        });
                        row.col(|ui| match &info.best_metric {
                            Some(best) => {
                                ui.label(format!("{} {:.4}", best.name, best.value))
                                    .on_hover_text(format!(
                                        "at step {}{}",
                                        best.step,
                                        best.checkpoint
                                            .as_deref()
                                            .map(|c| format!(" ({c})"))
                                            .unwrap_or_default()
                                    ));
                            }
                            None => {
                                ui.label(widgets::muted(ui, "–"));
                            }
                        });
                        row.col(|ui| match run.duration_s {
                            Some(s) => {
                                ui.label(widgets::duration(s));
                            }
                            None => {
                                ui.label(widgets::muted(ui, "–"));
                            }
                        });
                        row.col(|ui| {
                            ui.label(info.started_at.replace('T', " ").trim_end_matches('Z'));
                        });
                        if row.response().clicked() {
                            *focused = Some(path.clone());
                        }
                    });
                });
        });
    }

    fn manage_section(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let Some(path) = self.rt.focused.clone() else {
            ui.label(widgets::muted(
                ui,
                "Click a run (or tick it) to rename, delete, open, fork or resume it.",
            ));
            return;
        };
        let Some(row) = self.row(&path).cloned() else {
            return;
        };
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Manage: {}", row.display_name()))
                        .strong()
                        .size(15.0),
                );
                ui.label(widgets::muted(ui, format!("folder {}", row.summary.name)));
            });
            if let Some(err) = &row.summary.info.error {
                ui.label(
                    RichText::new(format!("Failed: {err}"))
                        .color(crate::app::toasts::Level::Error.color(ui.visuals().dark_mode)),
                );
            }
            run_state_notes_ui(ui, &row.summary);
            if self.rt.rename_for.as_ref() != Some(&path) {
                self.rt.rename_for = Some(path.clone());
                self.rt.rename_text = row.display_name().to_string();
                self.rt.checkpoint_step = None;
            }
            ui.horizontal(|ui| {
                let label = ui.label("Run name");
                let response = ui
                    .add(egui::TextEdit::singleline(&mut self.rt.rename_text).desired_width(260.0))
                    .labelled_by(label.id)
                    .on_hover_text(
                        "Shown in this table and in the charts; the folder keeps its name",
                    );
                let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Rename").clicked() || enter {
                    self.rename(&path, cx);
                }
                ui.separator();
                if ui
                    .button("Open folder")
                    .on_hover_text(path.display().to_string())
                    .clicked()
                {
                    open_folder(&path, cx);
                }
                let deleting = self.rt.deleting.is_some();
                if ui
                    .add_enabled(!deleting, egui::Button::new("Delete…"))
                    .clicked()
                {
                    self.rt.delete = Some(DeleteRequest {
                        path: path.clone(),
                        name: row.display_name().to_string(),
                        in_use_by: crate::runs::lock_holder(&path),
                    });
                }
                if deleting {
                    ui.spinner();
                    ui.label("deleting…");
                }
            });
            ui.add_space(4.0);
            self.checkpoint_row(ui, cx, &path, &row);
            ui.add_space(4.0);
            egui::CollapsingHeader::new("Export as Accelerate project")
                .id_salt("runs-accelerate")
                .show(ui, |ui| {
                    let run = path.clone();
                    self.accelerate.ui(
                        ui,
                        cx,
                        "runs",
                        Some(path.display().to_string()),
                        move || {
                            RunDir::open(&run)
                                .and_then(|dir| dir.config())
                                .map_err(|e| e.to_string())
                        },
                    );
                });
        });
    }

    fn rename(&mut self, path: &Path, cx: &mut Cx) {
        let result = RunDir::open(path).and_then(|mut run| run.set_run_name(&self.rt.rename_text));
        match result {
            Ok(()) => {
                cx.toasts.success("Renamed the run");
                cx.actions.push(Action::RunsChanged);
            }
            Err(err) => {
                cx.toasts.error("Could not rename the run", err.to_string());
                self.rt.alert = Some(Alert::error("Could not rename the run", err.to_string()));
            }
        }
    }

    fn checkpoint_row(&mut self, ui: &mut egui::Ui, cx: &mut Cx, path: &Path, row: &RunRow) {
        let Some(loaded) = self.loaded(path).cloned() else {
            match self.rt.load_errors.get(path) {
                Some(err) => {
                    ui.label(RichText::new(format!("⚠ Could not read this run: {err}")).small());
                }
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("reading checkpoints…");
                    });
                }
            }
            return;
        };
        let config = match &loaded.config {
            Ok(config) => config,
            Err(err) => {
                ui.label(format!(
                    "⚠ Its config.toml cannot be used, so it cannot be forked or resumed: {err}"
                ));
                return;
            }
        };
        let complete: Vec<&CheckpointEntry> = match &loaded.checkpoints {
            Ok(list) => list.iter().filter(|c| c.is_complete()).collect(),
            Err(err) => {
                ui.label(format!("⚠ Could not list its checkpoints: {err}"));
                return;
            }
        };
        if complete.is_empty() {
            ui.label(widgets::muted(
                ui,
                "No complete checkpoint in this run: nothing to fork or resume from.",
            ));
            return;
        }
        let step = self
            .rt
            .checkpoint_step
            .filter(|s| complete.iter().any(|c| c.step == *s))
            .unwrap_or_else(|| complete[complete.len() - 1].step);
        let best = row.summary.info.best_metric.as_ref().map(|b| b.step);
        let label_of = |c: &CheckpointEntry| {
            if Some(c.step) == best {
                format!("checkpoint-{} (best)", c.step)
            } else {
                format!("checkpoint-{}", c.step)
            }
        };
        let mut chosen = step;
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Checkpoint")
                .selected_text(format!("checkpoint-{chosen}"))
                .show_ui(ui, |ui| {
                    for c in &complete {
                        ui.selectable_value(&mut chosen, c.step, label_of(c));
                    }
                });
            self.rt.checkpoint_step = Some(chosen);
            let Some(checkpoint) = complete.iter().find(|c| c.step == chosen) else {
                return;
            };
            if ui
                .button("Fork…")
                .on_hover_text("Edit the hyperparameters in Train, then Start")
                .clicked()
            {
                *cx.recipe = fork_config(config, row.display_name(), checkpoint);
                cx.toasts.info(format!("Forking from checkpoint-{chosen}: edit the recipe, then Start"));
                cx.actions.push(Action::Navigate(Tab::Train));
            }
            let resumable = row.summary.in_use_by.is_none()
                && matches!(
                    row.summary.info.status,
                    RunStatus::Stopped | RunStatus::Failed | RunStatus::Interrupted
                );
            let refusal = match row.summary.in_use_by {
                Some(pid) => format!("Process {pid} is writing this run now; stop it first"),
                None => "Only stopped, failed or interrupted runs can be resumed".into(),
            };
            let latest = complete[complete.len() - 1];
            if ui
                .add_enabled(resumable, egui::Button::new("Resume"))
                .on_hover_text(format!("Continue this run from its latest checkpoint (checkpoint-{}) with its optimizer and schedule", latest.step))
                .on_disabled_hover_text(refusal)
                .clicked()
            {
                *cx.recipe = resume_config(config, latest);
                cx.toasts.info(format!("Resuming from checkpoint-{}: press Start in Train", latest.step));
                cx.actions.push(Action::Navigate(Tab::Train));
            }
        });
        ui.label(widgets::muted(
            ui,
            "A fork starts a new run from that checkpoint's weights with a fresh optimizer and \
             learning-rate schedule; Resume continues this run where it stopped.",
        ));
    }

    fn delete_dialog(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let Some(request) = self.rt.delete.as_mut() else {
            return;
        };
        let mut close = false;
        let mut confirmed = false;
        let modal = egui::Modal::new(egui::Id::unique("runs-delete")).show(ui.ctx(), |ui| {
            ui.set_width(420.0);
            ui.heading("Delete this run?");
            ui.label(format!(
                "{} and everything in its folder (checkpoints, logs) will be deleted:\n{}",
                request.name,
                request.path.display()
            ));
            let in_use_by = request.in_use_by;
            if let Some(pid) = in_use_by {
                let color = crate::app::toasts::Level::Warning.color(ui.visuals().dark_mode);
                ui.label(
                    RichText::new(format!(
                        "⚠ Process {pid} is training this run now (in this window or with \
                     `wick train`). Stop it first."
                    ))
                    .color(color),
                );
            }
            ui.horizontal(|ui| {
                let allowed = in_use_by.is_none();
                if ui
                    .add_enabled(allowed, egui::Button::new("Delete run"))
                    .clicked()
                {
                    confirmed = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if modal.should_close() {
            close = true;
        }
        if confirmed {
            let path = request.path.clone();
            self.rt.delete = None;
            self.rt.deleting = Some(path.clone());
            self.rt.selected.retain(|p| p != &path);
            cx.jobs.spawn("runs-delete", "deleting a run", move |r| {
                let result = crate::runs::delete_run(&path).map_err(|e| e.to_string());
                r.send(jobs::Msg::Runs(Msg::Deleted { path, result }));
            });
        } else if close {
            self.rt.delete = None;
        }
    }

    fn compare_section(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        if self.rt.selected.is_empty() {
            ui.label(widgets::muted(
                ui,
                "Tick runs in the table to overlay their curves and compare them.",
            ));
            return;
        }
        let pending: Vec<String> = self
            .rt
            .selected
            .iter()
            .filter(|p| !self.rt.cache.contains_key(*p))
            .map(|p| match self.rt.load_errors.get(p) {
                Some(err) => format!("⚠ {err}"),
                None => format!(
                    "reading {}…",
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            })
            .collect();
        for line in &pending {
            ui.label(widgets::muted(ui, line));
        }
        ui.heading("Curves");
        self.overlay(ui, cx);
        ui.add_space(8.0);
        if self.rt.selected.len() >= 2 {
            ui.heading("Config diff");
            self.config_diff(ui);
            ui.add_space(8.0);
            ui.heading("Per-example diff");
            self.example_diff(ui);
        } else {
            ui.label(widgets::muted(
                ui,
                "Tick a second run to see the config and per-example diffs.",
            ));
        }
    }

    fn overlay(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let loaded: Vec<(usize, PathBuf, Fingerprint, Arc<LoadedRun>)> = self
            .rt
            .selected
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let (fingerprint, run) = self.rt.cache.get(p)?;
                Some((i, p.clone(), *fingerprint, run.clone()))
            })
            .collect();
        let mut keys: Vec<String> = Vec::new();
        for (_, _, _, run) in &loaded {
            for key in &run.curve_keys {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        let any_wall_time = loaded.iter().any(|(_, _, _, r)| r.has_elapsed);
        if self.x_axis == XAxis::WallTime && !any_wall_time {
            self.x_axis = XAxis::Step;
        }
        self.panels.retain(|k| keys.contains(k));
        if self.panels.is_empty() {
            self.panels = default_panels(&keys);
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Series");
            ui.menu_button(
                format!("{} of {} shown", self.panels.len(), keys.len()),
                |ui| {
                    for key in &keys {
                        let mut shown = self.panels.contains(key);
                        if ui.checkbox(&mut shown, series_title(key)).changed() {
                            if shown {
                                self.panels.push(key.clone());
                            } else {
                                self.panels.retain(|k| k != key);
                            }
                        }
                    }
                },
            );
            ui.separator();
            ui.label("x axis");
            ui.selectable_value(&mut self.x_axis, XAxis::Step, "Step");
            ui.selectable_value(&mut self.x_axis, XAxis::Epoch, "Epoch");
            ui.add_enabled_ui(any_wall_time, |ui| {
                ui.selectable_value(&mut self.x_axis, XAxis::WallTime, "Wall time")
                    .on_disabled_hover_text(
                        "These runs' logs have no elapsed_s (logged by newer versions)",
                    );
            });
            ui.separator();
            let smoothing = ui.label("Smoothing");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).fixed_decimals(2))
                .labelled_by(smoothing.id)
                .on_hover_text("EMA weight applied to every curve (as TensorBoard's)");
        });
        // The runs' legend: the colour each run has in every panel, and show/hide.
        ui.horizontal_wrapped(|ui| {
            for (index, path, _, _) in &loaded {
                let name = self
                    .row(path)
                    .map(|r| r.display_name().to_string())
                    .unwrap_or_default();
                color_swatch(ui, run_color(*index));
                let mut shown = !self.rt.hidden.contains(path);
                if ui
                    .checkbox(&mut shown, name)
                    .on_hover_text("Show or hide this run in every panel")
                    .changed()
                {
                    if shown {
                        self.rt.hidden.remove(path);
                    } else {
                        self.rt.hidden.insert(path.clone());
                    }
                }
            }
        });
        let key: Vec<(PathBuf, Fingerprint)> =
            loaded.iter().map(|(_, p, f, _)| (p.clone(), *f)).collect();
        let smoothing_bits = self.smoothing.to_bits();
        let stale = self.rt.overlay.as_ref().is_none_or(|o| {
            o.key != key
                || o.panels != self.panels
                || o.x_axis != self.x_axis
                || o.smoothing_bits != smoothing_bits
        });
        if stale {
            let mut without_wall_time = Vec::new();
            let mut series: Vec<PanelCurves> = self
                .panels
                .iter()
                .map(|key| PanelCurves {
                    key: key.clone(),
                    curves: Vec::new(),
                })
                .collect();
            for (index, path, _, run) in &loaded {
                let name = self
                    .row(path)
                    .map(|r| r.display_name().to_string())
                    .unwrap_or_default();
                if self.x_axis == XAxis::WallTime && !run.has_elapsed {
                    without_wall_time.push(name);
                    continue;
                }
                for panel in &mut series {
                    let points = compare::curve(&run.records, &panel.key, self.x_axis);
                    let curve = if self.smoothing > 0.0 {
                        let mut ema = charts::Ema::named(&name);
                        ema.update(&points, self.smoothing);
                        ema.series
                    } else {
                        Series {
                            name: name.clone(),
                            points,
                        }
                    };
                    panel.curves.push((*index, path.clone(), curve));
                }
            }
            self.rt.overlay = Some(OverlayCache {
                key,
                panels: self.panels.clone(),
                x_axis: self.x_axis,
                smoothing_bits,
                series,
                without_wall_time,
            });
        }
        self.rt.pixels_per_point = ui.ctx().pixels_per_point();
        let Some(overlay) = &self.rt.overlay else {
            return;
        };
        if !overlay.without_wall_time.is_empty() {
            ui.label(widgets::muted(
                ui,
                format!(
                    "Left out (no wall time in their logs): {}",
                    overlay.without_wall_time.join(", ")
                ),
            ));
        }
        let x_label = match self.x_axis {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::WallTime => "seconds since the run started",
        };
        ui.label(widgets::muted(
            ui,
            "Ctrl/Cmd + wheel zooms, drag pans; hover a panel for every run's value",
        ));
        let hidden = &self.rt.hidden;
        let width = ((ui.available_width() - 12.0) / 2.0).max(200.0);
        let mut grid_rect: Option<egui::Rect> = None;
        egui::Grid::new("runs-compare-grid")
            .num_columns(2)
            .spacing([12.0, 12.0])
            .show(ui, |ui| {
                for (number, panel) in overlay.series.iter().enumerate() {
                    let rect = ui
                        .vertical(|ui| {
                            ui.set_width(width);
                            compare_panel(ui, panel, hidden, x_label, [width, 200.0]);
                        })
                        .response
                        .rect;
                    grid_rect = Some(grid_rect.map_or(rect, |r| r.union(rect)));
                    if number % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
        let empty = overlay
            .series
            .iter()
            .all(|panel| panel.curves.iter().all(|(_, _, s)| s.is_empty()));
        if empty && !loaded.is_empty() {
            ui.label(widgets::muted(ui, "No points for these series yet."));
        }
        self.rt.plot_rect = grid_rect;
        self.export_row(ui, cx);
    }

    fn export_row(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        egui::Grid::new("runs-export").num_columns(3).show(ui, |ui| {
            let label = ui.label("PNG file");
            ui.add_sized(
                [360.0, 20.0],
                egui::TextEdit::singleline(&mut self.png_path).hint_text("/path/to/chart.png"),
            )
            .labelled_by(label.id);
            ui.horizontal(|ui| {
                if ui.button("Browse PNG…").clicked() {
                    pick_path(cx, Export::Png);
                }
                let busy = self.rt.pending_png.is_some();
                if ui
                    .add_enabled(!busy, egui::Button::new("Save chart as PNG"))
                    .on_hover_text("Saves the chart as drawn on screen")
                    .clicked()
                {
                    self.request_png(ui.ctx(), cx);
                }
            });
            ui.end_row();
            let label = ui.label("CSV file");
            ui.add_sized(
                [360.0, 20.0],
                egui::TextEdit::singleline(&mut self.csv_path).hint_text("/path/to/metrics.csv"),
            )
            .labelled_by(label.id);
            ui.horizontal(|ui| {
                if ui.button("Browse CSV…").clicked() {
                    pick_path(cx, Export::Csv);
                }
                if ui
                    .button("Export metrics CSV")
                    .on_hover_text("Every logged record of the ticked runs: run, step, epoch, elapsed_s, then every key")
                    .clicked()
                {
                    self.export_csv(cx);
                }
            });
            ui.end_row();
        });
    }

    fn request_png(&mut self, ctx: &egui::Context, cx: &mut Cx) {
        let path = self.png_path.trim();
        if path.is_empty() {
            self.rt.alert = Some(Alert::warning(
                "Choose where to save the chart",
                "Type a path in PNG file or use Browse PNG…",
            ));
            return;
        }
        self.rt.pending_png = Some(PathBuf::from(path));
        let reporter = cx.jobs.reporter();
        ctx.request_screenshot(move |image| reporter.send(jobs::Msg::Runs(Msg::Screenshot(image))));
    }

    fn export_csv(&mut self, cx: &mut Cx) {
        let path = self.csv_path.trim();
        if path.is_empty() {
            self.rt.alert = Some(Alert::warning(
                "Choose where to save the metrics",
                "Type a path in CSV file or use Browse CSV…",
            ));
            return;
        }
        let mut runs: Vec<(String, Arc<LoadedRun>)> = Vec::new();
        for p in &self.rt.selected {
            let Some(loaded) = self.loaded(p) else {
                self.rt.alert = Some(Alert::warning(
                    "Some ticked runs are still being read",
                    "Try again in a moment.",
                ));
                return;
            };
            let name = self
                .row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default();
            runs.push((name, loaded.clone()));
        }
        let path = PathBuf::from(path);
        cx.jobs.spawn("runs-csv", "exporting metrics", move |r| {
            let tables: Vec<(String, &[LogRecord])> = runs
                .iter()
                .map(|(n, l)| (n.clone(), &l.records[..]))
                .collect();
            let csv = compare::metrics_csv(&tables);
            let result = std::fs::write(&path, csv)
                .map(|()| path.clone())
                .map_err(|e| format!("{}: {e}", path.display()));
            r.send(jobs::Msg::Runs(Msg::Saved {
                what: Export::Csv,
                result,
            }));
        });
    }

    fn config_diff(&mut self, ui: &mut egui::Ui) {
        let mut names = Vec::new();
        let mut configs = Vec::new();
        for p in &self.rt.selected {
            let Some(loaded) = self.loaded(p) else { return };
            let name = self
                .row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default();
            match &loaded.config {
                Ok(config) => {
                    names.push(name);
                    configs.push(config);
                }
                Err(err) => {
                    ui.label(format!("⚠ {name}: {err}"));
                }
            }
        }
        if configs.len() < 2 {
            return;
        }
        let diff: Vec<KeyDiff> = compare::config_diff_many(&configs);
        ui.label(widgets::muted(
            ui,
            format!(
                "Only the keys whose values differ; {} are left out (they differ for every run).",
                NOISE_KEYS.join(" and ")
            ),
        ));
        if diff.is_empty() {
            ui.label("The configs are the same (apart from those).");
            return;
        }
        egui::Grid::new("runs-config-diff")
            .striped(true)
            .num_columns(names.len() + 1)
            .show(ui, |ui| {
                ui.strong("key");
                for name in &names {
                    ui.strong(name);
                }
                ui.end_row();
                for d in &diff {
                    ui.monospace(d.key).on_hover_text(
                        crate::train::config::key_info(d.key).map_or("", |k| k.help),
                    );
                    for value in &d.values {
                        match value {
                            Some(v) => ui.monospace(v),
                            None => ui.label(widgets::muted(ui, "(unset)")),
                        };
                    }
                    ui.end_row();
                }
            });
    }

    fn example_diff(&mut self, ui: &mut egui::Ui) {
        let [a, b] = [&self.rt.selected[0], &self.rt.selected[1]];
        let name = |p: &PathBuf| {
            self.row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default()
        };
        let (name_a, name_b) = (name(a), name(b));
        if self.rt.selected.len() > 2 {
            ui.label(widgets::muted(ui, "Comparing the first two ticked runs."));
        }
        ui.label(format!("A = {name_a}, B = {name_b}"));
        let (Some((fa, la)), Some((fb, lb))) = (self.rt.cache.get(a), self.rt.cache.get(b)) else {
            return;
        };
        let (pa, pb) = match (&la.predictions, &lb.predictions) {
            (Ok(Some(pa)), Ok(Some(pb))) => (pa, pb),
            (Err(err), _) | (_, Err(err)) => {
                ui.label(format!("⚠ {err}"));
                return;
            }
            (pa, _) => {
                let missing = if matches!(pa, Ok(None)) {
                    &name_a
                } else {
                    &name_b
                };
                ui.label(widgets::muted(
                    ui,
                    format!("{missing} has no {PREDICTIONS_FILE}: it is written when a run finishes its final evaluation."),
                ));
                return;
            }
        };
        let key = [(a.clone(), *fa), (b.clone(), *fb)];
        if self.rt.pair.as_ref().is_none_or(|c| c.key != key) {
            let result = compare::prediction_flips(pa, pb).and_then(|flips| {
                Ok((
                    flips,
                    compare::confusion_delta(pa, pb)?,
                    pa.label_names.clone(),
                ))
            });
            self.rt.pair = Some(PairCache { key, result });
        }
        let Some(pair) = &self.rt.pair else { return };
        let (flips, delta, labels) = match &pair.result {
            Ok(r) => r,
            Err(err) => {
                ui.label(format!(
                    "⚠ These runs cannot be compared example by example: {err}"
                ));
                return;
            }
        };
        ui.label(format!(
            "{} of {} {} examples flipped: B fixed {}, broke {}, {} changed between wrong answers.",
            flips.rows.len(),
            flips.total,
            pa.split,
            flips.fixed,
            flips.broken,
            flips.both_wrong
        ));
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.strong("Confusion matrix delta (B − A)");
                egui::Grid::new("runs-confusion-delta")
                    .striped(true)
                    .show(ui, |ui| {
                        ui.label(widgets::muted(ui, "gold \\ predicted"));
                        for name in labels {
                            ui.strong(name);
                        }
                        ui.end_row();
                        let dark = ui.visuals().dark_mode;
                        for (gold, row) in delta.iter().enumerate() {
                            ui.strong(&labels[gold]);
                            for (predicted, &d) in row.iter().enumerate() {
                                // More on the diagonal, or less off it, is better.
                                let good = (gold == predicted) == (d > 0);
                                let color = match d {
                                    0 => ui.visuals().weak_text_color(),
                                    _ if good => crate::app::toasts::Level::Success.color(dark),
                                    _ => crate::app::toasts::Level::Error.color(dark),
                                };
                                ui.label(RichText::new(format!("{d:+}")).color(color).monospace());
                            }
                            ui.end_row();
                        }
                    });
            });
            ui.separator();
            ui.vertical(|ui| {
                if flips.rows.is_empty() {
                    ui.label("No example changed its prediction.");
                    return;
                }
                let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| i.to_string());
                let dark = ui.visuals().dark_mode;
                let mark = |right: bool, text: String| {
                    let level = if right {
                        crate::app::toasts::Level::Success
                    } else {
                        crate::app::toasts::Level::Error
                    };
                    RichText::new(if right {
                        format!("{text} (right)")
                    } else {
                        text
                    })
                    .color(level.color(dark))
                };
                ui.push_id("runs-flips", |ui| {
                    TableBuilder::new(ui)
                        .striped(true)
                        .resizable(true)
                        .column(Column::initial(50.0))
                        .column(Column::initial(360.0).at_least(120.0).clip(true))
                        .column(Column::initial(80.0))
                        .column(Column::initial(110.0))
                        .column(Column::remainder().at_least(110.0))
                        .max_scroll_height(260.0)
                        .header(22.0, |mut header| {
                            for title in ["row", "text", "gold", "A", "B"] {
                                header.col(|ui| {
                                    ui.strong(title);
                                });
                            }
                        })
                        .body(|body| {
                            body.rows(22.0, flips.rows.len(), |mut row| {
                                let flip = &flips.rows[row.index()];
                                row.col(|ui| {
                                    ui.label(flip.row.to_string());
                                });
                                row.col(|ui| {
                                    let text = match &flip.text_pair {
                                        Some(pair) => format!("{} · {pair}", flip.text),
                                        None => flip.text.clone(),
                                    };
                                    ui.label(&text).on_hover_text(&text);
                                });
                                row.col(|ui| {
                                    ui.label(label(flip.label));
                                });
                                row.col(|ui| {
                                    ui.label(mark(flip.a_is_right(), label(flip.prediction_a)));
                                });
                                row.col(|ui| {
                                    ui.label(mark(flip.b_is_right(), label(flip.prediction_b)));
                                });
                            });
                        });
                });
            });
        });
    }
}

/// Who writes the run now, whether it was interrupted, and what the trainer warned about.
fn run_state_notes_ui(ui: &mut egui::Ui, run: &RunSummary) {
    let warning = crate::app::toasts::Level::Warning.color(ui.visuals().dark_mode);
    if let Some(pid) = run.in_use_by {
        ui.label(widgets::muted(
            ui,
            format!("Process {pid} is training this run now: it cannot be deleted or resumed."),
        ));
    } else if run.info.status == RunStatus::Interrupted {
        ui.label(
            RichText::new(
                "⚠ Interrupted: its process ended without finishing (killed, or the machine went \
                 down). Resume continues from its latest checkpoint.",
            )
            .color(warning),
        );
    }
    for message in &run.info.warnings {
        ui.label(RichText::new(format!("⚠ {message}")).color(warning));
    }
}

fn status_text(status: RunStatus) -> (&'static str, crate::app::toasts::Level) {
    use crate::app::toasts::Level;
    let level = match status {
        RunStatus::Running => Level::Info,
        RunStatus::Finished => Level::Success,
        RunStatus::Stopped | RunStatus::Interrupted => Level::Warning,
        RunStatus::Failed => Level::Error,
    };
    (status.label(), level)
}

/// Opens the folder in the file manager on a job (the opener may take a moment); an error
/// toast if it cannot start or fails.
fn open_folder(path: &Path, cx: &mut Cx) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let path = path.to_path_buf();
    cx.jobs
        .spawn("runs-open", "opening the run folder", move |r| {
            let result = std::process::Command::new(opener)
                .arg(&path)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("{opener} {}: {e}", path.display()))
                .and_then(|mut child| match child.wait() {
                    Ok(status) if status.success() || cfg!(target_os = "windows") => Ok(()),
                    Ok(status) => Err(format!("{opener} {} exited with {status}", path.display())),
                    Err(e) => Err(format!("{opener}: {e}")),
                });
            if let Err(err) = result {
                r.send(jobs::Msg::Runs(Msg::OpenFailed(err)));
            }
        });
}

/// A save dialog on a job (it blocks its thread until the user answers).
fn pick_path(cx: &mut Cx, what: Export) {
    let (name, extension, file) = match what {
        Export::Png => ("PNG image", "png", "runs-overlay.png"),
        Export::Csv => ("CSV", "csv", "runs-metrics.csv"),
    };
    cx.jobs.spawn("runs-pick", "choosing a file", move |r| {
        let path = rfd::FileDialog::new()
            .add_filter(name, &[extension])
            .set_file_name(file)
            .save_file();
        r.send(jobs::Msg::Runs(Msg::Picked { what, path }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: u64) -> CheckpointEntry {
        CheckpointEntry {
            step,
            path: PathBuf::from(format!("/runs/r/checkpoint-{step}")),
            problems: Vec::new(),
        }
    }

    #[test]
    fn fork_trains_a_new_run_from_the_checkpoint_weights() {
        let mut config = TrainConfig {
            model: "bert-base-uncased".into(),
            dataset: "glue".into(),
            output_dir: Some("/runs/r".into()),
            resume_from_checkpoint: Some("/runs/r/checkpoint-10".into()),
            learning_rate: 3e-5,
            ..TrainConfig::default()
        };
        let fork = fork_config(&config, "baseline", &entry(918));
        assert_eq!(fork.model, "/runs/r/checkpoint-918");
        assert_eq!(fork.run_name.as_deref(), Some("baseline-fork-918"));
        assert_eq!((fork.output_dir, fork.resume_from_checkpoint), (None, None));
        assert_eq!(fork.learning_rate, 3e-5);
        config.resume_from_checkpoint = None;
        let resume = resume_config(&config, &entry(20));
        assert_eq!(
            resume.resume_from_checkpoint.as_deref(),
            Some("/runs/r/checkpoint-20")
        );
        assert_eq!(resume.model, "bert-base-uncased");
        assert_eq!(resume.output_dir.as_deref(), Some("/runs/r"));
    }

    #[test]
    fn the_compare_grid_starts_with_loss_eval_loss_a_metric_and_the_learning_rate() {
        let keys: Vec<String> = [
            "grad_norm",
            "learning_rate",
            "loss",
            "eval_accuracy",
            "eval_loss",
            "eval_f1",
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        assert_eq!(
            default_panels(&keys),
            ["loss", "eval_loss", "eval_accuracy", "learning_rate"]
        );
        let few: Vec<String> = ["grad_norm", "loss"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(default_panels(&few), ["loss", "grad_norm"]);
        assert!(default_panels(&[]).is_empty());
    }

    #[test]
    fn png_crop_takes_the_plot_rect_in_pixels() {
        // 20x10 image: left half red, right half blue; crop the right half at 2x scale.
        let mut image = egui::ColorImage::filled([20, 10], egui::Color32::RED);
        for y in 0..10 {
            for x in 10..20 {
                image.pixels[y * 20 + x] = egui::Color32::BLUE;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        let rect = egui::Rect::from_min_max(egui::pos2(5.0, 1.0), egui::pos2(10.0, 4.0));
        save_png_crop(&image, rect, 2.0, &path).unwrap();
        let saved = image::open(&path).unwrap().to_rgba8();
        assert_eq!(saved.dimensions(), (10, 6));
        assert!(saved.pixels().all(|p| p.0 == [0, 0, 255, 255]));
        // Clamped to the image; nothing on screen is an error, not a panic.
        let beyond = egui::Rect::from_min_max(egui::pos2(8.0, 0.0), egui::pos2(99.0, 99.0));
        save_png_crop(&image, beyond, 2.0, &path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgba8().dimensions(), (4, 10));
        let off = egui::Rect::from_min_max(egui::pos2(50.0, 50.0), egui::pos2(60.0, 60.0));
        assert!(save_png_crop(&image, off, 1.0, &path).is_err());
    }
}
