//! Reading the files of a split into one Arrow table, with arrow's own readers.

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{DataError, Result, RowLocation};
use super::source::{Format, SplitSource};

/// Schema metadata key under which 🤗 Datasets stores its features (with `ClassLabel` names).
pub const HF_METADATA_KEY: &str = "huggingface";

/// A split as read from disk: every file's rows, concatenated, with the original columns.
#[derive(Debug, Clone)]
pub struct RawSplit {
    pub source: SplitSource,
    pub table: RecordBatch,
    /// `(file, rows)` in table order, to turn a table row back into a file row.
    pub file_rows: Vec<(PathBuf, usize)>,
    /// The `huggingface` metadata of the first parquet file that has it.
    pub hf_metadata: Option<String>,
}

impl RawSplit {
    pub fn num_rows(&self) -> usize {
        self.table.num_rows()
    }

    /// The file holding table row `row`, and where that row sits in the file as a user would
    /// look for it: the 1-based line of a csv/tsv/json-lines file, the 1-based row of a
    /// parquet file. Text files are re-read to find the line, so call this for errors only.
    pub fn locate(&self, row: usize) -> (PathBuf, RowLocation) {
        let mut start = 0;
        for (file, rows) in &self.file_rows {
            if row < start + rows {
                let index = row - start;
                return (file.clone(), locate_in_file(file, index));
            }
            start += rows;
        }
        let last = self.file_rows.last().map(|(f, _)| f.clone());
        (
            last.unwrap_or_else(|| PathBuf::from("?")),
            RowLocation::Row(row + 1),
        )
    }
}

/// Where record `index` (0-based, after any header) of `path` starts.
fn locate_in_file(path: &Path, index: usize) -> RowLocation {
    let line = match Format::from_path(path) {
        Ok(Format::Parquet) | Err(_) => return RowLocation::Row(index + 1),
        Ok(Format::Csv) => csv_record_line(path, index, true),
        Ok(Format::Tsv) => csv_record_line(path, index, false),
        Ok(Format::JsonLines) => json_record_line(path, index),
    };
    line.map_or(RowLocation::DataRow(index + 1), RowLocation::Line)
}

/// The 1-based line on which data record `index` of a csv/tsv file starts (the header is
/// record 0 of the file). Follows the reader's rules: blank lines hold no record, and with
/// `quoting` a field that starts with `"` runs to its closing quote, newlines included.
fn csv_record_line(path: &Path, index: usize, quoting: bool) -> Option<usize> {
    let reader = BufReader::new(File::open(path).ok()?);
    let delimiter = if quoting { b',' } else { b'\t' };
    let target = index + 1; // the header comes first
    let mut record = 0;
    let mut line = 1;
    let mut in_quotes = false;
    // Where a `"` opens a quoted field: at a field's start, or right after a closing quote
    // (`""` is an escaped quote).
    let mut quote_may_open = true;
    let mut record_started = false;
    for byte in reader.bytes() {
        let byte = byte.ok()?;
        if byte == b'\n' {
            line += 1;
        }
        if in_quotes {
            if byte == b'"' {
                in_quotes = false;
                quote_may_open = true;
            }
            continue;
        }
        match byte {
            b'\n' => {
                if record_started {
                    record += 1;
                    record_started = false;
                }
                quote_may_open = true;
                continue;
            }
            b'\r' => continue,
            _ => {}
        }
        if !record_started {
            if record == target {
                return Some(line);
            }
            record_started = true;
        }
        if quoting && byte == b'"' && quote_may_open {
            in_quotes = true;
        }
        quote_may_open = byte == delimiter;
    }
    None
}

/// The 1-based line on which JSON value `index` of a json-lines file starts.
fn json_record_line(path: &Path, index: usize) -> Option<usize> {
    let reader = BufReader::new(File::open(path).ok()?);
    let mut values =
        serde_json::Deserializer::from_reader(reader).into_iter::<serde::de::IgnoredAny>();
    for _ in 0..index {
        values.next()?.ok()?;
    }
    let end_of_previous = values.byte_offset();
    line_of_next_value(path, end_of_previous)
}

/// The line of the first non-whitespace byte at or after byte `offset` of `path`.
fn line_of_next_value(path: &Path, offset: usize) -> Option<usize> {
    let reader = BufReader::new(File::open(path).ok()?);
    let mut line = 1;
    for (position, byte) in reader.bytes().enumerate() {
        let byte = byte.ok()?;
        if position >= offset && !byte.is_ascii_whitespace() {
            return Some(line);
        }
        if byte == b'\n' {
            line += 1;
        }
    }
    None
}

/// Reads every file of `source`. All files must share their column names; types are unified
/// to the first file's where arrow can cast.
pub fn read_split(source: &SplitSource) -> Result<RawSplit> {
    let mut schema: Option<SchemaRef> = None;
    let mut batches = Vec::new();
    let mut file_rows = Vec::new();
    let mut hf_metadata = None;
    for path in &source.files {
        let (file_schema, file_batches) = read_file(path)?;
        if hf_metadata.is_none() {
            hf_metadata = file_schema.metadata().get(HF_METADATA_KEY).cloned();
        }
        let target = schema
            .get_or_insert_with(|| without_metadata(&file_schema))
            .clone();
        let mut rows = 0;
        for batch in file_batches {
            rows += batch.num_rows();
            batches.push(conform(path, batch, &target)?);
        }
        file_rows.push((path.clone(), rows));
    }
    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
    let table = arrow::compute::concat_batches(&schema, &batches).map_err(|err| {
        DataError::SchemaMismatch {
            path: source.files.first().cloned().unwrap_or_default(),
            message: err.to_string(),
        }
    })?;
    if table.num_rows() == 0 {
        return Err(DataError::EmptySplit {
            split: source.split.clone(),
            files: source.describe(),
        });
    }
    Ok(RawSplit {
        source: source.clone(),
        table,
        file_rows,
        hf_metadata,
    })
}

fn without_metadata(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(schema.fields().clone()))
}

/// Casts `batch` to `target`, so that files whose readers inferred other types still concatenate.
fn conform(path: &Path, batch: RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let mismatch = |message: String| DataError::SchemaMismatch {
        path: path.into(),
        message,
    };
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    if names(&batch.schema()) != names(target) {
        return Err(mismatch(format!(
            "columns {:?}, but the first file has {:?}",
            names(&batch.schema()),
            names(target)
        )));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            arrow::compute::cast(column, field.data_type()).map_err(|err| {
                mismatch(format!(
                    "column '{}' is {} here but {} in the first file: {err}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(target.clone(), columns).map_err(|err| mismatch(err.to_string()))
}

/// Reads one file whole; the schema keeps the file's metadata.
pub fn read_file(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let format = Format::from_path(path)?;
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let corrupt = |err: ArrowError| classify(path, format, err);
    match format {
        Format::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|err| {
                DataError::Corrupt {
                    path: path.into(),
                    format: format.name(),
                    message: err.to_string(),
                }
            })?;
            let schema = builder.schema().clone();
            let reader = builder.build().map_err(|err| DataError::Corrupt {
                path: path.into(),
                format: format.name(),
                message: err.to_string(),
            })?;
            let batches = reader.collect::<Result<Vec<_>, _>>().map_err(corrupt)?;
            Ok((schema, batches))
        }
        Format::Csv | Format::Tsv => {
            let mut csv_format = arrow::csv::reader::Format::default().with_header(true);
            if format == Format::Tsv {
                // TSV files (GLUE's among them) do not quote: a leading `"` is just text.
                csv_format = csv_format.with_delimiter(b'\t').with_quote(b'\0');
            }
            let mut reader = BufReader::new(file);
            let (schema, _) = csv_format
                .infer_schema(&mut reader, None)
                .map_err(corrupt)?;
            reader.rewind().map_err(|e| DataError::io(path, e))?;
            let schema = Arc::new(schema);
            let batches = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_format(csv_format)
                .build(reader)
                .map_err(corrupt)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(corrupt)?;
            Ok((schema, batches))
        }
        Format::JsonLines => {
            // Arrow's json errors give positions inside its own buffers ("line 1 column 24"
            // whatever the file line), so a failure is diagnosed again, line by line.
            let bad_json =
                |err: ArrowError| find_bad_json_line(path).unwrap_or_else(|| corrupt(err));
            let mut reader = BufReader::new(file);
            let (schema, _) =
                arrow::json::reader::infer_json_schema_from_seekable(&mut reader, None)
                    .map_err(bad_json)?;
            let schema = Arc::new(schema);
            let batches = arrow::json::ReaderBuilder::new(schema.clone())
                .build(reader)
                .map_err(bad_json)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad_json)?;
            Ok((schema, batches))
        }
    }
}

/// The first value of a json-lines file that is not a JSON object, as an error naming its
/// 1-based line; `None` when every value parses (the problem is elsewhere, e.g. types).
fn find_bad_json_line(path: &Path) -> Option<DataError> {
    let reader = BufReader::new(File::open(path).ok()?);
    let mut values = serde_json::Deserializer::from_reader(reader).into_iter::<serde_json::Value>();
    loop {
        let start = values.byte_offset();
        match values.next()? {
            Ok(value) if value.is_object() => continue,
            Ok(value) => {
                let kind = match value {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::Object(_) => "an object",
                };
                return Some(DataError::BadJsonLine {
                    path: path.into(),
                    line: line_of_next_value(path, start).unwrap_or(0),
                    message: format!("expected a JSON object per line, found {kind}"),
                });
            }
            Err(err) => {
                // serde_json's message ends in its own " at line L column C".
                let text = err.to_string();
                let message = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(message, _)| message);
                let (line, column) = (err.line(), err.column());
                return Some(
                    if message.contains("unicode") || message.contains("UTF-8") {
                        DataError::NonUtf8 {
                            path: path.into(),
                            message: format!("line {line}, column {column}: {message}"),
                        }
                    } else {
                        DataError::BadJsonLine {
                            path: path.into(),
                            line,
                            message: format!("not valid JSON: {message} (column {column})"),
                        }
                    },
                );
            }
        }
    }
}

/// Arrow reports bad text encoding as a generic parse error; users need to hear "UTF-8".
fn classify(path: &Path, format: Format, err: ArrowError) -> DataError {
    let message = err.to_string();
    if message.to_ascii_lowercase().contains("utf-8")
        || message.to_ascii_lowercase().contains("utf8")
    {
        DataError::NonUtf8 {
            path: path.into(),
            message,
        }
    } else {
        DataError::Corrupt {
            path: path.into(),
            format: format.name(),
            message,
        }
    }
}
