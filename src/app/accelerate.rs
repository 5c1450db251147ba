//! "Export as Accelerate project…": the same recipe as a `transformers.Trainer` script plus an
//! `accelerate` config, for when one workstation is not enough. Shared by Train (the recipe
//! being edited) and Runs (a past run's configuration); each holds its own form, and the form
//! its export task.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::Cx;
use super::jobs::{Task, poll_slot};
use super::widgets;
use crate::recipe::TrainConfig;
use crate::train::{AccelerateExport, ExportError, export_accelerate};

/// Why an export wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailed {
    /// The configuration to export could not be read (a run's `config.toml`).
    #[error("{0}")]
    Config(String),
    /// Boxed: the error is large and travels in every task's result.
    #[error(transparent)]
    Export(Box<ExportError>),
}

impl From<ExportError> for ExportFailed {
    fn from(err: ExportError) -> Self {
        Self::Export(Box::new(err))
    }
}

/// The project folder and the files written there.
type Written = (PathBuf, Vec<PathBuf>);

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct AccelerateForm {
    pub folder: String,
    pub num_processes: u32,
    /// The export being written.
    #[serde(skip)]
    export: Option<Task<Result<Written, ExportFailed>>>,
    /// The last export's outcome, shown under the button.
    #[serde(skip)]
    last: Option<Result<String, String>>,
}

impl Default for AccelerateForm {
    fn default() -> Self {
        Self {
            folder: String::new(),
            num_processes: AccelerateExport::default().num_processes,
            export: None,
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
        let busy = self.export.is_some();
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
        self.export = Some(cx.jobs.task(
            "accelerate-export",
            "exporting an Accelerate project",
            move |_| {
                let config = config().map_err(ExportFailed::Config)?;
                let files = export_accelerate(&config, &out, &options)?;
                Ok((out, files))
            },
        ));
    }

    /// Takes the export's outcome once it is written; the owner calls this every frame.
    pub fn poll(&mut self, cx: &mut Cx) {
        let Some(result) = poll_slot(&mut self.export) else {
            return;
        };
        let outcome = match result {
            Ok(Ok(written)) => Ok(written),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match outcome {
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
                self.last = Some(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::jobs::Jobs;
    use crate::app::toasts::Toasts;
    use crate::hub::HubSettings;
    use std::path::Path;
    use std::time::Duration;

    /// Polls `forms` with a fresh `Cx` until `done` holds (or five seconds pass).
    fn poll_until(
        jobs: &mut Jobs,
        forms: &mut [&mut AccelerateForm],
        done: impl Fn(&[&mut AccelerateForm]) -> bool,
    ) {
        let mut toasts = Toasts::default();
        let hub = HubSettings::with_home(Path::new("/h"));
        let mut recipe = TrainConfig::default();
        let mut actions = Vec::new();
        for _ in 0..1000 {
            jobs.update();
            let mut cx = Cx {
                jobs: &mut *jobs,
                toasts: &mut toasts,
                hub: &hub,
                recipe: &mut recipe,
                runs_root: Path::new("/runs"),
                devices: &[],
                actions: &mut actions,
            };
            for form in forms.iter_mut() {
                form.poll(&mut cx);
            }
            if done(forms) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the export did not finish");
    }

    fn start(
        form: &mut AccelerateForm,
        jobs: &mut Jobs,
        config: impl FnOnce() -> Result<TrainConfig, String> + Send + 'static,
    ) {
        let mut toasts = Toasts::default();
        let hub = HubSettings::with_home(Path::new("/h"));
        let mut recipe = TrainConfig::default();
        let mut actions = Vec::new();
        let mut cx = Cx {
            jobs,
            toasts: &mut toasts,
            hub: &hub,
            recipe: &mut recipe,
            runs_root: Path::new("/runs"),
            devices: &[],
            actions: &mut actions,
        };
        form.folder = "/nonexistent/accelerate-project".into();
        form.start(&mut cx, config, None);
    }

    #[test]
    fn only_the_form_that_exported_hears_back() {
        let mut jobs = Jobs::new(|| {});
        let (mut train, mut runs) = (AccelerateForm::default(), AccelerateForm::default());
        start(&mut runs, &mut jobs, || Err("config.toml: missing".into()));
        poll_until(&mut jobs, &mut [&mut train, &mut runs], |forms| {
            forms[1].export.is_none()
        });
        assert_eq!(runs.last, Some(Err("config.toml: missing".into())));
        assert_eq!(train.last, None, "Train's form did not export");
    }

    #[test]
    fn a_newer_export_replaces_one_still_running() {
        let mut jobs = Jobs::new(|| {});
        let mut form = AccelerateForm::default();
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        start(&mut form, &mut jobs, move || {
            let _ = gate_rx.recv();
            Err("the first".into())
        });
        start(&mut form, &mut jobs, || Err("the second".into()));
        poll_until(&mut jobs, &mut [&mut form], |forms| {
            forms[0].export.is_none()
        });
        assert_eq!(form.last, Some(Err("the second".into())));
        // The first one finishing later changes nothing.
        gate_tx.send(()).unwrap();
        for _ in 0..1000 {
            jobs.update();
            if jobs.running().next().is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(jobs.running().next().is_none(), "the first export ended");
        poll_until(&mut jobs, &mut [&mut form], |_| true);
        assert_eq!(form.last, Some(Err("the second".into())));
    }
}
