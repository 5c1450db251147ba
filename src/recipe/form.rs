//! How the Train form lays out the recipe's keys: its groups, in order, each key's kind of
//! input and what an empty field means. Data only, beside the key table (`config::KEYS`,
//! with each key's help and origin), so a new key is added in one place per concern and the
//! test below fails when it is missing from the form.

/// How a key is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    Choice(&'static [&'static str]),
}

/// One row of the form: the key and what an empty field means.
pub struct Field {
    pub key: &'static str,
    pub kind: Kind,
    /// What an empty field means (its placeholder).
    pub hint: &'static str,
}

const fn text(key: &'static str, hint: &'static str) -> Field {
    Field {
        key,
        kind: Kind::Text,
        hint,
    }
}

const fn flag(key: &'static str) -> Field {
    Field {
        key,
        kind: Kind::Bool,
        hint: "",
    }
}

const fn choice(key: &'static str, options: &'static [&'static str]) -> Field {
    Field {
        key,
        kind: Kind::Choice(options),
        hint: "",
    }
}

const INTERVALS: &[&str] = &["no", "steps", "epoch"];

/// A group of the form.
pub struct Group {
    pub title: &'static str,
    pub fields: &'static [Field],
}

impl Group {
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.key)
    }
}

/// The form, in order. `device` is not here: it has its own picker next to Start.
pub const GROUPS: &[Group] = &[
    Group {
        title: "Basics",
        fields: &[
            text("model", "a Hub id (org/name) or a local folder"),
            text("dataset", "a Hub id, a local folder or a data file"),
            text("dataset_config", "none"),
            text("train_split", "train"),
            text("eval_split", "none: no evaluation"),
            text(
                "validation_split_percentage",
                "none (10: evaluate on 10% of train)",
            ),
            text("output_dir", "a new folder in the runs folder"),
            text("run_name", "named after the model and dataset"),
            text("num_train_epochs", "3"),
            text("max_steps", "-1: use num_train_epochs"),
            text("per_device_train_batch_size", "8"),
            text("learning_rate", "5e-5"),
            text("seed", "42"),
        ],
    },
    Group {
        title: "Task",
        fields: &[
            choice(
                "task",
                &[
                    "",
                    "single_label_classification",
                    "multi_label_classification",
                    "regression",
                    "token_classification",
                ],
            ),
            text("class_weights", "none (or balanced, or [w0, w1, ...])"),
            flag("label_all_tokens"),
        ],
    },
    Group {
        title: "Optimizer",
        fields: &[
            text("weight_decay", "0"),
            text("adam_beta1", "0.9"),
            text("adam_beta2", "0.999"),
            text("adam_epsilon", "1e-8"),
            text("max_grad_norm", "1.0 (0: no clipping)"),
            text("gradient_accumulation_steps", "1"),
        ],
    },
    Group {
        title: "Schedule",
        fields: &[
            choice(
                "lr_scheduler_type",
                &["linear", "cosine", "constant", "constant_with_warmup"],
            ),
            text("warmup_steps", "0 (a value in (0, 1) is a ratio)"),
            text("warmup_ratio", "0"),
        ],
    },
    Group {
        title: "Evaluation and saving",
        fields: &[
            choice("eval_strategy", INTERVALS),
            text("eval_steps", "unset: logging_steps"),
            text("per_device_eval_batch_size", "8"),
            choice("logging_strategy", INTERVALS),
            text("logging_steps", "500"),
            flag("logging_first_step"),
            choice("save_strategy", &["no", "steps", "epoch", "best"]),
            text("save_steps", "500"),
            text("save_total_limit", "unset: keep every checkpoint"),
            flag("load_best_model_at_end"),
            text("metric_for_best_model", "unset: loss (when needed)"),
            choice("greater_is_better", &["", "true", "false"]),
            text("early_stopping_patience", "unset: no early stopping"),
            text("early_stopping_threshold", "0"),
        ],
    },
    Group {
        title: "LoRA",
        fields: &[
            flag("use_lora"),
            text("lora_r", "8"),
            text("lora_alpha", "8"),
            text("lora_dropout", "0"),
            text(
                "lora_target_modules",
                "the model's default (BERT: query, value)",
            ),
            flag("use_rslora"),
            text("modules_to_save", "the head (classifier, score)"),
        ],
    },
    Group {
        title: "Advanced",
        fields: &[
            text("data_seed", "unset: seed"),
            flag("group_by_length"),
            flag("dataloader_drop_last"),
            text("pad_to_multiple_of", "unset: no rounding"),
            text("max_length", "unset: the model's maximum, at most 512"),
            text("tokenize_threads", "unset: one per core"),
            text("text_column", "guessed"),
            text("text_pair_column", "guessed"),
            text("label_column", "guessed"),
            text("resume_from_checkpoint", "a checkpoint folder, or latest"),
            flag("bf16"),
            flag("tf32"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::KEYS;

    #[test]
    fn every_key_is_in_the_form_once() {
        let mut seen: Vec<&str> = GROUPS.iter().flat_map(Group::keys).collect();
        seen.push("device"); // its own picker
        for info in KEYS {
            let count = seen.iter().filter(|k| **k == info.name).count();
            assert_eq!(count, 1, "{} appears {count} times", info.name);
        }
        assert_eq!(seen.len(), KEYS.len());
    }
}
