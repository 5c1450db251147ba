//! Hub settings, resolved by Wick itself and passed explicitly to every call, and the one
//! token store that the app, `wick train`, `wick hub` and Python's huggingface_hub share.
//!
//! Why not read the environment at each call: the GUI edits these values, and
//! tests run in parallel in one process, where the environment is shared state.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{HubError, HubResult};

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
    /// Where the token comes from; kept so the token can be resolved again when the
    /// file changes (the app's Settings save it) or `hf_home` moves.
    #[serde(skip)]
    pub token_source: TokenSource,
    /// The token to send, resolved by [`HubSettings::resolve_token`] in huggingface_hub's
    /// order. Sent only to `endpoint`.
    #[serde(skip)]
    pub token: Option<String>,
}

/// What the token is resolved from, read once from the environment.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenSource {
    /// Given in code (huggingface_hub's `token=` argument): beats everything, and is sent
    /// even when implicit tokens are disabled.
    pub explicit: Option<String>,
    /// `HF_TOKEN`, else the deprecated `HUGGING_FACE_HUB_TOKEN`: beats the file.
    pub variable: Option<String>,
    /// `HF_TOKEN_PATH`; without it the file is `$HF_HOME/token`.
    pub path: Option<PathBuf>,
    /// `HF_HUB_DISABLE_IMPLICIT_TOKEN`: send no token that was not given explicitly.
    pub implicit_disabled: bool,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |token: &Option<String>| token.as_ref().map(|_| "<redacted>");
        f.debug_struct("TokenSource")
            .field("explicit", &redacted(&self.explicit))
            .field("variable", &redacted(&self.variable))
            .field("path", &self.path)
            .field("implicit_disabled", &self.implicit_disabled)
            .finish()
    }
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
            .field("token_source", &self.token_source)
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
        settings.token_source = TokenSource {
            explicit: None,
            variable: var("HF_TOKEN")
                .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
                .and_then(|token| clean_token(&token)),
            path: var("HF_TOKEN_PATH").map(PathBuf::from),
            implicit_disabled: var("HF_HUB_DISABLE_IMPLICIT_TOKEN").is_some_and(|v| is_truthy(&v)),
        };
        settings.resolve_token();
        settings
    }

    /// The token file these settings read: `HF_TOKEN_PATH`, else `$HF_HOME/token`.
    pub fn token_store(&self) -> TokenStore {
        let path = (self.token_source.path.clone()).unwrap_or_else(|| self.hf_home.join("token"));
        TokenStore::at(path)
    }

    /// Sets `token` in huggingface_hub's order (`get_token_to_send`): the explicit token;
    /// nothing else when implicit tokens are disabled; else `HF_TOKEN`, else the file.
    pub fn resolve_token(&mut self) {
        let source = &self.token_source;
        self.token = if source.explicit.is_some() {
            source.explicit.clone()
        } else if source.implicit_disabled {
            None
        } else {
            (source.variable.clone()).or_else(|| self.token_store().read())
        };
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
            token_source: TokenSource::default(),
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

    /// An explicit token, as huggingface_hub's `token=` argument: it beats `HF_TOKEN` and
    /// the file. `None` drops only the explicit one.
    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token_source.explicit = token.and_then(clean_token);
        self.resolve_token();
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

/// huggingface_hub's `_clean_token`: no line breaks, no surrounding blanks, empty is none.
fn clean_token(token: &str) -> Option<String> {
    let token = token.replace(['\r', '\n'], "");
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// The one Hub token file, where huggingface_hub's `login` writes it (`HF_TOKEN_PATH`, else
/// `$HF_HOME/token`), readable by its owner only. The app's Settings save here, and
/// `wick train`, `wick hub` and Python read it; the token is never in the app's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStore {
    path: PathBuf,
}

/// What [`TokenStore::adopt_legacy`] did with an older token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyToken {
    /// There was none.
    Absent,
    /// It was moved into the store, which held no token.
    Moved,
    /// The store already held this token; the old file was removed.
    AlreadyStored,
    /// The store held another token, which stays (the one `wick train` and Python used);
    /// the old file was removed.
    Replaced,
}

impl TokenStore {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored token; a missing, unreadable or blank file is none.
    pub fn read(&self) -> Option<String> {
        clean_token(&std::fs::read_to_string(&self.path).ok()?)
    }

    /// Writes the token readable by its owner only (0600); a blank token clears the store.
    pub fn save(&self, token: &str) -> HubResult<()> {
        let Some(token) = clean_token(token) else {
            return self.clear();
        };
        let io = |err| HubError::io(&self.path, err);
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            // An existing file keeps its mode on open; tighten it before writing the secret.
            if self.path.exists() {
                std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        let mut file = options.open(&self.path).map_err(io)?;
        file.write_all(token.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Removes the token; a store that holds none is fine.
    pub fn clear(&self) -> HubResult<()> {
        remove_if_present(&self.path)
    }

    /// Takes over a token file Wick kept elsewhere before (the app's `<data dir>/hf_token`):
    /// into the store when it holds none, and the old file goes either way, so this
    /// happens once.
    pub fn adopt_legacy(&self, legacy: &Path) -> HubResult<LegacyToken> {
        let legacy_token = match std::fs::read_to_string(legacy) {
            Ok(text) => clean_token(&text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LegacyToken::Absent);
            }
            Err(err) => return Err(HubError::io(legacy, err)),
        };
        let outcome = match (legacy_token, self.read()) {
            (None, _) => LegacyToken::Absent,
            (Some(old), None) => {
                self.save(&old)?;
                LegacyToken::Moved
            }
            (Some(old), Some(stored)) if old == stored => LegacyToken::AlreadyStored,
            (Some(_), Some(_)) => LegacyToken::Replaced,
        };
        remove_if_present(legacy)?;
        Ok(outcome)
    }
}

fn remove_if_present(path: &Path) -> HubResult<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(HubError::io(path, err)),
        _ => Ok(()),
    }
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
    fn token_order_is_huggingface_hubs() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let custom = dir.path().join("elsewhere/token");
        TokenStore::at(dir.path().join("token"))
            .save("hf_file")
            .unwrap();
        TokenStore::at(&custom).save("hf_custom_path").unwrap();
        let custom = custom.to_str().unwrap();
        let token = |pairs: &[(&str, &str)]| from_map(pairs).token;

        assert_eq!(token(&[("HF_HOME", home)]).as_deref(), Some("hf_file"));
        assert_eq!(
            token(&[("HF_HOME", home), ("HF_TOKEN_PATH", custom)]).as_deref(),
            Some("hf_custom_path")
        );
        let old_name = [("HF_HOME", home), ("HUGGING_FACE_HUB_TOKEN", "hf_old_name")];
        assert_eq!(token(&old_name).as_deref(), Some("hf_old_name"));
        let both = [
            ("HF_HOME", home),
            ("HF_TOKEN", "hf_env"),
            ("HUGGING_FACE_HUB_TOKEN", "hf_old_name"),
        ];
        assert_eq!(token(&both).as_deref(), Some("hf_env"));
        // A blank variable does not hide the file.
        assert_eq!(
            token(&[("HF_HOME", home), ("HF_TOKEN", " ")]).as_deref(),
            Some("hf_file")
        );
        // No implicit token at all, but an explicit one still goes.
        let disabled = [
            ("HF_HOME", home),
            ("HF_TOKEN", "hf_env"),
            ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"),
        ];
        assert_eq!(token(&disabled), None);
        let explicit = from_map(&disabled).with_token(Some("hf_given"));
        assert_eq!(explicit.token.as_deref(), Some("hf_given"));
        let explicit = from_map(&both).with_token(Some("hf_given"));
        assert_eq!(explicit.token.as_deref(), Some("hf_given"));
        assert_eq!(explicit.with_token(None).token.as_deref(), Some("hf_env"));
    }

    #[test]
    fn token_store_is_private_and_a_blank_token_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("new/token"));
        assert_eq!(store.read(), None);
        store.save("  hf_secret \r\n").unwrap();
        assert_eq!(store.read().as_deref(), Some("hf_secret"));
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "hf_secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode(store.path()) & 0o777, 0o600);
            // A file someone left readable is tightened before the secret goes in.
            std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
            store.save("hf_other").unwrap();
            assert_eq!(mode(store.path()) & 0o777, 0o600);
        }
        store.save(" \n").unwrap();
        assert!(!store.path().exists());
        store.clear().unwrap();
        store.save("hf_again").unwrap();
        store.clear().unwrap();
        assert_eq!(store.read(), None);
    }

    #[test]
    fn a_legacy_token_file_moves_into_the_store_once() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("data/hf_token");
        let store = TokenStore::at(dir.path().join("hf/token"));
        assert_eq!(store.adopt_legacy(&legacy).unwrap(), LegacyToken::Absent);

        write_file(&legacy, "hf_saved_by_the_app\n");
        assert_eq!(store.adopt_legacy(&legacy).unwrap(), LegacyToken::Moved);
        assert_eq!(store.read().as_deref(), Some("hf_saved_by_the_app"));
        assert!(!legacy.exists());
        assert_eq!(store.adopt_legacy(&legacy).unwrap(), LegacyToken::Absent);

        write_file(&legacy, "hf_saved_by_the_app");
        assert_eq!(
            store.adopt_legacy(&legacy).unwrap(),
            LegacyToken::AlreadyStored
        );
        assert!(!legacy.exists());

        // The token huggingface_hub (and so `wick train`) already used stays.
        write_file(&legacy, "hf_stale");
        assert_eq!(store.adopt_legacy(&legacy).unwrap(), LegacyToken::Replaced);
        assert_eq!(store.read().as_deref(), Some("hf_saved_by_the_app"));
        assert!(!legacy.exists());

        write_file(&legacy, "  ");
        assert_eq!(store.adopt_legacy(&legacy).unwrap(), LegacyToken::Absent);
        assert!(!legacy.exists());
    }

    fn write_file(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn token_never_serialized_or_printed() {
        let mut s = HubSettings::with_home(Path::new("/h")).with_token(Some("hf_secret_123"));
        s.token_source.variable = Some("hf_secret_456".into());
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hf_secret"), "{json}");
        assert!(!format!("{s:?}").contains("hf_secret"), "{s:?}");
        let back: HubSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token, None);
        assert_eq!(back.token_source, TokenSource::default());
        assert_eq!(back.endpoint, s.endpoint);
    }
}
