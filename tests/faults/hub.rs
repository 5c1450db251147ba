//! Hub faults: a hostile server, cut downloads, a served folder with links out.
//!
//! Cases here:
//! - hostile_etag_on_later_requests_writes_nothing_outside_the_cache
//! - hostile_commit_on_later_requests_writes_nothing_outside_the_cache
//! - hostile_etag_on_the_first_head_is_refused
//! - hostile_commit_on_the_first_head_is_refused
//! - serve_hides_a_folder_link_out_of_the_root
//! - serve_hides_a_file_link_out_of_the_root
//! - serve_hides_a_repo_link_out_of_the_root
//! - serve_refuses_a_file_turned_into_a_link_after_the_scan
//! - serve_follows_links_that_stay_inside_the_root
//! - hub_serve_says_it_listens_on_loopback_only
//!
//! Cases of the matrix held by tests elsewhere (not duplicated here):
//! - traversal names from a hostile server (file listings, shard index, asked names):
//!   `hub_api::file_names_that_escape_the_cache_are_rejected`
//! - cut downloads, resumed to matching bytes: `hub_download::a_cut_connection_is_resumed_with_a_range_request`,
//!   `hub_download::repeated_cuts_fail_clearly_keep_nothing_cached_and_resume_later`
//! - a short but well-formed body is not kept: `hub_download::a_short_but_well_formed_body_is_not_kept`
//! - download progress events: `hub_download::progress_events_carry_bytes_total_and_rate`

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wick::hub::mirror::{Fault, FaultRule, Mirror, MirrorOptions};
use wick::hub::{self, HubError, HubSettings, RepoKind};

use crate::support::{self, Hub};

const CONFIG_PATH: &str = "/acme/tiny-bert/resolve/main/config.json";

/// A temp folder holding `home/` (HF_HOME) and `outside/`, the would-be target.
struct Victim {
    base: tempfile::TempDir,
}

impl Victim {
    fn new() -> Self {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.path().join("outside")).unwrap();
        Self { base }
    }

    fn home(&self) -> PathBuf {
        self.base.path().join("home")
    }

    fn cache(&self) -> PathBuf {
        self.home().join("hub")
    }

    fn settings(&self, hub: &Hub) -> HubSettings {
        HubSettings::with_home(&self.home()).with_endpoint(&hub.mirror.url())
    }

    fn download_config(&self, hub: &Hub) -> Result<PathBuf, HubError> {
        hub::download_file(
            &self.settings(hub),
            RepoKind::Model,
            "acme/tiny-bert",
            "main",
            "config.json",
            None,
        )
    }

    /// Nothing next to the cache, and every link in it resolves inside it.
    fn assert_nothing_escaped(&self) {
        let outside: Vec<PathBuf> = entries(&self.base.path().join("outside"));
        assert!(outside.is_empty(), "written outside the cache: {outside:?}");
        let allowed = [self.home(), self.cache(), self.base.path().join("outside")];
        for path in entries(self.base.path()) {
            assert!(
                path.starts_with(self.cache()) || allowed.contains(&path),
                "written outside the cache: {}",
                path.display()
            );
            if path.is_symlink() {
                let target = std::fs::canonicalize(&path).unwrap();
                assert!(
                    target.starts_with(self.cache().canonicalize().unwrap()),
                    "{} links to {}",
                    path.display(),
                    target.display()
                );
            }
        }
    }
}

/// Every entry below `dir`, links not followed.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&current) else {
            continue;
        };
        for path in read.flatten().map(|e| e.path()) {
            if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// The mirror answers its first request for config.json honestly and every
/// later one (hf-hub's own `HEAD`, the body's `GET`) with `headers`.
fn later_headers_change(header: &str, value: &str) -> (Hub, Victim) {
    let hub = Hub::new();
    hub.mirror.add_fault(
        FaultRule::new(
            CONFIG_PATH,
            Fault::Headers(vec![(header.to_string(), value.to_string())]),
        )
        .after(1),
    );
    (hub, Victim::new())
}

/// The download either succeeds with the names of the one checked `HEAD`, or fails.
fn assert_first_names_kept(hub: &Hub, victim: &Victim, result: Result<PathBuf, HubError>) {
    victim.assert_nothing_escaped();
    let path = result.expect("the body is fetched under the first, checked names");
    let repo = victim.cache().join("models--acme--tiny-bert");
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert!(is_hex(&commit, 40), "refs/main holds {commit:?}");
    assert_eq!(
        path,
        repo.join("snapshots").join(&commit).join("config.json")
    );
    let blobs: Vec<String> = std::fs::read_dir(repo.join("blobs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        blobs.len() == 1 && is_hex(&blobs[0], 64),
        "blobs are named by the checked ETag: {blobs:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(hub.dir.path().join("models/acme/tiny-bert/config.json")).unwrap()
    );
}

#[test]
fn hostile_etag_on_later_requests_writes_nothing_outside_the_cache() {
    let (hub, victim) = later_headers_change("ETag", "../../../../outside/PWNED");
    let result = victim.download_config(&hub);
    assert_first_names_kept(&hub, &victim, result);
}

#[test]
fn hostile_commit_on_later_requests_writes_nothing_outside_the_cache() {
    let (hub, victim) = later_headers_change("X-Repo-Commit", "../../../../outside/commit");
    let result = victim.download_config(&hub);
    assert_first_names_kept(&hub, &victim, result);
}

/// Every answer carries `header: value`; the download must be refused by name.
fn assert_refused(header: &str, value: &str) {
    let hub = Hub::new();
    hub.mirror.add_fault(FaultRule::new(
        CONFIG_PATH,
        Fault::Headers(vec![(header.to_string(), value.to_string())]),
    ));
    let victim = Victim::new();
    let err = victim.download_config(&hub).unwrap_err();
    assert!(
        matches!(err, HubError::UnsafePath { .. }),
        "{header}: {value}: {err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(header) && text.contains("acme/tiny-bert"),
        "the error names the header and the repo: {text}"
    );
    victim.assert_nothing_escaped();
    let repo = victim.cache().join("models--acme--tiny-bert");
    assert!(
        entries(&repo).iter().all(|p| p.is_dir()),
        "nothing cached for a refused answer: {:?}",
        entries(&repo)
    );
}

#[test]
fn hostile_etag_on_the_first_head_is_refused() {
    for etag in [
        "../../../../outside/PWNED",
        "\"../../../../outside/PWNED\"",
        "W/\"a/b\"",
        "..",
        "abc.incomplete",
        "a\\b",
    ] {
        assert_refused("ETag", etag);
    }
}

#[test]
fn hostile_commit_on_the_first_head_is_refused() {
    for commit in [
        "../../../../outside/commit",
        "..",
        "main",
        "0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456/",
        "0123456789abcdef0123456789abcdef01234567.",
    ] {
        assert_refused("X-Repo-Commit", commit);
    }
}

/// A served root built with `tiny_hub`, next to `outside/` holding a secret and a repo.
struct Served {
    base: tempfile::TempDir,
}

const SECRET: &str = "root:x:0:0:SECRET\n";

impl Served {
    fn new() -> Self {
        let base = tempfile::tempdir().unwrap();
        support::tiny_hub(&base.path().join("root"));
        let outside = base.path().join("outside");
        support::write(&outside.join("secret.txt"), SECRET);
        support::write(
            &outside.join("repo/config.json"),
            r#"{"model_type": "bert"}"#,
        );
        Self { base }
    }

    fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }

    fn outside(&self) -> PathBuf {
        self.base.path().join("outside")
    }

    /// Make `root/<link>` point at `target`.
    fn link(&self, link: &str, target: &Path) {
        let path = self.root().join(link);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn start(&self) -> Mirror {
        Mirror::start(&self.root(), MirrorOptions::default()).unwrap()
    }
}

/// GET `path` from the mirror: status and body.
fn get(mirror: &Mirror, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("{}{path}", mirror.url()).as_str())
        .call()
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), body)
}

/// The file names the mirror lists for `acme/tiny-bert`: repo info siblings and
/// the recursive tree, which must agree.
fn listed(mirror: &Mirror) -> Vec<String> {
    let (status, info) = get(mirror, "/api/models/acme/tiny-bert");
    assert_eq!(status, 200, "{info}");
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let siblings: Vec<String> = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap().to_string())
        .collect();
    let (status, tree) = get(
        mirror,
        "/api/models/acme/tiny-bert/tree/main?recursive=true",
    );
    assert_eq!(status, 200, "{tree}");
    let tree: Vec<serde_json::Value> = serde_json::from_str(&tree).unwrap();
    let mut entries: Vec<String> = tree
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    entries.sort();
    for name in &siblings {
        assert!(entries.contains(name), "{name} listed but not in the tree");
    }
    let mut all = siblings;
    all.extend(entries);
    all.sort();
    all.dedup();
    all
}

#[test]
fn serve_hides_a_folder_link_out_of_the_root() {
    let served = Served::new();
    served.link("models/acme/tiny-bert/etc", &served.outside());
    let mirror = served.start();
    let names = listed(&mirror);
    assert!(
        names.iter().all(|n| !n.starts_with("etc")),
        "the link is listed: {names:?}"
    );
    assert!(names.contains(&"config.json".to_string()), "{names:?}");
    let (status, body) = get(&mirror, "/acme/tiny-bert/resolve/main/etc/secret.txt");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("SECRET"));
}

#[test]
fn serve_hides_a_file_link_out_of_the_root() {
    let served = Served::new();
    served.link(
        "models/acme/tiny-bert/passwd",
        &served.outside().join("secret.txt"),
    );
    let mirror = served.start();
    let names = listed(&mirror);
    assert!(
        !names.contains(&"passwd".to_string()),
        "the link is listed: {names:?}"
    );
    let (status, body) = get(&mirror, "/acme/tiny-bert/resolve/main/passwd");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("SECRET"));
}

#[test]
fn serve_hides_a_repo_link_out_of_the_root() {
    let served = Served::new();
    served.link("models/evil/linked", &served.outside().join("repo"));
    served.link("models/owner-link", &served.outside());
    let mirror = served.start();
    let ids = mirror.repo_ids();
    assert!(
        ids.iter()
            .all(|id| !id.starts_with("models/evil/") && !id.starts_with("models/owner-link/")),
        "{ids:?}"
    );
    assert!(
        ids.contains(&"models/acme/tiny-bert".to_string()),
        "{ids:?}"
    );
    let (status, _) = get(&mirror, "/evil/linked/resolve/main/config.json");
    assert_eq!(status, 404);
    let (status, _) = get(&mirror, "/api/models/evil/linked");
    assert_eq!(status, 404);
    let (status, _) = get(&mirror, "/owner-link/repo/resolve/main/config.json");
    assert_eq!(status, 404);
}

#[test]
fn serve_refuses_a_file_turned_into_a_link_after_the_scan() {
    let served = Served::new();
    let mirror = served.start();
    let config = served.root().join("models/acme/tiny-bert/config.json");
    let (status, _) = get(&mirror, "/acme/tiny-bert/resolve/main/config.json");
    assert_eq!(status, 200);
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink(served.outside().join("secret.txt"), &config).unwrap();
    let (status, body) = get(&mirror, "/acme/tiny-bert/resolve/main/config.json");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("root:x"), "{body}");
}

#[test]
fn serve_follows_links_that_stay_inside_the_root() {
    let served = Served::new();
    // A relative link to another repo's file, and a link to its own folder (a loop).
    served.link(
        "models/acme/tiny-bert/copy.json",
        Path::new("../sharded/config.json"),
    );
    served.link("models/acme/tiny-bert/loop", Path::new("."));
    let mirror = served.start();
    let names = listed(&mirror);
    assert!(names.contains(&"copy.json".to_string()), "{names:?}");
    assert!(
        names.iter().all(|n| !n.starts_with("loop")),
        "a folder is walked once: {names:?}"
    );
    let (status, body) = get(&mirror, "/acme/tiny-bert/resolve/main/copy.json");
    assert_eq!((status, body.as_str()), (200, r#"{"model_type": "bert"}"#));
}

#[test]
fn hub_serve_says_it_listens_on_loopback_only() {
    let served = Served::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["hub", "serve", served.root().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut listening = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if line.contains("listening") {
            listening = Some(line);
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let line = listening.expect("`wick hub serve` prints where it listens");
    assert!(
        line.contains("127.0.0.1:") && line.contains("loopback only"),
        "{line}"
    );
}
