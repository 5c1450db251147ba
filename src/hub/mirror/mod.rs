//! A loopback Hugging Face Hub for tests and air-gapped machines: serves a
//! Hub-layout folder with the Hub API, `resolve` downloads (ETag, Range,
//! X-Repo-Commit) and the dataset-viewer API under `/viewer`. Faults can be
//! injected per path. Binds 127.0.0.1 only; stops when dropped.

mod repos;
mod routes;
mod server;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) use repos::MirrorRepo;
use server::{Delivery, Response, read_request, write_response};

/// At most this many connections are served at once; more get HTTP 503.
const MAX_CONNECTIONS: usize = 64;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Something to break on purpose for requests whose path contains `path_contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (401, 404, 500, 503, ...).
    Status(u16),
    /// Send the headers and this many body bytes, then close the connection.
    CutAfter(u64),
    /// Send the body `chunk` bytes at a time with a pause in between.
    Slow { chunk: usize, pause_ms: u64 },
    /// Answer with a 302 to this absolute URL.
    RedirectTo(String),
    /// A well-formed but short body: only this many bytes, with a matching
    /// Content-Length (a broken proxy or a changed file).
    ShortBody(u64),
    /// Answer normally but with these header values instead (`ETag`,
    /// `X-Repo-Commit`, ...): with [`FaultRule::after`], a hostile server whose
    /// headers change between requests.
    Headers(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub path_contains: String,
    /// Only for this method (`GET`, `HEAD`); any when `None`.
    pub method: Option<String>,
    /// How many matching requests it applies to; forever when `None`.
    pub times: Option<u32>,
    /// How many matching requests pass untouched before it applies.
    pub skip: u32,
    pub fault: Fault,
}

impl FaultRule {
    pub fn new(path_contains: &str, fault: Fault) -> Self {
        Self {
            path_contains: path_contains.to_string(),
            method: None,
            times: None,
            skip: 0,
            fault,
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// Let the first `requests` matching requests through, then apply.
    pub fn after(mut self, requests: u32) -> Self {
        self.skip = requests;
        self
    }
}

#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// 0 picks a free port.
    pub port: u16,
    /// Token that opens gated repos (`Authorization: Bearer <token>`).
    pub token: Option<String>,
    /// Largest page of search results; more come via `Link: rel="next"`.
    pub page_size: usize,
    /// Extra sibling names to list for a repo id: for traversal tests.
    pub extra_siblings: Vec<(String, String)>,
    /// Print one line per request to stderr (for `wick hub serve`).
    pub log_to_stderr: bool,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        Self {
            port: 0,
            token: None,
            page_size: 100,
            extra_siblings: Vec::new(),
            log_to_stderr: false,
        }
    }
}

/// One request as the mirror saw it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub range: Option<String>,
}

pub(crate) struct Shared {
    /// The served folder, canonical: every file served resolves inside it.
    pub root: PathBuf,
    pub repos: Vec<MirrorRepo>,
    pub options: MirrorOptions,
    pub base_url: String,
    faults: Mutex<Vec<FaultRule>>,
    seen: Mutex<Vec<SeenRequest>>,
    stop: AtomicBool,
    active: AtomicUsize,
}

pub struct Mirror {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Scan `root` and serve it on 127.0.0.1. Links are followed only while
    /// they stay inside `root`.
    pub fn start(root: &Path, options: MirrorOptions) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        let repos = repos::scan(&root)?;
        // Loopback only, by construction: never another interface.
        let listener = TcpListener::bind(("127.0.0.1", options.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root,
            repos,
            options,
            base_url: format!("http://{addr}"),
            faults: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("hub-mirror-accept".to_string())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(Self {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The Hub endpoint to put in `HF_ENDPOINT`.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Base URL of the dataset-viewer API.
    pub fn viewer_url(&self) -> String {
        format!("{}/viewer", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Repo ids served, as `datasets/owner/name` or `models/owner/name`.
    pub fn repo_ids(&self) -> Vec<String> {
        self.shared
            .repos
            .iter()
            .map(|r| format!("{}/{}", r.kind.plural(), r.id))
            .collect()
    }

    pub fn add_fault(&self, rule: FaultRule) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.push(rule);
        }
    }

    pub fn clear_faults(&self) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.clear();
        }
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Block until the mirror is dropped (or the process ends).
    pub fn wait(mut self) {
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn_shared = Arc::clone(&shared);
                if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                    let busy = Response::error(503, "mirror busy");
                    let _ = stream.set_nonblocking(false);
                    let _ = write_response(&stream, false, &busy, Delivery::Whole);
                    continue;
                }
                let spawned = std::thread::Builder::new()
                    .name("hub-mirror-conn".to_string())
                    .spawn(move || {
                        serve_connection(stream, &conn_shared);
                        conn_shared.active.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(request) = read_request(&stream) else {
        return;
    };
    let seen = SeenRequest {
        method: request.method.clone(),
        target: request.target.clone(),
        authorization: request.header("authorization").map(str::to_string),
        range: request.header("range").map(str::to_string),
    };
    if shared.options.log_to_stderr {
        // The Authorization header is deliberately not printed.
        eprintln!("{} {}", seen.method, seen.target);
    }
    if let Ok(mut log) = shared.seen.lock() {
        log.push(seen);
    }
    let head_only = request.method == "HEAD";
    let (response, delivery) = match take_fault(shared, &request) {
        Some(Fault::Status(code)) => (Response::error(code, "injected fault"), Delivery::Whole),
        Some(Fault::RedirectTo(url)) => (
            Response::new(302, Vec::new()).with("Location", url),
            Delivery::Whole,
        ),
        Some(Fault::CutAfter(n)) => (routes::handle(shared, &request), Delivery::CutAfter(n)),
        Some(Fault::ShortBody(n)) => {
            let mut response = routes::handle(shared, &request);
            response.body.truncate(n);
            (response, Delivery::Whole)
        }
        Some(Fault::Headers(replacements)) => {
            let mut response = routes::handle(shared, &request);
            for (name, value) in replacements {
                response
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                response.headers.push((name, value));
            }
            (response, Delivery::Whole)
        }
        Some(Fault::Slow { chunk, pause_ms }) => (
            routes::handle(shared, &request),
            Delivery::Slow {
                chunk,
                pause: Duration::from_millis(pause_ms),
            },
        ),
        None => (routes::handle(shared, &request), Delivery::Whole),
    };
    let _ = write_response(&stream, head_only, &response, delivery);
}

/// The first rule that matches and is not used up; a rule still skipping
/// counts the request and lets later rules have it.
fn take_fault(shared: &Shared, request: &server::Request) -> Option<Fault> {
    let mut faults = shared.faults.lock().ok()?;
    for rule in faults.iter_mut() {
        let matches = request.target.contains(&rule.path_contains)
            && rule.method.as_deref().is_none_or(|m| m == request.method)
            && rule.times != Some(0);
        if !matches {
            continue;
        }
        if rule.skip > 0 {
            rule.skip -= 1;
            continue;
        }
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
        }
        return Some(rule.fault.clone());
    }
    None
}
