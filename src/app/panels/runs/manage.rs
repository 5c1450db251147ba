//! The manage section: rename, open, delete, fork or resume the focused run.

use egui::RichText;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use super::{DeleteRequest, RunRow, RunsPanel};
use crate::app::jobs::{self, Task};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::runs::{CheckpointEntry, RunDir, RunStatus, RunSummary};

impl RunsPanel {
    pub(super) fn manage_section(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
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
            ui.horizontal_wrapped(|ui| {
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
            ui.horizontal_wrapped(|ui| {
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
                    self.rt.opening = Some(open_folder(&path, cx));
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
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Checkpoint");
            egui::ComboBox::from_id_salt("runs-checkpoint")
                .selected_text(format!("checkpoint-{chosen}"))
                .show_ui(ui, |ui| {
                    for c in &complete {
                        ui.selectable_value(&mut chosen, c.step, label_of(c));
                    }
                })
                .response
                .labelled_by(label.id);
            self.rt.checkpoint_step = Some(chosen);
            let Some(checkpoint) = complete.iter().find(|c| c.step == chosen) else {
                return;
            };
            if ui
                .button("Fork…")
                .on_hover_text("Edit the hyperparameters in Train, then Start")
                .clicked()
            {
                *cx.recipe = crate::recipe::edits::fork(
                    config,
                    row.display_name(),
                    &checkpoint.path,
                    checkpoint.step,
                );
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
                *cx.recipe = crate::recipe::edits::resume(config, &latest.path);
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

    pub(super) fn delete_dialog(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
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
            self.rt.selected.retain(|p| p != &path);
            self.rt.deleting = Some(cx.jobs.task("runs-delete", "deleting a run", move |_| {
                crate::runs::delete_run(&path).map(|()| path)
            }));
        } else if close {
            self.rt.delete = None;
        }
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

impl RunsPanel {
    /// Takes the results of a delete and of opening a folder.
    pub(super) fn poll_manage(&mut self, cx: &mut Cx) {
        match jobs::poll_slot(&mut self.rt.deleting) {
            Some(Ok(Ok(path))) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                cx.toasts.success(format!("Deleted {name}"));
                cx.actions.push(Action::RunsChanged);
            }
            Some(Ok(Err(err))) => self.delete_failed(cx, err.to_string()),
            Some(Err(err)) => self.delete_failed(cx, err.to_string()),
            None => {}
        }
        match jobs::poll_slot(&mut self.rt.opening) {
            Some(Ok(Err(err))) => cx
                .toasts
                .error("Could not open the folder", err.to_string()),
            Some(Err(err)) => cx
                .toasts
                .error("Could not open the folder", err.to_string()),
            Some(Ok(Ok(()))) | None => {}
        }
    }

    fn delete_failed(&mut self, cx: &mut Cx, detail: String) {
        cx.toasts.error("Could not delete the run", detail.clone());
        self.rt.alert = Some(Alert::error("Could not delete the run", detail));
        // Part of it may be gone: list the folder again.
        cx.actions.push(Action::RunsChanged);
    }
}

/// Why the file manager could not show a run's folder.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenFolderError {
    #[error("{opener} {}: {source}", path.display())]
    Start {
        opener: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{opener} {} exited with {status}", path.display())]
    Failed {
        opener: &'static str,
        path: PathBuf,
        status: ExitStatus,
    },
    #[error("{opener}: {source}")]
    Wait {
        opener: &'static str,
        source: std::io::Error,
    },
}

/// Opens the folder in the file manager on a task (the opener may take a moment); its
/// error becomes a toast.
fn open_folder(path: &Path, cx: &mut Cx) -> Task<Result<(), OpenFolderError>> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let path = path.to_path_buf();
    cx.jobs
        .task("runs-open", "opening the run folder", move |_| {
            let mut child = std::process::Command::new(opener)
                .arg(&path)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|source| OpenFolderError::Start {
                    opener,
                    path: path.clone(),
                    source,
                })?;
            match child.wait() {
                // Explorer exits with 1 even when it opened the folder.
                Ok(status) if status.success() || cfg!(target_os = "windows") => Ok(()),
                Ok(status) => Err(OpenFolderError::Failed {
                    opener,
                    path,
                    status,
                }),
                Err(source) => Err(OpenFolderError::Wait { opener, source }),
            }
        })
}
