//! The class balance of a tokenized split, per task: rows per class (single-label), rows
//! per label and rows with none (multi-label), entities per type beside the tags trained on
//! (token classification), a histogram of the scores (regression); and whether the classes
//! are skewed enough to offer `class_weights = "balanced"`. The Data panel and
//! `wick data inspect` both draw these numbers.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::TokenizedSplit;
use crate::task::Task;
use crate::train::scores::{balanced_class_weights, entity_spans, entity_types, guess_scheme};

/// Buckets of the score histogram.
const SCORE_BUCKETS: usize = 12;
/// Classes are skewed when the largest has more than this many times the smallest's count.
pub const SKEW_RATIO: f64 = 3.0;

/// Per class, in class-id order, and what else the task's balance view shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balance {
    pub task: Task,
    /// Per class name, in class-id order: rows of that class (single-label), rows having it
    /// (multi-label), tokens trained on with that tag (token classification: the first
    /// piece of each word, or every piece with `label_all_tokens`). Empty for regression.
    pub classes: Vec<(String, usize)>,
    /// Rows of the split.
    pub rows: usize,
    #[serde(flatten)]
    pub detail: TaskBalance,
}

/// What the balance view shows beyond the per-class counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskBalance {
    /// Single-label: the per-class rows say it all.
    Classes,
    /// Multi-label.
    LabelSets {
        rows_without_labels: usize,
        mean_labels_per_row: f64,
    },
    /// Token classification: entities (not tags) per type, read off the tags as seqeval
    /// reads them, in the label names' order of types.
    Entities {
        per_type: Vec<(String, usize)>,
        rows_without_entities: usize,
    },
    /// Regression.
    Scores(ScoreSummary),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub histogram: Vec<ScoreBucket>,
}

/// Rows whose score lies in `from..to` (the last bucket includes `to`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreBucket {
    pub from: f64,
    pub to: f64,
    pub rows: usize,
}

/// The largest and the smallest class when they are skewed (see [`Balance::skew`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skew {
    pub largest: (String, usize),
    pub smallest: (String, usize),
}

impl Skew {
    pub fn ratio(&self) -> f64 {
        self.largest.1 as f64 / self.smallest.1.max(1) as f64
    }

    /// "O has 120 tokens, 24.0 times B-LOC's 5".
    pub fn describe(&self, unit: &str) -> String {
        format!(
            "{} has {} {unit}, {:.1} times {}'s {}",
            self.largest.0,
            self.largest.1,
            self.ratio(),
            self.smallest.0,
            self.smallest.1
        )
    }
}

impl Balance {
    pub fn of(split: &TokenizedSplit) -> Balance {
        let task = split.task();
        let names = &split.meta.labels.names;
        let classes = names.iter().cloned().zip(split.class_balance()).collect();
        let rows = split.len();
        let detail = match task {
            Task::SingleLabelClassification => TaskBalance::Classes,
            Task::MultiLabelClassification => {
                let sizes: Vec<usize> = (0..rows).map(|row| split.class_set(row).len()).collect();
                TaskBalance::LabelSets {
                    rows_without_labels: sizes.iter().filter(|&&n| n == 0).count(),
                    mean_labels_per_row: sizes.iter().sum::<usize>() as f64 / rows.max(1) as f64,
                }
            }
            Task::TokenClassification => entity_counts(split),
            Task::Regression => {
                let scores: Vec<f64> = (0..rows)
                    .filter_map(|row| split.score(row))
                    .map(f64::from)
                    .collect();
                TaskBalance::Scores(score_summary(&scores))
            }
        };
        Balance {
            task,
            classes,
            rows,
            detail,
        }
    }

    /// What the per-class counts count, in words ("rows", "rows having it", "tokens").
    pub fn unit(&self) -> &'static str {
        match self.task {
            Task::SingleLabelClassification => "rows",
            Task::MultiLabelClassification => "rows having it",
            Task::TokenClassification => "tokens trained on",
            Task::Regression => "rows",
        }
    }

    /// The largest and smallest class among those present, when the largest has more than
    /// [`SKEW_RATIO`] times the smallest's count and the task's loss takes class weights.
    pub fn skew(&self) -> Option<Skew> {
        if !self.task.uses_cross_entropy() {
            return None;
        }
        let present = || self.classes.iter().filter(|(_, n)| *n > 0);
        // The first of equal classes, as the view lists them (`max_by_key` takes the last).
        let largest = present().rev().max_by_key(|(_, n)| *n)?;
        let smallest = present().min_by_key(|(_, n)| *n)?;
        let skew = Skew {
            largest: largest.clone(),
            smallest: smallest.clone(),
        };
        (skew.ratio() > SKEW_RATIO).then_some(skew)
    }

    /// The weights `class_weights = "balanced"` gives each class on this split (what the
    /// trainer computes from the same counts).
    pub fn balanced_weights(&self) -> Vec<f32> {
        let counts: Vec<usize> = self.classes.iter().map(|(_, n)| *n).collect();
        balanced_class_weights(&counts)
    }
}

/// Entities per type over the tokens trained on (-100s dropped), each row read on its own.
fn entity_counts(split: &TokenizedSplit) -> TaskBalance {
    let names = &split.meta.labels.names;
    let scheme = guess_scheme(names);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows_without_entities = 0;
    for row in 0..split.len() {
        let tags: Vec<String> = split
            .token_labels(row)
            .iter()
            .filter_map(|&label| usize::try_from(label).ok())
            .map(|label| names.get(label).cloned().unwrap_or_else(|| "O".into()))
            .collect();
        let entities = entity_spans(&tags, scheme);
        if entities.is_empty() {
            rows_without_entities += 1;
        }
        for entity in entities {
            *counts.entry(entity.kind).or_default() += 1;
        }
    }
    let mut per_type: Vec<(String, usize)> = entity_types(names)
        .into_iter()
        .map(|kind| {
            let n = counts.remove(&kind).unwrap_or(0);
            (kind, n)
        })
        .collect();
    // Types the names do not announce (tags without a B-/I- prefix), after the rest.
    per_type.extend(counts);
    TaskBalance::Entities {
        per_type,
        rows_without_entities,
    }
}

fn score_summary(scores: &[f64]) -> ScoreSummary {
    if scores.is_empty() {
        return ScoreSummary {
            min: 0.0,
            max: 0.0,
            mean: 0.0,
            histogram: Vec::new(),
        };
    }
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let buckets = if max > min { SCORE_BUCKETS } else { 1 };
    let width = (max - min) / buckets as f64;
    let mut histogram: Vec<ScoreBucket> = (0..buckets)
        .map(|b| ScoreBucket {
            from: min + b as f64 * width,
            to: if b + 1 == buckets {
                max
            } else {
                min + (b + 1) as f64 * width
            },
            rows: 0,
        })
        .collect();
    for &score in scores {
        let bucket = if width > 0.0 {
            (((score - min) / width) as usize).min(buckets - 1)
        } else {
            0
        };
        histogram[bucket].rows += 1;
    }
    ScoreSummary {
        min,
        max,
        mean,
        histogram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balance(task: Task, counts: &[(&str, usize)]) -> Balance {
        Balance {
            task,
            classes: counts.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            rows: counts.iter().map(|(_, c)| c).sum(),
            detail: TaskBalance::Classes,
        }
    }

    #[test]
    fn skew_is_offered_past_three_to_one_for_cross_entropy_tasks_only() {
        let even = balance(Task::SingleLabelClassification, &[("a", 30), ("b", 10)]);
        assert_eq!(even.skew(), None, "exactly 3:1 is not skewed");
        let skewed = balance(
            Task::SingleLabelClassification,
            &[("a", 31), ("b", 10), ("c", 0), ("d", 10)],
        );
        let skew = skewed.skew().expect("31:10");
        assert_eq!(skew.largest, ("a".to_string(), 31));
        assert_eq!(
            skew.smallest,
            ("b".to_string(), 10),
            "a class with no rows is not the smallest"
        );
        assert_eq!(skew.describe("rows"), "a has 31 rows, 3.1 times b's 10");
        let tags = balance(Task::TokenClassification, &[("O", 100), ("B-PER", 5)]);
        assert!(tags.skew().is_some());
        let sets = balance(Task::MultiLabelClassification, &[("x", 100), ("y", 1)]);
        assert_eq!(sets.skew(), None, "BCE takes no class weights");
    }

    #[test]
    fn balanced_weights_are_sklearns() {
        // sklearn: compute_class_weight("balanced", classes=[0,1], y=[0]*30+[1]*10)
        // = 40 / (2 * [30, 10]) = [0.6667, 2.0]
        let weights =
            balance(Task::SingleLabelClassification, &[("a", 30), ("b", 10)]).balanced_weights();
        assert!((weights[0] - 2.0 / 3.0).abs() < 1e-6 && (weights[1] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn entity_types_come_from_prefixed_names_in_order() {
        let names: Vec<String> = [
            "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(entity_types(&names), ["PER", "ORG", "LOC", "MISC"]);
        let iobes: Vec<String> = ["S-X", "B-Y", "E-Y", "OTHER", "B-"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(entity_types(&iobes), ["X", "Y"]);
    }

    #[test]
    fn score_histogram_covers_min_to_max() {
        let summary = score_summary(&[0.0, 1.0, 2.6, 3.5, 3.5, 5.0]);
        assert_eq!((summary.min, summary.max), (0.0, 5.0));
        assert!((summary.mean - 15.6 / 6.0).abs() < 1e-12);
        assert_eq!(summary.histogram.len(), SCORE_BUCKETS);
        assert_eq!(summary.histogram.iter().map(|b| b.rows).sum::<usize>(), 6);
        assert_eq!(summary.histogram[0].rows, 1);
        assert_eq!(
            summary.histogram[SCORE_BUCKETS - 1].rows,
            1,
            "5.0 is in the last"
        );
        // Buckets are 5/12 wide: 1.0 is in bucket 2, 2.6 in 6, 3.5 in 8.
        let rows: Vec<usize> = summary.histogram.iter().map(|b| b.rows).collect();
        assert_eq!(rows, [1, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 1]);
        let flat = score_summary(&[2.0, 2.0]);
        assert_eq!(flat.histogram.len(), 1);
        assert_eq!(flat.histogram[0].rows, 2);
    }
}
