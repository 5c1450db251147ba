//! Named starting points for a configuration. Each changes only the keys it lists in its
//! description, and fills in data and model only where they are still empty.

use super::config::{IntervalStrategy, SaveStrategy, TrainConfig};

/// The course's model (chapter 3 uses bert-base-uncased; MiniLM is the same recipe at a
/// size a CPU trains in minutes).
pub const COURSE_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
pub const COURSE_DATASET: &str = "nyu-mll/glue";
pub const COURSE_DATASET_CONFIG: &str = "mrpc";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The 🤗 course, chapter 3: GLUE/MRPC, Trainer's defaults, evaluation each epoch.
    CourseRecipe,
    /// A few dozen steps to check that a pipeline runs end to end.
    QuickTest,
    /// Warmup, weight decay, the best checkpoint kept, early stopping.
    Careful,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::CourseRecipe, Preset::QuickTest, Preset::Careful];

    pub fn name(self) -> &'static str {
        match self {
            Preset::CourseRecipe => "Course recipe (chapter 3)",
            Preset::QuickTest => "Quick test",
            Preset::Careful => "Careful (warmup + early stopping)",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Preset::CourseRecipe => {
                "Data and model, if empty: nyu-mll/glue (mrpc) and all-MiniLM-L6-v2. Then \
                 Trainer's defaults (learning_rate 5e-5, 3 epochs, batch size 8, linear \
                 schedule, no warmup, no weight decay), eval_strategy and save_strategy \
                 \"epoch\", logging_steps 50, seed 42."
            }
            Preset::QuickTest => {
                "max_steps 30, logging_steps 1 (first step too), eval_strategy \"steps\" with \
                 eval_steps 30 (one evaluation at the end), save_strategy \"no\". Everything \
                 else unchanged."
            }
            Preset::Careful => {
                "warmup_ratio 0.1, weight_decay 0.01, eval_strategy and save_strategy \
                 \"epoch\", save_total_limit 2, load_best_model_at_end with \
                 metric_for_best_model \"f1\" (binary for two labels, macro-averaged for \
                 more), early_stopping_patience 2, num_train_epochs 5."
            }
        }
    }

    pub fn apply(self, config: &mut TrainConfig) {
        match self {
            Preset::CourseRecipe => {
                if config.model.trim().is_empty() {
                    config.model = COURSE_MODEL.into();
                }
                if config.dataset.trim().is_empty() {
                    config.dataset = COURSE_DATASET.into();
                    config.dataset_config = Some(COURSE_DATASET_CONFIG.into());
                    config.train_split = "train".into();
                    config.eval_split = Some("validation".into());
                }
                let defaults = TrainConfig::default();
                config.learning_rate = defaults.learning_rate;
                config.num_train_epochs = defaults.num_train_epochs;
                config.max_steps = defaults.max_steps;
                config.per_device_train_batch_size = defaults.per_device_train_batch_size;
                config.per_device_eval_batch_size = defaults.per_device_eval_batch_size;
                config.gradient_accumulation_steps = defaults.gradient_accumulation_steps;
                config.lr_scheduler_type = defaults.lr_scheduler_type;
                config.warmup_steps = defaults.warmup_steps;
                config.warmup_ratio = defaults.warmup_ratio;
                config.weight_decay = defaults.weight_decay;
                config.eval_strategy = IntervalStrategy::Epoch;
                config.save_strategy = SaveStrategy::Epoch;
                config.logging_steps = 50;
                config.seed = 42;
            }
            Preset::QuickTest => {
                config.max_steps = 30;
                config.logging_strategy = IntervalStrategy::Steps;
                config.logging_steps = 1;
                config.logging_first_step = true;
                config.eval_strategy = IntervalStrategy::Steps;
                config.eval_steps = Some(30);
                config.save_strategy = SaveStrategy::No;
                config.load_best_model_at_end = false;
                config.early_stopping_patience = None;
            }
            Preset::Careful => {
                config.warmup_ratio = 0.1;
                config.warmup_steps = 0.0;
                config.weight_decay = 0.01;
                config.num_train_epochs = 5.0;
                config.max_steps = -1;
                config.eval_strategy = IntervalStrategy::Epoch;
                config.save_strategy = SaveStrategy::Epoch;
                config.save_total_limit = Some(2);
                config.load_best_model_at_end = true;
                config.metric_for_best_model = Some("f1".into());
                config.greater_is_better = Some(true);
                config.early_stopping_patience = Some(2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_data() -> TrainConfig {
        TrainConfig {
            model: "m".into(),
            dataset: "d".into(),
            ..TrainConfig::default()
        }
    }

    #[test]
    fn every_preset_gives_a_valid_config() {
        for preset in Preset::ALL {
            let mut config = with_data();
            preset.apply(&mut config);
            config
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", preset.name()));
            assert_eq!(
                config.model,
                "m",
                "{} keeps the chosen model",
                preset.name()
            );
        }
    }

    #[test]
    fn the_course_recipe_fills_in_mrpc_and_minilm_when_empty() {
        let mut config = TrainConfig {
            learning_rate: 1e-3,
            ..TrainConfig::default()
        };
        Preset::CourseRecipe.apply(&mut config);
        assert_eq!(config.model, COURSE_MODEL);
        assert_eq!(config.dataset, COURSE_DATASET);
        assert_eq!(config.dataset_config.as_deref(), Some("mrpc"));
        assert_eq!(config.learning_rate, 5e-5);
        assert_eq!(config.eval_strategy, IntervalStrategy::Epoch);
    }

    #[test]
    fn quick_test_and_careful_change_what_they_say() {
        let mut config = with_data();
        Preset::QuickTest.apply(&mut config);
        assert_eq!((config.max_steps, config.logging_steps), (30, 1));
        let mut config = with_data();
        Preset::Careful.apply(&mut config);
        assert!(config.load_best_model_at_end);
        assert_eq!(config.early_stopping_patience, Some(2));
        assert_eq!(config.warmup_ratio, 0.1);
    }
}
