//! An exact fast path for BERT-style WordPiece tokenizers on ASCII text.
//!
//! The generic `tokenizers` pipeline keeps alignments for every normalization step, allocates a
//! `String` per token and builds a full `Encoding` (offsets, words, masks) that Wick throws away.
//! For the common BERT setup (`BertNormalizer` + `BertPreTokenizer` + `WordPiece` + the
//! `[CLS] $A [SEP] $B:1 [SEP]:1` template) on ASCII input, all of that collapses to one pass over
//! the bytes: drop control characters, split on whitespace, isolate punctuation, lowercase, then
//! greedy longest-match-first WordPiece. [`FastWordPiece`] does exactly that and nothing else,
//! mirroring `tokenizers` 0.23 step by step (see the comments on each step), and reports "not
//! mine" for anything else so the caller falls back to the crate:
//!
//! - it is only built when the parsed tokenizer (serialized back to its canonical JSON) has
//!   exactly those components, with added tokens that match literally (`normalized: false`, no
//!   `single_word`/`lstrip`/`rstrip`);
//! - [`FastWordPiece::encode`] declines rows with any non-ASCII text, and `max_length` below the
//!   number of special tokens (where the crate's own arithmetic decides).

use serde_json::Value;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use tokenizers::{PostProcessor, Tokenizer};

/// FxHash (as in `rustc-hash`): vocabulary keys are short and trusted, so a multiply-rotate hash
/// beats SipHash several times over.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type Vocab = HashMap<Box<[u8]>, u32, BuildHasherDefault<FxHasher>>;

/// What `BertNormalizer` (clean_text) and `BertPreTokenizer` make of an ASCII byte.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// `\0` and the other control characters (`is_other`: Cc), removed by `clean_text`.
    Drop,
    /// `\t`, `\n`, `\r`, space: whitespace, a word boundary that is removed.
    Space,
    /// `is_ascii_punctuation` (33–47, 58–64, 91–96, 123–126): a word of its own.
    Punct,
    /// Letters and digits: part of a word.
    Word,
}

const CLASSES: [Class; 128] = {
    let mut table = [Class::Word; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'\t' | b'\n' | b'\r' | b' ' => Class::Space,
            0..=0x1F | 0x7F => Class::Drop,
            33..=47 | 58..=64 | 91..=96 | 123..=126 => Class::Punct,
            _ => Class::Word,
        };
        b += 1;
    }
    table
};

/// One element of the post-processing template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// The first (`false`) or second (`true`) text, with this type id.
    Sequence { second: bool, type_id: u32 },
    /// A special token's ids, with this type id.
    Special { ids: Vec<u32>, type_id: u32 },
}

/// Reused buffers for one worker.
#[derive(Default)]
pub(super) struct Scratch {
    word: Vec<u8>,
    first: Vec<u32>,
    second: Vec<u32>,
}

/// The BERT WordPiece pipeline for ASCII text; see the module docs.
#[derive(Clone)]
pub(super) struct FastWordPiece {
    /// Vocabulary entries as written.
    words: Vocab,
    /// Entries that start with the continuing-subword prefix (`##`), prefix removed: looking up
    /// `piece` here is looking up `##piece` in the vocabulary, without building the string.
    continuations: Vocab,
    longest_word: usize,
    longest_continuation: usize,
    unk_id: u32,
    max_input_chars_per_word: usize,
    lowercase: bool,
    /// Literal added tokens, longest first (the crate matches leftmost-longest).
    added: Vec<(Box<[u8]>, u32)>,
    /// Whether an added token starts with this byte.
    added_start: [bool; 128],
    single: Vec<Piece>,
    pair: Vec<Piece>,
    added_single: usize,
    added_pair: usize,
}

impl std::fmt::Debug for FastWordPiece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastWordPiece")
            .field("vocab", &self.words.len())
            .field("lowercase", &self.lowercase)
            .field("single", &self.single)
            .field("pair", &self.pair)
            .finish_non_exhaustive()
    }
}

impl FastWordPiece {
    /// The fast path for `tokenizer`, or why it has none. Padding and truncation settings are
    /// ignored (the caller switches them off and truncates per request).
    pub(super) fn new(tokenizer: &Tokenizer) -> Result<Self, String> {
        let json = serde_json::to_value(tokenizer).map_err(|e| e.to_string())?;
        Self::from_json(&json, tokenizer)
    }

    fn from_json(json: &Value, tokenizer: &Tokenizer) -> Result<Self, String> {
        let field = |v: &Value, key: &str| -> Result<Value, String> {
            v.get(key).cloned().ok_or_else(|| format!("no `{key}`"))
        };
        let is = |v: &Value, key: &str, expected: Value| v.get(key) == Some(&expected);

        // Normalizer: exactly BertNormalizer with clean_text. Chinese-character spacing and
        // accent stripping do nothing to ASCII; lowercase is honoured.
        let normalizer = field(json, "normalizer")?;
        if !is(&normalizer, "type", "BertNormalizer".into()) {
            return Err(format!("normalizer is not BertNormalizer: {normalizer}"));
        }
        if !is(&normalizer, "clean_text", true.into()) {
            return Err("BertNormalizer without clean_text".into());
        }
        let lowercase = normalizer
            .get("lowercase")
            .and_then(Value::as_bool)
            .ok_or("BertNormalizer without lowercase")?;
        for key in ["handle_chinese_chars", "strip_accents"] {
            match normalizer.get(key) {
                Some(Value::Bool(_) | Value::Null) => {}
                other => return Err(format!("BertNormalizer `{key}` is {other:?}")),
            }
        }
        if normalizer.as_object().map_or(0, |o| o.len()) != 5 {
            return Err(format!("BertNormalizer with unknown fields: {normalizer}"));
        }

        let pre_tokenizer = field(json, "pre_tokenizer")?;
        if pre_tokenizer != serde_json::json!({"type": "BertPreTokenizer"}) {
            return Err(format!(
                "pre_tokenizer is not BertPreTokenizer: {pre_tokenizer}"
            ));
        }

        // Model: WordPiece.
        let model = json.get("model").ok_or("no model")?;
        if !is(model, "type", "WordPiece".into()) {
            return Err("model is not WordPiece".into());
        }
        let unk_token = model
            .get("unk_token")
            .and_then(Value::as_str)
            .ok_or("WordPiece without unk_token")?;
        let prefix = model
            .get("continuing_subword_prefix")
            .and_then(Value::as_str)
            .ok_or("WordPiece without continuing_subword_prefix")?;
        let max_input_chars_per_word = model
            .get("max_input_chars_per_word")
            .and_then(Value::as_u64)
            .ok_or("WordPiece without max_input_chars_per_word")?
            as usize;
        let vocab = model
            .get("vocab")
            .and_then(Value::as_object)
            .ok_or("WordPiece without a vocab")?;
        let mut words = Vocab::default();
        let mut continuations = Vocab::default();
        for (token, id) in vocab {
            let id = id
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| format!("vocab id of {token:?} is not a u32"))?;
            words.insert(token.as_bytes().into(), id);
            if let Some(rest) = token.strip_prefix(prefix) {
                continuations.insert(rest.as_bytes().into(), id);
            }
        }
        let unk_id = *words
            .get(unk_token.as_bytes())
            .ok_or("the unk token is not in the vocab")?;
        let longest = |v: &Vocab| v.keys().map(|k| k.len()).max().unwrap_or(0);

        // Added tokens: the crate splits them out of the raw text before normalizing. Only
        // literal matching (the usual special tokens) is reproduced here.
        let mut added = Vec::new();
        let mut added_start = [false; 128];
        for token in json
            .get("added_tokens")
            .and_then(Value::as_array)
            .ok_or("no added_tokens")?
        {
            let content = token
                .get("content")
                .and_then(Value::as_str)
                .ok_or("added token without content")?;
            let id = token
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| u32::try_from(id).ok())
                .ok_or("added token without an id")?;
            for flag in ["normalized", "single_word", "lstrip", "rstrip"] {
                if !is(token, flag, false.into()) {
                    return Err(format!("added token {content:?} has `{flag}` set"));
                }
            }
            if content.is_empty() {
                return Err("empty added token".into());
            }
            // Non-ASCII added tokens never match inside ASCII text.
            if content.is_ascii() {
                added_start[content.as_bytes()[0] as usize] = true;
                added.push((content.as_bytes().into(), id));
            }
        }
        added.sort_by_key(|(content, _): &(Box<[u8]>, u32)| std::cmp::Reverse(content.len()));

        // Post-processor: TemplateProcessing (A once in single; A then B in pair) or
        // BertProcessing.
        let post = field(json, "post_processor")?;
        let (single, pair) = match post.get("type").and_then(Value::as_str) {
            Some("TemplateProcessing") => {
                let special = post
                    .get("special_tokens")
                    .and_then(Value::as_object)
                    .ok_or("TemplateProcessing without special_tokens")?;
                let pieces = |key: &str| -> Result<Vec<Piece>, String> {
                    post.get(key)
                        .and_then(Value::as_array)
                        .ok_or(format!("TemplateProcessing without `{key}`"))?
                        .iter()
                        .map(|piece| template_piece(piece, special))
                        .collect()
                };
                (pieces("single")?, pieces("pair")?)
            }
            Some("BertProcessing") => {
                let id = |key: &str| {
                    post.get(key)
                        .and_then(|v| v.get(1))
                        .and_then(Value::as_u64)
                        .and_then(|id| u32::try_from(id).ok())
                        .ok_or(format!("BertProcessing without `{key}`"))
                };
                let (cls, sep) = (id("cls")?, id("sep")?);
                let special = |id: u32, type_id| Piece::Special {
                    ids: vec![id],
                    type_id,
                };
                let seq = |second, type_id| Piece::Sequence { second, type_id };
                (
                    vec![special(cls, 0), seq(false, 0), special(sep, 0)],
                    vec![
                        special(cls, 0),
                        seq(false, 0),
                        special(sep, 0),
                        seq(true, 1),
                        special(sep, 1),
                    ],
                )
            }
            _ => return Err(format!("post_processor is not BERT's: {post}")),
        };
        let sequences = |pieces: &[Piece]| -> Vec<bool> {
            pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Sequence { second, .. } => Some(*second),
                    Piece::Special { .. } => None,
                })
                .collect()
        };
        if sequences(&single) != [false] || sequences(&pair) != [false, true] {
            return Err("the template is not `... $A ...` / `... $A ... $B ...`".into());
        }
        let special_count = |pieces: &[Piece]| -> usize {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Special { ids, .. } => ids.len(),
                    Piece::Sequence { .. } => 0,
                })
                .sum()
        };
        // The crate subtracts the processor's own count before truncating; it must agree.
        let processor = tokenizer.get_post_processor().ok_or("no post_processor")?;
        let (added_single, added_pair) =
            (processor.added_tokens(false), processor.added_tokens(true));
        if added_single != special_count(&single) || added_pair != special_count(&pair) {
            return Err("the post-processor counts its special tokens differently".into());
        }

        Ok(FastWordPiece {
            longest_word: longest(&words),
            longest_continuation: longest(&continuations),
            words,
            continuations,
            unk_id,
            max_input_chars_per_word,
            lowercase,
            added,
            added_start,
            single,
            pair,
            added_single,
            added_pair,
        })
    }

    /// Appends the ids and type ids of `first` (and `second`) as the crate's `encode_fast` with
    /// special tokens and `LongestFirst` truncation to `max_length` would, and returns `true`;
    /// or returns `false`, appending nothing, when the row is not for the fast path.
    pub(super) fn encode(
        &self,
        first: &str,
        second: Option<&str>,
        max_length: usize,
        scratch: &mut Scratch,
        ids: &mut Vec<u32>,
        type_ids: &mut Vec<u8>,
    ) -> bool {
        if !first.is_ascii() || second.is_some_and(|s| !s.is_ascii()) {
            return false;
        }
        let (template, added) = match second {
            Some(_) => (&self.pair, self.added_pair),
            None => (&self.single, self.added_single),
        };
        // `post_process` computes `max_length - added` unchecked; let the crate do it.
        let Some(budget) = max_length.checked_sub(added) else {
            return false;
        };
        let Scratch {
            word,
            first: first_ids,
            second: second_ids,
        } = scratch;
        first_ids.clear();
        second_ids.clear();
        self.encode_text(first.as_bytes(), max_length, word, first_ids);
        if let Some(second) = second {
            self.encode_text(second.as_bytes(), max_length, word, second_ids);
        }
        let (keep_first, keep_second) =
            truncated_lengths(first_ids.len(), second.map(|_| second_ids.len()), budget);
        for piece in template {
            match piece {
                Piece::Sequence { second, type_id } => {
                    let part = if *second {
                        &second_ids[..keep_second]
                    } else {
                        &first_ids[..keep_first]
                    };
                    ids.extend_from_slice(part);
                    type_ids.extend(std::iter::repeat_n(*type_id as u8, part.len()));
                }
                Piece::Special {
                    ids: special,
                    type_id,
                } => {
                    ids.extend_from_slice(special);
                    type_ids.extend(std::iter::repeat_n(*type_id as u8, special.len()));
                }
            }
        }
        true
    }

    /// The WordPiece ids of one ASCII text, without special tokens, into an empty `out`.
    ///
    /// Like the crate's `PreTokenizedString::tokenize_with_limit` (which `do_tokenize` uses
    /// whenever truncation is set), this stops after the first word or punctuation character
    /// whose pieces bring the count to `limit` (the full `max_length`) or more; added tokens
    /// count but never stop it (they are tokenized already, and the crate only checks after
    /// running the model). The tokens kept beyond the limit matter: `LongestFirst` compares
    /// these lengths.
    fn encode_text(&self, text: &[u8], limit: usize, word: &mut Vec<u8>, out: &mut Vec<u32>) {
        word.clear();
        let mut i = 0;
        let mut done = false;
        while i < text.len() && !done {
            let b = text[i];
            // `AddedVocabulary::extract_and_normalize`: literal added tokens are split out of
            // the raw text first (leftmost, then longest), and the pieces between them are
            // normalized and pre-tokenized on their own. Normalization of ASCII is per byte, so
            // ending the current word at each match is the same thing.
            if self.added_start[b as usize]
                && let Some((len, id)) = self.added_at(&text[i..])
            {
                done = self.flush(word, limit, out);
                if !done {
                    out.push(id);
                }
                i += len;
                continue;
            }
            match CLASSES[b as usize] {
                Class::Drop => {}
                Class::Space => done = self.flush(word, limit, out),
                Class::Punct => {
                    done = self.flush(word, limit, out);
                    if !done {
                        word.push(b);
                        done = self.flush(word, limit, out);
                    }
                }
                Class::Word => word.push(if self.lowercase {
                    b.to_ascii_lowercase()
                } else {
                    b
                }),
            }
            i += 1;
        }
        if !done {
            self.flush(word, limit, out);
        }
    }

    fn added_at(&self, text: &[u8]) -> Option<(usize, u32)> {
        self.added
            .iter()
            .find(|(content, _)| text.starts_with(content))
            .map(|(content, id)| (content.len(), *id))
    }

    /// Ends the current word, if any: its pieces, and whether they brought the count to `limit`.
    fn flush(&self, word: &mut Vec<u8>, limit: usize, out: &mut Vec<u32>) -> bool {
        if word.is_empty() {
            return false;
        }
        self.word_piece(word, out);
        word.clear();
        out.len() >= limit
    }

    /// `WordPiece::tokenize`: greedy longest-match-first, `[UNK]` for the whole word when it is
    /// longer than `max_input_chars_per_word` (ASCII: bytes are chars) or some position has no
    /// match. Candidates longer than the longest vocabulary entry cannot match and are skipped.
    fn word_piece(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.len() > self.max_input_chars_per_word {
            out.push(self.unk_id);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let (vocab, longest) = if start == 0 {
                (&self.words, self.longest_word)
            } else {
                (&self.continuations, self.longest_continuation)
            };
            let mut end = word.len().min(start + longest);
            let found = loop {
                if end <= start {
                    break None;
                }
                if let Some(&id) = vocab.get(&word[start..end]) {
                    break Some(id);
                }
                end -= 1;
            };
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk_id);
                    return;
                }
            }
        }
    }
}

/// `{"SpecialToken": {"id": "[CLS]", "type_id": 0}}` or `{"Sequence": {"id": "A", "type_id": 0}}`.
fn template_piece(
    piece: &Value,
    special: &serde_json::Map<String, Value>,
) -> Result<Piece, String> {
    let type_id = |v: &Value| {
        v.get("type_id")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok())
            .ok_or(format!("template piece without a type_id: {piece}"))
    };
    if let Some(seq) = piece.get("Sequence") {
        let second = match seq.get("id").and_then(Value::as_str) {
            Some("A") => false,
            Some("B") => true,
            _ => return Err(format!("unknown template sequence: {piece}")),
        };
        return Ok(Piece::Sequence {
            second,
            type_id: type_id(seq)?,
        });
    }
    let token = piece
        .get("SpecialToken")
        .ok_or(format!("unknown template piece: {piece}"))?;
    let name = token
        .get("id")
        .and_then(Value::as_str)
        .ok_or(format!("special token without an id: {piece}"))?;
    let ids = special
        .get(name)
        .and_then(|s| s.get("ids"))
        .and_then(Value::as_array)
        .ok_or(format!("special token {name:?} is not in special_tokens"))?
        .iter()
        .map(|id| id.as_u64().and_then(|id| u32::try_from(id).ok()))
        .collect::<Option<Vec<u32>>>()
        .ok_or(format!("special token {name:?} has a bad id"))?;
    Ok(Piece::Special {
        ids,
        type_id: type_id(token)?,
    })
}

/// How many tokens of each text `truncate_encodings` keeps with `LongestFirst`, stride 0,
/// direction right, for `max_length` already reduced by the special tokens, given the lengths
/// the early-exit tokenization produced.
fn truncated_lengths(first: usize, second: Option<usize>, max_length: usize) -> (usize, usize) {
    let second_len = second.unwrap_or(0);
    if max_length == 0 {
        return (0, 0);
    }
    let total = first + second_len;
    if total <= max_length {
        return (first, second_len);
    }
    if second.is_none() {
        // `encoding.truncate(total_length - to_remove)`.
        return (max_length.min(first), 0);
    }
    let (mut n1, mut n2) = (first, second_len);
    let swap = n1 > n2;
    if swap {
        std::mem::swap(&mut n1, &mut n2);
    }
    if n1 > max_length {
        n2 = n1;
    } else {
        n2 = n1.max(max_length - n1);
    }
    if n1 + n2 > max_length {
        n1 = max_length / 2;
        n2 = n1 + max_length % 2;
    }
    if swap {
        std::mem::swap(&mut n1, &mut n2);
    }
    // `Encoding::truncate(n)` keeps everything when `n` is at least the length.
    (n1.min(first), n2.min(second_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tokenize::{TextTokenizer, encode_with_crate};
    use rand::{Rng, SeedableRng};
    use std::path::{Path, PathBuf};

    const MAX_LENGTHS: [usize; 5] = [512, 64, 16, 5, 3];

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn minilm() -> TextTokenizer {
        TextTokenizer::load(&fixtures().join("minilm-tokenizer")).unwrap()
    }

    fn fixture_json() -> Value {
        let path = fixtures().join("minilm-tokenizer/tokenizer.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// A tokenizer from an edited copy of the fixture's `tokenizer.json`.
    fn variant(edit: impl FnOnce(&mut Value)) -> (TextTokenizer, tempfile::TempDir) {
        let mut json = fixture_json();
        edit(&mut json);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        (TextTokenizer::load(&path).unwrap(), dir)
    }

    /// `(sentence1, sentence2)` of a GLUE parquet file.
    fn pairs(path: &Path) -> Vec<(String, String)> {
        use arrow::array::{Array, StringArray};
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .clone()
            };
            let (a, b) = (column("sentence1"), column("sentence2"));
            for i in 0..a.len() {
                out.push((a.value(i).to_string(), b.value(i).to_string()));
            }
        }
        out
    }

    #[derive(Default, Debug)]
    struct Counts {
        fast: usize,
        fallback: usize,
        unk: usize,
        truncated: usize,
    }

    /// Compares the fast path (falling back as `tokenize` does) with the crate on every row at
    /// every max_length, as pairs and as single texts.
    fn compare(tokenizer: &TextTokenizer, rows: &[(&str, &str)], max_lengths: &[usize]) -> Counts {
        let fast = tokenizer.fast().expect("the fast path is on");
        let unk = fast.unk_id;
        let mut counts = Counts::default();
        let mut scratch = Scratch::default();
        for &max_length in max_lengths {
            let truncating = tokenizer.truncating(max_length).unwrap();
            for &(a, b) in rows {
                for second in [Some(b), None] {
                    let mut crate_out = (Vec::new(), Vec::new());
                    encode_with_crate(&truncating, a, second, &mut crate_out.0, &mut crate_out.1)
                        .unwrap();
                    let mut out = (Vec::new(), Vec::new());
                    let took =
                        fast.encode(a, second, max_length, &mut scratch, &mut out.0, &mut out.1);
                    let ascii = a.is_ascii() && second.is_none_or(str::is_ascii);
                    assert_eq!(took, ascii, "fast path taken for {a:?} / {second:?}");
                    if took {
                        counts.fast += 1;
                        assert_eq!(
                            out, crate_out,
                            "max_length {max_length}: {a:?} / {second:?}"
                        );
                    } else {
                        counts.fallback += 1;
                        assert!(out.0.is_empty() && out.1.is_empty());
                    }
                    counts.unk += crate_out.0.iter().filter(|&&id| id == unk).count();
                    counts.truncated += usize::from(crate_out.0.len() == max_length);
                }
            }
        }
        counts
    }

    fn as_refs(rows: &[(String, String)]) -> Vec<(&str, &str)> {
        rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
    }

    #[test]
    fn the_byte_table_matches_the_normalizer_and_pre_tokenizer() {
        for b in 0u8..128 {
            let c = b as char;
            let control = !matches!(c, '\t' | '\n' | '\r') && c.is_control();
            let whitespace = matches!(c, '\t' | '\n' | '\r') || c.is_whitespace();
            let expected = if b == 0 || control {
                Class::Drop
            } else if whitespace {
                Class::Space
            } else if c.is_ascii_punctuation() {
                Class::Punct
            } else {
                Class::Word
            };
            assert_eq!(CLASSES[b as usize], expected, "byte {b}");
        }
    }

    #[test]
    fn truncation_lengths_follow_longest_first() {
        // (first, second, budget) -> kept, worked through `truncate_encodings` by hand.
        assert_eq!(truncated_lengths(3, Some(4), 10), (3, 4));
        assert_eq!(truncated_lengths(3, Some(40), 10), (3, 7));
        assert_eq!(truncated_lengths(40, Some(3), 10), (7, 3));
        assert_eq!(truncated_lengths(40, Some(30), 11), (6, 5));
        assert_eq!(truncated_lengths(30, Some(40), 11), (5, 6));
        assert_eq!(truncated_lengths(40, Some(40), 11), (5, 6));
        assert_eq!(truncated_lengths(6, Some(6), 11), (5, 6));
        assert_eq!(truncated_lengths(0, Some(40), 0), (0, 0));
        assert_eq!(truncated_lengths(0, Some(40), 1), (0, 1));
        assert_eq!(truncated_lengths(40, None, 5), (5, 0));
        assert_eq!(truncated_lengths(4, None, 5), (4, 0));
    }

    #[test]
    fn long_pairs_follow_the_crates_early_exit_not_the_full_lengths() {
        // tokenizers 0.23 stops tokenizing each text once it has max_length (16) tokens, so
        // 30 + 20 words reach LongestFirst as 16 + 16, and the first text keeps 6 of the 13
        // places, not the 7 that the full lengths would give it.
        let tokenizer = minilm();
        let (a, b) = (["a"; 30].join(" "), ["b"; 20].join(" "));
        let mut out = (Vec::new(), Vec::new());
        let fast = tokenizer.fast().unwrap();
        assert!(fast.encode(
            &a,
            Some(&b),
            16,
            &mut Scratch::default(),
            &mut out.0,
            &mut out.1
        ));
        assert_eq!(out.1.iter().filter(|&&t| t == 0).count(), 1 + 6 + 1);
        compare(&tokenizer, &[(&a, &b)], &[16]);
    }

    #[test]
    fn mrpc_validation_matches_the_crate() {
        let tokenizer = minilm();
        let rows = pairs(&fixtures().join("glue/mrpc/validation-00000-of-00001.parquet"));
        assert_eq!(rows.len(), 408);
        let counts = compare(&tokenizer, &as_refs(&rows), &MAX_LENGTHS);
        eprintln!("MRPC validation, max_length {MAX_LENGTHS:?}, pairs and singles: {counts:?}");
        assert_eq!(counts.fast + counts.fallback, 408 * 2 * MAX_LENGTHS.len());
        assert!(counts.fallback > 0 && counts.truncated > 0);
    }

    #[test]
    fn mrpc_train_matches_the_crate_when_shared_is_present() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/hub/datasets/nyu-mll/glue/mrpc/train-00000-of-00001.parquet");
        if !path.exists() {
            eprintln!("SKIPPED: {} not found", path.display());
            return;
        }
        let rows = pairs(&path);
        assert_eq!(rows.len(), 3668);
        let counts = compare(&minilm(), &as_refs(&rows), &[512, 64, 16]);
        eprintln!("MRPC train, max_length [512, 64, 16], pairs and singles: {counts:?}");
    }

    /// ASCII text built to hit every branch: punctuation, control characters, tabs, long words,
    /// unknown pieces, literal special tokens, empty strings.
    fn generated(seed: u64, count: usize) -> Vec<String> {
        const PARTS: &[&str] = &[
            "the",
            "The",
            "THE",
            "unaffable",
            "Tokenization",
            "wick",
            "rust",
            "don't",
            "U.S.",
            "3.14",
            "1,000",
            "e-mail",
            "C++",
            "#hashtag",
            "@user",
            "http://x.y/z?a=1&b=2",
            "[CLS]",
            "[SEP]",
            "[PAD]",
            "[MASK]",
            "[UNK]",
            "[cls]",
            "[CLS",
            "CLS]",
            "[[SEP]]",
            "[SEP][SEP]",
            "a[CLS]b",
            "x[MASK]",
            "[",
            "]",
            "##",
            "##ing",
            "\t",
            "\n",
            "\r\n",
            "\0",
            "\x01",
            "\x07",
            "\x0b",
            "\x0c",
            "\x1b",
            "\x1f",
            "\x7f",
            "~",
            "`",
            "^_^",
            "...",
            "!?",
            "{}",
            "|",
            "\\",
            "$5",
            "100%",
            "xqzxqzxqzkw",
            "qqqq",
            "zzzzzzzzzzzzz",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut out = vec![String::new(), " ".into(), "\t\n".into(), "\0\x7f".into()];
        while out.len() < count {
            let mut text = String::new();
            for _ in 0..rng.random_range(0..24) {
                match rng.random_range(0..10) {
                    0 => {
                        // A long word around max_input_chars_per_word (100).
                        let len = rng.random_range(95..130);
                        text.extend((0..len).map(|_| rng.random_range(b'a'..=b'z') as char));
                    }
                    1 => text.extend(
                        (0..rng.random_range(1..8)).map(|_| rng.random_range(0u8..128) as char),
                    ),
                    2..=4 => {
                        let letters = rng.random_range(1..12);
                        text.extend((0..letters).map(|_| {
                            let c = rng.random_range(b'a'..=b'z');
                            (if rng.random_bool(0.2) {
                                c.to_ascii_uppercase()
                            } else {
                                c
                            }) as char
                        }));
                    }
                    _ => text.push_str(PARTS[rng.random_range(0..PARTS.len())]),
                }
                if rng.random_bool(0.7) {
                    text.push(' ');
                }
            }
            out.push(text);
        }
        out
    }

    #[test]
    fn generated_ascii_matches_the_crate() {
        let tokenizer = minilm();
        let texts = generated(7, 3000);
        let rows: Vec<(&str, &str)> = texts
            .iter()
            .zip(texts.iter().rev())
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let counts = compare(&tokenizer, &rows, &[512, 64, 16, 5, 4, 3]);
        eprintln!("generated ASCII: {counts:?}");
        assert_eq!(counts.fallback, 0);
        assert!(counts.unk > 0 && counts.truncated > 0);
        // Single texts at max_length 2 (no room at all) as well; pairs there make the crate
        // underflow (`max_length - 3`), so the fast path declines them.
        let single: Vec<(&str, &str)> = rows.iter().take(200).copied().collect();
        let fast = tokenizer.fast().unwrap();
        let truncating = tokenizer.truncating(2).unwrap();
        for (a, _) in single {
            let mut expected = (Vec::new(), Vec::new());
            encode_with_crate(&truncating, a, None, &mut expected.0, &mut expected.1).unwrap();
            let mut out = (Vec::new(), Vec::new());
            assert!(fast.encode(a, None, 2, &mut Scratch::default(), &mut out.0, &mut out.1));
            assert_eq!(out, expected, "{a:?}");
        }
    }

    #[test]
    fn literal_special_tokens_are_split_out_like_the_crate_does() {
        let tokenizer = minilm();
        let (ids, _) = {
            let mut out = (Vec::new(), Vec::new());
            let fast = tokenizer.fast().unwrap();
            assert!(fast.encode(
                "a[CLS]b [PAD]",
                Some("[sep] [SEP]"),
                512,
                &mut Scratch::default(),
                &mut out.0,
                &mut out.1
            ));
            out
        };
        let pieces: Vec<String> = ids.iter().map(|&id| tokenizer.piece(id)).collect();
        assert_eq!(
            pieces,
            [
                "[CLS]", "a", "[CLS]", "b", "[PAD]", "[SEP]", "[", "sep", "]", "[SEP]", "[SEP]"
            ]
        );
        compare(
            &tokenizer,
            &[
                ("a[CLS]b [PAD]", "[sep] [SEP]"),
                ("[[MASK]]", "[UNK][UNK]x"),
            ],
            &MAX_LENGTHS,
        );
    }

    #[test]
    fn non_ascii_rows_fall_back_and_match() {
        let tokenizer = minilm();
        let texts = [
            "Café déjà vu, naïve résumé",
            "Ünïcödé ÀÉÎÕÜ",
            "北京欢迎你 and 東京",
            "emoji 🎉🚀 here 👍🏽",
            "replacement \u{fffd} char",
            "nbsp\u{a0}and\u{2003}em space",
            "combining e\u{301} and zero\u{200b}width",
            "Ελληνικά Русский עברית العربية",
            "“quotes” — dash … ellipsis",
        ];
        let rows: Vec<(&str, &str)> = texts
            .iter()
            .flat_map(|&t| [(t, "plain ascii"), ("plain ascii", t), (t, t)])
            .collect();
        let counts = compare(&tokenizer, &rows, &MAX_LENGTHS);
        eprintln!("non-ASCII: {counts:?}");
        // Only the single "plain ascii" first texts of the second form take the fast path.
        assert_eq!(counts.fast, texts.len() * MAX_LENGTHS.len());
    }

    #[test]
    fn bert_variants_keep_the_fast_path_and_match() {
        let texts = generated(11, 600);
        let rows: Vec<(&str, &str)> = texts
            .iter()
            .zip(texts.iter().skip(1))
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "cased",
                Box::new(|j| j["normalizer"]["lowercase"] = false.into()),
            ),
            (
                "strip_accents",
                Box::new(|j| j["normalizer"]["strip_accents"] = true.into()),
            ),
            (
                "no chinese",
                Box::new(|j| j["normalizer"]["handle_chinese_chars"] = false.into()),
            ),
            (
                "BertProcessing",
                Box::new(|j| {
                    j["post_processor"] = serde_json::json!(
                        {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}
                    )
                }),
            ),
            (
                "holes in the vocab",
                Box::new(|j| {
                    let vocab = j["model"]["vocab"].as_object_mut().unwrap();
                    for gone in ["##s", "##q", "##z", "##x", "##ing", "x", "q", "!", "~"] {
                        vocab.remove(gone);
                    }
                }),
            ),
            (
                "short words",
                Box::new(|j| j["model"]["max_input_chars_per_word"] = 8.into()),
            ),
            (
                "other prefix",
                Box::new(|j| j["model"]["continuing_subword_prefix"] = "#".into()),
            ),
            (
                "extra literal added token",
                Box::new(|j| {
                    j["added_tokens"]
                        .as_array_mut()
                        .unwrap()
                        .push(serde_json::json!({
                            "id": 1996, "content": "the", "single_word": false, "lstrip": false,
                            "rstrip": false, "normalized": false, "special": false
                        }))
                }),
            ),
        ];
        for (name, edit) in edits {
            let (tokenizer, _dir) = variant(edit);
            assert!(tokenizer.fast_path(), "{name}: fast path off");
            let counts = compare(&tokenizer, &rows, &[512, 16, 5]);
            eprintln!("{name}: {counts:?}");
        }
    }

    #[test]
    fn other_tokenizers_have_no_fast_path() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "Lowercase normalizer",
                Box::new(|j| j["normalizer"] = serde_json::json!({"type": "Lowercase"})),
            ),
            (
                "normalizer sequence",
                Box::new(|j| {
                    let bert = j["normalizer"].clone();
                    j["normalizer"] = serde_json::json!({"type": "Sequence", "normalizers": [bert]})
                }),
            ),
            ("no normalizer", Box::new(|j| j["normalizer"] = Value::Null)),
            (
                "no clean_text",
                Box::new(|j| j["normalizer"]["clean_text"] = false.into()),
            ),
            (
                "Whitespace pre-tokenizer",
                Box::new(|j| j["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"})),
            ),
            (
                "BPE model",
                Box::new(|j| {
                    j["model"] = serde_json::json!({
                        "type": "BPE", "dropout": null, "unk_token": "[UNK]",
                        "continuing_subword_prefix": null, "end_of_word_suffix": null,
                        "fuse_unk": false, "byte_fallback": false,
                        "vocab": {"[UNK]": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]
                    })
                }),
            ),
            (
                "no post-processor",
                Box::new(|j| j["post_processor"] = Value::Null),
            ),
            (
                "RoBERTa post-processor",
                Box::new(|j| {
                    j["post_processor"] = serde_json::json!({
                        "type": "RobertaProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101],
                        "trim_offsets": true, "add_prefix_space": false
                    })
                }),
            ),
            (
                "normalized added token",
                Box::new(|j| j["added_tokens"][2]["normalized"] = true.into()),
            ),
            (
                "lstrip added token",
                Box::new(|j| j["added_tokens"][3]["lstrip"] = true.into()),
            ),
        ];
        for (name, edit) in edits {
            let (mut tokenizer, _dir) = variant(edit);
            assert!(!tokenizer.fast_path(), "{name}: fast path on");
            tokenizer.set_fast_path(true);
            assert!(!tokenizer.fast_path(), "{name}: fast path switched on");
        }
        let mut tokenizer = minilm();
        assert!(tokenizer.fast_path());
        tokenizer.set_fast_path(false);
        assert!(!tokenizer.fast_path());
        tokenizer.set_fast_path(true);
        assert!(tokenizer.fast_path());
    }
}
