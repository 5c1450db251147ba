//! The data pipeline end to end: every format, column guessing, label names, bad input,
//! cache behaviour, and collation against the 🤗 reference ids.

use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wick::data::{
    self, CacheStatus, Collator, ColumnOverrides, DataError, DatasetCache, LabelSource, Order,
    Padding, SplitRequest, TextTokenizer, TokenizeOptions, TokenizedSplit,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn tokenizer() -> TextTokenizer {
    TextTokenizer::load(&fixtures().join("minilm-tokenizer")).expect("fixture tokenizer loads")
}

fn request(data: &Path) -> SplitRequest {
    SplitRequest {
        data: data.display().to_string(),
        split: "train".into(),
        ..SplitRequest::default()
    }
}

fn prepare(req: &SplitRequest) -> Result<TokenizedSplit, DataError> {
    data::prepare_split(
        req,
        &tokenizer(),
        &TokenizeOptions::default(),
        None,
        &|_, _| {},
    )
}

fn prepare_cached(
    req: &SplitRequest,
    cache: &DatasetCache,
    max_length: Option<usize>,
) -> TokenizedSplit {
    let options = TokenizeOptions {
        max_length,
        ..TokenizeOptions::default()
    };
    data::prepare_split(req, &tokenizer(), &options, Some(cache), &|_, _| {}).expect("prepares")
}

fn string_array(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Writes a parquet file with optional schema metadata (where 🤗 Datasets keeps ClassLabel).
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, metadata: Option<&str>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let mut meta = HashMap::new();
    if let Some(json) = metadata {
        meta.insert(data::HF_METADATA_KEY.to_string(), json.to_string());
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, meta));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

const CLASS_LABEL_META: &str = r#"{"info": {"features": {"sentence1": {"dtype": "string", "_type": "Value"}, "sentence2": {"dtype": "string", "_type": "Value"}, "label": {"names": ["no", "yes"], "_type": "ClassLabel"}}}}"#;

fn pair_parquet(path: &Path, labels: Vec<i64>, metadata: Option<&str>) {
    let n = labels.len();
    let first: Vec<String> = (0..n)
        .map(|i| format!("the first sentence number {i}"))
        .collect();
    let second: Vec<String> = (0..n)
        .map(|i| format!("and a second one, {i} again"))
        .collect();
    write_parquet(
        path,
        vec![
            ("sentence1", Arc::new(StringArray::from(first)) as ArrayRef),
            ("sentence2", Arc::new(StringArray::from(second))),
            ("label", Arc::new(Int64Array::from(labels))),
        ],
        metadata,
    );
}

#[test]
fn reads_each_format_with_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("train.parquet");
    write_parquet(
        &parquet,
        vec![
            (
                "text",
                string_array(&[Some("a good film"), Some("\"quoted\" start")]),
            ),
            ("label", string_array(&[Some("pos"), Some("neg")])),
        ],
        None,
    );
    let csv = dir.path().join("train.csv");
    std::fs::write(
        &csv,
        "text,label\na good film,pos\n\"\"\"quoted\"\" start\",neg\n",
    )
    .unwrap();
    // TSV is not quoted: the leading quote is part of the text, as in GLUE's own files.
    let tsv = dir.path().join("train.tsv");
    std::fs::write(
        &tsv,
        "text\tlabel\na good film\tpos\n\"quoted\" start\tneg\n",
    )
    .unwrap();
    let jsonl = dir.path().join("train.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\": \"a good film\", \"label\": \"pos\"}\n{\"text\": \"\\\"quoted\\\" start\", \"label\": \"neg\"}\n",
    )
    .unwrap();

    let reference = prepare(&request(&parquet)).unwrap();
    assert_eq!(reference.len(), 2);
    assert_eq!(reference.meta.labels.names, vec!["neg", "pos"]);
    assert_eq!(reference.meta.labels.source, LabelSource::DistinctStrings);
    assert_eq!(reference.label_ids(), Some(&[1, 0][..]));
    for file in [&csv, &tsv, &jsonl] {
        let split = prepare(&request(file)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            split.meta.mapping,
            reference.meta.mapping,
            "{}",
            file.display()
        );
        assert_eq!(
            split.label_ids(),
            reference.label_ids(),
            "{}",
            file.display()
        );
        for row in 0..2 {
            assert_eq!(
                split.ids(row),
                reference.ids(row),
                "{} row {row}",
                file.display()
            );
        }
    }
    // The original columns stay next to the new ones.
    let names: Vec<String> = reference
        .table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "text",
            "label",
            "input_ids",
            "token_type_ids",
            "attention_mask",
            "wick_labels"
        ]
    );
}

#[test]
fn a_glob_concatenates_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    pair_parquet(
        &dir.path().join("mrpc/train-00000-of-00002.parquet"),
        vec![0, 1, 1],
        Some(CLASS_LABEL_META),
    );
    pair_parquet(
        &dir.path().join("mrpc/train-00001-of-00002.parquet"),
        vec![0, 0],
        Some(CLASS_LABEL_META),
    );
    let glob = dir.path().join("mrpc/train-*");
    let split = prepare(&request(&glob)).unwrap();
    assert_eq!(split.label_ids(), Some(&[0, 1, 1, 0, 0][..]));
    assert_eq!(split.meta.files.len(), 2);
}

#[test]
fn hub_folder_by_card_configs_and_by_file_naming() {
    // The card's `configs:` decide which files make which split.
    let glue = fixtures().join("glue");
    let mut req = request(&glue);
    req.config = Some("mrpc".into());
    req.split = "validation".into();
    let split = prepare(&req).unwrap();
    assert_eq!(split.len(), 408);
    assert_eq!(
        split.meta.labels.names,
        vec!["not_equivalent", "equivalent"]
    );
    // A missing split names the ones there are.
    req.split = "test".into();
    let err = prepare(&req).unwrap_err().to_string();
    assert!(
        err.contains("no split 'test'") && err.contains("validation"),
        "{err}"
    );

    // Without a card: `{config}/{split}-NNNNN-of-NNNNN.parquet` ...
    let dir = tempfile::tempdir().unwrap();
    pair_parquet(
        &dir.path().join("cola/train-00000-of-00001.parquet"),
        vec![1, 0],
        None,
    );
    pair_parquet(
        &dir.path().join("cola/validation-00000-of-00001.parquet"),
        vec![1],
        None,
    );
    let mut req = request(dir.path());
    req.config = Some("cola".into());
    assert_eq!(prepare(&req).unwrap().len(), 2);
    req.config = None; // the only config is found on its own
    req.split = "validation".into();
    assert_eq!(prepare(&req).unwrap().len(), 1);
    assert_eq!(
        data::list_configs(dir.path()).unwrap(),
        vec![(
            "cola".to_string(),
            vec!["train".to_string(), "validation".to_string()]
        )]
    );

    // ... and `data/{split}-*`.
    let dir = tempfile::tempdir().unwrap();
    pair_parquet(
        &dir.path().join("data/train-00000-of-00001.parquet"),
        vec![0, 1, 0],
        None,
    );
    assert_eq!(prepare(&request(dir.path())).unwrap().len(), 3);
}

#[test]
fn columns_are_guessed_and_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qnli.csv");
    std::fs::write(
        &file,
        "idx,question,sentence,labels,other\n0,what?,this.,1,x\n1,who?,that.,0,y\n",
    )
    .unwrap();
    let split = prepare(&request(&file)).unwrap();
    assert_eq!(split.meta.mapping.text, "question");
    assert_eq!(split.meta.mapping.text_pair.as_deref(), Some("sentence"));
    assert_eq!(split.meta.mapping.label, "labels");

    let mut req = request(&file);
    req.columns = ColumnOverrides {
        text: Some("other".into()),
        text_pair: None,
        label: Some("idx".into()),
    };
    let split = prepare(&req).unwrap();
    assert_eq!(split.meta.mapping.text, "other");
    assert_eq!(split.meta.mapping.text_pair, None);
    assert_eq!(split.label_ids(), Some(&[0, 1][..]));

    req.columns.text = Some("nope".into());
    let err = prepare(&req).unwrap_err();
    assert!(
        matches!(err, DataError::MissingColumn { ref column, .. } if column == "nope"),
        "{err}"
    );
    assert!(err.to_string().contains("qnli.csv"), "{err}");
}

#[test]
fn class_label_names_from_parquet_metadata_and_from_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.parquet");
    pair_parquet(&file, vec![0, 1, 1], Some(CLASS_LABEL_META));
    let split = prepare(&request(&file)).unwrap();
    assert_eq!(split.meta.labels.names, vec!["no", "yes"]);
    assert_eq!(split.meta.labels.source, LabelSource::ParquetMetadata);
    assert_eq!(split.class_balance(), vec![1, 2]);

    let folder = tempfile::tempdir().unwrap();
    pair_parquet(
        &folder.path().join("data/train-00000-of-00001.parquet"),
        vec![2, 0],
        None,
    );
    std::fs::write(
        folder.path().join("README.md"),
        "---\ndataset_info:\n  features:\n  - name: sentence1\n    dtype: string\n  - name: label\n    dtype:\n      class_label:\n        names:\n          '0': a\n          '1': b\n          '2': c\n---\n",
    )
    .unwrap();
    let split = prepare(&request(folder.path())).unwrap();
    assert_eq!(split.meta.labels.names, vec!["a", "b", "c"]);
    assert_eq!(split.meta.labels.source, LabelSource::DatasetCard);
    assert_eq!(split.class_balance(), vec![1, 0, 1]);
}

#[test]
fn bad_input_is_an_error_that_names_the_file_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let check = |path: &Path, expect: &[&str]| {
        let err = prepare(&request(path))
            .expect_err("bad input must fail")
            .to_string();
        for needle in expect {
            assert!(err.contains(needle), "'{err}' should mention '{needle}'");
        }
    };

    check(
        &dir.path().join("missing.parquet"),
        &["missing.parquet", "no such file"],
    );

    let corrupt = dir.path().join("corrupt.parquet");
    std::fs::write(&corrupt, b"PAR1 this is not parquet at all").unwrap();
    check(&corrupt, &["corrupt.parquet", "parquet"]);

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "text,label\n").unwrap();
    check(&empty, &["empty", "empty.csv"]);

    let no_label = dir.path().join("nolabel.csv");
    std::fs::write(&no_label, "text,score\nhello,1\n").unwrap();
    check(&no_label, &["nolabel.csv", "label"]);

    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"text,label\ncaf\xe9 au lait,1\n").unwrap();
    check(&latin1, &["latin1.csv", "UTF-8"]);

    let binary = dir.path().join("binary.parquet");
    write_parquet(
        &binary,
        vec![
            (
                "text",
                Arc::new(BinaryArray::from(vec![&b"fine"[..], &b"caf\xe9"[..]])) as ArrayRef,
            ),
            ("label", Arc::new(Int64Array::from(vec![0, 1]))),
        ],
        None,
    );
    check(&binary, &["binary.parquet", "row 2", "UTF-8"]);

    let out_of_range = dir.path().join("range.parquet");
    pair_parquet(&out_of_range, vec![0, 1, 7], Some(CLASS_LABEL_META));
    check(
        &out_of_range,
        &["range.parquet", "row 3", "label 7", "0..2"],
    );
    pair_parquet(&out_of_range, vec![0, -1], Some(CLASS_LABEL_META));
    check(&out_of_range, &["row 2", "label -1"]);

    let null_text = dir.path().join("null.jsonl");
    std::fs::write(
        &null_text,
        "{\"text\": \"ok\", \"label\": 0}\n{\"text\": null, \"label\": 1}\n",
    )
    .unwrap();
    check(&null_text, &["null.jsonl", "line 2", "'text' is null"]);

    let unknown = dir.path().join("data.xlsx");
    std::fs::write(&unknown, "x").unwrap();
    check(&unknown, &["data.xlsx", "unsupported"]);
}

#[test]
fn very_long_rows_are_truncated_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.jsonl");
    let long = "word ".repeat(200_000);
    std::fs::write(
        &file,
        format!("{{\"sentence1\": \"{long}\", \"sentence2\": \"short\", \"label\": 0}}\n"),
    )
    .unwrap();
    let options = TokenizeOptions {
        max_length: Some(32),
        ..TokenizeOptions::default()
    };
    let split =
        data::prepare_split(&request(&file), &tokenizer(), &options, None, &|_, _| {}).unwrap();
    assert_eq!(split.ids(0).len(), 32);
    // Longest-first truncation keeps the short second text whole: [SEP] short [SEP] at the end.
    let tail: Vec<String> = split.ids(0)[29..]
        .iter()
        .map(|&id| tokenizer().piece(id))
        .collect();
    assert_eq!(tail, ["[SEP]", "short", "[SEP]"]);
}

#[test]
fn cache_hits_misses_and_survives_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.parquet");
    pair_parquet(&file, vec![0, 1, 1, 0], Some(CLASS_LABEL_META));
    let cache = DatasetCache::in_datasets_cache(&dir.path().join("datasets"));
    let req = request(&file);

    let first = prepare_cached(&req, &cache, None);
    assert!(
        matches!(first.cache, CacheStatus::Miss { reason: None, .. }),
        "{:?}",
        first.cache
    );
    let second = prepare_cached(&req, &cache, None);
    assert!(second.cache.is_hit(), "{:?}", second.cache);
    assert_eq!(second.meta, first.meta);
    for row in 0..4 {
        assert_eq!(second.ids(row), first.ids(row));
        assert_eq!(second.type_ids(row), first.type_ids(row));
    }
    assert_eq!(second.label_ids(), first.label_ids());

    // Another parameter is another entry.
    assert!(!prepare_cached(&req, &cache, Some(16)).cache.is_hit());
    // A changed input file is a miss.
    pair_parquet(&file, vec![1, 1, 1, 0], Some(CLASS_LABEL_META));
    let changed = prepare_cached(&req, &cache, None);
    assert!(!changed.cache.is_hit());
    assert_eq!(changed.label_ids(), Some(&[1, 1, 1, 0][..]));

    // A torn file under the final name (as if a crash hit a non-atomic writer) is never
    // read as valid: it is a miss with a reason, and gets rewritten.
    let path = match &changed.cache {
        CacheStatus::Miss { path, .. } => path.clone(),
        other => panic!("{other:?}"),
    };
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 9] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let again = prepare_cached(&req, &cache, None);
        assert!(
            matches!(
                &again.cache,
                CacheStatus::Miss {
                    reason: Some(_),
                    ..
                }
            ),
            "cut at {cut}: {:?}",
            again.cache
        );
        assert_eq!(again.label_ids(), Some(&[1, 1, 1, 0][..]));
        assert!(prepare_cached(&req, &cache, None).cache.is_hit());
    }
    // A temporary file left by a killed writer is never taken for an entry.
    std::fs::write(
        cache.dir().join(".deadbeef.123.456.tmp"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    assert!(prepare_cached(&req, &cache, None).cache.is_hit());
}

#[test]
fn collator_matches_data_collator_with_padding_on_mrpc() {
    #[derive(serde::Deserialize)]
    struct Reference {
        input_ids: Vec<Vec<u32>>,
        attention_mask: Vec<Vec<u32>>,
        token_type_ids: Vec<Vec<u32>>,
    }
    let reference: Reference = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("mrpc-validation-first8-ids.json")).unwrap(),
    )
    .unwrap();
    let mut req = request(&fixtures().join("glue"));
    req.config = Some("mrpc".into());
    req.split = "validation".into();
    let split = prepare(&req).unwrap();
    let collator = Collator::new(&tokenizer(), split.meta.max_length);
    let rows = data::epoch_batches(&split.lengths(), 8, Order::Sequential, 0, false).remove(0);
    let batch = collator.collate(&split, &rows);
    assert_eq!((batch.len(), batch.seq_len), (8, 74));
    for i in 0..8 {
        assert_eq!(
            batch.row(&batch.input_ids, i),
            reference.input_ids[i].as_slice(),
            "row {i}"
        );
        assert_eq!(
            batch.row(&batch.attention_mask, i),
            reference.attention_mask[i].as_slice()
        );
        assert_eq!(
            batch.row(&batch.token_type_ids, i),
            reference.token_type_ids[i].as_slice()
        );
    }
    let tensors = batch.to_device(&candle_core::Device::Cpu).unwrap();
    assert_eq!(tensors.input_ids.dims(), &[8, 74]);
    assert_eq!(tensors.input_ids.dtype(), candle_core::DType::U32);
    assert_eq!(
        wick::data::HostLabels::Classes(tensors.labels.to_vec1::<u32>().unwrap()),
        batch.labels
    );
    assert_eq!(
        batch.stats.real_tokens,
        reference.attention_mask.iter().flatten().sum::<u32>() as usize
    );

    // pad_to_multiple_of rounds up; max_length padding pads everything to the same width.
    let multiple = Collator {
        pad_to_multiple_of: Some(16),
        ..collator.clone()
    };
    assert_eq!(multiple.collate(&split, &rows).seq_len, 80);
    let fixed = Collator {
        padding: Padding::MaxLength,
        max_length: 128,
        ..collator.clone()
    };
    let padded = fixed.collate(&split, &rows);
    assert_eq!(padded.seq_len, 128);
    assert_eq!(padded.stats.real_tokens, batch.stats.real_tokens);

    // Over an epoch, dynamic padding wastes less than max_length, and grouping less still.
    let report = data::padding_report(&split, &fixed, 8, 42);
    assert!(report.grouped.pad_tokens < report.dynamic.pad_tokens);
    assert!(report.dynamic.pad_tokens < report.max_length.pad_tokens);
    assert_eq!(report.dynamic.real_tokens, split.total_tokens());
}

#[test]
fn the_shared_mrpc_matches_the_reference_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/hub");
    if !shared.exists() {
        eprintln!("SKIPPED: ../shared/hub not found; the fixture copy above covers the same check");
        return;
    }
    let tokenizer =
        TextTokenizer::load(&shared.join("models/sentence-transformers/all-MiniLM-L6-v2")).unwrap();
    let req = SplitRequest {
        data: shared.join("datasets/nyu-mll/glue").display().to_string(),
        config: Some("mrpc".into()),
        split: "train".into(),
        ..SplitRequest::default()
    };
    let split = data::prepare_split(
        &req,
        &tokenizer,
        &TokenizeOptions::default(),
        None,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(split.len(), 3668);
    assert_eq!(split.class_balance(), vec![1194, 2474]);
}
