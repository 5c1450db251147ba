//! Run folders under crashes, signals and concurrent writers, through the real `wick`
//! binary. Cases:
//! - kill -9 (`WICK_FAULT`, an abort with no unwinding) at eight moments, each followed by
//!   a resume that ends bit-identical to an uninterrupted run: after a step, mid-way through
//!   a metrics line, mid-checkpoint, right after a checkpoint commit, mid-rotation,
//!   mid-evaluation, before the predictions, before the final `run.json`; and mid-way
//!   through writing the tokenized-split cache (the next run removes the dead writer's
//!   temporary file and trains as if nothing happened);
//! - resuming a finished run says so and changes nothing;
//! - two runs started on one `output_dir`: exactly one trains, the other is refused naming
//!   the process; two resumes of one run likewise;
//! - SIGINT: the run stops between steps with a checkpoint, `stopped`, and a resume hint;
//!   a second SIGINT quits at once and the run then lists as interrupted;
//! - SIGTERM behaves as the first SIGINT;
//! - a loss that explodes without NaN warns once, in the output and in `run.json`;
//! - a disk that holds only `save_total_limit` checkpoints still trains and resumes
//!   (old checkpoints go before a new one is written); needs root for a small tmpfs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wick::runs::{RunStatus, list_runs, read_metrics};

use crate::support::tiny::{tiny_dataset, tiny_model};

/// 40 rows, batch 4: 10 steps an epoch, 20 in all; evaluated and saved every 5 steps,
/// at most two checkpoints kept (so rotation runs), dropout on.
fn write_config(dir: &Path, output: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
output_dir = "{out}"
learning_rate = 1e-3
num_train_epochs = 2
per_device_train_batch_size = 4
per_device_eval_batch_size = 6
warmup_ratio = 0.1
weight_decay = 0.01
logging_steps = 1
eval_strategy = "steps"
eval_steps = 5
save_strategy = "steps"
save_steps = 5
save_total_limit = 2
seed = 11
{extra}
"#,
        model = tiny_model(dir).display(),
        data = tiny_dataset(dir).display(),
        out = output.display(),
    );
    let path = dir.join(format!(
        "{}.toml",
        output.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn wick(dir: &Path, config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wick"));
    command
        .arg("train")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HF_HOME", dir.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .env("WICK_RUNS_DIR", dir.join("runs"))
        .env_remove("WICK_FAULT")
        .stdin(Stdio::null());
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "wick failed:\n{}", text(&output));
    text(&output)
}

/// What must be equal between an interrupted-and-resumed run and an uninterrupted one:
/// the final weights, the kept checkpoints, every logged number but the clocks, the final
/// trainer state and the predictions.
#[derive(Debug, PartialEq)]
struct Outcome {
    weights: Vec<u8>,
    checkpoints: Vec<String>,
    log: Vec<Value>,
    trainer_state: Value,
    predictions: Value,
    status: String,
}

fn outcome(run: &Path) -> Outcome {
    let clock_keys = [
        "wall_time",
        "elapsed_s",
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "eval_runtime",
        "eval_samples_per_second",
    ];
    let log = read_metrics(&run.join("metrics.jsonl"))
        .unwrap()
        .records
        .into_iter()
        .map(|mut r| {
            for key in clock_keys {
                r.remove(key);
            }
            Value::Object(r)
        })
        .collect();
    let mut checkpoints: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "predictions.json")
        .collect();
    checkpoints.sort();
    let json = |path: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let mut trainer_state = json(run.join("checkpoint-20/trainer_state.json"));
    for entry in trainer_state["log_history"].as_array_mut().unwrap() {
        for key in clock_keys {
            entry.as_object_mut().unwrap().remove(key);
        }
    }
    let mut predictions = json(run.join("predictions.json"));
    for key in clock_keys {
        predictions["metrics"].as_object_mut().unwrap().remove(key);
    }
    Outcome {
        weights: std::fs::read(run.join("checkpoint-20/model.safetensors")).unwrap(),
        checkpoints,
        log,
        trainer_state,
        predictions,
        status: json(run.join("run.json"))["status"]
            .as_str()
            .unwrap()
            .to_string(),
    }
}

/// The uninterrupted run, once per test binary, and the size of its last checkpoint.
fn reference_run() -> &'static (Outcome, u64) {
    static REFERENCE: std::sync::OnceLock<(Outcome, u64)> = std::sync::OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("reference");
        let config = write_config(dir.path(), &out, "");
        run_ok(&mut wick(dir.path(), &config, &[]));
        (outcome(&out), folder_bytes(&out.join("checkpoint-20")))
    })
}

fn reference() -> &'static Outcome {
    &reference_run().0
}

/// Aborts a run at `point` (its `nth` pass), resumes it from its latest checkpoint, and
/// compares the end with the uninterrupted run.
fn crash_and_resume(point: &str, nth: u32) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crashed");
    let config = write_config(dir.path(), &out, "");
    let crashed = wick(dir.path(), &config, &[])
        .env("WICK_FAULT", format!("{point}:{nth}"))
        .output()
        .unwrap();
    assert!(
        !crashed.status.success(),
        "the run should have aborted at {point}:{nth}:\n{}",
        text(&crashed)
    );
    assert!(text(&crashed).contains(&format!("aborting at {point}")));
    // Nobody holds the run any more: it lists as interrupted.
    let listed = list_runs(dir.path()).unwrap();
    let run = listed.runs.iter().find(|r| r.path == out).unwrap();
    assert_eq!(run.info.status, RunStatus::Interrupted, "{point}");
    let table = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["runs", "--runs-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let table = text(&table);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("crashed ") && l.contains("interrupted")),
        "{table}"
    );

    let resumed = run_ok(&mut wick(
        dir.path(),
        &config,
        &["--set", "resume_from_checkpoint=latest"],
    ));
    assert!(resumed.contains("resuming at step"), "{resumed}");
    let got = outcome(&out);
    let want = reference();
    assert!(
        got.weights == want.weights,
        "{point}: final weights differ after the resume"
    );
    assert_eq!(got.checkpoints, want.checkpoints, "{point}");
    assert_eq!(got.log, want.log, "{point}: metrics.jsonl differs");
    assert_eq!(got.trainer_state, want.trainer_state, "{point}");
    assert_eq!(got.predictions, want.predictions, "{point}");
    assert_eq!(got.status, "finished");
    // The finished run lists with its two durations, named as everywhere else.
    let table = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["runs", "--runs-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let table = text(&table);
    assert!(
        table.lines().any(|l| l.starts_with("crashed ")
            && l.contains("training ")
            && l.contains(" · wall ")),
        "{table}"
    );
}

#[test]
fn kill_after_an_optimizer_step_then_resume_is_bit_identical() {
    crash_and_resume("after-step", 7);
}

#[test]
fn kill_mid_way_through_a_metrics_line_then_resume_is_bit_identical() {
    crash_and_resume("mid-metrics-append", 9);
}

#[test]
fn kill_mid_checkpoint_then_resume_is_bit_identical() {
    crash_and_resume("mid-checkpoint", 2);
}

#[test]
fn kill_right_after_a_checkpoint_commit_then_resume_is_bit_identical() {
    crash_and_resume("after-checkpoint-commit", 2);
}

#[test]
fn kill_mid_rotation_then_resume_is_bit_identical() {
    crash_and_resume("mid-rotation", 1);
}

#[test]
fn kill_mid_evaluation_then_resume_is_bit_identical() {
    crash_and_resume("mid-eval", 3);
}

#[test]
fn kill_before_the_predictions_then_resume_is_bit_identical() {
    crash_and_resume("before-predictions", 1);
}

#[test]
fn kill_before_the_final_run_json_then_resume_reports_the_true_train_loss() {
    crash_and_resume("before-final-status", 1);
}

#[test]
fn resuming_a_finished_run_says_so_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("finished");
    let config = write_config(dir.path(), &out, "max_steps = 5");
    run_ok(&mut wick(dir.path(), &config, &[]));
    let before: Vec<Vec<u8>> = ["metrics.jsonl", "run.json", "predictions.json"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    let output = wick(
        dir.path(),
        &config,
        &["--set", "resume_from_checkpoint=latest"],
    )
    .output()
    .unwrap();
    let said = text(&output);
    assert!(!output.status.success());
    assert!(said.contains("already finished"), "{said}");
    assert!(!said.contains("train loss 0.0000"), "{said}");
    let after: Vec<Vec<u8>> = ["metrics.jsonl", "run.json", "predictions.json"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert!(before == after, "a finished run was rewritten");
}

/// Spawns `wick train` and waits until its run has logged `steps` steps.
fn start_and_wait_for_steps(command: &mut Command, out: &Path, steps: usize) -> Child {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if child.try_wait().unwrap().is_some() {
            panic!(
                "wick ended early:\n{}",
                text(&child.wait_with_output().unwrap())
            );
        }
        let logged = read_metrics(&out.join("metrics.jsonl"))
            .map(|m| m.records.iter().filter(|r| r.contains_key("loss")).count())
            .unwrap_or(0);
        if logged >= steps {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "the run never logged {steps} steps"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let signal = match name {
        "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        other => panic!("no signal {other} in these tests"),
    };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child process; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill -{name} {pid}");
}

fn run_status(out: &Path) -> String {
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    info["status"].as_str().unwrap().to_string()
}

/// A run long enough to be interrupted by hand.
const LONG: &[&str] = &[
    "--set",
    "num_train_epochs=200",
    "--set",
    "save_steps=100000",
    "--set",
    "eval_steps=100000",
];

fn stops_cleanly_on(signal_name: &str, exit_code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("signalled");
    let config = write_config(dir.path(), &out, "");
    let child = start_and_wait_for_steps(&mut wick(dir.path(), &config, LONG), &out, 3);
    signal(&child, signal_name);
    let output = child.wait_with_output().unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(exit_code), "{said}");
    assert!(said.contains("stopping after this step"), "{said}");
    assert!(
        said.contains("To continue this run where it stopped"),
        "{said}"
    );
    assert!(said.contains("resume_from_checkpoint="), "{said}");
    assert_eq!(run_status(&out), "stopped");
    let checkpoints = wick::runs::Checkpoints::open(&out).unwrap();
    let latest = checkpoints
        .latest()
        .unwrap()
        .expect("a checkpoint was saved");
    let logged_steps = read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .records
        .iter()
        .filter_map(|r| r.get("step").and_then(Value::as_u64))
        .max()
        .unwrap();
    assert_eq!(latest.step, logged_steps, "saved where it stopped");
}

#[test]
fn sigint_stops_between_steps_with_a_checkpoint_and_a_resume_hint() {
    stops_cleanly_on("INT", 130);
}

#[test]
fn sigterm_stops_between_steps_with_a_checkpoint() {
    stops_cleanly_on("TERM", 143);
}

#[test]
fn a_second_sigint_quits_at_once_and_the_run_lists_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("twice");
    let config = write_config(dir.path(), &out, "");
    // The stop that the first SIGINT asks for is held before its end for 20 s, so the
    // second one surely comes while the run is still stopping.
    let child = start_and_wait_for_steps(
        wick(dir.path(), &config, LONG).env("WICK_FAULT", "before-final-status:1:sleep20000"),
        &out,
        2,
    );
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(1500));
    let asked = Instant::now();
    signal(&child, "INT");
    let output = child.wait_with_output().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(10), "it quit at once");
    let said = text(&output);
    assert_eq!(output.status.code(), Some(130), "{said}");
    assert!(said.contains("stopping after this step"), "{said}");
    assert!(said.contains("quitting now"), "{said}");
    let listed = list_runs(dir.path()).unwrap();
    let run = listed.runs.iter().find(|r| r.path == out).unwrap();
    assert_eq!(run.info.status, RunStatus::Interrupted);
    assert_eq!(run.in_use_by, None);
}

#[test]
fn two_runs_on_one_output_dir_one_trains_the_other_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shared");
    let config = write_config(dir.path(), &out, "max_steps = 12");
    // The first run is held where it has found the folder free but not yet claimed it
    // with run.json: the moment two runs used to slip through together. Held 10 s, so the
    // second run reaches the folder in that time even on a loaded machine.
    let mut first = wick(dir.path(), &config, &[])
        .env("WICK_FAULT", "after-run-folder-check:1:sleep10000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(first.stderr.take().unwrap());
    let mut held = String::new();
    while !held.contains("holding at after-run-folder-check") {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(
            read > 0,
            "the first run ended before the folder check: {held}"
        );
        held.push_str(&line);
    }
    let second = wick(dir.path(), &config, &[]).output().unwrap();
    let said = text(&second);
    assert!(
        !second.status.success(),
        "the second run trained too: {said}"
    );
    assert!(
        said.contains(&format!("run folder is in use by process {}", first.id())),
        "{said}"
    );
    assert!(!said.contains("No such file"), "{said}");
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    // The winner's log has each step once.
    let steps: Vec<u64> = read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .records
        .iter()
        .filter(|r| r.contains_key("loss"))
        .filter_map(|r| r.get("step").and_then(Value::as_u64))
        .collect();
    assert_eq!(steps, (1..=12).collect::<Vec<_>>());
}

#[test]
fn a_run_being_trained_cannot_be_resumed_by_a_second_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("busy");
    let config = write_config(dir.path(), &out, "");
    // A first stint leaves a checkpoint to resume from.
    let first = start_and_wait_for_steps(&mut wick(dir.path(), &config, LONG), &out, 2);
    signal(&first, "INT");
    first.wait_with_output().unwrap();
    // One resume trains; a second one, while it does, is refused naming it.
    let resume = [LONG, &["--set", "resume_from_checkpoint=latest"]].concat();
    let mut trainer = wick(dir.path(), &config, &resume)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while wick::runs::lock_holder(&out).is_none() {
        assert!(Instant::now() < deadline, "the resume never took the run");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = wick(dir.path(), &config, &resume).output().unwrap();
    let said = text(&second);
    assert!(!second.status.success());
    assert!(
        said.contains(&format!("in use by process {}", trainer.id())),
        "{said}"
    );
    signal(&trainer, "INT");
    let _ = trainer.wait();
    assert_eq!(run_status(&out), "stopped");
}

#[test]
fn kill_mid_way_through_the_tokenized_cache_write_then_the_next_run_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cache-crash");
    let config = write_config(dir.path(), &out, "");
    let crashed = wick(dir.path(), &config, &[])
        .env("WICK_FAULT", "mid-cache-write")
        .output()
        .unwrap();
    assert!(text(&crashed).contains("aborting at mid-cache-write"));
    let temps = temp_files(&dir.path().join("hf"));
    assert_eq!(temps.len(), 1, "the dead writer left its temporary file");
    // Age it past the quiet period that protects live writers in other namespaces.
    let old = std::time::SystemTime::now() - Duration::from_secs(600);
    std::fs::File::options()
        .write(true)
        .open(&temps[0])
        .unwrap()
        .set_modified(old)
        .unwrap();
    // Killed before the run folder existed: the same command simply starts again.
    run_ok(&mut wick(dir.path(), &config, &[]));
    assert!(temp_files(&dir.path().join("hf")).is_empty());
    assert_eq!(&outcome(&out), reference());
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if path.to_string_lossy().ends_with(".tmp") {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_loss_that_explodes_without_nan_warns_once_and_run_json_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exploding");
    let config = write_config(dir.path(), &out, "");
    let said = run_ok(&mut wick(
        dir.path(),
        &config,
        &["--set", "learning_rate=1e2", "--set", "max_steps=10"],
    ));
    assert_eq!(said.matches("the run is diverging").count(), 1, "{said}");
    assert!(said.contains("a lower learning_rate"), "{said}");
    assert!(!said.contains("max_grad_norm = 1.0"), "already set: {said}");
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let warnings = info["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("the run is diverging")),
        "{info}"
    );
}

/// A tmpfs of `bytes` mounted for the test's life; `None` (with a SKIPPED line) without root.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: PathBuf, bytes: u64) -> Option<Self> {
        std::fs::create_dir_all(&path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            println!("SKIPPED: a full disk needs a small tmpfs, and mounting one needs root");
            return None;
        }
        Some(Self { path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                folder_bytes(&path)
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn a_disk_that_holds_only_the_kept_checkpoints_still_trains_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // Room for the run's files and two checkpoints, not three.
    let checkpoint = reference_run().1;
    let disk_size = 2 * checkpoint + checkpoint / 2 + 64 * 1024;
    let Some(disk) = SmallDisk::mount(dir.path().join("disk"), disk_size) else {
        return;
    };
    let out = disk.path.join("run");
    let config = write_config(dir.path(), &out, "");
    // Killed after step 12 with checkpoints 5 and 10 (the limit) on the nearly full disk;
    // the resume saves 15 and 20, each in the room of the oldest one.
    let crashed = wick(dir.path(), &config, &[])
        .env("WICK_FAULT", "after-step:12")
        .output()
        .unwrap();
    assert!(
        text(&crashed).contains("aborting at after-step"),
        "{}",
        text(&crashed)
    );
    let said = run_ok(&mut wick(
        dir.path(),
        &config,
        &["--set", "resume_from_checkpoint=latest"],
    ));
    assert!(
        said.contains("(deleted checkpoint-5 to stay within save_total_limit = 2)"),
        "{said}"
    );
    assert_eq!(&outcome(&out), reference());
}
