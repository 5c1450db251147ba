//! Preflight: before a run starts, one REAL training step on the chosen device, to say how
//! long the run will take and whether it fits in memory.
//!
//! It loads the model and tokenizer exactly as the trainer does, builds the worst-case batch
//! (the longest rows of the train split, or full-length synthetic tokens when the data cannot
//! be read), and runs forward + backward + optimizer step: a warm-up, then measured steps. On
//! CPU, memory comes from `/proc/self/status` (VmRSS, VmHWM) and `/proc/meminfo`
//! (MemAvailable); the largest batch size is extrapolated from the peak at two batch sizes
//! and labelled an estimate.
//!
//! For a LoRA recipe it then measures what LoRA saves: the LoRA model and its optimizer are
//! dropped, the same model is built without adapters (every weight trains) and one step runs
//! on the same worst-case batch, its peak (CPU) and time reported beside LoRA's
//! ([`FullFineTuning`]).
//!
//! It also says what the recipe will keep nothing of: no loss line, no evaluation, no
//! checkpoint (from the config and the step counts, [`nothing_kept_warnings`]).

use candle_core::Device;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::device;
use super::flow::nothing_kept_warnings;
use super::inputs::{RecipeInputs, train_order};
use super::step::{Accumulation, StepLoss, apply_update};
use super::{AdamW, TrainError};
use crate::data::{self, Collator, DatasetCache, HostBatch, HostLabels, PadStats};
use crate::hub::{self, HubSettings};
use crate::model::{Classifier, Dropout, ModelConfig};
use crate::recipe::{DeviceSpec, TrainConfig};
use crate::task::Task;

/// Progress as `(stage, done, total)`; `total` is 0 when unknown.
pub type PreflightProgress = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// Where the measured batch came from.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchSource {
    /// The longest rows of the train split (the worst case the run will meet).
    LongestRows { split: String },
    /// Full-length synthetic tokens, because the data could not be read (the reason).
    Synthetic { reason: String },
}

/// Memory seen on CPU, in bytes (process resident set, from `/proc/self/status`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryReport {
    /// Resident set before the model was loaded.
    pub rss_before: u64,
    /// Resident set after the measured steps.
    pub rss_after: u64,
    /// The highest resident set seen during the steps (VmHWM).
    pub peak: u64,
    /// Whether the peak counter could be reset before each step; when not, `peak` is the
    /// process's peak since it started.
    pub peak_reset: bool,
    /// Memory the system could still give (MemAvailable), when known.
    pub available: Option<u64>,
    /// Peak growth per extra sample in a batch, from the peaks at two batch sizes
    /// (`None` when the difference was too small to measure).
    pub per_sample: Option<u64>,
}

/// The largest batch size that should fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargestBatch {
    pub batch_size: u64,
    /// True when extrapolated from two measurements rather than tried.
    pub estimated: bool,
}

/// For a LoRA recipe: the same worst-case step with every weight training, measured after
/// LoRA's, so the saving is measured rather than estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct FullFineTuning {
    /// The parameters full fine-tuning trains: every one of the model without adapters.
    pub trainable_parameters: usize,
    /// Seconds per optimizer step on the worst-case batch (one step, not warmed up).
    pub worst_step_time_s: f64,
    /// CPU only: the peak resident set (VmHWM, reset before the step) of LoRA's worst-case
    /// step and of the full one; `None` elsewhere or when the peak cannot be reset.
    pub lora_peak: Option<u64>,
    pub full_peak: Option<u64>,
}

impl FullFineTuning {
    /// Bytes LoRA's step peaks below full fine-tuning's (negative when above), when both
    /// peaks were measured.
    pub fn saved_bytes(&self) -> Option<i64> {
        Some(self.full_peak? as i64 - self.lora_peak? as i64)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreflightReport {
    /// The device the step ran on, e.g. "cpu (2 threads)".
    pub device: String,
    pub model_dir: PathBuf,
    pub num_parameters: usize,
    /// The parameters that train (all of them, or LoRA's adapters and saved modules).
    pub trainable_parameters: usize,
    pub batch_source: BatchSource,
    /// `per_device_train_batch_size`.
    pub batch_size: usize,
    /// The resolved `max_length` (what rows are truncated to).
    pub max_length: usize,
    /// Padded length of the worst-case batch.
    pub worst_seq_len: usize,
    /// Padded length of the typical batch the step time comes from.
    pub typical_seq_len: usize,
    /// Seconds per optimizer step at the typical batch (all accumulation micro-batches
    /// included): what the ETA uses.
    pub step_time_s: f64,
    /// Seconds per optimizer step at the worst-case batch.
    pub worst_step_time_s: f64,
    /// Training rows, when the data could be read.
    pub train_rows: Option<u64>,
    pub steps_per_epoch: Option<u64>,
    /// Optimizer steps of the whole run (`TrainConfig::total_optimizer_steps`).
    pub total_steps: Option<u64>,
    /// `step_time_s * total_steps`: training only, evaluation comes on top.
    pub eta_s: Option<f64>,
    /// CPU only; `None` on other devices (not measured, rather than guessed).
    pub memory: Option<MemoryReport>,
    pub largest_batch: Option<LargestBatch>,
    /// What the recipe will log, evaluate or save nothing of ([`nothing_kept_warnings`]),
    /// when the run's steps are known.
    pub warnings: Vec<String>,
    /// LoRA recipes only: full fine-tuning's step on the same batch, for comparison.
    pub full_fine_tuning: Option<FullFineTuning>,
}

/// Runs one real training step (after a warm-up) for `config` and reports time and memory.
pub fn preflight(
    config: &TrainConfig,
    hub_settings: &HubSettings,
    progress: PreflightProgress,
) -> Result<PreflightReport, TrainError> {
    config.validate()?;
    let device = device::open_for(config)?;
    let rss_before = proc_status_kib("VmRSS").map(|k| k * 1024);

    progress("finding the model", 0, 0);
    let sink = {
        let progress = progress.clone();
        hub::download_progress_sink(move |stage, done, total| progress(&stage, done, total))
    };
    // The same model folder, tokenizer, max_length and collator the trainer will use.
    let inputs = RecipeInputs::load(config, hub_settings, Some(sink.clone()))?;
    let model_dir = inputs.model_dir.clone();
    let model_config = ModelConfig::from_file(&model_dir.join("config.json"))?;
    let max_length = inputs.max_length;
    let collator = inputs.collator(config);
    let batch_size = config.per_device_train_batch_size.max(1) as usize;

    let batches =
        match load_train_batches(config, hub_settings, &inputs, &collator, &sink, &progress) {
            Ok(batches) => batches,
            Err(err) => synthetic_batches(&model_config, config.task, &collator, err.to_string()),
        };

    progress("loading the model", 0, 0);
    // The model as the trainer builds it: the base with the head for the data's task.
    let load_model = || {
        Classifier::load_for(
            &model_dir,
            Some(batches.task),
            &batches.labels,
            crate::model::DEFAULT_HEAD_SEED,
            &device,
        )
    };
    let (model, report) = load_model()?;
    let model = super::prepare::with_lora(config, model, &report.newly_initialized)?;
    let mut optimizer = AdamW::new(model.params(), super::prepare::adamw_config(config))?;
    let mut stepper = Stepper {
        config,
        device: &device,
        model: &model,
        optimizer: &mut optimizer,
        step: 0,
    };

    // Two batch sizes for the memory slope: (B/2, B), or (1, 2) when B is 1.
    let (small, large) = if batch_size >= 2 {
        (batch_size / 2, batch_size)
    } else {
        (1, 2)
    };
    let cpu = matches!(device, Device::Cpu);
    // A LoRA recipe adds full fine-tuning's step, for comparison.
    let total_phases = 5 + u64::from(config.use_lora);
    progress("warm-up step", 0, total_phases);
    stepper.run(&batches.worst(small))?;
    progress("measuring memory", 1, total_phases);
    let peak_reset = reset_peak_rss();
    stepper.run(&batches.worst(small))?;
    let peak_small = proc_status_kib("VmHWM").map(|k| k * 1024);
    reset_peak_rss();
    progress("measuring memory", 2, total_phases);
    stepper.run(&batches.worst(large))?;
    let peak_large = proc_status_kib("VmHWM").map(|k| k * 1024);
    progress("measuring the worst-case step", 3, total_phases);
    let worst = batches.worst(batch_size);
    reset_peak_rss();
    let worst_timing = stepper.run(&worst)?;
    let worst_peak = proc_status_kib("VmHWM").map(|k| k * 1024);
    let typical_timing = match &batches.typical {
        Some(typical) if typical.seq_len != worst.seq_len => {
            progress("measuring a typical step", 4, total_phases);
            Some((typical.seq_len, stepper.run(typical)?))
        }
        _ => None,
    };
    let accumulation = config.gradient_accumulation_steps.max(1) as f64;
    let per_optimizer_step = |t: StepTiming| accumulation * t.forward_backward_s + t.update_s;
    let num_parameters = model.num_parameters();
    let trainable_parameters = model.num_trainable_parameters();
    let rss_after = proc_status_kib("VmRSS").map_or(0, |k| k * 1024);
    let peak_so_far = proc_status_kib("VmHWM").map_or(0, |k| k * 1024);

    // LoRA's figures stand on their own: the comparison is skipped, with a warning, when
    // full fine-tuning would not fit in memory or its step fails (LoRA is often chosen for
    // exactly that).
    let mut comparison_warning = None;
    // Weights, gradients and two AdamW moments, 4 bytes each, on top of what is resident.
    let full_needs = 16 * num_parameters as u64;
    let available = meminfo_kib("MemAvailable").map(|k| k * 1024);
    let full_fine_tuning = match available {
        _ if !config.use_lora => None,
        Some(available) if cpu && full_needs > available => {
            comparison_warning = Some(format!(
                "Full fine-tuning was not measured for comparison: it needs about {:.1} GB \
                 for weights, gradients and AdamW moments, and {:.1} GB is available",
                full_needs as f64 / 1e9,
                available as f64 / 1e9
            ));
            None
        }
        _ => {
            progress("measuring full fine-tuning", 5, total_phases);
            // LoRA's model and moments go first (the stepper's borrows ended with its last
            // step), so the full step's peak is its own.
            drop(optimizer);
            drop(model);
            let measure = || -> Result<FullFineTuning, TrainError> {
                let (full_model, _) = load_model()?;
                let mut full_optimizer =
                    AdamW::new(full_model.params(), super::prepare::adamw_config(config))?;
                let full_reset = reset_peak_rss();
                let timing = Stepper {
                    config,
                    device: &device,
                    model: &full_model,
                    optimizer: &mut full_optimizer,
                    step: 0,
                }
                .run(&worst)?;
                let full_peak = proc_status_kib("VmHWM").map(|k| k * 1024);
                let measured = cpu && peak_reset && full_reset;
                Ok(FullFineTuning {
                    trainable_parameters: full_model.num_trainable_parameters(),
                    worst_step_time_s: per_optimizer_step(timing),
                    lora_peak: worst_peak.filter(|_| measured),
                    full_peak: full_peak.filter(|_| measured),
                })
            };
            match measure() {
                Ok(full) => Some(full),
                Err(err) => {
                    comparison_warning = Some(format!(
                        "Full fine-tuning's step could not be measured for comparison: {err}"
                    ));
                    None
                }
            }
        }
    };
    progress("done", total_phases, total_phases);
    let worst_step_time_s = per_optimizer_step(worst_timing);
    let (typical_seq_len, step_time_s) = match typical_timing {
        Some((len, timing)) => (len, per_optimizer_step(timing)),
        None => (worst.seq_len, worst_step_time_s),
    };
    let train_rows = batches.train_rows;
    let steps_per_epoch = train_rows.map(|rows| config.optimizer_steps_per_epoch(rows));
    let total_steps = match train_rows {
        Some(rows) => Some(config.total_optimizer_steps(rows)),
        None if config.max_steps > 0 => Some(config.max_steps as u64),
        None => None,
    };

    let memory = match (cpu, rss_before, peak_small, peak_large) {
        (true, Some(rss_before), Some(peak_small), Some(peak_large)) => {
            let per_sample = peak_large
                .checked_sub(peak_small)
                .map(|growth| growth / (large - small) as u64)
                .filter(|&bytes| bytes >= 4096);
            Some(MemoryReport {
                rss_before,
                rss_after,
                peak: peak_small.max(peak_large).max(peak_so_far),
                peak_reset,
                available: meminfo_kib("MemAvailable").map(|k| k * 1024),
                per_sample,
            })
        }
        _ => None,
    };
    let largest_batch = memory.as_ref().and_then(|m| {
        largest_batch_estimate(
            peak_large?,
            large as u64,
            m.per_sample?,
            m.rss_after,
            m.available?,
        )
    });

    Ok(PreflightReport {
        device: match config.device_spec() {
            Some(DeviceSpec::Cuda(n)) => format!("cuda:{n}"),
            _ => format!("cpu ({} threads)", rayon::current_num_threads()),
        },
        model_dir,
        num_parameters,
        trainable_parameters,
        batch_source: batches.source,
        batch_size,
        max_length,
        worst_seq_len: worst.seq_len,
        typical_seq_len,
        step_time_s,
        worst_step_time_s,
        train_rows,
        steps_per_epoch,
        total_steps,
        eta_s: total_steps.map(|steps| step_time_s * steps as f64),
        memory,
        largest_batch,
        warnings: total_steps
            .map_or_else(Vec::new, |total| {
                nothing_kept_warnings(config, steps_per_epoch.unwrap_or(total), total)
            })
            .into_iter()
            .chain(comparison_warning)
            .collect(),
        full_fine_tuning,
    })
}

/// The largest batch whose extrapolated peak stays under 90% of what the process could
/// reach (its resident set now plus what the system still has available).
pub fn largest_batch_estimate(
    peak_at_batch: u64,
    batch: u64,
    per_sample: u64,
    rss_now: u64,
    available: u64,
) -> Option<LargestBatch> {
    if per_sample == 0 {
        return None;
    }
    let fixed = peak_at_batch.saturating_sub(per_sample * batch);
    let budget = (rss_now.saturating_add(available) as f64 * 0.9) as u64;
    let batch_size = budget.saturating_sub(fixed) / per_sample;
    Some(LargestBatch {
        batch_size,
        estimated: true,
    })
}

/// What the steps run on.
struct Batches {
    source: BatchSource,
    task: Task,
    labels: Vec<String>,
    train_rows: Option<u64>,
    /// The worst-case rows, longest first (repeated when the split has fewer rows).
    worst_rows: WorstRows,
    /// A batch of median padded length from the run's first epoch.
    typical: Option<HostBatch>,
}

enum WorstRows {
    Split {
        split: Box<data::TokenizedSplit>,
        collator: Collator,
        rows: Vec<usize>,
    },
    Synthetic(HostBatch),
}

impl Batches {
    /// The `size` worst-case rows as one padded batch.
    fn worst(&self, size: usize) -> HostBatch {
        match &self.worst_rows {
            WorstRows::Split {
                split,
                collator,
                rows,
            } => {
                let picked: Vec<usize> = rows.iter().copied().cycle().take(size).collect();
                collator.collate(split, &picked)
            }
            WorstRows::Synthetic(row) => repeat_row(row, size),
        }
    }
}

fn load_train_batches(
    config: &TrainConfig,
    hub_settings: &HubSettings,
    inputs: &RecipeInputs,
    collator: &Collator,
    sink: &hub::EventSink,
    progress: &PreflightProgress,
) -> Result<Batches, TrainError> {
    let split_name = config.train_split.clone();
    let cache = DatasetCache::in_datasets_cache(&hub_settings.datasets_cache);
    let stage = format!("tokenizing {split_name}");
    let split = inputs.prepare_split(
        config,
        hub_settings,
        &split_name,
        None,
        Some(&cache),
        Some(sink.clone()),
        &|done, total| progress(&stage, done as u64, total as u64),
    )?;
    if split.is_empty() {
        return Err(TrainError::Invalid(format!(
            "the {split_name} split has no rows"
        )));
    }
    let split = super::inputs::rows_that_train(config, split)?;
    let lengths = split.lengths();
    let mut by_length: Vec<usize> = (0..lengths.len()).collect();
    by_length.sort_by_key(|&row| std::cmp::Reverse(lengths[row]));

    let order = train_order(config, config.resolved_data_seed());
    let mut epoch = data::epoch_batches(
        &lengths,
        config.per_device_train_batch_size as usize,
        order,
        0,
        config.dataloader_drop_last,
    );
    epoch.sort_by_key(|rows| {
        collator.padded_length(rows.iter().map(|&r| lengths[r]).max().unwrap_or(0))
    });
    let typical = epoch
        .get(epoch.len() / 2)
        .map(|rows| collator.collate(&split, rows));
    Ok(Batches {
        source: BatchSource::LongestRows { split: split_name },
        task: split.task(),
        labels: split.meta.labels.names.clone(),
        train_rows: Some(split.len() as u64),
        worst_rows: WorstRows::Split {
            collator: collator.clone(),
            rows: by_length,
            split: Box::new(split),
        },
        typical,
    })
}

/// Full-length rows of ordinary word ids, for when the data cannot be read.
fn synthetic_batches(
    model_config: &ModelConfig,
    task: Option<Task>,
    collator: &Collator,
    reason: String,
) -> Batches {
    let seq_len = collator.padded_length(collator.max_length);
    // Ids past the special tokens, inside the vocabulary.
    let vocab = model_config.vocab_size.max(2) as u32;
    let input_ids = (0..seq_len as u32)
        .map(|i| 1 + (100 + i * 7) % (vocab - 1))
        .collect();
    // The recipe's task when it names one; the data could not say.
    let task = task.unwrap_or_default();
    let labels = match task {
        Task::Regression => vec!["score".to_string()],
        _ if model_config.id2label.len() >= 2 => model_config.id2label.clone(),
        _ => vec!["LABEL_0".into(), "LABEL_1".into()],
    };
    let row = HostBatch {
        rows: vec![0],
        seq_len,
        input_ids,
        token_type_ids: vec![0; seq_len],
        attention_mask: vec![1; seq_len],
        labels: HostLabels::placeholder(task, labels.len(), seq_len),
        stats: PadStats {
            real_tokens: seq_len,
            pad_tokens: 0,
        },
    };
    Batches {
        source: BatchSource::Synthetic { reason },
        task,
        labels,
        train_rows: None,
        worst_rows: WorstRows::Synthetic(row),
        typical: None,
    }
}

fn repeat_row(row: &HostBatch, size: usize) -> HostBatch {
    let repeat = |field: &[u32]| field.repeat(size);
    HostBatch {
        rows: (0..size).collect(),
        seq_len: row.seq_len,
        input_ids: repeat(&row.input_ids),
        token_type_ids: repeat(&row.token_type_ids),
        attention_mask: repeat(&row.attention_mask),
        labels: row.labels.repeat_first(size, row.seq_len),
        stats: PadStats {
            real_tokens: row.stats.real_tokens * size,
            pad_tokens: row.stats.pad_tokens * size,
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct StepTiming {
    forward_backward_s: f64,
    /// Clipping (or, with `max_grad_norm = 0`, the norm the trainer logs) and the optimizer
    /// update.
    update_s: f64,
}

/// The trainer's step ([`super::step`]), without its bookkeeping.
struct Stepper<'a> {
    config: &'a TrainConfig,
    device: &'a Device,
    model: &'a Classifier,
    optimizer: &'a mut AdamW,
    step: u64,
}

impl Stepper<'_> {
    /// One optimizer step on one micro-batch, timed in its two halves.
    fn run(&mut self, batch: &HostBatch) -> Result<StepTiming, TrainError> {
        let started = Instant::now();
        let batch = batch.to_device(self.device)?;
        let mut dropout = Dropout::train(self.config.seed, self.step);
        let mut group = Accumulation::new(1);
        // Reading the loss waits for the device, so the time is the real one.
        group.forward_backward(self.model, &batch, &mut dropout)?;
        let StepLoss { mut grads, loss } = group.finish()?;
        let forward_backward_s = started.elapsed().as_secs_f64();
        let update_started = Instant::now();
        apply_update(
            self.optimizer,
            &mut grads,
            self.config.learning_rate,
            self.config.max_grad_norm,
        )?;
        let update_s = update_started.elapsed().as_secs_f64();
        self.step += 1;
        if !loss.is_finite() {
            return Err(TrainError::non_finite_loss(
                self.step,
                loss,
                self.config.learning_rate,
                self.config,
            ));
        }
        Ok(StepTiming {
            forward_backward_s,
            update_s,
        })
    }
}

/// A `kB` field of `/proc/self/status` (Linux), in KiB.
fn proc_status_kib(field: &str) -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/self/status").ok()?, field)
}

fn meminfo_kib(field: &str) -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/meminfo").ok()?, field)
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Resets VmHWM to the current resident set (Linux `clear_refs` value 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_of_proc_files() {
        let text = "Name:\twick\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n";
        assert_eq!(kib_field(text, "VmHWM"), Some(123_456));
        assert_eq!(kib_field(text, "VmRSS"), Some(65_432));
        assert_eq!(kib_field(text, "VmSwap"), None);
        assert!(
            proc_status_kib("VmRSS").is_some_and(|k| k > 0),
            "Linux has /proc"
        );
    }

    #[test]
    fn the_largest_batch_is_extrapolated_from_the_per_sample_slope() {
        const MIB: u64 = 1 << 20;
        // 1 GiB fixed + 10 MiB per sample at batch 8; 2 GiB resident + 8 GiB available:
        // 0.9 * 10 GiB = 9216 MiB; (9216 - 1024) / 10 = 819.
        let peak = 1024 * MIB + 8 * 10 * MIB;
        let estimate = largest_batch_estimate(peak, 8, 10 * MIB, 2048 * MIB, 8192 * MIB).unwrap();
        assert_eq!(estimate.batch_size, 819);
        assert!(estimate.estimated);
        assert_eq!(largest_batch_estimate(peak, 8, 0, 0, 0), None);
    }
}
