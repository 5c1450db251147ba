//! Fused CPU kernels with hand-written backward passes: LayerNorm, softmax over the last
//! dimension, erf-GELU, and dropout followed by a residual add (plus the sum over rows that
//! a bias's gradient is). Each replaces a chain of composed candle ops (one full-size tensor
//! per op, forward and backward) with one pass over memory. Only used for contiguous f32 CPU
//! tensors; callers fall back to the composed versions elsewhere. Tests compare values and
//! gradients with the composed versions.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::dropout::{DropoutDraw, draw_keep_mask, keep_scale};
use super::fast_math;

type CResult<T> = candle_core::Result<T>;

/// Rows per rayon task: enough work per task to amortise the scheduling.
fn rows_per_task(row_len: usize) -> usize {
    (16384 / row_len.max(1)).max(1)
}

pub(super) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> CResult<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("{what}: fused kernels take f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: fused kernels take contiguous tensors"),
    }
}

/// True when the fused kernels can run on `xs` (and `WICK_NO_FUSED` is unset, for A/B runs).
pub(crate) fn usable(xs: &Tensor) -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    xs.device().is_cpu()
        && xs.dtype() == DType::F32
        && !*OFF.get_or_init(|| std::env::var_os("WICK_NO_FUSED").is_some())
}

// ---------------------------------------------------------------------------------------------
// Softmax over the last dimension.

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "wick-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "softmax")?;
        let n = *l.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; x.len()];
        let chunk = n * rows_per_task(n);
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .for_each(|(out, x)| {
                for (o, x) in out.chunks_mut(n).zip(x.chunks(n)) {
                    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0f32;
                    for (o, &x) in o.iter_mut().zip(x) {
                        *o = (x - max).exp();
                        sum += *o;
                    }
                    let inv = 1.0 / sum;
                    for o in o.iter_mut() {
                        *o *= inv;
                    }
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        Ok(Some(
            res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBwd)?,
        ))
    }
}

/// `dx = y * (g - sum(g * y))` row by row.
struct SoftmaxBwd;

impl CustomOp2 for SoftmaxBwd {
    fn name(&self) -> &'static str {
        "wick-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, "softmax bwd")?;
        let g = f32_slice(s2, l2, "softmax bwd")?;
        let n = *l1.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; y.len()];
        let chunk = n * rows_per_task(n);
        out.par_chunks_mut(chunk)
            .zip(y.par_chunks(chunk))
            .zip(g.par_chunks(chunk))
            .for_each(|((out, y), g)| {
                for ((o, y), g) in out.chunks_mut(n).zip(y.chunks(n)).zip(g.chunks(n)) {
                    let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                    for ((o, y), g) in o.iter_mut().zip(y).zip(g) {
                        *o = y * (g - dot);
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

pub(crate) fn softmax_last_dim(xs: &Tensor) -> candle_core::Result<Tensor> {
    xs.contiguous()?.apply_op1(Softmax)
}

// ---------------------------------------------------------------------------------------------
// GELU (erf).

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/sqrt(2 pi)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "wick-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "gelu")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(16384)
            .zip(x.par_chunks(16384))
            .for_each(|(o, x)| {
                for (o, &x) in o.iter_mut().zip(x) {
                    let erf = fast_math::erf_f32(x * FRAC_1_SQRT_2);
                    *o = (x * 0.5) * (erf + 1.0);
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        Ok(Some(
            arg.contiguous()?
                .apply_op2_no_bwd(&grad.contiguous()?, &GeluErfBwd)?,
        ))
    }
}

/// `d/dx [x/2 (1 + erf(x/sqrt2))] = (1 + erf(x/sqrt2))/2 + x exp(-x^2/2)/sqrt(2 pi)`.
struct GeluErfBwd;

impl CustomOp2 for GeluErfBwd {
    fn name(&self) -> &'static str {
        "wick-gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "gelu bwd")?;
        let g = f32_slice(s2, l2, "gelu bwd")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(16384)
            .zip(x.par_chunks(16384))
            .zip(g.par_chunks(16384))
            .for_each(|((o, x), g)| {
                for ((o, &x), &g) in o.iter_mut().zip(x).zip(g) {
                    let erf = fast_math::erf_f32(x * FRAC_1_SQRT_2);
                    let d =
                        0.5 * (1.0 + erf) + x * fast_math::exp_f32(-0.5 * x * x) * FRAC_1_SQRT_2PI;
                    *o = g * d;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

pub(crate) fn gelu_erf(xs: &Tensor) -> candle_core::Result<Tensor> {
    xs.contiguous()?.apply_op1(GeluErf)
}

// ---------------------------------------------------------------------------------------------
// LayerNorm over the last dimension (biased variance, as torch).

struct LayerNorm {
    eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "wick-layer-norm"
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
        let x = f32_slice(s1, l1, "layer norm")?;
        let w = f32_slice(s2, l2, "layer norm")?;
        let b = f32_slice(s3, l3, "layer norm")?;
        let n = w.len();
        if n == 0 || b.len() != n || l1.dims().last() != Some(&n) {
            candle_core::bail!("layer norm: weight/bias do not match the last dimension");
        }
        let eps = self.eps;
        let mut out = vec![0f32; x.len()];
        let chunk = n * rows_per_task(n);
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .for_each(|(out, x)| {
                for (o, x) in out.chunks_mut(n).zip(x.chunks(n)) {
                    let (mean, rstd) = moments(x, eps);
                    for i in 0..n {
                        o[i] = (x[i] - mean) * rstd * w[i] + b[i];
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let n = w.elem_count();
        let rows = x.elem_count() / n;
        // One kernel writes dx (rows) then dw and db (one row each).
        let packed = x.contiguous()?.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &LayerNormBwd { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = packed.narrow(0, rows, 1)?.reshape(w.shape())?;
        let db = packed.narrow(0, rows + 1, 1)?.reshape(w.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

#[inline]
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

struct LayerNormBwd {
    eps: f32,
}

impl CustomOp3 for LayerNormBwd {
    fn name(&self) -> &'static str {
        "wick-layer-norm-bwd"
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
        let x = f32_slice(s1, l1, "layer norm bwd")?;
        let w = f32_slice(s2, l2, "layer norm bwd")?;
        let g = f32_slice(s3, l3, "layer norm bwd")?;
        let n = w.len();
        let rows = x.len() / n;
        let eps = self.eps;
        let mut out = vec![0f32; (rows + 2) * n];
        let (dx_all, dwdb) = out.split_at_mut(rows * n);
        let chunk = n * rows_per_task(n);
        // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w; partial dw/db per task.
        let partials: Vec<Vec<f32>> = dx_all
            .par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .zip(g.par_chunks(chunk))
            .map(|((dx, x), g)| {
                let mut acc = vec![0f32; 2 * n];
                let mut xhat = vec![0f32; n];
                for ((dx, x), g) in dx.chunks_mut(n).zip(x.chunks(n)).zip(g.chunks(n)) {
                    let (mean, rstd) = moments(x, eps);
                    let mut sum_gw = 0f32;
                    let mut sum_gw_xhat = 0f32;
                    for i in 0..n {
                        xhat[i] = (x[i] - mean) * rstd;
                        let gw = g[i] * w[i];
                        sum_gw += gw;
                        sum_gw_xhat += gw * xhat[i];
                        acc[i] += g[i] * xhat[i];
                        acc[n + i] += g[i];
                    }
                    let mean_gw = sum_gw / n as f32;
                    let mean_gw_xhat = sum_gw_xhat / n as f32;
                    for i in 0..n {
                        dx[i] = rstd * (g[i] * w[i] - mean_gw - xhat[i] * mean_gw_xhat);
                    }
                }
                acc
            })
            .collect();
        for acc in partials {
            for (d, a) in dwdb.iter_mut().zip(acc) {
                *d += a;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, n))))
    }
}

pub(crate) fn layer_norm(
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> candle_core::Result<Tensor> {
    xs.contiguous()?
        .apply_op3(weight, bias, LayerNorm { eps: eps as f32 })
}

// ---------------------------------------------------------------------------------------------
// The sum over rows (a bias's gradient).

/// Sums over every row, `[.., n]` → `[n]`: each fixed chunk of rows in parallel, then the
/// chunks' sums in order, so the result does not depend on the threads (resume replays it).
struct SumOverRows;

impl CustomOp1 for SumOverRows {
    fn name(&self) -> &'static str {
        "wick-sum-over-rows"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let g = f32_slice(s, l, "sum over rows")?;
        let n = *l.dims().last().unwrap_or(&1);
        let partials: Vec<Vec<f32>> = g
            .par_chunks(n * rows_per_task(n))
            .map(|rows| {
                let mut acc = vec![0f32; n];
                for row in rows.chunks(n) {
                    for (a, g) in acc.iter_mut().zip(row) {
                        *a += g;
                    }
                }
                acc
            })
            .collect();
        let mut sums = vec![0f32; n];
        for partial in partials {
            for (s, p) in sums.iter_mut().zip(partial) {
                *s += p;
            }
        }
        Ok((CpuStorage::F32(sums), Shape::from(n)))
    }
}

/// The sum over the rows of `g` `[.., n]`: `[n]` (a bias's gradient), not differentiated.
pub(super) fn sum_over_rows(g: &Tensor) -> candle_core::Result<Tensor> {
    g.contiguous()?.apply_op1_no_bwd(&SumOverRows)
}

// ---------------------------------------------------------------------------------------------
// Dropout then a residual add: `x * keep / (1 - p) + residual`, with the mask drawn in
// parallel (a ChaCha stream per chunk of a seed) and kept as bytes for backward.

/// Elements per dropout chunk: each chunk draws from its own stream.
const DROPOUT_CHUNK: usize = 16384;

struct DropoutAdd {
    p: f32,
    seed: u64,
    /// The kept mask (1 = kept), saved by forward for backward.
    keep: std::sync::Mutex<Vec<u8>>,
}

impl CustomOp2 for DropoutAdd {
    fn name(&self) -> &'static str {
        "wick-dropout-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "dropout add")?;
        let residual = f32_slice(s2, l2, "dropout add")?;
        if l1.dims() != l2.dims() {
            candle_core::bail!("dropout add: {:?} and {:?}", l1.dims(), l2.dims());
        }
        let mut out = vec![0f32; x.len()];
        let mut keep = vec![0u8; x.len()];
        let scale = keep_scale(self.p);
        out.par_chunks_mut(DROPOUT_CHUNK)
            .zip(keep.par_chunks_mut(DROPOUT_CHUNK))
            .zip(
                x.par_chunks(DROPOUT_CHUNK)
                    .zip(residual.par_chunks(DROPOUT_CHUNK)),
            )
            .enumerate()
            .for_each(|(index, ((out, keep), (x, residual)))| {
                draw_keep_mask(self.p, self.seed, index as u64, keep);
                for (((o, k), x), r) in out.iter_mut().zip(keep.iter()).zip(x).zip(residual) {
                    *o = x * (*k as f32 * scale) + r;
                }
            });
        *self.keep.lock().unwrap_or_else(|e| e.into_inner()) = keep;
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _residual: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>)> {
        let keep = std::mem::take(&mut *self.keep.lock().unwrap_or_else(|e| e.into_inner()));
        let grad = grad.contiguous()?;
        let dx = {
            let (storage, layout) = grad.storage_and_layout();
            let candle_core::Storage::Cpu(storage) = &*storage else {
                candle_core::bail!("dropout add: backward on the CPU only");
            };
            let g = f32_slice(storage, layout, "dropout add bwd")?;
            if keep.len() != g.len() {
                candle_core::bail!("dropout add: backward without a saved forward");
            }
            let scale = keep_scale(self.p);
            let mut dx = vec![0f32; g.len()];
            dx.par_chunks_mut(DROPOUT_CHUNK)
                .zip(
                    g.par_chunks(DROPOUT_CHUNK)
                        .zip(keep.par_chunks(DROPOUT_CHUNK)),
                )
                .for_each(|(dx, (g, keep))| {
                    for ((d, g), k) in dx.iter_mut().zip(g).zip(keep) {
                        *d = g * (*k as f32 * scale);
                    }
                });
            dx
        };
        let dx = Tensor::from_vec(dx, grad.shape(), grad.device())?;
        Ok((Some(dx), Some(grad)))
    }
}

/// `dropout(xs) + residual` (HF semantics: zero with probability `p`, scale kept ones by
/// `1 / (1 - p)`), the masks drawn as `draw` says.
pub(crate) fn dropout_add(
    xs: &Tensor,
    residual: &Tensor,
    draw: DropoutDraw,
) -> candle_core::Result<Tensor> {
    let op = DropoutAdd {
        p: draw.p,
        seed: draw.seed,
        keep: std::sync::Mutex::new(Vec::new()),
    };
    xs.contiguous()?.apply_op2(&residual.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};

    fn composed_ln(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Tensor {
        let mean = x.mean_keepdim(D::Minus1).unwrap();
        let c = x.broadcast_sub(&mean).unwrap();
        let var = c.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        let normed = c
            .broadcast_div(&(var + eps).unwrap().sqrt().unwrap())
            .unwrap();
        normed.broadcast_mul(w).unwrap().broadcast_add(b).unwrap()
    }

    fn composed_softmax(x: &Tensor) -> Tensor {
        let max = x.max_keepdim(D::Minus1).unwrap().detach();
        let e = x.broadcast_sub(&max).unwrap().exp().unwrap();
        e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap()
    }

    fn composed_gelu(x: &Tensor) -> Tensor {
        let erf = (x * std::f64::consts::FRAC_1_SQRT_2)
            .unwrap()
            .erf()
            .unwrap();
        ((x * 0.5).unwrap() * (erf + 1.0).unwrap()).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    fn randn(shape: &[usize], seed: f64) -> Var {
        let d = Device::Cpu;
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f64 * 0.7311 + seed).sin() * 2.0) as f32)
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, shape, &d).unwrap()).unwrap()
    }

    /// A loss with a non-uniform weight so every gradient path is exercised.
    fn loss(y: &Tensor, probe: &Tensor) -> Tensor {
        (y * probe).unwrap().sum_all().unwrap()
    }

    #[test]
    fn layer_norm_matches_composed() {
        let x = randn(&[3, 5, 7], 0.1);
        let w = randn(&[7], 1.3);
        let b = randn(&[7], 2.2);
        let probe = randn(&[3, 5, 7], 3.7).as_tensor().detach();
        let fused = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-12).unwrap();
        let plain = composed_ln(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-12);
        assert!(max_diff(&fused, &plain) < 1e-5);
        let gf = loss(&fused, &probe).backward().unwrap();
        let gp = loss(&plain, &probe).backward().unwrap();
        for v in [&x, &w, &b] {
            let d = max_diff(
                gf.get(v.as_tensor()).unwrap(),
                gp.get(v.as_tensor()).unwrap(),
            );
            assert!(d < 1e-4, "{d}");
        }
    }

    #[test]
    fn softmax_matches_composed() {
        let x = randn(&[2, 3, 4, 9], 0.5);
        let probe = randn(&[2, 3, 4, 9], 1.1).as_tensor().detach();
        let fused = softmax_last_dim(x.as_tensor()).unwrap();
        let plain = composed_softmax(x.as_tensor());
        assert!(max_diff(&fused, &plain) < 1e-6);
        let gf = loss(&fused, &probe).backward().unwrap();
        let gp = loss(&plain, &probe).backward().unwrap();
        let d = max_diff(
            gf.get(x.as_tensor()).unwrap(),
            gp.get(x.as_tensor()).unwrap(),
        );
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn gelu_matches_composed() {
        let x = randn(&[4, 33], 0.9);
        let probe = randn(&[4, 33], 0.2).as_tensor().detach();
        let fused = gelu_erf(x.as_tensor()).unwrap();
        let plain = composed_gelu(x.as_tensor());
        assert!(max_diff(&fused, &plain) < 1e-6);
        let gf = loss(&fused, &probe).backward().unwrap();
        let gp = loss(&plain, &probe).backward().unwrap();
        let d = max_diff(
            gf.get(x.as_tensor()).unwrap(),
            gp.get(x.as_tensor()).unwrap(),
        );
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn sum_over_rows_matches_candles_sum() {
        // More rows than one task takes, so the sum comes from several chunks.
        let g = randn(&[3, 700, 33], 0.4).as_tensor().detach();
        let fused = sum_over_rows(&g).unwrap();
        let plain = g.sum((0, 1)).unwrap();
        assert!(max_diff(&fused, &plain) < 1e-3);
    }

    #[test]
    fn dropout_add_matches_composed_with_the_same_mask() {
        let shape = [2, 40_000];
        let (p, seed) = (0.1f32, 99);
        let x = randn(&shape, 0.3);
        let r = randn(&shape, 1.7);
        let probe = randn(&shape, 2.1).as_tensor().detach();
        let fused = dropout_add(x.as_tensor(), r.as_tensor(), DropoutDraw { p, seed }).unwrap();
        let mut keep = vec![0u8; 80_000];
        for (index, chunk) in keep.chunks_mut(DROPOUT_CHUNK).enumerate() {
            draw_keep_mask(p, seed, index as u64, chunk);
        }
        let dropped = keep.iter().filter(|k| **k == 0).count() as f64 / 80_000.0;
        assert!((dropped - 0.1).abs() < 0.01, "dropped {dropped}");
        let mask: Vec<f32> = keep.iter().map(|k| *k as f32 / (1.0 - p)).collect();
        let mask = Tensor::from_vec(mask, &shape, &Device::Cpu).unwrap();
        let plain = ((x.as_tensor() * &mask).unwrap() + r.as_tensor()).unwrap();
        assert!(max_diff(&fused, &plain) < 1e-6);
        let gf = loss(&fused, &probe).backward().unwrap();
        let gp = loss(&plain, &probe).backward().unwrap();
        for v in [&x, &r] {
            let d = max_diff(
                gf.get(v.as_tensor()).unwrap(),
                gp.get(v.as_tensor()).unwrap(),
            );
            assert!(d < 1e-6, "{d}");
        }
    }
}
