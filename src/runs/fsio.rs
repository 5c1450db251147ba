//! Durable file writes: data reaches the disk before a name points at it.

use super::RunsError;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a sibling temp file, fsync, rename,
/// fsync of the folder. A crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunsError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let mut file = File::create(&temp).map_err(RunsError::io(&temp))?;
    file.write_all(bytes).map_err(RunsError::io(&temp))?;
    file.sync_all().map_err(RunsError::io(&temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(RunsError::io(path))?;
    sync_parent(path)
}

/// Fsyncs a file that is already written.
pub fn sync_file(path: &Path) -> Result<(), RunsError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(RunsError::io(path))
}

/// Fsyncs a folder so that renames and creations inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), RunsError> {
    // Windows cannot open folders as files; its renames are journaled anyway.
    if cfg!(windows) {
        return Ok(());
    }
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(RunsError::io(dir))
}

fn sync_parent(path: &Path) -> Result<(), RunsError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}
