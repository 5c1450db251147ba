//! Comparing runs: the config keys that differ, the validation examples whose prediction
//! flipped, the confusion-matrix delta, curves from `metrics.jsonl` records, and the CSV
//! export of several runs' metrics. Pure functions; the Runs panel calls them.

use super::metrics_log::LogRecord;
use crate::recipe::{KEYS, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// Keys left out of the config diff: they differ between any two runs (the run's folder
/// and name) and say nothing about how the runs trained.
pub const NOISE_KEYS: &[&str] = &["output_dir", "run_name"];

/// One key whose value differs between the compared configs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDiff {
    pub key: &'static str,
    /// One value per compared config, as TOML text; `None` when unset.
    pub values: Vec<Option<String>>,
}

/// The keys (in [`KEYS`] order, without [`NOISE_KEYS`]) whose values differ between `a`
/// and `b`.
pub fn config_diff(a: &TrainConfig, b: &TrainConfig) -> Vec<KeyDiff> {
    config_diff_many(&[a, b])
}

/// [`config_diff`] for any number of configs: keys where not all values are equal.
pub fn config_diff_many(configs: &[&TrainConfig]) -> Vec<KeyDiff> {
    let tables: Vec<toml::Table> = configs
        .iter()
        .map(|c| toml::Table::try_from(c).unwrap_or_default())
        .collect();
    KEYS.iter()
        .filter(|info| !NOISE_KEYS.contains(&info.name))
        .filter_map(|info| {
            let values: Vec<Option<&toml::Value>> =
                tables.iter().map(|t| t.get(info.name)).collect();
            let first = values.first()?;
            if values.iter().all(|v| v == first) {
                return None;
            }
            Some(KeyDiff {
                key: info.name,
                values: values
                    .into_iter()
                    .map(|v| v.map(|v| v.to_string()))
                    .collect(),
            })
        })
        .collect()
}

pub use super::predictions::{PREDICTIONS_FILE, PredictionRow, Predictions, read_predictions};

/// Why two runs' predictions cannot be compared example by example.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("the runs predicted different splits ({a} and {b})")]
    Split { a: String, b: String },
    #[error("the runs have different label names ({a:?} and {b:?})")]
    LabelNames { a: Vec<String>, b: Vec<String> },
    #[error("the runs predicted a different number of rows ({a} and {b})")]
    RowCount { a: usize, b: usize },
    #[error(
        "row {index} differs between the runs (row id {a_row} with label {a_label} and row id {b_row} with label {b_label}): they did not use the same validation data"
    )]
    Row {
        index: usize,
        a_row: u64,
        a_label: usize,
        b_row: u64,
        b_label: usize,
    },
    #[error("row {row}: label or prediction {value} is not one of the {classes} classes")]
    ClassOutOfRange {
        row: u64,
        value: usize,
        classes: usize,
    },
}

/// A validation example whose prediction differs between run A and run B.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    pub row: u64,
    pub text: String,
    pub text_pair: Option<String>,
    pub label: usize,
    pub prediction_a: usize,
    pub prediction_b: usize,
}

impl Flip {
    pub fn a_is_right(&self) -> bool {
        self.prediction_a == self.label
    }

    pub fn b_is_right(&self) -> bool {
        self.prediction_b == self.label
    }
}

/// Every flipped example, and how many B fixed and broke.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flips {
    pub rows: Vec<Flip>,
    /// A was wrong, B is right.
    pub fixed: usize,
    /// A was right, B is wrong.
    pub broken: usize,
    /// Both wrong, with different wrong answers.
    pub both_wrong: usize,
    /// Rows compared.
    pub total: usize,
}

/// Checks that `a` and `b` predicted the same examples with the same labels.
fn check_comparable(a: &Predictions, b: &Predictions) -> Result<(), CompareError> {
    if a.split != b.split {
        return Err(CompareError::Split {
            a: a.split.clone(),
            b: b.split.clone(),
        });
    }
    if a.label_names != b.label_names {
        return Err(CompareError::LabelNames {
            a: a.label_names.clone(),
            b: b.label_names.clone(),
        });
    }
    if a.rows.len() != b.rows.len() {
        return Err(CompareError::RowCount {
            a: a.rows.len(),
            b: b.rows.len(),
        });
    }
    let classes = a.label_names.len();
    for (index, (ra, rb)) in a.rows.iter().zip(&b.rows).enumerate() {
        if ra.row != rb.row || ra.label != rb.label {
            return Err(CompareError::Row {
                index,
                a_row: ra.row as u64,
                a_label: ra.label as usize,
                b_row: rb.row as u64,
                b_label: rb.label as usize,
            });
        }
        for r in [ra, rb] {
            if let Some(&value) = [r.label as usize, r.prediction as usize]
                .iter()
                .find(|&&v| v >= classes)
            {
                return Err(CompareError::ClassOutOfRange {
                    row: r.row as u64,
                    value,
                    classes,
                });
            }
        }
    }
    Ok(())
}

/// The examples whose prediction differs between `a` and `b`, in row order.
pub fn prediction_flips(a: &Predictions, b: &Predictions) -> Result<Flips, CompareError> {
    check_comparable(a, b)?;
    let mut flips = Flips {
        total: a.rows.len(),
        ..Flips::default()
    };
    for (ra, rb) in a.rows.iter().zip(&b.rows) {
        if ra.prediction == rb.prediction {
            continue;
        }
        let flip = Flip {
            row: ra.row as u64,
            text: ra.text.clone(),
            text_pair: ra.text_pair.clone(),
            label: ra.label as usize,
            prediction_a: ra.prediction as usize,
            prediction_b: rb.prediction as usize,
        };
        match (flip.a_is_right(), flip.b_is_right()) {
            (false, true) => flips.fixed += 1,
            (true, false) => flips.broken += 1,
            _ => flips.both_wrong += 1,
        }
        flips.rows.push(flip);
    }
    Ok(flips)
}

/// The confusion matrix of one run: `[gold][predicted]` counts.
pub fn confusion(p: &Predictions) -> Vec<Vec<u64>> {
    let n = p.label_names.len();
    let mut matrix = vec![vec![0u64; n]; n];
    for r in &p.rows {
        let (label, prediction) = (r.label as usize, r.prediction as usize);
        if label < n && prediction < n {
            matrix[label][prediction] += 1;
        }
    }
    matrix
}

/// B's confusion matrix minus A's, `[gold][predicted]`: positive on the diagonal means B
/// gets more of that class right.
pub fn confusion_delta(a: &Predictions, b: &Predictions) -> Result<Vec<Vec<i64>>, CompareError> {
    check_comparable(a, b)?;
    let (ca, cb) = (confusion(a), confusion(b));
    Ok(ca
        .iter()
        .zip(&cb)
        .map(|(ra, rb)| {
            ra.iter()
                .zip(rb)
                .map(|(&x, &y)| y as i64 - x as i64)
                .collect()
        })
        .collect())
}

/// What a curve's x axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum XAxis {
    #[default]
    Step,
    Epoch,
    /// `elapsed_s`: seconds since the run started (absent in older logs).
    WallTime,
}

impl XAxis {
    pub fn key(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::WallTime => "elapsed_s",
        }
    }
}

/// The `(x, y)` points of `y_key` in `records`, in log order, skipping records without
/// either value (a NaN loss is skipped too: it cannot be drawn).
pub fn curve(records: &[LogRecord], y_key: &str, x: XAxis) -> Vec<[f64; 2]> {
    records
        .iter()
        .filter_map(|r| {
            let x = r.get(x.key())?.as_f64()?;
            let y = r.get(y_key)?.as_f64()?;
            (x.is_finite() && y.is_finite()).then_some([x, y])
        })
        .collect()
}

/// Whether any record has `elapsed_s` (wall-time x axis available).
pub fn has_elapsed(records: &[LogRecord]) -> bool {
    records
        .iter()
        .any(|r| r.get("elapsed_s").is_some_and(Value::is_number))
}

/// The series a run's log can be drawn as: `loss`, `eval_loss`, each `eval_*` metric,
/// `learning_rate`, `grad_norm` (those present, in that order).
pub fn curve_keys(records: &[LogRecord]) -> Vec<String> {
    const NOT_METRICS: &[&str] = &[
        "eval_loss",
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
    ];
    let present: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| {
            r.iter()
                .filter(|(_, v)| v.is_number())
                .map(|(k, _)| k.as_str())
        })
        .collect();
    let mut keys: Vec<String> = ["loss", "eval_loss"]
        .into_iter()
        .filter(|k| present.contains(k))
        .map(String::from)
        .collect();
    keys.extend(
        present
            .iter()
            .filter(|k| k.starts_with("eval_") && !NOT_METRICS.contains(k))
            .map(|k| k.to_string()),
    );
    keys.extend(
        ["learning_rate", "grad_norm"]
            .into_iter()
            .filter(|k| present.contains(k))
            .map(String::from),
    );
    keys
}

/// Several runs' metrics as CSV: columns `run, step, epoch, elapsed_s`, then every other
/// key any record has (sorted); one row per record, empty cells where a record lacks a key.
pub fn metrics_csv(runs: &[(String, &[LogRecord])]) -> String {
    const FIRST: &[&str] = &["step", "epoch", "elapsed_s"];
    let others: BTreeSet<&str> = runs
        .iter()
        .flat_map(|(_, records)| records.iter().flat_map(|r| r.keys().map(String::as_str)))
        .filter(|k| !FIRST.contains(k))
        .collect();
    let columns: Vec<&str> = FIRST.iter().copied().chain(others).collect();
    let mut out = String::from("run");
    for column in &columns {
        out.push(',');
        out.push_str(&csv_field(column));
    }
    out.push('\n');
    for (name, records) in runs {
        for record in records.iter() {
            out.push_str(&csv_field(name));
            for column in &columns {
                out.push(',');
                match record.get(*column) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => out.push_str(&csv_field(s)),
                    Some(value) => out.push_str(&csv_field(&value.to_string())),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(text: &str) -> TrainConfig {
        TrainConfig::from_toml_str(&format!("model = \"m\"\ndataset = \"d\"\n{text}")).unwrap()
    }

    #[test]
    fn config_diff_lists_only_differing_keys_in_key_order_without_noise() {
        let a = config("learning_rate = 2e-5\nrun_name = \"a\"\noutput_dir = \"/x\"\nseed = 1");
        let b = config("learning_rate = 3e-5\nrun_name = \"b\"\nseed = 1\nmax_length = 128");
        let diff = config_diff(&a, &b);
        let keys: Vec<&str> = diff.iter().map(|d| d.key).collect();
        assert_eq!(keys, ["max_length", "learning_rate"]);
        assert_eq!(diff[0].values, [None, Some("128".to_string())]);
        assert_eq!(
            diff[1].values,
            [Some("0.00002".to_string()), Some("0.00003".to_string())]
        );
        assert!(config_diff(&a, &a).is_empty());
        let c = config("learning_rate = 2e-5\nseed = 9");
        let three = config_diff_many(&[&a, &a, &c]);
        assert_eq!(three.iter().map(|d| d.key).collect::<Vec<_>>(), ["seed"]);
    }

    fn predictions(predicted: &[usize]) -> Predictions {
        let labels = [0, 1, 1, 0];
        Predictions {
            split: "validation".into(),
            step: 10,
            checkpoint: None,
            label_names: vec!["neg".into(), "pos".into()],
            metrics: Default::default(),
            rows: predicted
                .iter()
                .enumerate()
                .map(|(i, &p)| PredictionRow {
                    row: i,
                    label: labels[i],
                    prediction: p as u32,
                    probs: vec![0.5, 0.5],
                    text: format!("text {i}"),
                    text_pair: None,
                })
                .collect(),
        }
    }

    #[test]
    fn flips_count_fixed_and_broken_examples() {
        let a = predictions(&[0, 0, 1, 1]);
        let b = predictions(&[1, 1, 1, 0]);
        let flips = prediction_flips(&a, &b).unwrap();
        assert_eq!(
            flips.rows.iter().map(|f| f.row).collect::<Vec<_>>(),
            [0, 1, 3]
        );
        assert_eq!(
            (flips.fixed, flips.broken, flips.both_wrong, flips.total),
            (2, 1, 0, 4)
        );
        assert!(flips.rows[0].a_is_right() && !flips.rows[0].b_is_right());
        assert_eq!(flips.rows[1].text, "text 1");
        assert!(prediction_flips(&a, &a).unwrap().rows.is_empty());
    }

    #[test]
    fn confusion_delta_is_b_minus_a() {
        let a = predictions(&[0, 0, 1, 1]);
        let b = predictions(&[1, 1, 1, 0]);
        assert_eq!(confusion(&a), vec![vec![1, 1], vec![1, 1]]);
        assert_eq!(confusion(&b), vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(
            confusion_delta(&a, &b).unwrap(),
            vec![vec![0, 0], vec![-1, 1]]
        );
    }

    #[test]
    fn incomparable_predictions_are_refused() {
        let a = predictions(&[0, 0, 1, 1]);
        let mut other = predictions(&[0, 0, 1, 1]);
        other.split = "test".into();
        assert!(matches!(
            prediction_flips(&a, &other),
            Err(CompareError::Split { .. })
        ));
        let mut other = predictions(&[0, 0, 1]);
        other.rows.truncate(3);
        assert_eq!(
            prediction_flips(&a, &other),
            Err(CompareError::RowCount { a: 4, b: 3 })
        );
        let mut other = predictions(&[0, 0, 1, 1]);
        other.label_names.reverse();
        assert!(matches!(
            confusion_delta(&a, &other),
            Err(CompareError::LabelNames { .. })
        ));
        let mut other = predictions(&[0, 0, 1, 1]);
        other.rows[2].label = 0;
        let err = prediction_flips(&a, &other).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        let mut other = predictions(&[0, 0, 1, 5]);
        other.rows[3].prediction = 5;
        assert!(matches!(
            prediction_flips(&a, &other),
            Err(CompareError::ClassOutOfRange { value: 5, .. })
        ));
    }

    fn records(values: Value) -> Vec<LogRecord> {
        values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect()
    }

    #[test]
    fn curves_pick_the_axis_and_skip_missing_values() {
        let log = records(json!([
            {"step": 2, "epoch": 0.5, "loss": 0.9, "learning_rate": 1e-3, "grad_norm": 2.0, "elapsed_s": 1.5},
            {"step": 4, "epoch": 1.0, "eval_loss": 0.7, "eval_accuracy": 0.6, "eval_runtime": 0.1},
            {"step": 4, "epoch": 1.0, "loss": "NaN"},
        ]));
        assert_eq!(curve(&log, "loss", XAxis::Step), [[2.0, 0.9]]);
        assert_eq!(curve(&log, "eval_loss", XAxis::Epoch), [[1.0, 0.7]]);
        assert_eq!(curve(&log, "loss", XAxis::WallTime), [[1.5, 0.9]]);
        assert!(curve(&log, "eval_loss", XAxis::WallTime).is_empty());
        assert!(has_elapsed(&log));
        assert!(!has_elapsed(&log[1..]));
        assert_eq!(
            curve_keys(&log),
            [
                "loss",
                "eval_loss",
                "eval_accuracy",
                "learning_rate",
                "grad_norm"
            ]
        );
    }

    #[test]
    fn csv_has_the_fixed_columns_then_the_union_of_keys() {
        let a = records(json!([{"step": 2, "epoch": 0.5, "loss": 0.9}]));
        let b = records(json!([{"step": 2, "elapsed_s": 3.0, "eval_f1": 0.7, "note": "x,y"}]));
        let csv = metrics_csv(&[("run a".into(), &a[..]), ("b".into(), &b[..])]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "run,step,epoch,elapsed_s,eval_f1,loss,note");
        assert_eq!(lines[1], "run a,2,0.5,,,0.9,");
        assert_eq!(lines[2], "b,2,,3.0,0.7,,\"x,y\"");
        assert_eq!(lines.len(), 3);
    }
}
