//! One error type for the whole hub module: every message names the repo,
//! file or URL involved so a user can act on it without a debugger.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("invalid Hub id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },

    #[error("refusing file name {name:?} from {repo}: it would escape the cache ({reason})")]
    UnsafePath {
        repo: String,
        name: String,
        reason: &'static str,
    },

    #[error(
        "{repo} has only pickle weights ({files}); pickle weights are not supported, \
         only safetensors (pickle files can run arbitrary code when loaded)"
    )]
    PickleOnly { repo: String, files: String },

    #[error("{repo} has no safetensors weights (looked for model.safetensors or a sharded index)")]
    NoWeights { repo: String },

    #[error(
        "offline mode (HF_HUB_OFFLINE=1): {what} is not in the cache at {}",
        cache.display()
    )]
    Offline { what: String, cache: PathBuf },

    #[error("offline mode (HF_HUB_OFFLINE=1): {what} needs the network")]
    OfflineNetwork { what: String },

    #[error(
        "{url}: HTTP {status}: authentication required for {repo} (gated or private repo); \
         set HF_TOKEN or write a token to $HF_HOME/token, and accept the repo's terms on the Hub"
    )]
    Unauthorized {
        repo: String,
        url: String,
        status: u16,
    },

    #[error("{url}: HTTP 404: {what} not found")]
    NotFound { what: String, url: String },

    #[error("{url}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        url: String,
        status: u16,
        body: String,
    },

    #[error("{url}: {message}")]
    Transport { url: String, message: String },

    /// The server could not be reached at all (name, connection, timeout), in plain words.
    #[error("could not reach {origin}: {reason}")]
    Unreachable { origin: String, reason: String },

    /// The endpoint has no dataset viewer (a mirror): rows come from the data files.
    #[error("{endpoint} has no dataset viewer; rows come from the data files")]
    NoViewer { endpoint: String },

    #[error("{url}: unexpected response: {message}")]
    BadResponse { url: String, message: String },

    #[error(
        "download of {file} from {url} was cut at {got} of {expected} bytes; \
         the partial file is kept and the next download resumes it"
    )]
    Incomplete {
        file: String,
        url: String,
        got: u64,
        expected: u64,
    },

    #[error("{file} in the cache has {actual} bytes, the server says {expected}; removed it")]
    SizeMismatch {
        file: String,
        actual: u64,
        expected: u64,
    },

    #[error("{what}: {message}")]
    Data { what: String, message: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HubError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type HubResult<T> = Result<T, HubError>;
