//! The scores against the Python libraries they follow (seqeval, scikit-learn, scipy),
//! through `scripts/scores_reference.py`:
//! - `committed_reference_matches`: the script's seeded cases and answers, committed as
//!   `tests/fixtures/scores/reference.json`, so the check runs without Python;
//! - `seeded_cases_match_python_now`: cases generated here, answered by the script now
//!   (`$WICK_PYTHON`, else `python3`); `SKIPPED: ...` when Python or a package is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::*;

/// Absolute difference allowed, relative above 1 (MSE can exceed 1).
const TOLERANCE: f64 = 1e-9;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cases {
    entities: Vec<EntityCase>,
    multilabel: Vec<MultiLabelCase>,
    regression: Vec<RegressionCase>,
    classes: Vec<ClassCase>,
}

/// Precision, recall, F1, support.
type Scores = (f64, f64, f64, usize);
/// seqeval's `get_entities`: type, first token, last token (inclusive).
type Span = (String, usize, usize);

#[derive(Debug, Serialize, Deserialize)]
struct EntityCase {
    gold: Vec<Vec<String>>,
    predicted: Vec<Vec<String>>,
    scheme: TagScheme,
    strict: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected: Option<EntityExpected>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EntityExpected {
    precision: f64,
    recall: f64,
    f1: f64,
    token_accuracy: f64,
    per_type: BTreeMap<String, Scores>,
    gold_spans: Vec<Vec<Span>>,
    predicted_spans: Vec<Vec<Span>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MultiLabelCase {
    /// Exact f32 values, written as f64 so no decimal rounding stands between the sides.
    probabilities: Vec<Vec<f64>>,
    targets: Vec<Vec<bool>>,
    thresholds: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected: Option<MultiLabelExpected>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MultiLabelExpected {
    micro_f1: f64,
    macro_f1: f64,
    micro_precision: f64,
    micro_recall: f64,
    subset_accuracy: f64,
    hamming_loss: f64,
    per_label: Vec<Scores>,
    tuned: Vec<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RegressionCase {
    predictions: Vec<f64>,
    targets: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected: Option<RegressionExpected>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RegressionExpected {
    pearson: Option<f64>,
    spearman: Option<f64>,
    mse: f64,
    rmse: f64,
    mae: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClassCase {
    predictions: Vec<u32>,
    labels: Vec<u32>,
    num_labels: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected: Option<ClassExpected>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClassExpected {
    per_class: Vec<Scores>,
    macro_f1: f64,
    weights: Vec<f64>,
}

/// The worst difference per group of numbers, and every mismatch in words.
#[derive(Default)]
struct Comparison {
    worst: BTreeMap<String, f64>,
    failures: Vec<String>,
    cases: usize,
}

impl Comparison {
    fn number(&mut self, group: &str, case: &str, got: f64, expected: f64) {
        let diff = (got - expected).abs() / expected.abs().max(1.0);
        let worst = self.worst.entry(group.to_string()).or_insert(0.0);
        *worst = worst.max(diff);
        if diff > TOLERANCE || diff.is_nan() {
            self.failures
                .push(format!("{case} {group}: wick {got}, python {expected}"));
        }
    }

    fn scores(&mut self, group: &str, case: &str, got: Scores, expected: Scores) {
        self.number(&format!("{group} precision"), case, got.0, expected.0);
        self.number(&format!("{group} recall"), case, got.1, expected.1);
        self.number(&format!("{group} f1"), case, got.2, expected.2);
        self.same(&format!("{group} support"), case, got.3, expected.3);
    }

    fn same<T: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        case: &str,
        got: T,
        expected: T,
    ) {
        if got != expected {
            self.failures
                .push(format!("{case} {what}: wick {got:?}, python {expected:?}"));
        }
    }

    fn fail(&mut self, case: &str, what: impl std::fmt::Display) {
        self.failures.push(format!("{case}: {what}"));
    }

    fn check(&mut self, cases: &Cases) {
        for (i, case) in cases.entities.iter().enumerate() {
            self.entities(&format!("entities[{i}]"), case);
        }
        for (i, case) in cases.multilabel.iter().enumerate() {
            self.multilabel(&format!("multilabel[{i}]"), case);
        }
        for (i, case) in cases.regression.iter().enumerate() {
            self.regression(&format!("regression[{i}]"), case);
        }
        for (i, case) in cases.classes.iter().enumerate() {
            self.classes(&format!("classes[{i}]"), case);
        }
    }

    fn entities(&mut self, name: &str, case: &EntityCase) {
        self.cases += 1;
        let expected = case
            .expected
            .as_ref()
            .expect("the script answers every case");
        let report = match entity_scores_with(&case.gold, &case.predicted, case.scheme, case.strict)
        {
            Ok(report) => report,
            Err(e) => return self.fail(name, e),
        };
        let group = if case.strict { "strict" } else { "lenient" };
        self.number(
            &format!("entities {group} precision"),
            name,
            report.precision,
            expected.precision,
        );
        self.number(
            &format!("entities {group} recall"),
            name,
            report.recall,
            expected.recall,
        );
        self.number(
            &format!("entities {group} f1"),
            name,
            report.f1,
            expected.f1,
        );
        self.number(
            "entities token_accuracy",
            name,
            report.token_accuracy,
            expected.token_accuracy,
        );
        let kinds: Vec<&String> = report.per_type.keys().collect();
        self.same(
            "entity types",
            name,
            kinds,
            expected.per_type.keys().collect(),
        );
        for (kind, t) in &report.per_type {
            if let Some(&e) = expected.per_type.get(kind) {
                let got = (t.precision, t.recall, t.f1, t.support);
                self.scores(&format!("entities {group} per type"), name, got, e);
            }
        }
        for (rows, spans, of) in [
            (&case.gold, &expected.gold_spans, "gold"),
            (&case.predicted, &expected.predicted_spans, "predicted"),
        ] {
            for (row, (tags, expected)) in rows.iter().zip(spans).enumerate() {
                let got: Vec<Span> = entity_spans(tags, case.scheme)
                    .into_iter()
                    .map(|e| (e.kind, e.start, e.end - 1))
                    .collect();
                self.same(&format!("{of} spans of row {row}"), name, &got, expected);
            }
        }
    }

    fn multilabel(&mut self, name: &str, case: &MultiLabelCase) {
        self.cases += 1;
        let expected = case
            .expected
            .as_ref()
            .expect("the script answers every case");
        let probabilities: Vec<Vec<f32>> = case
            .probabilities
            .iter()
            .map(|row| row.iter().map(|&p| p as f32).collect())
            .collect();
        let thresholds: Vec<f32> = case.thresholds.iter().map(|&t| t as f32).collect();
        let names: Vec<String> = (0..thresholds.len()).map(|i| format!("l{i}")).collect();
        let report = match multilabel_scores(&probabilities, &case.targets, &thresholds, &names) {
            Ok(report) => report,
            Err(e) => return self.fail(name, e),
        };
        for (group, got, e) in [
            ("multilabel micro_f1", report.micro_f1, expected.micro_f1),
            ("multilabel macro_f1", report.macro_f1, expected.macro_f1),
            (
                "multilabel micro_precision",
                report.micro_precision,
                expected.micro_precision,
            ),
            (
                "multilabel micro_recall",
                report.micro_recall,
                expected.micro_recall,
            ),
            (
                "multilabel subset_accuracy",
                report.subset_accuracy,
                expected.subset_accuracy,
            ),
            (
                "multilabel hamming_loss",
                report.hamming_loss,
                expected.hamming_loss,
            ),
        ] {
            self.number(group, name, got, e);
        }
        self.same(
            "label count",
            name,
            report.per_label.len(),
            expected.per_label.len(),
        );
        for (l, &e) in report.per_label.iter().zip(&expected.per_label) {
            self.scores(
                "multilabel per label",
                name,
                (l.precision, l.recall, l.f1, l.support),
                e,
            );
        }
        match tune_thresholds(&probabilities, &case.targets) {
            Ok(tuned) => {
                let expected: Vec<f32> = expected.tuned.iter().map(|&t| t as f32).collect();
                self.same("tuned thresholds", name, tuned, expected);
            }
            Err(e) => self.fail(name, e),
        }
    }

    fn regression(&mut self, name: &str, case: &RegressionCase) {
        self.cases += 1;
        let expected = case
            .expected
            .as_ref()
            .expect("the script answers every case");
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let report = match regression_scores(&narrow(&case.predictions), &narrow(&case.targets)) {
            Ok(report) => report,
            Err(e) => return self.fail(name, e),
        };
        for (group, got, e) in [
            ("regression pearson", report.pearson, expected.pearson),
            ("regression spearman", report.spearman, expected.spearman),
        ] {
            match (got, e) {
                (Some(g), Some(e)) => self.number(group, name, g, e),
                (g, e) => self.same(group, name, g, e),
            }
        }
        self.number("regression mse", name, report.mse, expected.mse);
        self.number("regression rmse", name, report.rmse, expected.rmse);
        self.number("regression mae", name, report.mae, expected.mae);
    }

    fn classes(&mut self, name: &str, case: &ClassCase) {
        self.cases += 1;
        let expected = case
            .expected
            .as_ref()
            .expect("the script answers every case");
        let names: Vec<String> = (0..case.num_labels).map(|i| format!("c{i}")).collect();
        let classes = match per_class(&case.predictions, &case.labels, &names) {
            Ok(classes) => classes,
            Err(e) => return self.fail(name, e),
        };
        self.same("class count", name, classes.len(), expected.per_class.len());
        for (c, &e) in classes.iter().zip(&expected.per_class) {
            self.scores(
                "classes per class",
                name,
                (c.precision, c.recall, c.f1, c.support),
                e,
            );
        }
        self.number(
            "classes macro_f1",
            name,
            macro_f1(&classes),
            expected.macro_f1,
        );
        let mut counts = vec![0; case.num_labels];
        for &l in &case.labels {
            counts[l as usize] += 1;
        }
        let weights = balanced_class_weights(&counts);
        let expected: Vec<f32> = expected.weights.iter().map(|&w| w as f32).collect();
        // Both are sklearn's f64 weight rounded once to f32.
        self.same("balanced class weights", name, weights, expected);
    }

    fn assert_clean(&self, source: &str) {
        println!(
            "{source}: {} cases; worst relative difference per group:",
            self.cases
        );
        for (group, worst) in &self.worst {
            println!("  {group:40} {worst:.1e}");
        }
        assert!(
            self.failures.is_empty(),
            "{} mismatches against {source}:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[test]
fn committed_reference_matches() {
    let path = repo_path("tests/fixtures/scores/reference.json");
    let text =
        std::fs::read_to_string(&path).expect("tests/fixtures/scores/reference.json is committed");
    let cases: Cases = serde_json::from_str(&text).expect("the reference parses");
    let mut comparison = Comparison::default();
    comparison.check(&cases);
    assert!(comparison.cases >= 100, "only {} cases", comparison.cases);
    comparison.assert_clean("tests/fixtures/scores/reference.json");
}

#[test]
fn seeded_cases_match_python_now() {
    let python = std::env::var("WICK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = repo_path("scripts/scores_reference.py");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (input, output) = (
        dir.path().join("cases.json"),
        dir.path().join("answers.json"),
    );
    let cases = seeded_cases(&mut ChaCha8Rng::seed_from_u64(12));
    std::fs::write(
        &input,
        serde_json::to_string(&cases).expect("cases serialize"),
    )
    .expect("write the cases");
    let run = Command::new(&python)
        .arg(&script)
        .args(["evaluate".as_ref(), input.as_os_str(), output.as_os_str()])
        .output();
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            println!(
                "SKIPPED: cannot run `{python}` ({e}); set WICK_PYTHON to a Python with seqeval, scikit-learn and scipy"
            );
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&run.stderr);
    if run.status.code() == Some(3) {
        println!(
            "SKIPPED: {} in `{python}`; install with: {python} -m pip install seqeval scikit-learn scipy",
            stderr.trim()
        );
        return;
    }
    assert!(
        run.status.success(),
        "{} failed: {stderr}",
        script.display()
    );
    let answered: Cases = serde_json::from_str(&std::fs::read_to_string(&output).expect("answers"))
        .expect("the answers parse");
    let mut comparison = Comparison::default();
    comparison.check(&answered);
    assert_eq!(comparison.cases, 400);
    comparison.assert_clean(&format!("{python} {}", script.display()));
}

// ---- seeded cases, drawn here so that they differ from the committed ones ----

const TYPES: [&str; 4] = ["PER", "LOC", "ORG", "MISC"];
/// Tags lenient mode must read as seqeval does, however odd.
const ODD_TAGS: [&str; 10] = [
    "B", "I", "E-", "X-PER", ".-LOC", "S", "I-B-PER", "MISC", "O-PER", "X",
];

fn seeded_cases(rng: &mut ChaCha8Rng) -> Cases {
    Cases {
        entities: (0..160).map(|_| entity_case(rng)).collect(),
        multilabel: (0..80).map(|_| multilabel_case(rng)).collect(),
        regression: (0..80).map(|_| regression_case(rng)).collect(),
        classes: (0..80).map(|_| class_case(rng)).collect(),
    }
}

fn prefixes(scheme: TagScheme) -> &'static [&'static str] {
    match scheme {
        TagScheme::Iob1 | TagScheme::Iob2 => &["B", "I"],
        TagScheme::Iobes => &["B", "I", "E", "S"],
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn random_tag(rng: &mut ChaCha8Rng, scheme: TagScheme, odd: bool) -> String {
    if odd && rng.random_bool(0.1) {
        return pick(rng, &ODD_TAGS).to_string();
    }
    if rng.random_bool(0.4) {
        return "O".into();
    }
    format!("{}-{}", pick(rng, prefixes(scheme)), pick(rng, &TYPES))
}

fn well_formed_row(rng: &mut ChaCha8Rng, scheme: TagScheme, length: usize) -> Vec<String> {
    let mut row: Vec<String> = Vec::new();
    let mut last_kind = None;
    while row.len() < length {
        if rng.random_bool(0.35) {
            let kind = *pick(rng, &TYPES);
            let size = rng.random_range(1..4).min(length - row.len());
            let mut tags = vec!["I"; size];
            match scheme {
                TagScheme::Iob2 => tags[0] = "B",
                TagScheme::Iobes if size == 1 => tags[0] = "S",
                TagScheme::Iobes => (tags[0], tags[size - 1]) = ("B", "E"),
                TagScheme::Iob1 if last_kind == Some(kind) => tags[0] = "B",
                TagScheme::Iob1 => {}
            }
            row.extend(tags.iter().map(|t| format!("{t}-{kind}")));
            last_kind = Some(kind);
        } else {
            row.push("O".into());
            last_kind = None;
        }
    }
    row
}

fn entity_case(rng: &mut ChaCha8Rng) -> EntityCase {
    let scheme = *pick(rng, &[TagScheme::Iob1, TagScheme::Iob2, TagScheme::Iobes]);
    let strict = rng.random_bool(0.4);
    let messy = rng.random_bool(0.3);
    let rows = rng.random_range(1..7);
    let (mut gold, mut predicted) = (Vec::new(), Vec::new());
    for row in 0..rows {
        let length = rng.random_range(usize::from(row == 0)..13);
        let tags: Vec<String> = if messy {
            (0..length)
                .map(|_| random_tag(rng, scheme, !strict))
                .collect()
        } else {
            well_formed_row(rng, scheme, length)
        };
        let noise = rng.random_range(0.0..0.4);
        predicted.push(
            tags.iter()
                .map(|t| {
                    if rng.random_bool(noise) {
                        random_tag(rng, scheme, !strict)
                    } else {
                        t.clone()
                    }
                })
                .collect(),
        );
        gold.push(tags);
    }
    EntityCase {
        gold,
        predicted,
        scheme,
        strict,
        expected: None,
    }
}

fn multilabel_case(rng: &mut ChaCha8Rng) -> MultiLabelCase {
    let rows = rng.random_range(1..41);
    let labels = rng.random_range(1..9);
    let rates: Vec<f64> = (0..labels)
        .map(|_| *pick(rng, &[0.0, 0.1, 0.3, 0.6]))
        .collect();
    let signal: f32 = rng.random();
    let on_grid = rng.random_bool(0.5);
    let mut probabilities = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..rows {
        let row_targets: Vec<bool> = rates.iter().map(|&r| rng.random_bool(r)).collect();
        let row: Vec<f64> = row_targets
            .iter()
            .map(|&t| {
                let p = (signal * f32::from(u8::from(t)) + (1.0 - signal) * rng.random::<f32>())
                    .clamp(0.0, 1.0);
                // On the grid half the time, to test `>=` at the threshold itself.
                let p = if on_grid {
                    (p * 20.0).round() / 20.0
                } else {
                    p
                };
                f64::from(p)
            })
            .collect();
        probabilities.push(row);
        targets.push(row_targets);
    }
    let thresholds = match rng.random_range(0..3) {
        0 => vec![0.5; labels],
        1 => (0..labels)
            .map(|_| f64::from(rng.random_range(1..20u8) as f32 / 20.0))
            .collect(),
        _ => (0..labels)
            .map(|_| f64::from(rng.random::<f32>()))
            .collect(),
    };
    MultiLabelCase {
        probabilities,
        targets,
        thresholds,
        expected: None,
    }
}

fn regression_case(rng: &mut ChaCha8Rng) -> RegressionCase {
    let n = rng.random_range(2..51);
    let round_targets = rng.random_bool(0.4);
    let mut targets: Vec<f32> = (0..n)
        .map(|_| {
            let t = rng.random::<f32>() * 5.0;
            if round_targets {
                (t * 10.0).round() / 10.0
            } else {
                t
            }
        })
        .collect();
    let spread = rng.random::<f32>() * 2.0;
    let round_predictions = rng.random_bool(0.3);
    let mut predictions: Vec<f32> = targets
        .iter()
        .map(|&t| {
            let p = t + spread * (rng.random::<f32>() - 0.5);
            if round_predictions { p.round() } else { p }
        })
        .collect();
    if rng.random_bool(0.05) {
        predictions = vec![2.5; n];
    }
    if rng.random_bool(0.05) {
        targets = vec![1.0; n];
    }
    let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
    RegressionCase {
        predictions: widen(predictions),
        targets: widen(targets),
        expected: None,
    }
}

fn class_case(rng: &mut ChaCha8Rng) -> ClassCase {
    let n = rng.random_range(1..61);
    let k = rng.random_range(2..7u32);
    // Skewed class frequencies: cumulative weights w^3.
    let weights: Vec<f64> = (0..k).map(|_| rng.random::<f64>().powi(3) + 1e-3).collect();
    let total: f64 = weights.iter().sum();
    let mut labels = Vec::with_capacity(n);
    let mut predictions = Vec::with_capacity(n);
    for _ in 0..n {
        let mut draw = rng.random::<f64>() * total;
        let mut label = k - 1;
        for (class, w) in weights.iter().enumerate() {
            if draw < *w {
                label = class as u32;
                break;
            }
            draw -= w;
        }
        labels.push(label);
        predictions.push(if rng.random_bool(0.6) {
            label
        } else {
            rng.random_range(0..k)
        });
    }
    ClassCase {
        predictions,
        labels,
        num_labels: k as usize,
        expected: None,
    }
}
