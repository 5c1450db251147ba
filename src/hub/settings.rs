//! Hub settings, resolved by Wick itself and passed explicitly to every call.
//!
//! Why not read the environment at each call: the GUI edits these values, and
//! tests run in parallel in one process, where the environment is shared state.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
pub const DEFAULT_VIEWER_URL: &str = "https://datasets-server.huggingface.co";
/// Wick's own variable for the dataset-viewer base URL (huggingface_hub has none).
pub const VIEWER_URL_VAR: &str = "WICK_HF_VIEWER_URL";

/// Where the Hub is and where its files are cached. Serializable for the GUI;
/// the token is never serialized and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSettings {
    /// `HF_HOME`, default `~/.cache/huggingface`.
    pub hf_home: PathBuf,
    /// `HF_HUB_CACHE`, default `$HF_HOME/hub`: models--*/datasets--* folders.
    pub hub_cache: PathBuf,
    /// `HF_DATASETS_CACHE`, default `$HF_HOME/datasets`.
    pub datasets_cache: PathBuf,
    /// `HF_ENDPOINT`, default `https://huggingface.co`, without a trailing slash.
    pub endpoint: String,
    /// Dataset-viewer API base URL (`/splits`, `/first-rows`, `/info`).
    pub viewer_url: String,
    /// `HF_HUB_OFFLINE`: serve only what is cached.
    pub offline: bool,
    /// `HF_TOKEN`, else the file `$HF_HOME/token`. Sent only to `endpoint`.
    #[serde(skip)]
    pub token: Option<String>,
}

impl std::fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSettings")
            .field("hf_home", &self.hf_home)
            .field("hub_cache", &self.hub_cache)
            .field("datasets_cache", &self.datasets_cache)
            .field("endpoint", &self.endpoint)
            .field("viewer_url", &self.viewer_url)
            .field("offline", &self.offline)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl HubSettings {
    /// Settings from the process environment, the way huggingface_hub reads them.
    pub fn from_env() -> Self {
        Self::from_vars(|key| std::env::var(key).ok())
    }

    /// Settings from any variable source; `from_env` with a testable seam.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |key: &str| var(key).filter(|v| !v.trim().is_empty());
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home_dir(var("HOME")).join(".cache"));
            cache.join("huggingface")
        });
        let mut settings = Self::with_home(&hf_home);
        if let Some(dir) = var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")) {
            settings.hub_cache = PathBuf::from(dir);
        }
        if let Some(dir) = var("HF_DATASETS_CACHE") {
            settings.datasets_cache = PathBuf::from(dir);
        }
        if let Some(endpoint) = var("HF_ENDPOINT") {
            settings.endpoint = trim_url(&endpoint);
        }
        if let Some(viewer) = var(VIEWER_URL_VAR) {
            settings.viewer_url = trim_url(&viewer);
        }
        settings.offline = var("HF_HUB_OFFLINE").is_some_and(|v| is_truthy(&v));
        settings.token = var("HF_TOKEN")
            .map(|t| t.trim().to_string())
            .or_else(|| read_token_file(&hf_home.join("token")));
        settings
    }

    /// Defaults rooted at `hf_home`: no token, online, the public Hub.
    pub fn with_home(hf_home: &Path) -> Self {
        Self {
            hf_home: hf_home.to_path_buf(),
            hub_cache: hf_home.join("hub"),
            datasets_cache: hf_home.join("datasets"),
            endpoint: DEFAULT_ENDPOINT.to_string(),
            viewer_url: DEFAULT_VIEWER_URL.to_string(),
            offline: false,
            token: None,
        }
    }

    /// Same settings pointed at another Hub (e.g. a mirror).
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = trim_url(endpoint);
        self
    }

    pub fn with_viewer_url(mut self, viewer_url: &str) -> Self {
        self.viewer_url = trim_url(viewer_url);
        self
    }

    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_string);
        self
    }

    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }
}

fn home_dir(home_var: Option<String>) -> PathBuf {
    home_var
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn read_token_file(path: &Path) -> Option<String> {
    let token = std::fs::read_to_string(path).ok()?;
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from_map(pairs: &[(&str, &str)]) -> HubSettings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_home() {
        let s = from_map(&[("HOME", "/home/u")]);
        assert_eq!(s.hf_home, PathBuf::from("/home/u/.cache/huggingface"));
        assert_eq!(s.hub_cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(
            s.datasets_cache,
            PathBuf::from("/home/u/.cache/huggingface/datasets")
        );
        assert_eq!(s.endpoint, DEFAULT_ENDPOINT);
        assert!(!s.offline);
        assert_eq!(s.token, None);
    }

    #[test]
    fn explicit_variables_win() {
        let s = from_map(&[
            ("HF_HOME", "/h"),
            ("HF_HUB_CACHE", "/c"),
            ("HF_DATASETS_CACHE", "/d"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_TOKEN", " hf_abc \n"),
            ("HF_HUB_OFFLINE", "True"),
        ]);
        assert_eq!(s.hf_home, PathBuf::from("/h"));
        assert_eq!(s.hub_cache, PathBuf::from("/c"));
        assert_eq!(s.datasets_cache, PathBuf::from("/d"));
        assert_eq!(s.endpoint, "http://127.0.0.1:9");
        assert_eq!(s.token.as_deref(), Some("hf_abc"));
        assert!(s.offline);
        assert!(!from_map(&[("HF_HUB_OFFLINE", "0")]).offline);
    }

    #[test]
    fn token_file_is_read_when_no_variable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_from_file\n").unwrap();
        let home = dir.path().to_str().unwrap();
        let s = from_map(&[("HF_HOME", home)]);
        assert_eq!(s.token.as_deref(), Some("hf_from_file"));
        let s = from_map(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")]);
        assert_eq!(s.token.as_deref(), Some("hf_env"));
    }

    #[test]
    fn token_never_serialized_or_printed() {
        let s = HubSettings::with_home(Path::new("/h")).with_token(Some("hf_secret_123"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hf_secret_123"), "{json}");
        assert!(!format!("{s:?}").contains("hf_secret_123"));
        let back: HubSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token, None);
        assert_eq!(back.endpoint, s.endpoint);
    }
}
