//! The exact BERT WordPiece fast path through the public `tokenize`: identical columns with and
//! without it, on MRPC and on generated text, and no fast path for other tokenizers. (Row-level
//! checks, max_length below the special tokens and the fuzzing live in `src/data/wordpiece.rs`.)

use arrow::array::{Array, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use wick::data::{self, TextTokenizer, TokenColumns, TokenizeOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn minilm() -> TextTokenizer {
    TextTokenizer::load(&fixtures().join("minilm-tokenizer")).expect("fixture tokenizer loads")
}

/// `(sentence1, sentence2)` columns of a GLUE parquet file.
fn mrpc(path: &Path) -> (Vec<String>, Vec<String>) {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.unwrap();
        for (name, out) in [("sentence1", &mut first), ("sentence2", &mut second)] {
            let column = batch.column_by_name(name).unwrap();
            let column = column.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend((0..column.len()).map(|i| column.value(i).to_string()));
        }
    }
    (first, second)
}

fn run(
    tokenizer: &TextTokenizer,
    first: &[&str],
    second: Option<&[&str]>,
    max_length: usize,
) -> TokenColumns {
    let options = TokenizeOptions {
        max_length: Some(max_length),
        threads: 2,
        chunk_rows: 97,
    };
    data::tokenize(tokenizer, first, second, &options, &|_, _| {}).unwrap()
}

/// Tokenizes pairs and single texts with the fast path and through the crate alone, and
/// asserts identical columns; returns how many rows were compared.
fn assert_same_with_and_without(first: &[&str], second: &[&str], max_lengths: &[usize]) -> usize {
    let fast = minilm();
    assert!(fast.fast_path());
    let mut slow = minilm();
    slow.set_fast_path(false);
    assert!(!slow.fast_path());
    let mut rows = 0;
    for &max_length in max_lengths {
        for pair in [Some(second), None] {
            let a = run(&fast, first, pair, max_length);
            let b = run(&slow, first, pair, max_length);
            assert_eq!(a.num_rows(), first.len());
            if a != b {
                let row = (0..a.num_rows())
                    .find(|&i| {
                        a.offsets[i + 1] != b.offsets[i + 1]
                            || a.ids[a.offsets[i] as usize..a.offsets[i + 1] as usize]
                                != b.ids[b.offsets[i] as usize..b.offsets[i + 1] as usize]
                    })
                    .unwrap_or(0);
                panic!(
                    "max_length {max_length}, pair {}: row {row} differs: {:?} / {:?}",
                    pair.is_some(),
                    first[row],
                    second[row]
                );
            }
            rows += a.num_rows();
        }
    }
    rows
}

#[test]
fn mrpc_validation_is_identical_with_and_without_the_fast_path() {
    let (first, second) = mrpc(&fixtures().join("glue/mrpc/validation-00000-of-00001.parquet"));
    assert_eq!(first.len(), 408);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let rows = assert_same_with_and_without(&first, &second, &[512, 128, 64, 16, 5, 4]);
    eprintln!("MRPC validation: {rows} rows identical");
}

#[test]
fn mrpc_train_is_identical_with_and_without_the_fast_path_when_shared_is_present() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/hub/datasets/nyu-mll/glue/mrpc/train-00000-of-00001.parquet");
    if !path.exists() {
        eprintln!("SKIPPED: {} not found", path.display());
        return;
    }
    let (first, second) = mrpc(&path);
    assert_eq!(first.len(), 3668);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let rows = assert_same_with_and_without(&first, &second, &[512, 64, 16, 5]);
    eprintln!("MRPC train: {rows} rows identical");
}

#[test]
fn awkward_text_is_identical_with_and_without_the_fast_path() {
    let long = "x".repeat(150);
    let exactly_100 = "pneumonoultramicroscopic".repeat(5)[..100].to_string();
    let texts: Vec<String> = vec![
        String::new(),
        " \t\n\r ".into(),
        "Hello, World!!! How's it going?".into(),
        "tab\tseparated\u{0}nul\u{7}bell\u{b}vt\u{c}ff\u{1f}us\u{7f}del".into(),
        format!("a {long} b"),
        format!("{exactly_100} {exactly_100}x"),
        "[CLS] literal [SEP] tokens [PAD] and [MASK] and [UNK]".into(),
        "a[CLS]b[SEP]c [cls] [CLS [[SEP]]".into(),
        "U.S. $3.14 100% e-mail C++ ^_^ {x} |y| `z` ~w~ \\v @u #t".into(),
        "Café naïve 北京 🎉 \u{fffd} \u{a0}nbsp".into(),
        "ALL CAPS SHOUTING AND MixedCase".into(),
        "word ".repeat(300),
    ];
    let first: Vec<&str> = texts.iter().map(String::as_str).collect();
    let second: Vec<&str> = texts.iter().rev().map(String::as_str).collect();
    assert_same_with_and_without(&first, &second, &[512, 32, 8, 5, 4]);
}

#[test]
fn only_bert_wordpiece_tokenizers_get_the_fast_path() {
    let fixture = fixtures().join("minilm-tokenizer/tokenizer.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let load = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut json = json.clone();
        edit(&mut json);
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        TextTokenizer::load(&path).unwrap()
    };
    assert!(load(&|_| {}).fast_path());
    let lowercase_only = load(&|j| j["normalizer"] = serde_json::json!({"type": "Lowercase"}));
    assert!(!lowercase_only.fast_path());
    let whitespace = load(&|j| j["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"}));
    assert!(!whitespace.fast_path());

    // Without the fast path, tokenize still works (through the crate).
    let columns = run(&lowercase_only, &["Hello, World!"], None, 16);
    let pieces: Vec<String> = columns
        .ids
        .iter()
        .map(|&id| lowercase_only.piece(id))
        .collect();
    assert_eq!(pieces, ["[CLS]", "hello", ",", "world", "!", "[SEP]"]);
}
