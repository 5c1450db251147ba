//! Settings: where the Hub is, where files go, the default device and the theme; and the
//! Hub token, kept in its own file in the OS data folder with 0600 permissions (never in
//! the persisted UI state).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::widgets;
use crate::hub::HubSettings;

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
    /// The Hub settings to use: the environment's, with these settings on top.
    pub fn hub(&self, env: &HubSettings, token: Option<&str>) -> HubSettings {
        let mut hub = if self.hf_home.trim().is_empty() {
            env.clone()
        } else {
            let mut home = HubSettings::with_home(Path::new(self.hf_home.trim()));
            home.endpoint = env.endpoint.clone();
            home.viewer_url = env.viewer_url.clone();
            home.offline = env.offline;
            home
        };
        if !self.endpoint.trim().is_empty() {
            hub = hub.with_endpoint(self.endpoint.trim());
        }
        if !self.viewer_url.trim().is_empty() {
            hub = hub.with_viewer_url(self.viewer_url.trim());
        }
        hub.offline |= self.offline;
        hub.token = token
            .map(str::to_string)
            .filter(|t| !t.is_empty())
            .or_else(|| env.token.clone());
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

/// The Hub token file: `<data dir>/hf_token`, mode 0600.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("hf_token"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let token = text.trim();
        (!token.is_empty()).then(|| token.to_string())
    }

    /// Writes the token readable by its owner only; an empty token deletes the file.
    pub fn save(&self, token: &str) -> std::io::Result<()> {
        let token = token.trim();
        if token.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            };
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            // An existing file keeps its mode on open; tighten it first.
            if self.path.exists() {
                std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        let mut file = options.open(&self.path)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()
    }
}

/// The settings window's own state (not persisted).
#[derive(Default)]
pub struct SettingsWindow {
    pub open: bool,
    token_input: String,
    token_loaded: bool,
    reveal_token: bool,
}

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
        tokens: &TokenStore,
        effective: &HubSettings,
        devices: &[String],
        toasts: &mut super::toasts::Toasts,
    ) -> SettingsChange {
        if !self.open {
            return SettingsChange::None;
        }
        if !self.token_loaded {
            self.token_input = tokens.load().unwrap_or_default();
            self.token_loaded = true;
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
                        widgets::grid_text(
                            ui,
                            "Dataset viewer",
                            &mut settings.viewer_url,
                            &effective.viewer_url,
                            "The dataset-viewer API used for first rows (WICK_HF_VIEWER_URL). \
                             When it is unreachable Wick reads the first parquet file instead.",
                        );
                        let token_label = ui.label("Hub token").on_hover_text(
                            "Sent only to the Hub endpoint, for gated and private repositories. \
                             Stored in the app data folder, readable by you only (0600).",
                        );
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
                                        change = SettingsChange::Token;
                                    }
                                    Err(err) => toasts.error(
                                        "Could not save the token",
                                        format!("{}: {err}", tokens.path().display()),
                                    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_private_and_empty_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        assert_eq!(store.load(), None);
        store.save("  hf_secret \n").unwrap();
        assert_eq!(store.load().as_deref(), Some("hf_secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.save("").unwrap();
        assert!(!store.path().exists());
        store.save("").unwrap();
    }

    #[test]
    fn settings_override_the_environment() {
        let env = HubSettings::with_home(Path::new("/env/home"))
            .with_endpoint("https://env.example")
            .with_token(Some("env-token"));
        let mut settings = Settings::default();
        let hub = settings.hub(&env, None);
        assert_eq!(hub.endpoint, "https://env.example");
        assert_eq!(hub.token.as_deref(), Some("env-token"));

        settings.endpoint = "http://127.0.0.1:9/".into();
        settings.hf_home = "/mine".into();
        settings.offline = true;
        let hub = settings.hub(&env, Some("file-token"));
        assert_eq!(hub.endpoint, "http://127.0.0.1:9");
        assert_eq!(hub.hub_cache, Path::new("/mine/hub"));
        assert!(hub.offline);
        assert_eq!(hub.token.as_deref(), Some("file-token"));
        assert_eq!(
            settings.runs_root(Path::new("/data")),
            Path::new("/data/runs")
        );
    }
}
