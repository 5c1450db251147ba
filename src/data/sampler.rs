//! Which rows go in which batch, epoch by epoch. The order is a pure function of
//! `(seed, epoch)`, so a resumed run can rebuild it and skip to the same position.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How rows are ordered within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Dataset order, as for evaluation.
    Sequential,
    /// A fresh permutation each epoch.
    Shuffled { seed: u64 },
    /// Like `group_by_length=True`: shuffled, then sorted by length inside mega-batches of 50
    /// batches, so each batch holds rows of similar length; the longest batch comes first.
    GroupedByLength { seed: u64 },
}

/// The batches of one epoch, as lists of row indices. `lengths` is only read for grouping.
pub fn epoch_batches(
    lengths: &[usize],
    batch_size: usize,
    order: Order,
    epoch: u64,
    drop_last: bool,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let rows = match order {
        Order::Sequential => (0..lengths.len()).collect(),
        Order::Shuffled { seed } => permutation(lengths.len(), seed, epoch),
        Order::GroupedByLength { seed } => grouped(lengths, batch_size, seed, epoch),
    };
    rows.chunks(batch_size)
        .filter(|chunk| !drop_last || chunk.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

fn permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // One independent stream per epoch: epoch k's order never depends on having drawn k-1.
    rng.set_stream(epoch);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    rows
}

/// The `LengthGroupedSampler` of 🤗 Transformers.
fn grouped(lengths: &[usize], batch_size: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let rows = permutation(lengths.len(), seed, epoch);
    let mega_mult = (lengths.len() / (batch_size * 4)).clamp(1, 50);
    let mega_size = mega_mult * batch_size;
    let mut megabatches: Vec<Vec<usize>> = rows
        .chunks(mega_size)
        .map(|chunk| {
            let mut chunk = chunk.to_vec();
            // Stable sort keeps ties in shuffled order, so ties vary between epochs too.
            chunk.sort_by(|a, b| lengths[*b].cmp(&lengths[*a]));
            chunk
        })
        .collect();
    if let Some(longest) =
        (0..megabatches.len()).max_by_key(|&i| (lengths[megabatches[i][0]], std::cmp::Reverse(i)))
    {
        let first = megabatches[0][0];
        megabatches[0][0] = megabatches[longest][0];
        megabatches[longest][0] = first;
    }
    megabatches.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keeps_order_and_drop_last_drops_the_tail() {
        let lengths = vec![1; 10];
        let batches = epoch_batches(&lengths, 4, Order::Sequential, 0, false);
        assert_eq!(
            batches,
            vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
        );
        assert_eq!(
            epoch_batches(&lengths, 4, Order::Sequential, 0, true).len(),
            2
        );
    }

    #[test]
    fn shuffling_is_a_permutation_that_depends_on_seed_and_epoch_only() {
        let lengths = vec![1; 100];
        let order = Order::Shuffled { seed: 42 };
        let a = epoch_batches(&lengths, 8, order, 3, false).concat();
        let b = epoch_batches(&lengths, 8, order, 3, false).concat();
        assert_eq!(a, b, "same seed and epoch, same order");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, epoch_batches(&lengths, 8, order, 4, false).concat());
        assert_ne!(
            a,
            epoch_batches(&lengths, 8, Order::Shuffled { seed: 43 }, 3, false).concat()
        );
        assert_ne!(a, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn grouping_puts_the_longest_row_first_and_keeps_every_row() {
        let lengths: Vec<usize> = (0..400).map(|i| (i * 37) % 101).collect();
        let batches = epoch_batches(&lengths, 8, Order::GroupedByLength { seed: 1 }, 0, false);
        assert_eq!(lengths[batches[0][0]], 100);
        let mut all = batches.concat();
        all.sort();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
    }
}
