//! A linear layer `x Wᵀ + b` as one CPU op with its own backward (gemm for the three
//! products, the bias in the forward product's accumulator, the bias gradient as the sum over
//! rows).
//!
//! Composed, a linear layer is five autograd nodes (reshape, transpose, matmul, bias add,
//! reshape), and candle's backward allocates a zero tensor and adds into it for each input of
//! each node: activation-sized for the reshapes and the matmul, weight-sized and strided for
//! the transpose. As one node it is one gradient per input, each computed only when that
//! input is trained (a frozen weight under LoRA gets none).

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor};
use gemm::Parallelism;

use super::fused::{self, f32_slice};

type CResult<T> = candle_core::Result<T>;

/// True when the fused op can run: CPU, f32 input, weight and bias (`WICK_NO_FUSED` off).
pub(crate) fn usable(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> bool {
    fused::usable(xs) && weight.dtype() == xs.dtype() && bias.dtype() == xs.dtype()
}

/// `xs Wᵀ + b`: `xs` `[.., in]`, `weight` `[out, in]`, `bias` `[out]`; returns `[.., out]`.
pub(crate) fn linear(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    xs.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, LinearOp)
}

struct LinearOp;

/// Threads for gemm: candle's own count (`RAYON_NUM_THREADS`, else the physical cores), read
/// once (candle reads the environment on every call).
fn gemm_parallelism() -> Parallelism {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    match *THREADS.get_or_init(candle_core::utils::get_num_threads) {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `dst (m x n) = [dst +] lhs (m x k) · rhs (k x n)` over strided views (row stride, column
/// stride), threaded by gemm on rayon's pool.
///
/// # Safety
/// Each view must be valid for its extent.
unsafe fn gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, usize, usize),
    (rhs, rhs_rs, rhs_cs): (*const f32, usize, usize),
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm_parallelism(),
        )
    }
}

/// `(rows, in, out)` of a call, checked.
fn dims(x: &Layout, w: &Layout, b: &Layout) -> CResult<(usize, usize, usize)> {
    let (out, input) = match w.dims() {
        [out, input] => (*out, *input),
        other => candle_core::bail!("linear: weight of shape {other:?}"),
    };
    if x.dims().last() != Some(&input) || b.dims() != [out] || input == 0 {
        candle_core::bail!(
            "linear: input {:?}, weight {:?}, bias {:?}",
            x.dims(),
            w.dims(),
            b.dims()
        );
    }
    Ok((x.shape().elem_count() / input, input, out))
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "wick-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let (rows, input, out) = dims(l1, l2, l3)?;
        let x = f32_slice(s1, l1, "linear")?;
        let w = f32_slice(s2, l2, "linear")?;
        let b = f32_slice(s3, l3, "linear")?;
        // The bias first, then the product accumulated onto it.
        let mut y: Vec<f32> = Vec::with_capacity(rows * out);
        for _ in 0..rows {
            y.extend_from_slice(b);
        }
        // SAFETY: y is rows x out, x rows x input, w out x input (read as its transpose).
        unsafe {
            gemm_into(
                (rows, out, input),
                y.as_mut_ptr(),
                true,
                (x.as_ptr(), input, 1),
                (w.as_ptr(), 1, input),
            );
        }
        let mut shape = l1.dims().to_vec();
        *shape.last_mut().expect("checked rank") = out;
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (want_dx, want_dw) = (x.track_op(), w.track_op());
        let (dx, dw) = {
            let (xs, xl) = x.storage_and_layout();
            let (ws, wl) = w.storage_and_layout();
            let (gs, gl) = grad.storage_and_layout();
            let (Storage::Cpu(xs), Storage::Cpu(ws), Storage::Cpu(gs)) = (&*xs, &*ws, &*gs) else {
                candle_core::bail!("linear: backward on the CPU only");
            };
            let (rows, input, out) = dims(xl, wl, b.layout())?;
            let x = f32_slice(xs, xl, "linear bwd")?;
            let w = f32_slice(ws, wl, "linear bwd")?;
            let g = f32_slice(gs, gl, "linear bwd")?;
            if g.len() != rows * out {
                candle_core::bail!("linear: a gradient of {} for {rows} x {out}", g.len());
            }
            let mut dx = Vec::new();
            if want_dx {
                dx = vec![0f32; rows * input];
                // SAFETY: dx is rows x input = g (rows x out) · w (out x input).
                unsafe {
                    gemm_into(
                        (rows, input, out),
                        dx.as_mut_ptr(),
                        false,
                        (g.as_ptr(), out, 1),
                        (w.as_ptr(), input, 1),
                    );
                }
            }
            let mut dw = Vec::new();
            if want_dw {
                dw = vec![0f32; out * input];
                // SAFETY: dw is out x input = gᵀ (out x rows) · x (rows x input).
                unsafe {
                    gemm_into(
                        (out, input, rows),
                        dw.as_mut_ptr(),
                        false,
                        (g.as_ptr(), 1, out),
                        (x.as_ptr(), input, 1),
                    );
                }
            }
            (dx, dw)
        };
        let dx = want_dx
            .then(|| Tensor::from_vec(dx, x.shape(), x.device()))
            .transpose()?;
        let dw = want_dw
            .then(|| Tensor::from_vec(dw, w.shape(), w.device()))
            .transpose()?;
        let db = b
            .track_op()
            .then(|| fused::sum_over_rows(&grad))
            .transpose()?;
        Ok((dx, dw, db))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{max_relative, random_var as var};
    use super::*;

    fn composed(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        let dims = x.dims().to_vec();
        let input = *dims.last().unwrap();
        let flat = x.reshape((x.elem_count() / input, input)).unwrap();
        let y = flat
            .matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(b)
            .unwrap();
        let mut out = dims;
        *out.last_mut().unwrap() = w.dim(0).unwrap();
        y.reshape(out).unwrap()
    }

    #[test]
    fn matches_the_composed_layer_in_values_and_gradients() {
        // A packed 3-D input, a 2-D one, a single row, and sizes around gemm's blocking.
        for (case, (x_shape, out)) in [
            (vec![1, 37, 24], 40),
            (vec![53, 16], 7),
            (vec![1, 1, 5], 3),
            (vec![2, 130, 96], 300),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = case as u64 * 10;
            let input = *x_shape.last().unwrap();
            let (x, w, b) = (
                var(&x_shape, seed),
                var(&[out, input], seed + 1),
                var(&[out], seed + 2),
            );
            let mut probe_shape = x_shape.clone();
            *probe_shape.last_mut().unwrap() = out;
            let probe = var(&probe_shape, seed + 3).as_tensor().detach();
            let fused = linear(&x, &w, &b).unwrap();
            let plain = composed(&x, &w, &b);
            assert_eq!(fused.dims(), plain.dims());
            let d = max_relative(&fused, &plain);
            assert!(d < 1e-5, "case {case}: values differ by {d}");
            let gf = (fused * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gp = (plain * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (name, v) in [("x", &x), ("w", &w), ("b", &b)] {
                let d = max_relative(
                    gf.get(v.as_tensor()).unwrap(),
                    gp.get(v.as_tensor()).unwrap(),
                );
                assert!(d < 1e-5, "case {case}: gradient of {name} differs by {d}");
            }
        }
    }

    #[test]
    fn a_frozen_weight_gets_no_gradient() {
        let x = var(&[4, 6], 1);
        let w = var(&[3, 6], 2).as_tensor().detach();
        let b = var(&[3], 3).as_tensor().detach();
        let grads = linear(&x, &w, &b)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(x.as_tensor()).is_some());
        assert!(grads.get(&w).is_none() && grads.get(&b).is_none());
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        let x = var(&[4, 6], 1);
        let w = var(&[3, 5], 2);
        let b = var(&[3], 3);
        assert!(linear(&x, &w, &b).is_err());
    }
}
