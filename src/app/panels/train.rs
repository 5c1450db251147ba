//! Train: the hyperparameter form over the recipe (`TrainConfig`, TrainingArguments names and
//! defaults), presets, TOML import and export (the file `wick train --config` reads), the
//! device, a preflight step, and Start.
//!
//! Every field is edited as text and applied with `TrainConfig::apply_override`, the same
//! parser as `wick train --set key=value`, so the form accepts exactly what the CLI accepts.
//! `problems()` runs on every change: every error is listed at once, in words, in a box next
//! to Start (never between fields, so nothing moves under the pointer), and each field it names
//! gets a marker in a column of its own. Start stays disabled while anything is wrong.
//!
//! Wide windows show the form and a side column (presets, TOML file, Accelerate, Run); narrow
//! ones stack them in one scroll area, the side column's part under the form.

use egui::{RichText, Ui};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::app::accelerate::AccelerateForm;
use crate::app::jobs::{Task, TaskError, poll_slot};
use crate::app::panels::hub::{DialogOutcome, dialog_outcome};
use crate::app::toasts::Level;
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::recipe::TrainConfig;
use crate::recipe::edits::{self, KEPT_ON_RESET, reset_keys};
use crate::recipe::form::{Field, GROUPS, Group, Kind};
use crate::recipe::presets::Preset;
use crate::recipe::{ConfigError, KeyOrigin, key_info};
use crate::train::TrainError;
use crate::train::preflight::{BatchSource, PreflightProgress, PreflightReport};

/// A preflight's report, or why it failed (its own error, or the task's).
pub type PreflightResult = Result<Box<PreflightReport>, PreflightFailed>;

/// What a preflight task hands back: the recipe it ran on and its report.
type PreflightDone = (Box<TrainConfig>, Result<Box<PreflightReport>, TrainError>);

/// Why a preflight gave no report.
#[derive(Debug, thiserror::Error)]
pub enum PreflightFailed {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Task(#[from] TaskError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    Import,
    Export,
}

/// Below this width the side column goes under the form: the form needs about 520 points
/// (names, fields, markers) and the side column 320.
const SIDE_BY_SIDE_WIDTH: f32 = 900.0;

/// Width of the form's value widgets.
const FIELD_WIDTH: f32 = 260.0;

/// One thing to fix before Start: the key it is about ("" for none) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    fn of(err: &ConfigError) -> Self {
        Self {
            key: err.key().unwrap_or_default().to_string(),
            message: error_message(err),
        }
    }

    /// "learning_rate must be a positive number".
    pub fn sentence(&self) -> String {
        if self.key.is_empty() {
            self.message.clone()
        } else {
            format!("{} {}", self.key, self.message)
        }
    }
}

/// What the user typed into a field, kept while it has focus or does not parse.
#[derive(Debug, Clone, Default)]
struct Draft {
    text: String,
    /// Why the text could not be applied (the recipe keeps its previous value).
    error: Option<String>,
    /// The recipe's value for the key after this text was applied: when it changes from
    /// outside (Data, Hub, Runs, a file), the draft is stale and goes.
    recipe_value: String,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainPanel {
    /// The TOML file of the last import or export.
    pub toml_path: String,
    /// "Export as Accelerate project…" for the recipe.
    pub accelerate: AccelerateForm,
    /// What lives only while the app runs (not persisted).
    #[serde(skip)]
    runtime: TrainRuntime,
}

/// TrainPanel's state that lives only while the app runs.
#[derive(Default)]
struct TrainRuntime {
    drafts: BTreeMap<&'static str, Draft>,
    alert: Option<Alert>,
    /// The file dialog of "Open TOML…" or "Save as TOML…", and which of the two it is for.
    dialog: Option<Task<(FileAction, DialogOutcome)>>,
    /// Reading a TOML recipe: the file and what it holds.
    import: Option<Task<(PathBuf, Result<TrainConfig, ConfigError>)>>,
    /// Writing the recipe as TOML: the file and whether it was written.
    export: Option<Task<(PathBuf, std::io::Result<()>)>>,
    /// The preflight running, with the recipe it runs on.
    preflight_task: Option<Task<PreflightDone>>,
    /// The last preflight: the recipe it ran on and what it found.
    preflight: Option<(Box<TrainConfig>, PreflightResult)>,
    /// The LoRA group's note on the model's layer names.
    lora_note: super::lora_note::LoraNote,
    /// `use_lora` as the form last drew it (its turning on opens the LoRA group).
    lora_seen: bool,
}

impl TrainPanel {
    /// The report of the last preflight, if it succeeded.
    pub fn preflight_report(&self) -> Option<&PreflightReport> {
        self.runtime
            .preflight
            .as_ref()?
            .1
            .as_ref()
            .ok()
            .map(|r| r.as_ref())
    }

    /// Runs the preflight, as its button does (for the screenshot tour).
    pub fn preflight_now(&mut self, cx: &mut Cx) {
        self.start_preflight(cx);
    }

    pub fn preflight_running(&self) -> bool {
        self.runtime.preflight_task.is_some()
    }

    /// Whether a file dialog, import or export is under way (Open and Save wait for it).
    fn file_busy(&self) -> bool {
        self.runtime.dialog.is_some()
            || self.runtime.import.is_some()
            || self.runtime.export.is_some()
    }

    /// Everything to fix before Start, one per key, in the form's order: fields that do not
    /// parse, then what `problems()` finds in the recipe.
    pub fn problems(&self, recipe: &TrainConfig) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self
            .runtime
            .drafts
            .iter()
            .filter_map(|(key, draft)| {
                draft.error.as_ref().map(|message| Problem {
                    key: key.to_string(),
                    message: message.clone(),
                })
            })
            .collect();
        for problem in recipe.problems().iter().map(Problem::of) {
            if !problems.iter().any(|p| p.key == problem.key) {
                problems.push(problem);
            }
        }
        let position = |key: &str| {
            GROUPS
                .iter()
                .flat_map(Group::keys)
                .position(|k| k == key)
                .unwrap_or(usize::MAX)
        };
        problems.sort_by_key(|p| position(&p.key));
        problems
    }

    pub fn ui(&mut self, ui: &mut Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Train",
            "The hyperparameters of the run, with TrainingArguments' names and defaults. \
             Hover a name for what it does.",
        );
        widgets::alert(ui, &mut self.runtime.alert);
        let problems = self.problems(cx.recipe);

        if ui.available_width() < SIDE_BY_SIDE_WIDTH {
            egui::ScrollArea::vertical()
                .id_salt("train-stacked-scroll")
                .show(ui, |ui| {
                    self.form(ui, cx, &problems);
                    ui.add_space(8.0);
                    ui.separator();
                    self.side_column(ui, cx, &problems);
                });
            return;
        }
        egui::Panel::right("train-side")
            .resizable(true)
            .default_size(380.0)
            .min_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("train-side-scroll")
                    .show(ui, |ui| self.side_column(ui, cx, &problems));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("train-form-scroll")
                .show(ui, |ui| self.form(ui, cx, &problems));
        });
    }

    /// The side column, kept clear of the scroll bar, and no wider than reads well.
    fn side_column(&mut self, ui: &mut Ui, cx: &mut Cx, problems: &[Problem]) {
        egui::Frame::new()
            .inner_margin(egui::Margin {
                right: 14,
                ..Default::default()
            })
            .show(ui, |ui| {
                ui.set_max_width(ui.available_width().min(560.0));
                self.side(ui, cx, problems);
            });
    }

    fn form(&mut self, ui: &mut Ui, cx: &mut Cx, problems: &[Problem]) {
        let table = toml::Table::try_from(&*cx.recipe).unwrap_or_default();
        let defaults = toml::Table::try_from(TrainConfig::default()).unwrap_or_default();
        for (index, group) in GROUPS.iter().enumerate() {
            let has_problem = problems.iter().any(|p| group.keys().any(|k| k == p.key));
            let title = if has_problem {
                RichText::new(format!("⚠ {}", group.title))
                    .strong()
                    .color(Level::Error.color(ui.visuals().dark_mode))
            } else {
                RichText::new(group.title).strong()
            };
            // A recipe that turns LoRA on (the checkbox, a preset, a file) opens its group
            // once: the layer names are there.
            let open_lora = group.title == "LoRA" && cx.recipe.use_lora && !self.runtime.lora_seen;
            egui::CollapsingHeader::new(title)
                .id_salt(group.title)
                .default_open(index == 0)
                .open(open_lora.then_some(true))
                .show(ui, |ui| {
                    // Name, value, marker: an error only fills the marker cell, so no row
                    // changes height and nothing moves under the pointer.
                    egui::Grid::new(("train-grid", group.title))
                        .num_columns(3)
                        .spacing([8.0, 4.0])
                        .min_col_width(16.0)
                        .show(ui, |ui| {
                            for field in group.fields {
                                let problem = problems.iter().find(|p| p.key == field.key);
                                self.field(ui, cx.recipe, field, &table, &defaults, problem);
                            }
                        });
                    if group.title == "LoRA" {
                        self.runtime.lora_note.ui(ui, cx);
                    }
                    ui.add_space(2.0);
                    let resettable: Vec<&str> = group
                        .keys()
                        .filter(|k| !KEPT_ON_RESET.contains(k))
                        .collect();
                    if ui
                        .small_button(format!("Reset {} to defaults", group.title))
                        .on_hover_text(format!(
                            "Sets {} back to Trainer's defaults",
                            resettable.join(", ")
                        ))
                        .clicked()
                    {
                        reset_keys(cx.recipe, &resettable);
                        self.runtime
                            .drafts
                            .retain(|key, _| !resettable.contains(key));
                    }
                });
        }
        self.runtime.lora_seen = cx.recipe.use_lora;
    }

    fn field(
        &mut self,
        ui: &mut Ui,
        recipe: &mut TrainConfig,
        field: &Field,
        table: &toml::Table,
        defaults: &toml::Table,
        problem: Option<&Problem>,
    ) {
        let key = field.key;
        let current = value_text(table.get(key));
        let default = value_text(defaults.get(key));
        let changed = current != default;
        let help = tooltip(key, &default);
        let dark = ui.visuals().dark_mode;
        let error_color = Level::Error.color(dark);
        let name = RichText::new(key).monospace();
        let name = if problem.is_some() {
            name.color(error_color)
        } else if changed {
            name.color(widgets::accent(dark))
        } else {
            name
        };
        // The name column is as wide as the longest key, so values line up in every group.
        let name_width = 200.0;
        match field.kind {
            Kind::Bool => {
                ui.allocate_space(egui::vec2(name_width, 0.0));
                let mut value = current == "true";
                if ui.checkbox(&mut value, name).on_hover_text(&help).changed() {
                    self.apply(recipe, key, if value { "true" } else { "false" });
                }
            }
            Kind::Choice(options) => {
                let label = name_label(ui, name, name_width).on_hover_text(&help);
                let shown = |v: &str| match v {
                    // The task's "auto" is the Data panel's guess; say where it comes from.
                    "" if key == "task" => crate::app::panels::data::AUTO_TASK.to_string(),
                    "" => "auto".to_string(),
                    v => v.to_string(),
                };
                let mut picked = None;
                egui::ComboBox::from_id_salt(("train-choice", key))
                    .selected_text(shown(&current))
                    .width(FIELD_WIDTH)
                    .show_ui(ui, |ui| {
                        for option in options {
                            if ui
                                .selectable_label(current == *option, shown(option))
                                .clicked()
                            {
                                picked = Some(*option);
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(&help);
                if let Some(option) = picked {
                    self.apply(recipe, key, option);
                }
            }
            Kind::Text => {
                let label = name_label(ui, name, name_width).on_hover_text(&help);
                let mut text = self
                    .runtime
                    .drafts
                    .get(key)
                    .map_or_else(|| current.clone(), |d| d.text.clone());
                let mut edit = egui::TextEdit::singleline(&mut text)
                    .hint_text(field.hint)
                    .desired_width(FIELD_WIDTH);
                if problem.is_some() {
                    edit = edit.background_color(error_color.gamma_multiply(0.18));
                }
                // A grid cell offers last frame's column width: a fixed size keeps the field
                // from shrinking to it.
                let size = egui::vec2(FIELD_WIDTH, ui.spacing().interact_size.y);
                let response = ui
                    .add_sized(size, edit)
                    .labelled_by(label.id)
                    .on_hover_text(&help);
                if response.changed() {
                    self.apply(recipe, key, &text);
                    if let Some(draft) = self.runtime.drafts.get_mut(key) {
                        draft.text = text;
                    }
                }
                // A good value is shown as the recipe has it once the field is left.
                if !response.has_focus()
                    && self
                        .runtime
                        .drafts
                        .get(key)
                        .is_some_and(|d| d.error.is_none())
                {
                    self.runtime.drafts.remove(key);
                }
            }
        }
        match problem {
            Some(problem) => {
                ui.label(RichText::new("⚠").color(error_color))
                    .on_hover_text(problem.sentence());
            }
            None => {
                ui.label("");
            }
        }
        ui.end_row();
    }

    /// Applies `key = text` the way `wick train --set` does; a value that does not parse is
    /// kept as a draft with its error, and the recipe keeps its previous value.
    fn apply(&mut self, recipe: &mut TrainConfig, key: &'static str, text: &str) {
        let draft = self.runtime.drafts.entry(key).or_default();
        draft.text = text.to_string();
        draft.error = recipe
            .apply_override(&format!("{key}={text}"))
            .err()
            .map(|err| error_message(&err));
        draft.recipe_value = recipe_value(recipe, key);
    }

    /// Drops drafts whose key another panel (or a file) has set since: the field then shows
    /// the recipe's value again, and its old error no longer blocks Start.
    fn forget_stale_drafts(&mut self, recipe: &TrainConfig) {
        if self.runtime.drafts.is_empty() {
            return;
        }
        // One TOML view of the recipe per frame, not one per draft.
        let Ok(table) = toml::Table::try_from(recipe) else {
            return;
        };
        self.runtime
            .drafts
            .retain(|key, draft| draft.recipe_value == value_text(table.get(*key)));
    }

    fn side(&mut self, ui: &mut Ui, cx: &mut Cx, problems: &[Problem]) {
        ui.label(RichText::new("Presets").strong());
        ui.horizontal_wrapped(|ui| {
            for preset in Preset::ALL {
                if ui
                    .button(preset.name())
                    .on_hover_text(format!(
                        "{}\n\nData and model are kept unless empty.",
                        preset.description()
                    ))
                    .clicked()
                {
                    preset.apply(cx.recipe);
                    self.runtime.drafts.clear();
                    cx.toasts.info(format!("Preset applied: {}", preset.name()));
                }
            }
        });
        if ui
            .small_button("Reset all to defaults")
            .on_hover_text(
                "Every hyperparameter back to Trainer's defaults; data, model and device stay",
            )
            .clicked()
        {
            let keys: Vec<&str> = GROUPS
                .iter()
                .flat_map(Group::keys)
                .filter(|k| !KEPT_ON_RESET.contains(k))
                .collect();
            reset_keys(cx.recipe, &keys);
            self.runtime.drafts.clear();
        }
        ui.separator();

        ui.label(RichText::new("TOML file").strong())
            .on_hover_text("The same file `wick train --config` reads; relative paths in it are relative to its folder");
        let busy = self.file_busy();
        let path_label = ui.label("TOML path");
        ui.add(
            egui::TextEdit::singleline(&mut self.toml_path)
                .hint_text("empty: pick the file in a dialog")
                .desired_width(ui.available_width()),
        )
        .labelled_by(path_label.id)
        .on_hover_text("The file Open reads and Save writes; leave it empty to pick one");
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(!busy, egui::Button::new("Open TOML…"))
                .on_hover_text(
                    "Replace the recipe with the file in \"TOML path\" (with the path empty, \
                     pick the file in a dialog)",
                )
                .clicked()
            {
                self.open_or_save(cx, FileAction::Import);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Save as TOML…"))
                .on_hover_text(
                    "Write the recipe, every key with its help, to \"TOML path\" (with the path \
                     empty, choose where in a dialog)",
                )
                .clicked()
            {
                self.open_or_save(cx, FileAction::Export);
            }
        });
        ui.separator();
        ui.label(RichText::new("Hand off to Accelerate").strong())
            .on_hover_text(
                "When one workstation is not enough: the same recipe as a transformers Trainer \
             script and a multi-GPU accelerate config",
            );
        let recipe = edits::with_absolute_paths(cx.recipe);
        self.accelerate
            .ui(ui, cx, "train", None, move || Ok(recipe));
        ui.separator();

        ui.label(RichText::new("Run").strong());
        let device_label = ui.label("Device");
        let mut devices: Vec<String> = cx.devices.to_vec();
        if !devices.contains(&cx.recipe.device) {
            devices.push(cx.recipe.device.clone());
        }
        let mut picked = None;
        egui::ComboBox::from_id_salt("train-device")
            .selected_text(cx.recipe.device.clone())
            .show_ui(ui, |ui| {
                for device in &devices {
                    if ui
                        .selectable_label(*device == cx.recipe.device, device)
                        .clicked()
                    {
                        picked = Some(device.clone());
                    }
                }
            })
            .response
            .labelled_by(device_label.id)
            .on_hover_text(tooltip("device", "cpu"));
        if let Some(device) = picked {
            cx.recipe.device = device;
        }
        ui.add_space(4.0);
        let valid = problems.is_empty();
        let running = self.preflight_running();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(valid && !running, egui::Button::new("Run preflight"))
                .on_hover_text("One real forward and backward step on the chosen device: step time, ETA, memory, the largest batch that fits")
                .clicked()
            {
                self.start_preflight(cx);
            }
            let start = ui
                .add_enabled(valid, egui::Button::new(RichText::new("▶ Start training").strong()))
                .on_hover_text("Train exactly this recipe; Monitor shows it live")
                .on_disabled_hover_text("Fix what the box below lists first");
            if start.clicked() {
                self.start(cx);
            }
        });
        if !problems.is_empty() {
            ui.add_space(4.0);
            problems_box(ui, cx, problems);
        }
        if let Some(status) = self
            .runtime
            .preflight_task
            .as_ref()
            .and_then(|task| cx.jobs.status(task.job()))
        {
            ui.horizontal(|ui| {
                match status.fraction() {
                    Some(f) => {
                        ui.add(egui::ProgressBar::new(f).desired_width(120.0));
                    }
                    None => {
                        ui.spinner();
                    }
                }
                ui.label(if status.detail.is_empty() {
                    "preflight…".to_string()
                } else {
                    format!("preflight: {}", status.detail)
                });
            });
        }
        if let Some((config, result)) = &self.runtime.preflight {
            ui.add_space(6.0);
            preflight_card(ui, config, result, cx.recipe);
        }
    }

    fn start(&mut self, cx: &mut Cx) {
        match cx.recipe.validate() {
            Ok(()) => cx
                .actions
                .push(Action::StartTraining(Box::new(cx.recipe.clone()))),
            Err(err) => cx
                .toasts
                .error("The configuration is not valid", err.to_string()),
        }
    }

    /// Starts a preflight of the recipe; one already running is dropped (its report would
    /// describe an older recipe).
    fn start_preflight(&mut self, cx: &mut Cx) {
        let config = cx.recipe.clone();
        let hub = cx.hub.clone();
        self.runtime.preflight_task =
            Some(cx.jobs.task("preflight", "preflight", move |reporter| {
                let progress_reporter = reporter.clone();
                let progress: PreflightProgress =
                    std::sync::Arc::new(move |stage: &str, done, total| {
                        progress_reporter.progress(done, total, stage);
                    });
                let result = crate::train::preflight(&config, &hub, progress).map(Box::new);
                (Box::new(config), result)
            }));
    }

    /// "Open TOML…" and "Save as TOML…": the typed path, or a dialog when there is none.
    fn open_or_save(&mut self, cx: &mut Cx, purpose: FileAction) {
        let path = self.toml_path.trim();
        if path.is_empty() {
            self.pick(cx, purpose);
            return;
        }
        let path = PathBuf::from(path);
        match purpose {
            FileAction::Import => self.import(cx, path),
            FileAction::Export => self.export(cx, path),
        }
    }

    fn import(&mut self, cx: &mut Cx, path: PathBuf) {
        self.runtime.import = Some(cx.jobs.task("import", "importing a TOML recipe", move |_| {
            // As `wick train --config` reads it, without cross-key validation: the form shows
            // what to fix.
            let result = TrainConfig::read_unvalidated(&path);
            (path, result)
        }));
    }

    fn export(&mut self, cx: &mut Cx, path: PathBuf) {
        let text = edits::with_absolute_paths(cx.recipe).to_toml_string();
        self.runtime.export = Some(cx.jobs.task("export", "exporting the recipe", move |_| {
            let result = std::fs::write(&path, text);
            (path, result)
        }));
    }

    fn pick(&mut self, cx: &mut Cx, purpose: FileAction) {
        let start_dir = Path::new(&self.toml_path)
            .parent()
            .filter(|p| p.is_dir())
            .map(Path::to_path_buf);
        self.runtime.dialog = Some(cx.jobs.task("file-dialog", "choosing a file", move |_| {
            // rfd blocks until the dialog closes: never on the UI thread.
            let opened = std::time::Instant::now();
            let mut dialog = rfd::FileDialog::new().add_filter("TOML", &["toml"]);
            if let Some(dir) = start_dir {
                dialog = dialog.set_directory(dir);
            }
            let path = match purpose {
                FileAction::Import => dialog.pick_file(),
                FileAction::Export => dialog.set_file_name("run.toml").save_file(),
            };
            (purpose, dialog_outcome(path, opened.elapsed()))
        }));
    }

    /// Takes what the panel's tasks finished with; the app calls this every frame.
    pub fn poll(&mut self, cx: &mut Cx) {
        self.forget_stale_drafts(cx.recipe);
        self.accelerate.poll(cx);
        match poll_slot(&mut self.runtime.dialog) {
            Some(Ok((purpose, DialogOutcome::Picked(path)))) => {
                self.toml_path = path.display().to_string();
                match purpose {
                    FileAction::Import => self.import(cx, path),
                    FileAction::Export => self.export(cx, path),
                }
            }
            Some(Ok((_, DialogOutcome::Cancelled))) | None => {}
            Some(Ok((_, DialogOutcome::Unavailable))) => cx.toasts.warning(
                "No file dialog is available here",
                "Neither a desktop portal nor zenity answered. Type or paste the file's path in \
                 \"TOML path\" and press the button again.",
            ),
            Some(Err(err)) => self.fail(cx, "Could not show the file dialog", err.to_string()),
        }
        match poll_slot(&mut self.runtime.import) {
            Some(Ok((path, Ok(config)))) => {
                *cx.recipe = config;
                self.runtime.drafts.clear();
                self.runtime.alert = None;
                let problems = self.problems(cx.recipe);
                if problems.is_empty() {
                    cx.toasts.success(format!("Imported {}", path.display()));
                } else {
                    cx.toasts.warning(
                        format!("Imported {}; it needs a fix before Start", path.display()),
                        problems
                            .iter()
                            .map(Problem::sentence)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                }
            }
            Some(Ok((_, Err(err)))) => {
                self.fail(cx, "Could not import the recipe", err.to_string())
            }
            Some(Err(err)) => self.fail(cx, "Could not import the recipe", err.to_string()),
            None => {}
        }
        match poll_slot(&mut self.runtime.export) {
            Some(Ok((path, Ok(())))) => {
                cx.toasts.success(format!("Exported to {}", path.display()))
            }
            Some(Ok((path, Err(err)))) => self.fail(
                cx,
                "Could not export the recipe",
                format!("{}: {err}", path.display()),
            ),
            Some(Err(err)) => self.fail(cx, "Could not export the recipe", err.to_string()),
            None => {}
        }
        let preflight = match poll_slot(&mut self.runtime.preflight_task) {
            Some(Ok((config, result))) => Some((config, result.map_err(PreflightFailed::from))),
            // The recipe it ran on went with the crashed work: show the one in the form.
            Some(Err(err)) => Some((Box::new(cx.recipe.clone()), Err(err.into()))),
            None => None,
        };
        if let Some((config, result)) = preflight {
            if let Err(err) = &result {
                cx.toasts.error("Preflight failed", err.to_string());
            }
            self.runtime.preflight = Some((config, result));
        }
    }

    /// A toast and the alert above the form.
    fn fail(&mut self, cx: &mut Cx, title: &str, detail: String) {
        cx.toasts.error(title, detail.clone());
        self.runtime.alert = Some(Alert::error(title, detail));
    }
}

/// The recipe's value for `key`, as the form shows it.
fn recipe_value(recipe: &TrainConfig, key: &str) -> String {
    toml::Table::try_from(recipe)
        .map(|table| value_text(table.get(key)))
        .unwrap_or_default()
}

/// A TOML value as the form shows it: strings bare, small floats in `5e-5` notation,
/// unset as "".
fn value_text(value: Option<&toml::Value>) -> String {
    match value {
        None => String::new(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Float(f)) if *f != 0.0 && (f.abs() < 1e-2 || f.abs() >= 1e7) => {
            format!("{f:e}")
        }
        Some(toml::Value::Float(f)) => format!("{f}"),
        Some(other) => other.to_string(),
    }
}

/// A field's name in a cell at least `width` wide.
fn name_label(ui: &mut Ui, name: RichText, width: f32) -> egui::Response {
    ui.horizontal(|ui| {
        ui.set_min_width(width);
        ui.label(name)
    })
    .inner
}

/// The key's help, its default and where it comes from.
fn tooltip(key: &str, default: &str) -> String {
    let Some(info) = key_info(key) else {
        return key.to_string();
    };
    let origin = match info.origin {
        KeyOrigin::TrainingArguments => "TrainingArguments",
        KeyOrigin::EarlyStoppingCallback => "EarlyStoppingCallback",
        KeyOrigin::Wick => "Wick",
    };
    let default = if default.is_empty() { "unset" } else { default };
    format!("{}\n\nDefault: {default} ({origin})", info.help)
}

/// The message without the "<config>: bad value for `key`:" prefix (the field names it).
fn error_message(err: &ConfigError) -> String {
    match err {
        ConfigError::BadValue { message, .. } => message.clone(),
        ConfigError::Missing { .. } => "is required".into(),
        other => other.to_string(),
    }
}

/// Every problem at once, in words, at the body size; a missing model or dataset also points
/// to Hub. It sits next to Start, never between fields: its growing moves nothing being edited.
fn problems_box(ui: &mut Ui, cx: &mut Cx, problems: &[Problem]) {
    let color = Level::Error.color(ui.visuals().dark_mode);
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            let count = match problems.len() {
                1 => "1 thing".to_string(),
                n => format!("{n} things"),
            };
            ui.label(
                RichText::new(format!("⚠ Fix {count} before Start"))
                    .strong()
                    .color(color),
            );
            for problem in problems {
                ui.label(RichText::new(problem.sentence()).color(color));
            }
            if problems
                .iter()
                .any(|p| p.key == "model" || p.key == "dataset")
            {
                ui.horizontal_wrapped(|ui| {
                    ui.label(widgets::muted(
                        ui,
                        "Pick data and a model in Hub, type them in Basics, or apply the \
                         Course recipe preset.",
                    ));
                    if ui.small_button("Go to Hub").clicked() {
                        cx.actions.push(Action::Navigate(Tab::Hub));
                    }
                });
            }
        });
}

fn preflight_card(
    ui: &mut Ui,
    config: &TrainConfig,
    result: &PreflightResult,
    recipe: &TrainConfig,
) {
    let dark = ui.visuals().dark_mode;
    let (stroke, title) = match result {
        Ok(_) => (widgets::accent(dark), "Preflight result"),
        Err(_) => (Level::Error.color(dark), "Preflight failed"),
    };
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, stroke))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(title).strong().color(stroke));
            if config != recipe {
                ui.label(widgets::muted(
                    ui,
                    "The recipe changed since; run preflight again for current figures.",
                ));
            }
            let report = match result {
                Ok(report) => report,
                Err(err) => {
                    ui.label(RichText::new(err.to_string()).monospace().small());
                    return;
                }
            };
            egui::Grid::new("preflight-grid")
                .num_columns(2)
                .spacing([12.0, 3.0])
                .show(ui, |ui| {
                    let row = |ui: &mut Ui, name: &str, value: String, help: &str| {
                        ui.label(widgets::muted(ui, name)).on_hover_text(help);
                        ui.label(value).on_hover_text(help);
                        ui.end_row();
                    };
                    row(ui, "Device", report.device.clone(), "Where the step ran");
                    row(
                        ui,
                        "Step time",
                        format!("{:.3} s", report.step_time_s),
                        "One optimizer step (forward, backward, clip, AdamW) on a batch of typical length, after a warm-up step",
                    );
                    row(
                        ui,
                        "Worst-case step",
                        format!(
                            "{:.3} s ({} × {} tokens)",
                            report.worst_step_time_s, report.batch_size, report.worst_seq_len
                        ),
                        "The same on the longest rows",
                    );
                    row(
                        ui,
                        "Parameters",
                        widgets::parameters(report.num_parameters, report.trainable_parameters),
                        "All of the model's parameters, and those that train (LoRA: the adapters and the saved modules)",
                    );
                    if let Some(full) = &report.full_fine_tuning {
                        row(
                            ui,
                            "LoRA vs full",
                            format!(
                                "step {:.3} s vs {:.3} s",
                                report.worst_step_time_s, full.worst_step_time_s
                            ),
                            "The worst-case step with LoRA, and the same step with every weight training (full fine-tuning, measured once after LoRA's, without a warm-up)",
                        );
                        let peaks = match (full.lora_peak, full.full_peak, full.saved_bytes()) {
                            (Some(lora), Some(all), Some(saved)) => format!(
                                "peak {} vs {} ({} {})",
                                widgets::bytes(lora),
                                widgets::bytes(all),
                                if saved >= 0 { "saves" } else { "costs" },
                                widgets::bytes(saved.unsigned_abs())
                            ),
                            _ => "peak not measured on this device".into(),
                        };
                        row(
                            ui,
                            "LoRA memory",
                            peaks,
                            "Process resident set peak (VmHWM, reset before each) of LoRA's worst-case step and of full fine-tuning's on the same batch",
                        );
                    }
                    let steps = match (report.steps_per_epoch, report.total_steps) {
                        (Some(per_epoch), Some(total)) => format!("{total} ({per_epoch} per epoch)"),
                        (None, Some(total)) => total.to_string(),
                        _ => "unknown (no training rows)".into(),
                    };
                    row(ui, "Steps", steps, "Optimizer steps of the whole run");
                    row(
                        ui,
                        "ETA",
                        report.eta_s.map_or_else(|| "unknown".into(), widgets::duration),
                        "Step time × steps; evaluation and checkpoints come on top",
                    );
                    if let Some(memory) = &report.memory {
                        row(
                            ui,
                            "Memory",
                            format!(
                                "peak {} (was {} before loading)",
                                widgets::bytes(memory.peak),
                                widgets::bytes(memory.rss_before)
                            ),
                            if memory.peak_reset {
                                "Process resident set (VmHWM) during the measured steps"
                            } else {
                                "Process resident set peak since the app started (VmHWM could not be reset)"
                            },
                        );
                        if let Some(available) = memory.available {
                            row(ui, "Available", widgets::bytes(available), "MemAvailable in /proc/meminfo");
                        }
                    } else {
                        row(ui, "Memory", "not measured on this device".into(), "Only CPU memory is measured");
                    }
                    let largest = match report.largest_batch {
                        Some(b) if b.estimated => format!("about {} (estimated)", b.batch_size),
                        Some(b) => b.batch_size.to_string(),
                        None => "not estimated".into(),
                    };
                    row(
                        ui,
                        "Largest batch",
                        largest,
                        "Extrapolated from the peak memory at two batch sizes, keeping 10% free",
                    );
                });
            for warning in &report.warnings {
                ui.label(
                    RichText::new(format!("⚠ {warning}"))
                        .color(Level::Warning.color(dark)),
                );
            }
            let source = match &report.batch_source {
                BatchSource::LongestRows { split } => {
                    format!("Measured on the longest rows of the {split} split.")
                }
                BatchSource::Synthetic { reason } => format!(
                    "Measured on full-length synthetic rows: the data could not be read ({reason})."
                ),
            };
            ui.label(widgets::muted(ui, source));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_as_typed_and_parse_back() {
        let config = TrainConfig::default();
        let table = toml::Table::try_from(&config).unwrap();
        assert_eq!(value_text(table.get("learning_rate")), "5e-5");
        assert_eq!(value_text(table.get("adam_epsilon")), "1e-8");
        assert_eq!(value_text(table.get("num_train_epochs")), "3");
        assert_eq!(value_text(table.get("train_split")), "train");
        assert_eq!(value_text(table.get("max_length")), "");
        // Every shown value parses back to the same configuration.
        let mut again = config.clone();
        for field in GROUPS.iter().flat_map(|g| g.fields) {
            let text = value_text(table.get(field.key));
            again
                .apply_override(&format!("{}={text}", field.key))
                .unwrap_or_else(|e| panic!("{}: {e}", field.key));
        }
        assert_eq!(again, config);
    }

    #[test]
    fn drafts_that_do_not_parse_block_start_and_keep_the_old_value() {
        let mut panel = TrainPanel::default();
        let mut recipe = TrainConfig {
            model: "m".into(),
            dataset: "d".into(),
            ..TrainConfig::default()
        };
        let sentences = |panel: &TrainPanel, recipe: &TrainConfig| -> Vec<String> {
            panel
                .problems(recipe)
                .iter()
                .map(Problem::sentence)
                .collect()
        };
        assert!(panel.problems(&recipe).is_empty());
        panel.apply(&mut recipe, "learning_rate", "fast");
        assert_eq!(recipe.learning_rate, 5e-5);
        assert_eq!(
            sentences(&panel, &recipe),
            ["learning_rate must be a number (like 0.1 or 5e-5)"]
        );
        panel.apply(&mut recipe, "learning_rate", "-1");
        assert_eq!(recipe.learning_rate, -1.0);
        assert_eq!(
            sentences(&panel, &recipe),
            ["learning_rate must be a positive number"]
        );
        panel.apply(&mut recipe, "learning_rate", "2e-5");
        assert_eq!(recipe.learning_rate, 2e-5);
        assert!(panel.problems(&recipe).is_empty());
    }

    #[test]
    fn a_draft_goes_when_another_panel_sets_its_key() {
        let mut panel = TrainPanel::default();
        let mut recipe = TrainConfig {
            model: "m".into(),
            dataset: "d".into(),
            ..TrainConfig::default()
        };
        panel.apply(&mut recipe, "max_length", "long");
        panel.forget_stale_drafts(&recipe);
        assert_eq!(
            panel.problems(&recipe).len(),
            1,
            "the typed text is still wrong"
        );
        // Data's max_length control sets the key.
        recipe.max_length = Some(128);
        panel.forget_stale_drafts(&recipe);
        assert!(
            panel.problems(&recipe).is_empty(),
            "{:?}",
            panel.problems(&recipe)
        );
    }

    #[test]
    fn every_problem_is_listed_once_in_the_form_order() {
        let mut panel = TrainPanel::default();
        let mut recipe = TrainConfig {
            warmup_ratio: 3.0,
            ..TrainConfig::default()
        };
        panel.apply(&mut recipe, "per_device_train_batch_size", "many");
        panel.apply(&mut recipe, "learning_rate", "0");
        assert_eq!(
            panel
                .problems(&recipe)
                .iter()
                .map(Problem::sentence)
                .collect::<Vec<_>>(),
            [
                "model is required",
                "dataset is required",
                "per_device_train_batch_size must be a whole number (0 or more)",
                "learning_rate must be a positive number",
                "warmup_ratio must be in [0, 1]",
            ]
        );
    }
}
