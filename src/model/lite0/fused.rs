//! The inference-only CPU ops besides the depthwise one: 1×1 convolutions (Candle's side of
//! the [`pointwise`](super::pointwise) kernel) and the stem's direct convolution.

use candle_core::bail;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::pointwise::{self as kernel, PANEL, panel_count};
use crate::model::cpu_data::{f32_slice, with_cpu_f32};
use crate::model::depthwise::{Activation, FusedLayer, PIXELS, Padding2d};
#[cfg(target_arch = "x86_64")]
use crate::model::f32x16::{Avx2, Avx512};
use crate::model::f32x16::{F32x16, LANES, Portable};
use crate::simd::{Simd, multiversion};

/// `act(x · W + b) [+ residual]` for `x` `M × K` and `panels` the weights and bias packed by
/// [`pack_panels`](super::pointwise::pack_panels) for `out_channels` outputs; `M × N` out.
pub(super) fn pointwise(
    x: &Tensor,
    panels: &Tensor,
    out_channels: usize,
    activation: Activation,
    residual: Option<&Tensor>,
) -> Result<Tensor> {
    let x = x.contiguous()?;
    let op = Pointwise {
        activation,
        out_channels,
    };
    match residual {
        None => x.apply_op2_no_bwd(panels, &op),
        Some(r) => x.apply_op3_no_bwd(panels, &r.contiguous()?, &op),
    }
}

/// A 1×1 convolution on channels-last rows (see [`pointwise`]).
struct Pointwise {
    activation: Activation,
    out_channels: usize,
}

impl Pointwise {
    /// Checks the operands' shapes and runs the kernel.
    fn compute(
        &self,
        x: &[f32],
        l1: &Layout,
        panels: &[f32],
        l2: &Layout,
        residual: Option<(&[f32], &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (m, k) = l1.shape().dims2()?;
        let n = self.out_channels;
        let (p, k1, lanes) = l2.shape().dims3()?;
        if (p, k1, lanes) != (panel_count(n), k + 1, PANEL)
            || residual.is_some_and(|(_, l3)| l3.dims() != [m, n])
        {
            bail!(
                "lite0 pointwise: {:?} rows, packed weights {:?} for {n} channels, residual {:?}",
                l1.dims(),
                l2.dims(),
                residual.map(|(_, l3)| l3.dims())
            )
        }
        let mut out = Vec::with_capacity(m * n);
        let layer = kernel::Packed {
            panels,
            k,
            n,
            activation: self.activation,
        };
        kernel::pointwise(
            Simd::detect(),
            layer,
            x,
            residual.map(|(r, _)| r),
            &mut out.spare_capacity_mut()[..m * n],
        );
        // SAFETY: `kernel::pointwise` wrote every element of the `m × n` output.
        unsafe { out.set_len(m * n) };
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}

impl CustomOp2 for Pointwise {
    fn name(&self) -> &'static str {
        "lite0-pointwise"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "lite0 fused kernels", None)?;
        let panels = f32_slice(s2, l2, "lite0 fused kernels", None)?;
        self.compute(x, l1, panels, l2, None)
    }
}

impl CustomOp3 for Pointwise {
    fn name(&self) -> &'static str {
        "lite0-pointwise-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "lite0 fused kernels", None)?;
        let panels = f32_slice(s2, l2, "lite0 fused kernels", None)?;
        let residual = f32_slice(s3, l3, "lite0 fused kernels", None)?;
        self.compute(x, l1, panels, l2, Some((residual, l3)))
    }
}

/// Expanded activations per image above which an MBConv block runs expand → depthwise fused
/// ([`expand_depthwise`]): the first blocks of stages 2 and 3 at 224 px (4.8 and 1.8 MB).
pub(super) const FUSE_EXPANDED_BYTES: usize = 1 << 20;

/// Input rows a fused band may expand at once (512 KiB of expanded floats: half a core's L2).
const BAND_FLOATS: usize = 128 * 1024;

/// The weights of a fused expand → depthwise pass: the expansion's packed panels and the
/// depthwise `k × k × C` weights and bias, all with batch norm folded in.
pub(super) struct ExpandDepthwise<'a> {
    pub panels: &'a Tensor,
    pub expanded: usize,
    pub dw_weight: &'a Tensor,
    pub dw_bias: &'a Tensor,
    pub kernel: usize,
    pub stride: usize,
}

/// `relu6(depthwise(relu6(x · W_expand + b)))` for channels-last `x` (`N × H × W × C_in`),
/// without the expanded map ever existing whole: each task expands the input rows one band of
/// output rows reads into a buffer that stays in the core's cache, then runs the depthwise
/// convolution on it. The big early maps (112×112×96 per image) otherwise go to memory and
/// back between the two layers. Neighbouring bands expand their shared rows twice (a few
/// per cent more multiply-adds); the results are the same as the two layers apart.
pub(super) fn expand_depthwise(x: &Tensor, w: &ExpandDepthwise<'_>) -> Result<Tensor> {
    expand_depthwise_in_bands(x, w, BAND_FLOATS)
}

/// [`expand_depthwise`] with bands of at most `band_floats` expanded input floats (at least
/// one row of output per band).
pub(super) fn expand_depthwise_in_bands(
    x: &Tensor,
    w: &ExpandDepthwise<'_>,
    band_floats: usize,
) -> Result<Tensor> {
    let (n, h, wd, cin) = x.dims4()?;
    let (k, s, ce) = (w.kernel, w.stride.max(1), w.expanded);
    let padding = Padding2d::same(h, wd, k, s);
    let (ho, wo) = (h.div_ceil(s), wd.div_ceil(s));
    let x = x.contiguous()?;
    let simd = Simd::detect();
    let out = with_cpu_f32(&[&x, w.panels, w.dw_weight, w.dw_bias], |t| {
        let (xs, panels, dw_weight, dw_bias) = (t[0], t[1], t[2], t[3]);
        if panels.len() != panel_count(ce) * (cin + 1) * PANEL
            || dw_weight.len() != k * k * ce
            || dw_bias.len() != ce
        {
            bail!("lite0 expand → depthwise: weights do not match {cin} → {ce} channels")
        }
        let expand = kernel::Packed {
            panels,
            k: cin,
            n: ce,
            activation: Activation::Relu6,
        };
        let depthwise = FusedLayer {
            weight: dw_weight,
            bias: dw_bias,
            activation: Activation::Relu6,
        };
        let in_row = wd * ce;
        let band = ((band_floats / in_row.max(1)).saturating_sub(k) / s + 1).max(1);
        let len = n * ho * wo * ce;
        let mut out = Vec::with_capacity(len);
        if len > 0 {
            out.spare_capacity_mut()[..len]
                .par_chunks_mut(ho * wo * ce)
                .enumerate()
                .for_each(|(image, out)| {
                    let input = &xs[image * h * wd * cin..][..h * wd * cin];
                    out.par_chunks_mut(band * wo * ce)
                        .enumerate()
                        .for_each(|(b, out)| {
                            let rows = b * band..(b * band + band).min(ho);
                            // The input rows these output rows read, within the image.
                            let first = (rows.start * s).saturating_sub(padding.top);
                            let last = ((rows.end - 1) * s + k).saturating_sub(padding.top).min(h);
                            let mut expanded = Vec::with_capacity((last - first) * in_row);
                            let slots =
                                &mut expanded.spare_capacity_mut()[..(last - first) * in_row];
                            let x = &input[first * wd * cin..last * wd * cin];
                            kernel::pointwise_here(simd, expand, x, slots);
                            // SAFETY: `pointwise_here` wrote every element of `slots`.
                            unsafe { expanded.set_len((last - first) * in_row) };
                            crate::model::depthwise::forward_band(
                                simd,
                                (h, wd, ce),
                                (k, s, padding),
                                &expanded,
                                first,
                                &depthwise,
                                rows,
                                out,
                            );
                        });
                });
        }
        // SAFETY: every image's every band of output rows was written by `forward_band`.
        unsafe { out.set_len(len) };
        Ok(out)
    })?;
    Tensor::from_vec(out, (n, ho, wo, ce), x.device())
}

/// A dense k×k convolution from a channel-first image to channels-last rows, with the
/// batch norm folded in and the activation fused (the stem):
/// `(x N×C×H×W, packed (KH·KW·C + 1) × OUT) → (N·OH·OW) × OUT`, weight rows in
/// `(ky, kx, c)` order and the bias last.
pub(super) struct DenseConv {
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding2d,
    pub activation: Activation,
}

/// Sizes of one [`DenseConv`].
struct Dense {
    in_c: usize,
    in_h: usize,
    in_w: usize,
    out_c: usize,
    out_w: usize,
    kernel: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
}

/// Kernel offsets `k` in `start..end` with `0 ≤ origin + k − pad < size`.
fn taps(origin: usize, pad: usize, size: usize, kernel: usize) -> (usize, usize) {
    let start = pad.saturating_sub(origin);
    let end = (size + pad).saturating_sub(origin).min(kernel);
    (start, end.max(start))
}

impl CustomOp2 for DenseConv {
    fn name(&self) -> &'static str {
        "lite0-dense-conv"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "lite0 fused kernels", None)?;
        let packed = f32_slice(s2, l2, "lite0 fused kernels", None)?;
        let (out, shape) = self.compute(Simd::detect(), x, l1.shape(), packed, l2.shape())?;
        Ok((CpuStorage::F32(out), shape))
    }
}

impl DenseConv {
    /// The convolution of contiguous `x` with `packed`, on the instruction set `simd`.
    pub(super) fn compute(
        &self,
        simd: Simd,
        x: &[f32],
        x_shape: &Shape,
        packed: &[f32],
        packed_shape: &Shape,
    ) -> Result<(Vec<f32>, Shape)> {
        let (n, c, h, w) = x_shape.dims4()?;
        let (rows, out_c) = packed_shape.dims2()?;
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        if rows != k * k * c + 1 || x.len() != n * c * h * w || packed.len() != rows * out_c {
            bail!("lite0 dense conv: {c} channels, {k}×{k} kernel, {rows} weight rows")
        }
        let padded_h = h + p.top + p.bottom;
        let padded_w = w + p.left + p.right;
        if s == 0 || k == 0 || padded_h < k || padded_w < k {
            bail!("lite0 dense conv: {h}×{w} input too small for a {k}×{k} kernel")
        }
        let (out_h, out_w) = ((padded_h - k) / s + 1, (padded_w - k) / s + 1);
        let g = Dense {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c,
            out_w,
            kernel: k,
            stride: s,
            pad_top: p.top,
            pad_left: p.left,
        };
        let (weight, bias) = packed.split_at(k * k * c * out_c);
        let layer = FusedLayer {
            weight,
            bias,
            activation: self.activation,
        };
        let len = n * out_h * out_w * out_c;
        let mut out = Vec::with_capacity(len);
        if out_w * out_c > 0 {
            out.spare_capacity_mut()[..len]
                .par_chunks_mut(out_w * out_c)
                .enumerate()
                .for_each(|(row, out)| {
                    let (b, oy) = (row / out_h, row % out_h);
                    let image = &x[b * c * h * w..(b + 1) * c * h * w];
                    dense_row(simd, &g, image, &layer, oy, out);
                });
        }
        // SAFETY: `dense_row` writes every channel of every pixel of every row.
        unsafe { out.set_len(len) };
        Ok((out, Shape::from((n * out_h * out_w, out_c))))
    }
}

multiversion!(dense_row => dense_row_body::<Avx512, Avx2, Portable>(
    g: &Dense,
    image: &[f32],
    layer: &FusedLayer<'_>,
    oy: usize,
    out: &mut [MaybeUninit<f32>],
));

/// One output row: `out[ox, o] = act(bias[o] + Σ x[c, iy, ix] · w[(ky, kx, c), o])`,
/// 16 output channels at a time. Every element of `out` is written.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn dense_row_body<V: F32x16>(
    g: &Dense,
    image: &[f32],
    layer: &FusedLayer<'_>,
    oy: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let FusedLayer {
        weight,
        bias,
        activation,
    } = *layer;
    let (k, s, co) = (g.kernel, g.stride, g.out_c);
    let full = co / LANES * LANES;
    assert!(
        image.len() >= g.in_c * g.in_h * g.in_w
            && weight.len() >= k * k * g.in_c * co
            && bias.len() >= co
            && out.len() >= g.out_w * co,
        "dense conv row: buffers smaller than the geometry"
    );
    // Raw pointers for the weights and the output: every offset stays inside the buffers
    // checked above (`ky, kx < k`, `ci < in_c`, `c0 + LANES ≤ out_c`, `ox < out_w`).
    let (wts, dst) = (weight.as_ptr(), out.as_mut_ptr().cast::<f32>());
    let (ky0, ky1) = taps(oy * s, g.pad_top, g.in_h, k);
    // Pixels whose window lies inside the image go PIXELS at a time (independent
    // accumulators sharing each weight load); the others one by one.
    let inner_start = g.pad_left.div_ceil(s);
    let inner_end = (g.in_w + g.pad_left)
        .checked_sub(k)
        .map_or(0, |last| (last / s + 1).min(g.out_w))
        .max(inner_start);
    let grouped_end = inner_start + (inner_end - inner_start) / PIXELS * PIXELS;
    // The grouped pixels: with 32 registers two channel blocks at a time (8 accumulators, so
    // the multiply-adds never wait on each other's results, and a pixel's input is broadcast
    // once for both blocks), otherwise one. (8 pixels at a time left more to the slow
    // path at the right border and measured no faster.)
    let pair = if V::REGISTERS >= 32 {
        full / (2 * LANES) * 2 * LANES
    } else {
        0
    };
    let group = Group {
        g,
        image,
        wts,
        dst,
        bias,
        activation,
        oy,
        ky: (ky0, ky1),
    };
    for ox in (inner_start..grouped_end).step_by(PIXELS) {
        for c0 in (0..pair).step_by(2 * LANES) {
            // SAFETY: `V`'s instruction set is available; offsets as explained above.
            unsafe { group.run::<V, 2>(ox, c0) };
        }
        for c0 in (pair..full).step_by(LANES) {
            // SAFETY: as above.
            unsafe { group.run::<V, 1>(ox, c0) };
        }
    }
    for c0 in (0..full).step_by(LANES) {
        // SAFETY (all blocks below): `V`'s instruction set is available, and the offsets
        // are in bounds as explained above.
        let b = unsafe { V::load(bias.as_ptr().add(c0)) };
        for ox in (0..inner_start).chain(grouped_end..g.out_w) {
            let (kx0, kx1) = taps(ox * s, g.pad_left, g.in_w, k);
            let mut acc = b;
            for ky in ky0..ky1 {
                let iy = oy * s + ky - g.pad_top;
                for kx in kx0..kx1 {
                    let ix = ox * s + kx - g.pad_left;
                    for ci in 0..g.in_c {
                        let v = unsafe { V::splat(image[(ci * g.in_h + iy) * g.in_w + ix]) };
                        let tap = ((ky * k + kx) * g.in_c + ci) * co + c0;
                        acc = unsafe { v.mul_add(V::load(wts.add(tap)), acc) };
                    }
                }
            }
            unsafe { acc.activate(activation).store(dst.add(ox * co + c0)) };
        }
    }
    for ox in 0..g.out_w {
        let (kx0, kx1) = taps(ox * s, g.pad_left, g.in_w, k);
        let dst = &mut out[ox * co..(ox + 1) * co];
        for (o, slot) in dst.iter_mut().enumerate().skip(full) {
            let mut acc = bias[o];
            for ky in ky0..ky1 {
                let iy = oy * s + ky - g.pad_top;
                for kx in kx0..kx1 {
                    let ix = ox * s + kx - g.pad_left;
                    for ci in 0..g.in_c {
                        let row = ((ky * k + kx) * g.in_c + ci) * co;
                        acc += image[(ci * g.in_h + iy) * g.in_w + ix] * weight[row + o];
                    }
                }
            }
            slot.write(activation.apply(acc));
        }
    }
}

/// One output row of a [`DenseConv`], for the pixels whose window lies inside the image.
struct Group<'a> {
    g: &'a Dense,
    image: &'a [f32],
    wts: *const f32,
    dst: *mut f32,
    bias: &'a [f32],
    activation: Activation,
    oy: usize,
    /// The valid kernel rows.
    ky: (usize, usize),
}

impl Group<'_> {
    /// Pixels `ox..ox + PIXELS`, channels `c0..c0 + NB · 16`: each input value broadcast
    /// once for the `NB` channel blocks, each weight vector loaded once for the pixels.
    ///
    /// # Safety
    /// `V`'s instruction set is available; the pixels' windows lie inside the image and
    /// `c0 + NB · 16 ≤ out_c`; `wts` and `dst` hold the weights and the output row.
    #[inline(always)]
    unsafe fn run<V: F32x16, const NB: usize>(&self, ox: usize, c0: usize) {
        let g = self.g;
        let (k, s, co) = (g.kernel, g.stride, g.out_c);
        // SAFETY (all blocks): the function's contract.
        let mut acc: [[V; PIXELS]; NB] = std::array::from_fn(|b| {
            [unsafe { V::load(self.bias.as_ptr().add(c0 + b * LANES)) }; PIXELS]
        });
        for ky in self.ky.0..self.ky.1 {
            let iy = self.oy * s + ky - g.pad_top;
            for kx in 0..k {
                let ix = ox * s + kx - g.pad_left;
                for ci in 0..g.in_c {
                    let row =
                        &self.image[(ci * g.in_h + iy) * g.in_w + ix..][..(PIXELS - 1) * s + 1];
                    let tap = ((ky * k + kx) * g.in_c + ci) * co + c0;
                    let w: [V; NB] =
                        std::array::from_fn(|b| unsafe { V::load(self.wts.add(tap + b * LANES)) });
                    for j in 0..PIXELS {
                        let v = unsafe { V::splat(row[j * s]) };
                        for (acc, w) in acc.iter_mut().zip(&w) {
                            acc[j] = unsafe { v.mul_add(*w, acc[j]) };
                        }
                    }
                }
            }
        }
        for (b, acc) in acc.into_iter().enumerate() {
            for (j, a) in acc.into_iter().enumerate() {
                unsafe {
                    a.activate(self.activation)
                        .store(self.dst.add((ox + j) * co + c0 + b * LANES))
                };
            }
        }
    }
}
