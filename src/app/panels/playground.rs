//! Playground: try a trained checkpoint on your own text (the course's
//! `pipeline("text-classification")`, or `pipeline("token-classification",
//! aggregation_strategy="simple")` for entities), answered in the model's task's terms, and
//! export it as a Hugging Face model folder that is reloaded to confirm the same logits.
//!
//! Listing runs, loading a model, predicting and exporting all run on jobs; the loaded model
//! is cached (behind an `Arc`) for the selected checkpoint.

use egui::RichText;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::jobs::{self, Task, poll_slot};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab, short_name};
use crate::recipe::SaveStrategy;
use crate::runs::{BestMetric, Checkpoints, RunStatus, RunsError, list_runs};
use crate::task::Task as ModelTask;
use crate::train::{
    ADAPTER_DIR, ExportCheck, ExportForm, PredictError, Predictor, TaskPrediction, adapter_of,
    device_from_name, export_model,
};

mod result;

/// Predictions and exports run on the CPU: single inputs are quick there, and a run that
/// is training keeps the GPU to itself.
const DEVICE: &str = "cpu";

/// A run that has at least one complete checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChoice {
    pub name: String,
    pub path: PathBuf,
    pub model: String,
    pub dataset: String,
    pub status: RunStatus,
    pub best_metric: Option<BestMetric>,
    /// Steps of the complete checkpoints, oldest first.
    pub checkpoints: Vec<u64>,
    /// The checkpoint holding the model the run ended with (the one `predictions.json`
    /// was made by), when it was saved.
    pub final_step: Option<u64>,
    /// A LoRA run: its checkpoints hold the adapter beside the merged model.
    pub lora: bool,
}

/// A run the Playground cannot offer, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unpickable {
    pub name: String,
    pub reason: String,
}

/// The runs folder as the Playground sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Runs with at least one complete checkpoint, newest first.
    pub runs: Vec<RunChoice>,
    /// Runs without one.
    pub unpickable: Vec<Unpickable>,
}

/// Why a run has no checkpoint to try, from its `save_strategy` (when its config could be
/// read) and status.
pub fn no_checkpoint_reason(save_strategy: Option<SaveStrategy>, status: RunStatus) -> String {
    match (save_strategy, status) {
        (Some(SaveStrategy::No), _) => "no checkpoint: save_strategy = \"no\"".into(),
        (_, RunStatus::Running) => "no checkpoint yet: still training".into(),
        (Some(SaveStrategy::Best), _) => {
            "no checkpoint: save_strategy = \"best\" and no evaluation was saved".into()
        }
        _ => "no checkpoint: stopped before its first save".into(),
    }
}

impl RunChoice {
    /// The best evaluation's checkpoint, when it was saved (and not rotated away).
    pub fn best_step(&self) -> Option<u64> {
        let step = self.best_metric.as_ref()?.step;
        self.checkpoints.contains(&step).then_some(step)
    }

    /// The checkpoint folder a pick means: the best one, else the latest.
    pub fn resolve(&self, pick: &CheckpointPick) -> Option<(u64, PathBuf)> {
        let step = match pick {
            CheckpointPick::Best => self.best_step().or(self.checkpoints.last().copied())?,
            CheckpointPick::Step(step) => Some(*step).filter(|s| self.checkpoints.contains(s))?,
        };
        Some((step, self.path.join(checkpoint_folder(step))))
    }
}

fn checkpoint_folder(step: u64) -> String {
    crate::runs::checkpoints::checkpoint_name(step)
}

/// Which checkpoint of the run: its best (the latest when there is no best), or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CheckpointPick {
    #[default]
    Best,
    Step(u64),
}

/// Which weights of a LoRA checkpoint predict: the merged model, or the base model with the
/// adapter put on it (as `PeftModel.from_pretrained` does). Both give the same predictions;
/// the second shows the adapter works on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum WeightsPick {
    #[default]
    Merged,
    BaseWithAdapter,
}

impl WeightsPick {
    fn title(self) -> &'static str {
        match self {
            Self::Merged => "merged model",
            Self::BaseWithAdapter => "base + adapter",
        }
    }
}

/// A prediction with what it was made from.
#[derive(Debug, Clone)]
pub struct Shown {
    pub prediction: TaskPrediction,
    /// The model's labels (entity types and colours come from them).
    pub labels: Vec<String>,
    pub checkpoint: PathBuf,
    /// Made by the checkpoint's LoRA adapter on its base (not the merged model).
    pub from_adapter: bool,
    pub text: String,
    pub text_pair: Option<String>,
    /// Multi-label: each label's threshold tuned on the eval split, when `predictions.json`
    /// was made by this checkpoint; else the default threshold applies.
    pub tuned_thresholds: Option<Vec<f32>>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaygroundPanel {
    /// The selected run's folder name.
    pub run: Option<String>,
    pub checkpoint: CheckpointPick,
    /// For a LoRA run: which weights predict, and which form is exported.
    pub weights: WeightsPick,
    pub export_form: ExportForm,
    pub text: String,
    pub text_pair: String,
    pub export_dir: String,

    /// What lives only while the app runs (not persisted).
    #[serde(skip)]
    runtime: PlaygroundRuntime,
}

/// PlaygroundPanel's state that lives only while the app runs.
#[derive(Default)]
struct PlaygroundRuntime {
    runs: Vec<RunChoice>,
    unpickable: Vec<Unpickable>,
    listed: bool,
    /// Listing the runs folder (a newer refresh replaces it).
    listing: Option<Task<Result<Listing, RunsError>>>,
    /// The model of the selected checkpoint, loaded once.
    model: Option<(PathBuf, Arc<Predictor>)>,
    /// Loading the model of this checkpoint folder.
    loading: Option<(PathBuf, Task<Loaded>)>,
    /// A checkpoint that failed to load (not retried until picked again).
    failed_load: Option<PathBuf>,
    predict_after_load: bool,
    /// The prediction for the latest Predict.
    predicting: Option<Task<Result<Shown, PredictError>>>,
    shown: Option<Shown>,
    /// The folder dialog of the export.
    picking: Option<Task<Option<PathBuf>>>,
    export_after_pick: bool,
    /// Writing and reloading the exported model.
    exporting: Option<Task<Result<ExportCheck, PredictError>>>,
    exported: Option<(PathBuf, ExportCheck)>,
    alert: Option<Alert>,
}

/// A checkpoint's model, loaded on a task.
type Loaded = Result<Arc<Predictor>, PredictError>;

/// `Exported 4 files; reloaded: max |Δlogit| = 0`.
pub fn export_summary(check: &ExportCheck) -> String {
    let diff = if check.max_abs_logit_diff == 0.0 {
        "0".to_string()
    } else {
        format!("{:.1e}", check.max_abs_logit_diff)
    };
    format!(
        "Exported {} files; reloaded: max |Δlogit| = {diff}",
        check.files.len()
    )
}

/// Runs with at least one complete checkpoint, newest first, and the others with a reason.
fn list_choices(root: &Path) -> Result<Listing, RunsError> {
    let listing = list_runs(root)?;
    let mut choices = Listing::default();
    for run in listing.runs {
        // A run whose checkpoints cannot be read is left out, not fatal to the list.
        let Ok(checkpoints) = Checkpoints::open(&run.path).and_then(|c| c.complete()) else {
            continue;
        };
        if checkpoints.is_empty() {
            choices.unpickable.push(Unpickable {
                reason: no_checkpoint_reason(saved_strategy(&run.path), run.info.status),
                name: run.name,
            });
            continue;
        }
        let checkpoints: Vec<u64> = checkpoints.iter().map(|c| c.step).collect();
        // A run without predictions (still training, or stopped) has no final model yet.
        let final_step = crate::runs::read_predictions(&run.path)
            .ok()
            .flatten()
            .and_then(|p| p.checkpoint)
            .and_then(|name| {
                checkpoints
                    .iter()
                    .copied()
                    .find(|s| checkpoint_folder(*s) == name)
            });
        let lora = checkpoints
            .last()
            .is_some_and(|&step| adapter_of(&run.path.join(checkpoint_folder(step))).is_some());
        choices.runs.push(RunChoice {
            lora,
            name: run.name,
            path: run.path,
            model: run.info.model,
            dataset: run.info.dataset,
            status: run.info.status,
            best_metric: run.info.best_metric,
            checkpoints,
            final_step,
        });
    }
    Ok(choices)
}

/// A multi-label checkpoint's per-label thresholds tuned on the eval split: those in its
/// run's `predictions.json` when that file was made by this checkpoint and has one per label.
pub fn tuned_thresholds_of(checkpoint: &Path, num_labels: usize) -> Option<Vec<f32>> {
    let predictions = crate::runs::read_predictions(checkpoint.parent()?)
        .ok()
        .flatten()?;
    let folder = checkpoint.file_name()?.to_str()?;
    let tuned = predictions.tuned_thresholds?;
    (predictions.checkpoint.as_deref() == Some(folder) && tuned.len() == num_labels)
        .then_some(tuned)
}

/// The `save_strategy` in a run's `config.toml`, when it can be read.
fn saved_strategy(run: &Path) -> Option<SaveStrategy> {
    let config = crate::runs::RunDir::open(run)
        .and_then(|r| r.config())
        .ok()?;
    Some(config.save_strategy)
}

impl PlaygroundPanel {
    /// The runs folder changed: list it again (on a job).
    pub fn refresh(&mut self, cx: &mut Cx) {
        let root = cx.runs_root.to_path_buf();
        self.runtime.listing = Some(cx.jobs.task("playground-runs", "listing runs", move |_| {
            list_choices(&root)
        }));
    }

    /// Predicts `text` with the first listed run's best checkpoint, as typing it and
    /// pressing Predict does (for the screenshot tour); false while no run is listed.
    pub fn predict_now(&mut self, cx: &mut Cx, text: &str) -> bool {
        let Some(first) = self.runtime.runs.first() else {
            return false;
        };
        if self.run.is_none() {
            self.run = Some(first.name.clone());
        }
        self.text = text.to_string();
        self.predict(cx);
        true
    }

    /// Whether a prediction is shown.
    pub fn has_prediction(&self) -> bool {
        self.runtime.shown.is_some()
    }

    /// Picks the listed run whose folder is `name` or ends in `-name` (a run name after its
    /// timestamp), at its best checkpoint; false while no such run is listed.
    pub fn select_run(&mut self, name: &str) -> bool {
        let suffix = format!("-{name}");
        let Some(found) = self
            .runtime
            .runs
            .iter()
            .find(|r| r.name == name || r.name.ends_with(&suffix))
        else {
            return false;
        };
        if self.run.as_deref() != Some(found.name.as_str()) {
            self.run = Some(found.name.clone());
            self.checkpoint = CheckpointPick::Best;
            self.runtime.shown = None;
        }
        true
    }

    /// The task of the loaded model, once it is loaded.
    fn loaded_task(&self) -> Option<ModelTask> {
        let (dir, predictor) = self.runtime.model.as_ref()?;
        (Some(dir) == self.selected_model_dir().as_ref()).then(|| predictor.task())
    }

    /// Takes what the panel's tasks finished with; the app calls this every frame.
    pub fn poll(&mut self, cx: &mut Cx) {
        if let Some(result) = poll_slot(&mut self.runtime.listing) {
            match jobs::flatten(result) {
                Ok(listing) => {
                    self.runtime.runs = listing.runs;
                    self.runtime.unpickable = listing.unpickable;
                    self.runtime.listed = true;
                    if self.selected_run().is_none() {
                        self.run = self.runtime.runs.first().map(|r| r.name.clone());
                        self.checkpoint = CheckpointPick::Best;
                    }
                }
                Err(err) => {
                    // Show the empty state with the alert rather than a spinner forever.
                    self.runtime.listed = true;
                    self.fail(cx, "Could not list the runs", err);
                }
            }
        }
        let loaded = match &mut self.runtime.loading {
            Some((dir, task)) => task.poll().map(|result| (dir.clone(), result)),
            None => None,
        };
        if let Some((dir, result)) = loaded {
            self.runtime.loading = None;
            let selected = self.selected_model_dir();
            match jobs::flatten(result) {
                Ok(predictor) if selected.as_ref() == Some(&dir) => {
                    self.runtime.model = Some((dir, predictor));
                    if std::mem::take(&mut self.runtime.predict_after_load) {
                        self.start_prediction(cx);
                    }
                }
                // The selection moved on meanwhile.
                Ok(_) => {}
                Err(err) => {
                    self.runtime.predict_after_load = false;
                    self.runtime.failed_load = Some(dir.clone());
                    self.fail(cx, &format!("Could not load {}", folder_name(&dir)), err);
                }
            }
        }
        if let Some(result) = poll_slot(&mut self.runtime.predicting) {
            match jobs::flatten(result) {
                Ok(shown) => self.runtime.shown = Some(shown),
                Err(err) => self.fail(cx, "The prediction failed", err),
            }
        }
        if let Some(result) = poll_slot(&mut self.runtime.picking) {
            let export = std::mem::take(&mut self.runtime.export_after_pick);
            match result {
                Ok(Some(folder)) => {
                    self.export_dir = folder.display().to_string();
                    if export {
                        self.start_export(cx);
                    }
                }
                Ok(None) => {}
                Err(err) => self.fail(cx, "Could not show the folder dialog", err.to_string()),
            }
        }
        if let Some(result) = poll_slot(&mut self.runtime.exporting) {
            match jobs::flatten(result) {
                Ok(check) => {
                    cx.toasts.success(export_summary(&check));
                    let folder = check
                        .files
                        .first()
                        .and_then(|f| f.parent())
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    self.runtime.exported = Some((folder, check));
                }
                Err(err) => self.fail(cx, "The export failed", err),
            }
        }
    }

    fn fail(&mut self, cx: &mut Cx, title: &str, detail: String) {
        cx.toasts.error(title, detail.clone());
        self.runtime.alert = Some(Alert::error(title, detail));
    }

    fn selected_run(&self) -> Option<&RunChoice> {
        let name = self.run.as_deref()?;
        self.runtime.runs.iter().find(|r| r.name == name)
    }

    /// The selected checkpoint: its step and folder.
    fn selected_dir(&self) -> Option<(u64, PathBuf)> {
        self.selected_run()?.resolve(&self.checkpoint)
    }

    /// The export's form: the one picked for a LoRA run, the merged model otherwise (a run
    /// trained in full has no adapter).
    fn export_form_for_selection(&self) -> ExportForm {
        if self.selected_run().is_some_and(|run| run.lora) {
            self.export_form
        } else {
            ExportForm::Merged
        }
    }

    /// What predicts: the selected checkpoint, or its adapter on the base model.
    fn selected_model_dir(&self) -> Option<PathBuf> {
        let (_, dir) = self.selected_dir()?;
        let lora = self.selected_run().is_some_and(|run| run.lora);
        Some(if lora && self.weights == WeightsPick::BaseWithAdapter {
            dir.join(ADAPTER_DIR)
        } else {
            dir
        })
    }

    /// Loads the selected checkpoint's model on a job unless it is loaded, loading, or
    /// failed to load already.
    fn ensure_loading(&mut self, cx: &mut Cx) {
        let Some(dir) = self.selected_model_dir() else {
            return;
        };
        let ready = self.runtime.model.as_ref().is_some_and(|(d, _)| *d == dir);
        let busy = self
            .runtime
            .loading
            .as_ref()
            .is_some_and(|(d, _)| *d == dir);
        if ready || busy || self.runtime.failed_load.as_ref() == Some(&dir) {
            return;
        }
        self.runtime.model = None;
        let job_dir = dir.clone();
        // A load of another checkpoint still running is dropped: the selection moved on.
        let task = cx.jobs.task(
            "playground-load",
            format!("loading {}", folder_name(&dir)),
            move |_| {
                device_from_name(DEVICE)
                    .and_then(|device| Predictor::load(&job_dir, &device))
                    .map(Arc::new)
            },
        );
        self.runtime.loading = Some((dir, task));
    }

    fn predict(&mut self, cx: &mut Cx) {
        if self.selected_dir().is_none() {
            self.runtime.alert = Some(Alert::warning(
                "Pick a run and a checkpoint first",
                "Only runs with a saved checkpoint are listed.",
            ));
            return;
        }
        if self.text.trim().is_empty() {
            self.runtime.alert = Some(Alert::warning(
                "Type a text first",
                "The model classifies the text (with the pair, for two-sentence tasks).",
            ));
            return;
        }
        self.runtime.alert = None;
        // Picking Predict again retries a checkpoint that failed to load.
        self.runtime.failed_load = None;
        // An answer to an earlier Predict would show the wrong text's label.
        self.runtime.predicting = None;
        let ready = match (&self.runtime.model, self.selected_model_dir()) {
            (Some((loaded, _)), Some(dir)) => *loaded == dir,
            _ => false,
        };
        if ready {
            self.start_prediction(cx);
        } else {
            self.runtime.predict_after_load = true;
            self.ensure_loading(cx);
        }
    }

    fn start_prediction(&mut self, cx: &mut Cx) {
        let Some((model_dir, predictor)) = self.runtime.model.clone() else {
            return;
        };
        // Base + adapter loads the checkpoint's `adapter/`; the checkpoint is one up.
        let dir = if predictor.has_adapter() {
            model_dir
                .parent()
                .map_or(model_dir.clone(), Path::to_path_buf)
        } else {
            model_dir
        };
        let text = self.text.clone();
        // Token classification tags one text; a pair would be ignored, so none is sent.
        let pair = Some(self.text_pair.clone())
            .filter(|p| !p.trim().is_empty() && !predictor.task().per_token());
        self.runtime.predicting =
            Some(cx.jobs.task("playground-predict", "predicting", move |_| {
                let tuned_thresholds = tuned_thresholds_of(&dir, predictor.labels().len());
                predictor
                    .predict_task(&text, pair.as_deref())
                    .map(|prediction| Shown {
                        prediction,
                        labels: predictor.labels().to_vec(),
                        checkpoint: dir,
                        from_adapter: predictor.has_adapter(),
                        text,
                        text_pair: pair,
                        tuned_thresholds,
                    })
            }));
    }

    fn pick_folder(&mut self, cx: &mut Cx, then_export: bool) {
        if self.runtime.picking.is_some() {
            return;
        }
        self.runtime.export_after_pick = then_export;
        self.runtime.picking = Some(cx.jobs.task("playground-pick", "choosing a folder", |_| {
            rfd::FileDialog::new()
                .set_title("Export the model into this folder")
                .pick_folder()
        }));
    }

    fn start_export(&mut self, cx: &mut Cx) {
        let Some((_, source)) = self.selected_dir() else {
            self.runtime.alert = Some(Alert::warning(
                "Pick a run and a checkpoint first",
                "The export writes the selected checkpoint's model.",
            ));
            return;
        };
        let out = PathBuf::from(self.export_dir.trim());
        let form = self.export_form_for_selection();
        self.runtime.alert = None;
        self.runtime.exported = None;
        // An export still running is dropped; this one's outcome is shown.
        self.runtime.exporting = Some(cx.jobs.task(
            "playground-export",
            format!("exporting {}", folder_name(&source)),
            move |_| {
                device_from_name(DEVICE)
                    .and_then(|device| export_model(&source, &out, form, &device))
            },
        ));
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Playground",
            "Try a trained checkpoint on your own text, and export it as a Hugging Face model.",
        );
        widgets::alert(ui, &mut self.runtime.alert);
        if !self.runtime.listed {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Listing runs…");
            });
            return;
        }
        if self.runtime.runs.is_empty() {
            widgets::empty_state(
                ui,
                "No run has a saved checkpoint yet. Train one (Train, then Start); each\n\
                 checkpoint it saves can be tried here.",
            );
            ui.vertical_centered(|ui| {
                if ui.button("Go to Train").clicked() {
                    cx.actions.push(Action::Navigate(Tab::Train));
                }
            });
            self.unpickable_runs(ui);
            return;
        }
        // Loading starts as soon as a checkpoint is picked, so Predict answers quickly.
        self.ensure_loading(cx);
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.selection(ui);
            ui.add_space(8.0);
            self.inputs(ui, cx);
            ui.add_space(8.0);
            self.result(ui);
            ui.add_space(12.0);
            ui.separator();
            self.export(ui, cx);
            self.unpickable_runs(ui);
        });
    }

    /// The runs that cannot be picked, each with why, so none goes missing silently.
    fn unpickable_runs(&self, ui: &mut egui::Ui) {
        if self.runtime.unpickable.is_empty() {
            return;
        }
        ui.add_space(12.0);
        ui.label(RichText::new("Runs without a checkpoint").strong());
        for run in &self.runtime.unpickable {
            ui.label(widgets::muted(ui, format!("{}: {}", run.name, run.reason)));
        }
    }

    fn selection(&mut self, ui: &mut egui::Ui) {
        let run_names: Vec<String> = self.runtime.runs.iter().map(|r| r.name.clone()).collect();
        let current = self.run.clone().unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            // Run names are long (a timestamp and the run name): the picker takes at most the
            // row, and a name that does not fit ends in "…", whole on hover.
            let label = ui.label("Run");
            let width = (ui.available_width() - ui.spacing().item_spacing.x).clamp(120.0, 340.0);
            egui::ComboBox::from_id_salt("playground-run")
                .selected_text(if current.is_empty() {
                    "pick a run"
                } else {
                    &current
                })
                .width(width)
                .truncate()
                .show_ui(ui, |ui| {
                    for name in &run_names {
                        if ui
                            .selectable_label(current == *name, name.as_str())
                            .clicked()
                        {
                            self.run = Some(name.clone());
                            self.checkpoint = CheckpointPick::Best;
                        }
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(&current);
            ui.add_space(12.0);
            let Some(run) = self.selected_run().cloned() else {
                return;
            };
            let pick_text = |pick: &CheckpointPick| checkpoint_label(&run, pick);
            widgets::keep_together(ui, "playground-checkpoint", |ui| {
                let label = ui.label("Checkpoint");
                egui::ComboBox::from_id_salt("playground-checkpoint")
                    .selected_text(pick_text(&self.checkpoint))
                    .width(220.0)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(
                            &mut self.checkpoint,
                            CheckpointPick::Best,
                            pick_text(&CheckpointPick::Best),
                        );
                        for step in run.checkpoints.iter().rev() {
                            let pick = CheckpointPick::Step(*step);
                            ui.selectable_value(&mut self.checkpoint, pick, pick_text(&pick));
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(
                        "best: the checkpoint of the best evaluation (metric_for_best_model), \
                         else the latest; final: the model the run ended with",
                    );
            });
            if run.lora {
                widgets::keep_together(ui, "playground-weights", |ui| {
                    let label = ui.label("Weights");
                    egui::ComboBox::from_id_salt("playground-weights")
                        .selected_text(self.weights.title())
                        .width(130.0)
                        .show_ui(ui, |ui| {
                            for pick in [WeightsPick::Merged, WeightsPick::BaseWithAdapter] {
                                ui.selectable_value(&mut self.weights, pick, pick.title());
                            }
                        })
                        .response
                        .labelled_by(label.id)
                        .on_hover_text(
                            "A LoRA run's checkpoint: the merged model, or the base model with \
                             the checkpoint's adapter/ put on it (as PeftModel.from_pretrained \
                             does); both predict the same",
                        );
                });
            }
        });
        if let Some(run) = self.selected_run() {
            let mut facts = vec![
                format!("{} on {}", short_name(&run.model), short_name(&run.dataset)),
                format!("{:?}", run.status).to_lowercase(),
            ];
            if let Some(best) = &run.best_metric {
                facts.push(format!(
                    "best {} {:.4} at step {}",
                    best.name, best.value, best.step
                ));
            }
            ui.label(widgets::muted(ui, facts.join(" · ")));
        }
        match (&self.runtime.loading, &self.runtime.model) {
            (Some((dir, _)), _) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Loading {}…", folder_name(dir)));
                });
            }
            (None, Some((dir, predictor))) => {
                ui.label(widgets::muted(ui, loaded_summary(dir, predictor)));
            }
            (None, None) => {}
        }
    }

    fn inputs(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let task = self.loaded_task();
        let text_label = ui.label(RichText::new("Text").strong());
        ui.add(
            egui::TextEdit::multiline(&mut self.text)
                .hint_text(match task {
                    Some(ModelTask::TokenClassification) => "The sentence to find entities in",
                    Some(ModelTask::Regression) => "The sentence to score",
                    _ => "The sentence to classify",
                })
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(text_label.id);
        // Token classification tags the words of one text: no pair to offer.
        if task.is_some_and(ModelTask::per_token) {
            ui.label(widgets::muted(
                ui,
                "Token classification tags the words of one text (no text pair).",
            ));
        } else {
            let pair_label = ui
                .label(RichText::new("Text pair (optional)").strong())
                .on_hover_text(
                    "The second sentence, for pair tasks such as MRPC or STS-B \
                     (sentence1, sentence2)",
                );
            ui.add(
                egui::TextEdit::multiline(&mut self.text_pair)
                    .hint_text("Leave empty for single-sentence tasks")
                    .desired_rows(2)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(pair_label.id);
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let busy = self.runtime.predicting.is_some() || self.runtime.predict_after_load;
            if ui
                .add_enabled(!busy, egui::Button::new("▶ Predict"))
                .on_hover_text("Run the selected checkpoint on the text")
                .clicked()
            {
                self.predict(cx);
            }
            if busy {
                ui.spinner();
            }
        });
    }

    fn result(&self, ui: &mut egui::Ui) {
        let Some(shown) = &self.runtime.shown else {
            ui.label(widgets::muted(
                ui,
                match self.loaded_task() {
                    Some(ModelTask::TokenClassification) => {
                        "Type a text and press Predict to see the entities the model finds in it."
                    }
                    Some(ModelTask::MultiLabelClassification) => {
                        "Type a text and press Predict to see each label's probability."
                    }
                    Some(ModelTask::Regression) => {
                        "Type a text and press Predict to see the number the model gives it."
                    }
                    _ => "Type a text and press Predict to see the label and its probability.",
                },
            ));
            return;
        };
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            let mut facts = vec![format!("by {}", folder_name(&shown.checkpoint))];
            if shown.from_adapter {
                facts.push("its adapter on the base model".into());
            }
            match &shown.prediction {
                TaskPrediction::Class(prediction) => {
                    result::class(ui, prediction);
                    let logits: Vec<String> = prediction
                        .logits
                        .iter()
                        .map(|l| format!("{l:.3}"))
                        .collect();
                    facts.push(format!("logits [{}]", logits.join(", ")));
                }
                TaskPrediction::Labels { probs, threshold } => {
                    let thresholds = match &shown.tuned_thresholds {
                        Some(tuned) => result::Thresholds::Tuned(tuned.clone()),
                        None => result::Thresholds::Default(*threshold),
                    };
                    result::labels(ui, probs, &thresholds);
                    if shown.tuned_thresholds.is_some() {
                        facts.push("thresholds tuned on the eval split".into());
                    }
                }
                TaskPrediction::Score(value) => result::score(ui, *value),
                TaskPrediction::Entities(found) => {
                    let kinds = result::entity_kinds(&shown.labels, found);
                    result::entities(ui, &shown.text, found, &kinds);
                    facts.push("grouped as aggregation_strategy=\"simple\"".into());
                }
            }
            if shown.text_pair.is_some() {
                facts.push("with the pair".into());
            }
            ui.label(widgets::muted(ui, facts.join(" · ")));
        });
    }

    fn export(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        ui.label(RichText::new("Export").strong());
        let lora = self.selected_run().is_some_and(|run| run.lora);
        if lora {
            ui.horizontal_wrapped(|ui| {
                ui.label("Form");
                for form in [ExportForm::Merged, ExportForm::Adapter] {
                    ui.radio_value(&mut self.export_form, form, form.title())
                        .on_hover_text(match form {
                            ExportForm::Merged => {
                                "The whole model with the adapters merged into its weights: \
                                 loads with AutoModelFor…from_pretrained"
                            }
                            ExportForm::Adapter => {
                                "The adapter and the head alone, in peft's layout (a few MB): \
                                 loads with PeftModel.from_pretrained onto the base model"
                            }
                        });
                }
            });
        }
        let form = self.export_form_for_selection();
        ui.label(widgets::muted(
            ui,
            match form {
                ExportForm::Merged => {
                    "Writes config.json (id2label, label2id), model.safetensors, the tokenizer \
                     files and a model card, then reloads the folder and compares logits with \
                     the source."
                }
                ExportForm::Adapter => {
                    "Writes adapter_config.json, adapter_model.safetensors, config.json (the \
                     labels), the tokenizer files and a model card, then puts the adapter back \
                     on its base model and compares logits with the source."
                }
            },
        ));
        let picking = self.runtime.picking.is_some();
        let exporting = self.runtime.exporting.is_some();
        egui::Grid::new("playground-export")
            .num_columns(2)
            .show(ui, |ui| {
                widgets::grid_text(
                    ui,
                    "Export folder",
                    &mut self.export_dir,
                    "/path/to/my-model",
                    "Where the Hugging Face folder is written (created if needed)",
                );
            });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!picking, egui::Button::new("Browse…"))
                .on_hover_text("Choose the export folder")
                .clicked()
            {
                self.pick_folder(cx, false);
            }
            if ui
                .add_enabled(!exporting && !picking, egui::Button::new("Export model…"))
                .on_hover_text("Export the selected checkpoint into the folder")
                .clicked()
            {
                if self.export_dir.trim().is_empty() {
                    self.pick_folder(cx, true);
                } else {
                    self.start_export(cx);
                }
            }
            if exporting || picking {
                ui.spinner();
            }
        });
        if let Some((folder, check)) = &self.runtime.exported {
            ui.label(
                RichText::new(format!("{} ({})", export_summary(check), folder.display()))
                    .color(crate::app::toasts::Level::Success.color(ui.visuals().dark_mode)),
            );
        }
    }
}

/// `best (checkpoint-10)`, `final (checkpoint-30)`, `latest (checkpoint-20)`, or a folder.
pub fn checkpoint_label(run: &RunChoice, pick: &CheckpointPick) -> String {
    let named = |step: u64| {
        if run.final_step == Some(step) {
            format!("final ({})", checkpoint_folder(step))
        } else {
            checkpoint_folder(step)
        }
    };
    match pick {
        CheckpointPick::Best => match (run.best_step(), run.checkpoints.last()) {
            (Some(step), _) => format!("best ({})", checkpoint_folder(step)),
            (None, Some(&step)) if run.final_step == Some(step) => named(step),
            (None, Some(step)) => format!("latest ({})", checkpoint_folder(*step)),
            (None, None) => "none".into(),
        },
        CheckpointPick::Step(step) => named(*step),
    }
}

/// `checkpoint-30 loaded · token classification · labels: B-LOC, B-PER, O`.
fn loaded_summary(dir: &Path, predictor: &Predictor) -> String {
    let task = predictor.task();
    let what = match dir.parent().filter(|_| predictor.has_adapter()) {
        Some(checkpoint) => format!("{}'s adapter on its base model", folder_name(checkpoint)),
        None => folder_name(dir),
    };
    let mut text = format!("{what} loaded · {}", task.title());
    // A regression head has one output and no label names worth listing.
    if task != ModelTask::Regression {
        text.push_str(&format!(" · labels: {}", predictor.labels().join(", ")));
    }
    text
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(checkpoints: Vec<u64>, best: Option<u64>) -> RunChoice {
        RunChoice {
            name: "r".into(),
            path: PathBuf::from("/runs/r"),
            model: "m".into(),
            dataset: "d".into(),
            status: RunStatus::Finished,
            best_metric: best.map(|step| BestMetric {
                name: "eval_accuracy".into(),
                value: 0.9,
                step,
                checkpoint: None,
            }),
            checkpoints,
            final_step: None,
            lora: false,
        }
    }

    #[test]
    fn the_final_model_is_named_in_the_checkpoint_picker() {
        let mut finished = run(vec![5, 10], None);
        finished.final_step = Some(10);
        assert_eq!(
            checkpoint_label(&finished, &CheckpointPick::Best),
            "final (checkpoint-10)"
        );
        assert_eq!(
            checkpoint_label(&finished, &CheckpointPick::Step(5)),
            "checkpoint-5"
        );
        let mut best = run(vec![5, 10], Some(5));
        best.final_step = Some(10);
        assert_eq!(
            checkpoint_label(&best, &CheckpointPick::Best),
            "best (checkpoint-5)"
        );
        assert_eq!(
            checkpoint_label(&best, &CheckpointPick::Step(10)),
            "final (checkpoint-10)"
        );
        let stopped = run(vec![5], None);
        assert_eq!(
            checkpoint_label(&stopped, &CheckpointPick::Best),
            "latest (checkpoint-5)"
        );
    }

    #[test]
    fn a_run_without_a_checkpoint_says_why() {
        use SaveStrategy as S;
        let cases = [
            (Some(S::No), RunStatus::Finished, "save_strategy = \"no\""),
            (Some(S::No), RunStatus::Running, "save_strategy = \"no\""),
            (Some(S::Epoch), RunStatus::Running, "still training"),
            (
                Some(S::Epoch),
                RunStatus::Stopped,
                "stopped before its first save",
            ),
            (
                Some(S::Steps),
                RunStatus::Failed,
                "stopped before its first save",
            ),
            (None, RunStatus::Finished, "stopped before its first save"),
            (
                Some(S::Best),
                RunStatus::Finished,
                "save_strategy = \"best\"",
            ),
        ];
        for (strategy, status, wanted) in cases {
            let reason = no_checkpoint_reason(strategy, status);
            assert!(reason.starts_with("no checkpoint"), "{reason}");
            assert!(reason.contains(wanted), "{strategy:?} {status:?}: {reason}");
        }
    }

    #[test]
    fn best_means_the_best_saved_checkpoint_else_the_latest() {
        let with_best = run(vec![5, 10, 15], Some(10));
        assert_eq!(
            with_best.resolve(&CheckpointPick::Best),
            Some((10, PathBuf::from("/runs/r/checkpoint-10")))
        );
        // The best evaluation's checkpoint was rotated away (or never saved).
        let rotated = run(vec![15, 20], Some(10));
        assert_eq!(rotated.resolve(&CheckpointPick::Best).unwrap().0, 20);
        assert_eq!(with_best.resolve(&CheckpointPick::Step(5)).unwrap().0, 5);
        assert_eq!(with_best.resolve(&CheckpointPick::Step(7)), None);
    }

    #[test]
    fn the_export_summary_reads_well() {
        let check = ExportCheck {
            files: vec![PathBuf::from("a"), PathBuf::from("b")],
            max_abs_logit_diff: 0.0,
        };
        assert_eq!(
            export_summary(&check),
            "Exported 2 files; reloaded: max |Δlogit| = 0"
        );
        let close = ExportCheck {
            max_abs_logit_diff: 2.5e-7,
            ..check
        };
        assert!(export_summary(&close).ends_with("= 2.5e-7"));
    }
}
