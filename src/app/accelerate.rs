//! "Export as Accelerate project…": the same recipe as a `transformers.Trainer` script plus an
//! `accelerate` config, for when one workstation is not enough. Shared by Train (the recipe
//! being edited) and Runs (a past run's configuration).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::Cx;
use super::jobs::{JobId, Msg};
use super::widgets;
use crate::recipe::TrainConfig;
use crate::train::{AccelerateExport, export_accelerate};

/// What an export job reports.
#[derive(Debug)]
pub struct Exported {
    pub job: JobId,
    pub result: Result<(PathBuf, Vec<PathBuf>), String>,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct AccelerateForm {
    pub folder: String,
    pub num_processes: u32,
    #[serde(skip)]
    job: Option<JobId>,
    /// The last export's outcome, shown under the button.
    #[serde(skip)]
    last: Option<Result<String, String>>,
}

impl Default for AccelerateForm {
    fn default() -> Self {
        Self {
            folder: String::new(),
            num_processes: AccelerateExport::default().num_processes,
            job: None,
            last: None,
        }
    }
}

impl AccelerateForm {
    /// Draws the form; `id` keeps two forms on one screen apart, `source` names where the
    /// configuration came from (a run folder) for the generated README, and `config` gives
    /// the configuration on the export's thread (it may read a run folder).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut Cx,
        id: &str,
        source: Option<String>,
        config: impl FnOnce() -> Result<TrainConfig, String> + Send + 'static,
    ) {
        let busy = self.job.is_some_and(|job| cx.jobs.is_running(job));
        egui::Grid::new(("accelerate-form", id))
            .num_columns(2)
            .show(ui, |ui| {
                widgets::grid_text(
                    ui,
                    "Project folder",
                    &mut self.folder,
                    "/path/to/accelerate-project",
                    "Where train.py, accelerate_config.yaml, requirements.txt and README.md go",
                );
                let label = ui.label("Processes (GPUs)");
                ui.add(egui::DragValue::new(&mut self.num_processes).range(1..=1024))
                    .labelled_by(label.id)
                    .on_hover_text("num_processes in accelerate_config.yaml: one per GPU");
                ui.end_row();
            });
        ui.horizontal(|ui| {
            let button = ui
                .add_enabled(!busy, egui::Button::new("Export as Accelerate project…"))
                .on_hover_text(
                    "The same dataset, columns, model, max_length, collator and every \
                     hyperparameter, as a transformers Trainer script for `accelerate launch`",
                );
            if button.clicked() {
                self.start(cx, config, source);
            }
            if busy {
                ui.spinner();
            }
        });
        match &self.last {
            Some(Ok(text)) => {
                ui.label(widgets::muted(ui, text));
            }
            Some(Err(err)) => {
                ui.label(
                    egui::RichText::new(err)
                        .color(super::toasts::Level::Error.color(ui.visuals().dark_mode)),
                );
            }
            None => {}
        }
    }

    fn start(
        &mut self,
        cx: &mut Cx,
        config: impl FnOnce() -> Result<TrainConfig, String> + Send + 'static,
        source: Option<String>,
    ) {
        let folder = self.folder.trim();
        if folder.is_empty() {
            self.last = Some(Err("Type the project folder first.".into()));
            return;
        }
        let out = PathBuf::from(folder);
        let options = AccelerateExport {
            num_processes: self.num_processes.max(1),
            source,
        };
        self.last = None;
        self.job = Some(cx.jobs.spawn(
            "accelerate-export",
            "exporting an Accelerate project",
            move |r| {
                let result = config().and_then(|config| {
                    export_accelerate(&config, &out, &options)
                        .map(|files| (out, files))
                        .map_err(|e| e.to_string())
                });
                r.send(Msg::Accelerate(Exported {
                    job: r.job(),
                    result,
                }));
            },
        ));
    }

    /// Takes an export's outcome if it is this form's; returns whether it was.
    pub fn on_exported(&mut self, exported: &Exported, cx: &mut Cx) -> bool {
        if self.job != Some(exported.job) {
            return false;
        }
        match &exported.result {
            Ok((folder, files)) => {
                let text = format!(
                    "Wrote {} files to {}: run `accelerate launch --config_file \
                     accelerate_config.yaml train.py` there.",
                    files.len(),
                    folder.display()
                );
                cx.toasts.success(format!(
                    "Accelerate project written to {}",
                    folder.display()
                ));
                self.last = Some(Ok(text));
            }
            Err(err) => {
                cx.toasts
                    .error("Could not export the Accelerate project", err.clone());
                self.last = Some(Err(err.clone()));
            }
        }
        true
    }
}
