//! The on-disk cache of tokenized splits: one Arrow IPC file per fingerprint, memory-mapped on
//! re-open so that a hit costs no parsing and no copy.
//!
//! A file becomes visible under its final name only once it is complete and synced (write to a
//! temporary name, fsync, rename), so a crash mid-write can leave a stray temporary file (the
//! next lookup or write removes it) but never a half-written cache entry. A final file that
//! still fails to decode is reported as a miss and rewritten.

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::ipc::reader::FileDecoder;
use arrow::ipc::writer::FileWriter;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{DataError, Result};

/// What a lookup found, for the user to see ("cache hit").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    Hit {
        path: PathBuf,
    },
    /// Tokenized afresh; `reason` says why an existing file was not used.
    Miss {
        path: PathBuf,
        reason: Option<String>,
    },
    Disabled,
}

impl CacheStatus {
    pub fn is_hit(&self) -> bool {
        matches!(self, CacheStatus::Hit { .. })
    }
}

/// A folder of cached tokenized splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetCache {
    dir: PathBuf,
}

impl DatasetCache {
    /// The cache inside a datasets cache folder (`$HF_DATASETS_CACHE`): its `wick/` subfolder.
    pub fn in_datasets_cache(datasets_cache: &Path) -> Self {
        DatasetCache {
            dir: datasets_cache.join("wick"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_for(&self, fingerprint: &str) -> PathBuf {
        self.dir.join(format!("{fingerprint}.arrow"))
    }

    /// The cached table for `fingerprint`: `Ok(None)` when there is none, `Err(reason)` when a
    /// file exists but cannot be trusted.
    pub fn load(&self, fingerprint: &str) -> Result<Option<RecordBatch>, String> {
        self.remove_stale_temp_files();
        let path = self.path_for(fingerprint);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("cannot open: {err}")),
        };
        // SAFETY: cache files are only ever created whole, by rename, and never modified in
        // place afterwards; a concurrent writer replaces the directory entry, not these bytes.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("cannot map: {e}"))?;
        decode_ipc_file(Buffer::from(bytes::Bytes::from_owner(mmap))).map(Some)
    }

    /// Writes `table` atomically under `fingerprint` and returns its path.
    pub fn store(&self, fingerprint: &str, table: &RecordBatch) -> Result<PathBuf> {
        let path = self.path_for(fingerprint);
        let err = |e: std::io::Error| DataError::Cache {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        self.remove_stale_temp_files();
        let temp = self.dir.join(format!(
            ".{fingerprint}.{}.{}.tmp",
            std::process::id(),
            unique_suffix()
        ));
        let result = write_ipc_file(&temp, table).and_then(|()| {
            crate::fault::point("mid-cache-write");
            std::fs::rename(&temp, &path).map_err(|e| e.to_string())?;
            sync_dir(&self.dir).map_err(|e| e.to_string())
        });
        if let Err(message) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(DataError::Cache { path, message });
        }
        Ok(path)
    }

    /// Removes temporary files whose writer is gone (killed mid-write): they are never read,
    /// only take space (a whole tokenized split each). Names are `.<fingerprint>.<pid>.<n>.tmp`;
    /// a file is stale when process `pid` no longer runs and the file has not changed for
    /// [`DEAD_WRITER_QUIET`] (a writer in another pid namespace sharing the folder is not in
    /// our `/proc`, but its file keeps changing). Where processes cannot be checked (no
    /// `/proc`), a file is stale when it is older than [`STALE_TEMP_AGE`].
    /// Returns the files removed.
    pub fn remove_stale_temp_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_file_writer) else {
                continue;
            };
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok());
            let stale = match writer_is_alive(pid) {
                Some(alive) => !alive && age.is_some_and(|age| age > DEAD_WRITER_QUIET),
                None => age.is_some_and(|age| age > STALE_TEMP_AGE),
            };
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed.push(entry.path());
            }
        }
        removed
    }

    /// Removes a cache entry that could not be read, so the next write starts clean.
    pub fn discard(&self, fingerprint: &str) {
        let _ = std::fs::remove_file(self.path_for(fingerprint));
    }
}

/// Without a way to ask whether a writer still runs, a temporary file this old is abandoned:
/// writing one split takes seconds to minutes.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// How long a dead writer's temporary file must have been untouched before it is removed.
const DEAD_WRITER_QUIET: std::time::Duration = std::time::Duration::from_secs(60);

/// The writer's process id in a temporary file name `.<fingerprint>.<pid>.<n>.tmp`.
fn temp_file_writer(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let _unique = parts.next()?.parse::<u128>().ok()?;
    let pid = parts.next()?.parse::<u32>().ok()?;
    let fingerprint = parts.next()?;
    (!fingerprint.is_empty()).then_some(pid)
}

/// Whether process `pid` runs, where the system says (`/proc` on Linux); `None` elsewhere.
fn writer_is_alive(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    let proc = Path::new("/proc");
    proc.join("self")
        .exists()
        .then(|| proc.join(pid.to_string()).exists())
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn write_ipc_file(path: &Path, table: &RecordBatch) -> Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut writer =
        FileWriter::try_new(BufWriter::new(file), &table.schema()).map_err(|e| e.to_string())?;
    writer.write(table).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let mut buffered = writer.into_inner().map_err(|e| e.to_string())?;
    buffered.flush().map_err(|e| e.to_string())?;
    let file = buffered.into_inner().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // Directory fsync makes the rename durable; not every platform allows opening a directory.
    match File::open(dir) {
        Ok(handle) => handle.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

const MAGIC: &[u8] = b"ARROW1";

/// Decodes a whole Arrow IPC file held in `buffer` without copying its column data.
/// Every offset is bounds-checked, so a damaged file is an error, never a panic.
fn decode_ipc_file(buffer: Buffer) -> Result<RecordBatch, String> {
    let len = buffer.len();
    let trailer = 10; // footer length (4) + magic (6)
    if len < MAGIC.len() * 2 + trailer
        || &buffer[..MAGIC.len()] != MAGIC
        || &buffer[len - MAGIC.len()..] != MAGIC
    {
        return Err("not a complete Arrow IPC file (bad magic; truncated?)".into());
    }
    let trailer_bytes: [u8; 10] = buffer[len - trailer..]
        .try_into()
        .map_err(|_| "truncated trailer".to_string())?;
    let footer_len =
        arrow::ipc::reader::read_footer_length(trailer_bytes).map_err(|e| e.to_string())?;
    let footer_start = (len - trailer)
        .checked_sub(footer_len)
        .ok_or("footer longer than the file")?;
    let footer = arrow::ipc::root_as_footer(&buffer[footer_start..len - trailer])
        .map_err(|e| format!("bad footer: {e}"))?;
    let schema = footer.schema().ok_or("footer has no schema")?;
    let schema =
        Arc::new(arrow::ipc::convert::try_fb_to_schema(schema).map_err(|e| e.to_string())?);
    let mut decoder = FileDecoder::new(schema.clone(), footer.version());
    let slice = |offset: i64, length: usize| -> Result<Buffer, String> {
        let offset = usize::try_from(offset).map_err(|_| "negative block offset")?;
        match offset.checked_add(length) {
            Some(end) if end <= footer_start => Ok(buffer.slice_with_length(offset, length)),
            _ => Err("a block lies outside the file".to_string()),
        }
    };
    for block in footer.dictionaries().iter().flatten() {
        let length = block_length(block)?;
        decoder
            .read_dictionary(block, &slice(block.offset(), length)?)
            .map_err(|e| e.to_string())?;
    }
    let mut batches = Vec::new();
    for block in footer.recordBatches().iter().flatten() {
        let length = block_length(block)?;
        if let Some(batch) = decoder
            .read_record_batch(block, &slice(block.offset(), length)?)
            .map_err(|e| e.to_string())?
        {
            batches.push(batch);
        }
    }
    match batches.len() {
        1 => Ok(batches.remove(0)),
        _ => arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string()),
    }
}

fn block_length(block: &arrow::ipc::Block) -> Result<usize, String> {
    let body = usize::try_from(block.bodyLength()).map_err(|_| "negative block length")?;
    let meta = usize::try_from(block.metaDataLength()).map_err(|_| "negative metadata length")?;
    body.checked_add(meta)
        .ok_or_else(|| "block length overflows".to_string())
}
