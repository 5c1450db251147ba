//! The training loop, on its own named thread. Read [`Session::train`] top to bottom: it is
//! the course's hand-written loop (the step of [`super::step`]: forward, loss, backward,
//! clip, optimizer update; then the schedule), with Trainer's logging, evaluation,
//! checkpointing and early stopping around it.

use candle_core::Device;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

use super::checkpoint::{self, Position, SchedulerState, TrainTotals, TrainingState};
use super::device::{self, GpuSampler, Precision};
use super::evaluate::{Evaluation, evaluate};
use super::events::{Command, EvalReport, Event, Started, StepReport, Summary};
use super::flow::{self, StepEnd, Stop};
use super::inputs::train_order;
use super::metrics::Metrics;
use super::prepare::{self, Plan, RunProgress, TrainingData};
use super::split_predictions::{PredictedBy, split_predictions};
use super::step::{Accumulation, StepLoss, apply_update};
use super::train_error::{TrainError, divergence_hint};
use super::{AdamW, lr_at};
use crate::data::{self, Collator, TokenizedSplit};
use crate::hub::HubSettings;
use crate::model::{Classifier, Dropout};
use crate::recipe::TrainConfig;
use crate::runs::{
    BestMetric, Checkpoints, LogRecord, MetricsLog, RunDir, RunStatus, TrainerState,
};

/// Where a trainer finds models and data, and keeps what outlives it.
#[derive(Debug, Clone)]
pub struct TrainerOptions {
    /// Runs root; `None` means [`crate::runs::runs_root`] (OS data dir or `WICK_RUNS_DIR`).
    pub runs_root: Option<PathBuf>,
    /// Endpoint, caches, token and offline mode for Hub ids.
    pub hub: HubSettings,
    /// Read and write tokenized splits in `hub.datasets_cache`.
    pub dataset_cache: bool,
}

/// The front end's side of a running trainer.
pub struct TrainerHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: std::thread::JoinHandle<()>,
}

impl TrainerHandle {
    /// Waits for the trainer thread to end (after its `Finished` or `Failed`).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Starts a trainer thread for `config` (already validated) and returns its channels.
pub fn spawn(config: TrainConfig, options: TrainerOptions) -> std::io::Result<TrainerHandle> {
    let (command_tx, command_rx) = crossbeam_channel::unbounded();
    let (event_tx, event_rx) = crossbeam_channel::unbounded();
    let thread = std::thread::Builder::new()
        .name("wick-trainer".into())
        .spawn(move || run_to_end(&config, &options, &command_rx, &event_tx))?;
    Ok(TrainerHandle {
        commands: command_tx,
        events: event_rx,
        thread,
    })
}

/// Runs a whole training and always ends with one `Finished` or `Failed`, panics included.
pub fn run_to_end(
    config: &TrainConfig,
    options: &TrainerOptions,
    commands: &Receiver<Command>,
    events: &Sender<Event>,
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(config, options, commands, events)
    }));
    let event = match outcome {
        Ok(Ok(summary)) => Event::Finished(Box::new(summary)),
        Ok(Err(err)) => Event::Failed {
            reason: err.to_string(),
        },
        Err(panic) => Event::Failed {
            reason: format!(
                "internal error in the trainer: {}",
                crate::panics::panic_message(panic.as_ref())
            ),
        },
    };
    let _ = events.send(event);
}

fn run(
    config: &TrainConfig,
    options: &TrainerOptions,
    commands: &Receiver<Command>,
    events: &Sender<Event>,
) -> Result<Summary, TrainError> {
    config.validate()?;
    let mut session = Session::prepare(config, options, commands, events)?;
    match session.train() {
        Ok(summary) => Ok(summary),
        Err(err) => {
            // The run folder says what happened; its last checkpoint stays resumable.
            let _ = session.run.finish(RunStatus::Failed, Some(err.to_string()));
            Err(err)
        }
    }
}

/// Everything one run holds while it trains.
struct Session<'a> {
    cfg: TrainConfig,
    commands: &'a Receiver<Command>,
    events: &'a Sender<Event>,
    device: Device,
    /// NVML readings for the step reports; `None` on the CPU.
    gpu: Option<GpuSampler>,
    model: Classifier,
    optimizer: AdamW,
    train: TokenizedSplit,
    eval: Option<TokenizedSplit>,
    collator: Collator,
    tokenizer_files: Vec<PathBuf>,
    run: RunDir,
    log: MetricsLog,
    checkpoints: Checkpoints,
    state: TrainerState,
    scheduler: SchedulerState,
    position: Position,
    best_metric: Option<(String, bool)>,
    last_saved_step: Option<u64>,
    last_eval: Option<Metrics>,
    /// Loss, samples and seconds of the whole run, restored on resume.
    totals: TrainTotals,
    /// The first step's loss of this session, to notice one that explodes without NaN.
    first_loss: Option<f64>,
    warned_explosion: bool,
    /// When this session started, and the run's logged seconds before it (resumed runs):
    /// `elapsed_s` in the metrics log is their sum.
    started: Instant,
    elapsed_before: f64,
}

impl<'a> Session<'a> {
    /// Opens the device, loads the data and the model, and opens the run folder (fresh or
    /// resumed), then tells the front end the run has started.
    fn prepare(
        cfg: &TrainConfig,
        options: &TrainerOptions,
        commands: &'a Receiver<Command>,
        events: &'a Sender<Event>,
    ) -> Result<Self, TrainError> {
        let device = device::open_for(cfg)?;
        let TrainingData {
            inputs,
            train,
            eval,
        } = prepare::load_data(cfg, options, events)?;
        let best_metric = prepare::best_metric(cfg, train.task())?;
        let labels = train.meta.labels.names.clone();

        // Model and optimizer, fresh or from a checkpoint.
        let _ = events.send(Event::Preparing {
            stage: "loading model".into(),
            done: 0,
            total: 0,
        });
        let resume_dir = prepare::resume_checkpoint(cfg)?;
        let (model, report, mut optimizer) = prepare::build_model(
            cfg,
            &inputs.model_dir,
            resume_dir.as_deref(),
            &train,
            &device,
        )?;
        let rows = train.len() as u64;
        let plan = Plan::new(cfg, rows)?;
        let RunProgress {
            mut run,
            state,
            position,
            scheduler,
            totals,
        } = match &resume_dir {
            Some(dir) => prepare::restore_run(cfg, dir, &mut optimizer, &plan)?,
            None => prepare::create_run(cfg, options, &plan, rows)?,
        };
        // Said before the run folder existed; kept with the run now that it does.
        for message in &inputs.warnings {
            run.add_warning(message)?;
        }
        run.set_task(train.task())?;
        let elapsed_before = prepare::elapsed_before(&run)?;
        let log = run.metrics_log()?;
        let checkpoints = Checkpoints::open_for_training(run.path())?;

        let _ = events.send(Event::Started(Box::new(Started {
            config: cfg.clone(),
            run_dir: run.path().to_path_buf(),
            device: device::describe(&device),
            total_steps: plan.total_steps,
            steps_per_epoch: plan.steps_per_epoch,
            warmup_steps: scheduler.warmup_steps,
            train_rows: train.len(),
            eval_rows: eval.as_ref().map_or(0, |e| e.len()),
            label_names: labels,
            num_parameters: model.num_parameters(),
            trainable_parameters: model.num_trainable_parameters(),
            newly_initialized: report.newly_initialized,
            resumed_at_step: resume_dir.as_ref().map(|_| position.global_step),
        })));
        Ok(Session {
            cfg: cfg.clone(),
            commands,
            events,
            gpu: GpuSampler::for_device(&device),
            device,
            model,
            optimizer,
            train,
            eval,
            collator: inputs.collator(cfg),
            tokenizer_files: prepare::tokenizer_files(&inputs.model_dir),
            run,
            log,
            checkpoints,
            state,
            scheduler,
            position,
            best_metric,
            last_saved_step: resume_dir.as_ref().map(|_| position.global_step),
            last_eval: None,
            totals,
            first_loss: None,
            warned_explosion: false,
            started: Instant::now(),
            elapsed_before,
        })
    }

    /// The loop.
    fn train(&mut self) -> Result<Summary, TrainError> {
        let total_steps = self.scheduler.total_steps;
        let accumulation = self.cfg.gradient_accumulation_steps.max(1) as usize;
        let order = train_order(&self.cfg, self.position.data_seed);
        let lengths = self.train.lengths();
        let started = Instant::now();
        let first_step = self.position.global_step;
        let (mut samples, mut tokens) = (0usize, 0usize);
        let mut window = LossWindow::default();
        let mut train_seconds = 0.0f64;
        let mut stop = Stop::No;

        'epochs: while self.position.global_step < total_steps {
            let epoch = self.position.epoch;
            let batches = data::epoch_batches(
                &lengths,
                self.cfg.per_device_train_batch_size as usize,
                order,
                epoch,
                self.cfg.dataloader_drop_last,
            );
            let steps_this_epoch = batches.len().div_ceil(accumulation) as u64;
            let skip = self.position.step_in_epoch as usize * accumulation;
            for group in batches[skip.min(batches.len())..].chunks(accumulation) {
                if let Some(requested) = self.handle_commands()? {
                    stop = requested;
                    break 'epochs;
                }
                let step_start = Instant::now();
                let step = self.position.global_step;
                let learning_rate = lr_at(
                    self.cfg.lr_scheduler_type,
                    self.cfg.learning_rate,
                    step,
                    self.scheduler.warmup_steps,
                    total_steps,
                );

                // Forward and backward over each batch of the accumulation group.
                let mut dropout = Dropout::train(self.position.seed, step);
                let mut passes = Accumulation::new(group.len());
                let mut step_samples = 0;
                for rows in group {
                    let batch = self
                        .collator
                        .collate(&self.train, rows)
                        .to_device(&self.device)?;
                    passes.forward_backward(&self.model, &batch, &mut dropout)?;
                    step_samples += rows.len();
                    tokens += batch.stats.real_tokens;
                }
                let StepLoss {
                    mut grads,
                    loss: step_loss,
                } = passes.finish()?;
                if !step_loss.is_finite() {
                    return Err(TrainError::non_finite_loss(
                        step + 1,
                        step_loss,
                        learning_rate,
                        &self.cfg,
                    ));
                }
                self.warn_if_exploding(step + 1, step_loss)?;
                let grad_norm = apply_update(
                    &mut self.optimizer,
                    &mut grads,
                    learning_rate,
                    self.cfg.max_grad_norm,
                )?;
                crate::fault::point("after-step");

                self.position.global_step += 1;
                self.position.step_in_epoch += 1;
                self.scheduler.last_epoch = self.position.global_step;
                self.state.global_step = self.position.global_step;
                let epoch_progress = epoch as f64
                    + self.position.step_in_epoch as f64 / steps_this_epoch.max(1) as f64;
                self.state.epoch = Some(epoch_progress);
                let step_seconds = step_start.elapsed().as_secs_f64();
                train_seconds += step_seconds;
                self.totals.loss_sum += step_loss;
                self.totals.steps += 1;
                samples += step_samples;
                self.totals.samples += step_samples as u64;
                self.totals.train_seconds += step_seconds;
                window.add(step_loss);

                let gpu = self.gpu.as_ref().and_then(GpuSampler::sample);
                let done = self.position.global_step - first_step;
                let per_step = train_seconds / done as f64;
                let _ = self.events.send(Event::Step(StepReport {
                    step: self.position.global_step,
                    total_steps,
                    epoch: epoch_progress,
                    loss: step_loss,
                    learning_rate,
                    grad_norm,
                    samples_per_s: samples as f64 / train_seconds,
                    tokens_per_s: tokens as f64 / train_seconds,
                    eta_s: per_step * (total_steps - self.position.global_step) as f64,
                    elapsed_s: started.elapsed().as_secs_f64(),
                    gpu_memory_used_bytes: gpu.map(|g| g.memory_used_bytes),
                    gpu_utilization_percent: gpu.map(|g| g.utilization_percent),
                }));

                // Trainer's on_epoch_end fires whenever the epoch's loop ends, also when
                // max_steps cuts it short: "epoch" strategies then log, evaluate and save.
                let at = StepEnd::new(
                    self.position.global_step,
                    total_steps,
                    self.position.step_in_epoch,
                    steps_this_epoch,
                );
                let (at, stopped_early) =
                    self.at_step_end(at, &mut window, grad_norm, learning_rate)?;
                if stopped_early {
                    stop = Stop::EarlyStopping;
                }
                if flow::run_ends(at, stop) {
                    break 'epochs;
                }
            }
            self.position.epoch += 1;
            self.position.step_in_epoch = 0;
        }

        self.finish(stop)
    }

    /// Logs, evaluates and saves as [`flow`] decides after a step; returns the step's end as
    /// it turned out (early stopping ends the epoch too) and whether early stopping ran out
    /// of patience.
    fn at_step_end(
        &mut self,
        mut at: StepEnd,
        window: &mut LossWindow,
        grad_norm: f64,
        learning_rate: f64,
    ) -> Result<(StepEnd, bool), TrainError> {
        let mut logged = false;
        if flow::log_due(&self.cfg, at) {
            self.log_loss(window, grad_norm, learning_rate)?;
            logged = true;
        }
        let (mut improved, mut stopped_early) = (false, false);
        if flow::eval_due(&self.cfg, at) {
            let (is_best, patience_ran_out) = self.evaluate_and_log()?;
            improved = is_best;
            if patience_ran_out {
                stopped_early = true;
                at = at.stopped_early();
                if !logged && flow::log_due(&self.cfg, at) {
                    self.log_loss(window, grad_norm, learning_rate)?;
                }
            }
        }
        if flow::save_due(&self.cfg, at, improved) {
            self.save_checkpoint()?;
        }
        Ok((at, stopped_early))
    }

    /// Drains the command channel; blocks while paused. Returns a stop request, if any.
    fn handle_commands(&mut self) -> Result<Option<Stop>, TrainError> {
        let mut paused = false;
        loop {
            let command = if paused {
                match self.commands.recv() {
                    Ok(command) => command,
                    // The front end is gone: nobody can resume us, so stop cleanly.
                    Err(_) => return Ok(Some(Stop::User)),
                }
            } else {
                match self.commands.try_recv() {
                    Ok(command) => command,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(None),
                }
            };
            let step = self.position.global_step;
            match command {
                Command::Pause if !paused => {
                    paused = true;
                    let _ = self.events.send(Event::Paused { step });
                }
                Command::Resume if paused => {
                    paused = false;
                    let _ = self.events.send(Event::Resumed { step });
                }
                Command::Pause | Command::Resume => {}
                Command::Stop => return Ok(Some(Stop::User)),
                Command::SaveNow => self.save_checkpoint()?,
                Command::EvalNow => {
                    if self.eval.is_some() {
                        self.evaluate_and_log()?;
                    }
                }
            }
        }
    }

    /// Logs the mean loss of the steps since the last loss line, and starts a new window.
    fn log_loss(
        &mut self,
        window: &mut LossWindow,
        grad_norm: f64,
        learning_rate: f64,
    ) -> Result<(), TrainError> {
        self.log_record(json!({
            "loss": window.mean(),
            "grad_norm": grad_norm,
            "learning_rate": learning_rate,
            "epoch": self.state.epoch.unwrap_or(0.0),
            "step": self.position.global_step,
        }))?;
        *window = LossWindow::default();
        Ok(())
    }

    /// Evaluates, logs, and updates the best metric and early stopping.
    /// Returns `(is_best, patience_ran_out)`.
    fn evaluate_and_log(&mut self) -> Result<(bool, bool), TrainError> {
        let Some(split) = self.eval.as_ref() else {
            return Ok((false, false));
        };
        let Evaluation {
            metrics, runtime_s, ..
        } = evaluate(
            &self.model,
            split,
            &self.collator,
            self.cfg.per_device_eval_batch_size as usize,
            &self.device,
        )?;
        crate::fault::point("mid-eval");
        let rows = split.len() as f64;
        let epoch = self.state.epoch.unwrap_or(0.0);
        let mut record = metrics.to_log_entries("eval_");
        record.insert("eval_runtime".into(), json!(runtime_s));
        record.insert("eval_samples_per_second".into(), json!(rows / runtime_s));
        record.insert("epoch".into(), json!(epoch));
        record.insert("step".into(), json!(self.position.global_step));
        self.log_record(Value::Object(record))?;

        let (mut is_best, mut patience_ran_out) = (false, false);
        if let Some((name, greater_is_better)) = self.best_metric.clone() {
            let value = match metrics.get(&name) {
                Some(value) => value,
                // A correlation of constant predictions is undefined: this evaluation does
                // not improve on anything, and the run goes on.
                None if Metrics::is_known_for(metrics.task, &name) => {
                    self.warn(format!(
                        "{name} is undefined at step {} (constant predictions or labels); \
                         this evaluation counts as no improvement",
                        self.position.global_step
                    ))?;
                    f64::NAN
                }
                None => {
                    return Err(TrainError::Invalid(format!(
                        "metric_for_best_model '{name}' was not computed"
                    )));
                }
            };
            if self.cfg.early_stopping_patience.is_some() {
                let evals_without_improvement =
                    self.state.record_early_stopping(value, greater_is_better);
                patience_ran_out = flow::patience_ran_out(&self.cfg, evals_without_improvement);
            }
            let checkpoint =
                self.checkpoints
                    .run_dir()
                    .join(crate::runs::checkpoints::checkpoint_name(
                        self.position.global_step,
                    ));
            is_best = self.state.update_best(
                value,
                greater_is_better,
                Some(checkpoint.display().to_string()),
            );
            if is_best {
                self.run.set_best_metric(BestMetric {
                    name: format!("eval_{}", name.trim_start_matches("eval_")),
                    value,
                    step: self.position.global_step,
                    checkpoint: None,
                })?;
            }
        }
        let _ = self.events.send(Event::Eval(EvalReport {
            step: self.position.global_step,
            epoch,
            metrics: metrics.clone(),
            runtime_s,
            samples_per_s: rows / runtime_s,
            is_best,
        }));
        self.last_eval = Some(metrics);
        Ok((is_best, patience_ran_out))
    }

    /// `trainer.predict(eval split)` with the final model, into `predictions.json`.
    fn write_predictions(&self, by: PredictedBy) -> Result<(), TrainError> {
        let Some(split) = self.eval.as_ref() else {
            return Ok(());
        };
        let evaluation = evaluate(
            &self.model,
            split,
            &self.collator,
            self.cfg.per_device_eval_batch_size as usize,
            &self.device,
        )?;
        let word_ids = self.eval_word_ids(split)?;
        let predictions = split_predictions(split, &evaluation, by, word_ids.as_deref())?;
        crate::runs::write_predictions(self.run.path(), &predictions)?;
        Ok(())
    }

    /// Each eval token's word index (-1 for special tokens), for a token classifier trained
    /// on every piece of a word (`label_all_tokens`): the labels alone no longer say which
    /// piece starts a word. The words are tokenized again as the split was; `None` when
    /// the labels say it (every other case).
    fn eval_word_ids(&self, split: &TokenizedSplit) -> Result<Option<Vec<Vec<i32>>>, TrainError> {
        if !(split.task().per_token() && self.cfg.label_all_tokens) {
            return Ok(None);
        }
        let Some(dir) = self.tokenizer_files.first().and_then(|f| f.parent()) else {
            return Ok(None);
        };
        let tokenizer = data::TextTokenizer::load(dir)?;
        let words = super::split_predictions::column_words(split, &split.meta.mapping.text)?;
        let words: Vec<Vec<&str>> = words
            .iter()
            .map(|row| row.iter().map(String::as_str).collect())
            .collect();
        let options = data::TokenizeOptions {
            max_length: Some(split.meta.max_length),
            threads: self.cfg.tokenize_threads.unwrap_or(0) as usize,
            ..data::TokenizeOptions::default()
        };
        let (columns, word_ids) = data::tokenize_words(&tokenizer, &words, &options, &|_, _| {})?;
        let mut rows = Vec::with_capacity(split.len());
        for (row, bounds) in columns.offsets.windows(2).enumerate() {
            let span = bounds[0] as usize..bounds[1] as usize;
            // Not the split's tokens (another tokenizer?): the labels' reading is the best.
            if columns.ids[span.clone()] != *split.ids(row) {
                return Ok(None);
            }
            rows.push(word_ids[span].to_vec());
        }
        Ok(Some(rows))
    }

    fn save_checkpoint(&mut self) -> Result<(), TrainError> {
        if self.last_saved_step == Some(self.position.global_step) {
            return Ok(());
        }
        // What rotation would delete after this save goes first, so a nearly full disk
        // still has room for the new checkpoint.
        let mut deleted = self.checkpoints.make_room(
            self.position.global_step,
            self.cfg.save_total_limit,
            self.state.best_global_step,
        )?;
        let saved = checkpoint::save(
            &self.checkpoints,
            &self.model,
            &TrainingState {
                optimizer: &self.optimizer,
                scheduler: &self.scheduler,
                position: &self.position,
                trainer_state: &self.state,
                totals: &self.totals,
                tokenizer_files: &self.tokenizer_files,
            },
        )?;
        self.last_saved_step = Some(self.position.global_step);
        crate::fault::point("after-checkpoint-commit");
        deleted.extend(
            self.checkpoints
                .rotate(self.cfg.save_total_limit, self.state.best_global_step)?,
        );
        let _ = self.events.send(Event::CheckpointSaved {
            step: self.position.global_step,
            path: saved.path.clone(),
            deleted,
        });
        Ok(())
    }

    /// Tells the front end, and keeps the warning in `run.json` so it outlives the session.
    fn warn(&mut self, message: String) -> Result<(), TrainError> {
        self.run.add_warning(&message)?;
        let _ = self.events.send(Event::Warning { message });
        Ok(())
    }

    /// A loss that grows far past where it started has diverged even if it never becomes
    /// NaN (e.g. a learning rate of 1e6): say so once, while the run goes on.
    fn warn_if_exploding(&mut self, step: u64, loss: f64) -> Result<(), TrainError> {
        let first = *self.first_loss.get_or_insert(loss);
        if self.warned_explosion || !loss_exploded(first, loss) {
            return Ok(());
        }
        self.warned_explosion = true;
        self.warn(format!(
            "the training loss grew from {first:.4} to {loss:.4} by step {step} \
             (over {EXPLOSION_FACTOR}x): the run is diverging. {}",
            divergence_hint(&self.cfg)
        ))
    }

    /// Appends to `metrics.jsonl` (with `elapsed_s`, wall-clock seconds of training so far,
    /// so runs can be overlaid against time) and to the trainer state's
    /// `log_history` (without the wall-clock keys, as HF has it).
    fn log_record(&mut self, record: Value) -> Result<(), TrainError> {
        let Value::Object(mut record) = record else {
            return Err(TrainError::Invalid("a log record must be an object".into()));
        };
        record.insert(
            "elapsed_s".into(),
            json!(self.elapsed_before + self.started.elapsed().as_secs_f64()),
        );
        self.log.append(&record)?;
        let mut history: LogRecord = record;
        history.remove("wall_time");
        history.remove("elapsed_s");
        self.state.log_history.push(history);
        Ok(())
    }

    /// The end of the run. Its summary covers every step since the start, across resumes.
    fn finish(&mut self, stop: Stop) -> Result<Summary, TrainError> {
        let stopped_by_user = stop == Stop::User;
        if stopped_by_user {
            // Nothing is lost: the stopped run can be resumed from here.
            self.save_checkpoint()?;
        }
        let TrainTotals {
            steps,
            samples,
            train_seconds,
            ..
        } = self.totals;
        let train_loss = self.totals.mean_loss();
        let epoch = self.state.epoch.unwrap_or(0.0);
        self.log_record(json!({
            "train_runtime": train_seconds,
            "train_samples_per_second": samples as f64 / train_seconds.max(1e-9),
            "train_steps_per_second": steps as f64 / train_seconds.max(1e-9),
            "train_loss": train_loss,
            "epoch": epoch,
            "step": self.position.global_step,
        }))?;

        let best_checkpoint = self
            .state
            .best_model_checkpoint
            .as_ref()
            .map(PathBuf::from)
            .filter(|p| p.join(crate::runs::checkpoints::MODEL_FILE).is_file());
        if self.cfg.load_best_model_at_end
            && let Some(best) = &best_checkpoint
        {
            let labels = self.model.labels().to_vec();
            let (mut model, _) = Classifier::load(best, &labels, &self.device)?;
            model.set_compute_dtype(Precision::of(&self.cfg).compute_dtype())?;
            model.set_class_weights(self.model.class_weights()?.as_deref())?;
            self.model = model;
        }
        let predicted_by = match (&best_checkpoint, self.cfg.load_best_model_at_end) {
            (Some(best), true) => PredictedBy {
                step: self
                    .state
                    .best_global_step
                    .unwrap_or(self.position.global_step),
                checkpoint: best.file_name().map(|n| n.to_string_lossy().into_owned()),
            },
            _ => PredictedBy {
                step: self.position.global_step,
                checkpoint: (self.last_saved_step == Some(self.position.global_step))
                    .then(|| crate::runs::checkpoints::checkpoint_name(self.position.global_step)),
            },
        };
        crate::fault::point("before-predictions");
        self.write_predictions(predicted_by)?;
        crate::fault::point("before-final-status");
        let status = if stopped_by_user {
            RunStatus::Stopped
        } else {
            RunStatus::Finished
        };
        self.run.set_train_runtime(train_seconds);
        self.run.finish(status, None)?;
        Ok(Summary {
            wall_s: self.run.info().durations().wall_s,
            run_dir: self.run.path().to_path_buf(),
            global_step: self.position.global_step,
            epoch,
            train_loss,
            train_runtime_s: train_seconds,
            train_samples_per_s: samples as f64 / train_seconds.max(1e-9),
            best_metric: self
                .best_metric
                .as_ref()
                .zip(self.state.best_metric)
                .map(|((name, _), value)| (name.clone(), value)),
            best_checkpoint,
            last_eval: self.last_eval.clone(),
            stopped_by_user,
            stopped_early: stop == Stop::EarlyStopping,
        })
    }
}

/// The steps since the last loss line, whose mean loss the next line logs.
#[derive(Debug, Default)]
struct LossWindow {
    sum: f64,
    steps: u64,
}

impl LossWindow {
    fn add(&mut self, loss: f64) {
        self.sum += loss;
        self.steps += 1;
    }

    fn mean(&self) -> f64 {
        self.sum / self.steps.max(1) as f64
    }
}

/// How many times its first value the loss may grow before the run is said to diverge.
const EXPLOSION_FACTOR: f64 = 100.0;

fn loss_exploded(first: f64, loss: f64) -> bool {
    first > 0.0 && loss > EXPLOSION_FACTOR * first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_divergence_hint_names_only_settings_not_already_so() {
        let mut cfg = TrainConfig {
            learning_rate: 1e-3,
            max_grad_norm: 1.0,
            warmup_ratio: 0.1,
            ..TrainConfig::default()
        };
        let hint = divergence_hint(&cfg);
        assert!(
            hint.contains("a lower learning_rate (now 1e-3, e.g. 1e-4)"),
            "{hint}"
        );
        assert!(!hint.contains("max_grad_norm"), "{hint}");
        assert!(!hint.contains("warmup"), "{hint}");
        cfg.max_grad_norm = 0.0;
        cfg.warmup_ratio = 0.0;
        cfg.bf16 = true;
        let hint = divergence_hint(&cfg);
        for wanted in ["max_grad_norm = 1.0", "warmup_ratio = 0.1", "bf16 = false"] {
            assert!(hint.contains(wanted), "{hint}");
        }
    }

    #[test]
    fn a_loss_has_exploded_past_a_hundred_times_its_start() {
        assert!(!loss_exploded(0.7, 69.0));
        assert!(loss_exploded(0.7, 71.0));
        assert!(!loss_exploded(0.0, 1e9), "no scale to compare with");
    }
}
