//! `exp` and `erf` for f32 written without branches or library calls, so that the compiler
//! vectorizes the loops of the fused GELU (candle's `erf_f32` is a scalar libm call per
//! element: about 15% of a training step's time in the profile). `erf` is within 6e-7 of the
//! exact value (absolute: GELU needs `1 + erf`, not erf's relative accuracy near 0), below
//! what the parity tests (1e-4 relative) and the fused ops' own tests can see.

/// `e^x` for `x` in f32's normal range (clamped to [-87, 88]): `2^n e^r` with
/// `n = round(x / ln 2)` and `|r| <= ln 2 / 2`, `e^r` by its Taylor series to `r^7`
/// (truncation below 6e-9 relative).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer in f32 arithmetic.
    const ROUND: f32 = 12_582_912.0;
    // ln 2 split in two, so that `n * LN_2_HI` is exact (Cody and Waite).
    const LN_2_HI: f32 = 0.693_359_4;
    const LN_2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN_2_HI) - n * LN_2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^n from its exponent bits; n is within [-126, 127] after the clamp.
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// `erf(x)` by Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7 in exact
/// arithmetic, 6e-7 in f32), odd in `x`.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_7;
    const A4: f32 = -1.453_152;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5))));
    (1.0 - poly * exp_f32(-a * a)).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(from: f32, to: f32, steps: usize) -> impl Iterator<Item = f32> {
        (0..=steps).map(move |i| from + (to - from) * i as f32 / steps as f32)
    }

    #[test]
    fn exp_is_within_a_few_ulps_across_the_normal_range() {
        let mut worst = 0f64;
        for x in grid(-87.0, 88.0, 200_000).chain([0.0, -0.0, 1.0, -1.0]) {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 4e-7, "worst relative error {worst:e}");
        // Clamped, not infinite or zero: GELU's backward only needs e^(-x^2/2) to vanish.
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(-1000.0) < 1e-37);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn erf_is_within_6e_7_of_the_exact_value_and_odd() {
        let mut worst = 0f64;
        for x in grid(-8.0, 8.0, 200_000) {
            let want = candle_core::cpu::erf::erf_f64(x as f64);
            worst = worst.max((erf_f32(x) as f64 - want).abs());
            assert_eq!(erf_f32(-x), -erf_f32(x));
        }
        assert!(worst < 6e-7, "worst absolute error {worst:e}");
        assert!(erf_f32(0.0).abs() < 1e-7);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
    }
}
