//! One writer per run folder: an exclusive advisory lock on `<run>/.lock`, held by the
//! process that trains (or resumes) the run for as long as it does. The file holds the
//! holder's process id, so the second writer can say who is in the way.
//!
//! The lock is `flock`-style (std's `File::try_lock`): the kernel drops it when its holder
//! dies, so a killed run never leaves a folder locked, and a run whose `run.json` still says
//! `running` while nobody holds the lock was interrupted.

use super::RunsError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file inside a run folder (hidden, so listings skip it).
pub const LOCK_FILE: &str = ".lock";

/// Held while a run is written; dropping it releases the folder.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `run_dir` without waiting. A folder in use by another process (or
    /// by another writer in this one) is an error that names the holder's process id.
    pub fn acquire(run_dir: &Path) -> Result<Self, RunsError> {
        let path = run_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(RunsError::io(&path))?;
        match try_lock_patiently(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_pid(&mut file)
                    .map(|pid| format!("process {pid}"))
                    .unwrap_or_else(|| "another process".into());
                return Err(RunsError::invalid(
                    run_dir,
                    format!(
                        "run folder is in use by {holder}; wait for it to end or stop it first"
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => return Err(RunsError::io(&path)(e)),
        }
        // Only the holder writes the pid, so a reader never sees a half-written one for long.
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(RunsError::io(&path))?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The process id holding `run_dir`'s lock, or `None` when nobody writes the run.
/// A folder without a lock file has never been locked: nobody holds it.
pub fn lock_holder(run_dir: &Path) -> Option<u32> {
    let path = run_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    match file.try_lock() {
        // Free: release at once (dropping the file does), it was only a probe.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file).unwrap_or(0)),
        Err(TryLockError::Error(_)) => None,
    }
}

/// [`lock_holder`] probes by taking the lock for an instant; a writer that starts in that
/// instant tries again a few times rather than mistaking the probe for a holder.
fn try_lock_patiently(file: &File) -> Result<(), TryLockError> {
    const ATTEMPTS: u32 = 5;
    for _ in 1..ATTEMPTS {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            done => return done,
        }
    }
    file.try_lock()
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lock_holder(dir.path()), None, "never locked");
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        let pid = std::process::id();
        assert!(err.contains(&format!("in use by process {pid}")), "{err}");
        assert_eq!(lock_holder(dir.path()), Some(pid));
        drop(first);
        assert_eq!(lock_holder(dir.path()), None);
        let again = RunLock::acquire(dir.path()).unwrap();
        assert!(again.path().ends_with(LOCK_FILE));
    }
}
