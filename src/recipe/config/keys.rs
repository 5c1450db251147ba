//! Every configuration key, with a one-line help text and where it comes from.
//!
//! The GUI shows `help` as tooltips; the Accelerate/Python export maps the
//! `TrainingArguments` keys one to one and the callback keys to
//! `EarlyStoppingCallback(...)`.

/// Where a key lives on the Python side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// An argument of `transformers.TrainingArguments` with the same name and meaning.
    TrainingArguments,
    /// An argument of `transformers.EarlyStoppingCallback`.
    EarlyStoppingCallback,
    /// Wick-only (data loading, tokenization, device, LoRA as `peft.LoraConfig`): a Python
    /// script sets it elsewhere.
    Wick,
}

/// One key of the flat `[train]` TOML table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: &'static str,
    pub help: &'static str,
    pub origin: KeyOrigin,
}

const fn key(name: &'static str, origin: KeyOrigin, help: &'static str) -> KeyInfo {
    KeyInfo { name, help, origin }
}

use KeyOrigin::{EarlyStoppingCallback as Callback, TrainingArguments as Ta, Wick};

/// All keys, in the order `to_toml_string` writes them.
pub const KEYS: &[KeyInfo] = &[
    key(
        "model",
        Wick,
        "Model to fine-tune: a local folder or a Hub id (required).",
    ),
    key(
        "dataset",
        Wick,
        "Dataset: a local folder/file or a Hub id (required).",
    ),
    key(
        "dataset_config",
        Wick,
        "Dataset configuration (subset) name, e.g. \"mrpc\" for GLUE.",
    ),
    key("train_split", Wick, "Split used for training."),
    key(
        "eval_split",
        Wick,
        "Split used for evaluation; empty for none.",
    ),
    key(
        "validation_split_percentage",
        Wick,
        "With no eval_split: hold out this % of the training split (seeded by data_seed, \
         else seed) to evaluate on, as the examples' run_*.py scripts do.",
    ),
    key(
        "text_column",
        Wick,
        "Column with the (first) text; guessed when absent.",
    ),
    key(
        "text_pair_column",
        Wick,
        "Column with the second text of a pair; guessed when absent.",
    ),
    key(
        "label_column",
        Wick,
        "Column with the class label; guessed when absent.",
    ),
    key(
        "task",
        Wick,
        "single_label_classification, multi_label_classification, regression or token_classification; unset = read off the label column.",
    ),
    key(
        "label_all_tokens",
        Wick,
        "Token classification: label every piece of a word (B- becomes I- after the first), not only the first.",
    ),
    key(
        "class_weights",
        Wick,
        "Cross-entropy class weights: \"none\", \"balanced\" (n / (classes * count)) or a list, one per class.",
    ),
    key(
        "max_length",
        Wick,
        "Truncate inputs to this many tokens; unset = model maximum, capped at 512.",
    ),
    key(
        "pad_to_multiple_of",
        Wick,
        "Pad each batch to a multiple of this many tokens.",
    ),
    key(
        "tokenize_threads",
        Wick,
        "Threads used for tokenization; unset = all cores.",
    ),
    key(
        "device",
        Wick,
        "Device to train on: \"cpu\", \"cuda\" or \"cuda:N\".",
    ),
    key(
        "output_dir",
        Ta,
        "Folder for checkpoints and logs; unset = a new folder under the runs root.",
    ),
    key(
        "run_name",
        Ta,
        "Human-readable run name, used in the run folder name.",
    ),
    key(
        "learning_rate",
        Ta,
        "Initial (peak) learning rate of AdamW.",
    ),
    key(
        "num_train_epochs",
        Ta,
        "Number of passes over the training set (may be fractional).",
    ),
    key(
        "max_steps",
        Ta,
        "If positive, total optimizer steps; overrides num_train_epochs.",
    ),
    key("per_device_train_batch_size", Ta, "Training batch size."),
    key("per_device_eval_batch_size", Ta, "Evaluation batch size."),
    key(
        "gradient_accumulation_steps",
        Ta,
        "Batches accumulated before each optimizer step.",
    ),
    key(
        "weight_decay",
        Ta,
        "AdamW decoupled weight decay (not applied to biases and LayerNorm).",
    ),
    key("adam_beta1", Ta, "AdamW beta1."),
    key("adam_beta2", Ta, "AdamW beta2."),
    key("adam_epsilon", Ta, "AdamW epsilon."),
    key(
        "max_grad_norm",
        Ta,
        "Clip the global gradient norm to this value; 0 disables clipping.",
    ),
    key(
        "lr_scheduler_type",
        Ta,
        "Learning-rate schedule: linear, cosine, constant or constant_with_warmup.",
    ),
    key(
        "warmup_steps",
        Ta,
        "Linear warmup steps; a value in (0, 1) is a ratio of the total steps.",
    ),
    key(
        "warmup_ratio",
        Ta,
        "Warmup as a ratio of the total steps (deprecated in transformers 5: use warmup_steps < 1).",
    ),
    key(
        "logging_strategy",
        Ta,
        "When to log the training loss: no, steps or epoch.",
    ),
    key(
        "logging_steps",
        Ta,
        "Log every this many optimizer steps (logging_strategy = \"steps\").",
    ),
    key(
        "logging_first_step",
        Ta,
        "Also log after the first optimizer step.",
    ),
    key("eval_strategy", Ta, "When to evaluate: no, steps or epoch."),
    key(
        "eval_steps",
        Ta,
        "Evaluate every this many steps (eval_strategy = \"steps\"); unset = logging_steps.",
    ),
    key(
        "save_strategy",
        Ta,
        "When to save a checkpoint: no, steps, epoch or best.",
    ),
    key(
        "save_steps",
        Ta,
        "Save every this many steps (save_strategy = \"steps\").",
    ),
    key(
        "save_total_limit",
        Ta,
        "Keep at most this many checkpoints (oldest deleted first, the best kept).",
    ),
    key(
        "load_best_model_at_end",
        Ta,
        "Reload the best checkpoint at the end of training.",
    ),
    key(
        "metric_for_best_model",
        Ta,
        "Metric that picks the best checkpoint, e.g. \"eval_f1\"; default \"loss\" when needed.",
    ),
    key(
        "greater_is_better",
        Ta,
        "Whether a larger metric is better; unset = false for *loss and rmse/mse/mae (HF: only *loss), else true.",
    ),
    key(
        "seed",
        Ta,
        "Random seed for model initialization and shuffling.",
    ),
    key(
        "data_seed",
        Ta,
        "Seed for data shuffling only; unset = seed.",
    ),
    key(
        "dataloader_drop_last",
        Ta,
        "Drop the last incomplete training batch.",
    ),
    key(
        "group_by_length",
        Ta,
        "Batch examples of similar length together (less padding).",
    ),
    key(
        "resume_from_checkpoint",
        Ta,
        "Checkpoint folder to resume from, or \"latest\" for the newest in output_dir.",
    ),
    key(
        "bf16",
        Ta,
        "Train with bfloat16 mixed precision (CUDA only).",
    ),
    key("tf32", Ta, "Allow TF32 matrix multiplications (CUDA only)."),
    key(
        "early_stopping_patience",
        Callback,
        "Stop after this many evaluations without improvement; unset = never.",
    ),
    key(
        "early_stopping_threshold",
        Callback,
        "Minimum improvement of the metric that resets the patience counter.",
    ),
    key(
        "use_lora",
        Wick,
        "Train LoRA adapters (peft) instead of every weight: the base model is frozen, \
         checkpoints hold the adapter in peft's layout.",
    ),
    key(
        "lora_r",
        Wick,
        "LoRA rank r of the adapters' B A (1 or more).",
    ),
    key(
        "lora_alpha",
        Wick,
        "LoRA alpha: the adapters' output is scaled by alpha / r.",
    ),
    key(
        "lora_dropout",
        Wick,
        "Dropout on the adapters' input, in [0, 1).",
    ),
    key(
        "lora_target_modules",
        Wick,
        "Linear layers that get adapters, by name (a name or its last parts); empty = the \
         model's default. BERT, RoBERTa, XLM-R: query, key, value, dense (default query, \
         value); DistilBERT: q_lin, k_lin, v_lin, out_lin, lin1, lin2 (q_lin, v_lin); \
         ModernBERT: Wqkv, Wo, Wi (Wqkv); DeBERTa-v2/v3: query_proj, key_proj, value_proj, \
         dense (query_proj, value_proj).",
    ),
    key(
        "use_rslora",
        Wick,
        "Rank-stabilised LoRA: scale by alpha / sqrt(r) instead of alpha / r.",
    ),
    key(
        "modules_to_save",
        Wick,
        "Modules trained in full beside the adapters, by name suffix; the head (classifier, \
         score) always is, as peft's sequence and token classification do.",
    ),
];

/// The help entry for `name`, if it is a key.
pub fn key_info(name: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.name == name)
}

/// The known key closest to `unknown` (edit distance at most 3), to suggest a fix.
pub fn closest_key(unknown: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (edit_distance(unknown, k.name), k.name))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("learning_rate", "learning_rate"), 0);
        assert_eq!(edit_distance("learnig_rate", "learning_rate"), 1);
        assert_eq!(edit_distance("seed", "sed"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_key_suggests_typos_only() {
        assert_eq!(closest_key("learnig_rate"), Some("learning_rate"));
        assert_eq!(closest_key("eval_stratgy"), Some("eval_strategy"));
        assert_eq!(closest_key("completely_unrelated"), None);
    }

    #[test]
    fn key_names_are_unique() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(KEYS[i + 1..].iter().all(|o| o.name != k.name), "{}", k.name);
        }
    }
}
