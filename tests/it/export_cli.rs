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
