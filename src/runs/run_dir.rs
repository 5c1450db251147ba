//! One run folder: creation, `run.json` status, listing for the Runs panel.

use super::RunsError;
use super::checkpoints::Checkpoints;
use super::fsio::write_atomic;
use super::lock::{RunLock, lock_holder};
use super::metrics_log::MetricsLog;
use super::time::UtcDateTime;
use crate::recipe::TrainConfig;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CONFIG_FILE: &str = "config.toml";
pub const RUN_INFO_FILE: &str = "run.json";
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished; also what a crashed run still says.
    Running,
    Finished,
    Failed,
    /// Stopped by the user (or early stopping decided by the user's Stop).
    Stopped,
    /// Never written: [`list_runs`] reports a run whose `run.json` says `running` while no
    /// process holds its lock (killed, or the machine went down). Resumable.
    Interrupted,
}

impl RunStatus {
    /// The word for the status, as `run.json` spells it and both front ends show it.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// The best evaluation so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestMetric {
    /// e.g. `eval_f1`.
    pub name: String,
    pub value: f64,
    pub step: u64,
    /// Folder name, e.g. `checkpoint-459`, if that evaluation was saved.
    pub checkpoint: Option<String>,
}

/// The content of `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub status: RunStatus,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub model: String,
    pub dataset: String,
    #[serde(default)]
    pub dataset_config: Option<String>,
    #[serde(default)]
    pub run_name: Option<String>,
    #[serde(default)]
    pub best_metric: Option<BestMetric>,
    /// Why the run failed, for `Failed`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub wick_version: String,
    /// What the trainer warned about while the run went on (a diverging loss, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Seconds spent in training steps, summed over every session of the run (the
    /// summary's `train_runtime`); written when the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_runtime_s: Option<f64>,
    /// What the run fine-tunes the model to do, once its data is read (runs written before
    /// tasks have none: single-label, unless their config names one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::task::Task>,
}

/// A run's two durations, defined once for Monitor, Runs and `wick train`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunDurations {
    /// Seconds in training steps only (no preparation, evaluation, saving or pauses),
    /// summed over resumes.
    pub training_s: Option<f64>,
    /// From the run's start to its end, with everything in between: preparation,
    /// evaluation, saving, pauses and any wait before a resume.
    pub wall_s: Option<f64>,
}

impl RunDurations {
    /// `training 13s · wall 15s`, the words every view uses; an unknown part is left out.
    pub fn label(&self) -> String {
        let training = self
            .training_s
            .map(|s| format!("training {}", super::time::format_duration(s)));
        // run.json's times are whole seconds: a shorter run's wall time is "<1s", not 0.
        let wall = self.wall_s.map(|s| match s {
            s if s < 1.0 => "wall <1s".to_string(),
            s => format!("wall {}", super::time::format_duration(s)),
        });
        let parts: Vec<String> = training.into_iter().chain(wall).collect();
        if parts.is_empty() {
            "–".into()
        } else {
            parts.join(" · ")
        }
    }

    /// What the two durations mean, for a tooltip.
    pub const EXPLAINED: &'static str = "training: seconds in training steps, summed over \
        resumes (the summary's train_runtime); wall: from the run's start to its end, with \
        preparation, evaluation, saving, pauses and any wait before a resume";
}

impl RunInfo {
    pub fn durations(&self) -> RunDurations {
        let started = super::time::parse_rfc3339(&self.started_at);
        let finished = self
            .finished_at
            .as_deref()
            .and_then(super::time::parse_rfc3339);
        RunDurations {
            training_s: self.train_runtime_s,
            wall_s: started
                .zip(finished)
                .map(|(start, end)| (end - start).max(0) as f64),
        }
    }
}

/// An existing or new run folder. One made by `create*` or [`RunDir::open_for_writing`]
/// holds the folder's lock (shared by its clones) until the last clone is dropped.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    info: RunInfo,
    lock: Option<Arc<RunLock>>,
}

/// `YYYYMMDD-HHMMSS-<slug>`, the slug being `run_name` or
/// `<model>-<dataset>[-<dataset_config>]` (last path components).
pub fn run_folder_name(config: &TrainConfig, now: UtcDateTime) -> String {
    let slug_source = match &config.run_name {
        Some(name) => name.clone(),
        None => {
            let last = |s: &str| {
                s.trim_end_matches(['/', '\\'])
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or("")
                    .to_string()
            };
            let mut parts = vec![last(&config.model), last(&config.dataset)];
            parts.extend(config.dataset_config.clone());
            parts.join("-")
        }
    };
    format!("{}-{}", now.compact(), slug(&slug_source))
}

/// Lowercase ASCII letters, digits, `_` and `.`; other runs become one `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches(['-', '.']).chars().take(64).collect();
    let trimmed = trimmed.trim_end_matches(['-', '.']);
    if trimmed.is_empty() {
        "run".into()
    } else {
        trimmed.into()
    }
}

/// A Hugging Face access token (`hf_` + 30 or more letters/digits) inside `text`.
fn contains_hf_token(text: &str) -> bool {
    text.match_indices("hf_").any(|(i, _)| {
        text[i + 3..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count()
            >= 30
    })
}

/// The config as TOML, refusing one that carries an access token (checked
/// before any folder is created).
fn config_text_without_token(config: &TrainConfig, run_path: &Path) -> Result<String, RunsError> {
    let text = config.to_toml_string();
    if contains_hf_token(&text) {
        return Err(RunsError::invalid(
            &run_path.join(CONFIG_FILE),
            "refusing to write an access token (hf_...) into the run config",
        ));
    }
    Ok(text)
}

impl RunDir {
    /// Creates `root/name` (suffixing `-2`, `-3`, ... if taken) with
    /// `config.toml` and `run.json` (status `running`).
    pub fn create(root: &Path, name: &str, config: &TrainConfig) -> Result<Self, RunsError> {
        let config_text = config_text_without_token(config, &root.join(name))?;
        fs::create_dir_all(root).map_err(RunsError::io(root))?;
        for attempt in 1..1000 {
            let candidate = match attempt {
                1 => root.join(name),
                n => root.join(format!("{name}-{n}")),
            };
            match fs::create_dir(&candidate) {
                Ok(()) => {
                    let lock = RunLock::acquire(&candidate)?;
                    return Self::initialize(candidate, config, &config_text, lock);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(RunsError::io(&candidate)(e)),
            }
        }
        Err(RunsError::invalid(
            &root.join(name),
            "no free run folder name",
        ))
    }

    /// Creates a new run in `root` named by [`run_folder_name`] now.
    pub fn create_named(root: &Path, config: &TrainConfig) -> Result<Self, RunsError> {
        Self::create(root, &run_folder_name(config, UtcDateTime::now()), config)
    }

    /// Uses `dir` (the config's `output_dir`) as the run folder; it may exist
    /// but must not hold a run already (open that one to resume). The lock is taken before
    /// the check, so of two processes started on one folder exactly one gets it.
    pub fn create_at(dir: &Path, config: &TrainConfig) -> Result<Self, RunsError> {
        let config_text = config_text_without_token(config, dir)?;
        fs::create_dir_all(dir).map_err(RunsError::io(dir))?;
        let lock = RunLock::acquire(dir)?;
        if dir.join(RUN_INFO_FILE).exists() {
            return Err(RunsError::invalid(
                dir,
                "already holds a run (run.json); open it to resume",
            ));
        }
        crate::fault::point("after-run-folder-check");
        Self::initialize(dir.to_path_buf(), config, &config_text, lock)
    }

    fn initialize(
        path: PathBuf,
        config: &TrainConfig,
        config_text: &str,
        lock: RunLock,
    ) -> Result<Self, RunsError> {
        write_atomic(&path.join(CONFIG_FILE), config_text.as_bytes())?;
        let info = RunInfo {
            status: RunStatus::Running,
            started_at: UtcDateTime::now().rfc3339(),
            finished_at: None,
            model: config.model.clone(),
            dataset: config.dataset.clone(),
            dataset_config: config.dataset_config.clone(),
            run_name: config.run_name.clone(),
            best_metric: None,
            error: None,
            wick_version: env!("CARGO_PKG_VERSION").into(),
            warnings: Vec::new(),
            train_runtime_s: None,
            task: None,
        };
        let run = Self {
            path,
            info,
            lock: Some(Arc::new(lock)),
        };
        run.write_info()?;
        Ok(run)
    }

    /// Opens an existing run folder by reading its `run.json`.
    pub fn open(path: &Path) -> Result<Self, RunsError> {
        let info_path = path.join(RUN_INFO_FILE);
        let text = fs::read_to_string(&info_path).map_err(RunsError::io(&info_path))?;
        let info = serde_json::from_str(&text)
            .map_err(|e| RunsError::invalid(&info_path, e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            info,
            lock: None,
        })
    }

    /// Opens an existing run to write it (resume): takes its lock first, so a run that
    /// another process trains is refused, naming that process.
    pub fn open_for_writing(path: &Path) -> Result<Self, RunsError> {
        if !path.join(RUN_INFO_FILE).is_file() {
            return Err(RunsError::invalid(path, "not a run folder (no run.json)"));
        }
        let lock = RunLock::acquire(path)?;
        let mut run = Self::open(path)?;
        run.lock = Some(Arc::new(lock));
        Ok(run)
    }

    /// Whether this value holds the folder's lock.
    pub fn is_locked_by_us(&self) -> bool {
        self.lock.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The folder name, e.g. `20261126-073440-mrpc-minilm`.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The run's saved configuration (validated; paths as they were resolved).
    pub fn config(&self) -> Result<TrainConfig, RunsError> {
        let path = self.path.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).map_err(RunsError::io(&path))?;
        let file = path.display().to_string();
        let config = TrainConfig::parse_unvalidated(&text, &file)?;
        config.validate_in(&file)?;
        Ok(config)
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(METRICS_FILE)
    }

    /// Opens `metrics.jsonl` for appending.
    pub fn metrics_log(&self) -> Result<MetricsLog, RunsError> {
        MetricsLog::open(&self.metrics_path())
    }

    /// Read-only view of the checkpoints.
    pub fn checkpoints(&self) -> Result<Checkpoints, RunsError> {
        Checkpoints::open(&self.path)
    }

    /// Records a new status (e.g. back to `Running` on resume).
    pub fn set_status(&mut self, status: RunStatus) -> Result<(), RunsError> {
        self.info.status = status;
        if status == RunStatus::Running {
            self.info.finished_at = None;
            self.info.error = None;
        }
        self.write_info()
    }

    /// Notes the seconds the run has spent in training steps, over all its sessions; written
    /// with the run's end ([`Self::finish`]), so run.json is written once.
    pub fn set_train_runtime(&mut self, seconds: f64) {
        self.info.train_runtime_s = Some(seconds);
    }

    /// Records the end of the run: `Finished`, `Stopped` or `Failed` with a reason.
    pub fn finish(&mut self, status: RunStatus, error: Option<String>) -> Result<(), RunsError> {
        self.info.status = status;
        self.info.finished_at = Some(UtcDateTime::now().rfc3339());
        self.info.error = error;
        self.write_info()
    }

    /// Renames the run for display: `run_name` in `run.json` (the folder keeps its
    /// name, so paths to it stay valid). An empty name clears it.
    pub fn set_run_name(&mut self, name: &str) -> Result<(), RunsError> {
        let name = name.trim();
        self.info.run_name = (!name.is_empty()).then(|| name.to_string());
        self.write_info()
    }

    /// Keeps a trainer warning with the run (once: a repeated warning is not added again).
    pub fn add_warning(&mut self, message: &str) -> Result<(), RunsError> {
        if self.info.warnings.iter().any(|w| w == message) {
            return Ok(());
        }
        self.info.warnings.push(message.to_string());
        self.write_info()
    }

    /// Records the run's task (read off its data, or set in the recipe).
    pub fn set_task(&mut self, task: crate::task::Task) -> Result<(), RunsError> {
        if self.info.task == Some(task) {
            return Ok(());
        }
        self.info.task = Some(task);
        self.write_info()
    }

    pub fn set_best_metric(&mut self, best: BestMetric) -> Result<(), RunsError> {
        self.info.best_metric = Some(best);
        self.write_info()
    }

    fn write_info(&self) -> Result<(), RunsError> {
        let path = self.path.join(RUN_INFO_FILE);
        let mut json = serde_json::to_string_pretty(&self.info)
            .map_err(|e| RunsError::invalid(&path, e.to_string()))?;
        json.push('\n');
        write_atomic(&path, json.as_bytes())
    }
}

/// Deletes a run folder, unless a process is writing it (training or resuming): the lock
/// is taken first, so a run cannot start writing into a folder while it is deleted.
pub fn delete_run(path: &Path) -> Result<(), RunsError> {
    let _lock = RunLock::acquire(path)?;
    fs::remove_dir_all(path).map_err(RunsError::io(path))
}

/// A readable run, for the Runs panel.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub path: PathBuf,
    pub name: String,
    /// `status` is [`RunStatus::Interrupted`] for a `running` run that nobody writes.
    pub info: RunInfo,
    /// The process writing the run now (training or resuming it), if any: such a run must
    /// not be deleted or resumed.
    pub in_use_by: Option<u32>,
}

/// A folder in the runs root that is not a readable run.
#[derive(Debug, Clone)]
pub struct BrokenRun {
    pub path: PathBuf,
    pub reason: String,
}

/// Everything in a runs root: readable runs, newest first, and broken folders.
#[derive(Debug, Clone, Default)]
pub struct RunListing {
    pub runs: Vec<RunSummary>,
    pub broken: Vec<BrokenRun>,
}

/// Lists the runs under `root`. A missing root is an empty listing; folders
/// without a readable `run.json` are reported in `broken`, never fatal.
pub fn list_runs(root: &Path) -> Result<RunListing, RunsError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(RunListing::default()),
        Err(e) => return Err(RunsError::io(root)(e)),
    };
    let mut listing = RunListing::default();
    for entry in entries {
        let entry = entry.map_err(RunsError::io(root))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !path.is_dir() {
            continue;
        }
        match RunDir::open(&path) {
            Ok(mut run) => {
                let in_use_by = lock_holder(&path);
                if run.info.status == RunStatus::Running && in_use_by.is_none() {
                    run.info.status = RunStatus::Interrupted;
                }
                listing.runs.push(RunSummary {
                    name: run.name(),
                    path,
                    info: run.info,
                    in_use_by,
                })
            }
            Err(e) => listing.broken.push(BrokenRun {
                path,
                reason: e.to_string(),
            }),
        }
    }
    listing
        .runs
        .sort_by(|a, b| (&b.info.started_at, &b.name).cmp(&(&a.info.started_at, &a.name)));
    listing.broken.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrainConfig {
        TrainConfig::from_toml_str(
            "model = \"/models/sentence-transformers/all-MiniLM-L6-v2\"\ndataset = \"nyu-mll/glue\"\ndataset_config = \"mrpc\"\n",
        )
        .unwrap()
    }

    fn when() -> UtcDateTime {
        UtcDateTime::from_system_time(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_678_480),
        )
    }

    #[test]
    fn folder_name_has_time_and_slug() {
        let mut c = config();
        assert_eq!(
            run_folder_name(&c, when()),
            "20261126-073440-all-minilm-l6-v2-glue-mrpc"
        );
        c.run_name = Some("My run: lr=3e-5 / bs 16!".into());
        assert_eq!(
            run_folder_name(&c, when()),
            "20261126-073440-my-run-lr-3e-5-bs-16"
        );
        c.run_name = Some("???".into());
        assert_eq!(run_folder_name(&c, when()), "20261126-073440-run");
    }

    #[test]
    fn create_writes_config_and_info_and_is_unique() {
        let root = tempfile::tempdir().unwrap();
        let c = config();
        let first = RunDir::create(root.path(), "20261126-073440-x", &c).unwrap();
        let second = RunDir::create(root.path(), "20261126-073440-x", &c).unwrap();
        assert_eq!(second.name(), "20261126-073440-x-2");
        assert_eq!(first.config().unwrap(), c);
        let reopened = RunDir::open(first.path()).unwrap();
        assert_eq!(reopened.info().status, RunStatus::Running);
        assert_eq!(reopened.info().model, c.model);
        assert_eq!(reopened.info().dataset_config.as_deref(), Some("mrpc"));
        assert!(reopened.info().started_at.ends_with('Z'));
    }

    #[test]
    fn status_and_best_metric_persist() {
        let root = tempfile::tempdir().unwrap();
        let mut run = RunDir::create_named(root.path(), &config()).unwrap();
        run.set_best_metric(BestMetric {
            name: "eval_f1".into(),
            value: 0.875,
            step: 459,
            checkpoint: Some("checkpoint-459".into()),
        })
        .unwrap();
        run.finish(RunStatus::Failed, Some("out of memory".into()))
            .unwrap();
        let info = RunDir::open(run.path()).unwrap().info().clone();
        assert_eq!(info.status, RunStatus::Failed);
        assert_eq!(info.error.as_deref(), Some("out of memory"));
        assert!(info.finished_at.is_some());
        assert_eq!(info.best_metric.unwrap().value, 0.875);
        run.set_status(RunStatus::Running).unwrap();
        let info = RunDir::open(run.path()).unwrap().info().clone();
        assert_eq!(
            (info.status, info.finished_at, info.error),
            (RunStatus::Running, None, None)
        );
    }

    #[test]
    fn durations_are_training_time_and_start_to_end() {
        let root = tempfile::tempdir().unwrap();
        let mut run = RunDir::create_named(root.path(), &config()).unwrap();
        assert_eq!(run.info().durations(), RunDurations::default());
        run.set_train_runtime(12.5);
        run.finish(RunStatus::Finished, None).unwrap();
        let mut info = RunDir::open(run.path()).unwrap().info().clone();
        assert_eq!(info.durations().training_s, Some(12.5));
        info.started_at = "2026-11-30T10:00:00Z".into();
        info.finished_at = Some("2026-11-30T10:03:07Z".into());
        assert_eq!(info.durations().wall_s, Some(187.0));
        assert_eq!(info.durations().label(), "training 13s · wall 3m 07s");
        // Runs written before the field existed read without a training time.
        let old: RunInfo = serde_json::from_str(
            r#"{"status":"finished","started_at":"2026-11-30T10:00:00Z","finished_at":null,"model":"m","dataset":"d"}"#,
        )
        .unwrap();
        assert_eq!(old.durations(), RunDurations::default());
        assert_eq!(old.durations().label(), "–");
        let quick = RunDurations {
            training_s: Some(0.2),
            wall_s: Some(0.0),
        };
        assert_eq!(quick.label(), "training 0.2s · wall <1s");
    }

    #[test]
    fn rename_sets_run_name_and_keeps_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let mut run = RunDir::create(root.path(), "folder", &config()).unwrap();
        run.set_run_name("  baseline lr 2e-5 ").unwrap();
        let reopened = RunDir::open(&root.path().join("folder")).unwrap();
        assert_eq!(
            reopened.info().run_name.as_deref(),
            Some("baseline lr 2e-5")
        );
        assert_eq!(reopened.name(), "folder");
        run.set_run_name("").unwrap();
        assert_eq!(RunDir::open(run.path()).unwrap().info().run_name, None);
    }

    #[test]
    fn create_refuses_tokens_and_existing_runs() {
        let root = tempfile::tempdir().unwrap();
        let mut c = config();
        c.model = "https://user:hf_abcdefghijklmnopqrstuvwxyzABCDEFGH@huggingface.co/org/m".into();
        let err = RunDir::create(root.path(), "leaky", &c).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        assert!(!root.path().join("leaky").exists());

        let out = root.path().join("out");
        RunDir::create_at(&out, &config()).unwrap();
        assert!(RunDir::create_at(&out, &config()).is_err());
    }

    #[test]
    fn listing_reports_broken_folders_and_sorts_newest_first() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            list_runs(&root.path().join("absent"))
                .unwrap()
                .runs
                .is_empty()
        );
        let c = config();
        let mut older = RunDir::create(root.path(), "older", &c).unwrap();
        older.info.started_at = "2026-01-01T00:00:00Z".into();
        older.write_info().unwrap();
        RunDir::create(root.path(), "newer", &c).unwrap();
        fs::create_dir(root.path().join("no-info")).unwrap();
        fs::create_dir(root.path().join("garbled")).unwrap();
        fs::write(
            root.path().join("garbled").join(RUN_INFO_FILE),
            "{\"status\": ",
        )
        .unwrap();
        fs::write(root.path().join("stray-file.txt"), "x").unwrap();

        let listing = list_runs(root.path()).unwrap();
        let names: Vec<&str> = listing.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["newer", "older"]);
        let broken: Vec<String> = listing
            .broken
            .iter()
            .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(broken, ["garbled", "no-info"]);
        assert!(
            listing
                .broken
                .iter()
                .all(|b| b.reason.contains(RUN_INFO_FILE))
        );
    }

    #[test]
    fn a_running_run_nobody_writes_lists_as_interrupted() {
        let root = tempfile::tempdir().unwrap();
        let run = RunDir::create(root.path(), "live", &config()).unwrap();
        let listed = list_runs(root.path()).unwrap();
        assert_eq!(listed.runs[0].info.status, RunStatus::Running);
        assert_eq!(listed.runs[0].in_use_by, Some(std::process::id()));
        assert!(delete_run(run.path()).is_err(), "a run being written stays");
        drop(run);
        let listed = list_runs(root.path()).unwrap();
        assert_eq!(listed.runs[0].info.status, RunStatus::Interrupted);
        assert_eq!(listed.runs[0].in_use_by, None);
        // Finished runs stay finished, whoever holds them.
        let mut reopened = RunDir::open_for_writing(&listed.runs[0].path).unwrap();
        reopened.finish(RunStatus::Finished, None).unwrap();
        drop(reopened);
        assert_eq!(
            list_runs(root.path()).unwrap().runs[0].info.status,
            RunStatus::Finished
        );
        delete_run(&root.path().join("live")).unwrap();
        assert!(!root.path().join("live").exists());
    }

    #[test]
    fn of_two_writers_racing_for_one_output_dir_exactly_one_wins() {
        for _ in 0..5 {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("out");
            let barrier = std::sync::Barrier::new(2);
            let results: Vec<Result<RunDir, RunsError>> = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            RunDir::create_at(&out, &config())
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "{results:?}");
            let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
            let message = lost.to_string();
            assert!(
                message.contains("in use by process") || message.contains("already holds a run"),
                "{message}"
            );
        }
    }
}
