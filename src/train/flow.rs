//! Trainer's default flow (`transformers.DefaultFlowCallback`): after which optimizer steps
//! a run logs, evaluates and saves, and what a recipe will therefore keep.
//!
//! The rules, as in transformers' `trainer_callback.py`:
//! - step end: log when `step == 1` with `logging_first_step`, or every `logging_steps`
//!   ("steps"); evaluate every `eval_steps`; save every `save_steps`;
//! - the run's last step (`global_step >= max_steps`): save, with save_strategy "steps";
//! - epoch end: log, evaluate and save with the "epoch" strategies. Trainer calls its
//!   `on_epoch_end` whenever the epoch's loop ends: after its last batch, and also when
//!   max_steps or early stopping cut it short.
//!
//! So a "steps" strategy does not log or evaluate at the last step unless it is a multiple;
//! an "epoch" strategy always does, because the epoch ends there.
//!
//! And when a run stops: after its last step, at a front end's stop, or when early stopping
//! (`EarlyStoppingCallback`) runs out of patience after an evaluation.

use crate::recipe::{IntervalStrategy, SaveStrategy, TrainConfig};

/// Where an optimizer step falls in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepEnd {
    /// The global step just finished, from 1.
    pub step: u64,
    /// The run's last step (`max_steps`, or the epochs' steps).
    pub total_steps: u64,
    /// The epoch's loop ends after this step: its last batch, the run's last step, or
    /// early stopping.
    pub epoch_ends: bool,
}

impl StepEnd {
    /// The end of global step `step`, the `step_in_epoch`-th of an epoch of
    /// `steps_in_epoch` optimizer steps: the epoch's loop ends after its last step, and after
    /// the run's last step (max_steps may cut the epoch short).
    pub fn new(step: u64, total_steps: u64, step_in_epoch: u64, steps_in_epoch: u64) -> Self {
        Self {
            step,
            total_steps,
            epoch_ends: step_in_epoch == steps_in_epoch || step >= total_steps,
        }
    }

    /// Early stopping ends the epoch's loop too: "epoch" strategies then log and save.
    pub fn stopped_early(self) -> Self {
        Self {
            epoch_ends: true,
            ..self
        }
    }
}

/// What ends a run before its last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    No,
    /// The front end asked (or went away while the run was paused).
    User,
    EarlyStopping,
}

/// Whether early stopping ends the run after an evaluation: `evals_without_improvement` in
/// a row reached `early_stopping_patience`. Never without a patience.
pub fn patience_ran_out(cfg: &TrainConfig, evals_without_improvement: u32) -> bool {
    cfg.early_stopping_patience
        .is_some_and(|patience| evals_without_improvement >= patience)
}

/// Whether the training loop ends after `at`: the run's last step, or a stop.
pub fn run_ends(at: StepEnd, stop: Stop) -> bool {
    stop != Stop::No || at.step >= at.total_steps
}

/// Whether a loss line is logged after `at`.
pub fn log_due(cfg: &TrainConfig, at: StepEnd) -> bool {
    let by_strategy = match cfg.logging_strategy {
        IntervalStrategy::Steps => at.step.is_multiple_of(cfg.logging_steps.max(1)),
        IntervalStrategy::Epoch => at.epoch_ends,
        IntervalStrategy::No => false,
    };
    by_strategy || (at.step == 1 && cfg.logging_first_step)
}

/// Whether the eval split is evaluated after `at`.
pub fn eval_due(cfg: &TrainConfig, at: StepEnd) -> bool {
    match cfg.eval_strategy {
        IntervalStrategy::Steps => at.step.is_multiple_of(cfg.resolved_eval_steps().max(1)),
        IntervalStrategy::Epoch => at.epoch_ends,
        IntervalStrategy::No => false,
    }
}

/// Whether a checkpoint is saved after `at`; `improved` says this step's evaluation set a
/// new best (save_strategy "best").
pub fn save_due(cfg: &TrainConfig, at: StepEnd, improved: bool) -> bool {
    match cfg.save_strategy {
        SaveStrategy::Steps => {
            at.step.is_multiple_of(cfg.save_steps.max(1)) || at.step >= at.total_steps
        }
        SaveStrategy::Epoch => at.epoch_ends,
        SaveStrategy::Best => improved,
        SaveStrategy::No => false,
    }
}

/// The first step at which a run of `total_steps` (`steps_per_epoch` a full epoch) logs a
/// loss, evaluates, and saves; `None` where it never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstRecords {
    pub log: Option<u64>,
    pub eval: Option<u64>,
    pub save: Option<u64>,
}

/// When a recipe first logs, evaluates and saves (without early stopping, which only ends a
/// run after an evaluation).
pub fn first_records(cfg: &TrainConfig, steps_per_epoch: u64, total_steps: u64) -> FirstRecords {
    let within = |step: u64| (1..=total_steps).contains(&step).then_some(step);
    let first_epoch_end = within(steps_per_epoch.max(1).min(total_steps));
    let every = |steps: u64| within(steps.max(1));
    let log = match cfg.logging_strategy {
        _ if cfg.logging_first_step => within(1),
        IntervalStrategy::Steps => every(cfg.logging_steps),
        IntervalStrategy::Epoch => first_epoch_end,
        IntervalStrategy::No => None,
    };
    let eval = match cfg.eval_strategy {
        IntervalStrategy::Steps => every(cfg.resolved_eval_steps()),
        IntervalStrategy::Epoch => first_epoch_end,
        IntervalStrategy::No => None,
    };
    let save = match cfg.save_strategy {
        SaveStrategy::Steps => every(cfg.save_steps).or(within(total_steps)),
        SaveStrategy::Epoch => first_epoch_end,
        // The first evaluation always sets the best so far.
        SaveStrategy::Best => eval,
        SaveStrategy::No => None,
    };
    FirstRecords { log, eval, save }
}

/// What a recipe will not keep, in plain words: no loss line, no evaluation, no checkpoint,
/// or a best model it cannot load. Empty when it logs, evaluates (if asked to) and saves.
pub fn nothing_kept_warnings(
    cfg: &TrainConfig,
    steps_per_epoch: u64,
    total_steps: u64,
) -> Vec<String> {
    let first = first_records(cfg, steps_per_epoch, total_steps);
    let mut warnings = Vec::new();
    if first.log.is_none() {
        warnings.push(match cfg.logging_strategy {
            IntervalStrategy::No => "logging_strategy = \"no\": no loss line in metrics.jsonl, \
                                     only the final train_loss"
                .to_string(),
            _ => format!(
                "logging_steps = {} is more than the run's {total_steps} steps: no loss line \
                 in metrics.jsonl, only the final train_loss",
                cfg.logging_steps
            ),
        });
    }
    if first.eval.is_none() && cfg.eval_strategy != IntervalStrategy::No {
        warnings.push(format!(
            "eval_steps = {} is more than the run's {total_steps} steps: no evaluation \
             during training",
            cfg.resolved_eval_steps()
        ));
    } else if first.eval.is_none() && cfg.has_eval_data() {
        warnings.push(
            "eval_strategy = \"no\": no evaluation during training, only the final \
             predictions"
                .into(),
        );
    }
    if first.eval.is_none() && cfg.load_best_model_at_end {
        warnings.push(
            "load_best_model_at_end: nothing is evaluated, so the run ends with its last \
             model"
                .into(),
        );
    }
    if first.save.is_none() {
        warnings.push(match cfg.save_strategy {
            SaveStrategy::No => "save_strategy = \"no\": no checkpoint, so the Playground \
                                 cannot pick this run and it cannot be resumed"
                .to_string(),
            _ => "save_strategy = \"best\" without an evaluation: no checkpoint, so the \
                  Playground cannot pick this run"
                .to_string(),
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64, total_steps: u64, epoch_ends: bool) -> StepEnd {
        StepEnd {
            step,
            total_steps,
            epoch_ends,
        }
    }

    fn cfg(
        logging: IntervalStrategy,
        eval: IntervalStrategy,
        save: SaveStrategy,
        every: u64,
    ) -> TrainConfig {
        TrainConfig {
            logging_strategy: logging,
            logging_steps: every,
            eval_strategy: eval,
            eval_steps: Some(every),
            eval_split: Some("validation".into()),
            save_strategy: save,
            save_steps: every,
            ..TrainConfig::default()
        }
    }

    /// `(log, eval, save)` after each step of the table, as Trainer decides them.
    #[test]
    fn step_end_decisions_follow_default_flow_callback() {
        use IntervalStrategy::{Epoch, No, Steps};
        // (strategies, every, step, total, epoch_ends, improved) -> (log, eval, save)
        type Row = (
            IntervalStrategy,
            SaveStrategy,
            u64,
            u64,
            u64,
            bool,
            bool,
            Decisions,
        );
        type Decisions = (bool, bool, bool);
        #[rustfmt::skip]
        let table: &[Row] = &[
            // "epoch": max_steps cuts the epoch short, the epoch still ends: all three.
            (Epoch, SaveStrategy::Epoch, 50, 30, 30, true, false, (true, true, true)),
            (Epoch, SaveStrategy::Epoch, 50, 29, 30, false, false, (false, false, false)),
            // "steps": the last step saves, but logs and evaluates only on a multiple.
            (Steps, SaveStrategy::Steps, 50, 30, 30, true, false, (false, false, true)),
            (Steps, SaveStrategy::Steps, 10, 30, 30, true, false, (true, true, true)),
            (Steps, SaveStrategy::Steps, 10, 20, 30, false, false, (true, true, true)),
            (Steps, SaveStrategy::Steps, 10, 21, 30, false, false, (false, false, false)),
            // "best" saves only on a new best, "no" never.
            (Steps, SaveStrategy::Best, 10, 30, 30, true, true, (true, true, true)),
            (Steps, SaveStrategy::Best, 10, 30, 30, true, false, (true, true, false)),
            (No, SaveStrategy::No, 1, 30, 30, true, false, (false, false, false)),
        ];
        for &(strategy, save, every, step, total, epoch_ends, improved, want) in table {
            let c = cfg(strategy, strategy, save, every);
            let point = at(step, total, epoch_ends);
            let got = (
                log_due(&c, point),
                eval_due(&c, point),
                save_due(&c, point, improved),
            );
            assert_eq!(
                got, want,
                "{strategy:?}/{save:?} every {every}, step {step}/{total}"
            );
        }
    }

    /// `(step, total, step_in_epoch, steps_in_epoch, stop)` -> `(epoch_ends, run_ends)`.
    #[test]
    fn the_epoch_and_the_run_end_at_their_last_step_or_a_stop() {
        type Row = (u64, u64, u64, u64, Stop, (bool, bool));
        #[rustfmt::skip]
        let table: &[Row] = &[
            // Mid-epoch, mid-run: neither ends.
            (5, 30, 5, 10, Stop::No, (false, false)),
            // The epoch's last step.
            (10, 30, 10, 10, Stop::No, (true, false)),
            // max_steps cuts the epoch short: both end.
            (7, 7, 7, 10, Stop::No, (true, true)),
            // The last epoch's last step.
            (30, 30, 10, 10, Stop::No, (true, true)),
            // A stop ends the run wherever it is.
            (5, 30, 5, 10, Stop::User, (false, true)),
            (5, 30, 5, 10, Stop::EarlyStopping, (false, true)),
        ];
        for &(step, total, in_epoch, per_epoch, stop, want) in table {
            let point = StepEnd::new(step, total, in_epoch, per_epoch);
            assert_eq!(
                (point.epoch_ends, run_ends(point, stop)),
                want,
                "step {step}/{total}, {in_epoch}/{per_epoch} of the epoch, {stop:?}"
            );
        }
        let stopped = StepEnd::new(5, 30, 5, 10).stopped_early();
        assert!(stopped.epoch_ends, "early stopping ends the epoch's loop");
        assert_eq!((stopped.step, stopped.total_steps), (5, 30));
    }

    /// `(patience, evaluations without improvement)` -> early stopping ends the run.
    #[test]
    fn early_stopping_ends_the_run_when_patience_runs_out() {
        let table: &[(Option<u32>, u32, bool)] = &[
            (None, 0, false),
            (None, 100, false),
            (Some(2), 0, false),
            (Some(2), 1, false),
            (Some(2), 2, true),
            (Some(2), 3, true),
            (Some(0), 0, true),
        ];
        for &(patience, without_improvement, want) in table {
            let c = TrainConfig {
                early_stopping_patience: patience,
                ..TrainConfig::default()
            };
            assert_eq!(
                patience_ran_out(&c, without_improvement),
                want,
                "patience {patience:?}, {without_improvement} evaluations without improvement"
            );
        }
    }

    #[test]
    fn logging_first_step_logs_step_one_whatever_the_strategy() {
        let mut c = cfg(
            IntervalStrategy::No,
            IntervalStrategy::No,
            SaveStrategy::No,
            50,
        );
        c.logging_first_step = true;
        assert!(log_due(&c, at(1, 30, false)));
        assert!(!log_due(&c, at(2, 30, false)));
    }

    #[test]
    fn first_records_and_warnings_per_recipe() {
        use IntervalStrategy::{Epoch, No, Steps};
        // The course preset cut to 30 steps of a 459-step epoch keeps everything at step 30.
        let course = cfg(Steps, Epoch, SaveStrategy::Epoch, 50);
        assert_eq!(
            first_records(&course, 459, 30),
            FirstRecords {
                log: None,
                eval: Some(30),
                save: Some(30)
            }
        );
        let warnings = nothing_kept_warnings(&course, 459, 30);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("logging_steps = 50 is more than the run's 30 steps"),
            "{warnings:?}"
        );

        // (recipe, steps_per_epoch, total) -> the warnings' leading words.
        let mut quiet = cfg(No, No, SaveStrategy::No, 10);
        quiet.load_best_model_at_end = true;
        let mut best_never_evaluated = cfg(Steps, Steps, SaveStrategy::Best, 100);
        best_never_evaluated.logging_steps = 1;
        let healthy = cfg(Steps, Steps, SaveStrategy::Steps, 10);
        let cases: Vec<(TrainConfig, u64, u64, Vec<&str>)> = vec![
            (
                quiet,
                100,
                300,
                vec![
                    "logging_strategy = \"no\"",
                    "eval_strategy = \"no\"",
                    "load_best_model_at_end",
                    "save_strategy = \"no\"",
                ],
            ),
            (
                best_never_evaluated,
                100,
                30,
                vec!["eval_steps = 100", "save_strategy = \"best\""],
            ),
            (healthy.clone(), 100, 300, vec![]),
            // save_strategy "steps" saves the last step even below save_steps.
            (
                TrainConfig {
                    save_steps: 500,
                    ..healthy
                },
                100,
                30,
                vec![],
            ),
        ];
        for (recipe, per_epoch, total, want) in cases {
            let got = nothing_kept_warnings(&recipe, per_epoch, total);
            assert_eq!(got.len(), want.len(), "{got:?}");
            for (message, start) in got.iter().zip(&want) {
                assert!(message.starts_with(start), "{message} vs {start}");
            }
        }
    }
}
