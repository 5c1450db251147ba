use super::*;
use crate::runs::TrainerState;

/// Writes a complete checkpoint for `step` through begin/commit.
fn save(checkpoints: &Checkpoints, step: u64) -> Checkpoint {
    let temp = checkpoints.begin(step).unwrap();
    write_required_files(temp.path(), step);
    checkpoints.commit(temp).unwrap()
}

fn write_required_files(dir: &Path, step: u64) {
    for name in REQUIRED_CHECKPOINT_FILES {
        fs::write(dir.join(name), format!("{name} at {step}")).unwrap();
    }
    let state = TrainerState {
        global_step: step,
        ..TrainerState::default()
    };
    state.save(&dir.join(TRAINER_STATE_FILE)).unwrap();
}

fn steps(list: &[Checkpoint]) -> Vec<u64> {
    list.iter().map(|c| c.step).collect()
}

#[test]
fn commit_renames_temp_into_place() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    let temp = checkpoints.begin(459).unwrap();
    assert_eq!(temp.path(), run.path().join("tmp-checkpoint-459"));
    write_required_files(temp.path(), 459);
    let committed = checkpoints.commit(temp).unwrap();
    assert_eq!(committed.path, run.path().join("checkpoint-459"));
    assert!(!run.path().join("tmp-checkpoint-459").exists());
    assert_eq!(checkpoints.latest().unwrap(), Some(committed));
    let state =
        TrainerState::load(&run.path().join("checkpoint-459").join(TRAINER_STATE_FILE)).unwrap();
    assert_eq!(state.global_step, 459);
}

#[test]
fn commit_refuses_incomplete_checkpoint() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    let temp = checkpoints.begin(10).unwrap();
    fs::write(temp.file(MODEL_FILE), b"weights").unwrap();
    let err = checkpoints.commit(temp).unwrap_err().to_string();
    assert!(
        err.contains(OPTIMIZER_FILE) && err.contains("missing"),
        "{err}"
    );
    assert!(!run.path().join("checkpoint-10").exists());
}

#[test]
fn recommitting_a_step_replaces_it() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    save(&checkpoints, 5);
    let temp = checkpoints.begin(5).unwrap();
    write_required_files(temp.path(), 5);
    fs::write(temp.file(MODEL_FILE), b"newer weights").unwrap();
    checkpoints.commit(temp).unwrap();
    assert_eq!(
        fs::read(run.path().join("checkpoint-5").join(MODEL_FILE)).unwrap(),
        b"newer weights"
    );
    let leftovers: Vec<_> = fs::read_dir(run.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["checkpoint-5"]);
}

#[test]
fn torn_writes_fall_back_to_previous_complete_checkpoint() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    save(&checkpoints, 100);
    save(&checkpoints, 200);
    // Killed while writing step 300: the temp folder is left behind.
    let temp = checkpoints.begin(300).unwrap();
    fs::write(temp.file(MODEL_FILE), b"partial").unwrap();
    // Damaged from outside: a checkpoint folder with a truncated state file.
    let damaged = run.path().join("checkpoint-400");
    fs::create_dir(&damaged).unwrap();
    write_required_files(&damaged, 400);
    fs::write(damaged.join(TRAINER_STATE_FILE), b"{\"global_st").unwrap();
    // And one missing its optimizer state.
    let missing = run.path().join("checkpoint-500");
    fs::create_dir(&missing).unwrap();
    write_required_files(&missing, 500);
    fs::remove_file(missing.join(OPTIMIZER_FILE)).unwrap();

    let view = Checkpoints::open(run.path()).unwrap();
    assert_eq!(view.latest().unwrap().map(|c| c.step), Some(200));
    assert!(
        run.path().join("tmp-checkpoint-300").exists(),
        "read-only view must not delete"
    );
    let incomplete: Vec<u64> = view
        .list()
        .unwrap()
        .iter()
        .filter(|e| !e.is_complete())
        .map(|e| e.step)
        .collect();
    assert_eq!(incomplete, [400, 500]);

    let reopened = Checkpoints::open_for_training(run.path()).unwrap();
    assert_eq!(reopened.cleaned(), [run.path().join("tmp-checkpoint-300")]);
    assert!(!run.path().join("tmp-checkpoint-300").exists());
    assert_eq!(reopened.latest().unwrap().map(|c| c.step), Some(200));
}

#[test]
fn names_that_only_look_like_checkpoints_are_ignored() {
    let run = tempfile::tempdir().unwrap();
    for name in [
        "checkpoint-",
        "checkpoint-12a",
        "checkpoint--3",
        "xcheckpoint-7",
    ] {
        fs::create_dir(run.path().join(name)).unwrap();
        write_required_files(&run.path().join(name), 1);
    }
    fs::write(run.path().join("checkpoint-9"), b"a file, not a folder").unwrap();
    let checkpoints = Checkpoints::open(run.path()).unwrap();
    assert!(checkpoints.list().unwrap().is_empty());
    assert_eq!(checkpoints.latest().unwrap(), None);
}

#[test]
fn rotation_deletes_oldest_first() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    for step in [100, 200, 300, 400] {
        save(&checkpoints, step);
    }
    assert!(checkpoints.rotate(None, None).unwrap().is_empty());
    let deleted = checkpoints.rotate(Some(2), None).unwrap();
    assert_eq!(
        deleted,
        [
            run.path().join("checkpoint-100"),
            run.path().join("checkpoint-200")
        ]
    );
    assert_eq!(steps(&checkpoints.complete().unwrap()), [300, 400]);
}

#[test]
fn rotation_keeps_best_checkpoint() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    for step in [100, 200, 300, 400, 500] {
        save(&checkpoints, step);
    }
    checkpoints.rotate(Some(2), Some(200)).unwrap();
    assert_eq!(steps(&checkpoints.complete().unwrap()), [200, 500]);
    // HF: with a limit of 1, the best and the latest are both kept.
    save(&checkpoints, 600);
    checkpoints.rotate(Some(1), Some(200)).unwrap();
    assert_eq!(steps(&checkpoints.complete().unwrap()), [200, 600]);
    // When the latest is the best, a limit of 1 keeps only it.
    checkpoints.rotate(Some(1), Some(600)).unwrap();
    assert_eq!(steps(&checkpoints.complete().unwrap()), [600]);
}

/// Existing steps, `save_total_limit`, best step, and the steps rotation deletes.
type RotationCase = (&'static [u64], Option<u32>, Option<u64>, &'static [u64]);

#[test]
fn rotation_decisions_as_a_table() {
    let cases: &[RotationCase] = &[
        (&[100, 200, 300], None, None, &[]),
        (&[100, 200, 300], Some(0), None, &[]),
        (&[100, 200, 300], Some(2), None, &[100]),
        (&[100, 200, 300], Some(5), None, &[]),
        (&[100, 200, 300, 400], Some(2), Some(100), &[200, 300]),
        (&[100, 200, 300], Some(1), Some(200), &[100]),
        (&[100, 200, 300], Some(1), Some(300), &[100, 200]),
        (&[100, 200, 300], Some(1), None, &[100, 200]),
    ];
    for (steps, limit, best, victims) in cases {
        assert_eq!(
            rotation_victims(steps, *limit, *best),
            *victims,
            "steps {steps:?} limit {limit:?} best {best:?}"
        );
    }
}

#[test]
fn making_room_deletes_before_the_save_what_rotation_would_delete_after_it() {
    let run = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::open_for_training(run.path()).unwrap();
    for step in [100, 200] {
        save(&checkpoints, step);
    }
    // Under the limit after the next save: nothing goes.
    assert!(
        checkpoints
            .make_room(300, Some(3), None)
            .unwrap()
            .is_empty()
    );
    // At the limit: the oldest goes before checkpoint-300 is written.
    let deleted = checkpoints.make_room(300, Some(2), None).unwrap();
    assert_eq!(deleted, [run.path().join("checkpoint-100")]);
    save(&checkpoints, 300);
    assert!(checkpoints.rotate(Some(2), None).unwrap().is_empty());
    assert_eq!(steps(&checkpoints.complete().unwrap()), [200, 300]);
    // The best one stays, whatever the limit.
    let deleted = checkpoints.make_room(400, Some(1), Some(200)).unwrap();
    assert_eq!(deleted, [run.path().join("checkpoint-300")]);
    assert_eq!(steps(&checkpoints.complete().unwrap()), [200]);
}
