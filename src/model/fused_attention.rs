//! Self-attention as one CPU op with its own backward: scores, scale, key mask, softmax,
//! dropout and context for every (sequence, head) pair at once, in parallel over the pairs.
//!
//! Composed from candle ops, attention loops over per-head matmuls too small for gemm to
//! thread (one core works while the other waits), copies heads in and out of
//! `[batch, heads, seq, head_dim]`, and keeps several `[batch, heads, seq, seq]` tensors alive
//! for backward. Here queries, keys and values stay in the linear layers' `[rows, heads *
//! head_dim]` layout; each sequence is a segment of rows, so packed (unpadded) rows need no
//! mask and compute no padding at all. Backward keeps only the softmax output and, with
//! dropout, one byte per score for the mask, which it does not redraw.

use std::ops::Range;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use super::dropout::{DropoutDraw, draw_keep_mask, keep_scale};
use super::fast_math;
use super::fused::f32_slice;

type CResult<T> = candle_core::Result<T>;

/// One sequence: its query rows attend to its key rows (the same rows for full attention;
/// its first row alone for a [CLS]-only layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub queries: Range<usize>,
    pub keys: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct AttentionSpec {
    pub heads: usize,
    pub head_dim: usize,
    pub segments: Vec<Segment>,
    /// Added to every score of a key row (the padded layout's additive mask), or `None` when
    /// every key row is a real token.
    pub key_bias: Option<Vec<f32>>,
    pub dropout: Option<DropoutDraw>,
}

/// `softmax(q kᵀ / sqrt(head_dim) + key_bias) v` per segment and head, with dropout on the
/// probabilities. `q` is `[query_rows, heads * head_dim]`, `k` and `v` `[key_rows, heads *
/// head_dim]` (contiguous f32 on the CPU); returns `[query_rows, heads * head_dim]`.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    spec: AttentionSpec,
) -> candle_core::Result<Tensor> {
    let plan = Plan::new(spec, q.dims2()?.0, k.dims2()?.0, q.dims2()?.1)?;
    if v.dims2()? != k.dims2()? || k.dims2()?.1 != q.dims2()?.1 {
        candle_core::bail!(
            "fused attention: q {:?}, k {:?}, v {:?}",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    let saves = q.track_op() || k.track_op() || v.track_op();
    let op = FusedAttention {
        plan,
        saves,
        saved: Mutex::new(None),
    };
    q.contiguous()?
        .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
}

/// The checked spec with each (segment, head) block's offset into the saved probabilities.
#[derive(Debug)]
struct Plan {
    spec: AttentionSpec,
    /// `block_offsets[segment * heads + head]`; the last entry is the total.
    block_offsets: Vec<usize>,
    width: usize,
    query_rows: usize,
    key_rows: usize,
}

impl Plan {
    /// Checks what the kernels' unchecked writes rely on: segments in order, disjoint and in
    /// bounds, so that no two blocks write the same output rows.
    fn new(spec: AttentionSpec, query_rows: usize, key_rows: usize, width: usize) -> CResult<Self> {
        if width != spec.heads * spec.head_dim || spec.head_dim == 0 {
            candle_core::bail!(
                "fused attention: width {width} is not {} heads x {}",
                spec.heads,
                spec.head_dim
            );
        }
        let (mut q_end, mut k_end) = (0, 0);
        for s in &spec.segments {
            if s.queries.start < q_end
                || s.keys.start < k_end
                || s.queries.end > query_rows
                || s.keys.end > key_rows
                || s.queries.start > s.queries.end
                || s.keys.is_empty()
            {
                candle_core::bail!("fused attention: bad segment {s:?}");
            }
            (q_end, k_end) = (s.queries.end, s.keys.end);
        }
        if spec.key_bias.as_ref().is_some_and(|b| b.len() != key_rows) {
            candle_core::bail!("fused attention: key bias is not one value per key row");
        }
        let mut block_offsets = Vec::with_capacity(spec.segments.len() * spec.heads + 1);
        let mut total = 0;
        for s in &spec.segments {
            for _ in 0..spec.heads {
                block_offsets.push(total);
                total += s.queries.len() * s.keys.len();
            }
        }
        block_offsets.push(total);
        Ok(Self {
            spec,
            block_offsets,
            width,
            query_rows,
            key_rows,
        })
    }

    /// The unsafe kernels read `rows x width` elements from each input: check the buffers
    /// hold exactly that.
    fn check_lengths(&self, q: &[f32], k: &[f32], v: &[f32], grad: Option<&[f32]>) -> CResult<()> {
        let (queries, keys) = (self.query_rows * self.width, self.key_rows * self.width);
        if q.len() != queries
            || k.len() != keys
            || v.len() != keys
            || grad.is_some_and(|g| g.len() != queries)
        {
            candle_core::bail!("fused attention: buffers do not match the plan");
        }
        Ok(())
    }

    fn blocks(&self) -> usize {
        self.block_offsets.len() - 1
    }

    fn block(&self, index: usize) -> Block {
        let heads = self.spec.heads;
        let segment = &self.spec.segments[index / heads];
        Block {
            index,
            head: index % heads,
            queries: segment.queries.clone(),
            keys: segment.keys.clone(),
            offset: self.block_offsets[index],
        }
    }

    fn scale(&self) -> f32 {
        1.0 / (self.spec.head_dim as f32).sqrt()
    }

    /// The factor kept probabilities are multiplied by.
    fn keep_scale(&self) -> f32 {
        self.spec.dropout.map_or(1.0, |d| keep_scale(d.p))
    }
}

/// One (segment, head) pair: a `queries.len() x keys.len()` block of scores.
struct Block {
    index: usize,
    head: usize,
    queries: Range<usize>,
    keys: Range<usize>,
    offset: usize,
}

/// Which inputs backward computes a gradient for (those that are trained, or lead to a
/// trained parameter).
#[derive(Clone, Copy)]
struct Wanted {
    q: bool,
    k: bool,
    v: bool,
}

/// What forward leaves for backward.
struct Saved {
    probs: Vec<f32>,
    /// 1 where dropout kept the probability; empty without dropout.
    keep: Vec<u8>,
}

struct FusedAttention {
    plan: Plan,
    saves: bool,
    saved: Mutex<Option<Saved>>,
}

/// A pointer shared by the parallel blocks, each of which writes only its own rows/columns.
struct SharedMut<T>(*mut T);

impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SharedMut<T> {}

// SAFETY: blocks write disjoint regions (checked by `Plan::new`).
unsafe impl<T> Send for SharedMut<T> {}
// SAFETY: as for Send: the blocks write disjoint regions.
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    fn new(data: &mut [T]) -> Self {
        Self(data.as_mut_ptr())
    }

    /// Through a method, so that closures capture the whole (Sync) wrapper, not its field.
    fn get(self) -> *mut T {
        self.0
    }
}

/// A strided matrix view: element `(r, c)` at `ptr + r * rs + c * cs`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

impl View {
    fn rows(ptr: *const f32, row_stride: usize) -> Self {
        Self {
            ptr,
            rs: row_stride as isize,
            cs: 1,
        }
    }

    fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// `dst (m x n) = beta * lhs (m x k) · rhs (k x n)` on this thread (the blocks are the
/// parallelism).
///
/// # Safety
/// Every view must be valid for its extent; `dst` must not be written by another thread.
unsafe fn matmul(m: usize, n: usize, k: usize, dst: View, lhs: View, rhs: View, beta: f32) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the caller's contract (valid views, `dst` this thread's own).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.ptr as *mut f32,
            dst.cs,
            dst.rs,
            false,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            0.0,
            beta,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// In place: `row = softmax(row + bias)` (the scores are already scaled).
fn softmax_row(row: &mut [f32], bias: Option<&[f32]>) {
    if let Some(bias) = bias {
        for (x, b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for x in row.iter_mut() {
        *x = fast_math::exp_f32(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

impl FusedAttention {
    fn forward(&self, q: &[f32], k: &[f32], v: &[f32]) -> (Vec<f32>, Saved) {
        let plan = &self.plan;
        let width = plan.width;
        let d = plan.spec.head_dim;
        let mut out = vec![0f32; plan.query_rows * width];
        let mut probs = vec![0f32; plan.block_offsets[plan.blocks()]];
        let mut keep = match plan.spec.dropout {
            Some(_) => vec![0u8; probs.len()],
            None => Vec::new(),
        };
        let (out_ptr, probs_ptr) = (SharedMut::new(&mut out), SharedMut::new(&mut probs));
        let keep_ptr = SharedMut::new(&mut keep);
        let (scale, keep_scale) = (plan.scale(), plan.keep_scale());
        (0..plan.blocks()).into_par_iter().for_each(|index| {
            let block = plan.block(index);
            let (lq, lk) = (block.queries.len(), block.keys.len());
            if lq == 0 {
                return;
            }
            let col = block.head * d;
            // SAFETY: the block's probabilities are its own (`block_offsets` do not overlap).
            let probs = unsafe {
                std::slice::from_raw_parts_mut(probs_ptr.get().add(block.offset), lq * lk)
            };
            // SAFETY: `probs` is this block's own slice; q and k hold the block's rows (Plan::new).
            unsafe {
                matmul(
                    lq,
                    lk,
                    d,
                    View::rows(probs.as_mut_ptr(), lk),
                    View::rows(q[block.queries.start * width + col..].as_ptr(), width),
                    View::rows(k[block.keys.start * width + col..].as_ptr(), width).t(),
                    scale,
                );
            }
            let bias = plan.spec.key_bias.as_ref().map(|b| &b[block.keys.clone()]);
            for row in probs.chunks_mut(lk) {
                softmax_row(row, bias);
            }
            let mut dropped: Vec<f32> = Vec::new();
            if let Some(dropout) = plan.spec.dropout {
                // SAFETY: the block's own mask bytes (`block_offsets` do not overlap).
                let keep = unsafe {
                    std::slice::from_raw_parts_mut(keep_ptr.get().add(block.offset), lq * lk)
                };
                draw_keep_mask(dropout.p, dropout.seed, block.index as u64, keep);
                dropped = probs
                    .iter()
                    .zip(keep.iter())
                    .map(|(p, k)| p * (*k as f32 * keep_scale))
                    .collect();
            }
            let weights = if dropped.is_empty() {
                &*probs
            } else {
                &dropped
            };
            // SAFETY: the output rows and head columns are this block's own; v holds its key rows.
            unsafe {
                matmul(
                    lq,
                    d,
                    lk,
                    View::rows(out_ptr.get().add(block.queries.start * width + col), width),
                    View::rows(weights.as_ptr(), lk),
                    View::rows(v[block.keys.start * width + col..].as_ptr(), width),
                    1.0,
                );
            }
        });
        (out, Saved { probs, keep })
    }

    /// Gradients of `q`, `k` and `v`, each only where `want` asks for it (empty otherwise:
    /// e.g. LoRA on queries and values leaves the key projection frozen).
    fn backward(
        &self,
        saved: &Saved,
        (q, k, v): (&[f32], &[f32], &[f32]),
        grad: &[f32],
        want: Wanted,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let plan = &self.plan;
        let width = plan.width;
        let d = plan.spec.head_dim;
        let buffer = |wanted: bool, rows: usize| vec![0f32; if wanted { rows * width } else { 0 }];
        let mut dq = buffer(want.q, plan.query_rows);
        let mut dk = buffer(want.k, plan.key_rows);
        let mut dv = buffer(want.v, plan.key_rows);
        let (dq_ptr, dk_ptr, dv_ptr) = (
            SharedMut::new(&mut dq),
            SharedMut::new(&mut dk),
            SharedMut::new(&mut dv),
        );
        let (scale, keep_scale) = (plan.scale(), plan.keep_scale());
        (0..plan.blocks()).into_par_iter().for_each(|index| {
            let block = plan.block(index);
            let (lq, lk) = (block.queries.len(), block.keys.len());
            if lq == 0 {
                return;
            }
            let col = block.head * d;
            let probs = &saved.probs[block.offset..block.offset + lq * lk];
            let keep =
                (!saved.keep.is_empty()).then(|| &saved.keep[block.offset..block.offset + lq * lk]);
            let q_at = block.queries.start * width + col;
            let kv_at = block.keys.start * width + col;
            let grad_out = View::rows(grad[q_at..].as_ptr(), width);
            // d(weights) = dO · vᵀ, then through dropout: d(probs).
            let mut d_probs = vec![0f32; lq * lk];
            // SAFETY: `d_probs` is this block's; v holds its key rows.
            unsafe {
                matmul(
                    lq,
                    lk,
                    d,
                    View::rows(d_probs.as_mut_ptr(), lk),
                    grad_out,
                    View::rows(v[kv_at..].as_ptr(), width).t(),
                    1.0,
                );
            }
            // dv = weightsᵀ · dO, with the weights dropout applied in forward.
            let dropped: Vec<f32>;
            let weights = match keep {
                Some(keep) => {
                    dropped = probs
                        .iter()
                        .zip(keep)
                        .map(|(p, k)| p * (*k as f32 * keep_scale))
                        .collect();
                    for (g, k) in d_probs.iter_mut().zip(keep) {
                        *g *= *k as f32 * keep_scale;
                    }
                    &dropped[..]
                }
                None => probs,
            };
            if want.v {
                // SAFETY: dv's key rows and head columns are this block's own.
                unsafe {
                    matmul(
                        lk,
                        d,
                        lq,
                        View::rows(dv_ptr.get().add(kv_at), width),
                        View::rows(weights.as_ptr(), lk).t(),
                        grad_out,
                        1.0,
                    );
                }
            }
            // Softmax backward, in place: d(scores) = p * (dp - Σ dp·p).
            for (g, p) in d_probs.chunks_mut(lk).zip(probs.chunks(lk)) {
                let dot: f32 = g.iter().zip(p).map(|(g, p)| g * p).sum();
                for (g, p) in g.iter_mut().zip(p) {
                    *g = p * (*g - dot);
                }
            }
            let d_scores = View::rows(d_probs.as_ptr(), lk);
            // SAFETY: dq's and dk's rows and head columns are this block's own.
            unsafe {
                if want.q {
                    matmul(
                        lq,
                        d,
                        lk,
                        View::rows(dq_ptr.get().add(q_at), width),
                        d_scores,
                        View::rows(k[kv_at..].as_ptr(), width),
                        scale,
                    );
                }
                if want.k {
                    matmul(
                        lk,
                        d,
                        lq,
                        View::rows(dk_ptr.get().add(kv_at), width),
                        d_scores.t(),
                        View::rows(q[q_at..].as_ptr(), width),
                        scale,
                    );
                }
            }
        });
        (dq, dk, dv)
    }
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "wick-attention"
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
        let (q, k, v) = (
            f32_slice(s1, l1, "attention")?,
            f32_slice(s2, l2, "attention")?,
            f32_slice(s3, l3, "attention")?,
        );
        self.plan.check_lengths(q, k, v, None)?;
        let (out, saved) = self.forward(q, k, v);
        if self.saves {
            *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
        }
        Ok((
            CpuStorage::F32(out),
            Shape::from((self.plan.query_rows, self.plan.width)),
        ))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // One backward per forward (as every caller does): hand the saved probabilities over
        // and free them; a second backward through the same graph is refused.
        let Some(saved) = self.saved.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            candle_core::bail!("fused attention: backward without a saved forward");
        };
        let grad = grad.contiguous()?;
        let want = Wanted {
            q: q.track_op(),
            k: k.track_op(),
            v: v.track_op(),
        };
        let (dq, dk, dv) = {
            let (qs, ql) = q.storage_and_layout();
            let (ks, kl) = k.storage_and_layout();
            let (vs, vl) = v.storage_and_layout();
            let (gs, gl) = grad.storage_and_layout();
            let (Storage::Cpu(qs), Storage::Cpu(ks), Storage::Cpu(vs), Storage::Cpu(gs)) =
                (&*qs, &*ks, &*vs, &*gs)
            else {
                candle_core::bail!("fused attention: backward on the CPU only");
            };
            let inputs = (
                f32_slice(qs, ql, "attention bwd")?,
                f32_slice(ks, kl, "attention bwd")?,
                f32_slice(vs, vl, "attention bwd")?,
            );
            let grad = f32_slice(gs, gl, "attention bwd")?;
            self.plan
                .check_lengths(inputs.0, inputs.1, inputs.2, Some(grad))?;
            self.backward(&saved, inputs, grad, want)
        };
        let device = q.device();
        let (q_rows, k_rows, width) = (self.plan.query_rows, self.plan.key_rows, self.plan.width);
        let tensor = |wanted: bool, data: Vec<f32>, rows: usize| {
            wanted
                .then(|| Tensor::from_vec(data, (rows, width), device))
                .transpose()
        };
        Ok((
            tensor(want.q, dq, q_rows)?,
            tensor(want.k, dk, k_rows)?,
            tensor(want.v, dv, k_rows)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{max_relative, random_var, values};
    use super::*;
    use candle_core::{D, Device};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The same attention from candle's composed ops, block by block.
    fn composed(q: &Tensor, k: &Tensor, v: &Tensor, spec: &AttentionSpec) -> Tensor {
        let d = spec.head_dim;
        let scale = 1.0 / (d as f64).sqrt();
        let keep_scale = spec.dropout.map_or(1.0, |x| 1.0 / (1.0 - x.p as f64));
        let mut segments = Vec::new();
        for (s, segment) in spec.segments.iter().enumerate() {
            let (lq, lk) = (segment.queries.len(), segment.keys.len());
            let mut heads = Vec::new();
            for h in 0..spec.heads {
                let qb = q
                    .narrow(0, segment.queries.start, lq)
                    .unwrap()
                    .narrow(1, h * d, d);
                let kb = k
                    .narrow(0, segment.keys.start, lk)
                    .unwrap()
                    .narrow(1, h * d, d);
                let vb = v
                    .narrow(0, segment.keys.start, lk)
                    .unwrap()
                    .narrow(1, h * d, d);
                let (qb, kb, vb) = (qb.unwrap(), kb.unwrap(), vb.unwrap());
                let mut scores = (qb.matmul(&kb.t().unwrap()).unwrap() * scale).unwrap();
                if let Some(bias) = &spec.key_bias {
                    let b = Tensor::new(&bias[segment.keys.clone()], &Device::Cpu).unwrap();
                    scores = scores.broadcast_add(&b.unsqueeze(0).unwrap()).unwrap();
                }
                let max = scores.max_keepdim(D::Minus1).unwrap().detach();
                let e = scores.broadcast_sub(&max).unwrap().exp().unwrap();
                let mut probs = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
                if let Some(draw) = spec.dropout {
                    let mut keep = vec![0u8; lq * lk];
                    draw_keep_mask(draw.p, draw.seed, (s * spec.heads + h) as u64, &mut keep);
                    let mask: Vec<f32> = keep.iter().map(|k| *k as f32).collect();
                    let mask = Tensor::from_vec(mask, (lq, lk), &Device::Cpu).unwrap();
                    probs = ((probs * mask).unwrap() * keep_scale).unwrap();
                }
                heads.push(probs.matmul(&vb).unwrap());
            }
            segments.push(Tensor::cat(&heads, 1).unwrap());
        }
        Tensor::cat(&segments, 0).unwrap()
    }

    /// Values and the gradients of q, k and v, fused against composed.
    fn check(query_rows: usize, key_rows: usize, spec: AttentionSpec, seed: u64) {
        let width = spec.heads * spec.head_dim;
        let (q, k, v) = (
            random_var(&[query_rows, width], seed),
            random_var(&[key_rows, width], seed + 1),
            random_var(&[key_rows, width], seed + 2),
        );
        let probe = Tensor::from_vec(
            values(query_rows * width, seed + 3),
            (query_rows, width),
            &Device::Cpu,
        )
        .unwrap();
        let plain = composed(&q, &k, &v, &spec);
        let fused = attention(&q, &k, &v, spec).unwrap();
        let d = max_relative(&fused, &plain);
        assert!(d < 1e-5, "values differ by {d}");
        let fused_grads = (fused * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let plain_grads = (plain * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (name, x) in [("q", &q), ("k", &k), ("v", &v)] {
            let d = max_relative(
                fused_grads.get(x.as_tensor()).unwrap(),
                plain_grads.get(x.as_tensor()).unwrap(),
            );
            assert!(d < 1e-5, "gradient of {name} differs by {d}");
        }
    }

    /// Packed sequences of random lengths (one of a single token), every row a query.
    fn packed(lengths: &[usize]) -> (usize, Vec<Segment>) {
        let mut start = 0;
        let segments = lengths
            .iter()
            .map(|len| {
                let rows = start..start + len;
                start += len;
                Segment {
                    queries: rows.clone(),
                    keys: rows,
                }
            })
            .collect();
        (start, segments)
    }

    #[test]
    fn packed_segments_match_composed() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for round in 0..4u64 {
            let mut lengths: Vec<usize> = (0..1 + round as usize * 2)
                .map(|_| rng.random_range(1..20))
                .collect();
            lengths[0] = 1;
            let (rows, segments) = packed(&lengths);
            let spec = AttentionSpec {
                heads: rng.random_range(1..4),
                head_dim: rng.random_range(1..9),
                segments,
                key_bias: None,
                dropout: None,
            };
            check(rows, rows, spec, round * 10);
        }
    }

    #[test]
    fn padded_rows_with_a_mask_match_composed() {
        // Three rows of 6: partly padded, fully padded, unpadded (HF's additive mask values).
        let seq = 6;
        let bias: Vec<f32> = [
            [0.0; 4].as_slice(),
            &[f32::MIN; 2],
            &[f32::MIN; 6],
            &[0.0; 6],
        ]
        .concat();
        let segments = (0..3)
            .map(|b| Segment {
                queries: b * seq..(b + 1) * seq,
                keys: b * seq..(b + 1) * seq,
            })
            .collect();
        let spec = AttentionSpec {
            heads: 2,
            head_dim: 5,
            segments,
            key_bias: Some(bias),
            dropout: None,
        };
        check(18, 18, spec, 40);
    }

    #[test]
    fn first_row_queries_match_composed() {
        // A [CLS]-only layer: one query per sequence against all of its keys; also a batch
        // of one.
        for lengths in [vec![7, 1, 12], vec![9]] {
            let (rows, key_segments) = packed(&lengths);
            let segments: Vec<Segment> = key_segments
                .into_iter()
                .enumerate()
                .map(|(b, s)| Segment {
                    queries: b..b + 1,
                    keys: s.keys,
                })
                .collect();
            let spec = AttentionSpec {
                heads: 3,
                head_dim: 4,
                segments,
                key_bias: None,
                dropout: None,
            };
            check(lengths.len(), rows, spec, 50);
        }
    }

    #[test]
    fn dropout_matches_composed_with_the_same_masks() {
        let (rows, segments) = packed(&[5, 13, 1, 8]);
        let spec = AttentionSpec {
            heads: 2,
            head_dim: 6,
            segments,
            key_bias: None,
            dropout: Some(DropoutDraw { p: 0.3, seed: 7 }),
        };
        check(rows, rows, spec, 60);
        let mut keep = vec![0u8; 4000];
        draw_keep_mask(0.3, 7, 1, &mut keep);
        let dropped = keep.iter().filter(|k| **k == 0).count() as f64 / 4000.0;
        assert!((dropped - 0.3).abs() < 0.03, "dropped {dropped}");
    }

    #[test]
    fn overlapping_or_out_of_range_segments_are_refused() {
        let q = Tensor::zeros((4, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        for segments in [
            vec![
                Segment {
                    queries: 0..3,
                    keys: 0..3,
                },
                Segment {
                    queries: 2..4,
                    keys: 3..4,
                },
            ],
            vec![Segment {
                queries: 0..5,
                keys: 0..4,
            }],
            vec![Segment {
                queries: 0..1,
                keys: 1..1,
            }],
        ] {
            let spec = AttentionSpec {
                heads: 2,
                head_dim: 2,
                segments,
                key_bias: None,
                dropout: None,
            };
            assert!(attention(&q, &q, &q, spec).is_err());
        }
    }
}
