//! The Train form's LoRA group note: for the recipe's model, its architecture, the adapters'
//! default targets and every name `lora_target_modules` takes. Read from the model's
//! `config.json` (a local folder, or a Hub snapshot already in the cache) on a job, again when
//! the recipe's model changes or, after a failed read, every few seconds (the model may be
//! downloading).

use std::time::{Duration, Instant};

use egui::Ui;

use crate::app::Cx;
use crate::app::jobs::{Task, flatten, poll_slot};
use crate::app::widgets;
use crate::hub::{self, HubSettings};
use crate::model::{ModelConfig, default_target_modules, target_module_names};

/// What `lora_target_modules` can name for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleNames {
    /// `config.json`'s `model_type`, e.g. "bert".
    pub model_type: String,
    pub defaults: Vec<String>,
    pub all: Vec<String>,
}

/// Reads `model`'s config without downloading anything.
pub fn module_names(model: &str, hub: &HubSettings) -> Result<ModuleNames, String> {
    let offline = hub.clone().with_offline(true);
    // Only a Hub id can fail here (a local path is taken as it is, and read below).
    let dir = hub::local_model(&offline, model, None).map_err(|_| {
        "not in the HF cache yet: they show once the model is downloaded".to_string()
    })?;
    let config = ModelConfig::from_file(&dir.join("config.json")).map_err(|e| e.to_string())?;
    Ok(ModuleNames {
        model_type: config.model_type.clone(),
        defaults: default_target_modules(config.architecture)
            .iter()
            .map(|s| s.to_string())
            .collect(),
        all: target_module_names(&config).map_err(|e| e.to_string())?,
    })
}

/// The note's state: the model it is about, and its reading (running or read).
#[derive(Default)]
pub struct LoraNote {
    model: Option<String>,
    reading: Option<Task<Result<ModuleNames, String>>>,
    read: Option<Result<ModuleNames, String>>,
    /// When `read` came back.
    read_at: Option<Instant>,
}

/// How long a failed read stands before the note reads again.
const RETRY_AFTER: Duration = Duration::from_secs(3);

impl LoraNote {
    pub fn ui(&mut self, ui: &mut Ui, cx: &mut Cx) {
        let model = cx.recipe.model.trim().to_string();
        let failed_a_while_ago = matches!(self.read, Some(Err(_)))
            && self.reading.is_none()
            && self.read_at.is_some_and(|at| at.elapsed() > RETRY_AFTER);
        let model_changed = self.model.as_deref() != Some(model.as_str());
        if model_changed || failed_a_while_ago {
            if model_changed {
                self.read = None;
            }
            self.model = Some(model.clone());
            let hub = cx.hub.clone();
            // A reading for another model still running is dropped.
            self.reading = (!model.is_empty()).then(|| {
                cx.jobs
                    .task("lora-modules", "reading the model's layers", move |_| {
                        module_names(&model, &hub)
                    })
            });
        }
        if let Some(result) = poll_slot(&mut self.reading) {
            self.read = Some(flatten(result));
            self.read_at = Some(Instant::now());
        }
        let text = match &self.read {
            Some(Ok(names)) => format!(
                "This {} model: adapters on {} by default; lora_target_modules takes any of {}.",
                names.model_type,
                names.defaults.join(", "),
                names.all.join(", ")
            ),
            Some(Err(why)) => format!("The model's layer names: {why}."),
            None if self.reading.is_some() => "Reading the model's layer names…".into(),
            None => "Pick a model to see its layer names.".into(),
        };
        ui.label(widgets::muted(ui, text));
    }
}
