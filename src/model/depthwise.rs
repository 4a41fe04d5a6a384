//! Depthwise 2-D convolution on channels-last tensors, as a Candle custom op.
//!
//! MobileNet-style networks (EfficientNet-Lite0 among them; DESIGN §4) spend most of their
//! *memory traffic* in depthwise convolutions, yet Candle 0.11 runs a grouped convolution as
//! one convolution per channel followed by a concatenation: 77 % of a stock Lite0 forward
//! pass (PERF_NOTES, finding 1). This module computes it directly instead:
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

/// Channels handled together: one AVX-512 register, two AVX2 registers.
pub(crate) const LANES: usize = 16;

/// Output pixels computed together in the inner loop, sharing each weight load.
pub(crate) const PIXELS: usize = 4;

/// Sixteen `f32` lanes in the registers of one instruction set.
///
/// # Safety
/// An implementation's methods may only run on a CPU that has its instruction set (checked by
/// [`Simd::detect`]); they are `#[inline(always)]` so that they compile into the
/// `#[target_feature]` function that calls them.
pub(crate) unsafe trait F32x16: Copy {
    /// Sixteen floats from `src`.
    ///
    /// # Safety
    /// The CPU has the implementation's instruction set, and `src` points to 16 readable
    /// floats.
    unsafe fn load(src: *const f32) -> Self;
    /// Sixteen floats to `dst`.
    ///
    /// # Safety
    /// The CPU has the implementation's instruction set, and `dst` points to 16 writable
    /// floats.
    unsafe fn store(self, dst: *mut f32);
    /// All lanes set to `v`.
    ///
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn splat(v: f32) -> Self;
    /// `self · w + acc`, fused.
    ///
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self;
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn add(self, other: Self) -> Self;
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn activate(self, activation: Activation) -> Self;
}

/// One AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx512(std::arch::x86_64::__m512);

// SAFETY: only used by `*_avx512` functions, which run after `Simd::detect` found AVX-512F.
#[cfg(target_arch = "x86_64")]
unsafe impl F32x16 for Avx512 {
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        // SAFETY: 16 readable floats; AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_loadu_ps(src)) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        // SAFETY: 16 writable floats; AVX-512F per the trait's contract.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_fmadd_ps(self.0, w.0, acc.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_add_ps(self.0, other.0)) }
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        use std::arch::x86_64::{_mm512_max_ps, _mm512_min_ps, _mm512_set1_ps, _mm512_setzero_ps};
        match activation {
            Activation::Identity => self,
            // SAFETY: AVX-512F per the trait's contract.
            Activation::Relu6 => unsafe {
                Self(_mm512_min_ps(
                    _mm512_max_ps(self.0, _mm512_setzero_ps()),
                    _mm512_set1_ps(6.0),
                ))
            },
            // SAFETY: AVX-512F per the trait's contract.
            Activation::Relu => unsafe { Self(_mm512_max_ps(self.0, _mm512_setzero_ps())) },
        }
    }
}

/// Two AVX2 registers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(std::arch::x86_64::__m256, std::arch::x86_64::__m256);

// SAFETY: only used by `*_avx2` functions, which run after `Simd::detect` found AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
unsafe impl F32x16 for Avx2 {
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        use std::arch::x86_64::_mm256_loadu_ps;
        // SAFETY: 16 readable floats; AVX per the trait's contract.
        unsafe { Self(_mm256_loadu_ps(src), _mm256_loadu_ps(src.add(8))) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        use std::arch::x86_64::_mm256_storeu_ps;
        // SAFETY: 16 writable floats; AVX per the trait's contract.
        unsafe {
            _mm256_storeu_ps(dst, self.0);
            _mm256_storeu_ps(dst.add(8), self.1);
        }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX per the trait's contract.
        unsafe {
            let v = std::arch::x86_64::_mm256_set1_ps(v);
            Self(v, v)
        }
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        use std::arch::x86_64::_mm256_fmadd_ps;
        // SAFETY: FMA per the trait's contract.
        unsafe {
            Self(
                _mm256_fmadd_ps(self.0, w.0, acc.0),
                _mm256_fmadd_ps(self.1, w.1, acc.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        use std::arch::x86_64::_mm256_add_ps;
        // SAFETY: AVX per the trait's contract.
        unsafe {
            Self(
                _mm256_add_ps(self.0, other.0),
                _mm256_add_ps(self.1, other.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        use std::arch::x86_64::{_mm256_max_ps, _mm256_min_ps, _mm256_set1_ps, _mm256_setzero_ps};
        match activation {
            Activation::Identity => self,
            // SAFETY: AVX per the trait's contract.
            Activation::Relu6 => unsafe {
                let (zero, six) = (_mm256_setzero_ps(), _mm256_set1_ps(6.0));
                Self(
                    _mm256_min_ps(_mm256_max_ps(self.0, zero), six),
                    _mm256_min_ps(_mm256_max_ps(self.1, zero), six),
                )
            },
            // SAFETY: AVX per the trait's contract.
            Activation::Relu => unsafe {
                let zero = _mm256_setzero_ps();
                Self(_mm256_max_ps(self.0, zero), _mm256_max_ps(self.1, zero))
            },
        }
    }
}

/// Plain arrays, for other CPUs (the compiler vectorises what it can).
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; LANES]);

// SAFETY: needs no particular instruction set.
unsafe impl F32x16 for Portable {
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        // SAFETY: 16 readable floats per the trait's contract.
        Self(unsafe { src.cast::<[f32; LANES]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        // SAFETY: 16 writable floats per the trait's contract.
        unsafe { dst.cast::<[f32; LANES]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Self([v; LANES])
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        let mut out = acc.0;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(w.0) {
            *o += a * b;
        }
        Self(out)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o += b;
        }
        Self(out)
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        Self(self.0.map(|v| activation.apply(v)))
    }
}

multiversion!(forward_row => forward_row_body::<Avx512, Avx2, Portable>(
    g: &Geometry,
    image: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
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
                forward_row(simd, g, image, weight, bias, activation, oy, out_row);
            });
    }
    // SAFETY: `forward_row` writes every element of every output row (each pixel, each
    // channel: the 16-lane blocks and the tail), so all `len` elements are initialised.
    unsafe { out.set_len(len) };
    out
}

/// One output row `oy` of one image: `out[ox, c] = act(bias[c] + Σ x[iy, ix, c] · w[ky, kx, c])`.
///
/// Channels go 16 at a time; away from the left and right borders, [`PIXELS`] output pixels
/// share each weight load, elsewhere [`BLOCKS`] channel blocks go together (independent
/// accumulators hide the latency of the fused multiply-adds). Every element of `out` is
/// written.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn forward_row_body<V: F32x16>(
    g: &Geometry,
    image: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
    oy: usize,
    out: &mut [MaybeUninit<f32>],
) {
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
    // `interior_x` or `taps_x`), `ky < kernel_h`, `kx < kernel_w`, `c0 + LANES ≤ c`,
    // `ox < out_w`.
    let (img, wts, dst) = (
        image.as_ptr(),
        weight.as_ptr(),
        out.as_mut_ptr().cast::<f32>(),
    );
    let (ky0, ky1) = g.taps_y(oy);
    let (inner_start, inner_end) = g.interior_x();
    let grouped_end = inner_start + (inner_end - inner_start) / PIXELS * PIXELS;
    // Interior pixels, PIXELS at a time: independent accumulators that share weight loads.
    for c0 in (0..full).step_by(LANES) {
        // SAFETY (all blocks below): `V`'s instruction set is available, and the offsets are
        // in bounds as explained above.
        let b = unsafe { V::load(bias.as_ptr().add(c0)) };
        for ox in (inner_start..grouped_end).step_by(PIXELS) {
            debug_assert!(
                ox * s >= g.pad_left && (ox + PIXELS - 1) * s + g.kernel_w <= g.in_w + g.pad_left
            );
            let mut acc = [b; PIXELS];
            for ky in ky0..ky1 {
                let iy = oy * s + ky - g.pad_top;
                debug_assert!(iy < g.in_h);
                let px = unsafe { img.add((iy * g.in_w + ox * s - g.pad_left) * c + c0) };
                let taps = unsafe { wts.add(ky * g.kernel_w * c + c0) };
                for kx in 0..g.kernel_w {
                    let w = unsafe { V::load(taps.add(kx * c)) };
                    for (j, a) in acc.iter_mut().enumerate() {
                        let v = unsafe { V::load(px.add((kx + j * s) * c)) };
                        *a = unsafe { v.mul_add(w, *a) };
                    }
                }
            }
            for (j, a) in acc.into_iter().enumerate() {
                unsafe { a.activate(activation).store(dst.add((ox + j) * c + c0)) };
            }
        }
    }
    // The other pixels (borders, leftovers, narrow maps): several channel blocks at once, so
    // that their accumulations are independent too.
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
mod tests {
    use super::*;
    use crate::model::test_util::{max_abs_diff, probed_grads};
    use candle_core::{DType, Device, Var};

    #[test]
    fn same_padding_matches_tensorflow() {
        // (input, kernel, stride) → (output, before, after), as tf.nn.conv2d(padding="SAME").
        assert_eq!(same_padding(224, 3, 2), (112, 0, 1));
        assert_eq!(same_padding(112, 3, 1), (112, 1, 1));
        assert_eq!(same_padding(112, 3, 2), (56, 0, 1));
        assert_eq!(same_padding(56, 5, 2), (28, 1, 2));
        assert_eq!(same_padding(14, 5, 1), (14, 2, 2));
        assert_eq!(same_padding(14, 5, 2), (7, 1, 2));
        assert_eq!(same_padding(225, 3, 2), (113, 1, 1));
        assert_eq!(same_padding(7, 1, 1), (7, 0, 0));
        assert_eq!(same_padding(2, 5, 1), (2, 2, 2));
        assert_eq!(same_padding(1, 3, 2), (1, 1, 1));
        assert_eq!(
            Padding2d::same(16, 15, 5, 2),
            Padding2d {
                top: 1,
                bottom: 2,
                left: 2,
                right: 2
            }
        );
    }

    /// Candle's grouped convolution on NCHW, with the same asymmetric padding.
    fn candle_reference(
        x_nhwc: &Tensor,
        weight_chw: &Tensor,
        bias: &Tensor,
        stride: usize,
        p: Padding2d,
    ) -> Result<Tensor> {
        let channels = bias.dim(0)?;
        let x = x_nhwc.permute((0, 3, 1, 2))?;
        let x = x.pad_with_zeros(2, p.top, p.bottom)?;
        let x = x.pad_with_zeros(3, p.left, p.right)?;
        let y = x.conv2d(weight_chw, 0, stride, 1, channels)?;
        y.broadcast_add(&bias.reshape((1, channels, 1, 1))?)?
            .permute((0, 2, 3, 1))?
            .contiguous()
    }

    #[test]
    fn forward_matches_candle_grouped_conv() {
        let dev = Device::Cpu;
        // Channels 40 = two 16-lane blocks and a tail of 8; odd and even sizes.
        for &(kernel, stride, h, w) in &[
            (3, 1, 9, 8),
            (3, 2, 9, 8),
            (5, 1, 7, 10),
            (5, 2, 14, 11),
            (3, 2, 2, 1),
        ] {
            let channels = 40;
            let x = Tensor::randn(0f32, 1.0, (2, h, w, channels), &dev).unwrap();
            let weight = Tensor::randn(0f32, 1.0, (channels, 1, kernel, kernel), &dev).unwrap();
            let bias = Tensor::randn(0f32, 1.0, channels, &dev).unwrap();
            let padding = Padding2d::same(h, w, kernel, stride);
            let expected = candle_reference(&x, &weight, &bias, stride, padding).unwrap();
            let op = DepthwiseConv2d {
                stride,
                padding,
                activation: Activation::Identity,
            };
            let hwc = weight_to_hwc(&weight).unwrap();
            let got = op.forward(&x, &hwc, &bias).unwrap();
            assert_eq!(got.dims(), expected.dims(), "k{kernel} s{stride} {h}×{w}");
            let err = max_abs_diff(&got, &expected);
            assert!(err < 1e-4, "k{kernel} s{stride} {h}×{w}: max error {err}");

            let relu6 = DepthwiseConv2d {
                activation: Activation::Relu6,
                ..op
            };
            let got = relu6.forward(&x, &hwc, &bias).unwrap();
            let err = max_abs_diff(&got, &expected.clamp(0f32, 6f32).unwrap());
            assert!(err < 1e-4, "relu6 k{kernel} s{stride}: max error {err}");
        }
    }

    /// The same convolution from differentiable Candle ops (shifted, strided slices), as a
    /// reference for the gradients.
    fn sliced_reference(
        x: &Tensor,
        weight_hwc: &Tensor,
        bias: &Tensor,
        stride: usize,
        p: Padding2d,
    ) -> Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        let (kh, kw, _) = weight_hwc.dims3()?;
        let oh = (h + p.top + p.bottom - kh) / stride + 1;
        let ow = (w + p.left + p.right - kw) / stride + 1;
        let xp = x
            .pad_with_zeros(1, p.top, p.bottom + stride)?
            .pad_with_zeros(2, p.left, p.right + stride)?;
        let wp = xp.dim(2)?;
        let mut acc = bias.reshape((1, 1, 1, c))?.broadcast_as((n, oh, ow, c))?;
        for ky in 0..kh {
            let rows = xp
                .narrow(1, ky, oh * stride)?
                .reshape((n, oh, stride, wp, c))?
                .narrow(2, 0, 1)?
                .squeeze(2)?;
            for kx in 0..kw {
                let patch = rows
                    .narrow(2, kx, ow * stride)?
                    .reshape((n, oh, ow, stride, c))?
                    .narrow(3, 0, 1)?
                    .squeeze(3)?;
                let tap = weight_hwc.narrow(0, ky, 1)?.narrow(1, kx, 1)?.squeeze(0)?;
                acc = acc.broadcast_add(&patch.broadcast_mul(&tap.reshape((1, 1, 1, c))?)?)?;
            }
        }
        Ok(acc)
    }

    #[test]
    fn backward_matches_differentiable_reference() {
        let dev = Device::Cpu;
        for &(kernel, stride, h, w, activation) in &[
            (3, 1, 6, 7, Activation::Identity),
            (3, 2, 7, 6, Activation::Relu6),
            (5, 1, 6, 5, Activation::Relu6),
            (5, 2, 9, 8, Activation::Identity),
        ] {
            let channels = 20;
            let x = Var::randn(0f32, 2.0, (2, h, w, channels), &dev).unwrap();
            let weight = Var::randn(0f32, 1.0, (kernel, kernel, channels), &dev).unwrap();
            let bias = Var::randn(0f32, 1.0, channels, &dev).unwrap();
            let padding = Padding2d::same(h, w, kernel, stride);
            let op = DepthwiseConv2d {
                stride,
                padding,
                activation,
            };
            let got = op.forward(&x, &weight, &bias).unwrap();
            let reference =
                sliced_reference(x.as_tensor(), &weight, &bias, stride, padding).unwrap();
            let reference = match activation {
                Activation::Identity => reference,
                Activation::Relu6 => reference.clamp(0f32, 6f32).unwrap(),
                Activation::Relu => reference.relu().unwrap(),
            };
            assert!(max_abs_diff(&got, &reference) < 1e-4);

            let probe = Tensor::randn(0f32, 1.0, got.dims(), &dev).unwrap();
            let grads_got = probed_grads(&got, &probe);
            let grads_ref = probed_grads(&reference, &probe);
            for (name, var) in [("input", &x), ("weight", &weight), ("bias", &bias)] {
                let a = grads_got.get(var).unwrap();
                let b = grads_ref.get(var).unwrap();
                let err = max_abs_diff(a, b);
                assert!(
                    err < 1e-3,
                    "{name} gradient k{kernel} s{stride}: max error {err}"
                );
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_result() {
        let dev = Device::Cpu;
        let (n, h, w, c, k, stride) = (2, 11, 13, 37, 5, 2);
        let x = Tensor::randn(0f32, 2.0, (n, h, w, c), &dev).unwrap();
        let weight = Tensor::randn(0f32, 1.0, (k, k, c), &dev).unwrap();
        let bias = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
        let padding = Padding2d::same(h, w, k, stride);
        let g = Geometry::new(x.shape(), k, k, stride, padding).unwrap();
        let (xs, ws, bs) = (
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            weight.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            bias.to_vec1::<f32>().unwrap(),
        );
        let results: Vec<Vec<f32>> = Simd::available()
            .into_iter()
            .map(|simd| forward_cpu(simd, &g, &xs, &ws, &bs, Activation::Relu6))
            .collect();
        let same = |results: &[Vec<f32>], what: &str| {
            let portable = results.last().unwrap();
            for result in results {
                let err = result
                    .iter()
                    .zip(portable)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(err < 1e-4, "{what}: max difference {err}");
            }
        };
        same(&results, "forward");
        // The backward kernels, from one output gradient.
        let grad = &results[0];
        let input_grads: Vec<Vec<f32>> = Simd::available()
            .into_iter()
            .map(|simd| input_grad_cpu(simd, &g, grad, &ws))
            .collect();
        same(&input_grads, "input gradient");
        let weight_grads: Vec<Vec<f32>> = Simd::available()
            .into_iter()
            .map(|simd| weight_grad_cpu(simd, &g, grad, &xs))
            .collect();
        same(&weight_grads, "weight gradient");
        let rows = xs[..3 * c].to_vec();
        let residual = &xs[3 * c..6 * c];
        for simd in Simd::available() {
            let mut got = rows.clone();
            bias_activation_rows(simd, &mut got, &bs, Some(residual), Activation::Relu6);
            for (i, v) in got.iter().enumerate() {
                let expected = (rows[i] + bs[i % c]).clamp(0.0, 6.0) + residual[i];
                assert!((v - expected).abs() < 1e-5, "{simd:?} element {i}");
            }
        }
    }

    #[test]
    fn rejects_other_dtypes_and_small_inputs() {
        let dev = Device::Cpu;
        let op = DepthwiseConv2d {
            stride: 1,
            padding: Padding2d::default(),
            activation: Activation::Identity,
        };
        let w = Tensor::zeros((3, 3, 4), DType::F32, &dev).unwrap();
        let b = Tensor::zeros(4, DType::F32, &dev).unwrap();
        let x64 = Tensor::zeros((1, 5, 5, 4), DType::F64, &dev).unwrap();
        assert!(op.forward(&x64, &w, &b).is_err());
        let tiny = Tensor::zeros((1, 2, 2, 4), DType::F32, &dev).unwrap();
        assert!(op.forward(&tiny, &w, &b).is_err());
    }
}
