//! Crash points for the fault tests: `WICK_FAULT=<point>[:<n>]` aborts the process (as
//! `kill -9` would: no unwinding, no destructors, no flushing) the `n`-th time (default 1st)
//! the code passes the named point; `WICK_FAULT=<point>:<n>:sleep<ms>` holds it there
//! instead, so a test can act while the process is at that moment. Unset, a point costs one
//! initialised `OnceLock` read.
//!
//! The points sit where a crash could break a promise (see ARCHITECTURE.md, "Promises"):
//! `after-step`, `mid-metrics-append`, `mid-checkpoint`, `after-checkpoint-commit`,
//! `mid-rotation`, `mid-eval`, `before-predictions`, `before-final-status`,
//! `mid-cache-write` (a tokenized split written, not yet renamed into the cache), and
//! `after-run-folder-check` (a new run's `output_dir` found free, `run.json` not yet written).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms one crash point.
pub const FAULT_ENV: &str = "WICK_FAULT";

struct Armed {
    point: String,
    nth: u64,
    /// Sleep this long at the point instead of aborting.
    sleep_ms: Option<u64>,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(FAULT_ENV).ok()?;
            let mut fields = value.split(':');
            let point = fields.next()?.to_string();
            let nth = fields.next().map_or(Some(1), |n| n.parse().ok())?;
            let sleep_ms = match fields.next() {
                None => None,
                Some(action) => Some(action.strip_prefix("sleep")?.parse().ok()?),
            };
            Some(Armed {
                point,
                nth,
                sleep_ms,
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Aborts (or sleeps) here if `WICK_FAULT` names this point and this is its n-th pass.
pub fn point(name: &str) {
    let Some(armed) = armed() else {
        return;
    };
    if armed.point != name || armed.seen.fetch_add(1, Ordering::Relaxed) + 1 != armed.nth {
        return;
    }
    match armed.sleep_ms {
        Some(ms) => {
            eprintln!("{FAULT_ENV}: holding at {name} for {ms} ms");
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        None => {
            eprintln!("{FAULT_ENV}: aborting at {name}");
            std::process::abort();
        }
    }
}
