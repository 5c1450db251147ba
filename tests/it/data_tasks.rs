//! The data side of each task: the task read off the columns (and its reason), labels in each
//! task's form, sub-token alignment, a Sequence(ClassLabel) read from parquet metadata, and
//! bad input that names the file and the row.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wick::data::{
    self, DataError, HostLabels, SplitLabels, SplitRequest, TextTokenizer, TokenizeOptions,
    TokenizedSplit,
};
use wick::task::Task;

use crate::support::tiny::{tiny_multilabel_dataset, tiny_ner_dataset, tiny_regression_dataset};

fn tokenizer() -> TextTokenizer {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm-tokenizer");
    TextTokenizer::load(&dir).expect("fixture tokenizer loads")
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

fn write_jsonl(path: &Path, lines: &[&str]) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    path.to_path_buf()
}

/// CoNLL-2003's parquet layout: `tokens` (list of strings) and `ner_tags` (list of int64)
/// with `Sequence(ClassLabel)` names in the `huggingface` metadata.
fn conll_parquet(path: &Path, rows: &[(&[&str], &[i64])]) -> PathBuf {
    let mut words = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
    let mut tags = arrow::array::ListBuilder::new(arrow::array::Int64Builder::new());
    for (row_words, row_tags) in rows {
        for w in *row_words {
            words.values().append_value(w);
        }
        words.append(true);
        for t in *row_tags {
            tags.values().append_value(*t);
        }
        tags.append(true);
    }
    let words: ArrayRef = Arc::new(words.finish());
    let tags: ArrayRef = Arc::new(tags.finish());
    let metadata = serde_json::json!({"info": {"features": {
        "tokens": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
        "ner_tags": {"feature": {"names": ["O", "B-PER", "I-PER"], "_type": "ClassLabel"},
                     "_type": "Sequence"}}}});
    let schema = Schema::new(vec![
        Field::new("tokens", words.data_type().clone(), true),
        Field::new("ner_tags", tags.data_type().clone(), true),
    ])
    .with_metadata(HashMap::from([(
        "huggingface".to_string(),
        metadata.to_string(),
    )]));
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![words, tags]).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), Arc::new(schema), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.to_path_buf()
}

#[test]
fn each_task_is_read_off_the_columns_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            tiny_ner_dataset(dir.path()),
            Task::TokenClassification,
            "word list `tokens`",
        ),
        (
            tiny_multilabel_dataset(dir.path()),
            Task::MultiLabelClassification,
            "list of classes",
        ),
        (
            tiny_regression_dataset(dir.path()),
            Task::Regression,
            "number",
        ),
    ];
    for (data, task, reason) in cases {
        let split = prepare(&request(&data)).unwrap();
        assert_eq!(split.task(), task, "{}", split.meta.task_reason);
        assert!(
            split.meta.task_reason.contains(reason),
            "{task}: {}",
            split.meta.task_reason
        );
    }
    // The recipe's choice wins and says what the data suggested.
    let data = tiny_regression_dataset(dir.path());
    let mut req = request(&data);
    req.task = Some(Task::Regression);
    assert_eq!(
        prepare(&req).unwrap().meta.task_reason,
        "`label` holds a number (Float64) per row"
    );
}

#[test]
fn a_sequence_of_class_labels_aligns_to_first_pieces_and_pads_with_minus_100() {
    let dir = tempfile::tempdir().unwrap();
    // "Huggingface" splits into several pieces: only the first carries B-PER.
    let file = conll_parquet(
        &dir.path().join("conll/data/train-00000-of-00001.parquet"),
        &[
            (&["Huggingface", "is", "here"], &[1, 0, 0]),
            (&["Sylvain"], &[1]),
        ],
    );
    let split = prepare(&request(&file)).unwrap();
    assert_eq!(split.task(), Task::TokenClassification);
    assert_eq!(split.meta.labels.names, ["O", "B-PER", "I-PER"]);
    let ids = split.ids(0);
    let pieces: Vec<String> = ids.iter().map(|&id| tokenizer().piece(id)).collect();
    let labels = split.token_labels(0);
    assert_eq!(labels.len(), ids.len());
    let first_word_pieces = pieces[1..]
        .iter()
        .take_while(|p| p.starts_with("##") || *p == &pieces[1])
        .count();
    assert!(first_word_pieces >= 2, "{pieces:?}");
    let mut expected = vec![-100, 1];
    expected.extend(std::iter::repeat_n(-100, first_word_pieces - 1));
    expected.extend([0, 0, -100]);
    assert_eq!(labels, expected.as_slice(), "{pieces:?}");
    assert!(matches!(split.labels(), SplitLabels::Tokens(_)));

    // With label_all_tokens the later pieces get the inside tag.
    let mut all = request(&file);
    all.label_all_tokens = true;
    let labelled = prepare(&all).unwrap();
    assert_eq!(
        labelled.token_labels(0)[2],
        2,
        "B-PER's later piece is I-PER"
    );

    // The collator pads labels with -100 to the batch's length.
    let batch = data::Collator::new(&tokenizer(), 512).collate(&split, &[0, 1]);
    let HostLabels::Tokens(values) = &batch.labels else {
        panic!("token labels");
    };
    let second = &values[batch.seq_len..];
    assert_eq!(&second[..3], &[-100, 1, -100]);
    assert!(second[3..].iter().all(|&l| l == -100));
}

#[test]
fn multi_label_rows_become_multi_hot_and_regression_rows_scores() {
    let dir = tempfile::tempdir().unwrap();
    let split = prepare(&request(&tiny_multilabel_dataset(dir.path()))).unwrap();
    assert_eq!(split.meta.labels.names, ["anger", "boredom", "joy"]);
    // Row 3 (n = 3): "great" and "awful" → joy and anger.
    assert_eq!(split.class_set(3), &[2, 0]);
    let batch = data::Collator::new(&tokenizer(), 512).collate(&split, &[0, 3]);
    assert_eq!(
        batch.labels,
        HostLabels::MultiHot {
            classes: 3,
            values: vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        }
    );
    let scores = prepare(&request(&tiny_regression_dataset(dir.path()))).unwrap();
    assert_eq!(scores.meta.labels.names, ["label"]);
    assert_eq!(scores.score(1), Some(1.25));
}

fn message(result: Result<TokenizedSplit, DataError>) -> String {
    result.expect_err("bad input is refused").to_string()
}

#[test]
fn bad_task_labels_name_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();

    // A tag outside the ClassLabel range (3 names).
    let file = conll_parquet(
        &dir.path().join("range/data/train.parquet"),
        &[(&["a", "b"], &[0, 1]), (&["c", "d"], &[0, 7])],
    );
    let err = message(prepare(&request(&file)));
    assert!(
        err.contains("train.parquet") && err.contains("row 2") && err.contains("label 7"),
        "{err}"
    );

    // Words and tags of different lengths.
    let file = write_jsonl(
        &dir.path().join("lengths/train.jsonl"),
        &[
            r#"{"tokens": ["a", "b"], "ner_tags": ["O", "O"]}"#,
            r#"{"tokens": ["a", "b", "c"], "ner_tags": ["O", "B-PER"]}"#,
        ],
    );
    let err = message(prepare(&request(&file)));
    assert!(
        err.contains("train.jsonl") && err.contains("line 2") && err.contains("2 tags for 3 words"),
        "{err}"
    );

    // A regression label that is not a number.
    let file = write_jsonl(
        &dir.path().join("scores/train.jsonl"),
        &[
            r#"{"text": "fine", "label": "2.5"}"#,
            r#"{"text": "odd", "label": "high"}"#,
        ],
    );
    let mut req = request(&file);
    req.task = Some(Task::Regression);
    let err = message(prepare(&req));
    assert!(
        err.contains("train.jsonl") && err.contains("line 2") && err.contains("\"high\""),
        "{err}"
    );

    // An empty tag list where each word needs one.
    let file = write_jsonl(
        &dir.path().join("empty/train.jsonl"),
        &[
            r#"{"tokens": ["a"], "ner_tags": ["O"]}"#,
            r#"{"tokens": [], "ner_tags": []}"#,
        ],
    );
    let err = message(prepare(&request(&file)));
    assert!(
        err.contains("train.jsonl") && err.contains("line 2") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn the_dataset_card_names_a_sequence_of_class_labels() {
    let yaml = "dataset_info:\n- config_name: default\n  features:\n  - name: ner_tags\n    \
                sequence:\n      class_label:\n        names:\n          '0': O\n          \
                '1': B-PER\n";
    let card = wick::data::card::CardData::from_yaml(&serde_yaml_ng::from_str(yaml).unwrap());
    let features = card.features_of("default").unwrap();
    assert_eq!(features[0].class_names, ["O", "B-PER"]);
}

#[test]
fn integer_ratings_train_as_one_score_and_unnamed_integer_tags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Integer ratings, which alone would read as classes 0..=5.
    let file = write_jsonl(
        &dir.path().join("ratings/train.jsonl"),
        &[
            r#"{"text": "fine", "label": 3}"#,
            r#"{"text": "great", "label": 5}"#,
        ],
    );
    let mut req = request(&file);
    req.task = Some(Task::Regression);
    let split = prepare(&req).unwrap();
    assert_eq!(split.meta.labels.names, ["label"]);
    assert_eq!(split.score(1), Some(5.0));

    let file = write_jsonl(
        &dir.path().join("unnamed/train.jsonl"),
        &[r#"{"tokens": ["a", "b"], "ner_tags": [0, 1]}"#],
    );
    let err = message(prepare(&request(&file)));
    assert!(
        err.contains("train.jsonl") && err.contains("integers without names"),
        "{err}"
    );
}

/// A byte-level BPE tokenizer (RoBERTa's and ModernBERT's kind) with single-character pieces
/// only, so each piece shows whether a word was read with a leading space (`Ġ`).
fn byte_level_tokenizer(dir: &Path) -> TextTokenizer {
    let pieces = ["<s>", "</s>", "<pad>", "Ġ", "t", "h", "e", "i", "s"];
    let vocab: serde_json::Map<String, serde_json::Value> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (p.to_string(), i.into()))
        .collect();
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "<s>"), special(1, "</s>"), special(2, "<pad>")],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
            "use_regex": true},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 1], "cls": ["<s>", 0],
            "trim_offsets": true, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
            "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": []}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    TextTokenizer::load(dir).unwrap()
}

#[test]
fn word_lists_through_a_byte_level_bpe_read_every_word_after_a_space() {
    // transformers requires add_prefix_space=True for is_split_into_words with these
    // tokenizers: every word, the first too, is read as " word" (Ġ + its letters).
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = byte_level_tokenizer(dir.path());
    let (columns, word_ids) = data::tokenize_words(
        &tokenizer,
        &[vec!["the", "is"]],
        &TokenizeOptions::default(),
        &|_, _| {},
    )
    .unwrap();
    let pieces: Vec<String> = columns.ids.iter().map(|&id| tokenizer.piece(id)).collect();
    assert_eq!(
        pieces,
        ["<s>", "Ġ", "t", "h", "e", "Ġ", "i", "s", "</s>"],
        "word ids {word_ids:?}"
    );
    assert_eq!(word_ids, [-1, 0, 0, 0, 0, 1, 1, 1, -1]);
    // The Playground's entity pipeline reads raw text the same way.
    let encoded = tokenizer.encode_with_offsets("the is", 512).unwrap();
    assert_eq!(encoded.ids, columns.ids);
}
