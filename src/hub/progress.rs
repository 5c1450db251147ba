//! Download progress as `HubEvent`s, for the CLI's progress bar and the GUI.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum HubEvent {
    /// A file transfer begins; `total` is its size when the server said so.
    Started {
        repo: String,
        file: String,
        total: Option<u64>,
    },
    /// Bytes of `file` on disk so far, its size, and the rate of this transfer.
    Progress {
        repo: String,
        file: String,
        bytes: u64,
        total: Option<u64>,
        bytes_per_sec: f64,
    },
    /// A partial download is continued from byte `from` (HTTP Range).
    Resumed {
        repo: String,
        file: String,
        from: u64,
        total: u64,
    },
    /// The file was already complete in the cache.
    CacheHit { repo: String, file: String },
    Finished {
        repo: String,
        file: String,
        path: PathBuf,
    },
}

/// Where events go: a callback. Use [`channel_sink`] for a crossbeam channel.
pub type EventSink = Arc<dyn Fn(HubEvent) + Send + Sync>;

/// A sink that reports only download progress, as `report("downloading FILE", bytes, total)`
/// (`total` 0 when unknown): what a progress bar or a status line needs.
pub fn download_progress_sink(
    report: impl Fn(String, u64, u64) + Send + Sync + 'static,
) -> EventSink {
    Arc::new(move |event| {
        if let HubEvent::Progress {
            file, bytes, total, ..
        } = event
        {
            report(format!("downloading {file}"), bytes, total.unwrap_or(0));
        }
    })
}

pub fn channel_sink(sender: crossbeam_channel::Sender<HubEvent>) -> EventSink {
    // A dropped receiver just means nobody watches any more.
    Arc::new(move |event| {
        let _ = sender.send(event);
    })
}

/// Emits events and turns byte counts into rates, at most every 50 ms per file.
pub(crate) struct Reporter {
    sink: Option<EventSink>,
    repo: String,
    file: String,
    state: Mutex<RateState>,
}

struct RateState {
    started: Instant,
    base: u64,
    last_emit: Option<Instant>,
}

const EMIT_EVERY: Duration = Duration::from_millis(50);

impl Reporter {
    pub fn new(sink: Option<EventSink>, repo: &str, file: &str) -> Self {
        Self {
            sink,
            repo: repo.to_string(),
            file: file.to_string(),
            state: Mutex::new(RateState {
                started: Instant::now(),
                base: 0,
                last_emit: None,
            }),
        }
    }

    pub fn emit(&self, event: HubEvent) {
        if let Some(sink) = &self.sink {
            sink(event);
        }
    }

    pub fn started(&self, total: Option<u64>) {
        self.emit(HubEvent::Started {
            repo: self.repo.clone(),
            file: self.file.clone(),
            total,
        });
    }

    pub fn cache_hit(&self) {
        self.emit(HubEvent::CacheHit {
            repo: self.repo.clone(),
            file: self.file.clone(),
        });
    }

    pub fn finished(&self, path: &std::path::Path) {
        self.emit(HubEvent::Finished {
            repo: self.repo.clone(),
            file: self.file.clone(),
            path: path.to_path_buf(),
        });
    }

    /// A resume from byte `from`; restarts the rate clock there.
    pub fn resumed(&self, from: u64, total: u64) {
        self.emit(HubEvent::Resumed {
            repo: self.repo.clone(),
            file: self.file.clone(),
            from,
            total,
        });
        self.restart_at(from);
    }

    /// Restart the rate clock; bytes below `base` were already on disk.
    pub fn restart_at(&self, base: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.started = Instant::now();
            state.base = base;
            state.last_emit = None;
        }
    }

    pub fn progress(&self, bytes: u64, total: Option<u64>, force: bool) {
        if self.sink.is_none() {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        let due = state
            .last_emit
            .is_none_or(|t| now.duration_since(t) >= EMIT_EVERY);
        if !(force || due || Some(bytes) == total) {
            return;
        }
        state.last_emit = Some(now);
        let secs = now.duration_since(state.started).as_secs_f64().max(1e-3);
        let rate = bytes.saturating_sub(state.base) as f64 / secs;
        drop(state);
        self.emit(HubEvent::Progress {
            repo: self.repo.clone(),
            file: self.file.clone(),
            bytes,
            total,
            bytes_per_sec: rate,
        });
    }
}
