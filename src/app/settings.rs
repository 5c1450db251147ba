//! Settings: where the Hub is, where files go, the default device and the theme; and the
//! Hub token, saved to the token file huggingface_hub reads ([`TokenStore`], 0600), never
//! to the persisted UI state.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::jobs::{Task, poll_slot};
use super::widgets;
use crate::hub::HubSettings;
use crate::hub::settings::{DEFAULT_ENDPOINT, DEFAULT_VIEWER_URL, LegacyToken, TokenStore};

/// Where Wick kept the token before it shared huggingface_hub's file: `<data dir>/hf_token`.
pub const LEGACY_TOKEN_FILE: &str = "hf_token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Dark,
    Light,
}

/// The user's settings; an empty text field means "use the environment or the default".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Hub endpoint or mirror (`HF_ENDPOINT`).
    pub endpoint: String,
    /// Dataset-viewer API (first rows, splits); `WICK_HF_VIEWER_URL`.
    pub viewer_url: String,
    /// `HF_HOME`: the Hub cache is `$HF_HOME/hub`, tokenized datasets `$HF_HOME/datasets`.
    pub hf_home: String,
    /// Serve only what is cached (`HF_HUB_OFFLINE`).
    pub offline: bool,
    /// Where new runs are written; empty for the app data folder.
    pub runs_dir: String,
    pub default_device: String,
    pub theme: Theme,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            viewer_url: String::new(),
            hf_home: String::new(),
            offline: false,
            runs_dir: String::new(),
            default_device: "cpu".into(),
            theme: Theme::System,
        }
    }
}

impl Settings {
    /// The Hub settings to use: the environment's, with these settings on top; the token
    /// is resolved again (`HF_TOKEN`, else the token file under the effective `HF_HOME`).
    pub fn hub(&self, env: &HubSettings) -> HubSettings {
        let mut hub = if self.hf_home.trim().is_empty() {
            env.clone()
        } else {
            let mut home = HubSettings::with_home(Path::new(self.hf_home.trim()));
            home.endpoint = env.endpoint.clone();
            home.viewer_url = env.viewer_url.clone();
            home.offline = env.offline;
            home.token_source = env.token_source.clone();
            home
        };
        if !self.endpoint.trim().is_empty() {
            let env_endpoint = hub.endpoint.clone();
            hub = hub.with_endpoint(self.endpoint.trim());
            // The environment's viewer goes with the environment's endpoint: another Hub
            // gets the public viewer only if it is the public Hub, and a mirror none (its
            // rows then come from the data files).
            if hub.endpoint != env_endpoint {
                hub.viewer_url = if hub.endpoint == DEFAULT_ENDPOINT {
                    DEFAULT_VIEWER_URL.to_string()
                } else {
                    String::new()
                };
            }
        }
        if !self.viewer_url.trim().is_empty() {
            hub = hub.with_viewer_url(self.viewer_url.trim());
        }
        hub.offline |= self.offline;
        hub.resolve_token();
        hub
    }

    pub fn runs_root(&self, data_dir: &Path) -> PathBuf {
        if self.runs_dir.trim().is_empty() {
            data_dir.join("runs")
        } else {
            PathBuf::from(self.runs_dir.trim())
        }
    }
}

/// Moves a token the app saved in `<data dir>/hf_token` (before it shared huggingface_hub's
/// file) into `store`, once; says what happened, or nothing when there was no old file.
pub fn adopt_legacy_token(data_dir: &Path, store: &TokenStore, toasts: &mut super::toasts::Toasts) {
    let legacy = data_dir.join(LEGACY_TOKEN_FILE);
    let shared = "where wick train, wick hub and huggingface_hub read it";
    match store.adopt_legacy(&legacy) {
        Ok(LegacyToken::Absent | LegacyToken::AlreadyStored) => {}
        Ok(LegacyToken::Moved) => toasts.info(format!(
            "Hub token moved to {}, {shared}",
            store.path().display()
        )),
        Ok(LegacyToken::Replaced) => toasts.warning(
            "Hub token: the one in the shared token file is used",
            format!(
                "{} held another token than Wick's older {}, which was removed. \
                 Save the token again in Settings if you want it back.",
                store.path().display(),
                legacy.display()
            ),
        ),
        Err(err) => toasts.error("Could not move the saved Hub token", err.to_string()),
    }
}

/// The settings window's own state (not persisted).
#[derive(Default)]
pub struct SettingsWindow {
    pub open: bool,
    token_input: String,
    /// The token file `token_input` was read from (read again when `HF_HOME` moves).
    token_loaded_from: Option<PathBuf>,
    reveal_token: bool,
    /// The running "Test connection": the endpoint asked, and how long it took or why not.
    test: Option<Task<ConnectionTest>>,
    /// The last test's answer, as shown.
    tested: Option<String>,
}

/// The endpoint "Test connection" asked, and how long it took or why it failed.
type ConnectionTest = (String, Result<std::time::Duration, crate::hub::HubError>);

/// What the user changed in the settings window this frame.
pub enum SettingsChange {
    None,
    /// Settings (endpoint, cache, offline, ...) changed.
    Settings,
    /// The token was saved (or cleared).
    Token,
    /// The default device changed: the recipe takes it.
    DefaultDevice,
}

impl SettingsWindow {
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        settings: &mut Settings,
        effective: &HubSettings,
        devices: &[String],
        toasts: &mut super::toasts::Toasts,
        jobs: &mut super::jobs::Jobs,
    ) -> SettingsChange {
        // The test's answer is taken even while the window is closed.
        match poll_slot(&mut self.test) {
            Some(Ok((endpoint, result))) => {
                self.tested = Some(connection_test_text(&endpoint, result.as_ref()));
            }
            Some(Err(err)) => self.tested = Some(err.to_string()),
            None => {}
        }
        if !self.open {
            return SettingsChange::None;
        }
        let tokens = effective.token_store();
        if self.token_loaded_from.as_deref() != Some(tokens.path()) {
            self.token_input = tokens.read().unwrap_or_default();
            self.token_loaded_from = Some(tokens.path().to_path_buf());
        }
        let before = settings.clone();
        let mut change = SettingsChange::None;
        let mut open = self.open;
        egui::Window::new("Settings")
            .open(&mut open)
            .resizable(true)
            .default_width(520.0)
            .show(ctx, |ui| {
                egui::Grid::new("settings-grid")
                    .num_columns(2)
                    .spacing([12.0, 8.0])
                    .show(ui, |ui| {
                        widgets::grid_text(
                            ui,
                            "Hub endpoint",
                            &mut settings.endpoint,
                            &effective.endpoint,
                            "The Hub or a mirror (HF_ENDPOINT). Empty: the environment's, else https://huggingface.co.",
                        );
                        ui.label("Connection");
                        self.connection_test_ui(ui, effective, jobs);
                        ui.end_row();
                        widgets::grid_text(
                            ui,
                            "Dataset viewer",
                            &mut settings.viewer_url,
                            if effective.viewer_url.is_empty() {
                                "none for this endpoint: rows come from the data files"
                            } else {
                                &effective.viewer_url
                            },
                            "The dataset-viewer API used for first rows (WICK_HF_VIEWER_URL). \
                             Empty: the public viewer for the public Hub, none for a mirror. \
                             Without one, or when it is unreachable, Wick reads the first data file.",
                        );
                        let token_label = ui.label("Hub token").on_hover_text(format!(
                            "Sent only to the Hub endpoint, for gated and private repositories. \
                             Saved to {} (HF_TOKEN_PATH, else $HF_HOME/token), readable by you \
                             only (0600): wick train, wick hub and Python's huggingface_hub \
                             read it too. HF_TOKEN, when set, comes first.",
                            tokens.path().display()
                        ));
                        ui.horizontal(|ui| {
                            ui.add(
                                egui::TextEdit::singleline(&mut self.token_input)
                                    .password(!self.reveal_token)
                                    .hint_text("hf_…")
                                    .desired_width(220.0),
                            )
                            .labelled_by(token_label.id);
                            ui.checkbox(&mut self.reveal_token, "Show");
                            if ui.button("Save token").clicked() {
                                match tokens.save(&self.token_input) {
                                    Ok(()) => {
                                        toasts.success(if self.token_input.trim().is_empty() {
                                            "Token removed"
                                        } else {
                                            "Token saved"
                                        });
                                        if effective.token_source.variable.is_some() {
                                            toasts.warning(
                                                "HF_TOKEN is set and comes first",
                                                "The saved token is used where HF_TOKEN \
                                                 (or HUGGING_FACE_HUB_TOKEN) is not set, \
                                                 as in huggingface_hub.",
                                            );
                                        }
                                        change = SettingsChange::Token;
                                    }
                                    Err(err) => toasts
                                        .error("Could not save the token", err.to_string()),
                                }
                            }
                        });
                        ui.end_row();
                        widgets::grid_text(
                            ui,
                            "HF_HOME",
                            &mut settings.hf_home,
                            &effective.hf_home.display().to_string(),
                            "Hub downloads go to $HF_HOME/hub (shared with Python's huggingface_hub); \
                             tokenized datasets to $HF_HOME/datasets/wick.",
                        );
                        ui.label("Hub cache");
                        ui.label(effective.hub_cache.display().to_string());
                        ui.end_row();
                        ui.label("Dataset cache");
                        ui.label(effective.datasets_cache.join("wick").display().to_string());
                        ui.end_row();
                        ui.label("Offline");
                        ui.checkbox(&mut settings.offline, "Use only what is cached (HF_HUB_OFFLINE)");
                        ui.end_row();
                        widgets::grid_text(
                            ui,
                            "Runs folder",
                            &mut settings.runs_dir,
                            "app data folder",
                            "Where new runs are written. Empty: the app data folder.",
                        );
                        ui.label("Default device");
                        egui::ComboBox::from_id_salt("settings-device")
                            .selected_text(&settings.default_device)
                            .show_ui(ui, |ui| {
                                for device in devices {
                                    ui.selectable_value(
                                        &mut settings.default_device,
                                        device.clone(),
                                        device,
                                    );
                                }
                            });
                        ui.end_row();
                        ui.label("Theme");
                        ui.horizontal(|ui| {
                            ui.selectable_value(&mut settings.theme, Theme::System, "System");
                            ui.selectable_value(&mut settings.theme, Theme::Dark, "Dark");
                            ui.selectable_value(&mut settings.theme, Theme::Light, "Light");
                        });
                        ui.end_row();
                    });
            });
        self.open = open;
        if settings.default_device != before.default_device {
            change = SettingsChange::DefaultDevice;
        } else if *settings != before && matches!(change, SettingsChange::None) {
            change = SettingsChange::Settings;
        }
        change
    }
}

impl SettingsWindow {
    /// "Test connection": one small search against the effective endpoint, on a job.
    fn connection_test_ui(
        &mut self,
        ui: &mut egui::Ui,
        effective: &HubSettings,
        jobs: &mut super::jobs::Jobs,
    ) {
        ui.horizontal(|ui| {
            let testing = self.test.is_some();
            if ui
                .add_enabled(!testing, egui::Button::new("Test connection"))
                .on_hover_text("Ask the endpoint for one model, as a search does")
                .clicked()
            {
                let hub = effective.clone();
                self.test = Some(jobs.task(
                    "test-connection",
                    format!("testing {}", hub.endpoint),
                    move |_| {
                        let started = std::time::Instant::now();
                        let mut query =
                            crate::hub::SearchQuery::new(crate::hub::RepoKind::Model, "");
                        query.limit = 1;
                        let result = crate::hub::search(&hub, &query).map(|_| started.elapsed());
                        (hub.endpoint, result)
                    },
                ));
            }
            if testing {
                ui.spinner();
            } else if let Some(tested) = &self.tested {
                ui.label(tested);
            }
        });
    }
}

/// The inline answer of "Test connection".
pub fn connection_test_text(
    endpoint: &str,
    result: Result<&std::time::Duration, &crate::hub::HubError>,
) -> String {
    match result {
        Ok(took) => format!("reached {endpoint} in {} ms", took.as_millis()),
        Err(err) => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_the_environment() {
        let env = HubSettings::with_home(Path::new("/env/home"))
            .with_endpoint("https://env.example")
            .with_token(Some("env-token"));
        let mut settings = Settings::default();
        let hub = settings.hub(&env);
        assert_eq!(hub.endpoint, "https://env.example");
        assert_eq!(hub.token.as_deref(), Some("env-token"));

        settings.endpoint = "http://127.0.0.1:9/".into();
        settings.hf_home = "/mine".into();
        settings.offline = true;
        let hub = settings.hub(&env);
        assert_eq!(hub.endpoint, "http://127.0.0.1:9");
        assert_eq!(hub.hub_cache, Path::new("/mine/hub"));
        assert!(hub.offline);
        assert_eq!(hub.token.as_deref(), Some("env-token"));
        assert_eq!(hub.token_store().path(), Path::new("/mine/token"));
        assert_eq!(
            settings.runs_root(Path::new("/data")),
            Path::new("/data/runs")
        );
    }

    #[test]
    fn the_viewer_follows_the_endpoint() {
        let env = HubSettings::with_home(Path::new("/env/home"));
        let mut settings = Settings::default();
        assert_eq!(settings.hub(&env).viewer_url, DEFAULT_VIEWER_URL);

        settings.endpoint = "https://hf-mirror.example/".into();
        let hub = settings.hub(&env);
        assert_eq!(hub.endpoint, "https://hf-mirror.example");
        assert_eq!(hub.viewer_url, "", "a mirror has no viewer");

        let env_mirror = HubSettings::with_home(Path::new("/env/home"))
            .with_endpoint("http://127.0.0.1:9")
            .with_viewer_url("http://127.0.0.1:9/viewer");
        settings.endpoint = DEFAULT_ENDPOINT.into();
        assert_eq!(settings.hub(&env_mirror).viewer_url, DEFAULT_VIEWER_URL);
        settings.endpoint = "http://127.0.0.1:9".into();
        assert_eq!(
            settings.hub(&env_mirror).viewer_url,
            "http://127.0.0.1:9/viewer",
            "the same endpoint keeps the environment's viewer"
        );
        settings.endpoint = "https://hf-mirror.example".into();
        settings.viewer_url = "https://viewer.example".into();
        assert_eq!(settings.hub(&env).viewer_url, "https://viewer.example");
    }

    #[test]
    fn the_token_file_follows_hf_home_and_yields_to_hf_token() {
        let dir = tempfile::tempdir().unwrap();
        let home = |name: &str| dir.path().join(name);
        let env = HubSettings::from_vars(|key| match key {
            "HF_HOME" => Some(home("env").display().to_string()),
            _ => None,
        });
        env.token_store().save("hf_env_home").unwrap();
        TokenStore::at(home("mine/token")).save("hf_mine").unwrap();
        let mut settings = Settings::default();
        assert_eq!(settings.hub(&env).token.as_deref(), Some("hf_env_home"));
        settings.hf_home = home("mine").display().to_string();
        assert_eq!(settings.hub(&env).token.as_deref(), Some("hf_mine"));

        let mut env = env;
        env.token_source.variable = Some("hf_variable".into());
        assert_eq!(settings.hub(&env).token.as_deref(), Some("hf_variable"));
    }
}
