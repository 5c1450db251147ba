//! The edits a front end makes to a recipe: a fork or a resume from a checkpoint, a reset to
//! the defaults, and the copy written to a file (with absolute paths). The app's Train and
//! Runs panels and the CLI share these, so each is written once.

use std::path::Path;

use super::TrainConfig;

/// Keys a "Reset to defaults" leaves alone: the data and model (chosen in Hub and Data) and
/// the device.
pub const KEPT_ON_RESET: &[&str] = &[
    "model",
    "dataset",
    "dataset_config",
    "train_split",
    "eval_split",
    "validation_split_percentage",
    "text_column",
    "text_pair_column",
    "label_column",
    "task",
    "device",
];

/// The recipe for a fork: it trains from the weights in `checkpoint` (the folder of step
/// `step`) as a new run with a fresh optimizer and schedule, named `<run_name>-fork-<step>`.
pub fn fork(config: &TrainConfig, run_name: &str, checkpoint: &Path, step: u64) -> TrainConfig {
    let mut fork = config.clone();
    fork.model = checkpoint.display().to_string();
    fork.resume_from_checkpoint = None;
    fork.output_dir = None;
    fork.run_name = Some(format!("{run_name}-fork-{step}"));
    fork
}

/// The recipe that resumes a run from `checkpoint` (optimizer, schedule and data order
/// restored; the trainer continues in the same run folder).
pub fn resume(config: &TrainConfig, checkpoint: &Path) -> TrainConfig {
    let mut resume = config.clone();
    resume.resume_from_checkpoint = Some(checkpoint.display().to_string());
    resume
}

/// Sets `keys` back to `TrainConfig::default()`'s values.
pub fn reset_keys(recipe: &mut TrainConfig, keys: &[&str]) {
    let (Ok(mut table), Ok(defaults)) = (
        toml::Table::try_from(&*recipe),
        toml::Table::try_from(TrainConfig::default()),
    ) else {
        return;
    };
    for key in keys {
        match defaults.get(*key) {
            Some(value) => table.insert(key.to_string(), value.clone()),
            None => table.remove(*key),
        };
    }
    if let Ok(config) = toml::Value::Table(table).try_into() {
        *recipe = config;
    }
}

/// The recipe as written to a file: local relative paths made absolute, since the file's
/// reader resolves them against the file's folder, not this process's working directory.
pub fn with_absolute_paths(recipe: &TrainConfig) -> TrainConfig {
    let mut config = recipe.clone();
    let absolute = |value: &mut String| {
        let path = Path::new(value.as_str());
        if path.is_relative()
            && (value.starts_with('.') || path.exists())
            && let Ok(abs) = std::path::absolute(path)
        {
            *value = abs.display().to_string();
        }
    };
    absolute(&mut config.model);
    absolute(&mut config.dataset);
    if let Some(out) = config.output_dir.as_mut() {
        absolute(out);
    }
    if let Some(resume) = config
        .resume_from_checkpoint
        .as_mut()
        .filter(|r| r.as_str() != "latest")
    {
        absolute(resume);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_trains_a_new_run_from_the_checkpoint_weights_and_resume_continues_it() {
        let mut config = TrainConfig {
            model: "bert-base-uncased".into(),
            dataset: "glue".into(),
            output_dir: Some("/runs/r".into()),
            resume_from_checkpoint: Some("/runs/r/checkpoint-10".into()),
            learning_rate: 3e-5,
            ..TrainConfig::default()
        };
        let fork = fork(
            &config,
            "baseline",
            Path::new("/runs/r/checkpoint-918"),
            918,
        );
        assert_eq!(fork.model, "/runs/r/checkpoint-918");
        assert_eq!(fork.run_name.as_deref(), Some("baseline-fork-918"));
        assert_eq!((fork.output_dir, fork.resume_from_checkpoint), (None, None));
        assert_eq!(fork.learning_rate, 3e-5);
        config.resume_from_checkpoint = None;
        let resume = resume(&config, Path::new("/runs/r/checkpoint-20"));
        assert_eq!(
            resume.resume_from_checkpoint.as_deref(),
            Some("/runs/r/checkpoint-20")
        );
        assert_eq!(resume.model, "bert-base-uncased");
        assert_eq!(resume.output_dir.as_deref(), Some("/runs/r"));
    }

    #[test]
    fn reset_restores_defaults_and_keeps_the_rest() {
        let mut config = TrainConfig {
            model: "m".into(),
            learning_rate: 1e-3,
            max_length: Some(64),
            warmup_ratio: 0.2,
            ..TrainConfig::default()
        };
        reset_keys(&mut config, &["learning_rate", "max_length"]);
        assert_eq!(config.learning_rate, 5e-5);
        assert_eq!(config.max_length, None);
        assert_eq!((config.model.as_str(), config.warmup_ratio), ("m", 0.2));
    }

    #[test]
    fn written_relative_paths_become_absolute() {
        let config = TrainConfig {
            model: "./models/x".into(),
            dataset: "org/name".into(),
            ..TrainConfig::default()
        };
        let out = with_absolute_paths(&config);
        assert!(Path::new(&out.model).is_absolute(), "{}", out.model);
        assert_eq!(out.dataset, "org/name", "Hub ids stay");
    }
}
