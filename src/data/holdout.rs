//! A seeded share of the training split held out for evaluation, for data that comes
//! without an evaluation split: what `train_test_split(test_size=..., seed=...)` does in
//! the course, and what the examples' `validation_split_percentage` does.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::dataset::TokenizedSplit;
use super::error::{DataError, Result};

/// The ChaCha stream of the hold-out draw, apart from the epoch streams of the sampler
/// (which use the epoch number), so the same seed never gives related orders.
const HOLDOUT_STREAM: u64 = u64::MAX;

/// Which rows train and which evaluate, each in dataset order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdout {
    pub train: Vec<usize>,
    pub eval: Vec<usize>,
}

/// Draws `percent`% of `rows` rows (rounded up, at least one, never all) for evaluation.
/// The draw is a pure function of `(rows, percent, seed)`: the same data and seed always
/// hold out the same rows (the trainer refuses a resume whose seed would differ).
pub fn holdout_rows(rows: usize, percent: u32, seed: u64) -> Result<Holdout> {
    let eval_rows = (rows * percent as usize).div_ceil(100).max(1);
    if rows < 2 || eval_rows >= rows {
        return Err(DataError::Invalid(format!(
            "validation_split_percentage = {percent}: holding out {percent}% of {rows} training \
             rows leaves nothing to train on"
        )));
    }
    let mut order: Vec<usize> = (0..rows).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(HOLDOUT_STREAM);
    order.shuffle(&mut rng);
    let (eval, train) = order.split_at_mut(eval_rows);
    eval.sort_unstable();
    train.sort_unstable();
    Ok(Holdout {
        train: train.to_vec(),
        eval: eval.to_vec(),
    })
}

/// Splits a tokenized training split into the rows that train and a held-out split that
/// evaluates (named `<split>[held out <percent>%]`).
pub fn hold_out(
    split: &TokenizedSplit,
    percent: u32,
    seed: u64,
) -> Result<(TokenizedSplit, TokenizedSplit)> {
    let rows = holdout_rows(split.len(), percent, seed)?;
    let train = split.select(&rows.train, &split.meta.split)?;
    let eval = split.select(
        &rows.eval,
        &format!("{}[held out {percent}%]", split.meta.split),
    )?;
    Ok((train, eval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_share_is_held_out_and_the_rest_trains() {
        let split = holdout_rows(40, 10, 42).unwrap();
        assert_eq!((split.train.len(), split.eval.len()), (36, 4));
        let mut all: Vec<usize> = split.train.iter().chain(&split.eval).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>(), "every row once");
        assert!(split.eval.is_sorted() && split.train.is_sorted());
        assert_eq!(
            holdout_rows(40, 10, 42).unwrap(),
            split,
            "same seed, same rows"
        );
        assert_ne!(holdout_rows(40, 10, 43).unwrap().eval, split.eval);
        // Not simply the first or last rows.
        assert_ne!(split.eval, vec![0, 1, 2, 3]);
        assert_ne!(split.eval, vec![36, 37, 38, 39]);
    }

    #[test]
    fn rounding_holds_out_at_least_one_row_and_never_all() {
        assert_eq!(holdout_rows(5, 10, 1).unwrap().eval.len(), 1);
        assert_eq!(holdout_rows(3668, 10, 1).unwrap().eval.len(), 367);
        assert!(holdout_rows(1, 10, 1).is_err());
        assert!(holdout_rows(2, 50, 1).is_ok());
        let err = holdout_rows(3, 90, 1).unwrap_err().to_string();
        assert!(err.contains("leaves nothing to train on"), "{err}");
    }
}
