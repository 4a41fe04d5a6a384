//! Lite0's 1×1 convolutions in inference: `out = act(x · W + b) [+ residual]` on
//! channels-last rows, as a register-tiled matrix product with the epilogue fused in.
//!
//! Why not a general `gemm`: it packs both operands on every call (the activations, and the
//! weights once per row block), writes the product and then reads it back for the bias and
//! activation, and splits a small product (the 7×7 layers of a single image: 49 rows) into
//! row blocks that each pack the whole weight matrix again. Here the weights are packed once,
//! when batch norm is folded into them ([`pack_panels`]); the activations are read where they
//! lie; each tile's accumulators start at the bias and go through the activation and the
//! residual on their way out; and a small product is split by output channels instead.
//!
//! The tile is `R` rows × `NZ` panels of 16 output channels: 12 × 2 with AVX-512 (24
//! accumulators of its 32 registers), 6 × 1 elsewhere (12 of AVX2's 16). Each step of the
//! reduction loads `NZ` weight vectors and broadcasts one input value per row, so every load
//! feeds two fused multiply-adds or more.

use std::ops::Range;

use rayon::prelude::*;

use crate::model::depthwise::Activation;
#[cfg(target_arch = "x86_64")]
use crate::model::f32x16::{Avx2, Avx512};
use crate::model::f32x16::{F32x16, LANES, Portable};
use crate::simd::{Simd, multiversion};

/// Output channels per weight panel: one vector.
pub(crate) const PANEL: usize = LANES;

/// Panels of a layer with `n` output channels (the last one zero-padded).
pub(crate) fn panel_count(n: usize) -> usize {
    n.div_ceil(PANEL)
}

/// Packs `(K + 1) × N` row-major weights (the bias as the last row) into
/// [`panel_count`]`(N)` panels of `(K + 1) × 16`, each holding 16 output channels (columns
/// past `N` are zero): the layout [`pointwise`] reads one contiguous vector per step.
pub(crate) fn pack_panels(matrix: &[f32], k: usize, n: usize) -> Vec<f32> {
    assert_eq!(
        matrix.len(),
        (k + 1) * n,
        "pack_panels: a (K + 1) × N matrix"
    );
    let stride = (k + 1) * PANEL;
    let mut out = vec![0f32; panel_count(n) * stride];
    for (row, values) in matrix.chunks_exact(n.max(1)).enumerate().take(k + 1) {
        for (col, &v) in values.iter().enumerate() {
            out[(col / PANEL) * stride + row * PANEL + col % PANEL] = v;
        }
    }
    out
}

/// The operands of one product, shared by every tile.
#[derive(Clone, Copy)]
struct Operands {
    /// The input rows: row `i`'s value `kk` is `x[i · x_step + kk]`, or, with `x_offsets`,
    /// `x[i · x_step + x_offsets[kk]]`.
    x: *const f32,
    x_step: usize,
    /// `K` offsets, or null.
    x_offsets: *const usize,
    k: usize,
    /// [`pack_panels`]' layout.
    panels: *const f32,
    n: usize,
    /// `M × N` output rows.
    out: *mut f32,
    /// `M × N` rows added after the activation, or null.
    residual: *const f32,
    activation: Activation,
}

// SAFETY: the pointers are only dereferenced inside `pointwise`, which keeps the buffers
// borrowed for as long as the tasks run; the tasks write disjoint tiles of `out`.
unsafe impl Send for Operands {}
// SAFETY: as above.
unsafe impl Sync for Operands {}

/// A packed 1×1 convolution: `K` inputs, `N` outputs, the panels from [`pack_panels`] and the
/// activation.
#[derive(Clone, Copy)]
pub(crate) struct Packed<'a> {
    pub panels: &'a [f32],
    pub k: usize,
    pub n: usize,
    pub activation: Activation,
}

/// `out = act(x · W + b) [+ residual]` for `x` `M × K` and `out` (and `residual`) `M × N`,
/// on the instruction set `simd` with rayon's threads. Writes every element of `out`.
pub(crate) fn pointwise(
    simd: Simd,
    layer: Packed<'_>,
    x: &[f32],
    residual: Option<&[f32]>,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    product(
        simd,
        layer,
        x,
        None,
        residual,
        out,
        rayon::current_num_threads().max(1),
    )
}

/// [`pointwise`] on the calling thread alone: for a caller that is already one of several
/// parallel tasks (the bands of a fused block, the stem's bands).
pub(crate) fn pointwise_here(
    simd: Simd,
    layer: Packed<'_>,
    x: &[f32],
    residual: Option<&[f32]>,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    product(simd, layer, x, None, residual, out, 1)
}

/// [`pointwise_here`] on rows whose values lie apart in `x`: row `i`'s value `kk` is
/// `x[i · step + offsets[kk]]`. A convolution's windows are read where they lie (the stem's
/// pixels away from the borders) instead of being copied into rows first.
pub(crate) fn pointwise_strided_here(
    simd: Simd,
    layer: Packed<'_>,
    x: &[f32],
    (step, offsets): (usize, &[usize]),
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    product(simd, layer, x, Some((step, offsets)), None, out, 1)
}

fn product(
    simd: Simd,
    layer: Packed<'_>,
    x: &[f32],
    strided: Option<(usize, &[usize])>,
    residual: Option<&[f32]>,
    out: &mut [std::mem::MaybeUninit<f32>],
    threads: usize,
) {
    let Packed {
        panels,
        k,
        n,
        activation,
    } = layer;
    let m = out.len() / n.max(1);
    // The last value the rows read, plus one.
    let read = match strided {
        None => m * k,
        Some((step, offsets)) => {
            let last = offsets.iter().max().map_or(0, |&o| o + 1);
            assert!(
                offsets.len() == k,
                "pointwise: {} offsets for {k} values",
                offsets.len()
            );
            m.checked_sub(1).map_or(0, |rows| rows * step + last)
        }
    };
    assert!(
        (x.len() == read || strided.is_some() && x.len() >= read)
            && out.len() == m * n
            && panels.len() == panel_count(n) * (k + 1) * PANEL
            && residual.is_none_or(|r| r.len() == m * n),
        "pointwise: operands do not match {m} × {k} · {k} × {n}"
    );
    if m == 0 || n == 0 {
        return;
    }
    let ops = Operands {
        x: x.as_ptr(),
        x_step: strided.map_or(k, |(step, _)| step),
        x_offsets: strided.map_or(std::ptr::null(), |(_, offsets)| offsets.as_ptr()),
        k,
        panels: panels.as_ptr(),
        n,
        out: out.as_mut_ptr().cast::<f32>(),
        residual: residual.map_or(std::ptr::null(), <[f32]>::as_ptr),
        activation,
    };
    let plan = Plan::new(m, k, n, threads);
    let task = |t: usize| {
        let (rows, panels) = plan.task(t);
        // SAFETY: `ops` points into the buffers checked above, borrowed until every task
        // has run; each task's rows × panels are its own, so no two write the same element.
        unsafe { run_tiles(simd, &ops, rows, panels) };
    };
    if threads == 1 {
        (0..plan.tasks()).for_each(task);
    } else {
        (0..plan.tasks()).into_par_iter().for_each(task);
    }
}

/// How a product is cut into tasks: row blocks whose input stays in the core's cache, and
/// for a product with few rows, groups of panels, so that every thread has work.
struct Plan {
    m: usize,
    rows: usize,
    row_blocks: usize,
    panels: usize,
    panel_groups: usize,
}

/// Rows per tile of the widest kernel: the cache never asks for smaller row blocks.
const ROW_ALIGN: usize = 12;
/// Floats of input and output rows a task should keep in the core's cache (256 KiB).
const TASK_FLOATS: usize = 64 * 1024;

impl Plan {
    fn new(m: usize, k: usize, n: usize, threads: usize) -> Self {
        let panels = panel_count(n);
        let rows = if threads > 1 && m < n {
            // More weights than rows (the late layers of a single image): every task takes
            // all the rows and its own panels, so that each weight is read once.
            m
        } else {
            // Blocks of equal height, at least two per thread and a multiple of the thread
            // count, so that the threads end together: 196 rows (a single image's 14×14
            // layers) in blocks of 36 went 108 rows to one thread and 88 to the other; in
            // blocks of 49 (the tail tiles of `row_tiles` take the odd heights) batch 1 gained
            // 1.6 % in alternating passes on Zen 5.
            let by_cache = (TASK_FLOATS / (k + n)).max(ROW_ALIGN);
            let mut count = m.div_ceil(by_cache);
            if threads > 1 {
                count = count.max(threads * 2).div_ceil(threads) * threads;
            }
            m.div_ceil(count.max(1)).max(1)
        };
        let row_blocks = m.div_ceil(rows);
        // Too few row blocks to share: split the output channels too, in pairs of panels.
        let panel_groups = if threads > 1 && row_blocks < threads * 2 {
            (threads * 4)
                .div_ceil(row_blocks)
                .min(panels.div_ceil(2))
                .max(1)
        } else {
            1
        };
        Self {
            m,
            rows,
            row_blocks,
            panels,
            panel_groups,
        }
    }

    fn tasks(&self) -> usize {
        self.row_blocks * self.panel_groups
    }

    /// Task `t`'s rows and panels.
    fn task(&self, t: usize) -> (Range<usize>, Range<usize>) {
        let (block, group) = (t / self.panel_groups, t % self.panel_groups);
        let r0 = block * self.rows;
        // Groups of whole pairs, the odd panel (if any) in the last group.
        let pairs = self.panels.div_ceil(2);
        let p0 = (group * pairs / self.panel_groups * 2).min(self.panels);
        let p1 = ((group + 1) * pairs / self.panel_groups * 2).min(self.panels);
        (r0..(r0 + self.rows).min(self.m), p0..p1)
    }
}

multiversion!(run_tiles_impl => run_tiles_body::<Avx512, Avx2, Portable>(
    ops: &Operands,
    rows: Range<usize>,
    panels: Range<usize>,
));

/// # Safety
/// `ops` points to live buffers of the sizes it names, and no other thread writes `rows` ×
/// `panels` of its output meanwhile.
unsafe fn run_tiles(simd: Simd, ops: &Operands, rows: Range<usize>, panels: Range<usize>) {
    run_tiles_impl(simd, ops, rows, panels)
}

/// # Safety
/// `V`'s instruction set is available, and [`run_tiles`]' contract holds.
#[inline(always)]
unsafe fn run_tiles_body<V: F32x16>(ops: &Operands, rows: Range<usize>, panels: Range<usize>) {
    // SAFETY (all arms): the function's contract.
    unsafe {
        if V::REGISTERS < 32 {
            panel_pairs::<V, 6, 1>(ops, rows, panels)
        } else if ops.x_offsets.is_null() {
            panel_pairs::<V, 12, 2>(ops, rows, panels)
        } else {
            // Rows read at offsets (the stem): LLVM hoists each step's 12 broadcasts ahead of
            // the multiply-adds there, and 12 + 2 + 24 registers do not fit in 32, so 6
            // accumulators went to the stack and back on every step (the stem's product ran
            // at ~110 GFLOP/s on one Zen 5 core). 10 rows fit: batch 1 +1.3 %, batch 32
            // +0.8 % in alternating passes.
            panel_pairs::<V, 10, 2>(ops, rows, panels)
        }
    }
}

/// Output floats of the rows that go through every panel before the next rows start (64 KiB):
/// each output line is then written whole while it is in cache, not a panel at a time.
const STRIP_FLOATS: usize = 16 * 1024;

/// Strips of rows, and in each the panels `NZ` at a time (the odd one alone), the tiles of one
/// group fetching the next group's weights as they go. In a pass the weights come from L3 or
/// memory (a 7×7 layer's weights reach 1.6 MB, the network's 19 MB), and a group's first
/// tile would otherwise wait on them: single-threaded with cold weights, a 49 × 192 ·
/// 192 × 1152 product went from 145 to 202 GFLOP/s with the prefetch (Zen 5; 239 → 229 with
/// hot weights), and whole passes on 2 cores by +1–2 % at batch 1 and +3–4 % at batch 32
/// (ARCHITECTURE.md §13, finding 4).
///
/// # Safety
/// As [`run_tiles_body`].
#[inline(always)]
unsafe fn panel_pairs<V: F32x16, const R: usize, const NZ: usize>(
    ops: &Operands,
    rows: Range<usize>,
    panels: Range<usize>,
) {
    let width = (panels.end - panels.start) * PANEL;
    let strip = (STRIP_FLOATS / width.max(1)).max(R) / R * R;
    let mut r = rows.start;
    while r < rows.end {
        let strip_rows = r..(r + strip).min(rows.end);
        let mut p = panels.start;
        // SAFETY (all calls): the function's contract; `p + NZ ≤ panels.end`, and the
        // next group's panels too.
        unsafe {
            while p + NZ <= panels.end {
                let next = (p + 2 * NZ <= panels.end).then_some(p + NZ);
                row_tiles::<V, R, NZ>(ops, strip_rows.clone(), p, next);
                p += NZ;
            }
            while p < panels.end {
                row_tiles::<V, R, 1>(ops, strip_rows.clone(), p, None);
                p += 1;
            }
        }
        r = strip_rows.end;
    }
}

/// Rows `R` at a time, the last `R + rest` of them (`0 < rest < R`) as two tiles of about
/// equal height, and fewer than `R` rows as one tile; with `next`, each tile also fetches
/// panels `next..next + NZ` into the cache ahead of their turn.
///
/// # Safety
/// As [`run_tiles_body`], with panels `p..p + NZ` (and `next..next + NZ`) in range.
#[inline(always)]
unsafe fn row_tiles<V: F32x16, const R: usize, const NZ: usize>(
    ops: &Operands,
    rows: Range<usize>,
    p: usize,
    next: Option<usize>,
) {
    // SAFETY: panel `q` is one of the product's panels (the function's contract).
    let next = next.map_or(std::ptr::null(), |q| unsafe {
        ops.panels.add(q * (ops.k + 1) * PANEL)
    });
    let mut r = rows.start;
    let len = rows.len();
    let whole = if len > R && !len.is_multiple_of(R) {
        len / R - 1
    } else {
        len / R
    };
    // SAFETY (all calls): the function's contract; each tile's rows lie in `rows`.
    unsafe {
        for _ in 0..whole {
            tile::<V, R, NZ>(ops, r, p, next);
            r += R;
        }
        let left = rows.end - r;
        let first = if left > R { left.div_ceil(2) } else { left };
        for height in [first, left - first] {
            short_tile::<V, R, NZ>(ops, r, height, p, next);
            r += height;
        }
    }
}

/// One tile of `height ≤ R` rows from `r` (nothing for 0): the tail of [`row_tiles`]. A tile
/// of one row leaves the multiply-adds waiting on each other (2 chains, 4 cycles each), so a
/// 49-row product (a single image's 7×7 layers) as 12 + 12 + 12 + 12 + 1 rows spent a third
/// of a full tile's time on its last row; as 12 + 12 + 12 + 7 + 6 it does not.
///
/// # Safety
/// As [`row_tiles`], with rows `r..r + height` in range.
#[inline(always)]
unsafe fn short_tile<V: F32x16, const R: usize, const NZ: usize>(
    ops: &Operands,
    r: usize,
    height: usize,
    p: usize,
    next: *const f32,
) {
    // SAFETY (all arms): the function's contract. Only heights up to `R` come (`row_tiles`),
    // so the arms past it, compiled for every `R`, never run for the narrower one.
    unsafe {
        match height.min(R) {
            0 => {}
            1 => tile::<V, 1, NZ>(ops, r, p, next),
            2 => tile::<V, 2, NZ>(ops, r, p, next),
            3 => tile::<V, 3, NZ>(ops, r, p, next),
            4 => tile::<V, 4, NZ>(ops, r, p, next),
            5 => tile::<V, 5, NZ>(ops, r, p, next),
            6 => tile::<V, 6, NZ>(ops, r, p, next),
            7 => tile::<V, 7, NZ>(ops, r, p, next),
            8 => tile::<V, 8, NZ>(ops, r, p, next),
            9 => tile::<V, 9, NZ>(ops, r, p, next),
            10 => tile::<V, 10, NZ>(ops, r, p, next),
            11 => tile::<V, 11, NZ>(ops, r, p, next),
            _ => tile::<V, 12, NZ>(ops, r, p, next),
        }
    }
}

/// Rows `r..r + R` × panels `p..p + NZ`: accumulators start at the bias, take `K` steps of
/// `NZ` weight loads and `R` broadcasts, and leave through the activation and the residual.
/// The last panel's channels past `N` are computed (on zero weights) and not stored. Each
/// step also prefetches the same line of the `NZ` panels at `next` (unless null).
///
/// # Safety
/// As [`run_tiles_body`], with rows `r..r + R` and panels `p..p + NZ` in range, and `next`
/// null or the start of `NZ` panels in range.
#[inline(always)]
unsafe fn tile<V: F32x16, const R: usize, const NZ: usize>(
    ops: &Operands,
    r: usize,
    p: usize,
    next: *const f32,
) {
    let k = ops.k;
    let stride = (k + 1) * PANEL;
    // SAFETY (all blocks): every offset stays inside the buffers as `pointwise` checked
    // them: rows `< M`, `kk < K`, panel rows `≤ K`, panels `< panel_count(N)`, and output
    // columns `< N` (the partial panel is stored lane by lane).
    unsafe {
        let w = ops.panels.add(p * stride);
        let bias: [V; NZ] = std::array::from_fn(|j| V::load(w.add(j * stride + k * PANEL)));
        let acc = if ops.x_offsets.is_null() {
            steps::<V, R, NZ, false>(ops, r, w, next, bias)
        } else {
            steps::<V, R, NZ, true>(ops, r, w, next, bias)
        };
        for (i, row) in acc.into_iter().enumerate() {
            let at = (r + i) * ops.n;
            for (j, a) in row.into_iter().enumerate() {
                let col = (p + j) * PANEL;
                let mut v = a.activate(ops.activation);
                if col + PANEL <= ops.n {
                    if !ops.residual.is_null() {
                        v = v.add(V::load(ops.residual.add(at + col)));
                    }
                    v.store(ops.out.add(at + col));
                } else {
                    let mut lanes = [0f32; PANEL];
                    v.store(lanes.as_mut_ptr());
                    for (l, &y) in lanes.iter().enumerate().take(ops.n - col) {
                        let res = if ops.residual.is_null() {
                            0.0
                        } else {
                            *ops.residual.add(at + col + l)
                        };
                        *ops.out.add(at + col + l) = y + res;
                    }
                }
            }
        }
    }
}

/// The `K` steps of [`tile`] from the panels at `w`: the input values at their offsets when
/// `OFFSETS`, one after the other otherwise.
///
/// # Safety
/// As [`tile`], with `w` its first panel.
#[inline(always)]
unsafe fn steps<V: F32x16, const R: usize, const NZ: usize, const OFFSETS: bool>(
    ops: &Operands,
    r: usize,
    w: *const f32,
    next: *const f32,
    bias: [V; NZ],
) -> [[V; NZ]; R] {
    let (k, step, offsets) = (ops.k, ops.x_step, ops.x_offsets);
    let stride = (k + 1) * PANEL;
    let mut acc = [bias; R];
    // SAFETY (all blocks): as in `tile`; with offsets, `product` checked that every row's
    // values lie in `x`.
    unsafe {
        let x = ops.x.add(r * step);
        for kk in 0..k {
            if !next.is_null() {
                for j in 0..NZ {
                    prefetch(next.add(j * stride + kk * PANEL));
                }
            }
            let at = if OFFSETS { *offsets.add(kk) } else { kk };
            let wv: [V; NZ] = std::array::from_fn(|j| V::load(w.add(j * stride + kk * PANEL)));
            for (i, row) in acc.iter_mut().enumerate() {
                let v = V::splat(*x.add(i * step + at));
                for (a, w) in row.iter_mut().zip(wv) {
                    *a = v.mul_add(w, *a);
                }
            }
        }
    }
    acc
}

/// Asks for the cache line at `at` ahead of its use (nothing on other architectures).
#[inline(always)]
fn prefetch(at: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it reads nothing and faults on no address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product in plain loops, in f64.
    fn reference(
        x: &[f32],
        k: usize,
        matrix: &[f32],
        n: usize,
        residual: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        let m = x.len() / k.max(1);
        let m = if k == 0 {
            residual.map_or(3, |r| r.len() / n)
        } else {
            m
        };
        let mut out = vec![0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                let mut acc = f64::from(matrix[k * n + c]);
                for i in 0..k {
                    acc += f64::from(x[r * k + i]) * f64::from(matrix[i * n + c]);
                }
                let y = activation.apply(acc as f32);
                out[r * n + c] = y + residual.map_or(0.0, |res| res[r * n + c]);
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let h = (i as u32 ^ seed).wrapping_mul(2_654_435_761);
                (h >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn every_instruction_set_matches_plain_loops_on_every_shape() {
        // Rows that give every tile height from 1 to 12 (a whole tile, a short product, the
        // two tiles of a tail); widths with partial and odd panels; one row (split by
        // panels) and many (split by rows).
        let shapes = [
            (1, 16, 24),
            (2, 9, 16),
            (3, 16, 24),
            (5, 12, 40),
            (7, 3, 40),
            (10, 7, 16),
            (17, 8, 32),
            (23, 5, 48),
            (13, 24, 144),
            (49, 192, 80),
            (50, 40, 16),
            (301, 33, 8),
            (1000, 96, 24),
        ];
        for simd in Simd::available() {
            for &(m, k, n) in &shapes {
                for (activation, with_residual) in
                    [(Activation::Relu6, false), (Activation::Identity, true)]
                {
                    let x = values(m * k, 1);
                    let matrix = values((k + 1) * n, 2);
                    let residual = with_residual.then(|| values(m * n, 3));
                    let want = reference(&x, k, &matrix, n, residual.as_deref(), activation);
                    let panels = pack_panels(&matrix, k, n);
                    let mut got = vec![std::mem::MaybeUninit::new(f32::NAN); m * n];
                    let layer = Packed {
                        panels: &panels,
                        k,
                        n,
                        activation,
                    };
                    pointwise(simd, layer, &x, residual.as_deref(), &mut got);
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        // SAFETY: `pointwise` wrote every element (a NaN would fail below).
                        let g = unsafe { g.assume_init() };
                        assert!(
                            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                            "{simd:?} {m}×{k}·{k}×{n} at {i}: {g} against {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rows_read_at_offsets_match_plain_loops_at_every_tile_height() {
        // The stem's form: row `i`'s value `kk` at `x[i · step + offsets[kk]]`, with windows
        // that overlap (step 2, offsets spread over three input rows), on a narrower tile than
        // the dense product's; 1 to 25 rows give every height of its whole and tail tiles.
        let (k, n, step, width) = (27, 32, 2, 40);
        let offsets: Vec<usize> = (0..k)
            .map(|kk| (kk / 9) * 3 * width + (kk % 9 / 3) * width + kk % 3)
            .collect();
        let matrix = values((k + 1) * n, 5);
        let panels = pack_panels(&matrix, k, n);
        let layer = Packed {
            panels: &panels,
            k,
            n,
            activation: Activation::Relu6,
        };
        for simd in Simd::available() {
            for m in 1..=25 {
                let x = values((m - 1) * step + offsets[k - 1] + 1, 4);
                let rows: Vec<f32> = (0..m)
                    .flat_map(|i| offsets.iter().map(move |&o| (i, o)))
                    .map(|(i, o)| x[i * step + o])
                    .collect();
                let want = reference(&rows, k, &matrix, n, None, Activation::Relu6);
                let mut got = vec![std::mem::MaybeUninit::new(f32::NAN); m * n];
                pointwise_strided_here(simd, layer, &x, (step, &offsets), &mut got);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    // SAFETY: the product wrote every element (a NaN would fail below).
                    let g = unsafe { g.assume_init() };
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{simd:?} {m} rows at offsets, element {i}: {g} against {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_plan_covers_every_row_and_panel_once() {
        for (m, k, n, threads) in [
            (49, 192, 1152, 2),
            (37632, 16, 96, 2),
            (5, 8, 24, 4),
            (196, 480, 80, 2),
            (785, 240, 40, 3),
        ] {
            let plan = Plan::new(m, k, n, threads);
            let mut seen = vec![0u8; m * panel_count(n)];
            for t in 0..plan.tasks() {
                let (rows, panels) = plan.task(t);
                for r in rows {
                    for p in panels.clone() {
                        seen[r * panel_count(n) + p] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{m}×{n} on {threads} threads");
        }
        assert!(Plan::new(49, 192, 1152, 2).panel_groups > 1);
        assert_eq!(Plan::new(37632, 16, 96, 2).panel_groups, 1);
        // A single image's 14×14 projection: equal blocks, as many for each thread.
        let plan = Plan::new(196, 480, 80, 2);
        assert_eq!((plan.rows, plan.row_blocks, plan.panel_groups), (49, 4, 1));
    }

    #[test]
    fn packing_puts_each_channel_in_its_panel_and_pads_with_zeros() {
        let (k, n) = (2, 18);
        let matrix: Vec<f32> = (0..(k + 1) * n).map(|v| v as f32 + 1.0).collect();
        let panels = pack_panels(&matrix, k, n);
        assert_eq!(panels.len(), 2 * (k + 1) * PANEL);
        // Row 1, column 17: panel 1, lane 1.
        assert_eq!(panels[(k + 1) * PANEL + PANEL + 1], matrix[n + 17]);
        // The bias row of panel 0.
        assert_eq!(
            panels[k * PANEL..(k + 1) * PANEL],
            matrix[k * n..k * n + 16]
        );
        assert_eq!(panels[(k + 1) * PANEL + 2], 0.0, "column 18 is padding");
    }
}
