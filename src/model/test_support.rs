//! Helpers shared by the fused ops' tests: seeded inputs and the worst relative difference.

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` deterministic pseudo-random values in [-2, 2).
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect()
}

/// A CPU `Var` of `shape` filled with [`values`].
pub(crate) fn random_var(shape: &[usize], seed: u64) -> Var {
    let n = shape.iter().product();
    let t = Tensor::from_vec(values(n, seed), shape, &Device::Cpu).unwrap();
    Var::from_tensor(&t).unwrap()
}

/// The largest absolute difference, relative to `b`'s largest magnitude (at least 1e-3).
pub(crate) fn max_relative(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}
