//! Crash-safe checkpoints: written into `tmp-checkpoint-STEP`, fsynced, then
//! renamed to `checkpoint-STEP`. A folder named `checkpoint-*` is therefore
//! complete unless damaged from outside, and [`Checkpoints::latest`] also
//! checks the required files before trusting one.

use super::RunsError;
use super::fsio::{sync_dir, sync_file};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Model weights (HF name).
pub const MODEL_FILE: &str = "model.safetensors";
/// Model `config.json` (HF name).
pub const MODEL_CONFIG_FILE: &str = "config.json";
/// [`super::TrainerState`] (HF name).
pub const TRAINER_STATE_FILE: &str = "trainer_state.json";
/// AdamW moments (HF writes `optimizer.pt`; Wick uses safetensors).
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// LR scheduler state (HF writes `scheduler.pt`).
pub const SCHEDULER_FILE: &str = "scheduler.json";
/// RNG/data-order state (HF writes `rng_state.pth`).
pub const RNG_STATE_FILE: &str = "rng_state.json";

/// Files every complete checkpoint has. Others (tokenizer files, ...) may be added freely.
pub const REQUIRED_CHECKPOINT_FILES: &[&str] = &[
    MODEL_FILE,
    MODEL_CONFIG_FILE,
    TRAINER_STATE_FILE,
    OPTIMIZER_FILE,
    SCHEDULER_FILE,
    RNG_STATE_FILE,
];

pub const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// Prefix of folders being written or deleted; never a checkpoint.
pub const TEMP_PREFIX: &str = "tmp-";

/// A complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub step: u64,
    pub path: PathBuf,
}

/// A `checkpoint-STEP` folder and what is wrong with it, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    pub step: u64,
    pub path: PathBuf,
    /// Missing, empty or unreadable required files; empty when complete.
    pub problems: Vec<String>,
}

impl CheckpointEntry {
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A checkpoint being written; fill [`TempCheckpointDir::path`], then
/// [`Checkpoints::commit`] it.
#[derive(Debug)]
pub struct TempCheckpointDir {
    step: u64,
    path: PathBuf,
}

impl TempCheckpointDir {
    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the checkpoint being written.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// The checkpoints of one run folder.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    run_dir: PathBuf,
    cleaned: Vec<PathBuf>,
}

/// The folder name of the checkpoint at `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{step}")
}

/// The step of a `checkpoint-STEP` folder name.
fn parse_step(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(CHECKPOINT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What keeps `dir` from being a complete checkpoint (empty when complete).
pub fn checkpoint_problems(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for name in REQUIRED_CHECKPOINT_FILES {
        match fs::metadata(dir.join(name)) {
            Ok(meta) if meta.is_file() && meta.len() > 0 => {}
            Ok(_) => problems.push(format!("{name} is empty or not a file")),
            Err(_) => problems.push(format!("{name} is missing")),
        }
    }
    let state = dir.join(TRAINER_STATE_FILE);
    if problems.is_empty() && super::TrainerState::load(&state).is_err() {
        problems.push(format!("{TRAINER_STATE_FILE} is not readable"));
    }
    problems
}

impl Checkpoints {
    /// A read-only view (the Runs panel, or a run still training elsewhere):
    /// `tmp-*` folders are ignored, never touched.
    pub fn open(run_dir: &Path) -> Result<Self, RunsError> {
        if !run_dir.is_dir() {
            return Err(RunsError::invalid(run_dir, "run folder does not exist"));
        }
        Ok(Self {
            run_dir: run_dir.to_path_buf(),
            cleaned: Vec::new(),
        })
    }

    /// Opens for the process that trains in this run: stale `tmp-*` folders
    /// from a crashed writer are deleted (see [`Checkpoints::cleaned`]).
    pub fn open_for_training(run_dir: &Path) -> Result<Self, RunsError> {
        let mut checkpoints = Self::open(run_dir)?;
        for entry in fs::read_dir(run_dir).map_err(RunsError::io(run_dir))? {
            let entry = entry.map_err(RunsError::io(run_dir))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) && path.is_dir() {
                fs::remove_dir_all(&path).map_err(RunsError::io(&path))?;
                checkpoints.cleaned.push(path);
            }
        }
        checkpoints.cleaned.sort();
        Ok(checkpoints)
    }

    /// Stale temporary folders removed by [`Checkpoints::open_for_training`].
    pub fn cleaned(&self) -> &[PathBuf] {
        &self.cleaned
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Starts a checkpoint at `step` in a fresh `tmp-checkpoint-STEP` folder.
    pub fn begin(&self, step: u64) -> Result<TempCheckpointDir, RunsError> {
        let path = self
            .run_dir
            .join(format!("{TEMP_PREFIX}{}", checkpoint_name(step)));
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(RunsError::io(&path)(e)),
            _ => {}
        }
        fs::create_dir(&path).map_err(RunsError::io(&path))?;
        Ok(TempCheckpointDir { step, path })
    }

    /// Makes a written checkpoint visible: checks the required files, fsyncs
    /// them and the folder, renames it to `checkpoint-STEP` (replacing an
    /// older one of the same step) and fsyncs the run folder.
    pub fn commit(&self, temp: TempCheckpointDir) -> Result<Checkpoint, RunsError> {
        let problems = checkpoint_problems(&temp.path);
        if !problems.is_empty() {
            return Err(RunsError::invalid(
                &temp.path,
                format!("incomplete checkpoint: {}", problems.join(", ")),
            ));
        }
        sync_tree(&temp.path)?;
        let target = self.run_dir.join(checkpoint_name(temp.step));
        if target.exists() {
            // rename() cannot replace a non-empty folder: move the old one aside first.
            let old = self.run_dir.join(format!(
                "{TEMP_PREFIX}replaced-{}",
                checkpoint_name(temp.step)
            ));
            fs::rename(&target, &old).map_err(RunsError::io(&target))?;
            fs::rename(&temp.path, &target).map_err(RunsError::io(&temp.path))?;
            sync_dir(&self.run_dir)?;
            fs::remove_dir_all(&old).map_err(RunsError::io(&old))?;
        } else {
            fs::rename(&temp.path, &target).map_err(RunsError::io(&temp.path))?;
        }
        sync_dir(&self.run_dir)?;
        Ok(Checkpoint {
            step: temp.step,
            path: target,
        })
    }

    /// All `checkpoint-STEP` folders, oldest step first, complete or not.
    pub fn list(&self) -> Result<Vec<CheckpointEntry>, RunsError> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.run_dir).map_err(RunsError::io(&self.run_dir))? {
            let entry = entry.map_err(RunsError::io(&self.run_dir))?;
            let path = entry.path();
            let Some(step) = parse_step(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if path.is_dir() {
                let problems = checkpoint_problems(&path);
                entries.push(CheckpointEntry {
                    step,
                    path,
                    problems,
                });
            }
        }
        entries.sort_by_key(|e| e.step);
        Ok(entries)
    }

    /// Complete checkpoints, oldest step first.
    pub fn complete(&self) -> Result<Vec<Checkpoint>, RunsError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(CheckpointEntry::is_complete)
            .map(|e| Checkpoint {
                step: e.step,
                path: e.path,
            })
            .collect())
    }

    /// The complete checkpoint with the highest step, for resuming.
    pub fn latest(&self) -> Result<Option<Checkpoint>, RunsError> {
        Ok(self.complete()?.pop())
    }

    /// Deletes the oldest complete checkpoints beyond `save_total_limit`, like
    /// HF `Trainer._rotate_checkpoints`: the best one (`best_step`) is never
    /// deleted, and with a limit of 1 the best and the latest are both kept.
    /// Returns the deleted folders.
    pub fn rotate(
        &self,
        save_total_limit: Option<u32>,
        best_step: Option<u64>,
    ) -> Result<Vec<PathBuf>, RunsError> {
        let complete = self.complete()?;
        let steps: Vec<u64> = complete.iter().map(|c| c.step).collect();
        let doomed = rotation_victims(&steps, save_total_limit, best_step);
        self.delete(complete.into_iter().filter(|c| doomed.contains(&c.step)))
    }

    /// Before saving a checkpoint at `next_step`: deletes now what [`Checkpoints::rotate`]
    /// would delete right after that save anyway, so the new checkpoint has the room the
    /// old ones took (a nearly full disk no longer blocks a save, or a resume).
    pub fn make_room(
        &self,
        next_step: u64,
        save_total_limit: Option<u32>,
        best_step: Option<u64>,
    ) -> Result<Vec<PathBuf>, RunsError> {
        let complete: Vec<Checkpoint> = self
            .complete()?
            .into_iter()
            .filter(|c| c.step < next_step)
            .collect();
        let mut steps: Vec<u64> = complete.iter().map(|c| c.step).collect();
        steps.push(next_step);
        let doomed = rotation_victims(&steps, save_total_limit, best_step);
        self.delete(complete.into_iter().filter(|c| doomed.contains(&c.step)))
    }

    fn delete(&self, doomed: impl Iterator<Item = Checkpoint>) -> Result<Vec<PathBuf>, RunsError> {
        let mut deleted = Vec::new();
        for checkpoint in doomed {
            // Rename first: a half-deleted folder must never look like a checkpoint.
            let doomed = self.run_dir.join(format!(
                "{TEMP_PREFIX}deleting-{}",
                checkpoint_name(checkpoint.step)
            ));
            fs::rename(&checkpoint.path, &doomed).map_err(RunsError::io(&checkpoint.path))?;
            crate::fault::point("mid-rotation");
            fs::remove_dir_all(&doomed).map_err(RunsError::io(&doomed))?;
            deleted.push(checkpoint.path);
        }
        if !deleted.is_empty() {
            sync_dir(&self.run_dir)?;
        }
        Ok(deleted)
    }
}

/// The steps (of `steps`, oldest first) that `save_total_limit` rotation deletes. HF moves
/// the best checkpoint to the second-to-last place so it is kept, and with a limit of 1
/// keeps both the best and the latest.
pub fn rotation_victims(
    steps: &[u64],
    save_total_limit: Option<u32>,
    best_step: Option<u64>,
) -> Vec<u64> {
    let Some(limit) = save_total_limit.filter(|&l| l > 0) else {
        return Vec::new();
    };
    let mut sorted = steps.to_vec();
    if let Some(best_index) = best_step.and_then(|s| sorted.iter().position(|&c| c == s)) {
        let best = sorted.remove(best_index);
        let at = sorted
            .len()
            .saturating_sub(1)
            .max(best_index.min(sorted.len()));
        sorted.insert(at, best);
    }
    let mut keep = limit as usize;
    if keep == 1 && best_step.is_some() && sorted.last().copied() != best_step {
        keep = 2;
    }
    let delete_count = sorted.len().saturating_sub(keep);
    sorted.into_iter().take(delete_count).collect()
}

/// Fsyncs every file under `dir`, then the folders themselves.
fn sync_tree(dir: &Path) -> Result<(), RunsError> {
    for entry in fs::read_dir(dir).map_err(RunsError::io(dir))? {
        let path = entry.map_err(RunsError::io(dir))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            sync_file(&path)?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests;
