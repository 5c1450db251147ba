//! Batched, parallel tokenization: the equivalent of `datasets.map(tokenize, batched=True,
//! num_proc=N)` with `truncation=True`, leaving padding to the collator.

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokenizers::{PreTokenizerWrapper, Tokenizer, TruncationParams, TruncationStrategy};

use super::error::{DataError, Result};
use super::spm_tokenizer::{self, SPM_FILE};
use super::wordpiece::{FastWordPiece, Scratch};

/// Longest input Wick lets a model see when its tokenizer states no sensible limit.
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// A `tokenizer.json` with the facts the collator and the cache need.
#[derive(Clone)]
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    path: PathBuf,
    file_hash: String,
    pad_id: u32,
    pad_type_id: u32,
    model_max_length: usize,
    /// The exact BERT WordPiece fast path, when the tokenizer is of that kind.
    fast: Option<Arc<FastWordPiece>>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("pad_id", &self.pad_id)
            .field("model_max_length", &self.model_max_length)
            .field("fast_path", &self.fast_path())
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` (and `tokenizer_config.json` for the length limit and pad token,
    /// when present) from a model folder, or a `tokenizer.json` path. A folder with `spm.model`
    /// and no `tokenizer.json` (DeBERTa-v3), or an `spm.model` path, gets the tokenizer that
    /// transformers converts from it (`spm_tokenizer`).
    pub fn load(path: &Path) -> Result<Self> {
        let (dir, mut file) = if path.is_dir() {
            (path.to_path_buf(), path.join("tokenizer.json"))
        } else {
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (dir, path.to_path_buf())
        };
        let spm = if path.is_dir() {
            Some(dir.join(SPM_FILE)).filter(|spm| !file.exists() && spm.is_file())
        } else {
            Some(file.clone()).filter(|file| file.extension().is_some_and(|e| e == "model"))
        };
        let config = read_tokenizer_config(&dir)?;
        let (mut tokenizer, file_hash) = if let Some(spm) = spm {
            file = spm;
            spm_tokenizer::load(&file, &dir, config.as_ref())?
        } else {
            let bytes = std::fs::read(&file).map_err(|e| DataError::io(&file, e))?;
            let tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| DataError::Tokenizer {
                path: file.clone(),
                message: e.to_string(),
            })?;
            (tokenizer, blake3::hash(&bytes).to_hex().to_string())
        };
        let err = |message: String| DataError::Tokenizer {
            path: file.clone(),
            message,
        };

        // The file may carry padding and truncation of its own (MiniLM's pads to 128);
        // Wick pads in the collator and truncates per request, so both are switched off here.
        let file_padding = tokenizer.get_padding().cloned();
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;

        let pad_token = config
            .as_ref()
            .and_then(|c| c.get("pad_token"))
            .and_then(token_content);
        let pad_id = file_padding
            .as_ref()
            .map(|p| p.pad_id)
            .or_else(|| pad_token.as_deref().and_then(|t| tokenizer.token_to_id(t)))
            .or_else(|| {
                ["[PAD]", "<pad>", "<|pad|>"]
                    .iter()
                    .find_map(|t| tokenizer.token_to_id(t))
            })
            .unwrap_or(0);
        let pad_type_id = file_padding.map(|p| p.pad_type_id).unwrap_or(0);
        // Tokenizers without a limit store a huge sentinel (1e30) in `model_max_length`.
        let model_max_length = config
            .as_ref()
            .and_then(|c| c.get("model_max_length"))
            .and_then(serde_json::Value::as_f64)
            .filter(|n| *n >= 1.0 && *n <= 1e6)
            .map(|n| n as usize)
            .unwrap_or(DEFAULT_MAX_LENGTH);
        let mut loaded = TextTokenizer {
            tokenizer,
            path: file,
            file_hash,
            pad_id,
            pad_type_id,
            model_max_length,
            fast: None,
        };
        loaded.set_fast_path(true);
        Ok(loaded)
    }

    /// Whether ASCII rows take the exact BERT WordPiece fast path (the tokenizer is a BERT
    /// WordPiece one); every other row, and every row of other tokenizers, goes through the
    /// `tokenizers` crate. Both give identical ids and type ids.
    pub fn fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// Switches the fast path off (or back on, where the tokenizer allows it), so that every
    /// row goes through the `tokenizers` crate; for comparisons.
    pub fn set_fast_path(&mut self, enabled: bool) {
        self.fast = None;
        if enabled && let Ok(fast) = FastWordPiece::new(&self.tokenizer) {
            // Belt and braces: a fast path that disagrees with the crate on a few probes is
            // not used.
            if self.agrees_on_probes(&fast) {
                self.fast = Some(Arc::new(fast));
            }
        }
    }

    fn agrees_on_probes(&self, fast: &FastWordPiece) -> bool {
        const PROBES: [(&str, Option<&str>, usize); 4] = [
            (
                "Hello, World! [CLS] unaffable\tx\u{7}y",
                Some("A [SEP]b [MASK]"),
                DEFAULT_MAX_LENGTH,
            ),
            ("The quick brown fox's 3.5% (jumped) over...", None, 8),
            (
                "one two three four five six seven eight nine ten",
                Some("[SEP] [SEP] [SEP] [SEP] [SEP] [SEP] a b c d e f g h"),
                9,
            ),
            ("", Some(""), DEFAULT_MAX_LENGTH),
        ];
        let mut scratch = Scratch::default();
        PROBES.iter().all(|&(first, second, max_length)| {
            let mut quick = (Vec::new(), Vec::new());
            let mut slow = (Vec::new(), Vec::new());
            let Ok(truncating) = self.truncating(max_length) else {
                return false;
            };
            fast.encode(
                first,
                second,
                max_length,
                &mut scratch,
                &mut quick.0,
                &mut quick.1,
            ) && encode_with_crate(&truncating, first, second, &mut slow.0, &mut slow.1).is_ok()
                && quick == slow
        })
    }

    /// The fast path itself, for the equality tests.
    #[cfg(test)]
    pub(super) fn fast(&self) -> Option<&FastWordPiece> {
        self.fast.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Content hash of `tokenizer.json` (or of `spm.model` and the files beside it that name
    /// tokens), part of the cache fingerprint.
    pub fn file_hash(&self) -> &str {
        &self.file_hash
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn pad_type_id(&self) -> u32 {
        self.pad_type_id
    }

    /// What `truncation=True` truncates to: the tokenizer's own limit.
    pub fn model_max_length(&self) -> usize {
        self.model_max_length
    }

    /// One text's tokens with where each sits in `text` (byte ranges; special tokens get
    /// `None`), truncated to `max_length`, for token classification's pipeline: encoded as
    /// the word lists it was trained on are (see [`TextTokenizer::word_list_tokenizer`]).
    pub fn encode_with_offsets(&self, text: &str, max_length: usize) -> Result<OffsetEncoding> {
        let encoding = self
            .word_list_tokenizer(max_length)?
            .encode(text, true)
            .map_err(|e| DataError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let special = encoding.get_special_tokens_mask();
        Ok(OffsetEncoding {
            ids: encoding.get_ids().to_vec(),
            type_ids: encoding.get_type_ids().to_vec(),
            spans: encoding
                .get_offsets()
                .iter()
                .zip(special)
                .map(|(&(start, end), &special)| (special == 0).then_some((start, end)))
                .collect(),
        })
    }

    /// The token piece for an id, for the batch inspector.
    pub fn piece(&self, id: u32) -> String {
        self.tokenizer
            .id_to_token(id)
            .unwrap_or_else(|| format!("<{id}>"))
    }

    /// [`TextTokenizer::truncating`] for word lists: a byte-level BPE (RoBERTa, ModernBERT)
    /// gets `add_prefix_space`, as transformers requires for `is_split_into_words=True`, so
    /// every word, the first included, is read as if a space preceded it.
    pub(super) fn word_list_tokenizer(&self, max_length: usize) -> Result<Tokenizer> {
        let mut tokenizer = self.truncating(max_length)?;
        let Some(pre_tokenizer) = tokenizer.get_pre_tokenizer() else {
            return Ok(tokenizer);
        };
        let err = |e: serde_json::Error| DataError::Tokenizer {
            path: self.path.clone(),
            message: format!("its pre-tokenizer: {e}"),
        };
        let mut json = serde_json::to_value(pre_tokenizer).map_err(err)?;
        if set_byte_level_prefix_space(&mut json) {
            let pre_tokenizer: PreTokenizerWrapper = serde_json::from_value(json).map_err(err)?;
            tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        }
        Ok(tokenizer)
    }

    /// A copy that truncates pairs longest-first to `max_length`, as `truncation=True` does.
    pub(super) fn truncating(&self, max_length: usize) -> Result<Tokenizer> {
        let mut tokenizer = self.tokenizer.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                ..TruncationParams::default()
            }))
            .map_err(|e| DataError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(tokenizer)
    }
}

/// Sets `add_prefix_space` on every `ByteLevel` pre-tokenizer in `json` (also inside a
/// `Sequence`); whether there was one.
fn set_byte_level_prefix_space(json: &mut serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => {
            let mut found = false;
            if map.get("type").and_then(|t| t.as_str()) == Some("ByteLevel") {
                map.insert("add_prefix_space".into(), true.into());
                found = true;
            }
            for value in map.values_mut() {
                found |= set_byte_level_prefix_space(value);
            }
            found
        }
        serde_json::Value::Array(items) => {
            // Every item is visited: a Sequence may hold more than one ByteLevel.
            let mut found = false;
            for item in items {
                found |= set_byte_level_prefix_space(item);
            }
            found
        }
        _ => false,
    }
}

/// `encode_fast` with special tokens through the `tokenizers` crate, appending ids and type ids.
pub(super) fn encode_with_crate(
    truncating: &Tokenizer,
    first: &str,
    second: Option<&str>,
    ids: &mut Vec<u32>,
    type_ids: &mut Vec<u8>,
) -> tokenizers::Result<()> {
    let encoding = match second {
        Some(second) => truncating.encode_fast((first, second), true),
        None => truncating.encode_fast(first, true),
    }?;
    ids.extend_from_slice(encoding.get_ids());
    type_ids.extend(encoding.get_type_ids().iter().map(|&t| t as u8));
    Ok(())
}

fn read_tokenizer_config(dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join("tokenizer_config.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DataError::Tokenizer {
                path,
                message: format!("tokenizer_config.json does not parse: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DataError::io(path, e)),
    }
}

/// `"[PAD]"` or `{"content": "[PAD]", ...}`.
pub(super) fn token_content(value: &serde_json::Value) -> Option<String> {
    value
        .as_str()
        .or_else(|| value.get("content")?.as_str())
        .map(str::to_string)
}

/// How to tokenize a split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenizeOptions {
    /// Truncate each row (both texts together) to this many tokens; `None` means the
    /// tokenizer's `model_max_length`.
    pub max_length: Option<usize>,
    /// Worker threads; `0` means one per core.
    pub threads: usize,
    /// Rows per work item, like `map(batch_size=1000)`.
    pub chunk_rows: usize,
}

impl Default for TokenizeOptions {
    fn default() -> Self {
        TokenizeOptions {
            max_length: None,
            threads: 0,
            chunk_rows: 1000,
        }
    }
}

impl TokenizeOptions {
    pub fn resolved_max_length(&self, tokenizer: &TextTokenizer) -> usize {
        self.max_length.unwrap_or(tokenizer.model_max_length())
    }
}

/// One encoded text with each token's byte range in it (`None` for special tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetEncoding {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub spans: Vec<Option<(usize, usize)>>,
}

/// Tokenized rows in flat, Arrow-friendly form: row `i` is `ids[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenColumns {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u8>,
    pub offsets: Vec<i32>,
}

impl TokenColumns {
    pub fn num_rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

/// Tokenizes `first[i]` (with `second[i]`, for pairs) on `options.threads` named threads,
/// calling `progress(done, total)` after each chunk.
pub fn tokenize(
    tokenizer: &TextTokenizer,
    first: &[&str],
    second: Option<&[&str]>,
    options: &TokenizeOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TokenColumns> {
    if second.is_some_and(|second| second.len() != first.len()) {
        return Err(DataError::Invalid(
            "the two text columns have different lengths".into(),
        ));
    }
    let max_length = checked_max_length(tokenizer, options)?;
    let truncating = tokenizer.truncating(max_length)?;
    let encode_row = |row: usize, out: &mut RowBuffers| -> Result<()> {
        let pair = second.map(|second| second[row]);
        let fast = tokenizer.fast.as_ref().is_some_and(|fast| {
            fast.encode(
                first[row],
                pair,
                max_length,
                &mut out.scratch,
                &mut out.ids,
                &mut out.type_ids,
            )
        });
        if !fast {
            encode_with_crate(
                &truncating,
                first[row],
                pair,
                &mut out.ids,
                &mut out.type_ids,
            )
            .map_err(|e| DataError::Tokenizer {
                path: tokenizer.path.clone(),
                message: format!("row {row}: {e}"),
            })?;
        }
        Ok(())
    };
    let (columns, _) = encode_in_chunks(first.len(), options, progress, &encode_row)?;
    Ok(columns)
}

/// Tokenizes rows of pre-split words (`is_split_into_words=True`, for token classification),
/// returning each token's word index beside the columns (-1 for special tokens). Always
/// through the `tokenizers` crate.
pub fn tokenize_words(
    tokenizer: &TextTokenizer,
    words: &[Vec<&str>],
    options: &TokenizeOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(TokenColumns, Vec<i32>)> {
    let max_length = checked_max_length(tokenizer, options)?;
    let truncating = tokenizer.word_list_tokenizer(max_length)?;
    let encode_row = |row: usize, out: &mut RowBuffers| -> Result<()> {
        // `encode_fast` skips offsets and, with them, the word ids this needs.
        let encoding =
            truncating
                .encode(words[row].clone(), true)
                .map_err(|e| DataError::Tokenizer {
                    path: tokenizer.path.clone(),
                    message: format!("row {row}: {e}"),
                })?;
        out.ids.extend_from_slice(encoding.get_ids());
        out.type_ids
            .extend(encoding.get_type_ids().iter().map(|&t| t as u8));
        out.word_ids.extend(
            encoding
                .get_word_ids()
                .iter()
                .map(|w| w.map_or(-1, |w| w as i32)),
        );
        Ok(())
    };
    encode_in_chunks(words.len(), options, progress, &encode_row)
}

fn checked_max_length(tokenizer: &TextTokenizer, options: &TokenizeOptions) -> Result<usize> {
    let max_length = options.resolved_max_length(tokenizer);
    if max_length < 4 {
        return Err(DataError::Invalid(format!(
            "max_length {max_length} is too small to hold a text and its special tokens"
        )));
    }
    Ok(max_length)
}

/// One chunk's output, appended to row by row.
#[derive(Default)]
struct RowBuffers {
    ids: Vec<u32>,
    type_ids: Vec<u8>,
    word_ids: Vec<i32>,
    lengths: Vec<u32>,
    scratch: Scratch,
}

/// Runs `encode_row` over `total` rows in chunks on a named thread pool and joins the chunks
/// in order.
fn encode_in_chunks(
    total: usize,
    options: &TokenizeOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    encode_row: &(dyn Fn(usize, &mut RowBuffers) -> Result<()> + Sync),
) -> Result<(TokenColumns, Vec<i32>)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .thread_name(|i| format!("wick-tokenize-{i}"))
        .build()
        .map_err(|e| DataError::Invalid(format!("cannot start tokenizer threads: {e}")))?;
    let done = AtomicUsize::new(0);
    let chunk_rows = options.chunk_rows.max(1);
    let encode_chunk = |chunk: usize| -> Result<RowBuffers> {
        let start = chunk * chunk_rows;
        let end = (start + chunk_rows).min(total);
        let mut out = RowBuffers {
            ids: Vec::with_capacity((end - start) * 64),
            type_ids: Vec::with_capacity((end - start) * 64),
            lengths: Vec::with_capacity(end - start),
            ..RowBuffers::default()
        };
        for row in start..end {
            let before = out.ids.len();
            encode_row(row, &mut out)?;
            out.lengths.push((out.ids.len() - before) as u32);
        }
        let finished = done.fetch_add(end - start, Ordering::Relaxed) + (end - start);
        progress(finished, total);
        Ok(out)
    };
    let chunks: Vec<_> = pool.install(|| {
        (0..total.div_ceil(chunk_rows))
            .into_par_iter()
            .map(encode_chunk)
            .collect::<Result<Vec<_>>>()
    })?;

    let total_tokens: usize = chunks.iter().map(|c| c.ids.len()).sum();
    if total_tokens > i32::MAX as usize {
        return Err(DataError::Invalid(
            "more than 2^31 tokens in one split; split the dataset into several files".into(),
        ));
    }
    let mut columns = TokenColumns {
        ids: Vec::with_capacity(total_tokens),
        type_ids: Vec::new(),
        offsets: Vec::with_capacity(total + 1),
    };
    columns.type_ids.reserve(columns.ids.capacity());
    columns.offsets.push(0);
    let mut word_ids = Vec::new();
    for chunk in chunks {
        columns.ids.extend_from_slice(&chunk.ids);
        columns.type_ids.extend_from_slice(&chunk.type_ids);
        word_ids.extend_from_slice(&chunk.word_ids);
        for len in chunk.lengths {
            let last = *columns.offsets.last().unwrap_or(&0);
            columns.offsets.push(last + len as i32);
        }
    }
    Ok((columns, word_ids))
}
