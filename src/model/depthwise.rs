//! Depthwise 2-D convolution on channels-last tensors, as a Candle custom op.
//!
//! MobileNet-style networks (EfficientNet-Lite0 among them; ARCHITECTURE.md §4) spend most of their
//! *memory traffic* in depthwise convolutions, yet Candle 0.11 runs a grouped convolution as
//! one convolution per channel followed by a concatenation: 77 % of a stock Lite0 forward
//! pass (ARCHITECTURE.md §13, finding 1). This module computes it directly instead:
//!
//! * tensors are **channels-last** (`N×H×W×C`, weights `KH×KW×C`), so the innermost loop runs
//!   over contiguous channels, 16 lanes at a time with explicit SIMD (AVX-512 or AVX2+FMA,
//!   chosen at run time; a portable loop otherwise);
//! * several output pixels (or channel blocks) accumulate at once, so weight loads are shared
//!   and the fused multiply-adds do not wait on each other;
//! * rayon splits the work by output row (`batch × output height`);
//! * the output is written once, without zero-filling it first;
//! * padding is explicit and may be asymmetric ([`Padding2d::same`] computes TensorFlow's
//!   "SAME" padding), a bias and [`Activation`] are fused into the same pass (for inference
//!   with batch norm folded into the weights);
//! * a backward pass (gradients for input, weight and bias, through the activation) makes the
//!   op usable for training.
//!
//! Only `f32` tensors on the CPU are supported; other devices use Candle's own grouped
//! convolution (see `lite0`).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::conv::activation_grad;
use super::cpu_data::{f32_slice, with_cpu_f32};
#[cfg(target_arch = "x86_64")]
use super::f32x16::{Avx2, Avx512};
use super::f32x16::{F32x16, LANES, Portable};
use crate::simd::{Fma, Simd, WithFma, WithoutFma, madd, multiversion};

/// Zero padding around a 2-D input, in pixels per side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Padding2d {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Padding2d {
    /// TensorFlow's "SAME" padding for a `height × width` input, a square `kernel` and `stride`:
    /// the output is `ceil(input / stride)` and the extra pixel of an odd total padding goes
    /// after (bottom, right), not before as a symmetric PyTorch padding would.
    pub fn same(height: usize, width: usize, kernel: usize, stride: usize) -> Self {
        let (_, top, bottom) = same_padding(height, kernel, stride);
        let (_, left, right) = same_padding(width, kernel, stride);
        Self {
            top,
            bottom,
            left,
            right,
        }
    }
}

/// TensorFlow "SAME" padding along one axis: `(output, before, after)` for an axis of `input`
/// pixels, a kernel of `kernel` pixels and a stride of `stride` (`stride` ≥ 1).
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let stride = stride.max(1);
    let output = input.div_ceil(stride);
    let total = ((output.saturating_sub(1)) * stride + kernel).saturating_sub(input);
    (output, total / 2, total - total / 2)
}

/// The activation fused into a kernel's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// The output as computed.
    #[default]
    Identity,
    /// `min(max(x, 0), 6)`, as in MobileNet and EfficientNet-Lite.
    Relu6,
    /// `max(x, 0)`, as in the shallow branch.
    Relu,
}

impl Activation {
    /// The activation of one value.
    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            Activation::Relu6 => v.clamp(0.0, 6.0),
            Activation::Relu => v.max(0.0),
        }
    }
}

/// A layer's parameters as a fused CPU kernel applies them: `act(… · weight + bias)`, the
/// bias and the activation computed in the same pass as the product. The layouts are the
/// kernel's (`KH×KW×C` and `C` for the depthwise convolution, `K×N` and `N` for a matrix
/// product).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FusedLayer<'a> {
    /// The weights.
    pub weight: &'a [f32],
    /// One value per output channel.
    pub bias: &'a [f32],
    /// The activation applied to `product + bias`.
    pub activation: Activation,
}

/// A depthwise convolution (one `KH×KW` filter per channel) on channels-last tensors.
///
/// Inputs to [`DepthwiseConv2d::forward`]: `x` is `N×H×W×C`, `weight` is `KH×KW×C` (PyTorch's
/// `C×1×KH×KW` permuted) and `bias` is `C`; all `f32`. The output is `N×OH×OW×C` with
/// `OH = (H + top + bottom − KH) / stride + 1` (likewise `OW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthwiseConv2d {
    pub stride: usize,
    pub padding: Padding2d,
    pub activation: Activation,
}

impl DepthwiseConv2d {
    /// Runs the convolution, making the arguments contiguous first if they are not.
    pub fn forward(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        if self.stride == 0 {
            bail!("depthwise convolution: stride must be at least 1")
        }
        x.contiguous()?
            .apply_op3(&weight.contiguous()?, &bias.contiguous()?, *self)
    }
}

impl CustomOp3 for DepthwiseConv2d {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-nhwc"
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
        let x = f32_slice(s1, l1, "depthwise convolution", Some("input"))?;
        let weight = f32_slice(s2, l2, "depthwise convolution", Some("weight"))?;
        let bias = f32_slice(s3, l3, "depthwise convolution", Some("bias"))?;
        let (kernel_h, kernel_w, channels) = l2.shape().dims3()?;
        if l3.shape().dims1()? != channels {
            bail!(
                "depthwise convolution: bias has {:?}, expected [{channels}]",
                l3.dims()
            )
        }
        let geometry = Geometry::new(l1.shape(), kernel_h, kernel_w, self.stride, self.padding)?;
        if geometry.channels != channels {
            bail!(
                "depthwise convolution: input {:?} against weight {:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let out = forward_cpu(Simd::detect(), &geometry, x, weight, bias, self.activation);
        let shape = Shape::from((geometry.batch, geometry.out_h, geometry.out_w, channels));
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (kernel_h, kernel_w, channels) = weight.dims3()?;
        let g = Geometry::new(x.shape(), kernel_h, kernel_w, self.stride, self.padding)?;
        let grad_res = grad_res.contiguous()?;
        let want_dx = x.track_op();
        let (dx, dw, db) = with_cpu_f32(&[&grad_res, res, x, weight], |t| {
            let (dy, y, xs, w) = (t[0], t[1], t[2], t[3]);
            if dy.len() != g.batch * g.out_h * g.out_w * channels {
                bail!("depthwise backward: gradient {:?}", grad_res.dims())
            }
            let (dz, db) = activation_grad(dy, y, channels, self.activation);
            let dz: &[f32] = dz.as_deref().unwrap_or(dy);
            let simd = Simd::detect();
            let dx = want_dx.then(|| input_grad_cpu(simd, &g, dz, w));
            Ok((dx, weight_grad_cpu(simd, &g, dz, xs), db))
        })?;
        let device = x.device();
        let dx = match dx {
            Some(dx) => Some(Tensor::from_vec(dx, x.shape(), device)?),
            None => None,
        };
        Ok((
            dx,
            Some(Tensor::from_vec(dw, weight.shape(), device)?),
            Some(Tensor::from_vec(db, channels, device)?),
        ))
    }
}

/// Sizes of one convolution, and the kernel taps that stay inside the input.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    in_h: usize,
    in_w: usize,
    channels: usize,
    kernel_h: usize,
    kernel_w: usize,
    out_h: usize,
    out_w: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
}

impl Geometry {
    fn new(
        input: &Shape,
        kernel_h: usize,
        kernel_w: usize,
        stride: usize,
        padding: Padding2d,
    ) -> Result<Self> {
        let (batch, in_h, in_w, channels) = input.dims4()?;
        let padded_h = in_h + padding.top + padding.bottom;
        let padded_w = in_w + padding.left + padding.right;
        if stride == 0 || kernel_h == 0 || kernel_w == 0 {
            bail!("depthwise convolution: kernel and stride must be at least 1")
        }
        if padded_h < kernel_h || padded_w < kernel_w {
            bail!(
                "depthwise convolution: padded input {padded_h}×{padded_w} is smaller than \
                 the {kernel_h}×{kernel_w} kernel"
            )
        }
        Ok(Self {
            batch,
            in_h,
            in_w,
            channels,
            kernel_h,
            kernel_w,
            out_h: (padded_h - kernel_h) / stride + 1,
            out_w: (padded_w - kernel_w) / stride + 1,
            stride,
            pad_top: padding.top,
            pad_left: padding.left,
        })
    }

    /// The kernel rows `ky` for which output row `oy` reads inside the input.
    #[inline(always)]
    fn taps_y(&self, oy: usize) -> (usize, usize) {
        taps(oy * self.stride, self.pad_top, self.in_h, self.kernel_h)
    }

    /// The output columns `start..end` whose whole kernel window lies inside the input.
    #[inline(always)]
    fn interior_x(&self) -> (usize, usize) {
        let start = self.pad_left.div_ceil(self.stride);
        let end = match (self.in_w + self.pad_left).checked_sub(self.kernel_w) {
            Some(last) => (last / self.stride + 1).min(self.out_w),
            None => 0,
        };
        (start, end.max(start))
    }

    /// The kernel columns `kx` for which output column `ox` reads inside the input.
    #[inline(always)]
    fn taps_x(&self, ox: usize) -> (usize, usize) {
        taps(ox * self.stride, self.pad_left, self.in_w, self.kernel_w)
    }

    fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }
}

/// Kernel offsets `k` in `start..end` with `0 ≤ origin + k − pad < size`.
#[inline(always)]
fn taps(origin: usize, pad: usize, size: usize, kernel: usize) -> (usize, usize) {
    let start = pad.saturating_sub(origin);
    let end = (size + pad).saturating_sub(origin).min(kernel);
    (start, end.max(start))
}

/// Output pixels computed together in the inner loop, sharing each weight load.
pub(crate) const PIXELS: usize = 4;

multiversion!(forward_row => forward_row_body::<Avx512, Avx2, Portable>(
    g: &Geometry,
    image: &[f32],
    layer: &FusedLayer<'_>,
    oy: usize,
    out: &mut [MaybeUninit<f32>],
));

multiversion!(input_grad_row => input_grad_row_body::<WithFma, WithFma, WithoutFma>(
    g: &Geometry,
    grad: &[f32],
    weight: &[f32],
    iy: usize,
    out: &mut [f32],
));

multiversion!(weight_grad_row => weight_grad_row_body::<WithFma, WithFma, WithoutFma>(
    g: &Geometry,
    grad_row: &[f32],
    image: &[f32],
    oy: usize,
    acc: &mut [f32],
));

multiversion!(bias_activation_rows => bias_activation_body::<Avx512, Avx2, Portable>(
    rows: &mut [f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    activation: Activation,
));

/// `rows[r, c] = act(rows[r, c] + bias[c]) (+ residual[r, c])` for rows of `bias.len()`
/// values, vectorised: the epilogue of a matrix product.
pub(crate) fn bias_activation(
    rows: &mut [f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    activation: Activation,
) {
    bias_activation_rows(Simd::detect(), rows, bias, residual, activation)
}

/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn bias_activation_body<V: F32x16>(
    rows: &mut [f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    activation: Activation,
) {
    let n = bias.len();
    if n == 0 {
        return;
    }
    let full = n / LANES * LANES;
    for (r, row) in rows.chunks_exact_mut(n).enumerate() {
        let res = residual.map(|res| &res[r * n..(r + 1) * n]);
        for c0 in (0..full).step_by(LANES) {
            // SAFETY: `V`'s instruction set is available (this function's contract).
            unsafe {
                let dst = &mut row[c0..c0 + LANES];
                let mut v = V::load(dst.as_ptr()).add(V::load(lanes(bias, c0)));
                v = v.activate(activation);
                if let Some(res) = res {
                    v = v.add(V::load(lanes(res, c0)));
                }
                v.store(dst.as_mut_ptr());
            }
        }
        for c in full..n {
            let v = activation.apply(row[c] + bias[c]);
            row[c] = v + res.map_or(0.0, |res| res[c]);
        }
    }
}

fn forward_cpu(
    simd: Simd,
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
) -> Vec<f32> {
    let layer = FusedLayer {
        weight,
        bias,
        activation,
    };
    let row_len = g.out_w * g.channels;
    let len = g.batch * g.out_h * row_len;
    let mut out = Vec::with_capacity(len);
    if row_len > 0 {
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(row, out_row)| {
                let (n, oy) = (row / g.out_h, row % g.out_h);
                let image = &x[n * g.image_len()..][..g.image_len()];
                forward_row(simd, g, image, &layer, oy, out_row);
            });
    }
    // SAFETY: `forward_row` writes every element of every output row (each pixel, each
    // channel: the 16-lane blocks and the tail), so all `len` elements are initialised.
    unsafe { out.set_len(len) };
    out
}

/// Output rows `rows` of one `height × width × channels` image with a square `kernel`,
/// `stride` and `padding`, from `band`: the image's input rows `first_row..` that those output
/// rows read (all of them; rows outside it count as padding). `out` holds the output rows,
/// `layer.weight` is `kernel × kernel × channels`. The second half of a fused expand →
/// depthwise pass, whose expanded rows exist one band at a time. Runs on the calling thread.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_band(
    simd: Simd,
    (height, width, channels): (usize, usize, usize),
    (kernel, stride, padding): (usize, usize, Padding2d),
    band: &[f32],
    first_row: usize,
    layer: &FusedLayer<'_>,
    rows: std::ops::Range<usize>,
    out: &mut [MaybeUninit<f32>],
) {
    let row_len = width * channels;
    let g = Geometry {
        batch: 1,
        in_h: band.len() / row_len.max(1),
        in_w: width,
        channels,
        kernel_h: kernel,
        kernel_w: kernel,
        out_h: (height + padding.top + padding.bottom).saturating_sub(kernel) / stride.max(1) + 1,
        out_w: (width + padding.left + padding.right).saturating_sub(kernel) / stride.max(1) + 1,
        stride: stride.max(1),
        pad_top: padding.top + first_row,
        pad_left: padding.left,
    };
    let out_row = g.out_w * channels;
    assert!(
        rows.end <= g.out_h && out.len() == rows.len() * out_row,
        "depthwise band: output rows {rows:?} of {}",
        g.out_h
    );
    for (oy, out) in rows.zip(out.chunks_exact_mut(out_row.max(1))) {
        forward_row(simd, &g, band, layer, oy, out);
    }
}

/// One output row `oy` of one image: `out[ox, c] = act(bias[c] + Σ x[iy, ix, c] · w[ky, kx, c])`.
///
/// Channels go 16 at a time. For Lite's kernels (3 and 5 wide, stride 1 or 2) several output
/// pixels share each load across the whole row, borders included ([`Rows::groups`]). For
/// other kernels they do so away from the left and right borders ([`Rows::interior_any`]),
/// and at the borders [`BLOCKS`] channel blocks go together (independent accumulators hide
/// the latency of the fused multiply-adds). Every element of `out` is written.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn forward_row_body<V: F32x16>(
    g: &Geometry,
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
    let c = g.channels;
    let s = g.stride;
    let full = c / LANES * LANES;
    assert!(
        image.len() >= g.in_h * g.in_w * c
            && weight.len() >= g.kernel_h * g.kernel_w * c
            && bias.len() >= c
            && out.len() >= g.out_w * c
            && oy < g.out_h,
        "depthwise row: buffers smaller than the geometry"
    );
    // Raw pointers, so that the inner loops carry no bounds checks. Every offset below stays
    // inside the buffers checked above: `iy < in_h` (from `taps_y`), `ix < in_w` (from
    // `interior_x`, `taps_x` or a group's taps `first..last`), `ky < kernel_h`,
    // `kx < kernel_w`, `c0 + LANES ≤ c`, `ox < out_w`.
    let (img, wts, dst) = (
        image.as_ptr(),
        weight.as_ptr(),
        out.as_mut_ptr().cast::<f32>(),
    );
    let (ky0, ky1) = g.taps_y(oy);
    let (inner_start, inner_end) = g.interior_x();
    let rows = Rows {
        g,
        img,
        wts,
        dst,
        bias,
        activation,
        oy,
        ky: (ky0, ky1),
    };
    // With 32 registers, groups of 8 pixels, or of 7 where they cover the row with fewer
    // pixels computed twice (Lite0's 7-, 14- and 28-wide maps; Lite2's 9-, 17-, 33-, 65- and
    // 130-wide ones); with 16, groups of 4.
    let covered = |p: usize| g.out_w.div_ceil(p) * p;
    let (wide, seven) = (V::REGISTERS >= 32, g.out_w < 8 || covered(7) < covered(8));
    // SAFETY (all arms): `V`'s instruction set is available, and the offsets are in bounds as
    // explained above; each arm's kernel size and stride are the geometry's.
    let whole_row = unsafe {
        match (g.kernel_w, s, wide, seven) {
            (3, 1, true, false) => rows.groups::<V, 3, 1, 8>(),
            (3, 2, true, false) => rows.groups::<V, 3, 2, 8>(),
            (5, 1, true, false) => rows.groups::<V, 5, 1, 8>(),
            (5, 2, true, false) => rows.groups::<V, 5, 2, 8>(),
            (3, 1, true, true) => rows.groups::<V, 3, 1, 7>(),
            (3, 2, true, true) => rows.groups::<V, 3, 2, 7>(),
            (5, 1, true, true) => rows.groups::<V, 5, 1, 7>(),
            (5, 2, true, true) => rows.groups::<V, 5, 2, 7>(),
            (3, 1, false, _) => rows.groups::<V, 3, 1, 4>(),
            (3, 2, false, _) => rows.groups::<V, 3, 2, 4>(),
            (5, 1, false, _) => rows.groups::<V, 5, 1, 4>(),
            (5, 2, false, _) => rows.groups::<V, 5, 2, 4>(),
            _ => false,
        }
    };
    if !whole_row {
        // SAFETY: as above.
        let grouped_end = unsafe { rows.interior_any::<V>((inner_start, inner_end)) };
        // The other pixels (borders, leftovers, narrow maps): several channel blocks at once,
        // so that their accumulations are independent too.
        for ox in (0..inner_start).chain(grouped_end..g.out_w) {
            let (kx0, kx1) = g.taps_x(ox);
            let pixel = Pixel {
                g,
                img,
                wts,
                ky: (ky0, ky1),
                kx: (kx0, kx1),
                iy0: oy * s,
                ix0: ox * s,
            };
            let mut c0 = 0;
            while c0 + BLOCKS * LANES <= full {
                // SAFETY: `V`'s instruction set is available; offsets as explained above.
                unsafe { pixel.run::<V, BLOCKS>(bias, activation, c0, dst.add(ox * c)) };
                c0 += BLOCKS * LANES;
            }
            while c0 < full {
                // SAFETY: as above.
                unsafe { pixel.run::<V, 1>(bias, activation, c0, dst.add(ox * c)) };
                c0 += LANES;
            }
        }
    }
    for ox in 0..g.out_w {
        let (kx0, kx1) = g.taps_x(ox);
        for ch in full..c {
            let mut acc = bias[ch];
            for ky in ky0..ky1 {
                let iy = oy * s + ky - g.pad_top;
                for kx in kx0..kx1 {
                    let ix = ox * s + kx - g.pad_left;
                    acc += image[(iy * g.in_w + ix) * c + ch]
                        * weight[(ky * g.kernel_w + kx) * c + ch];
                }
            }
            out[ox * c + ch].write(activation.apply(acc));
        }
    }
}

/// One output row, for the kernels that compute several pixels at once.
struct Rows<'a> {
    g: &'a Geometry,
    img: *const f32,
    wts: *const f32,
    dst: *mut f32,
    bias: &'a [f32],
    activation: Activation,
    oy: usize,
    /// The valid kernel rows.
    ky: (usize, usize),
}

impl Rows<'_> {
    /// Every pixel of the row, `P` at a time, for a `K`-wide kernel with stride `S`, 16
    /// channels at a time: with stride 1 each kernel row's `P − 1 + K` input vectors are
    /// loaded once and feed every output pixel whose window covers them (a 3-wide kernel over
    /// 8 pixels: 10 loads for 24 multiply-adds, where loading per tap takes 32). Input columns
    /// outside the image are the padding and are skipped, so the borders need no slower path:
    /// on a 7-wide map (Lite's last stage) every pixel is a border pixel. The last group ends
    /// at the row's end and may repeat pixels of the one before it (the same sums, stored
    /// again). Each pixel sums its taps in the order of [`Pixel::run`] and
    /// [`Rows::interior_any`], so all give the same bits. Returns false, doing nothing, when
    /// the row is narrower than `P` pixels or a group would skip more than two taps at either
    /// end of its span (padding wider than "SAME" gives these kernels).
    ///
    /// # Safety
    /// `V`'s instruction set is available; the geometry's kernel width is `K` and its stride
    /// `S`; the pointers hold the image, weights and output row of the geometry.
    #[inline(always)]
    unsafe fn groups<V: F32x16, const K: usize, const S: usize, const P: usize>(&self) -> bool {
        let g = self.g;
        if g.out_w < P {
            return false;
        }
        let c = g.channels;
        let full = c / LANES * LANES;
        let span = (P - 1) * S + K;
        let starts = (0..g.out_w / P)
            .map(|i| i * P)
            .chain((!g.out_w.is_multiple_of(P)).then_some(g.out_w - P));
        // The taps at the start and at the end of the group's span that fall outside the row.
        let masks = |ox: usize| {
            let first = g.pad_left.saturating_sub(ox * S);
            let last = (g.in_w + g.pad_left).saturating_sub(ox * S).min(span);
            (first, span - last.max(first))
        };
        if starts.clone().any(|ox| masks(ox).0 > 2 || masks(ox).1 > 2) {
            return false;
        }
        for ox in starts {
            let (skip, cut) = masks(ox);
            for c0 in (0..full).step_by(LANES) {
                // SAFETY (all blocks): the function's contract; every offset stays inside the
                // buffers as `forward_row_body` checked them, the columns by the masks.
                let b = unsafe { V::load(self.bias.as_ptr().add(c0)) };
                // The masks as constants: the unrolled loops then hold no test (on 7- and
                // 14-wide maps, where every group is at a border, tests on each tap cost half
                // the time).
                let acc = unsafe {
                    match (skip, cut) {
                        (0, 0) => self.group::<V, K, S, P, 0, 0>(ox, c0, b),
                        (0, 1) => self.group::<V, K, S, P, 0, 1>(ox, c0, b),
                        (0, 2) => self.group::<V, K, S, P, 0, 2>(ox, c0, b),
                        (1, 0) => self.group::<V, K, S, P, 1, 0>(ox, c0, b),
                        (1, 1) => self.group::<V, K, S, P, 1, 1>(ox, c0, b),
                        (1, 2) => self.group::<V, K, S, P, 1, 2>(ox, c0, b),
                        (2, 0) => self.group::<V, K, S, P, 2, 0>(ox, c0, b),
                        (2, 1) => self.group::<V, K, S, P, 2, 1>(ox, c0, b),
                        _ => self.group::<V, K, S, P, 2, 2>(ox, c0, b),
                    }
                };
                unsafe { self.store(acc, ox, c0) };
            }
        }
        true
    }

    /// Pixels `ox..ox + P`, channels `c0..c0 + 16` of [`Rows::groups`]: the accumulators,
    /// from `bias`, over the window's taps but the first `SKIP` and the last `CUT` of the
    /// group's `(P − 1)·S + K`.
    ///
    /// # Safety
    /// As [`Rows::groups`]; the taps `SKIP..span − CUT` of the pixels' windows fall on input
    /// columns.
    #[inline(always)]
    unsafe fn group<
        V: F32x16,
        const K: usize,
        const S: usize,
        const P: usize,
        const SKIP: usize,
        const CUT: usize,
    >(
        &self,
        ox: usize,
        c0: usize,
        bias: V,
    ) -> [V; P] {
        let g = self.g;
        let c = g.channels;
        let mut acc = [bias; P];
        for ky in self.ky.0..self.ky.1 {
            let iy = self.oy * S + ky - g.pad_top;
            // SAFETY (all blocks): the function's contract.
            let row = unsafe { self.img.add(iy * g.in_w * c + c0) };
            let taps = unsafe { self.wts.add(ky * K * c + c0) };
            let w: [V; K] = std::array::from_fn(|kx| unsafe { V::load(taps.add(kx * c)) });
            if S == 2 {
                // Stride 2: a span shares fewer loads (17 for 24 multiply-adds at 3 × 8), and
                // loading per tap lets each load fold into its multiply-add (+1 % at batch 1,
                // +2 % at batch 32 in alternating passes on Zen 5). Same order of taps.
                for (j, a) in acc.iter_mut().enumerate() {
                    for (kx, w) in w.iter().enumerate() {
                        let t = j * S + kx;
                        if t < SKIP || t + CUT >= (P - 1) * S + K {
                            continue;
                        }
                        let v = unsafe { V::load(row.add((ox * S + t - g.pad_left) * c)) };
                        *a = unsafe { v.mul_add(*w, *a) };
                    }
                }
                continue;
            }
            for t in SKIP..(P - 1) * S + K - CUT {
                let v = unsafe { V::load(row.add((ox * S + t - g.pad_left) * c)) };
                for (j, a) in acc.iter_mut().enumerate() {
                    if t >= j * S && t - j * S < K {
                        *a = unsafe { v.mul_add(w[t - j * S], *a) };
                    }
                }
            }
        }
        acc
    }

    /// Channels `c0..c0 + 16` of pixels `ox..ox + P`: the accumulators through the
    /// activation into the output row.
    ///
    /// # Safety
    /// `V`'s instruction set is available; the pixels and channels lie in the output row.
    #[inline(always)]
    unsafe fn store<V: F32x16, const P: usize>(&self, acc: [V; P], ox: usize, c0: usize) {
        let c = self.g.channels;
        for (j, a) in acc.into_iter().enumerate() {
            // SAFETY: the function's contract.
            unsafe {
                a.activate(self.activation)
                    .store(self.dst.add((ox + j) * c + c0))
            };
        }
    }

    /// Interior pixels [`PIXELS`] at a time for any kernel and stride: independent
    /// accumulators that share each weight load. Returns where the grouped pixels end.
    ///
    /// # Safety
    /// As [`Rows::groups`], for any kernel width and stride, but only where the pixels'
    /// windows lie inside the input.
    #[inline(always)]
    unsafe fn interior_any<V: F32x16>(&self, (start, end): (usize, usize)) -> usize {
        let g = self.g;
        let (c, s) = (g.channels, g.stride);
        let full = c / LANES * LANES;
        let grouped_end = start + (end - start) / PIXELS * PIXELS;
        for c0 in (0..full).step_by(LANES) {
            // SAFETY (all blocks): as in `groups`.
            let b = unsafe { V::load(self.bias.as_ptr().add(c0)) };
            for ox in (start..grouped_end).step_by(PIXELS) {
                let mut acc = [b; PIXELS];
                for ky in self.ky.0..self.ky.1 {
                    let iy = self.oy * s + ky - g.pad_top;
                    let px = unsafe { self.img.add((iy * g.in_w + ox * s - g.pad_left) * c + c0) };
                    let taps = unsafe { self.wts.add(ky * g.kernel_w * c + c0) };
                    for kx in 0..g.kernel_w {
                        let w = unsafe { V::load(taps.add(kx * c)) };
                        for (j, a) in acc.iter_mut().enumerate() {
                            let v = unsafe { V::load(px.add((kx + j * s) * c)) };
                            *a = unsafe { v.mul_add(w, *a) };
                        }
                    }
                }
                unsafe { self.store(acc, ox, c0) };
            }
        }
        grouped_end
    }
}

/// Channel blocks computed together for one output pixel.
const BLOCKS: usize = 4;

/// One output pixel's window: the valid kernel rows and columns and where it starts.
struct Pixel<'a> {
    g: &'a Geometry,
    img: *const f32,
    wts: *const f32,
    ky: (usize, usize),
    kx: (usize, usize),
    /// `oy · stride`, `ox · stride`: the window's corner in padded coordinates.
    iy0: usize,
    ix0: usize,
}

impl Pixel<'_> {
    /// Channels `c0..c0 + N · LANES` of this pixel, written to `dst + c0`.
    ///
    /// # Safety
    /// `V`'s instruction set is available; `img`, `wts`, `bias` and `dst` hold the image, the
    /// weights, the bias and the output pixel of `g`, and `c0 + N · LANES ≤ channels`.
    #[inline(always)]
    unsafe fn run<V: F32x16, const N: usize>(
        &self,
        bias: &[f32],
        activation: Activation,
        c0: usize,
        dst: *mut f32,
    ) {
        let g = self.g;
        let c = g.channels;
        // SAFETY (all blocks below): the function's contract.
        let mut acc: [V; N] =
            std::array::from_fn(|i| unsafe { V::load(bias.as_ptr().add(c0 + i * LANES)) });
        for ky in self.ky.0..self.ky.1 {
            let iy = self.iy0 + ky - g.pad_top;
            for kx in self.kx.0..self.kx.1 {
                let ix = self.ix0 + kx - g.pad_left;
                let src = unsafe { self.img.add((iy * g.in_w + ix) * c + c0) };
                let tap = unsafe { self.wts.add((ky * g.kernel_w + kx) * c + c0) };
                for (i, a) in acc.iter_mut().enumerate() {
                    let v = unsafe { V::load(src.add(i * LANES)) };
                    let w = unsafe { V::load(tap.add(i * LANES)) };
                    *a = unsafe { v.mul_add(w, *a) };
                }
            }
        }
        for (i, a) in acc.into_iter().enumerate() {
            unsafe { a.activate(activation).store(dst.add(c0 + i * LANES)) };
        }
    }
}

/// A pointer to `LANES` values from `offset`, bounds-checked once for all lanes.
#[inline(always)]
fn lanes(data: &[f32], offset: usize) -> *const f32 {
    data[offset..offset + LANES].as_ptr()
}

fn input_grad_cpu(simd: Simd, g: &Geometry, grad: &[f32], weight: &[f32]) -> Vec<f32> {
    let row_len = g.in_w * g.channels;
    let mut out = vec![0f32; g.batch * g.in_h * row_len];
    if row_len == 0 {
        return out;
    }
    let grad_image = g.out_h * g.out_w * g.channels;
    out.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(row, out_row)| {
            let (n, iy) = (row / g.in_h, row % g.in_h);
            let grad = &grad[n * grad_image..][..grad_image];
            input_grad_row(simd, g, grad, weight, iy, out_row);
        });
    out
}

/// The output position `o` that kernel offset `k` connects to input position `i`, if any.
#[inline(always)]
fn source(i: usize, k: usize, pad: usize, stride: usize, len: usize) -> Option<usize> {
    let t = (i + pad).checked_sub(k)?;
    (t % stride == 0 && t / stride < len).then_some(t / stride)
}

/// One input row `iy` of one image: `dx[iy, ix, c] = Σ grad[oy, ox, c] · w[ky, kx, c]` over
/// the output pixels whose window covers `(iy, ix)`.
///
/// # Safety
/// `F::FMA` only where the CPU has FMA (it is compiled to the instruction).
#[inline(always)]
unsafe fn input_grad_row_body<F: Fma>(
    g: &Geometry,
    grad: &[f32],
    weight: &[f32],
    iy: usize,
    out: &mut [f32],
) {
    let c = g.channels;
    for ix in 0..g.in_w {
        let dst = &mut out[ix * c..][..c];
        for ky in 0..g.kernel_h {
            let Some(oy) = source(iy, ky, g.pad_top, g.stride, g.out_h) else {
                continue;
            };
            for kx in 0..g.kernel_w {
                let Some(ox) = source(ix, kx, g.pad_left, g.stride, g.out_w) else {
                    continue;
                };
                let src = &grad[(oy * g.out_w + ox) * c..][..c];
                let w = &weight[(ky * g.kernel_w + kx) * c..][..c];
                for ((d, &s), &w) in dst.iter_mut().zip(src).zip(w) {
                    *d = madd::<F>(s, w, *d);
                }
            }
        }
    }
}

fn weight_grad_cpu(simd: Simd, g: &Geometry, grad: &[f32], x: &[f32]) -> Vec<f32> {
    let taps = g.kernel_h * g.kernel_w * g.channels;
    let row_len = g.out_w * g.channels;
    if row_len == 0 {
        return vec![0f32; taps];
    }
    grad.par_chunks(row_len)
        .enumerate()
        .fold(
            || vec![0f32; taps],
            |mut acc, (row, grad_row)| {
                let (n, oy) = (row / g.out_h, row % g.out_h);
                let image = &x[n * g.image_len()..][..g.image_len()];
                weight_grad_row(simd, g, grad_row, image, oy, &mut acc);
                acc
            },
        )
        .reduce(
            || vec![0f32; taps],
            |mut a, b| {
                for (a, b) in a.iter_mut().zip(&b) {
                    *a += b;
                }
                a
            },
        )
}

/// Adds one output row's contribution: `dw[ky, kx, c] += grad[oy, ox, c] · x[iy, ix, c]`.
///
/// # Safety
/// As for [`input_grad_row_body`].
#[inline(always)]
unsafe fn weight_grad_row_body<F: Fma>(
    g: &Geometry,
    grad_row: &[f32],
    image: &[f32],
    oy: usize,
    acc: &mut [f32],
) {
    let c = g.channels;
    let (ky0, ky1) = g.taps_y(oy);
    for ox in 0..g.out_w {
        let (kx0, kx1) = g.taps_x(ox);
        let grad = &grad_row[ox * c..][..c];
        for ky in ky0..ky1 {
            let iy = oy * g.stride + ky - g.pad_top;
            for kx in kx0..kx1 {
                let ix = ox * g.stride + kx - g.pad_left;
                let src = &image[(iy * g.in_w + ix) * c..][..c];
                let dst = &mut acc[(ky * g.kernel_w + kx) * c..][..c];
                for ((d, &s), &gr) in dst.iter_mut().zip(src).zip(grad) {
                    *d = madd::<F>(s, gr, *d);
                }
            }
        }
    }
}

/// Permutes a PyTorch depthwise weight `C×1×KH×KW` into this op's `KH×KW×C` layout.
pub fn weight_to_hwc(weight: &Tensor) -> Result<Tensor> {
    let (channels, one, kernel_h, kernel_w) = weight.dims4()?;
    if one != 1 {
        bail!(
            "depthwise weight must be C×1×KH×KW, got {:?}",
            weight.dims()
        )
    }
    weight
        .reshape((channels, kernel_h * kernel_w))?
        .t()?
        .reshape((kernel_h, kernel_w, channels))
}

#[cfg(test)]
mod tests;
