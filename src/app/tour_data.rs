//! The screenshot tour's data for the tasks beyond single-label classification: review
//! sentences in the offline demo's words, tagged for entities (aspects and opinions),
//! labelled with the aspects they mention (multi-label) or scored 0-5 (regression), and a
//! random tiny BERT with the task's head for each. Written once from fixed seeds; not real
//! data, and nothing here is pretrained.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::{Path, PathBuf};

use crate::model::{Classifier, ModelConfig};
use crate::recipe::{IntervalStrategy, SaveStrategy, TrainConfig};
use crate::task::Task;

/// What a review talks about, with the aspect category (multi-label) each subject belongs to.
const SUBJECTS: &[(&str, &str)] = &[
    ("plot", "story"),
    ("story", "story"),
    ("script", "story"),
    ("ending", "story"),
    ("acting", "acting"),
    ("cast", "acting"),
    ("soundtrack", "music"),
    ("camera work", "visuals"),
    ("pacing", "pacing"),
];
/// Opinion words with the rating (0-5) each gives.
const OPINIONS: &[(&str, f64)] = &[
    ("awful", 0.3),
    ("terrible", 0.2),
    ("painful", 0.6),
    ("boring", 1.2),
    ("dull", 1.3),
    ("weak", 1.6),
    ("so so", 2.3),
    ("passable", 2.4),
    ("average", 2.5),
    ("ordinary", 2.5),
    ("okay", 2.8),
    ("fine", 3.0),
    ("moving", 3.9),
    ("great", 4.2),
    ("delightful", 4.4),
    ("wonderful", 4.6),
    ("brilliant", 4.8),
    ("superb", 4.9),
];
const FILLERS: &[&str] = &[
    "",
    "i think",
    "honestly",
    "to be fair",
    "overall",
    "in the end",
    "for me",
    "sadly",
    "surprisingly",
];
const TAILS: &[&str] = &[
    "",
    "from start to finish",
    "if you ask me",
    "at least in parts",
];

/// A tour run of one task: its recipe and a text to try in the Playground.
pub struct TaskRun {
    pub config: TrainConfig,
    pub try_text: &'static str,
}

/// Writes (once) the data and model of `task`'s tour run under `demo_root/tasks` (the model
/// from the offline demo's, written under `demo_root`) and returns its recipe; `None` for
/// single-label classification, which the offline demo shows.
pub fn task_run(demo_root: &Path, task: Task) -> std::io::Result<Option<TaskRun>> {
    let root = demo_root.join("tasks");
    let (name, labels, try_text, epochs): (&str, Vec<String>, &'static str, f64) = match task {
        Task::SingleLabelClassification => return Ok(None),
        Task::TokenClassification => (
            "review-aspects",
            ["B-ASPECT", "B-OPINION", "I-ASPECT", "I-OPINION", "O"]
                .map(String::from)
                .to_vec(),
            "honestly the soundtrack was superb and the camera work was so so",
            8.0,
        ),
        Task::MultiLabelClassification => (
            "review-topics",
            categories(),
            "the soundtrack was great and the acting was dull",
            // Sigmoids over five labels learn slower than one softmax.
            20.0,
        ),
        Task::Regression => (
            "review-ratings",
            vec!["LABEL_0".into()],
            "overall the plot was wonderful and the pacing was okay",
            8.0,
        ),
    };
    let dataset_dir = root.join(name);
    let model_dir = root.join(format!("tiny-bert-random-{}", task.name()));
    if !dataset_dir.join("data/validation.jsonl").is_file() {
        write_dataset(&dataset_dir, task)?;
    }
    if !model_dir.join("model.safetensors").is_file() {
        let demo = crate::demo::materialize(demo_root)?;
        write_model(&demo.model_dir, &model_dir, task, labels)?;
    }
    Ok(Some(TaskRun {
        config: TrainConfig {
            model: model_dir.display().to_string(),
            dataset: dataset_dir.display().to_string(),
            run_name: Some(format!("tour-{name}")),
            learning_rate: 2e-3,
            num_train_epochs: epochs,
            per_device_train_batch_size: 16,
            per_device_eval_batch_size: 32,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            logging_steps: 4,
            eval_strategy: IntervalStrategy::Epoch,
            save_strategy: SaveStrategy::Epoch,
            save_total_limit: Some(2),
            ..TrainConfig::default()
        },
        try_text,
    }))
}

/// The multi-label task's labels, sorted as the data's label set sorts them.
fn categories() -> Vec<String> {
    let mut names: Vec<String> = SUBJECTS.iter().map(|(_, c)| c.to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// One clause, "the plot was great", with its subject and opinion.
struct Clause {
    subject: (&'static str, &'static str),
    opinion: (&'static str, f64),
}

fn clauses(rng: &mut ChaCha8Rng) -> Vec<Clause> {
    let count = rng.random_range(1..=3);
    let mut picked: Vec<Clause> = Vec::new();
    while picked.len() < count {
        let subject = *SUBJECTS.choose(rng).unwrap_or(&SUBJECTS[0]);
        if picked.iter().any(|c| c.subject.0 == subject.0) {
            continue;
        }
        let opinion = *OPINIONS.choose(rng).unwrap_or(&OPINIONS[0]);
        picked.push(Clause { subject, opinion });
    }
    picked
}

/// One row of `task`'s data.
fn row(rng: &mut ChaCha8Rng, task: Task) -> serde_json::Value {
    let clauses = clauses(rng);
    let filler = FILLERS.choose(rng).copied().unwrap_or("");
    let tail = TAILS.choose(rng).copied().unwrap_or("");
    // Words with their tags: the subject is an ASPECT, the opinion an OPINION.
    let mut words: Vec<(&str, &str)> = filler.split_whitespace().map(|w| (w, "O")).collect();
    for (i, clause) in clauses.iter().enumerate() {
        if i > 0 {
            words.push(("and", "O"));
        }
        words.push(("the", "O"));
        for (k, word) in clause.subject.0.split_whitespace().enumerate() {
            words.push((word, if k == 0 { "B-ASPECT" } else { "I-ASPECT" }));
        }
        words.push(("was", "O"));
        for (k, word) in clause.opinion.0.split_whitespace().enumerate() {
            words.push((word, if k == 0 { "B-OPINION" } else { "I-OPINION" }));
        }
    }
    words.extend(tail.split_whitespace().map(|w| (w, "O")));
    let text = words.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" ");
    match task {
        Task::TokenClassification => json!({
            "tokens": words.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
            "ner_tags": words.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
        }),
        Task::MultiLabelClassification => {
            let mut labels: Vec<&str> = clauses.iter().map(|c| c.subject.1).collect();
            labels.sort_unstable();
            labels.dedup();
            json!({"text": text, "labels": labels})
        }
        _ => {
            let rating = clauses.iter().map(|c| c.opinion.1).sum::<f64>() / clauses.len() as f64;
            // An f64 is written with its decimal point (3.0), so the column reads as numbers.
            json!({"text": text, "label": (rating * 100.0).round() / 100.0})
        }
    }
}

fn write_dataset(dir: &Path, task: Task) -> std::io::Result<()> {
    let temp = partial(dir);
    std::fs::create_dir_all(temp.join("data"))?;
    for (split, rows, seed) in [("train", 640, 21u64), ("validation", 160, 22)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let lines: Vec<String> = (0..rows).map(|_| row(&mut rng, task).to_string()).collect();
        std::fs::write(
            temp.join(format!("data/{split}.jsonl")),
            lines.join("\n") + "\n",
        )?;
    }
    std::fs::write(
        temp.join("README.md"),
        format!(
            "# Synthetic reviews for {} (Wick's screenshot tour)\n\nGenerated from a fixed \
             seed in the offline demo's words. Not real data.\n",
            task.title()
        ),
    )?;
    replace(&temp, dir)
}

/// A copy of the demo's random model with a fresh head for `task` and `labels`.
fn write_model(demo: &Path, dir: &Path, task: Task, labels: Vec<String>) -> std::io::Result<()> {
    let temp = partial(dir);
    std::fs::create_dir_all(&temp)?;
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(demo.join(file), temp.join(file))?;
    }
    let mut config = ModelConfig::from_file(&demo.join("config.json")).map_err(io_error)?;
    config.task = task;
    let count = labels.len();
    config.id2label = labels;
    let device = crate::train::device_from_name("cpu").map_err(io_error)?;
    Classifier::from_config_random(config, count, 20_261_130, &device)
        .and_then(|model| model.save(&temp))
        .map_err(io_error)?;
    replace(&temp, dir)
}

fn partial(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "tour".into(), |n| n.to_string_lossy());
    dir.with_file_name(format!(".{name}.partial"))
}

/// Moves a finished temp folder into place (a crash leaves no half folder).
fn replace(temp: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(temp, dir)
}

fn io_error(err: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_gets_data_a_model_and_a_valid_recipe() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            task_run(dir.path(), Task::SingleLabelClassification)
                .unwrap()
                .is_none()
        );
        for task in [
            Task::TokenClassification,
            Task::MultiLabelClassification,
            Task::Regression,
        ] {
            let run = task_run(dir.path(), task).unwrap().expect("a tour run");
            run.config.validate().unwrap();
            let model = Path::new(&run.config.model);
            let saved: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap())
                    .unwrap();
            let labels = saved["id2label"].as_object().unwrap().len();
            let wanted = match task {
                Task::TokenClassification => 5,
                Task::MultiLabelClassification => categories().len(),
                _ => 1,
            };
            assert_eq!(labels, wanted, "{task:?}: {saved}");
            let data = Path::new(&run.config.dataset).join("data/train.jsonl");
            let first: serde_json::Value = serde_json::from_str(
                std::fs::read_to_string(&data)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap(),
            )
            .unwrap();
            match task {
                Task::TokenClassification => {
                    let tokens = first["tokens"].as_array().unwrap();
                    assert_eq!(tokens.len(), first["ner_tags"].as_array().unwrap().len());
                }
                Task::MultiLabelClassification => assert!(first["labels"].is_array()),
                _ => assert!(first["label"].is_f64(), "{first}"),
            }
        }
    }
}
