//! Learning-rate schedules with the exact semantics of HF's `get_*_schedule_with_warmup`
//! (a `LambdaLR`: optimizer step `k`, counting from 0, uses `base_lr * lambda(k)`).

use crate::recipe::LrSchedulerType;

/// The learning rate for optimizer step `step` (0-based).
pub fn lr_at(
    kind: LrSchedulerType,
    base_lr: f64,
    step: u64,
    warmup_steps: u64,
    total_steps: u64,
) -> f64 {
    let s = step as f64;
    let warmup = warmup_steps as f64;
    let in_warmup = step < warmup_steps;
    let warm = s / warmup.max(1.0);
    let factor = match kind {
        LrSchedulerType::Constant => 1.0,
        LrSchedulerType::ConstantWithWarmup => {
            if in_warmup {
                warm
            } else {
                1.0
            }
        }
        LrSchedulerType::Linear => {
            if in_warmup {
                warm
            } else {
                let remaining = total_steps as f64 - s;
                let span = (total_steps as f64 - warmup).max(1.0);
                (remaining / span).max(0.0)
            }
        }
        LrSchedulerType::Cosine => {
            if in_warmup {
                warm
            } else {
                // num_cycles = 0.5: half a cosine from 1 down to 0.
                let progress = (s - warmup) / (total_steps as f64 - warmup).max(1.0);
                let num_cycles = 0.5;
                (0.5 * (1.0 + (std::f64::consts::PI * num_cycles * 2.0 * progress).cos())).max(0.0)
            }
        }
    };
    base_lr * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15 + 1e-12 * b.abs()
    }

    #[test]
    fn linear_with_warmup() {
        // warmup 4, total 10, base 1: 0, .25, .5, .75, then (10-k)/6.
        let want = [
            0.0,
            0.25,
            0.5,
            0.75,
            1.0,
            5.0 / 6.0,
            4.0 / 6.0,
            0.5,
            2.0 / 6.0,
            1.0 / 6.0,
            0.0,
            0.0,
        ];
        for (k, w) in want.iter().enumerate() {
            let got = lr_at(LrSchedulerType::Linear, 1.0, k as u64, 4, 10);
            assert!(close(got, *w), "step {k}: {got} vs {w}");
        }
        // Without warmup the first step uses the full rate: (total - 0) / total.
        assert_eq!(lr_at(LrSchedulerType::Linear, 5e-5, 0, 0, 1377), 5e-5);
        assert!(close(
            lr_at(LrSchedulerType::Linear, 5e-5, 1, 0, 1377),
            5e-5 * 1376.0 / 1377.0
        ));
    }

    #[test]
    fn cosine_with_warmup() {
        // warmup 2, total 10: progress (k-2)/8, lambda = 0.5 (1 + cos(pi progress)).
        assert_eq!(lr_at(LrSchedulerType::Cosine, 2.0, 0, 2, 10), 0.0);
        assert_eq!(lr_at(LrSchedulerType::Cosine, 2.0, 1, 2, 10), 1.0);
        assert!(close(lr_at(LrSchedulerType::Cosine, 2.0, 2, 2, 10), 2.0));
        assert!(close(lr_at(LrSchedulerType::Cosine, 2.0, 6, 2, 10), 1.0)); // progress 1/2
        let k4 = 0.5 * (1.0 + (std::f64::consts::PI * 0.25).cos()) * 2.0;
        assert!(close(lr_at(LrSchedulerType::Cosine, 2.0, 4, 2, 10), k4));
        assert!(lr_at(LrSchedulerType::Cosine, 2.0, 10, 2, 10).abs() < 1e-15);
    }

    #[test]
    fn constant_variants() {
        assert_eq!(lr_at(LrSchedulerType::Constant, 3.0, 0, 5, 10), 3.0);
        assert_eq!(
            lr_at(LrSchedulerType::ConstantWithWarmup, 3.0, 0, 5, 10),
            0.0
        );
        assert!(close(
            lr_at(LrSchedulerType::ConstantWithWarmup, 3.0, 2, 5, 10),
            1.2
        ));
        assert_eq!(
            lr_at(LrSchedulerType::ConstantWithWarmup, 3.0, 5, 5, 10),
            3.0
        );
        assert_eq!(
            lr_at(LrSchedulerType::ConstantWithWarmup, 3.0, 50, 5, 10),
            3.0
        );
    }

    #[test]
    fn serde_names_match_hf() {
        let names: Vec<String> = [
            LrSchedulerType::Linear,
            LrSchedulerType::Cosine,
            LrSchedulerType::Constant,
            LrSchedulerType::ConstantWithWarmup,
        ]
        .iter()
        .map(|k| serde_json::to_string(k).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"linear\"",
                "\"cosine\"",
                "\"constant\"",
                "\"constant_with_warmup\""
            ]
        );
        let parsed: LrSchedulerType = serde_json::from_str("\"constant_with_warmup\"").unwrap();
        assert_eq!(parsed, LrSchedulerType::ConstantWithWarmup);
    }
}
