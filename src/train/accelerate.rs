//! "Export as 🤗 Accelerate project": a Wick run configuration as a Python project that runs
//! the same recipe with `transformers.Trainer` under `accelerate launch`, on as many GPUs as a
//! cluster node has.
//!
//! [`MAPPING`] is the one place that says where each Wick key goes: a `TrainingArguments`
//! argument, an `EarlyStoppingCallback` argument, `Trainer.train(...)`, or a Wick-only setting
//! the script's data code uses (with how). A test fails when a key of [`KEYS`] is missing here.

mod python;

use std::path::{Path, PathBuf};

pub use python::Py;

use crate::data::{self, Format};
use crate::hub::{Source, classify_source};
use crate::recipe::{
    ClassWeights, IntervalStrategy, KEYS, LrSchedulerType, SaveStrategy, TrainConfig,
};
use crate::task::Task;

/// Where one Wick key ends up in the generated `train.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `TrainingArguments(<name>=...)`, in the `TRAINING_ARGUMENTS` dict.
    TrainingArguments(&'static str),
    /// Folded into another `TrainingArguments` argument (written as a comment).
    FoldedInto(&'static str),
    /// `trainer.train(<name>=...)`, in the `TRAIN_KWARGS` dict.
    TrainerTrain(&'static str),
    /// `EarlyStoppingCallback(<name>=...)`, in the `EARLY_STOPPING` dict.
    EarlyStoppingCallback(&'static str),
    /// Wick-only: in the `WICK` dict, used by the script's data and model code.
    Script,
    /// Wick-only and not written: the Python side decides.
    Ignored,
}

/// One row of the mapping.
pub struct KeyMapping {
    /// The Wick key (as in [`KEYS`]).
    pub key: &'static str,
    pub target: Target,
    /// How the script handles it, when that is not obvious from the target; written as a
    /// comment beside the value.
    pub note: &'static str,
    /// The Python value. For `TrainingArguments`, `Py::None` means "leave Trainer's default"
    /// (the key is written as a comment).
    pub value: fn(&TrainConfig) -> Py,
}

const fn map(
    key: &'static str,
    target: Target,
    note: &'static str,
    value: fn(&TrainConfig) -> Py,
) -> KeyMapping {
    KeyMapping {
        key,
        target,
        note,
        value,
    }
}

use Target::{
    EarlyStoppingCallback as Callback, FoldedInto, Ignored, Script, TrainerTrain,
    TrainingArguments as Ta,
};

/// Every Wick key and where it goes, in [`KEYS`] order.
pub const MAPPING: &[KeyMapping] = &[
    map(
        "model",
        Script,
        "AutoTokenizer / AutoModelFor{Sequence,Token}Classification.from_pretrained; a local folder is written as an absolute path",
        |c| Py::str(&c.model),
    ),
    map(
        "dataset",
        Script,
        "load_dataset(**LOAD_DATASET): a Hub id as is, local files as data_files",
        |c| Py::str(&c.dataset),
    ),
    map(
        "dataset_config",
        Script,
        "the `name` argument of load_dataset",
        |c| Py::opt_str(c.dataset_config.as_deref()),
    ),
    map("train_split", Script, "", |c| Py::str(&c.train_split)),
    map("eval_split", Script, "None: no evaluation dataset", |c| {
        Py::opt_str(c.eval_split.as_deref())
    }),
    map(
        "validation_split_percentage",
        Script,
        "with no eval_split: train_test_split(seed = data_seed or seed) holds out this % \
         of train (datasets draws other rows than Wick)",
        |c| Py::opt_int(c.holdout_percentage().map(i64::from)),
    ),
    map(
        "text_column",
        Script,
        "None: guessed as Wick does (GUESSED_TEXT_PAIRS, GUESSED_TEXT_COLUMNS)",
        |c| Py::opt_str(c.text_column.as_deref()),
    ),
    map("text_pair_column", Script, "", |c| {
        Py::opt_str(c.text_pair_column.as_deref())
    }),
    map(
        "label_column",
        Script,
        "None: guessed (GUESSED_LABEL_COLUMNS)",
        |c| Py::opt_str(c.label_column.as_deref()),
    ),
    map(
        "task",
        Script,
        "None: read off the label column as Wick does (a float: regression; a list beside a word \
         list: token classification; a list: multi-label; else single-label)",
        |c| Py::opt_str(c.task.map(Task::name)),
    ),
    map(
        "label_all_tokens",
        Script,
        "token classification: later pieces of a word get the I- form of its tag instead of -100 \
         (run_ner.py's b_to_i_label)",
        |c| Py::Bool(c.label_all_tokens),
    ),
    map(
        "class_weights",
        Script,
        "CrossEntropyLoss(weight=...) in a Trainer subclass's compute_loss; \"balanced\" is counted \
         on the tokenized training split",
        |c| match &c.class_weights {
            ClassWeights::None => Py::str("none"),
            ClassWeights::Balanced => Py::str("balanced"),
            ClassWeights::Given(weights) => {
                Py::List(weights.iter().map(|&w| Py::Float(w)).collect())
            }
        },
    ),
    map(
        "max_length",
        Script,
        "tokenizer(..., truncation=True, max_length=...); None: 512, capped by the model",
        |c| Py::opt_int(c.max_length),
    ),
    map(
        "pad_to_multiple_of",
        Script,
        "DataCollatorWithPadding(pad_to_multiple_of=...)",
        |c| Py::opt_int(c.pad_to_multiple_of),
    ),
    map(
        "tokenize_threads",
        Script,
        "num_proc of datasets.map; None: one process (fast tokenizers are multithreaded)",
        |c| Py::opt_int(c.tokenize_threads),
    ),
    map(
        "device",
        Ignored,
        "accelerate decides (accelerate_config.yaml, `accelerate launch --cpu`)",
        |c| Py::str(&c.device),
    ),
    map(
        "output_dir",
        Ta("output_dir"),
        "a relative output_dir is kept; unset or absolute (a workstation path) becomes \"output\"",
        |c| {
            Py::str(
                c.output_dir
                    .as_deref()
                    .filter(|dir| Path::new(dir).is_relative())
                    .unwrap_or("output"),
            )
        },
    ),
    map("run_name", Ta("run_name"), "", |c| {
        Py::opt_str(c.run_name.as_deref())
    }),
    map("learning_rate", Ta("learning_rate"), "", |c| {
        Py::Float(c.learning_rate)
    }),
    map("num_train_epochs", Ta("num_train_epochs"), "", |c| {
        Py::Float(c.num_train_epochs)
    }),
    map("max_steps", Ta("max_steps"), "", |c| Py::Int(c.max_steps)),
    map(
        "per_device_train_batch_size",
        Ta("per_device_train_batch_size"),
        "per process: the global batch is this x num_processes x gradient_accumulation_steps",
        |c| Py::Int(c.per_device_train_batch_size.into()),
    ),
    map(
        "per_device_eval_batch_size",
        Ta("per_device_eval_batch_size"),
        "",
        |c| Py::Int(c.per_device_eval_batch_size.into()),
    ),
    map(
        "gradient_accumulation_steps",
        Ta("gradient_accumulation_steps"),
        "",
        |c| Py::Int(c.gradient_accumulation_steps.into()),
    ),
    map("weight_decay", Ta("weight_decay"), "", |c| {
        Py::Float(c.weight_decay)
    }),
    map("adam_beta1", Ta("adam_beta1"), "", |c| {
        Py::Float(c.adam_beta1)
    }),
    map("adam_beta2", Ta("adam_beta2"), "", |c| {
        Py::Float(c.adam_beta2)
    }),
    map("adam_epsilon", Ta("adam_epsilon"), "", |c| {
        Py::Float(c.adam_epsilon)
    }),
    map("max_grad_norm", Ta("max_grad_norm"), "", |c| {
        Py::Float(c.max_grad_norm)
    }),
    map("lr_scheduler_type", Ta("lr_scheduler_type"), "", |c| {
        Py::str(match c.lr_scheduler_type {
            LrSchedulerType::Linear => "linear",
            LrSchedulerType::Cosine => "cosine",
            LrSchedulerType::Constant => "constant",
            LrSchedulerType::ConstantWithWarmup => "constant_with_warmup",
        })
    }),
    map(
        "warmup_steps",
        Ta("warmup_steps"),
        "steps when >= 1, a ratio of the total when < 1 (transformers 5)",
        |c| {
            // warmup_ratio applies only when warmup_steps is 0 (Wick and HF agree).
            let value = if c.warmup_steps > 0.0 {
                c.warmup_steps
            } else {
                c.warmup_ratio
            };
            if value >= 1.0 && value.fract() == 0.0 {
                Py::Int(value as i64)
            } else {
                Py::Float(value)
            }
        },
    ),
    map(
        "warmup_ratio",
        FoldedInto("warmup_steps"),
        "transformers 5 removed warmup_ratio; a ratio is written as warmup_steps < 1",
        |c| Py::Float(c.warmup_ratio),
    ),
    map("logging_strategy", Ta("logging_strategy"), "", |c| {
        interval(c.logging_strategy)
    }),
    map("logging_steps", Ta("logging_steps"), "", |c| {
        Py::Int(c.logging_steps as i64)
    }),
    map("logging_first_step", Ta("logging_first_step"), "", |c| {
        Py::Bool(c.logging_first_step)
    }),
    map("eval_strategy", Ta("eval_strategy"), "", |c| {
        interval(c.eval_strategy)
    }),
    map(
        "eval_steps",
        Ta("eval_steps"),
        "unset: logging_steps (Trainer's default too)",
        |c| Py::opt_int(c.eval_steps.map(|s| s as i64)),
    ),
    map("save_strategy", Ta("save_strategy"), "", |c| {
        Py::str(match c.save_strategy {
            SaveStrategy::No => "no",
            SaveStrategy::Steps => "steps",
            SaveStrategy::Epoch => "epoch",
            SaveStrategy::Best => "best",
        })
    }),
    map("save_steps", Ta("save_steps"), "", |c| {
        Py::Int(c.save_steps as i64)
    }),
    map("save_total_limit", Ta("save_total_limit"), "", |c| {
        Py::opt_int(c.save_total_limit)
    }),
    map(
        "load_best_model_at_end",
        Ta("load_best_model_at_end"),
        "",
        |c| Py::Bool(c.load_best_model_at_end),
    ),
    map(
        "metric_for_best_model",
        Ta("metric_for_best_model"),
        "Wick's alias \"mcc\" is written as \"matthews_correlation\"",
        |c| {
            Py::opt_str(c.metric_for_best_model.as_deref().map(|m| match m {
                "mcc" => "matthews_correlation",
                "eval_mcc" => "eval_matthews_correlation",
                other => other,
            }))
        },
    ),
    map(
        "greater_is_better",
        Ta("greater_is_better"),
        "written out when a metric is chosen: Wick counts rmse/mse/mae as lower is better, where HF's default would not",
        |c| c.resolved_greater_is_better().map_or(Py::None, Py::Bool),
    ),
    map("seed", Ta("seed"), "", |c| Py::Int(c.seed as i64)),
    map("data_seed", Ta("data_seed"), "", |c| {
        Py::opt_int(c.data_seed.map(|s| s as i64))
    }),
    map(
        "dataloader_drop_last",
        Ta("dataloader_drop_last"),
        "",
        |c| Py::Bool(c.dataloader_drop_last),
    ),
    map(
        "group_by_length",
        Ta("train_sampling_strategy"),
        "transformers 5: group_by_length is train_sampling_strategy=\"group_by_length\"",
        |c| {
            Py::str(if c.group_by_length {
                "group_by_length"
            } else {
                "random"
            })
        },
    ),
    map(
        "resume_from_checkpoint",
        TrainerTrain("resume_from_checkpoint"),
        "\"latest\" is True (the newest checkpoint in output_dir); a path must exist where the script runs",
        |c| match c.resume_from_checkpoint.as_deref() {
            None => Py::None,
            Some("latest") => Py::Bool(true),
            Some(path) => Py::str(path),
        },
    ),
    map("bf16", Ta("bf16"), "", |c| Py::Bool(c.bf16)),
    map(
        "tf32",
        Ta("tf32"),
        "unset when false: PyTorch's default, which does not use TF32 for matmuls",
        |c| if c.tf32 { Py::Bool(true) } else { Py::None },
    ),
    map(
        "early_stopping_patience",
        Callback("early_stopping_patience"),
        "unset: no EarlyStoppingCallback",
        |c| Py::opt_int(c.early_stopping_patience),
    ),
    map(
        "early_stopping_threshold",
        Callback("early_stopping_threshold"),
        "",
        |c| Py::Float(c.early_stopping_threshold),
    ),
    map(
        "use_lora",
        Script,
        "wraps the model with peft's get_peft_model(model, LoraConfig(task_type=SEQ_CLS or TOKEN_CLS, ...)) from the keys below",
        |c| Py::Bool(c.use_lora),
    ),
    map("lora_r", Script, "LoraConfig(r=...)", |c| {
        Py::Int(c.lora_r as i64)
    }),
    map("lora_alpha", Script, "LoraConfig(lora_alpha=...)", |c| {
        Py::Float(c.lora_alpha)
    }),
    map(
        "lora_dropout",
        Script,
        "LoraConfig(lora_dropout=...)",
        |c| Py::Float(c.lora_dropout),
    ),
    map(
        "lora_target_modules",
        Script,
        "LoraConfig(target_modules=...); [] = Wick's default for the model type (LORA_DEFAULT_TARGETS)",
        |c| names(&c.lora_target_modules),
    ),
    map("use_rslora", Script, "LoraConfig(use_rslora=...)", |c| {
        Py::Bool(c.use_rslora)
    }),
    map(
        "modules_to_save",
        Script,
        "LoraConfig(modules_to_save=...); peft saves the classifier head by itself, and with_lora adds the modules the checkpoint lacked, as Wick does",
        |c| names(&c.modules_to_save),
    ),
];

fn names(list: &[String]) -> Py {
    Py::List(list.iter().map(Py::str).collect())
}

fn interval(strategy: IntervalStrategy) -> Py {
    Py::str(match strategy {
        IntervalStrategy::No => "no",
        IntervalStrategy::Steps => "steps",
        IntervalStrategy::Epoch => "epoch",
    })
}

/// The mapping row of `key`, if it is a Wick key.
pub fn key_mapping(key: &str) -> Option<&'static KeyMapping> {
    MAPPING.iter().find(|m| m.key == key)
}

/// What the export writes besides the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccelerateExport {
    /// Processes (GPUs) `accelerate launch` starts; 1 writes a single-process config.
    pub num_processes: u32,
    /// Where the configuration came from, for the header of `train.py` and the README.
    pub source: Option<String>,
}

impl Default for AccelerateExport {
    fn default() -> Self {
        Self {
            num_processes: 2,
            source: None,
        }
    }
}

/// Why an export failed; each names the file or the key.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dataset = \"{dataset}\": {source}")]
    Dataset {
        dataset: String,
        #[source]
        source: data::DataError,
    },
    #[error("{0}")]
    Invalid(String),
}

impl ExportError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The files of an export, in the order they are written.
pub const EXPORTED_FILES: &[&str] = &[
    "train.py",
    "accelerate_config.yaml",
    "requirements.txt",
    "README.md",
];

/// Writes `train.py`, `accelerate_config.yaml`, `requirements.txt` and `README.md` into
/// `out_dir` (created if needed; existing files of those names are replaced). Returns their
/// paths. Local model and dataset paths are written as absolute paths.
pub fn export_accelerate(
    config: &TrainConfig,
    out_dir: &Path,
    options: &AccelerateExport,
) -> Result<Vec<PathBuf>, ExportError> {
    if options.num_processes == 0 {
        return Err(ExportError::Invalid(
            "num_processes must be at least 1".into(),
        ));
    }
    config
        .validate()
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    let config = with_absolute_local_paths(config)?;
    let load_dataset = load_dataset_kwargs(&config)?;
    let contents = [
        train_py(&config, &load_dataset, options),
        accelerate_config_yaml(&config, options),
        if config.use_lora {
            format!("{REQUIREMENTS}{LORA_REQUIREMENT}")
        } else {
            REQUIREMENTS.to_string()
        },
        readme(&config, options),
    ];
    std::fs::create_dir_all(out_dir).map_err(ExportError::io(out_dir))?;
    let mut written = Vec::new();
    for (name, text) in EXPORTED_FILES.iter().zip(contents) {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(ExportError::io(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// Local `model` and `dataset` paths made absolute, so the script runs from any folder.
fn with_absolute_local_paths(config: &TrainConfig) -> Result<TrainConfig, ExportError> {
    let mut config = config.clone();
    if let Source::Local(path) = classify_source(&config.model) {
        let absolute = std::fs::canonicalize(&path).map_err(|source| {
            ExportError::Invalid(format!(
                "model = \"{}\": {}: {source}",
                config.model,
                path.display()
            ))
        })?;
        config.model = absolute.display().to_string();
    }
    // A glob or a missing path stays as typed; load_dataset_kwargs reports what is wrong.
    if let Source::Local(path) = classify_source(&config.dataset)
        && let Ok(absolute) = std::fs::canonicalize(&path)
    {
        config.dataset = absolute.display().to_string();
    }
    Ok(config)
}

/// The keyword arguments of `load_dataset`: `path`/`name` for a Hub id; for local data, the
/// files of the train and eval splits (resolved as Wick resolves them) as `data_files`.
fn load_dataset_kwargs(config: &TrainConfig) -> Result<Py, ExportError> {
    let dataset = config.dataset.as_str();
    match classify_source(dataset) {
        Source::Hub(id) => {
            let (id, name) = match id.split_once(':') {
                Some((id, name)) => (id.to_string(), Some(name.to_string())),
                None => (id, config.dataset_config.clone()),
            };
            let mut kwargs = vec![("path".to_string(), Py::str(id))];
            if let Some(name) = name {
                kwargs.push(("name".into(), Py::str(name)));
            }
            Ok(Py::Dict(kwargs))
        }
        Source::Local(_) => {
            let splits = std::iter::once(&config.train_split).chain(config.eval_split.as_ref());
            let mut data_files = Vec::new();
            let mut format = None;
            for split in splits {
                if data_files.iter().any(|(s, _)| s == split) {
                    continue;
                }
                let source = data::resolve_split(dataset, config.dataset_config.as_deref(), split)
                    .map_err(|source| ExportError::Dataset {
                        dataset: dataset.to_string(),
                        source,
                    })?;
                let mut files = Vec::new();
                for file in &source.files {
                    let file_format =
                        Format::from_path(file).map_err(|source| ExportError::Dataset {
                            dataset: dataset.to_string(),
                            source,
                        })?;
                    if format.is_some_and(|f| f != file_format) {
                        return Err(ExportError::Invalid(format!(
                            "dataset = \"{dataset}\": {} is {}, other files are {}; \
                             load_dataset needs one format",
                            file.display(),
                            file_format.name(),
                            format.map(Format::name).unwrap_or_default()
                        )));
                    }
                    format = Some(file_format);
                    let absolute = std::fs::canonicalize(file).map_err(ExportError::io(file))?;
                    files.push(Py::str(absolute.display().to_string()));
                }
                data_files.push((split.clone(), Py::List(files)));
            }
            let (builder, extra) = match format {
                Some(Format::Parquet) | None => ("parquet", None),
                Some(Format::Csv) => ("csv", None),
                Some(Format::Tsv) => ("csv", Some(("delimiter".to_string(), Py::str("\t")))),
                Some(Format::JsonLines) => ("json", None),
            };
            let mut kwargs = vec![
                ("path".to_string(), Py::str(builder)),
                ("data_files".to_string(), Py::Dict(data_files)),
            ];
            kwargs.extend(extra);
            Ok(Py::Dict(kwargs))
        }
    }
}

fn help_of(key: &str) -> &'static str {
    KEYS.iter()
        .find(|k| k.name == key)
        .map(|k| k.help)
        .unwrap_or("")
}

/// The key's help, then how the export handles it, as comment lines at `indent`.
fn comment_lines(mapping: &KeyMapping, indent: &str) -> String {
    let mut out = format!("{indent}# {}\n", help_of(mapping.key));
    if !mapping.note.is_empty() {
        out.push_str(&format!("{indent}#   export: {}\n", mapping.note));
    }
    out
}

/// One `"name": value,` line of a settings dict, under its comment; commented out when the
/// value is `None` and `none_means_default` (the Python side's default applies).
fn dict_entry(mapping: &KeyMapping, name: &str, value: &Py, none_means_default: bool) -> String {
    let mut out = comment_lines(mapping, "    ");
    let line = format!("{}: {},", Py::str(name).render(), value.render());
    if value.is_none() && none_means_default {
        out.push_str(&format!("    # {line}  (unset: the default applies)\n"));
    } else {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

fn train_py(config: &TrainConfig, load_dataset: &Py, options: &AccelerateExport) -> String {
    let mut out = String::new();
    out.push_str("#!/usr/bin/env python3\n");
    out.push_str(&format!(
        "\"\"\"Fine-tune {} on {} with transformers' Trainer.\n\n\
         Exported by `wick export accelerate` (Wick {}){}.\n\
         Run:  accelerate launch --config_file accelerate_config.yaml train.py\n\n\
         Every Wick setting is below, each under its help: TRAINING_ARGUMENTS go to\n\
         TrainingArguments as they are, EARLY_STOPPING to EarlyStoppingCallback, TRAIN_KWARGS to\n\
         trainer.train, and the Wick-only keys in WICK (data, columns, tokenization) are used by the\n\
         code below them.\n\"\"\"\n",
        config.model.replace('"', "'"),
        config.dataset.replace('"', "'"),
        env!("CARGO_PKG_VERSION"),
        options
            .source
            .as_deref()
            .map(|s| format!(" from {}", s.replace('"', "'")))
            .unwrap_or_default(),
    ));

    out.push_str("\n# Wick-only settings, used by the data and model code below.\nWICK = {\n");
    for m in MAPPING {
        match m.target {
            Script => out.push_str(&dict_entry(m, m.key, &(m.value)(config), false)),
            Ignored => {
                out.push_str(&comment_lines(m, "    "));
                out.push_str(&format!(
                    "    # {} = {} is not used here.\n",
                    m.key,
                    (m.value)(config).render()
                ));
            }
            _ => {}
        }
    }
    out.push_str("}\n");

    out.push_str(&format!(
        "\n# load_dataset(**LOAD_DATASET)\nLOAD_DATASET = {}\n",
        load_dataset.render()
    ));

    out.push_str(
        "\n# TrainingArguments(**TRAINING_ARGUMENTS): Wick's keys, same names and meanings unless noted.\n\
         TRAINING_ARGUMENTS = {\n",
    );
    for m in MAPPING {
        match m.target {
            Ta(name) => out.push_str(&dict_entry(m, name, &(m.value)(config), true)),
            FoldedInto(name) => {
                out.push_str(&comment_lines(m, "    "));
                out.push_str(&format!(
                    "    # {} = {} is folded into {name}.\n",
                    m.key,
                    (m.value)(config).render()
                ));
            }
            _ => {}
        }
    }
    out.push_str(
        "    # Not a Wick key: Wick logs to its run folder only. Set \"wandb\", \"tensorboard\", ... here.\n\
         \x20   \"report_to\": \"none\",\n}\n",
    );

    out.push_str("\n# trainer.train(**TRAIN_KWARGS)\nTRAIN_KWARGS = {\n");
    for m in MAPPING {
        if let TrainerTrain(name) = m.target {
            out.push_str(&dict_entry(m, name, &(m.value)(config), true));
        }
    }
    out.push_str("}\n");

    out.push_str("\n# EarlyStoppingCallback(**EARLY_STOPPING); None: no early stopping.\n");
    let callback_entries: String = MAPPING
        .iter()
        .filter_map(|m| match m.target {
            Callback(name) => Some(dict_entry(m, name, &(m.value)(config), false)),
            _ => None,
        })
        .collect();
    if config.early_stopping_patience.is_some() {
        out.push_str(&format!("EARLY_STOPPING = {{\n{callback_entries}}}\n"));
    } else {
        for line in callback_entries.lines() {
            let line = line.trim_start();
            match line.strip_prefix("# ") {
                Some(text) => out.push_str(&format!("# {text}\n")),
                None => out.push_str(&format!("# {line}\n")),
            }
        }
        out.push_str("EARLY_STOPPING = None\n");
    }

    let guesses = |items: &[&str]| Py::List(items.iter().map(|s| Py::str(*s)).collect());
    out.push_str(&format!(
        "\n# Column guesses when a column key is unset, in Wick's order (src/data/columns.rs).\n\
         GUESSED_TEXT_PAIRS = {}\nGUESSED_TEXT_COLUMNS = {}\nGUESSED_LABEL_COLUMNS = {}\n",
        Py::List(
            data::GUESSED_TEXT_PAIRS
                .iter()
                .map(|(a, b)| Py::List(vec![Py::str(*a), Py::str(*b)]))
                .collect()
        )
        .render(),
        guesses(data::GUESSED_TEXT_COLUMNS).render(),
        guesses(data::GUESSED_LABEL_COLUMNS).render(),
    ));
    out.push_str(TRAIN_BODY);
    out
}

/// The recipe's code (valid Python on its own, given the settings above it).
const TRAIN_BODY: &str = include_str!("accelerate/train_body.py");

/// Versions the export was checked with (scripts/check-accelerate-export.sh); transformers 5
/// renamed group_by_length and removed warmup_ratio, which the mapping relies on.
const REQUIREMENTS: &str = "\
# Checked with torch 2.15, transformers 5.24, datasets 5.2, accelerate 1.15 (CPU and CUDA wheels from PyPI).
torch>=2.4
transformers>=5.24,<6
datasets>=4
accelerate>=1.0
numpy
";

/// `use_lora` needs peft besides (checked with peft 0.21).
const LORA_REQUIREMENT: &str = "peft>=0.15\n";

fn accelerate_config_yaml(config: &TrainConfig, options: &AccelerateExport) -> String {
    let processes = options.num_processes;
    let distributed = if processes > 1 { "MULTI_GPU" } else { "NO" };
    let precision = if config.bf16 { "bf16" } else { "no" };
    format!(
        "# accelerate launch --config_file accelerate_config.yaml train.py\n\
         # One machine, {processes} process(es), one GPU each. Change num_processes to the number of\n\
         # GPUs (or pass --num_processes N); for several machines run `accelerate config`.\n\
         # Strings are quoted: YAML 1.1 (PyYAML, which accelerate uses) reads a bare no/NO as false.\n\
         compute_environment: LOCAL_MACHINE\n\
         distributed_type: '{distributed}'\n\
         num_machines: 1\n\
         machine_rank: 0\n\
         num_processes: {processes}\n\
         gpu_ids: all\n\
         mixed_precision: '{precision}'\n\
         downcast_bf16: 'no'\n\
         rdzv_backend: static\n\
         same_network: true\n\
         main_training_function: main\n\
         enable_cpu_affinity: false\n\
         use_cpu: false\n\
         debug: false\n"
    )
}

fn readme(config: &TrainConfig, options: &AccelerateExport) -> String {
    let processes = options.num_processes;
    let global_batch = u64::from(config.per_device_train_batch_size)
        * u64::from(config.gradient_accumulation_steps)
        * u64::from(processes);
    let source = options
        .source
        .as_deref()
        .map(|s| format!(" from `{s}`"))
        .unwrap_or_default();
    format!(
        "# {model} on {dataset}: a 🤗 Accelerate project\n\n\
         Exported by `wick export accelerate` (Wick {version}){source}. `train.py` runs the same\n\
         recipe as Wick with `transformers.Trainer`: the same model, dataset, columns, `max_length`,\n\
         dynamic padding, task (see Tasks below) and every hyperparameter.\n\n\
         ```sh\n\
         python -m venv .venv && . .venv/bin/activate\n\
         pip install -r requirements.txt\n\
         accelerate launch --config_file accelerate_config.yaml train.py\n\
         ```\n\n\
         - `accelerate_config.yaml`: one machine, {processes} process(es) (one per GPU). Change\n  \
           `num_processes` or pass `--num_processes N`; `accelerate launch --cpu --num_processes 1 train.py`\n  \
           runs on a CPU.\n\
         - `per_device_train_batch_size` is per process: with {processes} process(es) the global batch is\n  \
           {global_batch} examples per optimizer step (Wick on one device: {single}). The learning rate is not\n  \
           rescaled; adjust it (or the batch size) if you change the number of processes.\n\
         - Checkpoints and the final model go to `output_dir` (`TRAINING_ARGUMENTS` in `train.py`).\n\
         - Models and datasets come from `HF_ENDPOINT` (default huggingface.co); local paths in `train.py`\n  \
           are absolute paths on the machine that exported it: copy the files and edit `WICK`/`LOAD_DATASET`.\n\n\
         Where each Wick key went is written beside it in `train.py`; the mapping itself lives in\n\
         Wick's `src/train/accelerate.rs`.\n\n\
         ## Tasks\n\n\
         {task_line}\n\n\
         - **single-label classification**: `AutoModelForSequenceClassification`, class ids, cross-entropy;\n  \
           metrics accuracy, f1, precision, recall (binary for two labels, else macro),\n  \
           matthews_correlation, macro_f1.\n\
         - **multi-label classification**: `problem_type=\"multi_label_classification\"`, multi-hot float\n  \
           labels, BCE-with-logits; metrics at the 0.5 threshold micro_f1, macro_f1, micro_precision,\n  \
           micro_recall, subset_accuracy, hamming_loss, and tuned_micro_f1 (each label's threshold of\n  \
           0.05, 0.10, ..., 0.95 tuned on the evaluation split).\n\
         - **regression**: `num_labels=1`, `problem_type=\"regression\"`, float labels, mean squared error;\n  \
           metrics pearson, spearman, rmse, mse, mae.\n\
         - **token classification** (the course's chapter 7): words tokenized with\n  \
           `is_split_into_words=True`, `align_labels_with_tokens` (a word's first piece gets its tag,\n  \
           later pieces and special tokens -100; with `label_all_tokens` later pieces get the tag's I-\n  \
           form), `DataCollatorForTokenClassification`, `AutoModelForTokenClassification`; metrics\n  \
           seqeval's overall entity f1, precision, recall (lenient, as seqeval's default) and the\n  \
           accuracy over the labelled tokens.\n\n\
         `class_weights` (single-label and token classification) train with a `Trainer` subclass whose\n\
         `compute_loss` uses `CrossEntropyLoss(weight=...)`; \"balanced\" is\n\
         `n_samples / (n_present_classes * count)` on the tokenized training split. The metric names are\n\
         Wick's, so `metric_for_best_model` means the same on both sides.\n",
        model = config.model,
        dataset = config.dataset,
        version = env!("CARGO_PKG_VERSION"),
        single = u64::from(config.per_device_train_batch_size)
            * u64::from(config.gradient_accumulation_steps),
        task_line = match config.task {
            Some(task) => format!(
                "This recipe sets `task = \"{}\"` ({}).",
                task.name(),
                task.title()
            ),
            None => "This recipe leaves `task` unset: `train.py` reads it off the label column as Wick \
                     does (a float: regression; a list of classes beside a word list: token \
                     classification; a list of classes: multi-label; else single-label) and prints it."
                .to_string(),
        },
    )
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod python_metrics;
