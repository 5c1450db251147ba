//! `wick export accelerate` as a user runs it: from a config file, from a run folder, and
//! with inputs that must give a clear error (exit code 1, the path or key named, no panic).

use std::path::Path;
use std::process::{Command, Output};
use wick::runs::RunDir;
use wick::train::config::TrainConfig;

const CONFIG: &str = r#"
model = "sentence-transformers/all-MiniLM-L6-v2"
dataset = "nyu-mll/glue"
dataset_config = "mrpc"
learning_rate = 2e-5
max_steps = 30
eval_strategy = "steps"
eval_steps = 10
"#;

fn wick(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wick"))
        .arg("export")
        .arg("accelerate")
        .args(args)
        .output()
        .expect("wick runs")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn exported(out: &Path) -> String {
    for name in wick::train::accelerate::EXPORTED_FILES {
        assert!(out.join(name).is_file(), "{name} written");
    }
    std::fs::read_to_string(out.join("train.py")).unwrap()
}

#[test]
fn exports_a_config_file_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mrpc.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.path().join("project");
    let output = wick(&[
        config.as_os_str(),
        out.as_os_str(),
        "--num-processes".as_ref(),
        "8".as_ref(),
        "--set".as_ref(),
        "seed=7".as_ref(),
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("accelerate launch"), "{stdout}");
    let train = exported(&out);
    for expected in [
        r#""learning_rate": 2e-5,"#,
        r#""max_steps": 30,"#,
        r#""seed": 7,"#,
        r#"LOAD_DATASET = {"path": "nyu-mll/glue", "name": "mrpc"}"#,
    ] {
        assert!(train.contains(expected), "{expected}");
    }
    let yaml = std::fs::read_to_string(out.join("accelerate_config.yaml")).unwrap();
    assert!(yaml.contains("num_processes: 8"), "{yaml}");
}

#[test]
fn exports_a_run_folder_from_its_saved_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = TrainConfig::from_toml_str(CONFIG).unwrap();
    let run_dir = dir.path().join("runs/20261126-mrpc");
    // A run records its own folder as output_dir: a workstation path the export must not keep.
    config.output_dir = Some(run_dir.display().to_string());
    RunDir::create_at(&run_dir, &config).unwrap();
    let out = dir.path().join("project");
    let output = wick(&[run_dir.as_os_str(), out.as_os_str()]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let train = exported(&out);
    assert!(train.contains(r#""output_dir": "output","#));
    assert!(train.contains(&format!("from {}", run_dir.display())));
    let yaml = std::fs::read_to_string(out.join("accelerate_config.yaml")).unwrap();
    assert!(yaml.contains("num_processes: 2"), "the default: {yaml}");
}

#[test]
fn bad_inputs_fail_with_a_message_that_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("project");
    let not_config = dir.path().join("data.csv");
    std::fs::write(&not_config, "text,label\n\"unclosed,1\n").unwrap();
    let unknown_key = dir.path().join("typo.toml");
    std::fs::write(&unknown_key, format!("{CONFIG}learnig_rate = 1e-4\n")).unwrap();
    let empty_folder = dir.path().join("empty");
    std::fs::create_dir_all(&empty_folder).unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, CONFIG).unwrap();
    let missing = dir.path().join("missing.toml");

    let cases: Vec<(Vec<&std::ffi::OsStr>, Vec<String>)> = vec![
        (
            vec![missing.as_os_str(), out.as_os_str()],
            vec![missing.display().to_string(), "no such".into()],
        ),
        (
            vec![not_config.as_os_str(), out.as_os_str()],
            vec![not_config.display().to_string(), "TOML".into()],
        ),
        (
            vec![unknown_key.as_os_str(), out.as_os_str()],
            vec!["learnig_rate".into(), "learning_rate".into()],
        ),
        (
            vec![empty_folder.as_os_str(), out.as_os_str()],
            vec![
                empty_folder.display().to_string(),
                "not a run folder".into(),
            ],
        ),
        (
            vec![
                good.as_os_str(),
                out.as_os_str(),
                "--num-processes".as_ref(),
                "0".as_ref(),
            ],
            vec!["num_processes".into()],
        ),
        (
            vec![
                good.as_os_str(),
                out.as_os_str(),
                "--set".as_ref(),
                "dataset=./no-such-data.csv".as_ref(),
            ],
            vec!["no-such-data.csv".into(), "dataset".into()],
        ),
    ];
    for (args, needles) in cases {
        let output = wick(&args);
        let (stdout, stderr) = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {stdout}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        for needle in &needles {
            assert!(
                stderr.contains(needle.as_str()),
                "{args:?}: {needle:?} in {stderr}"
            );
        }
    }
    assert!(!out.join("train.py").exists(), "nothing written on errors");
}

/// `wick export model`: a token classifier's checkpoint as a model folder that names its task,
/// and `--logits-for` printing, per text, the logits the library computes on the checkpoint
/// (a row per token); a folder that is no model is an error naming it.
#[test]
fn exports_a_checkpoint_as_a_model_folder_and_prints_its_logits() {
    use crate::support::tiny::{tiny_encoder, tiny_ner_dataset, train_to_end};
    use wick::train::Predictor;

    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig::from_toml_str(&format!(
        "model = {:?}\ndataset = {:?}\noutput_dir = {:?}\nmax_steps = 3\n\
         per_device_train_batch_size = 4\neval_strategy = \"no\"\nsave_strategy = \"steps\"\n\
         save_steps = 3\n",
        tiny_encoder(dir.path()).display().to_string(),
        tiny_ner_dataset(dir.path()).display().to_string(),
        dir.path().join("run").display().to_string(),
    ))
    .unwrap();
    let run = train_to_end(config, dir.path(), dir.path());
    let checkpoint = run.join("checkpoint-3");
    let out = dir.path().join("model");
    let texts = ["the great film was awful fun", "fun film"];
    let output = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["export", "model"])
        .arg(&checkpoint)
        .arg(&out)
        .args(texts.iter().flat_map(|t| ["--logits-for", t]))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("max |logit difference| 0e0"), "{stdout}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["architectures"][0], "BertForTokenClassification");

    let source = Predictor::load(&checkpoint, &candle_core::Device::Cpu).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), texts.len(), "{stdout}");
    for (line, text) in lines.iter().zip(texts) {
        assert_eq!(line["text"], text);
        assert_eq!(line["task"], "token_classification");
        assert_eq!(line["labels"], serde_json::json!(source.labels()));
        let rows: Vec<Vec<f32>> = serde_json::from_value(line["logits"].clone()).unwrap();
        let expected = source.logits(text, None).unwrap();
        assert_eq!(rows.len() * source.labels().len(), expected.len(), "{line}");
        assert!(
            rows.len() > 2,
            "a row per token, special tokens included: {line}"
        );
        let found: Vec<f32> = rows.concat();
        for (f, e) in found.iter().zip(&expected) {
            assert!((f - e).abs() <= 1e-6 * e.abs().max(1.0), "{f} vs {e}");
        }
    }

    let output = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["export", "model"])
        .arg(dir.path())
        .arg(dir.path().join("elsewhere"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("is not a model folder") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
