//! Monitor follows a run of each task in that task's terms: the eval charts are the task's
//! metrics (`Metrics::names_for`, headline first) and the latest evaluation's numbers are
//! shown under the progress, headline first.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::task::Task;
use wick::train::config::TrainConfig;
use wick::train::metrics::Metrics;

use crate::support;
use support::app::{cut_at_smallest_window, harness, has_label, wait_for};
use support::tiny::{
    tiny_encoder, tiny_multilabel_dataset, tiny_ner_dataset, tiny_regression_dataset,
};

fn config(scratch: &Path, data: &Path, run_name: &str) -> TrainConfig {
    let text = format!(
        r#"
model = "{model}"
dataset = "{data}"
run_name = "{run_name}"
learning_rate = 1e-3
num_train_epochs = 2
per_device_train_batch_size = 8
logging_steps = 2
eval_strategy = "epoch"
save_strategy = "no"
seed = 5
"#,
        model = tiny_encoder(scratch).display(),
        data = data.display(),
    );
    TrainConfig::from_toml_str(&text).expect("test config is valid")
}

/// The eval charts' titles, top to bottom.
fn chart_titles(harness: &Harness<'static, WickApp>) -> Vec<String> {
    harness
        .query_all_by_label_contains("eval_")
        .filter(|node| node.accesskit_node().role() == egui::accesskit::Role::Label)
        .filter_map(|node| node.accesskit_node().value())
        .filter(|text| text.starts_with("eval_") && !text.contains(' '))
        .collect()
}

#[test]
fn monitor_charts_and_reports_each_tasks_own_metrics() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = harness(
        data_dir.path(),
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    harness.state_mut().state.welcome_dismissed = true;
    harness.state_mut().state.tab = Tab::Monitor;
    harness.run_steps(3);
    let runs = [
        (Task::TokenClassification, tiny_ner_dataset(scratch.path())),
        (
            Task::MultiLabelClassification,
            tiny_multilabel_dataset(scratch.path()),
        ),
        (Task::Regression, tiny_regression_dataset(scratch.path())),
    ];
    for (task, data) in runs {
        let name = format!("{}-run", task.name());
        assert!(
            harness
                .state_mut()
                .start_training(config(scratch.path(), &data, &name))
        );
        wait_for(&mut harness, &format!("the {name} to finish"), |h| {
            let monitor = &h.state().state.monitor;
            monitor.live_run().is_some_and(|r| !r.evals.is_empty()) && !monitor.is_training()
        });
        harness.run_steps(3);

        // Every chart is one of the task's metrics, in the task's order: the headline first.
        let wanted: Vec<String> = Metrics::names_for(task)[1..]
            .iter()
            .map(|n| format!("eval_{n}"))
            .collect();
        let titles = chart_titles(&harness);
        let known: Vec<&String> = wanted.iter().filter(|w| titles.contains(w)).collect();
        assert_eq!(
            titles.iter().collect::<Vec<_>>(),
            known,
            "{task:?}: the eval charts are the task's metrics in order"
        );
        assert_eq!(
            titles.first(),
            Some(&format!("eval_{}", Metrics::headline(task))),
            "{task:?}: the headline metric's chart comes first"
        );
        for other in ["eval_accuracy", "eval_matthews_correlation"] {
            if !Metrics::is_known_for(task, other) {
                assert!(!has_label(&harness, other), "{task:?} charts {other}");
            }
        }

        // The latest evaluation's numbers, from the run's last EvalReport.
        let latest = harness
            .state()
            .state
            .monitor
            .live_run()
            .and_then(|r| r.evals.last().cloned())
            .unwrap();
        assert_eq!(latest.metrics.task, task);
        assert!(has_label(
            &harness,
            &format!("Latest eval (step {}):", latest.step)
        ));
        let headline = Metrics::headline(task);
        let value = latest.metrics.get(headline).expect("the headline metric");
        assert!(
            has_label(&harness, &format!("{headline} {value:.4}")),
            "{task:?}: latest {headline} {value:.4}"
        );
        let loss = latest.metrics.loss.expect("an eval loss");
        assert!(has_label(&harness, &format!("loss {loss:.4}")));

        // The latest evaluation per entity type or label, folded under its title; opened,
        // its rows come largest support first.
        match &latest.metrics.breakdown {
            None => assert_eq!(task, Task::Regression, "{task:?} has a breakdown"),
            Some(breakdown) => {
                let expected_title = match task {
                    Task::TokenClassification => "Per entity type",
                    _ => "Per label (threshold tuned on eval)",
                };
                assert_eq!(breakdown.kind.title(), expected_title);
                let title = format!(
                    "{expected_title} · {} {}s",
                    breakdown.rows.len(),
                    breakdown.kind.noun()
                );
                harness.get_by_label(&title).click();
                harness.run_steps(3);
                let top = breakdown.by_support()[0];
                let most = breakdown.rows.iter().map(|r| r.support).max().unwrap();
                assert_eq!(top.support, most);
                for text in [
                    top.name.clone(),
                    top.support.to_string(),
                    format!("{:.4}", top.f1),
                ] {
                    assert!(
                        has_label(&harness, &text),
                        "{task:?}: the table shows {text}"
                    );
                }
                if task == Task::MultiLabelClassification {
                    let threshold = top.threshold.expect("a tuned threshold");
                    assert!(has_label(&harness, "threshold"));
                    assert!(has_label(&harness, &format!("{threshold:.2}")));
                }
                let names: Vec<String> = breakdown.rows.iter().map(|r| r.name.clone()).collect();
                for name in &names {
                    assert!(has_label(&harness, name), "{task:?}: a row for {name}");
                }
            }
        }

        let cut = cut_at_smallest_window(&mut harness);
        harness.set_size(egui::vec2(1280.0, 820.0));
        harness.run_steps(3);
        assert!(
            cut.is_empty(),
            "{task:?} Monitor at 800x600 cuts:\n{}",
            cut.join("\n")
        );
    }
}
