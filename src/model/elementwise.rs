//! The elementwise loops of the training kernels (activation derivatives, bias sums, batch
//! norm), written so that the compiler vectorises them: each is compiled for AVX-512, for
//! AVX2 + FMA and portably ([`multiversion!`]; the crate itself targets baseline x86-64,
//! where the compiler may only use 4-lane SSE2), and the activation is a type parameter, so
//! the inner loops carry no branch per value. Outputs are written once, never zero-filled
//! first.

use std::mem::MaybeUninit;

use super::depthwise::Activation;
use crate::simd::{Fma, Simd, WithFma, WithoutFma, madd, multiversion};

/// An activation as a type (see the module docs).
pub(crate) trait Act {
    /// The activation of one value.
    fn apply(v: f32) -> f32;
    /// The gradient before the activation, `g · act'(·)`, read off the output `y`.
    fn pass(g: f32, y: f32) -> f32;
}

pub(crate) struct IdentityAct;
pub(crate) struct ReluAct;
pub(crate) struct Relu6Act;

impl Act for IdentityAct {
    #[inline(always)]
    fn apply(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    fn pass(g: f32, _y: f32) -> f32 {
        g
    }
}

impl Act for ReluAct {
    #[inline(always)]
    fn apply(v: f32) -> f32 {
        v.max(0.0)
    }
    #[inline(always)]
    fn pass(g: f32, y: f32) -> f32 {
        if y > 0.0 { g } else { 0.0 }
    }
}

impl Act for Relu6Act {
    #[inline(always)]
    fn apply(v: f32) -> f32 {
        v.clamp(0.0, 6.0)
    }
    #[inline(always)]
    fn pass(g: f32, y: f32) -> f32 {
        if y > 0.0 && y < 6.0 { g } else { 0.0 }
    }
}

/// A vector of `len` floats that the caller writes in full through the returned slots
/// before it is used (see [`finish`]).
pub(crate) fn uninit(len: usize) -> Vec<f32> {
    Vec::with_capacity(len)
}

/// The uninitialised slots of a vector from [`uninit`].
pub(crate) fn slots(v: &mut Vec<f32>, len: usize) -> &mut [MaybeUninit<f32>] {
    &mut v.spare_capacity_mut()[..len]
}

/// Marks the `len` slots of `v` written.
///
/// # Safety
/// Every one of the first `len` slots of `v` was written.
pub(crate) unsafe fn finish(v: &mut Vec<f32>, len: usize) {
    // SAFETY: the caller wrote every slot.
    unsafe { v.set_len(len) }
}

multiversion!(pass_rows => pass_rows_body::<WithFma, WithFma, WithoutFma>(
    dz: &mut [MaybeUninit<f32>],
    dy: &[f32],
    y: &[f32],
    sums: &mut [f32],
    activation: Activation,
));

/// `dz = dy · act'(y)` over rows of `sums.len()` values, adding each column of `dz` into
/// `sums` (the bias gradient). Writes every slot of `dz`.
pub(crate) fn activation_pass(
    dz: &mut [MaybeUninit<f32>],
    dy: &[f32],
    y: &[f32],
    sums: &mut [f32],
    activation: Activation,
) {
    pass_rows(Simd::detect(), dz, dy, y, sums, activation)
}

/// # Safety
/// The instruction set `F` stands for is available (see [`multiversion!`]).
#[inline(always)]
unsafe fn pass_rows_body<F: Fma>(
    dz: &mut [MaybeUninit<f32>],
    dy: &[f32],
    y: &[f32],
    sums: &mut [f32],
    activation: Activation,
) {
    #[inline(always)]
    fn run<A: Act>(dz: &mut [MaybeUninit<f32>], dy: &[f32], y: &[f32], sums: &mut [f32]) {
        let n = sums.len();
        for ((dz, dy), y) in dz
            .chunks_exact_mut(n)
            .zip(dy.chunks_exact(n))
            .zip(y.chunks_exact(n))
        {
            for (((d, s), &g), &v) in dz.iter_mut().zip(sums.iter_mut()).zip(dy).zip(y) {
                let value = A::pass(g, v);
                d.write(value);
                *s += value;
            }
        }
    }
    if sums.is_empty() {
        return;
    }
    match activation {
        Activation::Identity => run::<IdentityAct>(dz, dy, y, sums),
        Activation::Relu => run::<ReluAct>(dz, dy, y, sums),
        Activation::Relu6 => run::<Relu6Act>(dz, dy, y, sums),
    }
}

multiversion!(column_sums_rows => column_sums_body::<WithFma, WithFma, WithoutFma>(
    rows: &[f32],
    sums: &mut [f32],
));

/// Adds each column of rows of `sums.len()` values into `sums`.
pub(crate) fn add_column_sums(rows: &[f32], sums: &mut [f32]) {
    column_sums_rows(Simd::detect(), rows, sums)
}

/// # Safety
/// As for [`pass_rows_body`].
#[inline(always)]
unsafe fn column_sums_body<F: Fma>(rows: &[f32], sums: &mut [f32]) {
    let n = sums.len();
    if n == 0 {
        return;
    }
    for row in rows.chunks_exact(n) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

multiversion!(bn_moments_rows => bn_moments_body::<WithFma, WithFma, WithoutFma>(
    rows: &[f32],
    shift: &[f32],
    sums: &mut [f32],
    squares: &mut [f32],
));

/// Adds `Σ(u − K)` and `Σ(u − K)²` of rows of channels into `sums` and `squares`.
pub(crate) fn bn_moments(rows: &[f32], shift: &[f32], sums: &mut [f32], squares: &mut [f32]) {
    bn_moments_rows(Simd::detect(), rows, shift, sums, squares)
}

/// # Safety
/// As for [`pass_rows_body`].
#[inline(always)]
unsafe fn bn_moments_body<F: Fma>(
    rows: &[f32],
    shift: &[f32],
    sums: &mut [f32],
    squares: &mut [f32],
) {
    let c = shift.len();
    if c == 0 {
        return;
    }
    for row in rows.chunks_exact(c) {
        for (((s, q), &v), &k) in sums.iter_mut().zip(squares.iter_mut()).zip(row).zip(shift) {
            let d = v - k;
            *s += d;
            *q = madd::<F>(d, d, *q);
        }
    }
}

/// The per-channel constants of a batch norm pass.
#[derive(Clone, Copy)]
pub(crate) struct BnChannels<'a> {
    pub mean: &'a [f32],
    pub inv_std: &'a [f32],
    /// `γ/σ`.
    pub scale: &'a [f32],
    pub beta: &'a [f32],
}

multiversion!(bn_forward_rows => bn_forward_body::<WithFma, WithFma, WithoutFma>(
    u: &[f32],
    y: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    activation: Activation,
));

/// `y = act((u − μ)·γ/σ + β)` over rows of channels; writes every slot of `y`.
pub(crate) fn bn_forward(
    u: &[f32],
    y: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    activation: Activation,
) {
    bn_forward_rows(Simd::detect(), u, y, ch, activation)
}

/// # Safety
/// As for [`pass_rows_body`].
#[inline(always)]
unsafe fn bn_forward_body<F: Fma>(
    u: &[f32],
    y: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    activation: Activation,
) {
    #[inline(always)]
    fn run<A: Act, F: Fma>(u: &[f32], y: &mut [MaybeUninit<f32>], ch: BnChannels<'_>) {
        let c = ch.mean.len();
        for (y, u) in y.chunks_exact_mut(c).zip(u.chunks_exact(c)) {
            for ((y, &u), ((&mu, &a), &b)) in y
                .iter_mut()
                .zip(u)
                .zip(ch.mean.iter().zip(ch.scale).zip(ch.beta))
            {
                y.write(A::apply(madd::<F>(u - mu, a, b)));
            }
        }
    }
    if ch.mean.is_empty() {
        return;
    }
    match activation {
        Activation::Identity => run::<IdentityAct, F>(u, y, ch),
        Activation::Relu => run::<ReluAct, F>(u, y, ch),
        Activation::Relu6 => run::<Relu6Act, F>(u, y, ch),
    }
}

/// The rows a batch-norm backward pass reads, one channel per column.
#[derive(Clone, Copy)]
pub(crate) struct BnRows<'a> {
    /// The gradient of the output.
    pub dy: &'a [f32],
    /// The output, whose activation derivative the pass reads off it.
    pub y: &'a [f32],
    /// The batch norm's input.
    pub u: &'a [f32],
}

multiversion!(bn_backward_sums_rows => bn_backward_sums_body::<WithFma, WithFma, WithoutFma>(
    rows: BnRows<'_>,
    ch: BnChannels<'_>,
    sum_dz: &mut [f32],
    sum_dz_xhat: &mut [f32],
    activation: Activation,
));

/// Adds `Σ dz` and `Σ dz·û` of rows of channels into the sums (`dz = dy·act'(y)`,
/// `û = (u − μ)/σ`).
pub(crate) fn bn_backward_sums(
    rows: BnRows<'_>,
    ch: BnChannels<'_>,
    sum_dz: &mut [f32],
    sum_dz_xhat: &mut [f32],
    activation: Activation,
) {
    bn_backward_sums_rows(Simd::detect(), rows, ch, sum_dz, sum_dz_xhat, activation)
}

/// # Safety
/// As for [`pass_rows_body`].
#[inline(always)]
unsafe fn bn_backward_sums_body<F: Fma>(
    rows: BnRows<'_>,
    ch: BnChannels<'_>,
    sum_dz: &mut [f32],
    sum_dz_xhat: &mut [f32],
    activation: Activation,
) {
    let BnRows { dy, y, u } = rows;
    #[inline(always)]
    fn run<A: Act, F: Fma>(
        dy: &[f32],
        y: &[f32],
        u: &[f32],
        ch: BnChannels<'_>,
        sum_dz: &mut [f32],
        sum_dz_xhat: &mut [f32],
    ) {
        let c = ch.mean.len();
        for ((dy, y), u) in dy
            .chunks_exact(c)
            .zip(y.chunks_exact(c))
            .zip(u.chunks_exact(c))
        {
            for (((s, p), ((&g, &v), &u)), (&mu, &iv)) in sum_dz
                .iter_mut()
                .zip(sum_dz_xhat.iter_mut())
                .zip(dy.iter().zip(y).zip(u))
                .zip(ch.mean.iter().zip(ch.inv_std))
            {
                let d = A::pass(g, v);
                *s += d;
                *p = madd::<F>(d, (u - mu) * iv, *p);
            }
        }
    }
    if ch.mean.is_empty() {
        return;
    }
    match activation {
        Activation::Identity => run::<IdentityAct, F>(dy, y, u, ch, sum_dz, sum_dz_xhat),
        Activation::Relu => run::<ReluAct, F>(dy, y, u, ch, sum_dz, sum_dz_xhat),
        Activation::Relu6 => run::<Relu6Act, F>(dy, y, u, ch, sum_dz, sum_dz_xhat),
    }
}

/// The per-channel constants of the input gradient of a batch norm.
#[derive(Clone, Copy)]
pub(crate) struct BnGrad<'a> {
    /// `Σ dz / M`.
    pub mean_dz: &'a [f32],
    /// `Σ dz·û / M`.
    pub mean_dz_xhat: &'a [f32],
}

multiversion!(bn_backward_rows => bn_backward_body::<WithFma, WithFma, WithoutFma>(
    rows: BnRows<'_>,
    du: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    grad: BnGrad<'_>,
    activation: Activation,
));

/// `du = γ/σ · (dz − Σdz/M − û·Σ(dz·û)/M)` over rows of channels; writes every slot of `du`.
pub(crate) fn bn_backward(
    rows: BnRows<'_>,
    du: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    grad: BnGrad<'_>,
    activation: Activation,
) {
    bn_backward_rows(Simd::detect(), rows, du, ch, grad, activation)
}

/// # Safety
/// As for [`pass_rows_body`].
#[inline(always)]
unsafe fn bn_backward_body<F: Fma>(
    rows: BnRows<'_>,
    du: &mut [MaybeUninit<f32>],
    ch: BnChannels<'_>,
    grad: BnGrad<'_>,
    activation: Activation,
) {
    let BnRows { dy, y, u } = rows;
    #[inline(always)]
    fn run<A: Act, F: Fma>(
        dy: &[f32],
        y: &[f32],
        u: &[f32],
        du: &mut [MaybeUninit<f32>],
        ch: BnChannels<'_>,
        grad: BnGrad<'_>,
    ) {
        let c = ch.mean.len();
        for (((du, dy), y), u) in du
            .chunks_exact_mut(c)
            .zip(dy.chunks_exact(c))
            .zip(y.chunks_exact(c))
            .zip(u.chunks_exact(c))
        {
            for ((du, ((&g, &v), &u)), (((&mu, &iv), &sc), (&md, &mx))) in
                du.iter_mut().zip(dy.iter().zip(y).zip(u)).zip(
                    ch.mean
                        .iter()
                        .zip(ch.inv_std)
                        .zip(ch.scale)
                        .zip(grad.mean_dz.iter().zip(grad.mean_dz_xhat)),
                )
            {
                let xhat = (u - mu) * iv;
                du.write(sc * (A::pass(g, v) - md - xhat * mx));
            }
        }
    }
    if ch.mean.is_empty() {
        return;
    }
    match activation {
        Activation::Identity => run::<IdentityAct, F>(dy, y, u, du, ch, grad),
        Activation::Relu => run::<ReluAct, F>(dy, y, u, du, ch, grad),
        Activation::Relu6 => run::<Relu6Act, F>(dy, y, u, du, ch, grad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::Seeded;

    fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
        Seeded::new(seed)
            .normal(2.0, scale, &[n])
            .to_vec1::<f32>()
            .unwrap()
    }

    /// Every instruction set the CPU has gives the portable loop's results (force the
    /// narrower ones in the whole program with `VITRINE_SIMD`).
    #[test]
    fn every_instruction_set_gives_the_same_result() {
        let (rows, c) = (37, 21);
        let (dy, y, u) = (
            values(1, rows * c, 1.0),
            values(2, rows * c, 3.0),
            values(3, rows * c, 2.0),
        );
        let (mean, inv, scale, beta) = (
            values(4, c, 0.5),
            values(5, c, 0.1),
            values(6, c, 1.0),
            values(7, c, 1.0),
        );
        let (md, mx) = (values(8, c, 0.2), values(9, c, 0.2));
        let ch = BnChannels {
            mean: &mean,
            inv_std: &inv,
            scale: &scale,
            beta: &beta,
        };
        let grad = BnGrad {
            mean_dz: &md,
            mean_dz_xhat: &mx,
        };
        let bn_rows = BnRows {
            dy: &dy,
            y: &y,
            u: &u,
        };
        let written = |f: &mut dyn FnMut(&mut [MaybeUninit<f32>])| {
            let mut v = uninit(rows * c);
            f(slots(&mut v, rows * c));
            // SAFETY: every kernel here writes each slot.
            unsafe { finish(&mut v, rows * c) };
            v
        };
        for activation in [Activation::Identity, Activation::Relu, Activation::Relu6] {
            let mut outputs: Vec<Vec<Vec<f32>>> = Vec::new();
            for simd in Simd::available() {
                let mut sums = vec![0f32; c];
                let dz = written(&mut |dz| pass_rows(simd, dz, &dy, &y, &mut sums, activation));
                let mut col = vec![0f32; c];
                column_sums_rows(simd, &dy, &mut col);
                let (mut s, mut q) = (vec![0f32; c], vec![0f32; c]);
                bn_moments_rows(simd, &u, &mean, &mut s, &mut q);
                let fwd = written(&mut |y| bn_forward_rows(simd, &u, y, ch, activation));
                let (mut bs, mut bp) = (vec![0f32; c], vec![0f32; c]);
                bn_backward_sums_rows(simd, bn_rows, ch, &mut bs, &mut bp, activation);
                let bwd =
                    written(&mut |du| bn_backward_rows(simd, bn_rows, du, ch, grad, activation));
                outputs.push(vec![dz, sums, col, s, q, fwd, bs, bp, bwd]);
            }
            let portable = outputs.last().unwrap();
            for (simd, out) in Simd::available().into_iter().zip(&outputs) {
                for (i, (a, b)) in out.iter().zip(portable).enumerate() {
                    let err = a
                        .iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0f32, f32::max);
                    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
                    assert!(
                        err <= 1e-5 * scale,
                        "{simd:?} {activation:?} output {i}: {err}"
                    );
                }
            }
        }
    }
}
