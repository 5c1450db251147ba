use super::*;
use crate::recipe::KeyOrigin;

fn hub_config() -> TrainConfig {
    TrainConfig::from_toml_str(
        r#"
model = "sentence-transformers/all-MiniLM-L6-v2"
dataset = "nyu-mll/glue"
dataset_config = "mrpc"
learning_rate = 3e-5
num_train_epochs = 2.5
per_device_train_batch_size = 16
warmup_ratio = 0.1
eval_strategy = "steps"
eval_steps = 20
save_strategy = "steps"
save_steps = 40
load_best_model_at_end = true
metric_for_best_model = "mcc"
early_stopping_patience = 3
early_stopping_threshold = 0.001
group_by_length = true
pad_to_multiple_of = 8
max_length = 128
"#,
    )
    .expect("valid config")
}

/// `python3`, if this machine has one.
fn python3() -> Option<&'static str> {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

#[test]
fn every_key_is_mapped_once_in_key_order() {
    let mapped: Vec<&str> = MAPPING.iter().map(|m| m.key).collect();
    let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(
        mapped, keys,
        "MAPPING must list every key of KEYS once, in the same order: a new key needs a row"
    );
}

#[test]
fn targets_agree_with_key_origins() {
    for info in KEYS {
        let mapping = key_mapping(info.name).expect("mapped");
        let fits = match info.origin {
            KeyOrigin::TrainingArguments => {
                matches!(mapping.target, Ta(_) | FoldedInto(_) | TrainerTrain(_))
            }
            KeyOrigin::EarlyStoppingCallback => matches!(mapping.target, Callback(_)),
            KeyOrigin::Wick => matches!(mapping.target, Script | Ignored),
        };
        assert!(
            fits,
            "{}: origin {:?} but target {:?}",
            info.name, info.origin, mapping.target
        );
        if matches!(mapping.target, Ignored | FoldedInto(_)) {
            assert!(
                !mapping.note.is_empty(),
                "{}: say how the script handles it",
                info.name
            );
        }
    }
}

#[test]
fn no_two_keys_write_the_same_argument_and_folds_land_on_one() {
    let arguments: Vec<&str> = MAPPING
        .iter()
        .filter_map(|m| match m.target {
            Ta(name) => Some(name),
            _ => None,
        })
        .collect();
    for (i, name) in arguments.iter().enumerate() {
        assert!(!arguments[i + 1..].contains(name), "{name} written twice");
    }
    for m in MAPPING {
        if let FoldedInto(name) = m.target {
            assert!(
                arguments.contains(&name),
                "{} folds into unmapped {name}",
                m.key
            );
        }
    }
}

#[test]
fn warmup_ratio_folds_into_warmup_steps() {
    let value = |text: &str| {
        let config =
            TrainConfig::from_toml_str(&format!("model = \"a/b\"\ndataset = \"c/d\"\n{text}"))
                .unwrap();
        (key_mapping("warmup_steps").unwrap().value)(&config)
    };
    assert_eq!(value("warmup_ratio = 0.1"), Py::Float(0.1));
    assert_eq!(value("warmup_steps = 30"), Py::Int(30));
    assert_eq!(value("warmup_steps = 0.25"), Py::Float(0.25));
    assert_eq!(value("warmup_steps = 5\nwarmup_ratio = 0.5"), Py::Int(5));
    assert_eq!(value(""), Py::Float(0.0));
}

#[test]
fn a_hub_config_exports_four_files_with_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("project");
    let options = AccelerateExport {
        num_processes: 4,
        source: Some("mrpc.toml".into()),
    };
    let written = export_accelerate(&hub_config(), &out, &options).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, EXPORTED_FILES);

    let train = std::fs::read_to_string(out.join("train.py")).unwrap();
    for expected in [
        r#"LOAD_DATASET = {"path": "nyu-mll/glue", "name": "mrpc"}"#,
        r#""model": "sentence-transformers/all-MiniLM-L6-v2","#,
        r#""max_length": 128,"#,
        r#""pad_to_multiple_of": 8,"#,
        r#""learning_rate": 3e-5,"#,
        r#""num_train_epochs": 2.5,"#,
        r#""per_device_train_batch_size": 16,"#,
        r#""warmup_steps": 0.1,"#,
        r#""eval_strategy": "steps","#,
        r#""eval_steps": 20,"#,
        r#""metric_for_best_model": "matthews_correlation","#,
        r#""train_sampling_strategy": "group_by_length","#,
        r#""output_dir": "output","#,
        r#""early_stopping_patience": 3,"#,
        r#""early_stopping_threshold": 0.001,"#,
        "    # device = \"cpu\" is not used here.",
        "def metrics_for(task, names):",
    ] {
        assert!(
            train.contains(expected),
            "train.py lacks {expected}\n{train}"
        );
    }
    assert!(
        !train.contains("\"warmup_ratio\":"),
        "removed in transformers 5"
    );
    assert!(
        !train.contains("\"group_by_length\":"),
        "renamed in transformers 5"
    );

    let yaml = std::fs::read_to_string(out.join("accelerate_config.yaml")).unwrap();
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(parsed["num_processes"].as_u64(), Some(4));
    assert_eq!(parsed["distributed_type"].as_str(), Some("MULTI_GPU"));
    assert_eq!(parsed["mixed_precision"].as_str(), Some("no"));
    // PyYAML (YAML 1.1) reads bare no/NO/off as false; accelerate then fails on `False.lower()`.
    for (key, value) in parsed.as_mapping().unwrap() {
        let line = yaml
            .lines()
            .find(|l| l.starts_with(&format!("{}:", key.as_str().unwrap())))
            .unwrap();
        if let Some(text) = value.as_str()
            && ["no", "yes", "on", "off", "y", "n"].contains(&text.to_ascii_lowercase().as_str())
        {
            assert!(line.contains(&format!("'{text}'")), "quote {line}");
        }
    }

    let requirements = std::fs::read_to_string(out.join("requirements.txt")).unwrap();
    for package in ["torch", "transformers", "datasets", "accelerate"] {
        assert!(
            requirements.lines().any(|l| l.starts_with(package)),
            "{package}"
        );
    }
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("accelerate launch --config_file accelerate_config.yaml train.py"));
    assert!(
        readme.contains("global batch is\n  64 examples"),
        "{readme}"
    );
}

#[test]
fn one_process_writes_a_single_process_config() {
    let dir = tempfile::tempdir().unwrap();
    let options = AccelerateExport {
        num_processes: 1,
        source: None,
    };
    export_accelerate(&hub_config(), dir.path(), &options).unwrap();
    let yaml = std::fs::read_to_string(dir.path().join("accelerate_config.yaml")).unwrap();
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(parsed["num_processes"].as_u64(), Some(1));
    assert_eq!(parsed["distributed_type"].as_str(), Some("NO"));
    assert!(yaml.contains("distributed_type: 'NO'"), "{yaml}");
}

#[test]
fn local_csv_data_becomes_data_files_with_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("reviews");
    std::fs::create_dir_all(data.join("data")).unwrap();
    for split in ["train", "validation"] {
        std::fs::write(
            data.join(format!("data/{split}.csv")),
            "text,label\ngood,pos\nbad,neg\n",
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.path().join("model")).unwrap();
    let config = TrainConfig::from_toml_str(&format!(
        "model = {:?}\ndataset = {:?}\n",
        dir.path().join("model").display().to_string(),
        data.display().to_string()
    ))
    .unwrap();
    let out = dir.path().join("out");
    export_accelerate(&config, &out, &AccelerateExport::default()).unwrap();
    let train = std::fs::read_to_string(out.join("train.py")).unwrap();
    let root = std::fs::canonicalize(&data).unwrap();
    let expected = format!(
        "LOAD_DATASET = {}",
        Py::Dict(vec![
            ("path".into(), Py::str("csv")),
            (
                "data_files".into(),
                Py::Dict(vec![
                    (
                        "train".into(),
                        Py::List(vec![Py::str(
                            root.join("data/train.csv").display().to_string()
                        )])
                    ),
                    (
                        "validation".into(),
                        Py::List(vec![Py::str(
                            root.join("data/validation.csv").display().to_string()
                        )])
                    ),
                ])
            ),
        ])
        .render()
    );
    assert!(train.contains(&expected), "{expected}\n{train}");
    let model = std::fs::canonicalize(dir.path().join("model")).unwrap();
    assert!(train.contains(&format!("\"model\": {:?},", model.display().to_string())));
}

#[test]
fn bad_inputs_are_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let zero = AccelerateExport {
        num_processes: 0,
        source: None,
    };
    let err = export_accelerate(&hub_config(), dir.path(), &zero).unwrap_err();
    assert!(err.to_string().contains("num_processes"), "{err}");

    let mut missing = hub_config();
    missing.dataset = dir.path().join("nope.csv").display().to_string();
    let err = export_accelerate(&missing, dir.path(), &AccelerateExport::default()).unwrap_err();
    assert!(
        err.to_string().contains("nope.csv") && err.to_string().contains("dataset"),
        "{err}"
    );

    let mut missing_model = hub_config();
    missing_model.model = "./no-such-model".into();
    let err =
        export_accelerate(&missing_model, dir.path(), &AccelerateExport::default()).unwrap_err();
    assert!(err.to_string().contains("no-such-model"), "{err}");

    let mut invalid = hub_config();
    invalid.learning_rate = -1.0;
    let err = export_accelerate(&invalid, dir.path(), &AccelerateExport::default()).unwrap_err();
    assert!(err.to_string().contains("learning_rate"), "{err}");
    assert!(
        !dir.path().join("train.py").exists(),
        "nothing written on error"
    );
}

/// The settings compile and read back: Python's own parser evaluates the literal dicts and
/// they hold what the mapping says.
#[test]
fn train_py_compiles_and_its_settings_read_back_in_python() {
    let Some(python) = python3() else {
        println!("SKIPPED: python3 not found; cannot py_compile the generated train.py");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = hub_config();
    export_accelerate(&config, dir.path(), &AccelerateExport::default()).unwrap();
    let script = dir.path().join("train.py");
    let compiled = std::process::Command::new(python)
        .args(["-m", "py_compile"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "py_compile: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );

    let reader = r#"
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
names = {"WICK", "TRAINING_ARGUMENTS", "TRAIN_KWARGS", "EARLY_STOPPING", "LOAD_DATASET"}
out = {}
for node in tree.body:
    target = node.targets[0] if isinstance(node, ast.Assign) else None
    if isinstance(target, ast.Name) and target.id in names:
        out[target.id] = ast.literal_eval(node.value)
print(json.dumps(out))
"#;
    let read = std::process::Command::new(python)
        .args(["-c", reader])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let settings: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let args = &settings["TRAINING_ARGUMENTS"];
    for m in MAPPING {
        let value = (m.value)(&config);
        match m.target {
            Ta(name) if value.is_none() => assert!(args.get(name).is_none(), "{name}"),
            Ta(name) => assert_eq!(
                args[name],
                json_of(&value),
                "TrainingArguments {name} (key {})",
                m.key
            ),
            Script => assert_eq!(settings["WICK"][m.key], json_of(&value), "WICK {}", m.key),
            Callback(name) => {
                assert_eq!(settings["EARLY_STOPPING"][name], json_of(&value), "{name}")
            }
            TrainerTrain(_) | FoldedInto(_) | Ignored => {}
        }
    }
    assert_eq!(args["report_to"], "none");
    assert_eq!(settings["LOAD_DATASET"]["name"], "mrpc");

    // accelerate reads its config with PyYAML (YAML 1.1), where a bare `no` is False.
    let yaml = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(dir.path().join("accelerate_config.yaml"))
        .output()
        .unwrap();
    if yaml.status.success() {
        let parsed: serde_json::Value = serde_json::from_slice(&yaml.stdout).unwrap();
        assert_eq!(parsed["mixed_precision"], "no");
        assert_eq!(parsed["distributed_type"], "MULTI_GPU");
        assert_eq!(parsed["num_processes"], 2);
    } else {
        println!("SKIPPED: PyYAML not installed; accelerate_config.yaml not read by PyYAML");
    }
}

/// A Python value as JSON, to compare with what Python read back.
fn json_of(value: &Py) -> serde_json::Value {
    match value {
        Py::None => serde_json::Value::Null,
        Py::Bool(b) => (*b).into(),
        Py::Int(i) => (*i).into(),
        Py::Float(f) => (*f).into(),
        Py::Str(s) => s.clone().into(),
        Py::List(items) => items.iter().map(json_of).collect(),
        Py::Dict(entries) => entries
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Each task's recipe: the WICK settings name it, and train.py and the README carry the
/// code and words for it.
#[test]
fn every_task_exports_with_its_settings_and_its_code() {
    let pieces: &[(&str, &str, &[&str])] = &[
        (
            "single_label_classification",
            "class_weights = \"balanced\"",
            &[
                r#""task": "single_label_classification","#,
                r#""class_weights": "balanced","#,
                "def single_label_metrics(eval_pred):",
                "\"macro_f1\":",
                "class WeightedLossTrainer(Trainer):",
                "torch.nn.CrossEntropyLoss(",
                "weight=self.class_weights.to(logits.device), ignore_index=IGNORED",
                "AutoModelForSequenceClassification.from_pretrained",
                "DataCollatorWithPadding(tokenizer",
            ],
        ),
        (
            "multi_label_classification",
            "",
            &[
                r#""task": "multi_label_classification","#,
                r#""class_weights": "none","#,
                "def multi_label_metrics(eval_pred):",
                "hot[class_id(value)] = 1.0",
                "config_kwargs[\"problem_type\"] = task",
                "\"tuned_micro_f1\"",
                "\"subset_accuracy\":",
                "\"hamming_loss\":",
                "sorted(range(1, 20), key=lambda k: (abs(k - 10), k))",
            ],
        ),
        (
            "regression",
            "",
            &[
                r#""task": "regression","#,
                "def regression_metrics(eval_pred):",
                "return [label]",
                "(\"spearman\", pearson(average_ranks(x), average_ranks(y)))",
                "\"rmse\":",
                "\"mae\":",
            ],
        ),
        (
            "token_classification",
            "label_all_tokens = true\nclass_weights = [1.0, 2.0, 2.0]",
            &[
                r#""task": "token_classification","#,
                r#""label_all_tokens": True,"#,
                r#""class_weights": [1.0, 2.0, 2.0],"#,
                "is_split_into_words=True",
                "def align_labels_with_tokens(tags, word_ids, inside):",
                "def inside_tags(names):",
                "DataCollatorForTokenClassification(tokenizer",
                "AutoModelForTokenClassification.from_pretrained",
                "def entity_chunks(tags):",
                "def make_token_metrics(names):",
            ],
        ),
    ];
    for (task, extra, expected) in pieces {
        let config = TrainConfig::from_toml_str(&format!(
            "model = \"sentence-transformers/all-MiniLM-L6-v2\"\ndataset = \"some/data\"\n\
             task = \"{task}\"\n{extra}\n"
        ))
        .unwrap_or_else(|e| panic!("{task}: {e}"));
        let dir = tempfile::tempdir().unwrap();
        export_accelerate(&config, dir.path(), &AccelerateExport::default()).unwrap();
        let train = std::fs::read_to_string(dir.path().join("train.py")).unwrap();
        for piece in *expected {
            assert!(train.contains(piece), "{task}: train.py lacks {piece}");
        }
        let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
        assert!(
            readme.contains(&format!("This recipe sets `task = \"{task}\"`")),
            "{task}: {readme}"
        );
        assert!(
            readme.contains("`is_split_into_words=True`")
                && readme.contains("tuned_micro_f1")
                && readme.contains("pearson, spearman"),
            "{readme}"
        );
    }

    let unset = hub_config();
    let dir = tempfile::tempdir().unwrap();
    export_accelerate(&unset, dir.path(), &AccelerateExport::default()).unwrap();
    let train = std::fs::read_to_string(dir.path().join("train.py")).unwrap();
    assert!(train.contains(r#""task": None,"#));
    assert!(train.contains(r#""label_all_tokens": False,"#));
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("leaves `task` unset"), "{readme}");
}

/// A recipe with every task key set still compiles and its WICK settings read back (lists
/// included).
#[test]
fn task_settings_read_back_in_python() {
    let Some(python) = python3() else {
        println!("SKIPPED: python3 not found; cannot read the generated train.py");
        return;
    };
    let mut config = hub_config();
    config.task = Some(Task::TokenClassification);
    config.label_all_tokens = true;
    config.class_weights = ClassWeights::Given(vec![0.5, 1.0, 4.0]);
    let dir = tempfile::tempdir().unwrap();
    export_accelerate(&config, dir.path(), &AccelerateExport::default()).unwrap();
    let reader = r#"
import ast, json, sys
for node in ast.parse(open(sys.argv[1]).read()).body:
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "WICK":
        print(json.dumps(ast.literal_eval(node.value)))
"#;
    let read = std::process::Command::new(python)
        .args(["-c", reader])
        .arg(dir.path().join("train.py"))
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let wick: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(wick["task"], "token_classification");
    assert_eq!(wick["label_all_tokens"], true);
    assert_eq!(wick["class_weights"], serde_json::json!([0.5, 1.0, 4.0]));
}

/// `use_lora` exports as peft's get_peft_model with the recipe's settings, peft in the
/// requirements, and the script's default targets are Wick's for every model type.
#[test]
fn a_lora_recipe_exports_with_peft_and_wicks_default_targets() {
    let mut config = hub_config();
    config.use_lora = true;
    config.lora_r = 16;
    config.lora_alpha = 32.0;
    config.lora_target_modules = vec!["query".into(), "key".into()];
    let dir = tempfile::tempdir().unwrap();
    export_accelerate(&config, dir.path(), &AccelerateExport::default()).unwrap();
    let train = std::fs::read_to_string(dir.path().join("train.py")).unwrap();
    for piece in [
        r#""use_lora": True,"#,
        r#""lora_r": 16,"#,
        r#""lora_target_modules": ["query", "key"],"#,
        "model = with_lora(model, model_config.model_type, task, loading[\"missing_keys\"])",
        "output_loading_info=True",
        "get_peft_model(model, config)",
    ] {
        assert!(train.contains(piece), "train.py lacks {piece}");
    }
    let requirements = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert!(requirements.contains("peft>="), "{requirements}");
    // The script's defaults, model type by model type, are Wick's.
    for model_type in [
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "modernbert",
        "deberta-v2",
    ] {
        let arch = crate::model::Architecture::from_model_type(model_type).unwrap();
        let wanted: Vec<String> = crate::model::default_target_modules(arch)
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        let line = format!("    {model_type:?}: [{}],", wanted.join(", "));
        assert!(train.contains(&line), "LORA_DEFAULT_TARGETS lacks {line}");
    }
    // Without LoRA, no peft.
    config.use_lora = false;
    export_accelerate(&config, dir.path(), &AccelerateExport::default()).unwrap();
    let requirements = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert!(!requirements.contains("peft"), "{requirements}");
}
