//! The pieces of a trainer session's start, in the order it runs them: the recipe's data,
//! the model and its optimizer, the step plan, and the run folder (a fresh one, or the one a
//! checkpoint is resumed into). [`super::trainer`]'s `Session::prepare` reads as a list of
//! these calls.

use candle_core::Device;
use crossbeam_channel::Sender;
use serde_json::Value;
use std::path::{Path, PathBuf};

use super::checkpoint::{self, Position, SchedulerState, TrainTotals};
use super::device::Precision;
use super::events::Event;
use super::inputs::RecipeInputs;
use super::metrics::Metrics;
use super::train_error::TrainError;
use super::{AdamW, AdamWConfig};
use crate::data::{DatasetCache, TokenizedSplit};
use crate::hub;
use crate::model::{Classifier, LoadReport, LoraConfig};
use crate::recipe::{ClassWeights, TrainConfig};
use crate::runs::{Checkpoints, MetricsLog, RunDir, RunStatus, TrainerState};
use crate::task::Task;

use super::trainer::TrainerOptions;

/// `metric_for_best_model` and whether greater is better, refused when Wick does not
/// compute that metric for `task`.
pub(super) fn best_metric(
    cfg: &TrainConfig,
    task: Task,
) -> Result<Option<(String, bool)>, TrainError> {
    match cfg.resolved_metric_for_best_model() {
        Some(name) if !Metrics::is_known_for(task, &name) => Err(TrainError::Invalid(format!(
            "metric_for_best_model: '{name}' is not a metric Wick computes for {} (known: {})",
            task.title(),
            Metrics::names_for(task).join(", ")
        ))),
        Some(name) => Ok(Some((
            name,
            cfg.resolved_greater_is_better().unwrap_or(true),
        ))),
        None => Ok(None),
    }
}

/// The recipe's model folder and tokenizer, and its tokenized splits.
pub(super) struct TrainingData {
    pub inputs: RecipeInputs,
    pub train: TokenizedSplit,
    /// The eval split, or the share of train held out for evaluation.
    pub eval: Option<TokenizedSplit>,
}

/// Resolves the model and tokenizer (Hub ids are downloaded into the shared cache first),
/// then tokenizes the train split and the eval split, telling `events` how far it got.
pub(super) fn load_data(
    cfg: &TrainConfig,
    options: &TrainerOptions,
    events: &Sender<Event>,
) -> Result<TrainingData, TrainError> {
    let download_progress = {
        let events = events.clone();
        hub::download_progress_sink(move |stage, done, total| {
            let _ = events.send(Event::Preparing { stage, done, total });
        })
    };
    let inputs = RecipeInputs::load(cfg, &options.hub, Some(download_progress.clone()))?;
    for message in &inputs.warnings {
        let _ = events.send(Event::Warning {
            message: message.clone(),
        });
    }
    let cache = options
        .dataset_cache
        .then(|| DatasetCache::in_datasets_cache(&options.hub.datasets_cache));
    let load = |split: &str, labels: Option<Vec<String>>| -> Result<TokenizedSplit, TrainError> {
        let stage = format!("tokenizing {split}");
        inputs.prepare_split(
            cfg,
            &options.hub,
            split,
            labels,
            cache.as_ref(),
            Some(download_progress.clone()),
            &|done, total| {
                let _ = events.send(Event::Preparing {
                    stage: stage.clone(),
                    done: done as u64,
                    total: total as u64,
                });
            },
        )
    };
    let train = load(&cfg.train_split, None)?;
    // `run` validated the recipe: evaluation has rows to go on whenever it is asked for.
    let (train, eval) = match (cfg.holdout_percentage(), cfg.eval_split.as_deref()) {
        (Some(percent), _) => {
            let (train, held_out) =
                crate::data::hold_out(&train, percent, cfg.resolved_data_seed())?;
            (train, Some(held_out))
        }
        (None, Some(split)) if !split.is_empty() => {
            let eval = load(split, Some(train.meta.labels.names.clone()))?;
            if eval.task() != train.task() {
                return Err(TrainError::Invalid(format!(
                    "split '{split}' reads as {} ({}) but '{}' as {}; set `task` in the recipe",
                    eval.task().title(),
                    eval.meta.task_reason,
                    cfg.train_split,
                    train.task().title()
                )));
            }
            (train, Some(eval))
        }
        _ => (train, None),
    };
    Ok(TrainingData {
        inputs,
        train,
        eval,
    })
}

/// The model from `model_dir`, or from the checkpoint `resume_dir`, with the head for the
/// training split's task and its class weights, in the run's compute dtype, and a fresh
/// AdamW over its trainable parameters. With `use_lora` the base always comes from
/// `model_dir` and gets adapters (seeded by `seed`); a resumed run then sets the adapters and
/// the saved modules from the checkpoint's `adapter_model.safetensors`.
pub(super) fn build_model(
    cfg: &TrainConfig,
    model_dir: &Path,
    resume_dir: Option<&Path>,
    train: &TokenizedSplit,
    device: &Device,
) -> Result<(Classifier, LoadReport, AdamW), TrainError> {
    let weights_dir = match resume_dir {
        Some(dir) if !cfg.use_lora => dir,
        _ => model_dir,
    };
    let (mut model, mut report) = Classifier::load_for(
        weights_dir,
        Some(train.task()),
        &train.meta.labels.names,
        crate::model::DEFAULT_HEAD_SEED,
        device,
    )?;
    model.set_compute_dtype(Precision::of(cfg).compute_dtype())?;
    model.set_class_weights(class_weights(cfg, train)?.as_deref())?;
    let model = match resume_dir.filter(|_| cfg.use_lora) {
        None => with_lora(cfg, model, &report.newly_initialized)?,
        Some(dir) => resume_lora(cfg, model, &mut report, &dir.join(checkpoint::ADAPTER_DIR))?,
    };
    let optimizer = AdamW::new(model.params(), adamw_config(cfg))?;
    Ok((model, report, optimizer))
}

/// A LoRA run resumed from the checkpoint's `adapter_dir`: adapters with the recipe's
/// settings (checked against the checkpoint's) and the checkpoint's `modules_to_save` as they
/// were (a checkpoint from before new modules joined them has none of theirs), then its
/// weights.
fn resume_lora(
    cfg: &TrainConfig,
    model: Classifier,
    report: &mut LoadReport,
    adapter_dir: &Path,
) -> Result<Classifier, TrainError> {
    let saved = check_adapter_settings(cfg, adapter_dir)?;
    let model = model.with_lora(
        &LoraConfig {
            modules_to_save: saved.modules_to_save,
            ..lora_config(cfg, &report.newly_initialized)
        },
        cfg.seed,
    )?;
    model.load_adapter_weights(&adapter_dir.join(crate::model::ADAPTER_WEIGHTS_FILE))?;
    // A new head is trained and saved with the adapter: resumed, it is not new.
    let saved: Vec<&String> = model.params().iter().map(|(name, _)| name).collect();
    report
        .newly_initialized
        .retain(|name| !saved.contains(&name));
    Ok(model)
}

/// The recipe's AdamW settings.
pub(super) fn adamw_config(cfg: &TrainConfig) -> AdamWConfig {
    AdamWConfig {
        beta1: cfg.adam_beta1,
        beta2: cfg.adam_beta2,
        eps: cfg.adam_epsilon,
        weight_decay: cfg.weight_decay,
    }
}

/// A resumed LoRA run must scale its adapters as it was trained to: A and B of another
/// `lora_alpha`, `use_rslora` or `lora_dropout` would load (their shapes match) and silently
/// make another model. Returns the checkpoint's settings.
fn check_adapter_settings(cfg: &TrainConfig, adapter_dir: &Path) -> Result<LoraConfig, TrainError> {
    let path = adapter_dir.join(crate::model::ADAPTER_CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| TrainError::Invalid(format!("{}: {e}", path.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| TrainError::Invalid(format!("{}: {e}", path.display())))?;
    let saved = LoraConfig::from_peft_json(&json, &path)?;
    let wanted = lora_config(cfg, &[]);
    let differences: Vec<String> = [
        ("lora_r", saved.r as f64, wanted.r as f64),
        ("lora_alpha", saved.lora_alpha, wanted.lora_alpha),
        ("lora_dropout", saved.lora_dropout, wanted.lora_dropout),
        (
            "use_rslora",
            f64::from(u8::from(saved.use_rslora)),
            f64::from(u8::from(wanted.use_rslora)),
        ),
    ]
    .into_iter()
    .filter(|(_, a, b)| (a - b).abs() > 1e-12)
    .map(|(key, a, b)| format!("{key} {a} (the recipe says {b})"))
    .collect();
    if differences.is_empty() {
        return Ok(saved);
    }
    Err(TrainError::Invalid(format!(
        "resume_from_checkpoint: the checkpoint's adapter was trained with {}; resume with the \
         settings it was trained with",
        differences.join(", ")
    )))
}

/// The recipe's LoRA settings, as peft's `LoraConfig`. The head is always saved, as peft's
/// sequence and token classification do; so is any other module the base lacked
/// (`newly_initialized` names its parameters, e.g. DeBERTa's `pooler.dense` on a pre-trained
/// encoder): frozen, it would stay random, where peft leaves it so.
pub(super) fn lora_config(cfg: &TrainConfig, newly_initialized: &[String]) -> LoraConfig {
    let mut modules_to_save = cfg.modules_to_save.clone();
    let new_modules = newly_initialized.iter().map(|param| {
        param
            .rsplit_once('.')
            .map_or(param.as_str(), |(module, _)| module)
    });
    for module in LoraConfig::default()
        .modules_to_save
        .into_iter()
        .chain(new_modules.map(str::to_string))
    {
        if !crate::model::is_saved(&format!("{module}.weight"), &modules_to_save) {
            modules_to_save.push(module);
        }
    }
    LoraConfig {
        r: cfg.lora_r as usize,
        lora_alpha: cfg.lora_alpha,
        lora_dropout: cfg.lora_dropout,
        target_modules: cfg.lora_target_modules.clone(),
        use_rslora: cfg.use_rslora,
        modules_to_save,
        base_model_name_or_path: Some(super::adapter_folder::portable_base(&cfg.model)),
    }
}

/// `model` with adapters when the recipe asks for LoRA (their initial values drawn from
/// `seed`; the modules in `newly_initialized` trained in full), else unchanged.
pub(super) fn with_lora(
    cfg: &TrainConfig,
    model: Classifier,
    newly_initialized: &[String],
) -> Result<Classifier, TrainError> {
    if !cfg.use_lora {
        return Ok(model);
    }
    Ok(model.with_lora(&lora_config(cfg, newly_initialized), cfg.seed)?)
}

/// The recipe's `class_weights` for the training split: `balanced` is sklearn's
/// `n_samples / (n_classes * count)` over the classes the split has (a class it lacks
/// weighs 1: it has no rows, so its weight never counts).
pub(super) fn class_weights(
    cfg: &TrainConfig,
    train: &TokenizedSplit,
) -> Result<Option<Vec<f32>>, TrainError> {
    let task = train.task();
    if cfg.class_weights != ClassWeights::None && !task.uses_cross_entropy() {
        return Err(TrainError::Invalid(format!(
            "class_weights: the data reads as {} ({}); class weights apply to single-label \
             and token classification",
            task.title(),
            train.meta.task_reason
        )));
    }
    Ok(match &cfg.class_weights {
        ClassWeights::None => None,
        ClassWeights::Given(weights) => Some(weights.iter().map(|&w| w as f32).collect()),
        ClassWeights::Balanced => Some(super::scores::balanced_class_weights(
            &train.class_balance(),
        )),
    })
}

/// How many optimizer steps the run takes over `rows` training rows, and where a fresh run
/// starts.
pub(super) struct Plan {
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub scheduler: SchedulerState,
    pub position: Position,
}

impl Plan {
    pub fn new(cfg: &TrainConfig, rows: u64) -> Result<Self, TrainError> {
        if cfg.batches_per_epoch(rows) == 0 {
            return Err(TrainError::Invalid(format!(
                "dataloader_drop_last drops every batch: {rows} training rows are fewer than \
                 per_device_train_batch_size = {}",
                cfg.per_device_train_batch_size
            )));
        }
        let total_steps = cfg.total_optimizer_steps(rows);
        Ok(Plan {
            total_steps,
            steps_per_epoch: cfg.optimizer_steps_per_epoch(rows),
            scheduler: SchedulerState {
                lr_scheduler_type: scheduler_name(cfg),
                base_learning_rate: cfg.learning_rate,
                warmup_steps: cfg.warmup_steps_for(total_steps),
                total_steps,
                last_epoch: 0,
            },
            position: Position {
                global_step: 0,
                epoch: 0,
                step_in_epoch: 0,
                seed: cfg.seed,
                data_seed: cfg.resolved_data_seed(),
            },
        })
    }
}

/// The run folder being written, and where the run stands: what a checkpoint saves besides
/// the weights.
pub(super) struct RunProgress {
    pub run: RunDir,
    pub state: TrainerState,
    pub position: Position,
    pub scheduler: SchedulerState,
    pub totals: TrainTotals,
}

/// A new run folder (`output_dir`, or a named one in the runs root) at the plan's start.
pub(super) fn create_run(
    cfg: &TrainConfig,
    options: &TrainerOptions,
    plan: &Plan,
    rows: u64,
) -> Result<RunProgress, TrainError> {
    let run = match &cfg.output_dir {
        Some(dir) => RunDir::create_at(Path::new(dir), cfg)?,
        None => {
            let root = crate::runs::runs_root(options.runs_root.as_deref()).ok_or_else(|| {
                TrainError::Invalid("no runs folder: set output_dir or WICK_RUNS_DIR".into())
            })?;
            RunDir::create_named(&root, cfg)?
        }
    };
    let mut state = TrainerState::new(cfg, plan.total_steps, cfg.num_epochs_to_iterate(rows));
    if let Some(patience) = cfg.early_stopping_patience {
        state.set_early_stopping(patience, cfg.early_stopping_threshold, 0);
    }
    state.train_batch_size = Some(u64::from(cfg.per_device_train_batch_size));
    Ok(RunProgress {
        run,
        state,
        position: plan.position,
        scheduler: plan.scheduler.clone(),
        totals: TrainTotals::default(),
    })
}

/// Restores the optimizer and the run's position from checkpoint `dir`, and reopens its run
/// folder for writing, cut back to the checkpoint's step. Refuses a checkpoint trained for
/// another number of steps, a run another process writes, and a finished run.
pub(super) fn restore_run(
    cfg: &TrainConfig,
    dir: &Path,
    optimizer: &mut AdamW,
    plan: &Plan,
) -> Result<RunProgress, TrainError> {
    let restored = checkpoint::load(dir, optimizer)?;
    if restored.scheduler.total_steps != plan.scheduler.total_steps
        || restored.scheduler.warmup_steps != plan.scheduler.warmup_steps
    {
        return Err(TrainError::Invalid(format!(
            "{} was trained for {} steps ({} warmup); this config asks for {} ({}). \
             Resume with the same data, batch size and epochs.",
            dir.display(),
            restored.scheduler.total_steps,
            restored.scheduler.warmup_steps,
            plan.total_steps,
            plan.scheduler.warmup_steps
        )));
    }
    let run_path = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    // The lock first: a run that another process writes is refused untouched.
    let mut run = RunDir::open_for_writing(&run_path)?;
    if run.info().status == RunStatus::Finished {
        return Err(TrainError::AlreadyFinished {
            run: run_path,
            finished_at: run.info().finished_at.clone().unwrap_or_default(),
        });
    }
    check_same_holdout(cfg, &run, restored.position.data_seed)?;
    run.set_status(RunStatus::Running)?;
    MetricsLog::truncate_after_step(&run.metrics_path(), restored.position.global_step)?;
    Ok(RunProgress {
        run,
        state: restored.trainer_state,
        position: restored.position,
        scheduler: restored.scheduler,
        totals: restored.totals,
    })
}

/// A held-out share of train is drawn from the data seed: a resume must hold out the same
/// rows, or it would go on training on rows it evaluates on (and evaluate on rows it trained
/// on). Refuses a resume whose percentage or data seed differs from the run's.
fn check_same_holdout(cfg: &TrainConfig, run: &RunDir, data_seed: u64) -> Result<(), TrainError> {
    // Parsed, not validated: the question is only what the run held out.
    let before = TrainConfig::read_unvalidated(&run.path().join(crate::runs::CONFIG_FILE))?
        .holdout_percentage();
    let now = cfg.holdout_percentage();
    let seed_differs = now.is_some() && cfg.resolved_data_seed() != data_seed;
    if before == now && !seed_differs {
        return Ok(());
    }
    let describe = |percent: Option<u32>, seed: u64| match percent {
        Some(percent) => format!("holds out {percent}% of train with data seed {seed}"),
        None => "holds out nothing".to_string(),
    };
    Err(TrainError::Invalid(format!(
        "{} {}; this config {}. Resume with the run's validation_split_percentage and \
         seed/data_seed, so that it never trains on the rows it evaluates on.",
        run.path().display(),
        describe(before, data_seed),
        describe(now, cfg.resolved_data_seed()),
    )))
}

/// The run's logged seconds so far: a resumed run's clock goes on from its last logged line,
/// so that curves drawn against wall time continue instead of starting over.
pub(super) fn elapsed_before(run: &RunDir) -> Result<f64, TrainError> {
    Ok(crate::runs::read_metrics(&run.metrics_path())?
        .records
        .iter()
        .filter_map(|r| r.get("elapsed_s").and_then(Value::as_f64))
        .fold(0.0f64, f64::max))
}

/// The tokenizer files of `model_dir` that each checkpoint carries along.
pub(super) fn tokenizer_files(model_dir: &Path) -> Vec<PathBuf> {
    [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "spm.model",
        "added_tokens.json",
    ]
    .iter()
    .map(|name| model_dir.join(name))
    .filter(|path| path.is_file())
    .collect()
}

fn scheduler_name(cfg: &TrainConfig) -> String {
    serde_json::to_value(cfg.lr_scheduler_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The checkpoint folder to resume from: a path, or `latest` in `output_dir`.
pub(super) fn resume_checkpoint(cfg: &TrainConfig) -> Result<Option<PathBuf>, TrainError> {
    let Some(value) = cfg.resume_from_checkpoint.as_deref() else {
        return Ok(None);
    };
    if value == "latest" {
        let dir = cfg.output_dir.as_deref().ok_or_else(|| {
            TrainError::Invalid("resume_from_checkpoint = \"latest\" needs output_dir".into())
        })?;
        let latest = Checkpoints::open(Path::new(dir))?
            .latest()?
            .ok_or_else(|| {
                TrainError::Invalid(format!(
                    "resume_from_checkpoint: no complete checkpoint in {dir}"
                ))
            })?;
        return Ok(Some(latest.path.clone()));
    }
    let path = PathBuf::from(value);
    let problems = crate::runs::checkpoints::checkpoint_problems(&path);
    if !problems.is_empty() {
        return Err(TrainError::Invalid(format!(
            "resume_from_checkpoint = \"{value}\" is not a complete checkpoint: {}",
            problems.join("; ")
        )));
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_the_base_lacked_train_under_lora_beside_the_head() {
        let cfg = TrainConfig {
            use_lora: true,
            modules_to_save: vec!["extra".into()],
            ..TrainConfig::default()
        };
        // DeBERTa's pooler is new on a pre-trained encoder; the classifier is the head.
        let new = [
            "pooler.dense.weight".to_string(),
            "pooler.dense.bias".to_string(),
            "classifier.weight".to_string(),
            "classifier.bias".to_string(),
        ];
        let config = lora_config(&cfg, &new);
        assert_eq!(
            config.modules_to_save,
            ["extra", "classifier", "score", "pooler.dense"]
        );
        // Nothing new: the head only, as peft saves it.
        assert_eq!(
            lora_config(&TrainConfig::default(), &[]).modules_to_save,
            ["classifier", "score"]
        );
    }
}
