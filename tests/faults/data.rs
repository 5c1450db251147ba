//! Bad data, model files and configs: each is refused with a message naming the file and
//! the line, row or key, never a panic; and the data-side faults of issue 17.
//!
//! Cases in this module (each a `#[test]` below):
//!  1. jsonl_bad_line_7_is_reported_at_line_7
//!  2. jsonl_bad_line_2000_is_reported_at_line_2000
//!  3. jsonl_line_that_is_not_an_object_is_reported_at_its_line
//!  4. jsonl_non_utf8_is_reported_at_its_line
//!  5. jsonl_null_text_after_blank_lines_is_reported_at_its_file_line
//!  6. csv_null_text_at_data_row_3_is_reported_at_file_line_4
//!  7. csv_row_after_a_quoted_multiline_field_is_reported_at_its_line
//!  8. csv_negative_label_is_reported_at_its_file_line
//!  9. csv_unknown_label_is_reported_at_its_file_line
//! 10. parquet_null_label_is_reported_at_its_1_based_row
//! 11. empty_data_file_is_refused_naming_it
//! 12. truncated_parquet_is_refused_naming_it
//! 13. truncated_model_safetensors_is_refused_naming_it
//! 14. model_head_for_other_labels_is_explained_in_labels
//! 15. stray_text_in_integer_labels_fails_the_run_in_terms_of_labels
//! 16. max_length_above_the_model_positions_is_capped_with_one_warning
//! 17. config_semantic_error_names_the_file
//! 18. config_unknown_key_and_bad_type_in_a_file_name_file_and_key
//! 19. stale_cache_temp_file_of_a_dead_writer_is_removed_a_live_one_kept
//!
//! Bad inputs already covered elsewhere (test binary::name):
//! - missing data file, not-parquet bytes, header-only csv (empty split), no label column,
//!   Latin-1 csv, non-UTF-8 binary text in parquet, label outside the ClassLabel range,
//!   null text in jsonl, unknown file extension:
//!   data_pipeline::bad_input_is_an_error_that_names_the_file_never_a_panic
//! - a text column that is not there: data_pipeline::columns_are_guessed_and_can_be_overridden
//! - a torn cache file: data_pipeline::cache_hits_misses_and_survives_a_torn_write
//! - pickle-only model folder (never opened), unsupported model_type, config.json not JSON,
//!   no config.json: model_architectures::loading_rejects_bad_folders
//! - a checkpoint missing an encoder tensor, and a head for another label count:
//!   model_architectures::{bert,distilbert,roberta}_checkpoint_variants_and_errors
//! - a missing shard: model_architectures::sharded_checkpoints_load
//! - pickle-only repo refused before download: hub_api::pickle_only_models_are_refused_before_any_download
//! - unknown config key (with suggestion), bad value per key, file errors:
//!   train::config::tests::{unknown_key_is_named_with_suggestion, bad_values_name_their_key,
//!   file_errors_name_the_file} (lib), train_loop::the_train_command_runs_a_config_file_and_names_bad_keys
//! - bad settings at start (metric, model path, cuda, empty epoch):
//!   train_loop::bad_settings_fail_at_start_naming_the_problem
//! - bad predict/export folders: train_predict::bad_folders_get_errors_that_say_what_is_wrong,
//!   export_cli::bad_inputs_fail_with_a_message_that_names_them

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use candle_core::Device;
use wick::data::{self, DataError, DatasetCache, RowLocation, SplitRequest, TextTokenizer};
use wick::hub::HubSettings;
use wick::model::{Classifier, ModelError};
use wick::train::config::TrainConfig;
use wick::train::{Event, RecipeInputs, TrainerOptions};

use crate::support::tiny::{fixtures, tiny_dataset, tiny_model};

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

fn prepare_err(req: &SplitRequest) -> DataError {
    data::prepare_split(
        req,
        &tokenizer(),
        &data::TokenizeOptions::default(),
        None,
        &|_, _| {},
    )
    .expect_err("bad input must be refused")
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.contains(needle),
            "'{message}' should mention '{needle}'"
        );
    }
}

/// `lines` good jsonl rows, with line `bad` (1-based) replaced by `bad_text`.
fn jsonl_with(path: &Path, lines: usize, bad: usize, bad_text: &str) {
    let text: String = (1..=lines)
        .map(|line| {
            if line == bad {
                format!("{bad_text}\n")
            } else {
                format!("{{\"text\": \"row {line}\", \"label\": {}}}\n", line % 2)
            }
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn jsonl_bad_line_7_is_reported_at_line_7() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    jsonl_with(&file, 12, 7, r#"{"text": "seven", "label": }"#);
    let err = prepare_err(&request(&file));
    assert!(
        matches!(err, DataError::BadJsonLine { line: 7, .. }),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["bad.jsonl", "line 7"]);
}

#[test]
fn jsonl_bad_line_2000_is_reported_at_line_2000() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    jsonl_with(&file, 2500, 2000, r#"{"text": "unterminated, "label": 1}"#);
    let err = prepare_err(&request(&file)).to_string();
    assert_mentions(&err, &["big.jsonl", "line 2000"]);
    assert!(!err.contains("line 1 "), "{err}");
}

#[test]
fn jsonl_line_that_is_not_an_object_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("array.jsonl");
    jsonl_with(&file, 5, 4, r#"["text", 1]"#);
    let err = prepare_err(&request(&file)).to_string();
    assert_mentions(&err, &["array.jsonl", "line 4", "object"]);
}

#[test]
fn jsonl_non_utf8_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"text\": \"fine\", \"label\": 0}\n");
    bytes.extend_from_slice(b"{\"text\": \"also fine\", \"label\": 1}\n");
    bytes.extend_from_slice(b"{\"text\": \"caf\xe9\", \"label\": 0}\n");
    std::fs::write(&file, bytes).unwrap();
    let err = prepare_err(&request(&file)).to_string();
    assert_mentions(&err, &["latin1.jsonl", "UTF-8", "line 3"]);
}

#[test]
fn jsonl_null_text_after_blank_lines_is_reported_at_its_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("null.jsonl");
    // Table row 2 (0-based) is on file line 5: blank lines hold no row.
    std::fs::write(
        &file,
        "{\"text\": \"a\", \"label\": 0}\n\n{\"text\": \"b\", \"label\": 1}\n\n{\"text\": null, \"label\": 1}\n",
    )
    .unwrap();
    let err = prepare_err(&request(&file));
    assert!(
        matches!(
            err,
            DataError::NullText {
                at: RowLocation::Line(5),
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(
        &err.to_string(),
        &["null.jsonl", "line 5", "'text' is null"],
    );
}

#[test]
fn csv_null_text_at_data_row_3_is_reported_at_file_line_4() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("null.csv");
    std::fs::write(&file, "text,label\nfirst,0\nsecond,1\n,0\nfourth,1\n").unwrap();
    let err = prepare_err(&request(&file));
    assert!(
        matches!(
            err,
            DataError::NullText {
                at: RowLocation::Line(4),
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["null.csv", "line 4", "'text'"]);
}

#[test]
fn csv_row_after_a_quoted_multiline_field_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("multiline.csv");
    std::fs::write(
        &file,
        "text,label\n\"one\nspanning\nthree lines\",0\n\nok,1\n,1\n",
    )
    .unwrap();
    // Data row 3 starts on line 7: the quoted field spans lines 2-4, line 5 is blank.
    let err = prepare_err(&request(&file)).to_string();
    assert_mentions(&err, &["multiline.csv", "line 7"]);
}

#[test]
fn csv_negative_label_is_reported_at_its_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("labels.csv");
    std::fs::write(&file, "text,label\na,0\nb,1\nc,1\nd,-1\n").unwrap();
    let err = prepare_err(&request(&file));
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                at: RowLocation::Line(5),
                label: -1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["labels.csv", "line 5", "label -1"]);
}

#[test]
fn csv_unknown_label_is_reported_at_its_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eval.tsv");
    std::fs::write(&file, "text\tlabel\na\tneg\nb\tneu\nc\tpos\n").unwrap();
    let mut req = request(&file);
    req.labels = Some(vec!["neg".into(), "pos".into()]);
    let err = prepare_err(&req).to_string();
    assert_mentions(&err, &["eval.tsv", "line 3", "'neu'"]);
}

#[test]
fn parquet_null_label_is_reported_at_its_1_based_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("labels.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("text", DataType::Utf8, false),
        Field::new("label", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "c", "d"])),
            Arc::new(Int64Array::from(vec![Some(0), Some(1), None, Some(0)])),
        ],
    )
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let err = prepare_err(&request(&file));
    assert!(
        matches!(
            err,
            DataError::NullLabel {
                at: RowLocation::Row(3),
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(
        &err.to_string(),
        &["labels.parquet", "row 3", "counting from 1"],
    );
}

#[test]
fn empty_data_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["empty.csv", "empty.jsonl", "empty.parquet"] {
        let file = dir.path().join(name);
        std::fs::write(&file, "").unwrap();
        let err = prepare_err(&request(&file)).to_string();
        assert_mentions(&err, &[name]);
    }
}

#[test]
fn truncated_parquet_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.parquet");
    let rows: Vec<String> = (0..500).map(|i| format!("sentence number {i}")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let labels: Vec<i64> = (0..500).map(|i| i % 2).collect();
    crate::support::write_parquet(&file, &rows, &labels);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let err = prepare_err(&request(&file)).to_string();
    assert_mentions(&err, &["cut.parquet", "parquet"]);
}

#[test]
fn truncated_model_safetensors_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() - 1000]).unwrap();
    let err = Classifier::load(&model, &[], &Device::Cpu).unwrap_err();
    assert_mentions(&err.to_string(), &["model.safetensors"]);
}

#[test]
fn model_head_for_other_labels_is_explained_in_labels() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let labels = ["neg".to_string(), "pos".to_string()];
    let err = Classifier::load(&model, &labels, &Device::Cpu).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::HeadLabelCount {
                labels: 2,
                head_labels: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(
        &err.to_string(),
        &[
            "tiny-bert",
            "the data has 2 labels (neg, pos)",
            "head has 3 (neg, neu, pos)",
        ],
    );
}

fn trainer_config(dir: &Path, data: &Path, extra: &str) -> TrainConfig {
    let text = format!(
        "model = \"{}\"\ndataset = \"{}\"\noutput_dir = \"{}\"\nnum_train_epochs = 1\nper_device_train_batch_size = 8\neval_strategy = \"no\"\nsave_strategy = \"no\"\n{extra}",
        tiny_model(dir).display(),
        data.display(),
        dir.join("run").display(),
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

fn run_to_end(config: TrainConfig, dir: &Path) -> Vec<Event> {
    let options = TrainerOptions {
        runs_root: Some(dir.join("runs")),
        hub: HubSettings::with_home(&dir.join("hf")).with_offline(true),
        dataset_cache: false,
    };
    let handle = wick::train::spawn(config, options).unwrap();
    let mut events = Vec::new();
    loop {
        let event = handle
            .events
            .recv_timeout(Duration::from_secs(300))
            .expect("the trainer reports within 5 minutes");
        let last = matches!(event, Event::Finished(_) | Event::Failed { .. });
        events.push(event);
        if last {
            break;
        }
    }
    handle.join();
    events
}

#[test]
fn stray_text_in_integer_labels_fails_the_run_in_terms_of_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stray.csv");
    let mut csv = String::from("text,label\n");
    for i in 0..12 {
        csv.push_str(&format!("the film was good {i},{}\n", i % 3));
    }
    csv.push_str("the film was bad,oops\n");
    std::fs::write(&data, csv).unwrap();
    let events = run_to_end(trainer_config(dir.path(), &data, ""), dir.path());
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::Failed { reason } => Some(reason.clone()),
            _ => None,
        })
        .expect("the run fails");
    assert_mentions(
        &reason,
        &["4 labels (0, 1, 2, oops)", "head has 3 (neg, neu, pos)"],
    );
    assert!(!reason.contains("shape"), "{reason}");
}

#[test]
fn max_length_above_the_model_positions_is_capped_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    // The tiny BERT has 64 positions.
    let config = trainer_config(dir.path(), &data, "max_length = 128\n");
    let hub = HubSettings::with_home(&dir.path().join("hf")).with_offline(true);
    let inputs = RecipeInputs::load(&config, &hub, None).unwrap();
    assert_eq!(inputs.max_length, 64);
    assert_eq!(inputs.warnings.len(), 1, "{:?}", inputs.warnings);
    assert_mentions(&inputs.warnings[0], &["max_length = 128", "64"]);

    // Within the limit, or left to its default: no warning.
    let quiet = trainer_config(dir.path(), &data, "max_length = 64\n");
    assert!(
        RecipeInputs::load(&quiet, &hub, None)
            .unwrap()
            .warnings
            .is_empty()
    );
    let default = trainer_config(dir.path(), &data, "");
    assert!(
        RecipeInputs::load(&default, &hub, None)
            .unwrap()
            .warnings
            .is_empty()
    );

    // The trainer says it once, before the run starts, and the CLI prints it.
    let file = dir.path().join("capped.toml");
    std::fs::write(&file, config.to_toml_string()).unwrap();
    let out = wick(
        dir.path(),
        &["train", "--config", &file.display().to_string()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("warning: max_length = 128").count(),
        1,
        "{stderr}"
    );
}

fn wick(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(args)
        .env("HF_HOME", home.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap()
}

fn config_file(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, format!("model = \"m\"\ndataset = \"d\"\n{extra}\n")).unwrap();
    file
}

#[test]
fn config_semantic_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "bad.toml", "learning_rate = -1");
    let out = wick(
        dir.path(),
        &["train", "--config", &file.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_mentions(&stderr, &["bad.toml", "learning_rate"]);
    assert!(!stderr.contains("<config>"), "{stderr}");

    // A bad value from --set is not blamed on the file alone.
    let good = config_file(dir.path(), "good.toml", "");
    let out = wick(
        dir.path(),
        &[
            "train",
            "--config",
            &good.display().to_string(),
            "--set",
            "weight_decay=-1",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_mentions(&stderr, &["good.toml with --set", "weight_decay"]);
}

#[test]
fn config_unknown_key_and_bad_type_in_a_file_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (name, line, key) in [
        ("typo.toml", "learnig_rate = 1e-4", "learnig_rate"),
        ("type.toml", "learning_rate = \"fast\"", "learning_rate"),
        (
            "batch.toml",
            "per_device_train_batch_size = 2.5",
            "per_device_train_batch_size",
        ),
    ] {
        let file = config_file(dir.path(), name, line);
        let out = wick(
            dir.path(),
            &["train", "--config", &file.display().to_string()],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_mentions(&String::from_utf8_lossy(&out.stderr), &[name, key]);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn stale_cache_temp_file_of_a_dead_writer_is_removed_a_live_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::in_datasets_cache(dir.path());
    std::fs::create_dir_all(cache.dir()).unwrap();
    let dead_pid = {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let plant = |name: String, age: Duration| {
        let path = cache.dir().join(name);
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    };
    let hour = Duration::from_secs(3600);
    let dead = plant(format!(".0123abcd.{dead_pid}.17.tmp"), hour);
    let live = plant(format!(".0123abcd.{}.18.tmp", std::process::id()), hour);
    // A dead pid whose file still changes may be a writer in another pid namespace.
    let recent = plant(format!(".4567abcd.{dead_pid}.19.tmp"), Duration::ZERO);
    let unrelated = plant("notes.txt".into(), hour);

    // Opening the cache (a lookup) cleans up.
    assert!(cache.load("0123abcd").unwrap().is_none());
    assert!(!dead.exists(), "the dead writer's temp file stays");
    assert!(live.exists(), "a live writer's temp file was removed");
    assert!(recent.exists());
    assert!(unrelated.exists());
}
