//! Dense and 1×1 convolutions on channels-last tensors with the bias and activation fused, as
//! a differentiable Candle custom op: the training kernels of Lite0's 1×1 layers and stem,
//! and of the shallow branch (the depthwise layers have [`super::depthwise`]).
//!
//! Candle's own path for these layers (a convolution or matmul op, then a broadcast add, then
//! a clamp, each allocating and each with its own backward pass, and for k×k convolutions an
//! im2col of the whole batch and a backward through a transposed convolution) is what made
//! training slow (`vitrine bench train`). Here:
//!
//! * **forward**: `y = act(cols(x) · W + b)`, where `cols(x)` is `x` itself for a 1×1
//!   convolution (rows of channels) and an im2col of a few hundred output pixels at a time
//!   otherwise (so the column block stays in cache); the matrix product is `gemm`'s, the bias
//!   and activation run on the rows while they are in cache;
//! * **backward**: the activation's derivative is read off the *output* (`0 < y < 6` for
//!   ReLU6, `y > 0` for ReLU), so nothing but `y` is kept; one pass gives `dz` and the bias
//!   gradient, `dW = cols(x)ᵀ · dz` is split over the rows so that every thread reduces its
//!   own share, and `dx = dz · Wᵀ` (scattered back through the im2col for k×k) is computed
//!   only when the input needs a gradient (not for an image or a frozen layer's output).
//!
//! Layouts: `x` is `N×H×W×C`; the weight is `K×O` with `K = KH·KW·C` rows in `(ky, kx, c)`
//! order (the layout of the inference kernels' folded weights, `lite0::fused`), `O` output
//! channels; the bias is `O`; the output is `N×OH×OW×O`. Only contiguous `f32` tensors on
//! the CPU; other devices use Candle's generic ops (see `lite0`).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;
use rayon::prelude::*;

use super::cpu_data::{f32_slice, with_cpu_f32};
use super::depthwise::{Activation, FusedLayer, Padding2d, bias_activation};
use super::elementwise::{activation_pass, add_column_sums, finish, slots, uninit};

/// A convolution with its bias and activation fused (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvAct {
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: Padding2d,
    pub activation: Activation,
}

impl ConvAct {
    /// A 1×1 convolution (stride 1, no padding): a matrix product over the pixels.
    pub fn pointwise(activation: Activation) -> Self {
        Self {
            kernel_h: 1,
            kernel_w: 1,
            stride: 1,
            padding: Padding2d::default(),
            activation,
        }
    }

    /// A square `kernel` with `stride` and explicit `padding`.
    pub fn square(
        kernel: usize,
        stride: usize,
        padding: Padding2d,
        activation: Activation,
    ) -> Self {
        Self {
            kernel_h: kernel,
            kernel_w: kernel,
            stride,
            padding,
            activation,
        }
    }

    /// `act(conv(x, weight) + bias)`, differentiable; the arguments are made contiguous.
    pub fn forward(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        if self.stride == 0 || self.kernel_h == 0 || self.kernel_w == 0 {
            bail!("convolution: kernel and stride must be at least 1")
        }
        x.contiguous()?
            .apply_op3(&weight.contiguous()?, &bias.contiguous()?, *self)
    }

    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride == 1
            && self.padding == Padding2d::default()
    }

    fn geometry(&self, input: &Shape, weight: &Shape) -> Result<Geometry> {
        let (batch, in_h, in_w, channels) = input.dims4()?;
        let (k, out_c) = weight.dims2()?;
        let p = self.padding;
        let (padded_h, padded_w) = (in_h + p.top + p.bottom, in_w + p.left + p.right);
        if k != self.kernel_h * self.kernel_w * channels {
            bail!(
                "convolution: weight {:?} does not fit a {}×{} kernel over {channels} channels",
                weight.dims(),
                self.kernel_h,
                self.kernel_w
            )
        }
        if padded_h < self.kernel_h || padded_w < self.kernel_w {
            bail!(
                "convolution: padded input {padded_h}×{padded_w} is smaller than the {}×{} kernel",
                self.kernel_h,
                self.kernel_w
            )
        }
        Ok(Geometry {
            batch,
            in_h,
            in_w,
            channels,
            out_h: (padded_h - self.kernel_h) / self.stride + 1,
            out_w: (padded_w - self.kernel_w) / self.stride + 1,
            out_c,
            kernel_h: self.kernel_h,
            kernel_w: self.kernel_w,
            stride: self.stride,
            pad_top: p.top,
            pad_left: p.left,
        })
    }
}

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    in_h: usize,
    in_w: usize,
    channels: usize,
    out_h: usize,
    out_w: usize,
    out_c: usize,
    kernel_h: usize,
    kernel_w: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
}

impl Geometry {
    /// Columns of the im2col matrix: `KH·KW·C`.
    fn k(&self) -> usize {
        self.kernel_h * self.kernel_w * self.channels
    }

    /// Output pixels of one image.
    fn pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Output pixels per im2col block: the block (`rows × K`) stays near 64 KiB.
    fn block_rows(&self) -> usize {
        (16 * 1024 / self.k().max(1)).clamp(16, 512)
    }

    /// Writes the im2col rows of output pixels `first..first + rows.len() / K` of image
    /// `image` (pixels of `x`, one image) into `rows`: zeros where the window leaves the input.
    fn im2col(&self, image: &[f32], first: usize, rows: &mut [f32]) {
        let (k, c) = (self.k(), self.channels);
        for (r, row) in rows.chunks_exact_mut(k).enumerate() {
            let pixel = first + r;
            let (oy, ox) = (pixel / self.out_w, pixel % self.out_w);
            for ky in 0..self.kernel_h {
                let iy = (oy * self.stride + ky).checked_sub(self.pad_top);
                for kx in 0..self.kernel_w {
                    let ix = (ox * self.stride + kx).checked_sub(self.pad_left);
                    let dst = &mut row[(ky * self.kernel_w + kx) * c..][..c];
                    match (iy, ix) {
                        (Some(iy), Some(ix)) if iy < self.in_h && ix < self.in_w => {
                            dst.copy_from_slice(&image[(iy * self.in_w + ix) * c..][..c]);
                        }
                        _ => dst.fill(0.0),
                    }
                }
            }
        }
    }

    /// Adds im2col rows back into the image they came from (the transpose of [`Self::im2col`]).
    fn col2im_add(&self, rows: &[f32], first: usize, image: &mut [f32]) {
        let (k, c) = (self.k(), self.channels);
        for (r, row) in rows.chunks_exact(k).enumerate() {
            let pixel = first + r;
            let (oy, ox) = (pixel / self.out_w, pixel % self.out_w);
            for ky in 0..self.kernel_h {
                let Some(iy) = (oy * self.stride + ky).checked_sub(self.pad_top) else {
                    continue;
                };
                if iy >= self.in_h {
                    continue;
                }
                for kx in 0..self.kernel_w {
                    let Some(ix) = (ox * self.stride + kx).checked_sub(self.pad_left) else {
                        continue;
                    };
                    if ix >= self.in_w {
                        continue;
                    }
                    let src = &row[(ky * self.kernel_w + kx) * c..][..c];
                    let dst = &mut image[(iy * self.in_w + ix) * c..][..c];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        }
    }
}

impl CustomOp3 for ConvAct {
    fn name(&self) -> &'static str {
        "conv2d-nhwc-bias-act"
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
        let x = f32_slice(s1, l1, "convolution", Some("input"))?;
        let weight = f32_slice(s2, l2, "convolution", Some("weight"))?;
        let bias = f32_slice(s3, l3, "convolution", Some("bias"))?;
        let g = self.geometry(l1.shape(), l2.shape())?;
        if bias.len() != g.out_c {
            bail!(
                "convolution: bias {:?} against weight {:?}",
                l3.dims(),
                l2.dims()
            )
        }
        let shape = Shape::from((g.batch, g.out_h, g.out_w, g.out_c));
        let out = if self.is_pointwise() {
            let m = g.batch * g.pixels();
            let layer = FusedLayer {
                weight,
                bias,
                activation: self.activation,
            };
            matmul_bias_act(x, m, g.channels, &layer, g.out_c, None)
        } else {
            im2col_forward(&g, x, weight, bias, self.activation)
        };
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
        let g = self.geometry(x.shape(), weight.shape())?;
        let grad_res = grad_res.contiguous()?;
        let want_dx = x.track_op();
        let (dx, dw, db) = with_cpu_f32(&[&grad_res, res, x, weight], |t| {
            let (dy, y, xs, w) = (t[0], t[1], t[2], t[3]);
            let n = g.out_c;
            let (dz, db) = activation_grad(dy, y, n, self.activation);
            let dz: &[f32] = dz.as_deref().unwrap_or(dy);
            let (dx, dw) = if self.is_pointwise() {
                let m = g.batch * g.pixels();
                let k = g.channels;
                let dw = pointwise_weight_grad(xs, dz, m, k, n);
                let dx = want_dx.then(|| pointwise_input_grad(dz, w, m, k, n));
                (dx, dw)
            } else {
                im2col_backward(&g, xs, w, dz, want_dx)
            };
            Ok((dx, dw, db))
        })?;
        let n = g.out_c;
        let device = x.device();
        let dx = match dx {
            Some(dx) => Some(Tensor::from_vec(dx, x.shape(), device)?),
            None => None,
        };
        let dw = Tensor::from_vec(dw, weight.shape(), device)?;
        let db = Tensor::from_vec(db, n, device)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// One operand of [`gemm_strided`]: a matrix's elements and the distance, in elements, from
/// one row to the next and from one column to the next (swapped, the matrix reads
/// transposed).
#[derive(Clone, Copy, Debug)]
struct Strided<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

impl<'a> Strided<'a> {
    /// `data` with the strides `(row_stride, col_stride)`.
    fn new(data: &'a [f32], (row_stride, col_stride): (usize, usize)) -> Self {
        Self {
            data,
            row_stride,
            col_stride,
        }
    }
}

/// `dst = lhs · rhs` (or `dst += …` with `accumulate`) for row-major `lhs` given by its
/// strides, on one thread or `parallelism`'s. Sizes are checked against the slices.
fn gemm_strided(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: Strided<'_>,
    rhs: Strided<'_>,
    parallelism: Parallelism,
) {
    let Strided {
        data: lhs,
        row_stride: lhs_rs,
        col_stride: lhs_cs,
    } = lhs;
    let Strided {
        data: rhs,
        row_stride: rhs_rs,
        col_stride: rhs_cs,
    } = rhs;
    if m == 0 || n == 0 {
        return;
    }
    let last = |rs: usize, cs: usize, rows: usize, cols: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(
        dst.len() > last(dst_rs, dst_cs, m, n),
        "gemm: destination too small"
    );
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    assert!(
        lhs.len() > last(lhs_rs, lhs_cs, m, k),
        "gemm: left operand too small"
    );
    assert!(
        rhs.len() > last(rhs_rs, rhs_cs, k, n),
        "gemm: right operand too small"
    );
    // SAFETY: the asserts above keep every element the strides reach inside its slice; `dst`
    // is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Rows per task of a row-parallel product: small enough that a task's rows stay in the
/// core's cache while the epilogue runs, and enough tasks to keep every thread busy.
fn rows_per_task(m: usize, k: usize, n: usize, threads: usize) -> usize {
    const CACHE_FLOATS: usize = 48 * 1024;
    let by_cache = (CACHE_FLOATS / (k + n).max(1)).max(16);
    let by_balance = m.div_ceil(threads * 4).max(16);
    by_cache.min(by_balance)
}

/// `act(x · W + b) [+ residual]` for `x` `M × K` and `W` `K × N`, row-major; `M × N` out.
/// The matrix product runs on blocks of rows in parallel, each finished (bias, activation,
/// residual) while it is in cache.
pub(crate) fn matmul_bias_act(
    x: &[f32],
    m: usize,
    k: usize,
    layer: &FusedLayer<'_>,
    n: usize,
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let FusedLayer {
        weight,
        bias,
        activation,
    } = *layer;
    let len = m * n;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let threads = rayon::current_num_threads().max(1);
    let rows = rows_per_task(m, k, n, threads);
    let run = |out: &mut [MaybeUninit<f32>], r0: usize, parallelism: Parallelism| {
        let r = out.len() / n.max(1);
        // SAFETY: `gemm_strided` with `accumulate` false writes every element of the block
        // (k = 0 fills it with zeros), so viewing it as initialised floats is sound once it
        // has run; until then nothing reads it.
        let block = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
        gemm_strided(
            (r, n, k),
            block,
            (n, 1),
            false,
            Strided::new(&x[r0 * k..(r0 + r) * k], (k, 1)),
            Strided::new(weight, (n, 1)),
            parallelism,
        );
        let res = residual.map(|res| &res[r0 * n..(r0 + r) * n]);
        bias_activation(block, bias, res, activation);
    };
    if len > 0 {
        let slots = &mut out.spare_capacity_mut()[..len];
        if m <= rows {
            let parallelism = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            run(slots, 0, parallelism);
        } else {
            slots
                .par_chunks_mut(rows * n)
                .enumerate()
                .for_each(|(i, block)| run(block, i * rows, Parallelism::None));
        }
    }
    // SAFETY: every row block was written by `run` above.
    unsafe { out.set_len(len) };
    out
}

/// The forward pass of a k×k convolution: im2col blocks of output pixels, each multiplied and
/// finished while in cache.
fn im2col_forward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
) -> Vec<f32> {
    let (k, n) = (g.k(), g.out_c);
    let pixels = g.pixels();
    let image_len = g.in_h * g.in_w * g.channels;
    let block = g.block_rows();
    let mut out = vec![0f32; g.batch * pixels * n];
    if n == 0 || pixels == 0 {
        return out;
    }
    // Tasks: (image, block of its output pixels).
    let blocks_per_image = pixels.div_ceil(block);
    let mut tasks: Vec<(usize, usize, &mut [f32])> = Vec::new();
    for (image, out_image) in out.chunks_mut(pixels * n).enumerate() {
        for (b, chunk) in out_image.chunks_mut(block * n).enumerate() {
            tasks.push((image, b * block, chunk));
        }
    }
    debug_assert_eq!(tasks.len(), g.batch * blocks_per_image);
    tasks.into_par_iter().for_each_init(
        || vec![0f32; block * k],
        |cols, (image, first, dst)| {
            let rows = dst.len() / n;
            let cols = &mut cols[..rows * k];
            g.im2col(&x[image * image_len..][..image_len], first, cols);
            gemm_strided(
                (rows, n, k),
                dst,
                (n, 1),
                false,
                Strided::new(cols, (k, 1)),
                Strided::new(weight, (n, 1)),
                Parallelism::None,
            );
            bias_activation(dst, bias, None, activation);
        },
    );
    out
}

/// The backward pass of a k×k convolution: `(dx, dW)`, with `dx` only when `want_dx`. Each
/// task takes one image (its input gradient is its own, so no two tasks write one pixel).
fn im2col_backward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dz: &[f32],
    want_dx: bool,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let (k, n) = (g.k(), g.out_c);
    let pixels = g.pixels();
    let image_len = g.in_h * g.in_w * g.channels;
    let block = g.block_rows();
    let mut dx = want_dx.then(|| vec![0f32; g.batch * image_len]);
    let dx_images: Vec<Option<&mut [f32]>> = match dx.as_mut() {
        Some(dx) if image_len > 0 => dx.chunks_mut(image_len).map(Some).collect(),
        _ => (0..g.batch).map(|_| None).collect(),
    };
    let dw = dx_images
        .into_par_iter()
        .enumerate()
        .fold(
            || (vec![0f32; k * n], vec![0f32; block * k]),
            |(mut dw, mut cols), (image, mut dx_image)| {
                let x_image = &x[image * image_len..][..image_len];
                for first in (0..pixels).step_by(block) {
                    let rows = block.min(pixels - first);
                    let cols = &mut cols[..rows * k];
                    let dz_block = &dz[(image * pixels + first) * n..][..rows * n];
                    g.im2col(x_image, first, cols);
                    // dW (K × N) += colsᵀ · dz.
                    gemm_strided(
                        (k, n, rows),
                        &mut dw,
                        (n, 1),
                        true,
                        Strided::new(cols, (1, k)),
                        Strided::new(dz_block, (n, 1)),
                        Parallelism::None,
                    );
                    if let Some(dx_image) = dx_image.as_deref_mut() {
                        // dcols (rows × K) = dz · Wᵀ, then back onto the image.
                        gemm_strided(
                            (rows, k, n),
                            cols,
                            (k, 1),
                            false,
                            Strided::new(dz_block, (n, 1)),
                            Strided::new(weight, (1, n)),
                            Parallelism::None,
                        );
                        g.col2im_add(cols, first, dx_image);
                    }
                }
                (dw, cols)
            },
        )
        .map(|(dw, _)| dw)
        .reduce(|| vec![0f32; k * n], add_into);
    (dx, dw)
}

fn add_into(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    for (a, b) in a.iter_mut().zip(&b) {
        *a += b;
    }
    a
}

/// `dW = xᵀ · dz` (`K × N`) for `x` `M × K` and `dz` `M × N`: the rows are split between the
/// threads, each reducing its share with one product, and the shares are summed.
pub(crate) fn pointwise_weight_grad(
    x: &[f32],
    dz: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f32> {
    let threads = rayon::current_num_threads().max(1);
    let share = m.div_ceil(threads).max(64);
    (0..m)
        .step_by(share.max(1))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|r0| {
            let rows = share.min(m - r0);
            let mut dw = vec![0f32; k * n];
            gemm_strided(
                (k, n, rows),
                &mut dw,
                (n, 1),
                false,
                Strided::new(&x[r0 * k..(r0 + rows) * k], (1, k)),
                Strided::new(&dz[r0 * n..(r0 + rows) * n], (n, 1)),
                Parallelism::None,
            );
            dw
        })
        .reduce(|| vec![0f32; k * n], add_into)
}

/// `dx = dz · Wᵀ` (`M × K`) for `dz` `M × N` and `W` `K × N`, in parallel blocks of rows.
pub(crate) fn pointwise_input_grad(
    dz: &[f32],
    weight: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f32> {
    if k == 0 || m == 0 {
        return vec![0f32; m * k];
    }
    let mut dx = uninit(m * k);
    let threads = rayon::current_num_threads().max(1);
    let rows = rows_per_task(m, n, k, threads);
    slots(&mut dx, m * k)
        .par_chunks_mut(rows * k)
        .enumerate()
        .for_each(|(i, block)| {
            let r0 = i * rows;
            let r = block.len() / k;
            // SAFETY: `gemm_strided` with `accumulate` false writes every element of the
            // block (n = 0 fills it with zeros) before anything reads it.
            let block = unsafe { &mut *(block as *mut [MaybeUninit<f32>] as *mut [f32]) };
            gemm_strided(
                (r, k, n),
                block,
                (k, 1),
                false,
                Strided::new(&dz[r0 * n..(r0 + r) * n], (n, 1)),
                Strided::new(weight, (1, n)),
                Parallelism::None,
            );
        });
    // SAFETY: every block of rows was written above.
    unsafe { finish(&mut dx, m * k) };
    dx
}

/// The gradient before the activation, `dz = dy · act'(y)` (read off the output `y`), and the
/// bias gradient `Σ_rows dz`, for rows of `n` values. `dz` is `None` for the identity (it is
/// `dy` itself).
pub(crate) fn activation_grad(
    dy: &[f32],
    y: &[f32],
    n: usize,
    activation: Activation,
) -> (Option<Vec<f32>>, Vec<f32>) {
    if n == 0 || dy.is_empty() {
        let dz = (activation != Activation::Identity).then(|| dy.to_vec());
        return (dz, vec![0f32; n]);
    }
    let m = dy.len() / n;
    let threads = rayon::current_num_threads().max(1);
    let share = m.div_ceil(threads * 4).max(32) * n;
    match activation {
        Activation::Identity => {
            let db = dy
                .par_chunks(share)
                .map(|rows| {
                    let mut sums = vec![0f32; n];
                    add_column_sums(rows, &mut sums);
                    sums
                })
                .reduce(|| vec![0f32; n], add_into);
            (None, db)
        }
        _ => {
            let mut dz = uninit(dy.len());
            let db = slots(&mut dz, dy.len())
                .par_chunks_mut(share)
                .zip(dy.par_chunks(share))
                .zip(y.par_chunks(share))
                .map(|((dz, dy), y)| {
                    let mut sums = vec![0f32; n];
                    activation_pass(dz, dy, y, &mut sums, activation);
                    sums
                })
                .reduce(|| vec![0f32; n], add_into);
            // SAFETY: `activation_pass` wrote every slot of every chunk.
            unsafe { finish(&mut dz, dy.len()) };
            (Some(dz), db)
        }
    }
}

#[cfg(test)]
mod tests;
