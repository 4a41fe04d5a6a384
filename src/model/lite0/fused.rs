//! The inference-only CPU ops besides the depthwise one: 1×1 convolutions (Candle's side of
//! the [`pointwise`](super::pointwise) kernel), whole MBConv blocks fused a band of rows at a
//! time, and the stem's convolution as a product that reads its windows in place.

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

/// Expanded activations per image above which an MBConv block runs fused, a band of rows at a
/// time ([`block`]): at 224 px the first block with the stem (1.6 MB of stem output) and the
/// first blocks of stages 2 and 3 (4.8 and 1.8 MB).
pub(super) const FUSE_EXPANDED_BYTES: usize = 1 << 20;

/// The same threshold where the threads share each image's layers (fewer images than
/// threads: a query): there the blocks of stages 3 to 6 with 14×14 and 28×28 maps (376 KB to
/// 752 KB at 224 px) run fused too, as bands split between the threads, each of which then
/// expands, filters and projects its own rows in its own cache, with one hand-over between
/// the threads instead of three. Batch 1 +4.2–6.6 % with AVX-512 and +4.5–5.0 % with AVX2 in
/// alternating passes on Zen 5, with freed memory kept (as `bench embed` and indexing run)
/// and without (as a query runs); +1.3 % with only the 28×28 blocks. Where each thread runs
/// whole images (batch 32) the same blocks fused cost 2.9 %, and the 7×7 blocks (225 KB),
/// whose bands would be mostly the rows around them, cost 9.5 % at batch 1.
pub(super) const FUSE_SHARED_BYTES: usize = 256 << 10;

/// Expanded floats a band may hold (512 KiB: half a core's L2). Its depthwise output is a
/// quarter of that with stride 2 and nearly as much with stride 1; bands half as tall for
/// stride 1, or twice as tall for all, measured 1–2 % slower on Zen 5.
const BAND_FLOATS: usize = 128 * 1024;

/// Where a fused block's expanded rows come from.
pub(super) enum Expansion<'a> {
    /// A 1×1 convolution of the channels-last block input (`N × H × W × C_in`): its packed
    /// panels and activation.
    Pointwise {
        panels: &'a Tensor,
        activation: Activation,
    },
    /// The stem, for a block without an expansion of its own: a dense convolution of the
    /// channel-first image (`N × C × H × W`) and its packed panels.
    Stem {
        conv: &'a DenseConv,
        panels: &'a Tensor,
    },
}

/// A fused MBConv block's weights, batch norm folded in: how its expanded rows are made, the
/// depthwise `k × k × E` weights and bias, and the projection's packed panels.
pub(super) struct Block<'a> {
    pub expansion: Expansion<'a>,
    /// Channels of the expanded map (`E`).
    pub expanded: usize,
    pub dw_weight: &'a Tensor,
    pub dw_bias: &'a Tensor,
    pub dw_activation: Activation,
    pub kernel: usize,
    pub stride: usize,
    pub project: &'a Tensor,
    pub out_channels: usize,
    pub project_activation: Activation,
}

/// A whole MBConv block, `project(depthwise(expand(x))) [+ residual]`, channels-last out,
/// without its expanded or depthwise maps ever existing whole: each task makes the expanded
/// rows that one band of output rows reads into a buffer that stays in the core's cache, runs
/// the depthwise convolution on them into a second, smaller one, and projects that into the
/// band's output rows, adding the residual's. The big early maps (the stem's 112×112×32 per
/// image, stage 2's 112×112×96) otherwise go to memory and back twice. Neighbouring bands
/// expand their shared rows twice (a few per cent more multiply-adds); the results are the
/// same bits as the layers apart.
pub(super) fn block(x: &Tensor, w: &Block<'_>, residual: Option<&Tensor>) -> Result<Tensor> {
    block_in_bands(x, w, residual, BAND_FLOATS)
}

/// [`block`] with bands of at most `band_floats` expanded floats (at least one output row).
pub(super) fn block_in_bands(
    x: &Tensor,
    w: &Block<'_>,
    residual: Option<&Tensor>,
    band_floats: usize,
) -> Result<Tensor> {
    let x = x.contiguous()?;
    // The expanded map's size, the input floats per image, the expansion's reduction depth
    // and, for the stem, where its windows lie.
    let (n, (h, wd), image_len, depth, stem) = match w.expansion {
        Expansion::Pointwise { .. } => {
            let (n, h, wd, c) = x.dims4()?;
            (n, (h, wd), h * wd * c, c, None)
        }
        Expansion::Stem { conv, .. } => {
            let (n, c, ih, iw) = x.dims4()?;
            let patches = conv.patches(c, ih, iw)?;
            let size = (patches.out_h, patches.out_w);
            (n, size, c * ih * iw, patches.depth(), Some(patches))
        }
    };
    let (k, s, ce, co) = (w.kernel, w.stride.max(1), w.expanded, w.out_channels);
    let padding = Padding2d::same(h, wd, k, s);
    let (ho, wo) = (h.div_ceil(s), wd.div_ceil(s));
    if let Some(r) = residual
        && r.dims() != [n, ho, wo, co]
    {
        bail!(
            "lite0 fused block: a {:?} residual for a {:?} output",
            r.dims(),
            [n, ho, wo, co]
        )
    }
    let residual = residual.map(Tensor::contiguous).transpose()?;
    let (expansion_panels, expansion_activation) = match w.expansion {
        Expansion::Pointwise { panels, activation } => (panels, activation),
        Expansion::Stem { conv, panels } => (panels, conv.activation),
    };
    let mut tensors = vec![&x, expansion_panels, w.dw_weight, w.dw_bias, w.project];
    tensors.extend(residual.as_ref());
    let simd = Simd::detect();
    let threads = rayon::current_num_threads().max(1);
    let out = with_cpu_f32(&tensors, |t| {
        let (xs, expand_panels, dw_weight, dw_bias, project_panels) =
            (t[0], t[1], t[2], t[3], t[4]);
        let residual = t.get(5).copied();
        if expand_panels.len() != panel_count(ce) * (depth + 1) * PANEL
            || dw_weight.len() != k * k * ce
            || dw_bias.len() != ce
            || project_panels.len() != panel_count(co) * (ce + 1) * PANEL
        {
            bail!("lite0 fused block: weights do not match {depth} → {ce} → {co} channels")
        }
        let expand = kernel::Packed {
            panels: expand_panels,
            k: depth,
            n: ce,
            activation: expansion_activation,
        };
        let depthwise = FusedLayer {
            weight: dw_weight,
            bias: dw_bias,
            activation: w.dw_activation,
        };
        let project = kernel::Packed {
            panels: project_panels,
            k: ce,
            n: co,
            activation: w.project_activation,
        };
        let in_row = wd * ce;
        let tallest = ((band_floats / in_row.max(1)).saturating_sub(k) / s + 1).max(1);
        // Fewer images than threads: a multiple of the thread count of bands per image, so
        // that each thread gets the same share of rows.
        let mut count = ho.div_ceil(tallest);
        if n < threads {
            count = count.div_ceil(threads) * threads;
        }
        let count = count.clamp(1, ho.max(1));
        let len = n * ho * wo * co;
        let mut out = Vec::with_capacity(len);
        let mut bands = Vec::with_capacity(n * count);
        let mut rest = &mut out.spare_capacity_mut()[..len];
        for image in (0..n).filter(|_| len > 0) {
            for b in 0..count {
                let rows = b * ho / count..(b + 1) * ho / count;
                let (band, tail) = rest.split_at_mut(rows.len() * wo * co);
                bands.push((image, rows, band));
                rest = tail;
            }
        }
        bands.into_par_iter().for_each(|(image, rows, out)| {
            let input = &xs[image * image_len..][..image_len];
            // The expanded rows these output rows read, within the image.
            let first = (rows.start * s).saturating_sub(padding.top);
            let last = ((rows.end - 1) * s + k).saturating_sub(padding.top).min(h);
            let mut expanded = Vec::with_capacity((last - first) * in_row);
            let slots = &mut expanded.spare_capacity_mut()[..(last - first) * in_row];
            match &stem {
                None => {
                    let x = &input[first * wd * depth..last * wd * depth];
                    kernel::pointwise_here(simd, expand, x, None, slots);
                }
                Some(patches) => patches.convolve(simd, expand, input, first..last, slots),
            }
            // SAFETY: `pointwise_here` and `convolve` wrote every element of `slots`.
            unsafe { expanded.set_len((last - first) * in_row) };
            let filtered_len = rows.len() * wo * ce;
            let mut filtered = Vec::with_capacity(filtered_len);
            crate::model::depthwise::forward_band(
                simd,
                (h, wd, ce),
                (k, s, padding),
                &expanded,
                first,
                &depthwise,
                rows.clone(),
                &mut filtered.spare_capacity_mut()[..filtered_len],
            );
            // SAFETY: `forward_band` wrote every element of its output rows.
            unsafe { filtered.set_len(filtered_len) };
            let skip = residual.map(|r| &r[(image * ho + rows.start) * wo * co..][..out.len()]);
            kernel::pointwise_here(simd, project, &filtered, skip, out);
        });
        // SAFETY: the bands cover every output row of every image, and each band's
        // `pointwise_here` wrote all of its elements.
        unsafe { out.set_len(len) };
        Ok(out)
    })?;
    Tensor::from_vec(out, (n, ho, wo, co), x.device())
}

/// A dense k×k convolution from a channel-first image to channels-last rows, with the
/// batch norm folded in and the activation fused (the stem):
/// `(x N×C×H×W, panels) → (N·OH·OW) × OUT`, where `panels` packs the `(KH·KW·C + 1) × OUT`
/// matrix (weight rows in `(c, ky, kx)` order, the bias last) as
/// [`pack_panels`](super::pointwise::pack_panels) does.
///
/// It runs as a matrix product on the [`pointwise`](super::pointwise) kernel, whose rows are
/// the output pixels and whose `KH·KW·C` values are the input values under them, read where
/// they lie ([`Patches::convolve`]). A direct convolution of its own, 4 pixels × 32 channels
/// at a time, ran the stem at 73 GFLOP/s on 2 Zen 5 cores (8 % of a batch-1 pass); copying
/// the windows into a patch matrix first, ~145–166; reading them in place, more again
/// (whole passes +2 % at batch 1, +5 % at batch 32, in-process alternation).
pub(super) struct DenseConv {
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding2d,
    pub activation: Activation,
    pub out_channels: usize,
}

/// Window values of the output rows a task takes (three 112-pixel rows of the 3×3×3 stem).
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
    /// Where the convolution of a `c × h × w` image reads, and its output size.
    pub(super) fn patches(&self, c: usize, h: usize, w: usize) -> Result<Patches> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let padded_h = h + p.top + p.bottom;
        let padded_w = w + p.left + p.right;
        if s == 0 || k == 0 || padded_h < k || padded_w < k {
            bail!("lite0 dense conv: {h}×{w} input too small for a {k}×{k} kernel")
        }
        let out_w = (padded_w - k) / s + 1;
        let first = p.left.div_ceil(s);
        let end = ((w + p.left).saturating_sub(k) / s + 1).min(out_w);
        Ok(Patches {
            c,
            h,
            w,
            kernel: k,
            stride: s,
            pad_top: p.top,
            pad_left: p.left,
            out_h: (padded_h - k) / s + 1,
            out_w,
            offsets: (0..k * k * c)
                .map(|i| (i / (k * k) * h + i / k % k) * w + i % k)
                .collect(),
            inner: first..end.max(first),
        })
    }

    /// The convolution of contiguous `x` with `panels`, on the instruction set `simd`.
    pub(super) fn compute(
        &self,
        simd: Simd,
        x: &[f32],
        x_shape: &Shape,
        panels: &[f32],
    ) -> Result<(Vec<f32>, Shape)> {
        let (n, c, h, w) = x_shape.dims4()?;
        let out_c = self.out_channels;
        let patches = self.patches(c, h, w)?;
        let (depth, out_h, out_w) = (patches.depth(), patches.out_h, patches.out_w);
        if x.len() != n * c * h * w || panels.len() != panel_count(out_c) * (depth + 1) * PANEL {
            bail!(
                "lite0 dense conv: {c} channels, {k}×{k} kernel, {out_c} outputs",
                k = self.kernel
            )
        }
        let layer = kernel::Packed {
            panels,
            k: depth,
            n: out_c,
            activation: self.activation,
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
                            patches.convolve(simd, layer, image, rows, out);
                        });
                });
        }
        // SAFETY: `convolve` wrote every element of every band of every image.
        unsafe { out.set_len(len) };
        Ok((out, Shape::from((n * out_h * out_w, out_c))))
    }
}

/// Where a [`DenseConv`]'s output pixels read, for one image size.
pub(super) struct Patches {
    c: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
    out_h: usize,
    out_w: usize,
    /// Where each of a window's `c·k·k` values lies from its corner, in `(c, ky, kx)` order.
    offsets: Vec<usize>,
    /// The output columns whose windows lie inside the image's width.
    inner: std::ops::Range<usize>,
}

impl Patches {
    /// Values under one output pixel: the product's reduction depth.
    fn depth(&self) -> usize {
        self.kernel * self.kernel * self.c
    }

    /// Output rows `rows` of the channel-first `image` through `layer` into `out` (their
    /// `rows.len() · out_w · layer.n` floats), on the calling thread. Where a pixel's window
    /// lies inside the image (all but the last row and column at 224 px), the product reads
    /// it in place: pixel `ox`'s value `(c, ky, kx)` is at a fixed offset from its window's
    /// corner, and the corners of a row's pixels are `stride` apart. The other pixels' windows
    /// are gathered into rows first, padding as zeros.
    fn convolve(
        &self,
        simd: Simd,
        layer: kernel::Packed<'_>,
        image: &[f32],
        rows: std::ops::Range<usize>,
        out: &mut [std::mem::MaybeUninit<f32>],
    ) {
        let (k, s, w, n) = (self.kernel, self.stride, self.w, layer.n);
        let depth = self.depth();
        let mut matrix = vec![0f32; self.out_w * depth];
        for (oy, out) in rows.zip(out.chunks_exact_mut((self.out_w * n).max(1))) {
            let y0 = (oy * s).wrapping_sub(self.pad_top);
            let inside = y0.checked_add(k).is_some_and(|end| end <= self.h);
            let inner = if inside { self.inner.clone() } else { 0..0 };
            if !inner.is_empty() {
                let corner = y0 * w + inner.start * s - self.pad_left;
                let out = &mut out[inner.start * n..inner.end * n];
                kernel::pointwise_strided_here(
                    simd,
                    layer,
                    &image[corner..],
                    (s, &self.offsets),
                    out,
                );
            }
            let edges = if inner.is_empty() {
                [0..self.out_w, 0..0]
            } else {
                [0..inner.start, inner.end..self.out_w]
            };
            for columns in edges.into_iter().filter(|c| !c.is_empty()) {
                let matrix = &mut matrix[..columns.len() * depth];
                self.gather(image, oy, columns.clone(), matrix);
                let out = &mut out[columns.start * n..columns.end * n];
                kernel::pointwise_here(simd, layer, matrix, None, out);
            }
        }
    }

    /// Writes `matrix`, one row per output pixel `columns` of row `oy`: the `c·k·k` input
    /// values under it in `(c, ky, kx)` order (the order of the stem's folded weights), zero
    /// where the window lies in the padding.
    fn gather(
        &self,
        image: &[f32],
        oy: usize,
        columns: std::ops::Range<usize>,
        matrix: &mut [f32],
    ) {
        let (h, w, k, s) = (self.h, self.w, self.kernel, self.stride);
        let depth = k * k * self.c;
        let y0 = (oy * s).wrapping_sub(self.pad_top);
        for (ox, patch) in columns.zip(matrix.chunks_exact_mut(depth.max(1))) {
            // The window's first input column: outside the image when negative (wrapped)
            // or past the last, as the rows may be.
            let x0 = (ox * s).wrapping_sub(self.pad_left);
            for (i, value) in patch.iter_mut().enumerate() {
                let (ci, iy, ix) = (
                    i / (k * k),
                    y0.wrapping_add(i / k % k),
                    x0.wrapping_add(i % k),
                );
                *value = if iy < h && ix < w {
                    image[(ci * h + iy) * w + ix]
                } else {
                    0.0
                };
            }
        }
    }
}
