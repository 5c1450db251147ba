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
/// Single-text column names, most specific first; then word lists (token classification).
pub const GUESSED_TEXT_COLUMNS: &[&str] = &[
    "text", "sentence", "question", "content", "review", "document", "tokens", "words",
];
/// Label column names, tried in order when no label column is named.
pub const GUESSED_LABEL_COLUMNS: &[&str] = &[
    "label",
    "labels",
    "sentiment",
    "target",
    "class",
    "category",
    "ner_tags",
    "tags",
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::SplitSource;

    fn split_with(columns: &[&str]) -> RawSplit {
        use arrow::array::{ArrayRef, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect();
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|_| std::sync::Arc::new(StringArray::from(vec!["x"])) as ArrayRef)
            .collect();
        let table =
            arrow::array::RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), arrays)
                .unwrap();
        RawSplit {
            table,
            source: SplitSource {
                files: vec!["reviews.csv".into()],
                split: "train".into(),
                config: None,
                card_features: None,
            },
            file_rows: Vec::new(),
            hf_metadata: None,
        }
    }

    #[test]
    fn common_review_and_label_names_are_guessed() {
        for (text, label) in [
            ("review", "sentiment"),
            ("content", "target"),
            ("text", "class"),
            ("review", "category"),
        ] {
            let split = split_with(&["id", text, label]);
            let mapping = ColumnMapping::resolve(&split, &ColumnOverrides::default()).unwrap();
            assert_eq!(mapping.text, text);
            assert_eq!(mapping.label, label);
        }
        // `label` still comes first when both are there.
        let split = split_with(&["review", "sentiment", "label"]);
        let mapping = ColumnMapping::resolve(&split, &ColumnOverrides::default()).unwrap();
        assert_eq!(mapping.label, "label");
    }
}
