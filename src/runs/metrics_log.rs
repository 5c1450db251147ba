//! `metrics.jsonl`: an append-only log, one HF `log_history` entry per line
//! (`step`, `epoch`, `loss`, `learning_rate`, `grad_norm`, `eval_loss`,
//! `eval_accuracy`, `train_runtime`, ...) plus `wall_time` (Unix seconds).

use super::RunsError;
use super::fsio::write_atomic;
use super::time::unix_seconds;
use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One log entry, keyed like HF's `TrainerState.log_history`.
pub type LogRecord = Map<String, Value>;

/// Appends records durably: each line is written whole, flushed and fsynced.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
    dropped_tail_bytes: u64,
}

impl MetricsLog {
    /// Opens (or creates) the log for appending. A torn last line left by a
    /// killed writer is cut off first, so new lines never glue onto it.
    pub fn open(path: &Path) -> Result<Self, RunsError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(RunsError::io(path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(RunsError::io(path))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let dropped_tail_bytes = (bytes.len() - keep) as u64;
        if dropped_tail_bytes > 0 {
            file.set_len(keep as u64).map_err(RunsError::io(path))?;
            file.sync_all().map_err(RunsError::io(path))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            dropped_tail_bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of a torn last line removed by [`MetricsLog::open`] (0 if none).
    pub fn dropped_tail_bytes(&self) -> u64 {
        self.dropped_tail_bytes
    }

    /// Cuts the log after the last record a resumed run keeps: every line up to the first
    /// one past `step` (or the end-of-training summary, `train_runtime`, which the resumed
    /// run writes anew). Lines are cut at their byte offsets, never re-serialised, so the
    /// kept text stays as it was written; the file is replaced atomically. Returns how many
    /// records were dropped.
    pub fn truncate_after_step(path: &Path, step: u64) -> Result<usize, RunsError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(RunsError::io(path)(e)),
        };
        let mut keep = 0;
        let mut dropped = 0;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let record = serde_json::from_slice::<Value>(line).ok();
            let past = record.as_ref().is_some_and(|r| {
                r.get("step")
                    .and_then(Value::as_u64)
                    .is_some_and(|s| s > step)
                    || r.get("train_runtime").is_some()
            });
            // A torn or unreadable line ends what can be trusted, like a record past `step`.
            if past || record.is_none() && !line.trim_ascii().is_empty() {
                dropped = line_count(&bytes[keep..]);
                break;
            }
            keep += line.len();
        }
        if keep < bytes.len() {
            write_atomic(path, &bytes[..keep])?;
        }
        Ok(dropped)
    }

    /// Appends `record`, adding `wall_time` (now) unless it has one.
    pub fn append(&mut self, record: &LogRecord) -> Result<(), RunsError> {
        let mut record = record.clone();
        record
            .entry("wall_time")
            .or_insert_with(|| Value::from(unix_seconds(SystemTime::now())));
        let mut line = serde_json::to_string(&record)
            .map_err(|e| RunsError::invalid(&self.path, e.to_string()))?;
        line.push('\n');
        // Two writes, so the fault tests can leave a torn line as a crash mid-write would.
        let (head, tail) = line.as_bytes().split_at(line.len() / 2);
        self.file
            .write_all(head)
            .map_err(RunsError::io(&self.path))?;
        crate::fault::point("mid-metrics-append");
        self.file
            .write_all(tail)
            .map_err(RunsError::io(&self.path))?;
        self.file.flush().map_err(RunsError::io(&self.path))?;
        self.file.sync_data().map_err(RunsError::io(&self.path))
    }
}

fn line_count(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count()
}

/// What [`read_metrics`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsRead {
    pub records: Vec<LogRecord>,
    /// The unterminated, unparsable last line of a killed writer, skipped.
    pub torn_last_line: Option<String>,
    /// Other unparsable lines: (1-based line number, reason), skipped.
    pub bad_lines: Vec<(usize, String)>,
}

/// Reads a metrics log. A missing file reads as empty (nothing logged yet);
/// a torn last line and bad lines are skipped and reported.
pub fn read_metrics(path: &Path) -> Result<MetricsRead, RunsError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(MetricsRead::default()),
        Err(e) => return Err(RunsError::io(path)(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut read = MetricsRead::default();
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len() - 1; // the part after the final '\n' (empty when terminated)
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(record)) => read.records.push(record),
            Ok(_) if index != last => read.bad_lines.push((index + 1, "not a JSON object".into())),
            Err(e) if index != last => read.bad_lines.push((index + 1, e.to_string())),
            _ => read.torn_last_line = Some(line.to_string()),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> LogRecord {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn appended_records_read_back_with_wall_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path).unwrap();
        log.append(&record(json!({"step": 50, "epoch": 0.11, "loss": 0.68, "learning_rate": 4.8e-5, "grad_norm": 3.2})))
            .unwrap();
        log.append(&record(json!({"step": 459, "epoch": 1.0, "eval_loss": 0.41, "eval_accuracy": 0.83, "wall_time": 7.5})))
            .unwrap();
        let read = read_metrics(&path).unwrap();
        assert_eq!(read.records.len(), 2);
        assert_eq!(read.records[0]["loss"], json!(0.68));
        assert!(read.records[0]["wall_time"].as_f64().unwrap() > 1.0e9);
        assert_eq!(read.records[1]["wall_time"], json!(7.5));
        assert_eq!((read.torn_last_line, read.bad_lines.len()), (None, 0));
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
    }

    #[test]
    fn torn_last_line_is_skipped_reported_and_repaired_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let torn = "{\"step\": 100, \"lo";
        std::fs::write(&path, format!("{{\"step\": 50, \"loss\": 0.7}}\n{torn}")).unwrap();
        let read = read_metrics(&path).unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(read.torn_last_line.as_deref(), Some(torn));

        let mut log = MetricsLog::open(&path).unwrap();
        assert_eq!(log.dropped_tail_bytes(), torn.len() as u64);
        log.append(&record(json!({"step": 100, "loss": 0.6})))
            .unwrap();
        let read = read_metrics(&path).unwrap();
        let steps: Vec<i64> = read
            .records
            .iter()
            .map(|r| r["step"].as_i64().unwrap())
            .collect();
        assert_eq!(steps, [50, 100]);
        assert_eq!(read.torn_last_line, None);
    }

    #[test]
    fn truncation_keeps_the_bytes_of_kept_lines_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        // Floats whose re-serialisation would change their text.
        let kept =
            "{\"step\":2,\"loss\":1.1007053852081299,\"x\":1e-5}\n{\"step\":4,\"loss\":0.50}\n";
        let dropped = "{\"step\":6,\"loss\":0.4}\n{\"train_runtime\":3.0,\"step\":6}\n";
        std::fs::write(&path, format!("{kept}{dropped}")).unwrap();
        assert_eq!(MetricsLog::truncate_after_step(&path, 4).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kept);
        // The end-of-run summary goes even when its step is kept.
        std::fs::write(
            &path,
            format!("{kept}{{\"train_runtime\":3.0,\"step\":4}}\n"),
        )
        .unwrap();
        assert_eq!(MetricsLog::truncate_after_step(&path, 4).unwrap(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kept);
        // Nothing to cut: the file is left alone.
        assert_eq!(MetricsLog::truncate_after_step(&path, 9).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), kept);
        let absent = dir.path().join("absent.jsonl");
        assert_eq!(MetricsLog::truncate_after_step(&absent, 1).unwrap(), 0);
        assert!(!absent.exists());
    }

    #[test]
    fn bad_middle_lines_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::write(&path, "{\"step\": 1}\nnot json\n[1, 2]\n\n{\"step\": 2}\n").unwrap();
        let read = read_metrics(&path).unwrap();
        assert_eq!(read.records.len(), 2);
        let lines: Vec<usize> = read.bad_lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(read.torn_last_line, None);
        assert_eq!(
            read_metrics(&dir.path().join("absent.jsonl")).unwrap(),
            MetricsRead::default()
        );
    }
}
