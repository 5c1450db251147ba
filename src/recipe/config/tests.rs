use super::*;

const MINIMAL: &str = "model = \"org/model\"\ndataset = \"org/data\"\n";

fn minimal() -> TrainConfig {
    TrainConfig::from_toml_str(MINIMAL).expect("minimal config parses")
}

fn error_key(text: &str) -> String {
    let err = TrainConfig::from_toml_str(text).expect_err("config should be rejected");
    let key = err.key().expect("error names a key").to_string();
    assert!(
        err.to_string().contains(&format!("`{key}`")),
        "message names the key: {err}"
    );
    key
}

#[test]
fn defaults_match_trainer() {
    let c = minimal();
    assert_eq!(c.learning_rate, 5e-5);
    assert_eq!(c.num_train_epochs, 3.0);
    assert_eq!(c.max_steps, -1);
    assert_eq!(c.per_device_train_batch_size, 8);
    assert_eq!(c.per_device_eval_batch_size, 8);
    assert_eq!(c.gradient_accumulation_steps, 1);
    assert_eq!(c.weight_decay, 0.0);
    assert_eq!(
        (c.adam_beta1, c.adam_beta2, c.adam_epsilon),
        (0.9, 0.999, 1e-8)
    );
    assert_eq!(c.max_grad_norm, 1.0);
    assert_eq!(c.lr_scheduler_type, LrSchedulerType::Linear);
    assert_eq!((c.warmup_steps, c.warmup_ratio), (0.0, 0.0));
    assert_eq!(c.logging_strategy, IntervalStrategy::Steps);
    assert_eq!(c.logging_steps, 500);
    assert!(!c.logging_first_step);
    assert_eq!(c.eval_strategy, IntervalStrategy::No);
    assert_eq!(c.resolved_eval_steps(), 500);
    assert_eq!(c.save_strategy, SaveStrategy::Steps);
    assert_eq!(c.save_steps, 500);
    assert_eq!(c.save_total_limit, None);
    assert!(!c.load_best_model_at_end);
    assert_eq!(c.resolved_metric_for_best_model(), None);
    assert_eq!(c.resolved_greater_is_better(), None);
    assert_eq!(c.seed, 42);
    assert_eq!(c.resolved_data_seed(), 42);
    assert!(!c.dataloader_drop_last && !c.group_by_length && !c.bf16 && !c.tf32);
    assert_eq!(c.train_split, "train");
    assert_eq!(c.eval_split.as_deref(), Some("validation"));
    assert_eq!(c.device_spec(), Some(DeviceSpec::Cpu));
    assert_eq!(c.max_length, None);
}

#[test]
fn every_key_in_table_is_a_field_and_back() {
    let mut c = minimal();
    // Set every optional key so the serialized table has all fields.
    for arg in [
        "dataset_config=x",
        "text_column=a",
        "text_pair_column=b",
        "label_column=c",
        "task=regression",
        "max_length=64",
        "pad_to_multiple_of=8",
        "tokenize_threads=2",
        "output_dir=/tmp/o",
        "run_name=r",
        "eval_steps=10",
        "save_total_limit=2",
        "metric_for_best_model=eval_f1",
        "greater_is_better=true",
        "data_seed=1",
        "validation_split_percentage=10",
        "resume_from_checkpoint=latest",
        "early_stopping_patience=3",
    ] {
        c.apply_override(arg)
            .unwrap_or_else(|e| panic!("{arg}: {e}"));
    }
    let table = toml::Table::try_from(&c).unwrap();
    let fields: Vec<&str> = table.keys().map(String::as_str).collect();
    for info in KEYS {
        assert!(
            fields.contains(&info.name),
            "KEYS has {} but the struct does not",
            info.name
        );
    }
    for field in fields {
        assert!(key_info(field).is_some(), "field {field} missing from KEYS");
    }
}

#[test]
fn toml_round_trip_keeps_everything() {
    let mut c = minimal();
    for arg in [
        "eval_strategy=steps",
        "eval_steps=25",
        "warmup_steps=0.1",
        "run_name=a \"quoted\" name",
        "eval_split=",
    ] {
        c.apply_override(arg).unwrap();
    }
    c.eval_strategy = IntervalStrategy::No;
    let text = c.to_toml_string();
    for info in KEYS {
        assert!(
            text.contains(info.name),
            "{} missing from output",
            info.name
        );
    }
    let back = TrainConfig::parse_unvalidated(&text, "round-trip").unwrap();
    assert_eq!(back, c);
    let default_back = TrainConfig::from_toml_str(&minimal().to_toml_string()).unwrap();
    assert_eq!(default_back, minimal());
}

#[test]
fn unknown_key_is_named_with_suggestion() {
    let err = TrainConfig::from_toml_str(&format!("{MINIMAL}learnig_rate = 1e-4\n")).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`learnig_rate`") && message.contains("`learning_rate`"),
        "{message}"
    );
    assert_eq!(err.key(), Some("learnig_rate"));
    let mut c = minimal();
    let err = c.apply_override("nonsense_key=3").unwrap_err();
    assert!(err.to_string().contains("nonsense_key"), "{err}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("learning_rate = \"fast\"", "learning_rate"),
        ("learning_rate = -1e-5", "learning_rate"),
        (
            "per_device_train_batch_size = 0",
            "per_device_train_batch_size",
        ),
        (
            "per_device_eval_batch_size = -2",
            "per_device_eval_batch_size",
        ),
        (
            "gradient_accumulation_steps = 0",
            "gradient_accumulation_steps",
        ),
        ("num_train_epochs = 0", "num_train_epochs"),
        ("max_steps = 0", "max_steps"),
        ("weight_decay = -0.1", "weight_decay"),
        ("adam_beta2 = 1.0", "adam_beta2"),
        ("adam_epsilon = 0", "adam_epsilon"),
        ("lr_scheduler_type = \"polynomial\"", "lr_scheduler_type"),
        ("warmup_steps = 2.5", "warmup_steps"),
        ("warmup_ratio = 1.5", "warmup_ratio"),
        ("eval_strategy = \"sometimes\"", "eval_strategy"),
        (
            "eval_strategy = \"steps\"\neval_split = \"\"",
            "eval_strategy",
        ),
        ("eval_steps = 0", "eval_steps"),
        ("save_steps = 0", "save_steps"),
        ("save_total_limit = 0", "save_total_limit"),
        ("device = \"tpu\"", "device"),
        ("bf16 = true", "bf16"),
        ("tf32 = true", "tf32"),
        ("max_length = 0", "max_length"),
        ("seed = \"x\"", "seed"),
        ("load_best_model_at_end = true", "load_best_model_at_end"),
        (
            "load_best_model_at_end = true\neval_strategy = \"epoch\"",
            "load_best_model_at_end",
        ),
        (
            "load_best_model_at_end = true\neval_strategy = \"steps\"\neval_steps = 300",
            "save_steps",
        ),
        ("early_stopping_patience = 2", "early_stopping_patience"),
        ("save_strategy = \"best\"", "save_strategy"),
    ];
    for (extra, key) in cases {
        assert_eq!(
            error_key(&format!("{MINIMAL}{extra}\n")),
            key,
            "for {extra:?}"
        );
    }
    assert_eq!(error_key("dataset = \"d\""), "model");
    assert_eq!(error_key("model = \"m\""), "dataset");
}

#[test]
fn best_model_rules_accept_hf_valid_combinations() {
    let ok = [
        "load_best_model_at_end = true\neval_strategy = \"epoch\"\nsave_strategy = \"epoch\"",
        "load_best_model_at_end = true\neval_strategy = \"steps\"\neval_steps = 250",
        "load_best_model_at_end = true\neval_strategy = \"steps\"\nsave_strategy = \"best\"",
        "load_best_model_at_end = true\neval_strategy = \"epoch\"\nsave_strategy = \"epoch\"\nearly_stopping_patience = 2",
        "device = \"cuda:1\"\nbf16 = true\ntf32 = true",
    ];
    for extra in ok {
        TrainConfig::from_toml_str(&format!("{MINIMAL}{extra}\n"))
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
}

#[test]
fn best_metric_defaults_follow_hf() {
    let mut c = minimal();
    c.apply_override("load_best_model_at_end=true").unwrap();
    assert_eq!(c.resolved_metric_for_best_model().as_deref(), Some("loss"));
    assert_eq!(c.resolved_greater_is_better(), Some(false));
    c.apply_override("metric_for_best_model=eval_f1").unwrap();
    assert_eq!(c.resolved_greater_is_better(), Some(true));
    c.apply_override("metric_for_best_model=eval_loss").unwrap();
    assert_eq!(c.resolved_greater_is_better(), Some(false));
    c.apply_override("greater_is_better=true").unwrap();
    assert_eq!(c.resolved_greater_is_better(), Some(true));
}

#[test]
fn overrides_parse_toml_values_and_bare_strings() {
    let mut c = minimal();
    c.apply_override("model=foo/bar").unwrap();
    assert_eq!(c.model, "foo/bar");
    c.apply_override("learning_rate=3e-5").unwrap();
    assert_eq!(c.learning_rate, 3e-5);
    c.apply_override("num_train_epochs=2").unwrap();
    assert_eq!(c.num_train_epochs, 2.0);
    c.apply_override("eval_split=").unwrap();
    assert_eq!(c.eval_split, None);
    c.apply_override("run_name=123").unwrap();
    assert_eq!(c.run_name.as_deref(), Some("123"));
    c.apply_override("run_name=\"quoted name\"").unwrap();
    assert_eq!(c.run_name.as_deref(), Some("quoted name"));
    c.apply_override("eval_strategy=epoch").unwrap();
    assert_eq!(c.eval_strategy, IntervalStrategy::Epoch);
    c.apply_override(" save_total_limit = 2 ").unwrap();
    assert_eq!(c.save_total_limit, Some(2));
    c.apply_override("save_total_limit=").unwrap();
    assert_eq!(c.save_total_limit, None);
    c.apply_override("learning_rate=").unwrap();
    assert_eq!(c.learning_rate, 5e-5);

    let err = c
        .apply_override("per_device_train_batch_size=many")
        .unwrap_err();
    assert_eq!(err.key(), Some("per_device_train_batch_size"));
    assert!(matches!(
        c.apply_override("no-equals-sign"),
        Err(ConfigError::BadOverride { .. })
    ));
    // A rejected override leaves the config unchanged.
    assert_eq!(c.per_device_train_batch_size, 8);
}

#[test]
fn step_arithmetic_matches_trainer() {
    let mut c = minimal();
    // MRPC train: 3668 rows, batch 8 -> 459 batches, 3 epochs -> 1377 steps (the course's number).
    assert_eq!(c.batches_per_epoch(3668), 459);
    assert_eq!(c.total_optimizer_steps(3668), 1377);
    c.dataloader_drop_last = true;
    assert_eq!(c.batches_per_epoch(3668), 458);
    c.dataloader_drop_last = false;
    c.gradient_accumulation_steps = 4;
    assert_eq!(c.optimizer_steps_per_epoch(3668), 115);
    c.num_train_epochs = 1.5;
    assert_eq!(c.total_optimizer_steps(3668), 173);
    assert_eq!(c.num_epochs_to_iterate(3668), 2);
    c.max_steps = 500;
    assert_eq!(c.total_optimizer_steps(3668), 500);
    assert_eq!(c.num_epochs_to_iterate(3668), 5);
    // Fewer rows than a batch still gives one step per epoch.
    c.max_steps = -1;
    c.dataloader_drop_last = true;
    assert_eq!(c.optimizer_steps_per_epoch(3), 1);
}

#[test]
fn max_length_defaults_to_512_and_respects_model_limit() {
    let mut c = minimal();
    assert_eq!(c.resolved_max_length(None), 512);
    assert_eq!(c.resolved_max_length(Some(usize::MAX)), 512);
    assert_eq!(c.resolved_max_length(Some(256)), 256);
    c.max_length = Some(128);
    assert_eq!(c.resolved_max_length(Some(512)), 128);
    c.max_length = Some(1024);
    assert_eq!(c.resolved_max_length(Some(512)), 512);
    assert_eq!(c.resolved_max_length(None), 1024);
}

#[test]
fn warmup_steps_like_hf() {
    let mut c = minimal();
    assert_eq!(c.warmup_steps_for(1377), 0);
    c.warmup_ratio = 0.1;
    assert_eq!(c.warmup_steps_for(1377), 138);
    c.warmup_steps = 0.06;
    assert_eq!(c.warmup_steps_for(1000), 60);
    c.warmup_steps = 100.0;
    assert_eq!(c.warmup_steps_for(1377), 100);
}

#[test]
fn paths_resolve_relative_to_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("local/model")).unwrap();
    let mut c = minimal();
    c.model = "local/model".into();
    c.dataset = "org/hub-dataset".into();
    c.output_dir = Some("out".into());
    c.resume_from_checkpoint = Some("latest".into());
    c.resolve_paths_relative_to(dir.path());
    assert_eq!(Path::new(&c.model), dir.path().join("local/model"));
    assert_eq!(c.dataset, "org/hub-dataset");
    assert_eq!(c.output_dir_path().unwrap(), dir.path().join("out"));
    assert_eq!(c.resume_from_checkpoint.as_deref(), Some("latest"));
    c.dataset = "./data.csv".into();
    c.resolve_paths_relative_to(dir.path());
    assert_eq!(Path::new(&c.dataset), dir.path().join("./data.csv"));
    // A config named without a folder (`--config run.toml`) still saves an absolute model
    // path; a relative output_dir stays relative.
    c.model = "./local/model".into();
    c.output_dir = Some("out".into());
    c.resolve_paths_relative_to(Path::new(""));
    assert!(Path::new(&c.model).is_absolute(), "{}", c.model);
    assert_eq!(c.output_dir.as_deref(), Some("out"));
}

#[test]
fn example_recipe_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mrpc-minilm.toml");
    let c = TrainConfig::from_file(&path).unwrap();
    let examples = path.parent().unwrap();
    assert_eq!(
        Path::new(&c.model),
        examples.join("../../shared/hub/models/sentence-transformers/all-MiniLM-L6-v2")
    );
    assert_eq!(
        Path::new(&c.dataset),
        examples.join("../../shared/hub/datasets/nyu-mll/glue")
    );
    assert_eq!(c.dataset_config.as_deref(), Some("mrpc"));
    assert_eq!(c.eval_strategy, IntervalStrategy::Epoch);
    assert_eq!(c.save_strategy, SaveStrategy::Epoch);
    assert_eq!(c.logging_steps, 50);
    assert_eq!(
        (
            c.learning_rate,
            c.per_device_train_batch_size,
            c.num_train_epochs
        ),
        (5e-5, 8, 3.0)
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    std::fs::write(&path, format!("{MINIMAL}per_device_train_batch_size = 0\n")).unwrap();
    let message = TrainConfig::from_file(&path).unwrap_err().to_string();
    assert!(
        message.contains("run.toml") && message.contains("per_device_train_batch_size"),
        "{message}"
    );
    std::fs::write(&path, "model = [unclosed").unwrap();
    assert!(matches!(
        TrainConfig::from_file(&path),
        Err(ConfigError::Syntax { .. })
    ));
    let missing = dir.path().join("absent.toml");
    assert!(
        TrainConfig::from_file(&missing)
            .unwrap_err()
            .to_string()
            .contains("absent.toml")
    );
}

#[test]
fn a_held_out_share_needs_no_eval_split_and_a_sane_percentage() {
    let no_eval = format!("{MINIMAL}\neval_split = \"\"\n");
    let held_out = TrainConfig::from_toml_str(&format!(
        "{no_eval}eval_strategy = \"epoch\"\nvalidation_split_percentage = 10\n"
    ))
    .unwrap();
    assert!(held_out.has_eval_data());
    assert_eq!(held_out.holdout_percentage(), Some(10));
    for bad in ["0", "51"] {
        assert_eq!(
            error_key(&format!("{no_eval}validation_split_percentage = {bad}\n")),
            "validation_split_percentage"
        );
    }
    // With an eval split as well, the user has to choose.
    assert_eq!(
        error_key(&format!("{MINIMAL}\nvalidation_split_percentage = 10\n")),
        "validation_split_percentage"
    );
    let err = TrainConfig::from_toml_str(&format!("{no_eval}eval_strategy = \"epoch\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation_split_percentage"), "{err}");
}

#[test]
fn values_that_do_not_fit_say_what_the_key_takes_in_plain_words() {
    let message = |arg: &str| match minimal().apply_override(arg) {
        Err(ConfigError::BadValue { message, .. }) => message,
        other => panic!("{arg}: expected a bad value, got {other:?}"),
    };
    assert_eq!(
        message("learning_rate=fast"),
        "must be a number (like 0.1 or 5e-5)"
    );
    assert_eq!(message("max_steps=lots"), "must be a whole number");
    assert_eq!(
        message("per_device_train_batch_size=many"),
        "must be a whole number (0 or more)"
    );
    assert_eq!(
        message("max_length=-3"),
        "must be a whole number (0 or more)"
    );
    assert_eq!(message("bf16=maybe"), "must be true or false");
    assert_eq!(
        message("lr_scheduler_type=polynomial"),
        "must be one of: linear, cosine, constant, constant_with_warmup"
    );
    // No key shows serde's wording for a value of the wrong kind.
    for info in KEYS {
        for value in ["fast", "-7", "0.5", "true"] {
            if let Err(err) = minimal().apply_override(&format!("{}={value}", info.name)) {
                let text = err.to_string();
                assert!(
                    !text.contains("invalid") && !text.contains("expected"),
                    "{}={value}: {text}",
                    info.name
                );
            }
        }
    }
}

#[test]
fn problems_lists_every_problem_once_per_key_and_validate_reports_the_first() {
    let mut config = minimal();
    config.learning_rate = -1.0;
    config.per_device_train_batch_size = 0;
    config.warmup_ratio = 3.0;
    config.model.clear();
    let keys: Vec<String> = config
        .problems()
        .iter()
        .map(|p| p.key().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "model",
            "learning_rate",
            "per_device_train_batch_size",
            "warmup_ratio"
        ]
    );
    assert_eq!(config.validate().unwrap_err().key(), Some("model"));
    assert!(minimal().problems().is_empty());
}

#[test]
fn lora_keys_take_peft_names_lists_or_a_form_string_and_are_checked() {
    let config = TrainConfig::from_toml_str(
        "model = \"m\"\ndataset = \"d\"\nuse_lora = true\nlora_r = 16\nlora_alpha = 32\n\
         lora_dropout = 0.1\nlora_target_modules = [\"query\", \"value\"]\nuse_rslora = true\n",
    )
    .unwrap();
    assert!(config.use_lora && config.use_rslora);
    assert_eq!((config.lora_r, config.lora_alpha), (16, 32.0));
    assert_eq!(config.lora_target_modules, ["query", "value"]);
    assert!(config.modules_to_save.is_empty());
    // What a form field holds, through --set: names separated by commas or spaces.
    let mut edited = config.clone();
    edited
        .apply_override("lora_target_modules=query_proj, value_proj")
        .unwrap();
    assert_eq!(edited.lora_target_modules, ["query_proj", "value_proj"]);
    edited
        .apply_override("modules_to_save=classifier pooler")
        .unwrap();
    assert_eq!(edited.modules_to_save, ["classifier", "pooler"]);
    edited.apply_override("lora_target_modules=").unwrap();
    assert!(edited.lora_target_modules.is_empty(), "empty = the default");
    // The written file reads back the same.
    assert_eq!(
        TrainConfig::from_toml_str(&config.to_toml_string()).unwrap(),
        config
    );

    let mut bad = minimal();
    bad.lora_r = 0;
    bad.lora_alpha = 0.0;
    bad.lora_dropout = 1.0;
    let keys: Vec<String> = bad
        .problems()
        .iter()
        .map(|p| p.key().unwrap_or_default().to_string())
        .collect();
    assert_eq!(keys, ["lora_r", "lora_alpha", "lora_dropout"]);
}
