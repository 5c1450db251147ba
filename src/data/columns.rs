//! Which columns hold the text, the optional second text, and the label.

use serde::{Deserialize, Serialize};

use super::error::{DataError, Result};
use super::read::RawSplit;

/// Column roles; a caller may name any of them, the rest are guessed from the column names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnOverrides {
    pub text: Option<String>,
    pub text_pair: Option<String>,
    pub label: Option<String>,
}

/// The resolved mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct ColumnMapping {
    pub text: String,
    pub text_pair: Option<String>,
    pub label: String,
}

/// Pairs of columns that the GLUE/SuperGLUE-style datasets use for two-text tasks, tried in
/// order when no text column is named (the Accelerate export writes the same lists).
pub const GUESSED_TEXT_PAIRS: &[(&str, &str)] = &[
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("question", "sentence"),
    ("question", "passage"),
    ("sentence_a", "sentence_b"),
    ("text_a", "text_b"),
];
/// Single-text column names, most specific first.
pub const GUESSED_TEXT_COLUMNS: &[&str] = &[
    "text", "sentence", "question", "content", "review", "document",
];
/// Label column names, tried in order when no label column is named.
pub const GUESSED_LABEL_COLUMNS: &[&str] = &["label", "labels"];

impl ColumnMapping {
    /// Guesses the roles from `columns`, then applies `overrides`. Every named column must exist.
    pub fn resolve(split: &RawSplit, overrides: &ColumnOverrides) -> Result<Self> {
        let schema = split.table.schema();
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let path = split.source.files.first().cloned().unwrap_or_default();
        let available = columns.join(", ");
        let has = |name: &str| columns.contains(&name);
        let check = |name: &String| {
            if has(name) {
                Ok(name.clone())
            } else {
                Err(DataError::MissingColumn {
                    path: path.clone(),
                    column: name.clone(),
                    available: available.clone(),
                })
            }
        };

        let guessed_pair = GUESSED_TEXT_PAIRS.iter().find(|(a, b)| has(a) && has(b));
        let (text, text_pair) = match (&overrides.text, &overrides.text_pair) {
            (Some(text), pair) => (check(text)?, pair.as_ref().map(check).transpose()?),
            (None, Some(pair)) => {
                // A second text without the first makes no sense to guess around.
                return Err(DataError::Invalid(format!(
                    "text_pair_column '{pair}' is set but text_column is not"
                )));
            }
            (None, None) => match guessed_pair {
                Some((a, b)) => (a.to_string(), Some(b.to_string())),
                None => {
                    let single = GUESSED_TEXT_COLUMNS
                        .iter()
                        .find(|c| has(c))
                        .ok_or_else(|| DataError::CannotGuessColumn {
                            path: path.clone(),
                            role: "text",
                            available: available.clone(),
                        })?;
                    (single.to_string(), None)
                }
            },
        };
        let label = match &overrides.label {
            Some(label) => check(label)?,
            None => GUESSED_LABEL_COLUMNS
                .iter()
                .find(|c| has(c))
                .map(|c| c.to_string())
                .ok_or_else(|| DataError::CannotGuessColumn {
                    path: path.clone(),
                    role: "label",
                    available: available.clone(),
                })?,
        };
        Ok(ColumnMapping {
            text,
            text_pair,
            label,
        })
    }
}
