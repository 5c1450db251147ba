//! The Data panel per task, driven like a user: the task the data reads as (with its
//! reason) beside the columns and a picker that overrides it, in step with the Train form;
//! the batch inspector's aligned token labels with the -100s marked; the balance view per
//! task (entities per type, rows per label, scores); and the class-weights offer when the
//! classes are skewed. Expected numbers are counted from the jsonl files the tests write.

use std::collections::BTreeMap;
use std::path::Path;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::recipe::ClassWeights;
use wick::task::Task;
use wick::train::TrainConfig;
use wick::train::preview::TaskBalance;

use crate::support;
use support::app::{harness, has_label, has_label_containing, wait_for};
use support::tiny::{
    tiny_model, tiny_multilabel_dataset, tiny_ner_dataset, tiny_regression_dataset,
    tiny_split_word_dataset,
};

/// The app on the Data panel with `dataset` and the tiny model's tokenizer in the recipe,
/// once the columns are read.
fn data_panel(data_dir: &Path, scratch: &Path, dataset: &Path) -> Harness<'static, WickApp> {
    let mut harness = harness(
        data_dir,
        HubSettings::with_home(&scratch.join("hf")).with_offline(true),
    );
    harness.state_mut().state.welcome_dismissed = true;
    harness.state_mut().state.recipe = TrainConfig {
        model: tiny_model(scratch).display().to_string(),
        dataset: dataset.display().to_string(),
        ..Default::default()
    };
    harness.state_mut().state.tab = Tab::Data;
    wait_for(&mut harness, "the columns", |h| {
        has_label(h, "Text column") && !h.state().is_busy()
    });
    harness
}

/// Scrolls to the widget (the balance view lies below the inspector) and clicks it.
fn click(harness: &mut Harness<'static, WickApp>, label: &str) {
    harness.get_by_label(label).scroll_to_me();
    harness.run_steps(6);
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

/// Tokenize, and wait for a report made for the recipe as it is now.
fn tokenize(harness: &mut Harness<'static, WickApp>) {
    let before = harness.state().state.data.report().map(|r| r.seconds);
    click(harness, "Tokenize");
    wait_for(harness, "the tokenized preview", |h| {
        !h.state().is_busy()
            && h.state().state.data.batch_view().is_some()
            && h.state().state.data.report().map(|r| r.seconds) != before
    });
}

/// The rows of a jsonl split the tests wrote.
fn rows(dataset: &Path, split: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dataset.join(format!("data/{split}.jsonl")))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

const NER_REASON: &str = "`ner_tags` holds a class per word of the word list `tokens`";

#[test]
fn the_task_guess_shows_with_its_reason_and_the_picker_overrides_it_in_step_with_train() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let dataset = tiny_ner_dataset(scratch.path());
    let mut harness = data_panel(data_dir.path(), scratch.path(), &dataset);
    let recipe = &harness.state().state.recipe;
    assert_eq!(recipe.text_column.as_deref(), Some("tokens"));
    assert_eq!(recipe.label_column.as_deref(), Some("ner_tags"));
    assert_eq!(recipe.task, None);
    let guess = format!(
        "The data reads as {}: {NER_REASON}",
        Task::TokenClassification.title()
    );
    assert!(has_label(&harness, &guess), "the guess with its reason");
    assert!(
        has_label(&harness, "Label every piece"),
        "token classification offers label_all_tokens"
    );

    // Override: the recipe's task, said beside the data's guess.
    click(&mut harness, "Task");
    click(&mut harness, Task::Regression.title());
    assert_eq!(harness.state().state.recipe.task, Some(Task::Regression));
    assert!(has_label_containing(
        &harness,
        &format!(
            "Set to regression; the data reads as {}: {NER_REASON}",
            Task::TokenClassification.title()
        )
    ));
    assert!(!has_label(&harness, "Label every piece"));

    // The Train form's `task` is the same setting: it shows the override, and its "auto"
    // puts the guess back in the Data panel.
    click(&mut harness, &Tab::Train.nav_label());
    click(&mut harness, "Task");
    let field = harness.get_by_label("task");
    assert_eq!(
        field.accesskit_node().value().as_deref(),
        Some("regression"),
        "the form shows the Data panel's choice"
    );
    field.click();
    harness.run_steps(2);
    click(&mut harness, "auto (from the data)");
    assert_eq!(harness.state().state.recipe.task, None);
    click(&mut harness, &Tab::Data.nav_label());
    assert!(has_label(&harness, &guess));
    harness.get_by_label("Task").click();
    harness.run_steps(2);
    click(&mut harness, Task::TokenClassification.title());
    assert_eq!(
        harness.state().state.recipe.task,
        Some(Task::TokenClassification)
    );
    assert!(has_label_containing(
        &harness,
        &format!(
            "Set to {} (the data agrees",
            Task::TokenClassification.title()
        )
    ));
    click(&mut harness, "Task");
    click(&mut harness, "auto (from the data)");
    assert_eq!(harness.state().state.recipe.task, None);

    // After Tokenize the preview names the task too.
    tokenize(&mut harness);
    let report = harness.state().state.data.report().unwrap();
    assert_eq!(report.task, Task::TokenClassification);
    assert_eq!(report.task_reason, NER_REASON);
    assert!(has_label_containing(&harness, &format!("({NER_REASON})")));
}

#[test]
fn the_inspector_shows_each_sub_tokens_label_and_marks_the_ignored_ones() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let dataset = tiny_split_word_dataset(scratch.path());
    let mut harness = data_panel(data_dir.path(), scratch.path(), &dataset);
    tokenize(&mut harness);

    let batch = harness.state().state.data.batch_view().unwrap().clone();
    let row = |n: usize| batch.rows.iter().find(|r| r.row == n).unwrap().clone();
    let first = row(0);
    let pieces = [
        "[CLS]", "great", "z", "##o", "##r", "##r", "##o", "was", "fun", "[SEP]",
    ];
    assert_eq!(first.pieces, pieces);
    // The course's alignment: a word's first piece gets its tag, the rest -100.
    let tag = |t: &str| Some(t.to_string());
    let expected = vec![
        None,
        tag("B-PER"),
        tag("I-PER"),
        None,
        None,
        None,
        None,
        tag("O"),
        tag("O"),
        None,
    ];
    assert_eq!(first.token_labels.as_ref().unwrap(), &expected);
    let second = row(1);
    assert_eq!(&second.pieces[..3], ["[CLS]", "awful", "[SEP]"]);
    let mut padded = vec![None, tag("B-LOC")];
    padded.resize(pieces.len(), None);
    assert_eq!(second.token_labels.as_ref().unwrap(), &padded);
    assert_eq!(first.ignored_because(1), None);
    assert!(first.ignored_because(0).unwrap().contains("special token"));
    assert!(first.ignored_because(3).unwrap().contains("later piece"));
    assert!(second.ignored_because(5).unwrap().contains("padding"));

    // On screen: a label row under the pieces, -100 wherever the loss skips a token.
    assert!(has_label(&harness, "label"));
    let marks = harness.query_all_by_label("-100").count();
    assert_eq!(
        marks,
        6 + 9,
        "row 0: CLS, 4 later pieces, SEP; row 1: CLS, SEP, 7 pads"
    );
    for tag in ["B-PER", "I-PER", "B-LOC"] {
        assert!(has_label(&harness, tag), "{tag}");
    }
    harness.query_all_by_label("-100").next().unwrap().hover();
    harness.run_steps(40);
    assert!(
        has_label_containing(&harness, "-100: not trained on"),
        "a -100 says why"
    );

    // label_all_tokens: every piece of "zorro" is trained on, inside the entity.
    click(&mut harness, "Label every piece");
    assert!(harness.state().state.recipe.label_all_tokens);
    assert!(has_label_containing(
        &harness,
        "Settings changed: Tokenize again"
    ));
    tokenize(&mut harness);
    let batch = harness.state().state.data.batch_view().unwrap().clone();
    let first = batch.rows.iter().find(|r| r.row == 0).unwrap();
    let labels = first.token_labels.as_ref().unwrap();
    assert_eq!(labels[2..7], vec![tag("I-PER"); 5][..]);
    assert_eq!((labels[0].clone(), labels[9].clone()), (None, None));
}

#[test]
fn token_classification_balance_counts_entities_per_type_and_offers_class_weights() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let dataset = tiny_ner_dataset(scratch.path());
    let mut harness = data_panel(data_dir.path(), scratch.path(), &dataset);
    tokenize(&mut harness);

    // Ground truth from the file: entities start at B- here (an I- only follows a B-), and
    // every word of the tiny vocabulary is one piece, so tags trained on = words tagged.
    let mut entities: BTreeMap<String, usize> = BTreeMap::new();
    let mut tags: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows_without = 0;
    for row in rows(&dataset, "train") {
        let row_tags = strings(&row["ner_tags"]);
        if !row_tags.iter().any(|t| t.starts_with("B-")) {
            rows_without += 1;
        }
        for tag in row_tags {
            if let Some(kind) = tag.strip_prefix("B-") {
                *entities.entry(kind.to_string()).or_default() += 1;
            }
            *tags.entry(tag).or_default() += 1;
        }
    }
    assert!(
        entities.len() == 2 && tags["O"] > 3 * tags["B-LOC"],
        "{tags:?}"
    );

    let report = harness.state().state.data.report().unwrap().clone();
    let TaskBalance::Entities {
        per_type,
        rows_without_entities,
    } = &report.balance.detail
    else {
        panic!("entities for token classification: {:?}", report.balance);
    };
    assert_eq!(
        per_type.iter().cloned().collect::<BTreeMap<_, _>>(),
        entities
    );
    assert_eq!(*rows_without_entities, rows_without);
    assert_eq!(
        report
            .balance
            .classes
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>(),
        tags
    );
    let total: usize = entities.values().sum();
    assert!(has_label(&harness, "Entities per type"));
    assert!(has_label_containing(
        &harness,
        &format!("{total} entities in 40 rows; {rows_without} rows have none")
    ));
    assert!(has_label(&harness, "Tags (tokens trained on)"));

    // O outnumbers the entity tags: the view says so and offers balanced weights.
    assert!(has_label_containing(
        &harness,
        "The classes are skewed: O has"
    ));
    click(
        &mut harness,
        "Weight the classes (class_weights = balanced)",
    );
    assert_eq!(
        harness.state().state.recipe.class_weights,
        ClassWeights::Balanced
    );
    assert!(has_label_containing(&harness, "class_weights = balanced: "));
    // The Train form's field is the same key.
    click(&mut harness, &Tab::Train.nav_label());
    click(&mut harness, "Task");
    assert_eq!(
        harness
            .get_by_label("class_weights")
            .accesskit_node()
            .value()
            .as_deref(),
        Some("balanced")
    );
    click(&mut harness, &Tab::Data.nav_label());
    click(&mut harness, "Unweighted");
    assert_eq!(
        harness.state().state.recipe.class_weights,
        ClassWeights::None
    );
    assert!(has_label(
        &harness,
        "Weight the classes (class_weights = balanced)"
    ));
}

/// A single-label csv with `pos` rows for every `neg` row in `skew`.
fn skewed_csv(dir: &Path, pos: usize, neg: usize) -> std::path::PathBuf {
    let data = dir.join(format!("skewed-{pos}-{neg}"));
    std::fs::create_dir_all(data.join("data")).unwrap();
    let mut csv = String::from("text,label\n");
    for i in 0..pos + neg {
        let (word, label) = if i < pos {
            ("great", "pos")
        } else {
            ("awful", "neg")
        };
        csv.push_str(&format!("the film was {word},{label}\n"));
    }
    std::fs::write(data.join("data/train.csv"), csv).unwrap();
    data
}

#[test]
fn single_label_classes_are_offered_weights_only_when_skewed() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let even = skewed_csv(scratch.path(), 21, 7);
    let mut harness = data_panel(data_dir.path(), scratch.path(), &even);
    tokenize(&mut harness);
    assert!(has_label(&harness, "Class balance"));
    assert!(
        !has_label(&harness, "Weight the classes (class_weights = balanced)"),
        "3:1 is not skewed enough"
    );

    let skewed = skewed_csv(scratch.path(), 36, 4);
    harness.state_mut().state.recipe.dataset = skewed.display().to_string();
    wait_for(&mut harness, "the new columns", |h| {
        has_label(h, "Text column") && !h.state().is_busy()
    });
    tokenize(&mut harness);
    assert!(has_label_containing(
        &harness,
        "The classes are skewed: pos has 36 rows, 9.0 times neg's 4"
    ));
    click(
        &mut harness,
        "Weight the classes (class_weights = balanced)",
    );
    assert_eq!(
        harness.state().state.recipe.class_weights,
        ClassWeights::Balanced
    );
    // sklearn's balanced weights: 40 / (2 * [4, 36]) for [neg, pos].
    assert!(has_label_containing(
        &harness,
        "class_weights = balanced: neg 5.00 · pos 0.56"
    ));
    click(&mut harness, "Unweighted");
    assert_eq!(
        harness.state().state.recipe.class_weights,
        ClassWeights::None
    );
}

#[test]
fn multi_label_and_regression_balance_show_label_sets_and_scores() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let tags = tiny_multilabel_dataset(scratch.path());
    let mut harness = data_panel(data_dir.path(), scratch.path(), &tags);
    assert!(has_label_containing(
        &harness,
        "The data reads as multi-label classification: `labels` holds a list of classes per row"
    ));
    tokenize(&mut harness);
    let mut per_label: BTreeMap<String, usize> = BTreeMap::new();
    let mut without = 0;
    for row in rows(&tags, "train") {
        let labels = strings(&row["labels"]);
        without += usize::from(labels.is_empty());
        for label in labels {
            *per_label.entry(label).or_default() += 1;
        }
    }
    let report = harness.state().state.data.report().unwrap().clone();
    assert_eq!(
        report
            .balance
            .classes
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>(),
        per_label
    );
    let TaskBalance::LabelSets {
        rows_without_labels,
        ..
    } = report.balance.detail
    else {
        panic!("label sets: {:?}", report.balance);
    };
    assert_eq!(rows_without_labels, without);
    assert!(has_label(&harness, "Rows per label"));
    assert!(has_label(&harness, "(no label)"));
    assert!(has_label_containing(
        &harness,
        &format!("{without} rows ({:.1}%)", without as f64 * 100.0 / 40.0)
    ));
    // A row of the batch says its label set.
    assert!(
        has_label_containing(&harness, " · labels ")
            || has_label_containing(&harness, " · no labels")
    );
    // Weights set by hand for a task whose loss takes none: said, and undone.
    harness.state_mut().state.recipe.class_weights = ClassWeights::Balanced;
    harness.run_steps(2);
    assert!(has_label_containing(
        &harness,
        "class_weights apply to single-label and token classification"
    ));
    click(&mut harness, "Unweighted");
    assert_eq!(
        harness.state().state.recipe.class_weights,
        ClassWeights::None
    );

    let scores = tiny_regression_dataset(scratch.path());
    harness.state_mut().state.recipe.dataset = scores.display().to_string();
    wait_for(&mut harness, "the new columns", |h| {
        has_label(h, "Text column") && !h.state().is_busy()
    });
    tokenize(&mut harness);
    let labels: Vec<f64> = rows(&scores, "train")
        .iter()
        .map(|r| r["label"].as_f64().unwrap())
        .collect();
    let (min, max) = labels
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let mean = labels.iter().sum::<f64>() / labels.len() as f64;
    let report = harness.state().state.data.report().unwrap().clone();
    assert_eq!(report.task, Task::Regression);
    let TaskBalance::Scores(summary) = &report.balance.detail else {
        panic!("scores: {:?}", report.balance);
    };
    assert_eq!((summary.min, summary.max), (min, max));
    assert!((summary.mean - mean).abs() < 1e-6);
    assert_eq!(summary.histogram.iter().map(|b| b.rows).sum::<usize>(), 40);
    assert!(has_label_containing(
        &harness,
        &format!("min {min:.3} · mean {mean:.3} · max {max:.3} over 40 rows")
    ));
    assert!(has_label_containing(&harness, " · score "));
    assert!(!has_label(
        &harness,
        "Weight the classes (class_weights = balanced)"
    ));
}
