//! Reading the files of a split into one Arrow table, with arrow's own readers.

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{DataError, Result};
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

    /// The file holding table row `row`, and the row's index inside that file.
    pub fn locate(&self, row: usize) -> (&Path, usize) {
        let mut start = 0;
        for (file, rows) in &self.file_rows {
            if row < start + rows {
                return (file, row - start);
            }
            start += rows;
        }
        let last = self.file_rows.last().map(|(f, _)| f.as_path());
        (last.unwrap_or(Path::new("?")), row)
    }
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
            let mut reader = BufReader::new(file);
            let (schema, _) =
                arrow::json::reader::infer_json_schema_from_seekable(&mut reader, None)
                    .map_err(corrupt)?;
            let schema = Arc::new(schema);
            let batches = arrow::json::ReaderBuilder::new(schema.clone())
                .build(reader)
                .map_err(corrupt)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(corrupt)?;
            Ok((schema, batches))
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
