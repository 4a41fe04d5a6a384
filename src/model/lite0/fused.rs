//! The inference-only CPU ops besides the depthwise one: 1×1 convolutions (Candle's side of
//! the [`pointwise`](super::pointwise) kernel), expand → depthwise fused, and the stem's
//! convolution as a product of gathered patches.

use candle_core::bail;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use rayon::prelude::*;

use super::pointwise::{self as kernel, PANEL, panel_count};
use crate::model::cpu_data::{f32_slice, with_cpu_f32};
use crate::model::depthwise::{Activation, FusedLayer, Padding2d};
use crate::simd::Simd;

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
/// `(x N×C×H×W, panels) → (N·OH·OW) × OUT`, where `panels` packs the `(KH·KW·C + 1) × OUT`
/// matrix (weight rows in `(ky, kx, c)` order, the bias last) as
/// [`pack_panels`](super::pointwise::pack_panels) does.
///
/// It runs as a matrix product: each task copies the `KH·KW·C` input values under each of
/// its output pixels (zeros in the padding) into a patch matrix that stays in the core's cache,
/// and hands it to the [`pointwise`](super::pointwise) kernel. A direct convolution of its
/// own, 4 pixels × 32 channels at a time, ran the stem at 73 GFLOP/s on 2 Zen 5 cores (8 %
/// of a batch-1 pass); the copy costs less than the register tile wins.
pub(super) struct DenseConv {
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding2d,
    pub activation: Activation,
    pub out_channels: usize,
}

/// Patch floats a task gathers at once (40 KiB: three 112-pixel rows of the 3×3×3 stem).
const PATCH_FLOATS: usize = 10 * 1024;

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
        let panels = f32_slice(s2, l2, "lite0 fused kernels", None)?;
        let (out, shape) = self.compute(Simd::detect(), x, l1.shape(), panels)?;
        Ok((CpuStorage::F32(out), shape))
    }
}

impl DenseConv {
    /// The convolution of contiguous `x` with `panels`, on the instruction set `simd`.
    pub(super) fn compute(
        &self,
        simd: Simd,
        x: &[f32],
        x_shape: &Shape,
        panels: &[f32],
    ) -> Result<(Vec<f32>, Shape)> {
        let (n, c, h, w) = x_shape.dims4()?;
        let (k, s, p, out_c) = (self.kernel, self.stride, self.padding, self.out_channels);
        let depth = k * k * c;
        if x.len() != n * c * h * w || panels.len() != panel_count(out_c) * (depth + 1) * PANEL {
            bail!("lite0 dense conv: {c} channels, {k}×{k} kernel, {out_c} outputs")
        }
        let padded_h = h + p.top + p.bottom;
        let padded_w = w + p.left + p.right;
        if s == 0 || k == 0 || padded_h < k || padded_w < k {
            bail!("lite0 dense conv: {h}×{w} input too small for a {k}×{k} kernel")
        }
        let (out_h, out_w) = ((padded_h - k) / s + 1, (padded_w - k) / s + 1);
        let layer = kernel::Packed {
            panels,
            k: depth,
            n: out_c,
            activation: self.activation,
        };
        let patches = Patches {
            c,
            h,
            w,
            kernel: k,
            stride: s,
            pad_top: p.top,
            pad_left: p.left,
            out_w,
        };
        let band = (PATCH_FLOATS / (out_w * depth).max(1)).clamp(1, out_h.max(1));
        let len = n * out_h * out_w * out_c;
        let mut out = Vec::with_capacity(len);
        if len > 0 {
            out.spare_capacity_mut()[..len]
                .par_chunks_mut(out_h * out_w * out_c)
                .enumerate()
                .for_each(|(b, out)| {
                    let image = &x[b * c * h * w..(b + 1) * c * h * w];
                    out.par_chunks_mut(band * out_w * out_c)
                        .enumerate()
                        .for_each(|(i, out)| {
                            let rows = i * band..(i * band + band).min(out_h);
                            let mut matrix = vec![0f32; rows.len() * out_w * depth];
                            patches.gather(image, rows, &mut matrix);
                            kernel::pointwise_here(simd, layer, &matrix, out);
                        });
                });
        }
        // SAFETY: `pointwise_here` wrote every element of every band of every image.
        unsafe { out.set_len(len) };
        Ok((out, Shape::from((n * out_h * out_w, out_c))))
    }
}

/// Where a [`DenseConv`]'s output pixels read: the patch matrix's geometry.
struct Patches {
    c: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
    out_w: usize,
}

impl Patches {
    /// Fills `matrix` (zeroed) with one row per output pixel of `rows`: the `k·k·c` input
    /// values under it in `(ky, kx, c)` order, left at zero where the window lies in the
    /// padding.
    fn gather(&self, image: &[f32], rows: std::ops::Range<usize>, matrix: &mut [f32]) {
        let (c, h, w, k, s) = (self.c, self.h, self.w, self.kernel, self.stride);
        let depth = k * k * c;
        for (r, oy) in rows.enumerate() {
            let line = &mut matrix[r * self.out_w * depth..][..self.out_w * depth];
            for (ox, patch) in line.chunks_exact_mut(depth).enumerate() {
                // The window's first input row and column: outside the image when negative
                // (wrapped) or past the last.
                let y0 = (oy * s).wrapping_sub(self.pad_top);
                let x0 = (ox * s).wrapping_sub(self.pad_left);
                let inside = y0.checked_add(k).is_some_and(|end| end <= h)
                    && x0.checked_add(k).is_some_and(|end| end <= w);
                if inside && (k, c) == (3, 3) {
                    // The stem's window, unrolled: 27 copies from fixed offsets.
                    window::<3, 3>(image, (h * w, w), y0 * w + x0, patch);
                    continue;
                }
                for ky in 0..k {
                    let iy = y0.wrapping_add(ky);
                    for kx in 0..k {
                        let ix = x0.wrapping_add(kx);
                        if iy < h && ix < w {
                            for ci in 0..c {
                                patch[(ky * k + kx) * c + ci] = image[(ci * h + iy) * w + ix];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The `K×K×C` window whose top-left input value (of channel 0) is `image[at]`, into
/// `patch` in `(ky, kx, c)` order; `plane` and `row` are the image's channel and row strides.
#[inline(always)]
fn window<const K: usize, const C: usize>(
    image: &[f32],
    (plane, row): (usize, usize),
    at: usize,
    patch: &mut [f32],
) {
    let patch = &mut patch[..K * K * C];
    let image = &image[at..=at + (C - 1) * plane + (K - 1) * row + K - 1];
    for ky in 0..K {
        for kx in 0..K {
            for ci in 0..C {
                patch[(ky * K + kx) * C + ci] = image[ci * plane + ky * row + kx];
            }
        }
    }
}
