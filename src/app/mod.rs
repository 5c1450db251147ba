//! The desktop app: a left navigation over six panels (Hub, Data, Train, Monitor, Runs,
//! Playground), a top bar and a status bar.
//!
//! The UI thread never blocks: slow work runs on named threads as typed tasks ([`jobs`])
//! that the panel which started them owns and polls each frame. The trainer is the same
//! engine `wick train` runs; Monitor reads its [`crate::train::Event`]s. Nothing here does
//! tensor math.

pub mod accelerate;
mod actions;
pub mod charts;
pub mod jobs;
pub mod panels;
pub mod settings;
mod shell;
pub mod toasts;
pub mod tour;
mod tour_data;
mod tour_stops;
pub mod welcome;
pub mod widgets;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::hub::HubSettings;
use crate::recipe::TrainConfig;
use jobs::Jobs;
use panels::{
    data::DataPanel, hub::HubPanel, monitor::MonitorPanel, playground::PlaygroundPanel,
    runs::RunsPanel, train::TrainPanel,
};
use settings::{Settings, SettingsChange, SettingsWindow};
use toasts::Toasts;

/// The key of the app state in eframe's storage.
pub const STORAGE_KEY: &str = "wick-state";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Hub,
    Data,
    Train,
    Monitor,
    Runs,
    Playground,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Hub,
        Tab::Data,
        Tab::Train,
        Tab::Monitor,
        Tab::Runs,
        Tab::Playground,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Hub => "Hub",
            Tab::Data => "Data",
            Tab::Train => "Train",
            Tab::Monitor => "Monitor",
            Tab::Runs => "Runs",
            Tab::Playground => "Playground",
        }
    }

    /// The navigation button's text (what tests click).
    pub fn nav_label(self) -> String {
        format!("{}  {}", self.icon(), self.title())
    }

    fn icon(self) -> &'static str {
        match self {
            Tab::Hub => "☁",
            Tab::Data => "☰",
            Tab::Train => "⚙",
            Tab::Monitor => "📈",
            Tab::Runs => "🗐",
            Tab::Playground => "▶",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Tab::Hub => "Search the Hub (or your mirror) for datasets and models",
            Tab::Data => "See what the tokenizer and the collator make of the data",
            Tab::Train => "The hyperparameters (TrainingArguments), presets and preflight",
            Tab::Monitor => "Live charts of the run in progress",
            Tab::Runs => "Every run: history, overlays, diffs, forks, exports",
            Tab::Playground => "Try a trained checkpoint on your own text",
        }
    }
}

/// Everything that persists between launches. Panels keep their runtime parts in
/// `#[serde(skip)]` fields.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    pub tab: Tab,
    /// The first-run welcome view was left (it also hides once a run exists).
    pub welcome_dismissed: bool,
    pub settings: Settings,
    /// The run being put together: Hub and Data fill in the data and model, Train the
    /// hyperparameters; Start trains exactly this (the same file `wick train` reads).
    pub recipe: TrainConfig,
    pub hub: HubPanel,
    pub data: DataPanel,
    pub train: TrainPanel,
    pub monitor: MonitorPanel,
    pub runs: RunsPanel,
    pub playground: PlaygroundPanel,
}

/// Where the app keeps its files and what it starts from; tests point these at temp dirs.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The OS data folder (`ProjectDirs`): `runs/` unless changed (and an older `hf_token`,
    /// moved into the shared token file on start).
    pub data_dir: PathBuf,
    /// The Hub settings from the environment (HF_HOME, HF_ENDPOINT, HF_TOKEN, ...).
    pub env_hub: HubSettings,
    /// The devices the picker offers.
    pub devices: Vec<String>,
}

impl AppOptions {
    pub fn from_environment() -> Self {
        let data_dir = directories::ProjectDirs::from("org", "wick", "wick")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .unwrap_or_else(|| std::env::temp_dir().join("wick"));
        Self {
            data_dir,
            env_hub: HubSettings::from_env(),
            // The CPU, plus the GPUs NVML finds when this build has CUDA.
            devices: crate::train::available_devices()
                .into_iter()
                .filter(|device| device.usable)
                .map(|device| device.id)
                .collect(),
        }
    }
}

/// A request from a panel to the app, handled after the panel is drawn.
#[derive(Debug, Clone)]
pub enum Action {
    Navigate(Tab),
    /// Start training this configuration (from Train).
    StartTraining(Box<TrainConfig>),
    /// The runs folder changed (a run started, ended, was renamed or deleted).
    RunsChanged,
    OpenSettings,
}

/// What a panel gets to work with each frame.
pub struct Cx<'a> {
    pub jobs: &'a mut Jobs,
    pub toasts: &'a mut Toasts,
    /// The effective Hub settings (environment + settings + token).
    pub hub: &'a HubSettings,
    pub recipe: &'a mut TrainConfig,
    pub runs_root: &'a Path,
    pub devices: &'a [String],
    pub actions: &'a mut Vec<Action>,
}

pub struct WickApp {
    pub state: AppState,
    options: AppOptions,
    jobs: Jobs,
    toasts: Toasts,
    settings_window: SettingsWindow,
    hub: HubSettings,
    applied_theme: Option<settings::Theme>,
    /// Whether the runs folder holds any run (the welcome view shows only when not).
    runs_exist: bool,
    /// Writing the offline demo's files, before its run starts.
    demo: Option<jobs::Task<std::io::Result<crate::demo::DemoFiles>>>,
    tour: Option<tour::Tour>,
}

impl WickApp {
    /// A fresh app; `saved` is the persisted state, if any (a copy that does not parse
    /// gives the defaults and a warning).
    pub fn new(ctx: &egui::Context, options: AppOptions, saved: Option<&str>) -> Self {
        let mut toasts = Toasts::default();
        let state = match saved.map(serde_json::from_str::<AppState>) {
            None => AppState::default(),
            Some(Ok(state)) => state,
            Some(Err(err)) => {
                log_warning(&format!("saved app state ignored: {err}"));
                toasts.warning(
                    "Saved settings could not be read; using the defaults",
                    err.to_string(),
                );
                AppState::default()
            }
        };
        let repaint_ctx = ctx.clone();
        let mut hub = state.settings.hub(&options.env_hub);
        settings::adopt_legacy_token(&options.data_dir, &hub.token_store(), &mut toasts);
        // A token moved in just now is read again.
        hub.resolve_token();
        let mut app = Self {
            state,
            options,
            jobs: Jobs::new(move || repaint_ctx.request_repaint()),
            toasts,
            settings_window: SettingsWindow::default(),
            hub,
            applied_theme: None,
            runs_exist: false,
            demo: None,
            tour: None,
        };
        if app.state.recipe.device.is_empty() {
            app.state.recipe.device = app.state.settings.default_device.clone();
        }
        app.dispatch_actions(vec![Action::RunsChanged]);
        app
    }

    /// The app's state as eframe persists it.
    pub fn saved_state(&self) -> String {
        serde_json::to_string(&self.state).unwrap_or_default()
    }

    pub fn hub_settings(&self) -> &HubSettings {
        &self.hub
    }

    pub fn toasts(&self) -> &Toasts {
        &self.toasts
    }

    /// Whether any background job is still running.
    pub fn is_busy(&self) -> bool {
        self.jobs.running().next().is_some()
    }

    pub fn runs_root(&self) -> PathBuf {
        self.state.settings.runs_root(&self.options.data_dir)
    }

    /// Runs the screenshot tour on top of the normal frames.
    pub fn with_tour(mut self, tour: tour::Tour) -> Self {
        self.tour = Some(tour);
        self
    }

    /// One frame: drain the background channel, then draw.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        self.poll_background_work();
        self.poll_demo();
        if let Some(mut tour) = self.tour.take()
            && tour.frame(self, &ctx)
        {
            self.tour = Some(tour);
        }

        egui::Panel::top("wick-top-bar").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("wick-status-bar").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("wick-navigation")
            .resizable(false)
            .exact_size(150.0)
            .show(ui, |ui| self.navigation(ui));

        if self.shows_welcome() {
            egui::CentralPanel::default().show(ui, |ui| {
                let busy = self.demo.is_some();
                match welcome::show(ui, &self.hub.endpoint, self.hub.offline, busy) {
                    welcome::Choice::None => {}
                    welcome::Choice::Dismiss => self.state.welcome_dismissed = true,
                    welcome::Choice::CourseRecipe => {
                        self.state.welcome_dismissed = true;
                        crate::recipe::presets::Preset::CourseRecipe.apply(&mut self.state.recipe);
                        self.state.tab = Tab::Train;
                    }
                    welcome::Choice::OfflineDemo => self.start_demo(),
                }
            });
            self.finish_frame(&ctx);
            return;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.with_cx(|state, cx| match state.tab {
                Tab::Hub => state.hub.ui(ui, cx),
                Tab::Data => state.data.ui(ui, cx),
                Tab::Train => state.train.ui(ui, cx),
                Tab::Monitor => state.monitor.ui(ui, cx),
                Tab::Runs => state.runs.ui(ui, cx),
                Tab::Playground => state.playground.ui(ui, cx),
            });
        });
        self.finish_frame(&ctx);
    }

    /// Settings window, actions from this frame, toasts.
    fn finish_frame(&mut self, ctx: &egui::Context) {
        let mut actions = Vec::new();
        let change = self.settings_window.show(
            ctx,
            &mut self.state.settings,
            &self.hub,
            &self.options.devices,
            &mut self.toasts,
            &mut self.jobs,
        );
        if matches!(change, SettingsChange::DefaultDevice) {
            self.state.recipe.device = self.state.settings.default_device.clone();
        }
        if !matches!(change, SettingsChange::None) {
            self.hub = self.state.settings.hub(&self.options.env_hub);
            actions.push(Action::RunsChanged);
        }
        self.dispatch_actions(actions);
        self.toasts.show(ctx);
    }

    /// Lends `f` the panels and a `Cx`; the actions they push are handled after it.
    fn with_cx<R>(&mut self, f: impl FnOnce(&mut AppState, &mut Cx) -> R) -> R {
        let runs_root = self.runs_root();
        let mut actions = Vec::new();
        // The panels reach the recipe through `cx`; lend it out of the state meanwhile.
        let mut recipe = std::mem::take(&mut self.state.recipe);
        let result = {
            let mut cx = Cx {
                jobs: &mut self.jobs,
                toasts: &mut self.toasts,
                hub: &self.hub,
                recipe: &mut recipe,
                runs_root: &runs_root,
                devices: &self.options.devices,
                actions: &mut actions,
            };
            f(&mut self.state, &mut cx)
        };
        self.state.recipe = recipe;
        self.dispatch_actions(actions);
        result
    }

    /// The first-run view: nothing trained yet and not dismissed.
    pub fn shows_welcome(&self) -> bool {
        !self.state.welcome_dismissed && !self.runs_exist && !self.state.monitor.is_training()
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        let theme = self.state.settings.theme;
        if self.applied_theme != Some(theme) {
            ctx.set_theme(match theme {
                settings::Theme::System => egui::ThemePreference::System,
                settings::Theme::Dark => egui::ThemePreference::Dark,
                settings::Theme::Light => egui::ThemePreference::Light,
            });
            self.applied_theme = Some(theme);
        }
    }

    /// The status bar's progress, then every panel's finished tasks.
    fn poll_background_work(&mut self) {
        self.jobs.update();
        self.with_cx(|state, cx| {
            // Tasks hand their results to the panel that owns them, whichever tab shows.
            state.monitor.poll(cx);
            state.hub.poll(cx);
            state.data.poll(cx);
            state.train.poll(cx);
            state.runs.poll(cx);
            state.playground.poll(cx);
        });
    }
}

impl eframe::App for WickApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        storage.set_string(STORAGE_KEY, self.saved_state());
    }
}

/// `org/name` → `name`; paths → their last component.
pub fn short_name(id: &str) -> &str {
    let trimmed = id.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

fn log_warning(message: &str) {
    eprintln!("wick: warning: {message}");
}

/// The app icon (the desktop entry uses the same picture).
fn window_icon() -> egui::IconData {
    let png = include_bytes!("../../assets/icons/wick-256.png");
    match image::load_from_memory(png) {
        Ok(image) => {
            let rgba = image.to_rgba8();
            let (width, height) = rgba.dimensions();
            egui::IconData {
                rgba: rgba.into_raw(),
                width,
                height,
            }
        }
        // The PNG is part of the binary; a decode failure is a build problem, not the user's.
        Err(err) => {
            log_warning(&format!("the window icon could not be decoded: {err}"));
            egui::IconData::default()
        }
    }
}

/// The smallest window every panel is laid out for (tests check each panel at this size).
pub const MIN_WINDOW_SIZE: egui::Vec2 = egui::vec2(800.0, 600.0);

/// Opens the desktop window (what `wick` with no command does).
pub fn run_native() -> anyhow::Result<()> {
    let options = AppOptions::from_environment();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Wick")
            .with_app_id("wick")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size(MIN_WINDOW_SIZE)
            .with_icon(window_icon()),
        ..Default::default()
    };
    eframe::run_native(
        "wick",
        native,
        Box::new(move |cc| {
            let saved = cc.storage.and_then(|s| s.get_string(STORAGE_KEY));
            let app = WickApp::new(&cc.egui_ctx, options, saved.as_deref());
            Ok(Box::new(match std::env::var_os("WICK_TOUR_DIR") {
                Some(dir) => app.with_tour(tour::Tour::new(Path::new(&dir), tour_stops::stops())),
                None => app,
            }))
        }),
    )
    .map_err(|err| anyhow::anyhow!("could not open the window: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_icon_decodes() {
        let icon = window_icon();
        assert_eq!((icon.width, icon.height), (256, 256));
        assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    }

    #[test]
    fn short_names_drop_the_owner_and_folders() {
        assert_eq!(
            short_name("sentence-transformers/all-MiniLM-L6-v2"),
            "all-MiniLM-L6-v2"
        );
        assert_eq!(short_name("/data/runs/x/"), "x");
        assert_eq!(short_name("plain"), "plain");
    }
}
