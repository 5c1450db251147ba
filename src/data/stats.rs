//! Numbers the Data panel and `wick data inspect` show: token lengths and padding cost.

use serde::Serialize;

use super::collate::{Collator, PadStats, Padding};
use super::dataset::TokenizedSplit;
use super::sampler::{Order, epoch_batches};

/// Padding cost of one epoch under the three batching strategies the Data panel compares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PaddingReport {
    pub dynamic: PadStats,
    pub max_length: PadStats,
    pub grouped: PadStats,
}

/// Compares dynamic padding, padding to `max_length`, and length-grouped dynamic padding over
/// one shuffled epoch of `split`.
pub fn padding_report(
    split: &TokenizedSplit,
    collator: &Collator,
    batch_size: usize,
    seed: u64,
) -> PaddingReport {
    let lengths = split.lengths();
    let epoch_stats = |collator: &Collator, order: Order| {
        let mut total = PadStats::default();
        for batch in epoch_batches(&lengths, batch_size, order, 0, false) {
            total.add(collator.stats_for(batch.iter().map(|&r| lengths[r])));
        }
        total
    };
    let dynamic = Collator {
        padding: Padding::Longest,
        ..collator.clone()
    };
    let fixed = Collator {
        padding: Padding::MaxLength,
        ..collator.clone()
    };
    PaddingReport {
        dynamic: epoch_stats(&dynamic, Order::Shuffled { seed }),
        max_length: epoch_stats(&fixed, Order::Shuffled { seed }),
        grouped: epoch_stats(&dynamic, Order::GroupedByLength { seed }),
    }
}

/// Min, median, 95th percentile and max of the row lengths, and how many rows hit `max_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LengthSummary {
    pub min: usize,
    pub median: usize,
    pub p95: usize,
    pub max: usize,
    pub truncated_rows: usize,
}

impl LengthSummary {
    pub fn of(lengths: &[usize], max_length: usize) -> Self {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        LengthSummary {
            min: at(0.0),
            median: at(0.5),
            p95: at(0.95),
            max: at(1.0),
            truncated_rows: lengths.iter().filter(|&&l| l >= max_length).count(),
        }
    }
}

/// One bar of a length histogram: rows with `from <= length < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LengthBucket {
    pub from: usize,
    pub to: usize,
    pub rows: usize,
}

/// Equal-width buckets from 0 to just past the longest row.
pub fn length_histogram(lengths: &[usize], buckets: usize) -> Vec<LengthBucket> {
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let width = (longest + 1).div_ceil(buckets.max(1)).max(1);
    let count = (longest + 1).div_ceil(width);
    let mut histogram: Vec<LengthBucket> = (0..count)
        .map(|i| LengthBucket {
            from: i * width,
            to: (i + 1) * width,
            rows: 0,
        })
        .collect();
    for &length in lengths {
        histogram[length / width].rows += 1;
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_row_once() {
        let lengths = [0, 1, 5, 9, 10, 10];
        let h = length_histogram(&lengths, 5);
        assert_eq!(h.iter().map(|b| b.rows).sum::<usize>(), lengths.len());
        assert_eq!(
            h.last().unwrap().rows,
            3,
            "9, 10 and 10 share the last bucket"
        );
        assert!(h.iter().all(|b| b.to - b.from == h[0].to - h[0].from));
    }

    #[test]
    fn summary_quantiles() {
        let lengths: Vec<usize> = (1..=100).collect();
        let s = LengthSummary::of(&lengths, 90);
        assert_eq!(
            (s.min, s.median, s.p95, s.max, s.truncated_rows),
            (1, 51, 95, 100, 11)
        );
    }
}
