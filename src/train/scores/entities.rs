//! Entity-level scores for token classification, as seqeval 1.2.2 computes them (the
//! course's chapter 7 and 🤗 `evaluate`'s "seqeval" metric).
//!
//! Two modes, as seqeval's:
//! - **lenient** (seqeval's default, conlleval's): entities come from `get_entities`, which
//!   reads B-/I-/E-/S- prefixes of any scheme at once, so an `I-` after `O` or after
//!   another type starts an entity (IOB1 and sloppy IOB2 predictions both count). The
//!   scheme does not change the result.
//! - **strict** (`mode="strict", scheme=...`): entities follow the scheme's patterns
//!   (an IOB2 entity must start with `B-`), and a prefix outside the scheme is an error.
//!
//! The callers drop the positions labelled -100 before turning ids into tag names.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::{ScoreError, ratio};
pub use crate::data::tags::{entity_types, tag_parts};

/// How tags mark where entities begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TagScheme {
    /// `I-` everywhere; `B-` only between two adjacent entities of one type (CoNLL-2003's
    /// original files).
    Iob1,
    /// Every entity starts with `B-` (HF's conll2003).
    Iob2,
    /// `B-`, `I-`, `E-` (end) and `S-` (single-token entity).
    Iobes,
}

/// One entity in a tag sequence: tokens `start..end` (end exclusive) of type `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

/// One entity type's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold entities of this type.
    pub support: usize,
    /// Predicted entities of this type.
    pub predicted: usize,
}

/// Entity-level scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    /// Micro-averaged over entity types (seqeval's default `precision_score`).
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Share of tokens whose tag is right, `O` included (seqeval's `accuracy_score`).
    pub token_accuracy: f64,
    /// Every type found in the gold or the predicted tags, by name.
    pub per_type: BTreeMap<String, TypeScores>,
    /// Gold entities, predicted entities, and those predicted exactly (type and span).
    pub gold_entities: usize,
    pub predicted_entities: usize,
    pub correct_entities: usize,
    pub num_tokens: usize,
    pub scheme: TagScheme,
    pub strict: bool,
}

/// seqeval's default scores (lenient entities; `scheme` does not change them, see the
/// module doc). Rows must pair up tag for tag.
pub fn entity_scores(
    gold: &[Vec<String>],
    predicted: &[Vec<String>],
    scheme: TagScheme,
) -> Result<EntityReport, ScoreError> {
    entity_scores_with(gold, predicted, scheme, false)
}

/// [`entity_scores`], or with `strict` seqeval's `mode="strict", scheme=...`, where a
/// tag whose prefix the scheme does not allow is an error naming its row and position.
pub fn entity_scores_with(
    gold: &[Vec<String>],
    predicted: &[Vec<String>],
    scheme: TagScheme,
    strict: bool,
) -> Result<EntityReport, ScoreError> {
    const WHAT: &str = "entity_scores";
    if gold.len() != predicted.len() {
        return Err(ScoreError::CountMismatch {
            what: WHAT,
            left: "gold rows",
            left_len: gold.len(),
            right: "predicted rows",
            right_len: predicted.len(),
        });
    }
    for (row, (g, p)) in gold.iter().zip(predicted).enumerate() {
        if g.len() != p.len() {
            return Err(ScoreError::RowLengthMismatch {
                what: WHAT,
                row,
                expected: g.len(),
                expected_of: "gold tags",
                found: p.len(),
                found_of: "predicted tags",
            });
        }
    }
    let num_tokens: usize = gold.iter().map(Vec::len).sum();
    if num_tokens == 0 {
        return Err(ScoreError::Empty { what: WHAT });
    }
    let correct_tokens = gold
        .iter()
        .zip(predicted)
        .flat_map(|(g, p)| g.iter().zip(p))
        .filter(|(g, p)| g == p)
        .count();

    let (gold_set, predicted_set) = if strict {
        (
            strict_entity_set(gold, scheme, "gold")?,
            strict_entity_set(predicted, scheme, "predicted")?,
        )
    } else {
        (lenient_entity_set(gold), lenient_entity_set(predicted))
    };

    let kinds: BTreeSet<&str> = gold_set
        .iter()
        .chain(&predicted_set)
        .map(|(_, e)| e.kind.as_str())
        .collect();
    let mut per_type = BTreeMap::new();
    let (mut all_gold, mut all_predicted, mut all_correct) = (0, 0, 0);
    for kind in kinds {
        let support = gold_set.iter().filter(|(_, e)| e.kind == kind).count();
        let predicted = predicted_set.iter().filter(|(_, e)| e.kind == kind).count();
        let correct = gold_set
            .iter()
            .filter(|found| found.1.kind == kind && predicted_set.contains(*found))
            .count();
        let (precision, recall, f1) = precision_recall_f1(correct, predicted, support);
        per_type.insert(
            kind.to_string(),
            TypeScores {
                precision,
                recall,
                f1,
                support,
                predicted,
            },
        );
        all_gold += support;
        all_predicted += predicted;
        all_correct += correct;
    }
    let (precision, recall, f1) = precision_recall_f1(all_correct, all_predicted, all_gold);
    Ok(EntityReport {
        precision,
        recall,
        f1,
        token_accuracy: correct_tokens as f64 / num_tokens as f64,
        per_type,
        gold_entities: all_gold,
        predicted_entities: all_predicted,
        correct_entities: all_correct,
        num_tokens,
        scheme,
        strict,
    })
}

/// seqeval's `_precision_recall_fscore_support` for one set of counts, zero division 0.
fn precision_recall_f1(correct: usize, predicted: usize, gold: usize) -> (f64, f64, f64) {
    let precision = ratio(correct as f64, predicted as f64);
    let recall = ratio(correct as f64, gold as f64);
    let f1 = ratio(2.0 * precision * recall, precision + recall);
    (precision, recall, f1)
}

/// The entities of one tag sequence as seqeval's lenient `get_entities` reads them (for
/// the Playground and the Runs diff). `scheme` is taken for symmetry with the scores; the
/// lenient reading is the same for every scheme.
pub fn entity_spans(tags: &[String], scheme: TagScheme) -> Vec<Entity> {
    let _ = scheme; // lenient entities do not depend on the scheme (module doc)
    lenient_chunks(tags.iter().map(String::as_str))
        .into_iter()
        .map(|(kind, start, last)| Entity {
            kind: kind.to_string(),
            start,
            end: last + 1,
        })
        .collect()
}

/// IOBES when some label starts with `E-` or `S-`, else IOB2 (IOB1 looks like IOB2 by
/// its names; only its data tells them apart, and lenient scores read both alike).
pub fn guess_scheme(label_names: &[String]) -> TagScheme {
    if label_names
        .iter()
        .any(|name| matches!(tag_parts(name).0, Some('E' | 'S')))
    {
        TagScheme::Iobes
    } else {
        TagScheme::Iob2
    }
}

/// All rows' lenient entities. seqeval joins the rows with an `O` between them and reads
/// one long sequence; doing the same keeps even odd tags (a bare `X`) exactly its way.
/// Entities carry offsets into that joined sequence, which identify (row, span), so the
/// row part of [`EntitySet`] is 0.
fn lenient_entity_set(rows: &[Vec<String>]) -> EntitySet {
    let joined = rows
        .iter()
        .flat_map(|row| row.iter().map(String::as_str).chain(std::iter::once("O")));
    lenient_chunks(joined)
        .into_iter()
        .map(|(kind, start, last)| {
            let entity = Entity {
                kind: kind.to_string(),
                start,
                end: last + 1,
            };
            (0, entity)
        })
        .collect()
}

/// Entities identified by (row, entity).
type EntitySet = HashSet<(usize, Entity)>;

/// seqeval's `get_entities` (prefix form): `(type, first, last)` with `last` inclusive.
/// A tag's prefix is its first character and its type what follows the first `-` after
/// it (`_` when empty); an empty tag reads as `O`.
fn lenient_chunks<'a>(tags: impl Iterator<Item = &'a str>) -> Vec<(&'a str, usize, usize)> {
    let mut chunks = Vec::new();
    let (mut prev_tag, mut prev_type) = ('O', "");
    let mut begin = 0;
    // seqeval appends one `O` so that a final entity ends.
    for (i, chunk) in tags.chain(std::iter::once("O")).enumerate() {
        let (tag, kind) = lenient_parts(chunk);
        if end_of_chunk(prev_tag, tag, prev_type, kind) {
            chunks.push((prev_type, begin, i - 1));
        }
        if start_of_chunk(prev_tag, tag, prev_type, kind) {
            begin = i;
        }
        prev_tag = tag;
        prev_type = kind;
    }
    chunks
}

/// A tag as `get_entities` reads it: [`tag_parts`] for every well-formed tag; other tags
/// (`O`, a bare `X`, `B-`) the way seqeval splits them, so that even those score as seqeval
/// scores them.
fn lenient_parts(chunk: &str) -> (char, &str) {
    if let (Some(prefix), kind) = tag_parts(chunk) {
        return (prefix, kind);
    }
    let Some(tag) = chunk.chars().next() else {
        return ('O', "_");
    };
    let rest = &chunk[tag.len_utf8()..];
    let kind = rest.split_once('-').map_or(rest, |(_, after)| after);
    (tag, if kind.is_empty() { "_" } else { kind })
}

/// seqeval's `end_of_chunk`: whether an entity ended on the previous token.
fn end_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(prev_tag, 'E' | 'S')
        || matches!((prev_tag, tag), ('B' | 'I', 'B' | 'S' | 'O'))
        || (prev_tag != 'O' && prev_tag != '.' && prev_type != kind)
}

/// seqeval's `start_of_chunk`: whether an entity starts on this token.
fn start_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || matches!((prev_tag, tag), ('E' | 'S' | 'O', 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_type != kind)
}

/// A tag's prefix in strict mode (seqeval's `Prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    I,
    O,
    B,
    E,
    S,
}

struct StrictToken<'a> {
    prefix: Prefix,
    kind: &'a str,
}

const OUTSIDE: StrictToken<'static> = StrictToken {
    prefix: Prefix::O,
    kind: "_",
};

impl TagScheme {
    fn allowed(self) -> &'static str {
        match self {
            TagScheme::Iob1 | TagScheme::Iob2 => "B, I, O",
            TagScheme::Iobes => "B, I, E, S, O",
        }
    }

    /// seqeval's `Token`: prefix = first character, type = the rest without surrounding
    /// `-` (`_` when empty). `None` when the scheme does not allow the prefix.
    fn parse(self, token: &str) -> Option<StrictToken<'_>> {
        let (first, kind) = match tag_parts(token) {
            (Some(prefix), kind) => (prefix, kind),
            // Not a well-formed tag (`O`, `B-`, `BX`): seqeval's own split.
            (None, _) => {
                let first = token.chars().next()?;
                (first, &token[first.len_utf8()..])
            }
        };
        let kind = kind.trim_matches('-');
        let prefix = match first {
            'I' => Prefix::I,
            'O' => Prefix::O,
            'B' => Prefix::B,
            'E' | 'S' if self != TagScheme::Iobes => return None,
            'E' => Prefix::E,
            'S' => Prefix::S,
            _ => return None,
        };
        Some(StrictToken {
            prefix,
            kind: if kind.is_empty() { "_" } else { kind },
        })
    }

    /// seqeval's `start_patterns`: whether `cur` starts an entity after `prev`.
    fn is_start(self, prev: &StrictToken, cur: &StrictToken) -> bool {
        use Prefix::*;
        let same = prev.kind == cur.kind;
        match self {
            TagScheme::Iob1 => match (prev.prefix, cur.prefix) {
                (O | B, I) => true,
                (I, I) => !same,
                (I | B, B) => same,
                _ => false,
            },
            TagScheme::Iob2 => cur.prefix == B,
            TagScheme::Iobes => matches!(cur.prefix, B | S),
        }
    }

    /// seqeval's `inside_patterns`: whether `cur` continues the entity `prev` is in.
    fn is_inside(self, prev: &StrictToken, cur: &StrictToken) -> bool {
        use Prefix::*;
        let same = prev.kind == cur.kind;
        match self {
            TagScheme::Iob1 | TagScheme::Iob2 => {
                same && matches!((prev.prefix, cur.prefix), (B | I, I))
            }
            TagScheme::Iobes => same && matches!((prev.prefix, cur.prefix), (B | I, I | E)),
        }
    }

    /// seqeval's `end_patterns`: whether the entity that `prev` closes really ends there,
    /// given the next token `cur`.
    fn is_end(self, prev: &StrictToken, cur: &StrictToken) -> bool {
        use Prefix::*;
        let same = prev.kind == cur.kind;
        match self {
            TagScheme::Iob1 => match (prev.prefix, cur.prefix) {
                (I, O | B) | (B, O) => true,
                (I | B, I) => !same,
                (B, B) => same,
                _ => false,
            },
            TagScheme::Iob2 => match (prev.prefix, cur.prefix) {
                (I, O | B) | (B, O | B) => true,
                (I | B, I) => !same,
                _ => false,
            },
            TagScheme::Iobes => matches!(prev.prefix, S | E),
        }
    }
}

/// All rows' strict entities, as seqeval's `Entities`: offsets within each row, the row
/// part of the identity.
fn strict_entity_set(
    rows: &[Vec<String>],
    scheme: TagScheme,
    of: &'static str,
) -> Result<EntitySet, ScoreError> {
    let mut set = HashSet::new();
    for (row, tags) in rows.iter().enumerate() {
        let mut tokens = Vec::with_capacity(tags.len() + 1);
        for (position, tag) in tags.iter().enumerate() {
            let token = scheme.parse(tag).ok_or_else(|| ScoreError::InvalidTag {
                of,
                row,
                position,
                tag: tag.clone(),
                scheme,
                allowed: scheme.allowed(),
            })?;
            tokens.push(token);
        }
        tokens.push(OUTSIDE);
        for entity in strict_entities(&tokens, scheme) {
            set.insert((row, entity));
        }
    }
    Ok(set)
}

/// seqeval's `Tokens.entities` over one row that ends with the extra `O`.
fn strict_entities(tokens: &[StrictToken], scheme: TagScheme) -> Vec<Entity> {
    let mut entities = Vec::new();
    let mut i = 0;
    let mut prev = &OUTSIDE;
    while i < tokens.len() {
        let token = &tokens[i];
        if scheme.is_start(prev, token) {
            // The final `O` is never inside an entity, so this stops within the row.
            let mut end = i + 1;
            while end < tokens.len() && scheme.is_inside(&tokens[end - 1], &tokens[end]) {
                end += 1;
            }
            if end < tokens.len() && scheme.is_end(&tokens[end - 1], &tokens[end]) {
                entities.push(Entity {
                    kind: token.kind.to_string(),
                    start: i,
                    end,
                });
            }
            i = end;
        } else {
            i += 1;
        }
        prev = &tokens[i - 1];
    }
    entities
}

#[cfg(test)]
#[path = "entities_tests.rs"]
mod tests;
