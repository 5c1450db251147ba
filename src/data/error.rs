use std::path::PathBuf;

/// Everything that can go wrong between "a dataset on disk" and "a batch of tensors".
///
/// Each variant names the file (and the row, where it is known) so that a user can fix the
/// input without reading Wick's source.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // The io error is part of the message, not a `#[source]`, so that chains print it once.
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a readable {format} file: {message}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{path}: unsupported file type (expected .parquet, .csv, .tsv, .jsonl or .json)")]
    UnknownFormat { path: PathBuf },
    #[error("no data files match {pattern}")]
    NoFiles { pattern: String },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    #[error("split '{split}' is empty ({files})")]
    EmptySplit { split: String, files: String },
    #[error("{path}: column '{column}' not found (columns: {available})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("{path}: could not guess the {role} column from {available}; name it explicitly")]
    CannotGuessColumn {
        path: PathBuf,
        role: &'static str,
        available: String,
    },
    #[error("{path}: column '{column}' holds {found}, not text")]
    NotText {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: text is not valid UTF-8: {message}")]
    NonUtf8 { path: PathBuf, message: String },
    #[error("{path}, {at}: column '{column}' is null; every row needs text")]
    NullText {
        path: PathBuf,
        at: RowLocation,
        column: String,
    },
    #[error("{path}, {at}: text in column '{column}' is not valid UTF-8: {message}")]
    NonUtf8Cell {
        path: PathBuf,
        at: RowLocation,
        column: String,
        message: String,
    },
    #[error("{path}, line {line}: {message}")]
    BadJsonLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}, {at}: label {label} is outside 0..{num_labels} ({names})")]
    LabelOutOfRange {
        path: PathBuf,
        at: RowLocation,
        label: i64,
        num_labels: usize,
        names: String,
    },
    #[error("{path}, {at}: label column '{column}' is null")]
    NullLabel {
        path: PathBuf,
        at: RowLocation,
        column: String,
    },
    #[error("{path}, {at}: '{column}' has {tags} tags for {words} words; every word needs one")]
    TagCountMismatch {
        path: PathBuf,
        at: RowLocation,
        column: String,
        tags: usize,
        words: usize,
    },
    #[error("{path}, {at}: '{column}' is empty; token classification needs a tag per word")]
    EmptyLabelList {
        path: PathBuf,
        at: RowLocation,
        column: String,
    },
    #[error("{path}, {at}: label {value} in '{column}' is not a number; regression needs one")]
    NotANumber {
        path: PathBuf,
        at: RowLocation,
        column: String,
        value: String,
    },
    #[error("{path}: label column '{column}' holds {found}; {needs}")]
    WrongLabelForm {
        path: PathBuf,
        column: String,
        found: String,
        /// What the task needs, in words ("regression needs a number per row").
        needs: &'static str,
    },
    #[error(
        "{path}: column '{column}' holds {found}, not a list of words per row, which token \
         classification reads"
    )]
    NotWordList {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: label column '{column}' has type {found}; expected integers or strings")]
    BadLabelType {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}, {at}: label '{label}' is not one of the known labels ({names})")]
    UnknownLabel {
        path: PathBuf,
        at: RowLocation,
        label: String,
        names: String,
    },
    #[error("{path}: the files of this split disagree on their columns: {message}")]
    SchemaMismatch { path: PathBuf, message: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("dataset cache {path}: {message}")]
    Cache { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Where a row sits in its file, counted the way the user would look for it. Every count is
/// 1-based, and the message says which kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLocation {
    /// The line of a csv, tsv or json-lines file, as an editor numbers it (a csv header is
    /// line 1, so the first data row is usually line 2).
    Line(usize),
    /// The row of a parquet file, the first being row 1.
    Row(usize),
    /// The data row after the header (the first being 1), when the file could not be re-read
    /// to find its line.
    DataRow(usize),
}

impl std::fmt::Display for RowLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowLocation::Line(line) => write!(f, "line {line}"),
            RowLocation::Row(row) => write!(f, "row {row} (counting from 1)"),
            RowLocation::DataRow(row) => {
                write!(f, "data row {row} (counting from 1 after the header)")
            }
        }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            error: source,
        }
    }
}
